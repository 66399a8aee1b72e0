//! `weft push` and `weft pull`, and the registry flags they share with
//! `weft host`: credentials, plain-HTTP registries, the blob store.

use crate::lattice::Output;
use crate::units::{parse_bytes, parse_pair};
use anyhow::Context;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use weft_oci::{
    Auth, Credentials, Progress, Puller, PullerConfig, PushRequest, Pusher, docker_config_path,
};

/// Examples shown by `weft push --help` and `weft pull --help`.
pub const EXAMPLES: &str = "\
Examples:
  docker-registry serve config.yml &            # or any OCI registry
  weft push target/wasm32-wasip2/release/app.wasm oci://localhost:5000/app:1.0
  weft push app.wasm oci://ghcr.io/org/app:1.0 --registry-user me --registry-password \"$TOKEN\"
  weft pull oci://localhost:5000/app:1.0          # into the local store; prints the digest
  weft start component oci://localhost:5000/app:1.0 app

Credentials are bound to one registry each and sent to no other: --registry-auth
HOST=USER:PASSWORD or HOST=TOKEN (repeatable; WEFT_REGISTRY_AUTH, space-separated),
`docker login HOST` (~/.docker/config.json), or, for push, pull and inspect, which
name one registry, --registry-user/--registry-password or --registry-token (or
WEFT_REGISTRY_USER, WEFT_REGISTRY_PASSWORD, WEFT_REGISTRY_TOKEN). They go only over
HTTPS (or to a registry on loopback), and a token service on another host gets
nothing. Registries on localhost/127.0.0.1 are spoken to over plain HTTP; others
need --allow-insecure to do so.";

/// Registry flags.
#[derive(Debug, Args, Clone)]
#[command(next_help_heading = "Registry")]
pub struct RegistryArgs {
    /// Credentials for one registry, sent to it alone: `HOST=USER:PASSWORD`
    /// or `HOST=TOKEN` (HOST as references name it, e.g. ghcr.io or
    /// localhost:5000; repeatable; the environment variable takes several,
    /// separated by spaces).
    #[arg(
        long = "registry-auth",
        env = "WEFT_REGISTRY_AUTH",
        value_name = "HOST=CREDENTIALS",
        value_delimiter = ' ',
        hide_env_values = true,
        value_parser = parse_registry_auth
    )]
    pub registry_auth: Vec<(String, Auth)>,

    /// User for the one registry the reference names (push, pull, inspect;
    /// with --registry-password). A host refuses it: use --registry-auth.
    #[arg(
        long,
        env = "WEFT_REGISTRY_USER",
        requires = "registry_password",
        value_name = "USER"
    )]
    pub registry_user: Option<String>,

    /// Password for --registry-user.
    #[arg(
        long,
        env = "WEFT_REGISTRY_PASSWORD",
        requires = "registry_user",
        hide_env_values = true,
        value_name = "PASSWORD"
    )]
    pub registry_password: Option<String>,

    /// A bearer token instead of user and password (the reference's
    /// registry only, like --registry-user).
    #[arg(
        long,
        env = "WEFT_REGISTRY_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub registry_token: Option<String>,

    /// Speak plain HTTP to this registry (`host` or `host:port`; repeatable).
    /// Loopback registries always are.
    #[arg(long = "allow-insecure", value_name = "REGISTRY")]
    pub allow_insecure: Vec<String>,

    /// Where pulled blobs are kept (default: the user's cache dir).
    #[arg(long, env = "WEFT_OCI_DIR", value_name = "DIR")]
    pub oci_dir: Option<PathBuf>,

    /// Largest component accepted from a registry (`64MiB`).
    #[arg(long, default_value = "64MiB", value_name = "BYTES", value_parser = parse_bytes)]
    pub max_component_size: u64,
}

/// Parses `HOST=USER:PASSWORD` or `HOST=TOKEN`.
fn parse_registry_auth(text: &str) -> Result<(String, Auth), String> {
    let (host, secret) = text
        .split_once('=')
        .filter(|(h, s)| !h.is_empty() && !s.is_empty())
        .ok_or("expected HOST=USER:PASSWORD or HOST=TOKEN, e.g. ghcr.io=me:TOKEN")?;
    let host = host
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .trim_end_matches('/');
    if host.contains('/') {
        return Err(format!(
            "`{host}` is not a registry host; name it as references do (ghcr.io, localhost:5000)"
        ));
    }
    let auth = match secret.split_once(':') {
        Some((user, password)) => Auth::Basic {
            user: user.to_owned(),
            password: password.to_owned(),
        },
        None => Auth::Bearer(secret.to_owned()),
    };
    Ok((host.to_owned(), auth))
}

impl RegistryArgs {
    /// The credentials these flags, the env and the Docker config give,
    /// each bound to its registry. `--registry-user/-password/-token` bind
    /// to the registry `reference` names; without one (a host, which pulls
    /// whatever images it is told to) they are refused.
    pub fn credentials(&self, reference: Option<&str>) -> anyhow::Result<Arc<Credentials>> {
        let mut credentials = Credentials::new();
        if let Some(path) = docker_config_path() {
            credentials = credentials.with_docker_config(&path);
        }
        let unbound = Auth::from_parts(
            self.registry_user.clone(),
            self.registry_password.clone(),
            self.registry_token.clone(),
        );
        if unbound != Auth::Anonymous {
            let Some(reference) = reference else {
                return Err(crate::Usage(
                    "--registry-user/--registry-password/--registry-token (or WEFT_REGISTRY_USER, \
                     WEFT_REGISTRY_PASSWORD, WEFT_REGISTRY_TOKEN) name no registry, and a host \
                     would send them to whichever registry an image names; bind them to one: \
                     --registry-auth ghcr.io=USER:PASSWORD (or WEFT_REGISTRY_AUTH), \
                     `docker login ghcr.io`, or registry.put for that host"
                        .into(),
                )
                .into());
            };
            let image = weft_oci::reference::parse(reference)?;
            credentials = credentials.with_registry(image.resolve_registry(), unbound);
        }
        for (registry, auth) in &self.registry_auth {
            credentials = credentials.with_registry(registry.clone(), auth.clone());
        }
        Ok(Arc::new(credentials))
    }

    /// The blob store directory.
    pub fn store_dir(&self) -> anyhow::Result<PathBuf> {
        self.oci_dir
            .clone()
            .or_else(|| crate::run::user_cache_dir().map(|d| d.join("oci")))
            .context("no cache directory: set --oci-dir (or WEFT_OCI_DIR, or HOME)")
    }

    /// A puller with these settings (for `reference`, or for whatever a
    /// host is told to run when `None`).
    pub fn puller(&self, reference: Option<&str>) -> anyhow::Result<Puller> {
        let config = PullerConfig {
            store_dir: self.store_dir()?,
            max_size: self.max_component_size,
            insecure: self.allow_insecure.clone(),
        };
        Ok(Puller::new(config, self.credentials(reference)?))
    }
}

/// `weft push` arguments.
#[derive(Debug, Args)]
pub struct PushArgs {
    /// The component (`.wasm`, built for wasm32-wasip2).
    file: PathBuf,
    /// Where to push it (`oci://registry/repo:tag`).
    reference: String,
    /// A manifest annotation (repeatable), e.g. org.opencontainers.image.source=https://…
    #[arg(long = "annotation", value_name = "KEY=VALUE", value_parser = parse_pair)]
    annotations: Vec<(String, String)>,
    #[command(flatten)]
    registry: RegistryArgs,
    /// How results are printed.
    #[arg(long, short = 'o', value_enum, default_value = "text")]
    output: Output,
}

/// `weft pull` arguments.
#[derive(Debug, Args)]
pub struct PullArgs {
    /// What to pull (`oci://registry/repo:tag` or `…@sha256:…`).
    reference: String,
    #[command(flatten)]
    registry: RegistryArgs,
    /// How results are printed.
    #[arg(long, short = 'o', value_enum, default_value = "text")]
    output: Output,
}

/// Runs `weft push`.
pub async fn push(args: PushArgs) -> anyhow::Result<()> {
    let wasm = tokio::fs::read(&args.file)
        .await
        .with_context(|| format!("could not read {}", args.file.display()))?;
    let pusher = Pusher::new(
        args.registry.allow_insecure.clone(),
        args.registry.credentials(Some(&args.reference))?,
    );
    let annotations: BTreeMap<String, String> = args.annotations.into_iter().collect();
    let pushed = pusher
        .push(PushRequest {
            reference: args.reference.clone(),
            wasm,
            annotations,
        })
        .await
        .with_context(|| format!("pushing {} to {}", args.file.display(), args.reference))?;
    match args.output {
        Output::Text => println!(
            "Pushed {} ({} bytes) to {}\n  manifest  {}\n  component {}",
            args.file.display(),
            pushed.size,
            pushed.reference,
            pushed.manifest_digest,
            pushed.component_digest
        ),
        Output::Json => println!(
            "{}",
            serde_json::json!({
                "success": true, "reference": pushed.reference,
                "manifest_digest": pushed.manifest_digest,
                "component_digest": pushed.component_digest, "size": pushed.size,
            })
        ),
    }
    Ok(())
}

/// Runs `weft pull`.
pub async fn pull(args: PullArgs) -> anyhow::Result<()> {
    let puller = args.registry.puller(Some(&args.reference))?;
    let progress = Bar::new(&args.reference);
    let (resolved, wasm) = puller
        .pull(&args.reference, &progress)
        .await
        .with_context(|| format!("pulling {}", args.reference))?;
    progress.finish();
    match args.output {
        Output::Text => println!(
            "Pulled {} ({} bytes)\n  pinned    {}\n  component {}\n  stored in {}",
            resolved.reference,
            wasm.len(),
            resolved.pinned,
            resolved.component_digest,
            puller
                .store()
                .path(&resolved.component_digest)
                .map_or_else(|| "?".to_owned(), |p| p.display().to_string()),
        ),
        Output::Json => println!(
            "{}",
            serde_json::json!({
                "success": true, "reference": resolved.reference, "pinned": resolved.pinned,
                "manifest_digest": resolved.manifest_digest,
                "component_digest": resolved.component_digest, "size": wasm.len(),
            })
        ),
    }
    Ok(())
}

/// A progress bar that appears only once a download has taken a second.
struct Bar {
    what: String,
    started: Instant,
    bar: OnceLock<ProgressBar>,
}

impl Bar {
    fn new(what: &str) -> Self {
        Self {
            what: what.to_owned(),
            started: Instant::now(),
            bar: OnceLock::new(),
        }
    }

    fn finish(&self) {
        if let Some(bar) = self.bar.get() {
            bar.finish_and_clear();
        }
    }
}

impl Progress for Bar {
    fn update(&self, done: u64, total: u64) {
        if self.started.elapsed() < Duration::from_secs(1) && self.bar.get().is_none() {
            return;
        }
        let bar = self.bar.get_or_init(|| {
            let bar = ProgressBar::new(total);
            if let Ok(style) = ProgressStyle::with_template(
                "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
            ) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.set_message(format!("pulling {}", self.what));
            bar
        });
        bar.set_position(done);
    }
}

/// Awaits `work`; if it takes over a second, shows a spinner saying
/// `message` meanwhile (on a terminal; nothing in logs).
pub async fn with_spinner<T>(message: String, work: impl Future<Output = T>) -> T {
    let mut work = std::pin::pin!(work);
    tokio::select! {
        done = &mut work => return done,
        () = tokio::time::sleep(Duration::from_secs(1)) => {}
    }
    let spinner = ProgressBar::new_spinner();
    spinner.set_message(message);
    spinner.enable_steady_tick(Duration::from_millis(100));
    let done = work.await;
    spinner.finish_and_clear();
    done
}
