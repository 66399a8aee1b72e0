//! One Weft host: the components it runs and the capabilities they are bound to.
//!
//! The host owns the runtime and the compile cache and keeps a table of
//! started components; it names no provider and no transport. A composition
//! root (the `weft` CLI) hands it concrete capabilities.
//!
//! ```no_run
//! # async fn demo(wasm: Vec<u8>) -> Result<(), weft_host::Error> {
//! use weft_host::HostBuilder;
//! use weft_runtime::ComponentSpec;
//! let host = HostBuilder::new().build()?;
//! let component = host.start_component(&wasm, ComponentSpec::new("hello")).await?;
//! assert_eq!(host.component("hello").map(|c| c.id().to_owned()), Some("hello".into()));
//! # drop(component); Ok(()) }
//! ```
#![deny(missing_docs)]

mod api;
mod bind;
mod guard;
mod identity;
mod metered;
mod metrics;
mod providers;
mod scale;
mod scope;
mod spy;
mod state;
mod supply;

pub use api::{Bid, ComponentInfo, Decline, HostApi, HostInfo, Inventory, ProviderInfo};
pub use identity::{LabelError, RESERVED_LABEL_PREFIX};
pub use providers::{LinkBinding, ProviderError, StartProviderRequest};
pub use scale::{ScaleError, ScaleRequest, Scaled, UpdateRequest};
pub use spy::MessageTap;
/// Credentials for one OCI registry, as `registry.put` gives them.
pub use weft_oci::Auth as RegistryAuth;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};
use tokio::sync::watch;
use weft_capability::call::RemoteCalls;
use weft_capability::sync::{Locked, Shared};
use weft_runtime::{CompileCache, Component, ComponentSpec, Runtime, RuntimeConfig};

/// The Weft version hosts report.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Errors of host operations, naming the component concerned.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The runtime refused (bad wasm, pool, linking).
    #[error(transparent)]
    Runtime(#[from] weft_runtime::Error),
    /// A component with this id already runs here.
    #[error("a component with id `{0}` is already running on this host")]
    AlreadyRunning(String),
    /// Compiling on a blocking thread failed to complete.
    #[error("compiling component `{component}` was interrupted: {reason}")]
    Interrupted {
        /// The component's id.
        component: String,
        /// What happened to the compile task.
        reason: String,
    },
}

/// Builds a [`Host`].
#[derive(Default)]
pub struct HostBuilder {
    provider_kinds: providers::Kinds,
    runtime: RuntimeConfig,
    cache_dir: Option<PathBuf>,
    labels: BTreeMap<String, String>,
    friendly_name: Option<String>,
    allow_file_refs: bool,
    remote: Option<Arc<dyn RemoteCalls>>,
    oci: Option<Arc<weft_oci::Puller>>,
    tap: Option<Arc<dyn spy::MessageTap>>,
    supply: supply::SupplyPolicy,
    reserved: weft_capability::messaging::Reserved,
}

impl HostBuilder {
    /// A builder with default runtime sizing and no compile cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sizes the runtime.
    pub fn with_runtime_config(mut self, config: RuntimeConfig) -> Self {
        self.runtime = config;
        self
    }

    /// Keeps compiled components in `dir`.
    pub fn with_cache_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cache_dir = Some(dir.into());
        self
    }

    /// Adds label `key=value` (auctions match constraints against labels).
    /// Machine labels (`hostcore.*`) are refused.
    pub fn with_label(
        mut self,
        key: impl Into<String>,
        value: impl Into<String>,
    ) -> Result<Self, LabelError> {
        let key = key.into();
        identity::check_label_key(&key)?;
        self.labels.insert(key, value.into());
        Ok(self)
    }

    /// Lets `scale` run `file:///…` references (off by default: a control
    /// plane could otherwise make the host read any file it can).
    pub fn with_file_refs(mut self, allow: bool) -> Self {
        self.allow_file_refs = allow;
        self
    }

    /// Lets `start_provider` start instances of `kind` under `reference`
    /// (`builtin:keyvalue-redis`, …). The composition root registers every
    /// kind the binary has.
    pub fn with_provider_kind(
        mut self,
        reference: impl Into<String>,
        kind: Arc<dyn weft_capability::provider::ProviderKind>,
    ) -> Self {
        self.provider_kinds.insert(reference.into(), kind);
        self
    }

    /// Hands what watched components send to `tap` (`weft spy --component`).
    pub fn with_message_tap(mut self, tap: Arc<dyn spy::MessageTap>) -> Self {
        self.tap = Some(tap);
        self
    }

    /// Runs OCI images only from these registries (`host[:port]`, as in
    /// the reference); an empty list (the default) allows any.
    pub fn with_allowed_registries(mut self, registries: Vec<String>) -> Self {
        self.supply.registries = registries;
        self
    }

    /// Runs OCI images only by digest (`…@sha256:…`), never by tag.
    pub fn with_digests_required(mut self, required: bool) -> Self {
        self.supply.require_digest = required;
        self
    }

    /// Pulls `oci://` references with `puller` (its store and credentials;
    /// `registry.put` adds to them). Without one, only `file://` references
    /// run, and only when allowed.
    pub fn with_oci(mut self, puller: Arc<weft_oci::Puller>) -> Self {
        self.oci = Some(puller);
        self
    }

    /// Carries calls from components here to components on other hosts
    /// (links whose target runs elsewhere). Without it, such links bind
    /// nothing and calls through them fail saying so.
    pub fn with_remote_calls(mut self, calls: Arc<dyn RemoteCalls>) -> Self {
        self.remote = Some(calls);
        self
    }

    /// Keeps `reserved` from components' messaging, whatever provider
    /// serves it (default: the subjects every Weft lattice uses; add a
    /// custom control prefix here).
    pub fn with_reserved_subjects(
        mut self,
        reserved: weft_capability::messaging::Reserved,
    ) -> Self {
        self.reserved = reserved;
        self
    }

    /// Names the host for people (default: a generated `adjective-noun-N`).
    pub fn with_friendly_name(mut self, name: impl Into<String>) -> Self {
        self.friendly_name = Some(name.into());
        self
    }

    /// Creates the engine and the host.
    pub fn build(self) -> Result<Host, Error> {
        let runtime = Runtime::new(self.runtime)?;
        let cache = match self.cache_dir {
            Some(dir) => CompileCache::new(dir),
            None => CompileCache::disabled(),
        };
        let mut labels = identity::machine_labels();
        labels.extend(self.labels);
        let (stop, _) = watch::channel(None);
        Ok(Host {
            id: identity::new_host_id(),
            friendly_name: self
                .friendly_name
                .unwrap_or_else(identity::new_friendly_name),
            started: Instant::now(),
            labels: RwLock::new(labels),
            stop,
            allow_file_refs: self.allow_file_refs,
            remote: self.remote,
            oci: self.oci,
            tap: self.tap,
            supply: self.supply,
            spied: RwLock::default(),
            provider_kinds: self.provider_kinds,
            placed: RwLock::default(),
            inbound: std::sync::Mutex::default(),
            draining: AtomicBool::new(false),
            images: RwLock::default(),
            runtime,
            cache,
            linked: std::sync::Mutex::default(),
            meters: metrics::HostMeters::default(),
            guard: Arc::new(guard::Guard::new(self.reserved)),
        })
    }
}

/// A host: a runtime, a compile cache and the components started on it.
pub struct Host {
    id: String,
    friendly_name: String,
    started: Instant,
    labels: RwLock<BTreeMap<String, String>>,
    /// `Some(drain)` once a stop was requested.
    stop: watch::Sender<Option<Option<Duration>>>,
    allow_file_refs: bool,
    remote: Option<Arc<dyn RemoteCalls>>,
    provider_kinds: providers::Kinds,
    /// What runs here and how it is wired: changed together.
    placed: RwLock<state::Placed>,
    /// Providers calling components here, by link.
    inbound: std::sync::Mutex<bind::Inbound>,
    /// Set by [`Host::drain`]: no inbound binding starts again.
    draining: AtomicBool,
    /// The digest each image reference resolved to when it was last loaded.
    images: RwLock<HashMap<String, String>>,
    /// Pulls `oci://` references (none: this host runs files only).
    oci: Option<Arc<weft_oci::Puller>>,
    /// Where watched components' messages go, if anywhere.
    tap: Option<Arc<dyn spy::MessageTap>>,
    /// Which OCI images it agrees to run.
    supply: supply::SupplyPolicy,
    /// Components being watched, and until when.
    spied: RwLock<HashMap<String, Instant>>,
    runtime: Runtime,
    cache: CompileCache,
    /// Components given links at the last rebind (their links must be
    /// cleared when theirs go).
    linked: std::sync::Mutex<std::collections::HashSet<String>>,
    /// Pulls, loads and the meters of links, for [`Host::metrics`].
    meters: metrics::HostMeters,
    /// What components may not reach, and what they were refused.
    guard: Arc<guard::Guard>,
}

impl Host {
    /// Compiles (or loads from cache) and starts `wasm` as `spec.id`.
    ///
    /// Compilation runs on a blocking thread so the host keeps serving.
    pub async fn start_component(
        &self,
        wasm: &[u8],
        spec: ComponentSpec,
    ) -> Result<Arc<Component>, Error> {
        if self.component(&spec.id).is_some() {
            return Err(Error::AlreadyRunning(spec.id));
        }
        let component = self.load(wasm, spec).await?;
        self.install(component, false)
    }

    /// Drops the compiled code the host keeps in memory to share between
    /// copies of a component (running components keep theirs): the next
    /// start reads the compile cache on disk or compiles. For cold-start
    /// benchmarks.
    pub fn forget_compiled(&self) {
        self.cache.forget_loaded();
    }

    /// Compiles and starts `wasm` as `spec.id`, then puts it in place of the
    /// running component of that id (whose invocations finish on it).
    pub async fn replace_component(
        &self,
        wasm: &[u8],
        spec: ComponentSpec,
    ) -> Result<Arc<Component>, Error> {
        let component = self.load(wasm, spec).await?;
        self.install(component, true)
    }

    /// Makes a loaded component the one running under its id; with
    /// `replace`, in place of the running one.
    pub(crate) fn install(
        &self,
        component: Arc<Component>,
        replace: bool,
    ) -> Result<Arc<Component>, Error> {
        let id = component.id().to_owned();
        let mut placed = self.placed_mut();
        if !replace && placed.components.contains_key(&id) {
            return Err(Error::AlreadyRunning(id));
        }
        placed.components.insert(id.clone(), component.clone());
        self.meters.loaded(component.origin());
        tracing::info!(component = %id, digest = %component.digest(), origin = ?component.origin(), replaced = replace, "component started");
        Ok(component)
    }

    /// Compiles (or loads from cache) on a blocking thread.
    pub(crate) async fn load(
        &self,
        wasm: &[u8],
        spec: ComponentSpec,
    ) -> Result<Arc<Component>, Error> {
        let runtime = self.runtime.clone();
        let cache = self.cache.clone();
        let wasm = wasm.to_vec();
        let id = spec.id.clone();
        let loaded = self
            .blocking(&id, move || Component::load(&runtime, &cache, &wasm, spec))
            .await?;
        Ok(Arc::new(loaded))
    }

    /// The component of wasm digest `digest` (hex) from the compile cache
    /// alone, if it is there.
    pub(crate) async fn load_cached(
        &self,
        digest: &str,
        spec: ComponentSpec,
    ) -> Result<Option<Arc<Component>>, Error> {
        let runtime = self.runtime.clone();
        let cache = self.cache.clone();
        let digest = digest.to_owned();
        let id = spec.id.clone();
        let loaded = self
            .blocking(&id, move || {
                Component::load_cached(&runtime, &cache, &digest, spec)
            })
            .await?;
        Ok(loaded.map(Arc::new))
    }

    /// Runs a load on a blocking thread (compiling takes a while).
    async fn blocking<T: Send + 'static>(
        &self,
        id: &str,
        load: impl FnOnce() -> Result<T, weft_runtime::Error> + Send + 'static,
    ) -> Result<T, Error> {
        Ok(tokio::task::spawn_blocking(load)
            .await
            .map_err(|e| Error::Interrupted {
                component: id.to_owned(),
                reason: e.to_string(),
            })??)
    }

    pub(crate) fn deployment(&self, id: &str) -> Option<scale::Deployment> {
        self.placed().deployments.get(id).cloned()
    }

    /// What runs here, to read (never held across an await).
    pub(crate) fn placed(&self) -> std::sync::RwLockReadGuard<'_, state::Placed> {
        self.placed.reading()
    }

    /// What runs here, to change (never held across an await).
    pub(crate) fn placed_mut(&self) -> std::sync::RwLockWriteGuard<'_, state::Placed> {
        self.placed.writing()
    }

    /// Remembers what `image_ref` resolved to, for auctions.
    pub(crate) fn remember_image(&self, image_ref: &str, digest: &str) {
        self.images
            .writing()
            .insert(image_ref.to_owned(), digest.to_owned());
    }

    /// The digest (hex) `image_ref` resolved to when it was last loaded here.
    pub(crate) fn known_digest(&self, image_ref: &str) -> Option<String> {
        self.images.reading().get(image_ref).cloned()
    }

    /// Whether starting `image_ref` would skip compiling: it was loaded here
    /// and a component of that digest runs, or its artifact is in the cache.
    pub fn image_cached(&self, image_ref: &str) -> bool {
        let Some(digest) = self.known_digest(image_ref) else {
            return false;
        };
        let running = self
            .placed()
            .components
            .values()
            .any(|c| c.digest() == digest);
        running || self.cache.contains(self.runtime.engine(), &digest)
    }

    /// The running component called `id`.
    pub fn component(&self, id: &str) -> Option<Arc<Component>> {
        self.placed().components.get(id).cloned()
    }

    /// Stops `id`; running invocations finish. Returns whether it was running.
    pub fn stop_component(&self, id: &str) -> bool {
        // Where it came from goes with it, whoever started it.
        let stopped = {
            let mut placed = self.placed_mut();
            placed.deployments.remove(id);
            placed.components.remove(id).is_some()
        };
        if stopped {
            // Providers stop calling it.
            self.rebind();
        }
        stopped
    }

    /// Ids of the running components, sorted.
    pub fn component_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.placed().components.keys().cloned().collect();
        ids.sort();
        ids
    }

    /// The runtime all components share.
    pub fn runtime(&self) -> &Runtime {
        &self.runtime
    }

    /// The host's lattice-unique id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Stops taking work and waits (at most `within`) for the invocations
    /// in flight to finish: HTTP listeners stop accepting and subscriptions
    /// end, so providers call no component any more. Returns how many
    /// invocations were still running when it gave up (0: all finished).
    pub async fn drain(&self, within: Duration) -> usize {
        self.draining.store(true, Ordering::Release);
        self.inbound.locked().clear();
        let deadline = Instant::now() + within;
        loop {
            let running: usize = self
                .placed()
                .components
                .values()
                .map(|c| c.in_flight())
                .sum();
            if running == 0 || Instant::now() >= deadline {
                return running;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Resolves when a stop has been requested (by [`HostApi::request_stop`]),
    /// with the drain time asked for.
    pub async fn stop_requested(&self) -> Option<Duration> {
        let mut rx = self.stop.subscribe();
        match rx.wait_for(Option::is_some).await {
            Ok(drain) => drain.flatten(),
            // The sender lives in `self`, so this cannot close while we wait.
            Err(_) => None,
        }
    }
}
