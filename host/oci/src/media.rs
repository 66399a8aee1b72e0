//! Media types of wasm components in OCI registries (GOTCHAS.md 4:
//! oci-client's own constants are the older artifact format).

/// The CNCF wasm artifact layer: the component's bytes.
pub const WASM_LAYER: &str = "application/wasm";
/// The CNCF wasm artifact config.
pub const WASM_CONFIG: &str = "application/vnd.wasm.config.v0+json";
/// Layer types other tools push components with, accepted on pull:
/// wasm-to-oci and wasmCloud before the CNCF format, and Spin.
pub const OTHER_WASM_LAYERS: &[&str] = &[
    "application/vnd.module.wasm.content.layer.v1+wasm",
    "application/vnd.wasm.content.layer.v1+wasm",
    "application/vnd.wasmcloud.actor.archive.layer",
];
/// An OCI image manifest.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// A Docker v2 image manifest (registries may serve this for old pushes).
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";

/// Whether a layer of this media type holds a component.
pub fn is_wasm_layer(media_type: &str) -> bool {
    media_type == WASM_LAYER || OTHER_WASM_LAYERS.contains(&media_type)
}
