//! Calling a component's exported functions by name: what a link from
//! another component lands on, directly (same host) or from the lattice
//! (values as WAVE text).

use crate::calls::decode;
use crate::component::Component;
use crate::links::unversioned;
use std::collections::HashMap;
use std::time::{Duration, Instant};
use wasmtime::Engine;
use wasmtime::component::types::{ComponentFunc, ComponentItem};
use wasmtime::component::{ComponentExportIndex, Val};

/// The functions of a component's exported interfaces, found once at load.
#[derive(Default)]
pub(crate) struct Exports {
    /// `ns:pkg/iface#function` (interface without version) → the function.
    functions: HashMap<String, Export>,
}

struct Export {
    index: ComponentExportIndex,
    ty: ComponentFunc,
}

fn key(interface: &str, function: &str) -> String {
    format!("{}#{function}", unversioned(interface))
}

impl Exports {
    /// Indexes the functions of every interface `compiled` exports (not the
    /// ones Weft calls itself through typed bindings: they are indexed too,
    /// which is harmless).
    pub(crate) fn of(engine: &Engine, compiled: &wasmtime::component::Component) -> Self {
        let mut functions = HashMap::new();
        for (name, item) in compiled.component_type().exports(engine) {
            let ComponentItem::ComponentInstance(instance) = item.ty else {
                continue;
            };
            let Some(interface) = compiled.get_export_index(None, name) else {
                continue;
            };
            for (function, item) in instance.exports(engine) {
                let ComponentItem::ComponentFunc(ty) = item.ty else {
                    continue;
                };
                if let Some(index) = compiled.get_export_index(Some(&interface), function) {
                    functions.insert(key(name, function), Export { index, ty });
                }
            }
        }
        Self { functions }
    }

    /// Whether the component exports any interface function at all.
    pub(crate) fn is_empty(&self) -> bool {
        self.functions.is_empty()
    }
}

/// Why a call of an exported function failed.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum CallError {
    /// The component does not export the function.
    #[error("`{interface}#{function}`: component `{component}` does not export it")]
    NoSuchExport {
        /// The callee.
        component: String,
        /// The interface asked for.
        interface: String,
        /// The function asked for.
        function: String,
    },
    /// The arguments do not fit the export's parameters.
    #[error("`{interface}#{function}` of `{component}`: bad arguments: {reason}")]
    BadArguments {
        /// The callee.
        component: String,
        /// The interface.
        interface: String,
        /// The function.
        function: String,
        /// What does not fit.
        reason: String,
    },
    /// The callee trapped, ran out of time or could not be instantiated.
    #[error("`{interface}#{function}` of `{component}` failed: {reason}")]
    Failed {
        /// The callee.
        component: String,
        /// The interface.
        interface: String,
        /// The function.
        function: String,
        /// What happened.
        reason: String,
    },
}

impl Component {
    /// Calls `interface#function` on a fresh instance, under the
    /// component's limits and at most `timeout` (what the caller has left).
    pub async fn call_export(
        &self,
        interface: &str,
        function: &str,
        params: &[Val],
        timeout: Duration,
    ) -> Result<Vec<Val>, CallError> {
        let failed = |reason: String| CallError::Failed {
            component: self.id.to_string(),
            interface: interface.to_owned(),
            function: function.to_owned(),
            reason,
        };
        let Some(export) = self.exports.functions.get(&key(interface, function)) else {
            return Err(CallError::NoSuchExport {
                component: self.id.to_string(),
                interface: interface.to_owned(),
                function: function.to_owned(),
            });
        };
        let _active = self.active();
        let slots = self.slots.load().as_ref().map(std::sync::Arc::clone);
        let _permit = match slots {
            Some(slots) => Some(
                slots
                    .acquire_owned()
                    .await
                    .map_err(|_| failed("the component is stopping".into()))?,
            ),
            None => None,
        };
        let mut store = self.new_store();
        let deadline = Instant::now() + self.limits.timeout.min(timeout);
        store.data_mut().deadline = deadline;
        let instance = self
            .pre
            .instantiate_async(&mut store)
            .await
            .map_err(|e| failed(format!("no instance could be created: {e}")))?;
        let func = instance
            .get_func(&mut store, export.index)
            .ok_or_else(|| failed("the export is not a function".into()))?;
        let mut results = vec![Val::Bool(false); export.ty.results().len()];
        func.call_async(&mut store, params, &mut results)
            .await
            .map_err(|e| {
                if matches!(
                    e.downcast_ref::<wasmtime::Trap>(),
                    Some(wasmtime::Trap::Interrupt)
                ) {
                    failed("it ran past its deadline and was stopped".into())
                } else {
                    let reason = format!("{e:?}");
                    tracing::warn!(component = %self.id, interface, function, "call failed: {reason}");
                    failed(reason.lines().next().unwrap_or_default().to_owned())
                }
            })?;
        Ok(results)
    }

    /// [`Self::call_export`] with WAVE-encoded arguments and results, for
    /// calls that come from another host.
    pub async fn call_export_wave(
        &self,
        interface: &str,
        function: &str,
        args: &[String],
        timeout: Duration,
    ) -> Result<Vec<String>, CallError> {
        let Some(export) = self.exports.functions.get(&key(interface, function)) else {
            return Err(CallError::NoSuchExport {
                component: self.id.to_string(),
                interface: interface.to_owned(),
                function: function.to_owned(),
            });
        };
        let types: Vec<_> = export.ty.params().map(|(_, t)| t).collect();
        let params = decode(&types, args).map_err(|reason| CallError::BadArguments {
            component: self.id.to_string(),
            interface: interface.to_owned(),
            function: function.to_owned(),
            reason,
        })?;
        let results = self
            .call_export(interface, function, &params, timeout)
            .await?;
        results
            .iter()
            .map(|v| {
                v.to_wave().map_err(|e| CallError::Failed {
                    component: self.id.to_string(),
                    interface: interface.to_owned(),
                    function: function.to_owned(),
                    reason: format!("a result could not be encoded: {e}"),
                })
            })
            .collect()
    }
}
