//! `builtin:http-server` (alias `wasmcloud+builtin://http-server`): one
//! listener per link from the provider to a component, at the address the
//! link's source config names.

use crate::{HttpServer, HttpServerConfig, Route, Router};
use async_trait::async_trait;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use weft_capability::http::{HttpListener, IncomingHandler};
use weft_capability::provider::{self, Capability, ProviderKind, Subscription, only_keys};

/// The provider kind. Provider config keys: `default_address` (used by
/// links that name no `address`), `max_content_len` (largest request body,
/// in bytes; default 10 MiB). Link source config keys: `address`, and
/// `reuse_port` (`true`: share the port with other hosts on this machine
/// that ask the same; the kernel spreads connections).
#[derive(Debug, Default)]
pub struct HttpServerKind;

#[async_trait]
impl ProviderKind for HttpServerKind {
    async fn start(
        &self,
        config: &BTreeMap<String, String>,
    ) -> Result<Capability, provider::Error> {
        only_keys(config, &["default_address", "max_content_len"])?;
        let default_address = config
            .get("default_address")
            .map(|a| parse_address("default_address", a))
            .transpose()?;
        let max_body_bytes = match config.get("max_content_len") {
            Some(v) => v.parse().map_err(|_| provider::Error::BadValue {
                key: "max_content_len".into(),
                reason: format!("`{v}` is not a number of bytes"),
            })?,
            None => HttpServerConfig::default().max_body_bytes,
        };
        Ok(Capability::HttpServer(Arc::new(Listeners {
            default_address,
            max_body_bytes,
        })))
    }
}

/// A running `builtin:http-server` instance.
struct Listeners {
    default_address: Option<SocketAddr>,
    max_body_bytes: usize,
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
