//! oras-py (the PyPI `oras` package), an OCI client independent of Weft,
//! in a virtualenv the harness makes once under `target/test-tools/`.

use crate::guests::repo_root;
use anyhow::Context;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The oras-py version the interop tests use.
pub const VERSION: &str = "0.2.43";

/// The venv's python, with oras-py importable; made on first use.
pub fn python() -> anyhow::Result<PathBuf> {
    let venv = repo_root()
        .join("target")
        .join("test-tools")
        .join(format!("oras-{VERSION}"));
    let python = venv.join("bin").join("python");
    if python.is_file() && imports_oras(&python) {
        return Ok(python);
    }
    let made = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&venv)
        .status()
        .context("could not run python3; install the Debian packages python3 and python3-venv")?;
    anyhow::ensure!(
        made.success(),
        "python3 -m venv failed; install the Debian package python3-venv"
    );
    let pip = venv.join("bin").join("pip");
    let installed = Command::new(&pip)
        .args(["install", "--quiet", &format!("oras=={VERSION}")])
        .status()
        .context("could not run the venv's pip")?;
    anyhow::ensure!(
        installed.success(),
        "pip could not install oras=={VERSION} from PyPI into {}",
        venv.display()
    );
    anyhow::ensure!(
        imports_oras(&python),
        "oras is installed but does not import"
    );
    Ok(python)
}

fn imports_oras(python: &Path) -> bool {
    Command::new(python)
        .args(["-c", "import oras.client"])
        .status()
        .is_ok_and(|s| s.success())
}

/// Runs `tests/tools/oras_interop.py` with `args`; its JSON output.
pub fn run(args: Vec<String>) -> anyhow::Result<serde_json::Value> {
    let python = python()?;
    let script = repo_root()
        .join("tests")
        .join("tools")
        .join("oras_interop.py");
    let out = Command::new(python)
        .arg(script)
        .args(&args)
        .output()
        .context("could not run oras_interop.py")?;
    anyhow::ensure!(
        out.status.success(),
        "oras {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(last).with_context(|| format!("oras printed no JSON: {stdout}"))
}
