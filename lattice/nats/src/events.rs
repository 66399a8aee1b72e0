//! Publishing lattice events, and the heartbeat.

use crate::convert;
use async_nats::Client;
use serde::Serialize;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;
use weft_host::HostApi;
use weft_lattice_protocol::{EventName, Subjects, event};

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
    /// until the returned task is aborted.
    pub fn heartbeat(&self, host: Arc<dyn HostApi>, every: Duration) -> JoinHandle<()> {
        let events = self.clone();
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(every);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                let inventory = convert::inventory(host.inventory());
                events.publish(EventName::HostHeartbeat, &inventory).await;
            }
        })
    }
}
