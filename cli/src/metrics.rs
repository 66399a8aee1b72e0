//! `weft host --metrics ADDR`: the host's Prometheus metrics over HTTP at
//! `/metrics`, read from counters the host keeps anyway (scraping never
//! blocks an invocation).

use anyhow::Context;
use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::task::JoinHandle;
use weft_host::Host;

/// The content type of the Prometheus text format.
const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

async fn metrics(State(host): State<Arc<Host>>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, TEXT_FORMAT)], host.metrics())
}

/// Serves `host`'s metrics on `addr` until the task is aborted; returns
/// the address it listens on (with the port picked, for port 0).
pub async fn serve(
    addr: SocketAddr,
    host: Arc<Host>,
) -> anyhow::Result<(SocketAddr, JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| {
        format!("could not listen on {addr} for --metrics (is the port taken? pick another, or 127.0.0.1:0)")
    })?;
    let bound = listener.local_addr()?;
    if !bound.ip().is_loopback() {
        tracing::warn!(
            "metrics on {bound} are readable by anyone who can reach it (component ids, link names); \
             bind 127.0.0.1 unless a scraper elsewhere needs them"
        );
    }
    let app = Router::new()
        .route("/metrics", get(metrics))
        .with_state(host);
    Ok((bound, tokio::spawn(crate::serve::run(listener, app))))
}
