//! `HostApi`: what a control plane may ask of a host. Transports (the NATS
//! adapter in `lattice/nats`) translate their messages into these calls; the
//! host knows no transport and no wire format.

use crate::identity::LabelError;
use std::collections::BTreeMap;
use std::time::Duration;

/// Who the host is and how long it has run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostInfo {
    /// The host's lattice-unique id.
    pub id: String,
    /// A readable name.
    pub friendly_name: String,
    /// The Weft version it runs.
    pub version: String,
    /// Its labels, machine labels included.
    pub labels: BTreeMap<String, String>,
    /// Time since it started.
    pub uptime: Duration,
}

/// A component running on the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComponentInfo {
    /// Its id.
    pub id: String,
    /// Where it came from (an OCI reference, or `sha256:<digest>` for bytes
    /// handed over directly).
    pub image_ref: String,
    /// The sha256 digest of its wasm.
    pub digest: String,
    /// Max concurrent invocations; `None` for no limit.
    pub max_instances: Option<u32>,
}

/// Everything running on the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inventory {
    /// The host itself.
    pub host: HostInfo,
    /// Its components, sorted by id.
    pub components: Vec<ComponentInfo>,
}

/// The operations a control plane drives a host with.
///
/// Implemented by [`crate::Host`]; the lattice adapter holds an
/// `Arc<dyn HostApi>`, so tests can drive it with a stand-in.
pub trait HostApi: Send + Sync + 'static {
    /// Who the host is.
    fn info(&self) -> HostInfo;

    /// What runs on the host.
    fn inventory(&self) -> Inventory;

    /// Sets label `key` to `value`. Machine labels (`hostcore.*`) are refused.
    fn put_label(&self, key: &str, value: &str) -> Result<(), LabelError>;

    /// Removes label `key`; returns whether it was set.
    fn delete_label(&self, key: &str) -> Result<bool, LabelError>;

    /// Asks the host to stop, draining in-flight work for at most `drain`.
    fn request_stop(&self, drain: Option<Duration>);
}
