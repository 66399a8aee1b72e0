//! `weft host`: a host daemon on a NATS lattice.

use crate::lattice::LatticeArgs;
use crate::oci::RegistryArgs;
use crate::run::default_cache_dir;
use crate::units::{parse_duration, parse_pair};
use anyhow::Context;
use clap::Args;
use serde_json::json;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use weft_capability::messaging::Reserved;
use weft_capability::provider::InMemoryKeyValueKind;
use weft_capability::provider::redacted;
use weft_host::{HostApi, HostBuilder};
use weft_http_client::HttpClientKind;
use weft_http_server::HttpServerKind;
use weft_keyvalue_nats::NatsKeyValueKind;
use weft_keyvalue_redis::RedisKeyValueKind;
use weft_lattice_nats::{Endpoints, Events, LatticeState, NatsRemoteCalls, NatsTap, ctl};
use weft_lattice_protocol::EventName;
use weft_messaging_nats::NatsMessagingKind;

/// Examples shown under `weft host --help`.
pub const EXAMPLES: &str = "\
Examples:
  nats-server -js &                      # a local NATS with JetStream
  weft host                              # join lattice `default` on nats://127.0.0.1:4222
  weft host --lattice prod --label zone=eu --label gpu=true
  weft host --nats tls://nats.example.com:4222 --nats-creds ~/.nats/weft.creds
  weft host --nats tls://10.0.0.1:4222 --nats-ca ca.pem     # a CA of your own
  weft host --nats nats://10.0.0.1:4222,nats://10.0.0.2:4222 --js-replicas 3
                                         # a JetStream cluster (deploy/nats)
  weft host --nats nats://edge:4222 --js-domain hub   # on a leaf node
  weft host --metrics 127.0.0.1:9090     # Prometheus metrics at /metrics
  weft host --otlp http://127.0.0.1:4318 # spans to an OpenTelemetry collector
  weft host --allow-registry ghcr.io --require-digest   # only pinned images from ghcr.io

The host answers wasmCloud's wasmbus.ctl.v1 control protocol, so `wash get hosts`
and `wash get inventory` work against it. Ctrl-C or SIGTERM stops it gracefully:
listeners close, calls in flight finish (up to --drain), `host_stopped` goes out.";

/// `weft host` arguments.
#[derive(Debug, Args)]
pub struct HostArgs {
    #[command(flatten)]
    pub lattice: LatticeArgs,

    /// A label for auctions to match (repeatable).
    #[arg(long = "label", value_name = "KEY=VALUE", value_parser = parse_pair)]
    pub labels: Vec<(String, String)>,

    /// How often to publish `host_heartbeat` with the inventory. A host
    /// that misses three is declared gone and its apps' components move.
    #[arg(long, default_value = "1s", value_name = "DURATION", value_parser = parse_duration)]
    pub heartbeat: Duration,

    /// A readable name for the host (default: generated).
    #[arg(long, value_name = "NAME")]
    pub friendly_name: Option<String>,

    /// Where compiled components are cached (default: the user's cache dir).
    #[arg(long, value_name = "DIR", env = "WEFT_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,

    /// On SIGTERM, Ctrl-C or `host.stop`: how long invocations in flight may
    /// take to finish before the host exits anyway (`host.stop` may say).
    #[arg(long, default_value = "10s", value_name = "DURATION", value_parser = parse_duration)]
    pub drain: Duration,

    /// Let `weft start component file:///…` run local files on this host
    /// (off by default: anyone on the lattice could make it read them).
    #[arg(long, alias = "allow-file-refs")]
    pub allow_file_load: bool,

    /// Serve Prometheus metrics at http://ADDR/metrics: invocations, errors
    /// and latency per component and per link, the instance pool, OCI
    /// pulls and compile-cache hits (e.g. 127.0.0.1:9090; off by default).
    #[arg(long, value_name = "ADDR")]
    pub metrics: Option<std::net::SocketAddr>,

    /// Export invocation spans to an OpenTelemetry collector over OTLP/HTTP
    /// (JSON), e.g. http://127.0.0.1:4318 (`/v1/traces` is added). Spans
    /// are dropped, never waited for, when the collector is slow or down.
    #[arg(long, value_name = "URL", env = "OTEL_EXPORTER_OTLP_ENDPOINT")]
    pub otlp: Option<String>,

    /// Run OCI images only from this registry (`host[:port]` as in the
    /// reference; repeatable). Without it, any registry.
    #[arg(long = "allow-registry", value_name = "HOST")]
    pub allow_registries: Vec<String>,

    /// Run OCI images only by digest (`oci://…@sha256:…`), never by tag, so
    /// a moved tag cannot change what runs.
    #[arg(long)]
    pub require_digest: bool,

    /// Never take the reconciler's lease: this host runs what it is told
    /// but does not drive app manifests (it still serves the app API).
    #[arg(long)]
    pub no_reconciler: bool,

    /// Where `builtin:messaging-nats` connects unless its config says
    /// `url`: the NATS account of the apps' messaging, kept apart from the
    /// lattice's (e.g. nats://apps:PASSWORD@127.0.0.1:4222; `weft up` sets
    /// it). Default: the lattice's server, one account (the provider still
    /// refuses the lattice's subjects; docs/security.md).
    #[arg(
        long,
        env = "WEFT_APPS_NATS_URL",
        value_name = "URL",
        hide_env_values = true
    )]
    pub apps_nats: Option<String>,

    #[command(flatten)]
    pub registry: RegistryArgs,
}

/// Runs the host until Ctrl-C, SIGTERM or a `host.stop` request.
pub async fn host(args: HostArgs) -> anyhow::Result<()> {
    // Signals are caught from the start: a SIGTERM while the host is still
    // joining stops it gracefully once it has joined.
    let shutdown = crate::run::shutdown_signal();
    let lattice = &args.lattice;
    let subjects = lattice.subjects()?;
    // Components' messaging never reaches the lattice's subjects, a custom
    // control prefix included.
    let reserved = Reserved::default().with_prefix(&lattice.ctl_prefix);
    let mut builder = HostBuilder::new()
        .with_reserved_subjects(reserved.clone())
        .with_file_refs(args.allow_file_load)
        .with_allowed_registries(args.allow_registries.clone())
        .with_digests_required(args.require_digest)
        .with_oci(Arc::new(args.registry.puller(None)?))
        .with_provider_kind("builtin:keyvalue-memory", Arc::new(InMemoryKeyValueKind))
        .with_provider_kind("builtin:keyvalue-redis", Arc::new(RedisKeyValueKind))
        .with_provider_kind("builtin:keyvalue-nats", Arc::new(NatsKeyValueKind))
        .with_provider_kind("builtin:http-server", Arc::new(HttpServerKind))
        .with_provider_kind("builtin:http-client", Arc::new(HttpClientKind))
        // Without a `url` in its config, messaging uses the apps' account
        // (--apps-nats), else the lattice's NATS server anonymously.
        .with_provider_kind(
            "builtin:messaging-nats",
            Arc::new(
                NatsMessagingKind::new(Some(
                    args.apps_nats
                        .clone()
                        .unwrap_or_else(|| lattice.nats.clone()),
                ))
                .with_reserved(reserved),
            ),
        );
    if let Some(dir) = args.cache_dir.clone().or_else(default_cache_dir) {
        builder = builder.with_cache_dir(dir);
    }
    if let Some(name) = &args.friendly_name {
        builder = builder.with_friendly_name(name);
    }
    for (k, v) in &args.labels {
        builder = builder
            .with_label(k, v)
            .with_context(|| format!("--label {k}={v}"))?;
    }
    // Bad flags are reported before anything connects.
    let client = lattice.connect("weft-host").await?;
    // Links to components on other hosts call them over the lattice.
    let remote = NatsRemoteCalls::new(client.clone(), subjects.clone());
    let tap = NatsTap::new(client.clone(), subjects.clone());
    let host = Arc::new(
        builder
            .with_remote_calls(Arc::new(remote))
            .with_message_tap(Arc::new(tap))
            .build()?,
    );
    let metrics = match args.metrics {
        Some(addr) => {
            let (bound, task) = crate::metrics::serve(addr, host.clone()).await?;
            println!("Metrics at http://{bound}/metrics");
            Some(task)
        }
        None => None,
    };
    let events = Events::new(client.clone(), subjects.clone(), host.id());
    let endpoints = Endpoints {
        lattice: lattice.lattice.clone(),
        ctl_host: redacted(&lattice.nats),
        rpc_host: redacted(&lattice.nats),
    };
    let placement = lattice.placement();
    let state = LatticeState::open_in(client.clone(), &lattice.lattice, &placement)
        .await
        .context(
            "could not open the lattice state in JetStream; is nats-server running with -js (on a leaf node: is --js-domain the hub's domain)?",
        )?;
    let server = ctl::serve(
        client.clone(),
        subjects.clone(),
        host.clone(),
        endpoints,
        events.clone(),
        state,
    )
    .await?;
    let info = host.info();
    // Apps: every host serves the wadm API; one at a time reconciles.
    let apps = weft_apps::server::ApiServer::start(client.clone(), &lattice.lattice, &placement)
        .await
        .map_err(|e| anyhow::anyhow!("could not serve the app API: {e}"))?;
    let reconciler = if args.no_reconciler {
        None
    } else {
        Some(
            weft_apps::reconciler::Reconciler::start(
                client.clone(),
                subjects.clone(),
                &info.id,
                &placement,
            )
            .await
            .map_err(|e| anyhow::anyhow!("could not start the reconciler: {e}"))?,
        )
    };
    events
        .publish(
            EventName::HostStarted,
            &json!({
                "labels": info.labels,
                "friendly_name": info.friendly_name,
                "version": info.version,
                "uptime_seconds": 0,
            }),
        )
        .await;
    let heartbeat = events.heartbeat(host.clone(), args.heartbeat);
    println!(
        "Host {} ({}) joined lattice `{}` on {}. Press Ctrl-C to stop.",
        info.id,
        info.friendly_name,
        lattice.lattice,
        redacted(&lattice.nats)
    );

    let (reason, drain) = tokio::select! {
        () = shutdown => ("signal", None),
        drain = host.stop_requested() => ("host.stop request", drain),
    };
    let drain = drain.unwrap_or(args.drain);
    tracing::info!("stopping ({reason}); draining for up to {drain:?}");
    // Hand the reconciler's lease over first, stop taking new work, let
    // what runs finish, then say goodbye.
    if let Some(r) = reconciler {
        r.stop().await;
    }
    apps.stop();
    drop(server);
    heartbeat.abort();
    if let Some(task) = metrics {
        task.abort();
    }
    let unfinished = host.drain(drain).await;
    if unfinished > 0 {
        tracing::warn!(
            "{unfinished} invocations were still running after {drain:?}; stopping anyway"
        );
    }
    events
        .publish(
            EventName::HostStopped,
            &json!({ "labels": host.info().labels, "reason": reason }),
        )
        .await;
    // With NATS gone the last event cannot be delivered; do not wait for ever.
    match tokio::time::timeout(Duration::from_secs(2), client.flush()).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::warn!("could not flush the last events to NATS: {e}"),
        Err(_) => tracing::warn!("NATS did not take the last events within 2 s"),
    }
    println!("Host {} stopped.", info.id);
    Ok(())
}
