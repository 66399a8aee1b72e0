//! `weft-lattice-nats`: a host's presence on a NATS lattice. It connects,
//! answers the `wasmbus.ctl.v1` control protocol by calling the host's
//! [`weft_host::HostApi`], and publishes lifecycle events and heartbeats.
//! The host itself holds no NATS client.
//! A whole lattice host is assembled from these parts in one place,
//! `weft_lattice_host::LatticeHost`; this crate's parts are used there.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use std::time::Duration;
//! use weft_jetstream::bucket::Placement;
//! use weft_lattice_nats::{LatticeState, NatsAuth, Plane, connect_to};
//!
//! let url = "nats://127.0.0.1:4222";
//! let auth = NatsAuth::None;
//! let client = connect_to(Plane::Control, url, &auth, None, "weft", Duration::from_secs(5)).await?;
//! let state = LatticeState::open_in(client, "default", &Placement::default()).await?;
//! println!("{} links", state.links().await?.len());
//! # Ok(()) }
//! ```

#![deny(missing_docs)]

mod connect;
mod convert;
pub mod ctl;
mod events;
mod peers;
pub mod rpc;
mod state;

pub use connect::{ConnectError, NatsAuth, Plane, connect_to};
pub use convert::{Endpoints, host, inventory};
pub use ctl::{CtlServer, ServeError};
pub use events::Events;
pub use rpc::{NatsRemoteCalls, NatsTap, RpcServer};
pub use state::{LatticeState, LinkChange, StateError};
