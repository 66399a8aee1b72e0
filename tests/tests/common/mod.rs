//! Lattice hosts for tests: the product's own [`weft_lattice_host::LatticeHost`]
//! on a real nats-server, with file refs allowed, the guests' compile cache
//! and a fast heartbeat, and helpers that drive it over the control protocol.
// Each test binary uses part of this module.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;
use weft_host::{Host, HostBuilder};
use weft_lattice_host::{LatticeHost, LatticeHostConfig};
use weft_lattice_nats::{NatsAuth, Plane, connect_to};
use weft_lattice_protocol::Subjects;
use weft_lattice_protocol::wire::{Link, StartProvider};
use weft_tests::guests;

/// A host on the lattice; stops answering when dropped.
pub struct TestHost {
    /// The host.
    pub host: Arc<Host>,
    /// Its OCI puller, with a store of its own.
    pub oci: Arc<weft_oci::Puller>,
    _lattice: LatticeHost,
    _oci_dir: tempfile::TempDir,
}

/// A control client of lattice `lattice` on the nats-server at `url`.
pub async fn client(
    url: &str,
    lattice: &str,
) -> anyhow::Result<weft_lattice_client::LatticeClient> {
    Ok(weft_lattice_client::LatticeClient::new(
        async_nats::connect(url).await?,
        Subjects::new("wasmbus.ctl", lattice)?,
    ))
}

/// Starts a host on lattice `lattice` of the nats-server at `url`, with
/// `labels`, file refs allowed and a fast heartbeat. It serves neither the
/// app API nor reconciles (the CLI tests run `weft host` for those).
pub async fn start_host(
    url: &str,
    lattice: &str,
    labels: &[(&str, &str)],
) -> anyhow::Result<TestHost> {
    let subjects = Subjects::new("wasmbus.ctl", lattice)?;
    let nats = connect_to(
        Plane::Control,
        url,
        &NatsAuth::None,
        None,
        "test-host",
        Duration::from_secs(5),
    )
    .await?;
    let oci_dir = tempfile::tempdir()?;
    let oci = Arc::new(weft_oci::Puller::new(
        weft_oci::PullerConfig::new(oci_dir.path()),
        Arc::new(weft_oci::Credentials::new()),
    ));
    let mut builder = HostBuilder::new()
        .with_cache_dir(guests::cache_dir())
        .with_file_refs(true)
        .with_oci(oci.clone());
    for (k, v) in labels {
        builder = builder.with_label(*k, *v)?;
    }
    let lattice = LatticeHost::start(LatticeHostConfig {
        heartbeat: Duration::from_millis(200),
        app_api: false,
        reconciler: false,
        host: builder,
        ..LatticeHostConfig::new(nats, url, subjects)
    })
    .await?;
    Ok(TestHost {
        host: lattice.host().clone(),
        oci,
        _lattice: lattice,
        _oci_dir: oci_dir,
    })
}

/// A `provider.start` body.
pub fn provider(id: &str, reference: &str, config: &[&str]) -> StartProvider {
    StartProvider {
        provider_id: id.into(),
        provider_ref: reference.into(),
        host_id: String::new(),
        config: config.iter().map(|c| c.to_string()).collect(),
        annotations: None,
    }
}

/// Puts config `config` with `url` and starts provider `id` of `kind`
/// (`builtin:keyvalue-redis`, …) from it on `host_id`.
pub async fn provider_at(
    client: &weft_lattice_client::LatticeClient,
    host_id: &str,
    id: &str,
    kind: &str,
    config: &str,
    url: &str,
) -> anyhow::Result<()> {
    let values = std::collections::BTreeMap::from([("url".to_owned(), url.to_owned())]);
    client.put_config(config, &values).await?;
    client
        .start_provider(host_id, &provider(id, kind, &[config]))
        .await?;
    Ok(())
}

/// A `link.put` body (link name `default`, no target config).
pub fn link(
    source: &str,
    target: &str,
    package: &str,
    interfaces: &[&str],
    source_config: &[&str],
) -> Link {
    let (namespace, package) = package.split_once(':').unwrap_or(("wasi", package));
    Link {
        source_id: source.into(),
        target: target.into(),
        name: "default".into(),
        wit_namespace: namespace.into(),
        wit_package: package.into(),
        interfaces: interfaces.iter().map(|i| i.to_string()).collect(),
        source_config: source_config.iter().map(|c| c.to_string()).collect(),
        target_config: vec![],
    }
}

/// Links component `app` to messaging provider `nats` both ways: its
/// `consumer` import to the provider, and the provider's subscriptions
/// (from the named config `subscriptions`) to its `handler` export.
pub async fn messaging_both_ways(
    client: &weft_lattice_client::LatticeClient,
    app: &str,
    nats: &str,
    subscriptions: &str,
) -> anyhow::Result<()> {
    let consumer = link(app, nats, "wasmcloud:messaging", &["consumer"], &[]);
    client.put_link(&consumer).await?;
    let handler = link(
        nats,
        app,
        "wasmcloud:messaging",
        &["handler"],
        &[subscriptions],
    );
    client.put_link(&handler).await?;
    Ok(())
}

/// Starts `builtin:keyvalue-memory` as `memory` on `host_id` and links
/// `app`'s `wasi:keyvalue` (store, atomics) to it.
pub async fn keyvalue_in_memory(
    client: &weft_lattice_client::LatticeClient,
    host_id: &str,
    app: &str,
) -> anyhow::Result<()> {
    client
        .start_provider(host_id, &provider("memory", "builtin:keyvalue-memory", &[]))
        .await?;
    let kv = link(app, "memory", "wasi:keyvalue", &["store", "atomics"], &[]);
    client.put_link(&kv).await?;
    Ok(())
}

/// A `component.scale` body starting guest `guest` (built from
/// tests/components or examples) as `id` on `host_id`, configured from the
/// named configs `config`.
pub fn scale(
    host_id: &str,
    id: &str,
    guest: &str,
    config: &[&str],
) -> anyhow::Result<weft_lattice_protocol::wire::ScaleComponent> {
    Ok(weft_lattice_protocol::wire::ScaleComponent {
        component_ref: format!("file://{}", guests::path(guest)?.display()),
        component_id: id.into(),
        host_id: host_id.into(),
        max_instances: 8,
        annotations: Default::default(),
        config: config.iter().map(|c| c.to_string()).collect(),
        allow_update: false,
        component_limits: None,
    })
}

/// Starts `builtin:http-server` as `provider_id` on `host_id` and links it
/// to component `app` on a free loopback port; returns the address once it
/// answers.
pub async fn serve_http(
    client: &weft_lattice_client::LatticeClient,
    host_id: &str,
    provider_id: &str,
    app: &str,
) -> anyhow::Result<std::net::SocketAddr> {
    serve_http_named(client, host_id, provider_id, app, "default").await
}

/// [`serve_http`] over a link called `name` (one server provider serves
/// several components over links named apart).
pub async fn serve_http_named(
    client: &weft_lattice_client::LatticeClient,
    host_id: &str,
    provider_id: &str,
    app: &str,
    name: &str,
) -> anyhow::Result<std::net::SocketAddr> {
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], weft_tests::net::free_port()?));
    let config = format!("{app}-http");
    client
        .put_config(
            &config,
            &std::collections::BTreeMap::from([("address".into(), addr.to_string())]),
        )
        .await?;
    if let Err(e) = client
        .start_provider(host_id, &provider(provider_id, "builtin:http-server", &[]))
        .await
    {
        // Several apps may share one server provider.
        if !e.to_string().contains("already running") {
            return Err(e.into());
        }
    }
    client
        .put_link(&Link {
            name: name.into(),
            ..link(
                provider_id,
                app,
                "wasi:http",
                &["incoming-handler"],
                &[&config],
            )
        })
        .await?;
    weft_tests::net::wait_for_port(addr, Duration::from_secs(20)).await?;
    Ok(addr)
}
