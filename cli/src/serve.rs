//! Serving the CLI's own HTTP endpoints (`weft host --metrics`, the
//! dashboard) with the protections of the component listeners: connection
//! limits, request heads within a deadline, half-closing clients answered.
//! A client that opens connections and never finishes a request cannot
//! take the file descriptors the host needs for everything else.

use tokio::net::TcpListener;
use weft_http_server::{ListenLimits, serve_listener};

/// Serves `app` on `listener` with [`ListenLimits::default`] until the
/// future is dropped (its task aborted); connections then finish the
/// request in flight and close.
pub async fn run(listener: TcpListener, app: axum::Router) {
    let service = hyper_util::service::TowerToHyperService::new(app);
    // Never told to stop: dropping the future drops the sender, which
    // stops the connections gracefully.
    let (_never, stop) = tokio::sync::watch::channel(false);
    serve_listener(listener, service, ListenLimits::default(), stop).await;
}
