//! The lattice commands (`weft get|config|link|label`) as a user runs them,
//! against a real `weft host` on a real nats-server.

use serde_json::Value;
use std::process::Stdio;
use std::time::Duration;
use tokio::process::{Child, Command};
use weft_tests::guests;
use weft_tests::nats::NatsServer;
use weft_tests::net::wait_for;

const WEFT: &str = env!("CARGO_BIN_EXE_weft");

/// `weft ARGS… --nats URL --lattice L`: (exit code, stdout, stderr).
async fn weft(
    nats: &NatsServer,
    lattice: &str,
    args: &[&str],
) -> anyhow::Result<(i32, String, String)> {
    weft_tests::cli::run_on(WEFT, &nats.url(), lattice, args).await
}

async fn json(nats: &NatsServer, lattice: &str, args: &[&str]) -> anyhow::Result<Value> {
    let mut all = args.to_vec();
    all.extend(["-o", "json"]);
    let (code, stdout, stderr) = weft(nats, lattice, &all).await?;
    anyhow::ensure!(code == 0, "weft {args:?} failed: {stderr}");
    Ok(serde_json::from_str(&stdout)?)
}

async fn start_host(
    nats: &NatsServer,
    lattice: &str,
) -> anyhow::Result<(Child, tempfile::TempDir)> {
    start_host_with(nats, lattice, &[]).await
}

async fn start_host_with(
    nats: &NatsServer,
    lattice: &str,
    extra: &[&str],
) -> anyhow::Result<(Child, tempfile::TempDir)> {
    let cache = tempfile::tempdir()?;
    let child = Command::new(WEFT)
        .args(["host", "--nats", &nats.url(), "--lattice", lattice])
        .args(extra)
        .arg("--cache-dir")
        .arg(cache.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()?;
    Ok((child, cache))
}

#[tokio::test]
async fn get_config_link_and_label_commands_drive_a_host() -> anyhow::Result<()> {
    let nats = NatsServer::start().await?;
    let _host = start_host(&nats, "cli").await?;
    let hosts = wait_for(
        "weft get hosts to list the host",
        Duration::from_secs(30),
        || async {
            let hosts = json(&nats, "cli", &["get", "hosts"]).await.ok()?;
            (hosts.as_array()?.len() == 1).then_some(hosts)
        },
    )
    .await?;
    let id = hosts[0]["id"].as_str().unwrap_or_default().to_owned();

    json(
        &nats,
        "cli",
        &["config", "put", "kv", "bucket=counts", "url=redis://x"],
    )
    .await?;
    let config = json(&nats, "cli", &["config", "get", "kv"]).await?;
    assert_eq!(config["bucket"], "counts");

    let link = [
        "link",
        "put",
        "app",
        "cache",
        "wasi",
        "keyvalue",
        "--interface",
        "store",
        "--interface",
        "atomics",
        "--source-config",
        "kv",
    ];
    json(&nats, "cli", &link).await?;
    let links = json(&nats, "cli", &["link", "get"]).await?;
    assert_eq!(links[0]["target"], "cache");
    assert_eq!(
        links[0]["interfaces"],
        serde_json::json!(["store", "atomics"])
    );
    let (code, table, _) = weft(&nats, "cli", &["get", "links"]).await?;
    assert_eq!(code, 0);
    assert!(table.contains("wasi:keyvalue/{store,atomics}"), "{table}");

    json(&nats, "cli", &["label", "put", &id, "zone=eu"]).await?;
    let inventory = json(&nats, "cli", &["get", "inventory", &id]).await?;
    assert_eq!(inventory[0]["labels"]["zone"], "eu");
    json(&nats, "cli", &["label", "del", &id, "zone"]).await?;

    json(&nats, "cli", &["link", "del", "app", "wasi", "keyvalue"]).await?;
    assert_eq!(
        json(&nats, "cli", &["link", "get"]).await?,
        serde_json::json!([])
    );
    json(&nats, "cli", &["config", "del", "kv"]).await?;
    Ok(())
}

#[tokio::test]
async fn refusals_and_empty_lattices_say_what_to_do() -> anyhow::Result<()> {
    let nats = NatsServer::start().await?;
    // No host yet: listing is empty and says how to start one; a request
    // that needs a host says there is none.
    let (code, stdout, _) = weft(&nats, "empty", &["get", "hosts"]).await?;
    assert_eq!(code, 0);
    assert!(stdout.contains("weft host"), "{stdout}");
    let (code, _, stderr) = weft(&nats, "empty", &["config", "get", "x"]).await?;
    assert_ne!(code, 0);
    assert!(stderr.contains("weft host"), "{stderr}");

    let _host = start_host(&nats, "busy").await?;
    wait_for("the host to answer", Duration::from_secs(30), || async {
        let hosts = json(&nats, "busy", &["get", "hosts"]).await.ok()?;
        (hosts.as_array()?.len() == 1).then_some(())
    })
    .await?;
    let (code, _, stderr) = weft(
        &nats,
        "busy",
        &["get", "inventory", "NOSUCHHOST", "--timeout", "1s"],
    )
    .await?;
    assert_ne!(code, 0);
    assert!(stderr.contains("weft get hosts"), "{stderr}");
    let (code, _, stderr) = weft(&nats, "busy", &["config", "get", "missing"]).await?;
    assert_ne!(code, 0);
    assert!(stderr.contains("no config named `missing`"), "{stderr}");
    let put = [
        "link",
        "put",
        "app",
        "cache",
        "wasi",
        "keyvalue",
        "--interface",
        "store",
        "--source-config",
        "nope",
    ];
    let (code, _, stderr) = weft(&nats, "busy", &put).await?;
    assert_ne!(code, 0);
    assert!(stderr.contains("`nope`"), "{stderr}");
    let (code, _, stderr) = weft(
        &nats,
        "busy",
        &["link", "put", "app", "cache", "wasi", "keyvalue"],
    )
    .await?;
    assert_ne!(code, 0, "missing --interface is a usage error");
    assert!(stderr.contains("--interface"), "{stderr}");
    Ok(())
}

#[tokio::test]
async fn start_places_by_constraint_scale_resizes_and_stop_removes() -> anyhow::Result<()> {
    let nats = NatsServer::start().await?;
    let l = "place";
    let _eu = start_host_with(&nats, l, &["--allow-file-load", "--label", "zone=eu"]).await?;
    let _us = start_host_with(&nats, l, &["--allow-file-load", "--label", "zone=us"]).await?;
    let _locked = start_host_with(&nats, l, &["--label", "zone=locked"]).await?;
    let hosts = wait_for("three hosts", Duration::from_secs(30), || async {
        let hosts = json(&nats, l, &["get", "hosts"]).await.ok()?;
        (hosts.as_array()?.len() == 3).then_some(hosts)
    })
    .await?;
    let host_in = |zone: &str| {
        hosts
            .as_array()
            .into_iter()
            .flatten()
            .find(|h| h["labels"]["zone"] == zone)
            .and_then(|h| h["id"].as_str())
            .unwrap_or_default()
            .to_owned()
    };
    let wasm = format!("file://{}", guests::path("test_guest")?.display());

    let started = json(
        &nats,
        l,
        &[
            "start",
            "component",
            &wasm,
            "app",
            "--max",
            "2",
            "--constraint",
            "zone=us",
        ],
    )
    .await?;
    assert_eq!(started["host_id"], host_in("us").as_str());
    let inventory = json(&nats, l, &["get", "inventory", &host_in("us")]).await?;
    assert_eq!(inventory[0]["components"][0]["id"], "app");
    assert_eq!(inventory[0]["components"][0]["image_ref"], wasm.as_str());
    assert_eq!(inventory[0]["components"][0]["max_instances"], 2);

    // Already running on the only host that qualifies: nobody bids.
    let (code, _, stderr) = weft(
        &nats,
        l,
        &[
            "start",
            "component",
            &wasm,
            "app",
            "--constraint",
            "zone=us",
        ],
    )
    .await?;
    assert_ne!(code, 0);
    assert!(stderr.contains("no host"), "{stderr}");
    let (code, _, stderr) = weft(
        &nats,
        l,
        &[
            "start",
            "component",
            &wasm,
            "x",
            "--constraint",
            "zone=mars",
        ],
    )
    .await?;
    assert_ne!(code, 0);
    assert!(stderr.contains("zone=mars"), "{stderr}");
    // A host without --allow-file-load refuses, and says how to allow it.
    let locked = host_in("locked");
    let (code, _, stderr) = weft(
        &nats,
        l,
        &["start", "component", &wasm, "x", "--host", &locked],
    )
    .await?;
    assert_ne!(code, 0);
    assert!(stderr.contains("--allow-file-load"), "{stderr}");
    let (code, _, stderr) = weft(
        &nats,
        l,
        &[
            "start",
            "component",
            "oci://reg/x:1",
            "y",
            "--constraint",
            "zone=eu",
        ],
    )
    .await?;
    assert_ne!(code, 0);
    assert!(stderr.contains("name the registry"), "{stderr}");

    json(&nats, l, &["scale", "component", "app", "--max", "5"]).await?;
    let inventory = json(&nats, l, &["get", "inventory", &host_in("us")]).await?;
    assert_eq!(inventory[0]["components"][0]["max_instances"], 5);

    json(&nats, l, &["stop", "component", "app"]).await?;
    let inventory = json(&nats, l, &["get", "inventory", &host_in("us")]).await?;
    assert_eq!(inventory[0]["components"], serde_json::json!([]));
    let (code, _, stderr) = weft(&nats, l, &["stop", "component", "app"]).await?;
    assert_ne!(code, 0);
    assert!(stderr.contains("not running"), "{stderr}");
    Ok(())
}

#[tokio::test]
async fn secret_config_values_are_masked_unless_revealed() -> anyhow::Result<()> {
    let nats = NatsServer::start().await?;
    let _host = start_host(&nats, "secret").await?;
    wait_for("the host", Duration::from_secs(30), || async {
        let hosts = json(&nats, "secret", &["get", "hosts"]).await.ok()?;
        (hosts.as_array()?.len() == 1).then_some(())
    })
    .await?;
    let put = [
        "config",
        "put",
        "db",
        "user=app",
        "password=hunter2",
        "--secret",
        "password",
    ];
    json(&nats, "secret", &put).await?;

    let (code, text, _) = weft(&nats, "secret", &["config", "get", "db"]).await?;
    assert_eq!(code, 0);
    assert!(text.contains("user=app"), "{text}");
    assert!(
        text.contains("password=••••") && !text.contains("hunter2"),
        "{text}"
    );
    assert!(!text.contains("weft.secret_keys"), "{text}");
    let shown = json(&nats, "secret", &["config", "get", "db"]).await?;
    assert_eq!(shown["password"], "••••");
    let revealed = json(&nats, "secret", &["config", "get", "db", "--reveal"]).await?;
    assert_eq!(revealed["password"], "hunter2");
    assert!(revealed.get("weft.secret_keys").is_none(), "{revealed}");

    // A secret key without a value is refused, naming it.
    let (code, _, stderr) = weft(
        &nats,
        "secret",
        &["config", "put", "db", "user=app", "--secret", "pasword"],
    )
    .await?;
    assert_ne!(code, 0);
    assert!(stderr.contains("--secret pasword"), "{stderr}");
    Ok(())
}
