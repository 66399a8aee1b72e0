//! Publishing lattice events, and the heartbeat.

use crate::convert;
use async_nats::Client;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;
use weft_host::HostApi;
use weft_lattice_protocol::payload::{Health, Heartbeat};
use weft_lattice_protocol::{LatticeEvent, Subjects, event};

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

    /// Publishes `event`. Events are best effort: a failure — or a publish
    /// that does not complete within [`PUBLISH_TIMEOUT`] — is logged, never
    /// returned, so a control reply is never held up because nobody could
    /// be told about it.
    pub async fn publish(&self, event: &LatticeEvent) {
        let name = event.name();
        let built = event
            .data()
            .map_err(event::EventError::from)
            .and_then(|data| event::build(name, &self.host_id, &data))
            .and_then(|e| event::encode(&e));
        let bytes = match built {
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
                // wasmCloud's heartbeat is the inventory; Weft adds the
                // interval, so reconcilers know when a beat is missed.
                let beat = Heartbeat {
                    inventory: convert::inventory(host.inventory()),
                    heartbeat_interval_ms: Some(
                        u64::try_from(every.as_millis()).unwrap_or(u64::MAX),
                    ),
                };
                events
                    .publish(&LatticeEvent::HostHeartbeat(Box::new(beat)))
                    .await;
                let checks = host.provider_health().await;
                healthy.retain(|id, _| checks.iter().any(|(c, _)| c == id));
                for (provider_id, result) in checks {
                    let ok = result.is_ok();
                    let changed = healthy.insert(provider_id.clone(), ok) != Some(ok);
                    let data = Health {
                        provider_id,
                        host_id: events.host_id.clone(),
                        healthy: ok,
                        message: result.err(),
                    };
                    if changed {
                        let event = if ok {
                            LatticeEvent::HealthCheckPassed(data.clone())
                        } else {
                            LatticeEvent::HealthCheckFailed(data.clone())
                        };
                        events.publish(&event).await;
                    }
                    events.publish(&LatticeEvent::HealthCheckStatus(data)).await;
                }
            }
        })
    }
}
