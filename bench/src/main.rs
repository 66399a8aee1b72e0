//! `weft-bench`: Weft's figures, each next to a baseline measured in the same run.
//!
//! ```text
//! ./scripts/build-guests --release
//! cargo run --release -p weft-bench -- http --seconds 5
//! ```

mod bare;
mod load;

use anyhow::Context;
use clap::{Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
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
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        match cli.scenario {
            Scenario::Http(args) => http(args).await,
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
) -> anyhow::Result<(weft_host::Host, HttpServer)> {
    let host = HostBuilder::new().build()?;
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

async fn http(args: HttpArgs) -> anyhow::Result<()> {
    let wasm = std::fs::read(&args.component).with_context(|| {
        format!(
            "could not read {}; build the guests first: ./scripts/build-guests --release",
            args.component.display()
        )
    })?;
    let duration = Duration::from_secs(args.seconds);
    let load = |addr| load::run(addr, args.connections, duration);
    let mut rows = Vec::new();

    let runtime = Runtime::new(RuntimeConfig::default())?;
    let bare_fresh = bare::serve(&runtime, &wasm, None).await?;
    rows.push((
        "bare wasmtime-wasi-http, fresh",
        load(bare_fresh.addr).await?,
    ));
    drop(bare_fresh);

    let (_h, weft_fresh) = weft_server(&wasm, None).await?;
    rows.push((
        "weft run, fresh instance",
        load(weft_fresh.local_addr()).await?,
    ));
    drop(weft_fresh);

    let bare_reuse = bare::serve(&runtime, &wasm, Some(args.reuse)).await?;
    rows.push((
        "bare wasmtime-wasi-http, reuse",
        load(bare_reuse.addr).await?,
    ));
    drop(bare_reuse);

    let (_h2, weft_reuse) = weft_server(&wasm, Some(args.reuse)).await?;
    rows.push(("weft run, reuse", load(weft_reuse.local_addr()).await?));
    drop(weft_reuse);

    println!(
        "HTTP hello, {} connections, {} s per scenario, {} cores",
        args.connections,
        args.seconds,
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!(
        "{:<34} {:>10} {:>10} {:>10} {:>8} {:>9}",
        "scenario", "req/s", "p50 µs", "p99 µs", "errors", "vs bare"
    );
    for (i, (name, r)) in rows.iter().enumerate() {
        // Rows come in (bare, weft) pairs: the ratio compares weft to its baseline.
        let ratio = if i % 2 == 1 {
            format!("{:.2}×", r.rps / rows[i - 1].1.rps.max(f64::MIN_POSITIVE))
        } else {
            "baseline".into()
        };
        println!(
            "{:<34} {:>10.0} {:>10} {:>10} {:>8} {:>9}",
            name, r.rps, r.p50_us, r.p99_us, r.errors, ratio
        );
    }
    Ok(())
}
