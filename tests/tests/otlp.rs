//! Invocation spans reach an OpenTelemetry collector over OTLP/HTTP (JSON):
//! a request to a component shows up as an `invocation` span naming the
//! component, and a collector that is down costs the host nothing but the
//! spans.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::prelude::*;
use weft_host::HostBuilder;
use weft_http_server::{HttpServer, HttpServerConfig, Route, Router};
use weft_runtime::ComponentSpec;
use weft_tests::{guests, http};

/// A collector stand-in: answers 200 to every request and hands each
/// request's path and body to the test.
async fn collector() -> anyhow::Result<(SocketAddr, mpsc::UnboundedReceiver<(String, Vec<u8>)>)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 8192];
                loop {
                    let Ok(n) = conn.read(&mut chunk).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
                        continue;
                    };
                    let head = String::from_utf8_lossy(&buf[..end]).to_lowercase();
                    let length: usize = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .and_then(|v| v.trim().parse().ok())
                        .unwrap_or(0);
                    if buf.len() < end + 4 + length {
                        continue;
                    }
                    let path = head
                        .split_whitespace()
                        .nth(1)
                        .unwrap_or_default()
                        .to_owned();
                    let body = buf[end + 4..end + 4 + length].to_vec();
                    buf.drain(..end + 4 + length);
                    let _ = tx.send((path, body));
                    let ok = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
                    if conn.write_all(ok).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    Ok((addr, rx))
}

/// Every span of every batch received.
fn spans(body: &[u8]) -> Vec<serde_json::Value> {
    let v: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    v["resourceSpans"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|r| r["scopeSpans"].as_array().into_iter().flatten())
        .flat_map(|s| s["spans"].as_array().into_iter().flatten())
        .cloned()
        .collect()
}

fn attribute<'a>(span: &'a serde_json::Value, key: &str) -> Option<&'a str> {
    span["attributes"]
        .as_array()?
        .iter()
        .find(|a| a["key"] == key)?["value"]["stringValue"]
        .as_str()
}

// One thread: the subscriber set for this test sees every task.
#[tokio::test(flavor = "current_thread")]
async fn invocation_spans_reach_the_collector() -> anyhow::Result<()> {
    let (addr, mut received) = collector().await?;
    let (layer, exporter) = weft_telemetry::otlp(&format!("http://{addr}"), "weft-test")?;
    let filter = Targets::new().with_target("weft_runtime", tracing::Level::DEBUG);
    let _guard = tracing_subscriber::registry()
        .with(layer.with_filter(filter))
        .set_default();
    tokio::spawn(exporter.run());

    let host = HostBuilder::new()
        .with_cache_dir(guests::cache_dir())
        .build()?;
    let component = host
        .start_component(&guests::bytes("test_guest")?, ComponentSpec::new("traced"))
        .await?;
    let router = Arc::new(Router::default());
    router.add(Route::new("traced", component));
    let config = HttpServerConfig {
        address: SocketAddr::from(([127, 0, 0, 1], 0)),
        ..HttpServerConfig::default()
    };
    let server = HttpServer::bind(config, router).await?;
    assert_eq!(http::get(server.local_addr(), "/ok").await?.status, 200);

    let (path, body) = tokio::time::timeout(Duration::from_secs(10), received.recv())
        .await?
        .ok_or_else(|| anyhow::anyhow!("the collector got nothing"))?;
    assert_eq!(path, "/v1/traces");
    let spans = spans(&body);
    let span = spans
        .iter()
        .find(|s| s["name"] == "invocation")
        .ok_or_else(|| anyhow::anyhow!("no invocation span in {spans:?}"))?;
    assert_eq!(attribute(span, "component"), Some("traced"), "{span}");
    assert_eq!(attribute(span, "kind"), Some("http"), "{span}");
    assert_eq!(span["traceId"].as_str().map(str::len), Some(32));
    let start: u128 = span["startTimeUnixNano"].as_str().unwrap_or("0").parse()?;
    let end: u128 = span["endTimeUnixNano"].as_str().unwrap_or("0").parse()?;
    assert!(end >= start && start > 0, "{span}");
    Ok(())
}

#[tokio::test(flavor = "current_thread")]
async fn a_collector_that_is_down_costs_only_the_spans() -> anyhow::Result<()> {
    let port = weft_tests::net::free_port()?;
    let (layer, exporter) = weft_telemetry::otlp(&format!("http://127.0.0.1:{port}"), "t")?;
    let _guard = tracing_subscriber::registry().with(layer).set_default();
    let export = tokio::spawn(exporter.run());
    // Far more spans than the queue holds: none blocks, none panics.
    for i in 0..20_000 {
        let _s = tracing::info_span!("work", i).entered();
    }
    assert!(!export.is_finished());
    Ok(())
}

#[test]
fn bad_endpoints_are_refused_with_an_example() {
    for bad in ["127.0.0.1:4318", "grpc://x:4317", "http://", ""] {
        let err = weft_telemetry::otlp(bad, "t").err().map(|e| e.to_string());
        assert!(
            err.as_deref()
                .is_some_and(|e| e.contains("http://127.0.0.1:4318")),
            "{bad}: {err:?}"
        );
    }
}
