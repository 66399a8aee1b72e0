//! `wasi:logging@0.1.0-draft` for guests, written to `tracing` under the
//! target `weft::guest` with the component's id, at most
//! [`MAX_LINES_PER_SEC`] lines a second per component: a guest that floods
//! the log has the lines over that dropped, and counted in a warning.

use crate::bindings::wasi::logging::logging::{self, Level};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// The longest message kept from one guest log call; longer ones are cut.
pub const MAX_MESSAGE_BYTES: usize = 16 << 10;

/// Lines a component may write a second, over all its instances, once its
/// burst is spent; lines over that are dropped. Lines at a level the log
/// filter leaves out are not written, and not counted.
pub const MAX_LINES_PER_SEC: u64 = 1_000;

/// Lines a component may write at once above [`MAX_LINES_PER_SEC`].
pub const BURST_LINES: u64 = 1_000;

/// A component's share of the log, kept across its instances.
#[derive(Debug, Default)]
pub struct Source {
    component: Arc<str>,
    /// When (µs on the runtime's clock) the allowance is whole again: each
    /// line written moves it on by a line's share of a second.
    refilled: AtomicU64,
    /// Lines dropped since the last warning about them.
    dropped: AtomicU64,
    /// When the last such warning was written (µs).
    warned: AtomicU64,
}

impl Source {
    /// The log of `component`, with a whole allowance.
    pub fn new(component: Arc<str>) -> Self {
        Self {
            component,
            ..Self::default()
        }
    }

    /// Takes one line from the allowance at `now` (µs); `false` when spent.
    fn take(&self, now: u64) -> bool {
        const LINE: u64 = 1_000_000 / MAX_LINES_PER_SEC;
        self.refilled
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |refilled| {
                let refilled = refilled.max(now);
                (refilled - now < LINE * BURST_LINES).then_some(refilled + LINE)
            })
            .is_ok()
    }

    /// Counts a dropped line; once a second, says how many were dropped.
    fn drop_line(&self, now: u64) {
        self.dropped.fetch_add(1, Ordering::Relaxed);
        let warned = self.warned.load(Ordering::Relaxed);
        let due = warned == 0 || now.saturating_sub(warned) >= 1_000_000;
        if due
            && self
                .warned
                .compare_exchange(warned, now.max(1), Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            let dropped = self.dropped.swap(0, Ordering::Relaxed);
            tracing::warn!(
                component = &*self.component,
                dropped,
                "the component logs more than {MAX_LINES_PER_SEC} lines a second; \
                 {dropped} lines were dropped"
            );
        }
    }
}

impl Source {
    /// Writes a line the guest printed on `which` (within the allowance).
    pub(crate) fn print(&self, which: crate::stdio::Which, line: &str) {
        let level_on = match which {
            crate::stdio::Which::Stdout => {
                tracing::enabled!(target: "weft::guest", tracing::Level::INFO)
            }
            crate::stdio::Which::Stderr => {
                tracing::enabled!(target: "weft::guest", tracing::Level::WARN)
            }
        };
        if !level_on {
            return;
        }
        let now = crate::fairness::now_us();
        if !self.take(now) {
            self.drop_line(now);
            return;
        }
        let component = &*self.component;
        let context = which.name();
        let message = printable(truncate(line, MAX_MESSAGE_BYTES));
        match which {
            crate::stdio::Which::Stdout => {
                tracing::info!(target: "weft::guest", component, context, "{message}")
            }
            crate::stdio::Which::Stderr => {
                tracing::warn!(target: "weft::guest", component, context, "{message}")
            }
        }
    }
}

/// Per-store logging state: whose logs these are.
#[derive(Clone, Default)]
pub struct Ctx {
    source: Arc<Source>,
}

impl Ctx {
    /// State logging on behalf of the component `source` is the log of.
    pub fn new(source: Arc<Source>) -> Self {
        Self { source }
    }
}

/// What a store lends the logging host function.
pub struct View<'a> {
    /// The logging state.
    pub ctx: &'a Ctx,
}

crate::linker::package_linker!("Adds `wasi:logging/logging` to `linker`.", logging,);

/// `s` with its control characters (newlines, carriage returns…) escaped,
/// so a guest's string is one log line that cannot pass for another.
pub fn printable(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.chars().any(char::is_control) {
        return std::borrow::Cow::Borrowed(s);
    }
    std::borrow::Cow::Owned(
        s.chars()
            .map(|c| {
                if c.is_control() {
                    c.escape_default().to_string()
                } else {
                    c.to_string()
                }
            })
            .collect(),
    )
}

/// Cuts `s` to at most `max` bytes on a character boundary.
fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

impl logging::Host for View<'_> {
    async fn log(
        &mut self,
        level: Level,
        context: String,
        message: String,
    ) -> wasmtime::Result<()> {
        let enabled = match level {
            Level::Trace => tracing::enabled!(target: "weft::guest", tracing::Level::TRACE),
            Level::Debug => tracing::enabled!(target: "weft::guest", tracing::Level::DEBUG),
            Level::Info => tracing::enabled!(target: "weft::guest", tracing::Level::INFO),
            Level::Warn => tracing::enabled!(target: "weft::guest", tracing::Level::WARN),
            Level::Error | Level::Critical => {
                tracing::enabled!(target: "weft::guest", tracing::Level::ERROR)
            }
        };
        if !enabled {
            return Ok(());
        }
        let source = &*self.ctx.source;
        let now = crate::fairness::now_us();
        if !source.take(now) {
            source.drop_line(now);
            return Ok(());
        }
        // Both strings are guest-controlled: cap their size before logging.
        let component = &*source.component;
        let context = printable(truncate(&context, 256));
        let context = &*context;
        let message = printable(truncate(&message, MAX_MESSAGE_BYTES));
        match level {
            Level::Trace => tracing::trace!(target: "weft::guest", component, context, "{message}"),
            Level::Debug => tracing::debug!(target: "weft::guest", component, context, "{message}"),
            Level::Info => tracing::info!(target: "weft::guest", component, context, "{message}"),
            Level::Warn => tracing::warn!(target: "weft::guest", component, context, "{message}"),
            Level::Error | Level::Critical => {
                tracing::error!(target: "weft::guest", component, context, "{message}")
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::{BURST_LINES, MAX_LINES_PER_SEC, Source, truncate};

    #[test]
    fn a_burst_is_written_then_lines_over_the_rate_are_dropped() {
        let source = Source::new("flood".into());
        let now = 5_000_000;
        let written = (0..BURST_LINES * 2).filter(|_| source.take(now)).count();
        assert_eq!(written as u64, BURST_LINES);
        // A second later, a second's worth of lines again.
        let later = now + 1_000_000;
        let written = (0..BURST_LINES * 2).filter(|_| source.take(later)).count();
        assert_eq!(written as u64, MAX_LINES_PER_SEC);
        source.drop_line(later);
        source.drop_line(later);
        assert_eq!(source.dropped.load(std::sync::atomic::Ordering::Relaxed), 1);
    }

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(super::printable("plain"), "plain");
        assert_eq!(
            super::printable("a\n2026 INFO forged\r\x1b[2K"),
            "a\\n2026 INFO forged\\r\\u{1b}[2K"
        );
    }

    #[test]
    fn truncation_respects_char_boundaries() {
        assert_eq!(truncate("héllo", 2), "h");
        assert_eq!(truncate("héllo", 3), "hé");
        assert_eq!(truncate("abc", 10), "abc");
    }
}
