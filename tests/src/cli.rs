//! What a test needs of a command it ran.

use std::process::Output;

/// A finished command as tests compare it: (exit code, or -1 when a signal
/// ended it; stdout; stderr), the text decoded leniently.
pub fn outcome(out: &Output) -> (i32, String, String) {
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs `bin ARGS… --nats URL --lattice L` to the end: its [`outcome`].
pub async fn run_on(
    bin: &str,
    nats_url: &str,
    lattice: &str,
    args: &[&str],
) -> anyhow::Result<(i32, String, String)> {
    let out = tokio::process::Command::new(bin)
        .args(args)
        .args(["--nats", nats_url, "--lattice", lattice])
        .output()
        .await?;
    Ok(outcome(&out))
}
