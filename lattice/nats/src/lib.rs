//! `weft-lattice-nats`: a host's presence on a NATS lattice. It connects,
//! answers the `wasmbus.ctl.v1` control protocol by calling the host's
//! [`weft_host::HostApi`], and publishes lifecycle events and heartbeats.
//! The host itself holds no NATS client.
//!
//! ```no_run
//! # async fn demo(host: std::sync::Arc<weft_host::Host>) -> anyhow::Result<()> {
//! use std::time::Duration;
//! use weft_lattice_nats::{Endpoints, Events, LatticeState, NatsAuth, connect, ctl};
//! use weft_lattice_protocol::Subjects;
//!
//! let url = "nats://127.0.0.1:4222";
//! let client = connect(url, &NatsAuth::None, None, "weft-host", Duration::from_secs(5)).await?;
//! let subjects = Subjects::new("wasmbus.ctl", "default")?;
//! let events = Events::new(client.clone(), subjects.clone(), host.id());
//! let endpoints = Endpoints { lattice: "default".into(), ctl_host: url.into(), rpc_host: url.into() };
//! let state = LatticeState::open(client.clone(), "default").await?;
//! let _server = ctl::serve(client, subjects, host.clone(), endpoints, events.clone(), state).await?;
//! let _beat = events.heartbeat(host, Duration::from_secs(5));
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

pub use connect::{ConnectError, NatsAuth, Plane, connect, connect_to};
pub use convert::{Endpoints, host, inventory};
pub use ctl::{CtlServer, ServeError};
pub use events::Events;
pub use rpc::{NatsRemoteCalls, NatsTap, RpcServer};
pub use state::{LatticeState, LinkChange, StateError};
