//! Provider health on the lattice: after each heartbeat a host checks its
//! providers' backends and publishes `health_check_status`, with
//! `health_check_passed` / `health_check_failed` when a provider's health is
//! first known or changes — here a real redis-server that goes away.

mod common;

use common::start_host;
use futures::StreamExt;
use serde_json::Value;
use std::time::Duration;
use weft_lattice_client::LatticeClient;
use weft_lattice_protocol::{EventName, Subjects};
use weft_tests::nats::NatsServer;
use weft_tests::redis::RedisServer;

const LATTICE: &str = "health";

async fn next_for(sub: &mut async_nats::Subscriber, provider: &str) -> anyhow::Result<Value> {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(20), sub.next())
            .await?
            .ok_or_else(|| anyhow::anyhow!("event subscription ended"))?;
        let event: Value = serde_json::from_slice(&msg.payload)?;
        if event["data"]["provider_id"] == provider {
            return Ok(event);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provider_health_is_reported_and_changes_are_announced() -> anyhow::Result<()> {
    let nats = NatsServer::start().await?;
    let redis = RedisServer::start().await?;
    let host = start_host(&nats.url(), LATTICE, &[]).await?;
    let nc = async_nats::connect(nats.url()).await?;
    let subjects = Subjects::new("wasmbus.ctl", LATTICE)?;
    let mut passed = nc
        .subscribe(subjects.event(EventName::HealthCheckPassed.as_str()))
        .await?;
    let mut failed = nc
        .subscribe(subjects.event(EventName::HealthCheckFailed.as_str()))
        .await?;
    let mut status = nc
        .subscribe(subjects.event(EventName::HealthCheckStatus.as_str()))
        .await?;
    let client = LatticeClient::new(nc, subjects);
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

    let event = next_for(&mut passed, "cache").await?;
    assert_eq!(event["type"], "com.wasmcloud.lattice.health_check_passed");
    assert_eq!(event["data"]["host_id"], id.as_str());
    assert_eq!(
        next_for(&mut status, "cache").await?["data"]["healthy"],
        true
    );

    drop(redis);
    let event = next_for(&mut failed, "cache").await?;
    assert_eq!(event["data"]["healthy"], false);
    assert!(
        event["data"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{event}"
    );
    Ok(())
}
