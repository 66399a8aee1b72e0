//! JetStream KV buckets as Weft uses them, for the lattice's own state (links,
//! config, apps, the reconciler's lease) and for the `builtin:keyvalue-nats`
//! provider alike: neither owns this layer, both stand on it.
//!
//! - [`bucket`]: where buckets live ([`bucket::Placement`]: domain and
//!   replicas), opening one on nats-server 2.9 with retries while JetStream
//!   is not ready, and the escaping that makes any string a key part.
//! - [`leader`]: [`leader::NoLeader`], the error a bucket gives while
//!   JetStream has no leader for it, and the bounds on each call that turn
//!   a wait without an answer into that error.
//!
//! ```
//! use weft_jetstream::bucket::{escape, unescape};
//! assert_eq!(escape("a.b"), "a=2Eb");
//! assert_eq!(unescape("a=2Eb").as_deref(), Some("a.b"));
//! ```
#![deny(missing_docs)]

pub mod bucket;
pub mod leader;
