//! `wasi:logging@0.1.0-draft` for guests, written to `tracing` under the
//! target `weft::guest` with the component's id.

use crate::bindings::wasi::logging::logging::{self, Level};
use std::sync::Arc;
use wasmtime::component::{HasData, Linker};

/// The longest message kept from one guest log call; longer ones are cut.
pub const MAX_MESSAGE_BYTES: usize = 16 << 10;

/// Per-store logging state: whose logs these are.
#[derive(Clone, Default)]
pub struct Ctx {
    component: Arc<str>,
}

impl Ctx {
    /// State logging on behalf of `component`.
    pub fn new(component: Arc<str>) -> Self {
        Self { component }
    }
}

/// What a store lends the logging host function.
pub struct View<'a> {
    /// The logging state.
    pub ctx: &'a Ctx,
}

struct HasLogging;

impl HasData for HasLogging {
    type Data<'a> = View<'a>;
}

/// Adds `wasi:logging/logging` to `linker`.
pub fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    get: fn(&mut T) -> View<'_>,
) -> wasmtime::Result<()> {
    logging::add_to_linker::<_, HasLogging>(linker, get)
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
        // Both strings are guest-controlled: cap their size before logging.
        let component = &*self.ctx.component;
        let context = truncate(&context, 256);
        let message = truncate(&message, MAX_MESSAGE_BYTES);
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
    use super::truncate;

    #[test]
    fn truncation_respects_char_boundaries() {
        assert_eq!(truncate("héllo", 2), "h");
        assert_eq!(truncate("héllo", 3), "hé");
        assert_eq!(truncate("abc", 10), "abc");
    }
}
