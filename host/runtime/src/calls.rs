//! Imports the runtime does not provide itself: custom interfaces, whose
//! calls go to the component a link names (on this host: a direct call into
//! its instance; elsewhere: across the lattice, values as WAVE text).
//!
//! Every function of such an import is defined when the component loads, so
//! a component with an unlinked import still starts; a call fails (traps,
//! since a custom function has no error channel of ours) with a message
//! that says which link is missing. Deny by default, at call time.
//!
//! wasmtime's `define_unknown_imports_as_traps` also re-defines type aliases
//! (e.g. `wasi:io/streams.error`) inside instances the linker does provide,
//! which breaks them; this defines only whole instances the linker lacks.

use crate::links::{CallTarget, unversioned};
use crate::state::State;
use std::sync::Arc;
use std::time::{Duration, Instant};
use wasmtime::component::types::{ComponentFunc, ComponentItem, Type};
use wasmtime::component::{Component, Linker, ResourceType, Val};
use wasmtime::{Engine, StoreContextMut};
use weft_capability::call::Call;

/// Interfaces the runtime serves itself (never forwarded to a component),
/// by name prefix, and whether they need a link to a provider to work.
const PROVIDED: &[(&str, bool)] = &[
    ("wasi:cli/", false),
    ("wasi:io/", false),
    ("wasi:clocks/", false),
    ("wasi:random/", false),
    ("wasi:filesystem/", false),
    ("wasi:sockets/", false),
    ("wasi:config/", false),
    ("wasi:logging/", false),
    ("wasmcloud:bus/", false),
    ("wasi:http/types", false),
    ("wasmcloud:messaging/types", false),
    ("wasi:http/", true),
    ("wasi:keyvalue/", true),
    ("wasmcloud:messaging/", true),
];

/// How an import is served: `Some(false)` by the host alone, `Some(true)`
/// by the host through a link to a provider, `None` by a link to a
/// component (a custom interface).
pub fn served_by_host(import: &str) -> Option<bool> {
    PROVIDED
        .iter()
        .find(|(prefix, _)| import.starts_with(prefix))
        .map(|(_, needs_link)| *needs_link)
}

/// One imported function whose calls follow the component's links.
struct Forward {
    /// The import's full name (`ns:pkg/iface@1.0.0`).
    interface: String,
    /// `ns:pkg/iface`: what links are keyed by.
    key: String,
    function: String,
    /// Resources cannot leave the store they live in.
    passes_resources: bool,
}

/// Defines every import of `component` that Weft does not provide: custom
/// interfaces forward to their link's target, anything else traps.
pub(crate) fn define_forwarders(
    linker: &mut Linker<State>,
    engine: &Engine,
    component: &Component,
) -> wasmtime::Result<()> {
    for (name, item) in component.component_type().imports(engine) {
        if served_by_host(name).is_some() {
            continue;
        }
        match item.ty {
            ComponentItem::ComponentInstance(instance) => {
                let mut inst = linker.instance(name)?;
                for (export, item) in instance.exports(engine) {
                    match item.ty {
                        ComponentItem::ComponentFunc(ty) => {
                            let forward = Arc::new(Forward {
                                interface: name.to_owned(),
                                key: unversioned(name).to_owned(),
                                function: export.to_owned(),
                                passes_resources: passes_resources(&ty),
                            });
                            inst.func_new_async(export, move |store, ty, params, results| {
                                let forward = forward.clone();
                                Box::new(
                                    async move { forward.call(store, ty, params, results).await },
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
                    wasmtime::bail!(
                        "`{what}` is not provided by this host: only interfaces can be linked"
                    )
                })?;
            }
            _ => {}
        }
    }
    Ok(())
}

impl Forward {
    /// Forwards the call, counted and timed for the link's metrics.
    async fn call(
        &self,
        store: StoreContextMut<'_, State>,
        ty: ComponentFunc,
        params: &[Val],
        results: &mut [Val],
    ) -> wasmtime::Result<()> {
        let meter = store
            .data()
            .routing
            .targets(&self.key)
            .and_then(|t| t.call_metrics.get(&self.key))
            .cloned();
        let started = Instant::now();
        let result = async move {
            let route = self.route(store.data())?;
            let out = self.forward(route, &ty, params).await?;
            if out.len() != results.len() {
                wasmtime::bail!(
                    "`{}#{}` returned {} results where the import expects {}",
                    self.interface,
                    self.function,
                    out.len(),
                    results.len()
                );
            }
            results.clone_from_slice(&out);
            Ok(())
        }
        .await;
        if let Some(meter) = meter {
            meter.record(started, result.is_ok());
        }
        result
    }

    /// Where the call goes (the target, the caller, the time it has
    /// left), read from the store before anything waits.
    fn route(&self, state: &State) -> wasmtime::Result<(CallTarget, String, Duration)> {
        let routing = &state.routing;
        if self.passes_resources {
            wasmtime::bail!(
                "`{}#{}` takes or returns resources, which cannot be passed to another component",
                self.interface,
                self.function
            );
        }
        let target = routing
            .targets(&self.key)
            .and_then(|t| t.calls.get(&self.key))
            .cloned();
        let Some(target) = target else {
            wasmtime::bail!(routing.unlinked(&self.key, "a component that exports it"));
        };
        let timeout = state.deadline.saturating_duration_since(Instant::now());
        Ok((target, routing.component.to_string(), timeout))
    }

    /// The results of the call, from the link's target.
    async fn forward(
        &self,
        (target, caller, timeout): (CallTarget, String, Duration),
        ty: &ComponentFunc,
        params: &[Val],
    ) -> wasmtime::Result<Vec<Val>> {
        let out = match target {
            CallTarget::Local(component) => component
                .call_export(&self.interface, &self.function, params, timeout)
                .await
                .map_err(|e| wasmtime::format_err!("component `{caller}` calling {e}"))?,
            CallTarget::Remote { target, calls } => {
                let args = params
                    .iter()
                    .map(Val::to_wave)
                    .collect::<wasmtime::Result<Vec<_>>>()?;
                let call = Call {
                    target: target.clone(),
                    interface: self.interface.clone(),
                    function: self.function.clone(),
                    args,
                    timeout,
                    results: weft_capability::call::Encoding::Wave,
                };
                let encoded = calls.call(call).await.map_err(|e| {
                    wasmtime::format_err!(
                        "component `{caller}` calling `{}#{}` on `{target}`: {e}",
                        self.interface,
                        self.function
                    )
                })?;
                decode(&ty.results().collect::<Vec<_>>(), &encoded).map_err(|e| {
                    wasmtime::format_err!(
                        "`{target}` answered `{}#{}` with results that do not fit the import: {e}",
                        self.interface,
                        self.function
                    )
                })?
            }
        };
        Ok(out)
    }
}

/// Decodes WAVE strings, one per type.
pub(crate) fn decode(types: &[Type], encoded: &[String]) -> Result<Vec<Val>, String> {
    if types.len() != encoded.len() {
        return Err(format!(
            "{} values where {} were expected",
            encoded.len(),
            types.len()
        ));
    }
    types
        .iter()
        .zip(encoded)
        .enumerate()
        .map(|(i, (ty, s))| Val::from_wave(ty, s).map_err(|e| format!("value {}: {e}", i + 1)))
        .collect()
}

/// Whether a function's parameters or results hold a resource anywhere.
fn passes_resources(ty: &ComponentFunc) -> bool {
    ty.params().any(|(_, t)| has_resource(&t)) || ty.results().any(|t| has_resource(&t))
}

fn has_resource(ty: &Type) -> bool {
    match ty {
        Type::Own(_) | Type::Borrow(_) | Type::Future(_) | Type::Stream(_) => true,
        Type::List(l) => has_resource(&l.ty()),
        Type::FixedLengthList(l) => has_resource(&l.ty()),
        Type::Map(m) => has_resource(&m.key()) || has_resource(&m.value()),
        Type::Record(r) => r.fields().any(|f| has_resource(&f.ty)),
        Type::Tuple(t) => t.types().any(|t| has_resource(&t)),
        Type::Variant(v) => v.cases().any(|c| c.ty.as_ref().is_some_and(has_resource)),
        Type::Option(o) => has_resource(&o.ty()),
        Type::Result(r) => {
            r.ok().as_ref().is_some_and(has_resource) || r.err().as_ref().is_some_and(has_resource)
        }
        _ => false,
    }
}
