//! Density: many copies of one small component (distinct ids) on one host,
//! idle — what each costs in resident memory beyond the code they share,
//! and how long deploying them all takes.
//!
//! The copies are started the way `component.scale` starts them (a
//! `file://` reference, max instances 1) on an in-process host with a
//! compile cache. Baselines measured in the same run: the host's RSS with
//! no component, and with the first copy (the shared code and the engine's
//! setup); the figure is the RSS growth per further copy.

use crate::report::{Better, Figure};
use anyhow::Context;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;
use weft_host::{HostApi, HostBuilder, ScaleRequest};

/// Arguments of `weft-bench density`.
#[derive(Debug, clap::Args)]
pub struct DensityArgs {
    /// How many copies to deploy.
    #[arg(long, default_value_t = 10_000)]
    copies: usize,
    /// The component to copy.
    #[arg(
        long,
        default_value = "target/guests/wasm32-wasip2/release/http_hello.wasm"
    )]
    component: PathBuf,
}

/// This process's resident set size in bytes (`VmRSS`).
pub fn rss() -> anyhow::Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .context("no VmRSS in /proc/self/status")?;
    Ok(kb * 1024)
}

fn request(id: String, image: &str) -> ScaleRequest {
    ScaleRequest {
        component_id: id,
        image_ref: image.to_owned(),
        max_instances: 1,
        allow_update: false,
        annotations: BTreeMap::new(),
        config: BTreeMap::new(),
        max_memory: None,
        timeout: None,
    }
}

/// Runs the scenario and prints its table.
pub async fn run(args: DensityArgs) -> anyhow::Result<Vec<Figure>> {
    let wasm = crate::guest_file(&args.component)?;
    let image = format!("file://{}", wasm.display());
    let cache = tempfile::tempdir()?;
    let host = HostBuilder::new()
        .with_file_refs(true)
        .with_cache_dir(cache.path())
        .build()?;
    let copies = args.copies.max(2);
    let empty = rss()?;
    let started = Instant::now();
    host.scale_component(request("copy-0".into(), &image))
        .await?;
    let first_took = started.elapsed();
    let one = rss()?;
    let started = Instant::now();
    for i in 1..copies {
        host.scale_component(request(format!("copy-{i}"), &image))
            .await
            .with_context(|| format!("copy {i}"))?;
    }
    let rest_took = started.elapsed();
    let all = rss()?;
    let running = host.inventory().components.len();
    anyhow::ensure!(running == copies, "{running} of {copies} copies run");

    let kb = |b: u64| b as f64 / 1024.0;
    let per = (all.saturating_sub(one)) as f64 / (copies - 1) as f64;
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!(
        "density: {copies} copies of {} ({} KB wasm) on one host, idle, {cores} cores",
        wasm.file_name().and_then(|n| n.to_str()).unwrap_or("?"),
        std::fs::metadata(&wasm).map_or(0, |m| m.len() / 1024)
    );
    println!("{:<46} {:>14} {:>12}", "measure", "value", "vs target");
    println!(
        "{:<46} {:>11.0} KB {:>12}",
        "baseline: host RSS, no component",
        kb(empty),
        ""
    );
    println!(
        "{:<46} {:>11.0} KB {:>12}",
        "baseline: host RSS, first copy (shared code)",
        kb(one),
        ""
    );
    println!(
        "{:<46} {:>11.0} KB {:>12}",
        "host RSS, all copies",
        kb(all),
        ""
    );
    println!(
        "{:<46} {:>11.1} KB {:>11.2}×",
        "RSS per further copy",
        per / 1024.0,
        per / (50.0 * 1024.0)
    );
    println!(
        "{:<46} {:>11.1} ms {:>12}",
        "first copy: scale to running",
        first_took.as_secs_f64() * 1000.0,
        ""
    );
    println!(
        "{:<46} {:>11.2} s {:>12}",
        format!("deploy the other {}", copies - 1),
        rest_took.as_secs_f64(),
        ""
    );
    println!(
        "{:<46} {:>11.0} µs {:>12}",
        "per further copy",
        rest_took.as_secs_f64() * 1e6 / (copies - 1) as f64,
        ""
    );
    println!("`vs target`: RSS per copy over the 50 KB target (≤ 1.00× meets it)");
    let per_kb = per / 1024.0;
    Ok(vec![
        Figure::new(
            &format!("7. density: RSS per copy ({copies} copies)"),
            "KB",
            Better::Lower,
            per_kb,
            "first copy (code, engine setup)",
            kb(one.saturating_sub(empty)),
        )
        .target("≤ 50 KB", per_kb <= 50.0),
        Figure::new(
            &format!("7. density: deploy per copy ({copies} copies)"),
            "ms",
            Better::Lower,
            rest_took.as_secs_f64() * 1000.0 / (copies - 1) as f64,
            "first copy (compiles)",
            first_took.as_secs_f64() * 1000.0,
        ),
    ])
}
