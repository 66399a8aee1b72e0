//! Host-side facts → wire shapes.

use std::time::Duration;
use weft_host::{ComponentInfo, HostInfo, Inventory, ScaleRequest};
use weft_lattice_protocol::Invalid;
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
        annotations: c.annotations,
        limits: None,
        digest: Some(format!("sha256:{}", c.digest)),
        imports: c.imports,
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
        providers: inventory
            .providers
            .into_iter()
            .map(|p| wire::ProviderDescription {
                name: Some(p.id.clone()),
                id: p.id,
                image_ref: Some(p.reference),
                revision: 0,
                annotations: p.annotations,
            })
            .collect(),
    }
}

/// The longest `max_execution_time` a scale request may ask for: a day.
pub const MAX_EXECUTION_SECONDS: u64 = 24 * 60 * 60;

/// A `component.scale` body as the host's request. `component_limits`
/// carries numbers in strings: `max_memory_limit` in bytes,
/// `max_execution_time` in seconds; other keys are refused by name.
pub fn scale_request(cmd: &wire::ScaleComponent) -> Result<ScaleRequest, Invalid> {
    weft_lattice_protocol::validate::token("component_id", &cmd.component_id)?;
    let mut max_memory = None;
    let mut timeout = None;
    for (key, value) in cmd.component_limits.iter().flatten() {
        let number = |what: &str| {
            value.trim().parse::<u64>().map_err(|_| {
                Invalid::new(
                    format!("component_limits.{key}"),
                    format!("`{value}` is not a whole number of {what}"),
                )
            })
        };
        match key.as_str() {
            "max_memory_limit" => max_memory = Some(number("bytes")?),
            "max_execution_time" => {
                let seconds = number("seconds")?;
                // From the wire: a deadline past any sane invocation is a
                // mistake (or an attempt to hold slots for ever).
                if seconds > MAX_EXECUTION_SECONDS {
                    return Err(Invalid::new(
                        format!("component_limits.{key}"),
                        format!(
                            "{seconds} s is more than the most an invocation may run, \
                             {MAX_EXECUTION_SECONDS} s (a day)"
                        ),
                    ));
                }
                timeout = Some(Duration::from_secs(seconds));
            }
            other => {
                return Err(Invalid::new(
                    format!("component_limits.{other}"),
                    "is not a known limit; use max_memory_limit (bytes) or max_execution_time (seconds)",
                ));
            }
        }
    }
    Ok(ScaleRequest {
        component_id: cmd.component_id.clone(),
        image_ref: cmd.component_ref.clone(),
        max_instances: cmd.max_instances,
        allow_update: cmd.allow_update,
        annotations: cmd.annotations.clone(),
        // The named configs are read from the lattice by the caller.
        config: std::collections::BTreeMap::new(),
        max_memory,
        timeout,
    })
}

/// A `registry.put` body as the host keeps it.
pub fn registry_credentials(
    body: std::collections::BTreeMap<String, wire::RegistryCredential>,
) -> std::collections::BTreeMap<String, weft_host::RegistryAuth> {
    body.into_iter()
        .map(|(registry, c)| {
            let auth = weft_host::RegistryAuth::from_parts(c.username, c.password, c.token);
            (registry, auth)
        })
        .collect()
}
