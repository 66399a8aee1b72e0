//! `weft up` and `weft down`: a lattice of one on this machine. `up` starts
//! a local nats-server when none answers at the URL (JetStream, loopback
//! only, data under the user's state dir) and runs a host in the same
//! process; `--detached` does so in the background with a pid file and a
//! log. `down` stops what `up` started, and only that.
//!
//! The nats-server `up` starts has two accounts with nothing exported
//! between them: `WEFT`, the lattice's (control, events, JetStream; what
//! clients without credentials get, so `weft` and `wash` work as before),
//! and `APPS`, where components' messaging runs (`builtin:messaging-nats`
//! connects there; its URL, password included, is kept in the state dir
//! for `weft msg`). Components' messaging then cannot reach a lattice
//! subject through NATS at all, refusals aside (a provider whose own config
//! names this server's URL without credentials lands in the lattice's
//! account: whoever writes provider configs is a lattice peer).

use crate::host::{HostArgs, host};
use anyhow::Context;
use clap::Args;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

/// Examples shown by `weft up --help` and `weft down --help`.
pub const EXAMPLES: &str = "\
Examples:
  weft up                                  # NATS (started if none runs) and a host, until Ctrl-C
  weft up --detached                       # the same in the background; logs in ~/.local/state/weft/up.log
  weft up --detached --allow-file-load     # the host may run file:///… components (local development)
  weft up --nats nats://127.0.0.1:4333 --lattice dev --label zone=home
  weft down                                # stops what `weft up` started

`weft up` reuses a NATS server that answers at --nats; otherwise it starts
nats-server (Debian package nats-server) on that loopback port with
JetStream, keeping its data in ~/.local/state/weft/nats.";

/// `weft up` arguments.
#[derive(Debug, Args)]
pub struct UpArgs {
    /// Run in the background: return once the host answers, leave a pid
    /// file and a log; `weft down` stops it.
    #[arg(long)]
    detached: bool,
    /// Also serve the web dashboard on ADDR (e.g. 127.0.0.1:3030; anything
    /// but loopback prints a token it requires).
    #[arg(long, value_name = "ADDR")]
    dashboard: Option<std::net::SocketAddr>,
    /// The token the dashboard's API wants, also on loopback (at least 32
    /// characters off loopback; see `weft ui --help`).
    #[arg(
        long,
        env = "WEFT_UI_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true
    )]
    dashboard_token: Option<String>,
    #[command(flatten)]
    host: HostArgs,
}

/// `weft down` arguments.
#[derive(Debug, Args)]
pub struct DownArgs {
    /// How long to wait for a graceful stop before killing.
    #[arg(long, default_value = "20s", value_parser = crate::units::parse_duration)]
    timeout: Duration,
}

/// What `weft up` left behind for `weft down` (and a second `weft up`).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Running {
    pid: u32,
    nats_pid: Option<u32>,
    nats: String,
    lattice: String,
    log: Option<PathBuf>,
}

/// `$XDG_STATE_HOME/weft` or `~/.local/state/weft`.
fn state_dir() -> anyhow::Result<PathBuf> {
    std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local").join("state")))
        .map(|d| d.join("weft"))
        .context("no state directory: set HOME or XDG_STATE_HOME")
}

fn pid_file() -> anyhow::Result<PathBuf> {
    Ok(state_dir()?.join("up.json"))
}

/// Whether process `pid` runs (a zombie, exited but not yet reaped, does not).
fn alive(pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(Path::new("/proc").join(pid.to_string()).join("stat"))
    else {
        return false;
    };
    // `pid (comm) S …`: the state follows the last `)`.
    stat.rsplit_once(')')
        .and_then(|(_, rest)| rest.trim_start().chars().next())
        .is_some_and(|state| state != 'Z' && state != 'X')
}

fn read_running() -> anyhow::Result<Option<Running>> {
    let path = pid_file()?;
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(None);
    };
    match serde_json::from_str::<Running>(&text) {
        Ok(running) if alive(running.pid) => Ok(Some(running)),
        // Left by an `up` that is gone: forget it.
        _ => {
            let _ = std::fs::remove_file(&path);
            Ok(None)
        }
    }
}

fn report_running(running: &Running) {
    println!(
        "Weft is already up: pid {}, lattice `{}` on {}{}. `weft down` stops it.",
        running.pid,
        running.lattice,
        running.nats,
        running
            .log
            .as_ref()
            .map(|l| format!(", log {}", l.display()))
            .unwrap_or_default()
    );
}

/// The loopback port of a `nats://127.0.0.1:PORT` or `nats://localhost:PORT` URL.
fn loopback_port(url: &str) -> Option<u16> {
    let rest = url.strip_prefix("nats://")?;
    let (host, port) = rest.rsplit_once(':').unwrap_or((rest, "4222"));
    matches!(host, "127.0.0.1" | "localhost").then(|| port.parse().ok())?
}

async fn nats_answers(url: &str) -> bool {
    tokio::time::timeout(Duration::from_secs(1), async_nats::connect(url))
        .await
        .is_ok_and(|c| c.is_ok())
}

/// Where `weft up` keeps the URL of its nats-server's apps account (with
/// the account's password; readable by the user only).
fn apps_file() -> anyhow::Result<PathBuf> {
    Ok(state_dir()?.join("apps-nats"))
}

/// The URL of the apps' account of the nats-server a running `weft up`
/// started at `nats`, if one did: where components' messaging is.
pub fn apps_url(nats: &str) -> Option<String> {
    let running = read_running().ok()??;
    if running.nats != nats {
        return None;
    }
    let url = std::fs::read_to_string(apps_file().ok()?).ok()?;
    Some(url.trim().to_owned()).filter(|u| !u.is_empty())
}

/// Writes `text` to `path`, readable and writable by the user only.
fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    file.write_all(text.as_bytes())
        .with_context(|| format!("writing {}", path.display()))
}

/// The nats-server config of `weft up`: loopback `port`, JetStream in
/// `store`, the lattice's account (anonymous clients land there) and the
/// apps' account, nothing shared between them.
fn nats_config(port: u16, store: &Path, lattice_password: &str, apps_password: &str) -> String {
    let store = serde_json::to_string(&store.display().to_string()).unwrap_or_default();
    format!(
        "# Written by `weft up`; changed on every start.\n\
         listen: 127.0.0.1:{port}\n\
         jetstream {{ store_dir: {store} }}\n\
         accounts {{\n  \
           WEFT: {{ jetstream: enabled, users: [ {{ user: weft, password: \"{lattice_password}\" }} ] }}\n  \
           APPS: {{ users: [ {{ user: apps, password: \"{apps_password}\" }} ] }}\n\
         }}\n\
         no_auth_user: weft\n"
    )
}

/// Starts nats-server with JetStream on `port` (loopback), data in `dir`,
/// with the lattice's and the apps' accounts; returns it and the apps'
/// URL.
async fn start_nats(port: u16, dir: &Path) -> anyhow::Result<(tokio::process::Child, String)> {
    let binary = [
        "nats-server",
        "/usr/sbin/nats-server",
        "/usr/bin/nats-server",
    ]
    .into_iter()
    .find(|b| {
        std::process::Command::new(b)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok()
    })
    .context(
        "no NATS server answers and nats-server is not installed: install the Debian package \
             nats-server (sudo apt-get install nats-server), or point --nats at a running server",
    )?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let store = dir.join("jetstream");
    // The lattice's state of a `weft up` from before the two accounts was
    // in the server's global account: it moves to the lattice's.
    let (global, lattice) = (store.join("jetstream/$G"), store.join("jetstream/WEFT"));
    if global.is_dir() && !lattice.exists() {
        std::fs::rename(&global, &lattice)
            .with_context(|| format!("moving {} to {}", global.display(), lattice.display()))?;
    }
    let secret = || uuid::Uuid::new_v4().simple().to_string();
    let apps_password = secret();
    let config = dir.join("nats.conf");
    write_private(
        &config,
        &nats_config(port, &store, &secret(), &apps_password),
    )?;
    let apps = format!("nats://apps:{apps_password}@127.0.0.1:{port}");
    let log = std::fs::File::create(dir.join("nats-server.log"))?;
    let child = tokio::process::Command::new(binary)
        .arg("-c")
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .context("could not start nats-server")?;
    let deadline = Instant::now() + Duration::from_secs(10);
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        anyhow::ensure!(
            Instant::now() < deadline,
            "nats-server did not listen on 127.0.0.1:{port} within 10 s; see {}",
            dir.join("nats-server.log").display()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok((child, apps))
}

/// Runs `weft up`.
pub async fn up(mut args: UpArgs) -> anyhow::Result<()> {
    if let Some(addr) = args.dashboard {
        let token = args.dashboard_token.as_deref().filter(|t| !t.is_empty());
        crate::ui::guard::check_token_strength(addr, token).map_err(crate::Usage)?;
    }
    if let Some(running) = read_running()? {
        report_running(&running);
        return Ok(());
    }
    if args.detached {
        return detach(&args).await;
    }
    let url = args.host.lattice.nats.clone();
    let mut nats = None;
    if !nats_answers(&url).await {
        let Some(port) = loopback_port(&url) else {
            anyhow::bail!(
                "no NATS server answers at {url}; `weft up` starts one only on a loopback address (nats://127.0.0.1:PORT)"
            );
        };
        eprintln!(
            "Starting nats-server on 127.0.0.1:{port} (JetStream; the lattice and the apps' \
             messaging in accounts of their own)…"
        );
        let (child, apps) = start_nats(port, &state_dir()?.join("nats")).await?;
        nats = Some(child);
        let file = apps_file()?;
        write_private(&file, &apps)?;
        eprintln!(
            "Components' messaging runs in the account APPS; its URL is in {} (weft msg uses it).",
            file.display()
        );
        args.host.apps.apps_nats.get_or_insert(apps);
    }
    let running = Running {
        pid: std::process::id(),
        nats_pid: nats.as_ref().and_then(tokio::process::Child::id),
        nats: url,
        lattice: args.host.lattice.lattice.clone(),
        log: std::env::var_os("WEFT_UP_LOG").map(PathBuf::from),
    };
    let path = pid_file()?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(&path, serde_json::to_vec(&running)?)
        .with_context(|| format!("writing {}", path.display()))?;
    let dashboard = match args.dashboard {
        Some(addr) => {
            let nats = args.host.lattice.connect("weft-ui").await?;
            let d = crate::ui::start(
                nats,
                args.host.lattice.subjects()?,
                addr,
                args.dashboard_token.clone(),
                args.host.lattice.placement(),
            )
            .await?;
            eprintln!("Dashboard: {}", d.url());
            Some(d)
        }
        None => None,
    };
    let result = host(args.host).await;
    if let Some(d) = dashboard {
        d.task.abort();
    }
    if let Some(mut nats) = nats {
        stop_pid(nats.id(), Duration::from_secs(5)).await;
        let _ = nats.wait().await;
    }
    let _ = std::fs::remove_file(&path);
    let _ = std::fs::remove_file(apps_file()?);
    result
}

/// Starts `weft up` again in the background, its output in a log, and
/// returns once its host answers.
async fn detach(args: &UpArgs) -> anyhow::Result<()> {
    let dir = state_dir()?;
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let log_path = dir.join("up.log");
    let log = std::fs::File::create(&log_path)
        .with_context(|| format!("creating {}", log_path.display()))?;
    let exe = std::env::current_exe().context("cannot find the weft binary to start")?;
    let forwarded: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--detached")
        .collect();
    let mut command = std::process::Command::new(exe);
    command
        .args(forwarded)
        .env("WEFT_UP_LOG", &log_path)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
    // Its own process group: Ctrl-C in this terminal does not reach it.
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    let child = command
        .spawn()
        .context("could not start weft in the background")?;
    let deadline = Instant::now() + Duration::from_secs(60);
    let client = loop {
        if !alive(child.id()) || Instant::now() >= deadline {
            let tail = std::fs::read_to_string(&log_path).unwrap_or_default();
            anyhow::bail!(
                "`weft up` did not come up; its log ({}) says:\n{}",
                log_path.display(),
                tail.lines()
                    .rev()
                    .take(15)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect::<Vec<_>>()
                    .join("\n")
            );
        }
        if read_running()?.is_some_and(|r| r.pid == child.id())
            && let Ok(client) = args.host.lattice.client().await
            && client.hosts().await.is_ok_and(|h| !h.is_empty())
        {
            break client;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    drop(client);
    if let Some(addr) = args.dashboard {
        let token = args.dashboard_token.as_ref().filter(|t| !t.is_empty());
        if token.is_some() {
            println!("Dashboard: http://{addr}/?token=… (the token is WEFT_UI_TOKEN's)");
        } else if addr.ip().is_loopback() {
            println!("Dashboard: http://{addr}/");
        } else {
            println!("Dashboard: on {addr}; its URL with the token is in the log.");
        }
    }
    println!(
        "Weft is up in the background (pid {}): lattice `{}` on {}.\nLog: {}\nStop it with `weft down`.",
        child.id(),
        args.host.lattice.lattice,
        args.host.lattice.nats,
        log_path.display()
    );
    Ok(())
}

/// SIGTERM, then SIGKILL if it has not gone within `within`.
async fn stop_pid(pid: Option<u32>, within: Duration) {
    let Some(pid) = pid else { return };
    let Some(target) = rustix::process::Pid::from_raw(pid as i32) else {
        return;
    };
    let _ = rustix::process::kill_process(target, rustix::process::Signal::TERM);
    let deadline = Instant::now() + within;
    while alive(pid) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    if alive(pid) {
        eprintln!("process {pid} did not stop within {within:?}; killing it");
        let _ = rustix::process::kill_process(target, rustix::process::Signal::KILL);
    }
}

/// Runs `weft down`.
pub async fn down(args: DownArgs) -> anyhow::Result<()> {
    let Some(running) = read_running()? else {
        println!("Weft is not up (nothing `weft up` started is running).");
        return Ok(());
    };
    stop_pid(Some(running.pid), args.timeout).await;
    // `up` stops its nats-server on the way out; if it was killed, do it here.
    if running.nats_pid.is_some_and(alive) {
        stop_pid(running.nats_pid, Duration::from_secs(5)).await;
    }
    let _ = std::fs::remove_file(pid_file()?);
    let _ = std::fs::remove_file(apps_file()?);
    println!(
        "Weft is down (pid {}{}).",
        running.pid,
        match running.nats_pid {
            Some(n) => format!(", and its nats-server, pid {n}"),
            None => String::new(),
        }
    );
    Ok(())
}
