//! Components from a real OCI registry (Debian's docker-registry on a free
//! port): push, start by tag and by digest, update under load, one download
//! for concurrent pulls, and every bad input with a clear error and nothing
//! cached.

mod common;

use common::{serve_http, start_host};
use futures::StreamExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;
use weft_lattice_client::LatticeClient;
use weft_lattice_protocol::wire::{ScaleComponent, StringMap, UpdateComponent};
use weft_lattice_protocol::{EventName, Subjects};
use weft_oci::{
    Auth, Credentials, Error, NoProgress, Puller, PullerConfig, PushRequest, Pushed, Pusher,
};
use weft_tests::guests;
use weft_tests::http;
use weft_tests::nats::NatsServer;
use weft_tests::registry::Registry;

const LATTICE: &str = "oci";

async fn push(registry: &Registry, repo_tag: &str, guest: &str) -> anyhow::Result<Pushed> {
    push_as(registry, repo_tag, guest, Auth::Anonymous).await
}

async fn push_as(
    registry: &Registry,
    repo_tag: &str,
    guest: &str,
    auth: Auth,
) -> anyhow::Result<Pushed> {
    let credentials = Credentials::new().with_registry(registry.host(), auth);
    let pusher = Pusher::new(vec![], Arc::new(credentials));
    Ok(pusher
        .push(PushRequest {
            reference: registry.reference(repo_tag),
            wasm: guests::bytes(guest)?,
            annotations: StringMap::from([("org.opencontainers.image.title".into(), guest.into())]),
        })
        .await?)
}

/// A puller keeping blobs in `dir`, with `auth` for `registry` (a
/// `host:port`; credentials are bound to one registry).
fn puller(dir: &tempfile::TempDir, registry: &str, auth: Auth) -> Puller {
    Puller::new(
        PullerConfig::new(dir.path()),
        Arc::new(Credentials::new().with_registry(registry, auth)),
    )
}

fn scale(host: &str, id: &str, reference: &str) -> ScaleComponent {
    ScaleComponent {
        component_ref: reference.into(),
        component_id: id.into(),
        host_id: host.into(),
        max_instances: 8,
        annotations: StringMap::new(),
        config: vec![],
        allow_update: false,
        component_limits: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_start_by_tag_and_digest_then_update_under_load() -> anyhow::Result<()> {
    let registry = Registry::start().await?;
    let v1 = push(&registry, "app:1", "test_guest").await?;
    let v2 = push(&registry, "app:2", "http_hello").await?;
    assert_eq!(
        v1.component_digest,
        weft_oci::sha256_digest(&guests::bytes("test_guest")?)
    );

    let nats = NatsServer::start().await?;
    let host = start_host(&nats.url(), LATTICE, &[]).await?;
    let nc = async_nats::connect(nats.url()).await?;
    let subjects = Subjects::new("wasmbus.ctl", LATTICE)?;
    let mut scaled = nc
        .subscribe(subjects.event(EventName::ComponentScaled.as_str()))
        .await?;
    let client = LatticeClient::new(nc, subjects);
    let id = host.host.id().to_owned();

    // By tag.
    let tag = registry.reference("app:1");
    client
        .scale_component(&id, &scale(&id, "app", &tag))
        .await?;
    let event = tokio::time::timeout(Duration::from_secs(10), scaled.next())
        .await?
        .ok_or_else(|| anyhow::anyhow!("no component_scaled"))?;
    let event: serde_json::Value = serde_json::from_slice(&event.payload)?;
    assert_eq!(
        event["data"]["digest"],
        v1.component_digest.as_str(),
        "{event}"
    );
    let addr = serve_http(&client, &id, "http", "app").await?;
    assert_eq!(http::get(addr, "/ok").await?.body, "ok");
    let inventory = client.inventory(&id).await?;
    let app = inventory.components.iter().find(|c| c.id == "app");
    assert_eq!(app.map(|c| c.image_ref.as_str()), Some(tag.as_str()));
    assert_eq!(
        app.and_then(|c| c.digest.as_deref()),
        Some(v1.component_digest.as_str())
    );

    // By digest, with the manifest already in the host's store.
    let pinned = registry.reference(&format!("app@{}", v1.manifest_digest));
    client
        .scale_component(&id, &scale(&id, "pinned", &pinned))
        .await?;
    assert!(host.host.component("pinned").is_some());

    // Update to the new tag while requests keep coming: none fails.
    let stop = Arc::new(AtomicBool::new(false));
    let failed = Arc::new(AtomicU64::new(0));
    let mut load = Vec::new();
    for _ in 0..3 {
        let (stop, failed) = (stop.clone(), failed.clone());
        load.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                if !matches!(http::get(addr, "/ok").await, Ok(r) if r.status == 200) {
                    failed.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    let update = UpdateComponent {
        component_id: "app".into(),
        host_id: id.clone(),
        new_component_ref: registry.reference("app:2"),
        annotations: None,
    };
    client.update_component(&id, &update).await?;
    let after = http::get(addr, "/ok").await?;
    stop.store(true, Ordering::Relaxed);
    for task in load {
        task.await?;
    }
    assert_eq!(after.body, "Hello from Weft!\n");
    assert_eq!(
        failed.load(Ordering::Relaxed),
        0,
        "requests failed during the update"
    );
    let app = client
        .inventory(&id)
        .await?
        .components
        .into_iter()
        .find(|c| c.id == "app");
    assert_eq!(app.and_then(|c| c.digest), Some(v2.component_digest));
    Ok(())
}

#[tokio::test]
async fn concurrent_pulls_share_one_download_and_corrupt_entries_are_pulled_again()
-> anyhow::Result<()> {
    let registry = Registry::start().await?;
    push(&registry, "shared:1", "test_guest").await?;
    let dir = tempfile::tempdir()?;
    let puller = Arc::new(puller(&dir, "", Auth::Anonymous));
    let reference = registry.reference("shared:1");
    let (a, b) = tokio::join!(
        puller.pull(&reference, &NoProgress),
        puller.pull(&reference, &NoProgress)
    );
    let ((resolved, wasm), (_, again)) = (a?, b?);
    assert_eq!(wasm, again);
    assert_eq!(puller.downloads(), 1, "two pulls at once, one download");
    puller.pull(&reference, &NoProgress).await?;
    assert_eq!(puller.downloads(), 1, "the third comes from the store");

    let stored = puller
        .store()
        .path(&resolved.component_digest)
        .ok_or(anyhow::anyhow!("no path"))?;
    std::fs::write(&stored, b"corrupted")?;
    let (_, repaired) = puller.pull(&reference, &NoProgress).await?;
    assert_eq!(repaired, wasm);
    assert_eq!(puller.downloads(), 2, "the corrupt entry was pulled again");
    Ok(())
}

/// The store holds no blob of `digest` after a failed pull.
fn nothing_cached(puller: &Puller, digest: &str) -> anyhow::Result<()> {
    anyhow::ensure!(!puller.store().contains(digest), "{digest} was cached");
    Ok(())
}

#[tokio::test]
async fn bad_input_gets_a_clear_error_and_nothing_is_cached() -> anyhow::Result<()> {
    let mut registry = Registry::start().await?;
    let dir = tempfile::tempdir()?;
    let puller = puller(&dir, "", Auth::Anonymous);

    // Tag not found, repository not found.
    let missing = puller
        .pull(&registry.reference("app:nope"), &NoProgress)
        .await;
    assert!(
        matches!(missing, Err(Error::NotFound { .. })),
        "{missing:?}"
    );
    push(&registry, "app:1", "test_guest").await?;
    let missing = puller
        .pull(&registry.reference("app:nope"), &NoProgress)
        .await;
    assert!(
        matches!(missing, Err(Error::NotFound { .. })),
        "{missing:?}"
    );

    // A tampered blob in the registry's storage.
    let tampered = push(&registry, "tampered:1", "http_hello").await?;
    std::fs::write(
        registry.blob_path(&tampered.component_digest),
        b"\0asm\r\0\x01\0 not the pushed bytes",
    )?;
    let err = puller
        .pull(&registry.reference("tampered:1"), &NoProgress)
        .await;
    match err {
        Err(Error::DigestMismatch { expected, .. }) => {
            assert_eq!(expected, tampered.component_digest)
        }
        other => anyhow::bail!("a tampered blob: {other:?}"),
    }
    nothing_cached(&puller, &tampered.component_digest)?;

    // A layer over the size limit.
    let small = Puller::new(
        PullerConfig {
            max_size: 1_000,
            ..PullerConfig::new(dir.path())
        },
        Arc::new(Credentials::new()),
    );
    let big = push(&registry, "big:1", "test_guest").await?;
    match small.pull(&registry.reference("big:1"), &NoProgress).await {
        Err(Error::TooLarge { size, limit, .. }) => assert!(size > limit && limit == 1_000),
        other => anyhow::bail!("over the limit: {other:?}"),
    }
    nothing_cached(&small, &big.component_digest)?;

    // A manifest whose layer is not a component (pushed by hand, as another
    // tool might).
    let junk = b"this is not wasm".to_vec();
    let junk_digest = weft_oci::sha256_digest(&junk);
    push_raw(&registry, "junk:1", &junk).await?;
    let err = puller
        .pull(&registry.reference("junk:1"), &NoProgress)
        .await;
    assert!(matches!(err, Err(Error::NotAComponent { .. })), "{err:?}");
    nothing_cached(&puller, &junk_digest)?;

    // A reference with no registry, a malformed digest.
    assert!(matches!(
        puller.resolve("oci://app:1").await,
        Err(Error::BadReference { .. })
    ));
    let bad = registry.reference("app@sha256:xyz");
    assert!(matches!(
        puller.resolve(&bad).await,
        Err(Error::BadReference { .. })
    ));

    // Pushing something that is not a component is refused before upload.
    let pusher = Pusher::new(vec![], Arc::new(Credentials::new()));
    let refused = pusher
        .push(PushRequest {
            reference: registry.reference("nope:1"),
            wasm: b"\0asm\r\0\x01\0garbage".to_vec(),
            annotations: StringMap::new(),
        })
        .await;
    assert!(
        matches!(refused, Err(Error::NotAComponent { .. })),
        "{refused:?}"
    );

    // The registry goes away.
    registry.stop().await?;
    let down = puller.pull(&registry.reference("app:1"), &NoProgress).await;
    assert!(matches!(down, Err(Error::Unreachable { .. })), "{down:?}");
    Ok(())
}

/// Pushes `layer` as an `application/wasm` layer with oci-client directly,
/// bypassing Weft's checks.
async fn push_raw(registry: &Registry, repo_tag: &str, layer: &[u8]) -> anyhow::Result<()> {
    use oci_client::client::{ClientConfig, ClientProtocol, Config, ImageLayer};
    let client = oci_client::Client::new(ClientConfig {
        protocol: ClientProtocol::Http,
        ..ClientConfig::default()
    });
    let image: oci_client::Reference = format!("{}/{repo_tag}", registry.host()).parse()?;
    let layers = [ImageLayer::new(
        layer.to_vec(),
        weft_oci::media::WASM_LAYER.into(),
        None,
    )];
    let config = Config::new(b"{}".to_vec(), weft_oci::media::WASM_CONFIG.into(), None);
    client
        .push(
            &image,
            &layers,
            config,
            &oci_client::secrets::RegistryAuth::Anonymous,
            None,
        )
        .await?;
    Ok(())
}

#[tokio::test]
async fn a_registry_behind_htpasswd_needs_credentials() -> anyhow::Result<()> {
    let registry = Registry::start_with_auth("weft", "s3cret").await?;
    let good = Auth::Basic {
        user: "weft".into(),
        password: "s3cret".into(),
    };
    let anonymous_push = push(&registry, "private:1", "http_hello").await;
    assert!(
        matches!(
            anonymous_push
                .as_ref()
                .map_err(|e| e.downcast_ref::<Error>()),
            Err(Some(Error::Unauthorized { .. }))
        ),
        "{anonymous_push:?}"
    );
    let pushed = push_as(&registry, "private:1", "http_hello", good.clone()).await?;

    let dir = tempfile::tempdir()?;
    let anonymous = puller(&dir, "", Auth::Anonymous);
    let err = anonymous
        .pull(&registry.reference("private:1"), &NoProgress)
        .await;
    match &err {
        Err(e @ Error::Unauthorized { .. }) => {
            assert!(
                e.to_string().contains("--registry-auth"),
                "says what to do: {e}"
            )
        }
        other => anyhow::bail!("no credentials: {other:?}"),
    }
    nothing_cached(&anonymous, &pushed.component_digest)?;
    let wrong = puller(
        &dir,
        &registry.host(),
        Auth::Basic {
            user: "weft".into(),
            password: "nope".into(),
        },
    );
    assert!(matches!(
        wrong
            .pull(&registry.reference("private:1"), &NoProgress)
            .await,
        Err(Error::Unauthorized { .. })
    ));

    // Credentials put at run time (as registry.put does) are used next time.
    anonymous.credentials().put(&registry.host(), good);
    let (resolved, _) = anonymous
        .pull(&registry.reference("private:1"), &NoProgress)
        .await?;
    assert_eq!(resolved.component_digest, pushed.component_digest);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn artifacts_cross_between_weft_and_oras() -> anyhow::Result<()> {
    let registry = Registry::start().await?;
    let host_name = registry.host();

    // oras pushes, Weft pulls and runs.
    let wasm = guests::path("test_guest")?;
    let path = wasm.display().to_string();
    let args = vec![
        "push".into(),
        host_name.clone(),
        "by-oras/app:1".into(),
        path,
    ];
    tokio::task::spawn_blocking(move || weft_tests::oras::run(args)).await??;
    let nats = NatsServer::start().await?;
    let host = start_host(&nats.url(), LATTICE, &[]).await?;
    let client = common::client(&nats.url(), LATTICE).await?;
    let id = host.host.id().to_owned();
    client
        .scale_component(
            &id,
            &scale(&id, "app", &registry.reference("by-oras/app:1")),
        )
        .await?;
    let addr = serve_http(&client, &id, "http", "app").await?;
    assert_eq!(http::get(addr, "/ok").await?.body, "ok");
    let running = host
        .host
        .component("app")
        .ok_or(anyhow::anyhow!("not running"))?;
    assert_eq!(
        format!("sha256:{}", running.digest()),
        weft_oci::sha256_digest(&std::fs::read(&wasm)?)
    );

    // Weft pushes, oras pulls the same bytes.
    let pushed = push(&registry, "by-weft/app:1", "http_hello").await?;
    let out = tempfile::tempdir()?;
    let outdir = out.path().display().to_string();
    let args = vec!["pull".into(), host_name, "by-weft/app:1".into(), outdir];
    let pulled = tokio::task::spawn_blocking(move || weft_tests::oras::run(args)).await??;
    let files = pulled["files"].as_array().cloned().unwrap_or_default();
    assert_eq!(files.len(), 1, "{pulled}");
    let file = files[0].as_str().unwrap_or_default();
    assert_eq!(
        weft_oci::sha256_digest(&std::fs::read(file)?),
        pushed.component_digest
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registry_put_gives_hosts_the_credentials_a_private_registry_wants() -> anyhow::Result<()> {
    let registry = Registry::start_with_auth("weft", "s3cret").await?;
    let good = Auth::Basic {
        user: "weft".into(),
        password: "s3cret".into(),
    };
    push_as(&registry, "private:1", "http_hello", good).await?;
    let nats = NatsServer::start().await?;
    let host = start_host(&nats.url(), LATTICE, &[]).await?;
    let nc = async_nats::connect(nats.url()).await?;
    let subjects = Subjects::new("wasmbus.ctl", LATTICE)?;
    let client = LatticeClient::new(nc.clone(), subjects.clone());
    let id = host.host.id().to_owned();
    let reference = registry.reference("private:1");

    let refused = client
        .scale_component(&id, &scale(&id, "app", &reference))
        .await;
    let message = refused.expect_err("no credentials yet").to_string();
    assert!(message.contains("refused access"), "{message}");

    // As wash sends it: every host takes it, no reply expected.
    let body = serde_json::json!({
        registry.host(): {"username": "weft", "password": "s3cret", "registryType": "oci"}
    });
    nc.publish(
        subjects.subject(&weft_lattice_protocol::Operation::RegistryPut),
        serde_json::to_vec(&body)?.into(),
    )
    .await?;
    weft_tests::net::wait_for("the credentials to arrive", Duration::from_secs(10), || {
        let client = client.clone();
        let (id, reference) = (id.clone(), reference.clone());
        async move {
            client
                .scale_component(&id, &scale(&id, "app", &reference))
                .await
                .ok()
        }
    })
    .await?;
    assert!(host.host.component("app").is_some());
    Ok(())
}
