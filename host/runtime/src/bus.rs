//! `wasmcloud:bus/lattice` (1.0.0 and 2.0.x) for guests: `set-link-name`
//! routes the calls of the named interfaces over another link for the rest
//! of the invocation, as components built for wasmCloud expect.

use crate::bindings::wasmcloud::{bus1_0_0, bus2_0_1};
use crate::links::Routing;
use wasmtime::component::{Resource, ResourceTable};

/// An interface named in a `set-link-name` call
/// (`wasmcloud:bus/lattice.call-target-interface`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallTargetInterface {
    namespace: String,
    package: String,
    interface: String,
}

impl CallTargetInterface {
    /// `namespace:package/interface`, the key links are routed by.
    fn key(&self) -> String {
        format!("{}:{}/{}", self.namespace, self.package, self.interface)
    }
}

/// What a store lends the bus host functions for one call.
pub struct View<'a> {
    /// The store's routing, where the picks are recorded.
    pub routing: &'a mut Routing,
    /// The store's resource table, holding the interface handles.
    pub table: &'a mut ResourceTable,
}

crate::linker::package_linker!(
    "Adds `wasmcloud:bus/lattice@1.0.0` and `@2.0.1` (which serves 2.0.x) to `linker`.",
    bus1_0_0::lattice,
    bus2_0_1::lattice,
);

impl View<'_> {
    fn new_interface(
        &mut self,
        namespace: String,
        package: String,
        interface: String,
    ) -> wasmtime::Result<Resource<CallTargetInterface>> {
        Ok(self.table.push(CallTargetInterface {
            namespace,
            package,
            interface,
        })?)
    }

    /// Records the pick; returns whether link `name` exists.
    fn pick(
        &mut self,
        name: &str,
        interfaces: &[Resource<CallTargetInterface>],
    ) -> wasmtime::Result<bool> {
        for handle in interfaces {
            let key = self.table.get(handle)?.key();
            self.routing.pick(key, name.to_owned());
        }
        Ok(self.routing.links.has(name))
    }
}

/// Both versions' `call-target-interface` resources are the same type.
macro_rules! call_target_interface {
    ($($version:ident),*) => {$(
        impl $version::lattice::HostCallTargetInterface for View<'_> {
            async fn new(
                &mut self,
                namespace: String,
                package: String,
                interface: String,
            ) -> wasmtime::Result<Resource<CallTargetInterface>> {
                self.new_interface(namespace, package, interface)
            }

            async fn drop(&mut self, rep: Resource<CallTargetInterface>) -> wasmtime::Result<()> {
                self.table.delete(rep)?;
                Ok(())
            }
        }
    )*};
}

call_target_interface!(bus1_0_0, bus2_0_1);

impl bus1_0_0::lattice::Host for View<'_> {
    async fn set_link_name(
        &mut self,
        name: String,
        interfaces: Vec<Resource<CallTargetInterface>>,
    ) -> wasmtime::Result<()> {
        // 1.0.0 has no way to report a missing link: the next call through
        // it fails with a message naming the link.
        self.pick(&name, &interfaces)?;
        Ok(())
    }
}

impl bus2_0_1::lattice::Host for View<'_> {
    async fn set_link_name(
        &mut self,
        name: String,
        interfaces: Vec<Resource<CallTargetInterface>>,
    ) -> wasmtime::Result<Result<(), String>> {
        if self.pick(&name, &interfaces)? {
            Ok(Ok(()))
        } else {
            Ok(Err(format!(
                "component `{}` has no link named `{name}`; calls over it will fail until one is put",
                self.routing.component
            )))
        }
    }
}
