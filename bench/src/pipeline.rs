//! A stream pipeline (scenario 9): source → three components chained by
//! messaging → sink, next to a raw NATS three-hop relay on the same server.
//!
//! Each stage is the `relay` test component: it receives through the NATS
//! messaging provider and publishes, body unchanged, to the subject in its
//! wasi:config `next`. The raw relay is three plain clients doing the same.
//! The source stamps each message with its send time; the sink reads the
//! stamp. Two phases per round: throughput with a bounded number of
//! messages in flight, then end-to-end latency at a fixed rate (below
//! either side's limit, so the figure is the path, not a queue).

use crate::hosts::{self, InProcessHost};
use crate::report::{Better, Figure};
use crate::{median, percentile};
use futures::StreamExt;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;
use weft_capability::builtin::Builtin;
use weft_host::HostBuilder;
use weft_lattice_client::LatticeClient;
use weft_lattice_protocol::wire::{Link, ScaleComponent, StartProvider, StringMap};
use weft_tests::nats::NatsServer;

const LATTICE: &str = "pipeline";
const STAGES: usize = 3;

/// Arguments of `weft-bench pipeline`.
#[derive(Debug, clap::Args)]
pub struct PipelineArgs {
    /// Where the release guests are.
    #[arg(long, default_value = "target/guests/wasm32-wasip2/release")]
    guests: PathBuf,
    /// Seconds per phase, side and round.
    #[arg(long, default_value_t = 2)]
    seconds: u64,
    /// Rounds; figures are medians over them.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Messages in flight during the throughput phase.
    #[arg(long, default_value_t = 64)]
    window: usize,
    /// Messages per second during the latency phase.
    #[arg(long, default_value_t = 1_000)]
    rate: u32,
}

/// How the source paces itself.
#[derive(Clone, Copy)]
enum Pace {
    /// At most this many messages between source and sink.
    Window(usize),
    /// This many messages per second.
    Rate(u32),
}

/// What one phase measured.
struct Sample {
    per_second: f64,
    /// End-to-end latencies, sorted, µs.
    latencies: Vec<u64>,
    lost: u64,
}

fn strings(pairs: &[(&str, String)]) -> StringMap {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect()
}

/// Starts the three relay stages on `host`: stage i reads `pipe.{i-1}`
/// and forwards to `pipe.{i}`.
async fn weft_stages(client: &LatticeClient, host: &str, wasm: &str) -> anyhow::Result<()> {
    client
        .start_provider(
            host,
            &StartProvider {
                provider_id: "nats".into(),
                provider_ref: Builtin::MessagingNats.reference().into(),
                host_id: host.into(),
                config: vec![],
                annotations: None,
            },
        )
        .await?;
    for i in 1..=STAGES {
        let id = format!("stage-{i}");
        client
            .put_config(&id, &strings(&[("next", format!("pipe.{i}"))]))
            .await?;
        let subs = format!("subs-{i}");
        client
            .put_config(
                &subs,
                &strings(&[("subscriptions", format!("pipe.{}", i - 1))]),
            )
            .await?;
        let cmd = ScaleComponent {
            component_ref: wasm.into(),
            component_id: id.clone(),
            host_id: host.into(),
            max_instances: 200,
            annotations: StringMap::new(),
            config: vec![id.clone()],
            allow_update: false,
            component_limits: None,
        };
        client.scale_component(host, &cmd).await?;
        let link =
            |source: &str, target: &str, name: &str, iface: &str, config: Vec<String>| Link {
                source_id: source.into(),
                target: target.into(),
                name: name.into(),
                wit_namespace: "wasmcloud".into(),
                wit_package: "messaging".into(),
                interfaces: vec![iface.into()],
                source_config: config,
                target_config: vec![],
            };
        client
            .put_link(&link(&id, "nats", "default", "consumer", vec![]))
            .await?;
        // One provider feeds three components: its links are named apart.
        client
            .put_link(&link("nats", &id, &id, "handler", vec![subs]))
            .await?;
    }
    Ok(())
}

/// The raw baseline: three plain clients, stage i reading `raw.{i-1}` and
/// publishing to `raw.{i}`, until aborted.
async fn raw_stages(url: &str) -> anyhow::Result<Vec<tokio::task::JoinHandle<()>>> {
    let mut tasks = Vec::new();
    for i in 1..=STAGES {
        let nc = async_nats::connect(url).await?;
        let mut sub = nc.subscribe(format!("raw.{}", i - 1)).await?;
        let next = format!("raw.{i}");
        tasks.push(tokio::spawn(async move {
            while let Some(msg) = sub.next().await {
                let _ = nc.publish(next.clone(), msg.payload).await;
            }
        }));
    }
    Ok(tasks)
}

/// Publishes on `first` until one message comes out at `sink`.
async fn ready(
    nc: &async_nats::Client,
    first: &str,
    sink: &mut async_nats::Subscriber,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        nc.publish(first.to_owned(), "warm-up".into()).await?;
        if tokio::time::timeout(Duration::from_millis(200), sink.next())
            .await
            .is_ok()
        {
            // Let stragglers of the warm-up through.
            while tokio::time::timeout(Duration::from_millis(300), sink.next())
                .await
                .is_ok()
            {}
            return Ok(());
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "nothing came out of the pipeline at {first} after 20 s"
        );
    }
}

/// One phase: the source publishes on `first` for `duration`, paced by
/// `pace`; the sink counts and times what comes out. Messages carry the
/// phase number, so late ones of an earlier phase are ignored.
async fn phase(
    nc: &async_nats::Client,
    first: &str,
    sink: &mut async_nats::Subscriber,
    number: u32,
    pace: Pace,
    duration: Duration,
) -> anyhow::Result<Sample> {
    let t0 = Instant::now();
    let window = match pace {
        Pace::Window(n) => n.max(1),
        // Unused when paced by rate.
        Pace::Rate(_) => 0,
    };
    let permits = Arc::new(Semaphore::new(window));
    let sent = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let source = {
        let (nc, first) = (nc.clone(), first.to_owned());
        let (permits, sent, done) = (permits.clone(), sent.clone(), done.clone());
        tokio::spawn(async move {
            let mut ticks = match pace {
                Pace::Rate(r) => Some(tokio::time::interval(Duration::from_secs_f64(
                    1.0 / f64::from(r.max(1)),
                ))),
                Pace::Window(_) => None,
            };
            while t0.elapsed() < duration {
                match ticks.as_mut() {
                    Some(t) => {
                        t.tick().await;
                    }
                    None => {
                        if let Ok(p) = permits.acquire().await {
                            p.forget();
                        }
                    }
                }
                let stamp = u64::try_from(t0.elapsed().as_nanos()).unwrap_or(u64::MAX);
                let mut body = number.to_le_bytes().to_vec();
                body.extend_from_slice(&stamp.to_le_bytes());
                if nc.publish(first.clone(), body.into()).await.is_err() {
                    break;
                }
                sent.fetch_add(1, Ordering::Relaxed);
            }
            let _ = nc.flush().await;
            done.store(true, Ordering::Release);
        })
    };
    let mut latencies = Vec::new();
    let mut last = t0;
    // Whatever has not come out 2 s after the source stopped is lost.
    let deadline = tokio::time::Instant::from_std(t0 + duration + Duration::from_secs(2));
    loop {
        let finished =
            done.load(Ordering::Acquire) && latencies.len() as u64 >= sent.load(Ordering::Relaxed);
        if finished {
            break;
        }
        let msg = match tokio::time::timeout_at(deadline, sink.next()).await {
            Ok(Some(msg)) => msg,
            Ok(None) | Err(_) => break,
        };
        let p = &msg.payload;
        if p.len() != 12 || p[..4] != number.to_le_bytes() {
            continue;
        }
        let mut stamp = [0u8; 8];
        stamp.copy_from_slice(&p[4..]);
        let now = t0.elapsed();
        let sent_at = Duration::from_nanos(u64::from_le_bytes(stamp));
        latencies.push(now.saturating_sub(sent_at).as_micros() as u64);
        last = Instant::now();
        if let Pace::Window(_) = pace {
            permits.add_permits(1);
        }
    }
    source.abort();
    latencies.sort_unstable();
    let received = latencies.len() as u64;
    Ok(Sample {
        per_second: received as f64 / last.duration_since(t0).as_secs_f64().max(1e-9),
        latencies,
        lost: sent.load(Ordering::Relaxed).saturating_sub(received),
    })
}

/// Runs the scenario and prints its table.
pub async fn run(args: PipelineArgs) -> anyhow::Result<Vec<Figure>> {
    let nats = NatsServer::start().await?;
    let url = nats.url();
    let wasm = crate::guest_file(&args.guests.join("relay.wasm"))?;
    let host = HostBuilder::new().with_file_refs(true);
    let joined = InProcessHost::join(host, &url, LATTICE).await?;
    let client = hosts::client(&url, LATTICE).await?;
    weft_stages(
        &client,
        joined.host.id(),
        &format!("file://{}", wasm.display()),
    )
    .await?;
    let raw = raw_stages(&url).await?;

    let source = async_nats::connect(&url).await?;
    let sinks = async_nats::connect(&url).await?;
    let last = format!("{STAGES}");
    let sides = [
        ("raw NATS 3-hop relay", "raw.0".to_owned()),
        ("weft, 3 relay components", "pipe.0".to_owned()),
    ];
    let mut subs = Vec::new();
    for (_, first) in &sides {
        let prefix = first.trim_end_matches('0');
        let mut sink = sinks.subscribe(format!("{prefix}{last}")).await?;
        ready(&source, first, &mut sink).await?;
        subs.push(sink);
    }

    let duration = Duration::from_secs(args.seconds.max(1));
    let rounds = args.rounds.max(1);
    // [side] → samples of the throughput and the latency phase.
    let mut throughput: [Vec<Sample>; 2] = [Vec::new(), Vec::new()];
    let mut paced: [Vec<Sample>; 2] = [Vec::new(), Vec::new()];
    let mut number = 0u32;
    for round in 0..rounds {
        let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
        for side in order {
            let first = &sides[side].1;
            number += 1;
            let pace = Pace::Window(args.window);
            let s = phase(&source, first, &mut subs[side], number, pace, duration).await?;
            throughput[side].push(s);
            number += 1;
            let pace = Pace::Rate(args.rate);
            let s = phase(&source, first, &mut subs[side], number, pace, duration).await?;
            paced[side].push(s);
        }
    }
    for t in raw {
        t.abort();
    }

    let rate = |side: usize| {
        median(
            &throughput[side]
                .iter()
                .map(|s| s.per_second)
                .collect::<Vec<_>>(),
        )
    };
    let pct = |side: usize, p: f64| {
        median(
            &paced[side]
                .iter()
                .map(|s| percentile(&s.latencies, p))
                .collect::<Vec<_>>(),
        )
    };
    let lost = |side: usize| -> u64 {
        throughput[side]
            .iter()
            .chain(&paced[side])
            .map(|s| s.lost)
            .sum()
    };
    println!(
        "Stream pipeline, source → {STAGES} stages → sink, {} s per phase, {rounds} rounds; \
         throughput with {} in flight, latency at {} msg/s",
        duration.as_secs(),
        args.window,
        args.rate
    );
    println!(
        "{:<30} {:>10} {:>9} {:>9} {:>6}",
        "scenario", "msgs/s", "p50 µs", "p99 µs", "lost"
    );
    for (side, (name, _)) in sides.iter().enumerate() {
        println!(
            "{name:<30} {:>10.0} {:>9.0} {:>9.0} {:>6}",
            rate(side),
            pct(side, 0.5),
            pct(side, 0.99),
            lost(side)
        );
    }
    anyhow::ensure!(
        lost(1) == 0,
        "the pipeline lost {} messages (a stage failed or NATS dropped them)",
        lost(1)
    );
    Ok(vec![
        Figure::new(
            "9. pipeline, 3 stages: throughput",
            "msgs/s",
            Better::Higher,
            rate(1),
            "raw NATS 3-hop relay",
            rate(0),
        ),
        Figure::new(
            &format!("9. pipeline, 3 stages: p99 at {} msg/s", args.rate),
            "µs p99",
            Better::Lower,
            pct(1, 0.99),
            "raw NATS 3-hop relay",
            pct(0, 0.99),
        ),
    ])
}
