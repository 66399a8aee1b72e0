//! pingpong on a lattice: a `wasmcloud:messaging` handler fed by the
//! `builtin:messaging-nats` provider, counting in Redis, answering requests
//! sent by a plain NATS client — on one host, then on two hosts sharing the
//! subscription through a queue group (each message handled once).

mod common;

use common::{TestHost, link, provider, start_host};
use std::time::Duration;
use weft_lattice_client::LatticeClient;
use weft_lattice_protocol::Subjects;
use weft_lattice_protocol::wire::{ComponentAuctionRequest, ScaleComponent, StringMap};
use weft_tests::nats::NatsServer;
use weft_tests::redis::RedisServer;
use weft_tests::{guests, net};

const LATTICE: &str = "pingpong";

fn scale(host_id: &str) -> anyhow::Result<ScaleComponent> {
    Ok(ScaleComponent {
        component_ref: format!("file://{}", guests::path("pingpong")?.display()),
        component_id: "pingpong".into(),
        host_id: host_id.into(),
        max_instances: 8,
        annotations: StringMap::new(),
        config: vec![],
        allow_update: false,
        component_limits: None,
    })
}

/// Starts the providers pingpong needs on `host`.
async fn providers_on(client: &LatticeClient, host: &TestHost) -> anyhow::Result<()> {
    let id = host.host.id();
    client
        .start_provider(
            id,
            &provider("counter", "builtin:keyvalue-redis", &["redis"]),
        )
        .await?;
    client
        .start_provider(id, &provider("nats", "builtin:messaging-nats", &[]))
        .await?;
    Ok(())
}

/// Sends "ping" on `weft.ping` until a reply comes (the subscription may
/// still be starting); returns the reply's text.
async fn ping(nats: &async_nats::Client) -> anyhow::Result<String> {
    net::wait_for("a reply to ping", Duration::from_secs(20), || async {
        let reply = tokio::time::timeout(
            Duration::from_secs(5),
            nats.request("weft.ping", "ping".into()),
        )
        .await
        .ok()?
        .ok()?;
        Some(String::from_utf8_lossy(&reply.payload).into_owned())
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pingpong_answers_across_hosts_and_each_message_is_handled_once() -> anyhow::Result<()> {
    let nats = NatsServer::start().await?;
    let redis = RedisServer::start().await?;
    let a = start_host(&nats.url(), LATTICE, &[("side", "a")]).await?;
    let b = start_host(&nats.url(), LATTICE, &[("side", "b")]).await?;
    let raw = async_nats::connect(nats.url()).await?;
    let client = LatticeClient::new(raw.clone(), Subjects::new("wasmbus.ctl", LATTICE)?);

    client
        .put_config("redis", &StringMap::from([("url".into(), redis.url())]))
        .await?;
    client
        .put_config(
            "pp-subs",
            &StringMap::from([("subscriptions".into(), "weft.ping".into())]),
        )
        .await?;
    // The auction places pingpong on B by its label.
    let auction = ComponentAuctionRequest {
        component_ref: scale("")?.component_ref,
        component_id: "pingpong".into(),
        constraints: StringMap::from([("side".into(), "b".into())]),
    };
    let bids = client.auction_component(&auction).await?;
    anyhow::ensure!(bids.len() == 1, "one host should bid, got {bids:?}");
    anyhow::ensure!(
        bids[0].host_id == b.host.id(),
        "the bid is not B's: {bids:?}"
    );
    client
        .scale_component(b.host.id(), &scale(b.host.id())?)
        .await?;
    providers_on(&client, &b).await?;
    client
        .put_link(&link(
            "pingpong",
            "counter",
            "wasi:keyvalue",
            &["store", "atomics"],
            &[],
        ))
        .await?;
    common::messaging_both_ways(&client, "pingpong", "nats", "pp-subs").await?;

    // A request sent from A's side of the lattice (a plain NATS client; the
    // component runs on B only).
    assert!(a.host.component("pingpong").is_none());
    assert_eq!(ping(&raw).await?, "pong 1");
    assert_eq!(ping(&raw).await?, "pong 2");

    // Now on A too: the two subscriptions share a queue group, so every
    // message is handled by one of them and the count goes up by one each.
    client
        .scale_component(a.host.id(), &scale(a.host.id())?)
        .await?;
    providers_on(&client, &a).await?;
    let mut seen = Vec::new();
    for _ in 0..20 {
        seen.push(ping(&raw).await?);
    }
    let expected: Vec<String> = (3..=22).map(|n| format!("pong {n}")).collect();
    assert_eq!(seen, expected, "each ping must be counted exactly once");

    // With pingpong stopped on B, A answers alone: its subscription was live.
    let mut stop = scale(b.host.id())?;
    stop.max_instances = 0;
    client.scale_component(b.host.id(), &stop).await?;
    assert!(b.host.component("pingpong").is_none());
    assert_eq!(ping(&raw).await?, "pong 23");

    // Without its handler link, pingpong no longer receives anything.
    client
        .delete_link(&weft_lattice_protocol::wire::DeleteLink {
            source_id: "nats".into(),
            name: "default".into(),
            wit_namespace: "wasmcloud".into(),
            wit_package: "messaging".into(),
        })
        .await?;
    net::wait_for(
        "the subscription to end",
        Duration::from_secs(20),
        || async {
            match raw.request("weft.ping", "ping".into()).await {
                Err(e) if e.kind() == async_nats::RequestErrorKind::NoResponders => Some(()),
                _ => None,
            }
        },
    )
    .await?;
    Ok(())
}
