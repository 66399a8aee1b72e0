//! The one place where host bindings are generated, from the root `wit/`.
#![allow(missing_docs, reason = "generated code; the WIT files carry the docs")]

wasmtime::component::bindgen!({
    path: "../../wit",
    world: "weft:platform/host",
    imports: { default: async | trappable },
    exports: { default: async },
    with: {
        "wasi:keyvalue/store.bucket": crate::keyvalue::Bucket,
        "wasmcloud:bus/lattice.call-target-interface": crate::bus::CallTargetInterface,
    },
    trappable_error_type: {
        "wasi:keyvalue/store.error" => crate::keyvalue::Failure,
    },
    require_store_data_send: true,
});
