//! The newcomer's commands as a user runs them, as real processes: `weft up`
//! (twice) → `start` → `call` (WAVE values of every kind) → `inspect` →
//! `spy` → `down`, leaving no process behind; `--output json` of every read
//! command parses; usage errors exit 2; `weft new` + `weft build` make a
//! component.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;
use weft_tests::{guests, net};

const WEFT: &str = env!("CARGO_BIN_EXE_weft");

/// A user: a HOME and state dir of their own, a NATS port nobody uses.
struct User {
    home: tempfile::TempDir,
    nats: String,
}

impl User {
    fn new() -> anyhow::Result<Self> {
        Ok(Self {
            home: tempfile::tempdir()?,
            nats: format!("nats://127.0.0.1:{}", net::free_port()?),
        })
    }

    fn state(&self) -> PathBuf {
        self.home.path().join("state")
    }

    /// `weft ARGS…` with the lattice flags: (exit code, stdout, stderr).
    async fn weft(&self, args: &[&str]) -> anyhow::Result<(i32, String, String)> {
        let out = Command::new(WEFT)
            .args(args)
            .env("HOME", self.home.path())
            .env("XDG_STATE_HOME", self.state())
            .env("WEFT_NATS_URL", &self.nats)
            .env("WEFT_LATTICE", "tools")
            .env("WEFT_CACHE_DIR", guests::cache_dir())
            .env_remove("WEFT_CONTEXT")
            .output()
            .await?;
        Ok(weft_tests::cli::outcome(&out))
    }

    async fn ok(&self, args: &[&str]) -> anyhow::Result<String> {
        let (code, stdout, stderr) = self.weft(args).await?;
        anyhow::ensure!(code == 0, "weft {args:?} exited {code}: {stderr}");
        Ok(stdout)
    }

    async fn json(&self, args: &[&str]) -> anyhow::Result<Value> {
        let mut all = args.to_vec();
        all.extend(["-o", "json"]);
        let stdout = self.ok(&all).await?;
        serde_json::from_str(&stdout)
            .map_err(|e| anyhow::anyhow!("weft {args:?} -o json: {e}: {stdout}"))
    }

    fn running(&self) -> anyhow::Result<Value> {
        Ok(serde_json::from_str(&std::fs::read_to_string(
            self.state().join("weft").join("up.json"),
        )?)?)
    }
}

fn alive(pid: u64) -> bool {
    Path::new("/proc").join(pid.to_string()).exists()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn up_start_call_inspect_spy_down_leaves_nothing_behind() -> anyhow::Result<()> {
    let user = User::new()?;
    let ui = std::net::SocketAddr::from(([127, 0, 0, 1], weft_tests::net::free_port()?));
    let up = user
        .ok(&[
            "up",
            "--detached",
            "--allow-file-load",
            "--dashboard",
            &ui.to_string(),
        ])
        .await?;
    assert!(up.contains("up in the background"), "{up}");
    // The dashboard came up with it, on loopback without a token.
    assert!(up.contains(&format!("Dashboard: http://{ui}/")), "{up}");
    let overview = weft_tests::http::get(ui, "/api/overview").await?;
    assert_eq!(overview.status, 200, "{}", overview.body);
    assert!(overview.body.contains("\"hosts\":1"), "{}", overview.body);
    let running = user.running()?;
    let (pid, nats_pid) = (
        running["pid"].as_u64().unwrap_or(0),
        running["nats_pid"].as_u64().unwrap_or(0),
    );
    assert!(alive(pid) && alive(nats_pid), "{running}");
    let again = user.ok(&["up"]).await?;
    assert!(
        again.contains("already up") && again.contains(&pid.to_string()),
        "{again}"
    );

    calls_answer_in_wave(&user).await?;
    inspect_shows_what_is_linked(&user).await?;
    spy_shows_a_change(&user).await?;
    spy_shows_what_a_component_gets_and_sends(&user).await?;

    // Every read command speaks JSON.
    user.ok(&["config", "put", "c1", "k=v"]).await?;
    for args in [
        &["get", "hosts"][..],
        &["get", "inventory"],
        &["get", "links"],
        &["link", "get"],
        &["config", "get", "c1"],
    ] {
        user.json(args).await?;
    }

    let down = user.ok(&["down"]).await?;
    assert!(down.contains("down"), "{down}");
    net::wait_for("the processes to go", Duration::from_secs(20), || async {
        (!alive(pid) && !alive(nats_pid)).then_some(())
    })
    .await?;
    let port: u16 = user.nats.rsplit(':').next().unwrap_or_default().parse()?;
    assert!(
        tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err(),
        "NATS still listens"
    );
    let (code, stdout, _) = user.weft(&["down"]).await?;
    assert!(code == 0 && stdout.contains("not up"), "{stdout}");
    Ok(())
}

/// `weft call` takes and prints WAVE, and says what is wrong with a call.
async fn calls_answer_in_wave(user: &User) -> anyhow::Result<()> {
    let greeter = format!("file://{}", guests::path("greeter")?.display());
    user.ok(&["start", "component", &greeter, "greeter"])
        .await?;
    assert_eq!(
        user.ok(&["call", "greeter", "greet", "\"Ada\""])
            .await?
            .trim(),
        r#"{text: "Hello, Ada!", count: 3, tags: ["greeter", "Hello"]}"#
    );
    assert_eq!(
        user.ok(&["call", "greeter", "add", "2", "40"])
            .await?
            .trim(),
        "ok(42)"
    );
    assert_eq!(
        user.ok(&[
            "call",
            "greeter",
            "weft:platform/greeter#add",
            "4294967295",
            "1"
        ])
        .await?
        .trim(),
        r#"err("4294967295 + 1 overflows u32")"#
    );
    assert_eq!(
        user.ok(&["call", "greeter", "describe", "named(\"square\")", "none"])
            .await?
            .trim(),
        r#""a square""#
    );
    assert_eq!(
        user.ok(&[
            "call",
            "greeter",
            "greeter#describe",
            "circle(1.5)",
            "some(\"big\")"
        ])
        .await?
        .trim(),
        r#""a circle of radius 1.5 (big)""#
    );
    let results = user.json(&["call", "greeter", "greet", "\"Ada\""]).await?;
    assert_eq!(
        results["results"][0]["tags"],
        serde_json::json!(["greeter", "Hello"])
    );
    let (code, _, stderr) = user.weft(&["call", "greeter", "greet", "42"]).await?;
    assert_eq!(code, 1);
    assert!(stderr.contains("bad arguments"), "{stderr}");
    let (code, _, stderr) = user.weft(&["call", "greeter", "frobnicate"]).await?;
    assert!(
        code == 1 && stderr.contains("it exports: weft:platform/greeter#add"),
        "{stderr}"
    );

    Ok(())
}

/// `weft inspect`: the world, and what is not linked for an id.
async fn inspect_shows_what_is_linked(user: &User) -> anyhow::Result<()> {
    let world = user
        .json(&["inspect", &guests::path("greeter")?.display().to_string()])
        .await?;
    let exports = world["exports"].as_array().cloned().unwrap_or_default();
    assert!(
        exports
            .iter()
            .any(|e| e["name"] == "weft:platform/greeter@0.1.0"),
        "{world}"
    );
    let caller = guests::path("caller")?.display().to_string();
    user.ok(&[
        "link",
        "put",
        "app",
        "greeter",
        "weft",
        "platform",
        "--interface",
        "greeter",
    ])
    .await?;
    let world = user.json(&["inspect", &caller, "--id", "app"]).await?;
    let status = |name: &str| {
        world["imports"]
            .as_array()
            .and_then(|i| {
                i.iter()
                    .find(|i| i["name"].as_str().is_some_and(|n| n.starts_with(name)))
            })
            .map(|i| i["status"].as_str().unwrap_or_default().to_owned())
    };
    assert_eq!(
        status("weft:platform/greeter").as_deref(),
        Some("→ greeter")
    );
    assert_eq!(status("wasi:keyvalue/store").as_deref(), Some("NOT LINKED"));
    assert_eq!(
        status("wasi:cli/stdout").as_deref(),
        Some("provided by the host")
    );

    Ok(())
}

/// `weft spy` (ARGS, as JSON) with the user's environment, its stdout
/// read line by line into the returned channel; it stops when dropped.
fn spy(
    user: &User,
    args: &[&str],
) -> anyhow::Result<(
    tokio::process::Child,
    tokio::sync::mpsc::UnboundedReceiver<Value>,
)> {
    let mut child = Command::new(WEFT)
        .arg("spy")
        .args(args)
        .args(["-o", "json"])
        .env("HOME", user.home.path())
        .env("XDG_STATE_HOME", user.state())
        .env("WEFT_NATS_URL", &user.nats)
        .env("WEFT_LATTICE", "tools")
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| anyhow::anyhow!("weft spy has no stdout"))?;
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut lines = BufReader::new(stdout).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if let Ok(value) = serde_json::from_str(&line)
                && tx.send(value).is_err()
            {
                break;
            }
        }
    });
    Ok((child, rx))
}

/// Runs `poke` until the spy in `lines` has printed a line `wanted` holds
/// for (it may still be subscribing when the first pokes go out).
async fn until_spied<F, Fut>(
    what: &str,
    lines: &mut tokio::sync::mpsc::UnboundedReceiver<Value>,
    wanted: impl Fn(&Value) -> bool,
    poke: F,
) -> anyhow::Result<Value>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while tokio::time::Instant::now() < deadline {
        if poke().await.is_err() {
            continue;
        }
        // What the poke caused may take a moment to arrive.
        let settled = tokio::time::Instant::now() + Duration::from_millis(500);
        while let Ok(Some(line)) = tokio::time::timeout_at(settled, lines.recv()).await {
            if wanted(&line) {
                return Ok(line);
            }
            seen.push(line);
        }
    }
    anyhow::bail!("timed out after 30 s waiting for {what}; the spy printed: {seen:?}")
}

/// `weft spy`: a change made meanwhile shows up as one line of JSON.
async fn spy_shows_a_change(user: &User) -> anyhow::Result<()> {
    let (_spy, mut lines) = spy(user, &["--component", "greeter"])?;
    let line = until_spied(
        "the spy to show the scale",
        &mut lines,
        |l| l["name"] == "component_scaled",
        || async {
            user.ok(&["scale", "component", "greeter", "--max", "3"])
                .await
                .map(drop)
        },
    )
    .await?;
    assert_eq!(line["data"]["data"]["max_instances"], 3, "{line}");
    Ok(())
}

/// Starts pingpong with memory keyvalue, answering pings on `subject`.
async fn start_pingpong(user: &User, subject: &str) -> anyhow::Result<()> {
    let pingpong = format!("file://{}", guests::path("pingpong")?.display());
    let subscriptions = format!("subscriptions={subject}");
    for args in [
        &["start", "component", &pingpong, "pingpong"][..],
        &["start", "provider", "builtin:keyvalue-memory", "kv"],
        &["start", "provider", "builtin:messaging-nats", "nats"],
        &["config", "put", "pings", &subscriptions],
        &[
            "link",
            "put",
            "pingpong",
            "kv",
            "wasi",
            "keyvalue",
            "--interface",
            "store",
            "--interface",
            "atomics",
        ],
        &[
            "link",
            "put",
            "pingpong",
            "nats",
            "wasmcloud",
            "messaging",
            "--interface",
            "consumer",
        ],
        &[
            "link",
            "put",
            "nats",
            "pingpong",
            "wasmcloud",
            "messaging",
            "--interface",
            "handler",
            "--source-config",
            "pings",
        ],
    ] {
        user.ok(args).await?;
    }
    Ok(())
}

/// `weft spy --component`: the messages pingpong gets and the ones it
/// sends. The two come from different places (the spy's own subscription
/// in the apps' account, and the host's copy of what the component sent),
/// so each is waited for on its own.
async fn spy_shows_what_a_component_gets_and_sends(user: &User) -> anyhow::Result<()> {
    start_pingpong(user, "tools.ping").await?;
    net::wait_for("pingpong to answer", Duration::from_secs(20), || async {
        user.ok(&["msg", "request", "tools.ping", "ping", "--wait", "1s"])
            .await
            .ok()
    })
    .await?;
    let (_spy, mut lines) = spy(user, &["--component", "pingpong"])?;
    let ping = || async {
        user.ok(&["msg", "request", "tools.ping", "ping"])
            .await
            .map(drop)
    };
    let got = until_spied(
        "the spy to show a ping",
        &mut lines,
        |l| l["kind"] == "message",
        ping,
    )
    .await?;
    assert_eq!(got["data"]["subject"], "tools.ping", "{got}");
    until_spied(
        "the spy to show a pong sent",
        &mut lines,
        |l| {
            l["kind"] == "sent"
                && l["data"]["body"]
                    .as_str()
                    .is_some_and(|b| b.starts_with("pong"))
        },
        ping,
    )
    .await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn up_runs_the_apps_messaging_in_an_account_of_its_own() -> anyhow::Result<()> {
    let user = User::new()?;
    user.ok(&["up", "--detached", "--allow-file-load"]).await?;
    start_pingpong(&user, "weft.ping").await?;
    // `weft msg` finds the apps' account on its own.
    let pong = net::wait_for("pong from weft msg", Duration::from_secs(30), || async {
        let (code, out, _) = user
            .weft(&["msg", "request", "weft.ping", "ping", "--wait", "2s"])
            .await
            .ok()?;
        (code == 0).then(|| out.trim().to_owned())
    })
    .await?;
    // A ping that timed out on this side may have counted already.
    assert!(pong.starts_with("pong "), "{pong}");

    // The two accounts share nothing: from the apps' account no lattice
    // subject answers, and from the lattice's no component does.
    let apps_url = std::fs::read_to_string(user.state().join("weft").join("apps-nats"))?;
    // async-nats reads no credentials from a URL: pass them on.
    let (name, password) = weft_capability::provider::url_credentials(apps_url.trim())
        .and_then(|(name, password)| Some((name, password?)))
        .ok_or_else(|| anyhow::anyhow!("no user and password in {apps_url}"))?;
    let apps = async_nats::ConnectOptions::with_user_and_password(name, password)
        .connect(apps_url.trim())
        .await?;
    for subject in [
        "wasmbus.ctl.v1.tools.host.ping",
        "wadm.api.tools.model.list",
    ] {
        let answer = tokio::time::timeout(
            Duration::from_secs(5),
            apps.request(subject.to_owned(), "{}".into()),
        )
        .await?;
        assert!(
            answer.is_err(),
            "{subject} answered the apps' account: {answer:?}"
        );
    }
    // The server itself answers JetStream requests: the apps' account has
    // no JetStream, so no way to the lattice's state.
    let js = apps
        .request("$JS.API.STREAM.INFO.KV_weft_tools_links", "".into())
        .await?;
    let said = String::from_utf8_lossy(&js.payload);
    assert!(said.contains("not enabled for account"), "{said}");
    let lattice = async_nats::connect(user.nats.as_str()).await?;
    let answer = tokio::time::timeout(
        Duration::from_secs(5),
        lattice.request("weft.ping", "ping".into()),
    )
    .await?;
    assert!(
        answer.is_err(),
        "a component answered in the lattice's account"
    );
    user.ok(&["down"]).await?;
    assert!(!user.state().join("weft").join("apps-nats").exists());
    Ok(())
}

#[tokio::test]
async fn usage_errors_exit_2_with_a_hint() -> anyhow::Result<()> {
    let user = User::new()?;
    for args in [
        &["start", "component"][..],
        &["frobnicate"],
        &["up", "--label", "no-equals-sign"],
        &["new", "component", "x", "--template", "nope"],
        &["completions", "tcsh"],
    ] {
        let (code, _, stderr) = user.weft(args).await?;
        assert_eq!(code, 2, "weft {args:?}: {stderr}");
        assert!(
            stderr.contains("--help") || stderr.contains("Usage"),
            "weft {args:?}: {stderr}"
        );
    }
    for shell in ["bash", "zsh", "fish"] {
        let script = user.ok(&["completions", shell]).await?;
        assert!(script.contains("weft"), "{shell}");
    }
    Ok(())
}

#[tokio::test]
async fn new_makes_a_crate_that_builds_into_a_component() -> anyhow::Result<()> {
    let user = User::new()?;
    let dir = tempfile::tempdir()?;
    let out = Command::new(WEFT)
        .args(["new", "component", "my-counter", "--template", "kv-counter"])
        .current_dir(dir.path())
        .output()
        .await?;
    anyhow::ensure!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let crate_dir = dir.path().join("my-counter");
    assert!(crate_dir.join("wit/deps/keyvalue/store.wit").is_file());
    // The guests' target dir: their dependencies are built already.
    let built = Command::new(WEFT)
        .args(["build", "--debug", "-o", "json", "--path"])
        .arg(&crate_dir)
        .env(
            "CARGO_TARGET_DIR",
            guests::repo_root().join("target").join("guests"),
        )
        .output()
        .await?;
    anyhow::ensure!(
        built.status.success(),
        "{}",
        String::from_utf8_lossy(&built.stderr)
    );
    let built: Value = serde_json::from_slice(&built.stdout)?;
    let artifact = built["artifact"].as_str().unwrap_or_default();
    assert!(artifact.ends_with("my_counter.wasm"), "{built}");
    let world = user.json(&["inspect", artifact]).await?;
    assert!(
        world["imports"]
            .to_string()
            .contains("wasi:keyvalue/atomics"),
        "{world}"
    );
    let (code, _, stderr) = user.weft(&["new", "component", "Bad Name"]).await?;
    assert!(code == 1 && stderr.contains("not a crate name"), "{stderr}");
    Ok(())
}
