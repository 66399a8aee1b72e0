//! `builtin:http-server` (alias `wasmcloud+builtin://http-server`): one
//! listener per link from the provider to a component, at the address the
//! link's source config names.

use crate::{ConnectionLimits, HttpServer, HttpServerConfig, ListenLimits, Route, Router};
use async_trait::async_trait;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use weft_capability::http::{HttpListener, IncomingHandler};
use weft_capability::provider::{self, Capability, Config, ProviderKind, Subscription, only_keys};
use weft_capability::settings;

/// The provider kind. Provider config keys: `default_address` (used by
/// links that name no `address`), `max_content_len` (largest request body,
/// in bytes; default 10 MiB), `header_timeout_ms` (longest a client may
/// take to send a request's head, and to start the next one on a kept-alive
/// connection; default 75,000, longer than proxies keep idle connections), `max_connections` and
/// `max_connections_per_client` (connections each listener keeps open, in
/// all and from one client address; default 10,000 or half the process's
/// file descriptor limit, and a quarter of that per client). Link source
/// config keys: `address`, and `reuse_port` (`true`: share the port with
/// other hosts on this machine that ask the same; the kernel spreads
/// connections).
#[derive(Debug, Default)]
pub struct HttpServerKind;

/// The config `builtin:http-server` takes.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    default_address: Option<String>,
    max_content_len: Option<usize>,
    header_timeout_ms: Option<u64>,
    max_connections: Option<usize>,
    max_connections_per_client: Option<usize>,
}

#[async_trait]
impl ProviderKind for HttpServerKind {
    async fn start(&self, config: &Config) -> Result<Capability, provider::Error> {
        let settings: Settings = settings::read(config)?;
        let default_address = settings
            .default_address
            .map(|a| parse_address("default_address", &a))
            .transpose()?;
        let defaults = HttpServerConfig::default();
        let max_body_bytes = settings.max_content_len.unwrap_or(defaults.max_body_bytes);
        let header_timeout = settings
            .header_timeout_ms
            .map_or(defaults.limits.header_timeout, Duration::from_millis);
        let (max, max_per_client) = (
            settings.max_connections,
            settings.max_connections_per_client,
        );
        let connections = match (max, max_per_client) {
            (None, None) => defaults.limits.connections,
            (Some(max), None) => ConnectionLimits::with_max(max),
            (max, Some(per)) => ConnectionLimits {
                max: max.unwrap_or(defaults.limits.connections.max),
                max_per_client: per,
            },
        };
        for (key, n) in [
            ("header_timeout_ms", header_timeout.as_millis()),
            ("max_connections", connections.max as u128),
            (
                "max_connections_per_client",
                connections.max_per_client as u128,
            ),
        ] {
            if n == 0 {
                return Err(provider::Error::BadValue {
                    key: key.into(),
                    reason: "must be at least 1".into(),
                });
            }
        }
        if connections.max_per_client > connections.max {
            return Err(provider::Error::BadValue {
                key: "max_connections_per_client".into(),
                reason: format!(
                    "{} is more than max_connections ({}); one client can never have more than all",
                    connections.max_per_client, connections.max
                ),
            });
        }
        Ok(Capability::HttpServer(Arc::new(Listeners {
            default_address,
            max_body_bytes,
            limits: ListenLimits {
                header_timeout,
                connections,
            },
        })))
    }
}

/// A running `builtin:http-server` instance.
struct Listeners {
    default_address: Option<SocketAddr>,
    max_body_bytes: usize,
    limits: ListenLimits,
}

impl HttpListener for Listeners {
    fn serve(
        &self,
        link_config: &BTreeMap<String, String>,
        handler: Arc<dyn IncomingHandler>,
    ) -> Result<Subscription, provider::Error> {
        only_keys(link_config, &["address", "reuse_port"])?;
        let reuse_port = match link_config.get("reuse_port").map(String::as_str) {
            None | Some("false") => false,
            Some("true") => true,
            Some(other) => {
                return Err(provider::Error::BadValue {
                    key: "reuse_port".into(),
                    reason: format!("`{other}` is not `true` or `false`"),
                });
            }
        };
        let address = match link_config.get("address") {
            Some(a) => parse_address("address", a)?,
            None => self
                .default_address
                .ok_or_else(|| provider::Error::MissingKey("address".into()))?,
        };
        let router = Arc::new(Router::default());
        router.add(Route::new("link", handler));
        let config = HttpServerConfig {
            address,
            max_body_bytes: self.max_body_bytes,
            reuse_port,
            limits: self.limits,
        };
        let server = HttpServer::bind_now(config, router)
            .map_err(|e| provider::Error::Backend(e.to_string()))?;
        tracing::info!(address = %server.local_addr(), "http-server listening for a link");
        Ok(Subscription::new(move || drop(server)))
    }
}

fn parse_address(key: &str, value: &str) -> Result<SocketAddr, provider::Error> {
    value.parse().map_err(|_| provider::Error::BadValue {
        key: key.into(),
        reason: format!("`{value}` is not an address like 127.0.0.1:8080"),
    })
}
