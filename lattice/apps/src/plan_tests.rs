//! Placement rules of [`super::plan`], one case each.

use super::*;
use crate::manifest::parse;
use crate::observe::Running;

fn host(labels: &[(&str, &str)]) -> HostView {
    HostView {
        labels: labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..HostView::default()
    }
}

fn spread(name: &str, zone: &str, weight: u32) -> Spread {
    Spread {
        name: name.into(),
        requirements: BTreeMap::from([("zone".into(), zone.into())]),
        weight: Some(weight),
    }
}

#[test]
fn weights_split_like_wadm() {
    assert_eq!(
        split(6, &[spread("a", "a", 2), spread("b", "b", 1)]),
        vec![4, 2]
    );
    assert_eq!(
        split(5, &[spread("a", "a", 1), spread("b", "b", 1)]),
        vec![3, 2]
    );
    assert_eq!(
        split(1, &[spread("a", "a", 30), spread("b", "b", 70)]),
        vec![0, 1]
    );
    assert_eq!(split(3, &[]), vec![3]);
}

#[test]
fn a_spread_is_split_across_its_hosts_not_put_on_the_first() {
    let hosts = BTreeMap::from([
        ("h1".to_owned(), host(&[("zone", "a")])),
        ("h2".to_owned(), host(&[("zone", "a")])),
        ("h3".to_owned(), host(&[("zone", "b")])),
    ]);
    let scaler = Scaler {
        instances: 6,
        spread: vec![spread("a", "a", 2), spread("b", "b", 1)],
    };
    let (placed, problems) = place_component(Some((&scaler, false)), "x", &hosts);
    assert!(problems.is_empty());
    assert_eq!(
        placed,
        BTreeMap::from([("h1".into(), 2), ("h2".into(), 2), ("h3".into(), 2)])
    );
    let (placed, _) = place_component(Some((&scaler, true)), "x", &hosts);
    assert_eq!(
        placed,
        BTreeMap::from([("h1".into(), 6), ("h2".into(), 6), ("h3".into(), 6)])
    );
    let lonely = Scaler {
        instances: 2,
        spread: vec![spread("eu", "eu", 1)],
    };
    let (placed, problems) = place_component(Some((&lonely, false)), "x", &hosts);
    assert!(placed.is_empty());
    assert_eq!(problems, vec!["no host matches requirements zone=eu"]);
}

#[test]
fn hosts_already_running_it_keep_it() {
    let mut busy = host(&[]);
    busy.components.insert(
        "x".into(),
        Running {
            image_ref: "i".into(),
            max_instances: 1,
            annotations: BTreeMap::new(),
        },
    );
    let hosts = BTreeMap::from([("a".to_owned(), host(&[])), ("b".to_owned(), busy)]);
    let one = Scaler {
        instances: 1,
        spread: vec![],
    };
    let (placed, _) = place_component(Some((&one, false)), "x", &hosts);
    assert_eq!(placed, BTreeMap::from([("b".into(), 1)]));
}

const SHOP: &str = r#"
apiVersion: core.oam.dev/v1beta1
kind: Application
metadata: {name: shop, annotations: {version: v1}}
spec:
  components:
    - name: web
      type: component
      properties: {image: "oci://r/web:1"}
      traits:
        - type: spreadscaler
          properties: {instances: 2}
        - type: link
          properties:
            target: {name: kv, config: [{name: bucket, properties: {bucket: shop}}]}
            namespace: wasi
            package: keyvalue
            interfaces: [store]
    - name: kv
      type: capability
      properties: {image: "builtin:keyvalue-memory"}
"#;

#[test]
fn an_empty_lattice_gets_everything_and_a_converged_one_nothing() {
    let m = parse(SHOP).unwrap();
    let mut hosts = BTreeMap::from([("h1".to_owned(), host(&[])), ("h2".to_owned(), host(&[]))]);
    let apps = [Deployed {
        name: "shop",
        version: "v1",
        manifest: &m,
    }];
    let (configs, failures, owned) = (BTreeMap::new(), BTreeMap::new(), BTreeMap::new());
    let world = World {
        hosts: &hosts,
        links: &[],
        configs: &configs,
        failures: &failures,
        owned_links: &owned,
    };
    let p = plan(&apps, &[], &world);
    let scales: Vec<_> = p
        .actions
        .iter()
        .filter(|a| matches!(a, Action::Scale { count: 1, .. }))
        .collect();
    assert_eq!(
        scales.len(),
        2,
        "one instance on each host: {:?}",
        p.actions
    );
    assert!(matches!(p.actions[0], Action::PutConfig { ref name, .. } if name == "shop-bucket"));
    let providers: Vec<_> = p
        .actions
        .iter()
        .filter(|a| matches!(a, Action::StartProvider { .. }))
        .collect();
    assert_eq!(
        providers.len(),
        2,
        "the provider runs beside each instance: {:?}",
        p.actions
    );
    assert!(
        matches!(p.actions.last(), Some(Action::PutLink { link, .. }) if link.target_config == ["shop-bucket"])
    );
    assert_eq!(p.status["shop"].status.kind, StatusType::Reconciling);

    // Apply the plan by hand: now nothing is left to do.
    let annotations = BTreeMap::from([
        (MANAGED_BY.to_owned(), MANAGED_BY_WEFT.to_owned()),
        (APP.to_owned(), "shop".to_owned()),
    ]);
    for view in hosts.values_mut() {
        view.components.insert(
            "shop-web".into(),
            Running {
                image_ref: "oci://r/web:1".into(),
                max_instances: 1,
                annotations: annotations.clone(),
            },
        );
        view.providers.insert(
            "shop-kv".into(),
            crate::observe::RunningProvider {
                reference: "builtin:keyvalue-memory".into(),
                annotations: annotations.clone(),
            },
        );
    }
    let links = links_of(&m);
    let configs = configs_of(&m);
    let world = World {
        hosts: &hosts,
        links: &links,
        configs: &configs,
        failures: &failures,
        owned_links: &owned,
    };
    let p = plan(&apps, &[], &world);
    assert!(p.actions.is_empty(), "{:?}", p.actions);
    assert_eq!(p.status["shop"].status.kind, StatusType::Deployed);

    // Undeployed: everything it started goes.
    let owned = BTreeMap::from([("shop".to_owned(), links.clone())]);
    let world = World {
        owned_links: &owned,
        ..world
    };
    let p = plan(&[], &["shop"], &world);
    assert_eq!(
        p.actions.len(),
        5,
        "two components, two providers, a link: {:?}",
        p.actions
    );
    assert_eq!(p.status["shop"].status.kind, StatusType::Reconciling);
}
