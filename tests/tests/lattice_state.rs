//! Links and named configs live in JetStream KV on a real nats-server, are
//! validated with errors that name the field, and survive a server restart.

use futures::StreamExt;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::timeout;
use weft_host::HostBuilder;
use weft_lattice_nats::{CtlServer, Endpoints, Events, LatticeState, NatsAuth, connect, ctl};
use weft_lattice_protocol::{Operation, Subjects};
use weft_tests::nats::NatsServer;
use weft_tests::net;

const LATTICE: &str = "state";

#[expect(
    clippy::unwrap_used,
    reason = "constant prefix and lattice name, both valid"
)]
fn subjects() -> Subjects {
    Subjects::new("wasmbus.ctl", LATTICE).unwrap()
}

async fn start_host(url: &str) -> anyhow::Result<CtlServer> {
    let host = Arc::new(HostBuilder::new().build()?);
    let client = connect(url, &NatsAuth::None, "test-host", Duration::from_secs(5)).await?;
    let events = Events::new(client.clone(), subjects(), host.id());
    let endpoints = Endpoints {
        lattice: LATTICE.into(),
        ctl_host: url.into(),
        rpc_host: url.into(),
    };
    let state = LatticeState::open(client.clone(), LATTICE).await?;
    Ok(ctl::serve(client, subjects(), host, endpoints, events, state).await?)
}

async fn request(
    client: &async_nats::Client,
    op: &Operation,
    body: Value,
) -> anyhow::Result<Value> {
    let payload = if body.is_null() {
        Vec::new()
    } else {
        serde_json::to_vec(&body)?
    };
    let reply = client
        .request(subjects().subject(op), payload.into())
        .await?;
    Ok(serde_json::from_slice(&reply.payload)?)
}

fn link(target: &str, interfaces: &[&str], source_config: &[&str]) -> Value {
    json!({
        "source_id": "app", "target": target, "name": "default",
        "wit_namespace": "wasi", "wit_package": "keyvalue",
        "interfaces": interfaces, "source_config": source_config, "target_config": []
    })
}

fn del() -> Value {
    json!({"source_id": "app", "name": "default", "wit_namespace": "wasi", "wit_package": "keyvalue"})
}

#[tokio::test]
async fn configs_are_stored_read_and_deleted() -> anyhow::Result<()> {
    let nats = NatsServer::start().await?;
    let _host = start_host(&nats.url()).await?;
    let client = async_nats::connect(nats.url()).await?;
    let mut set_events = client.subscribe(subjects().event("config_set")).await?;
    let name = || "redis-prod".to_owned();

    let put = Operation::ConfigPut { name: name() };
    let reply = request(&client, &put, json!({"url": "redis://127.0.0.1:6379"})).await?;
    assert_eq!(reply["success"], true, "{reply}");
    let event = timeout(Duration::from_secs(5), set_events.next())
        .await?
        .ok_or_else(|| anyhow::anyhow!("no config_set event"))?;
    let event: Value = serde_json::from_slice(&event.payload)?;
    assert_eq!(event["data"]["config_name"], "redis-prod");

    let get = Operation::ConfigGet { name: name() };
    let reply = request(&client, &get, Value::Null).await?;
    assert_eq!(reply["response"], json!({"url": "redis://127.0.0.1:6379"}));

    let reply = request(&client, &put, json!({"url": 5})).await?;
    assert_eq!(reply["success"], false, "non-string values are refused");

    let delete = Operation::ConfigDel { name: name() };
    assert_eq!(
        request(&client, &delete, Value::Null).await?["success"],
        true
    );
    assert_eq!(
        request(&client, &delete, Value::Null).await?["success"],
        true
    );
    let reply = request(&client, &get, Value::Null).await?;
    assert_eq!(reply["success"], false);
    assert!(
        reply["message"]
            .as_str()
            .unwrap_or_default()
            .contains("no config")
    );
    Ok(())
}

#[tokio::test]
async fn links_follow_the_rules_and_are_answered_once() -> anyhow::Result<()> {
    let nats = NatsServer::start().await?;
    // Two hosts: lattice-wide operations must still get exactly one answer.
    let _a = start_host(&nats.url()).await?;
    let _b = start_host(&nats.url()).await?;
    let client = async_nats::connect(nats.url()).await?;
    let put = Operation::LinkPut;

    let reply = request(&client, &put, link("cache", &["store"], &["missing"])).await?;
    assert_eq!(reply["success"], false);
    assert!(
        reply["message"]
            .as_str()
            .unwrap_or_default()
            .contains("`missing`"),
        "{reply}"
    );

    let reply = request(&client, &put, link("ca.che", &["store"], &[])).await?;
    assert_eq!(reply["success"], false);
    assert!(
        reply["message"]
            .as_str()
            .unwrap_or_default()
            .contains("target"),
        "{reply}"
    );

    let cfg = Operation::ConfigPut {
        name: "app-kv".into(),
    };
    assert_eq!(
        request(&client, &cfg, json!({"bucket": "b"})).await?["success"],
        true
    );
    let reply = request(&client, &put, link("cache", &["store"], &["app-kv"])).await?;
    assert_eq!(reply["success"], true, "{reply}");
    // Same target: updated in place.
    let reply = request(&client, &put, link("cache", &["store", "atomics"], &[])).await?;
    assert_eq!(reply["success"], true, "{reply}");
    // Another target for an interface already linked: refused.
    let reply = request(&client, &put, link("redis", &["atomics"], &[])).await?;
    assert_eq!(reply["success"], false);
    assert!(
        reply["message"]
            .as_str()
            .unwrap_or_default()
            .contains("atomics"),
        "{reply}"
    );
    // Another target for a disjoint interface: allowed.
    let reply = request(&client, &put, link("redis", &["batch"], &[])).await?;
    assert_eq!(reply["success"], true, "{reply}");

    let inbox = client.new_inbox();
    let mut replies = client.subscribe(inbox.clone()).await?;
    client
        .publish_with_reply(subjects().subject(&Operation::LinkGet), inbox, "".into())
        .await?;
    let first = timeout(Duration::from_secs(5), replies.next())
        .await?
        .ok_or_else(|| anyhow::anyhow!("no link.get reply"))?;
    let links: Value = serde_json::from_slice(&first.payload)?;
    let links = links["response"].as_array().cloned().unwrap_or_default();
    assert_eq!(links.len(), 2, "{links:?}");
    let second = timeout(Duration::from_millis(500), replies.next()).await;
    assert!(second.is_err(), "link.get was answered twice");

    assert_eq!(
        request(&client, &Operation::LinkDel, del()).await?["success"],
        true
    );
    assert_eq!(
        request(&client, &Operation::LinkDel, del()).await?["success"],
        true
    );
    let reply = request(&client, &Operation::LinkGet, Value::Null).await?;
    assert_eq!(reply["response"], json!([]));
    Ok(())
}

#[tokio::test]
async fn links_and_configs_survive_a_nats_server_restart() -> anyhow::Result<()> {
    let mut nats = NatsServer::start().await?;
    let _host = start_host(&nats.url()).await?;
    let client = async_nats::connect(nats.url()).await?;
    let cfg = Operation::ConfigPut { name: "c".into() };
    assert_eq!(
        request(&client, &cfg, json!({"k": "v"})).await?["success"],
        true
    );
    let reply = request(
        &client,
        &Operation::LinkPut,
        link("cache", &["store"], &["c"]),
    )
    .await?;
    assert_eq!(reply["success"], true, "{reply}");

    nats.restart().await?;
    let url = nats.url();
    let links = net::wait_for(
        "link.get after the restart",
        Duration::from_secs(20),
        || {
            let url = url.clone();
            async move {
                let client = async_nats::connect(url).await.ok()?;
                let reply = request(&client, &Operation::LinkGet, Value::Null)
                    .await
                    .ok()?;
                (reply["success"] == true).then_some(reply["response"].clone())
            }
        },
    )
    .await?;
    assert_eq!(links.as_array().map(Vec::len), Some(1));
    let client = async_nats::connect(nats.url()).await?;
    let get = Operation::ConfigGet { name: "c".into() };
    assert_eq!(
        request(&client, &get, Value::Null).await?["response"],
        json!({"k": "v"})
    );
    Ok(())
}
