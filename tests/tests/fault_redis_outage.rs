//! Fault: Redis goes away for 10 s under load. Guests get `wasi:keyvalue`
//! errors (no trap, no host crash), HTTP answers 5xx with the reason, other
//! routes keep serving, and the service recovers by itself once Redis is
//! back. Prints one row of the fault summary.

mod common;

use common::{link, provider, scale, start_host};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use weft_lattice_protocol::wire::StringMap;
use weft_tests::nats::NatsServer;
use weft_tests::redis::RedisServer;
use weft_tests::{http, net};

const LATTICE: &str = "redis-outage";
const OUTAGE: Duration = Duration::from_secs(10);

/// What the load loop saw in one phase.
#[derive(Debug, Default, Clone)]
struct Seen {
    ok: u64,
    failed_with_reason: u64,
    other: Vec<String>,
}

/// Calls `/count` until `stop`, sorting the answers.
async fn load(addr: SocketAddr, stop: Arc<AtomicBool>) -> Seen {
    let mut seen = Seen::default();
    while !stop.load(Ordering::Relaxed) {
        match http::get(addr, "/count").await {
            Ok(r) if r.status == 200 => seen.ok += 1,
            Ok(r) if r.status >= 500 && r.body.contains("keyvalue error") => {
                seen.failed_with_reason += 1
            }
            Ok(r) => seen.other.push(format!("{} {}", r.status, r.body)),
            Err(e) => seen.other.push(format!("no answer: {e}")),
        }
    }
    seen
}

async fn phase(
    addr: SocketAddr,
    during: impl std::future::Future<Output = anyhow::Result<()>>,
) -> anyhow::Result<Seen> {
    let stop = Arc::new(AtomicBool::new(false));
    let task = tokio::spawn(load(addr, stop.clone()));
    during.await?;
    stop.store(true, Ordering::Relaxed);
    Ok(task.await?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_outage_gives_reasons_not_traps_and_heals_itself() -> anyhow::Result<()> {
    let nats = NatsServer::start().await?;
    let mut redis = RedisServer::start().await?;
    let host = start_host(&nats.url(), LATTICE, &[]).await?;
    let id = host.host.id().to_owned();
    let client = common::client(&nats.url(), LATTICE).await?;
    client
        .put_config("redis", &StringMap::from([("url".into(), redis.url())]))
        .await?;
    client
        .scale_component(&id, &scale(&id, "app", "test_guest", &[])?)
        .await?;
    client
        .start_provider(
            &id,
            &provider("cache", "builtin:keyvalue-redis", &["redis"]),
        )
        .await?;
    client
        .put_link(&link(
            "app",
            "cache",
            "wasi:keyvalue",
            &["store", "atomics"],
            &[],
        ))
        .await?;
    let addr = common::serve_http(&client, &id, "http", "app").await?;
    net::wait_for("the app to count", Duration::from_secs(20), || async {
        (http::get(addr, "/count").await.ok()?.status == 200).then_some(())
    })
    .await?;

    let before = phase(addr, async {
        tokio::time::sleep(Duration::from_secs(1)).await;
        Ok(())
    })
    .await?;

    // The outage: Redis killed, and during it the host keeps serving what
    // does not need Redis.
    redis.stop().await?;
    let outage = phase(addr, async {
        let until = Instant::now() + OUTAGE;
        while Instant::now() < until {
            let r = http::get(addr, "/ok").await?;
            anyhow::ensure!(r.status == 200, "/ok failed during the outage: {}", r.body);
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Ok(())
    })
    .await?;

    // Back: the next calls succeed without anyone touching the host.
    redis.start_again().await?;
    let back = Instant::now();
    let recovered = net::wait_for("counting to resume", Duration::from_secs(20), || async {
        (http::get(addr, "/count").await.ok()?.status == 200).then_some(())
    })
    .await;
    let recovery = back.elapsed();
    recovered?;
    let after = phase(addr, async {
        tokio::time::sleep(Duration::from_secs(1)).await;
        Ok(())
    })
    .await?;

    let metrics = host.host.metrics();
    let traps = metrics
        .lines()
        .find_map(|l| {
            l.strip_prefix(r#"weft_invocation_errors_total{component="app",kind="http"} "#)
        })
        .unwrap_or("0")
        .to_owned();
    println!(
        "fault                 | before ok | outage: ok / 5xx with reason / other | recovery | traps"
    );
    println!(
        "Redis down {:>2} s       | {:>9} | {:>4} / {:>4} / {:>4}                     | {:>5} ms | {traps}",
        OUTAGE.as_secs(),
        before.ok,
        outage.ok,
        outage.failed_with_reason,
        outage.other.len(),
        recovery.as_millis()
    );
    assert!(before.ok > 0 && before.other.is_empty(), "{before:?}");
    assert!(
        outage.other.is_empty(),
        "during the outage every /count must answer 5xx with the reason: {:?}",
        &outage.other[..outage.other.len().min(5)]
    );
    assert!(outage.failed_with_reason > 0, "{outage:?}");
    assert_eq!(
        traps, "0",
        "keyvalue errors must not trap the guest:\n{metrics}"
    );
    assert!(
        after.ok > 0 && after.other.is_empty() && after.failed_with_reason == 0,
        "{after:?}"
    );
    Ok(())
}
