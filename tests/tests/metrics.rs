//! The host's Prometheus metrics count what happened: invocations and
//! their failures per component, calls per link, loads by where the code
//! came from, and the instance pool.

mod common;

use common::scale;
use std::net::SocketAddr;
use std::time::Duration;
use weft_tests::nats::NatsServer;
use weft_tests::{http, net};

const LATTICE: &str = "metrics";

/// The value of the series `series` (name and labels, exactly), if present.
fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test]
async fn metrics_count_invocations_errors_link_calls_and_loads() -> anyhow::Result<()> {
    let nats = NatsServer::start().await?;
    let host = common::start_host(&nats.url(), LATTICE, &[]).await?;
    let client = common::client(&nats.url(), LATTICE).await?;
    let id = host.host.id().to_owned();
    client
        .scale_component(&id, &scale(&id, "app", "test_guest", &[])?)
        .await?;
    common::keyvalue_in_memory(&client, &id, "app").await?;
    let addr: SocketAddr = common::serve_http(&client, &id, "http", "app").await?;
    net::wait_for("the keyvalue link", Duration::from_secs(20), || async {
        let r = http::get(addr, "/count").await.ok()?;
        (r.status == 200).then_some(())
    })
    .await?;
    let before = host.host.metrics();
    let ok = |t: &str| value(t, r#"weft_invocations_total{component="app",kind="http"}"#);
    let kv = |t: &str| {
        value(
            t,
            r#"weft_link_calls_total{component="app",link="default",interface="wasi:keyvalue",target="memory"}"#,
        )
    };
    let (ok0, kv0) = (ok(&before).unwrap_or(0.0), kv(&before).unwrap_or(0.0));

    for _ in 0..3 {
        assert_eq!(http::get(addr, "/count").await?.status, 200);
    }
    // A guest that never sets a response is a failed invocation.
    assert_eq!(http::get(addr, "/no-response").await?.status, 500);

    let text = host.host.metrics();
    assert_eq!(ok(&text), Some(ok0 + 4.0), "{text}");
    assert_eq!(
        value(
            &text,
            r#"weft_invocation_errors_total{component="app",kind="http"}"#
        ),
        Some(1.0),
        "{text}"
    );
    // /count opens the bucket and increments: at least one call each time.
    assert!(kv(&text).unwrap_or(0.0) >= kv0 + 3.0, "{text}");
    let count = value(
        &text,
        r#"weft_invocation_duration_seconds_count{component="app",kind="http"}"#,
    );
    let inf = value(
        &text,
        r#"weft_invocation_duration_seconds_bucket{component="app",kind="http",le="+Inf"}"#,
    );
    assert_eq!(count, ok(&text), "{text}");
    assert_eq!(inf, count, "{text}");
    assert_eq!(value(&text, "weft_components"), Some(1.0), "{text}");
    assert!(value(&text, "weft_pool_instances_max").unwrap_or(0.0) > 0.0);
    assert!(value(&text, "weft_pool_instances").is_some(), "{text}");
    let loads: f64 = ["compiled", "cached", "shared"]
        .iter()
        .filter_map(|o| {
            value(
                &text,
                &format!(r#"weft_component_loads_total{{origin="{o}"}}"#),
            )
        })
        .sum();
    assert_eq!(loads, 1.0, "{text}");
    assert_eq!(
        value(&text, r#"weft_oci_pulls_total{result="ok"}"#),
        Some(0.0)
    );

    // Unlinking drops the link's series.
    client
        .delete_link(&weft_lattice_protocol::wire::DeleteLink {
            source_id: "app".into(),
            name: "default".into(),
            wit_namespace: "wasi".into(),
            wit_package: "keyvalue".into(),
        })
        .await?;
    net::wait_for(
        "the link's series to go",
        Duration::from_secs(20),
        || async { kv(&host.host.metrics()).is_none().then_some(()) },
    )
    .await?;
    Ok(())
}
