//! What two deployed apps may not both declare: the same component id, the
//! same link slot (source, interface package, link name) wired differently,
//! or the same config name with other values. Deploying an app that would
//! clash with a deployed one is refused, naming both, so two reconcilers'
//! worth of intent never fight over one resource.

use crate::manifest::Manifest;
use crate::plan::{configs_of, link_key, links_of};
use std::collections::BTreeMap;
use weft_lattice_protocol::wire::Link;

/// Why app `candidate` may not be deployed next to the deployed `others`
/// (name and manifest each); `None` when nothing clashes.
pub fn conflict(candidate: &Manifest, others: &[(&str, &Manifest)]) -> Option<String> {
    let me = candidate.name();
    let my_ids: Vec<String> = candidate
        .spec
        .components
        .iter()
        .map(|c| candidate.id_of(c))
        .collect();
    let my_links = links_of(candidate);
    let my_configs = configs_of(candidate);
    for (other, theirs) in others.iter().filter(|(n, _)| *n != me) {
        let their_configs = configs_of(theirs);
        for theirs_link in links_of(theirs) {
            let Some(mine) = my_links
                .iter()
                .find(|l| link_key(l) == link_key(&theirs_link))
            else {
                continue;
            };
            if *mine != theirs_link {
                return Some(format!(
                    "app `{me}` cannot be deployed: it declares link {} as {}, but deployed app `{other}` declares it as {}; \
                     make the two agree, or undeploy `{other}` first",
                    link_key(mine),
                    describe(mine, &my_configs),
                    describe(&theirs_link, &their_configs),
                ));
            }
        }
        for (name, values) in &their_configs {
            if let Some(mine) = my_configs.get(name)
                && mine != values
            {
                return Some(format!(
                    "app `{me}` cannot be deployed: its config `{name}` ({}) differs from the one of deployed app `{other}` ({}); \
                     rename one or undeploy `{other}` first",
                    pairs(mine),
                    pairs(values)
                ));
            }
        }
        for c in &theirs.spec.components {
            let id = theirs.id_of(c);
            if my_ids.contains(&id) {
                return Some(format!(
                    "app `{me}` cannot be deployed: its component id `{id}` is taken by deployed app `{other}`; \
                     give one of them another `id` or undeploy `{other}` first"
                ));
            }
        }
    }
    None
}

/// A link for a message: target, interfaces and config values.
fn describe(link: &Link, configs: &BTreeMap<String, BTreeMap<String, String>>) -> String {
    let values = |names: &[String]| -> String {
        names
            .iter()
            .map(|n| match configs.get(n) {
                Some(v) => format!("{n}{{{}}}", pairs(v)),
                None => n.clone(),
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        "-> `{}` [{}] (target config: [{}], source config: [{}])",
        link.target,
        link.interfaces.join(", "),
        values(&link.target_config),
        values(&link.source_config)
    )
}

fn pairs(values: &BTreeMap<String, String>) -> String {
    values
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::parse;

    fn app(name: &str, id: &str, url: &str) -> Manifest {
        parse(&format!(
            "apiVersion: core.oam.dev/v1beta1\nkind: Application\nmetadata: {{name: {name}}}\nspec:\n  components:\n\
             \x20   - name: counter\n      type: component\n      properties: {{image: 'file:///c.wasm', id: {id}}}\n      traits:\n\
             \x20       - type: link\n          properties:\n            namespace: wasi\n            package: keyvalue\n\
             \x20           interfaces: [atomics, store]\n            target: {{name: kv, config: [{{name: redis, properties: {{url: '{url}'}}}}]}}\n\
             \x20   - {{name: kv, type: capability, properties: {{image: 'builtin:keyvalue-redis', id: kv-{name}}}}}\n"
        ))
        .unwrap()
    }

    #[test]
    fn a_shared_link_slot_wired_differently_is_refused_naming_both_apps() {
        let a = app("a", "counter", "redis://one");
        let b = app("b", "counter", "redis://two");
        let why = conflict(&b, &[("a", &a)]).unwrap();
        assert!(why.contains("app `b` cannot be deployed"), "{why}");
        assert!(why.contains("deployed app `a`"), "{why}");
        assert!(why.contains("counter/wasi:keyvalue/default"), "{why}");
        assert!(
            why.contains("url=redis://one") && why.contains("url=redis://two"),
            "{why}"
        );
    }

    #[test]
    fn one_component_id_in_two_apps_is_refused() {
        let mut a = app("a", "counter", "redis://one");
        a.spec.components[0].traits.clear();
        let mut b = app("b", "counter", "redis://two");
        b.spec.components[0].traits.clear();
        let why = conflict(&b, &[("a", &a)]).unwrap();
        assert!(
            why.contains("component id `counter` is taken by deployed app `a`"),
            "{why}"
        );
    }

    #[test]
    fn different_links_and_ids_live_side_by_side() {
        let a = app("a", "counter-a", "redis://one");
        let b = app("b", "counter-b", "redis://two");
        assert_eq!(conflict(&b, &[("a", &a)]), None);
        // Redeploying the app itself never clashes with its older version.
        assert_eq!(conflict(&a, &[("a", &a)]), None);
    }
}
