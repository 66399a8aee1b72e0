//! Hole 2 of the security issue: an invocation's deadline is wall-clock.
//! It ends at its deadline whatever it waits on — a clock sleep, a body a
//! client trickles, a keyvalue call, a slot held by the invocation that
//! waits for it — with a 503 (or the caller's error) within the deadline
//! and 100 ms, its instance dropped and its slot freed for the next one.

mod common;

use async_trait::async_trait;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use weft_capability::keyvalue::{self, InMemoryKeyValue, KeyResponse, KeyValue};
use weft_host::{Host, HostBuilder};
use weft_http_server::{HttpServer, HttpServerConfig, Route, Router};
use weft_runtime::{ComponentSpec, Limits};
use weft_tests::{guests, http};

/// The deadline of every invocation here, and what may pass beyond it.
const DEADLINE: Duration = Duration::from_millis(500);
const SLACK: Duration = Duration::from_millis(100);

struct Served {
    _host: Host,
    server: HttpServer,
}

/// The test guest on a host of its own, one invocation at a time, with
/// `keyvalue` as its store.
async fn serve(keyvalue: Arc<dyn KeyValue>) -> anyhow::Result<Served> {
    let host = HostBuilder::new()
        .with_cache_dir(guests::cache_dir())
        .build()?;
    let spec = ComponentSpec {
        limits: Limits {
            timeout: DEADLINE,
            max_concurrent: Some(1),
            ..Limits::default()
        },
        keyvalue: Some(keyvalue),
        ..ComponentSpec::new("test")
    };
    let component = host
        .start_component(&guests::bytes("test_guest")?, spec)
        .await?;
    let router = Arc::new(Router::default());
    router.add(Route::new("test", component));
    let config = HttpServerConfig {
        address: SocketAddr::from(([127, 0, 0, 1], 0)),
        ..HttpServerConfig::default()
    };
    let server = HttpServer::bind(config, router).await?;
    Ok(Served {
        _host: host,
        server,
    })
}

/// `path`'s status and how long it took.
async fn timed_get(addr: SocketAddr, path: &str) -> anyhow::Result<(u16, Duration)> {
    let started = Instant::now();
    let reply = http::get(addr, path).await?;
    Ok((reply.status, started.elapsed()))
}

/// Asserts that `what` ended with a 503 within the deadline and the slack.
fn ended_at_deadline(what: &str, (status, took): (u16, Duration)) {
    assert_eq!(status, 503, "{what}: answered {status} after {took:?}");
    assert!(
        took < DEADLINE + SLACK,
        "{what}: answered 503 after {took:?}, not within {:?}",
        DEADLINE + SLACK
    );
}

/// `path` (on the only slot) ends at the deadline, and the slot is free at
/// once: the next request runs well within its own deadline.
async fn ends_and_frees_the_slot(addr: SocketAddr, path: &str) -> anyhow::Result<()> {
    assert_eq!(http::get(addr, "/ok").await?.status, 200, "warm up");
    ended_at_deadline(path, timed_get(addr, path).await?);
    let (status, took) = timed_get(addr, "/ok").await?;
    assert_eq!(status, 200);
    assert!(
        took < DEADLINE,
        "the next request waited {took:?} for the slot"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_sleeping_in_a_host_call_ends_at_its_deadline_and_frees_its_slot()
-> anyhow::Result<()> {
    let s = serve(Arc::new(InMemoryKeyValue::default())).await?;
    ends_and_frees_the_slot(s.server.local_addr(), "/sleep/10000").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_trickled_by_a_slow_client_ends_at_the_deadline() -> anyhow::Result<()> {
    let s = serve(Arc::new(InMemoryKeyValue::default())).await?;
    let addr = s.server.local_addr();
    assert_eq!(http::get(addr, "/ok").await?.status, 200, "warm up");
    let started = Instant::now();
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    stream
        .write_all(b"POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 1000\r\n\r\n")
        .await?;
    let (mut read, mut write) = stream.into_split();
    // One byte every 2 s: the body would take over half an hour, and the
    // guest waits in one read for each byte.
    let trickle = tokio::spawn(async move {
        while write.write_all(b"x").await.is_ok() {
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
    });
    let mut head = vec![0; 64];
    let n = read.read(&mut head).await?;
    let took = started.elapsed();
    trickle.abort();
    let head = String::from_utf8_lossy(&head[..n]).into_owned();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    ended_at_deadline("a trickled body", (status, took));
    assert_eq!(http::get(addr, "/ok").await?.status, 200);
    Ok(())
}

/// A keyvalue backend that takes ten seconds to open a bucket.
struct Slow(InMemoryKeyValue);

#[async_trait]
impl KeyValue for Slow {
    async fn open(&self, bucket: &str) -> Result<(), keyvalue::Error> {
        tokio::time::sleep(Duration::from_secs(10)).await;
        self.0.open(bucket).await
    }
    async fn get(&self, bucket: &str, key: &str) -> Result<Option<Vec<u8>>, keyvalue::Error> {
        self.0.get(bucket, key).await
    }
    async fn set(&self, bucket: &str, key: &str, value: Vec<u8>) -> Result<(), keyvalue::Error> {
        self.0.set(bucket, key, value).await
    }
    async fn delete(&self, bucket: &str, key: &str) -> Result<(), keyvalue::Error> {
        self.0.delete(bucket, key).await
    }
    async fn exists(&self, bucket: &str, key: &str) -> Result<bool, keyvalue::Error> {
        self.0.exists(bucket, key).await
    }
    async fn list_keys(
        &self,
        bucket: &str,
        cursor: Option<u64>,
    ) -> Result<KeyResponse, keyvalue::Error> {
        self.0.list_keys(bucket, cursor).await
    }
    async fn increment(&self, bucket: &str, key: &str, delta: u64) -> Result<u64, keyvalue::Error> {
        self.0.increment(bucket, key, delta).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_capability_call_that_hangs_ends_at_the_deadline() -> anyhow::Result<()> {
    let s = serve(Arc::new(Slow(InMemoryKeyValue::default()))).await?;
    ends_and_frees_the_slot(s.server.local_addr(), "/count").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_from_a_to_b_to_a_with_one_slot_end_at_the_deadline() -> anyhow::Result<()> {
    use weft_capability::call::Encoding;
    use weft_lattice_protocol::wire::ComponentLimits;
    let nats = weft_tests::nats::NatsServer::start().await?;
    let host = common::start_host(&nats.url(), "bounce", &[]).await?;
    let client = common::client(&nats.url(), "bounce").await?;
    let id = host.host.id().to_owned();
    for (me, other) in [("a", "b"), ("b", "a")] {
        let mut scale = common::scale(&id, me, "bounce", &[])?;
        scale.max_instances = 1;
        scale.component_limits = Some(ComponentLimits::from([(
            "max_execution_time".to_owned(),
            "1".to_owned(),
        )]));
        client.scale_component(&id, &scale).await?;
        let link = common::link(me, other, "weft:platform", &["greeter"], &[]);
        client.put_link(&link).await?;
    }
    let a = host
        .host
        .component("a")
        .ok_or_else(|| anyhow::anyhow!("a is not running"))?;
    // Each hop takes one character: "xy" goes a → b → a, and the second
    // call into `a` needs the slot the first one holds.
    let two_hops = ["\"xy\"".to_owned()];
    let bounce = a.call_export_text(
        "weft:platform/greeter",
        "greet",
        &two_hops,
        Duration::from_secs(30),
        Encoding::Wave,
    );
    // Wait until both links are bound: a single hop answers from each
    // side (else the two-hop call would fail at once, "not linked").
    for me in ["a", "b"] {
        let component = host
            .host
            .component(me)
            .ok_or_else(|| anyhow::anyhow!("{me} is not running"))?;
        let what = format!("the link from {me} to bind");
        weft_tests::net::wait_for(&what, Duration::from_secs(20), || async {
            component
                .call_export_text(
                    "weft:platform/greeter",
                    "greet",
                    &["\"x\"".to_owned()],
                    Duration::from_secs(5),
                    Encoding::Wave,
                )
                .await
                .ok()
        })
        .await?;
    }
    let started = Instant::now();
    let outcome = tokio::time::timeout(Duration::from_secs(10), bounce).await;
    let took = started.elapsed();
    let Ok(result) = outcome else {
        panic!("a → b → a with one slot each was still deadlocked after {took:?}");
    };
    assert!(result.is_err(), "a → b → a answered: {result:?}");
    let deadline = Duration::from_secs(1);
    assert!(
        took < deadline + SLACK,
        "a → b → a failed only after {took:?}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deadline_too_large_to_keep_is_refused_from_the_wire() -> anyhow::Result<()> {
    use weft_lattice_protocol::wire::ComponentLimits;
    let nats = weft_tests::nats::NatsServer::start().await?;
    let host = common::start_host(&nats.url(), "huge", &[]).await?;
    let client = common::client(&nats.url(), "huge").await?;
    let id = host.host.id().to_owned();
    let mut scale = common::scale(&id, "app", "test_guest", &[])?;
    scale.component_limits = Some(ComponentLimits::from([(
        "max_execution_time".to_owned(),
        u64::MAX.to_string(),
    )]));
    let refused = client.scale_component(&id, &scale).await;
    let Err(e) = refused else {
        panic!("a max_execution_time of {} s was taken", u64::MAX);
    };
    assert_eq!(e.kind(), weft_lattice_client::ErrorKind::Rejected, "{e}");
    assert!(
        e.message().contains("component_limits.max_execution_time"),
        "{e}"
    );
    assert!(host.host.component("app").is_none());
    // The host still serves.
    scale.component_limits = None;
    client.scale_component(&id, &scale).await?;
    Ok(())
}
