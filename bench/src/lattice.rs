//! Lattice figures: pingpong's round trip through the messaging provider
//! next to a raw NATS request/reply on the same server, and kv-counter
//! behind the HTTP server provider with its keyvalue linked to memory,
//! Redis and NATS KV in turn.
//!
//! Everything runs on private loopback services (nats-server, redis-server)
//! started for the run, and one in-process host driven over the control
//! protocol, as `weft host` would be.

use crate::hosts::{self, InProcessHost};
use crate::report::{Better, Figure};
use crate::{load, median, percentile};
use anyhow::Context;
use futures::StreamExt;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use weft_capability::builtin::Builtin;
use weft_host::{Host, HostBuilder};
use weft_lattice_client::LatticeClient;
use weft_lattice_protocol::wire::{Link, ScaleComponent, StartProvider, StringMap};
use weft_tests::nats::NatsServer;
use weft_tests::redis::RedisServer;

const LATTICE: &str = "bench";

/// Arguments of `weft-bench lattice`.
#[derive(Debug, clap::Args)]
pub struct LatticeArgs {
    /// Where the release guests are.
    #[arg(long, default_value = "target/guests/wasm32-wasip2/release")]
    guests: PathBuf,
    /// Seconds per scenario and round (after a warm-up).
    #[arg(long, default_value_t = 3)]
    seconds: u64,
    /// Rounds; figures are medians over them.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Concurrent connections of the keyvalue HTTP runs.
    #[arg(long, default_value_t = 16)]
    connections: usize,
}

struct Lattice {
    host: Arc<Host>,
    client: LatticeClient,
    _joined: InProcessHost,
}

async fn start(nats: &NatsServer) -> anyhow::Result<Lattice> {
    let url = nats.url();
    let host = HostBuilder::new().with_file_refs(true);
    let joined = InProcessHost::join(host, &url, LATTICE).await?;
    Ok(Lattice {
        host: joined.host.clone(),
        client: hosts::client(&url, LATTICE).await?,
        _joined: joined,
    })
}

impl Lattice {
    async fn component(&self, id: &str, wasm: &Path) -> anyhow::Result<()> {
        let cmd = ScaleComponent {
            component_ref: format!("file://{}", wasm.canonicalize()?.display()),
            component_id: id.into(),
            host_id: self.host.id().into(),
            max_instances: 1_000,
            annotations: StringMap::new(),
            config: vec![],
            allow_update: false,
            component_limits: None,
        };
        Ok(self.client.scale_component(self.host.id(), &cmd).await?)
    }

    async fn provider(&self, id: &str, reference: &str, config: &[&str]) -> anyhow::Result<()> {
        let cmd = StartProvider {
            provider_id: id.into(),
            provider_ref: reference.into(),
            host_id: self.host.id().into(),
            config: config.iter().map(|c| c.to_string()).collect(),
            annotations: None,
        };
        Ok(self.client.start_provider(self.host.id(), &cmd).await?)
    }

    async fn config(&self, name: &str, pairs: &[(&str, &str)]) -> anyhow::Result<()> {
        let values: StringMap = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Ok(self.client.put_config(name, &values).await?)
    }

    async fn link(
        &self,
        source: &str,
        target: &str,
        (namespace, package): (&str, &str),
        interfaces: &[&str],
        source_config: &[&str],
    ) -> anyhow::Result<()> {
        self.named_link(
            "default",
            source,
            target,
            (namespace, package),
            interfaces,
            source_config,
        )
        .await
    }

    /// A link called `name`: one provider serves several components over
    /// links named apart.
    async fn named_link(
        &self,
        name: &str,
        source: &str,
        target: &str,
        (namespace, package): (&str, &str),
        interfaces: &[&str],
        source_config: &[&str],
    ) -> anyhow::Result<()> {
        let link = Link {
            source_id: source.into(),
            target: target.into(),
            name: name.into(),
            wit_namespace: namespace.into(),
            wit_package: package.into(),
            interfaces: interfaces.iter().map(|i| i.to_string()).collect(),
            source_config: source_config.iter().map(|c| c.to_string()).collect(),
            target_config: vec![],
        };
        Ok(self.client.put_link(&link).await?)
    }
}

/// A plain responder on `subject` (the raw NATS baseline), until aborted.
pub async fn responder(
    nc: &async_nats::Client,
    subject: &str,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let mut raw = nc.subscribe(subject.to_owned()).await?;
    let nc = nc.clone();
    Ok(tokio::spawn(async move {
        while let Some(msg) = raw.next().await {
            if let Some(reply) = msg.reply {
                let _ = nc.publish(reply, "pong".into()).await;
            }
        }
    }))
}

/// Sequential request/reply latencies on `subject` for `duration`.
pub async fn round_trips(
    nats: &async_nats::Client,
    subject: &str,
    duration: Duration,
) -> anyhow::Result<Vec<u64>> {
    let deadline = Instant::now() + duration;
    let mut latencies = Vec::new();
    while Instant::now() < deadline {
        let t = Instant::now();
        nats.request(subject.to_owned(), "ping".into())
            .await
            .with_context(|| format!("request on {subject}"))?;
        latencies.push(t.elapsed().as_micros() as u64);
    }
    Ok(latencies)
}

/// Raw Redis INCR round trips from `connections` connections for
/// `duration`: (requests/s, p50 µs).
async fn raw_incr(url: &str, connections: usize, duration: Duration) -> anyhow::Result<(f64, f64)> {
    let client = redis::Client::open(url)?;
    let mut tasks = Vec::new();
    for _ in 0..connections.max(1) {
        let mut conn = client.get_multiplexed_async_connection().await?;
        tasks.push(tokio::spawn(async move {
            let deadline = Instant::now() + duration;
            let mut lat = Vec::new();
            while Instant::now() < deadline {
                let t = Instant::now();
                let _: i64 = redis::cmd("INCR")
                    .arg("bench:raw")
                    .query_async(&mut conn)
                    .await?;
                lat.push(t.elapsed().as_micros() as u64);
            }
            Ok::<_, redis::RedisError>(lat)
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await??);
    }
    all.sort_unstable();
    Ok((
        all.len() as f64 / duration.as_secs_f64(),
        percentile(&all, 0.5),
    ))
}

/// Runs both lattice benchmarks and prints their tables.
pub async fn run(args: LatticeArgs) -> anyhow::Result<Vec<Figure>> {
    let nats = NatsServer::start().await?;
    let redis = RedisServer::start().await?;
    let lattice = start(&nats).await?;
    let duration = Duration::from_secs(args.seconds);
    let rounds = args.rounds.max(1);
    let pingpong = args.guests.join("pingpong.wasm");
    let counter = args.guests.join("kv_counter.wasm");
    for wasm in [&pingpong, &counter] {
        anyhow::ensure!(
            wasm.exists(),
            "{} is missing; build the guests first: ./scripts/build-guests --release",
            wasm.display()
        );
    }

    // pingpong, with its counter in memory so the figure is the lattice's.
    lattice.component("pingpong", &pingpong).await?;
    lattice
        .config("subs", &[("subscriptions", "bench.ping")])
        .await?;
    lattice
        .provider("mem", Builtin::KeyValueMemory.reference(), &[])
        .await?;
    lattice
        .provider("nats", Builtin::MessagingNats.reference(), &[])
        .await?;
    lattice
        .link(
            "pingpong",
            "mem",
            ("wasi", "keyvalue"),
            &["store", "atomics"],
            &[],
        )
        .await?;
    lattice
        .link(
            "pingpong",
            "nats",
            ("wasmcloud", "messaging"),
            &["consumer"],
            &[],
        )
        .await?;
    lattice
        .link(
            "nats",
            "pingpong",
            ("wasmcloud", "messaging"),
            &["handler"],
            &["subs"],
        )
        .await?;
    // The baseline: a plain responder on the same server.
    let nc = async_nats::connect(nats.url()).await?;
    let responder = responder(&nc, "bench.raw").await?;
    let requester = async_nats::connect(nats.url()).await?;
    // Wait for the subscription, then warm up both.
    let ready = Instant::now();
    while requester
        .request("bench.ping", "ping".into())
        .await
        .is_err()
    {
        anyhow::ensure!(
            ready.elapsed() < Duration::from_secs(20),
            "pingpong never answered"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    round_trips(&requester, "bench.raw", Duration::from_secs(1)).await?;
    round_trips(&requester, "bench.ping", Duration::from_secs(1)).await?;
    let mut rows: [Vec<(f64, f64, usize)>; 2] = [Vec::new(), Vec::new()];
    let subjects = ["bench.raw", "bench.ping"];
    for round in 0..rounds {
        let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
        for i in order {
            let mut lat = round_trips(&requester, subjects[i], duration).await?;
            lat.sort_unstable();
            rows[i].push((percentile(&lat, 0.5), percentile(&lat, 0.99), lat.len()));
        }
    }
    responder.abort();
    let mut figures = Vec::new();
    println!(
        "Messaging round trip, one requester, {} s per scenario, {rounds} rounds, {} cores",
        args.seconds,
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!("medians over the rounds; `vs raw` compares the p50s");
    println!(
        "{:<44} {:>9} {:>9} {:>10} {:>8}",
        "scenario", "p50 µs", "p99 µs", "trips/s", "vs raw"
    );
    let names = [
        "raw NATS request/reply (plain responder)",
        "weft pingpong (messaging-nats → component)",
    ];
    let p50s: Vec<f64> = rows
        .iter()
        .map(|r| median(&r.iter().map(|x| x.0).collect::<Vec<_>>()))
        .collect();
    for (i, name) in names.iter().enumerate() {
        let p99 = median(&rows[i].iter().map(|x| x.1).collect::<Vec<_>>());
        let trips = median(&rows[i].iter().map(|x| x.2 as f64).collect::<Vec<_>>())
            / args.seconds.max(1) as f64;
        let vs = if i == 0 {
            "baseline".to_owned()
        } else {
            format!("{:.2}×", p50s[1] / p50s[0].max(1.0))
        };
        println!(
            "{:<44} {:>9.0} {:>9.0} {:>10.0} {:>8}",
            name, p50s[i], p99, trips, vs
        );
    }
    println!();
    let ratio = p50s[1] / p50s[0].max(1.0);
    figures.push(
        Figure::new(
            "4. pingpong round trip over NATS",
            "µs p50",
            Better::Lower,
            p50s[1],
            "raw NATS request/reply",
            p50s[0],
        )
        .target("p50 ≤ 1.50×", ratio <= 1.5),
    );

    // kv-counter behind http-server, one component per backend.
    lattice.config("redis", &[("url", &redis.url())]).await?;
    lattice.config("natskv", &[("url", &nats.url())]).await?;
    lattice
        .provider("redis", Builtin::KeyValueRedis.reference(), &["redis"])
        .await?;
    lattice
        .provider("natskv", Builtin::KeyValueNats.reference(), &["natskv"])
        .await?;
    lattice
        .provider("http", Builtin::HttpServer.reference(), &[])
        .await?;
    let backends = [("memory", "mem"), ("redis", "redis"), ("nats-kv", "natskv")];
    let mut addrs = BTreeMap::new();
    for (name, provider) in backends {
        let id = format!("counter-{name}");
        lattice.component(&id, &counter).await?;
        lattice
            .link(
                &id,
                provider,
                ("wasi", "keyvalue"),
                &["store", "atomics"],
                &[],
            )
            .await?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let config = format!("http-{name}");
        lattice
            .config(&config, &[("address", &addr.to_string())])
            .await?;
        lattice
            .named_link(
                name,
                "http",
                &id,
                ("wasi", "http"),
                &["incoming-handler"],
                &[&config],
            )
            .await?;
        addrs.insert(name, addr);
    }
    for addr in addrs.values() {
        let ready = Instant::now();
        while tokio::net::TcpStream::connect(addr).await.is_err() {
            anyhow::ensure!(
                ready.elapsed() < Duration::from_secs(20),
                "{addr} never listened"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let mut samples: Vec<Vec<load::Report>> = vec![Vec::new(); backends.len()];
    for round in 0..rounds {
        let mut order: Vec<usize> = (0..backends.len()).collect();
        if round % 2 == 1 {
            order.reverse();
        }
        for i in order {
            let addr = addrs[backends[i].0];
            samples[i].push(load::run(addr, args.connections, duration).await?);
        }
    }
    println!(
        "Keyvalue per request: kv-counter behind {}, {} connections, {} s, {rounds} rounds",
        Builtin::HttpServer,
        args.connections,
        args.seconds
    );
    println!(
        "{:<30} {:>10} {:>8} {:>8} {:>7} {:>10}",
        "keyvalue backend", "req/s", "p50 µs", "p99 µs", "errors", "vs memory"
    );
    let base = median(&samples[0].iter().map(|r| r.rps).collect::<Vec<_>>());
    for (i, (name, _)) in backends.iter().enumerate() {
        let rps = median(&samples[i].iter().map(|r| r.rps).collect::<Vec<_>>());
        println!(
            "{:<30} {:>10.0} {:>8.0} {:>8.0} {:>7} {:>9.2}×",
            format!(
                "{name} (builtin:keyvalue-{})",
                if *name == "nats-kv" { "nats" } else { name }
            ),
            rps,
            median(
                &samples[i]
                    .iter()
                    .map(|r| r.p50_us as f64)
                    .collect::<Vec<_>>()
            ),
            median(
                &samples[i]
                    .iter()
                    .map(|r| r.p99_us as f64)
                    .collect::<Vec<_>>()
            ),
            samples[i].iter().map(|r| r.errors).sum::<u64>(),
            rps / base.max(f64::MIN_POSITIVE)
        );
    }
    // Scenario 3: the Redis one against raw INCR round trips from here.
    let (raw_rps, raw_p50) = raw_incr(&redis.url(), args.connections, duration).await?;
    let redis_p50 = median(
        &samples[1]
            .iter()
            .map(|r| r.p50_us as f64)
            .collect::<Vec<_>>(),
    );
    let redis_rps = median(&samples[1].iter().map(|r| r.rps).collect::<Vec<_>>());
    println!(
        "{:<30} {:>10.0} {:>8.0}    (raw INCR round trips from the bench, {} connections)",
        "raw Redis INCR", raw_rps, raw_p50, args.connections
    );
    println!(
        "p50 difference under load: {:.0} µs (mostly queueing: {} connections on 2 cores)",
        redis_p50 - raw_p50,
        args.connections
    );
    figures.push(Figure::new(
        "3. HTTP + keyvalue INCR on Redis",
        "µs p50",
        Better::Lower,
        redis_p50,
        "raw Redis INCR round trip",
        raw_p50,
    ));
    figures.push(Figure::new(
        "3. HTTP + keyvalue INCR on Redis",
        "req/s",
        Better::Higher,
        redis_rps,
        "raw Redis INCR round trips",
        raw_rps,
    ));
    // Under 16 connections the p50s are mostly queueing on two cores; one
    // connection shows what a request itself costs.
    let mut one: [Vec<f64>; 3] = [Vec::new(), Vec::new(), Vec::new()];
    for _ in 0..rounds {
        one[0].push(raw_incr(&redis.url(), 1, duration).await?.1);
        for (i, name) in [(1, "memory"), (2, "redis")] {
            one[i].push(load::run(addrs[name], 1, duration).await?.p50_us as f64);
        }
    }
    let [raw1, memory1, redis1] = one.map(|v| median(&v));
    println!(
        "one connection, p50: raw INCR {raw1:.0} µs, kv-counter on memory {memory1:.0} µs, on Redis \
         {redis1:.0} µs: overhead of HTTP + component + wasi:keyvalue {:.0} µs, of which the Redis \
         call adds {:.0} µs over the in-memory one",
        redis1 - raw1,
        redis1 - memory1
    );
    figures.push(Figure::new(
        "3. HTTP + keyvalue INCR on Redis, 1 connection",
        "µs p50",
        Better::Lower,
        redis1,
        "raw Redis INCR, 1 connection",
        raw1,
    ));
    Ok(figures)
}
