//! `deploy/` is checked as it ships: the systemd units by `systemd-analyze
//! verify` (with ExecStart pointed at the binaries this machine has), the
//! environment files against the flags they set, the Kubernetes manifests
//! by parsing them and checking the fields a cluster would reject them
//! without. (The NATS configs run for real in `nats_cluster.rs`.)

use serde::Deserialize;
use serde_yaml::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use weft_tests::guests::repo_root;
use weft_tests::net::require_binary;

const WEFT: &str = env!("CARGO_BIN_EXE_weft");

fn deploy(path: &str) -> PathBuf {
    repo_root().join("deploy").join(path)
}

fn read(path: &str) -> anyhow::Result<String> {
    let file = deploy(path);
    std::fs::read_to_string(&file).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))
}

/// The `KEY` of every `KEY=…` line of an environment file, commented out
/// or not.
fn env_keys(text: &str) -> BTreeSet<String> {
    text.lines()
        .map(|l| l.trim_start_matches('#').trim())
        .filter_map(|l| l.split_once('='))
        .map(|(k, _)| k)
        .filter(|k| k.starts_with("WEFT_") && !k.contains(' '))
        .map(str::to_owned)
        .collect()
}

/// Whether `--help` text names environment variable `key` (clap writes
/// `[env: KEY=value]`, or `[env: KEY]` for hidden values).
fn reads_env(help: &str, key: &str) -> bool {
    help.contains(&format!("[env: {key}=")) || help.contains(&format!("[env: {key}]"))
}

#[tokio::test]
async fn the_systemd_units_verify_cleanly() -> anyhow::Result<()> {
    let analyze = require_binary("systemd-analyze", "systemd")?;
    let nats = require_binary("nats-server", "nats-server")?;
    let dir = tempfile::tempdir()?;
    for unit in ["weft-host.service", "weft-nats@.service"] {
        let text = read(&format!("systemd/{unit}"))?
            .replace("/usr/local/bin/weft", WEFT)
            .replace("/usr/sbin/nats-server", &nats.display().to_string());
        std::fs::write(dir.path().join(unit), text)?;
    }
    for unit in [
        "weft-host.service",
        "weft-nats@single.service",
        "weft-nats@cluster.service",
        "weft-nats@leaf.service",
    ] {
        let out = tokio::process::Command::new(&analyze)
            .arg("verify")
            .arg(unit)
            .current_dir(dir.path())
            .output()
            .await?;
        let (code, stdout, stderr) = weft_tests::cli::outcome(&out);
        // verify only warns about a bad line and exits 0: any word is a fault.
        assert!(
            code == 0 && stdout.trim().is_empty() && stderr.trim().is_empty(),
            "systemd-analyze verify {unit} ({code}): {stdout}{stderr}"
        );
    }
    Ok(())
}

#[tokio::test]
async fn the_environment_files_set_only_what_exists() -> anyhow::Result<()> {
    let help = tokio::process::Command::new(WEFT)
        .args(["host", "--help"])
        .output()
        .await?;
    let help = String::from_utf8_lossy(&help.stdout).into_owned();
    let unit = read("systemd/weft-host.service")?;
    for key in env_keys(&read("systemd/host.env")?) {
        assert!(
            reads_env(&help, &key) || unit.contains(&format!("${key}")),
            "host.env sets {key}, which neither `weft host` nor the unit reads"
        );
    }
    let mut read_by = read("systemd/weft-nats@.service")?;
    for conf in ["single", "cluster", "leaf"] {
        read_by.push_str(&read(&format!("nats/{conf}.conf"))?);
    }
    for key in env_keys(&read("systemd/nats.env")?) {
        assert!(
            read_by.contains(&format!("${key}")),
            "nats.env sets {key}, which no config of deploy/nats reads"
        );
    }
    Ok(())
}

fn docs(path: &str) -> anyhow::Result<Vec<Value>> {
    let text = read(path)?;
    let mut out = Vec::new();
    for doc in serde_yaml::Deserializer::from_str(&text) {
        let value = Value::deserialize(doc).map_err(|e| anyhow::anyhow!("{path}: {e}"))?;
        if !value.is_null() {
            out.push(value);
        }
    }
    Ok(out)
}

fn text<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter().try_fold(v, |v, k| v.get(*k))?.as_str()
}

/// The fields every object needs, and for workloads: a selector that
/// matches the pod template, named containers with images.
fn check_object(file: &str, doc: &Value) -> Result<(), String> {
    let kind = text(doc, &["kind"]).ok_or(format!("{file}: an object without kind"))?;
    let name =
        text(doc, &["metadata", "name"]).ok_or(format!("{file}: a {kind} without a name"))?;
    let at = format!("{file}: {kind} {name}");
    text(doc, &["apiVersion"]).ok_or(format!("{at}: no apiVersion"))?;
    if kind != "Namespace" && text(doc, &["metadata", "namespace"]) != Some("weft") {
        return Err(format!("{at}: not in namespace weft"));
    }
    if matches!(kind, "Deployment" | "StatefulSet") {
        let spec = &doc["spec"];
        let selector = spec["selector"]["matchLabels"]
            .as_mapping()
            .ok_or(format!("{at}: no spec.selector.matchLabels"))?;
        let labels = &spec["template"]["metadata"]["labels"];
        for (k, v) in selector {
            if labels.get(k) != Some(v) {
                return Err(format!(
                    "{at}: the selector's {k:?} is not on the pod template"
                ));
            }
        }
        let containers = spec["template"]["spec"]["containers"]
            .as_sequence()
            .filter(|c| !c.is_empty())
            .ok_or(format!("{at}: no containers"))?;
        for c in containers {
            if text(c, &["name"]).is_none() || text(c, &["image"]).is_none() {
                return Err(format!("{at}: a container without name or image"));
            }
        }
    }
    if kind == "Service" && doc["spec"]["ports"].as_sequence().is_none_or(Vec::is_empty) {
        return Err(format!("{at}: no ports"));
    }
    Ok(())
}

#[test]
fn the_kubernetes_manifests_are_complete_and_agree() -> anyhow::Result<()> {
    let mut all = Vec::new();
    for file in ["k8s/namespace.yaml", "k8s/nats.yaml", "k8s/weft-host.yaml"] {
        for doc in docs(file)? {
            check_object(file, &doc).map_err(anyhow::Error::msg)?;
            all.push(doc);
        }
    }
    let find = |kind: &str, name: &str| {
        all.iter().find(|d| {
            text(d, &["kind"]) == Some(kind) && text(d, &["metadata", "name"]) == Some(name)
        })
    };
    // The NATS config is deploy/nats/cluster.conf itself.
    let config = find("ConfigMap", "nats-config").ok_or(anyhow::anyhow!("no nats-config"))?;
    assert_eq!(
        text(config, &["data", "cluster.conf"]),
        Some(read("nats/cluster.conf")?.as_str()),
        "k8s/nats.yaml's cluster.conf differs from deploy/nats/cluster.conf"
    );
    // The StatefulSet's routes name each of its pods through its headless
    // Service, and every variable the config reads is set.
    let sts = find("StatefulSet", "nats").ok_or(anyhow::anyhow!("no nats StatefulSet"))?;
    let service = text(sts, &["spec", "serviceName"]).unwrap_or_default();
    let headless = find("Service", service).ok_or(anyhow::anyhow!("no Service {service}"))?;
    assert_eq!(text(headless, &["spec", "clusterIP"]), Some("None"));
    let replicas = sts["spec"]["replicas"].as_u64().unwrap_or(0);
    assert!(replicas >= 3, "JetStream needs 3 servers to lose one");
    let nats = &sts["spec"]["template"]["spec"]["containers"][0];
    let args: Vec<&str> = nats["args"]
        .as_sequence()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    for i in 0..replicas {
        let route = format!("nats-route://nats-{i}.{service}.weft.svc:6222");
        assert!(
            args.iter().any(|a| a.contains(&route)),
            "no route {route}: {args:?}"
        );
    }
    let set: BTreeSet<&str> = nats["env"]
        .as_sequence()
        .into_iter()
        .flatten()
        .filter_map(|e| text(e, &["name"]))
        .collect();
    let conf = read("nats/cluster.conf")?;
    for var in conf.split('$').skip(1) {
        let var: String = var
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        assert!(
            set.contains(var.as_str()),
            "cluster.conf reads {var}, which the StatefulSet does not set"
        );
    }
    // The hosts' variables are flags of `weft host`, and they use the
    // client Service.
    let host = find("Deployment", "weft-host").ok_or(anyhow::anyhow!("no weft-host"))?;
    let container = &host["spec"]["template"]["spec"]["containers"][0];
    let help = std::process::Command::new(WEFT)
        .args(["host", "--help"])
        .output()?;
    let help = String::from_utf8_lossy(&help.stdout).into_owned();
    for e in container["env"].as_sequence().into_iter().flatten() {
        let name = text(e, &["name"]).unwrap_or_default();
        if name.starts_with("WEFT_") {
            assert!(reads_env(&help, name), "weft host reads no {name}");
        }
        if name == "WEFT_NATS_URL" {
            let url = text(e, &["value"]).unwrap_or_default();
            let client = url
                .trim_start_matches("nats://")
                .split('.')
                .next()
                .unwrap_or_default();
            assert!(
                find("Service", client).is_some(),
                "{url}: no Service {client}"
            );
        }
    }
    Ok(())
}

#[test]
fn every_deploy_directory_has_a_readme() {
    for dir in ["nats", "systemd", "k8s"] {
        assert!(
            Path::new(&deploy(dir)).join("README.md").is_file(),
            "deploy/{dir} has no README.md"
        );
    }
}
