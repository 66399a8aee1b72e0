//! Components built against older wasi:http 0.2 patch versions link and
//! serve on the same host as current ones: `compat_http_0_2_0` exports
//! `wasi:http/incoming-handler@0.2.0`, `compat_http_0_2_4` exports `@0.2.4`
//! (both import Rust std's `wasi:io`/`wasi:cli` at 0.2.6), and `http_hello`
//! is built with `wasip2` 2.0.1 at 0.2.12.

use std::net::SocketAddr;
use std::sync::Arc;
use weft_host::HostBuilder;
use weft_http_server::{HttpServer, HttpServerConfig, Route, Router};
use weft_runtime::ComponentSpec;
use weft_tests::{guests, http};

#[tokio::test]
async fn every_wasi_http_0_2_patch_version_links_and_serves() -> anyhow::Result<()> {
    let host = HostBuilder::new()
        .with_cache_dir(guests::cache_dir())
        .build()?;
    let router = Arc::new(Router::default());
    for (guest, prefix) in [
        ("compat_http_0_2_0", "/v0"),
        ("compat_http_0_2_4", "/v4"),
        ("http_hello", "/v12"),
    ] {
        let component = host
            .start_component(&guests::bytes(guest)?, ComponentSpec::new(guest))
            .await?;
        router.add(Route::new(guest, component).with_path_prefix(prefix));
    }
    let config = HttpServerConfig {
        address: SocketAddr::from(([127, 0, 0, 1], 0)),
        ..HttpServerConfig::default()
    };
    let server = HttpServer::bind(config, router).await?;
    let addr = server.local_addr();
    assert_eq!(http::get(addr, "/v0").await?.body, "compat");
    assert_eq!(http::get(addr, "/v4/x").await?.body, "compat");
    assert_eq!(http::get(addr, "/v12").await?.body, "Hello from Weft!\n");
    assert_eq!(http::get(addr, "/elsewhere").await?.status, 404);
    Ok(())
}
