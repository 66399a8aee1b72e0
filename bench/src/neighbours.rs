//! Scenario 10: a well-behaved component beside hostile ones on the same
//! host. Its HTTP throughput alone, then while neighbours spin in an
//! endless loop, allocate without end, recurse deeply, flood the log and
//! start floods of outgoing requests, as fast as clients can ask, each
//! stopped by its own limits, and held back while it owes time for its
//! failures.

use crate::load;
use crate::report::{Better, Figure};
use anyhow::Context;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use weft_capability::builtin::Builtin;
use weft_capability::provider::{Capability, ProviderKind};
use weft_host::HostBuilder;
use weft_http_client::HttpClientKind;
use weft_http_server::{HttpServer, HttpServerConfig, Route, Router};
use weft_runtime::{ComponentSpec, Limits, Links};

/// Outgoing requests one `/fetch-flood` asks the caller guest to start at
/// once (an instance may have 32 waiting; the rest are refused).
const FLOOD: usize = 100;

/// How late the upstream of the outgoing floods answers.
const UPSTREAM_DELAY: Duration = Duration::from_millis(200);

/// `weft-bench neighbours` arguments.
#[derive(Debug, clap::Args)]
pub struct NeighboursArgs {
    /// The well-behaved component (HTTP hello).
    #[arg(
        long,
        default_value = "target/guests/wasm32-wasip2/release/http_hello.wasm"
    )]
    component: PathBuf,
    /// The hostile one (the test guest: /loop, /alloc, /recurse,
    /// /log-flood; /log is five log lines and an answer, a cheap request).
    #[arg(
        long,
        default_value = "target/guests/wasm32-wasip2/release/test_guest.wasm"
    )]
    hostile: PathBuf,
    /// Seconds of load per measurement (after a 1 s warm-up).
    #[arg(long, default_value_t = 3)]
    seconds: u64,
    /// Client connections to the well-behaved component.
    #[arg(long, default_value_t = 8)]
    connections: usize,
    /// Clients per hostile path, each asking again as soon as answered.
    #[arg(long, default_value_t = 2)]
    attackers: usize,
    /// Which hostile paths to ask (comma-separated; default all four).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "/loop,/alloc,/recurse,/log-flood"
    )]
    paths: Vec<String>,
    /// The guest that floods outgoing HTTP (the `caller` test guest's
    /// `/fetch-flood`, 100 requests at once to a loopback upstream that
    /// answers 200 ms late).
    #[arg(
        long,
        default_value = "target/guests/wasm32-wasip2/release/caller.wasm"
    )]
    caller: PathBuf,
    /// Clients asking for outgoing floods, each again as soon as answered
    /// (0: none).
    #[arg(long, default_value_t = 2)]
    fetchers: usize,
    /// Rounds (alone, then beside hostiles); figures are medians.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
}

async fn serve(router: Arc<Router>) -> anyhow::Result<HttpServer> {
    let config = HttpServerConfig {
        address: SocketAddr::from(([127, 0, 0, 1], 0)),
        ..HttpServerConfig::default()
    };
    Ok(HttpServer::bind(config, router).await?)
}

/// Asks `path` of `addr` again and again until `stop`; answers by status.
async fn attack(
    addr: SocketAddr,
    path: String,
    stop: Arc<AtomicBool>,
) -> anyhow::Result<BTreeMap<u16, u64>> {
    let mut statuses = BTreeMap::new();
    while !stop.load(Ordering::Relaxed) {
        let stream = tokio::net::TcpStream::connect(addr).await?;
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(conn);
        while !stop.load(Ordering::Relaxed) {
            let req = http::Request::get(path.as_str())
                .header(http::header::HOST, "localhost")
                .body(Empty::<Bytes>::new())?;
            let Ok(resp) = sender.send_request(req).await else {
                break;
            };
            *statuses.entry(resp.status().as_u16()).or_insert(0) += 1;
            let _ = resp.into_body().collect().await;
        }
    }
    Ok(statuses)
}

/// Serves the caller guest with its outgoing HTTP bound to a client that
/// may reach only a slow loopback upstream; returns its address and the
/// path that floods that upstream.
async fn outgoing_flood(
    host: &weft_host::Host,
    caller: &std::path::Path,
) -> anyhow::Result<(HttpServer, String)> {
    let wasm = std::fs::read(crate::guest_file(caller)?)?;
    let component = host
        .start_component(&wasm, ComponentSpec::new("fetcher"))
        .await?;
    let upstream = weft_tests::http::upstream(UPSTREAM_DELAY).await?;
    let Capability::HttpClient(provider) = HttpClientKind.start(&BTreeMap::new()).await? else {
        anyhow::bail!("{} is not an HTTP client", Builtin::HttpClient);
    };
    let allowed = BTreeMap::from([("allowed_hosts".into(), format!("http://{upstream}"))]);
    let mut links = Links::default();
    links
        .name_mut(weft_runtime::links::DEFAULT_LINK)
        .http_client = Some(provider.client(&allowed)?);
    component.set_links(links);
    let router = Arc::new(Router::default());
    router.add(Route::new("fetcher", component));
    let path = format!("/fetch-flood?{FLOOD}&http://{upstream}/");
    Ok((serve(router).await?, path))
}

/// Runs the scenario; prints each round and the hostile answers.
pub async fn run(args: NeighboursArgs) -> anyhow::Result<Vec<Figure>> {
    let read =
        |p: &PathBuf| -> anyhow::Result<Vec<u8>> { Ok(std::fs::read(crate::guest_file(p)?)?) };
    let (good_wasm, bad_wasm) = (read(&args.component)?, read(&args.hostile)?);
    let host = HostBuilder::new().build()?;
    let good = host
        .start_component(&good_wasm, ComponentSpec::new("good"))
        .await?;
    let limits = Limits {
        max_memory: 16 << 20,
        timeout: Duration::from_millis(500),
        ..Limits::default()
    };
    let bad = host
        .start_component(
            &bad_wasm,
            ComponentSpec {
                limits,
                ..ComponentSpec::new("hostile")
            },
        )
        .await?;
    let good_router = Arc::new(Router::default());
    good_router.add(Route::new("good", good));
    let bad_router = Arc::new(Router::default());
    bad_router.add(Route::new("hostile", bad));
    let (good_server, bad_server) = (serve(good_router).await?, serve(bad_router).await?);
    let fetcher = match args.fetchers {
        0 => None,
        _ => Some(outgoing_flood(&host, &args.caller).await?),
    };
    let duration = Duration::from_secs(args.seconds);

    let (mut alone, mut beside) = (Vec::new(), Vec::new());
    let mut answers: BTreeMap<(String, u16), u64> = BTreeMap::new();
    let mut errors = 0;
    for round in 0..args.rounds.max(1) {
        let quiet = load::run(good_server.local_addr(), args.connections, duration).await?;
        let stop = Arc::new(AtomicBool::new(false));
        let mut attackers = Vec::new();
        for path in &args.paths {
            for _ in 0..args.attackers {
                let task = attack(bad_server.local_addr(), path.clone(), stop.clone());
                attackers.push((path.clone(), tokio::spawn(task)));
            }
        }
        if let Some((server, path)) = &fetcher {
            for _ in 0..args.fetchers {
                let task = attack(server.local_addr(), path.clone(), stop.clone());
                attackers.push(("/fetch-flood".into(), tokio::spawn(task)));
            }
        }
        let noisy = load::run(good_server.local_addr(), args.connections, duration).await?;
        stop.store(true, Ordering::Relaxed);
        for (path, task) in attackers {
            for (status, n) in task.await.context("attacker")?? {
                *answers.entry((path.clone(), status)).or_insert(0) += n;
            }
        }
        println!(
            "round {}: alone {:.0} req/s, beside hostiles {:.0} req/s (p99 {} µs → {} µs)",
            round + 1,
            quiet.rps,
            noisy.rps,
            quiet.p99_us,
            noisy.p99_us
        );
        errors += quiet.errors + noisy.errors;
        alone.push(quiet.rps);
        beside.push(noisy.rps);
    }
    for ((path, status), n) in &answers {
        println!("hostile {path}: {n} × {status}");
    }
    println!("well-behaved component: {errors} failed requests");
    let (alone, beside) = (crate::median(&alone), crate::median(&beside));
    let ratio = beside / alone.max(f64::MIN_POSITIVE);
    Ok(vec![
        Figure::new(
            "10. neighbour beside hostile guests",
            "req/s",
            Better::Higher,
            beside,
            "the same component, alone",
            alone,
        )
        .target("≥ 0.9× alone", ratio >= 0.9 && errors == 0),
    ])
}
