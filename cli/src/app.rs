//! `weft app`: app manifests (wadm's format) on the lattice — put,
//! deploy, watch, undeploy, delete — through the app API every host serves.

use crate::ctl::print;
use crate::lattice::{LatticeArgs, Output};
use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use weft_apps::api::{
    DeleteResult, DeployResult, GetResult, PutResult, Status, StatusResult, StatusType,
};
use weft_apps::client::{AppClient, Stored};
use weft_apps::manifest::{Manifest, parse, to_yaml};
use weft_apps::validate::validate;

/// Examples shown under `weft app --help`.
pub const EXAMPLES: &str = "\
Examples:
  weft app validate examples/kv-counter/app.yaml
  weft app deploy examples/kv-counter/app.yaml --wait 30s   # put, deploy, wait for Deployed
  weft app status kv-counter --watch                        # follow it live (Ctrl-C ends)
  weft app list
  weft app put app.yaml && weft app deploy my-app v2        # deploy a stored version
  weft app get my-app v1 -o json
  weft app versions my-app
  weft app undeploy my-app                                  # stops what it started, nothing else
  weft app delete my-app                                    # every version (undeploys first)

Manifests are wadm's (core.oam.dev/v1beta1 Application); wadm's clients work too. Images
`file://./x.wasm` or `./x.wasm` are relative to the manifest's directory (hosts need
--allow-file-load); `oci://…` and registry references come from registries. Capability
images are builtin providers (`builtin:keyvalue-redis`, …); wasmCloud's provider images
for http-server, http-client, keyvalue-redis, keyvalue-nats and messaging-nats map to them.";

/// `weft app …`
#[derive(Debug, Args)]
pub struct AppArgs {
    #[command(subcommand)]
    cmd: AppCmd,
    #[command(flatten)]
    lattice: LatticeArgs,
}

#[derive(Debug, Subcommand)]
enum AppCmd {
    /// Store a manifest as a new version (not deployed yet).
    Put {
        /// The manifest (YAML or JSON); `-` reads standard input.
        file: PathBuf,
        /// Resolve relative `file://` images against DIR (default: the
        /// manifest's directory; for standard input, the current one).
        #[arg(long, value_name = "DIR")]
        relative_to: Option<PathBuf>,
    },
    /// Deploy a stored app (NAME) or a manifest file (put first).
    Deploy {
        /// The app's name, or a manifest file (`-`: standard input).
        app: String,
        /// The version (default: the latest; for a file, its own).
        version: Option<String>,
        /// Wait up to DURATION for the app to report Deployed (fails if it
        /// reports Failed or time runs out).
        #[arg(long, value_name = "DURATION", value_parser = crate::units::parse_duration)]
        wait: Option<Duration>,
        /// Resolve relative `file://` images against DIR.
        #[arg(long, value_name = "DIR")]
        relative_to: Option<PathBuf>,
    },
    /// Undeploy an app: everything it started stops; the manifest stays.
    Undeploy {
        /// The app.
        name: String,
    },
    /// List the apps with their deployed version and status.
    List,
    /// Print an app's manifest (default: the latest version).
    Get {
        /// The app.
        name: String,
        /// The version.
        version: Option<String>,
    },
    /// List an app's versions, oldest first.
    Versions {
        /// The app.
        name: String,
    },
    /// Show an app's status and each part's.
    Status {
        /// The app.
        name: String,
        /// Keep printing each change until Ctrl-C.
        #[arg(long)]
        watch: bool,
    },
    /// Delete a version of an app, or all of it (undeploying it).
    Delete {
        /// The app.
        name: String,
        /// Only this version.
        version: Option<String>,
    },
    /// Check a manifest here, without a lattice; prints every problem.
    Validate {
        /// The manifest; `-` reads standard input.
        file: PathBuf,
    },
}

/// Reads a manifest file, parses and validates it, and resolves relative
/// `file://` images.
fn load(file: &Path, relative_to: Option<&Path>) -> anyhow::Result<Manifest> {
    let (text, base) = if file == Path::new("-") {
        let text = std::io::read_to_string(std::io::stdin())
            .context("could not read the manifest from standard input")?;
        (
            text,
            std::env::current_dir().context("no current directory")?,
        )
    } else {
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("could not read {}", file.display()))?;
        let dir = file
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        (text, dir.to_path_buf())
    };
    let base = relative_to.map_or(base, Path::to_path_buf);
    let mut manifest = parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    if let Err(errors) = validate(&manifest) {
        let list: Vec<String> = errors.iter().map(|e| format!("  {e}")).collect();
        bail!(
            "{} is not a valid manifest:\n{}",
            file.display(),
            list.join("\n")
        );
    }
    for c in &mut manifest.spec.components {
        if let Some(image) = &mut c.properties.image
            && let Some(resolved) = resolve_file(image, &base)?
        {
            *image = resolved;
        }
    }
    Ok(manifest)
}

/// `file://./x`, `file://../x`, `./x` and `../x` as `file:///abs/x`;
/// `None` for anything else.
fn resolve_file(image: &str, base: &Path) -> anyhow::Result<Option<String>> {
    let path = image.strip_prefix("file://").unwrap_or(image);
    if !(path.starts_with("./") || path.starts_with("../")) {
        return Ok(None);
    }
    let full = base.join(path);
    let full = full
        .canonicalize()
        .with_context(|| format!("image {image}: {} does not exist", full.display()))?;
    Ok(Some(format!("file://{}", full.display())))
}

fn looks_like_file(arg: &str) -> bool {
    arg == "-"
        || [".yaml", ".yml", ".json"].iter().any(|e| arg.ends_with(e))
        || Path::new(arg).is_file()
}

/// Runs `weft app …`.
pub async fn app(args: AppArgs) -> anyhow::Result<()> {
    let out = args.lattice.output;
    if let AppCmd::Validate { file } = &args.cmd {
        let manifest = load(file, None)?;
        return print(
            out,
            &serde_json::json!({"valid": true, "name": manifest.name()}),
            || {
                format!(
                    "{} is a valid manifest for app `{}`.",
                    file.display(),
                    manifest.name()
                )
            },
        );
    }
    let nats = args.lattice.connect("weft").await?;
    let client = AppClient::new(nats, &args.lattice.lattice)
        .with_timeout(args.lattice.timeout.max(Duration::from_secs(5)));
    match args.cmd {
        AppCmd::Validate { .. } => Ok(()),
        AppCmd::Put { file, relative_to } => {
            let manifest = load(&file, relative_to.as_deref())?;
            let body = serde_json::to_string(&manifest)?;
            let r = client.put(&body).await?;
            if r.result == PutResult::Error {
                bail!("{}", r.message);
            }
            print(out, &r, || {
                format!(
                    "Stored app `{}` version {} ({} version(s)). Deploy it with `weft app deploy {} {}`.",
                    r.name, r.current_version, r.total_versions, r.name, r.current_version
                )
            })
        }
        AppCmd::Deploy {
            app,
            version,
            wait,
            relative_to,
        } => {
            let (name, version) = if looks_like_file(&app) {
                let manifest = load(Path::new(&app), relative_to.as_deref())?;
                let name = manifest.name().to_owned();
                let stored = match client.put_or_same(&manifest).await? {
                    Stored::Version(v) => v,
                    Stored::Refused(why) => bail!("{why}"),
                };
                (name, Some(version.unwrap_or(stored)))
            } else {
                (app, version)
            };
            let r = client.deploy(&name, version.as_deref()).await?;
            match r.result {
                DeployResult::Acknowledged => {}
                DeployResult::NotFound => bail!("{}", r.message),
                DeployResult::Error => bail!("{}", r.message),
            }
            let deployed = r.version.clone().unwrap_or_default();
            if let Some(limit) = wait {
                let status = wait_deployed(&client, &name, &deployed, limit).await?;
                return print(out, &status, || {
                    format!(
                        "App `{name}` version {deployed} is deployed.\n{}",
                        status_text(&status)
                    )
                });
            }
            print(out, &r, || {
                format!(
                    "Deploying app `{name}` version {deployed}. Follow it with `weft app status {name} --watch`."
                )
            })
        }
        AppCmd::Undeploy { name } => {
            let r = client.undeploy(&name).await?;
            if r.result != DeployResult::Acknowledged {
                bail!("{}", r.message);
            }
            print(out, &r, || {
                format!("{}. What it started is being stopped.", r.message)
            })
        }
        AppCmd::List => {
            let r = client.list().await?;
            if r.result == GetResult::Error {
                bail!("{}", r.message);
            }
            print(out, &r.models, || {
                if r.models.is_empty() {
                    return "No apps. Store one with `weft app put FILE` or `weft app deploy FILE`.".into();
                }
                let mut t = format!(
                    "{:<24}  {:<28}  {:<28}  STATUS\n",
                    "NAME", "LATEST", "DEPLOYED"
                );
                for m in &r.models {
                    t += &format!(
                        "{:<24}  {:<28}  {:<28}  {}\n",
                        m.name,
                        m.version,
                        m.deployed_version.as_deref().unwrap_or("-"),
                        one_line(&m.detailed_status)
                    );
                }
                t
            })
        }
        AppCmd::Get { name, version } => {
            let r = client.get(&name, version.as_deref()).await?;
            let Some(manifest) = r.manifest.filter(|_| r.result == GetResult::Success) else {
                bail!("{}", r.message);
            };
            print(out, &manifest, || to_yaml(&manifest))
        }
        AppCmd::Versions { name } => {
            let r = client.versions(&name).await?;
            if r.result != GetResult::Success {
                bail!("{}", r.message);
            }
            print(out, &r.versions, || {
                let mut t = format!("{:<28}  DEPLOYED\n", "VERSION");
                for v in &r.versions {
                    t += &format!(
                        "{:<28}  {}\n",
                        v.version,
                        if v.deployed { "yes" } else { "" }
                    );
                }
                t
            })
        }
        AppCmd::Status { name, watch } => {
            let mut last: Option<Status> = None;
            loop {
                let r = client.status(&name).await?;
                let Some(status) = r.status.filter(|_| r.result == StatusResult::Ok) else {
                    bail!("{}", r.message);
                };
                if last.as_ref() != Some(&status) {
                    if watch && out == Output::Text {
                        println!(
                            "{}  {}",
                            chrono::Local::now().format("%H:%M:%S%.3f"),
                            status_text(&status)
                        );
                    } else if watch {
                        println!("{}", serde_json::to_string(&status)?);
                    } else {
                        return print(out, &status, || status_text(&status));
                    }
                    last = Some(status);
                }
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_millis(250)) => {}
                    _ = tokio::signal::ctrl_c() => return Ok(()),
                }
            }
        }
        AppCmd::Delete { name, version } => {
            let r = client.delete(&name, version.as_deref()).await?;
            match r.result {
                DeleteResult::Deleted => print(out, &r, || {
                    let undeployed = if r.undeploy {
                        " It was deployed: what it started is being stopped."
                    } else {
                        ""
                    };
                    format!("{}.{undeployed}", r.message)
                }),
                DeleteResult::Noop => bail!("{}", r.message),
                DeleteResult::Error => bail!("{}", r.message),
            }
        }
    }
}

/// Polls until version `version` reports Deployed; fails on Failed or at
/// the time limit, with the last status.
async fn wait_deployed(
    client: &AppClient,
    name: &str,
    version: &str,
    limit: Duration,
) -> anyhow::Result<Status> {
    let start = Instant::now();
    let mut last = None;
    while start.elapsed() < limit {
        let r = client.status(name).await?;
        if let Some(s) = r.status {
            if s.version == version {
                match s.status.kind {
                    StatusType::Deployed => return Ok(s),
                    // A failure may clear up (a retried command); give it a moment.
                    StatusType::Failed
                        if start.elapsed() > Duration::from_secs(10).min(limit / 2) =>
                    {
                        bail!("app `{name}` failed: {}", s.status.message)
                    }
                    _ => {}
                }
            }
            last = Some(s);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let why = last.map_or_else(|| "no status yet".to_owned(), |s| status_text(&s));
    bail!("app `{name}` was not deployed within {limit:?}:\n{why}")
}

fn kind(k: StatusType) -> &'static str {
    match k {
        StatusType::Deployed => "Deployed",
        StatusType::Unhealthy => "Unhealthy",
        StatusType::Reconciling => "Reconciling",
        StatusType::Waiting => "Waiting",
        StatusType::Undeployed => "Undeployed",
        StatusType::Failed => "Failed",
    }
}

fn one_line(s: &Status) -> String {
    one_line_info(&s.status)
}

fn status_text(s: &Status) -> String {
    let mut t = one_line(s);
    if !s.version.is_empty() {
        t += &format!("  [version {}]", s.version);
    }
    // Names as wide as the widest, so the statuses line up.
    let width = s
        .scalers
        .iter()
        .map(|p| p.name.chars().count())
        .max()
        .unwrap_or(0);
    for part in &s.scalers {
        t += &format!(
            "\n    {:<12} {:<width$}  {}",
            part.kind,
            part.name,
            one_line_info(&part.status)
        );
    }
    t
}

fn one_line_info(s: &weft_apps::api::StatusInfo) -> String {
    if s.message.is_empty() {
        kind(s.kind).to_owned()
    } else {
        format!("{} ({})", kind(s.kind), s.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_images_resolve_against_the_manifest_dir() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("c.wasm"), b"").unwrap();
        let abs = dir.path().canonicalize().unwrap().join("c.wasm");
        let want = Some(format!("file://{}", abs.display()));
        assert_eq!(resolve_file("file://./c.wasm", dir.path()).unwrap(), want);
        assert_eq!(resolve_file("./c.wasm", dir.path()).unwrap(), want);
        assert_eq!(resolve_file("oci://r/x:1", dir.path()).unwrap(), None);
        assert_eq!(resolve_file("file:///abs.wasm", dir.path()).unwrap(), None);
        let err = resolve_file("./missing.wasm", dir.path())
            .unwrap_err()
            .to_string();
        assert!(err.contains("does not exist"), "{err}");
    }
}
