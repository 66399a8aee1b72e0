//! Provider instances on a host, and binding components to them by link.

use crate::Host;
use std::collections::BTreeMap;
use std::sync::Arc;
use weft_capability::builtin::Builtin;
use weft_capability::provider::{self, Capability};

/// A request to start a provider instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartProviderRequest {
    /// The instance's lattice-unique id (link targets name it).
    pub provider_id: String,
    /// Which kind (`builtin:keyvalue-redis`, …).
    pub provider_ref: String,
    /// Its config: the named configs, merged in order.
    pub config: BTreeMap<String, String>,
    /// Free-form annotations, reported in the inventory.
    pub annotations: BTreeMap<String, String>,
}

/// Why a provider could not be started.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// No kind is registered under the reference.
    #[error("unknown provider `{reference}`; this host knows: {known}")]
    UnknownRef {
        /// The reference asked for.
        reference: String,
        /// The kinds this host knows.
        known: String,
    },
    /// An instance with this id runs here already.
    #[error("provider `{0}` is already running on this host")]
    AlreadyRunning(String),
    /// The kind refused its config or could not reach its backend.
    #[error("provider `{id}` ({reference}): {source}")]
    Start {
        /// The instance id.
        id: String,
        /// The kind.
        reference: String,
        /// Why.
        source: provider::Error,
    },
}

/// A running provider instance.
#[derive(Debug, Clone)]
pub(crate) struct RunningProvider {
    pub(crate) reference: String,
    pub(crate) annotations: BTreeMap<String, String>,
    pub(crate) capability: Capability,
}

/// A link as the host applies it: `source`'s imports of
/// `namespace:package` (link `name`) go to `target`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkBinding {
    /// The component whose calls are routed.
    pub source: String,
    /// The provider (or component) that serves them.
    pub target: String,
    /// The link name.
    pub name: String,
    /// WIT namespace.
    pub namespace: String,
    /// WIT package.
    pub package: String,
    /// The link's interfaces (`consumer`, `handler`, …).
    pub interfaces: Vec<String>,
    /// The link's source config, its named configs merged in order
    /// (`subscriptions` for messaging, `address` for HTTP servers).
    pub source_config: BTreeMap<String, String>,
    /// The link's target config, merged likewise (`allowed_hosts` for the
    /// HTTP client).
    pub target_config: BTreeMap<String, String>,
}

impl Host {
    /// Starts a provider instance; returns when it is ready (or why not).
    pub async fn start_provider(&self, req: StartProviderRequest) -> Result<(), ProviderError> {
        // `wasmcloud+builtin://http-server` names `builtin:http-server`.
        let reference = Builtin::canonical(&req.provider_ref);
        let Some(kind) = self.provider_kinds.get(&reference).cloned() else {
            let mut known: Vec<&str> = self.provider_kinds.keys().map(String::as_str).collect();
            known.sort_unstable();
            return Err(ProviderError::UnknownRef {
                reference: req.provider_ref,
                known: if known.is_empty() {
                    "none".into()
                } else {
                    known.join(", ")
                },
            });
        };
        if self.provider(&req.provider_id).is_some() {
            return Err(ProviderError::AlreadyRunning(req.provider_id));
        }
        let capability = kind
            .start(&req.config)
            .await
            .map_err(|source| ProviderError::Start {
                id: req.provider_id.clone(),
                reference: reference.clone(),
                source,
            })?;
        {
            let mut placed = self.placed_mut();
            if placed.providers.contains_key(&req.provider_id) {
                return Err(ProviderError::AlreadyRunning(req.provider_id));
            }
            placed.providers.insert(
                req.provider_id.clone(),
                RunningProvider {
                    reference,
                    annotations: req.annotations,
                    capability,
                },
            );
        }
        tracing::info!(provider = %req.provider_id, "provider started");
        self.rebind();
        Ok(())
    }

    /// Stops provider `id`; components linked to it get a clear error on
    /// their next call. Returns whether it was running.
    pub fn stop_provider(&self, id: &str) -> bool {
        let stopped = self.placed_mut().providers.remove(id).is_some();
        if stopped {
            self.rebind();
        }
        stopped
    }

    pub(crate) fn provider(&self, id: &str) -> Option<RunningProvider> {
        self.placed().providers.get(id).cloned()
    }

    /// Ids of the running providers with their kind and annotations, sorted.
    pub(crate) fn provider_list(&self) -> Vec<(String, String, BTreeMap<String, String>)> {
        let placed = self.placed();
        let mut list: Vec<_> = placed
            .providers
            .iter()
            .map(|(id, p)| (id.clone(), p.reference.clone(), p.annotations.clone()))
            .collect();
        list.sort();
        list
    }

    /// Replaces the lattice's links (oldest write first) and binds every
    /// component accordingly: the next call of each goes where its links now
    /// say.
    pub fn set_links(&self, links: Vec<LinkBinding>) {
        self.placed_mut().links = links;
        self.rebind();
    }
}

/// A kind registered with a [`crate::HostBuilder`].
pub(crate) type Kinds = std::collections::HashMap<String, Arc<dyn provider::ProviderKind>>;
