//! Host-side facts → wire shapes.

use weft_host::{ComponentInfo, HostInfo, Inventory};
use weft_lattice_protocol::wire::{self, human_duration};

/// Where a host's NATS connections go, for the `host.ping` reply.
#[derive(Debug, Clone)]
pub struct Endpoints {
    /// The lattice name.
    pub lattice: String,
    /// The control connection's URL.
    pub ctl_host: String,
    /// The data connection's URL.
    pub rpc_host: String,
}

/// The `host.ping` reply for `info`.
pub fn host(info: HostInfo, endpoints: &Endpoints) -> wire::Host {
    let secs = info.uptime.as_secs();
    wire::Host {
        id: info.id,
        friendly_name: info.friendly_name,
        labels: info.labels,
        lattice: endpoints.lattice.clone(),
        ctl_host: endpoints.ctl_host.clone(),
        rpc_host: endpoints.rpc_host.clone(),
        uptime_seconds: secs,
        uptime_human: human_duration(secs),
        version: info.version,
    }
}

fn component(c: ComponentInfo) -> wire::ComponentDescription {
    wire::ComponentDescription {
        name: Some(c.id.clone()),
        id: c.id,
        image_ref: c.image_ref,
        revision: 0,
        // The wire has no "unlimited"; report the largest count.
        max_instances: c.max_instances.unwrap_or(u32::MAX),
        annotations: wire::StringMap::new(),
        limits: None,
    }
}

/// The `host.get` reply and heartbeat data for `inventory`.
pub fn inventory(inventory: Inventory) -> wire::HostInventory {
    let secs = inventory.host.uptime.as_secs();
    wire::HostInventory {
        host_id: inventory.host.id,
        friendly_name: inventory.host.friendly_name,
        version: inventory.host.version,
        uptime_seconds: secs,
        uptime_human: human_duration(secs),
        labels: inventory.host.labels,
        components: inventory.components.into_iter().map(component).collect(),
        providers: Vec::new(),
    }
}
