//! The lattice as the dashboard shows it: every host's inventory, and
//! components and providers gathered across hosts with their links.

use serde::Serialize;
use std::collections::BTreeMap;
use weft_apps::plan::APP;
use weft_capability::sync::Locked;
use weft_lattice_client::LatticeClient;
use weft_lattice_protocol::EventName;
use weft_lattice_protocol::alive::{LiveHosts, Liveness};
use weft_lattice_protocol::wire::{HostInventory, Link, StringMap};

/// Where something runs, and how much of it.
#[derive(Debug, Clone, Serialize)]
pub struct Placement {
    /// The host.
    pub host_id: String,
    /// Its friendly name.
    pub friendly_name: String,
    /// Instances there (components).
    pub max_instances: u32,
}

/// One of a component's links, as the page draws it.
#[derive(Debug, Clone, Serialize)]
pub struct Wire {
    /// `wasi:keyvalue/store,atomics`.
    pub interfaces: String,
    /// What it reaches.
    pub target: String,
    /// The link's name.
    pub name: String,
}

/// A component across the lattice.
#[derive(Debug, Clone, Serialize)]
pub struct ComponentView {
    /// Its id.
    pub id: String,
    /// Its image.
    pub image_ref: String,
    /// The digest it runs (when known).
    pub digest: Option<String>,
    /// Instances in all.
    pub max_instances: u32,
    /// Where.
    pub hosts: Vec<Placement>,
    /// Its annotations.
    pub annotations: StringMap,
    /// The app that manages it, if one does.
    pub app: Option<String>,
    /// Its imports' links (this component as source).
    pub links: Vec<Wire>,
    /// Links that reach it (this component as target).
    pub linked_from: Vec<Wire>,
    /// Its imports that no link serves: calls to them fail.
    pub unlinked: Vec<String>,
}

/// A provider across the lattice.
#[derive(Debug, Clone, Serialize)]
pub struct ProviderView {
    /// Its id.
    pub id: String,
    /// Its reference.
    pub image_ref: String,
    /// Where.
    pub hosts: Vec<Placement>,
    /// The app that manages it, if one does.
    pub app: Option<String>,
}

/// The hosts the dashboard has heard from (heartbeats, `host_started`),
/// so a read asks each for its inventory at once instead of pinging the
/// lattice and waiting out the ping's window.
pub struct Known {
    /// The hosts alive, by their own heartbeats.
    hosts: std::sync::Mutex<LiveHosts<()>>,
}

impl Default for Known {
    fn default() -> Self {
        Self {
            hosts: std::sync::Mutex::new(LiveHosts::new(Liveness::default())),
        }
    }
}

impl Known {
    /// Follows `nats`'s events of the lattice in `subjects` until aborted.
    pub async fn follow(
        self: std::sync::Arc<Self>,
        nats: &async_nats::Client,
        subjects: &weft_lattice_protocol::Subjects,
    ) -> Result<tokio::task::JoinHandle<()>, async_nats::SubscribeError> {
        let mut events = nats.subscribe(subjects.events()).await?;
        Ok(tokio::spawn(async move {
            while let Some(msg) = futures::StreamExt::next(&mut events).await {
                let Ok(v) = serde_json::from_slice::<serde_json::Value>(&msg.payload) else {
                    continue;
                };
                let kind = v["type"].as_str().and_then(EventName::from_type);
                let (Some(kind), Some(host)) = (kind, v["source"].as_str()) else {
                    continue;
                };
                let beat = v["data"]["heartbeat_interval_ms"].as_u64();
                self.heard(host, kind, beat);
            }
        }))
    }

    /// Notes an event of `kind` from `host`, which says it beats every
    /// `beat` ms (wire values: the tracker bounds them).
    fn heard(&self, host: &str, kind: EventName, beat: Option<u64>) {
        let mut hosts = self.hosts.locked();
        match kind {
            EventName::HostStopped => hosts.gone(host),
            EventName::HostHeartbeat | EventName::HostStarted => {
                let stated = beat.map(|ms| std::time::Duration::from_millis(ms.max(100)));
                let beat = kind == EventName::HostHeartbeat;
                hosts.heard(host, std::time::Instant::now(), beat, stated, |_| ());
            }
            _ => {}
        }
    }

    fn alive(&self) -> Vec<String> {
        let now = std::time::Instant::now();
        let mut hosts = self.hosts.locked();
        hosts.forget_silent(now);
        hosts.alive(now).map(|(h, _)| h.to_owned()).collect()
    }
}

/// Every live host's inventory, sorted by friendly name (hosts that do
/// not answer in time are left out).
pub async fn inventories(
    lattice: &LatticeClient,
    known: &Known,
) -> Result<Vec<HostInventory>, weft_lattice_client::Error> {
    let mut ids = known.alive();
    if ids.is_empty() {
        ids = lattice.hosts().await?.into_iter().map(|h| h.id).collect();
    }
    let all = futures::future::join_all(ids.iter().map(|h| lattice.inventory(h))).await;
    let mut out: Vec<HostInventory> = all.into_iter().flatten().collect();
    out.sort_by(|a, b| {
        a.friendly_name
            .cmp(&b.friendly_name)
            .then(a.host_id.cmp(&b.host_id))
    });
    Ok(out)
}

fn wire(l: &Link, other: &str) -> Wire {
    Wire {
        interfaces: format!(
            "{}:{}/{}",
            l.wit_namespace,
            l.wit_package,
            l.interfaces.join(",")
        ),
        target: other.to_owned(),
        name: l.name.clone(),
    }
}

/// The components of `inventories`, each with its links.
pub fn components(inventories: &[HostInventory], links: &[Link]) -> Vec<ComponentView> {
    let mut out: BTreeMap<String, ComponentView> = BTreeMap::new();
    for inv in inventories {
        for c in &inv.components {
            let view = out.entry(c.id.clone()).or_insert_with(|| ComponentView {
                id: c.id.clone(),
                image_ref: c.image_ref.clone(),
                digest: c.digest.clone(),
                max_instances: 0,
                hosts: Vec::new(),
                annotations: c.annotations.clone(),
                app: c.annotations.get(APP).cloned(),
                links: links
                    .iter()
                    .filter(|l| l.source_id == c.id)
                    .map(|l| wire(l, &l.target))
                    .collect(),
                linked_from: links
                    .iter()
                    .filter(|l| l.target == c.id)
                    .map(|l| wire(l, &l.source_id))
                    .collect(),
                unlinked: c
                    .imports
                    .iter()
                    .filter(|i| !links.iter().any(|l| l.serves(&c.id, i)))
                    .cloned()
                    .collect(),
            });
            view.max_instances += c.max_instances;
            view.hosts.push(Placement {
                host_id: inv.host_id.clone(),
                friendly_name: inv.friendly_name.clone(),
                max_instances: c.max_instances,
            });
        }
    }
    out.into_values().collect()
}

/// The providers of `inventories`.
pub fn providers(inventories: &[HostInventory]) -> Vec<ProviderView> {
    let mut out: BTreeMap<String, ProviderView> = BTreeMap::new();
    for inv in inventories {
        for p in &inv.providers {
            let view = out.entry(p.id.clone()).or_insert_with(|| ProviderView {
                id: p.id.clone(),
                image_ref: p.image_ref.clone().unwrap_or_default(),
                hosts: Vec::new(),
                app: p.annotations.get(APP).cloned(),
            });
            view.hosts.push(Placement {
                host_id: inv.host_id.clone(),
                friendly_name: inv.friendly_name.clone(),
                max_instances: 1,
            });
        }
    }
    out.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_heartbeats_are_clamped_and_stale_or_invented_hosts_forgotten() {
        let known = Known::default();
        // A heartbeat interval that overflowed an Instant before.
        known.heard("h1", EventName::HostHeartbeat, Some(u64::MAX));
        assert_eq!(known.alive(), ["h1"]);
        known.heard("h1", EventName::HostStopped, None);
        assert!(known.alive().is_empty());
        // Minute-long beats: none of them falls silent while the loop runs.
        let cap = Liveness::default().cap;
        for i in 0..cap + 100 {
            known.heard(&format!("h{i}"), EventName::HostHeartbeat, Some(60_000));
        }
        assert_eq!(known.alive().len(), cap);
    }
}
