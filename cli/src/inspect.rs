//! `weft inspect FILE|oci://REF`: a component's world — what it imports and
//! exports, function by function — and, for a component id on the lattice,
//! which of its imports are linked and which are not.

use crate::lattice::{LatticeArgs, Output};
use crate::oci::RegistryArgs;
use anyhow::Context;
use clap::Args;
use serde_json::json;
use std::path::PathBuf;
use wasmtime::component::types::{ComponentFunc, ComponentItem, Type};
use weft_lattice_protocol::wire::Link;
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

/// One interface or function of the world.
struct Item {
    name: String,
    functions: Vec<(String, String)>,
}

fn signature(ty: &ComponentFunc) -> String {
    let params: Vec<String> = ty
        .params()
        .map(|(n, t)| format!("{n}: {}", type_name(&t)))
        .collect();
    let results: Vec<String> = ty.results().map(|t| type_name(&t)).collect();
    match results.as_slice() {
        [] => format!("func({})", params.join(", ")),
        [one] => format!("func({}) -> {one}", params.join(", ")),
        many => format!("func({}) -> ({})", params.join(", "), many.join(", ")),
    }
}

/// A WIT-like rendering of a type (records and variants inline, as the
/// binary does not keep their names).
fn type_name(ty: &Type) -> String {
    match ty {
        Type::Bool => "bool".into(),
        Type::S8 => "s8".into(),
        Type::U8 => "u8".into(),
        Type::S16 => "s16".into(),
        Type::U16 => "u16".into(),
        Type::S32 => "s32".into(),
        Type::U32 => "u32".into(),
        Type::S64 => "s64".into(),
        Type::U64 => "u64".into(),
        Type::Float32 => "f32".into(),
        Type::Float64 => "f64".into(),
        Type::Char => "char".into(),
        Type::String => "string".into(),
        Type::List(l) => format!("list<{}>", type_name(&l.ty())),
        Type::Record(r) => format!(
            "record {{ {} }}",
            r.fields()
                .map(|f| format!("{}: {}", f.name, type_name(&f.ty)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Type::Tuple(t) => format!(
            "tuple<{}>",
            t.types()
                .map(|t| type_name(&t))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Type::Variant(v) => format!(
            "variant {{ {} }}",
            few(v.cases().map(|c| match &c.ty {
                Some(t) => format!("{}({})", c.name, type_name(t)),
                None => c.name.to_string(),
            }))
        ),
        Type::Enum(e) => format!("enum {{ {} }}", few(e.names().map(str::to_owned))),
        Type::Option(o) => format!("option<{}>", type_name(&o.ty())),
        Type::Result(r) => match (r.ok(), r.err()) {
            (None, None) => "result".into(),
            (Some(ok), None) => format!("result<{}>", type_name(&ok)),
            (None, Some(err)) => format!("result<_, {}>", type_name(&err)),
            (Some(ok), Some(err)) => format!("result<{}, {}>", type_name(&ok), type_name(&err)),
        },
        Type::Flags(f) => format!("flags {{ {} }}", few(f.names().map(str::to_owned))),
        Type::Own(_) => "own<resource>".into(),
        Type::Borrow(_) => "borrow<resource>".into(),
        _ => "…".into(),
    }
}

/// Cases or names, the first few and how many more.
fn few(names: impl Iterator<Item = String>) -> String {
    let all: Vec<String> = names.collect();
    if all.len() <= 8 {
        return all.join(", ");
    }
    format!("{}, … {} more", all[..4].join(", "), all.len() - 4)
}

fn items<'a>(
    engine: &wasmtime::Engine,
    list: impl Iterator<Item = (&'a str, ComponentItem)>,
) -> Vec<Item> {
    let mut out: Vec<Item> = list
        .map(|(name, item)| {
            let functions = match item {
                ComponentItem::ComponentInstance(instance) => instance
                    .exports(engine)
                    .filter_map(|(f, e)| match e.ty {
                        ComponentItem::ComponentFunc(ty) => Some((f.to_owned(), signature(&ty))),
                        ComponentItem::Resource(_) => Some((f.to_owned(), "resource".into())),
                        _ => None,
                    })
                    .collect(),
                ComponentItem::ComponentFunc(ty) => vec![(String::new(), signature(&ty))],
                _ => Vec::new(),
            };
            Item {
                name: name.to_owned(),
                functions,
            }
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
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
    let engine = runtime.engine();
    let ty = compiled.component_type();
    let imports = items(engine, ty.imports(engine).map(|(n, e)| (n, e.ty)));
    let exports = items(engine, ty.exports(engine).map(|(n, e)| (n, e.ty)));
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
