//! Component → component calls: the `caller` test component, behind HTTP
//! on host A, calls `weft:platform/greeter` on a greeter on the same host
//! (a direct call) or, over a named link, on a greeter that runs only on
//! host B (one NATS request/reply).
//!
//! Same host: the p50 of `GET /greet/…` (the call over the default link)
//! next to a GET the caller answers without calling anything (404). Across
//! hosts: `GET /v1/far/greet/…` (the link to host B) minus the same-host
//! GET — the cost of crossing — next to a raw NATS request/reply on the
//! same server, measured in the same run.

use crate::median;
use crate::report::{Better, Figure};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tokio::process::Child;
use weft_capability::builtin::Builtin;
use weft_lattice_client::LatticeClient;
use weft_lattice_protocol::Subjects;
use weft_lattice_protocol::wire::{Link, ScaleComponent, StartProvider, StringMap};
use weft_tests::http;
use weft_tests::nats::NatsServer;

const LATTICE: &str = "calls";

/// Arguments of `weft-bench calls`.
#[derive(Debug, clap::Args)]
pub struct CallsArgs {
    /// Where the release guests are.
    #[arg(long, default_value = "target/guests/wasm32-wasip2/release")]
    guests: PathBuf,
    /// Seconds per path and round.
    #[arg(long, default_value_t = 2)]
    seconds: u64,
    /// Rounds; figures are medians over them.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// The `weft` binary that runs the hosts (default: the one next to
    /// this bench).
    #[arg(long)]
    weft: Option<PathBuf>,
}

fn host(
    weft: &std::path::Path,
    nats: &NatsServer,
    name: &str,
    cache: &std::path::Path,
) -> anyhow::Result<Child> {
    crate::failover::spawn_host(
        weft,
        &nats.url(),
        LATTICE,
        name,
        cache,
        &["--no-reconciler"],
    )
}

fn scale(host: &str, id: &str, wasm: &std::path::Path) -> anyhow::Result<ScaleComponent> {
    Ok(ScaleComponent {
        component_ref: format!("file://{}", crate::guest_file(wasm)?.display()),
        component_id: id.into(),
        host_id: host.into(),
        max_instances: 100,
        annotations: StringMap::new(),
        config: vec![],
        allow_update: false,
        component_limits: None,
    })
}

fn link(
    source: &str,
    target: &str,
    name: &str,
    (ns, pkg): (&str, &str),
    interfaces: &[&str],
    config: &[&str],
) -> Link {
    Link {
        source_id: source.into(),
        target: target.into(),
        name: name.into(),
        wit_namespace: ns.into(),
        wit_package: pkg.into(),
        interfaces: interfaces.iter().map(|i| (*i).to_owned()).collect(),
        source_config: config.iter().map(|c| (*c).to_owned()).collect(),
        target_config: vec![],
    }
}

/// Sequential GETs of `path` for `duration`: sorted latencies, µs.
async fn gets(
    addr: SocketAddr,
    path: &str,
    want: u16,
    duration: Duration,
) -> anyhow::Result<Vec<u64>> {
    let deadline = Instant::now() + duration;
    let mut out = Vec::new();
    while Instant::now() < deadline {
        let t = Instant::now();
        let reply = http::get(addr, path).await?;
        anyhow::ensure!(
            reply.status == want,
            "GET {path}: {} {}",
            reply.status,
            reply.body
        );
        out.push(t.elapsed().as_micros() as u64);
    }
    out.sort_unstable();
    Ok(out)
}

fn p50(sorted: &[u64]) -> f64 {
    sorted.get(sorted.len() / 2).copied().unwrap_or(0) as f64
}

/// Runs the scenario and prints its table.
pub async fn run(args: CallsArgs) -> anyhow::Result<Vec<Figure>> {
    let weft = match args.weft {
        Some(w) => w,
        None => crate::failover::weft_beside_me()?,
    };
    let nats = NatsServer::start().await?;
    let cache = tempfile::tempdir()?;
    let _a = host(&weft, &nats, "a", cache.path())?;
    let _b = host(&weft, &nats, "b", cache.path())?;
    let nc = async_nats::connect(nats.url()).await?;
    let client = LatticeClient::new(nc.clone(), Subjects::new("wasmbus.ctl", LATTICE)?)
        .with_timeout(Duration::from_secs(10))
        .with_window(Duration::from_millis(300));
    let deadline = Instant::now() + Duration::from_secs(30);
    let ids: BTreeMap<String, String> = loop {
        let hosts = client.hosts().await.unwrap_or_default();
        if hosts.len() == 2 {
            break hosts.into_iter().map(|h| (h.friendly_name, h.id)).collect();
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "two hosts did not answer within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let (a, b) = (&ids["a"], &ids["b"]);
    let caller = args.guests.join("caller.wasm");
    let greeter = args.guests.join("greeter.wasm");
    client
        .scale_component(a, &scale(a, "app", &caller)?)
        .await?;
    client
        .scale_component(a, &scale(a, "near", &greeter)?)
        .await?;
    client
        .scale_component(b, &scale(b, "far", &greeter)?)
        .await?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    client
        .put_config(
            "listen",
            &StringMap::from([("address".to_owned(), addr.to_string())]),
        )
        .await?;
    let http_server = StartProvider {
        provider_id: "http".into(),
        provider_ref: Builtin::HttpServer.reference().into(),
        host_id: a.clone(),
        config: vec![],
        annotations: None,
    };
    client.start_provider(a, &http_server).await?;
    let greeter_iface = ("weft", "platform");
    client
        .put_link(&link(
            "app",
            "near",
            "default",
            greeter_iface,
            &["greeter"],
            &[],
        ))
        .await?;
    client
        .put_link(&link("app", "far", "far", greeter_iface, &["greeter"], &[]))
        .await?;
    client
        .put_link(&link(
            "http",
            "app",
            "default",
            ("wasi", "http"),
            &["incoming-handler"],
            &["listen"],
        ))
        .await?;
    let ready = Instant::now();
    while gets(addr, "/v1/far/greet/x", 200, Duration::from_millis(1))
        .await
        .is_err()
        || gets(addr, "/greet/x", 200, Duration::from_millis(1))
            .await
            .is_err()
    {
        anyhow::ensure!(
            ready.elapsed() < Duration::from_secs(30),
            "the caller never answered"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The baseline: a plain responder on the same server.
    let responder = crate::lattice::responder(&nc, "bench.raw").await?;
    let duration = Duration::from_secs(args.seconds.max(1));
    let (mut none, mut near, mut far, mut nats_rtt) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..args.rounds.max(1) {
        none.push(p50(&gets(addr, "/nothing-here", 404, duration).await?));
        near.push(p50(&gets(addr, "/greet/Ada", 200, duration).await?));
        far.push(p50(&gets(addr, "/v1/far/greet/Ada", 200, duration).await?));
        let mut lat = crate::lattice::round_trips(&nc, "bench.raw", duration).await?;
        lat.sort_unstable();
        nats_rtt.push(p50(&lat));
    }
    responder.abort();
    let (none, near, far, rtt) = (
        median(&none),
        median(&near),
        median(&far),
        median(&nats_rtt),
    );
    println!(
        "component → component calls, p50 of {} rounds × {} s, {} cores",
        args.rounds.max(1),
        args.seconds,
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!("{:<52} {:>10}", "measure", "p50 µs");
    println!(
        "{:<52} {:>10.0}",
        "GET the caller answers without a call (404)", none
    );
    println!(
        "{:<52} {:>10.0}",
        "GET with a call to a greeter on the same host", near
    );
    println!(
        "{:<52} {:>10.0}",
        "GET with a call to a greeter on another host", far
    );
    println!("{:<52} {:>10.0}", "baseline: raw NATS request/reply", rtt);
    println!(
        "{:<52} {:>10.0}",
        "the call across hosts (another host − same host)",
        far - near
    );
    Ok(vec![
        Figure::new(
            "5. call on one host (in-process)",
            "µs p50",
            Better::Lower,
            near,
            "the same GET without a call",
            none,
        ),
        Figure::new(
            "5. call across hosts (NATS)",
            "µs p50",
            Better::Lower,
            far - near,
            "raw NATS request/reply",
            rtt,
        ),
    ])
}
