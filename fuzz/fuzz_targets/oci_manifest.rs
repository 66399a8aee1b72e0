//! OCI manifests and indexes as a registry might send them: the wasm layer
//! or a reason, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = weft_oci::manifest_component_layer(data, "oci://fuzz/x:1");
    let _ = weft_oci::reference::parse(&String::from_utf8_lossy(data));
});
