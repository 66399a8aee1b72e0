//! `weft host`: a host daemon on a NATS lattice.

use crate::lattice::{AppsNatsArgs, LatticeArgs};
use crate::oci::RegistryArgs;
use crate::run::default_cache_dir;
use crate::units::{parse_duration, parse_pair};
use anyhow::Context;
use clap::Args;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use weft_capability::provider::redacted;
use weft_host::{HostApi, HostBuilder};
use weft_lattice_host::{LatticeHost, LatticeHostConfig};

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

    #[command(flatten)]
    pub apps: AppsNatsArgs,

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
    let mut builder = HostBuilder::new()
        .with_file_refs(args.allow_file_load)
        .with_allowed_registries(args.allow_registries.clone())
        .with_digests_required(args.require_digest)
        .with_oci(Arc::new(args.registry.puller(None)?));
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
    let nats = lattice.connect("weft-host").await?;
    let config = LatticeHostConfig {
        placement: lattice.placement(),
        apps_nats: args.apps.apps_nats.clone(),
        heartbeat: args.heartbeat,
        reconciler: !args.no_reconciler,
        host: builder,
        ..LatticeHostConfig::new(nats, lattice.nats.clone(), subjects)
    };
    let host = LatticeHost::start(config).await?;
    let metrics = match args.metrics {
        Some(addr) => match crate::metrics::serve(addr, host.host().clone()).await {
            Ok((bound, task)) => {
                println!("Metrics at http://{bound}/metrics");
                Some(task)
            }
            Err(e) => {
                // It joined already: leave the lattice properly (goodbye,
                // the reconciler's lease handed over) before failing.
                host.stop("could not serve --metrics", Duration::ZERO).await;
                return Err(e);
            }
        },
        None => None,
    };
    let info = host.host().info();
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
    if let Some(task) = metrics {
        task.abort();
    }
    host.stop(reason, drain).await;
    println!("Host {} stopped.", info.id);
    Ok(())
}
