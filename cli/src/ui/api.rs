//! The dashboard's JSON API under `/api`: reads of the lattice and its
//! apps, and the actions the page offers. Errors are `{"error": …}` (plus
//! `errors`, one per problem, for manifests) with 400 for bad input, 401
//! without the token, 404 for unknown ids, 409 for refusals, 502 when the
//! lattice fails.

use super::Ui;
use super::views::{self, ComponentView};
use axum::Router;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;
use weft_apps::api::{DeleteResult, DeployResult, GetResult, StatusResult};
use weft_apps::client::Stored;
use weft_apps::manifest::{Manifest, parse, to_yaml};
use weft_apps::rescale::{RescaleError, rescaled};
use weft_apps::validate::validate;
use weft_lattice_client::ErrorKind;
use weft_lattice_protocol::wire::{DeleteLink, Link, ScaleComponent, StringMap};

/// A failed call, as JSON.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
    errors: Vec<String>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({"error": self.message});
        if !self.errors.is_empty() {
            body["errors"] = json!(self.errors);
        }
        (self.status, axum::Json(body)).into_response()
    }
}

/// An error with `status` and `message`.
pub fn error(status: StatusCode, message: impl Into<String>) -> ApiError {
    ApiError {
        status,
        message: message.into(),
        errors: Vec::new(),
    }
}

impl From<weft_lattice_client::Error> for ApiError {
    fn from(e: weft_lattice_client::Error) -> Self {
        let status = match e.kind() {
            ErrorKind::Rejected => StatusCode::CONFLICT,
            _ => StatusCode::BAD_GATEWAY,
        };
        error(status, e.to_string())
    }
}

impl From<weft_apps::client::ClientError> for ApiError {
    fn from(e: weft_apps::client::ClientError) -> Self {
        error(StatusCode::BAD_GATEWAY, e.to_string())
    }
}

impl From<weft_lattice_nats::StateError> for ApiError {
    fn from(e: weft_lattice_nats::StateError) -> Self {
        use weft_lattice_nats::StateError as E;
        let status = match e {
            // JetStream cannot answer now: the request was fine.
            E::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            E::Store { .. } | E::Corrupt(_) => StatusCode::BAD_GATEWAY,
            _ => StatusCode::BAD_REQUEST,
        };
        error(status, e.to_string())
    }
}

type Reply = Result<axum::Json<Value>, ApiError>;
type Shared = State<Arc<Ui>>;

fn ok(v: impl serde::Serialize) -> Reply {
    serde_json::to_value(v)
        .map(axum::Json)
        .map_err(|e| error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
}

/// A JSON body, or a 400 that says what is wrong with it.
fn body<T>(b: Result<axum::Json<T>, JsonRejection>) -> Result<T, ApiError> {
    b.map(|axum::Json(v)| v).map_err(|e| {
        error(
            StatusCode::BAD_REQUEST,
            format!("bad JSON body: {}", e.body_text()),
        )
    })
}

/// The API's routes.
pub fn routes() -> Router<Arc<Ui>> {
    Router::new()
        .route("/overview", get(overview))
        .route("/hosts", get(hosts))
        .route("/hosts/{id}", get(host))
        .route("/components", get(components))
        .route("/components/{id}", get(component))
        .route("/components/{id}/scale", post(scale))
        .route("/providers", get(providers))
        .route("/links", get(links).put(put_link).delete(delete_link))
        .route("/configs", get(configs))
        .route("/configs/{name}", put(put_config).delete(delete_config))
        .route("/apps", get(apps).post(deploy))
        .route("/apps/validate", post(validate_text))
        .route("/apps/{name}", get(app).delete(delete_app))
        .route("/apps/{name}/undeploy", post(undeploy))
        .fallback(|| async { error(StatusCode::NOT_FOUND, "no such API endpoint") })
}

async fn overview(State(ui): Shared) -> Reply {
    let invs = views::inventories(&ui.lattice, &ui.known).await?;
    let links = ui.lattice.links().await?;
    let configs = ui.state.config_names().await?;
    let apps = ui.apps.list().await.map(|l| l.models).unwrap_or_default();
    let deployed = apps.iter().filter(|a| a.deployed_version.is_some()).count();
    ok(json!({
        "lattice": ui.name,
        "hosts": invs.len(),
        "components": views::components(&invs, &links).len(),
        "instances": invs.iter().flat_map(|i| &i.components).map(|c| u64::from(c.max_instances)).sum::<u64>(),
        "providers": views::providers(&invs).len(),
        "links": links.len(),
        "configs": configs.len(),
        "apps": apps.len(),
        "apps_deployed": deployed,
    }))
}

async fn hosts(State(ui): Shared) -> Reply {
    ok(views::inventories(&ui.lattice, &ui.known).await?)
}

async fn host(State(ui): Shared, Path(id): Path<String>) -> Reply {
    let invs = views::inventories(&ui.lattice, &ui.known).await?;
    match invs
        .into_iter()
        .find(|i| i.host_id == id || i.friendly_name == id)
    {
        Some(inv) => ok(inv),
        None => Err(error(
            StatusCode::NOT_FOUND,
            format!("no host `{id}` answers in lattice `{}`", ui.name),
        )),
    }
}

async fn all_components(ui: &Ui) -> Result<Vec<ComponentView>, ApiError> {
    let invs = views::inventories(&ui.lattice, &ui.known).await?;
    let links = ui.lattice.links().await?;
    Ok(views::components(&invs, &links))
}

async fn components(State(ui): Shared) -> Reply {
    ok(all_components(&ui).await?)
}

async fn find_component(ui: &Ui, id: &str) -> Result<ComponentView, ApiError> {
    all_components(ui)
        .await?
        .into_iter()
        .find(|c| c.id == id)
        .ok_or_else(|| {
            error(
                StatusCode::NOT_FOUND,
                format!("no component `{id}` runs in lattice `{}`", ui.name),
            )
        })
}

async fn component(State(ui): Shared, Path(id): Path<String>) -> Reply {
    ok(find_component(&ui, &id).await?)
}

/// `POST /components/{id}/scale` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScaleBody {
    /// Instances wanted (0 stops it).
    max_instances: u32,
    /// On which host (needed when it runs on several and no app manages it).
    #[serde(default)]
    host_id: Option<String>,
}

async fn scale(
    State(ui): Shared,
    Path(id): Path<String>,
    b: Result<axum::Json<ScaleBody>, JsonRejection>,
) -> Reply {
    let b = body(b)?;
    let c = find_component(&ui, &id).await?;
    if let Some(app) = &c.app {
        return scale_app(&ui, app, &id, b.max_instances).await;
    }
    let host = match (&b.host_id, c.hosts.as_slice()) {
        (Some(h), _) => c
            .hosts
            .iter()
            .find(|p| p.host_id == *h || p.friendly_name == *h)
            .map(|p| p.host_id.clone())
            .ok_or_else(|| {
                error(
                    StatusCode::NOT_FOUND,
                    format!("component `{id}` does not run on host `{h}`"),
                )
            })?,
        (None, [one]) => one.host_id.clone(),
        (None, many) => {
            return Err(error(
                StatusCode::BAD_REQUEST,
                format!(
                    "component `{id}` runs on {} hosts; say which (host_id)",
                    many.len()
                ),
            ));
        }
    };
    let cmd = ScaleComponent {
        component_ref: c.image_ref.clone(),
        component_id: id.clone(),
        host_id: host.clone(),
        max_instances: b.max_instances,
        annotations: c.annotations.clone(),
        config: Vec::new(),
        allow_update: false,
        component_limits: None,
    };
    ui.lattice.scale_component(&host, &cmd).await?;
    ok(json!({"message": format!("component `{id}` scaled to {} on host {host}", b.max_instances)}))
}

/// Scales a component an app manages: a new version of the app with the
/// component's scaler changed, deployed (the reconciler would undo a
/// direct scale).
async fn scale_app(ui: &Ui, app: &str, id: &str, instances: u32) -> Reply {
    let status = ui.apps.status(app).await?;
    let deployed = status.status.map(|s| s.version).filter(|v| !v.is_empty());
    // The deployed version's manifest (the latest if none is deployed).
    let manifest = ui
        .apps
        .get(app, deployed.as_deref())
        .await?
        .manifest
        .ok_or_else(|| {
            error(
                StatusCode::NOT_FOUND,
                format!("app `{app}` has no manifest"),
            )
        })?;
    let manifest = rescaled(manifest, deployed.as_deref(), id, instances).map_err(|e| {
        let code = match e {
            RescaleError::NoComponent { .. } => StatusCode::NOT_FOUND,
            RescaleError::NoScaler { .. } => StatusCode::CONFLICT,
        };
        error(code, e.to_string())
    })?;
    let version = match ui.apps.put_or_same(&manifest).await? {
        Stored::Version(v) => v,
        Stored::Refused(why) => return Err(error(StatusCode::CONFLICT, why)),
    };
    let d = ui.apps.deploy(app, Some(&version)).await?;
    if d.result != DeployResult::Acknowledged {
        return Err(error(StatusCode::CONFLICT, d.message));
    }
    ok(json!({
        "message": format!("app `{app}` version {version} scales `{id}` to {instances}"),
        "app": app,
        "version": version,
    }))
}

async fn providers(State(ui): Shared) -> Reply {
    let invs = views::inventories(&ui.lattice, &ui.known).await?;
    ok(views::providers(&invs))
}

async fn links(State(ui): Shared) -> Reply {
    ok(ui.lattice.links().await?)
}

async fn put_link(State(ui): Shared, b: Result<axum::Json<Link>, JsonRejection>) -> Reply {
    let link = body(b)?;
    ui.lattice.put_link(&link).await?;
    ok(
        json!({"message": format!("link {} -({}:{})-> {} put", link.source_id, link.wit_namespace, link.wit_package, link.target)}),
    )
}

async fn delete_link(State(ui): Shared, b: Result<axum::Json<DeleteLink>, JsonRejection>) -> Reply {
    let del = body(b)?;
    let exists = ui.lattice.links().await?.iter().any(|l| {
        l.source_id == del.source_id
            && l.name == del.name
            && l.wit_namespace == del.wit_namespace
            && l.wit_package == del.wit_package
    });
    if !exists {
        return Err(error(
            StatusCode::NOT_FOUND,
            format!(
                "no link from `{}` for {}:{} named `{}`",
                del.source_id, del.wit_namespace, del.wit_package, del.name
            ),
        ));
    }
    ui.lattice.delete_link(&del).await?;
    ok(json!({"message": "link deleted"}))
}

#[derive(Debug, Deserialize)]
struct Reveal {
    #[serde(default)]
    reveal: bool,
}

async fn configs(State(ui): Shared, Query(q): Query<Reveal>) -> Reply {
    let mut out = Vec::new();
    for name in ui.state.config_names().await? {
        let values = ui.state.config(&name).await?.unwrap_or_default();
        let secret = weft_lattice_protocol::secret::secret_keys(&values);
        let values: StringMap = if q.reveal {
            weft_lattice_protocol::secret::for_display(&values, true)
        } else {
            weft_lattice_protocol::secret::for_display(&values, true)
                .into_keys()
                .map(|k| (k, weft_lattice_protocol::secret::MASK.to_owned()))
                .collect()
        };
        out.push(json!({"name": name, "values": values, "secret": secret}));
    }
    ok(out)
}

async fn put_config(
    State(ui): Shared,
    Path(name): Path<String>,
    b: Result<axum::Json<StringMap>, JsonRejection>,
) -> Reply {
    let values = body(b)?;
    ui.lattice.put_config(&name, &values).await?;
    ok(json!({"message": format!("config `{name}` put")}))
}

async fn delete_config(State(ui): Shared, Path(name): Path<String>) -> Reply {
    if ui.state.config(&name).await?.is_none() {
        return Err(error(StatusCode::NOT_FOUND, format!("no config `{name}`")));
    }
    ui.lattice.delete_config(&name).await?;
    ok(json!({"message": format!("config `{name}` deleted")}))
}

async fn apps(State(ui): Shared) -> Reply {
    let list = ui.apps.list().await?;
    if list.result == GetResult::Error {
        return Err(error(StatusCode::BAD_GATEWAY, list.message));
    }
    ok(list.models)
}

async fn app(State(ui): Shared, Path(name): Path<String>) -> Reply {
    let got = ui.apps.get(&name, None).await?;
    match got.result {
        GetResult::NotFound => return Err(error(StatusCode::NOT_FOUND, got.message)),
        GetResult::Error => return Err(error(StatusCode::BAD_GATEWAY, got.message)),
        GetResult::Success => {}
    }
    let status = ui.apps.status(&name).await?;
    if status.result == StatusResult::NotFound {
        return Err(error(StatusCode::NOT_FOUND, status.message));
    }
    let versions = ui.apps.versions(&name).await?;
    ok(json!({
        "name": name,
        "manifest": got.manifest.as_ref().map(to_yaml),
        "status": status.status,
        "versions": versions.versions,
    }))
}

/// A pasted manifest, parsed and validated: every problem, named by path.
fn check(text: &str) -> Result<Manifest, ApiError> {
    let invalid = |errors: Vec<String>| ApiError {
        status: StatusCode::BAD_REQUEST,
        message: format!("not a valid manifest: {}", errors.join("; ")),
        errors,
    };
    let manifest = parse(text).map_err(|e| invalid(vec![e.to_string()]))?;
    let mut problems: Vec<String> = validate(&manifest)
        .err()
        .unwrap_or_default()
        .iter()
        .map(ToString::to_string)
        .collect();
    for (i, c) in manifest.spec.components.iter().enumerate() {
        let relative = c
            .properties
            .image
            .as_deref()
            .and_then(|i| i.strip_prefix("file://"))
            .is_some_and(|p| !p.starts_with('/'));
        if relative {
            problems.push(format!(
                "spec.components[{i}].properties.image: a relative file:// path needs a directory; use an absolute path here, or `weft app deploy FILE`"
            ));
        }
    }
    if problems.is_empty() {
        Ok(manifest)
    } else {
        Err(invalid(problems))
    }
}

async fn validate_text(text: String) -> Reply {
    let m = check(&text)?;
    ok(json!({"valid": true, "name": m.name(), "version": m.version()}))
}

async fn deploy(State(ui): Shared, text: String) -> Reply {
    let manifest = check(&text)?;
    let name = manifest.name().to_owned();
    // Putting a version again with the same content is fine; other content is not.
    let version = match ui.apps.put_or_same(&manifest).await? {
        Stored::Version(v) => Some(v),
        Stored::Refused(why) => return Err(error(StatusCode::CONFLICT, why)),
    };
    let d = ui.apps.deploy(&name, version.as_deref()).await?;
    match d.result {
        DeployResult::Acknowledged => {
            ok(json!({"message": d.message, "name": name, "version": d.version}))
        }
        DeployResult::NotFound => Err(error(StatusCode::NOT_FOUND, d.message)),
        DeployResult::Error => Err(error(StatusCode::CONFLICT, d.message)),
    }
}

async fn undeploy(State(ui): Shared, Path(name): Path<String>) -> Reply {
    let d = ui.apps.undeploy(&name).await?;
    match d.result {
        DeployResult::Acknowledged => ok(json!({"message": d.message})),
        DeployResult::NotFound => Err(error(StatusCode::NOT_FOUND, d.message)),
        DeployResult::Error => Err(error(StatusCode::BAD_GATEWAY, d.message)),
    }
}

async fn delete_app(State(ui): Shared, Path(name): Path<String>) -> Reply {
    let d = ui.apps.delete(&name, None).await?;
    match d.result {
        DeleteResult::Deleted => ok(json!({"message": d.message})),
        DeleteResult::Noop => Err(error(StatusCode::NOT_FOUND, d.message)),
        DeleteResult::Error => Err(error(StatusCode::BAD_GATEWAY, d.message)),
    }
}
