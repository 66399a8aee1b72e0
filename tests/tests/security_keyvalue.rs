//! Keyvalue isolation: a link grants buckets. Two apps on one Redis
//! provider never read each other's keys (each component has a namespace
//! of its own unless its link names shared `buckets`), a component opens
//! only the buckets its link grants, no bucket reaches keys Weft did not
//! write, and the in-memory provider holds each component to a quota.

mod common;

use common::{link, provider, scale, serve_http_named, start_host};
use std::net::SocketAddr;
use std::time::Duration;
use weft_lattice_client::LatticeClient;
use weft_lattice_protocol::wire::{Link, StringMap};
use weft_tests::http;
use weft_tests::nats::NatsServer;
use weft_tests::net::wait_for;
use weft_tests::redis::RedisServer;

/// `GET path` on `addr`: (status, body).
async fn get(addr: SocketAddr, path: &str) -> anyhow::Result<(u16, String)> {
    let reply = http::get(addr, path).await?;
    Ok((reply.status, reply.body))
}

/// Starts the test guest as `id`, served over HTTP, its keyvalue linked to
/// `target` with `target_config` (a named config, or none).
async fn app(
    client: &LatticeClient,
    host: &str,
    id: &str,
    target: &str,
    target_config: Option<&str>,
) -> anyhow::Result<SocketAddr> {
    client
        .scale_component(host, &scale(host, id, "test_guest", &[])?)
        .await?;
    put_keyvalue_link(client, id, target, target_config).await?;
    let addr = serve_http_named(client, host, "http", id, id).await?;
    // The link is bound once a count answers.
    wait_for("the keyvalue link", Duration::from_secs(20), || async {
        let (status, _) = get(addr, "/ok").await.ok()?;
        (status == 200).then_some(())
    })
    .await?;
    Ok(addr)
}

async fn put_keyvalue_link(
    client: &LatticeClient,
    id: &str,
    target: &str,
    target_config: Option<&str>,
) -> anyhow::Result<()> {
    let link = Link {
        target_config: target_config.iter().map(|c| c.to_string()).collect(),
        ..link(id, target, "wasi:keyvalue", &["store", "atomics"], &[])
    };
    client.put_link(&link).await?;
    Ok(())
}

/// Counts on `path` until the answer is a number (the link may still be
/// binding), and returns it.
async fn count(addr: SocketAddr, path: &str) -> anyhow::Result<String> {
    wait_for(
        &format!("a count on {path}"),
        Duration::from_secs(20),
        || async {
            let (status, body) = get(addr, path).await.ok()?;
            (status == 200).then_some(body)
        },
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_apps_on_one_redis_provider_keep_their_keys_apart() -> anyhow::Result<()> {
    let nats = NatsServer::start().await?;
    let redis = RedisServer::start().await?;
    // Keys something else wrote: the old unprefixed layout and wasmCloud's.
    for key in ["count", "default:count"] {
        redis.set(key, "999").await?;
    }
    let host = start_host(&nats.url(), "kv", &[]).await?;
    let client = common::client(&nats.url(), "kv").await?;
    let id = host.host.id().to_owned();
    common::provider_at(
        &client,
        &id,
        "cache",
        "builtin:keyvalue-redis",
        "redis",
        &redis.url(),
    )
    .await?;
    let a = app(&client, &id, "app-a", "cache", None).await?;
    let b = app(&client, &id, "app-b", "cache", None).await?;
    assert_eq!(count(a, "/count").await?, "1");
    assert_eq!(count(a, "/count").await?, "2");
    // The same bucket and key in another app is another key, and neither
    // reached the keys planted before.
    assert_eq!(count(b, "/count").await?, "1");
    assert_eq!(
        redis.get("app-a/default:count").await?.as_deref(),
        Some("2")
    );
    assert_eq!(redis.get("count").await?.as_deref(), Some("999"));
    assert_eq!(redis.get("default:count").await?.as_deref(), Some("999"));
    // A bucket name cannot climb out of the namespace.
    assert_eq!(count(b, "/count/../app-a/default").await?, "1");

    // Links that grant a bucket share it, and only it.
    client
        .put_config(
            "shared",
            &StringMap::from([("buckets".into(), "orders".into())]),
        )
        .await?;
    for app in ["app-a", "app-b"] {
        put_keyvalue_link(&client, app, "cache", Some("shared")).await?;
    }
    // Until the grant binds, an app's `orders` is still its own namespace's:
    // the grant has bound once a bucket it does not name is refused.
    for addr in [a, b] {
        wait_for("the grant to bind", Duration::from_secs(20), || async {
            let (status, body) = get(addr, "/count/other").await.ok()?;
            (status == 500 && body.contains("not one this component's keyvalue link grants"))
                .then_some(())
        })
        .await?;
    }
    assert_eq!(count(a, "/count/orders").await?, "1");
    let shared = count(b, "/count/orders").await?;
    assert_eq!(shared, "2", "the two apps share the granted bucket");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_memory_provider_holds_each_component_to_its_quota() -> anyhow::Result<()> {
    let nats = NatsServer::start().await?;
    let host = start_host(&nats.url(), "quota", &[]).await?;
    let client = common::client(&nats.url(), "quota").await?;
    let id = host.host.id().to_owned();
    client
        .put_config("small", &StringMap::from([("max_keys".into(), "3".into())]))
        .await?;
    client
        .start_provider(
            &id,
            &provider("memory", "builtin:keyvalue-memory", &["small"]),
        )
        .await?;
    let a = app(&client, &id, "hog", "memory", None).await?;
    let b = app(&client, &id, "neighbour", "memory", None).await?;
    for bucket in ["b1", "b2", "b3"] {
        assert_eq!(count(a, &format!("/count/{bucket}")).await?, "1");
    }
    let (status, body) = get(a, "/count/b4").await?;
    assert_eq!(status, 500, "{body}");
    assert!(body.contains("quota exceeded"), "{body}");
    // Its neighbour on the same provider is not affected.
    assert_eq!(count(b, "/count/b1").await?, "1");
    Ok(())
}
