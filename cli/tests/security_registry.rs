//! Hole 4 of the security issue, as found: a host given registry
//! credentials without a registry (`WEFT_REGISTRY_USER`/`_PASSWORD`) sent
//! them to whichever registry an image named, so anyone who could name an
//! image collected them. Now such a host refuses to start, saying how to
//! bind them; bound with `--registry-auth HOST=…`, they reach that
//! registry and no other. (The library-level checks, token realms and
//! hostile answers, are in tests/tests/security_registry.rs.)

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;
use tokio::process::{Child, Command};
use weft_tests::fake::{FakeServer, response};
use weft_tests::guests;
use weft_tests::nats::NatsServer;
use weft_tests::net::wait_for;
use weft_tests::registry::Registry;

const WEFT: &str = env!("CARGO_BIN_EXE_weft");

/// `weft ARGS` with a private HOME: its outcome.
async fn weft(home: &Path, args: &[&str]) -> anyhow::Result<(i32, String, String)> {
    let out = clean(Command::new(WEFT).args(args), home).output().await?;
    Ok(weft_tests::cli::outcome(&out))
}

/// No credentials of the machine's or the caller's environment.
fn clean<'a>(command: &'a mut Command, home: &Path) -> &'a mut Command {
    command
        .env("HOME", home)
        .env_remove("DOCKER_CONFIG")
        .env_remove("WEFT_REGISTRY_AUTH")
        .env_remove("WEFT_REGISTRY_USER")
        .env_remove("WEFT_REGISTRY_PASSWORD")
        .env_remove("WEFT_REGISTRY_TOKEN")
}

/// `weft host` on `nats` (lattice `reg`) with `env` and `args`.
fn host(
    home: &Path,
    nats: &NatsServer,
    env: &[(&str, &str)],
    args: &[&str],
) -> anyhow::Result<Child> {
    let mut command = Command::new(WEFT);
    clean(&mut command, home)
        .args(["host", "--nats", &nats.url(), "--lattice", "reg"])
        .arg("--cache-dir")
        .arg(guests::cache_dir())
        .args(args)
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    Ok(command.spawn()?)
}

/// Starts `reference` as `id` on the lattice: the outcome.
async fn start(
    home: &Path,
    nats: &NatsServer,
    reference: &str,
    id: &str,
) -> anyhow::Result<(i32, String, String)> {
    weft(
        home,
        &[
            "start",
            "component",
            reference,
            id,
            "--nats",
            &nats.url(),
            "--lattice",
            "reg",
        ],
    )
    .await
}

/// Waits until the lattice has a host.
async fn a_host(home: &Path, nats: &NatsServer) -> anyhow::Result<()> {
    wait_for("a host on the lattice", Duration::from_secs(30), || async {
        let (code, out, _) = weft(
            home,
            &[
                "get",
                "hosts",
                "-o",
                "json",
                "--nats",
                &nats.url(),
                "--lattice",
                "reg",
            ],
        )
        .await
        .ok()?;
        (code == 0 && out.contains("\"id\"")).then_some(())
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registry_credentials_reach_only_the_registry_they_are_for() -> anyhow::Result<()> {
    let home = tempfile::tempdir()?;
    let h = home.path();
    let registry = Registry::start_with_auth("weft", "s3cret").await?;
    let legit = registry.reference("app:1");
    let wasm = guests::path("http_hello")?.display().to_string();
    let (code, _, stderr) = weft(
        h,
        &[
            "push",
            &wasm,
            &legit,
            "--registry-user",
            "weft",
            "--registry-password",
            "s3cret",
        ],
    )
    .await?;
    assert_eq!(code, 0, "{stderr}");
    let evil = FakeServer::start(|_| {
        response(401, &[("www-authenticate", r#"Basic realm="evil""#)], b"{}")
    })
    .await?;
    let stolen = format!("oci://{}/app:1", evil.host());
    let nats = NatsServer::start().await?;

    // Credentials without a registry: the host either refuses them or
    // keeps them from the registry an image names.
    let mut unbound = host(
        h,
        &nats,
        &[
            ("WEFT_REGISTRY_USER", "weft"),
            ("WEFT_REGISTRY_PASSWORD", "s3cret"),
        ],
        &[],
    )?;
    let exited = tokio::time::timeout(Duration::from_secs(10), unbound.wait()).await;
    match exited {
        Ok(status) => {
            assert_eq!(status?.code(), Some(2), "the host with unbound credentials");
            let mut said = String::new();
            if let Some(mut err) = unbound.stderr.take() {
                tokio::io::AsyncReadExt::read_to_string(&mut err, &mut said).await?;
            }
            assert!(
                said.contains("--registry-auth"),
                "says how to bind them: {said}"
            );
        }
        Err(_) => {
            a_host(h, &nats).await?;
            let _ = start(h, &nats, &stolen, "stolen").await?;
            assert!(
                !evil
                    .seen()
                    .iter()
                    .any(|s| s.header("authorization").is_some()),
                "a registry named in a scale request got the host's credentials"
            );
            drop(unbound);
        }
    }

    // Bound to the registry: that registry gets them, the other nothing.
    let bound = format!("{}=weft:s3cret", registry.host());
    let _host = host(h, &nats, &[], &["--registry-auth", &bound])?;
    a_host(h, &nats).await?;
    let (code, _, stderr) = start(h, &nats, &stolen, "stolen").await?;
    assert_ne!(code, 0, "started from the evil registry: {stderr}");
    assert!(!evil.seen().is_empty(), "the evil registry was never asked");
    assert!(
        !evil
            .seen()
            .iter()
            .any(|s| s.header("authorization").is_some()),
        "another registry got the credentials"
    );
    let (code, _, stderr) = start(h, &nats, &legit, "app").await?;
    assert_eq!(code, 0, "{stderr}");
    Ok(())
}
