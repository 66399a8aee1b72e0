//! Outgoing HTTP: what a component's `wasi:http/outgoing-handler` calls go
//! to once it is linked to an HTTP client provider.
//!
//! A provider instance ([`HttpClientProvider`]) hands out one [`HttpClient`]
//! per link, configured by the link's config (which hosts the component may
//! reach). Deny by default: a component with no link, or a request to a host
//! the link does not allow, gets a guest-visible `HTTP-request-denied`.

use crate::http::Body;
use async_trait::async_trait;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// Timeouts the guest asked for (`wasi:http/types.request-options`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Options {
    /// How long to wait for the connection.
    pub connect_timeout: Option<Duration>,
    /// How long to wait for the response head.
    pub first_byte_timeout: Option<Duration>,
}

/// Why an outgoing request failed; the runtime maps each to the matching
/// `wasi:http` error code the guest sees.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum Error {
    /// The link's policy does not allow this destination.
    #[error("request denied: {0}")]
    Denied(String),
    /// The URI has no host, or a scheme other than http/https.
    #[error("invalid request URI: {0}")]
    BadUri(String),
    /// The host name did not resolve.
    #[error("DNS lookup failed: {0}")]
    Dns(String),
    /// Nothing listens at the destination.
    #[error("connection refused by {0}")]
    ConnectionRefused(String),
    /// The connection or the response head did not come in time.
    #[error("timed out: {0}")]
    TimedOut(String),
    /// TLS failed (certificate, handshake).
    #[error("TLS failed: {0}")]
    Tls(String),
    /// The peer broke the HTTP protocol or closed the connection.
    #[error("HTTP protocol error: {0}")]
    Protocol(String),
}

/// Sends a component's outgoing requests, under one link's policy.
#[async_trait]
pub trait HttpClient: Send + Sync + 'static {
    /// Sends `request` and returns the response once its head has arrived;
    /// the body streams afterwards.
    async fn send(
        &self,
        request: http::Request<Body>,
        options: Options,
    ) -> Result<http::Response<Body>, Error>;
}

/// An HTTP client provider instance: one [`HttpClient`] per link to it.
pub trait HttpClientProvider: Send + Sync + 'static {
    /// The client for a link whose (target) config is `link_config`. Called
    /// when links change, never per request; fails naming the key that is
    /// wrong.
    fn client(
        &self,
        link_config: &BTreeMap<String, String>,
    ) -> Result<Arc<dyn HttpClient>, crate::provider::Error>;
}
