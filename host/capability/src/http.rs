//! Inbound HTTP: the trait the host implements so that an HTTP server
//! provider can hand requests to a component.

use async_trait::async_trait;
use bytes::Bytes;
use http_body_util::combinators::UnsyncBoxBody;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The error a body stream can fail with.
pub type BodyError = Box<dyn std::error::Error + Send + Sync>;

/// A streaming HTTP body, in either direction.
pub type Body = UnsyncBoxBody<Bytes, BodyError>;

/// Why a request could not be answered by the component.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The component trapped (a bug or a broken limit in the guest).
    #[error("component `{component}` trapped: {reason}")]
    Trapped {
        /// The component's id.
        component: String,
        /// What the trap said.
        reason: String,
    },
    /// The component ran past its execution-time limit and was stopped.
    #[error("component `{component}` ran past its deadline and was stopped")]
    DeadlineExceeded {
        /// The component's id.
        component: String,
    },
    /// The component returned without setting a response, or set an invalid one.
    #[error("component `{component}` gave no valid response: {reason}")]
    BadResponse {
        /// The component's id.
        component: String,
        /// What was wrong.
        reason: String,
    },
    /// No instance could be had (pool exhausted, concurrency limit reached).
    #[error("component `{component}` is at capacity: {reason}")]
    Overloaded {
        /// The component's id.
        component: String,
        /// Which limit was hit.
        reason: String,
    },
}

/// Handles HTTP requests on behalf of one component (or a router of several).
#[async_trait]
pub trait IncomingHandler: Send + Sync + 'static {
    /// Answers `request`. An `Err` is turned into a 5xx by the server.
    async fn handle(&self, request: http::Request<Body>) -> Result<http::Response<Body>, Error>;
}

/// An HTTP server provider instance: serves a component for each link from
/// it, configured by the link's source config (e.g. `address`).
pub trait HttpListener: Send + Sync + 'static {
    /// Starts serving `handler` as `link_config` says; stops when the
    /// returned subscription is dropped. Fails naming the config key that is
    /// wrong, or when the address cannot be bound.
    fn serve(
        &self,
        link_config: &BTreeMap<String, String>,
        handler: Arc<dyn IncomingHandler>,
    ) -> Result<crate::provider::Subscription, crate::provider::Error>;
}
