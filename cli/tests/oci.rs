//! `weft push`, `weft pull` and `weft start component oci://…` as a user
//! runs them: real processes, a real docker-registry and nats-server.

use serde_json::Value;
use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;
use tokio::process::Command;
use weft_tests::nats::NatsServer;
use weft_tests::registry::Registry;
use weft_tests::{guests, http, net};

const WEFT: &str = env!("CARGO_BIN_EXE_weft");

/// `weft ARGS…` with a private HOME (no Docker config of the machine's) and
/// OCI store: (exit code, stdout, stderr).
async fn weft(home: &std::path::Path, args: &[&str]) -> anyhow::Result<(i32, String, String)> {
    let out = Command::new(WEFT)
        .args(args)
        .env("HOME", home)
        .env_remove("DOCKER_CONFIG")
        .env_remove("WEFT_REGISTRY_USER")
        .env_remove("WEFT_REGISTRY_PASSWORD")
        .env_remove("WEFT_REGISTRY_TOKEN")
        .output()
        .await?;
    Ok(weft_tests::cli::outcome(&out))
}

async fn json(home: &std::path::Path, args: &[&str]) -> anyhow::Result<Value> {
    let mut all = args.to_vec();
    all.extend(["-o", "json"]);
    let (code, stdout, stderr) = weft(home, &all).await?;
    anyhow::ensure!(code == 0, "weft {args:?} failed: {stderr}");
    Ok(serde_json::from_str(&stdout)?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_pull_and_start_from_a_local_registry() -> anyhow::Result<()> {
    let home = tempfile::tempdir()?;
    let h = home.path();
    let registry = Registry::start().await?;
    let wasm = guests::path("http_hello")?.display().to_string();
    let reference = registry.reference("hello:1.0");

    let pushed = json(
        h,
        &[
            "push",
            &wasm,
            &reference,
            "--annotation",
            "org.opencontainers.image.version=1.0",
        ],
    )
    .await?;
    let digest = pushed["component_digest"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert_eq!(
        digest,
        weft_oci::sha256_digest(&guests::bytes("http_hello")?)
    );

    let pulled = json(h, &["pull", &reference]).await?;
    assert_eq!(pulled["component_digest"], digest.as_str());
    assert!(
        pulled["pinned"]
            .as_str()
            .is_some_and(|p| p.contains("@sha256:")),
        "{pulled}"
    );
    let stored = h
        .join(".cache/weft/oci/blobs/sha256")
        .join(digest.trim_start_matches("sha256:"));
    assert!(
        stored.is_file(),
        "pulled into the user's cache: {}",
        stored.display()
    );

    // Not a component: refused before anything is uploaded.
    let junk = h.join("junk.wasm");
    std::fs::write(&junk, b"not wasm at all")?;
    let (code, _, stderr) = weft(
        h,
        &[
            "push",
            &junk.display().to_string(),
            &registry.reference("junk:1"),
        ],
    )
    .await?;
    assert_eq!(code, 1);
    assert!(stderr.contains("not a WebAssembly component"), "{stderr}");
    let (code, _, stderr) = weft(h, &["pull", &registry.reference("hello:nope")]).await?;
    assert_eq!(code, 1);
    assert!(stderr.contains("not found"), "{stderr}");

    // A host (no --allow-file-load) starts it from the registry.
    let nats = NatsServer::start().await?;
    let lattice = ["--nats", &nats.url(), "--lattice", "oci"];
    let cache = tempfile::tempdir()?;
    let _host = Command::new(WEFT)
        .args(["host"])
        .args(lattice)
        .arg("--cache-dir")
        .arg(cache.path())
        .arg("--oci-dir")
        .arg(cache.path().join("oci"))
        .env("HOME", h)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()?;
    net::wait_for("the host to join", Duration::from_secs(20), || async {
        let hosts = json(h, &[&["get", "hosts"][..], &lattice].concat())
            .await
            .ok()?;
        (hosts.as_array()?.len() == 1).then_some(())
    })
    .await?;
    let mut start = vec!["start", "component", &reference, "hello"];
    start.extend(lattice);
    json(h, &start).await?;
    let addr = SocketAddr::from(([127, 0, 0, 1], net::free_port()?));
    let address = format!("address={addr}");
    for args in [
        vec!["config", "put", "hello-http", &address],
        vec!["start", "provider", "builtin:http-server", "http"],
        vec![
            "link",
            "put",
            "http",
            "hello",
            "wasi",
            "http",
            "--interface",
            "incoming-handler",
            "--source-config",
            "hello-http",
        ],
    ] {
        json(h, &[&args[..], &lattice].concat()).await?;
    }
    net::wait_for_port(addr, Duration::from_secs(20)).await?;
    assert_eq!(http::get(addr, "/").await?.body, "Hello from Weft!\n");
    let inventory = json(h, &[&["get", "inventory"][..], &lattice].concat()).await?;
    assert_eq!(inventory[0]["components"][0]["digest"], digest.as_str());
    Ok(())
}
