//! The component runtime of a Weft host.
//!
//! One [`Runtime`] (a wasmtime engine with a pooling allocator and one epoch
//! ticker) serves every component of the host. A [`Component`] is compiled
//! once (through the [`CompileCache`]), pre-instantiated once, and then
//! answers each invocation with a fresh instance, or, when its limits allow
//! it, with a reused one.
//!
//! Bindings are generated in [`bindings`] only; each WIT package Weft serves
//! has a module with `Ctx`, `View` and `add_to_linker`.
//!
//! ```no_run
//! use std::sync::Arc;
//! use weft_runtime::{CompileCache, Component, ComponentSpec, Runtime, RuntimeConfig};
//!
//! # fn demo(wasm: &[u8]) -> Result<(), weft_runtime::Error> {
//! let runtime = Runtime::new(RuntimeConfig::default())?;
//! let spec = ComponentSpec::new("hello");
//! let component = Component::load(&runtime, &CompileCache::disabled(), wasm, spec)?;
//! // `component` implements `weft_capability::http::IncomingHandler`.
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

pub mod bindings;
pub mod bus;
pub mod cache;
mod calls;
mod component;
pub mod config;
mod engine;
mod exports;
mod fairness;
mod http;
pub mod json;
pub mod keyvalue;
mod linker;
pub mod links;
pub mod logging;
pub mod messaging;
pub mod metrics;
mod outgoing;
mod state;
mod stdio;
pub mod world;

pub use cache::{CompileCache, Origin};
pub use calls::served_by_host;
pub use component::{Component, ComponentSpec, Limits};
pub use engine::{EPOCH_TICK, Runtime, RuntimeConfig};
pub use exports::CallError;
pub use links::{CallTarget, Links, Targets};
pub use outgoing::MAX_OUTGOING_IN_FLIGHT;
pub use state::{DenyOutgoing, State, linker};

/// Errors of the runtime: what failed and for which component.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The pooling allocator could not reserve its address space.
    #[error(
        "could not create the instance pool ({instances} instances, {reservation} bytes reserved \
         per memory): {reason}; lower the instance count or the memory reservation"
    )]
    Pool {
        /// Instances the pool was sized for.
        instances: u32,
        /// Bytes reserved per linear memory.
        reservation: u64,
        /// What wasmtime said.
        reason: String,
    },
    /// The bytes are not a WebAssembly component.
    #[error("not a WebAssembly component: {0}")]
    NotAComponent(String),
    /// The component failed to compile or validate.
    #[error("the component failed to compile: {0}")]
    Compile(String),
    /// The component's imports or exports do not fit what Weft serves.
    #[error("component `{component}` cannot be instantiated here: {reason}")]
    Link {
        /// The component's id.
        component: String,
        /// What does not fit.
        reason: String,
    },
}
