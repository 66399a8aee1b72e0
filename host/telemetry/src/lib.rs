//! Export of `tracing` spans to an OpenTelemetry collector: OTLP over
//! HTTP with the JSON encoding (`POST {endpoint}/v1/traces`).
//!
//! [`otlp`] gives a [`tracing_subscriber::Layer`] and the exporter that
//! sends what it collects. The layer never blocks the code it traces: a
//! closed span goes into a bounded queue, and when the queue is full (the
//! collector is slow or gone) the span is dropped and counted. The exporter
//! sends batches of up to [`BATCH`] spans at least every [`FLUSH`].
//!
//! ```no_run
//! use tracing_subscriber::prelude::*;
//! # async fn demo() -> Result<(), weft_telemetry::Error> {
//! let (layer, exporter) = weft_telemetry::otlp("http://127.0.0.1:4318", "weft-host")?;
//! tracing_subscriber::registry().with(layer).init();
//! tokio::spawn(exporter.run());
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

mod encode;
mod layer;

pub use layer::OtlpLayer;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::mpsc;

/// Spans sent in one request at most.
pub const BATCH: usize = 512;
/// Longest a closed span waits before it is sent.
pub const FLUSH: Duration = Duration::from_secs(1);
/// Closed spans waiting to be sent at most; more are dropped.
const QUEUE: usize = 8 * BATCH;

/// Why the exporter could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The endpoint is not an `http://` or `https://` URL.
    #[error(
        "the OTLP endpoint `{0}` is not an http:// or https:// URL (e.g. http://127.0.0.1:4318, \
         a collector's OTLP/HTTP port)"
    )]
    Endpoint(String),
    /// The HTTP client could not be built.
    #[error("could not set up the OTLP HTTP client: {0}")]
    Client(String),
}

/// A span that has closed, ready to encode.
#[derive(Debug, Clone)]
pub(crate) struct Finished {
    pub(crate) name: &'static str,
    pub(crate) target: &'static str,
    pub(crate) trace_id: [u8; 16],
    pub(crate) span_id: [u8; 8],
    pub(crate) parent_id: Option<[u8; 8]>,
    pub(crate) start_unix_nanos: u128,
    pub(crate) end_unix_nanos: u128,
    pub(crate) attributes: Vec<(&'static str, String)>,
    /// A warning or error was logged inside it.
    pub(crate) failed: bool,
}

/// Sends the spans the layer collects; run it on the async runtime.
pub struct Exporter {
    rx: mpsc::Receiver<Finished>,
    url: String,
    service: String,
    client: reqwest::Client,
    dropped: Arc<AtomicU64>,
}

/// A layer that collects spans, and the exporter that sends them to the
/// collector at `endpoint` (`http://host:4318`; `/v1/traces` is added)
/// under the service name `service`.
pub fn otlp(endpoint: &str, service: &str) -> Result<(OtlpLayer, Exporter), Error> {
    let base = endpoint.trim_end_matches('/');
    let scheme_ok = base.starts_with("http://") || base.starts_with("https://");
    let host_part = base.split_once("://").map_or("", |(_, rest)| rest);
    if !scheme_ok || host_part.is_empty() || host_part.contains(char::is_whitespace) {
        return Err(Error::Endpoint(endpoint.to_owned()));
    }
    let url = if base.ends_with("/v1/traces") {
        base.to_owned()
    } else {
        format!("{base}/v1/traces")
    };
    // reqwest is built without a TLS provider of its own (GOTCHAS.md 2).
    let _ = tokio_rustls::rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| Error::Client(e.to_string()))?;
    let (tx, rx) = mpsc::channel(QUEUE);
    let dropped = Arc::new(AtomicU64::new(0));
    Ok((
        OtlpLayer::new(tx, dropped.clone()),
        Exporter {
            rx,
            url,
            service: service.to_owned(),
            client,
            dropped,
        },
    ))
}

impl Exporter {
    /// Sends batches until every layer is gone and the queue is empty. A
    /// collector that fails is reported (at most once a minute) and the
    /// batch is dropped: telemetry never holds the host back.
    pub async fn run(mut self) {
        let mut batch = Vec::with_capacity(BATCH);
        let mut last_warning: Option<tokio::time::Instant> = None;
        loop {
            let Some(first) = self.rx.recv().await else {
                return;
            };
            batch.push(first);
            let deadline = tokio::time::Instant::now() + FLUSH;
            while batch.len() < BATCH {
                match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                    Ok(Some(span)) => batch.push(span),
                    Ok(None) | Err(_) => break,
                }
            }
            let body = encode::traces(&self.service, &batch);
            batch.clear();
            let sent = self
                .client
                .post(&self.url)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await;
            let problem = match sent {
                Ok(r) if r.status().is_success() => None,
                Ok(r) => Some(format!("the collector answered {}", r.status())),
                Err(e) => Some(e.to_string()),
            };
            let quiet = last_warning.is_some_and(|t| t.elapsed() < Duration::from_secs(60));
            if let Some(problem) = problem
                && !quiet
            {
                last_warning = Some(tokio::time::Instant::now());
                tracing::warn!(
                    url = %self.url,
                    dropped_so_far = self.dropped.load(Ordering::Relaxed),
                    "could not send spans to the OTLP collector: {problem}"
                );
            }
        }
    }
}
