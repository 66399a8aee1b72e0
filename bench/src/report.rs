//! One figure per scenario, next to its same-run baseline: what each
//! scenario returns, and what `weft-bench all` prints as one table and
//! writes as JSON.

use serde::Serialize;
use std::path::Path;

/// Which way is better for a figure.
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Better {
    /// More is better (throughput).
    Higher,
    /// Less is better (latency, memory).
    Lower,
}

/// One figure: Weft's, its baseline's, and the target if the issue names one.
#[derive(Debug, Clone, Serialize)]
pub struct Figure {
    /// The scenario (`1. HTTP hello, fresh instance`).
    pub scenario: String,
    /// Weft's figure.
    pub weft: f64,
    /// What the baseline is (`bare wasmtime-wasi-http loop`).
    pub baseline_name: String,
    /// The baseline's figure, measured in the same run.
    pub baseline: f64,
    /// The unit of both (`req/s`, `µs p50`, `ms`, `KB`).
    pub unit: String,
    /// Which way is better.
    pub better: Better,
    /// `weft / baseline`.
    pub ratio: f64,
    /// The target, in words (`≥ 0.9× bare`), if there is one.
    pub target: Option<String>,
    /// Whether the target is met.
    pub met: Option<bool>,
}

impl Figure {
    /// A figure without a target.
    pub fn new(
        scenario: &str,
        unit: &str,
        better: Better,
        weft: f64,
        baseline_name: &str,
        baseline: f64,
    ) -> Self {
        Self {
            scenario: scenario.to_owned(),
            weft,
            baseline_name: baseline_name.to_owned(),
            baseline,
            unit: unit.to_owned(),
            better,
            ratio: weft / baseline.max(f64::MIN_POSITIVE),
            target: None,
            met: None,
        }
    }

    /// With a target described as `target`, met when `met` holds.
    pub fn target(mut self, target: &str, met: bool) -> Self {
        self.target = Some(target.to_owned());
        self.met = Some(met);
        self
    }
}

fn number(x: f64) -> String {
    if x >= 100.0 {
        format!("{x:.0}")
    } else if x >= 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    }
}

/// Prints `figures` as one table.
pub fn print(figures: &[Figure]) {
    println!(
        "{:<44} {:>10} {:>10} {:<9} {:>7}  {:<34} target",
        "scenario", "weft", "baseline", "unit", "ratio", "baseline is"
    );
    for f in figures {
        let target = match (&f.target, f.met) {
            (Some(t), Some(true)) => format!("{t}: met"),
            (Some(t), Some(false)) => format!("{t}: NOT met"),
            _ => String::new(),
        };
        println!(
            "{:<44} {:>10} {:>10} {:<9} {:>6.2}×  {:<34} {}",
            f.scenario,
            number(f.weft),
            number(f.baseline),
            f.unit,
            f.ratio,
            f.baseline_name,
            target
        );
    }
}

/// Writes `figures` (and the machine they ran on) as JSON to `path`.
pub fn write_json(path: &Path, figures: &[Figure]) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let machine = serde_json::json!({
        "cores": std::thread::available_parallelism().map_or(0, |n| n.get()),
        "cpu": cpu_model(),
        "os": std::env::consts::OS,
    });
    let body = serde_json::json!({ "machine": machine, "figures": figures });
    std::fs::write(path, serde_json::to_vec_pretty(&body)?)?;
    Ok(())
}

/// The CPU's model name, from `/proc/cpuinfo`.
pub fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("model name")
                    .and_then(|r| r.split_once(':'))
                    .map(|(_, v)| v.trim().to_owned())
            })
        })
        .unwrap_or_else(|| "unknown".into())
}
