//! Binding components by link: imports (keyvalue, messaging consumer,
//! outgoing HTTP) point at a provider's capability, custom interfaces at
//! another component (here or on another host); inbound links (a messaging
//! subscription, an HTTP listener) make a provider call a component.
//!
//! [`Host::rebind`] runs after every change of links, providers or
//! components and makes the bindings match; inbound bindings whose link is
//! unchanged keep running untouched.

use crate::Host;
use crate::guard::Guard;
use crate::metered::MeteredHttpClient;
use crate::metrics::LinkKey;
use crate::providers::LinkBinding;
use crate::scope::Scope;
use arc_swap::ArcSwap;
use async_trait::async_trait;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use weft_capability::http::IncomingHandler;
use weft_capability::messaging::{Message, MessageHandler, Use};
use weft_capability::provider::{Capability, Subscription};
use weft_capability::sync::Locked;
use weft_runtime::{CallTarget, Component, Links};

/// What identifies an inbound binding: the link (all of it, config
/// included), so that a changed link is rebound and an unchanged one is not.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct InboundKey {
    provider: String,
    component: String,
    name: String,
    package: String,
    config: Vec<(String, String)>,
}

/// The running inbound bindings of a host: what each calls, and the
/// provider's subscription (dropping it stops the binding).
pub(crate) type Inbound = HashMap<InboundKey, (Arc<Live>, Subscription)>;

/// The target of an inbound binding: whichever component runs under the
/// link's target id now. An updated component takes over the listeners and
/// subscriptions of the one it replaces, with no rebinding (a listener
/// would have to give up its address for a moment).
pub(crate) struct Live {
    current: ArcSwap<Component>,
    /// Counts the messages dropped for it.
    guard: Arc<Guard>,
}

#[async_trait]
impl IncomingHandler for Live {
    async fn handle(
        &self,
        request: http::Request<weft_capability::http::Body>,
    ) -> Result<http::Response<weft_capability::http::Body>, weft_capability::http::Error> {
        let component = self.current.load_full();
        component.handle(request).await
    }
}

#[async_trait]
impl MessageHandler for Live {
    async fn handle_message(&self, message: Message) -> Result<(), String> {
        let component = self.current.load_full();
        component.handle_message(message).await
    }

    fn dropped(&self, subject: &str) {
        let component = self.current.load();
        self.guard.count(
            "messaging_dropped",
            component.id(),
            "backlog",
            &format_args!(
                "a message on `{subject}` was dropped: too many of its subscription's messages \
                 wait for the component already (it is slow or stuck)"
            ),
        );
    }
}

impl Host {
    /// Binds every component started by `scale` to what its links name
    /// (nothing, if no link or the target is not running here), and starts
    /// or stops the inbound bindings of providers running here.
    ///
    /// Only components that are the source of a link now, or were at the
    /// last rebind, are resolved: starting the ten-thousandth copy of an
    /// unlinked component costs what starting the first did.
    pub(crate) fn rebind(&self) {
        let (links, scaled) = {
            let placed = self.placed();
            let scaled: HashSet<String> = placed
                .links
                .iter()
                .flat_map(|l| [&l.source, &l.target])
                .filter(|id| placed.deployments.contains_key(id.as_str()))
                .cloned()
                .collect();
            (placed.links.clone(), scaled)
        };
        let sources: HashSet<String> = links
            .iter()
            .map(|l| l.source.clone())
            .filter(|s| scaled.contains(s))
            .collect();
        let before = std::mem::replace(&mut *self.linked.locked(), sources.clone());
        let mut metered = Vec::new();
        for id in sources.union(&before) {
            let Some(component) = self.component(id) else {
                continue;
            };
            component.set_links(self.resolve(id, &links, &mut metered));
        }
        self.meters.keep_links(&metered);
        self.bind_inbound(&links, &scaled);
    }

    /// What the links from component `id` bind its imports to, per link
    /// name. Links come oldest first; while a link moves, two links of a
    /// slot exist for a moment and the newer one whose target runs here wins.
    /// Each bound link's meter key goes into `metered`.
    fn resolve(&self, id: &str, links: &[LinkBinding], metered: &mut Vec<LinkKey>) -> Links {
        let mut resolved = Links::default();
        for link in links.iter().filter(|l| l.source == id) {
            let has = |i: &str| link.interfaces.iter().any(|x| x == i);
            let provider = self.provider(&link.target).map(|p| p.capability);
            let targets = resolved.name_mut(&link.name);
            let mut meter = |interface: String| {
                let key = LinkKey {
                    component: id.to_owned(),
                    link: link.name.clone(),
                    interface,
                    target: link.target.clone(),
                };
                metered.push(key.clone());
                (key.clone(), self.meters.link(key))
            };
            let package = format!("{}:{}", link.namespace, link.package);
            match (link.namespace.as_str(), link.package.as_str(), provider) {
                ("wasi", "keyvalue", Some(Capability::KeyValue(kv))) => {
                    let (key, calls) = meter(package);
                    let scope = Scope::of_link(id, &link.target_config);
                    targets.keyvalue = Some(self.meters.wrappers.keyvalue(key, kv, calls, scope));
                }
                ("wasmcloud", "messaging", Some(Capability::Messaging(m))) if has("consumer") => {
                    let (key, calls) = meter(package);
                    let inner = self.tapped(id, m);
                    targets.messaging = Some(self.meters.wrappers.messaging(
                        key,
                        inner,
                        calls,
                        &self.guard,
                    ));
                }
                ("wasi", "http", Some(Capability::HttpClient(p))) if has("outgoing-handler") => {
                    match p.client(&link.target_config) {
                        Ok(inner) => {
                            let (_, calls) = meter(package);
                            targets.http_client =
                                Some(Arc::new(MeteredHttpClient { inner, calls }));
                        }
                        Err(e) => tracing::warn!(
                            component = %id,
                            provider = %link.target,
                            "cannot bind outgoing HTTP: the link's target config is wrong: {e}"
                        ),
                    }
                }
                // Packages the runtime serves itself go to providers only.
                ("wasi", ..) | ("wasmcloud", "messaging" | "bus", _) | (.., Some(_)) => {}
                (namespace, package, None) => {
                    let target = match self.component(&link.target) {
                        Some(local) => CallTarget::Local(local),
                        None => match &self.remote {
                            Some(calls) => CallTarget::Remote {
                                target: link.target.clone(),
                                calls: calls.clone(),
                            },
                            None => continue,
                        },
                    };
                    for interface in &link.interfaces {
                        let key = format!("{namespace}:{package}/{interface}");
                        targets
                            .call_metrics
                            .insert(key.clone(), meter(key.clone()).1);
                        targets.calls.insert(key, target.clone());
                    }
                }
            }
        }
        resolved
    }

    /// Starts the inbound bindings the links ask for and stops the rest.
    fn bind_inbound(&self, links: &[LinkBinding], scaled: &HashSet<String>) {
        let mut wanted: BTreeMap<InboundKey, (Capability, Arc<Component>, &LinkBinding)> =
            BTreeMap::new();
        for link in links {
            // Any link name: one provider serves several components over
            // links named apart (as wasmCloud manifests do).
            if !scaled.contains(&link.target) {
                continue;
            }
            let Some(provider) = self.provider(&link.source) else {
                continue;
            };
            let Some(component) = self.component(&link.target) else {
                continue;
            };
            let fits = match &provider.capability {
                Capability::Messaging(_) => {
                    link.namespace == "wasmcloud"
                        && link.package == "messaging"
                        && link.interfaces.iter().any(|i| i == "handler")
                }
                Capability::HttpServer(_) => {
                    link.namespace == "wasi"
                        && link.package == "http"
                        && link.interfaces.iter().any(|i| i == "incoming-handler")
                }
                Capability::KeyValue(_) | Capability::HttpClient(_) => false,
            };
            if !fits {
                continue;
            }
            let key = InboundKey {
                provider: link.source.clone(),
                component: link.target.clone(),
                name: link.name.clone(),
                package: format!("{}:{}", link.namespace, link.package),
                config: link
                    .source_config
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            };
            wanted.insert(key, (provider.capability, component, link));
        }

        if self.draining.load(std::sync::atomic::Ordering::Acquire) {
            wanted.clear();
        }
        let mut inbound = self.inbound.locked();
        inbound.retain(|key, _| wanted.contains_key(key));
        for (key, (capability, component, link)) in wanted {
            if let Some((live, _)) = inbound.get(&key) {
                if !Arc::ptr_eq(&live.current.load(), &component) {
                    live.current.store(component);
                }
                continue;
            }
            let live = Arc::new(Live {
                current: ArcSwap::new(component.clone()),
                guard: self.guard.clone(),
            });
            match start_inbound(&capability, &component, live.clone(), link, &self.guard) {
                Ok(sub) => {
                    tracing::info!(provider = %link.source, component = %link.target, "inbound link bound");
                    inbound.insert(key, (live, sub));
                }
                Err(reason) => tracing::warn!(
                    provider = %link.source,
                    component = %link.target,
                    "cannot bind the link from `{}` to `{}`: {reason}",
                    link.source,
                    link.target
                ),
            }
        }
    }
}

/// Starts one inbound binding.
fn start_inbound(
    capability: &Capability,
    component: &Component,
    live: Arc<Live>,
    link: &LinkBinding,
    guard: &Guard,
) -> Result<Subscription, String> {
    match capability {
        Capability::Messaging(messaging) => {
            if !component.handles_messages() {
                return Err("the component does not export wasmcloud:messaging/handler".into());
            }
            let mut subjects = Vec::new();
            let mut queue_group = None;
            for (key, value) in &link.source_config {
                match key.as_str() {
                    "subscriptions" => subjects.extend(
                        value
                            .split(',')
                            .map(str::trim)
                            .filter(|s| !s.is_empty())
                            .map(str::to_owned),
                    ),
                    "queue_group" => queue_group = Some(value.clone()),
                    other => {
                        return Err(format!(
                            "unknown source config key `{other}`; messaging links take: subscriptions, queue_group"
                        ));
                    }
                }
            }
            if subjects.is_empty() {
                return Err(
                    "the link's source config names no `subscriptions` (e.g. subscriptions=ping,jobs.>)"
                        .into(),
                );
            }
            // One queue group per component: where it runs on several hosts,
            // each message goes to one of them.
            let group = queue_group.unwrap_or_else(|| link.target.clone());
            // The link's config is the app author's: it may not join the
            // lattice's own subjects or queue groups, whatever the provider.
            let checked = subjects
                .iter()
                .try_for_each(|s| guard.reserved.check(s, Use::Subscribe))
                .and_then(|()| guard.reserved.check_queue_group(&group));
            if let Err(e) = checked {
                guard.count("messaging_refused", &link.target, "subscribe", &e);
                return Err(e.to_string());
            }
            let handler: Arc<dyn MessageHandler> = live;
            messaging
                .subscribe(&subjects, Some(&group), handler)
                .map_err(|e| e.to_string())
        }
        Capability::HttpServer(server) => {
            if !component.serves_http() {
                return Err("the component does not export wasi:http/incoming-handler".into());
            }
            let handler: Arc<dyn IncomingHandler> = live;
            server
                .serve(&link.source_config, handler)
                .map_err(|e| e.to_string())
        }
        Capability::KeyValue(_) | Capability::HttpClient(_) => {
            Err("this provider does not call components".into())
        }
    }
}
