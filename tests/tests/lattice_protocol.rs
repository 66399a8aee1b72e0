//! The control protocol as another client speaks it: the literal JSON bodies
//! of ../shared/wasmbus-v1.md, sent as raw NATS requests to a running host,
//! and the replies checked field by field — the envelope on every subject,
//! the documented shapes, and `count` as scale's wire key.

mod common;

use common::start_host;
use futures::StreamExt;
use serde_json::Value;
use std::time::Duration;
use weft_lattice_protocol::{Operation, Subjects};
use weft_tests::guests;
use weft_tests::nats::NatsServer;

const LATTICE: &str = "protocol";

struct Wire {
    nc: async_nats::Client,
    subjects: Subjects,
}

impl Wire {
    /// Sends `body` (literal JSON text, or nothing) and returns the reply,
    /// after checking the envelope every reply has.
    async fn send(&self, op: &Operation, body: &str) -> anyhow::Result<Value> {
        let request = async_nats::Request::new()
            .payload(body.as_bytes().to_vec().into())
            .timeout(Some(Duration::from_secs(30)));
        let reply = self
            .nc
            .send_request(self.subjects.subject(op), request)
            .await?;
        let reply: Value = serde_json::from_slice(&reply.payload)?;
        anyhow::ensure!(reply["success"].is_boolean(), "{}: {reply}", op.name());
        anyhow::ensure!(reply["message"].is_string(), "{}: {reply}", op.name());
        Ok(reply)
    }

    /// Like [`Self::send`], and the reply must be a success.
    async fn ok(&self, op: &Operation, body: &str) -> anyhow::Result<Value> {
        let reply = self.send(op, body).await?;
        anyhow::ensure!(reply["success"] == true, "{}: {reply}", op.name());
        Ok(reply)
    }

    /// Every reply to a scatter request within a short window.
    async fn gather(&self, op: &Operation, body: &str) -> anyhow::Result<Vec<Value>> {
        let inbox = self.nc.new_inbox();
        let mut replies = self.nc.subscribe(inbox.clone()).await?;
        self.nc
            .publish_with_reply(
                self.subjects.subject(op),
                inbox,
                body.as_bytes().to_vec().into(),
            )
            .await?;
        let until = tokio::time::Instant::now() + Duration::from_millis(500);
        let mut out = Vec::new();
        while let Ok(Some(msg)) = tokio::time::timeout_at(until, replies.next()).await {
            out.push(serde_json::from_slice(&msg.payload)?);
        }
        Ok(out)
    }
}

/// Asserts `value` has every key in `keys`.
fn has_keys(what: &str, value: &Value, keys: &[&str]) -> anyhow::Result<()> {
    for key in keys {
        anyhow::ensure!(value.get(key).is_some(), "{what} lacks `{key}`: {value}");
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documented_bodies_get_documented_replies_on_every_subject() -> anyhow::Result<()> {
    let nats = NatsServer::start().await?;
    let host = start_host(&nats.url(), LATTICE, &[("zone", "eu")]).await?;
    let wire = Wire {
        nc: async_nats::connect(nats.url()).await?,
        subjects: Subjects::new("wasmbus.ctl", LATTICE)?,
    };
    let id = host.host.id().to_owned();
    let hello = format!("file://{}", guests::path("http_hello")?.display());
    let test_guest = format!("file://{}", guests::path("test_guest")?.display());

    ping_labels_and_config(&wire, &id).await?;
    auctions(&wire, &id, &hello).await?;
    scale_and_inventory(&wire, &id, &test_guest).await?;
    update_providers_and_links(&wire, &id, &hello).await?;
    claims_and_registry(&wire).await?;

    // Scale to zero stops; host.stop asks the host to stop.
    wire.ok(
        &on(&id, |host| Operation::ComponentScale { host }),
        &scale(&test_guest, &id, 0),
    )
    .await?;
    assert!(host.host.component("hello").is_none());
    wire.ok(
        &on(&id, |host| Operation::HostStop { host }),
        &format!(r#"{{"host_id":"{id}","timeout":500}}"#),
    )
    .await?;
    let drain = tokio::time::timeout(Duration::from_secs(5), host.host.stop_requested()).await?;
    assert_eq!(drain, Some(Duration::from_millis(500)));
    Ok(())
}

/// `id`'s operation `op`.
fn on(id: &str, op: fn(String) -> Operation) -> Operation {
    op(id.to_owned())
}

/// A `component.scale` body for `test_guest` on `id` with `count`.
fn scale(test_guest: &str, id: &str, count: u32) -> String {
    format!(
        r#"{{"component_ref":"{test_guest}","component_id":"hello","host_id":"{id}","count":{count},
           "annotations":{{"owner":"team-a"}},"config":[],"allow_update":false,
           "component_limits":{{"max_memory_limit":"67108864","max_execution_time":"30"}}}}"#
    )
}

/// host.ping, labels, named config.
async fn ping_labels_and_config(wire: &Wire, id: &str) -> anyhow::Result<()> {
    let pongs = wire.gather(&Operation::HostPing, "").await?;
    assert_eq!(pongs.len(), 1);
    has_keys(
        "Host",
        &pongs[0]["response"],
        &[
            "id",
            "friendly_name",
            "labels",
            "lattice",
            "ctl_host",
            "rpc_host",
            "uptime_seconds",
            "uptime_human",
            "version",
        ],
    )?;
    assert_eq!(pongs[0]["response"]["lattice"], LATTICE);

    // Labels.
    wire.ok(
        &on(id, |host| Operation::LabelPut { host }),
        r#"{"key":"tier","value":"gold"}"#,
    )
    .await?;
    wire.ok(
        &on(id, |host| Operation::LabelDel { host }),
        r#"{"key":"tier"}"#,
    )
    .await?;

    // Named config.
    let listen = Operation::ConfigPut {
        name: "listen-8080".into(),
    };
    wire.ok(&listen, r#"{"address":"127.0.0.1:0"}"#).await?;
    let got = wire
        .ok(
            &Operation::ConfigGet {
                name: "listen-8080".into(),
            },
            "",
        )
        .await?;
    assert_eq!(got["response"]["address"], "127.0.0.1:0");
    Ok(())
}

/// Auctions: the ack echoes the request and names the host.
async fn auctions(wire: &Wire, id: &str, hello: &str) -> anyhow::Result<()> {
    let bids = wire
        .gather(
            &Operation::ComponentAuction,
            &format!(r#"{{"component_ref":"{hello}","component_id":"hello","constraints":{{"zone":"eu"}}}}"#),
        )
        .await?;
    assert_eq!(bids.len(), 1, "{bids:?}");
    has_keys(
        "component auction ack",
        &bids[0]["response"],
        &["component_ref", "component_id", "host_id", "constraints"],
    )?;
    assert_eq!(bids[0]["response"]["host_id"], id);
    assert!(
        wire.gather(
            &Operation::ComponentAuction,
            r#"{"component_ref":"x","component_id":"hello","constraints":{"zone":"us"}}"#,
        )
        .await?
        .is_empty(),
        "a host that does not qualify stays silent"
    );
    let bids = wire
        .gather(&Operation::ProviderAuction, r#"{"provider_ref":"builtin:http-server","provider_id":"http-server","constraints":{}}"#)
        .await?;
    assert_eq!(bids.len(), 1);
    has_keys(
        "provider auction ack",
        &bids[0]["response"],
        &["provider_ref", "provider_id", "host_id", "constraints"],
    )?;
    Ok(())
}

/// Scale with `count`, then the inventory shows it.
async fn scale_and_inventory(wire: &Wire, id: &str, test_guest: &str) -> anyhow::Result<()> {
    wire.ok(
        &on(id, |host| Operation::ComponentScale { host }),
        &scale(test_guest, id, 2),
    )
    .await?;
    wire.ok(
        &on(id, |host| Operation::ComponentScale { host }),
        &scale(test_guest, id, 5),
    )
    .await?;
    let inventory = wire
        .ok(&on(id, |host| Operation::HostGet { host }), "")
        .await?;
    let inventory = &inventory["response"];
    has_keys(
        "HostInventory",
        inventory,
        &[
            "host_id",
            "friendly_name",
            "version",
            "uptime_seconds",
            "uptime_human",
            "labels",
            "components",
            "providers",
        ],
    )?;
    assert_eq!(inventory["labels"]["zone"], "eu");
    let component = &inventory["components"][0];
    has_keys(
        "component",
        component,
        &[
            "id",
            "image_ref",
            "name",
            "revision",
            "max_instances",
            "annotations",
            "limits",
        ],
    )?;
    assert_eq!(component["max_instances"], 5);
    assert_eq!(component["annotations"]["owner"], "team-a");
    Ok(())
}

/// Update to another image; providers, and the documented link from the http-server to hello.
async fn update_providers_and_links(wire: &Wire, id: &str, hello: &str) -> anyhow::Result<()> {
    // Update to another image.
    wire.ok(
        &on(id, |host| Operation::ComponentUpdate { host }),
        &format!(r#"{{"component_id":"hello","host_id":"{id}","new_component_ref":"{hello}","annotations":{{}}}}"#),
    )
    .await?;
    let inventory = wire
        .ok(&on(id, |host| Operation::HostGet { host }), "")
        .await?;
    assert_eq!(inventory["response"]["components"][0]["image_ref"], hello);

    // Providers, and the documented link from the http-server to hello.
    wire.ok(
        &on(id, |host| Operation::ProviderStart { host }),
        &format!(r#"{{"provider_id":"http-server","provider_ref":"wasmcloud+builtin://http-server","host_id":"{id}","config":[],"annotations":{{}}}}"#),
    )
    .await?;
    let inventory = wire
        .ok(&on(id, |host| Operation::HostGet { host }), "")
        .await?;
    has_keys(
        "provider",
        &inventory["response"]["providers"][0],
        &["id", "image_ref", "name", "revision", "annotations"],
    )?;
    let link = r#"{"source_id":"http-server","target":"hello","name":"default","wit_namespace":"wasi",
 "wit_package":"http","interfaces":["incoming-handler"],"source_config":["listen-8080"],"target_config":[]}"#;
    wire.ok(&Operation::LinkPut, link).await?;
    let links = wire.ok(&Operation::LinkGet, "").await?;
    let links = links["response"].as_array().cloned().unwrap_or_default();
    assert_eq!(links.len(), 1);
    assert_eq!(
        links[0],
        serde_json::from_str::<Value>(link)?,
        "link.get returns the link as put"
    );
    wire.ok(&Operation::LinkDel, r#"{"source_id":"http-server","name":"default","wit_namespace":"wasi","wit_package":"http"}"#)
        .await?;
    wire.ok(
        &on(id, |host| Operation::ProviderStop { host }),
        &format!(r#"{{"host_id":"{id}","provider_id":"http-server"}}"#),
    )
    .await?;
    wire.ok(
        &Operation::ConfigDel {
            name: "listen-8080".into(),
        },
        "",
    )
    .await?;
    Ok(())
}

/// Claims (none: Weft signs nothing) and registry credentials.
async fn claims_and_registry(wire: &Wire) -> anyhow::Result<()> {
    let claims = wire.ok(&Operation::ClaimsGet, "").await?;
    assert_eq!(claims["response"], serde_json::json!([]));
    wire.ok(
        &Operation::RegistryPut,
        r#"{"registry.example.com":{"username":"u","password":"p","registryType":"oci"}}"#,
    )
    .await?;
    Ok(())
}
