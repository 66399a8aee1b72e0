//! `builtin:http-client`: `wasi:http/outgoing-handler` for components, to
//! the destinations each link allows and nowhere else.
//!
//! A link from a component to the provider carries the policy in its target
//! config: `allowed_hosts` (see [`policy`] for the patterns). A request to
//! anything else — or from a link with no `allowed_hosts` — is refused with
//! a guest-visible `HTTP-request-denied`, and the reason is logged.
//! HTTPS uses the system's CA certificates (Debian: `ca-certificates`).
//!
//! ```no_run
//! # async fn demo() -> Result<(), weft_capability::provider::Error> {
//! use std::collections::BTreeMap;
//! use weft_capability::provider::{Capability, ProviderKind};
//! use weft_http_client::HttpClientKind;
//!
//! let Capability::HttpClient(provider) = HttpClientKind.start(&BTreeMap::new()).await? else {
//!     return Ok(());
//! };
//! let link = BTreeMap::from([("allowed_hosts".to_owned(), "api.example.com".to_owned())]);
//! let _client = provider.client(&link)?;
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

mod client;
pub mod policy;

pub use client::PolicyClient;
pub use policy::Policy;

use async_trait::async_trait;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use weft_capability::http_client::{HttpClient, HttpClientProvider};
use weft_capability::provider::{self, Capability, Config, ProviderKind, only_keys};
use weft_capability::settings;
use weft_capability::sync::Locked;

/// The provider kind. Provider config keys: `connect_timeout_ms` and
/// `first_byte_timeout_ms` (defaults for requests that set none; 10 s and
/// 60 s). Link target config keys: `allowed_hosts`.
#[derive(Debug, Default)]
pub struct HttpClientKind;

/// Timeouts for requests that do not set their own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// For the TCP (and TLS) connection.
    pub connect: Duration,
    /// For the response head.
    pub first_byte: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(10),
            first_byte: Duration::from_secs(60),
        }
    }
}

/// The config `builtin:http-client` takes.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    connect_timeout_ms: Option<u64>,
    first_byte_timeout_ms: Option<u64>,
}

/// `ms` (the value of `key`) as a duration; zero is refused.
fn millis(key: &str, ms: Option<u64>) -> Result<Option<Duration>, provider::Error> {
    match ms {
        Some(0) => Err(provider::Error::BadValue {
            key: key.into(),
            reason: "`0` is not a positive number of milliseconds".into(),
        }),
        ms => Ok(ms.map(Duration::from_millis)),
    }
}

#[async_trait]
impl ProviderKind for HttpClientKind {
    async fn start(&self, config: &Config) -> Result<Capability, provider::Error> {
        let settings: Settings = settings::read(config)?;
        let defaults = Timeouts::default();
        let timeouts = Timeouts {
            connect: millis("connect_timeout_ms", settings.connect_timeout_ms)?
                .unwrap_or(defaults.connect),
            first_byte: millis("first_byte_timeout_ms", settings.first_byte_timeout_ms)?
                .unwrap_or(defaults.first_byte),
        };
        Ok(Capability::HttpClient(Arc::new(HttpClients {
            timeouts,
            tls: Arc::new(client::tls_config().map_err(provider::Error::Backend)?),
            by_config: Mutex::default(),
        })))
    }
}

/// A running `builtin:http-client` instance: one client per distinct link
/// config, kept so that an unchanged link keeps the very same client.
struct HttpClients {
    timeouts: Timeouts,
    tls: Arc<tokio_rustls::rustls::ClientConfig>,
    by_config: Mutex<HashMap<BTreeMap<String, String>, Arc<PolicyClient>>>,
}

impl HttpClientProvider for HttpClients {
    fn client(
        &self,
        link_config: &BTreeMap<String, String>,
    ) -> Result<Arc<dyn HttpClient>, provider::Error> {
        only_keys(link_config, &["allowed_hosts"])?;
        let mut clients = self.by_config.locked();
        if let Some(client) = clients.get(link_config) {
            return Ok(client.clone());
        }
        let policy = Policy::parse(link_config.get("allowed_hosts").map_or("", String::as_str))?;
        let client = Arc::new(PolicyClient::new(policy, self.timeouts, self.tls.clone()));
        clients.insert(link_config.clone(), client.clone());
        Ok(client)
    }
}
