//! Links bind a running component's imports to provider instances at run
//! time: the next call goes where the lattice's links now say, with no
//! restart — on a real nats-server and a real redis-server, with requests
//! coming in through the `builtin:http-server` provider.

mod common;

use common::{TestHost, provider};
use std::net::SocketAddr;
use std::time::Duration;
use weft_keyvalue_nats::NatsKeyValue;
use weft_keyvalue_redis::RedisKeyValue;
use weft_lattice_client::{ErrorKind, LatticeClient};
use weft_lattice_protocol::wire::{DeleteLink, Link, ScaleComponent, StringMap};
use weft_tests::nats::NatsServer;
use weft_tests::redis::RedisServer;
use weft_tests::{guests, net};

const LATTICE: &str = "links";

async fn start_host(url: &str) -> anyhow::Result<TestHost> {
    common::start_host(url, LATTICE, &[]).await
}

/// Calls the component's `/count` route over HTTP: (status, body).
async fn count(addr: SocketAddr) -> anyhow::Result<(u16, String)> {
    let reply = weft_tests::http::get(addr, "/count").await?;
    Ok((reply.status, reply.body))
}

/// Waits until `/count` succeeds, and returns its first successful value.
async fn first_count(addr: SocketAddr) -> anyhow::Result<String> {
    net::wait_for(
        "the link to take effect",
        Duration::from_secs(20),
        || async {
            match count(addr).await {
                Ok((200, body)) => Some(body),
                _ => None,
            }
        },
    )
    .await
}

/// Starts `builtin:http-server` as `http` on `host_id` and links it to `app`
/// on a free loopback port; returns the address once it answers.
async fn serve_app(client: &LatticeClient, host_id: &str) -> anyhow::Result<SocketAddr> {
    let addr = SocketAddr::from(([127, 0, 0, 1], net::free_port()?));
    client
        .put_config(
            "app-http",
            &StringMap::from([("address".into(), addr.to_string())]),
        )
        .await?;
    client
        .start_provider(host_id, &provider("http", "builtin:http-server", &[]))
        .await?;
    client
        .put_link(&common::link(
            "http",
            "app",
            "wasi:http",
            &["incoming-handler"],
            &["app-http"],
        ))
        .await?;
    net::wait_for_port(addr, Duration::from_secs(20)).await?;
    Ok(addr)
}

/// Moves app's keyvalue link to `target` while a client loop keeps calling
/// `/count`; returns the status of every call, once one was answered by the
/// new backend (a fresh counter: "1"). Fails if any call failed.
async fn move_under_load(
    client: &LatticeClient,
    addr: SocketAddr,
    target: &str,
) -> anyhow::Result<Vec<u16>> {
    let load = tokio::spawn(async move {
        let mut seen = Vec::new();
        for _ in 0..2_000 {
            let reply = count(addr).await;
            let moved = matches!(&reply, Ok((200, body)) if body == "1");
            seen.push(reply.map(|(status, _)| status).unwrap_or(0));
            if moved {
                break;
            }
        }
        seen
    });
    client.put_link(&link(target)).await?;
    let statuses = load.await?;
    anyhow::ensure!(
        statuses.iter().all(|s| *s == 200),
        "a call failed during the move to {target}: {statuses:?}"
    );
    anyhow::ensure!(
        statuses.len() < 2_000,
        "the move to {target} never took effect"
    );
    Ok(statuses)
}

fn link(target: &str) -> Link {
    common::link("app", target, "wasi:keyvalue", &["store", "atomics"], &[])
}

fn unlink() -> DeleteLink {
    DeleteLink {
        source_id: "app".into(),
        name: "default".into(),
        wit_namespace: "wasi".into(),
        wit_package: "keyvalue".into(),
    }
}

#[tokio::test]
async fn relinking_keyvalue_moves_the_next_call_to_the_new_provider() -> anyhow::Result<()> {
    let nats = NatsServer::start().await?;
    let redis = RedisServer::start().await?;
    let host = start_host(&nats.url()).await?;
    let client = common::client(&nats.url(), LATTICE).await?;
    let id = host.host.id().to_owned();

    let wasm = format!("file://{}", guests::path("test_guest")?.display());
    let scale = ScaleComponent {
        component_ref: wasm,
        component_id: "app".into(),
        host_id: id.clone(),
        max_instances: 4,
        annotations: StringMap::new(),
        config: vec![],
        allow_update: false,
        component_limits: None,
    };
    client.scale_component(&id, &scale).await?;
    client
        .put_config("redis", &StringMap::from([("url".into(), redis.url())]))
        .await?;
    client
        .start_provider(&id, &provider("memory", "builtin:keyvalue-memory", &[]))
        .await?;
    client
        .start_provider(
            &id,
            &provider("cache", "builtin:keyvalue-redis", &["redis"]),
        )
        .await?;

    let addr = serve_app(&client, &id).await?;
    // Deny by default: no link, no keyvalue.
    let (status, body) = count(addr).await?;
    assert_eq!(status, 500, "{body}");

    client.put_link(&link("memory")).await?;
    assert_eq!(first_count(addr).await?, "1");
    assert_eq!(count(addr).await?, (200, "2".into()));

    // Move the link to Redis while calls keep coming: every call succeeds,
    // and once the move lands the values come from Redis.
    let statuses = move_under_load(&client, addr, "cache").await?;
    let direct = RedisKeyValue::connect(&redis.url()).await?;
    use weft_capability::keyvalue::KeyValue;
    assert_eq!(
        direct.get("app/default", "count").await?,
        Some(b"1".to_vec())
    );
    let links: Vec<Link> = client
        .links()
        .await?
        .into_iter()
        .filter(|l| l.source_id == "app")
        .collect();
    assert_eq!(
        links.len(),
        1,
        "the moved link replaced the old one: {links:?}"
    );
    assert_eq!(links[0].target, "cache");

    // On to NATS KV, by moving the link again.
    common::provider_at(
        &client,
        &id,
        "jetstream",
        "builtin:keyvalue-nats",
        "nats",
        &nats.url(),
    )
    .await?;
    let to_nats = move_under_load(&client, addr, "jetstream").await?;
    let jetstream =
        NatsKeyValue::open(async_nats::connect(nats.url()).await?, "weft_keyvalue").await?;
    assert_eq!(
        jetstream.get("app/default", "count").await?,
        Some(b"1".to_vec())
    );
    // Every call of that loop but the last went to Redis.
    let in_redis = 1 + (to_nats.len() - 1);
    assert_eq!(
        direct.get("app/default", "count").await?,
        Some(in_redis.to_string().into_bytes())
    );

    // And back, by delete and put: the memory provider kept its count — 2,
    // plus every call of the load loop but the last (which went to Redis).
    client.delete_link(&unlink()).await?;
    client.put_link(&link("memory")).await?;
    let expected = 2 + (statuses.len() - 1) + 1;
    assert_eq!(first_count(addr).await?, expected.to_string());

    client.delete_link(&unlink()).await?;
    net::wait_for(
        "the unlink to take effect",
        Duration::from_secs(20),
        || async { matches!(count(addr).await, Ok((500, _))).then_some(()) },
    )
    .await?;
    Ok(())
}

#[tokio::test]
async fn bad_provider_starts_say_what_is_wrong() -> anyhow::Result<()> {
    let nats = NatsServer::start().await?;
    let host = start_host(&nats.url()).await?;
    let client = common::client(&nats.url(), LATTICE).await?;
    let id = host.host.id().to_owned();
    let rejected = |e: weft_lattice_client::Error, needle: &str| {
        assert_eq!(e.kind(), ErrorKind::Rejected, "{e}");
        assert!(e.message().contains(needle), "{e}");
    };

    let e = client
        .start_provider(&id, &provider("p", "builtin:teleporter", &[]))
        .await
        .unwrap_err();
    rejected(e, "builtin:keyvalue-memory");
    let e = client
        .start_provider(&id, &provider("p", "builtin:keyvalue-redis", &["absent"]))
        .await
        .unwrap_err();
    rejected(e, "`absent`");
    client
        .put_config(
            "typo",
            &StringMap::from([("uri".into(), "redis://x".into())]),
        )
        .await?;
    let e = client
        .start_provider(&id, &provider("p", "builtin:keyvalue-redis", &["typo"]))
        .await
        .unwrap_err();
    rejected(e, "`uri`");
    client
        .start_provider(&id, &provider("p", "builtin:keyvalue-memory", &[]))
        .await?;
    let e = client
        .start_provider(&id, &provider("p", "builtin:keyvalue-memory", &[]))
        .await
        .unwrap_err();
    rejected(e, "already running");
    let inventory = client.inventory(&id).await?;
    assert_eq!(inventory.providers.len(), 1);
    client.stop_provider(&id, "p").await?;
    assert!(client.inventory(&id).await?.providers.is_empty());
    Ok(())
}

#[tokio::test]
async fn a_host_that_joins_later_applies_the_links_already_set() -> anyhow::Result<()> {
    let nats = NatsServer::start().await?;
    let _first = start_host(&nats.url()).await?;
    let client = common::client(&nats.url(), LATTICE).await?;
    client.put_link(&link("memory")).await?;

    let late = start_host(&nats.url()).await?;
    let id = late.host.id().to_owned();
    let scale = ScaleComponent {
        component_ref: format!("file://{}", guests::path("test_guest")?.display()),
        component_id: "app".into(),
        host_id: id.clone(),
        max_instances: 1,
        annotations: StringMap::new(),
        config: vec![],
        allow_update: false,
        component_limits: None,
    };
    client.scale_component(&id, &scale).await?;
    client
        .start_provider(&id, &provider("memory", "builtin:keyvalue-memory", &[]))
        .await?;
    let addr = serve_app(&client, &id).await?;
    assert_eq!(first_count(addr).await?, "1");
    Ok(())
}

/// While a link's config cannot be read (here its bucket's stream is gone,
/// as no server serves it while JetStream has no leader), a change to
/// another link does not rebind the component without that config: its
/// HTTP listener stays where it is. Once the config can be read again, the
/// new link takes effect too.
#[tokio::test]
async fn links_stay_as_they_are_while_their_config_cannot_be_read() -> anyhow::Result<()> {
    let log = weft_tests::log::capture();
    let nats = NatsServer::start().await?;
    let host = start_host(&nats.url()).await?;
    let client = common::client(&nats.url(), LATTICE).await?;
    let id = host.host.id().to_owned();
    client
        .scale_component(&id, &common::scale(&id, "app", "test_guest", &[])?)
        .await?;
    let addr = serve_app(&client, &id).await?;
    let ok = || async move { weft_tests::http::get(addr, "/ok").await.map(|r| r.status) };
    assert_eq!(ok().await?, 200);

    let js = async_nats::jetstream::new(async_nats::connect(nats.url()).await?);
    js.delete_stream(format!("KV_weft_{LATTICE}_config"))
        .await?;
    common::keyvalue_in_memory(&client, &id, "app").await?;
    // The host sees the new link, cannot read `app-http` and says it keeps
    // the links it has; the listener is still where it was.
    net::wait_for(
        "the host to keep its links",
        Duration::from_secs(20),
        || async {
            log.contains("keeping the links applied before")
                .then_some(())
        },
    )
    .await?;
    let status = ok()
        .await
        .map_err(|e| anyhow::anyhow!("the listener went away without its config: {e}"))?;
    assert_eq!(status, 200, "the listener changed without its config");
    let (status, _) = count(addr).await?;
    assert_ne!(status, 200, "the new link was applied without the config");

    // The config comes back: the new link takes effect, the listener stays.
    weft_lattice_nats::LatticeState::open_in(
        async_nats::connect(nats.url()).await?,
        LATTICE,
        &weft_jetstream::bucket::Placement::default(),
    )
    .await?;
    client
        .put_config(
            "app-http",
            &StringMap::from([("address".into(), addr.to_string())]),
        )
        .await?;
    assert_eq!(first_count(addr).await?, "1");
    Ok(())
}
