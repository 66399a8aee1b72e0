//! One planning pass, step by step: each deployed app's configs,
//! components, providers and links, then what undeployed or vanished apps
//! left behind.

use super::{
    APP, APP_VERSION, Action, Deployed, MANAGED_BY, MANAGED_BY_WEFT, Plan, World, configs_of,
    link_key, linked, links_of, owned_by, place_component, place_provider, same_link, same_slot,
    scaler_of, status,
};
use crate::api::{ScalerStatus, Status, StatusType};
use crate::manifest::{Component, ComponentType};
use crate::validate::provider_ref;
use std::collections::{BTreeMap, BTreeSet};
use weft_lattice_protocol::wire::Link;

/// Where each of an app's components goes (instances per host) and why
/// some could not be placed, by component name.
type Placements<'m> = BTreeMap<&'m str, (BTreeMap<String, u32>, Vec<String>)>;

/// What one part of an app needs, once worked out.
struct Part {
    kind: &'static str,
    pending: Vec<String>,
    problems: Vec<String>,
}

/// What every command for one part of an app carries.
struct Target<'a> {
    app: &'a str,
    id: String,
    image: String,
    config: Vec<String>,
    annotations: BTreeMap<String, String>,
}

/// A pass in progress: the world it reads and the plan it writes.
pub(super) struct Pass<'w> {
    world: &'w World<'w>,
    plan: Plan,
    /// Every slot a deployed app declares: never removed as a leftover.
    declared: Vec<Link>,
    /// Link slots claimed so far this pass, and by which app.
    wanted_links: Vec<(String, Link)>,
}

impl<'w> Pass<'w> {
    /// A pass over `world` for the deployed `apps`.
    pub(super) fn new(world: &'w World<'w>, apps: &[Deployed<'_>]) -> Self {
        Self {
            world,
            plan: Plan::default(),
            declared: apps.iter().flat_map(|a| links_of(a.manifest)).collect(),
            wanted_links: Vec::new(),
        }
    }

    /// Plans `app`: its configs, parts and links, and its status.
    pub(super) fn app(&mut self, app: &Deployed<'_>) {
        let m = app.manifest;
        for (name, values) in configs_of(m) {
            if self.world.configs.get(&name) != Some(&values) {
                self.plan.actions.push(Action::PutConfig { name, values });
            }
        }
        // Components first: builtin providers run in the host, so each
        // provider goes where the components linked with it go.
        let placements: Placements<'_> = m
            .spec
            .components
            .iter()
            .filter(|c| c.kind == ComponentType::Component)
            .map(|c| {
                let placed = place_component(scaler_of(c), &m.id_of(c), self.world.hosts);
                (c.name.as_str(), placed)
            })
            .collect();
        let mut scalers: Vec<ScalerStatus> = m
            .spec
            .components
            .iter()
            .map(|c| self.part(app, c, &placements))
            .collect();
        self.links(app, &mut scalers);
        self.plan
            .status
            .insert(app.name.to_owned(), Status::of(app.version, scalers));
    }

    /// Plans component or provider `c` of `app`; its scaler's status.
    fn part(
        &mut self,
        app: &Deployed<'_>,
        c: &Component,
        placements: &Placements<'_>,
    ) -> ScalerStatus {
        let m = app.manifest;
        let target = Target {
            app: app.name,
            id: m.id_of(c),
            image: c.properties.image.clone().unwrap_or_default(),
            config: c
                .properties
                .config
                .iter()
                .map(|cfg| m.config_name(cfg))
                .collect(),
            annotations: BTreeMap::from([
                (MANAGED_BY.to_owned(), MANAGED_BY_WEFT.to_owned()),
                (APP.to_owned(), app.name.to_owned()),
                (APP_VERSION.to_owned(), app.version.to_owned()),
            ]),
        };
        let mut part = match c.kind {
            ComponentType::Component => {
                let (placed, problems) =
                    placements.get(c.name.as_str()).cloned().unwrap_or_default();
                Part {
                    kind: "",
                    pending: self.scale_component(&target, &placed),
                    problems,
                }
            }
            ComponentType::Capability => {
                let beside: BTreeSet<String> = m
                    .spec
                    .components
                    .iter()
                    .filter(|other| linked(other, c) || linked(c, other))
                    .filter_map(|other| placements.get(other.name.as_str()))
                    .flat_map(|(hosts, _)| hosts.keys().cloned())
                    .collect();
                let (mut placed, problems) = if scaler_of(c).is_some() || beside.is_empty() {
                    place_provider(scaler_of(c), &target.id, self.world.hosts)
                } else {
                    (BTreeSet::new(), Vec::new())
                };
                placed.extend(beside);
                Part {
                    kind: "",
                    pending: self.run_provider(&target, &placed),
                    problems,
                }
            }
        };
        part.kind = if scaler_of(c).is_some_and(|(_, daemon)| daemon) {
            "DaemonScaler"
        } else {
            "SpreadScaler"
        };
        let failed = self
            .world
            .failures
            .get(&(app.name.to_owned(), target.id.clone()));
        if let Some(reason) = failed {
            part.problems.push(reason.clone());
            part.pending.clear();
        }
        ScalerStatus {
            id: target.id,
            kind: part.kind.into(),
            name: c.name.clone(),
            status: if !part.problems.is_empty() {
                status(StatusType::Failed, part.problems.join("; "))
            } else if !part.pending.is_empty() {
                status(StatusType::Reconciling, part.pending.join("; "))
            } else {
                status(StatusType::Deployed, "")
            },
        }
    }

    /// Scales component `t` to `placed` instances per host; what is still
    /// under way.
    fn scale_component(&mut self, t: &Target<'_>, placed: &BTreeMap<String, u32>) -> Vec<String> {
        let mut pending = Vec::new();
        for (host, view) in self.world.hosts {
            let want = placed.get(host).copied().unwrap_or(0);
            let running = view.components.get(&t.id);
            let why = match running {
                None if want > 0 => format!("starting on {host}"),
                Some(r) if !owned_by(&r.annotations, t.app) => {
                    if want > 0 {
                        pending.push(format!("`{}` runs on {host} outside this app", t.id));
                    }
                    continue;
                }
                Some(r) if want == 0 => format!("stopping on {host} (had {})", r.max_instances),
                Some(r) if r.image_ref != t.image => format!("updating on {host}"),
                Some(r) if r.max_instances != want => format!("scaling to {want} on {host}"),
                _ => continue,
            };
            pending.push(why);
            self.plan.actions.push(Action::Scale {
                app: t.app.to_owned(),
                host: host.clone(),
                id: t.id.clone(),
                image: t.image.clone(),
                count: want,
                config: t.config.clone(),
                annotations: t.annotations.clone(),
                update: running.is_some_and(|r| r.image_ref != t.image),
            });
        }
        pending
    }

    /// Runs provider `t` on exactly the `placed` hosts (of those this app
    /// started it on); what is still under way.
    fn run_provider(&mut self, t: &Target<'_>, placed: &BTreeSet<String>) -> Vec<String> {
        let reference = provider_ref(&t.image).unwrap_or(t.image.clone());
        let mut pending = Vec::new();
        for (host, view) in self.world.hosts {
            let want = placed.contains(host);
            match view.providers.get(&t.id) {
                None if want => {
                    pending.push(format!("starting on {host}"));
                    self.plan.actions.push(Action::StartProvider {
                        app: t.app.to_owned(),
                        host: host.clone(),
                        id: t.id.clone(),
                        reference: reference.clone(),
                        config: t.config.clone(),
                        annotations: t.annotations.clone(),
                    });
                }
                Some(p) if !want && owned_by(&p.annotations, t.app) => {
                    pending.push(format!("stopping on {host}"));
                    self.plan.actions.push(Action::StopProvider {
                        app: t.app.to_owned(),
                        host: host.clone(),
                        id: t.id.clone(),
                    });
                }
                _ => {}
            }
        }
        pending
    }

    /// Puts `app`'s links that are missing (one scaler status each) and
    /// deletes those it put once and no longer declares.
    fn links(&mut self, app: &Deployed<'_>, scalers: &mut Vec<ScalerStatus>) {
        for link in links_of(app.manifest) {
            scalers.push(self.link(app.name, link));
        }
        for old in self.world.owned_links.get(app.name).into_iter().flatten() {
            if !self.declared.iter().any(|l| same_slot(l, old))
                && self.world.links.iter().any(|l| same_slot(l, old))
            {
                self.plan.actions.push(Action::DeleteLink {
                    app: app.name.to_owned(),
                    link: old.clone(),
                });
            }
        }
    }

    /// Puts `link` of `app` unless present, failed or claimed otherwise;
    /// its scaler status.
    fn link(&mut self, app: &str, link: Link) -> ScalerStatus {
        let present = self.world.links.iter().any(|l| same_link(l, &link));
        // Two deployed apps wiring one slot differently (deployed at the
        // same moment, past the deploy check): the first keeps it.
        let clash = self
            .wanted_links
            .iter()
            .find(|(owner, l)| owner != app && same_slot(l, &link) && !same_link(l, &link))
            .map(|(owner, _)| {
                format!("app `{owner}` declares this link otherwise; undeploy one of the two")
            });
        let failed = clash.clone().or_else(|| {
            self.world
                .failures
                .get(&(app.to_owned(), link_key(&link)))
                .cloned()
        });
        let scaler = ScalerStatus {
            id: link_key(&link),
            kind: "LinkScaler".into(),
            name: format!(
                "{} -({}:{})-> {}",
                link.source_id, link.wit_namespace, link.wit_package, link.target
            ),
            status: match (present && clash.is_none(), &failed) {
                (true, _) => status(StatusType::Deployed, ""),
                (false, Some(reason)) => status(StatusType::Failed, reason.clone()),
                (false, None) => status(StatusType::Reconciling, "putting the link"),
            },
        };
        if !present && failed.is_none() {
            self.plan.actions.push(Action::PutLink {
                app: app.to_owned(),
                link: link.clone(),
            });
        }
        if clash.is_none() {
            self.wanted_links.push((app.to_owned(), link));
        }
        scaler
    }

    /// Removes what apps not in `deployed` left (components, providers,
    /// links they put); how many parts each still has.
    pub(super) fn leftovers(&mut self, deployed: &BTreeSet<&str>) -> BTreeMap<String, usize> {
        let mut left: BTreeMap<String, usize> = BTreeMap::new();
        let stray = |annotations: &BTreeMap<String, String>| {
            let managed = annotations.get(MANAGED_BY).map(String::as_str) == Some(MANAGED_BY_WEFT);
            annotations
                .get(APP)
                .filter(|app| managed && !deployed.contains(app.as_str()))
                .cloned()
        };
        for (host, view) in self.world.hosts {
            for (id, r) in &view.components {
                let Some(app) = stray(&r.annotations) else {
                    continue;
                };
                *left.entry(app.clone()).or_default() += 1;
                self.plan.actions.push(Action::Scale {
                    app,
                    host: host.clone(),
                    id: id.clone(),
                    image: r.image_ref.clone(),
                    count: 0,
                    config: Vec::new(),
                    annotations: r.annotations.clone(),
                    update: false,
                });
            }
            for (id, p) in &view.providers {
                let Some(app) = stray(&p.annotations) else {
                    continue;
                };
                *left.entry(app.clone()).or_default() += 1;
                self.plan.actions.push(Action::StopProvider {
                    app,
                    host: host.clone(),
                    id: id.clone(),
                });
            }
        }
        for (app, links) in self.world.owned_links {
            if deployed.contains(app.as_str()) {
                continue;
            }
            for old in links {
                if self.world.links.iter().any(|l| same_slot(l, old))
                    && !self.declared.iter().any(|l| same_slot(l, old))
                {
                    *left.entry(app.clone()).or_default() += 1;
                    self.plan.actions.push(Action::DeleteLink {
                        app: app.clone(),
                        link: old.clone(),
                    });
                }
            }
        }
        left
    }

    /// The plan, its commands in order: configs first, then providers and
    /// components, then links.
    pub(super) fn finish(mut self) -> Plan {
        self.plan.actions.sort_by_key(|a| match a {
            Action::PutConfig { .. } => 0,
            Action::StartProvider { .. } | Action::StopProvider { .. } | Action::Scale { .. } => 1,
            Action::PutLink { .. } | Action::DeleteLink { .. } => 2,
        });
        self.plan
    }

    /// Sets the status of `app`, undeployed, from what it still has.
    pub(super) fn undeployed(&mut self, app: &str, left: Option<&usize>) {
        let s = match left {
            Some(n) => Status {
                status: status(
                    StatusType::Reconciling,
                    format!("undeploying: {n} part(s) left"),
                ),
                ..Status::default()
            },
            None => Status::default(),
        };
        self.plan.status.insert(app.to_owned(), s);
    }
}
