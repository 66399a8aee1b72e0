//! A nats-server restart while hosts run: they reconnect, the links and
//! configs in JetStream are intact, and calls resume — HTTP through a link
//! to a component on the other host (over NATS), and messaging.

mod common;

use common::{link, provider, scale, serve_http, start_host};
use std::time::Duration;
use weft_lattice_protocol::wire::StringMap;
use weft_tests::nats::NatsServer;
use weft_tests::{http, net};

const LATTICE: &str = "restart";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_resume_after_nats_server_restarts() -> anyhow::Result<()> {
    let mut nats = NatsServer::start().await?;
    let a = start_host(&nats.url(), LATTICE, &[]).await?;
    let b = start_host(&nats.url(), LATTICE, &[]).await?;
    let (a_id, b_id) = (a.host.id().to_owned(), b.host.id().to_owned());
    let client = common::client(&nats.url(), LATTICE).await?;
    // HTTP on A calls greeter on B; pingpong on B answers messages.
    client
        .scale_component(&a_id, &scale(&a_id, "app", "caller", &[])?)
        .await?;
    client
        .scale_component(&b_id, &scale(&b_id, "greeter", "greeter", &[])?)
        .await?;
    client
        .put_link(&link("app", "greeter", "weft:platform", &["greeter"], &[]))
        .await?;
    let addr = serve_http(&client, &a_id, "http", "app").await?;
    client
        .scale_component(&b_id, &scale(&b_id, "pingpong", "pingpong", &[])?)
        .await?;
    client
        .put_config(
            "subs",
            &StringMap::from([("subscriptions".into(), "restart.ping".into())]),
        )
        .await?;
    for (id, reference) in [
        ("kv", "builtin:keyvalue-memory"),
        ("nats", "builtin:messaging-nats"),
    ] {
        client
            .start_provider(&b_id, &provider(id, reference, &[]))
            .await?;
    }
    client
        .put_link(&link(
            "pingpong",
            "kv",
            "wasi:keyvalue",
            &["store", "atomics"],
            &[],
        ))
        .await?;
    common::messaging_both_ways(&client, "pingpong", "nats", "subs").await?;

    let greet = || async move {
        http::get(addr, "/greet/Ada")
            .await
            .ok()
            .filter(|r| r.status == 200)
            .map(|r| r.body)
    };
    let url = nats.url();
    let ping = || {
        let url = url.clone();
        async move {
            let nc = async_nats::connect(url).await.ok()?;
            let reply = tokio::time::timeout(
                Duration::from_secs(2),
                nc.request("restart.ping", "ping".into()),
            )
            .await
            .ok()?
            .ok()?;
            Some(String::from_utf8_lossy(&reply.payload).into_owned())
        }
    };
    let within = Duration::from_secs(30);
    net::wait_for("the remote call", within, greet).await?;
    assert_eq!(net::wait_for("pong 1", within, ping).await?, "pong 1");

    nats.restart().await?;

    let greeting = net::wait_for("the remote call after the restart", within, greet).await?;
    assert!(greeting.starts_with("Hello, Ada!"), "{greeting}");
    let pong = net::wait_for("a pong after the restart", within, ping).await?;
    assert_eq!(pong, "pong 2", "the counter (in memory on B) carries on");
    let client = common::client(&nats.url(), LATTICE).await?;
    assert_eq!(client.links().await?.len(), 5, "every link is intact");
    assert_eq!(
        client.config("subs").await?["subscriptions"],
        "restart.ping"
    );
    Ok(())
}
