//! Cold start from an OCI reference to the first HTTP 200: a host on a
//! private nats-server is asked over the control protocol (`component.scale`)
//! to start a component pushed to a private docker-registry, with its
//! `builtin:http-server` link already in place; the clock stops at the
//! first 200. Three cases, each run with a new component id:
//!
//! - uncached: the host's blob store and compile cache are emptied first
//!   (pull + verify + compile);
//! - blobs cached: only the compile cache is emptied (verify + compile);
//! - fully cached: both kept (the compiled code is loaded by digest);
//! - in memory: the host still holds the compiled code of an earlier copy
//!   (what a second copy of a running component costs).
//!
//! Baselines measured in the same run: compiling the same bytes with the
//! engine directly (what the uncached cases cannot beat), and one GET to a
//! component already running (the floor of every case).

use crate::hosts::{self, InProcessHost};
use crate::median;
use crate::report::{Better, Figure};
use anyhow::Context;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use weft_capability::builtin::Builtin;
use weft_host::{Host, HostBuilder};
use weft_lattice_client::LatticeClient;
use weft_lattice_protocol::wire::{Link, ScaleComponent, StartProvider, StringMap};
use weft_oci::{Credentials, Puller, PullerConfig, PushRequest, Pusher};
use weft_tests::nats::NatsServer;
use weft_tests::registry::Registry;

const LATTICE: &str = "coldstart";

/// Arguments of `weft-bench coldstart`.
#[derive(Debug, clap::Args)]
pub struct ColdStartArgs {
    /// Where the release guests are.
    #[arg(long, default_value = "target/guests/wasm32-wasip2/release")]
    guests: PathBuf,
    /// Runs per case (the table shows medians).
    #[arg(long, default_value_t = 15)]
    runs: usize,
    /// The guests to start (file stems in --guests).
    #[arg(long, default_values_t = ["http_hello".to_owned(), "test_guest".to_owned()])]
    guest: Vec<String>,
}

struct Setup {
    host: Arc<Host>,
    client: LatticeClient,
    store: PathBuf,
    compiled: PathBuf,
    _joined: InProcessHost,
    _dirs: tempfile::TempDir,
}

async fn setup(nats: &NatsServer) -> anyhow::Result<Setup> {
    let dirs = tempfile::tempdir()?;
    let store = dirs.path().join("oci");
    let compiled = dirs.path().join("compiled");
    let puller = Puller::new(PullerConfig::new(&store), Arc::new(Credentials::new()));
    let host = HostBuilder::new()
        .with_cache_dir(&compiled)
        .with_oci(Arc::new(puller));
    let url = nats.url();
    let joined = InProcessHost::join(host, &url, LATTICE).await?;
    let host = joined.host.clone();
    let client = hosts::client(&url, LATTICE).await?;
    client
        .start_provider(
            host.id(),
            &StartProvider {
                provider_id: "http".into(),
                provider_ref: Builtin::HttpServer.reference().into(),
                host_id: host.id().into(),
                config: vec![],
                annotations: None,
            },
        )
        .await?;
    Ok(Setup {
        host,
        client,
        store,
        compiled,
        _joined: joined,
        _dirs: dirs,
    })
}

fn empty(dir: &Path) -> anyhow::Result<()> {
    if dir.exists() {
        std::fs::remove_dir_all(dir).with_context(|| format!("emptying {}", dir.display()))?;
    }
    Ok(())
}

/// GETs `/` until it answers 200.
async fn first_200(addr: SocketAddr) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(reply) = weft_tests::http::get(addr, "/ok").await
            && reply.status == 200
        {
            return Ok(());
        }
        anyhow::ensure!(Instant::now() < deadline, "{addr} never answered 200");
        tokio::time::sleep(Duration::from_micros(200)).await;
    }
}

impl Setup {
    /// Puts the link for `id` (untimed), then times scale → first 200.
    async fn start(&self, reference: &str, id: &str) -> anyhow::Result<Duration> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let config = format!("{id}-http");
        self.client
            .put_config(
                &config,
                &StringMap::from([("address".into(), addr.to_string())]),
            )
            .await?;
        self.client
            .put_link(&Link {
                source_id: "http".into(),
                target: id.into(),
                name: id.into(),
                wit_namespace: "wasi".into(),
                wit_package: "http".into(),
                interfaces: vec!["incoming-handler".into()],
                source_config: vec![config],
                target_config: vec![],
            })
            .await?;
        // Let the link reach the host before the clock starts.
        tokio::time::sleep(Duration::from_millis(50)).await;
        let cmd = ScaleComponent {
            component_ref: reference.into(),
            component_id: id.into(),
            host_id: self.host.id().into(),
            max_instances: 100,
            annotations: StringMap::new(),
            config: vec![],
            allow_update: false,
            component_limits: None,
        };
        let t = Instant::now();
        self.client.scale_component(self.host.id(), &cmd).await?;
        first_200(addr).await?;
        let took = t.elapsed();
        Ok(took)
    }

    /// Stops `id` and removes its link, so every run starts from the same
    /// lattice (one component, one link).
    async fn clean(&self, reference: &str, id: &str) -> anyhow::Result<()> {
        let cmd = ScaleComponent {
            component_ref: reference.into(),
            component_id: id.into(),
            host_id: self.host.id().into(),
            max_instances: 0,
            annotations: StringMap::new(),
            config: vec![],
            allow_update: false,
            component_limits: None,
        };
        self.client.scale_component(self.host.id(), &cmd).await?;
        self.client
            .delete_link(&weft_lattice_protocol::wire::DeleteLink {
                source_id: "http".into(),
                name: id.into(),
                wit_namespace: "wasi".into(),
                wit_package: "http".into(),
            })
            .await?;
        self.client.delete_config(&format!("{id}-http")).await?;
        Ok(())
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1_000.0
}

/// Runs the cold-start cases for every guest and prints one table.
pub async fn run(args: ColdStartArgs) -> anyhow::Result<Vec<Figure>> {
    let registry = Registry::start().await?;
    let nats = NatsServer::start().await?;
    let setup = setup(&nats).await?;
    let pusher = Pusher::new(vec![], Arc::new(Credentials::new()));
    let runs = args.runs.max(10);
    println!(
        "Cold start, `component.scale` to first HTTP 200, median of {runs} runs, {} cores",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!(
        "{:<14} {:>8} {:>34} {:>9} {:>9} {:>9}",
        "component", "size", "case", "p50 ms", "min ms", "max ms"
    );
    let mut n = 0;
    let mut figures = Vec::new();
    for guest in &args.guest {
        let path = args.guests.join(format!("{guest}.wasm"));
        let wasm = std::fs::read(&path).with_context(|| {
            format!(
                "{} is missing; build the guests first: ./scripts/build-guests --release",
                path.display()
            )
        })?;
        let reference = registry.reference(&format!("bench/{guest}:1"));
        pusher
            .push(PushRequest {
                reference: reference.clone(),
                wasm: wasm.clone(),
                annotations: Default::default(),
            })
            .await?;
        let mut rows: Vec<(&str, Vec<f64>)> = Vec::new();

        // Baseline: the engine compiling the same bytes, nothing else.
        let engine = setup.host.runtime().engine().clone();
        let mut compile = Vec::new();
        for _ in 0..runs {
            let t = Instant::now();
            let bytes = wasm.clone();
            let engine = engine.clone();
            tokio::task::spawn_blocking(move || {
                wasmtime::component::Component::new(&engine, &bytes)
            })
            .await??;
            compile.push(ms(t.elapsed()));
        }
        rows.push(("baseline: wasmtime compile only", compile));

        for (case, clear_store, clear_compiled, clear_memory) in [
            ("uncached (pull + verify + compile)", true, true, true),
            ("blobs cached (verify + compile)", false, true, true),
            ("fully cached (load by digest)", false, false, true),
            ("in memory (shared with a copy)", false, false, false),
        ] {
            let mut times = Vec::new();
            for _ in 0..runs {
                if clear_store {
                    empty(&setup.store)?;
                }
                if clear_compiled {
                    empty(&setup.compiled)?;
                }
                if clear_memory {
                    setup.host.forget_compiled();
                }
                n += 1;
                let id = format!("c{n}");
                times.push(ms(setup.start(&reference, &id).await?));
                setup.clean(&reference, &id).await?;
            }
            rows.push((case, times));
        }

        // Baseline: a GET to a component already running.
        n += 1;
        let id = format!("c{n}");
        setup.start(&reference, &id).await?;
        let addr = running_addr(&setup, &id)
            .await
            .context("the warm component's address")?;
        let mut warm = Vec::new();
        for _ in 0..runs {
            let t = Instant::now();
            first_200(addr).await?;
            warm.push(ms(t.elapsed()));
        }
        setup.clean(&reference, &id).await?;
        rows.push(("baseline: GET on a running component", warm));

        let p50 = |i: usize| rows.get(i).map_or(0.0, |r| median(&r.1));
        let uncached = p50(1);
        figures.push(
            Figure::new(
                &format!("6. cold start, uncached ({guest})"),
                "ms p50",
                Better::Lower,
                uncached,
                "wasmtime compile only",
                p50(0),
            )
            .target("≤ 100 ms", uncached <= 100.0),
        );
        let cached = p50(3);
        figures.push(
            Figure::new(
                &format!("6. cold start, cached ({guest})"),
                "ms p50",
                Better::Lower,
                cached,
                "GET on a running component",
                p50(5),
            )
            .target("≤ 5 ms", cached <= 5.0),
        );
        for (case, times) in rows {
            let (lo, hi) = times
                .iter()
                .fold((f64::MAX, 0.0_f64), |(lo, hi), &x| (lo.min(x), hi.max(x)));
            println!(
                "{:<14} {:>7}K {:>34} {:>9.2} {:>9.2} {:>9.2}",
                guest,
                wasm.len() / 1024,
                case,
                median(&times),
                if times.is_empty() { 0.0 } else { lo },
                hi
            );
        }
    }
    Ok(figures)
}

/// The address of the last component started, from its link's config.
async fn running_addr(setup: &Setup, id: &str) -> Option<SocketAddr> {
    let config = setup.client.config(&format!("{id}-http")).await.ok()?;
    config.get("address")?.parse().ok()
}
