//! Fault 6, the soak: one `weft host` under steady HTTP load while the
//! keyvalue link of the component it serves swaps between a memory and a
//! Redis provider every 2 s and the component is updated to a new build
//! every 10 s. No request may fail, the host's open file descriptors must
//! end where they started, and its RSS, after the warm-up of the first
//! updates, must stay flat: the second half of the run may not rise above
//! the first (within a margin).
//!
//! CI runs it for 60 s; the long run is `WEFT_SOAK_SECONDS=600 cargo test
//! -p weft-cli --test soak -- --nocapture` (docs/reliability.md).

#[allow(dead_code)]
mod apps_support;

use apps_support::Load;
use std::net::SocketAddr;
use std::process::Stdio;
use std::time::{Duration, Instant};
use weft_tests::guests;
use weft_tests::nats::NatsServer;
use weft_tests::net::{free_port, wait_for, wait_for_port};
use weft_tests::redis::RedisServer;

const WEFT: &str = env!("CARGO_BIN_EXE_weft");
const LATTICE: &str = "soak";

/// The host's resident memory (KiB) and open file descriptors.
fn usage(pid: u32) -> anyhow::Result<(u64, usize)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .ok_or_else(|| anyhow::anyhow!("no VmRSS in /proc/{pid}/status"))?;
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))?.count();
    Ok((rss, fds))
}

/// `bytes` with a custom section `name` appended: the same component with
/// another digest, so an update to it is a real update.
fn rebuilt(bytes: &[u8], name: &str) -> Vec<u8> {
    let mut section = vec![u8::try_from(name.len()).unwrap_or(0)];
    section.extend_from_slice(name.as_bytes());
    let mut out = bytes.to_vec();
    out.push(0); // custom section
    out.push(u8::try_from(section.len()).unwrap_or(0));
    out.extend(section);
    out
}

async fn weft(nats: &NatsServer, args: &[&str]) -> anyhow::Result<String> {
    let (code, out, err) = weft_tests::cli::run_on(WEFT, &nats.url(), LATTICE, args).await?;
    anyhow::ensure!(code == 0, "weft {args:?} failed ({code}): {err}{out}");
    Ok(out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_under_load_swaps_links_and_updates_without_errors_or_leaks() -> anyhow::Result<()> {
    let seconds: u64 = std::env::var("WEFT_SOAK_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let nats = NatsServer::start().await?;
    let redis = RedisServer::start().await?;
    let dir = tempfile::tempdir()?;
    let wasm = std::fs::read(guests::path("kv_counter")?)?;
    let builds = ["a", "b"].map(|b| dir.path().join(format!("kv_counter_{b}.wasm")));
    for (path, name) in builds.iter().zip(["build-a", "build-b"]) {
        std::fs::write(path, rebuilt(&wasm, name))?;
    }
    let refs = builds.map(|p| format!("file://{}", p.display()));
    let (mut host, pid, addr) = start_soak_host(&nats, &redis.url(), dir.path(), &refs[0]).await?;

    // Plain increments of one counter: what the host holds for the load
    // stays the same size (keyed requests would add a record per request
    // to the memory provider, and that is data, not a leak).
    let load = Load::counting(addr, 2);
    // Warm: the instance pool and the connections are what they will stay.
    wait_for_n(&load, 2_000).await?;
    let (rss_start, fds_start) = usage(pid)?;
    let mut rss = vec![rss_start];
    let started = Instant::now();
    let (mut swaps, mut updates) = (0u32, 0u32);
    while started.elapsed() < Duration::from_secs(seconds) {
        tokio::time::sleep(Duration::from_secs(2)).await;
        rss.push(usage(pid)?.0);
        swaps += 1;
        let target = if swaps % 2 == 1 { "kv-redis" } else { "kv-mem" };
        weft(&nats, &kv_link(target)).await?;
        if swaps % 5 == 0 {
            updates += 1;
            let to = &refs[usize::try_from(updates % 2).unwrap_or(0)];
            weft(&nats, &["update", "component", "kv-counter", to]).await?;
        }
    }
    let (answered, retried) = load.stop().await?;
    let (rss_end, fds_end) = usage(pid)?;
    assert!(host.try_wait()?.is_none(), "the host died during the soak");
    rss.push(rss_end);
    let (first, second) = rss.split_at(rss.len() / 2);
    let peak = |half: &[u64]| half.iter().copied().max().unwrap_or(0);
    let (warm, late) = (peak(first), peak(second));
    let step = (rss.len() / 10).max(1);
    let trace: Vec<String> = rss
        .iter()
        .step_by(step)
        .map(|r| (r / 1024).to_string())
        .collect();
    // A pass of the loop takes 2 s plus its `weft` calls: say what it took.
    let every = started.elapsed().as_secs_f64() * step as f64 / (rss.len() - 1).max(1) as f64;
    println!("RSS (MiB) about every {every:.0} s: {}", trace.join(" "));
    println!(
        "| soak {seconds} s: HTTP load, link swap every 2 s, update every 10 s | {answered} requests answered, {retried} failed; {swaps} swaps, {updates} updates; RSS {} → {} MiB (peak of the first half {} MiB, of the second {} MiB), open fds {fds_start} → {fds_end} |",
        rss_start / 1024,
        rss_end / 1024,
        warm / 1024,
        late / 1024
    );
    assert_eq!(retried, 0, "requests failed during the soak");
    assert!(
        fds_end <= fds_start + 16,
        "file descriptors grew: {fds_start} → {fds_end}"
    );
    assert!(
        rss_end <= rss_start + (rss_start / 2).max(64 * 1024),
        "RSS grew: {rss_start} → {rss_end} KiB"
    );
    // The first update compiles the second build and the allocator warms
    // up (≈ +15 MiB); after that the host's memory is flat, so a leak per
    // swap or update shows as a second half above the first.
    assert!(
        late <= warm + 16 * 1024,
        "RSS kept growing: peak {warm} KiB in the first half, {late} KiB in the second"
    );
    Ok(())
}

/// Waits until `load` has had `n` requests answered.
async fn wait_for_n(load: &Load, n: u64) -> anyhow::Result<()> {
    weft_tests::net::wait_for(
        &format!("{n} requests answered"),
        Duration::from_secs(60),
        || async { (load.answered() >= n).then_some(()) },
    )
    .await
}

/// `weft host` with kv-counter (`first`) behind the HTTP server at the
/// returned address, its keyvalue linked to memory, Redis (at `redis`)
/// started beside it: the host process, its pid, the address.
async fn start_soak_host(
    nats: &NatsServer,
    redis: &str,
    dir: &std::path::Path,
    first: &str,
) -> anyhow::Result<(tokio::process::Child, u32, SocketAddr)> {
    let host = tokio::process::Command::new(WEFT)
        .args(["host", "--nats", &nats.url(), "--lattice", LATTICE])
        .args(["--allow-file-load", "--heartbeat", "1s"])
        .arg("--cache-dir")
        .arg(dir.join("cache"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()?;
    let pid = host
        .id()
        .ok_or_else(|| anyhow::anyhow!("the host exited at once"))?;
    wait_for("the host", Duration::from_secs(30), || async {
        weft(nats, &["get", "hosts", "-o", "json"])
            .await
            .ok()
            .filter(|o| o.contains("friendly_name"))
    })
    .await?;
    let addr = SocketAddr::from(([127, 0, 0, 1], free_port()?));
    let address = format!("address={addr}");
    let redis_url = format!("url={redis}");
    for args in [
        &["start", "component", first, "kv-counter", "--max", "8"][..],
        &["config", "put", "soak-http", &address],
        &["config", "put", "soak-redis", &redis_url],
        &["start", "provider", "builtin:http-server", "http"],
        &["start", "provider", "builtin:keyvalue-memory", "kv-mem"],
        &[
            "start",
            "provider",
            "builtin:keyvalue-redis",
            "kv-redis",
            "--config",
            "soak-redis",
        ],
        &kv_link("kv-mem"),
        &[
            "link",
            "put",
            "http",
            "kv-counter",
            "wasi",
            "http",
            "--interface",
            "incoming-handler",
            "--source-config",
            "soak-http",
        ],
    ] {
        weft(nats, args).await?;
    }
    wait_for_port(addr, Duration::from_secs(20)).await?;
    Ok((host, pid, addr))
}

/// `weft link put` of kv-counter's keyvalue to `target`.
fn kv_link(target: &'static str) -> [&'static str; 10] {
    [
        "link",
        "put",
        "kv-counter",
        target,
        "wasi",
        "keyvalue",
        "--interface",
        "store",
        "--interface",
        "atomics",
    ]
}
