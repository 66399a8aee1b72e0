//! `weft run`: a single-process dev host serving one component over HTTP.

use crate::units::{parse_bytes, parse_duration, parse_pair};
use anyhow::{Context, bail};
use clap::Args;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use weft_capability::builtin::Builtin;
use weft_capability::keyvalue::KeyValue;
use weft_capability::provider::{Capability, redacted};
use weft_host::HostBuilder;
use weft_http_server::{HttpServer, HttpServerConfig, Route, Router};
use weft_lattice_host::Builtins;
use weft_runtime::{ComponentSpec, Limits};

pub const EXAMPLES: &str = "\
Examples:
  weft run target/guests/wasm32-wasip2/debug/http_hello.wasm
  weft run kv_counter.wasm --keyvalue redis://127.0.0.1:6379 --http 127.0.0.1:8080
  weft run app.wasm --config greeting=hi --reuse 1000 --timeout 5s --max-memory 32MiB";

/// Arguments of `weft run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The component to serve: a .wasm file built for wasm32-wasip2 that
    /// exports wasi:http/incoming-handler.
    pub component: PathBuf,

    /// Address to listen on. Loopback by default; use 0.0.0.0:PORT to expose it.
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "ADDR")]
    pub http: SocketAddr,

    /// Backend for wasi:keyvalue: `memory` (lost on exit) or a redis:// URL.
    #[arg(long, default_value = "memory", value_name = "memory|redis://…")]
    pub keyvalue: String,

    /// A wasi:config value for the component, KEY=VALUE; repeatable.
    #[arg(long = "config", value_name = "KEY=VALUE", value_parser = parse_pair)]
    pub config: Vec<(String, String)>,

    /// Reuse each instance for up to N requests (only for components that
    /// allow it: state then survives between requests). Default: a fresh
    /// instance per request.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub reuse: Option<u32>,

    /// Largest memory one instance may use, e.g. 64MiB.
    #[arg(long, default_value = "64MiB", value_name = "BYTES", value_parser = parse_bytes)]
    pub max_memory: u64,

    /// Longest one request may run in the component, e.g. 30s or 500ms.
    #[arg(long, default_value = "30s", value_name = "DURATION", value_parser = parse_duration)]
    pub timeout: Duration,

    /// Requests the component may handle at once; more wait their turn.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_concurrent: Option<u32>,

    /// Largest request body accepted, e.g. 10MiB; larger ones get 413.
    #[arg(long, default_value = "10MiB", value_name = "BYTES", value_parser = parse_bytes)]
    pub max_body: u64,

    /// Where compiled components are cached (default: the user's cache dir).
    #[arg(long, value_name = "DIR", env = "WEFT_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,
}

/// The default compile cache: `$XDG_CACHE_HOME/weft` or `~/.cache/weft`.
pub(crate) fn default_cache_dir() -> Option<PathBuf> {
    Some(user_cache_dir()?.join("compiled"))
}

/// `$XDG_CACHE_HOME/weft` or `~/.cache/weft`: compiled components and
/// pulled blobs live below it.
pub(crate) fn user_cache_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("weft"))
}

/// The builtin keyvalue kind `--keyvalue` names, and its config.
fn keyvalue_kind(spec: &str) -> anyhow::Result<(Builtin, BTreeMap<String, String>)> {
    if spec == "memory" {
        return Ok((Builtin::KeyValueMemory, BTreeMap::new()));
    }
    if spec.starts_with("redis://") || spec.starts_with("rediss://") {
        let config = BTreeMap::from([("url".to_owned(), spec.to_owned())]);
        return Ok((Builtin::KeyValueRedis, config));
    }
    bail!(
        "--keyvalue takes `memory` or a redis:// URL, not `{}`",
        redacted(spec)
    )
}

/// Starts the keyvalue backend `--keyvalue` names, as a host starts the
/// provider kind.
async fn keyvalue_backend(spec: &str) -> anyhow::Result<Arc<dyn KeyValue>> {
    let (kind, config) = keyvalue_kind(spec)?;
    let started = Builtins::default().kind(kind).start(&config).await;
    match started {
        Ok(Capability::KeyValue(kv)) => Ok(kv),
        Ok(other) => bail!("{kind} gave {other:?}, not keyvalue"),
        Err(e) => Err(anyhow::anyhow!(e)).with_context(|| {
            let spec = redacted(spec);
            format!("could not connect to Redis at {spec}; is redis-server running?")
        }),
    }
}

/// Runs `weft run` until Ctrl-C or SIGTERM.
pub async fn run(args: RunArgs) -> anyhow::Result<()> {
    let wasm = std::fs::read(&args.component)
        .with_context(|| format!("could not read {}", args.component.display()))?;
    let keyvalue = keyvalue_backend(&args.keyvalue).await?;

    let mut builder = HostBuilder::new();
    if let Some(dir) = args.cache_dir.clone().or_else(default_cache_dir) {
        builder = builder.with_cache_dir(dir);
    }
    let host = builder.build().context("could not create the host")?;

    let id = args
        .component
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("component")
        .to_owned();
    let spec = ComponentSpec {
        id: id.clone(),
        config: args.config.into_iter().collect(),
        keyvalue: Some(keyvalue),
        limits: Limits {
            max_memory: args.max_memory,
            timeout: args.timeout,
            reuse: args.reuse,
            max_concurrent: args.max_concurrent,
        },
    };
    let component = host
        .start_component(&wasm, spec)
        .await
        .with_context(|| format!("could not start {}", args.component.display()))?;
    if !component.serves_http() {
        anyhow::bail!(
            "{} does not export wasi:http/incoming-handler, and `weft run` serves HTTP only; \
             run messaging components on a lattice (`weft host`, then `weft start component`)",
            args.component.display()
        );
    }

    let router = Arc::new(Router::default());
    router.add(Route::new(id.clone(), component));
    let config = HttpServerConfig {
        address: args.http,
        max_body_bytes: usize::try_from(args.max_body).unwrap_or(usize::MAX),
        ..HttpServerConfig::default()
    };
    let server = HttpServer::bind(config, router).await?;
    let mode = match args.reuse {
        Some(n) => format!("reusing instances up to {n} requests"),
        None => "fresh instance per request".to_owned(),
    };
    eprintln!(
        "Serving {id} on http://{} ({mode}, keyvalue: {}). Press Ctrl-C to stop.",
        server.local_addr(),
        redacted(&args.keyvalue)
    );
    wait_for_shutdown().await;
    eprintln!("Stopping.");
    drop(server);
    Ok(())
}

/// Waits for Ctrl-C or SIGTERM.
pub(crate) async fn wait_for_shutdown() {
    shutdown_signal().await;
}

/// Resolves on Ctrl-C (SIGINT) or SIGTERM. The handlers are in place once
/// this returns, so a signal that arrives before the future is awaited
/// (while a host is still starting) still ends it gracefully.
pub(crate) fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let term = signal(SignalKind::terminate()).ok();
        let int = signal(SignalKind::interrupt()).ok();
        async move {
            match (term, int) {
                (Some(mut t), Some(mut i)) => {
                    tokio::select! {
                        _ = t.recv() => {}
                        _ = i.recv() => {}
                    }
                }
                _ => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
    }
    #[cfg(not(unix))]
    async {
        let _ = tokio::signal::ctrl_c().await;
    }
}
