//! `weft run` as a user runs it: the real binary, real Redis, free ports.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;
use tokio::process::{Child, Command};
use weft_tests::net::{free_port, wait_for_port};
use weft_tests::redis::RedisServer;
use weft_tests::{guests, http};

const WEFT: &str = env!("CARGO_BIN_EXE_weft");

/// Starts `weft run` on a free port and waits until it listens.
async fn weft_run(wasm: &Path, extra: &[&str]) -> anyhow::Result<(Child, SocketAddr)> {
    let addr = SocketAddr::from(([127, 0, 0, 1], free_port()?));
    let child = Command::new(WEFT)
        .arg("run")
        .arg(wasm)
        .args(["--http", &addr.to_string()])
        .arg("--cache-dir")
        .arg(guests::cache_dir())
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()?;
    wait_for_port(addr, Duration::from_secs(60)).await?;
    Ok((child, addr))
}

/// Runs `weft ARGS…` to completion: (exit code, stderr).
async fn weft(args: &[&str]) -> anyhow::Result<(i32, String)> {
    let out = Command::new(WEFT).args(args).output().await?;
    Ok((
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    ))
}

#[tokio::test]
async fn http_hello_answers_200() -> anyhow::Result<()> {
    let (_weft, addr) = weft_run(&guests::path("http_hello")?, &[]).await?;
    let reply = http::get(addr, "/").await?;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body, "Hello from Weft!\n");
    Ok(())
}

#[tokio::test]
async fn kv_counter_counts_in_redis_and_survives_a_restart() -> anyhow::Result<()> {
    let redis = RedisServer::start().await?;
    let url = redis.url();
    let wasm = guests::path("kv_counter")?;
    let (first, addr) = weft_run(&wasm, &["--keyvalue", &url]).await?;
    for want in ["1\n", "2\n", "3\n"] {
        assert_eq!(http::get(addr, "/").await?.body, want);
    }
    drop(first);
    let (_second, addr) = weft_run(&wasm, &["--keyvalue", &url, "--reuse", "10"]).await?;
    assert_eq!(
        http::get(addr, "/").await?.body,
        "4\n",
        "the count lives in Redis"
    );
    Ok(())
}

#[tokio::test]
async fn malformed_wasm_is_a_clear_error() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let bad = dir.path().join("bad.wasm");
    std::fs::write(&bad, b"\0asm garbage")?;
    let bad = bad.to_string_lossy().into_owned();
    let (code, stderr) = weft(&["run", &bad, "--http", "127.0.0.1:0"]).await?;
    assert_eq!(code, 1);
    assert!(
        stderr.contains("not a WebAssembly component"),
        "stderr: {stderr}"
    );

    let core = dir.path().join("core.wasm");
    std::fs::write(&core, [0u8, b'a', b's', b'm', 1, 0, 0, 0])?;
    let core = core.to_string_lossy().into_owned();
    let (code, stderr) = weft(&["run", &core, "--http", "127.0.0.1:0"]).await?;
    assert_eq!(code, 1);
    assert!(stderr.contains("core wasm module"), "stderr: {stderr}");
    Ok(())
}

#[tokio::test]
async fn missing_file_and_unreachable_redis_say_what_to_do() -> anyhow::Result<()> {
    let (code, stderr) = weft(&["run", "/nonexistent/app.wasm"]).await?;
    assert_eq!(code, 1);
    assert!(
        stderr.contains("could not read /nonexistent/app.wasm"),
        "stderr: {stderr}"
    );

    let hello = guests::path("http_hello")?.to_string_lossy().into_owned();
    let dead = format!("redis://127.0.0.1:{}", free_port()?);
    let (code, stderr) = weft(&["run", &hello, "--keyvalue", &dead]).await?;
    assert_eq!(code, 1);
    assert!(
        stderr.contains("is redis-server running"),
        "stderr: {stderr}"
    );
    Ok(())
}

#[tokio::test]
async fn bad_flags_are_usage_errors() -> anyhow::Result<()> {
    let hello = guests::path("http_hello")?.to_string_lossy().into_owned();
    let (code, stderr) = weft(&["run", &hello, "--timeout", "soon"]).await?;
    assert_eq!(code, 2);
    assert!(stderr.contains("not a duration"), "stderr: {stderr}");
    let (code, _) = weft(&["run", &hello, "--keyvalue", "postgres://x"]).await?;
    assert_eq!(code, 1);
    Ok(())
}
