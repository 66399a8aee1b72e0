//! The dashboard's API, as the page (and anyone with curl) uses it: `weft
//! ui` against a real `weft host` on a real nats-server.

use serde_json::{Value, json};
use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, Command};
use weft_tests::nats::NatsServer;
use weft_tests::net::{free_port, wait_for, wait_for_port};
use weft_tests::{guests, http};

const WEFT: &str = env!("CARGO_BIN_EXE_weft");

fn spawn(nats: &NatsServer, lattice: &str, args: &[&str]) -> anyhow::Result<Child> {
    Ok(Command::new(WEFT)
        .args(args)
        .args(["--nats", &nats.url(), "--lattice", lattice])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()?)
}

/// A host and a dashboard (with `extra` arguments) on lattice `lattice`.
async fn lattice_with_ui(
    nats: &NatsServer,
    lattice: &str,
    extra: &[&str],
) -> anyhow::Result<(Child, Child, SocketAddr)> {
    let cache = guests::cache_dir();
    let cache = cache.to_string_lossy();
    let host = spawn(
        nats,
        lattice,
        &[
            "host",
            "--allow-file-load",
            "--friendly-name",
            "ui-host",
            "--cache-dir",
            &cache,
        ],
    )?;
    let port = free_port()?;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut args = vec!["ui".to_owned(), "--addr".to_owned(), addr.to_string()];
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let ui = spawn(nats, lattice, &args)?;
    wait_for_port(addr, Duration::from_secs(30)).await?;
    Ok((host, ui, addr))
}

struct Api {
    addr: SocketAddr,
    token: Option<String>,
}

impl Api {
    async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<(u16, Value)> {
        let auth = self.token.as_ref().map(|t| format!("Bearer {t}"));
        let mut headers = vec![("content-type", "application/json")];
        if let Some(a) = &auth {
            headers.push(("authorization", a.as_str()));
        }
        let bytes = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
        let reply = http::request_with(self.addr, method, path, &headers, bytes).await?;
        let v = serde_json::from_str(&reply.body).unwrap_or(Value::String(reply.body.clone()));
        Ok((reply.status, v))
    }

    async fn raw(
        &self,
        method: &str,
        path: &str,
        content_type: &str,
        body: &str,
    ) -> anyhow::Result<(u16, Value)> {
        let headers = [("content-type", content_type)];
        let reply =
            http::request_with(self.addr, method, path, &headers, body.as_bytes().to_vec()).await?;
        Ok((
            reply.status,
            serde_json::from_str(&reply.body).unwrap_or(Value::Null),
        ))
    }

    async fn get(&self, path: &str) -> anyhow::Result<Value> {
        let (status, v) = self.call("GET", path, None).await?;
        anyhow::ensure!(status == 200, "GET {path}: {status} {v}");
        Ok(v)
    }
}

/// The shipped kv-counter manifest with absolute paths, on `port`.
fn kv_counter(port: u16) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(guests::repo_root().join("examples/kv-counter/app.yaml"))?;
    let wasm = guests::path("kv_counter")?;
    Ok(text
        .replace(
            "file://../../target/guests/wasm32-wasip2/debug/kv_counter.wasm",
            &format!("file://{}", wasm.display()),
        )
        .replace("127.0.0.1:8080", &format!("127.0.0.1:{port}"))
        .replace("instances: 16", "instances: 2"))
}

#[tokio::test]
async fn every_endpoint_answers_and_bad_input_gets_a_clear_error() -> anyhow::Result<()> {
    let nats = NatsServer::start().await?;
    let (_host, _ui, addr) = lattice_with_ui(&nats, "ui1", &[]).await?;
    let api = Api { addr, token: None };
    the_page_loads(addr).await?;
    overview_and_hosts(&api).await?;
    manifest_errors_name_their_path(&api).await?;
    deploy_kv_counter(&api).await?;
    components_and_providers(&api, &nats).await?;
    scale_through_the_app(&api).await?;
    configs(&api).await?;
    links(&api).await?;
    the_live_stream_greets(addr).await?;
    undeploy_and_delete(&api).await?;
    Ok(())
}

/// The page itself.
async fn the_page_loads(addr: SocketAddr) -> anyhow::Result<()> {
    let page = http::get(addr, "/").await?;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Weft dashboard"), "{}", page.body);
    assert_eq!(http::get(addr, "/app.js").await?.status, 200);
    Ok(())
}

/// Overview and hosts.
async fn overview_and_hosts(api: &Api) -> anyhow::Result<()> {
    wait_for(
        "the host in the overview",
        Duration::from_secs(30),
        || async { (api.get("/api/overview").await.ok()?["hosts"] == 1).then_some(()) },
    )
    .await?;
    let hosts = api.get("/api/hosts").await?;
    let host_id = hosts[0]["host_id"].as_str().unwrap_or_default().to_owned();
    assert_eq!(hosts[0]["friendly_name"], "ui-host");
    assert_eq!(
        api.get(&format!("/api/hosts/{host_id}")).await?["friendly_name"],
        "ui-host"
    );
    assert_eq!(api.call("GET", "/api/hosts/nope", None).await?.0, 404);
    assert_eq!(api.call("GET", "/api/nope", None).await?.0, 404);
    Ok(())
}

/// Manifests: the documented errors, by path.
async fn manifest_errors_name_their_path(api: &Api) -> anyhow::Result<()> {
    let (status, v) = api
        .raw(
            "POST",
            "/api/apps",
            "application/yaml",
            "apiVersion: [unclosed",
        )
        .await?;
    assert_eq!(status, 400, "{v}");
    let bad = kv_counter(1)?.replace("version: v0.1.0", "version: latest");
    let (status, v) = api
        .raw("POST", "/api/apps", "application/yaml", &bad)
        .await?;
    assert_eq!(status, 400, "{v}");
    assert!(
        v["errors"][0]
            .as_str()
            .unwrap_or_default()
            .contains("metadata.annotations.version"),
        "{v}"
    );
    let relative =
        std::fs::read_to_string(guests::repo_root().join("examples/kv-counter/app.yaml"))?;
    let (status, v) = api
        .raw("POST", "/api/apps/validate", "application/yaml", &relative)
        .await?;
    assert_eq!(status, 400, "{v}");
    assert!(
        v["error"]
            .as_str()
            .unwrap_or_default()
            .contains("spec.components[0].properties.image"),
        "{v}"
    );
    Ok(())
}

/// Deploy kv-counter from a pasted manifest; it becomes Deployed.
async fn deploy_kv_counter(api: &Api) -> anyhow::Result<()> {
    let port = free_port()?;
    let manifest = kv_counter(port)?;
    let (status, v) = api
        .raw("POST", "/api/apps/validate", "application/yaml", &manifest)
        .await?;
    assert_eq!((status, &v["name"]), (200, &json!("kv-counter")), "{v}");
    let (status, v) = api
        .raw("POST", "/api/apps", "application/yaml", &manifest)
        .await?;
    assert_eq!(status, 200, "{v}");
    // The same manifest again is fine (nothing changes).
    assert_eq!(
        api.raw("POST", "/api/apps", "application/yaml", &manifest)
            .await?
            .0,
        200
    );
    wait_for("kv-counter deployed", Duration::from_secs(30), || async {
        let apps = api.get("/api/apps").await.ok()?;
        (apps[0]["detailed_status"]["status"]["type"] == "deployed").then_some(())
    })
    .await?;
    let app = api.get("/api/apps/kv-counter").await?;
    assert!(
        app["manifest"]
            .as_str()
            .unwrap_or_default()
            .contains("kv_counter.wasm"),
        "{app}"
    );
    assert_eq!(api.call("GET", "/api/apps/nope", None).await?.0, 404);
    Ok(())
}

/// Components and providers, with what their imports reach.
async fn components_and_providers(api: &Api, nats: &NatsServer) -> anyhow::Result<()> {
    let c = api.get("/api/components/kv-counter").await?;
    assert_eq!(c["app"], "kv-counter");
    assert_eq!(c["max_instances"], 2);
    assert_eq!(c["links"][0]["target"], "kv_counter-kv", "{c}");
    // Every import of the app's component has its link; the same code
    // started alone has none, and the dashboard says which.
    assert_eq!(c["unlinked"], json!([]), "{c}");
    let lonely = format!("file://{}", guests::path("kv_counter")?.display());
    let (code, _, err) = weft_tests::cli::run_on(
        WEFT,
        &nats.url(),
        "ui1",
        &["start", "component", &lonely, "lonely"],
    )
    .await?;
    assert_eq!(code, 0, "{err}");
    let c = wait_for(
        "lonely in the dashboard",
        Duration::from_secs(20),
        || async { api.get("/api/components/lonely").await.ok() },
    )
    .await?;
    let unlinked: Vec<&str> = c["unlinked"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        unlinked
            .iter()
            .any(|i| i.starts_with("wasi:keyvalue/store@"))
            && unlinked
                .iter()
                .any(|i| i.starts_with("wasi:keyvalue/atomics@")),
        "{c}"
    );
    assert!(
        c["digest"]
            .as_str()
            .unwrap_or_default()
            .starts_with("sha256:"),
        "{c}"
    );
    assert_eq!(api.call("GET", "/api/components/nope", None).await?.0, 404);
    let providers = api.get("/api/providers").await?;
    assert!(
        providers
            .as_array()
            .is_some_and(|p| p.iter().any(|p| p["id"] == "kv_counter-kv")),
        "{providers}"
    );
    Ok(())
}

/// Scale: an app's component scales through a new version of the app.
async fn scale_through_the_app(api: &Api) -> anyhow::Result<()> {
    for (n, version) in [(4, "v0.1.0-x4"), (3, "v0.1.0-x3"), (4, "v0.1.0-x4")] {
        let body = json!({"max_instances": n});
        let (status, v) = api
            .call("POST", "/api/components/kv-counter/scale", Some(body))
            .await?;
        assert_eq!((status, &v["version"]), (200, &json!(version)), "{v}");
        wait_for(
            &format!("kv-counter at {n}"),
            Duration::from_secs(30),
            || async {
                (api.get("/api/components/kv-counter").await.ok()?["max_instances"] == n)
                    .then_some(())
            },
        )
        .await?;
    }
    let (status, v) = api
        .raw(
            "POST",
            "/api/components/kv-counter/scale",
            "application/json",
            "{bad",
        )
        .await?;
    assert_eq!(status, 400, "{v}");
    assert!(
        v["error"].as_str().unwrap_or_default().contains("bad JSON"),
        "{v}"
    );
    let (status, _) = api
        .call(
            "POST",
            "/api/components/kv-counter/scale",
            Some(json!({"max": 4})),
        )
        .await?;
    assert_eq!(status, 400);
    let (status, _) = api
        .call(
            "POST",
            "/api/components/nope/scale",
            Some(json!({"max_instances": 1})),
        )
        .await?;
    assert_eq!(status, 404);
    Ok(())
}

/// Config: values hidden unless asked.
async fn configs(api: &Api) -> anyhow::Result<()> {
    let (status, v) = api
        .call(
            "PUT",
            "/api/configs/extra",
            Some(json!({"secret": "hunter2"})),
        )
        .await?;
    assert_eq!(status, 200, "{v}");
    let hidden = api.get("/api/configs").await?;
    assert!(!hidden.to_string().contains("hunter2"), "{hidden}");
    assert!(
        api.get("/api/configs?reveal=true")
            .await?
            .to_string()
            .contains("hunter2")
    );
    assert_eq!(
        api.raw("PUT", "/api/configs/extra", "application/json", "[1,2]")
            .await?
            .0,
        400
    );
    assert_eq!(api.call("DELETE", "/api/configs/extra", None).await?.0, 200);
    assert_eq!(api.call("DELETE", "/api/configs/extra", None).await?.0, 404);
    Ok(())
}

/// Links: put, see, delete; unknown → 404, bad JSON → 400.
async fn links(api: &Api) -> anyhow::Result<()> {
    let link = json!({"source_id": "kv-counter", "target": "elsewhere", "name": "spare",
        "wit_namespace": "wasi", "wit_package": "keyvalue", "interfaces": ["store"]});
    let (status, v) = api.call("PUT", "/api/links", Some(link)).await?;
    assert_eq!(status, 200, "{v}");
    let links = api.get("/api/links").await?;
    assert!(
        links
            .as_array()
            .is_some_and(|l| l.iter().any(|l| l["name"] == "spare")),
        "{links}"
    );
    let del = json!({"source_id": "kv-counter", "name": "spare", "wit_namespace": "wasi", "wit_package": "keyvalue"});
    assert_eq!(
        api.call("DELETE", "/api/links", Some(del.clone())).await?.0,
        200
    );
    assert_eq!(api.call("DELETE", "/api/links", Some(del)).await?.0, 404);
    assert_eq!(
        api.raw("DELETE", "/api/links", "application/json", "nope")
            .await?
            .0,
        400
    );
    assert_eq!(
        api.raw(
            "PUT",
            "/api/links",
            "application/json",
            "{\"source_id\": 1}"
        )
        .await?
        .0,
        400
    );
    Ok(())
}

/// The live stream greets, then carries the lattice's events.
async fn the_live_stream_greets(addr: SocketAddr) -> anyhow::Result<()> {
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    stream
        .write_all(format!("GET /api/events HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes())
        .await?;
    let mut seen = String::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !seen.contains("event: hello") && tokio::time::Instant::now() < deadline {
        match tokio::time::timeout(Duration::from_secs(1), stream.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => seen.push_str(&String::from_utf8_lossy(&buf[..n])),
            _ => {}
        }
    }
    assert!(
        seen.contains("text/event-stream") && seen.contains("event: hello"),
        "{seen}"
    );
    Ok(())
}

/// Undeploy and delete.
async fn undeploy_and_delete(api: &Api) -> anyhow::Result<()> {
    assert_eq!(
        api.call("POST", "/api/apps/kv-counter/undeploy", None)
            .await?
            .0,
        200
    );
    assert_eq!(
        api.call("POST", "/api/apps/nope/undeploy", None).await?.0,
        404
    );
    assert_eq!(
        api.call("DELETE", "/api/apps/kv-counter", None).await?.0,
        200
    );
    assert_eq!(
        api.call("DELETE", "/api/apps/kv-counter", None).await?.0,
        404
    );
    Ok(())
}

#[tokio::test]
async fn a_dashboard_with_a_token_refuses_calls_without_it() -> anyhow::Result<()> {
    let nats = NatsServer::start().await?;
    let (_host, _ui, addr) = lattice_with_ui(&nats, "ui2", &["--token", "s3cret"]).await?;
    let none = Api { addr, token: None };
    let wrong = Api {
        addr,
        token: Some("guess".into()),
    };
    let right = Api {
        addr,
        token: Some("s3cret".into()),
    };
    for api in [&none, &wrong] {
        let (status, v) = api.call("GET", "/api/overview", None).await?;
        assert_eq!(status, 401, "{v}");
        assert!(
            v["error"].as_str().unwrap_or_default().contains("token"),
            "{v}"
        );
        let (status, _) = api
            .call("PUT", "/api/configs/x", Some(json!({"a": "b"})))
            .await?;
        assert_eq!(status, 401);
        let (status, _) = api
            .call(
                "POST",
                "/api/components/x/scale",
                Some(json!({"max_instances": 1})),
            )
            .await?;
        assert_eq!(status, 401);
    }
    assert_eq!(right.call("GET", "/api/overview", None).await?.0, 200);
    assert_eq!(
        http::get(addr, "/api/overview?token=s3cret").await?.status,
        200
    );
    assert_eq!(
        http::get(addr, "/api/events?token=guess").await?.status,
        401
    );
    // The page loads without it (it reads the token from its URL).
    assert_eq!(http::get(addr, "/").await?.status, 200);
    Ok(())
}

/// `tests/e2e`, with playwright-core installed, and Debian's chromium; or
/// what to install.
fn browser_kit() -> anyhow::Result<std::path::PathBuf> {
    let dir = guests::repo_root().join("tests/e2e");
    let missing: Vec<&str> = [
        ("/usr/bin/chromium", "chromium"),
        ("/usr/bin/node", "nodejs"),
    ]
    .iter()
    .filter(|(path, _)| !std::path::Path::new(path).exists())
    .map(|(_, package)| *package)
    .collect();
    anyhow::ensure!(
        missing.is_empty(),
        "the browser test needs the Debian packages {} (./scripts/setup installs them)",
        missing.join(", ")
    );
    anyhow::ensure!(
        dir.join("node_modules/playwright-core").exists(),
        "the browser test needs playwright-core: npm ci --prefix tests/e2e (./scripts/setup does it)"
    );
    Ok(dir)
}

#[tokio::test]
async fn the_page_in_chromium_deploys_scales_and_follows_the_cli_live() -> anyhow::Result<()> {
    let kit = browser_kit()?;
    let nats = NatsServer::start().await?;
    let lattice = "ui3";
    let (_host, _ui, addr) = lattice_with_ui(&nats, lattice, &[]).await?;
    let api = Api { addr, token: None };
    let host_id = wait_for("the host", Duration::from_secs(30), || async {
        let hosts = api.get("/api/hosts").await.ok()?;
        hosts[0]["host_id"].as_str().map(str::to_owned)
    })
    .await?;
    let dir = tempfile::tempdir()?;
    let manifest = dir.path().join("app.yaml");
    std::fs::write(&manifest, kv_counter(free_port()?)?)?;
    let bad = dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        kv_counter(1)?.replace("version: v0.1.0", "version: latest"),
    )?;
    let out_dir = guests::repo_root().join("target/e2e");
    let out = Command::new("node")
        .arg(kit.join("dashboard.mjs"))
        .current_dir(&kit)
        .env("WEFT_UI_URL", format!("http://{addr}/"))
        .env("WEFT_BIN", WEFT)
        .env("WEFT_NATS_URL", nats.url())
        .env("WEFT_LATTICE", lattice)
        .env("MANIFEST", &manifest)
        .env("BAD_MANIFEST", &bad)
        .env("HOST_ID", &host_id)
        .env("OUT_DIR", &out_dir)
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(240), out).await??;
    let (code, stdout, stderr) = weft_tests::cli::outcome(&out);
    eprintln!("{stdout}");
    assert_eq!(code, 0, "the browser test failed:\n{stdout}\n{stderr}");
    assert!(
        out_dir.join("dashboard.png").exists(),
        "no screenshot in {}",
        out_dir.display()
    );
    Ok(())
}
