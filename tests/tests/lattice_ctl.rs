//! Hosts on a real nats-server answer the wasmbus.ctl.v1 control protocol as
//! another client would drive it: raw NATS requests with JSON bodies. Links
//! and named configs live in JetStream KV, are validated with errors that
//! name the field, and survive a server restart.

mod common;

use common::TestHost;
use futures::StreamExt;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::time::Duration;
use tokio::time::timeout;
use weft_host::HostApi;
use weft_lattice_protocol::wire::{CtlResponse, HostInventory};
use weft_lattice_protocol::{EventName, Operation, Subjects, event};
use weft_runtime::ComponentSpec;
use weft_tests::nats::NatsServer;
use weft_tests::{guests, net};

const LATTICE: &str = "test";

#[expect(
    clippy::unwrap_used,
    reason = "constant prefix and lattice name, both valid"
)]
fn subjects() -> Subjects {
    Subjects::new("wasmbus.ctl", LATTICE).unwrap()
}

async fn start_host(url: &str, labels: &[(&str, &str)]) -> anyhow::Result<TestHost> {
    common::start_host(url, LATTICE, labels).await
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

fn response<T: DeserializeOwned>(reply: Value) -> anyhow::Result<T> {
    let envelope: CtlResponse<T> = serde_json::from_value(reply)?;
    anyhow::ensure!(envelope.success, "failed: {}", envelope.message);
    envelope
        .response
        .ok_or_else(|| anyhow::anyhow!("no response payload"))
}

/// Sends a scatter request and collects replies until `want` have come or
/// the window closes.
async fn gather(
    client: &async_nats::Client,
    op: &Operation,
    want: usize,
) -> anyhow::Result<Vec<Value>> {
    let inbox = client.new_inbox();
    let mut replies = client.subscribe(inbox.clone()).await?;
    client
        .publish_with_reply(subjects().subject(op), inbox, Vec::new().into())
        .await?;
    let mut out = Vec::new();
    let window = tokio::time::Instant::now() + Duration::from_secs(5);
    while out.len() < want {
        match tokio::time::timeout_at(window, replies.next()).await {
            Ok(Some(msg)) => out.push(serde_json::from_slice(&msg.payload)?),
            _ => break,
        }
    }
    Ok(out)
}

#[tokio::test]
async fn ping_reaches_every_host_and_get_returns_the_inventory() -> anyhow::Result<()> {
    let nats = NatsServer::start().await?;
    let a = start_host(&nats.url(), &[("zone", "eu")]).await?;
    let b = start_host(&nats.url(), &[("zone", "us")]).await?;
    a.host
        .start_component(&guests::bytes("test_guest")?, ComponentSpec::new("app"))
        .await?;
    let client = async_nats::connect(nats.url()).await?;

    let pongs = gather(&client, &Operation::HostPing, 2).await?;
    let ids: BTreeSet<String> = pongs
        .into_iter()
        .map(|p| p["response"]["id"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(
        ids,
        BTreeSet::from([a.host.id().to_owned(), b.host.id().to_owned()])
    );

    let get = Operation::HostGet {
        host: a.host.id().into(),
    };
    let inventory: HostInventory = response(request(&client, &get, Value::Null).await?)?;
    assert_eq!(inventory.host_id, a.host.id());
    assert_eq!(inventory.labels["zone"], "eu");
    assert!(inventory.labels.contains_key("hostcore.os"));
    assert_eq!(inventory.components.len(), 1);
    assert_eq!(inventory.components[0].id, "app");
    Ok(())
}

#[tokio::test]
async fn labels_change_on_request_and_are_announced() -> anyhow::Result<()> {
    let nats = NatsServer::start().await?;
    let h = start_host(&nats.url(), &[]).await?;
    let client = async_nats::connect(nats.url()).await?;
    let mut events = client
        .subscribe(subjects().event(EventName::LabelsChanged.as_str()))
        .await?;
    let id = h.host.id().to_owned();

    let put = Operation::LabelPut { host: id.clone() };
    let reply = request(&client, &put, json!({"key": "zone", "value": "eu"})).await?;
    assert_eq!(reply, json!({"success": true, "message": ""}));
    assert_eq!(h.host.info().labels["zone"], "eu");
    let msg = timeout(Duration::from_secs(5), events.next())
        .await?
        .ok_or_else(|| anyhow::anyhow!("no labels_changed event"))?;
    let (name, _) = event::decode(&msg.payload)?;
    assert_eq!(name, Some(EventName::LabelsChanged));
    let ev: Value = serde_json::from_slice(&msg.payload)?;
    assert_eq!(ev["source"], id.as_str());
    assert_eq!(ev["data"]["labels"]["zone"], "eu");

    let del = Operation::LabelDel { host: id.clone() };
    let reply = request(&client, &del, json!({"key": "zone"})).await?;
    assert_eq!(reply["success"], true);
    assert!(!h.host.info().labels.contains_key("zone"));

    let reply = request(&client, &put, json!({"key": "hostcore.os", "value": "x"})).await?;
    assert_eq!(reply["success"], false);
    assert!(
        reply["message"]
            .as_str()
            .unwrap_or_default()
            .contains("hostcore.")
    );
    Ok(())
}

#[tokio::test]
async fn malformed_json_on_every_subject_gets_a_reason_and_the_host_keeps_serving()
-> anyhow::Result<()> {
    let nats = NatsServer::start().await?;
    let h = start_host(&nats.url(), &[]).await?;
    let client = async_nats::connect(nats.url()).await?;
    let host = || h.host.id().to_owned();
    let name = || "cfg".to_owned();
    let with_body = [
        Operation::ComponentAuction,
        Operation::ProviderAuction,
        Operation::ComponentScale { host: host() },
        Operation::ComponentUpdate { host: host() },
        Operation::ProviderStart { host: host() },
        Operation::ProviderStop { host: host() },
        Operation::HostStop { host: host() },
        Operation::LabelPut { host: host() },
        Operation::LabelDel { host: host() },
        Operation::LinkPut,
        Operation::LinkDel,
        Operation::ConfigPut { name: name() },
        Operation::RegistryPut,
    ];
    for op in &with_body {
        let reply = client
            .request(subjects().subject(op), b"{not json".as_slice().into())
            .await?;
        let reply: Value = serde_json::from_slice(&reply.payload)?;
        assert_eq!(reply["success"], false, "{}: {reply}", op.name());
        let message = reply["message"].as_str().unwrap_or_default();
        assert!(message.contains("malformed"), "{}: {message}", op.name());
    }
    let pongs = gather(&client, &Operation::HostPing, 1).await?;
    assert_eq!(pongs.len(), 1, "the host stopped answering");
    Ok(())
}

#[tokio::test]
async fn an_unknown_subject_is_answered_unsupported() -> anyhow::Result<()> {
    let nats = NatsServer::start().await?;
    let _h = start_host(&nats.url(), &[]).await?;
    let client = async_nats::connect(nats.url()).await?;
    let reply = client
        .request(
            format!("wasmbus.ctl.v1.{LATTICE}.component.explode"),
            "".into(),
        )
        .await?;
    let reply: Value = serde_json::from_slice(&reply.payload)?;
    assert_eq!(
        reply,
        json!({"success": false, "message": "unsupported subject"})
    );
    Ok(())
}

#[tokio::test]
async fn host_stop_asks_the_host_to_stop() -> anyhow::Result<()> {
    let nats = NatsServer::start().await?;
    let h = start_host(&nats.url(), &[]).await?;
    let client = async_nats::connect(nats.url()).await?;
    let op = Operation::HostStop {
        host: h.host.id().into(),
    };
    let reply = request(
        &client,
        &op,
        json!({"host_id": h.host.id(), "timeout": 1500}),
    )
    .await?;
    assert_eq!(reply["success"], true);
    let drain = timeout(Duration::from_secs(5), h.host.stop_requested()).await?;
    assert_eq!(drain, Some(Duration::from_millis(1500)));
    Ok(())
}

#[tokio::test]
async fn heartbeats_carry_the_inventory() -> anyhow::Result<()> {
    let nats = NatsServer::start().await?;
    let client = async_nats::connect(nats.url()).await?;
    let mut beats = client
        .subscribe(subjects().event(EventName::HostHeartbeat.as_str()))
        .await?;
    let h = start_host(&nats.url(), &[("zone", "eu")]).await?;
    let msg = timeout(Duration::from_secs(5), beats.next())
        .await?
        .ok_or_else(|| anyhow::anyhow!("no heartbeat"))?;
    let json: Value = serde_json::from_slice(&msg.payload)?;
    assert_eq!(json["type"], "com.wasmcloud.lattice.host_heartbeat");
    let inventory: HostInventory = serde_json::from_value(json["data"].clone())?;
    assert_eq!(inventory.host_id, h.host.id());
    assert_eq!(inventory.labels["zone"], "eu");
    Ok(())
}

#[tokio::test]
async fn hosts_answer_again_after_nats_server_restarts() -> anyhow::Result<()> {
    let mut nats = NatsServer::start().await?;
    let h = start_host(&nats.url(), &[]).await?;
    nats.restart().await?;
    let url = nats.url();
    let id = h.host.id().to_owned();
    net::wait_for(
        "the host to answer ping after the restart",
        Duration::from_secs(20),
        || {
            let url = url.clone();
            let id = id.clone();
            async move {
                let client = async_nats::connect(url).await.ok()?;
                let pongs = gather(&client, &Operation::HostPing, 1).await.ok()?;
                pongs
                    .iter()
                    .any(|p| p["response"]["id"] == id.as_str())
                    .then_some(())
            }
        },
    )
    .await?;
    Ok(())
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
    let _host = start_host(&nats.url(), &[]).await?;
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
    let _a = start_host(&nats.url(), &[]).await?;
    let _b = start_host(&nats.url(), &[]).await?;
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
    let _host = start_host(&nats.url(), &[]).await?;
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

#[tokio::test]
async fn scale_takes_wasmclouds_body_and_reports_events() -> anyhow::Result<()> {
    let nats = NatsServer::start().await?;
    let h = start_host(&nats.url(), &[]).await?;
    let client = async_nats::connect(nats.url()).await?;
    let mut scaled = client
        .subscribe(subjects().event(EventName::ComponentScaled.as_str()))
        .await?;
    let id = h.host.id().to_owned();
    let wasm = format!("file://{}", guests::path("test_guest")?.display());
    let op = Operation::ComponentScale { host: id.clone() };
    let body = json!({
        "component_ref": wasm, "component_id": "app", "host_id": id, "count": 3,
        "annotations": {"owner": "team-a"}, "config": [], "allow_update": false,
        "component_limits": {"max_memory_limit": "67108864", "max_execution_time": "30"}
    });
    let reply = request(&client, &op, body).await?;
    assert_eq!(reply["success"], true, "{reply}");
    let event = timeout(Duration::from_secs(5), scaled.next())
        .await?
        .ok_or_else(|| anyhow::anyhow!("no component_scaled event"))?;
    let event: Value = serde_json::from_slice(&event.payload)?;
    assert_eq!(event["data"]["max_instances"], 3);
    assert_eq!(event["data"]["component_id"], "app");
    let inventory: HostInventory = response(
        request(
            &client,
            &Operation::HostGet { host: id.clone() },
            Value::Null,
        )
        .await?,
    )?;
    assert_eq!(inventory.components[0].max_instances, 3);
    assert_eq!(inventory.components[0].annotations["owner"], "team-a");

    let bad = json!({
        "component_ref": wasm, "component_id": "other", "count": 1,
        "component_limits": {"max_cpu": "2"}
    });
    let reply = request(&client, &op, bad).await?;
    assert_eq!(reply["success"], false);
    let message = reply["message"].as_str().unwrap_or_default();
    assert!(message.contains("component_limits.max_cpu"), "{message}");

    let stop = json!({"component_ref": wasm, "component_id": "app", "count": 0});
    assert_eq!(request(&client, &op, stop).await?["success"], true);
    assert!(h.host.component("app").is_none());
    Ok(())
}
