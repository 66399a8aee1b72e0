//! `weft-bench`: Weft's figures, each next to a baseline measured in the same run.
//!
//! ```text
//! ./scripts/build-guests --release
//! cargo run --release -p weft-bench -- http --seconds 5
//! cargo run --release -p weft-bench -- lattice --seconds 3
//! cargo run --release -p weft-bench -- coldstart --runs 15
//! cargo build --release -p weft-cli -p weft-bench && ./target/release/weft-bench failover
//! cargo run --release -p weft-bench -- density --copies 10000
//! cargo run --release -p weft-bench -- auction --hosts 10
//! cargo run --release -p weft-bench -- pipeline
//! cargo run --release -p weft-bench -- neighbours
//! ```

mod auction;
mod bare;
mod calls;
mod coldstart;
mod density;
mod failover;
mod hosts;
mod lattice;
mod load;
mod neighbours;
mod pipeline;
mod report;

use anyhow::Context;
use clap::{Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use weft_host::HostBuilder;
use weft_http_server::{HttpServer, HttpServerConfig, Route, Router};
use weft_runtime::{ComponentSpec, Limits, Runtime, RuntimeConfig};

#[derive(Debug, Parser)]
#[command(
    name = "weft-bench",
    about = "Weft benchmarks, each next to a same-run baseline"
)]
struct Cli {
    #[command(subcommand)]
    scenario: Scenario,
}

#[derive(Debug, Subcommand)]
enum Scenario {
    /// HTTP hello-world throughput: weft (fresh, reuse) vs the bare wasmtime-wasi-http loop.
    Http(HttpArgs),
    /// Lattice: pingpong round trip vs raw NATS request/reply, and
    /// keyvalue per HTTP request with memory vs Redis vs NATS KV.
    Lattice(lattice::LatticeArgs),
    /// Cold start from an OCI reference to the first HTTP 200: uncached,
    /// blobs cached, fully cached.
    Coldstart(coldstart::ColdStartArgs),
    /// Component → component calls: on one host and across hosts, next
    /// to a raw NATS round trip.
    Calls(calls::CallsArgs),
    /// Density: thousands of copies of one component on one host, idle:
    /// RSS per copy and time to deploy them.
    Density(density::DensityArgs),
    /// Every scenario with bounded durations: one table of Weft's figures
    /// next to their same-run baselines, also written as JSON.
    All(AllArgs),
    /// Auction + start with ten hosts: placement latency next to a raw
    /// NATS scatter-gather and a start on a named host.
    Auction(auction::AuctionArgs),
    /// Stream pipeline: source → three components chained by messaging →
    /// sink, next to a raw NATS three-hop relay.
    Pipeline(pipeline::PipelineArgs),
    /// Host loss: SIGKILL of a host running an app to the app reporting
    /// Deployed again on the others.
    Failover(failover::FailoverArgs),
    /// A well-behaved component's throughput alone and beside guests that
    /// loop, allocate, recurse and flood the log on the same host.
    Neighbours(neighbours::NeighboursArgs),
}

#[derive(Debug, clap::Args)]
struct HttpArgs {
    /// The component to serve.
    #[arg(
        long,
        default_value = "target/guests/wasm32-wasip2/release/http_hello.wasm"
    )]
    component: PathBuf,
    /// Seconds of load per scenario (after a 1 s warm-up).
    #[arg(long, default_value_t = 5)]
    seconds: u64,
    /// Concurrent client connections.
    #[arg(long, default_value_t = 16)]
    connections: usize,
    /// Requests one reused instance serves before it is replaced.
    #[arg(long, default_value_t = 1_000_000)]
    reuse: u32,
    /// Rounds of the four scenarios; figures are medians over them.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
}

#[derive(Debug, clap::Args)]
struct AllArgs {
    /// Seconds of load per throughput scenario and round.
    #[arg(long, default_value_t = 3)]
    seconds: u64,
    /// Where to write the figures as JSON.
    #[arg(long, default_value = "target/bench/all.json")]
    json: PathBuf,
    /// Copies for the density scenario.
    #[arg(long, default_value_t = 10_000)]
    copies: usize,
}

/// Runs every scenario, then prints the summary and writes the JSON.
async fn all(args: AllArgs) -> anyhow::Result<()> {
    use clap::Parser as _;
    let parse = |scenario: &[&str]| -> anyhow::Result<Scenario> {
        let argv = std::iter::once("weft-bench").chain(scenario.iter().copied());
        Ok(Cli::try_parse_from(argv)?.scenario)
    };
    let seconds = args.seconds.to_string();
    let copies = args.copies.to_string();
    let mut figures = Vec::new();
    let plan: [&[&str]; 9] = [
        &["http", "--seconds", &seconds],
        &["lattice", "--seconds", &seconds],
        &["calls"],
        &["coldstart", "--runs", "15"],
        &["density", "--copies", &copies],
        &["auction"],
        &["pipeline"],
        &["neighbours", "--seconds", &seconds],
        &["failover", "--runs", "5"],
    ];
    for argv in plan {
        println!("\n=== weft-bench {}", argv.join(" "));
        let found = match parse(argv)? {
            Scenario::Http(a) => http(a).await?,
            Scenario::Lattice(a) => lattice::run(a).await?,
            Scenario::Coldstart(a) => coldstart::run(a).await?,
            Scenario::Density(a) => density::run(a).await?,
            Scenario::Failover(a) => failover::run(a).await?,
            Scenario::Calls(a) => calls::run(a).await?,
            Scenario::Auction(a) => auction::run(a).await?,
            Scenario::Pipeline(a) => pipeline::run(a).await?,
            Scenario::Neighbours(a) => neighbours::run(a).await?,
            Scenario::All(_) => Vec::new(),
        };
        figures.extend(found);
    }
    println!(
        "\n=== all figures, each next to a baseline measured in the same run ({} cores, {})",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        report::cpu_model()
    );
    // In the issue's order (scenario numbers first, the rest after).
    let number = |f: &report::Figure| {
        f.scenario
            .split_once('.')
            .and_then(|(n, _)| n.parse::<u32>().ok())
            .unwrap_or(u32::MAX)
    };
    figures.sort_by_key(number);
    report::print(&figures);
    report::write_json(&args.json, &figures)?;
    println!("written to {}", args.json.display());
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        match cli.scenario {
            Scenario::Http(args) => http(args).await.map(drop),
            Scenario::Lattice(args) => lattice::run(args).await.map(drop),
            Scenario::Coldstart(args) => coldstart::run(args).await.map(drop),
            Scenario::Failover(args) => failover::run(args).await.map(drop),
            Scenario::Density(args) => density::run(args).await.map(drop),
            Scenario::Calls(args) => calls::run(args).await.map(drop),
            Scenario::Auction(args) => auction::run(args).await.map(drop),
            Scenario::Pipeline(args) => pipeline::run(args).await.map(drop),
            Scenario::Neighbours(args) => neighbours::run(args).await.map(drop),
            Scenario::All(args) => all(args).await,
        }
    })
}

fn limits(reuse: Option<u32>) -> Limits {
    Limits {
        reuse,
        ..Limits::default()
    }
}

async fn weft_server(
    wasm: &[u8],
    reuse: Option<u32>,
    runtime: RuntimeConfig,
) -> anyhow::Result<(weft_host::Host, HttpServer)> {
    let host = HostBuilder::new().with_runtime_config(runtime).build()?;
    let spec = ComponentSpec {
        limits: limits(reuse),
        ..ComponentSpec::new("hello")
    };
    let component = host.start_component(wasm, spec).await?;
    let router = Arc::new(Router::default());
    router.add(Route::new("hello", component));
    let config = HttpServerConfig {
        address: SocketAddr::from(([127, 0, 0, 1], 0)),
        ..HttpServerConfig::default()
    };
    let server = HttpServer::bind(config, router).await?;
    Ok((host, server))
}

async fn http(args: HttpArgs) -> anyhow::Result<Vec<report::Figure>> {
    let wasm = std::fs::read(&args.component).with_context(|| {
        format!(
            "could not read {}; build the guests first: ./scripts/build-guests --release",
            args.component.display()
        )
    })?;
    let duration = Duration::from_secs(args.seconds);

    // All four servers stay up for the whole run; an idle one costs nothing.
    let runtime = Runtime::new(RuntimeConfig::default())?;
    let bare_fresh = bare::serve(&runtime, &wasm, None).await?;
    let full = RuntimeConfig::default;
    let (_h1, weft_fresh) = weft_server(&wasm, None, full()).await?;
    let bare_reuse = bare::serve(&runtime, &wasm, Some(args.reuse)).await?;
    let (_h2, weft_reuse) = weft_server(&wasm, Some(args.reuse), full()).await?;
    // What metrics and spans cost: the same server with counting off.
    let unmetered_config = RuntimeConfig {
        metrics: false,
        ..full()
    };
    let (_h3, unmetered) = weft_server(&wasm, None, unmetered_config).await?;
    let (_h4, metered) = weft_server(&wasm, None, full()).await?;
    // What the wall-clock deadline costs: the same server with it off.
    let epoch_only = RuntimeConfig {
        wall_clock_deadlines: false,
        ..full()
    };
    let (_h5, unbounded) = weft_server(&wasm, None, epoch_only).await?;
    let (_h6, bounded) = weft_server(&wasm, None, full()).await?;
    // Rows come in (baseline, weft) pairs.
    let rows = [
        ("bare wasmtime-wasi-http, fresh", bare_fresh.addr),
        ("weft run, fresh instance", weft_fresh.local_addr()),
        ("bare wasmtime-wasi-http, reuse", bare_reuse.addr),
        ("weft run, reuse", weft_reuse.local_addr()),
        ("weft fresh, metrics off", unmetered.local_addr()),
        ("weft fresh, metrics on", metered.local_addr()),
        ("weft fresh, epoch deadline only", unbounded.local_addr()),
        ("weft fresh, wall-clock deadline", bounded.local_addr()),
    ];

    // Rounds alternate which side of a pair goes first, so drift on a shared
    // machine (other load, frequency changes) hits both sides alike.
    let mut samples: Vec<Vec<load::Report>> = vec![Vec::new(); rows.len()];
    for round in 0..args.rounds.max(1) {
        for pair in [0, 2, 4, 6] {
            let order = if round % 2 == 0 {
                [pair, pair + 1]
            } else {
                [pair + 1, pair]
            };
            for i in order {
                samples[i].push(load::run(rows[i].1, args.connections, duration).await?);
            }
        }
    }

    println!(
        "HTTP hello, {} connections, {} s per scenario, {} rounds, {} cores",
        args.connections,
        args.seconds,
        args.rounds.max(1),
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!("medians over the rounds; `vs bare` is the median of the per-round ratios");
    println!(
        "{:<34} {:>10} {:>17} {:>8} {:>8} {:>7} {:>9}",
        "scenario", "req/s", "req/s min-max", "p50 µs", "p99 µs", "errors", "vs bare"
    );
    for (i, (name, _)) in rows.iter().enumerate() {
        let runs = &samples[i];
        let rps: Vec<f64> = runs.iter().map(|r| r.rps).collect();
        let ratio = if i % 2 == 1 {
            let ratios: Vec<f64> = runs
                .iter()
                .zip(&samples[i - 1])
                .map(|(w, b)| w.rps / b.rps.max(f64::MIN_POSITIVE))
                .collect();
            format!("{:.2}×", median(&ratios))
        } else {
            "baseline".into()
        };
        if i == 4 {
            println!("what counting costs (metrics + spans), fresh instances:");
        }
        if i == 6 {
            println!(
                "what the wall-clock deadline costs (a timer per invocation), fresh instances:"
            );
        }
        let (lo, hi) = rps
            .iter()
            .fold((f64::MAX, 0.0_f64), |(lo, hi), &x| (lo.min(x), hi.max(x)));
        println!(
            "{:<34} {:>10.0} {:>17} {:>8.0} {:>8.0} {:>7} {:>9}",
            name,
            median(&rps),
            format!("{lo:.0}-{hi:.0}"),
            median(&runs.iter().map(|r| r.p50_us as f64).collect::<Vec<_>>()),
            median(&runs.iter().map(|r| r.p99_us as f64).collect::<Vec<_>>()),
            runs.iter().map(|r| r.errors).sum::<u64>(),
            ratio
        );
    }
    let rps = |i: usize| median(&samples[i].iter().map(|r| r.rps).collect::<Vec<_>>());
    // The end-to-end ratio above is within this machine's noise; the
    // timer's own cost, measured alone, says how much of it is real.
    let timer_ns = timer_cost(200_000).await;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    let request_ns = cores * 1e9 / rps(7).max(1.0);
    println!(
        "a wall-clock deadline adds {timer_ns:.0} ns to an invocation that waits at least once \
         (a timer set and cancelled), nothing to one that does not: at most {:.2} % of the CPU \
         time of a fresh-instance request here ({:.1} µs on {cores} cores)",
        100.0 * timer_ns / request_ns,
        request_ns / 1e3
    );
    let mut figures = Vec::new();
    for (pair, name, floor, target) in [
        (0, "1. HTTP hello, fresh instance", 0.9, "≥ 0.90×"),
        (2, "2. HTTP hello, instance reuse", 0.9, "≥ 0.90×"),
        (
            4,
            "1. observability cost: metrics on (fresh)",
            0.97,
            "≥ 0.97× (≤ 3%)",
        ),
        (
            6,
            "1. wall-clock deadline cost (fresh)",
            0.98,
            "≥ 0.98× (≤ 2%)",
        ),
    ] {
        let ratios: Vec<f64> = samples[pair + 1]
            .iter()
            .zip(&samples[pair])
            .map(|(w, b)| w.rps / b.rps.max(f64::MIN_POSITIVE))
            .collect();
        let mut f = report::Figure::new(
            name,
            "req/s",
            report::Better::Higher,
            rps(pair + 1),
            rows[pair].0,
            rps(pair),
        );
        f.ratio = median(&ratios);
        let met = f.ratio >= floor;
        figures.push(f.target(target, met));
    }
    Ok(figures)
}

/// What a wall-clock deadline adds to an invocation that has to wait: a
/// timer set (on the first wait), polled and cancelled, in ns, over `n`
/// invocations that each wait once, next to the same without a timer.
async fn timer_cost(n: u32) -> f64 {
    let started = Instant::now();
    for _ in 0..n {
        tokio::task::yield_now().await;
    }
    let bare = started.elapsed();
    let started = Instant::now();
    for _ in 0..n {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        let mut timer = Box::pin(tokio::time::sleep_until(deadline));
        let _ = futures::poll!(timer.as_mut());
        tokio::task::yield_now().await;
        drop(timer);
    }
    let timed = started.elapsed();
    timed.saturating_sub(bare).as_nanos() as f64 / f64::from(n)
}

/// `path`, absolute, or an error that says how to build the guests.
fn guest_file(path: &std::path::Path) -> anyhow::Result<PathBuf> {
    std::fs::canonicalize(path).with_context(|| {
        format!(
            "could not find {}; build the guests first: ./scripts/build-guests --release",
            path.display()
        )
    })
}

/// The `p` quantile (nearest rank) of sorted values, 0 when there are none.
fn percentile(sorted: &[u64], p: f64) -> f64 {
    let Some(last) = sorted.len().checked_sub(1) else {
        return 0.0;
    };
    let i = ((last as f64) * p).round() as usize;
    sorted[i.min(last)] as f64
}

/// The median of `xs` (the mean of the middle two for an even count).
fn median(xs: &[f64]) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => 0.0,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}
