//! `weft-lattice-protocol`: the subjects and wire types of the lattice's
//! control plane — wasmCloud's `wasmbus.ctl.v1` JSON protocol and its
//! CloudEvents — with no I/O, so the NATS adapter, the client, the CLI and
//! tests share one definition.
//!
//! ```
//! use weft_lattice_protocol::{CtlResponse, Operation, Parsed, Subjects, wire::Link};
//!
//! let subjects = Subjects::new("wasmbus.ctl", "default")?;
//! assert_eq!(
//!     subjects.parse("wasmbus.ctl.v1.default.link.put"),
//!     Some(Parsed::Operation(Operation::LinkPut))
//! );
//! let link: Link = serde_json::from_str(
//!     r#"{"source_id":"app","target":"cache","wit_namespace":"wasi",
//!         "wit_package":"keyvalue","interfaces":["store"]}"#,
//! )?;
//! assert_eq!(link.name, "default");
//! link.validate()?;
//! let reply = serde_json::to_string(&CtlResponse::ack())?;
//! assert_eq!(reply, r#"{"success":true,"message":""}"#);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![deny(missing_docs)]

pub mod alive;
pub mod event;
pub mod link;
pub mod payload;
pub mod rpc;
pub mod secret;
pub mod spy;
pub mod subject;
pub mod validate;
pub mod wire;

pub use event::{Event, EventName};
pub use link::{LinkError, check_put};
pub use payload::LatticeEvent;
pub use subject::{DEFAULT_LATTICE, DEFAULT_PREFIX, Operation, Parsed, Subjects};
pub use validate::Invalid;
pub use wire::CtlResponse;
