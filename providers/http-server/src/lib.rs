//! HTTP ingress: a hyper server in the host process that routes each request
//! to a component's `wasi:http/incoming-handler`.
//!
//! One [`HttpServer`] listens on one address; its [`Router`] picks the
//! handler by `Host` header and longest path prefix. Request bodies are
//! limited in size, request heads in time, open connections in number (in
//! all and per client address); a handler error becomes a 5xx with the
//! reason logged.
//!
//! ```no_run
//! # async fn demo(handler: std::sync::Arc<dyn weft_capability::http::IncomingHandler>) -> Result<(), weft_http_server::Error> {
//! use std::sync::Arc;
//! use weft_http_server::{HttpServer, HttpServerConfig, Route, Router};
//! let router = Arc::new(Router::default());
//! router.add(Route::new("app", handler));
//! let server = HttpServer::bind(HttpServerConfig::default(), router).await?;
//! println!("listening on http://{}", server.local_addr());
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

mod admission;
mod kind;
pub mod listener;
mod router;
mod server;

pub use admission::ConnectionLimits;
pub use kind::HttpServerKind;
pub use listener::{ListenLimits, serve_listener};
pub use router::{Route, Router};
pub use server::{ConnectionConfig, HttpServer, HttpServerConfig, serve_connection};

/// Errors of the HTTP server provider.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The listen address could not be bound.
    #[error("could not listen on {address}: {source}")]
    Bind {
        /// The address asked for.
        address: std::net::SocketAddr,
        /// Why not.
        #[source]
        source: std::io::Error,
    },
}
