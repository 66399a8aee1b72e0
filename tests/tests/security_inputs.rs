//! Bounded inputs: whatever a lattice peer, a guest or a message flood
//! sends is held to a limit, with a clear error or a counted drop, and the
//! host keeps serving. (Registries' answers are in security_registry.rs,
//! deadlines from the wire in security_deadlines.rs, keyvalue quotas in
//! security_keyvalue.rs.)

mod common;

use common::{provider, scale, start_host};
use std::time::Duration;
use weft_lattice_client::ErrorKind;
use weft_lattice_protocol::wire::StringMap;
use weft_tests::nats::NatsServer;
use weft_tests::net::wait_for;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_refs_load_only_regular_files_within_the_size_limit() -> anyhow::Result<()> {
    let nats = NatsServer::start().await?;
    let host = start_host(&nats.url(), "files", &[]).await?;
    let client = common::client(&nats.url(), "files").await?;
    let id = host.host.id().to_owned();
    let dir = tempfile::tempdir()?;
    // A FIFO: opening it for reading would wait for a writer for ever.
    let fifo = dir.path().join("fifo.wasm");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status()?;
    anyhow::ensure!(made.success(), "mkfifo failed");
    // A file one byte over the limit (sparse: it costs no disk).
    let big = dir.path().join("big.wasm");
    std::fs::File::create(&big)?.set_len(weft_oci::DEFAULT_MAX_SIZE + 1)?;
    for (path, why) in [
        ("/dev/zero".into(), "not a regular file"),
        (fifo.display().to_string(), "not a regular file"),
        (big.display().to_string(), "over the limit"),
        (dir.path().display().to_string(), "not a regular file"),
    ] {
        let mut cmd = scale(&id, "app", "test_guest", &[])?;
        cmd.component_ref = format!("file://{path}");
        let refused =
            tokio::time::timeout(Duration::from_secs(20), client.scale_component(&id, &cmd))
                .await
                .map_err(|_| anyhow::anyhow!("loading {path} did not end"))?;
        let Err(e) = refused else {
            anyhow::bail!("{path} was loaded");
        };
        assert_eq!(e.kind(), ErrorKind::Rejected, "{path}: {e}");
        assert!(e.message().contains(why), "{path}: {e}");
    }
    // The host still starts a real component.
    client
        .scale_component(&id, &scale(&id, "app", "test_guest", &[])?)
        .await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_a_guest_prints_goes_to_the_log_under_its_name() -> anyhow::Result<()> {
    let log = weft_tests::log::capture();
    let nats = NatsServer::start().await?;
    let host = start_host(&nats.url(), "print", &[]).await?;
    let client = common::client(&nats.url(), "print").await?;
    let id = host.host.id().to_owned();
    client
        .scale_component(&id, &scale(&id, "printer", "test_guest", &[])?)
        .await?;
    let addr = common::serve_http(&client, &id, "http", "printer").await?;
    assert_eq!(weft_tests::http::get(addr, "/print").await?.status, 200);
    wait_for(
        "the printed lines in the log",
        Duration::from_secs(10),
        || async { (log.contains("no newline at the end")).then_some(()) },
    )
    .await?;
    // Each printed line is a log line of the component's, never a bare
    // line that could pass for the host's own.
    for printed in [
        "Host N1 stopped.",
        "the host's credentials are hunter2",
        "no newline at the end",
    ] {
        let lines = log.lines_with(printed);
        assert!(!lines.is_empty(), "{printed} was not logged");
        for line in lines {
            assert!(
                line.contains("component=\"printer\"") || line.contains("component=printer"),
                "a printed line without its component: {line}"
            );
        }
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_for_a_stuck_component_is_dropped_and_counted() -> anyhow::Result<()> {
    let nats = NatsServer::start().await?;
    let host = start_host(&nats.url(), "flood", &[]).await?;
    let client = common::client(&nats.url(), "flood").await?;
    let raw = async_nats::connect(nats.url()).await?;
    let id = host.host.id().to_owned();
    // One slot, and every message waits a second for a reply that never
    // comes: the component handles one message a second.
    let mut stuck = scale(&id, "echo", "echo", &[])?;
    stuck.max_instances = 1;
    client.scale_component(&id, &stuck).await?;
    client
        .start_provider(&id, &provider("nats", "builtin:messaging-nats", &[]))
        .await?;
    client
        .put_config(
            "subs",
            &StringMap::from([("subscriptions".into(), "flood.in".into())]),
        )
        .await?;
    common::messaging_both_ways(&client, "echo", "nats", "subs").await?;
    let _silent = raw.subscribe("flood.silent").await?;
    // Wait until the subscription is there.
    wait_for("the subscription", Duration::from_secs(20), || async {
        let reply = tokio::time::timeout(
            Duration::from_secs(3),
            raw.request("flood.in", "hello".into()),
        )
        .await
        .ok()?
        .ok()?;
        (reply.payload.as_ref() == b"hello").then_some(())
    })
    .await?;
    for _ in 0..5_000 {
        raw.publish("flood.in", "request flood.silent x".into())
            .await?;
    }
    raw.flush().await?;
    let dropped = wait_for("drops to be counted", Duration::from_secs(30), || async {
        host.host
            .metrics()
            .lines()
            .find_map(|l| {
                l.strip_prefix(
                    "weft_messaging_dropped_total{component=\"echo\",action=\"backlog\"} ",
                )
                .and_then(|n| n.trim().parse::<u64>().ok())
            })
            .filter(|n| *n > 0)
    })
    .await?;
    assert!(dropped > 0);
    // The host still answers, and so does its control plane.
    assert_eq!(client.hosts().await?.len(), 1);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_control_requests_leaves_the_host_answering() -> anyhow::Result<()> {
    let nats = NatsServer::start().await?;
    let host = start_host(&nats.url(), "ctlflood", &[]).await?;
    let client = common::client(&nats.url(), "ctlflood").await?;
    let raw = async_nats::connect(nats.url()).await?;
    let subject = format!("wasmbus.ctl.v1.ctlflood.label.put.{}", host.host.id());
    for i in 0..20_000 {
        raw.publish(
            subject.clone(),
            format!("{{\"key\":\"k{}\",\"value\":\"v\"}}", i % 10).into(),
        )
        .await?;
    }
    raw.flush().await?;
    wait_for(
        "the host to answer after the flood",
        Duration::from_secs(30),
        || async { client.hosts().await.ok().filter(|h| h.len() == 1) },
    )
    .await?;
    Ok(())
}
