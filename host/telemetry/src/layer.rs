//! The layer: gives each span ids and a start time when it opens, keeps
//! its fields, and queues it when it closes.

use crate::Finished;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};
use tokio::sync::mpsc;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

/// Collects spans for the [`crate::Exporter`]. Add it to a
/// `tracing_subscriber::registry()`, with a filter saying which spans to
/// export.
pub struct OtlpLayer {
    tx: mpsc::Sender<Finished>,
    dropped: Arc<AtomicU64>,
}

impl OtlpLayer {
    pub(crate) fn new(tx: mpsc::Sender<Finished>, dropped: Arc<AtomicU64>) -> Self {
        Self { tx, dropped }
    }
}

/// What a span carries while open.
struct Open {
    trace_id: [u8; 16],
    span_id: [u8; 8],
    parent_id: Option<[u8; 8]>,
    start_unix_nanos: u128,
    attributes: Vec<(&'static str, String)>,
    failed: bool,
}

fn now_unix_nanos() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

fn random<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    let mut filled = 0;
    while filled < N {
        let bytes = uuid::Uuid::new_v4().into_bytes();
        let n = (N - filled).min(bytes.len());
        out[filled..filled + n].copy_from_slice(&bytes[..n]);
        filled += n;
    }
    out
}

/// Collects a span's (or event's) fields as text.
struct Fields<'a>(&'a mut Vec<(&'static str, String)>);

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.push((field.name(), value.to_owned()));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.push((field.name(), format!("{value:?}")));
    }
}

impl<S> Layer<S> for OtlpLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else {
            return;
        };
        let parent = span.parent().and_then(|p| {
            p.extensions()
                .get::<Open>()
                .map(|open| (open.trace_id, open.span_id))
        });
        let mut attributes = Vec::new();
        attrs.record(&mut Fields(&mut attributes));
        let open = Open {
            trace_id: parent.map_or_else(random, |(trace, _)| trace),
            span_id: random(),
            parent_id: parent.map(|(_, span)| span),
            start_unix_nanos: now_unix_nanos(),
            attributes,
            failed: false,
        };
        span.extensions_mut().insert(open);
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id)
            && let Some(open) = span.extensions_mut().get_mut::<Open>()
        {
            values.record(&mut Fields(&mut open.attributes));
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        // A warning or error inside a span marks it failed.
        if *event.metadata().level() > Level::WARN {
            return;
        }
        if let Some(span) = ctx.event_span(event)
            && let Some(open) = span.extensions_mut().get_mut::<Open>()
        {
            open.failed = true;
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(&id) else {
            return;
        };
        let Some(open) = span.extensions_mut().remove::<Open>() else {
            return;
        };
        let meta = span.metadata();
        let finished = Finished {
            name: meta.name(),
            target: meta.target(),
            trace_id: open.trace_id,
            span_id: open.span_id,
            parent_id: open.parent_id,
            start_unix_nanos: open.start_unix_nanos,
            end_unix_nanos: now_unix_nanos(),
            attributes: open.attributes,
            failed: open.failed,
        };
        if self.tx.try_send(finished).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}
