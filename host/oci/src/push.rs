//! Pushing a component in the CNCF wasm artifact layout: one
//! `application/wasm` layer, an `application/vnd.wasm.config.v0+json`
//! config, an OCI image manifest with `artifactType` set.

use crate::client::Clients;
use crate::store::sha256_digest;
use crate::{Credentials, Error, check_component, media, reference};
use oci_client::manifest::{OciDescriptor, OciImageManifest};
use std::collections::BTreeMap;
use std::sync::Arc;

/// What to push.
#[derive(Debug, Clone)]
pub struct PushRequest {
    /// Where (`oci://registry/repo:tag`).
    pub reference: String,
    /// The component's bytes.
    pub wasm: Vec<u8>,
    /// Manifest annotations (`org.opencontainers.image.*` and others).
    pub annotations: BTreeMap<String, String>,
}

/// What a push stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pushed {
    /// The reference pushed to.
    pub reference: String,
    /// The manifest's digest (pull by `…@<this>`).
    pub manifest_digest: String,
    /// The component layer's digest.
    pub component_digest: String,
    /// The component's size in bytes.
    pub size: u64,
}

/// Pushes components.
pub struct Pusher {
    clients: Clients,
    credentials: Arc<Credentials>,
}

fn descriptor(media_type: &str, bytes: &[u8]) -> OciDescriptor {
    OciDescriptor {
        media_type: media_type.to_owned(),
        digest: sha256_digest(bytes),
        size: i64::try_from(bytes.len()).unwrap_or(i64::MAX),
        urls: None,
        annotations: None,
        artifact_type: None,
    }
}

impl Pusher {
    /// A pusher with `credentials`, plain HTTP for loopback and `insecure`.
    pub fn new(insecure: Vec<String>, credentials: Arc<Credentials>) -> Self {
        Self {
            clients: Clients::new(insecure),
            credentials,
        }
    }

    /// Pushes `req.wasm`, which must be a component.
    pub async fn push(&self, req: PushRequest) -> Result<Pushed, Error> {
        let image = reference::parse(&req.reference)?;
        let shown = reference::display(&image);
        check_component(&req.wasm)
            .and_then(|()| validate(&req.wasm))
            .map_err(|reason| Error::NotAComponent {
                reference: shown.clone(),
                reason,
            })?;
        let layer = descriptor(media::WASM_LAYER, &req.wasm);
        let config = serde_json::to_vec(&serde_json::json!({
            "architecture": "wasm",
            "os": "wasip2",
            "layerDigests": [layer.digest],
        }))
        .map_err(|e| Error::Registry {
            registry: image.resolve_registry().to_owned(),
            reason: format!("could not encode the config: {e}"),
        })?;
        let config_descriptor = descriptor(media::WASM_CONFIG, &config);
        let manifest = OciImageManifest {
            schema_version: 2,
            media_type: Some(media::OCI_MANIFEST.to_owned()),
            config: config_descriptor.clone(),
            layers: vec![layer.clone()],
            subject: None,
            artifact_type: Some(media::WASM_CONFIG.to_owned()),
            annotations: (!req.annotations.is_empty()).then(|| req.annotations.clone()),
        };
        let manifest_bytes = serde_json::to_vec(&manifest).map_err(|e| Error::Registry {
            registry: image.resolve_registry().to_owned(),
            reason: format!("could not encode the manifest: {e}"),
        })?;
        let registry = image.resolve_registry().to_owned();
        let auth = self.credentials.for_registry(&registry);
        // Weft obtains the registry's token itself (credentials only at a
        // realm on its host) and hands oci-client the token, never the
        // credentials, where the registry uses tokens.
        let mut presented = self.clients.present(&registry, &auth)?;
        let scope = format!("repository:{}:pull,push", image.repository());
        let probe = self
            .clients
            .get(&registry, "/v2/", "*/*", &scope, &mut presented, false)
            .await?;
        drop(probe);
        let client = self.clients.get_client(&registry, &auth);
        client
            .store_auth_if_needed(&registry, &presented.to_registry_auth())
            .await;
        let fail = |e| crate::pull::classify(e, &image, &shown);
        client
            .push_blob(&image, req.wasm.clone(), &layer.digest)
            .await
            .map_err(fail)?;
        client
            .push_blob(&image, config, &config_descriptor.digest)
            .await
            .map_err(fail)?;
        let content_type = http::HeaderValue::from_static(media::OCI_MANIFEST);
        client
            .push_manifest_raw(&image, manifest_bytes.clone(), content_type)
            .await
            .map_err(fail)?;
        Ok(Pushed {
            reference: shown,
            manifest_digest: sha256_digest(&manifest_bytes),
            component_digest: layer.digest,
            size: req.wasm.len() as u64,
        })
    }
}

/// Fully validates a component (types, functions, every section), so that
/// nothing broken reaches a registry.
fn validate(wasm: &[u8]) -> Result<(), String> {
    wasmparser::Validator::new_with_features(wasmparser::WasmFeatures::all())
        .validate_all(wasm)
        .map(|_| ())
        .map_err(|e| format!("it does not validate: {e}"))
}
