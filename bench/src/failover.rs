//! Host loss: how long an app takes to report Deployed again after one of
//! the hosts running it is killed with SIGKILL.
//!
//! Each run starts three `weft host` processes (the release binary next to
//! this one) on a fresh lattice of one private nats-server, deploys an app
//! whose spreadscaler spreads a component over them, kills one host running
//! it with SIGKILL and stops the clock once the survivors run every instance
//! and the app's status says Deployed. Two cases: a 2-host spread (two
//! instances) whose killed host is not the reconciler's leader (detection
//! and re-placement), and a 3-host spread whose killed host is the leader
//! (the lease moves as well).
//!
//! A host dies at any moment between two of its heartbeats, so the runs'
//! kills are staggered evenly over one heartbeat interval: the detection
//! part of each figure lies between two and three intervals.
//!
//! Baseline measured in the same run: deploying the same app on three live
//! hosts, from the deploy request to Deployed (the placement work without
//! the wait for missed heartbeats). Also printed: the detection bound, three
//! heartbeat intervals.

use crate::median;
use crate::report::{Better, Figure};
use anyhow::Context;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};
use weft_apps::api::StatusType;
use weft_apps::client::AppClient;
use weft_lattice_client::LatticeClient;
use weft_lattice_protocol::Subjects;
use weft_tests::nats::NatsServer;

/// Arguments of `weft-bench failover`.
#[derive(Debug, clap::Args)]
pub struct FailoverArgs {
    /// Runs per case (the table shows medians; at least 5 make sense).
    #[arg(long, default_value_t = 7)]
    runs: usize,
    /// The component the app runs.
    #[arg(
        long,
        default_value = "target/guests/wasm32-wasip2/release/http_hello.wasm"
    )]
    component: PathBuf,
    /// The `weft` binary that runs the hosts (default: the one next to
    /// this bench).
    #[arg(long)]
    weft: Option<PathBuf>,
    /// The hosts' heartbeat interval (`weft host --heartbeat`).
    #[arg(long, default_value = "1s")]
    heartbeat: String,
}

/// The app: `instances` of the component, spread evenly over the hosts.
fn manifest(image: &str, instances: u32) -> String {
    format!(
        "apiVersion: core.oam.dev/v1beta1\n\
         kind: Application\n\
         metadata: {{name: failover, annotations: {{version: v1}}}}\n\
         spec:\n\
         \x20 components:\n\
         \x20   - name: hello\n\
         \x20     type: component\n\
         \x20     properties: {{image: '{image}', id: hello}}\n\
         \x20     traits:\n\
         \x20       - type: spreadscaler\n\
         \x20         properties:\n\
         \x20           instances: {instances}\n\
"
    )
}

/// One lattice of three hosts.
struct Lattice {
    name: String,
    hosts: BTreeMap<String, Child>,
    lattice: LatticeClient,
    apps: AppClient,
    nats: async_nats::Client,
}

impl Lattice {
    async fn start(
        server: &NatsServer,
        weft: &Path,
        cache: &Path,
        heartbeat: &str,
        name: &str,
    ) -> anyhow::Result<Self> {
        let nats = async_nats::connect(server.url()).await?;
        let lattice = LatticeClient::new(nats.clone(), Subjects::new("wasmbus.ctl", name)?)
            .with_timeout(Duration::from_millis(500))
            .with_window(Duration::from_millis(300));
        let mut children = BTreeMap::new();
        for n in 1..=3 {
            let friendly = format!("{name}-h{n}");
            let child = spawn_host(
                weft,
                &server.url(),
                name,
                &friendly,
                cache,
                &["--heartbeat", heartbeat],
            )?;
            children.insert(friendly, child);
        }
        let found = until(Duration::from_secs(30), || async {
            let found = lattice.hosts().await.ok()?;
            (found.len() == 3).then_some(found)
        })
        .await
        .context("three hosts did not answer within 30 s")?;
        // Children keyed by the host id each one reports.
        let mut hosts = BTreeMap::new();
        for h in found {
            let child = children
                .remove(&h.friendly_name)
                .with_context(|| format!("host {} is none of ours", h.friendly_name))?;
            hosts.insert(h.id, child);
        }
        Ok(Self {
            name: name.to_owned(),
            hosts,
            apps: AppClient::new(nats.clone(), name),
            lattice,
            nats,
        })
    }
}

/// A `weft host` process called `friendly` on lattice `lattice` at `url`,
/// with file loads allowed, a shared compile cache and `extra` arguments;
/// killed when dropped.
pub fn spawn_host(
    weft: &Path,
    url: &str,
    lattice: &str,
    friendly: &str,
    cache: &Path,
    extra: &[&str],
) -> anyhow::Result<Child> {
    Command::new(weft)
        .args([
            "host",
            "--nats",
            url,
            "--lattice",
            lattice,
            "--allow-file-load",
        ])
        .args(["--friendly-name", friendly])
        .args(extra)
        .arg("--cache-dir")
        .arg(cache)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("could not run {}", weft.display()))
}

/// Polls `check` every 20 ms until it gives a value or `within` passes.
async fn until<T, F, Fut>(within: Duration, mut check: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let end = Instant::now() + within;
    while Instant::now() < end {
        if let Some(v) = check().await {
            return Some(v);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    None
}

impl Lattice {
    /// Instances of the app's component on `hosts` (hosts that do not
    /// answer run none).
    async fn running(&self, hosts: &[&String]) -> u32 {
        let mut n = 0;
        for h in hosts {
            if let Ok(inv) = self.lattice.inventory(h).await {
                n += inv
                    .components
                    .iter()
                    .filter(|c| c.id == "hello")
                    .map(|c| c.max_instances)
                    .sum::<u32>();
            }
        }
        n
    }

    /// Hosts running the app's component.
    async fn runners(&self) -> Vec<String> {
        let mut out = Vec::new();
        for h in self.hosts.keys() {
            if let Ok(inv) = self.lattice.inventory(h).await
                && inv.components.iter().any(|c| c.id == "hello")
            {
                out.push(h.clone());
            }
        }
        out
    }

    async fn deployed(&self) -> bool {
        self.apps
            .status("failover")
            .await
            .ok()
            .and_then(|r| r.status)
            .is_some_and(|s| s.status.kind == StatusType::Deployed)
    }

    /// Waits until `hosts` run `instances` and the app says Deployed.
    async fn settle(&self, hosts: &[&String], instances: u32) -> anyhow::Result<()> {
        until(Duration::from_secs(60), || async {
            (self.running(hosts).await == instances && self.deployed().await).then_some(())
        })
        .await
        .with_context(|| {
            format!(
                "lattice {}: the app was not Deployed within 60 s",
                self.name
            )
        })
    }

    /// Deploys the app; the time until it is Deployed.
    async fn deploy(&self, manifest: &str, instances: u32) -> anyhow::Result<Duration> {
        let started = Instant::now();
        self.apps.put(manifest).await?;
        let deploy = self.apps.deploy("failover", None).await?;
        anyhow::ensure!(
            deploy.message.contains("Successfully"),
            "deploy: {}",
            deploy.message
        );
        let all: Vec<&String> = self.hosts.keys().collect();
        self.settle(&all, instances).await?;
        Ok(started.elapsed())
    }

    /// The host holding the reconciler's lease.
    async fn leader(&self) -> Option<String> {
        let kv = async_nats::jetstream::new(self.nats.clone())
            .get_key_value(format!("weft_{}_lease", self.name))
            .await
            .ok()?;
        let entry = kv.get("reconciler").await.ok()??;
        let v: serde_json::Value = serde_json::from_slice(&entry).ok()?;
        v["holder"].as_str().map(str::to_owned)
    }

    /// SIGKILLs `victim`; the time until the survivors run `instances` and
    /// the app says Deployed.
    async fn kill(&mut self, victim: &str, instances: u32) -> anyhow::Result<Duration> {
        let child = self
            .hosts
            .get_mut(victim)
            .with_context(|| format!("no host {victim}"))?;
        let started = Instant::now();
        child.start_kill()?;
        let survivors: Vec<&String> = self.hosts.keys().filter(|h| *h != victim).collect();
        self.settle(&survivors, instances).await?;
        Ok(started.elapsed())
    }
}

/// Which host a case kills.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Victim {
    /// One running the component, not the leader (two of three run it).
    Follower,
    /// The leader (all three run it).
    Leader,
}

/// The `weft` binary beside the running bench.
pub fn weft_beside_me() -> anyhow::Result<PathBuf> {
    let me = std::env::current_exe()?;
    let weft = me.with_file_name("weft");
    anyhow::ensure!(
        weft.exists(),
        "{} not found; build it with the bench: cargo build --release -p weft-cli -p weft-bench \
         (or pass --weft PATH)",
        weft.display()
    );
    Ok(weft)
}

/// Runs the scenario and prints its table.
pub async fn run(args: FailoverArgs) -> anyhow::Result<Vec<Figure>> {
    let weft = match args.weft {
        Some(w) => w,
        None => weft_beside_me()?,
    };
    let wasm = crate::guest_file(&args.component)?;
    let image = format!("file://{}", wasm.display());
    let server = NatsServer::start().await?;
    let cache = tempfile::tempdir()?;
    let runs = args.runs.max(1);
    let beat = parse_seconds(&args.heartbeat)
        .map(Duration::from_secs_f64)
        .context("--heartbeat: expected a duration such as 1s or 500ms")?;

    // Warm-up: compiles the component into the shared cache.
    {
        let l = Lattice::start(&server, &weft, cache.path(), &args.heartbeat, "warmup").await?;
        l.deploy(&manifest(&image, 3), 3).await?;
    }

    let mut fresh = Vec::new();
    let mut cases: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    for run in 0..runs {
        for victim in [Victim::Follower, Victim::Leader] {
            let instances = if victim == Victim::Leader { 3 } else { 2 };
            let name = format!("failover{run}{}", instances);
            let mut l =
                Lattice::start(&server, &weft, cache.path(), &args.heartbeat, &name).await?;
            let lead = until(Duration::from_secs(10), || l.leader())
                .await
                .context("no reconciler holds the lease")?;
            fresh.push(ms(l
                .deploy(&manifest(&image, instances), instances)
                .await?));
            let runners = l.runners().await;
            let target = match victim {
                Victim::Leader => Some(lead.clone()),
                Victim::Follower => runners.iter().find(|h| **h != lead).cloned(),
            };
            let target = target.context("no host to kill")?;
            anyhow::ensure!(runners.contains(&target), "the host to kill runs nothing");
            // Hosts die at any moment between two heartbeats: the runs'
            // kills are staggered evenly over one interval.
            tokio::time::sleep(beat.mul_f64(run as f64 / runs as f64)).await;
            let took = l.kill(&target, instances).await?;
            let label = match victim {
                Victim::Follower => "SIGKILL a host (not the leader)",
                Victim::Leader => "SIGKILL the leader's host",
            };
            eprintln!("run {}: {label}: {:.0} ms", run + 1, ms(took));
            cases.entry(label).or_default().push(ms(took));
        }
    }

    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!(
        "host loss: 3 weft hosts on one nats-server, heartbeat {}, {runs} runs per case, {cores} cores",
        args.heartbeat
    );
    println!(
        "{:<44} {:>9} {:>9} {:>9} {:>10}",
        "case", "p50 ms", "min ms", "max ms", "vs target"
    );
    let row = |name: &str, xs: &[f64], vs: String| {
        let lo = xs.iter().copied().fold(f64::MAX, f64::min);
        let hi = xs.iter().copied().fold(0.0, f64::max);
        println!(
            "{:<44} {:>9.0} {:>9.0} {:>9.0} {:>10}",
            name,
            median(xs),
            lo,
            hi,
            vs
        );
    };
    row(
        "baseline: deploy on live hosts → Deployed",
        &fresh,
        "baseline".into(),
    );
    println!(
        "{:<44} {:>9.0} {:>9} {:>9} {:>10}",
        "bound: detection (3 missed heartbeats)",
        ms(beat * 3),
        "",
        "",
        ""
    );
    for (name, xs) in [
        "SIGKILL a host (not the leader)",
        "SIGKILL the leader's host",
    ]
    .iter()
    .filter_map(|n| Some((*n, cases.get(n)?)))
    {
        row(
            &format!("{name} → Deployed again"),
            xs,
            format!("{:.2}×", median(xs) / 3000.0),
        );
    }
    println!("`vs target`: the median over the 3 s target (≤ 1.00× meets it)");
    let mut figures = Vec::new();
    for (name, xs) in &cases {
        let p50 = median(xs);
        figures.push(
            Figure::new(
                match *name {
                    "SIGKILL the leader's host" => "host loss: the leader's host killed",
                    _ => "host loss: a host killed",
                },
                "ms p50",
                Better::Lower,
                p50,
                "deploy on live hosts",
                median(&fresh),
            )
            .target("≤ 3000 ms", p50 <= 3000.0),
        );
    }
    Ok(figures)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Seconds in a `--heartbeat` value such as `1s` or `500ms`.
fn parse_seconds(s: &str) -> Option<f64> {
    let s = s.trim();
    if let Some(v) = s.strip_suffix("ms") {
        return v.parse::<f64>().ok().map(|v| v / 1000.0);
    }
    s.strip_suffix('s').unwrap_or(s).parse().ok()
}
