//! `HostApi`: what a control plane may ask of a host. Transports (the NATS
//! adapter in `lattice/nats`) translate their messages into these calls; the
//! host knows no transport and no wire format.

use crate::identity::{self, LabelError};
use crate::{
    Host, LinkBinding, ProviderError, RegistryAuth, ScaleError, ScaleRequest, Scaled,
    StartProviderRequest, UpdateRequest, VERSION,
};
use async_trait::async_trait;
use std::collections::BTreeMap;
use std::time::Duration;
use weft_capability::call::{self, Call};
use weft_capability::sync::Shared;

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
    /// Annotations it was started with.
    pub annotations: BTreeMap<String, String>,
    /// Its imports that only a link serves.
    pub imports: Vec<String>,
}

/// Why a host does not bid in an auction, for people ("has no label zone").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decline(pub String);

impl std::fmt::Display for Decline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A host's bid in an auction: what it can offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bid {
    /// Instance slots of the pool not promised to running components.
    pub free_instance_slots: u64,
    /// Bytes of guest memory the pool can still hand out.
    pub memory_available: u64,
    /// Whether the image was loaded here before and its compiled code is
    /// still at hand (a start would skip fetching and compiling).
    pub image_cached: bool,
}

/// A provider instance running on the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderInfo {
    /// Its id.
    pub id: String,
    /// Its kind's reference.
    pub reference: String,
    /// Annotations it was started with.
    pub annotations: BTreeMap<String, String>,
}

/// Everything running on the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inventory {
    /// The host itself.
    pub host: HostInfo,
    /// Its components, sorted by id.
    pub components: Vec<ComponentInfo>,
    /// Its provider instances, sorted by id.
    pub providers: Vec<ProviderInfo>,
}

/// The operations a control plane drives a host with.
///
/// Implemented by [`crate::Host`]; the lattice adapter holds an
/// `Arc<dyn HostApi>`, so tests can drive it with a stand-in.
#[async_trait]
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

    /// Starts, resizes or stops a component; returns when it is done.
    async fn scale_component(&self, req: ScaleRequest) -> Result<Scaled, ScaleError>;

    /// Switches a running component to another image with no gap; returns
    /// the image it ran before, once the new one serves.
    async fn update_component(&self, req: UpdateRequest) -> Result<String, ScaleError>;

    /// Keeps credentials for OCI registries, by registry host (as sent by
    /// `registry.put`); pulls from those registries use them.
    fn put_registry_credentials(&self, credentials: BTreeMap<String, RegistryAuth>);

    /// This host's bid for running `component_id` from `image_ref` under
    /// `constraints`, or why it does not qualify: a constraint does not
    /// match a label, or the component already runs here.
    fn bid(
        &self,
        component_id: &str,
        image_ref: &str,
        constraints: &BTreeMap<String, String>,
    ) -> Result<Bid, Decline>;

    /// Starts a provider instance; returns when it is ready.
    async fn start_provider(&self, req: StartProviderRequest) -> Result<(), ProviderError>;

    /// Stops provider `id`; returns whether it was running.
    fn stop_provider(&self, id: &str) -> bool;

    /// Checks every provider instance's backend: `(id, Err(why))` for the
    /// ones that do not answer. Sorted by id.
    async fn provider_health(&self) -> Vec<(String, Result<(), String>)>;

    /// Whether this host qualifies to run provider `provider_id` under
    /// `constraints` (labels match, not running here yet), or why not.
    fn provider_bid(
        &self,
        provider_id: &str,
        constraints: &BTreeMap<String, String>,
    ) -> Result<(), Decline>;

    /// Replaces the lattice's links; the next call of every component goes
    /// where they now say.
    fn set_links(&self, links: Vec<LinkBinding>);

    /// Hands what `component` sends to the host's message tap for `ttl`.
    fn spy(&self, component: &str, ttl: Duration);

    /// Runs a call that came from a component on another host: `call.target`
    /// must run here; arguments and results are WAVE text.
    async fn invoke(&self, call: Call) -> Result<Vec<String>, call::Error>;
}

#[async_trait]
impl HostApi for Host {
    fn info(&self) -> HostInfo {
        HostInfo {
            id: self.id.clone(),
            friendly_name: self.friendly_name.clone(),
            version: VERSION.to_owned(),
            labels: self.labels.reading().clone(),
            uptime: self.started.elapsed(),
        }
    }

    fn inventory(&self) -> Inventory {
        let components = self
            .component_ids()
            .into_iter()
            .filter_map(|id| self.component(&id))
            .map(|c| {
                let deployment = self.deployment(c.id());
                ComponentInfo {
                    id: c.id().to_owned(),
                    image_ref: deployment
                        .as_ref()
                        .map_or_else(|| format!("sha256:{}", c.digest()), |d| d.image_ref.clone()),
                    digest: c.digest().to_owned(),
                    max_instances: c.max_concurrent(),
                    annotations: deployment.map(|d| d.annotations).unwrap_or_default(),
                    imports: c.link_imports().to_vec(),
                }
            })
            .collect();
        let providers = self
            .provider_list()
            .into_iter()
            .map(|(id, reference, annotations)| ProviderInfo {
                id,
                reference,
                annotations,
            })
            .collect();
        Inventory {
            host: self.info(),
            components,
            providers,
        }
    }

    fn put_label(&self, key: &str, value: &str) -> Result<(), LabelError> {
        identity::check_label_key(key)?;
        self.labels
            .writing()
            .insert(key.to_owned(), value.to_owned());
        Ok(())
    }

    fn delete_label(&self, key: &str) -> Result<bool, LabelError> {
        identity::check_label_key(key)?;
        Ok(self.labels.writing().remove(key).is_some())
    }

    fn request_stop(&self, drain: Option<Duration>) {
        self.stop.send_replace(Some(drain));
    }

    async fn scale_component(&self, req: ScaleRequest) -> Result<Scaled, ScaleError> {
        self.scale(req).await
    }

    async fn update_component(&self, req: UpdateRequest) -> Result<String, ScaleError> {
        self.update(req).await
    }

    fn put_registry_credentials(&self, credentials: BTreeMap<String, RegistryAuth>) {
        match &self.oci {
            Some(puller) => {
                for (registry, auth) in credentials {
                    puller.credentials().put(&registry, auth);
                }
            }
            None => {
                tracing::warn!("registry credentials put, but this host pulls from no registry")
            }
        }
    }

    async fn start_provider(&self, req: StartProviderRequest) -> Result<(), ProviderError> {
        Host::start_provider(self, req).await
    }

    fn stop_provider(&self, id: &str) -> bool {
        Host::stop_provider(self, id)
    }

    async fn provider_health(&self) -> Vec<(String, Result<(), String>)> {
        let mut out = Vec::new();
        for (id, _, _) in self.provider_list() {
            if let Some(provider) = self.provider(&id) {
                out.push((id, provider.capability.health().await));
            }
        }
        out
    }

    fn provider_bid(
        &self,
        provider_id: &str,
        constraints: &BTreeMap<String, String>,
    ) -> Result<(), Decline> {
        self.labels_match(constraints)?;
        if self.provider(provider_id).is_some() {
            return Err(Decline(format!(
                "provider `{provider_id}` runs here already"
            )));
        }
        Ok(())
    }

    fn set_links(&self, links: Vec<LinkBinding>) {
        Host::set_links(self, links);
    }

    fn spy(&self, component: &str, ttl: Duration) {
        Host::spy(self, component, ttl);
    }

    async fn invoke(&self, call: Call) -> Result<Vec<String>, call::Error> {
        let Some(component) = self.component(&call.target) else {
            return Err(call::Error::Failed(format!(
                "component `{}` is not running on host {}",
                call.target, self.id
            )));
        };
        component
            .call_export_text(
                &call.interface,
                &call.function,
                &call.args,
                call.timeout,
                call.results,
            )
            .await
            .map_err(|e| call::Error::Failed(e.to_string()))
    }

    fn bid(
        &self,
        component_id: &str,
        image_ref: &str,
        constraints: &BTreeMap<String, String>,
    ) -> Result<Bid, Decline> {
        self.labels_match(constraints)?;
        if !image_ref.starts_with("file://")
            && let Err(e) = self.supply.check(image_ref)
        {
            return Err(Decline(e.to_string()));
        }
        if self.component(component_id).is_some() {
            return Err(Decline(format!("`{component_id}` runs here already")));
        }
        let config = self.runtime.config();
        let promised: u64 = self
            .component_ids()
            .iter()
            .filter_map(|id| self.component(id))
            .map(|c| u64::from(c.max_concurrent().unwrap_or(1)))
            .sum();
        let free = u64::from(config.max_instances).saturating_sub(promised);
        Ok(Bid {
            free_instance_slots: free,
            memory_available: free.saturating_mul(config.max_memory_bytes),
            image_cached: self.image_cached(image_ref),
        })
    }
}

impl Host {
    /// Whether every constraint equals one of the host's labels; if not,
    /// which does not.
    fn labels_match(&self, constraints: &BTreeMap<String, String>) -> Result<(), Decline> {
        let labels = self.labels.reading();
        for (k, v) in constraints {
            match labels.get(k) {
                Some(have) if have == v => {}
                Some(have) => return Err(Decline(format!("has {k}={have}, not {k}={v}"))),
                None => return Err(Decline(format!("has no label {k}"))),
            }
        }
        Ok(())
    }
}
