//! Guest components built from source (never committed as .wasm), once per
//! test process, into `target/guests`.

use anyhow::{Context, bail};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// The guest workspaces, in build order.
const WORKSPACES: &[&str] = &["examples/Cargo.toml", "tests/components/Cargo.toml"];

fn build_all() -> Result<PathBuf, String> {
    let root = repo_root();
    let target = root.join("target").join("guests");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    for manifest in WORKSPACES {
        let status = Command::new(&cargo)
            .args([
                "build",
                "--quiet",
                "--target",
                "wasm32-wasip2",
                "--manifest-path",
            ])
            .arg(root.join(manifest))
            .arg("--target-dir")
            .arg(&target)
            .status()
            .map_err(|e| format!("could not run cargo to build the guests: {e}"))?;
        if !status.success() {
            return Err(format!(
                "building the guests in {manifest} failed (is the target installed? \
                 rustup target add wasm32-wasip2)"
            ));
        }
    }
    Ok(target.join("wasm32-wasip2").join("debug"))
}

/// The path of the built guest `name` (e.g. `test_guest`, `http_hello`).
pub fn path(name: &str) -> anyhow::Result<PathBuf> {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let dir = match BUILT.get_or_init(build_all) {
        Ok(dir) => dir,
        Err(e) => bail!("{e}"),
    };
    let file = dir.join(format!("{name}.wasm"));
    if !file.is_file() {
        bail!(
            "guest `{name}` was not built: {} is missing",
            file.display()
        );
    }
    Ok(file)
}

/// The bytes of the built guest `name`.
pub fn bytes(name: &str) -> anyhow::Result<Vec<u8>> {
    let p = path(name)?;
    std::fs::read(&p).with_context(|| format!("read {}", p.display()))
}

/// A compile cache shared by every test process, so each guest is compiled
/// once per build rather than once per test.
pub fn cache_dir() -> PathBuf {
    repo_root().join("target").join("guests").join("compiled")
}
