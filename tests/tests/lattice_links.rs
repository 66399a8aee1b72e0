//! Links bind a running component's imports to provider instances at run
//! time: the next call goes where the lattice's links now say, with no
//! restart — on a real nats-server and a real redis-server.

use http_body_util::{BodyExt, Empty};
use std::sync::Arc;
use std::time::Duration;
use weft_capability::http::IncomingHandler;
use weft_capability::provider::InMemoryKeyValueKind;
use weft_host::{Host, HostBuilder};
use weft_keyvalue_nats::{NatsKeyValue, NatsKeyValueKind};
use weft_keyvalue_redis::{RedisKeyValue, RedisKeyValueKind};
use weft_lattice_client::{ErrorKind, LatticeClient};
use weft_lattice_nats::{CtlServer, Endpoints, Events, LatticeState, NatsAuth, connect, ctl};
use weft_lattice_protocol::Subjects;
use weft_lattice_protocol::wire::{DeleteLink, Link, ScaleComponent, StartProvider, StringMap};
use weft_tests::nats::NatsServer;
use weft_tests::redis::RedisServer;
use weft_tests::{guests, net};

const LATTICE: &str = "links";

async fn start_host(url: &str) -> anyhow::Result<(Arc<Host>, CtlServer)> {
    let host = Arc::new(
        HostBuilder::new()
            .with_cache_dir(guests::cache_dir())
            .with_file_refs(true)
            .with_provider_kind("builtin:keyvalue-memory", Arc::new(InMemoryKeyValueKind))
            .with_provider_kind("builtin:keyvalue-redis", Arc::new(RedisKeyValueKind))
            .with_provider_kind("builtin:keyvalue-nats", Arc::new(NatsKeyValueKind))
            .build()?,
    );
    let subjects = Subjects::new("wasmbus.ctl", LATTICE)?;
    let client = connect(url, &NatsAuth::None, "test-host", Duration::from_secs(5)).await?;
    let events = Events::new(client.clone(), subjects.clone(), host.id());
    let endpoints = Endpoints {
        lattice: LATTICE.into(),
        ctl_host: url.into(),
        rpc_host: url.into(),
    };
    let state = LatticeState::open(client.clone(), LATTICE).await?;
    let server = ctl::serve(client, subjects, host.clone(), endpoints, events, state).await?;
    Ok((host, server))
}

/// Calls the component's `/count` route in-process: (status, body).
async fn count(host: &Host) -> anyhow::Result<(u16, String)> {
    let component = host
        .component("app")
        .ok_or_else(|| anyhow::anyhow!("app is not running"))?;
    let request = http::Request::get("http://localhost/count")
        .body(Empty::new().map_err(|never| match never {}).boxed_unsync())?;
    let response = component.handle(request).await?;
    let status = response.status().as_u16();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| anyhow::anyhow!("reading the body: {e}"))?
        .to_bytes();
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

/// Waits until `/count` succeeds, and returns its first successful value.
async fn first_count(host: &Host) -> anyhow::Result<String> {
    net::wait_for(
        "the link to take effect",
        Duration::from_secs(20),
        || async {
            match count(host).await {
                Ok((200, body)) => Some(body),
                _ => None,
            }
        },
    )
    .await
}

fn link(target: &str) -> Link {
    Link {
        source_id: "app".into(),
        target: target.into(),
        name: "default".into(),
        wit_namespace: "wasi".into(),
        wit_package: "keyvalue".into(),
        interfaces: vec!["store".into(), "atomics".into()],
        source_config: vec![],
        target_config: vec![],
    }
}

fn unlink() -> DeleteLink {
    DeleteLink {
        source_id: "app".into(),
        name: "default".into(),
        wit_namespace: "wasi".into(),
        wit_package: "keyvalue".into(),
    }
}

fn provider(id: &str, reference: &str, config: &[&str]) -> StartProvider {
    StartProvider {
        provider_id: id.into(),
        provider_ref: reference.into(),
        host_id: String::new(),
        config: config.iter().map(|c| c.to_string()).collect(),
        annotations: None,
    }
}

#[tokio::test]
async fn relinking_keyvalue_moves_the_next_call_to_the_new_provider() -> anyhow::Result<()> {
    let nats = NatsServer::start().await?;
    let redis = RedisServer::start().await?;
    let (host, _server) = start_host(&nats.url()).await?;
    let client = LatticeClient::new(
        async_nats::connect(nats.url()).await?,
        Subjects::new("wasmbus.ctl", LATTICE)?,
    );
    let id = host.id().to_owned();

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

    // Deny by default: no link, no keyvalue.
    let (status, body) = count(&host).await?;
    assert_eq!(status, 500, "{body}");

    client.put_link(&link("memory")).await?;
    assert_eq!(first_count(&host).await?, "1");
    assert_eq!(count(&host).await?, (200, "2".into()));

    // Move the link to Redis while calls keep coming: every call succeeds,
    // and once the move lands the values come from Redis.
    let load = {
        let host = host.clone();
        tokio::spawn(async move {
            let mut seen = Vec::new();
            for _ in 0..2_000 {
                let reply = count(&host).await;
                let moved = matches!(&reply, Ok((200, body)) if body == "1");
                seen.push(reply.map(|(status, _)| status).unwrap_or(0));
                if moved {
                    break;
                }
            }
            seen
        })
    };
    client.put_link(&link("cache")).await?;
    let statuses = load.await?;
    assert!(
        statuses.iter().all(|s| *s == 200),
        "a call failed during the move: {statuses:?}"
    );
    assert!(statuses.len() < 2_000, "the move never took effect");
    let direct = RedisKeyValue::connect(&redis.url()).await?;
    use weft_capability::keyvalue::KeyValue;
    assert_eq!(direct.get("default", "count").await?, Some(b"1".to_vec()));
    let links = client.links().await?;
    assert_eq!(
        links.len(),
        1,
        "the moved link replaced the old one: {links:?}"
    );
    assert_eq!(links[0].target, "cache");

    // On to NATS KV, by moving the link again.
    client
        .put_config("nats", &StringMap::from([("url".into(), nats.url())]))
        .await?;
    client
        .start_provider(
            &id,
            &provider("jetstream", "builtin:keyvalue-nats", &["nats"]),
        )
        .await?;
    client.put_link(&link("jetstream")).await?;
    net::wait_for("the move to NATS KV", Duration::from_secs(20), || async {
        matches!(count(&host).await, Ok((200, body)) if body == "1").then_some(())
    })
    .await?;
    let jetstream =
        NatsKeyValue::open(async_nats::connect(nats.url()).await?, "weft_keyvalue").await?;
    assert_eq!(
        jetstream.get("default", "count").await?,
        Some(b"1".to_vec())
    );

    // And back, by delete and put: the memory provider kept its count — 2,
    // plus every call of the load loop but the last (which went to Redis).
    client.delete_link(&unlink()).await?;
    client.put_link(&link("memory")).await?;
    let expected = 2 + (statuses.len() - 1) + 1;
    assert_eq!(first_count(&host).await?, expected.to_string());

    client.delete_link(&unlink()).await?;
    net::wait_for(
        "the unlink to take effect",
        Duration::from_secs(20),
        || async { matches!(count(&host).await, Ok((500, _))).then_some(()) },
    )
    .await?;
    Ok(())
}

#[tokio::test]
async fn bad_provider_starts_say_what_is_wrong() -> anyhow::Result<()> {
    let nats = NatsServer::start().await?;
    let (host, _server) = start_host(&nats.url()).await?;
    let client = LatticeClient::new(
        async_nats::connect(nats.url()).await?,
        Subjects::new("wasmbus.ctl", LATTICE)?,
    );
    let id = host.id().to_owned();
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
    let (_first, _first_server) = start_host(&nats.url()).await?;
    let client = LatticeClient::new(
        async_nats::connect(nats.url()).await?,
        Subjects::new("wasmbus.ctl", LATTICE)?,
    );
    client.put_link(&link("memory")).await?;

    let (late, _late_server) = start_host(&nats.url()).await?;
    let id = late.id().to_owned();
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
    assert_eq!(first_count(&late).await?, "1");
    Ok(())
}
