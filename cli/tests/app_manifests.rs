//! App manifests that must not deploy: two apps declaring one link
//! differently, a table of invalid manifests (through `weft app validate`
//! and the raw `model.put` subject), and malformed wadm API requests.

// Each test binary uses some of the shared helpers.
#[allow(dead_code)]
mod apps_support;

use apps_support::{clients, host, host_ids, ok, reconciler_passes, weft, write};
use serde_json::Value;
use std::time::Duration;
use weft_tests::guests;
use weft_tests::nats::NatsServer;
use weft_tests::net::wait_for;

const TWIN: &str = r#"
apiVersion: core.oam.dev/v1beta1
kind: Application
metadata: {name: NAME, annotations: {version: v1}}
spec:
  components:
    - name: web
      type: component
      properties: {image: "IMAGE", id: shared-web}
      traits:
        - type: link
          properties:
            namespace: wasi
            package: keyvalue
            interfaces: [store]
            target: {name: kv, config: [{name: bucket, properties: {bucket: BUCKET}}]}
    - name: kv
      type: capability
      properties: {image: "builtin:keyvalue-memory", id: shared-kv}
"#;

#[tokio::test]
async fn conflicting_links_are_refused_and_bad_manifests_and_requests_get_clear_errors()
-> anyhow::Result<()> {
    let nats = NatsServer::start().await?;
    let l = "apps5";
    let _h = host(&nats, l, "h1", &[])?;
    let (lc, _apps, client) = clients(&nats, l).await?;
    host_ids(&lc, 1).await?;
    let image = format!("file://{}", guests::path("test_guest")?.display());
    let dir = tempfile::tempdir()?;
    let twin = |name: &str, bucket: &str| {
        TWIN.replace("NAME", name)
            .replace("IMAGE", &image)
            .replace("BUCKET", bucket)
    };
    ok(
        &nats,
        l,
        &[
            "app",
            "deploy",
            &write(&dir, "a.yaml", &twin("alpha", "one"))?,
            "--wait",
            "60s",
        ],
    )
    .await?;
    let (code, _, stderr) = weft(
        &nats,
        l,
        &[
            "app",
            "deploy",
            &write(&dir, "b.yaml", &twin("beta", "two"))?,
        ],
    )
    .await?;
    assert_ne!(code, 0);
    assert!(stderr.contains("app `beta` cannot be deployed"), "{stderr}");
    assert!(stderr.contains("deployed app `alpha`"), "{stderr}");
    assert!(
        stderr.contains("bucket=one") && stderr.contains("bucket=two"),
        "{stderr}"
    );
    let versions = ok(&nats, l, &["app", "versions", "beta"]).await?;
    assert!(
        !versions.contains("yes"),
        "beta stays undeployed: {versions}"
    );
    // And no fight: after passes of the reconciler, alpha's link stays as
    // alpha declared it.
    reconciler_passes(&nats, l).await?;
    let links = lc.links().await?;
    let link = links
        .iter()
        .find(|k| k.source_id == "shared-web")
        .ok_or_else(|| anyhow::anyhow!("no link"))?;
    assert_eq!(link.target_config, vec!["alpha-bucket".to_owned()]);
    // Once alpha is undeployed, beta may go.
    ok(&nats, l, &["app", "undeploy", "alpha"]).await?;
    ok(&nats, l, &["app", "deploy", "beta", "--wait", "60s"]).await?;

    invalid_manifests_name_the_field(&nats, l, &dir, &client).await?;
    wadm_clients_get_wadm_shapes(l, &image, &client, &lc).await?;
    Ok(())
}

/// A valid one-component manifest that the cases below break one way each.
const GOOD: &str = "apiVersion: core.oam.dev/v1beta1\nkind: Application\nmetadata: {name: ok, annotations: {version: v1}}\n\
                    spec:\n  components:\n    - name: web\n      type: component\n      properties: {image: 'oci://r/web:1'}\n";

/// Invalid manifests: each error names the field, from the CLI and from
/// the server whatever client sends it.
async fn invalid_manifests_name_the_field(
    nats: &NatsServer,
    l: &str,
    dir: &tempfile::TempDir,
    client: &async_nats::Client,
) -> anyhow::Result<()> {
    let good = GOOD;
    let web =
        "    - name: web\n      type: component\n      properties: {image: 'oci://r/web:1'}\n";
    let cases: Vec<(String, &str)> = vec![
        (good.replace("core.oam.dev/v1beta1", "core.oam.dev/v2"), "apiVersion"),
        (good.replace("kind: Application", "kind: Deployment"), "kind"),
        (good.replace("version: v1", "version: latest"), "metadata.annotations.version"),
        (good.replace("name: ok", "name: 'two words'"), "metadata.name"),
        (format!("{good}{web}"), "spec.components[1].name"),
        (good.replace("properties: {image: 'oci://r/web:1'}", "properties: {}"), "spec.components[0].properties.image"),
        (good.replace("kind: Application", "kind: Application\ncolour: blue"), "colour"),
        (good.replace("type: component", "type: widget"), "spec.components[0].type"),
        (
            format!("{good}      traits:\n        - type: spreadscaler\n          properties: {{instances: 2, spread: [{{name: a, weight: 0}}]}}\n"),
            "spec.components[0].traits[0].properties.spread[0].weight: must be > 0",
        ),
        (
            format!("{good}      traits:\n        - type: link\n          properties: {{namespace: wasi, package: keyvalue, interfaces: [store], target: nowhere}}\n"),
            "spec.components[0].traits[0].properties.target",
        ),
        (
            format!("{good}      traits:\n        - type: spreadscaler\n          properties: {{instances: 1}}\n        - type: daemonscaler\n          properties: {{instances: 1}}\n"),
            "one scaler",
        ),
        (
            good.replace("image: 'oci://r/web:1'}", "image: 'oci://r/web:1'}\n    - name: cache\n      type: capability\n      properties: {image: 'ghcr.io/someone/unknown-provider:1'}"),
            "spec.components[1].properties.image",
        ),
        ("apiVersion: core.oam.dev/v1beta1\nkind: Application\nmetadata: {name: x\n".to_owned(), "line 4"),
    ];
    for (i, (text, expected)) in cases.iter().enumerate() {
        let file = write(dir, &format!("bad{i}.yaml"), text)?;
        let (code, _, stderr) = weft(nats, l, &["app", "validate", &file]).await?;
        assert_ne!(code, 0, "case {i} passed validation:\n{text}");
        assert!(
            stderr.contains(expected),
            "case {i}: wanted `{expected}` in: {stderr}"
        );
        // The server checks the same, whatever client sends it.
        let reply = client
            .request(format!("wadm.api.{l}.model.put"), text.clone().into())
            .await?;
        let v: Value = serde_json::from_slice(&reply.payload)?;
        assert_eq!(v["result"], "error", "case {i}: {v}");
        assert!(
            v["message"].as_str().unwrap_or_default().contains(expected),
            "case {i}: {v}"
        );
    }
    Ok(())
}

/// wadm's clients: raw subjects and shapes; malformed bodies and unknown
/// subjects get an error reply, and the server goes on serving.
async fn wadm_clients_get_wadm_shapes(
    l: &str,
    image: &str,
    client: &async_nats::Client,
    lc: &weft_lattice_client::LatticeClient,
) -> anyhow::Result<()> {
    let ask = |op: &str, body: &str| {
        let client = client.clone();
        let subject = format!("wadm.api.{l}.model.{op}");
        let body = body.to_owned();
        async move {
            let reply = client.request(subject, body.into()).await?;
            anyhow::Ok(serde_json::from_slice::<Value>(&reply.payload)?)
        }
    };
    let put = ask("put", &GOOD.replace("oci://r/web:1", image)).await?;
    assert_eq!(put["result"], "created", "{put}");
    assert_eq!(put["current_version"], "v1");
    let list = ask("get", "").await?;
    assert_eq!(list["result"], "success");
    assert!(
        list["models"]
            .as_array()
            .is_some_and(|m| m.iter().any(|m| m["name"] == "ok")),
        "{list}"
    );
    let deploy = ask("deploy.ok", r#"{"version":"v1"}"#).await?;
    assert_eq!(deploy["result"], "acknowledged", "{deploy}");
    let status = wait_for("ok deployed", Duration::from_secs(30), || async {
        let s = ask("status.ok", "").await.ok()?;
        (s["status"]["status"]["type"] == "deployed").then_some(s)
    })
    .await?;
    assert_eq!(status["result"], "ok");
    // Malformed bodies and unknown subjects: an error reply, and the
    // server goes on serving.
    let bad = ask("deploy.ok", "{not json").await?;
    assert_eq!(bad["result"], "error");
    assert!(
        bad["message"]
            .as_str()
            .unwrap_or_default()
            .contains("not valid JSON"),
        "{bad}"
    );
    let unknown = ask("frobnicate.ok", "").await?;
    assert_eq!(unknown["result"], "error");
    assert!(
        unknown["message"]
            .as_str()
            .unwrap_or_default()
            .contains("model.deploy.NAME"),
        "{unknown}"
    );
    let missing = ask("deploy.nope", "").await?;
    assert_eq!(missing["result"], "notfound");
    let versions = ask("versions.ok", "").await?;
    assert_eq!(versions["versions"][0]["deployed"], true, "{versions}");
    let del = ask("del.ok", "").await?;
    assert_eq!(del["result"], "deleted");
    assert_eq!(del["undeploy"], true);
    wait_for("ok's component to go", Duration::from_secs(30), || async {
        let hosts = lc.hosts().await.ok()?;
        let inv = lc.inventory(&hosts.first()?.id).await.ok()?;
        (!inv.components.iter().any(|c| c.id == "ok-web")).then_some(())
    })
    .await?;
    Ok(())
}
