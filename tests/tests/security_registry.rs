//! Hole 4 of the security issue, and what registries send: credentials are
//! bound to their registry (another registry, or a token realm on another
//! host, gets nothing), and whatever a registry answers — an endless
//! manifest, an endless error body, a redirect elsewhere — is read with a
//! limit and followed only on its own host. The host-level reproduction
//! (`weft host` with unbound credentials) is cli/tests/security_registry.rs.

use std::sync::Arc;
use std::time::Duration;
use weft_oci::{Auth, Credentials, Error, NoProgress, Puller, PullerConfig, PushRequest, Pusher};
use weft_tests::fake::{FakeServer, response};
use weft_tests::guests;
use weft_tests::registry::Registry;

fn basic() -> Auth {
    Auth::Basic {
        user: "weft".into(),
        password: "s3cret".into(),
    }
}

/// A puller with a store of its own and `basic()` bound to `registry`.
fn puller_for(dir: &tempfile::TempDir, registry: &str) -> Puller {
    let credentials = Credentials::new().with_registry(registry, basic());
    Puller::new(PullerConfig::new(dir.path()), Arc::new(credentials))
}

/// Whether any request `server` saw carried credentials.
fn saw_credentials(server: &FakeServer) -> bool {
    server
        .seen()
        .iter()
        .any(|s| s.header("authorization").is_some())
}

/// Pulls `reference`, failing the test if it hangs.
async fn pull(puller: &Puller, reference: &str) -> anyhow::Result<Result<(), Error>> {
    let pulled = tokio::time::timeout(Duration::from_secs(20), puller.pull(reference, &NoProgress))
        .await
        .map_err(|_| anyhow::anyhow!("pulling {reference} did not end within 20 s"))?;
    Ok(pulled.map(drop))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_for_one_registry_never_reach_another() -> anyhow::Result<()> {
    let registry = Registry::start_with_auth("weft", "s3cret").await?;
    let pusher = Pusher::new(
        vec![],
        Arc::new(Credentials::new().with_registry(registry.host(), basic())),
    );
    pusher
        .push(PushRequest {
            reference: registry.reference("app:1"),
            wasm: guests::bytes("http_hello")?,
            annotations: Default::default(),
        })
        .await?;
    // A registry anyone can name in a manifest or a scale request: it asks
    // for basic credentials on every request.
    let evil = FakeServer::start(|_| {
        response(401, &[("www-authenticate", r#"Basic realm="evil""#)], b"{}")
    })
    .await?;
    let dir = tempfile::tempdir()?;
    let puller = puller_for(&dir, &registry.host());
    let stolen = pull(&puller, &format!("oci://{}/app:1", evil.host())).await?;
    assert!(
        matches!(stolen, Err(Error::Unauthorized { .. })),
        "{stolen:?}"
    );
    assert!(!evil.seen().is_empty(), "the evil registry was never asked");
    assert!(
        !saw_credentials(&evil),
        "another registry got the credentials"
    );
    // The registry they are for still gets them.
    pull(&puller, &registry.reference("app:1")).await??;
    Ok(())
}

/// A registry that wants a token from `realm`, and takes `Bearer t`.
async fn token_registry(realm: String) -> anyhow::Result<FakeServer> {
    FakeServer::start(move |seen| match seen.header("authorization") {
        Some("Bearer t") => response(404, &[], br#"{"errors":[{"code":"MANIFEST_UNKNOWN"}]}"#),
        _ => response(
            401,
            &[(
                "www-authenticate",
                &format!(r#"Bearer realm="{realm}",service="fake""#),
            )],
            b"{}",
        ),
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_realm_on_another_host_gets_nothing() -> anyhow::Result<()> {
    let tokens = FakeServer::start(|_| response(200, &[], br#"{"token":"t"}"#)).await?;
    // `localhost` is another host than the registry's `127.0.0.1`.
    let elsewhere = format!("http://localhost:{}/token", tokens.addr.port());
    let registry = token_registry(elsewhere).await?;
    let dir = tempfile::tempdir()?;
    let puller = puller_for(&dir, &registry.host());
    let refused = pull(&puller, &format!("oci://{}/app:1", registry.host())).await?;
    assert!(
        matches!(refused, Err(Error::CredentialsRefused { .. })),
        "{refused:?}"
    );
    assert!(
        !saw_credentials(&tokens),
        "a realm on another host got the credentials"
    );

    // A realm on the registry's own host gets them, and the token works.
    let own = format!("http://127.0.0.1:{}/token", tokens.addr.port());
    let registry = token_registry(own).await?;
    let puller = puller_for(&dir, &registry.host());
    let answered = pull(&puller, &format!("oci://{}/app:1", registry.host())).await?;
    assert!(
        matches!(answered, Err(Error::NotFound { .. })),
        "{answered:?}"
    );
    assert!(saw_credentials(&tokens));
    assert!(
        registry
            .seen()
            .iter()
            .any(|s| s.header("authorization") == Some("Bearer t"))
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endless_manifests_and_error_bodies_are_cut_off() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let puller = Puller::new(PullerConfig::new(dir.path()), Arc::new(Credentials::new()));
    let manifest = FakeServer::endless(
        "HTTP/1.1 200 OK\r\ncontent-type: application/vnd.oci.image.manifest.v1+json",
    )
    .await?;
    let cut = pull(&puller, &format!("oci://{}/app:1", manifest.host())).await?;
    assert!(matches!(cut, Err(Error::TooLarge { .. })), "{cut:?}");
    let not_found = FakeServer::endless("HTTP/1.1 404 Not Found").await?;
    let cut = pull(&puller, &format!("oci://{}/app:1", not_found.host())).await?;
    assert!(matches!(cut, Err(Error::NotFound { .. })), "{cut:?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manifest_redirect_to_another_host_is_not_followed() -> anyhow::Result<()> {
    let elsewhere = FakeServer::start(|_| response(200, &[], b"{}")).await?;
    let location = format!(
        "http://localhost:{}/v2/app/manifests/1",
        elsewhere.addr.port()
    );
    let registry =
        FakeServer::start(move |_| response(302, &[("location", &location)], b"")).await?;
    let dir = tempfile::tempdir()?;
    let puller = puller_for(&dir, &registry.host());
    let refused = pull(&puller, &format!("oci://{}/app:1", registry.host())).await?;
    assert!(
        matches!(refused, Err(Error::Registry { .. })),
        "{refused:?}"
    );
    assert!(
        elsewhere.seen().is_empty(),
        "the redirect to another host was followed"
    );
    Ok(())
}
