//! Who may join: TLS with a CA made in the test, wrong credentials refused
//! with a message that says so, and lattices kept apart by NATS account
//! (same lattice name, no cross talk) and by name.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;
use tokio::process::{Child, Command};
use weft_tests::guests;
use weft_tests::nats::{Config, NatsServer};
use weft_tests::net::{require_binary, wait_for};

const WEFT: &str = env!("CARGO_BIN_EXE_weft");

/// A nats-server from `config` (written to a file), JetStream in its dir.
async fn server(dir: &Path, config: &str) -> anyhow::Result<NatsServer> {
    let file = dir.join("nats.conf");
    std::fs::write(&file, config)?;
    NatsServer::start_with(Config {
        file,
        env: Vec::new(),
        args: vec!["-js".into(), "-sd".into(), "{dir}/store".into()],
    })
    .await
}

/// A nats-server from `config` in a temp dir of its own.
async fn fresh_server(config: &str) -> anyhow::Result<(tempfile::TempDir, NatsServer)> {
    let dir = tempfile::tempdir()?;
    let nats = server(dir.path(), config).await?;
    Ok((dir, nats))
}

/// `weft ARGS` to the end: (exit code, stdout, stderr).
async fn weft(args: &[&str]) -> anyhow::Result<(i32, String, String)> {
    let out = Command::new(WEFT).args(args).output().await?;
    Ok(weft_tests::cli::outcome(&out))
}

/// `weft host ARGS` in the background.
fn host(args: &[&str]) -> anyhow::Result<Child> {
    Ok(Command::new(WEFT)
        .arg("host")
        .args(args)
        .arg("--cache-dir")
        .arg(guests::cache_dir())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()?)
}

/// `who` then `more`, as one argument list.
fn with<'a>(who: &[&'a str], more: &[&'a str]) -> Vec<&'a str> {
    who.iter().chain(more).copied().collect()
}

/// The friendly names `weft get hosts` lists with `args`, once it lists `n`.
async fn hosts(args: &[&str], n: usize) -> anyhow::Result<Vec<String>> {
    let mut all = vec!["get", "hosts", "-o", "json"];
    all.extend_from_slice(args);
    wait_for(&format!("{n} hosts"), Duration::from_secs(20), || async {
        let (code, out, _) = weft(&all).await.ok()?;
        let list: serde_json::Value = serde_json::from_str(&out).ok().filter(|_| code == 0)?;
        let names: Vec<String> = list
            .as_array()?
            .iter()
            .filter_map(|h| h["friendly_name"].as_str().map(str::to_owned))
            .collect();
        (names.len() == n).then_some(names)
    })
    .await
}

/// Makes a CA and a certificate for 127.0.0.1 signed by it, with openssl.
fn make_ca(dir: &Path) -> anyhow::Result<()> {
    let openssl = require_binary("openssl", "openssl")?;
    std::fs::write(dir.join("san.ext"), "subjectAltName=IP:127.0.0.1\n")?;
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let steps: [Vec<&str>; 3] = [
        [
            &["req", "-x509"][..],
            &ec,
            &["-keyout", "ca.key", "-out", "ca.pem"],
        ]
        .concat()
        .into_iter()
        .chain(["-days", "1", "-subj", "/CN=weft test CA"])
        .collect(),
        [
            &["req"][..],
            &ec,
            &["-keyout", "server.key", "-out", "server.csr"],
        ]
        .concat()
        .into_iter()
        .chain(["-subj", "/CN=127.0.0.1"])
        .collect(),
        vec![
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.pem",
            "-days",
            "1",
            "-extfile",
            "san.ext",
        ],
    ];
    for args in steps {
        let out = std::process::Command::new(&openssl)
            .args(&args)
            .current_dir(dir)
            .output()?;
        anyhow::ensure!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_with_our_own_ca_is_trusted_only_when_given() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    make_ca(dir.path())?;
    let at = |f: &str| dir.path().join(f).display().to_string();
    let nats = server(
        dir.path(),
        &format!(
            "tls {{ cert_file: \"{}\", key_file: \"{}\" }}\n",
            at("server.pem"),
            at("server.key")
        ),
    )
    .await?;
    let url = format!("tls://127.0.0.1:{}", nats.addr().port());
    let ca = at("ca.pem");
    let _host = host(&["--nats", &url, "--nats-ca", &ca, "--friendly-name", "tls"])?;
    let names = hosts(&["--nats", &url, "--nats-ca", &ca], 1).await?;
    assert_eq!(names, ["tls"]);
    // Without the CA the server's certificate is not trusted, and the
    // message says it is about the certificate.
    let (code, _, stderr) = weft(&["get", "hosts", "--nats", &url, "--timeout", "2s"]).await?;
    assert_ne!(code, 0);
    assert!(stderr.contains("could not connect to NATS"), "{stderr}");
    assert!(stderr.to_lowercase().contains("certificate"), "{stderr}");
    // A CA file that is not there is named.
    let (code, _, stderr) =
        weft(&["get", "hosts", "--nats", &url, "--nats-ca", &at("nope.pem")]).await?;
    assert_ne!(code, 0);
    assert!(
        stderr.contains("nope.pem") && stderr.contains("--nats-ca"),
        "{stderr}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_with_wrong_credentials_fails_at_once_and_says_why() -> anyhow::Result<()> {
    let (_dir, nats) = fresh_server("authorization { user: weft, password: right }\n").await?;
    let url = nats.url();
    let out = tokio::time::timeout(
        Duration::from_secs(20),
        Command::new(WEFT)
            .args([
                "host",
                "--nats",
                &url,
                "--nats-user",
                "weft",
                "--nats-password",
                "wrong",
            ])
            .output(),
    )
    .await??;
    let (code, _, stderr) = weft_tests::cli::outcome(&out);
    assert_ne!(code, 0, "{stderr}");
    assert!(
        stderr.contains("could not connect to NATS") && stderr.contains("credentials"),
        "{stderr}"
    );
    assert!(stderr.to_lowercase().contains("authorization"), "{stderr}");
    assert!(
        !stderr.contains("wrong"),
        "the password is printed: {stderr}"
    );
    // The right ones join.
    let right = [
        "--nats",
        &url,
        "--nats-user",
        "weft",
        "--nats-password",
        "right",
    ];
    let _host = host(&right)?;
    hosts(&right, 1).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_accounts_with_the_same_lattice_name_do_not_see_each_other() -> anyhow::Result<()> {
    let (_dir, nats) = fresh_server(
        "accounts {\n\
           TEAM_A: { jetstream: enabled, users: [ { user: a, password: pa } ] }\n\
           TEAM_B: { jetstream: enabled, users: [ { user: b, password: pb } ] }\n\
         }\n",
    )
    .await?;
    let url = nats.url();
    let as_a = [
        "--nats",
        url.as_str(),
        "--nats-user",
        "a",
        "--nats-password",
        "pa",
    ];
    let as_b = [
        "--nats",
        url.as_str(),
        "--nats-user",
        "b",
        "--nats-password",
        "pb",
    ];

    let _a = host(&with(&as_a, &["--friendly-name", "host-a"]))?;
    let _b = host(&with(&as_b, &["--friendly-name", "host-b"]))?;
    let _other = host(&with(
        &as_a,
        &["--friendly-name", "host-other", "--lattice", "other"],
    ))?;
    // Each account's `default` lattice has its own host only; the other
    // lattice of account A is apart too.
    assert_eq!(hosts(&as_a, 1).await?, ["host-a"]);
    assert_eq!(hosts(&as_b, 1).await?, ["host-b"]);
    assert_eq!(
        hosts(&with(&as_a, &["--lattice", "other"]), 1).await?,
        ["host-other"]
    );
    // Config stored in one account is not in the other.
    let (code, _, err) = weft(&with(&["config", "put", "shared", "k=from-a"], &as_a)).await?;
    assert_eq!(code, 0, "{err}");
    let (code, out, _) = weft(&with(&["config", "get", "shared"], &as_a)).await?;
    assert!(code == 0 && out.contains("from-a"), "{out}");
    let (code, out, err) = weft(&with(&["config", "get", "shared"], &as_b)).await?;
    assert!(code != 0 && !out.contains("from-a"), "{out}{err}");
    // Nothing account A publishes reaches account B's subscribers.
    let b = async_nats::ConnectOptions::with_user_and_password("b".into(), "pb".into())
        .connect(&url)
        .await?;
    let mut everything = b.subscribe(">").await?;
    b.flush().await?;
    let a = async_nats::ConnectOptions::with_user_and_password("a".into(), "pa".into())
        .connect(&url)
        .await?;
    a.publish("wasmbus.evt.default.probe", "from a".into())
        .await?;
    a.flush().await?;
    let seen = tokio::time::timeout(Duration::from_millis(500), async {
        while let Some(m) = futures::StreamExt::next(&mut everything).await {
            if m.payload.as_ref() == b"from a" {
                return true;
            }
        }
        false
    })
    .await
    .unwrap_or(false);
    assert!(!seen, "account B saw a message of account A");
    Ok(())
}
