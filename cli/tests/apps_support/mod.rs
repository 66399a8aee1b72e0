//! What the app tests share: `weft` runs, `weft host` processes, clients,
//! placements and the shipped kv-counter manifest adapted to a test.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};
use weft_apps::api::StatusType;
use weft_apps::client::AppClient;
use weft_lattice_client::LatticeClient;
use weft_lattice_protocol::Subjects;
use weft_tests::guests;
use weft_tests::nats::NatsServer;
use weft_tests::net::wait_for;

pub const WEFT: &str = env!("CARGO_BIN_EXE_weft");

/// `weft ARGS… --nats URL --lattice L`: (exit code, stdout, stderr).
pub async fn weft(
    nats: &NatsServer,
    lattice: &str,
    args: &[&str],
) -> anyhow::Result<(i32, String, String)> {
    weft_tests::cli::run_on(WEFT, &nats.url(), lattice, args).await
}

/// Runs `weft ARGS` and fails with its stderr unless it succeeds.
pub async fn ok(nats: &NatsServer, lattice: &str, args: &[&str]) -> anyhow::Result<String> {
    let (code, stdout, stderr) = weft(nats, lattice, args).await?;
    anyhow::ensure!(code == 0, "weft {args:?} failed ({code}): {stderr}{stdout}");
    Ok(stdout)
}

/// A `weft host` named `name` (its friendly name) with `labels`.
pub fn host(
    nats: &NatsServer,
    lattice: &str,
    name: &str,
    labels: &[&str],
) -> anyhow::Result<Child> {
    let mut cmd = Command::new(WEFT);
    cmd.args([
        "host",
        "--nats",
        &nats.url(),
        "--lattice",
        lattice,
        "--allow-file-load",
    ])
    .args(["--friendly-name", name])
    .arg("--cache-dir")
    .arg(guests::cache_dir());
    for l in labels {
        cmd.args(["--label", l]);
    }
    Ok(cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()?)
}

/// Host ids by friendly name, once `n` hosts answer.
pub async fn host_ids(lc: &LatticeClient, n: usize) -> anyhow::Result<BTreeMap<String, String>> {
    wait_for(&format!("{n} hosts"), Duration::from_secs(30), || async {
        let hosts = lc.hosts().await.ok()?;
        (hosts.len() == n).then(|| hosts.into_iter().map(|h| (h.friendly_name, h.id)).collect())
    })
    .await
}

/// Three `weft host`s (h1, h2, h3) on `lattice` once all answer: the
/// processes, a lattice client, an app client and the host ids by name.
pub async fn three_hosts(
    nats: &NatsServer,
    lattice: &str,
) -> anyhow::Result<(
    [Child; 3],
    LatticeClient,
    AppClient,
    BTreeMap<String, String>,
)> {
    let hosts = [
        host(nats, lattice, "h1", &[])?,
        host(nats, lattice, "h2", &[])?,
        host(nats, lattice, "h3", &[])?,
    ];
    let (lc, apps, _) = clients(nats, lattice).await?;
    let ids = host_ids(&lc, 3).await?;
    Ok((hosts, lc, apps, ids))
}

pub async fn clients(
    nats: &NatsServer,
    lattice: &str,
) -> anyhow::Result<(LatticeClient, AppClient, async_nats::Client)> {
    let client = async_nats::connect(nats.url()).await?;
    let lc = LatticeClient::new(client.clone(), Subjects::new("wasmbus.ctl", lattice)?)
        .with_timeout(Duration::from_millis(800))
        .with_window(Duration::from_millis(500));
    Ok((lc, AppClient::new(client.clone(), lattice), client))
}

/// How many instances of component `id` each of `hosts` runs (hosts that
/// do not answer count as running none).
pub async fn placement(lc: &LatticeClient, hosts: &[&str], id: &str) -> BTreeMap<String, u32> {
    let mut out = BTreeMap::new();
    for h in hosts {
        if let Ok(inv) = lc.inventory(h).await
            && let Some(c) = inv.components.iter().find(|c| c.id == id)
        {
            out.insert((*h).to_owned(), c.max_instances);
        }
    }
    out
}

pub async fn deployed(apps: &AppClient, name: &str) -> bool {
    apps.status(name)
        .await
        .ok()
        .and_then(|r| r.status)
        .is_some_and(|s| s.status.kind == StatusType::Deployed)
}

/// Waits until the reconciler of `lattice` has finished three more passes
/// than now: at least two whole passes saw the lattice as it is now, and
/// whatever they would change is changed (the "nothing changes" window of
/// a test, ended by the reconciler's own marker, not by a clock).
pub async fn reconciler_passes(nats: &NatsServer, lattice: &str) -> anyhow::Result<()> {
    let client = async_nats::connect(nats.url()).await?;
    let placement = weft_jetstream::bucket::Placement::default();
    let read = || async {
        weft_apps::lease::passes(client.clone(), lattice, &placement)
            .await
            .ok()
            .flatten()
    };
    let start = wait_for(
        "a reconciler to hold the lease",
        Duration::from_secs(20),
        read,
    )
    .await?;
    wait_for(
        "three reconcile passes",
        Duration::from_secs(20),
        || async { read().await.filter(|n| *n >= start + 3) },
    )
    .await?;
    Ok(())
}

/// The shipped kv-counter manifest, on `port`, counting in Redis at
/// `redis`, with `scaler` instead of its own spreadscaler properties.
pub fn kv_counter(port: u16, redis: &str, scaler: &str) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(guests::repo_root().join("examples/kv-counter/app.yaml"))?;
    let wasm = guests::path("kv_counter")?;
    let swaps = [
        (
            "image: file://../../target/guests/wasm32-wasip2/debug/kv_counter.wasm",
            format!("image: file://{}", wasm.display()),
        ),
        (
            "address: 127.0.0.1:8080",
            format!("address: 127.0.0.1:{port}"),
        ),
        (
            "          properties:\n            instances: 16\n",
            format!("          properties:\n{scaler}"),
        ),
        (
            "image: builtin:keyvalue-memory",
            format!(
                "image: builtin:keyvalue-redis\n        config: [{{name: redis, properties: {{url: \"{redis}\"}}}}]"
            ),
        ),
    ];
    let mut out = text;
    for (from, to) in swaps {
        anyhow::ensure!(
            out.contains(from),
            "examples/kv-counter/app.yaml no longer has `{from}`"
        );
        out = out.replace(from, &to);
    }
    Ok(out)
}

/// [`kv_counter`] with 4 instances written to `app.yaml` in `dir`: its path.
pub fn kv_counter_file(dir: &tempfile::TempDir, port: u16, redis: &str) -> anyhow::Result<String> {
    write(
        dir,
        "app.yaml",
        &kv_counter(port, redis, "            instances: 4\n")?,
    )
}

pub fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> anyhow::Result<String> {
    let path = dir.path().join(name);
    std::fs::write(&path, text)?;
    Ok(path.display().to_string())
}

/// Steady load on the kv-counter: `clients` loops, one request per
/// connection, each `PUT /hits` sent again until answered (a host killed
/// mid-response leaves a client without an answer). Keyed loads
/// ([`Load::start`]) give each request its own idempotency key, so each is
/// recorded exactly once, and the store keeps one record per request;
/// [`Load::counting`] sends plain increments of one counter, so the store
/// stays the same size however long it runs.
pub struct Load {
    stop: Arc<AtomicBool>,
    answered: Arc<AtomicU64>,
    retried: Arc<AtomicU64>,
    tasks: Vec<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl Load {
    /// Starts keyed clients against `addr`: each request is recorded once.
    pub fn start(addr: SocketAddr, clients: usize) -> Self {
        Self::spawn(addr, clients, true)
    }

    /// Starts clients against `addr` that only increment `/hits`.
    pub fn counting(addr: SocketAddr, clients: usize) -> Self {
        Self::spawn(addr, clients, false)
    }

    fn spawn(addr: SocketAddr, clients: usize, keyed: bool) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let (answered, retried) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
        let tasks = (0..clients)
            .map(|client| {
                let (stop, answered, retried) = (stop.clone(), answered.clone(), retried.clone());
                tokio::spawn(async move {
                    let mut n = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        n += 1;
                        let id = format!("c{client}-{n}");
                        let key = [("idempotency-key", id.as_str())];
                        let headers: &[(&str, &str)] = if keyed { &key } else { &[] };
                        let until = Instant::now() + Duration::from_secs(30);
                        loop {
                            let sent = weft_tests::http::request_with(
                                addr,
                                "PUT",
                                "/hits",
                                headers,
                                Vec::new(),
                            );
                            match tokio::time::timeout(Duration::from_secs(5), sent).await {
                                Ok(Ok(r)) if r.status == 200 => {
                                    answered.fetch_add(1, Ordering::Relaxed);
                                    break;
                                }
                                _ if Instant::now() < until => {
                                    retried.fetch_add(1, Ordering::Relaxed);
                                    tokio::time::sleep(Duration::from_millis(20)).await;
                                }
                                _ => anyhow::bail!("request {id} was never answered in 30 s"),
                            }
                        }
                    }
                    Ok(())
                })
            })
            .collect();
        Self {
            stop,
            answered,
            retried,
            tasks,
        }
    }

    /// Requests answered so far.
    pub fn answered(&self) -> u64 {
        self.answered.load(Ordering::Relaxed)
    }

    /// Stops the clients (each finishes the request it has in hand):
    /// (requests answered, attempts sent again).
    pub async fn stop(self) -> anyhow::Result<(u64, u64)> {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.tasks {
            t.await??;
        }
        Ok((
            self.answered.load(Ordering::Relaxed),
            self.retried.load(Ordering::Relaxed),
        ))
    }
}
