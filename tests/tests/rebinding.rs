//! A keyvalue binding changed while a component serves takes effect on the
//! next call, also on an instance that is being reused (no restart).

use std::net::SocketAddr;
use std::sync::Arc;
use weft_capability::keyvalue::{InMemoryKeyValue, KeyValue};
use weft_host::HostBuilder;
use weft_http_server::{HttpServer, HttpServerConfig, Route, Router};
use weft_runtime::{ComponentSpec, Limits};
use weft_tests::{guests, http};

#[tokio::test]
async fn the_next_call_uses_the_new_keyvalue_binding() -> anyhow::Result<()> {
    let first: Arc<dyn KeyValue> = Arc::new(InMemoryKeyValue::default());
    let second: Arc<dyn KeyValue> = Arc::new(InMemoryKeyValue::default());
    let host = HostBuilder::new()
        .with_cache_dir(guests::cache_dir())
        .build()?;
    let spec = ComponentSpec {
        limits: Limits {
            reuse: Some(1_000),
            ..Limits::default()
        },
        keyvalue: Some(first.clone()),
        ..ComponentSpec::new("rebind")
    };
    let component = host
        .start_component(&guests::bytes("test_guest")?, spec)
        .await?;
    let router = Arc::new(Router::default());
    router.add(Route::new("rebind", component.clone()));
    let config = HttpServerConfig {
        address: SocketAddr::from(([127, 0, 0, 1], 0)),
        ..HttpServerConfig::default()
    };
    let server = HttpServer::bind(config, router).await?;
    let addr = server.local_addr();

    // One instance serves every call: its in-guest counter (/state) keeps
    // counting across the rebinding.
    assert_eq!(http::get(addr, "/state").await?.body, "1");
    assert_eq!(http::get(addr, "/count").await?.body, "1");
    assert_eq!(http::get(addr, "/count").await?.body, "2");

    component.set_keyvalue(Some(second.clone()));
    assert_eq!(http::get(addr, "/count").await?.body, "1", "new backend");
    component.set_keyvalue(Some(first));
    assert_eq!(
        http::get(addr, "/count").await?.body,
        "3",
        "old backend again"
    );
    assert_eq!(http::get(addr, "/state").await?.body, "2", "same instance");

    component.set_keyvalue(None);
    let unbound = http::get(addr, "/count").await?;
    assert_eq!(unbound.status, 500, "{}", unbound.body);
    Ok(())
}
