//! What runs where, as the reconciler sees it: the hosts' heartbeats (full
//! inventories), patched by the lifecycle events between them and by the
//! reconciler's own successful commands. A host that misses three
//! heartbeats is gone.

use futures::StreamExt;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;
use weft_capability::sync::Locked;
use weft_lattice_protocol::alive::{LiveHosts, Liveness};
use weft_lattice_protocol::event::{self, Received};
use weft_lattice_protocol::wire::HostInventory;
use weft_lattice_protocol::{LatticeEvent, Subjects};

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

/// The hosts of the lattice and what they run.
#[derive(Clone)]
pub struct Observed {
    hosts: Arc<Mutex<LiveHosts<HostView>>>,
}

impl Default for Observed {
    fn default() -> Self {
        // Every host, at whatever --heartbeat it runs (a day at most): the
        // reconciler must never take a slow beater for a lost host, nor
        // miss a real host because others were invented.
        let liveness = Liveness {
            missed_beats: MISSED_BEATS,
            default_beat: DEFAULT_BEAT,
            max_beat: Duration::from_secs(86_400),
            cap: usize::MAX,
            ..Liveness::default()
        };
        Self {
            hosts: Arc::new(Mutex::new(LiveHosts::new(liveness))),
        }
    }
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

impl Observed {
    /// The hosts alive now (seen within three heartbeats), by id.
    pub fn hosts(&self) -> BTreeMap<String, HostView> {
        let now = Instant::now();
        let mut hosts = self.hosts.locked();
        hosts.forget_silent(now);
        hosts
            .alive(now)
            .map(|(id, view)| (id.to_owned(), view.clone()))
            .collect()
    }

    /// When the first host alive now will count as gone if it stays
    /// silent: the reconciler wakes then, so a lost host is acted on at
    /// once rather than at the next periodic pass.
    pub fn next_expiry(&self) -> Option<Instant> {
        self.hosts.locked().next_expiry(Instant::now())
    }

    /// A host's heartbeat: its whole inventory, and the interval it states.
    pub fn heartbeat(&self, inv: &HostInventory, stated: Option<Duration>) {
        let view = from_inventory(inv);
        self.hosts
            .locked()
            .heard(&inv.host_id, Instant::now(), true, stated, |_| view);
    }

    /// A host's inventory asked for directly; kept unless a heartbeat
    /// came first.
    pub fn seed(&self, inv: &HostInventory) {
        let mut hosts = self.hosts.locked();
        if !hosts.contains(&inv.host_id) {
            let view = from_inventory(inv);
            hosts.heard(&inv.host_id, Instant::now(), false, None, |_| view);
        }
    }

    /// A host said goodbye.
    pub fn gone(&self, host: &str) {
        self.hosts.locked().gone(host);
    }

    /// Changes what `host` runs (an event, or a command that succeeded).
    pub fn patch(&self, host: &str, change: impl FnOnce(&mut HostView)) {
        if let Some(view) = self.hosts.locked().get_mut(host) {
            change(view);
        }
    }

    /// Applies what a lifecycle event says a host now runs; whether it
    /// changed anything a reconcile pass cares about.
    fn event(&self, received: Received) -> bool {
        match received.event {
            LatticeEvent::HostHeartbeat(beat) => {
                let new = !self.hosts().contains_key(&beat.inventory.host_id);
                let stated = beat.heartbeat_interval_ms.map(Duration::from_millis);
                self.heartbeat(&beat.inventory, stated);
                new
            }
            LatticeEvent::HostStopped(_) => {
                self.gone(&received.source);
                true
            }
            LatticeEvent::ComponentScaled(c) => {
                let running = Running {
                    image_ref: c.image_ref,
                    max_instances: c.max_instances,
                    annotations: c.annotations,
                };
                self.patch(&c.host_id, |v| v.scaled(c.component_id, running));
                true
            }
            LatticeEvent::ProviderStarted(p) => {
                let running = RunningProvider {
                    reference: p.provider_ref,
                    annotations: p.annotations,
                };
                self.patch(&p.host_id, |v| {
                    v.providers.insert(p.provider_id, running);
                });
                true
            }
            LatticeEvent::ProviderStopped(p) => {
                self.patch(&p.host_id, |v| {
                    v.providers.remove(&p.provider_id);
                });
                true
            }
            LatticeEvent::LabelsChanged(l) => {
                self.patch(&l.host_id, |v| v.labels = l.labels);
                true
            }
            _ => false,
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
                // Events of other kinds, or that do not fit their type, are
                // not this observer's business.
                let Ok(Some(received)) = event::receive(&msg.payload) else {
                    continue;
                };
                if self.event(received) {
                    changed.notify_one();
                }
            }
        }))
    }
}
