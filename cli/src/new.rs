//! `weft new component NAME --template …` (a component crate to start from)
//! and `weft build` (cargo for wasm32-wasip2, and where the component is).

use crate::lattice::Output;
use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use weft_capability::builtin::Builtin;

mod templates {
    include!(concat!(env!("OUT_DIR"), "/templates.rs"));
}

/// Examples shown by `weft new --help` and `weft build --help`.
pub const EXAMPLES: &str = "\
Examples:
  weft new component hello --template http-hello
  weft new component counter --template kv-counter
  cd counter && weft build                     # prints target/wasm32-wasip2/release/counter.wasm
  weft build --path counter --debug
  weft push counter/target/wasm32-wasip2/release/counter.wasm oci://localhost:5000/counter:0.1";

/// The components `weft new` can start from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Template {
    /// Answers every HTTP request with a greeting (wasi:http).
    HttpHello,
    /// Counts requests per path in wasi:keyvalue.
    KvCounter,
    /// Answers "ping" messages with "pong N" (wasmcloud:messaging, wasi:keyvalue).
    Pingpong,
}

/// `weft new` arguments.
#[derive(Debug, Args)]
pub struct NewArgs {
    #[command(subcommand)]
    what: NewWhat,
}

#[derive(Debug, Subcommand)]
enum NewWhat {
    /// A component crate in a new directory NAME.
    Component {
        /// The crate's name (and directory): lower-case letters, digits, `-`, `_`.
        name: String,
        /// What it starts as.
        #[arg(long, value_enum, default_value = "http-hello")]
        template: Template,
    },
}

/// `weft build` arguments.
#[derive(Debug, Args)]
pub struct BuildArgs {
    /// The component crate (default: the current directory).
    #[arg(long, default_value = ".")]
    path: PathBuf,
    /// A debug build (faster to build, larger and slower to run).
    #[arg(long)]
    debug: bool,
    /// How the result is printed.
    #[arg(long, short = 'o', value_enum, default_value = "text")]
    output: Output,
}

fn check_name(name: &str) -> anyhow::Result<()> {
    let ok = name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    anyhow::ensure!(
        ok,
        "`{name}` is not a crate name: start with a lower-case letter, then letters, digits, `-` or `_`"
    );
    Ok(())
}

fn cargo_toml(name: &str, wit: bool) -> String {
    format!(
        r#"[package]
name = "{name}"
version = "0.1.0"
edition = "2024"
publish = false

[lib]
crate-type = ["cdylib"]

[dependencies]
wasip2 = "2.0.1"
{bindgen}
[profile.release]
opt-level = "s"
lto = true
codegen-units = 1
strip = true

# A crate of its own, not a member of a workspace above it.
[workspace]
"#,
        bindgen = if wit { "wit-bindgen = \"0.63\"\n" } else { "" }
    )
}

fn readme(name: &str, template: Template) -> String {
    let file = name.replace('-', "_");
    let link = match template {
        Template::HttpHello => String::new(),
        Template::KvCounter | Template::Pingpong => format!(
            "weft start provider {} kv\nweft link put {name} kv wasi keyvalue --interface store --interface atomics\n",
            Builtin::KeyValueMemory
        ),
    };
    format!(
        "# {name}\n\nA Weft component.\n\n```sh\nweft build                        # target/wasm32-wasip2/release/{file}.wasm\n\
         weft inspect target/wasm32-wasip2/release/{file}.wasm\n\
         weft push target/wasm32-wasip2/release/{file}.wasm oci://localhost:5000/{name}:0.1.0\n\
         weft start component oci://localhost:5000/{name}:0.1.0 {name}\n{link}```\n"
    )
}

/// Runs `weft new`.
pub fn new(args: NewArgs) -> anyhow::Result<()> {
    let NewWhat::Component { name, template } = args.what;
    check_name(&name)?;
    let dir = PathBuf::from(&name);
    anyhow::ensure!(
        !dir.exists(),
        "{} exists already; pick another name or remove it",
        dir.display()
    );
    let (source, wit) = match template {
        Template::HttpHello => (templates::HTTP_HELLO.to_owned(), false),
        Template::KvCounter => (
            templates::KV_COUNTER.replace("\"../../wit\"", "\"wit\""),
            true,
        ),
        Template::Pingpong => (
            templates::PINGPONG.replace("\"../../wit\"", "\"wit\""),
            true,
        ),
    };
    let write = |path: &Path, text: &str| -> anyhow::Result<()> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
    };
    write(&dir.join("Cargo.toml"), &cargo_toml(&name, wit))?;
    write(&dir.join("src").join("lib.rs"), &source)?;
    write(&dir.join("README.md"), &readme(&name, template))?;
    write(&dir.join(".gitignore"), "/target\n")?;
    if wit {
        for (path, text) in templates::WIT {
            write(&dir.join("wit").join(path), text)?;
        }
    }
    println!(
        "Created {name}/ from the {} template.\nNext: cd {name} && weft build",
        match template {
            Template::HttpHello => "http-hello",
            Template::KvCounter => "kv-counter",
            Template::Pingpong => "pingpong",
        }
    );
    Ok(())
}

/// Runs `weft build`.
pub fn build(args: BuildArgs) -> anyhow::Result<()> {
    let manifest = args.path.join("Cargo.toml");
    anyhow::ensure!(
        manifest.is_file(),
        "no Cargo.toml in {}; run `weft build` in a component crate (see `weft new component`)",
        args.path.display()
    );
    let mut cargo =
        std::process::Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cargo
        .args(["build", "--target", "wasm32-wasip2", "--manifest-path"])
        .arg(&manifest);
    if !args.debug {
        cargo.arg("--release");
    }
    let status = cargo
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit())
        .status()
        .context("could not run cargo; install Rust with rustup")?;
    anyhow::ensure!(
        status.success(),
        "cargo build failed (above); if it says the target is missing: rustup target add wasm32-wasip2"
    );
    let metadata =
        std::process::Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
            .args([
                "metadata",
                "--format-version",
                "1",
                "--no-deps",
                "--manifest-path",
            ])
            .arg(&manifest)
            .output()
            .context("could not run cargo metadata")?;
    let meta: serde_json::Value =
        serde_json::from_slice(&metadata.stdout).context("cargo metadata printed no JSON")?;
    let target_dir = meta["target_directory"].as_str().unwrap_or("target");
    let name = meta["packages"][0]["targets"]
        .as_array()
        .and_then(|targets| {
            targets.iter().find(|t| {
                t["crate_types"]
                    .as_array()
                    .is_some_and(|c| c.iter().any(|c| c == "cdylib"))
            })
        })
        .and_then(|t| t["name"].as_str())
        .context("the crate has no cdylib target; a component crate needs [lib] crate-type = [\"cdylib\"]")?
        .replace('-', "_");
    let artifact = Path::new(target_dir)
        .join("wasm32-wasip2")
        .join(if args.debug { "debug" } else { "release" })
        .join(format!("{name}.wasm"));
    anyhow::ensure!(artifact.is_file(), "cargo built no {}", artifact.display());
    let size = std::fs::metadata(&artifact).map(|m| m.len()).unwrap_or(0);
    match args.output {
        Output::Text => println!("{}", artifact.display()),
        Output::Json => println!(
            "{}",
            serde_json::json!({"success": true, "artifact": artifact, "size": size})
        ),
    }
    Ok(())
}
