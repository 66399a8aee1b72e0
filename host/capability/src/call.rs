//! Component-to-component calls that leave the host: a link from component
//! A (importing a custom WIT interface) to component B (exporting it), where
//! B runs on another host.
//!
//! Values cross as WAVE text (the WebAssembly Value Encoding), one string
//! per argument and per result, so this contract needs no wasmtime types:
//! the runtime encodes with the caller's types and the callee decodes with
//! its own.

use async_trait::async_trait;
use std::time::Duration;

/// One call of an exported function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// The component that exports the interface (the link's target).
    pub target: String,
    /// The interface, as the caller imports it (`ns:pkg/iface@1.0.0`); a
    /// short name (`iface`) or nothing matches any one export that has the
    /// function.
    pub interface: String,
    /// The function's name within the interface.
    pub function: String,
    /// The arguments, WAVE-encoded, in order.
    pub args: Vec<String>,
    /// How long the caller can wait for the results.
    pub timeout: Duration,
    /// How the results come back.
    pub results: Encoding,
}

/// How values are written as text.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Encoding {
    /// WAVE, the WebAssembly Value Encoding (exact, typed: what calls
    /// between components use).
    #[default]
    Wave,
    /// JSON, for people and scripts (`weft call -o json`): records as
    /// objects, lists as arrays, `none` as null, results as `{"ok": …}` or
    /// `{"err": …}`, variants as `{"case": payload}`, enums as strings.
    Json,
}

/// Why a call failed.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum Error {
    /// No host runs the target component.
    #[error("component `{0}` is not running on any host of the lattice")]
    NoResponders(String),
    /// The results did not come back in time.
    #[error("component `{target}` did not answer within {timeout:?}")]
    TimedOut {
        /// The target component.
        target: String,
        /// How long the caller waited.
        timeout: Duration,
    },
    /// The encoded call or its results are larger than the transport takes.
    #[error("the call to `{target}` is {size} bytes, over the lattice's limit of {max} bytes")]
    TooLarge {
        /// The target component.
        target: String,
        /// The encoded size.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// The target's host refused or the callee failed (trapped, bad arguments).
    #[error("{0}")]
    Failed(String),
    /// The transport failed.
    #[error("lattice transport failed: {0}")]
    Transport(String),
}

/// Carries calls to components on other hosts (the lattice's NATS).
#[async_trait]
pub trait RemoteCalls: Send + Sync + 'static {
    /// Sends `call` to a host running its target and returns the results,
    /// WAVE-encoded, in order.
    async fn call(&self, call: Call) -> Result<Vec<String>, Error>;
}
