//! Pulling a component: resolve the reference to a verified manifest, pick
//! its wasm layer, fetch the layer (from the store, or the registry with a
//! size limit and a digest check), one download per digest at a time.

use crate::client::{Answer, BodyError, Clients, Presented, chain};
use crate::store::{Store, sha256_digest};
use crate::{Credentials, DEFAULT_MAX_SIZE, Error, check_component, media, reference};
use oci_client::Reference;
use oci_client::errors::OciDistributionError;
use oci_client::manifest::{OciDescriptor, OciImageManifest};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Largest manifest or config blob accepted.
const MAX_METADATA: u64 = 1 << 20;

/// Told how a download goes.
pub trait Progress: Send + Sync {
    /// `done` of `total` bytes of the component have arrived.
    fn update(&self, done: u64, total: u64);
}

/// Progress nobody watches.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn update(&self, _done: u64, _total: u64) {}
}

/// How a [`Puller`] works.
#[derive(Debug, Clone)]
pub struct PullerConfig {
    /// Where blobs are kept.
    pub store_dir: PathBuf,
    /// Largest component accepted, in bytes.
    pub max_size: u64,
    /// Registries (`host` or `host:port`) spoken to over plain HTTP besides
    /// loopback ones.
    pub insecure: Vec<String>,
}

impl PullerConfig {
    /// Blobs in `store_dir`, the default size limit, HTTP for loopback only.
    pub fn new(store_dir: impl Into<PathBuf>) -> Self {
        Self {
            store_dir: store_dir.into(),
            max_size: DEFAULT_MAX_SIZE,
            insecure: Vec::new(),
        }
    }
}

/// A reference resolved to the digests it stands for.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// The reference as asked for, normalised (`oci://registry/repo:tag`).
    pub reference: String,
    /// The same, pinned to the manifest digest (`oci://registry/repo@sha256:…`).
    pub pinned: String,
    /// The manifest's digest.
    pub manifest_digest: String,
    /// The component layer's digest: the sha256 of the component's bytes.
    pub component_digest: String,
    /// The component's size in bytes, as the manifest declares it.
    pub size: u64,
    layer: OciDescriptor,
    image: Reference,
    /// What the registry accepted (its credentials, or a token for them).
    presented: Presented,
}

/// Pulls components for a host (or `weft pull`); cheap to share.
pub struct Puller {
    store: Store,
    max_size: u64,
    clients: Clients,
    credentials: Arc<Credentials>,
    /// One lock per digest being downloaded.
    inflight: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    downloads: AtomicU64,
}

impl Puller {
    /// A puller keeping blobs as `config` says, with `credentials`.
    pub fn new(config: PullerConfig, credentials: Arc<Credentials>) -> Self {
        Self {
            store: Store::new(config.store_dir),
            max_size: config.max_size,
            clients: Clients::new(config.insecure),
            credentials,
            inflight: Mutex::default(),
            downloads: AtomicU64::new(0),
        }
    }

    /// The largest component it accepts, in bytes (files a host loads are
    /// held to it too).
    pub fn max_size(&self) -> u64 {
        self.max_size
    }

    /// The credentials it pulls with (put more at run time).
    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    /// The blob store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// How many component layers it has downloaded (not served from the store).
    pub fn downloads(&self) -> u64 {
        self.downloads.load(Ordering::Relaxed)
    }

    /// What to send `image`'s registry to begin with: its own credentials.
    fn presented(&self, image: &Reference) -> Result<Presented, Error> {
        let registry = image.resolve_registry();
        self.clients
            .present(registry, &self.credentials.for_registry(registry))
    }

    /// Resolves `reference` to a verified manifest and its component layer.
    /// A digest reference whose manifest is in the store needs no registry.
    pub async fn resolve(&self, reference: &str) -> Result<Resolved, Error> {
        let image = reference::parse(reference)?;
        let shown = reference::display(&image);
        let mut presented = self.presented(&image)?;
        let (bytes, manifest_digest) = match image.digest() {
            Some(digest) => match self.store.read(digest).await? {
                Some(bytes) => (bytes, digest.to_owned()),
                None => self.fetch_manifest(&image, &shown, &mut presented).await?,
            },
            None => self.fetch_manifest(&image, &shown, &mut presented).await?,
        };
        let manifest = parse_manifest(&bytes, &shown)?;
        let layer = component_layer(&manifest, &shown)?;
        let size = u64::try_from(layer.size).unwrap_or(0);
        if size > self.max_size {
            return Err(Error::TooLarge {
                reference: shown,
                size,
                limit: self.max_size,
            });
        }
        reference::check_digest(&layer.digest).map_err(|reason| Error::NotAComponentArtifact {
            reference: shown.clone(),
            reason: format!("its layer digest is malformed: {reason}"),
        })?;
        self.check_config(&image, &manifest.config, &shown, &mut presented)
            .await?;
        // Only a manifest whose layer and config were checked is kept.
        if !self.store.contains(&manifest_digest) {
            self.store.write(&manifest_digest, &bytes).await?;
        }
        let pinned = format!(
            "oci://{}/{}@{manifest_digest}",
            image.registry(),
            image.repository()
        );
        Ok(Resolved {
            reference: shown,
            pinned,
            manifest_digest,
            component_digest: layer.digest.clone(),
            size,
            layer,
            image,
            presented,
        })
    }

    /// The manifest from the registry (read up to a limit), checked
    /// against its digest (and the reference's, if it has one).
    async fn fetch_manifest(
        &self,
        image: &Reference,
        shown: &str,
        presented: &mut Presented,
    ) -> Result<(Vec<u8>, String), Error> {
        let accept = [media::OCI_MANIFEST, media::DOCKER_MANIFEST].join(", ");
        let tag_or_digest = image.digest().or(image.tag()).unwrap_or("latest");
        let path = format!("/v2/{}/manifests/{tag_or_digest}", image.repository());
        let answer = self
            .clients
            .get(
                image.resolve_registry(),
                &path,
                &accept,
                &pull_scope(image),
                presented,
                false,
            )
            .await?;
        let answer = found(answer, image, shown).await?;
        let declared = answer.digest.clone();
        let bytes = answer
            .body(MAX_METADATA)
            .await
            .map_err(|e| body_error(e, image, shown, MAX_METADATA))?;
        let declared = declared.unwrap_or_else(|| sha256_digest(&bytes));
        check_manifest(bytes, &declared, image, shown)
    }

    /// Fetches the config blob once and checks its digest.
    async fn check_config(
        &self,
        image: &Reference,
        config: &OciDescriptor,
        shown: &str,
        presented: &mut Presented,
    ) -> Result<(), Error> {
        if self.store.contains(&config.digest) {
            return Ok(());
        }
        if u64::try_from(config.size).unwrap_or(u64::MAX) > MAX_METADATA {
            return Err(Error::TooLarge {
                reference: shown.to_owned(),
                size: u64::try_from(config.size).unwrap_or(u64::MAX),
                limit: MAX_METADATA,
            });
        }
        let bytes = self
            .download(image, config, MAX_METADATA, shown, presented, &NoProgress)
            .await?;
        self.store.write(&config.digest, &bytes).await
    }

    /// The component's bytes: from the store if it holds them intact,
    /// otherwise from the registry (one download per digest at a time; a
    /// concurrent fetch of the same digest waits and reads the store).
    pub async fn fetch(
        &self,
        resolved: &Resolved,
        progress: &dyn Progress,
    ) -> Result<Vec<u8>, Error> {
        let digest = &resolved.component_digest;
        if let Some(bytes) = self.store.read(digest).await? {
            return Ok(bytes);
        }
        let lock = {
            let mut inflight = self.inflight.lock().unwrap_or_else(|p| p.into_inner());
            inflight.entry(digest.clone()).or_default().clone()
        };
        let _turn = lock.lock().await;
        // A fetch of the same digest that held the turn before may have
        // stored it meanwhile.
        let result = match self.store.read(digest).await {
            Ok(Some(bytes)) => Ok(bytes),
            Ok(None) => self.download_component(resolved, progress).await,
            Err(e) => Err(e),
        };
        self.inflight
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(digest);
        result
    }

    /// Downloads the component's layer, checks it is a component and
    /// stores it under its digest.
    async fn download_component(
        &self,
        resolved: &Resolved,
        progress: &dyn Progress,
    ) -> Result<Vec<u8>, Error> {
        let bytes = self
            .download(
                &resolved.image,
                &resolved.layer,
                self.max_size,
                &resolved.reference,
                &mut resolved.presented.clone(),
                progress,
            )
            .await?;
        check_component(&bytes).map_err(|reason| Error::NotAComponent {
            reference: resolved.reference.clone(),
            reason,
        })?;
        self.downloads.fetch_add(1, Ordering::Relaxed);
        self.store.write(&resolved.component_digest, &bytes).await?;
        Ok(bytes)
    }

    /// Downloads a blob, at most `limit` bytes, and checks its digest.
    async fn download(
        &self,
        image: &Reference,
        blob: &OciDescriptor,
        limit: u64,
        shown: &str,
        presented: &mut Presented,
        progress: &dyn Progress,
    ) -> Result<Vec<u8>, Error> {
        reference::check_digest(&blob.digest).map_err(|reason| Error::NotAComponentArtifact {
            reference: shown.to_owned(),
            reason: format!("a blob digest is malformed: {reason}"),
        })?;
        let path = format!("/v2/{}/blobs/{}", image.repository(), blob.digest);
        let answer = self
            .clients
            .get(
                image.resolve_registry(),
                &path,
                "*/*",
                &pull_scope(image),
                presented,
                true,
            )
            .await?;
        let mut answer = found(answer, image, shown).await?;
        let total = u64::try_from(blob.size).unwrap_or(0);
        let mut hasher = Sha256::new();
        let mut bytes = Vec::with_capacity(usize::try_from(total.min(limit)).unwrap_or(0));
        loop {
            let chunk = match answer.chunk().await {
                Ok(Some(chunk)) => chunk,
                Ok(None) => break,
                Err(e) => {
                    return Err(Error::Registry {
                        registry: image.resolve_registry().to_owned(),
                        reason: format!("the download of {} broke off: {}", blob.digest, chain(&e)),
                    });
                }
            };
            if (bytes.len() + chunk.len()) as u64 > limit {
                return Err(Error::TooLarge {
                    reference: shown.to_owned(),
                    size: (bytes.len() + chunk.len()) as u64,
                    limit,
                });
            }
            hasher.update(&chunk);
            bytes.extend_from_slice(&chunk);
            progress.update(bytes.len() as u64, total);
        }
        let actual = format!("sha256:{}", hex::encode(hasher.finalize()));
        if actual != blob.digest {
            return Err(Error::DigestMismatch {
                reference: shown.to_owned(),
                expected: blob.digest.clone(),
                actual,
            });
        }
        Ok(bytes)
    }

    /// [`Self::resolve`] then [`Self::fetch`].
    pub async fn pull(
        &self,
        reference: &str,
        progress: &dyn Progress,
    ) -> Result<(Resolved, Vec<u8>), Error> {
        let resolved = self.resolve(reference).await?;
        let bytes = self.fetch(&resolved, progress).await?;
        Ok((resolved, bytes))
    }
}

/// A manifest's bytes checked against the digest the registry declared
/// (and the reference's, if it has one).
fn check_manifest(
    bytes: Vec<u8>,
    declared: &str,
    image: &Reference,
    shown: &str,
) -> Result<(Vec<u8>, String), Error> {
    if bytes.len() as u64 > MAX_METADATA {
        return Err(Error::TooLarge {
            reference: shown.to_owned(),
            size: bytes.len() as u64,
            limit: MAX_METADATA,
        });
    }
    let actual = sha256_digest(&bytes);
    let expected = image.digest().unwrap_or(declared);
    if actual != expected {
        return Err(Error::DigestMismatch {
            reference: shown.to_owned(),
            expected: expected.to_owned(),
            actual,
        });
    }
    Ok((bytes, actual))
}

/// `repository:REPO:pull`, the scope a pull asks a token for.
fn pull_scope(image: &Reference) -> String {
    format!("repository:{}:pull", image.repository())
}

/// A registry's answer if it found what was asked for (200), else what
/// it means for the user.
async fn found(answer: Answer, image: &Reference, shown: &str) -> Result<Answer, Error> {
    let registry = image.resolve_registry().to_owned();
    match answer.status {
        200 => Ok(answer),
        404 => Err(Error::NotFound {
            reference: shown.to_owned(),
            reason: answer.reason().await,
        }),
        401 | 403 => Err(Error::Unauthorized {
            registry,
            reason: answer.reason().await,
        }),
        _ => Err(Error::Registry {
            registry,
            reason: answer.reason().await,
        }),
    }
}

/// A body that could not be read, as the user should read it.
fn body_error(e: BodyError, image: &Reference, shown: &str, limit: u64) -> Error {
    match e {
        BodyError::TooLarge(size) => Error::TooLarge {
            reference: shown.to_owned(),
            size,
            limit,
        },
        BodyError::Broken(e) => Error::Registry {
            registry: image.resolve_registry().to_owned(),
            reason: chain(&e),
        },
    }
}

fn parse_manifest(bytes: &[u8], shown: &str) -> Result<OciImageManifest, Error> {
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| Error::NotAComponentArtifact {
            reference: shown.to_owned(),
            reason: format!("its manifest is not JSON: {e}"),
        })?;
    if value.get("manifests").is_some() {
        return Err(Error::NotAComponentArtifact {
            reference: shown.to_owned(),
            reason: "it is an image index (several platforms); point at a component manifest"
                .into(),
        });
    }
    serde_json::from_value(value).map_err(|e| Error::NotAComponentArtifact {
        reference: shown.to_owned(),
        reason: format!("its manifest is not an OCI image manifest: {e}"),
    })
}

/// The digest of the one wasm layer that manifest bytes from a registry
/// name, or why they are not a component artifact (not JSON, an image
/// index, not an OCI image manifest, no wasm layer or several). The same
/// checks a pull makes; for tools and fuzzing.
pub fn manifest_component_layer(bytes: &[u8], shown: &str) -> Result<String, Error> {
    let manifest = parse_manifest(bytes, shown)?;
    Ok(component_layer(&manifest, shown)?.digest)
}

/// The one wasm layer of a manifest.
fn component_layer(manifest: &OciImageManifest, shown: &str) -> Result<OciDescriptor, Error> {
    let wasm: Vec<&OciDescriptor> = manifest
        .layers
        .iter()
        .filter(|l| media::is_wasm_layer(&l.media_type))
        .collect();
    match wasm.as_slice() {
        [layer] => Ok((*layer).clone()),
        [] => {
            let types: Vec<&str> = manifest
                .layers
                .iter()
                .map(|l| l.media_type.as_str())
                .collect();
            Err(Error::NotAComponentArtifact {
                reference: shown.to_owned(),
                reason: format!(
                    "it has no `{}` layer (layers: {}); push components with `weft push`",
                    media::WASM_LAYER,
                    if types.is_empty() {
                        "none".to_owned()
                    } else {
                        types.join(", ")
                    }
                ),
            })
        }
        many => Err(Error::NotAComponentArtifact {
            reference: shown.to_owned(),
            reason: format!(
                "it has {} wasm layers; a component artifact has one",
                many.len()
            ),
        }),
    }
}

/// Turns an oci-client error into what the user should do.
pub(crate) fn classify(e: OciDistributionError, image: &Reference, shown: &str) -> Error {
    use oci_client::errors::OciErrorCode as Code;
    let registry = image.resolve_registry().to_owned();
    let text = e.to_string();
    match e {
        OciDistributionError::AuthenticationFailure(reason)
        | OciDistributionError::UnauthorizedError { url: reason } => {
            Error::Unauthorized { registry, reason }
        }
        OciDistributionError::ImageManifestNotFoundError(reason) => Error::NotFound {
            reference: shown.to_owned(),
            reason,
        },
        OciDistributionError::RegistryError { ref envelope, .. } => {
            let codes: Vec<&Code> = envelope.errors.iter().map(|e| &e.code).collect();
            let reason = envelope
                .errors
                .iter()
                .map(|e| e.message.clone())
                .collect::<Vec<_>>()
                .join("; ");
            if codes.iter().any(|c| {
                matches!(
                    c,
                    Code::ManifestUnknown | Code::NameUnknown | Code::BlobUnknown | Code::NotFound
                )
            }) {
                Error::NotFound {
                    reference: shown.to_owned(),
                    reason,
                }
            } else if codes
                .iter()
                .any(|c| matches!(c, Code::Unauthorized | Code::Denied))
            {
                Error::Unauthorized { registry, reason }
            } else {
                Error::Registry {
                    registry,
                    reason: text,
                }
            }
        }
        OciDistributionError::ServerError {
            code: 404, message, ..
        } => Error::NotFound {
            reference: shown.to_owned(),
            reason: message,
        },
        OciDistributionError::ServerError {
            code: 401 | 403,
            message,
            ..
        } => Error::Unauthorized {
            registry,
            reason: message,
        },
        OciDistributionError::RequestError(ref inner)
            if inner.is_connect() || inner.is_timeout() =>
        {
            Error::Unreachable {
                registry,
                reason: chain(inner),
            }
        }
        _ => Error::Registry {
            registry,
            reason: text,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_bytes_give_the_wasm_layer_or_say_why_not() {
        let component = br#"{"schemaVersion":2,"config":{"mediaType":"application/vnd.wasm.config.v0+json","digest":"sha256:aa","size":2},"layers":[{"mediaType":"application/wasm","digest":"sha256:bb","size":3}]}"#;
        assert_eq!(
            manifest_component_layer(component, "oci://r/x:1")
                .ok()
                .as_deref(),
            Some("sha256:bb")
        );
        let index = br#"{"schemaVersion":2,"manifests":[]}"#;
        let err = manifest_component_layer(index, "oci://r/x:1")
            .err()
            .map(|e| e.to_string());
        assert!(
            err.as_deref().is_some_and(|e| e.contains("image index")),
            "{err:?}"
        );
        for bad in [&b"not json"[..], b"{}", b"\xff\xfe", b"[]"] {
            assert!(manifest_component_layer(bad, "oci://r/x:1").is_err());
        }
    }
}
