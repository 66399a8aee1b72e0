//! Fault 2: nats-server (JetStream on disk) killed and started again while
//! three `weft host`s serve a deployed app under HTTP + Redis load. The
//! hosts reconnect; links, config and the app are intact; traffic goes on;
//! no component runs twice; every answered request is in Redis once.

#[allow(dead_code)]
mod apps_support;

use apps_support::{
    Load, clients, deployed, kv_counter_file, ok, placement, reconciler_passes, three_hosts,
};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use weft_tests::nats::NatsServer;
use weft_tests::net::{free_port, wait_for};
use weft_tests::redis::RedisServer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nats_restart_under_load_loses_nothing_and_starts_nothing_twice() -> anyhow::Result<()> {
    let mut nats = NatsServer::start().await?;
    let redis = RedisServer::start().await?;
    let l = "restart-apps";
    let (_hosts, lc, _, ids) = three_hosts(&nats, l).await?;
    let all: Vec<&str> = ids.values().map(String::as_str).collect();
    let port = free_port()?;
    let dir = tempfile::tempdir()?;
    let file = kv_counter_file(&dir, port, &redis.url())?;
    ok(&nats, l, &["app", "deploy", &file, "--wait", "60s"]).await?;
    ok(&nats, l, &["config", "put", "kept", "k=v"]).await?;
    let links_before = lc.links().await?.len();
    let before = placement(&lc, &all, "kv-counter").await;
    assert_eq!(before.values().sum::<u32>(), 4, "{before:?}");

    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let load = Load::start(addr, 4);
    wait_for(
        "the load to be answered",
        Duration::from_secs(20),
        || async { (load.answered() > 20).then_some(()) },
    )
    .await?;
    let restarted = Instant::now();
    nats.restart().await?;
    let answered_at_restart = load.answered();
    // Every host answers the control protocol again.
    let (lc, apps, _) = clients(&nats, l).await?;
    let back = wait_for(
        "3 hosts after the restart",
        Duration::from_secs(30),
        || async { (lc.hosts().await.ok()?.len() == 3).then(|| restarted.elapsed()) },
    )
    .await?;
    wait_for("the app deployed", Duration::from_secs(30), || async {
        deployed(&apps, "kv-counter").await.then_some(())
    })
    .await?;
    // Traffic goes on after it.
    wait_for(
        "requests after the restart",
        Duration::from_secs(30),
        || async { (load.answered() > answered_at_restart + 20).then_some(()) },
    )
    .await?;
    // Reconciler passes over the lattice as it is now start no second copy.
    reconciler_passes(&nats, l).await?;
    let (answered, retried) = load.stop().await?;
    let after = placement(&lc, &all, "kv-counter").await;
    assert_eq!(after, before, "the app's components moved or doubled");
    assert_eq!(lc.links().await?.len(), links_before, "links changed");
    assert_eq!(lc.config("kept").await?["k"], "v");
    let stored = redis.dbsize().await?;
    println!(
        "| nats-server restart under HTTP + Redis load | 3/3 hosts answer again after {} ms; app Deployed, same 4 instances, links and config intact; {answered} requests answered, {retried} attempts retried, Redis holds {stored} |",
        back.as_millis()
    );
    assert_eq!(stored, answered, "every answered request is in Redis once");
    Ok(())
}
