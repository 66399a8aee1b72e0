//! Imports nobody provides: defined as functions that trap with a clear
//! message, so a component that imports an unknown interface still starts
//! and fails only if it calls it (deny by default, at call time).
//!
//! wasmtime's `define_unknown_imports_as_traps` also re-defines type aliases
//! (e.g. `wasi:io/streams.error`) inside instances the linker does provide,
//! which breaks them; this stubs only whole instances the linker lacks.

use crate::state::State;
use wasmtime::Engine;
use wasmtime::component::types::ComponentItem;
use wasmtime::component::{Component, Linker, ResourceType};

/// Packages the runtime provides itself; their interfaces are never stubbed.
const PROVIDED: &[&str] = &[
    "wasi:cli/",
    "wasi:io/",
    "wasi:clocks/",
    "wasi:random/",
    "wasi:filesystem/",
    "wasi:sockets/",
    "wasi:http/",
    "wasi:keyvalue/",
    "wasi:config/",
    "wasi:logging/",
    "wasmcloud:messaging/",
];

/// Defines every import instance of `component` that Weft does not provide as traps.
pub(crate) fn stub_unknown_imports(
    linker: &mut Linker<State>,
    engine: &Engine,
    component: &Component,
) -> wasmtime::Result<()> {
    for (name, item) in component.component_type().imports(engine) {
        if PROVIDED.iter().any(|p| name.starts_with(p)) {
            continue;
        }
        match item.ty {
            ComponentItem::ComponentInstance(instance) => {
                let mut inst = linker.instance(name)?;
                for (export, item) in instance.exports(engine) {
                    match item.ty {
                        ComponentItem::ComponentFunc(_) => {
                            let what = format!("{name}#{export}");
                            inst.func_new(export, move |_, _, _, _| {
                                wasmtime::bail!(
                                    "`{what}` is not provided by this host: link the interface to a provider"
                                )
                            })?;
                        }
                        ComponentItem::Resource(_) => {
                            inst.resource(export, ResourceType::host::<()>(), |_, _| Ok(()))?;
                        }
                        _ => {}
                    }
                }
            }
            ComponentItem::ComponentFunc(_) => {
                let what = name.to_owned();
                linker.root().func_new(name, move |_, _, _, _| {
                    wasmtime::bail!("`{what}` is not provided by this host")
                })?;
            }
            _ => {}
        }
    }
    Ok(())
}
