//! A guest's stdout and stderr: never the host's own. Each line a guest
//! prints goes to the log like a `wasi:logging` line, under the target
//! `weft::guest` with the component's id (context `stdout` or `stderr`),
//! within the same per-component allowance ([`crate::logging`]), so a guest
//! can neither flood the host's log nor write lines that pass for the
//! host's own.

use crate::logging::Source;
use bytes::Bytes;
use std::sync::Arc;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError};

/// Which of the two streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Which {
    /// stdout: lines at info.
    Stdout,
    /// stderr: lines at warn.
    Stderr,
}

impl Which {
    /// Its name, the context of its log lines.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Stdout => "stdout",
            Self::Stderr => "stderr",
        }
    }
}

/// One of a component's output streams, as WASI hands it to guests.
pub(crate) struct GuestOutput {
    source: Arc<Source>,
    which: Which,
}

impl GuestOutput {
    /// `which` stream of the component whose log is `source`.
    pub(crate) fn new(source: Arc<Source>, which: Which) -> Self {
        Self { source, which }
    }
}

impl IsTerminal for GuestOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for GuestOutput {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(Lines {
            source: self.source.clone(),
            which: self.which,
            partial: Vec::new(),
        })
    }

    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        // Only the WASIp3 API asks for this one; those guests' output is
        // dropped rather than written to the host's own streams.
        Box::new(tokio::io::sink())
    }
}

/// Cuts what a guest writes into lines for the log.
struct Lines {
    source: Arc<Source>,
    which: Which,
    /// The line being written, up to [`crate::logging::MAX_MESSAGE_BYTES`].
    partial: Vec<u8>,
}

impl Lines {
    fn emit(&mut self) {
        let line = String::from_utf8_lossy(&self.partial).into_owned();
        self.partial.clear();
        self.source.print(self.which, line.trim_end_matches('\r'));
    }
}

impl Drop for Lines {
    fn drop(&mut self) {
        if !self.partial.is_empty() {
            self.emit();
        }
    }
}

#[async_trait::async_trait]
impl OutputStream for Lines {
    fn write(&mut self, bytes: Bytes) -> Result<(), StreamError> {
        // Guest-controlled: a line without end is cut at the limit.
        for chunk in bytes.split_inclusive(|b| *b == b'\n') {
            let room = crate::logging::MAX_MESSAGE_BYTES.saturating_sub(self.partial.len());
            let ends = chunk.last() == Some(&b'\n');
            let text = if ends {
                &chunk[..chunk.len() - 1]
            } else {
                chunk
            };
            self.partial
                .extend_from_slice(&text[..text.len().min(room)]);
            if ends || self.partial.len() >= crate::logging::MAX_MESSAGE_BYTES {
                self.emit();
            }
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), StreamError> {
        Ok(())
    }

    fn check_write(&mut self) -> Result<usize, StreamError> {
        Ok(64 << 10)
    }
}

#[async_trait::async_trait]
impl Pollable for Lines {
    async fn ready(&mut self) {}
}
