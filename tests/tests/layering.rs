//! The dependency rules of DESIGN.md, checked on the workspace's manifests:
//! everything points toward the capability contract, nothing under `host/`
//! names a provider, a transport or `lattice/` (but `host/oci` its registry
//! client), and the protocol crate does no I/O.

use serde_json::Value;
use std::collections::BTreeMap;
use std::process::Command;

/// Which workspace crates each crate may depend on (normal dependencies).
/// A crate missing here fails the test: add it with its allowed edges.
fn allowed() -> BTreeMap<&'static str, &'static [&'static str]> {
    BTreeMap::from([
        ("weft-capability", &[][..]),
        ("weft-runtime", &["weft-capability"][..]),
        ("weft-oci", &[][..]),
        // Span export: depends on no Weft crate; only the CLI installs it.
        ("weft-telemetry", &[][..]),
        (
            "weft-host",
            &["weft-capability", "weft-runtime", "weft-oci"][..],
        ),
        ("weft-keyvalue-redis", &["weft-capability"][..]),
        ("weft-http-server", &["weft-capability"][..]),
        (
            "weft-keyvalue-nats",
            &["weft-capability", "weft-jetstream"][..],
        ),
        ("weft-messaging-nats", &["weft-capability"][..]),
        ("weft-http-client", &["weft-capability"][..]),
        ("weft-lattice-protocol", &[][..]),
        // JetStream buckets for the lattice's state and the NATS keyvalue
        // provider alike: it names neither.
        ("weft-jetstream", &[][..]),
        (
            "weft-lattice-nats",
            &[
                "weft-capability",
                "weft-host",
                "weft-lattice-protocol",
                "weft-jetstream",
            ][..],
        ),
        ("weft-lattice-client", &["weft-lattice-protocol"][..]),
        (
            "weft-apps",
            &[
                "weft-capability",
                "weft-lattice-protocol",
                "weft-lattice-client",
                "weft-jetstream",
            ][..],
        ),
        // The composition root: the one crate that names every provider.
        (
            "weft-lattice-host",
            &[
                "weft-capability",
                "weft-host",
                "weft-keyvalue-redis",
                "weft-keyvalue-nats",
                "weft-messaging-nats",
                "weft-http-server",
                "weft-http-client",
                "weft-jetstream",
                "weft-lattice-protocol",
                "weft-lattice-nats",
                "weft-apps",
            ][..],
        ),
        ("weft-tests", &[][..]),
        ("weft-cli", &["*"][..]),
        ("weft-bench", &["*"][..]),
    ])
}

/// External crates that must not appear under `host/` or in the protocol crate.
const TRANSPORTS_AND_BACKENDS: &[&str] = &["async-nats", "redis", "hyper", "axum", "oci-client"];

fn metadata() -> anyhow::Result<Value> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(weft_tests::guests::repo_root())
        .output()?;
    anyhow::ensure!(
        out.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(serde_json::from_slice(&out.stdout)?)
}

#[test]
fn dependencies_point_toward_the_contract() -> anyhow::Result<()> {
    let meta = metadata()?;
    let allowed = allowed();
    let packages = meta["packages"].as_array().cloned().unwrap_or_default();
    assert!(!packages.is_empty(), "cargo metadata listed no packages");
    let host_dir = format!(
        "{}/",
        weft_tests::guests::repo_root().join("host").display()
    );
    for package in &packages {
        let name = package["name"].as_str().unwrap_or_default();
        let manifest = package["manifest_path"].as_str().unwrap_or_default();
        let Some(ok) = allowed.get(name) else {
            panic!("{name} ({manifest}) has no layering rule in tests/tests/layering.rs");
        };
        let deps = package["dependencies"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        for dep in deps.iter().filter(|d| d["kind"].is_null()) {
            let dep_name = dep["name"].as_str().unwrap_or_default();
            if dep_name.starts_with("weft-") {
                assert!(
                    ok.contains(&"*") || ok.contains(&dep_name),
                    "{name} must not depend on {dep_name} (DESIGN.md: dependencies point toward the contract)"
                );
            }
            // Crates under the top-level host/ (not lattice/host, the
            // composition root, which connects everything).
            let guarded = manifest.starts_with(&host_dir) || name == "weft-lattice-protocol";
            // The OCI crate is where the registry client lives (DESIGN.md: host/oci).
            let own_client = name == "weft-oci" && dep_name == "oci-client";
            if guarded && !own_client {
                assert!(
                    !TRANSPORTS_AND_BACKENDS.contains(&dep_name),
                    "{name} must not depend on {dep_name}: no transport or backend under host/ or in the protocol"
                );
            }
        }
    }
    Ok(())
}

/// Where the generated graph stands in docs/architecture.md.
const GRAPH_START: &str = "<!-- crate-graph: generated by scripts/crate-graph from cargo metadata; tests/tests/layering.rs checks it -->";
const GRAPH_END: &str = "<!-- /crate-graph -->";

/// The workspace's crates and their edges to each other, one line a crate
/// (folder, name, the Weft crates it uses), in folder order.
fn graph(meta: &Value) -> String {
    let root = format!("{}/", weft_tests::guests::repo_root().display());
    let mut rows: Vec<(String, String, Vec<String>)> = meta["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            let manifest = p["manifest_path"].as_str().unwrap_or_default();
            let folder = manifest
                .strip_prefix(&root)
                .unwrap_or(manifest)
                .trim_end_matches("Cargo.toml")
                .trim_end_matches('/')
                .to_owned();
            let mut uses: Vec<String> = p["dependencies"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|d| d["kind"].is_null())
                .filter_map(|d| d["name"].as_str())
                .filter(|n| n.starts_with("weft-"))
                .map(|n| n.trim_start_matches("weft-").to_owned())
                .collect();
            uses.sort();
            let name = p["name"].as_str().unwrap_or_default().to_owned();
            (folder, name, uses)
        })
        .collect();
    rows.sort();
    let mut out = String::from("```text\n");
    for (folder, name, uses) in rows {
        let uses = if uses.is_empty() {
            "(no Weft crate)".to_owned()
        } else {
            uses.join(", ")
        };
        out.push_str(&format!("{folder:<28} {name:<24} → {uses}\n"));
    }
    out.push_str("```\n");
    out
}

/// docs/architecture.md shows the crate graph as `cargo metadata` has it
/// now. `scripts/crate-graph` (WEFT_UPDATE_DOCS=1) writes it there.
#[test]
fn the_documented_crate_graph_is_current() -> anyhow::Result<()> {
    let path = weft_tests::guests::repo_root().join("docs/architecture.md");
    let doc = std::fs::read_to_string(&path)?;
    let (Some(start), Some(end)) = (doc.find(GRAPH_START), doc.find(GRAPH_END)) else {
        anyhow::bail!(
            "{} has no `{GRAPH_START}` … `{GRAPH_END}` block",
            path.display()
        );
    };
    let body_at = start + GRAPH_START.len() + 1;
    let drawn = graph(&metadata()?);
    if std::env::var_os("WEFT_UPDATE_DOCS").is_some() {
        let updated = format!("{}{drawn}{}", &doc[..body_at], &doc[end..]);
        std::fs::write(&path, updated)?;
        return Ok(());
    }
    assert_eq!(
        doc.get(body_at..end).unwrap_or_default(),
        drawn,
        "docs/architecture.md's crate graph is out of date: run scripts/crate-graph"
    );
    Ok(())
}
