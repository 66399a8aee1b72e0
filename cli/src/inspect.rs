//! `weft inspect FILE|oci://REF`: a component's world — what it imports and
//! exports, function by function — and, for a component id on the lattice,
//! which of its imports are linked and which are not.

use crate::lattice::{LatticeArgs, Output};
use crate::oci::RegistryArgs;
use anyhow::Context;
use clap::Args;
use serde_json::json;
use std::path::PathBuf;
use weft_lattice_protocol::wire::Link;
use weft_runtime::world::{Item, World};
use weft_runtime::{CompileCache, Runtime, RuntimeConfig};

/// Examples shown by `weft inspect --help`.
pub const EXAMPLES: &str = "\
Examples:
  weft inspect target/wasm32-wasip2/release/app.wasm
  weft inspect oci://localhost:5000/app:1.0
  weft inspect app.wasm --id app --lattice dev     # which imports of `app` are not linked yet
  weft inspect app.wasm -o json";

/// `weft inspect` arguments.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// A component file, or an OCI reference (pulled into the local store).
    component: String,
    /// The component's id on the lattice: show what its imports are linked to.
    #[arg(long, value_name = "ID")]
    id: Option<String>,
    #[command(flatten)]
    lattice: LatticeArgs,
    #[command(flatten)]
    registry: RegistryArgs,
}

/// How an import is served: by the host, by a link, or not yet.
fn status(import: &str, id: Option<&str>, links: &[Link]) -> String {
    if weft_runtime::served_by_host(import) == Some(false) {
        return "provided by the host".into();
    }
    let unversioned = import.split('@').next().unwrap_or(import);
    if !unversioned
        .split_once('/')
        .is_some_and(|(p, _)| p.contains(':'))
    {
        return "not linkable".into();
    }
    let Some(id) = id else {
        return "needs a link".into();
    };
    let linked: Vec<String> = links
        .iter()
        .filter(|l| l.serves(id, import))
        .map(|l| {
            if l.name == "default" {
                format!("→ {}", l.target)
            } else {
                format!("→ {} (link `{}`)", l.target, l.name)
            }
        })
        .collect();
    if linked.is_empty() {
        "NOT LINKED".into()
    } else {
        linked.join(", ")
    }
}

/// Runs `weft inspect`.
pub async fn inspect(args: InspectArgs) -> anyhow::Result<()> {
    let wasm = if args.component.starts_with("oci://") {
        let puller = args.registry.puller(Some(&args.component))?;
        puller
            .pull(&args.component, &weft_oci::NoProgress)
            .await
            .with_context(|| format!("pulling {}", args.component))?
            .1
    } else {
        let path = PathBuf::from(args.component.trim_start_matches("file://"));
        tokio::fs::read(&path)
            .await
            .with_context(|| format!("could not read {}", path.display()))?
    };
    let links = match &args.id {
        Some(_) => args.lattice.client().await?.links().await?,
        None => Vec::new(),
    };
    let runtime = Runtime::new(RuntimeConfig::default())?;
    let cache =
        crate::run::default_cache_dir().map_or_else(CompileCache::disabled, CompileCache::new);
    let (compiled, _) = tokio::task::spawn_blocking({
        let engine = runtime.engine().clone();
        move || cache.load(&engine, &wasm)
    })
    .await??;
    let World { imports, exports } = World::of(runtime.engine(), &compiled);
    let id = args.id.as_deref();
    match args.lattice.output {
        Output::Json => {
            let render = |items: &[Item], with_status: bool| {
                items
                    .iter()
                    .map(|i| {
                        let mut v = json!({
                            "name": i.name,
                            "functions": i.functions.iter().map(|(n, s)| json!({"name": n, "type": s})).collect::<Vec<_>>(),
                        });
                        if with_status {
                            v["status"] = status(&i.name, id, &links).into();
                        }
                        v
                    })
                    .collect::<Vec<_>>()
            };
            println!(
                "{}",
                serde_json::to_string_pretty(&json!({
                    "component": args.component,
                    "imports": render(&imports, true),
                    "exports": render(&exports, false),
                }))?
            );
        }
        Output::Text => {
            println!("{}", args.component);
            println!("\nimports:");
            for i in &imports {
                let served = status(&i.name, id, &links);
                println!("  {:<48} {served}", i.name);
                // What the host provides is standard; show the rest in full.
                if served != "provided by the host" {
                    for (f, sig) in &i.functions {
                        println!("      {f}: {sig}");
                    }
                }
            }
            println!("\nexports:");
            for e in &exports {
                println!("  {}", e.name);
                for (f, sig) in &e.functions {
                    println!("      {f}: {sig}");
                }
            }
            let missing = imports
                .iter()
                .filter(|i| status(&i.name, id, &links) == "NOT LINKED")
                .count();
            if missing > 0 {
                println!(
                    "\n{missing} import(s) of `{}` are not linked: calls to them fail until `weft link put` binds them",
                    id.unwrap_or_default()
                );
            }
        }
    }
    Ok(())
}
