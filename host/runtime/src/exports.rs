//! Calling a component's exported functions by name: what a link from
//! another component lands on, directly (same host) or from the lattice
//! (values as WAVE text).

use crate::calls::decode;
use crate::component::{Component, Refused, Stop, deadline_in, until};
use crate::links::unversioned;
use std::collections::HashMap;
use std::time::Duration;
use wasmtime::Engine;
use wasmtime::component::types::{ComponentFunc, ComponentItem};
use wasmtime::component::{ComponentExportIndex, Val};
use weft_capability::call::Encoding;

/// The functions of a component's exported interfaces, found once at load.
#[derive(Default)]
pub(crate) struct Exports {
    /// `ns:pkg/iface#function` (interface without version) → the function.
    functions: HashMap<String, Export>,
}

struct Export {
    index: ComponentExportIndex,
    ty: ComponentFunc,
    /// The exported interface's name (`ns:pkg/iface@1.0.0`), for messages.
    interface: String,
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
                    functions.insert(
                        key(name, function),
                        Export {
                            index,
                            ty,
                            interface: name.to_owned(),
                        },
                    );
                }
            }
        }
        Self { functions }
    }

    /// Whether the component exports any interface function at all.
    pub(crate) fn is_empty(&self) -> bool {
        self.functions.is_empty()
    }

    /// The export `interface#function`; `interface` may be the full name
    /// (with or without version), the short name (`greeter`), or empty:
    /// then the function name alone must pick exactly one export.
    fn find(&self, component: &str, interface: &str, function: &str) -> Result<&Export, CallError> {
        if let Some(export) = self.functions.get(&key(interface, function)) {
            return Ok(export);
        }
        let short = unversioned(interface);
        let matches: Vec<(&String, &Export)> = self
            .functions
            .iter()
            .filter(|(k, _)| {
                let Some((iface, f)) = k.split_once('#') else {
                    return false;
                };
                f == function
                    && (short.is_empty()
                        || iface.rsplit('/').next() == Some(short)
                        || iface == short)
            })
            .collect();
        match matches.as_slice() {
            [(_, export)] => Ok(export),
            [] => {
                let mut known: Vec<&str> = self.functions.keys().map(String::as_str).collect();
                known.sort_unstable();
                Err(CallError::NoSuchExport {
                    component: component.to_owned(),
                    wanted: if interface.is_empty() {
                        function.to_owned()
                    } else {
                        format!("{interface}#{function}")
                    },
                    known: if known.is_empty() {
                        "nothing callable".into()
                    } else {
                        known.join(", ")
                    },
                })
            }
            many => Err(CallError::Ambiguous {
                component: component.to_owned(),
                function: function.to_owned(),
                candidates: many
                    .iter()
                    .map(|(k, _)| (*k).clone())
                    .collect::<Vec<_>>()
                    .join(", "),
            }),
        }
    }
}

/// Why a call of an exported function failed.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum CallError {
    /// The component does not export the function.
    #[error("component `{component}` does not export `{wanted}`; it exports: {known}")]
    NoSuchExport {
        /// The callee.
        component: String,
        /// What was asked for (`interface#function`, or just `function`).
        wanted: String,
        /// What it does export.
        known: String,
    },
    /// A function name without its interface names several exports.
    #[error("`{function}` of `{component}` is ambiguous; name the interface: {candidates}")]
    Ambiguous {
        /// The callee.
        component: String,
        /// The function asked for.
        function: String,
        /// The exports it could mean.
        candidates: String,
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
        use tracing::Instrument;
        let started = self.clock();
        let span = tracing::debug_span!(
            "invocation",
            component = %self.id,
            kind = "call",
            interface,
            function
        );
        let result = self
            .run_export(interface, function, params, timeout)
            .instrument(span)
            .await;
        self.count(crate::metrics::Kind::Call, started, result.is_ok());
        result
    }

    async fn run_export(
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
        let export = self.exports.find(&self.id, interface, function)?;
        let interface = export.interface.as_str();
        // The caller's deadline travels with the call: what it has left, or
        // the component's own limit if that is shorter.
        let deadline = deadline_in(self.limits.timeout.min(timeout));
        let _admitted = self
            .admit(deadline)
            .await
            .map_err(|refused| match refused {
                Refused::Late => failed(
                    "its deadline passed while it waited for a slot (every slot was busy, \
                 perhaps with the very call that is waiting)"
                        .into(),
                ),
                Refused::Stopping => failed("the component is stopping".into()),
            })?;
        let mut store = self.new_store();
        store.data_mut().begin(deadline);
        let mut results = vec![Val::Bool(false); export.ty.results().len()];
        // Everything from instantiation to the last host call ends at the
        // deadline, whatever it waits on.
        let run = async {
            let instance = self
                .pre
                .instantiate_async(&mut store)
                .await
                .map_err(|e| Stop::NotRun(format!("no instance could be created: {e}")))?;
            let func = instance
                .get_func(&mut store, export.index)
                .ok_or_else(|| Stop::NotRun("the export is not a function".into()))?;
            func.call_async(&mut store, params, &mut results)
                .await
                .map_err(Stop::Trap)
        };
        let wall_clock = self.runtime.config().wall_clock_deadlines;
        let trap = match until(wall_clock, deadline, run).await {
            Some(Ok(())) => return Ok(results),
            // Not the guest's fault: nothing ran.
            Some(Err(Stop::NotRun(reason))) => return Err(failed(reason)),
            Some(Err(Stop::Trap(trap))) => Some(trap),
            None => None,
        };
        store.data().failed();
        Err(match trap {
            Some(e)
                if !matches!(
                    e.downcast_ref::<wasmtime::Trap>(),
                    Some(wasmtime::Trap::Interrupt)
                ) =>
            {
                let reason = format!("{e:?}");
                tracing::warn!(component = %self.id, interface, function, "call failed: {reason}");
                failed(reason.lines().next().unwrap_or_default().to_owned())
            }
            _ => failed("it ran past its deadline and was stopped".into()),
        })
    }

    /// [`Self::call_export`] with WAVE-encoded arguments, and results as
    /// WAVE or JSON text, for calls from another host or from `weft call`.
    pub async fn call_export_text(
        &self,
        interface: &str,
        function: &str,
        args: &[String],
        timeout: Duration,
        results: Encoding,
    ) -> Result<Vec<String>, CallError> {
        let export = self.exports.find(&self.id, interface, function)?;
        // Messages name the export as it is, not as it was asked for.
        let interface = export.interface.as_str();
        let types: Vec<_> = export.ty.params().map(|(_, t)| t).collect();
        let params = decode(&types, args).map_err(|reason| CallError::BadArguments {
            component: self.id.to_string(),
            interface: interface.to_owned(),
            function: function.to_owned(),
            reason,
        })?;
        let values = self
            .call_export(interface, function, &params, timeout)
            .await?;
        values
            .iter()
            .map(|v| match results {
                Encoding::Wave => v.to_wave().map_err(|e| CallError::Failed {
                    component: self.id.to_string(),
                    interface: interface.to_owned(),
                    function: function.to_owned(),
                    reason: format!("a result could not be encoded: {e}"),
                }),
                Encoding::Json => Ok(crate::json::to_json(v).to_string()),
            })
            .collect()
    }
}
