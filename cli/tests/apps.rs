//! Apps as a user runs them: `weft app …` against three real `weft host`
//! processes on a real nats-server (and redis-server), with hosts killed,
//! stopped and resumed under load.

// Each test binary uses some of the shared helpers.
#[allow(dead_code)]
mod apps_support;

use apps_support::{
    Load, clients, deployed, host, host_ids, kv_counter, kv_counter_file, ok, placement,
    reconciler_passes, three_hosts, weft, write,
};
use serde_json::Value;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use weft_apps::api::StatusType;
use weft_tests::nats::NatsServer;
use weft_tests::net::{free_port, wait_for};
use weft_tests::redis::RedisServer;
use weft_tests::{guests, http};

#[tokio::test]
async fn the_kv_counter_app_serves_http_and_undeploy_removes_only_its_parts() -> anyhow::Result<()>
{
    let nats = NatsServer::start().await?;
    let redis = RedisServer::start().await?;
    let l = "apps1";
    let (_hosts, lc, apps, ids) = three_hosts(&nats, l).await?;
    let all: Vec<&str> = ids.values().map(String::as_str).collect();
    // Something that is not the app's: it must survive the undeploy.
    start_bystander(&nats, l).await?;

    let port = free_port()?;
    let dir = tempfile::tempdir()?;
    let file = write(
        &dir,
        "app.yaml",
        &kv_counter(port, &redis.url(), "            instances: 3\n")?,
    )?;
    ok(&nats, l, &["app", "validate", &file]).await?;
    let out = ok(&nats, l, &["app", "deploy", &file, "--wait", "60s"]).await?;
    assert!(out.contains("is deployed"), "{out}");
    // Spread across the hosts, one instance each, each beside its providers.
    let placed = placement(&lc, &all, "kv-counter").await;
    assert_eq!(placed.values().sum::<u32>(), 3, "{placed:?}");
    assert_eq!(placed.len(), 3, "all on one host? {placed:?}");
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut last = 0;
    for _ in 0..6 {
        let reply = http::get(addr, "/visits").await?;
        assert_eq!(reply.status, 200, "{}", reply.body);
        last = reply.body.trim().parse()?;
    }
    assert_eq!(last, 6, "every host counts in the one Redis");
    // The component's own namespace (docs/adr/0007-keyvalue-isolation.md).
    let stored = redis.get("kv-counter/default:visits").await?;
    assert_eq!(stored.as_deref(), Some("6"));

    the_cli_speaks_of_the_deployed_app(&nats, l, &dir, &file).await?;

    let out = ok(&nats, l, &["app", "undeploy", "kv-counter"]).await?;
    assert!(
        out.contains("Successfully undeployed application kv-counter"),
        "{out}"
    );
    wait_for("the app's parts to go", Duration::from_secs(30), || async {
        let mut left = 0;
        for h in &all {
            let inv = lc.inventory(h).await.ok()?;
            left += inv
                .components
                .iter()
                .filter(|c| c.id == "kv-counter")
                .count();
            left += inv
                .providers
                .iter()
                .filter(|p| p.id.starts_with("kv_counter-"))
                .count();
        }
        let links = lc.links().await.ok()?;
        left += links
            .iter()
            .filter(|l| l.source_id.starts_with("kv"))
            .count();
        (left == 0).then_some(())
    })
    .await?;
    assert!(
        http::get(addr, "/visits").await.is_err(),
        "the listener is closed"
    );
    // Nothing else went.
    let bystanders = placement(&lc, &all, "bystander").await;
    assert_eq!(bystanders.values().sum::<u32>(), 1);
    let links = lc.links().await?;
    assert!(
        links
            .iter()
            .any(|k| k.source_id == "bystander" && k.target == "loose-kv"),
        "{links:?}"
    );
    // The reconciler records the end of the removal on its next pass.
    wait_for(
        "the status to say Undeployed",
        Duration::from_secs(10),
        || async {
            let (_, status, _) = weft(&nats, l, &["app", "status", "kv-counter"])
                .await
                .ok()?;
            status.starts_with("Undeployed").then_some(())
        },
    )
    .await?;

    // Delete: gone from the list.
    let out = ok(&nats, l, &["app", "delete", "kv-counter"]).await?;
    assert!(
        out.contains("Successfully deleted application kv-counter"),
        "{out}"
    );
    let list: Value = serde_json::from_str(&ok(&nats, l, &["app", "list", "-o", "json"]).await?)?;
    assert_eq!(list, serde_json::json!([]));
    let (code, _, stderr) = weft(&nats, l, &["app", "status", "kv-counter"]).await?;
    assert_ne!(code, 0);
    assert!(stderr.contains("there is no app `kv-counter`"), "{stderr}");
    let _ = apps;
    Ok(())
}

const SPREAD: &str = r#"
apiVersion: core.oam.dev/v1beta1
kind: Application
metadata: {name: spread, annotations: {version: v1}}
spec:
  components:
    - name: web
      type: component
      properties: {image: "IMAGE", id: web}
      traits:
        - type: spreadscaler
          properties:
            instances: 6
            spread:
              - {name: red, requirements: {zone: red}, weight: 2}
              - {name: blue, requirements: {zone: blue}, weight: 1}
"#;

/// A component and a provider linked outside any app.
async fn start_bystander(nats: &NatsServer, l: &str) -> anyhow::Result<()> {
    let other = format!("file://{}", guests::path("test_guest")?.display());
    ok(nats, l, &["start", "component", &other, "bystander"]).await?;
    ok(
        nats,
        l,
        &["start", "provider", "builtin:keyvalue-memory", "loose-kv"],
    )
    .await?;
    ok(
        nats,
        l,
        &[
            "link",
            "put",
            "bystander",
            "loose-kv",
            "wasi",
            "keyvalue",
            "--interface",
            "store",
        ],
    )
    .await?;
    Ok(())
}

/// `app list`, `get`, `versions` speak of the deployed kv-counter;
/// deploying the same file again changes nothing, and putting the same
/// version with other content is refused.
async fn the_cli_speaks_of_the_deployed_app(
    nats: &NatsServer,
    l: &str,
    dir: &tempfile::TempDir,
    file: &str,
) -> anyhow::Result<()> {
    let list: Value = serde_json::from_str(&ok(nats, l, &["app", "list", "-o", "json"]).await?)?;
    assert_eq!(list[0]["name"], "kv-counter");
    assert_eq!(list[0]["deployed_version"], "v0.1.0");
    assert_eq!(list[0]["detailed_status"]["status"]["type"], "deployed");
    let got = ok(nats, l, &["app", "get", "kv-counter"]).await?;
    assert!(
        got.contains("name: kv-counter") && got.contains("builtin:keyvalue-redis"),
        "{got}"
    );
    let versions = ok(nats, l, &["app", "versions", "kv-counter"]).await?;
    assert!(
        versions.contains("v0.1.0") && versions.contains("yes"),
        "{versions}"
    );
    // Deploying the same file again changes nothing.
    ok(nats, l, &["app", "deploy", file]).await?;
    // Put again as the same version with other content: refused.
    let changed = write(
        dir,
        "changed.yaml",
        &std::fs::read_to_string(file)?.replace("instances: 3", "instances: 4"),
    )?;
    let (code, _, stderr) = weft(nats, l, &["app", "put", &changed]).await?;
    assert_ne!(code, 0);
    assert!(
        stderr.contains("has a version `v0.1.0` already"),
        "{stderr}"
    );
    Ok(())
}

#[tokio::test]
async fn spreads_split_by_weight_and_across_hosts_and_a_returning_host_is_trimmed()
-> anyhow::Result<()> {
    let nats = NatsServer::start().await?;
    let l = "apps2";
    let _r1 = host(&nats, l, "red1", &["zone=red"])?;
    let mut r2 = host(&nats, l, "red2", &["zone=red"])?;
    let _b1 = host(&nats, l, "blue1", &["zone=blue"])?;
    let (lc, apps, _) = clients(&nats, l).await?;
    let ids = host_ids(&lc, 3).await?;
    let all: Vec<&str> = ids.values().map(String::as_str).collect();
    let image = format!("file://{}", guests::path("test_guest")?.display());
    let dir = tempfile::tempdir()?;
    let file = write(&dir, "spread.yaml", &SPREAD.replace("IMAGE", &image))?;
    ok(&nats, l, &["app", "deploy", &file, "--wait", "60s"]).await?;
    let placed = placement(&lc, &all, "web").await;
    // 6 by weight 2:1 → red 4, blue 2; red's 4 over both red hosts.
    assert_eq!(placed.get(&ids["red1"]), Some(&2), "{placed:?}");
    assert_eq!(placed.get(&ids["red2"]), Some(&2), "{placed:?}");
    assert_eq!(placed.get(&ids["blue1"]), Some(&2), "{placed:?}");
    let status: Value =
        serde_json::from_str(&ok(&nats, l, &["app", "status", "spread", "-o", "json"]).await?)?;
    assert_eq!(status["status"]["type"], "deployed");
    assert_eq!(status["scalers"][0]["kind"], "SpreadScaler");

    // red2 freezes: declared gone after three missed heartbeats, red1 takes
    // all of red's share; when red2 thaws, the count is trimmed back to 6.
    let pid = r2.id().ok_or_else(|| anyhow::anyhow!("red2 has no pid"))?;
    let pid = rustix::process::Pid::from_raw(i32::try_from(pid)?)
        .ok_or_else(|| anyhow::anyhow!("pid 0"))?;
    rustix::process::kill_process(pid, rustix::process::Signal::STOP)?;
    let alive = [ids["red1"].as_str(), ids["blue1"].as_str()];
    wait_for(
        "red1 to take red's share",
        Duration::from_secs(20),
        || async {
            let p = placement(&lc, &alive, "web").await;
            (p.get(&ids["red1"]) == Some(&4)).then_some(())
        },
    )
    .await?;
    rustix::process::kill_process(pid, rustix::process::Signal::CONT)?;
    let back = wait_for(
        "the count back at 6, on every host again",
        Duration::from_secs(30),
        || async {
            let p = placement(&lc, &all, "web").await;
            (p.values().sum::<u32>() == 6 && p.len() == 3 && deployed(&apps, "spread").await)
                .then_some(())
        },
    )
    .await;
    if let Err(e) = back {
        let p = placement(&lc, &all, "web").await;
        let s = apps.status("spread").await.ok().and_then(|r| r.status);
        anyhow::bail!("{e}: placement {p:?} (hosts {ids:?}), status {s:?}");
    }
    // And it stays there: passes of the reconciler change nothing.
    reconciler_passes(&nats, l).await?;
    let p = placement(&lc, &all, "web").await;
    assert_eq!(p.values().sum::<u32>(), 6, "{p:?}");

    // A spread nobody matches: Failed, saying so.
    let eu = SPREAD
        .replace("IMAGE", &image)
        .replace("name: spread", "name: lonely")
        .replace("id: web", "id: lonely")
        .replace("zone: blue", "zone: eu");
    let file = write(&dir, "lonely.yaml", &eu)?;
    ok(&nats, l, &["app", "deploy", &file]).await?;
    let why = wait_for("lonely to fail", Duration::from_secs(20), || async {
        let s = apps.status("lonely").await.ok()?.status?;
        (s.status.kind == StatusType::Failed).then_some(s.status.message)
    })
    .await?;
    assert!(
        why.contains("no host matches requirements zone=eu"),
        "{why}"
    );
    r2.start_kill()?;
    Ok(())
}

/// The lease's holder, from its KV entry.
async fn leader(client: &async_nats::Client, lattice: &str) -> Option<String> {
    let kv = async_nats::jetstream::new(client.clone())
        .get_key_value(format!("weft_{lattice}_lease"))
        .await
        .ok()?;
    let entry = kv.get("reconciler").await.ok()??;
    let v: Value = serde_json::from_slice(&entry).ok()?;
    v["holder"].as_str().map(str::to_owned)
}

#[tokio::test]
async fn a_killed_host_under_load_is_replaced_and_each_request_counts_exactly_once()
-> anyhow::Result<()> {
    let nats = NatsServer::start().await?;
    let redis = RedisServer::start().await?;
    let l = "apps3";
    let mut children = BTreeMap::new();
    for name in ["h1", "h2", "h3"] {
        children.insert(name.to_owned(), host(&nats, l, name, &[])?);
    }
    let (lc, apps, client) = clients(&nats, l).await?;
    let ids = host_ids(&lc, 3).await?;
    let all: Vec<&str> = ids.values().map(String::as_str).collect();
    let port = free_port()?;
    let dir = tempfile::tempdir()?;
    let file = kv_counter_file(&dir, port, &redis.url())?;
    // Two hosts run the counter, two instances each.
    let file = write(
        &dir,
        "two.yaml",
        &std::fs::read_to_string(&file)?.replace(
            "instances: 4\n",
            "instances: 4\n            spread: [{name: two, requirements: {}}]\n",
        ),
    )?;
    ok(&nats, l, &["app", "deploy", &file, "--wait", "60s"]).await?;
    let before = placement(&lc, &all, "kv-counter").await;
    assert_eq!(before.values().sum::<u32>(), 4, "{before:?}");
    // The victim: a host running the counter that is not the leader (the
    // leader's death is the next test).
    let lead = leader(&client, l).await.unwrap_or_default();
    let victim = before
        .keys()
        .find(|h| **h != lead)
        .cloned()
        .unwrap_or_default();
    let victim_name = ids
        .iter()
        .find(|(_, id)| **id == victim)
        .map(|(n, _)| n.clone())
        .unwrap_or_default();

    // Steady load, each request recorded exactly once (see Load).
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let load = Load::start(addr, 4);
    wait_for(
        "the load to be answered",
        Duration::from_secs(20),
        || async { (load.answered() > 20).then_some(()) },
    )
    .await?;
    let killed_at = Instant::now();
    if let Some(c) = children.get_mut(&victim_name) {
        c.start_kill()?;
    }
    let survivors: Vec<&str> = all.iter().copied().filter(|h| **h != victim).collect();
    let took = wait_for(
        "the app deployed again on the survivors",
        Duration::from_secs(30),
        || async {
            let p = placement(&lc, &survivors, "kv-counter").await;
            (p.values().sum::<u32>() == 4 && deployed(&apps, "kv-counter").await)
                .then(|| killed_at.elapsed())
        },
    )
    .await?;
    // Traffic flows through the survivors only now.
    let good_after = load.answered();
    wait_for(
        "requests to succeed after the move",
        Duration::from_secs(20),
        || async { (load.answered() > good_after + 20).then_some(()) },
    )
    .await?;
    let (good, retried) = load.stop().await?;
    // Redis holds one record per request (nothing else is in it).
    let stored = redis.dbsize().await?;
    println!(
        "| host SIGKILL under HTTP + Redis load | deployed again on the others after {} ms; {good} requests answered, {retried} attempts retried, Redis holds {stored}: 0 lost, 0 doubled |",
        took.as_millis()
    );
    assert_eq!(
        stored, good,
        "every answered request must be in Redis exactly once"
    );
    Ok(())
}

#[tokio::test]
async fn killing_the_leader_hands_the_lease_over_and_reconciling_goes_on() -> anyhow::Result<()> {
    let nats = NatsServer::start().await?;
    let l = "apps4";
    let mut children = BTreeMap::new();
    for name in ["h1", "h2", "h3"] {
        children.insert(name.to_owned(), host(&nats, l, name, &[])?);
    }
    let (lc, apps, client) = clients(&nats, l).await?;
    let ids = host_ids(&lc, 3).await?;
    let image = format!("file://{}", guests::path("test_guest")?.display());
    let manifest = |instances: u32, version: &str| {
        format!(
            "apiVersion: core.oam.dev/v1beta1\nkind: Application\nmetadata: {{name: steady, annotations: {{version: {version}}}}}\n\
             spec:\n  components:\n    - name: web\n      type: component\n      properties: {{image: '{image}', id: steady}}\n\
             \x20     traits:\n        - type: daemonscaler\n          properties: {{instances: {instances}}}\n"
        )
    };
    let dir = tempfile::tempdir()?;
    ok(
        &nats,
        l,
        &[
            "app",
            "deploy",
            &write(&dir, "v1.yaml", &manifest(1, "v1"))?,
            "--wait",
            "60s",
        ],
    )
    .await?;
    let lead = wait_for("a leader", Duration::from_secs(10), || leader(&client, l)).await?;
    let lead_name = ids
        .iter()
        .find(|(_, id)| **id == lead)
        .map(|(n, _)| n.clone());
    let lead_name =
        lead_name.ok_or_else(|| anyhow::anyhow!("the leader {lead} is none of our hosts"))?;
    if let Some(c) = children.get_mut(&lead_name) {
        c.start_kill()?;
    }
    let next = wait_for("another leader", Duration::from_secs(15), || async {
        leader(&client, l).await.filter(|h| *h != lead)
    })
    .await?;
    assert!(ids.values().any(|id| *id == next));
    // The new leader acts: v2 runs two instances on every surviving host.
    let survivors: Vec<&str> = ids
        .values()
        .map(String::as_str)
        .filter(|h| *h != lead)
        .collect();
    ok(
        &nats,
        l,
        &[
            "app",
            "deploy",
            &write(&dir, "v2.yaml", &manifest(2, "v2"))?,
            "--wait",
            "60s",
        ],
    )
    .await?;
    let p = placement(&lc, &survivors, "steady").await;
    assert_eq!(p.values().copied().collect::<Vec<_>>(), vec![2, 2], "{p:?}");
    let s = apps
        .status("steady")
        .await?
        .status
        .ok_or_else(|| anyhow::anyhow!("no status"))?;
    assert_eq!(s.version, "v2");
    Ok(())
}
