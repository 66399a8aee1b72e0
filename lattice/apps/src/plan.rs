//! Desired state against observed state, as a pure function: the commands
//! that bring the lattice in line with the deployed apps, and each app's
//! status. No I/O here, so every placement rule is a unit test.
//!
//! Placement: a spreadscaler's instances are split across its spreads by
//! weight (rounded down, the rest one by one to the heaviest spreads), and
//! each spread's share is split evenly across the hosts that match its
//! requirements — hosts already running the component first, so a steady
//! lattice does not churn. A daemonscaler puts its instances on every
//! matching host. A provider runs at most once per host, and on every host
//! that runs a component linked with it (builtin providers live in the
//! host, so a link reaches only the provider beside it); its own scaler,
//! if it has one, may add hosts.

mod pass;

use crate::api::{Status, StatusInfo, StatusType};
use crate::manifest::{Component, Manifest, Scaler, Spread, Trait};
use crate::observe::HostView;
use pass::Pass;
use std::collections::{BTreeMap, BTreeSet};
use weft_lattice_protocol::wire::Link;

/// The annotation naming who manages a resource.
pub const MANAGED_BY: &str = "wasmcloud.dev/managed-by";
/// Our value of it.
pub const MANAGED_BY_WEFT: &str = "weft";
/// The annotation naming the app a resource belongs to.
pub const APP: &str = "wasmcloud.dev/appspec";
/// The annotation naming the app's version.
pub const APP_VERSION: &str = "wasmcloud.dev/app-version";

/// One command for the lattice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Put a named config.
    PutConfig {
        /// Its name.
        name: String,
        /// Its values.
        values: BTreeMap<String, String>,
    },
    /// Start or resize (`count` > 0) or stop (`count` 0) a component on a
    /// host; `update` when it runs another image there.
    Scale {
        /// The app it belongs to.
        app: String,
        /// Where.
        host: String,
        /// The component id.
        id: String,
        /// Its image.
        image: String,
        /// Its instance limit there.
        count: u32,
        /// Its named configs.
        config: Vec<String>,
        /// Its annotations.
        annotations: BTreeMap<String, String>,
        /// It runs another image there: replace it.
        update: bool,
    },
    /// Start a provider on a host.
    StartProvider {
        /// The app.
        app: String,
        /// Where.
        host: String,
        /// Its id.
        id: String,
        /// Its builtin reference.
        reference: String,
        /// Its named configs.
        config: Vec<String>,
        /// Its annotations.
        annotations: BTreeMap<String, String>,
    },
    /// Stop a provider on a host.
    StopProvider {
        /// The app.
        app: String,
        /// Where.
        host: String,
        /// Its id.
        id: String,
    },
    /// Put a link.
    PutLink {
        /// The app.
        app: String,
        /// The link.
        link: Link,
    },
    /// Delete a link slot.
    DeleteLink {
        /// The app it belonged to.
        app: String,
        /// The link as it stands.
        link: Link,
    },
}

/// A deployed app: its name, version and manifest.
#[derive(Debug, Clone)]
pub struct Deployed<'a> {
    /// The app.
    pub name: &'a str,
    /// Its deployed version.
    pub version: &'a str,
    /// Its manifest.
    pub manifest: &'a Manifest,
}

/// What the planner knows besides the apps.
pub struct World<'a> {
    /// Hosts alive, by id.
    pub hosts: &'a BTreeMap<String, HostView>,
    /// The lattice's links.
    pub links: &'a [Link],
    /// Configs as last put by the reconciler.
    pub configs: &'a BTreeMap<String, BTreeMap<String, String>>,
    /// Why a recent command of an app's part failed, by (app, part id).
    pub failures: &'a BTreeMap<(String, String), String>,
    /// Link slots the reconciler put for apps (to remove once they go).
    pub owned_links: &'a BTreeMap<String, Vec<Link>>,
}

/// The plan: commands, and each app's status.
#[derive(Debug, Default)]
pub struct Plan {
    /// Commands, in order: configs, providers and components, links.
    pub actions: Vec<Action>,
    /// Each deployed app's status.
    pub status: BTreeMap<String, Status>,
}

/// A spreadscaler's instances split by weight (wadm's rule).
pub fn split(instances: u32, spreads: &[Spread]) -> Vec<u32> {
    if spreads.is_empty() {
        return vec![instances];
    }
    let weights: Vec<u64> = spreads
        .iter()
        .map(|s| u64::from(s.weight.unwrap_or(100)))
        .collect();
    let total: u64 = weights.iter().sum::<u64>().max(1);
    let mut counts: Vec<u32> = weights
        .iter()
        .map(|w| u32::try_from(u64::from(instances) * w / total).unwrap_or(0))
        .collect();
    let mut left = instances.saturating_sub(counts.iter().sum());
    let mut order: Vec<usize> = (0..spreads.len()).collect();
    order.sort_by(|a, b| weights[*b].cmp(&weights[*a]).then(a.cmp(b)));
    while left > 0 {
        for i in &order {
            if left == 0 {
                break;
            }
            counts[*i] += 1;
            left -= 1;
        }
    }
    counts
}

fn matches(host: &HostView, requirements: &BTreeMap<String, String>) -> bool {
    requirements
        .iter()
        .all(|(k, v)| host.labels.get(k) == Some(v))
}

fn describe(requirements: &BTreeMap<String, String>) -> String {
    if requirements.is_empty() {
        return "(any host)".into();
    }
    requirements
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// Eligible hosts of a spread, the ones already running `id` first.
fn eligible<'h>(
    hosts: &'h BTreeMap<String, HostView>,
    spread: &Spread,
    runs: impl Fn(&HostView) -> bool,
) -> Vec<&'h str> {
    let mut out: Vec<(&str, bool)> = hosts
        .iter()
        .filter(|(_, h)| matches(h, &spread.requirements))
        .map(|(id, h)| (id.as_str(), runs(h)))
        .collect();
    out.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    out.into_iter().map(|(id, _)| id).collect()
}

/// A scaler's spreads (one over every host when it names none), its
/// instance count and whether it is a daemonscaler; no scaler at all means
/// one instance on any host.
fn spreads_of(scaler: Option<(&Scaler, bool)>) -> (Vec<Spread>, u32, bool) {
    let any_host = || Spread {
        name: "default".into(),
        requirements: BTreeMap::new(),
        weight: None,
    };
    match scaler {
        None => (vec![any_host()], 1, false),
        Some((s, daemon)) if s.spread.is_empty() => (vec![any_host()], s.instances, daemon),
        Some((s, daemon)) => (s.spread.clone(), s.instances, daemon),
    }
}

/// Why a spread gets nothing.
fn no_host(spread: &Spread) -> String {
    format!(
        "no host matches requirements {}",
        describe(&spread.requirements)
    )
}

/// Where a component's instances go: host → count; or why they cannot.
fn place_component(
    scaler: Option<(&Scaler, bool)>,
    id: &str,
    hosts: &BTreeMap<String, HostView>,
) -> (BTreeMap<String, u32>, Vec<String>) {
    let (spreads, instances, daemon) = spreads_of(scaler);
    let counts = if daemon {
        vec![instances; spreads.len()]
    } else {
        split(instances, &spreads)
    };
    let mut placed: BTreeMap<String, u32> = BTreeMap::new();
    let mut problems = Vec::new();
    for (spread, count) in spreads.iter().zip(counts) {
        if count == 0 {
            continue;
        }
        let hosts = eligible(hosts, spread, |h| h.components.contains_key(id));
        if hosts.is_empty() {
            problems.push(no_host(spread));
            continue;
        }
        if daemon {
            for h in hosts {
                *placed.entry(h.to_owned()).or_default() += count;
            }
            continue;
        }
        let n = u32::try_from(hosts.len()).unwrap_or(u32::MAX);
        for (i, h) in hosts.iter().enumerate() {
            let i = u32::try_from(i).unwrap_or(u32::MAX);
            let share = count / n + u32::from(i < count % n);
            if share > 0 {
                *placed.entry((*h).to_owned()).or_default() += share;
            }
        }
    }
    (placed, problems)
}

/// Which hosts run a provider; or why not enough do.
fn place_provider(
    scaler: Option<(&Scaler, bool)>,
    id: &str,
    hosts: &BTreeMap<String, HostView>,
) -> (BTreeSet<String>, Vec<String>) {
    let (spreads, instances, daemon) = spreads_of(scaler);
    let counts = split(instances, &spreads);
    let mut placed = BTreeSet::new();
    let mut problems = Vec::new();
    for (spread, count) in spreads.iter().zip(counts) {
        let hosts = eligible(hosts, spread, |h| h.providers.contains_key(id));
        if hosts.is_empty() {
            problems.push(no_host(spread));
            continue;
        }
        let want = if daemon {
            hosts.len()
        } else {
            usize::try_from(count).unwrap_or(usize::MAX)
        };
        if want > hosts.len() {
            problems.push(format!(
                "wants {want} hosts matching {}, {} do",
                describe(&spread.requirements),
                hosts.len()
            ));
        }
        placed.extend(hosts.into_iter().take(want).map(str::to_owned));
    }
    (placed, problems)
}

/// Whether `from` declares a link to `to`.
fn linked(from: &Component, to: &Component) -> bool {
    from.traits
        .iter()
        .any(|t| matches!(t, Trait::Link(l) if l.target.name() == to.name))
}

fn scaler_of(c: &Component) -> Option<(&Scaler, bool)> {
    c.traits.iter().find_map(|t| match t {
        Trait::Spreadscaler(s) => Some((s, false)),
        Trait::Daemonscaler(s) => Some((s, true)),
        Trait::Link(_) => None,
    })
}

/// Whether a resource with these annotations belongs to `app`.
fn owned_by(annotations: &BTreeMap<String, String>, app: &str) -> bool {
    annotations.get(MANAGED_BY).map(String::as_str) == Some(MANAGED_BY_WEFT)
        && annotations.get(APP).map(String::as_str) == Some(app)
}

/// The links an app declares, as the lattice stores them.
pub fn links_of(manifest: &Manifest) -> Vec<Link> {
    let mut out = Vec::new();
    for c in &manifest.spec.components {
        for t in &c.traits {
            let Trait::Link(l) = t else { continue };
            let Some(target) = manifest.component(l.target.name()) else {
                continue;
            };
            out.push(Link {
                source_id: manifest.id_of(c),
                target: manifest.id_of(target),
                name: l.name.clone().unwrap_or_else(|| "default".into()),
                wit_namespace: l.namespace.clone(),
                wit_package: l.package.clone(),
                interfaces: l.interfaces.clone(),
                source_config: l
                    .source
                    .iter()
                    .flat_map(|s| &s.config)
                    .map(|c| manifest.config_name(c))
                    .collect(),
                target_config: l
                    .target
                    .config()
                    .iter()
                    .map(|c| manifest.config_name(c))
                    .collect(),
            });
        }
    }
    out
}

/// The configs an app creates, by lattice name.
pub fn configs_of(manifest: &Manifest) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for c in &manifest.spec.components {
        let link_configs = c.traits.iter().flat_map(|t| match t {
            Trait::Link(l) => l
                .target
                .config()
                .iter()
                .chain(l.source.iter().flat_map(|s| &s.config))
                .collect::<Vec<_>>(),
            _ => Vec::new(),
        });
        for config in c.properties.config.iter().chain(link_configs) {
            if let Some(props) = &config.properties {
                out.insert(manifest.config_name(config), props.clone());
            }
        }
    }
    out
}

fn same_slot(a: &Link, b: &Link) -> bool {
    a.source_id == b.source_id
        && a.wit_namespace == b.wit_namespace
        && a.wit_package == b.wit_package
        && a.name == b.name
}

fn same_link(a: &Link, b: &Link) -> bool {
    same_slot(a, b)
        && a.target == b.target
        && a.interfaces == b.interfaces
        && a.source_config == b.source_config
        && a.target_config == b.target_config
}

fn status(kind: StatusType, message: impl Into<String>) -> StatusInfo {
    StatusInfo {
        kind,
        message: message.into(),
    }
}

/// Plans one pass for `apps` (the deployed ones) in `world`; `undeployed`
/// names the apps whose resources must go.
pub fn plan(apps: &[Deployed<'_>], undeployed: &[&str], world: &World<'_>) -> Plan {
    let mut pass = Pass::new(world, apps);
    for app in apps {
        pass.app(app);
    }
    // Apps that are gone or undeployed: everything they started goes.
    let deployed: BTreeSet<&str> = apps.iter().map(|a| a.name).collect();
    let left = pass.leftovers(&deployed);
    for app in undeployed {
        pass.undeployed(app, left.get(*app));
    }
    pass.finish()
}

/// A link's slot as a string (status ids, failure keys).
pub fn link_key(l: &Link) -> String {
    format!(
        "{}/{}:{}/{}",
        l.source_id, l.wit_namespace, l.wit_package, l.name
    )
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
