//! Binding components to providers by link: imports (keyvalue, messaging
//! consumer) point at a provider's capability; inbound links (a messaging
//! subscription, an HTTP listener) make a provider call a component.
//!
//! [`Host::rebind`] runs after every change of links, providers or
//! components and makes the bindings match; inbound bindings whose link is
//! unchanged keep running untouched.

use crate::Host;
use crate::providers::LinkBinding;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use weft_capability::http::IncomingHandler;
use weft_capability::messaging::MessageHandler;
use weft_capability::provider::{Capability, Subscription};
use weft_runtime::Component;

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

/// The running inbound bindings of a host.
pub(crate) type Inbound = HashMap<InboundKey, Subscription>;

impl Host {
    /// Binds every component started by `scale` to what its links name
    /// (nothing, if no link or the target is not running here), and starts
    /// or stops the inbound bindings of providers running here.
    pub(crate) fn rebind(&self) {
        let links = self.links.read().unwrap_or_else(|p| p.into_inner()).clone();
        let scaled: Vec<String> = self
            .deployments
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .keys()
            .cloned()
            .collect();
        for id in &scaled {
            let Some(component) = self.component(id) else {
                continue;
            };
            // Links come oldest first; while a link moves, the newer wins.
            let outgoing = |ns: &'static str, pkg: &'static str| {
                links.iter().rev().filter(move |l| {
                    &l.source == id && l.namespace == ns && l.package == pkg && l.name == "default"
                })
            };
            let keyvalue = outgoing("wasi", "keyvalue").find_map(|l| {
                match self.provider(&l.target)?.capability {
                    Capability::KeyValue(kv) => Some(kv),
                    _ => None,
                }
            });
            component.set_keyvalue(keyvalue);
            let messaging = outgoing("wasmcloud", "messaging")
                .filter(|l| l.interfaces.iter().any(|i| i == "consumer"))
                .find_map(|l| match self.provider(&l.target)?.capability {
                    Capability::Messaging(m) => Some(m),
                    _ => None,
                });
            component.set_messaging(messaging);
        }
        self.bind_inbound(&links, &scaled);
    }

    /// Starts the inbound bindings the links ask for and stops the rest.
    fn bind_inbound(&self, links: &[LinkBinding], scaled: &[String]) {
        let mut wanted: BTreeMap<InboundKey, (Capability, Arc<Component>, &LinkBinding)> =
            BTreeMap::new();
        for link in links {
            if !scaled.contains(&link.target) || link.name != "default" {
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
                Capability::KeyValue(_) => false,
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
        let mut inbound = self.inbound.lock().unwrap_or_else(|p| p.into_inner());
        inbound.retain(|key, _| wanted.contains_key(key));
        for (key, (capability, component, link)) in wanted {
            if inbound.contains_key(&key) {
                continue;
            }
            match start_inbound(&capability, component, link) {
                Ok(sub) => {
                    tracing::info!(provider = %link.source, component = %link.target, "inbound link bound");
                    inbound.insert(key, sub);
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
    component: Arc<Component>,
    link: &LinkBinding,
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
            let handler: Arc<dyn MessageHandler> = component;
            messaging
                .subscribe(&subjects, Some(&group), handler)
                .map_err(|e| e.to_string())
        }
        Capability::HttpServer(server) => {
            if !component.serves_http() {
                return Err("the component does not export wasi:http/incoming-handler".into());
            }
            let handler: Arc<dyn IncomingHandler> = component;
            server
                .serve(&link.source_config, handler)
                .map_err(|e| e.to_string())
        }
        Capability::KeyValue(_) => Err("keyvalue providers do not call components".into()),
    }
}
