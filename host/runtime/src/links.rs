//! What a component's imports are bound to, by link name, and how one
//! invocation picks among the names (`wasmcloud:bus/lattice.set-link-name`).
//!
//! The host resolves links once, when they change, into a [`Links`] value
//! of ready `Arc`s; the component swaps it in whole. Each store takes the
//! current value when an invocation starts and keeps it to the end, so a
//! swap reaches the next invocation while running ones finish on the old
//! targets.

use crate::component::Component;
use crate::metrics::Calls;
use std::collections::HashMap;
use std::sync::Arc;
use weft_capability::call::RemoteCalls;
use weft_capability::http_client::HttpClient;
use weft_capability::keyvalue::KeyValue;
use weft_capability::messaging::Messaging;

/// The link name a component's calls use unless it picks another.
pub const DEFAULT_LINK: &str = "default";

/// Where the calls of one custom interface go: a component on this host
/// (called directly, no network) or one on another host.
#[derive(Clone)]
pub enum CallTarget {
    /// The target runs here.
    Local(Arc<Component>),
    /// The target runs elsewhere; calls cross the lattice.
    Remote {
        /// The target component's id.
        target: String,
        /// The transport.
        calls: Arc<dyn RemoteCalls>,
    },
}

impl CallTarget {
    fn same_as(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Local(a), Self::Local(b)) => Arc::ptr_eq(a, b),
            (
                Self::Remote { target, calls },
                Self::Remote {
                    target: t,
                    calls: c,
                },
            ) => target == t && Arc::ptr_eq(calls, c),
            _ => false,
        }
    }
}

/// What the imports bound by one link name go to.
#[derive(Clone, Default)]
pub struct Targets {
    /// `wasi:keyvalue` (store, atomics, batch).
    pub keyvalue: Option<Arc<dyn KeyValue>>,
    /// `wasmcloud:messaging/consumer`.
    pub messaging: Option<Arc<dyn Messaging>>,
    /// `wasi:http/outgoing-handler`.
    pub http_client: Option<Arc<dyn HttpClient>>,
    /// Custom interfaces, by `namespace:package/interface` (no version).
    pub calls: HashMap<String, CallTarget>,
    /// Where the calls of each custom interface are counted (same keys as
    /// `calls`); set by the host when it resolves the link.
    pub call_metrics: HashMap<String, Arc<Calls>>,
}

fn same_arc<T: ?Sized>(a: &Option<Arc<T>>, b: &Option<Arc<T>>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => Arc::ptr_eq(a, b),
        (None, None) => true,
        _ => false,
    }
}

impl Targets {
    fn same_as(&self, other: &Self) -> bool {
        same_arc(&self.keyvalue, &other.keyvalue)
            && same_arc(&self.messaging, &other.messaging)
            && same_arc(&self.http_client, &other.http_client)
            && self.calls.len() == other.calls.len()
            && self
                .calls
                .iter()
                .all(|(k, v)| other.calls.get(k).is_some_and(|o| v.same_as(o)))
    }

    fn is_empty(&self) -> bool {
        self.keyvalue.is_none()
            && self.messaging.is_none()
            && self.http_client.is_none()
            && self.calls.is_empty()
    }
}

/// Every link of a component, resolved: the targets of each link name.
#[derive(Clone, Default)]
pub struct Links {
    default: Targets,
    named: HashMap<String, Targets>,
}

impl Links {
    /// Links with only `wasi:keyvalue` bound, on the default link.
    pub fn keyvalue(backend: Option<Arc<dyn KeyValue>>) -> Self {
        Self {
            default: Targets {
                keyvalue: backend,
                ..Targets::default()
            },
            named: HashMap::new(),
        }
    }

    /// The targets of link `name`, to fill in.
    pub fn name_mut(&mut self, name: &str) -> &mut Targets {
        if name == DEFAULT_LINK {
            &mut self.default
        } else {
            self.named.entry(name.to_owned()).or_default()
        }
    }

    /// The targets of link `name`, if it binds anything.
    pub fn get(&self, name: &str) -> Option<&Targets> {
        if name == DEFAULT_LINK {
            Some(&self.default)
        } else {
            self.named.get(name)
        }
    }

    /// Whether link `name` exists for the component (the default always does).
    pub fn has(&self, name: &str) -> bool {
        name == DEFAULT_LINK || self.named.get(name).is_some_and(|t| !t.is_empty())
    }

    /// Whether both bind the very same targets (so a reused instance may
    /// keep its contexts).
    pub fn same_as(&self, other: &Self) -> bool {
        self.default.same_as(&other.default)
            && self.named.len() == other.named.len()
            && self
                .named
                .iter()
                .all(|(k, v)| other.named.get(k).is_some_and(|o| v.same_as(o)))
    }
}

/// One store's view of the links: the value taken when its invocation
/// started, and the link names the guest picked since
/// (`wasmcloud:bus/lattice.set-link-name`), per interface.
pub struct Routing {
    pub(crate) component: Arc<str>,
    pub(crate) links: Arc<Links>,
    /// The component's links generation `links` was taken at.
    pub(crate) generation: u64,
    /// Interface (`ns:pkg/iface`) → link name; empty: all default.
    picked: HashMap<String, String>,
    /// Outgoing HTTP requests of this instance waiting for their answer
    /// (made at the first one).
    pub(crate) outgoing: Option<Arc<std::sync::atomic::AtomicUsize>>,
}

impl Routing {
    pub(crate) fn new(component: Arc<str>, links: Arc<Links>, generation: u64) -> Self {
        Self {
            component,
            links,
            generation,
            picked: HashMap::new(),
            outgoing: None,
        }
    }

    /// Forgets the guest's picks: a new invocation starts on the default link.
    pub(crate) fn reset(&mut self) {
        if !self.picked.is_empty() {
            self.picked.clear();
        }
    }

    /// Routes the calls of `interface` over link `name` from now on.
    pub(crate) fn pick(&mut self, interface: String, name: String) {
        if name == DEFAULT_LINK {
            self.picked.remove(&interface);
        } else {
            self.picked.insert(interface, name);
        }
    }

    /// The link name calls of `interface` use now.
    pub(crate) fn link_name(&self, interface: &str) -> &str {
        if self.picked.is_empty() {
            return DEFAULT_LINK;
        }
        self.picked
            .get(interface)
            .map_or(DEFAULT_LINK, String::as_str)
    }

    /// The targets calls of `interface` go to now, if the link exists.
    pub(crate) fn targets(&self, interface: &str) -> Option<&Targets> {
        self.links.get(self.link_name(interface))
    }

    /// The guest-visible reason a call of `interface` has nowhere to go.
    pub(crate) fn unlinked(&self, interface: &str, what: &str) -> String {
        match self.link_name(interface) {
            DEFAULT_LINK => format!(
                "{interface} is not linked for component `{}`; link it to {what}",
                self.component
            ),
            name => format!(
                "{interface} has no link named `{name}` for component `{}`; put a link with --name {name} to {what}",
                self.component
            ),
        }
    }
}

/// `namespace:package/interface` without the `@version` of an import name.
pub(crate) fn unversioned(name: &str) -> &str {
    name.split_once('@').map_or(name, |(n, _)| n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use weft_capability::keyvalue::InMemoryKeyValue;

    #[test]
    fn picks_route_per_interface_and_reset() {
        let kv: Arc<dyn KeyValue> = Arc::new(InMemoryKeyValue::default());
        let mut links = Links::default();
        links.name_mut("cache").keyvalue = Some(kv);
        let mut routing = Routing::new("app".into(), Arc::new(links), 0);
        let store = "wasi:keyvalue/store";
        assert!(routing.targets(store).is_some_and(|t| t.keyvalue.is_none()));
        routing.pick(store.into(), "cache".into());
        assert!(routing.targets(store).is_some_and(|t| t.keyvalue.is_some()));
        assert_eq!(routing.link_name("wasi:keyvalue/atomics"), DEFAULT_LINK);
        routing.pick(store.into(), "nope".into());
        assert!(routing.targets(store).is_none());
        assert!(routing.unlinked(store, "a provider").contains("`nope`"));
        routing.reset();
        assert_eq!(routing.link_name(store), DEFAULT_LINK);
    }

    #[test]
    fn sameness_is_by_identity() {
        let kv: Arc<dyn KeyValue> = Arc::new(InMemoryKeyValue::default());
        let a = Links::keyvalue(Some(kv.clone()));
        assert!(a.same_as(&Links::keyvalue(Some(kv))));
        let other: Arc<dyn KeyValue> = Arc::new(InMemoryKeyValue::default());
        assert!(!a.same_as(&Links::keyvalue(Some(other))));
        assert!(!a.same_as(&Links::default()));
        assert_eq!(unversioned("weft:x/y@1.2.3"), "weft:x/y");
        assert_eq!(unversioned("weft:x/y"), "weft:x/y");
    }
}
