//! Publishing lattice events, and the heartbeat.

use crate::convert;
use async_nats::Client;
use serde::Serialize;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;
use weft_host::HostApi;
use weft_lattice_protocol::{EventName, Subjects, event};

/// The data of the health-check events.
#[derive(Serialize)]
struct Health<'a> {
    provider_id: &'a str,
    host_id: &'a str,
    healthy: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<String>,
}

/// How long an event publish may take before it is dropped.
pub const PUBLISH_TIMEOUT: Duration = Duration::from_secs(2);

/// Publishes this host's events on `wasmbus.evt.{lattice}.{name}`.
#[derive(Debug, Clone)]
pub struct Events {
    client: Client,
    subjects: Subjects,
    host_id: String,
}

impl Events {
    /// A publisher for events from `host_id`.
    pub fn new(client: Client, subjects: Subjects, host_id: impl Into<String>) -> Self {
        Self {
            client,
            subjects,
            host_id: host_id.into(),
        }
    }

    /// Publishes `name` with `data`. Events are best effort: a failure — or a
    /// publish that does not complete within [`PUBLISH_TIMEOUT`] — is logged,
    /// never returned, so a control reply is never held up because nobody
    /// could be told about it.
    pub async fn publish(&self, name: EventName, data: &impl Serialize) {
        let bytes = match event::build(name, &self.host_id, data).and_then(|e| event::encode(&e)) {
            Ok(bytes) => bytes,
            Err(e) => {
                tracing::warn!(event = name.as_str(), "could not build event: {e}");
                return;
            }
        };
        let subject = self.subjects.event(name.as_str());
        match tokio::time::timeout(PUBLISH_TIMEOUT, self.client.publish(subject, bytes.into()))
            .await
        {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(event = name.as_str(), "could not publish event: {e}"),
            Err(_) => tracing::warn!(
                event = name.as_str(),
                "publishing the event took over {PUBLISH_TIMEOUT:?}; dropped"
            ),
        }
    }

    /// Publishes `host_heartbeat` with the inventory now and every `every`
    /// until the returned task is aborted; after each, checks every
    /// provider and publishes `health_check_status`, plus
    /// `health_check_passed` / `health_check_failed` when a provider's
    /// health is first known or changes.
    pub fn heartbeat(&self, host: Arc<dyn HostApi>, every: Duration) -> JoinHandle<()> {
        let events = self.clone();
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(every);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut healthy: HashMap<String, bool> = HashMap::new();
            loop {
                ticks.tick().await;
                let inventory = convert::inventory(host.inventory());
                // wasmCloud's heartbeat is the inventory; Weft adds the
                // interval, so reconcilers know when a beat is missed.
                let data = Heartbeat {
                    inventory: &inventory,
                    heartbeat_interval_ms: u64::try_from(every.as_millis()).unwrap_or(u64::MAX),
                };
                events.publish(EventName::HostHeartbeat, &data).await;
                let checks = host.provider_health().await;
                healthy.retain(|id, _| checks.iter().any(|(c, _)| c == id));
                for (provider_id, result) in checks {
                    let ok = result.is_ok();
                    let data = Health {
                        provider_id: &provider_id,
                        host_id: &events.host_id,
                        healthy: ok,
                        message: result.err(),
                    };
                    if healthy.insert(provider_id.clone(), ok) != Some(ok) {
                        let name = if ok {
                            EventName::HealthCheckPassed
                        } else {
                            EventName::HealthCheckFailed
                        };
                        events.publish(name, &data).await;
                    }
                    events.publish(EventName::HealthCheckStatus, &data).await;
                }
            }
        })
    }
}

/// `host_heartbeat` data: the inventory, plus the interval (a field
/// wasmCloud clients ignore).
#[derive(Serialize)]
struct Heartbeat<'a> {
    #[serde(flatten)]
    inventory: &'a weft_lattice_protocol::wire::HostInventory,
    heartbeat_interval_ms: u64,
}
