//! A stopping host drains: its listeners close at once, and the requests
//! already in flight are answered before it reports that nothing runs.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use weft_host::{HostApi, HostBuilder, LinkBinding, ScaleRequest, StartProviderRequest};
use weft_http_server::HttpServerKind;
use weft_tests::{guests, net};

#[tokio::test]
async fn drain_finishes_requests_in_flight_and_stops_listening() -> anyhow::Result<()> {
    let host = Arc::new(
        HostBuilder::new()
            .with_cache_dir(guests::cache_dir())
            .with_file_refs(true)
            .with_provider_kind("builtin:http-server", Arc::new(HttpServerKind))
            .build()?,
    );
    host.scale_component(ScaleRequest {
        component_id: "app".into(),
        image_ref: format!("file://{}", guests::path("test_guest")?.display()),
        max_instances: 4,
        allow_update: false,
        annotations: BTreeMap::new(),
        config: BTreeMap::new(),
        max_memory: None,
        timeout: None,
    })
    .await?;
    host.start_provider(StartProviderRequest {
        provider_id: "http".into(),
        provider_ref: "builtin:http-server".into(),
        config: BTreeMap::new(),
        annotations: BTreeMap::new(),
    })
    .await?;
    let addr = SocketAddr::from(([127, 0, 0, 1], net::free_port()?));
    host.set_links(vec![LinkBinding {
        source: "http".into(),
        target: "app".into(),
        name: "default".into(),
        namespace: "wasi".into(),
        package: "http".into(),
        interfaces: vec!["incoming-handler".into()],
        source_config: BTreeMap::from([("address".into(), addr.to_string())]),
        target_config: BTreeMap::new(),
    }]);
    net::wait_for_port(addr, Duration::from_secs(20)).await?;

    let slow = tokio::spawn(weft_tests::http::get(addr, "/sleep/400"));
    let component = host
        .component("app")
        .ok_or(anyhow::anyhow!("app is gone"))?;
    net::wait_for(
        "the request to be in flight",
        Duration::from_secs(10),
        || {
            let busy = component.in_flight() > 0;
            async move { busy.then_some(()) }
        },
    )
    .await?;

    let unfinished = host.drain(Duration::from_secs(10)).await;
    anyhow::ensure!(unfinished == 0, "{unfinished} invocations left running");
    let reply = slow.await??;
    anyhow::ensure!(
        reply.status == 200 && reply.body == "slept",
        "the request in flight got {} {:?}",
        reply.status,
        reply.body
    );
    net::wait_for("the listener to close", Duration::from_secs(10), || async {
        tokio::net::TcpStream::connect(addr)
            .await
            .is_err()
            .then_some(())
    })
    .await?;
    // Links set while draining start nothing again.
    host.set_links(vec![]);
    anyhow::ensure!(tokio::net::TcpStream::connect(addr).await.is_err());
    Ok(())
}
