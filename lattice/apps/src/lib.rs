//! `weft-apps`: applications on a lattice, declared in wadm's manifest
//! format and kept true by a reconciler that runs inside every host.
//!
//! - [`manifest`] parses manifests (YAML or JSON) and [`validate`] checks
//!   them, every error naming the path of the field.
//! - The store keeps manifests versioned in JetStream KV; the wadm API
//!   subjects (`wadm.api.{lattice}.model.*`) serve it to wadm's clients and
//!   to `weft app`.
//! - The reconciler: one host per lattice holds the lease and turns the
//!   deployed manifests into control commands, placing instances by
//!   spread weight *and* across the eligible hosts of each spread.
//!
//! ```
//! let manifest = weft_apps::manifest::parse(
//!     "apiVersion: core.oam.dev/v1beta1\nkind: Application\nmetadata: {name: hello}\n\
//!      spec:\n  components:\n    - {name: web, type: component, properties: {image: oci://localhost:5000/hello:1}}\n",
//! )?;
//! weft_apps::validate::validate(&manifest).map_err(|e| e[0].clone())?;
//! assert_eq!(manifest.id_of(&manifest.spec.components[0]), "hello-web");
//! # Ok::<(), weft_apps::Invalid>(())
//! ```
#![deny(missing_docs)]

pub mod api;
pub mod client;
pub mod conflict;
pub mod lease;
pub mod manifest;
pub mod observe;
pub mod plan;
pub mod reconciler;
pub mod rescale;
pub mod server;
pub mod store;
pub mod validate;

/// A manifest problem: the path of the field and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct Invalid {
    /// Where (`spec.components[2].traits[0].properties.spread[1].weight`).
    pub path: String,
    /// What is wrong.
    pub message: String,
}

impl Invalid {
    /// A problem at `path`.
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            message: message.into(),
        }
    }
}
