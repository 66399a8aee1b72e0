//! Embeds the WIT tree and the example components in the binary, for
//! `weft new component` (the generated crates build against the same WIT).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            files(&path, out);
        } else if path.extension().is_some_and(|e| e == "wit") {
            out.push(path);
        }
    }
}

fn main() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default()).join("..");
    let wit = root.join("wit");
    let mut found = Vec::new();
    files(&wit, &mut found);
    let mut code = String::from(
        "/// The WIT tree, as (path below wit/, contents).\npub const WIT: &[(&str, &str)] = &[\n",
    );
    for path in &found {
        let relative = path
            .strip_prefix(&wit)
            .unwrap_or(path)
            .display()
            .to_string();
        let _ = writeln!(
            code,
            "    ({relative:?}, include_str!({:?})),",
            path.display().to_string()
        );
        println!("cargo::rerun-if-changed={}", path.display());
    }
    code.push_str("];\n");
    for (name, dir) in [
        ("HTTP_HELLO", "http-hello"),
        ("KV_COUNTER", "kv-counter"),
        ("PINGPONG", "pingpong"),
    ] {
        let source = root.join("examples").join(dir).join("src").join("lib.rs");
        println!("cargo::rerun-if-changed={}", source.display());
        let _ = writeln!(
            code,
            "/// The `{dir}` example's source.\npub const {name}: &str = include_str!({:?});",
            source.display().to_string()
        );
    }
    println!("cargo::rerun-if-changed={}", wit.display());
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap_or_default()).join("templates.rs");
    if let Err(e) = std::fs::write(&out, code) {
        println!("cargo::error=could not write {}: {e}", out.display());
    }
}
