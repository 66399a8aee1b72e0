//! The Weft test harness.
//!
//! Real services on free loopback ports in temp dirs, stopped on drop; guest
//! components built from source once per test process; a small HTTP client.
//! A test that needs a service binary that is not installed fails with a
//! message naming the Debian package: it never skips.
#![deny(missing_docs)]

pub mod cli;
pub mod fake;
pub mod guests;
pub mod http;
pub mod log;
pub mod nats;
pub mod net;
pub mod oras;
pub mod redis;
pub mod registry;
