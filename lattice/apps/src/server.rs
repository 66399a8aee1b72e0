//! The wadm API every host serves (`wadm.api.{lattice}.model.*`, queue
//! group `wadm_server`, so each request is answered once): manifests in
//! and out of the store, deploy (refused when it clashes with a deployed
//! app), undeploy, delete and status, in wadm's JSON shapes.

use crate::api::{
    DeleteModelRequest, DeleteModelResponse, DeleteResult, DeployModelRequest, DeployModelResponse,
    DeployResult, GetModelRequest, GetModelResponse, GetResult, ListModelsResponse, ModelSummary,
    PREFIX, PutModelResponse, PutResult, QUEUE_GROUP, Status, StatusInfo, StatusResponse,
    StatusResult, StatusType, VersionInfo, VersionResponse, error_reply,
};
use crate::conflict::conflict;
use crate::manifest::parse;
use crate::store::{AppRecord, AppStore, StoreError};
use crate::validate::validate;
use futures::StreamExt;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::task::JoinHandle;
use weft_jetstream::bucket::Placement;

/// The API of one lattice's app store, independent of transport.
#[derive(Clone)]
pub struct Api {
    store: AppStore,
}

/// A running API server; stops when [`ApiServer::stop`] is called.
pub struct ApiServer {
    task: JoinHandle<()>,
}

impl ApiServer {
    /// Serves `lattice`'s app API on `client` until stopped, with its
    /// buckets in `placement`.
    pub async fn start(
        client: async_nats::Client,
        lattice: &str,
        placement: &Placement,
    ) -> Result<Self, String> {
        let api = Api {
            store: AppStore::open_in(client.clone(), lattice, placement)
                .await
                .map_err(|e| e.to_string())?,
        };
        let prefix = format!("{PREFIX}.{lattice}.model.");
        let mut sub = client
            .queue_subscribe(format!("{prefix}>"), QUEUE_GROUP.to_owned())
            .await
            .map_err(|e| format!("could not subscribe to the app API: {e}"))?;
        // Requests sent right after start must find the subscription.
        client
            .flush()
            .await
            .map_err(|e| format!("could not subscribe to the app API: {e}"))?;
        let task = tokio::spawn(async move {
            while let Some(msg) = sub.next().await {
                let Some(reply) = msg.reply.clone() else {
                    continue;
                };
                let api = api.clone();
                let client = client.clone();
                let op = msg
                    .subject
                    .as_str()
                    .strip_prefix(&prefix)
                    .unwrap_or_default()
                    .to_owned();
                tokio::spawn(async move {
                    let answer = api.handle(&op, &msg.payload).await;
                    if let Err(e) = client.publish(reply, answer.into()).await {
                        tracing::debug!("could not answer an app API request: {e}");
                    }
                });
            }
        });
        Ok(Self { task })
    }

    /// Stops serving.
    pub fn stop(self) {
        self.task.abort();
    }
}

impl Drop for ApiServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn json<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value)
        .unwrap_or_else(|e| error_reply(format!("could not encode the reply: {e}")))
}

/// The body as `T`; an empty body is `T`'s default.
fn body<T: DeserializeOwned + Default>(payload: &[u8]) -> Result<T, String> {
    if payload.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(payload)
        .map_err(|e| format!("the request body is not valid JSON for this subject: {e}"))
}

impl Api {
    /// An API over `store`.
    pub fn new(store: AppStore) -> Self {
        Self { store }
    }

    /// Answers one request: `op` is the subject after `model.` (`put`,
    /// `get`, `get.NAME`, `list`, `versions.NAME`, `del.NAME`,
    /// `deploy.NAME`, `undeploy.NAME`, `status.NAME`).
    pub async fn handle(&self, op: &str, payload: &[u8]) -> Vec<u8> {
        let (verb, name) = match op.split_once('.') {
            Some((verb, name)) => (verb, Some(name)),
            None => (op, None),
        };
        match (verb, name) {
            ("put", None) => self.put(payload).await,
            ("get", None) => self.list().await,
            ("list", None) => match self.summaries().await {
                Ok(models) => json(&models),
                Err(e) => error_reply(e.to_string()),
            },
            ("get", Some(name)) => self.get(name, payload).await,
            ("versions", Some(name)) => self.versions(name).await,
            ("del", Some(name)) => self.delete(name, payload).await,
            ("deploy", Some(name)) => self.deploy(name, payload).await,
            ("undeploy", Some(name)) => self.undeploy(name).await,
            ("status", Some(name)) => self.status(name).await,
            _ => error_reply(format!(
                "unknown app API subject `model.{op}`; these are served: model.put, model.get, model.list, \
                 model.get.NAME, model.versions.NAME, model.del.NAME, model.deploy.NAME, model.undeploy.NAME, \
                 model.status.NAME"
            )),
        }
    }

    async fn put(&self, payload: &[u8]) -> Vec<u8> {
        let failed = |message: String| {
            json(&PutModelResponse {
                result: PutResult::Error,
                total_versions: 0,
                current_version: String::new(),
                message,
                name: String::new(),
            })
        };
        let Ok(text) = std::str::from_utf8(payload) else {
            return failed("the manifest is not UTF-8 text; send it as YAML or JSON".into());
        };
        let manifest = match parse(text) {
            Ok(m) => m,
            Err(e) => return failed(format!("invalid manifest: {e}")),
        };
        if let Err(errors) = validate(&manifest) {
            let list: Vec<String> = errors.iter().map(ToString::to_string).collect();
            return failed(format!("invalid manifest: {}", list.join("; ")));
        }
        let name = manifest.name().to_owned();
        match self.store.put(manifest).await {
            Ok(put) => json(&PutModelResponse {
                result: if put.created {
                    PutResult::Created
                } else {
                    PutResult::NewVersion
                },
                total_versions: put.total,
                message: format!("Successfully put manifest {name} {}", put.version),
                current_version: put.version,
                name,
            }),
            Err(e) => failed(e.to_string()),
        }
    }

    async fn summaries(&self) -> Result<Vec<ModelSummary>, StoreError> {
        let mut out = Vec::new();
        for record in self.store.list().await? {
            let status = self.status_of(&record).await?;
            out.push(ModelSummary {
                version: record
                    .latest()
                    .map(|v| v.version.clone())
                    .unwrap_or_default(),
                description: record
                    .latest()
                    .map(|v| v.manifest.description().to_owned())
                    .filter(|d| !d.is_empty()),
                deployed_version: record.deployed.clone(),
                status: status.status.kind,
                status_message: Some(status.status.message.clone()).filter(|m| !m.is_empty()),
                detailed_status: status,
                name: record.name,
            });
        }
        Ok(out)
    }

    async fn list(&self) -> Vec<u8> {
        match self.summaries().await {
            Ok(models) => json(&ListModelsResponse {
                result: GetResult::Success,
                message: "Successfully fetched list of applications".into(),
                models,
            }),
            Err(e) => json(&ListModelsResponse {
                result: GetResult::Error,
                message: e.to_string(),
                models: Vec::new(),
            }),
        }
    }

    async fn get(&self, name: &str, payload: &[u8]) -> Vec<u8> {
        let reply = |result, message: String, manifest| {
            json(&GetModelResponse {
                result,
                message,
                manifest,
            })
        };
        let req: GetModelRequest = match body(payload) {
            Ok(r) => r,
            Err(e) => return reply(GetResult::Error, e, None),
        };
        let record = match self.store.get(name).await {
            Ok(Some(r)) => r,
            Ok(None) => {
                return reply(
                    GetResult::NotFound,
                    StoreError::NoSuchApp(name.into()).to_string(),
                    None,
                );
            }
            Err(e) => return reply(GetResult::Error, e.to_string(), None),
        };
        let found = match req.version.as_deref().filter(|v| *v != "latest") {
            Some(v) => record.version(v),
            None => record.latest(),
        };
        match found {
            Some(v) => reply(
                GetResult::Success,
                format!("Successfully fetched application {name} {}", v.version),
                Some(v.manifest.clone()),
            ),
            None => reply(
                GetResult::NotFound,
                StoreError::NoSuchVersion {
                    app: name.into(),
                    version: req.version.unwrap_or_default(),
                }
                .to_string(),
                None,
            ),
        }
    }

    async fn versions(&self, name: &str) -> Vec<u8> {
        let reply = |result, message: String, versions| {
            json(&VersionResponse {
                result,
                message,
                versions,
            })
        };
        match self.store.get(name).await {
            Ok(Some(record)) => reply(
                GetResult::Success,
                format!("Successfully fetched versions of application {name}"),
                record
                    .versions
                    .iter()
                    .map(|v| VersionInfo {
                        deployed: record.deployed.as_deref() == Some(&v.version),
                        version: v.version.clone(),
                    })
                    .collect(),
            ),
            Ok(None) => reply(
                GetResult::NotFound,
                StoreError::NoSuchApp(name.into()).to_string(),
                Vec::new(),
            ),
            Err(e) => reply(GetResult::Error, e.to_string(), Vec::new()),
        }
    }

    async fn delete(&self, name: &str, payload: &[u8]) -> Vec<u8> {
        let reply = |result, message: String, undeploy| {
            json(&DeleteModelResponse {
                result,
                message,
                undeploy,
            })
        };
        let req: DeleteModelRequest = match body(payload) {
            Ok(r) => r,
            Err(e) => return reply(DeleteResult::Error, e, false),
        };
        match self.store.delete(name, req.version.as_deref()).await {
            Ok((true, undeployed)) => reply(
                DeleteResult::Deleted,
                match &req.version {
                    Some(v) => format!("Successfully deleted version {v} of application {name}"),
                    None => format!("Successfully deleted application {name}"),
                },
                undeployed,
            ),
            Ok((false, _)) => reply(
                DeleteResult::Noop,
                match &req.version {
                    Some(v) => format!("application {name} has no version {v}; nothing deleted"),
                    None => format!("there is no application {name}; nothing deleted"),
                },
                false,
            ),
            Err(e) => reply(DeleteResult::Error, e.to_string(), false),
        }
    }

    async fn deploy(&self, name: &str, payload: &[u8]) -> Vec<u8> {
        let reply = |result, message: String, version| {
            json(&DeployModelResponse {
                result,
                message,
                name: name.to_owned(),
                version,
            })
        };
        let req: DeployModelRequest = match body(payload) {
            Ok(r) => r,
            Err(e) => return reply(DeployResult::Error, e, None),
        };
        let records = match self.store.list().await {
            Ok(r) => r,
            Err(e) => return reply(DeployResult::Error, e.to_string(), None),
        };
        let Some(record) = records.iter().find(|r| r.name == name) else {
            return reply(
                DeployResult::NotFound,
                StoreError::NoSuchApp(name.into()).to_string(),
                None,
            );
        };
        let wanted = match req.version.as_deref().filter(|v| *v != "latest") {
            Some(v) => record.version(v),
            None => record.latest(),
        };
        let Some(wanted) = wanted else {
            let e = StoreError::NoSuchVersion {
                app: name.into(),
                version: req.version.unwrap_or_default(),
            };
            return reply(DeployResult::NotFound, e.to_string(), None);
        };
        let others: Vec<(&str, &crate::manifest::Manifest)> = records
            .iter()
            .filter_map(|r| Some((r.name.as_str(), r.deployed_manifest()?)))
            .collect();
        if let Some(why) = conflict(&wanted.manifest, &others) {
            return reply(DeployResult::Error, why, None);
        }
        match self.store.deploy(name, Some(&wanted.version)).await {
            Ok(version) => reply(
                DeployResult::Acknowledged,
                format!("Successfully deployed application {name} {version}"),
                Some(version),
            ),
            Err(e @ (StoreError::NoSuchApp(_) | StoreError::NoSuchVersion { .. })) => {
                reply(DeployResult::NotFound, e.to_string(), None)
            }
            Err(e) => reply(DeployResult::Error, e.to_string(), None),
        }
    }

    async fn undeploy(&self, name: &str) -> Vec<u8> {
        let reply = |result, message: String| {
            json(&DeployModelResponse {
                result,
                message,
                name: name.to_owned(),
                version: None,
            })
        };
        match self.store.undeploy(name).await {
            Ok(true) => reply(
                DeployResult::Acknowledged,
                format!("Successfully undeployed application {name}"),
            ),
            Ok(false) => reply(
                DeployResult::Acknowledged,
                format!("application {name} was not deployed; nothing to undeploy"),
            ),
            Err(e @ StoreError::NoSuchApp(_)) => reply(DeployResult::NotFound, e.to_string()),
            Err(e) => reply(DeployResult::Error, e.to_string()),
        }
    }

    /// The status to show for `record`: the reconciler's, or what it is
    /// before the reconciler has looked.
    async fn status_of(&self, record: &AppRecord) -> Result<Status, StoreError> {
        let recorded = self.store.status(&record.name).await?;
        Ok(match (recorded, &record.deployed) {
            (Some(s), Some(v)) if s.version == *v => s,
            (_, Some(v)) => Status {
                status: StatusInfo {
                    kind: StatusType::Reconciling,
                    message: format!("version {v} deployed; waiting for the reconciler"),
                },
                version: v.clone(),
                ..Status::default()
            },
            (Some(s), None) if s.status.kind == StatusType::Reconciling => s,
            (_, None) => Status::default(),
        })
    }

    async fn status(&self, name: &str) -> Vec<u8> {
        let reply = |result, message: String, status| {
            json(&StatusResponse {
                result,
                message,
                status,
            })
        };
        let record = match self.store.get(name).await {
            Ok(Some(r)) => r,
            Ok(None) => {
                return reply(
                    StatusResult::NotFound,
                    StoreError::NoSuchApp(name.into()).to_string(),
                    None,
                );
            }
            Err(e) => return reply(StatusResult::Error, e.to_string(), None),
        };
        match self.status_of(&record).await {
            Ok(status) => reply(
                StatusResult::Ok,
                format!("Successfully fetched status of application {name}"),
                Some(status),
            ),
            Err(e) => reply(StatusResult::Error, e.to_string(), None),
        }
    }
}
