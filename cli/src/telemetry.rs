//! The process's `tracing` set-up: the log on stderr (filtered by
//! `WEFT_LOG`) and, for `weft host --otlp URL`, spans exported to an
//! OpenTelemetry collector.

use tracing::Level;
use tracing_subscriber::filter::{EnvFilter, Targets};
use tracing_subscriber::prelude::*;

/// What the log shows unless `WEFT_LOG` says otherwise.
const DEFAULT_LOG: &str = "info,async_nats=warn";

/// Installs the subscriber; with an OTLP endpoint, returns the exporter to
/// run on the async runtime.
pub fn init(otlp: Option<&str>) -> Result<Option<weft_telemetry::Exporter>, weft_telemetry::Error> {
    let log = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_filter(
            EnvFilter::try_from_env("WEFT_LOG").unwrap_or_else(|_| EnvFilter::new(DEFAULT_LOG)),
        );
    let Some(endpoint) = otlp else {
        tracing_subscriber::registry().with(log).init();
        return Ok(None);
    };
    let (layer, exporter) = weft_telemetry::otlp(endpoint, "weft-host")?;
    // Invocation spans are at debug level in weft_runtime; the rest of
    // Weft's spans at info.
    let spans = Targets::new()
        .with_target("weft_runtime", Level::DEBUG)
        .with_target("weft", Level::INFO)
        .with_default(Level::WARN);
    tracing_subscriber::registry()
        .with(log)
        .with(layer.with_filter(spans))
        .init();
    Ok(Some(exporter))
}
