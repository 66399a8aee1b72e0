//! The composition root: the one place a Weft host is put together and
//! joined to a lattice.
//!
//! [`LatticeHost::start`] takes a [`weft_host::HostBuilder`] (runtime
//! sizing, labels, cache, registry policy) and a NATS connection, registers
//! every builtin provider kind ([`Builtins`]), lets links reach components
//! on other hosts and the spy see messages, answers the `wasmbus.ctl.v1`
//! control protocol, serves the app API, takes part in reconciling app
//! manifests, announces itself and beats. `weft host`, `weft up`, the
//! integration tests and the benches all run hosts this way, so what they
//! test and measure is the product.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use weft_lattice_host::{LatticeHost, LatticeHostConfig};
//! use weft_lattice_protocol::Subjects;
//! let url = "nats://127.0.0.1:4222";
//! let nats = async_nats::connect(url).await?;
//! let subjects = Subjects::new("wasmbus.ctl", "default")?;
//! let host = LatticeHost::start(LatticeHostConfig::new(nats, url, subjects)).await?;
//! let drain = host.stop_requested().await;
//! host.stop("host.stop request", drain.unwrap_or_default()).await;
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

mod builtins;

pub use builtins::Builtins;

use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;
use weft_apps::reconciler::Reconciler;
use weft_apps::server::ApiServer;
use weft_capability::messaging::Reserved;
use weft_capability::provider::redacted;
use weft_host::{Host, HostApi, HostBuilder};
use weft_jetstream::bucket::Placement;
use weft_lattice_nats::{
    CtlServer, Endpoints, Events, LatticeState, NatsRemoteCalls, NatsTap, StateError, ctl,
};
use weft_lattice_protocol::payload::{HostStarted, HostStopped};
use weft_lattice_protocol::{LatticeEvent, Subjects};

/// How long [`LatticeHost::stop`] waits for NATS to take the last events.
const LAST_WORDS: Duration = Duration::from_secs(2);

/// Everything a lattice host is started from.
pub struct LatticeHostConfig {
    /// A connection to the lattice's NATS (its control plane: `connect_to`
    /// with `Plane::Control`).
    pub nats: async_nats::Client,
    /// The NATS server(s) it connected to, as the user gave them: reported
    /// to control clients (credentials removed) and, without
    /// [`apps_nats`](Self::apps_nats), where components' messaging goes.
    pub server: String,
    /// The lattice's subjects (control prefix and lattice name).
    pub subjects: Subjects,
    /// Where the lattice's buckets live (JetStream domain, replicas).
    pub placement: Placement,
    /// The NATS account of components' messaging, as a URL with its
    /// credentials; `None` uses [`server`](Self::server), one account.
    pub apps_nats: Option<String>,
    /// How often `host_heartbeat` goes out.
    pub heartbeat: Duration,
    /// Whether to serve the app (wadm) API.
    pub app_api: bool,
    /// Whether to compete for the reconciler's lease and drive app
    /// manifests when holding it.
    pub reconciler: bool,
    /// The host itself: runtime sizing, labels, cache, registry policy.
    /// The builtin provider kinds, remote calls, the message tap and the
    /// reserved subjects are added here.
    pub host: HostBuilder,
}

impl LatticeHostConfig {
    /// A host on `subjects`' lattice over `nats` (connected to `server`),
    /// with the defaults of `weft host`: a beat a second, the app API and
    /// the reconciler on, buckets in the server's own JetStream domain.
    pub fn new(nats: async_nats::Client, server: impl Into<String>, subjects: Subjects) -> Self {
        Self {
            nats,
            server: server.into(),
            subjects,
            placement: Placement::default(),
            apps_nats: None,
            heartbeat: Duration::from_secs(1),
            app_api: true,
            reconciler: true,
            host: HostBuilder::new(),
        }
    }
}

/// Why a lattice host could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The host itself (its runtime) could not be made.
    #[error("could not create the host: {0}")]
    Host(#[from] weft_host::Error),
    /// The lattice's buckets could not be opened.
    #[error(
        "could not open the lattice state in JetStream; is nats-server running with -js (on a \
         leaf node: is --js-domain the hub's domain)? {0}"
    )]
    State(#[from] StateError),
    /// The control subjects could not be subscribed to.
    #[error("could not answer the control protocol: {0}")]
    Serve(#[from] ctl::ServeError),
    /// The app API could not be served.
    #[error("could not serve the app API: {0}")]
    Apps(String),
    /// The reconciler could not start.
    #[error("could not start the reconciler: {0}")]
    Reconciler(String),
}

/// A host on a lattice; it stops answering when dropped (as if its process
/// died) or, gracefully, with [`LatticeHost::stop`].
pub struct LatticeHost {
    host: Arc<Host>,
    nats: async_nats::Client,
    events: Events,
    ctl: Option<CtlServer>,
    apps: Option<ApiServer>,
    reconciler: Option<Reconciler>,
    heartbeat: JoinHandle<()>,
}

impl LatticeHost {
    /// Builds the host, joins it to the lattice and announces it
    /// (`host_started`); returns once it answers control requests.
    pub async fn start(config: LatticeHostConfig) -> Result<Self, StartError> {
        let LatticeHostConfig {
            nats,
            server,
            subjects,
            placement,
            apps_nats,
            heartbeat,
            app_api,
            reconciler,
            host,
        } = config;
        // Components' messaging never reaches the lattice's subjects, a
        // custom control prefix included.
        let reserved = Reserved::default().with_prefix(subjects.prefix());
        let builtins = Builtins {
            messaging_url: Some(apps_nats.unwrap_or_else(|| server.clone())),
            reserved: reserved.clone(),
        };
        let host = Arc::new(
            builtins
                .register(host)
                .with_reserved_subjects(reserved)
                // Links to components on other hosts call them over NATS.
                .with_remote_calls(Arc::new(NatsRemoteCalls::new(
                    nats.clone(),
                    subjects.clone(),
                )))
                .with_message_tap(Arc::new(NatsTap::new(nats.clone(), subjects.clone())))
                .build()?,
        );
        let events = Events::new(nats.clone(), subjects.clone(), host.id());
        let endpoints = Endpoints {
            lattice: subjects.lattice().to_owned(),
            ctl_host: redacted(&server),
            rpc_host: redacted(&server),
        };
        let state = LatticeState::open_in(nats.clone(), subjects.lattice(), &placement).await?;
        let ctl = ctl::serve(
            nats.clone(),
            subjects.clone(),
            host.clone(),
            endpoints,
            events.clone(),
            state,
        )
        .await?;
        // Every host serves the app API; one at a time reconciles.
        let apps = match app_api {
            true => Some(
                ApiServer::start(nats.clone(), subjects.lattice(), &placement)
                    .await
                    .map_err(StartError::Apps)?,
            ),
            false => None,
        };
        let reconciler = match reconciler {
            true => Some(
                Reconciler::start(nats.clone(), subjects.clone(), host.id(), &placement)
                    .await
                    .map_err(StartError::Reconciler)?,
            ),
            false => None,
        };
        let info = host.info();
        let started = HostStarted {
            labels: info.labels,
            friendly_name: info.friendly_name,
            version: info.version,
            uptime_seconds: 0,
        };
        events.publish(&LatticeEvent::HostStarted(started)).await;
        let heartbeat = events.heartbeat(host.clone(), heartbeat);
        Ok(Self {
            host,
            nats,
            events,
            ctl: Some(ctl),
            apps,
            reconciler,
            heartbeat,
        })
    }

    /// The host (to start components on directly, read its inventory…).
    pub fn host(&self) -> &Arc<Host> {
        &self.host
    }

    /// The host's id.
    pub fn id(&self) -> &str {
        self.host.id()
    }

    /// Waits for a `host.stop` request; gives the drain time it asked for.
    pub async fn stop_requested(&self) -> Option<Duration> {
        self.host.stop_requested().await
    }

    /// Leaves the lattice gracefully: hands the reconciler's lease over,
    /// stops taking work, lets invocations in flight finish for up to
    /// `drain`, says `host_stopped` (with `reason`) and flushes. Returns how
    /// many invocations were still running when it gave up on them.
    pub async fn stop(mut self, reason: &str, drain: Duration) -> usize {
        if let Some(r) = self.reconciler.take() {
            r.stop().await;
        }
        if let Some(apps) = self.apps.take() {
            apps.stop();
        }
        self.ctl = None;
        self.heartbeat.abort();
        let unfinished = self.host.drain(drain).await;
        if unfinished > 0 {
            tracing::warn!(
                "{unfinished} invocations were still running after {drain:?}; stopping anyway"
            );
        }
        let stopped = HostStopped {
            labels: self.host.info().labels,
            reason: reason.to_owned(),
        };
        self.events
            .publish(&LatticeEvent::HostStopped(stopped))
            .await;
        // With NATS gone the last event cannot be delivered; do not wait for ever.
        match tokio::time::timeout(LAST_WORDS, self.nats.flush()).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!("could not flush the last events to NATS: {e}"),
            Err(_) => tracing::warn!("NATS did not take the last events within {LAST_WORDS:?}"),
        }
        unfinished
    }
}

impl Drop for LatticeHost {
    fn drop(&mut self) {
        self.heartbeat.abort();
    }
}
