//! The JSON bodies of `wasmbus.ctl.v1`, field for field as wasmCloud 1.x
//! clients send and expect them.
//!
//! Requests accept unknown fields (newer clients add some) and default the
//! optional ones; replies carry exactly the documented fields, plus the
//! capacity facts Weft adds to auction acks, which old clients ignore.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A string map: labels, annotations, constraints, config values.
pub type StringMap = BTreeMap<String, String>;

/// The envelope of every reply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CtlResponse<T> {
    /// Whether the operation succeeded.
    pub success: bool,
    /// Empty on success; otherwise what went wrong and what to do.
    #[serde(default)]
    pub message: String,
    /// The payload, if the operation has one.
    #[serde(default = "none", skip_serializing_if = "Option::is_none")]
    pub response: Option<T>,
}

/// `#[serde(default)]` on a generic field would demand `T: Default`.
fn none<T>() -> Option<T> {
    None
}

impl<T> CtlResponse<T> {
    /// A success carrying `response`.
    pub fn ok(response: T) -> Self {
        Self {
            success: true,
            message: String::new(),
            response: Some(response),
        }
    }

    /// A failure saying `message`.
    pub fn error(message: impl Into<String>) -> Self {
        Self {
            success: false,
            message: message.into(),
            response: None,
        }
    }
}

impl CtlResponse<()> {
    /// A success with no payload (an "ack").
    pub fn ack() -> Self {
        Self {
            success: true,
            message: String::new(),
            response: None,
        }
    }

    /// The reply to a subject the protocol does not define.
    pub fn unsupported() -> Self {
        Self::error("unsupported subject")
    }
}

/// The default link name.
pub const DEFAULT_LINK_NAME: &str = "default";

fn default_link_name() -> String {
    DEFAULT_LINK_NAME.to_owned()
}

/// A link: binds `source_id`'s imports of `wit_namespace:wit_package/interfaces`
/// (or its exports, for a provider source) to `target`. `link.put` body;
/// `link.get` returns a list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    /// The component or provider whose calls the link routes.
    pub source_id: String,
    /// The component or provider that serves them.
    pub target: String,
    /// The link's name; guests pick a non-default one with `wasmcloud:bus/lattice`.
    #[serde(default = "default_link_name")]
    pub name: String,
    /// WIT namespace, e.g. `wasi`.
    pub wit_namespace: String,
    /// WIT package, e.g. `keyvalue`.
    pub wit_package: String,
    /// The interfaces of the package the link covers.
    pub interfaces: Vec<String>,
    /// Named configs the source gets for this link.
    #[serde(default)]
    pub source_config: Vec<String>,
    /// Named configs the target gets for this link.
    #[serde(default)]
    pub target_config: Vec<String>,
}

impl Link {
    /// Whether this link serves import `import` (`ns:pkg/iface`, with or
    /// without `@version`) of `source`.
    pub fn serves(&self, source: &str, import: &str) -> bool {
        let unversioned = import.split('@').next().unwrap_or(import);
        let Some((package, interface)) = unversioned.split_once('/') else {
            return false;
        };
        let Some((namespace, package)) = package.split_once(':') else {
            return false;
        };
        self.source_id == source
            && self.wit_namespace == namespace
            && self.wit_package == package
            && self.interfaces.iter().any(|i| i == interface)
    }
}

/// `link.del` body: which link to remove.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteLink {
    /// The link's source.
    pub source_id: String,
    /// The link's name.
    #[serde(default = "default_link_name")]
    pub name: String,
    /// WIT namespace.
    pub wit_namespace: String,
    /// WIT package.
    pub wit_package: String,
}

/// `component.auction` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComponentAuctionRequest {
    /// What would be started.
    pub component_ref: String,
    /// Under which id.
    pub component_id: String,
    /// Labels a host must have (each key with exactly this value).
    #[serde(default)]
    pub constraints: StringMap,
}

/// `provider.auction` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderAuctionRequest {
    /// What would be started.
    pub provider_ref: String,
    /// Under which id.
    pub provider_id: String,
    /// Labels a host must have.
    #[serde(default)]
    pub constraints: StringMap,
}

/// What a bidding host can offer, beyond wasmCloud's ack (Weft's addition;
/// old clients ignore it).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capacity {
    /// Instance slots not in use.
    pub free_instance_slots: u64,
    /// Bytes of guest memory the host can still hand out.
    pub memory_available: u64,
    /// Whether the requested image is already in the host's cache.
    pub image_cached: bool,
    /// How many hosts the answering host knows to be alive in the lattice
    /// (itself included), from their heartbeats: a client that has heard
    /// from that many may stop waiting for answers.
    #[serde(default)]
    pub lattice_hosts: u32,
}

/// A NATS header a Weft client sets on an auction to ask every host to
/// answer: qualifying hosts with their ack, the others with
/// `success: false`, the reason, and an ack whose capacity says how many
/// hosts they know. Without it (wasmCloud's clients) the others stay
/// silent, as the protocol says.
pub const AUCTION_DECLINES_HEADER: &str = "Weft-Auction-Declines";

/// `component.auction` ack, from each qualifying host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComponentAuctionAck {
    /// Echoed from the request.
    pub component_ref: String,
    /// Echoed from the request.
    pub component_id: String,
    /// The bidding host.
    pub host_id: String,
    /// Echoed from the request.
    #[serde(default)]
    pub constraints: StringMap,
    /// What the host can offer; absent from non-Weft hosts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<Capacity>,
}

/// `provider.auction` ack, from each qualifying host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderAuctionAck {
    /// Echoed from the request.
    pub provider_ref: String,
    /// Echoed from the request.
    pub provider_id: String,
    /// The bidding host.
    pub host_id: String,
    /// Echoed from the request.
    #[serde(default)]
    pub constraints: StringMap,
    /// What the host can offer; absent from non-Weft hosts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<Capacity>,
}

/// Per-component limits as the wire carries them: numbers in strings
/// (`max_memory_limit` in bytes, `max_execution_time` in seconds).
pub type ComponentLimits = StringMap;

/// `component.scale.{host}` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScaleComponent {
    /// The image to run.
    pub component_ref: String,
    /// The id it runs under.
    pub component_id: String,
    /// The host asked (also in the subject).
    #[serde(default)]
    pub host_id: String,
    /// Max concurrent instances; 0 stops the component. The wire calls it `count`.
    #[serde(rename = "count")]
    pub max_instances: u32,
    /// Free-form annotations, reported back in the inventory.
    #[serde(default)]
    pub annotations: StringMap,
    /// Named configs the component reads through `wasi:config`.
    #[serde(default)]
    pub config: Vec<String>,
    /// Whether a different image for a running id may replace it.
    #[serde(default)]
    pub allow_update: bool,
    /// Optional limits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub component_limits: Option<ComponentLimits>,
}

/// `component.update.{host}` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateComponent {
    /// The running component.
    pub component_id: String,
    /// The host asked.
    #[serde(default)]
    pub host_id: String,
    /// The image to switch to.
    pub new_component_ref: String,
    /// Replaces the annotations, if given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<StringMap>,
}

/// `provider.start.{host}` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StartProvider {
    /// The id it runs under.
    pub provider_id: String,
    /// What to start (`builtin:keyvalue-redis`, …).
    pub provider_ref: String,
    /// The host asked.
    #[serde(default)]
    pub host_id: String,
    /// Named configs the provider is configured from.
    #[serde(default)]
    pub config: Vec<String>,
    /// Free-form annotations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<StringMap>,
}

/// `provider.stop.{host}` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StopProvider {
    /// The host asked.
    #[serde(default)]
    pub host_id: String,
    /// The provider to stop.
    pub provider_id: String,
}

/// `host.stop.{host}` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StopHost {
    /// The host asked.
    #[serde(default)]
    pub host_id: String,
    /// How long to drain in-flight work, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<u64>,
}

/// `label.put.{host}` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostLabel {
    /// Label key.
    pub key: String,
    /// Label value.
    pub value: String,
}

/// `label.del.{host}` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostLabelKey {
    /// The label key to remove.
    pub key: String,
}

/// One registry's credentials in a `registry.put` body (keyed by registry host).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistryCredential {
    /// User name, for basic auth.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Password, for basic auth.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// Bearer token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// Always `oci` today.
    #[serde(rename = "registryType", default = "oci")]
    pub registry_type: String,
}

fn oci() -> String {
    "oci".into()
}

/// A running component, as the inventory lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComponentDescription {
    /// Its id.
    pub id: String,
    /// The image it runs.
    pub image_ref: String,
    /// A display name, if it has one.
    #[serde(default)]
    pub name: Option<String>,
    /// Incremented on every update.
    #[serde(default)]
    pub revision: i32,
    /// Max concurrent instances.
    pub max_instances: u32,
    /// Annotations from the scale command.
    #[serde(default)]
    pub annotations: StringMap,
    /// Limits, as the wire carries them.
    #[serde(default)]
    pub limits: Option<ComponentLimits>,
    /// The sha256 digest of the component's bytes (`sha256:…`), pinned when
    /// it was loaded (Weft's addition; old clients ignore it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// Its imports that only a link serves (`ns:pkg/iface@version`), so
    /// tools can show the ones without a link (Weft's addition).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub imports: Vec<String>,
}

/// A running provider, as the inventory lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderDescription {
    /// Its id.
    pub id: String,
    /// What was started.
    #[serde(default)]
    pub image_ref: Option<String>,
    /// A display name.
    #[serde(default)]
    pub name: Option<String>,
    /// Incremented on every update.
    #[serde(default)]
    pub revision: i32,
    /// Annotations from the start command.
    #[serde(default)]
    pub annotations: StringMap,
}

/// `host.get` reply and `host_heartbeat` data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostInventory {
    /// The host's id.
    pub host_id: String,
    /// A human-friendly name.
    pub friendly_name: String,
    /// The host's software version.
    pub version: String,
    /// Seconds since the host started.
    pub uptime_seconds: u64,
    /// The same, for people (`2m 21s`).
    pub uptime_human: String,
    /// The host's labels.
    pub labels: StringMap,
    /// What runs there.
    pub components: Vec<ComponentDescription>,
    /// Which providers run there.
    pub providers: Vec<ProviderDescription>,
}

/// `host.ping` reply, one per host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Host {
    /// The host's id.
    pub id: String,
    /// A human-friendly name.
    pub friendly_name: String,
    /// The host's labels.
    pub labels: StringMap,
    /// The lattice it belongs to.
    pub lattice: String,
    /// The NATS URL of its control connection.
    pub ctl_host: String,
    /// The NATS URL of its data (RPC) connection.
    pub rpc_host: String,
    /// Seconds since the host started.
    pub uptime_seconds: u64,
    /// The same, for people.
    pub uptime_human: String,
    /// The host's software version.
    pub version: String,
}

/// `2m 21s`-style durations for `uptime_human`.
pub fn human_duration(seconds: u64) -> String {
    let (d, h, m, s) = (
        seconds / 86_400,
        seconds / 3_600 % 24,
        seconds / 60 % 60,
        seconds % 60,
    );
    let parts: Vec<String> = [(d, "d"), (h, "h"), (m, "m"), (s, "s")]
        .iter()
        .filter(|(n, _)| *n != 0)
        .map(|(n, unit)| format!("{n}{unit}"))
        .collect();
    if parts.is_empty() {
        "0s".into()
    } else {
        parts.join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_durations() {
        assert_eq!(human_duration(0), "0s");
        assert_eq!(human_duration(30), "30s");
        assert_eq!(human_duration(141), "2m 21s");
        assert_eq!(human_duration(3_600), "1h");
        assert_eq!(human_duration(90_061), "1d 1h 1m 1s");
    }

    #[test]
    fn envelopes_serialize_as_documented() {
        let ack = serde_json::to_value(CtlResponse::ack()).unwrap();
        assert_eq!(ack, serde_json::json!({"success": true, "message": ""}));
        let unsupported = serde_json::to_value(CtlResponse::unsupported()).unwrap();
        assert_eq!(
            unsupported,
            serde_json::json!({"success": false, "message": "unsupported subject"})
        );
        let with = serde_json::to_value(CtlResponse::ok(vec![1])).unwrap();
        assert_eq!(
            with,
            serde_json::json!({"success": true, "message": "", "response": [1]})
        );
    }
}
