//! `weft-oci`: components from OCI registries.
//!
//! A [`Puller`] resolves a reference (`oci://registry/repo:tag` or
//! `…@sha256:…`) to a manifest, accepts the CNCF wasm artifact layout (and
//! the layer types wasmCloud and Spin push), downloads the component layer
//! with a size limit, **verifies every blob's digest**, and keeps blobs and
//! manifests on disk by digest, so a second start needs no download (and,
//! with the runtime's compile cache keyed by the same digest, no compile).
//! A [`Pusher`] uploads a component in the CNCF layout.
//!
//! Credentials ([`Credentials`]) are bound to registry hosts: a registry
//! gets its own and no other's, only over HTTPS (or on loopback), and a
//! token realm on another host gets nothing. Every body a registry sends is
//! read with a limit.
//!
//! ```no_run
//! # async fn demo() -> Result<(), weft_oci::Error> {
//! use weft_oci::{Credentials, NoProgress, Puller, PullerConfig};
//! let puller = Puller::new(PullerConfig::new("/var/cache/weft/oci"), Credentials::default().into());
//! let (resolved, wasm) = puller.pull("oci://localhost:5000/app:1.0", &NoProgress).await?;
//! println!("{} is {} ({} bytes)", resolved.reference, resolved.component_digest, wasm.len());
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

mod access;
mod auth;
mod client;
pub mod media;
mod pull;
mod push;
pub mod reference;
mod store;

pub use auth::{Auth, Credentials, docker_config_path};
pub use pull::{NoProgress, Progress, Puller, PullerConfig, Resolved, manifest_component_layer};
pub use push::{PushRequest, Pushed, Pusher};
pub use store::{Store, sha256_digest};

/// The largest component a host pulls unless configured otherwise.
pub const DEFAULT_MAX_SIZE: u64 = 64 << 20;

/// What went wrong with a reference; each says what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The reference does not parse.
    #[error("`{reference}` is not a component reference: {reason}")]
    BadReference {
        /// The reference.
        reference: String,
        /// Why.
        reason: String,
    },
    /// The registry has no such repository, tag or digest.
    #[error("`{reference}` was not found in the registry: {reason}")]
    NotFound {
        /// The reference.
        reference: String,
        /// What the registry said.
        reason: String,
    },
    /// The registry could not be reached.
    #[error(
        "registry `{registry}` could not be reached: {reason}; is it running, and is the address right?"
    )]
    Unreachable {
        /// The registry host.
        registry: String,
        /// Why.
        reason: String,
    },
    /// The registry wants credentials it did not get (or refused them).
    #[error(
        "registry `{registry}` refused access ({reason}); give credentials for it: \
         --registry-auth {registry}=USER:PASSWORD (or WEFT_REGISTRY_AUTH), `docker login {registry}`, \
         or a registry.put naming it"
    )]
    Unauthorized {
        /// The registry host.
        registry: String,
        /// What it said.
        reason: String,
    },
    /// The registry's credentials would have gone where they do not belong
    /// (a token realm on another host, plain HTTP off loopback): nothing
    /// was sent.
    #[error("the credentials for registry `{registry}` were not sent: {reason}")]
    CredentialsRefused {
        /// The registry host.
        registry: String,
        /// Where they would have gone, and why not.
        reason: String,
    },
    /// The manifest is not a component artifact.
    #[error("`{reference}` is not a wasm component artifact: {reason}")]
    NotAComponentArtifact {
        /// The reference.
        reference: String,
        /// What it is instead.
        reason: String,
    },
    /// The layer's bytes are not a WebAssembly component.
    #[error("the layer of `{reference}` is not a WebAssembly component: {reason}")]
    NotAComponent {
        /// The reference.
        reference: String,
        /// What the bytes are.
        reason: String,
    },
    /// A blob is larger than the limit.
    #[error(
        "`{reference}` is {size} bytes, over this host's limit of {limit} bytes (--max-component-size)"
    )]
    TooLarge {
        /// The reference.
        reference: String,
        /// Its size (declared or downloaded so far).
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// A blob's bytes do not hash to its digest.
    #[error(
        "`{reference}`: the registry sent bytes for {expected} that hash to {actual}; nothing was kept"
    )]
    DigestMismatch {
        /// The reference.
        reference: String,
        /// The digest asked for.
        expected: String,
        /// The digest of what came.
        actual: String,
    },
    /// The registry failed otherwise.
    #[error("registry `{registry}`: {reason}")]
    Registry {
        /// The registry host.
        registry: String,
        /// What failed.
        reason: String,
    },
    /// The local store could not be read or written.
    #[error("the OCI store at {path} failed: {source}")]
    Store {
        /// The path.
        path: std::path::PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// Whether `wasm` starts like a component (not a core module, not junk);
/// the reason when not.
pub fn check_component(wasm: &[u8]) -> Result<(), String> {
    match wasm {
        [0, b'a', b's', b'm', _, _, 1, 0, ..] => Ok(()),
        [0, b'a', b's', b'm', _, _, 0, 0, ..] => {
            Err("it is a core wasm module, not a component (build for wasm32-wasip2)".into())
        }
        _ => Err("it does not start with the wasm magic number".into()),
    }
}
