//! `component.update`: a running component switches to another image while
//! requests keep coming through `builtin:http-server`; none fails, and the
//! requests after the reply are served by the new image.

mod common;

use common::{scale, serve_http, start_host};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use weft_lattice_client::ErrorKind;
use weft_lattice_protocol::wire::UpdateComponent;
use weft_tests::nats::NatsServer;
use weft_tests::{guests, http};

const LATTICE: &str = "update";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_switches_images_under_load_with_no_failed_request() -> anyhow::Result<()> {
    let nats = NatsServer::start().await?;
    let host = start_host(&nats.url(), LATTICE, &[]).await?;
    let client = common::client(&nats.url(), LATTICE).await?;
    let id = host.host.id().to_owned();
    client
        .scale_component(&id, &scale(&id, "app", "test_guest", &[])?)
        .await?;
    let addr = serve_http(&client, &id, "http", "app").await?;
    assert_eq!(http::get(addr, "/ok").await?.body, "ok");

    let stop = Arc::new(AtomicBool::new(false));
    let (ok, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let mut load = Vec::new();
    for _ in 0..4 {
        let (stop, ok, failed) = (stop.clone(), ok.clone(), failed.clone());
        load.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                match http::get(addr, "/ok").await {
                    Ok(r) if r.status == 200 => ok.fetch_add(1, Ordering::Relaxed),
                    _ => failed.fetch_add(1, Ordering::Relaxed),
                };
            }
        }));
    }
    let hello = format!("file://{}", guests::path("http_hello")?.display());
    let update = UpdateComponent {
        component_id: "app".into(),
        host_id: id.clone(),
        new_component_ref: hello.clone(),
        annotations: None,
    };
    client.update_component(&id, &update).await?;
    let after = http::get(addr, "/ok").await?;
    stop.store(true, Ordering::Relaxed);
    for task in load {
        task.await?;
    }
    assert_eq!(
        (after.status, after.body.as_str()),
        (200, "Hello from Weft!\n")
    );
    assert_eq!(
        failed.load(Ordering::Relaxed),
        0,
        "failed requests during the update"
    );
    assert!(ok.load(Ordering::Relaxed) > 0);
    let inventory = client.inventory(&id).await?;
    let app = inventory.components.iter().find(|c| c.id == "app");
    assert_eq!(app.map(|c| c.image_ref.as_str()), Some(hello.as_str()));
    assert_eq!(app.map(|c| c.max_instances), Some(8), "limits carry over");

    let missing = UpdateComponent {
        component_id: "ghost".into(),
        ..update
    };
    let err = client
        .update_component(&id, &missing)
        .await
        .expect_err("not running");
    assert_eq!(err.kind(), ErrorKind::Rejected);
    assert!(err.to_string().contains("not running"), "{err}");
    Ok(())
}
