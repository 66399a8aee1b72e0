//! Watching what a component sends (`weft spy --component`; Weft's own,
//! not part of wasmCloud's protocol). A spy publishes a [`SpyRequest`] on
//! `wasmbus.spyctl.{lattice}` every few seconds; each host running the
//! component then copies every message it publishes or requests, as a
//! [`SentMessage`], to `wasmbus.spy.{lattice}.{component}` until the
//! request lapses.

use serde::{Deserialize, Serialize};

/// Asks hosts to watch a component for a while.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpyRequest {
    /// The component to watch.
    pub component_id: String,
    /// For how long, in seconds (at most [`MAX_SPY_SECONDS`]).
    pub seconds: u64,
}

/// The longest one request watches for; spies renew.
pub const MAX_SPY_SECONDS: u64 = 60;

/// A copy of a message a watched component sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SentMessage {
    /// The subject it went to.
    pub subject: String,
    /// Where replies go, if it asked for any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
    /// The payload, as text (lossy for binary payloads).
    pub body: String,
    /// The host it was sent from.
    pub host_id: String,
}
