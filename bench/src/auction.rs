//! Auction + start with ten hosts on one nats-server (scenario 8).
//!
//! Ten in-process hosts join one lattice and beat, so each knows the
//! others are alive and an auction ends as soon as all ten have answered.
//! Each run auctions a new component id (`http_hello` from a file), then
//! starts it on the winner and waits for the host's ack (the component is
//! compiled, instantiable and in the inventory when it comes back).
//!
//! Baselines, same run, same server: a raw NATS scatter-gather (one
//! request, ten plain responders, all ten replies) next to the auction, and
//! starting on a host named up front (no auction) next to auction + start.

use crate::hosts::{self, InProcessHost};
use crate::report::{Better, Figure};
use futures::StreamExt;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use weft_host::HostBuilder;
use weft_lattice_client::LatticeClient;
use weft_lattice_protocol::wire::{ComponentAuctionRequest, ScaleComponent, StringMap};
use weft_runtime::RuntimeConfig;
use weft_tests::nats::NatsServer;

const LATTICE: &str = "auction";

/// Arguments of `weft-bench auction`.
#[derive(Debug, clap::Args)]
pub struct AuctionArgs {
    /// Where the release guests are.
    #[arg(long, default_value = "target/guests/wasm32-wasip2/release")]
    guests: PathBuf,
    /// Hosts on the lattice.
    #[arg(long, default_value_t = 10)]
    hosts: usize,
    /// Auctions (and starts) measured, after one warm-up start per host.
    #[arg(long, default_value_t = 40)]
    runs: usize,
}

fn scale(reference: &str, id: &str, host: &str) -> ScaleComponent {
    ScaleComponent {
        component_ref: reference.into(),
        component_id: id.into(),
        host_id: host.into(),
        max_instances: 1,
        annotations: StringMap::new(),
        config: vec![],
        allow_update: false,
        component_limits: None,
    }
}

fn request(reference: &str, id: &str) -> ComponentAuctionRequest {
    ComponentAuctionRequest {
        component_ref: reference.into(),
        component_id: id.into(),
        constraints: StringMap::new(),
    }
}

/// Waits until an auction hears from every host and every host counts
/// all of them alive (so auctions end on the last answer, not the window).
async fn all_known(client: &LatticeClient, reference: &str, n: usize) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let bids = client
            .auction_component(&request(reference, "probe"))
            .await?;
        let counted = |b: &weft_lattice_protocol::wire::ComponentAuctionAck| {
            b.capacity
                .as_ref()
                .is_some_and(|c| c.lattice_hosts as usize == n)
        };
        if bids.len() == n && bids.iter().all(counted) {
            return Ok(());
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "after 30 s only {} of {n} hosts bid with the whole lattice counted",
            bids.len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// One request to `subject`, answered by `n` plain responders: the time to
/// the last reply.
async fn scatter(nc: &async_nats::Client, subject: &str, n: usize) -> anyhow::Result<Duration> {
    let inbox = nc.new_inbox();
    let mut replies = nc.subscribe(inbox.clone()).await?;
    let t = Instant::now();
    nc.publish_with_reply(subject.to_owned(), inbox, "{}".into())
        .await?;
    nc.flush().await?;
    for _ in 0..n {
        tokio::time::timeout(Duration::from_secs(5), replies.next())
            .await?
            .ok_or_else(|| anyhow::anyhow!("scatter replies ended"))?;
    }
    Ok(t.elapsed())
}

fn us(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// The `p` quantile of sorted µs, in ms.
fn ms(sorted: &[u64], p: f64) -> f64 {
    crate::percentile(sorted, p) / 1e3
}

/// Runs the scenario and prints its table.
pub async fn run(args: AuctionArgs) -> anyhow::Result<Vec<Figure>> {
    let n = args.hosts.max(1);
    let nats = NatsServer::start().await?;
    let url = nats.url();
    let wasm = crate::guest_file(&args.guests.join("http_hello.wasm"))?;
    let reference = format!("file://{}", wasm.display());
    // Small pools: ten hosts share this process's address space.
    let config = RuntimeConfig {
        max_instances: 100,
        ..RuntimeConfig::default()
    };
    let mut lattice = Vec::new();
    for i in 0..n {
        let host = HostBuilder::new()
            .with_file_refs(true)
            .with_runtime_config(config.clone())
            .with_friendly_name(format!("bench-{i}"));
        lattice.push(InProcessHost::join(host, &url, LATTICE).await?);
    }
    let client = hosts::client(&url, LATTICE)
        .await?
        .with_window(Duration::from_secs(2));
    all_known(&client, &reference, n).await?;
    // Compile once on each host, so runs measure placement, not cranelift.
    for (i, h) in lattice.iter().enumerate() {
        let id = format!("warm-{i}");
        client
            .scale_component(h.host.id(), &scale(&reference, &id, h.host.id()))
            .await?;
    }

    // The raw baseline's responders, on their own connections.
    let mut responders = Vec::new();
    for _ in 0..n {
        let nc = async_nats::connect(&url).await?;
        responders.push(crate::lattice::responder(&nc, "raw.scatter").await?);
    }
    let raw = async_nats::connect(&url).await?;

    let mut auction = Vec::new();
    let mut placed = Vec::new();
    let mut direct = Vec::new();
    let mut gather = Vec::new();
    for run in 0..args.runs.max(1) {
        gather.push(us(scatter(&raw, "raw.scatter", n).await?));

        let id = format!("placed-{run}");
        let t = Instant::now();
        let winner = client.place_component(&request(&reference, &id)).await?;
        auction.push(us(t.elapsed()));
        client
            .scale_component(&winner.host_id, &scale(&reference, &id, &winner.host_id))
            .await?;
        placed.push(us(t.elapsed()));

        let host = lattice[run % n].host.id();
        let id = format!("direct-{run}");
        let t = Instant::now();
        client
            .scale_component(host, &scale(&reference, &id, host))
            .await?;
        direct.push(us(t.elapsed()));
    }
    for r in responders {
        r.abort();
    }
    for v in [&mut auction, &mut placed, &mut direct, &mut gather] {
        v.sort_unstable();
    }
    println!(
        "Auction + start, {n} in-process hosts on one nats-server, {} runs (ms)",
        args.runs.max(1)
    );
    println!("{:<46} {:>8} {:>8}", "scenario", "p50", "p99");
    for (name, v) in [
        ("raw NATS scatter-gather, all replies", &gather),
        ("weft auction (ends on the last bid)", &auction),
        ("weft start on a named host (no auction)", &direct),
        ("weft auction + start on the winner", &placed),
    ] {
        println!("{name:<46} {:>8.2} {:>8.2}", ms(v, 0.5), ms(v, 0.99));
    }
    let p50 = |v: &[u64]| ms(v, 0.5);
    Ok(vec![
        Figure::new(
            &format!("8. auction, {n} hosts"),
            "ms p50",
            Better::Lower,
            p50(&auction),
            &format!("raw NATS scatter-gather, {n} replies"),
            p50(&gather),
        ),
        Figure::new(
            &format!("8. auction + start, {n} hosts"),
            "ms p50",
            Better::Lower,
            p50(&placed),
            "start on a named host",
            p50(&direct),
        ),
    ])
}
