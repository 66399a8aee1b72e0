//! Fault 5: a hub cluster started from `deploy/nats/cluster.conf` and an
//! edge leaf node from `deploy/nats/leaf.conf`, with `weft host`s spread
//! over them. One hub server is killed; the host on it must fail over to
//! another, and the lattice must stay whole: every host answers, the
//! component on the moved host serves calls from the edge again, config
//! stored before the loss is still there and new config can be stored.
//!
//! The two servers hosts connect to are joined by a third JetStream
//! server with no hosts: JetStream needs a majority of its servers, so
//! with two, losing either would stop the lattice's state (see
//! `deploy/nats/README.md`).

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};
use weft_keyvalue_nats::bucket::Placement;
use weft_lattice_client::LatticeClient;
use weft_lattice_nats::{NatsAuth, connect};
use weft_lattice_protocol::Subjects;
use weft_tests::guests;
use weft_tests::nats::{Config, NatsServer};
use weft_tests::net::{free_port, wait_for};

const WEFT: &str = env!("CARGO_BIN_EXE_weft");
const LATTICE: &str = "cluster";

fn deploy(file: &str) -> PathBuf {
    guests::repo_root().join("deploy/nats").join(file)
}

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// A hub server `name` listening for routes on `cluster_port`, routed to
/// `routes` (every server of the cluster, itself included, as an operator
/// would write the same list on each).
async fn hub(name: &str, cluster_port: u16, routes: &str) -> anyhow::Result<NatsServer> {
    NatsServer::start_with(Config {
        file: deploy("cluster.conf"),
        env: env(&[
            ("WEFT_NATS_NAME", name),
            ("WEFT_NATS_LISTEN", "127.0.0.1:-1"),
            ("WEFT_NATS_MONITOR", "127.0.0.1:-1"),
            ("WEFT_NATS_STORE", "{dir}/store"),
            (
                "WEFT_NATS_CLUSTER_LISTEN",
                &format!("127.0.0.1:{cluster_port}"),
            ),
            ("WEFT_NATS_LEAF_LISTEN", "127.0.0.1:-1"),
        ]),
        args: vec!["--routes".into(), routes.into()],
    })
    .await
}

/// The edge leaf node, connected to the hub servers `hubs` (leaf ports).
async fn leaf(hubs: [u16; 2]) -> anyhow::Result<NatsServer> {
    NatsServer::start_with(Config {
        file: deploy("leaf.conf"),
        env: env(&[
            ("WEFT_NATS_NAME", "edge"),
            ("WEFT_NATS_LISTEN", "127.0.0.1:-1"),
            ("WEFT_NATS_MONITOR", "127.0.0.1:-1"),
            (
                "WEFT_NATS_HUB_1",
                &format!("nats-leaf://127.0.0.1:{}", hubs[0]),
            ),
            (
                "WEFT_NATS_HUB_2",
                &format!("nats-leaf://127.0.0.1:{}", hubs[1]),
            ),
        ]),
        args: Vec::new(),
    })
    .await
}

/// `weft host` on `url`, labelled `zone=NAME`, with the lattice's state in
/// the hub's JetStream domain and 3 replicas.
fn host(url: &str, name: &str, logs: &tempfile::TempDir) -> anyhow::Result<Child> {
    let log = std::fs::File::create(logs.path().join(name))?;
    Ok(Command::new(WEFT)
        .args(["host", "--nats", url, "--lattice", LATTICE])
        .args(["--friendly-name", name, "--label", &format!("zone={name}")])
        .args(["--js-domain", "hub", "--js-replicas", "3"])
        .args(["--allow-file-load", "--heartbeat", "1s"])
        .arg("--cache-dir")
        .arg(guests::cache_dir())
        .stdout(Stdio::null())
        .stderr(log)
        .kill_on_drop(true)
        .spawn()?)
}

/// `weft ARGS --nats URL --lattice cluster`, failing with its output
/// unless it succeeds.
async fn weft(url: &str, args: &[&str]) -> anyhow::Result<String> {
    let (code, out, err) = weft_tests::cli::run_on(WEFT, url, LATTICE, args).await?;
    anyhow::ensure!(
        code == 0,
        "weft {args:?} on {url} failed ({code}): {err}{out}"
    );
    Ok(out)
}

/// The instances of component `id` on `host`, or `None` if it does not
/// answer.
async fn instances(lc: &LatticeClient, host: &str, id: &str) -> Option<u32> {
    let inv = lc.inventory(host).await.ok()?;
    Some(
        inv.components
            .iter()
            .filter(|c| c.id == id)
            .map(|c| c.max_instances)
            .sum(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_hub_server_moves_its_hosts_and_the_lattice_stays_whole() -> anyhow::Result<()> {
    let ports = [free_port()?, free_port()?, free_port()?];
    let routes = ports
        .iter()
        .map(|p| format!("nats-route://127.0.0.1:{p}"))
        .collect::<Vec<_>>()
        .join(",");
    let a = hub("a", ports[0], &routes).await?;
    let mut b = hub("b", ports[1], &routes).await?;
    let c = hub("c", ports[2], &routes).await?;
    let edge = leaf([a.leaf_port().await?, b.leaf_port().await?]).await?;
    // JetStream is ready once a bucket with 3 replicas can be made, and
    // the edge reaches it once the leaf node has joined.
    let placement = Placement {
        domain: Some("hub".into()),
        replicas: 3,
    };
    for server in [&a, &edge] {
        let probe = async_nats::connect(server.url()).await?;
        wait_for(
            "the hub's JetStream to be ready",
            Duration::from_secs(30),
            || async { placement.open(probe.clone(), "probe").await.ok() },
        )
        .await
        .map_err(|e| anyhow::anyhow!("{e}\nserver: {}", server.log()))?;
    }

    let logs = tempfile::tempdir()?;
    let _ha = host(&a.url(), "a", &logs)?;
    let _hb = host(&b.url(), "b", &logs)?;
    let _he = host(&edge.url(), "edge", &logs)?;
    // The test's own client names two servers, as users should.
    let hub_urls = format!("{},{}", a.url(), c.url());
    let nc = connect(
        &hub_urls,
        &NatsAuth::None,
        None,
        "test",
        Duration::from_secs(5),
    )
    .await?;
    let lc = LatticeClient::new(nc, Subjects::new("wasmbus.ctl", LATTICE)?)
        .with_timeout(Duration::from_millis(800))
        .with_window(Duration::from_millis(500));
    let ids: std::collections::BTreeMap<String, String> =
        wait_for("3 hosts", Duration::from_secs(30), || async {
            let hosts = lc.hosts().await.ok()?;
            (hosts.len() == 3).then(|| hosts.into_iter().map(|h| (h.friendly_name, h.id)).collect())
        })
        .await
        .map_err(|e| {
            let said = ["a", "b", "edge"]
                .map(|h| std::fs::read_to_string(logs.path().join(h)).unwrap_or_default());
            anyhow::anyhow!("{e}\nhosts said: {said:?}")
        })?;
    let id = |name: &str| ids.get(name).cloned().unwrap_or_default();

    // A component on the host that will lose its server, one at the edge,
    // each with config from the hub's JetStream.
    let greeter = format!("file://{}", guests::path("greeter")?.display());
    let e = edge.url();
    weft(&e, &["config", "put", "greet-b", "greeting=Hej"]).await?;
    weft(&e, &["config", "put", "greet-edge", "greeting=Moin"]).await?;
    for (cid, zone, config) in [
        ("greeter-b", "zone=b", "greet-b"),
        ("greeter-edge", "zone=edge", "greet-edge"),
    ] {
        weft(
            &hub_urls,
            &[
                "start",
                "component",
                &greeter,
                cid,
                "--constraint",
                zone,
                "--config",
                config,
            ],
        )
        .await?;
    }
    let call_b = ["call", "greeter-b", "greet", "\"Ada\""];
    let greeted = r#"{text: "Hej, Ada!", count: 3, tags: ["greeter", "Hej"]}"#;
    wait_for(
        "greeter-b to answer from the edge",
        Duration::from_secs(30),
        || async { weft(&e, &call_b).await.ok().filter(|o| o.trim() == greeted) },
    )
    .await?;

    // Kill the server host b is on.
    let killed = Instant::now();
    b.kill().await?;
    wait_for(
        "host b to answer again",
        Duration::from_secs(20),
        || async {
            instances(&lc, &id("b"), "greeter-b")
                .await
                .filter(|n| *n == 1)
        },
    )
    .await?;
    let rejoined = killed.elapsed();
    wait_for(
        "greeter-b to serve the edge again",
        Duration::from_secs(20),
        || async { weft(&e, &call_b).await.ok().filter(|o| o.trim() == greeted) },
    )
    .await?;
    let served = killed.elapsed();

    // The lattice is whole: all hosts answer, nothing ran twice, config
    // from before is there, new config can be stored and is used.
    let hosts = lc.hosts().await?;
    assert_eq!(hosts.len(), 3, "{hosts:?}");
    for (host, cid) in [("b", "greeter-b"), ("edge", "greeter-edge")] {
        for other in ["a", "b", "edge"] {
            let want = u32::from(other == host);
            assert_eq!(
                instances(&lc, &id(other), cid).await,
                Some(want),
                "{cid} on host {other}"
            );
        }
    }
    let kept = weft(&e, &["config", "get", "greet-b"]).await?;
    assert!(kept.contains("Hej"), "{kept}");
    // Buckets whose stream leader was on the lost server elect a new one
    // first; writes fail with "no stream found" until then.
    wait_for("config to be writable", Duration::from_secs(20), || async {
        weft(
            &hub_urls,
            &["config", "put", "greet-late", "greeting=Hallo"],
        )
        .await
        .ok()
    })
    .await?;
    let writable = killed.elapsed();
    weft(
        &hub_urls,
        &[
            "start",
            "component",
            &greeter,
            "greeter-late",
            "--constraint",
            "zone=b",
            "--config",
            "greet-late",
        ],
    )
    .await?;
    let late = weft(&e, &["call", "greeter-late", "greet", "\"Ada\""]).await?;
    assert!(late.contains("Hallo, Ada!"), "{late}");
    let edge_said = weft(&hub_urls, &["call", "greeter-edge", "greet", "\"Ada\""]).await?;
    assert!(edge_said.contains("Moin, Ada!"), "{edge_said}");
    println!(
        "| hub server killed (3 JetStream servers, leaf node) | host on it answers again after {} ms, its component serves the edge after {} ms, config writable after {} ms; 3/3 hosts, 0 duplicate components, config kept |",
        rejoined.as_millis(),
        served.as_millis(),
        writable.as_millis()
    );
    Ok(())
}
