//! The capability contract of Weft.
//!
//! Every capability a component can import is described here as plain Rust
//! traits with their own error types, free of wasmtime and of any backend.
//! Backends (`providers/*`) implement the traits; the runtime binds guest
//! imports to `Arc<dyn …>` values of them; the in-memory implementations and
//! conformance suites live beside each trait.
//!
//! ```
//! use std::sync::Arc;
//! use weft_capability::keyvalue::{InMemoryKeyValue, KeyValue};
//!
//! # async fn demo() -> Result<(), weft_capability::keyvalue::Error> {
//! let store: Arc<dyn KeyValue> = Arc::new(InMemoryKeyValue::default());
//! store.set("default", "greeting", b"hello".to_vec()).await?;
//! assert_eq!(store.increment("default", "hits", 1).await?, 1);
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

pub mod backlog;
pub mod builtin;
pub mod call;
pub mod config;
pub mod conformance;
pub mod http;
pub mod http_client;
pub mod keyvalue;
pub mod messaging;
pub mod provider;
pub mod settings;
pub mod sync;
