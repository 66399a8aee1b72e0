//! What runs where, as the reconciler sees it: the hosts' heartbeats (full
//! inventories), patched by the lifecycle events between them and by the
//! reconciler's own successful commands. A host that misses three
//! heartbeats is gone.

use futures::StreamExt;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;
use weft_capability::sync::Locked;
use weft_lattice_protocol::wire::HostInventory;
use weft_lattice_protocol::{EventName, Subjects};

/// A host is gone after this many missed heartbeats.
pub const MISSED_BEATS: u32 = 3;
/// The heartbeat interval assumed of a host that does not state its own
/// (Weft hosts do, in `heartbeat_interval_ms`) until two beats tell it:
/// wasmCloud's default.
pub const DEFAULT_BEAT: Duration = Duration::from_secs(30);

/// A component as a host reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Running {
    /// Its image.
    pub image_ref: String,
    /// Its instance limit.
    pub max_instances: u32,
    /// Its annotations (the app that manages it, if any).
    pub annotations: BTreeMap<String, String>,
}

impl HostView {
    /// Component `id` scaled to `running`'s instances: stopped at 0.
    pub fn scaled(&mut self, id: String, running: Running) {
        if running.max_instances == 0 {
            self.components.remove(&id);
        } else {
            self.components.insert(id, running);
        }
    }
}

/// A provider as a host reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunningProvider {
    /// Its reference.
    pub reference: String,
    /// Its annotations.
    pub annotations: BTreeMap<String, String>,
}

/// One host as last seen.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HostView {
    /// Its labels.
    pub labels: BTreeMap<String, String>,
    /// Its components, by id.
    pub components: BTreeMap<String, Running>,
    /// Its providers, by id.
    pub providers: BTreeMap<String, RunningProvider>,
}

#[derive(Debug)]
struct Seen {
    view: HostView,
    last: Instant,
    interval: Option<Duration>,
}

/// The hosts of the lattice and what they run.
#[derive(Clone, Default)]
pub struct Observed {
    hosts: Arc<Mutex<BTreeMap<String, Seen>>>,
}

fn from_inventory(inv: &HostInventory) -> HostView {
    HostView {
        labels: inv.labels.clone(),
        components: inv
            .components
            .iter()
            .map(|c| {
                (
                    c.id.clone(),
                    Running {
                        image_ref: c.image_ref.clone(),
                        max_instances: c.max_instances,
                        annotations: c.annotations.clone(),
                    },
                )
            })
            .collect(),
        providers: inv
            .providers
            .iter()
            .map(|p| {
                (
                    p.id.clone(),
                    RunningProvider {
                        reference: p.image_ref.clone().unwrap_or_default(),
                        annotations: p.annotations.clone(),
                    },
                )
            })
            .collect(),
    }
}

fn text(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_owned)
}

fn strings(v: &Value, key: &str) -> BTreeMap<String, String> {
    v.get(key)
        .and_then(|a| serde_json::from_value(a.clone()).ok())
        .unwrap_or_default()
}

impl Observed {
    /// The hosts alive now (seen within three heartbeats), by id.
    pub fn hosts(&self) -> BTreeMap<String, HostView> {
        let now = Instant::now();
        let mut hosts = self.hosts.locked();
        hosts.retain(|_, s| {
            now.duration_since(s.last) < s.interval.unwrap_or(DEFAULT_BEAT) * MISSED_BEATS
        });
        hosts
            .iter()
            .map(|(id, s)| (id.clone(), s.view.clone()))
            .collect()
    }

    /// When the first host alive now will count as gone if it stays
    /// silent: the reconciler wakes then, so a lost host is acted on at
    /// once rather than at the next periodic pass.
    pub fn next_expiry(&self) -> Option<Instant> {
        let now = Instant::now();
        let hosts = self.hosts.locked();
        hosts
            .values()
            .map(|s| s.last + s.interval.unwrap_or(DEFAULT_BEAT) * MISSED_BEATS)
            .filter(|t| *t > now)
            .min()
    }

    /// A host's heartbeat: its whole inventory, and the interval it states.
    pub fn heartbeat(&self, inv: &HostInventory, stated: Option<Duration>) {
        let now = Instant::now();
        let mut hosts = self.hosts.locked();
        let previous = hosts
            .get(&inv.host_id)
            .map(|s| (now.duration_since(s.last), s.interval));
        // Two beats close together (a restart) say nothing of the interval.
        let interval = match previous {
            _ if stated.is_some() => stated,
            Some((gap, _)) if gap >= Duration::from_millis(100) => Some(gap),
            Some((_, known)) => known,
            None => None,
        };
        hosts.insert(
            inv.host_id.clone(),
            Seen {
                view: from_inventory(inv),
                last: now,
                interval,
            },
        );
    }

    /// A host's inventory asked for directly; kept unless a heartbeat
    /// came first.
    pub fn seed(&self, inv: &HostInventory) {
        let mut hosts = self.hosts.locked();
        hosts.entry(inv.host_id.clone()).or_insert_with(|| Seen {
            view: from_inventory(inv),
            last: Instant::now(),
            interval: None,
        });
    }

    /// A host said goodbye.
    pub fn gone(&self, host: &str) {
        self.hosts.locked().remove(host);
    }

    /// Changes what `host` runs (an event, or a command that succeeded).
    pub fn patch(&self, host: &str, change: impl FnOnce(&mut HostView)) {
        if let Some(seen) = self.hosts.locked().get_mut(host) {
            change(&mut seen.view);
        }
    }

    /// Applies a lifecycle event's data.
    fn event(&self, name: EventName, data: &Value) {
        let Some(host) = text(data, "host_id") else {
            return;
        };
        match name {
            EventName::ComponentScaled => {
                let Some(id) = text(data, "component_id") else {
                    return;
                };
                let max = data
                    .get("max_instances")
                    .and_then(Value::as_u64)
                    .unwrap_or(0);
                let running = Running {
                    image_ref: text(data, "image_ref").unwrap_or_default(),
                    max_instances: u32::try_from(max).unwrap_or(u32::MAX),
                    annotations: strings(data, "annotations"),
                };
                self.patch(&host, |v| v.scaled(id, running));
            }
            EventName::ProviderStarted => {
                let Some(id) = text(data, "provider_id") else {
                    return;
                };
                self.patch(&host, |v| {
                    v.providers.insert(
                        id,
                        RunningProvider {
                            reference: text(data, "provider_ref").unwrap_or_default(),
                            annotations: strings(data, "annotations"),
                        },
                    );
                });
            }
            EventName::ProviderStopped => {
                let Some(id) = text(data, "provider_id") else {
                    return;
                };
                self.patch(&host, |v| {
                    v.providers.remove(&id);
                });
            }
            EventName::LabelsChanged => {
                let labels = strings(data, "labels");
                self.patch(&host, |v| v.labels = labels);
            }
            _ => {}
        }
    }

    /// Follows the lattice's events until aborted; `changed` is told of
    /// every change worth a reconcile pass.
    pub async fn follow(
        self,
        client: async_nats::Client,
        subjects: &Subjects,
        changed: Arc<tokio::sync::Notify>,
    ) -> Result<JoinHandle<()>, async_nats::SubscribeError> {
        let mut events = client.subscribe(subjects.events()).await?;
        Ok(tokio::spawn(async move {
            while let Some(msg) = events.next().await {
                let Ok(event) = serde_json::from_slice::<Value>(&msg.payload) else {
                    continue;
                };
                let kind = event["type"].as_str().unwrap_or_default();
                let Some(name) = EventName::ALL
                    .iter()
                    .find(|n| kind == format!("com.wasmcloud.lattice.{}", n.as_str()))
                    .copied()
                else {
                    continue;
                };
                match name {
                    EventName::HostHeartbeat => {
                        if let Ok(inv) =
                            serde_json::from_value::<HostInventory>(event["data"].clone())
                        {
                            let new = !self.hosts().contains_key(&inv.host_id);
                            let stated = event["data"]["heartbeat_interval_ms"]
                                .as_u64()
                                .map(Duration::from_millis);
                            self.heartbeat(&inv, stated);
                            if new {
                                changed.notify_one();
                            }
                        }
                    }
                    EventName::HostStopped => {
                        if let Some(host) = event["source"].as_str() {
                            self.gone(host);
                            changed.notify_one();
                        }
                    }
                    EventName::ComponentScaled
                    | EventName::ProviderStarted
                    | EventName::ProviderStopped
                    | EventName::LabelsChanged => {
                        self.event(name, &event["data"]);
                        changed.notify_one();
                    }
                    _ => {}
                }
            }
        }))
    }
}
