//! Supply chain: a host told which registries it may pull from, and to run
//! images only by digest, refuses everything else before fetching a byte,
//! with an error that says what to do, and does not bid for it in auctions.

use std::collections::BTreeMap;
use std::sync::Arc;
use weft_host::{HostApi, HostBuilder, ScaleError, ScaleRequest};
use weft_lattice_protocol::wire::StringMap;
use weft_oci::{Credentials, Puller, PullerConfig, PushRequest, Pusher};
use weft_tests::guests;
use weft_tests::registry::Registry;

fn request(id: &str, image_ref: &str) -> ScaleRequest {
    ScaleRequest {
        component_id: id.into(),
        image_ref: image_ref.into(),
        max_instances: 1,
        allow_update: false,
        annotations: BTreeMap::new(),
        config: BTreeMap::new(),
        max_memory: None,
        timeout: None,
    }
}

#[tokio::test]
async fn only_allowed_registries_and_pinned_digests_run() -> anyhow::Result<()> {
    let registry = Registry::start().await?;
    let pusher = Pusher::new(vec![], Arc::new(Credentials::new()));
    let pushed = pusher
        .push(PushRequest {
            reference: registry.reference("hello:1.0"),
            wasm: guests::bytes("http_hello")?,
            annotations: StringMap::new(),
        })
        .await?;
    let by_tag = registry.reference("hello:1.0");
    let by_digest = format!("{}@{}", registry.reference("hello"), pushed.manifest_digest);
    let store = tempfile::tempdir()?;
    let host = |registries: Vec<String>, pinned: bool| {
        let puller = Puller::new(
            PullerConfig::new(store.path()),
            Arc::new(Credentials::new()),
        );
        HostBuilder::new()
            .with_cache_dir(guests::cache_dir())
            .with_oci(Arc::new(puller))
            .with_allowed_registries(registries)
            .with_digests_required(pinned)
            .build()
    };

    // Pinned and from the allowed registry: a tag is refused, the digest runs.
    let strict = host(vec![registry.host()], true)?;
    let refused = strict.scale(request("a", &by_tag)).await.err();
    assert!(
        matches!(refused, Some(ScaleError::DigestRequired(_))),
        "{refused:?}"
    );
    let message = refused.map(|e| e.to_string()).unwrap_or_default();
    assert!(message.contains("@sha256:"), "{message}");
    strict.scale(request("a", &by_digest)).await?;
    assert!(strict.component("a").is_some());

    // Another registry only: refused by name, and no bid in an auction.
    let elsewhere = host(vec!["ghcr.io".into()], false)?;
    let refused = elsewhere.scale(request("b", &by_tag)).await.err();
    let message = refused.as_ref().map(|e| e.to_string()).unwrap_or_default();
    assert!(
        matches!(refused, Some(ScaleError::RegistryNotAllowed { .. })),
        "{refused:?}"
    );
    assert!(
        message.contains(&registry.host()) && message.contains("ghcr.io"),
        "{message}"
    );
    let decline = elsewhere.bid("b", &by_tag, &BTreeMap::new()).err();
    assert!(
        decline.is_some_and(|d| d.to_string().contains("--allow-registry")),
        "a host that would refuse must not bid"
    );
    assert!(elsewhere.component("b").is_none());

    // No policy: anything goes, as before.
    let open = host(vec![], false)?;
    open.scale(request("c", &by_tag)).await?;
    Ok(())
}
