//! A stream pipeline on one host: `relay` components chained by messaging
//! forward each message, body and reply subject unchanged, to the subject
//! their config names; a stage without that config fails the message with
//! a reason (counted as a failed invocation) and the rest keeps flowing.

mod common;

use common::{link, provider, start_host};
use futures::StreamExt;
use std::time::Duration;
use weft_lattice_client::LatticeClient;
use weft_lattice_protocol::Subjects;
use weft_lattice_protocol::wire::{Link, StringMap};
use weft_tests::nats::NatsServer;
use weft_tests::net;

const LATTICE: &str = "pipeline";

/// Starts relay `id` reading `from`, forwarding to `to` (no `next` config
/// when `to` is `None`).
async fn stage(
    client: &LatticeClient,
    host: &str,
    id: &str,
    from: &str,
    to: Option<&str>,
) -> anyhow::Result<()> {
    let mut configs = Vec::new();
    if let Some(to) = to {
        client
            .put_config(id, &StringMap::from([("next".into(), to.into())]))
            .await?;
        configs.push(id);
    }
    let subs = format!("{id}-subs");
    client
        .put_config(
            &subs,
            &StringMap::from([("subscriptions".into(), from.into())]),
        )
        .await?;
    client
        .scale_component(host, &common::scale(host, id, "relay", &configs)?)
        .await?;
    client
        .put_link(&link(id, "nats", "wasmcloud:messaging", &["consumer"], &[]))
        .await?;
    // One provider feeds every stage: the inbound links are named apart.
    client
        .put_link(&Link {
            name: id.into(),
            ..link("nats", id, "wasmcloud:messaging", &["handler"], &[&subs])
        })
        .await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relays_forward_in_order_and_a_misconfigured_stage_fails_alone() -> anyhow::Result<()> {
    let nats = NatsServer::start().await?;
    let host = start_host(&nats.url(), LATTICE, &[]).await?;
    let id = host.host.id().to_owned();
    let raw = async_nats::connect(nats.url()).await?;
    let client = LatticeClient::new(raw.clone(), Subjects::new("wasmbus.ctl", LATTICE)?);
    client
        .start_provider(&id, &provider("nats", "builtin:messaging-nats", &[]))
        .await?;
    stage(&client, &id, "one", "p.0", Some("p.1")).await?;
    stage(&client, &id, "two", "p.1", Some("p.2")).await?;
    stage(&client, &id, "broken", "p.broken", None).await?;

    // The end of the pipe answers whoever asked at its start.
    let mut sink = raw.subscribe("p.2").await?;
    let echo = raw.clone();
    let responder = tokio::spawn(async move {
        while let Some(msg) = sink.next().await {
            if let Some(reply) = msg.reply {
                let mut body = b"end:".to_vec();
                body.extend_from_slice(&msg.payload);
                let _ = echo.publish(reply, body.into()).await;
            }
        }
    });
    let ask = |body: &'static str| {
        let raw = raw.clone();
        async move {
            let r = tokio::time::timeout(Duration::from_secs(2), raw.request("p.0", body.into()))
                .await
                .ok()?
                .ok()?;
            Some(String::from_utf8_lossy(&r.payload).into_owned())
        }
    };
    let first = net::wait_for("the pipeline to flow", Duration::from_secs(20), || {
        ask("hello")
    })
    .await?;
    assert_eq!(first, "end:hello");

    // The flowing pipe shows stages one and two subscribed, not the broken
    // one (its link may still be on its way), and a publish nobody hears is
    // gone: publish again until the broken stage has counted a failure.
    let failed = r#"weft_invocation_errors_total{component="broken",kind="message"} "#;
    let failures = || {
        host.host.metrics().lines().find_map(|line| {
            line.strip_prefix(failed)
                .and_then(|n| n.trim().parse::<u64>().ok())
        })
    };
    net::wait_for(
        "the broken stage's failure",
        Duration::from_secs(20),
        || async {
            if let Some(n) = failures().filter(|n| *n > 0) {
                return Some(n);
            }
            raw.publish("p.broken", "lost".into()).await.ok()?;
            None
        },
    )
    .await?;
    for i in 0..20 {
        let body: &'static str = if i % 2 == 0 { "even" } else { "odd" };
        assert_eq!(
            ask(body).await.as_deref(),
            Some(format!("end:{body}").as_str())
        );
    }
    responder.abort();
    Ok(())
}
