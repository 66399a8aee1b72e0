//! Guests that misbehave are stopped by their limits, and the host keeps
//! serving: in-process host, real HTTP server on a free loopback port.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use weft_capability::keyvalue::{InMemoryKeyValue, KeyValue};
use weft_host::{Host, HostBuilder};
use weft_http_server::{HttpServer, HttpServerConfig, Route, Router};
use weft_runtime::{ComponentSpec, Limits};
use weft_tests::{guests, http};

struct Served {
    _host: Host,
    server: HttpServer,
}

impl Served {
    fn addr(&self) -> SocketAddr {
        self.server.local_addr()
    }
}

async fn serve(spec: ComponentSpec, max_body: usize) -> anyhow::Result<Served> {
    let wasm = guests::bytes("test_guest")?;
    let host = HostBuilder::new()
        .with_cache_dir(guests::cache_dir())
        .build()?;
    let component = host.start_component(&wasm, spec).await?;
    let router = Arc::new(Router::default());
    router.add(Route::new("test", component));
    let config = HttpServerConfig {
        address: SocketAddr::from(([127, 0, 0, 1], 0)),
        max_body_bytes: max_body,
        ..HttpServerConfig::default()
    };
    let server = HttpServer::bind(config, router).await?;
    Ok(Served {
        _host: host,
        server,
    })
}

fn spec(limits: Limits) -> ComponentSpec {
    ComponentSpec {
        limits,
        keyvalue: Some(Arc::new(InMemoryKeyValue::default()) as Arc<dyn KeyValue>),
        ..ComponentSpec::new("test")
    }
}

fn tight() -> Limits {
    Limits {
        max_memory: 16 << 20,
        timeout: Duration::from_millis(500),
        ..Limits::default()
    }
}

#[tokio::test]
async fn endless_loops_and_log_floods_are_stopped_at_the_deadline_and_the_host_keeps_serving()
-> anyhow::Result<()> {
    let s = serve(spec(tight()), 1 << 20).await?;
    for path in ["/loop", "/log-flood"] {
        let (stopped, ok) = tokio::join!(http::get(s.addr(), path), async {
            // A well-behaved request while the guest spins.
            http::get(s.addr(), "/ok").await
        });
        assert_eq!(stopped?.status, 503, "{path}");
        assert_eq!(ok?.status, 200, "beside {path}");
        assert_eq!(
            http::get(s.addr(), "/ok").await?.status,
            200,
            "after {path}"
        );
    }
    Ok(())
}

#[tokio::test]
async fn memory_bomb_is_refused_at_the_limit() -> anyhow::Result<()> {
    let s = serve(spec(tight()), 1 << 20).await?;
    assert_eq!(http::get(s.addr(), "/alloc").await?.status, 500);
    assert_eq!(http::get(s.addr(), "/ok").await?.body, "ok");
    Ok(())
}

#[tokio::test]
async fn deep_recursion_traps_without_harming_the_host() -> anyhow::Result<()> {
    let s = serve(spec(tight()), 1 << 20).await?;
    assert_eq!(http::get(s.addr(), "/recurse").await?.status, 500);
    assert_eq!(http::get(s.addr(), "/ok").await?.status, 200);
    Ok(())
}

#[tokio::test]
async fn guest_that_sets_no_response_gets_a_500() -> anyhow::Result<()> {
    let s = serve(spec(tight()), 1 << 20).await?;
    assert_eq!(http::get(s.addr(), "/no-response").await?.status, 500);
    assert_eq!(http::get(s.addr(), "/ok").await?.status, 200);
    Ok(())
}

#[tokio::test]
async fn oversized_body_gets_413_and_small_bodies_echo() -> anyhow::Result<()> {
    let s = serve(spec(tight()), 1024).await?;
    let big = http::request(s.addr(), "POST", "/echo", vec![b'x'; 4096]).await?;
    assert_eq!(big.status, 413);
    let small = http::request(s.addr(), "POST", "/echo", b"hello".to_vec()).await?;
    assert_eq!((small.status, small.body.as_str()), (200, "hello"));
    Ok(())
}

#[tokio::test]
async fn config_values_reach_the_guest() -> anyhow::Result<()> {
    let mut spec = spec(tight());
    spec.config = [("greeting".to_owned(), "hi there".to_owned())]
        .into_iter()
        .collect();
    let s = serve(spec, 1024).await?;
    let got = http::get(s.addr(), "/config/greeting").await?;
    assert_eq!((got.status, got.body.as_str()), (200, "hi there"));
    assert_eq!(http::get(s.addr(), "/config/missing").await?.status, 404);
    Ok(())
}

#[tokio::test]
async fn guest_uses_store_atomics_and_batch() -> anyhow::Result<()> {
    let s = serve(spec(tight()), 1024).await?;
    let got = http::get(s.addr(), "/kv").await?;
    assert_eq!((got.status, got.body.as_str()), (200, "kv ok"));
    assert_eq!(http::get(s.addr(), "/log").await?.status, 200);
    Ok(())
}

#[tokio::test]
async fn unlinked_keyvalue_is_a_guest_visible_error() -> anyhow::Result<()> {
    let mut spec = spec(tight());
    spec.keyvalue = None;
    let s = serve(spec, 1024).await?;
    let got = http::get(s.addr(), "/count").await?;
    assert_eq!(got.status, 500, "the guest answers with its own error");
    assert!(got.body.contains("not linked"), "body: {}", got.body);
    Ok(())
}

#[tokio::test]
async fn fresh_instances_forget_and_reused_instances_remember() -> anyhow::Result<()> {
    let fresh = serve(spec(tight()), 1024).await?;
    for _ in 0..3 {
        assert_eq!(http::get(fresh.addr(), "/state").await?.body, "1");
    }
    let reuse = Limits {
        reuse: Some(3),
        max_concurrent: Some(1),
        ..tight()
    };
    let reused = serve(spec(reuse), 1024).await?;
    let mut seen = Vec::new();
    for _ in 0..4 {
        seen.push(http::get(reused.addr(), "/state").await?.body);
    }
    assert_eq!(
        seen,
        ["1", "2", "3", "1"],
        "an instance serves 3 requests, then a fresh one"
    );
    Ok(())
}

#[tokio::test]
async fn a_trapped_reused_instance_is_replaced() -> anyhow::Result<()> {
    let reuse = Limits {
        reuse: Some(100),
        max_concurrent: Some(1),
        ..tight()
    };
    let s = serve(spec(reuse), 1024).await?;
    assert_eq!(http::get(s.addr(), "/state").await?.body, "1");
    assert_eq!(http::get(s.addr(), "/recurse").await?.status, 500);
    assert_eq!(http::get(s.addr(), "/state").await?.body, "1");
    Ok(())
}
