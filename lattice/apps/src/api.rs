//! The wadm API's JSON shapes (`wadm.api.{lattice}.model.*`), field for
//! field as wadm 0.21 and its clients send and read them. Result enums are
//! lower-case; every error path without a typed reply answers
//! `{"result":"error","message":"…"}`.

use crate::manifest::Manifest;
use serde::{Deserialize, Serialize};

/// The subject prefix wadm serves under.
pub const PREFIX: &str = "wadm.api";
/// The queue group API servers share, so each request is answered once.
pub const QUEUE_GROUP: &str = "wadm_server";

/// `model.put` outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PutResult {
    /// Failed; the message says why.
    Error,
    /// The first version of a new app.
    Created,
    /// Another version of an app.
    NewVersion,
}

/// `model.put` reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PutModelResponse {
    /// What happened.
    pub result: PutResult,
    /// How many versions the app has now.
    #[serde(default)]
    pub total_versions: usize,
    /// The version just stored.
    #[serde(default)]
    pub current_version: String,
    /// For people.
    #[serde(default)]
    pub message: String,
    /// The app.
    #[serde(default)]
    pub name: String,
}

/// Outcome of reads (`get`, `versions`, list).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GetResult {
    /// Failed.
    Error,
    /// Here it is.
    Success,
    /// No such app or version.
    NotFound,
}

/// `model.get.{name}` body.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetModelRequest {
    /// Which version (default: the latest).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// `model.get.{name}` reply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GetModelResponse {
    /// What happened.
    pub result: GetResult,
    /// For people.
    #[serde(default)]
    pub message: String,
    /// The manifest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifest: Option<Manifest>,
}

/// One app in a list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelSummary {
    /// The app.
    pub name: String,
    /// Its latest version.
    pub version: String,
    /// Its description.
    pub description: Option<String>,
    /// The version deployed, if one is.
    pub deployed_version: Option<String>,
    /// Its status.
    #[serde(default)]
    pub detailed_status: Status,
    /// Its status type (wadm's older field).
    pub status: StatusType,
    /// Its status message (wadm's older field).
    pub status_message: Option<String>,
}

/// `model.get` (no name) reply: every app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListModelsResponse {
    /// What happened.
    pub result: GetResult,
    /// For people.
    #[serde(default)]
    pub message: String,
    /// The apps.
    pub models: Vec<ModelSummary>,
}

/// One version of an app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionInfo {
    /// The version.
    pub version: String,
    /// Whether it is the deployed one.
    pub deployed: bool,
}

/// `model.versions.{name}` reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionResponse {
    /// What happened.
    pub result: GetResult,
    /// For people.
    #[serde(default)]
    pub message: String,
    /// Oldest first.
    pub versions: Vec<VersionInfo>,
}

/// `model.del.{name}` body.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteModelRequest {
    /// One version (default: all of them).
    #[serde(default)]
    pub version: Option<String>,
}

/// `model.del` outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeleteResult {
    /// Deleted.
    Deleted,
    /// Failed.
    Error,
    /// Nothing to delete.
    Noop,
}

/// `model.del.{name}` reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteModelResponse {
    /// What happened.
    pub result: DeleteResult,
    /// For people.
    #[serde(default)]
    pub message: String,
    /// Whether the app was undeployed as well.
    #[serde(default)]
    pub undeploy: bool,
}

/// `model.deploy.{name}` body.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeployModelRequest {
    /// Which version (default, or `latest`: the latest).
    #[serde(default)]
    pub version: Option<String>,
}

/// `model.deploy` / `model.undeploy` outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeployResult {
    /// Failed.
    Error,
    /// Taken; the reconciler works on it.
    Acknowledged,
    /// No such app.
    NotFound,
}

/// `model.deploy.{name}` / `model.undeploy.{name}` reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeployModelResponse {
    /// What happened.
    pub result: DeployResult,
    /// For people.
    #[serde(default)]
    pub message: String,
    /// The app.
    #[serde(default)]
    pub name: String,
    /// The version deployed.
    #[serde(default)]
    pub version: Option<String>,
}

/// `model.status` outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StatusResult {
    /// Failed.
    Error,
    /// Here it is.
    Ok,
    /// No such app.
    NotFound,
}

/// `model.status.{name}` reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusResponse {
    /// What happened.
    pub result: StatusResult,
    /// For people.
    #[serde(default)]
    pub message: String,
    /// The status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Status>,
}

/// Where an app (or one of its parts) stands.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StatusType {
    /// Everything declared runs (`ready` in older wadm).
    #[serde(alias = "ready")]
    Deployed,
    /// Runs, but a part is unwell.
    Unhealthy,
    /// Being brought in line; the message says with what.
    #[serde(alias = "compensating")]
    Reconciling,
    /// Waiting for hosts or a leader.
    Waiting,
    /// Not deployed.
    #[default]
    Undeployed,
    /// Cannot be brought in line; the message says why.
    Failed,
}

/// A status and why.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusInfo {
    /// The status.
    #[serde(rename = "type")]
    pub kind: StatusType,
    /// Why, or what is pending.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
}

/// The status of one scaler (a component's scaler, a link, a config).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScalerStatus {
    /// Its id.
    #[serde(default)]
    pub id: String,
    /// `SpreadScaler`, `DaemonScaler`, `LinkScaler`, `ConfigScaler`.
    #[serde(default)]
    pub kind: String,
    /// For people (`counter`, `counter -(wasi:keyvalue)-> kv`).
    #[serde(default)]
    pub name: String,
    /// Where it stands.
    pub status: StatusInfo,
}

/// An app's status.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    /// The whole app.
    pub status: StatusInfo,
    /// Each part.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scalers: Vec<ScalerStatus>,
    /// wadm's older field; the deployed version here.
    #[serde(default)]
    pub version: String,
    /// wadm's older field; always empty.
    #[serde(default)]
    pub components: Vec<serde_json::Value>,
}

impl Status {
    /// An app's status from its parts: the worst of them wins (failed >
    /// undeployed > waiting > reconciling > unhealthy > deployed).
    pub fn of(version: &str, scalers: Vec<ScalerStatus>) -> Self {
        let worst = scalers
            .iter()
            .map(|s| &s.status)
            .max_by_key(|s| s.kind)
            .cloned()
            .unwrap_or(StatusInfo {
                kind: StatusType::Deployed,
                message: String::new(),
            });
        let message = match worst.kind {
            StatusType::Deployed => String::new(),
            _ => scalers
                .iter()
                .filter(|s| s.status.kind == worst.kind)
                .map(|s| format!("{}: {}", s.name, s.status.message))
                .collect::<Vec<_>>()
                .join("; "),
        };
        Self {
            status: StatusInfo {
                kind: worst.kind,
                message,
            },
            scalers,
            version: version.to_owned(),
            components: Vec::new(),
        }
    }
}

/// The error reply of paths without a typed one.
pub fn error_reply(message: impl Into<String>) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({"result": "error", "message": message.into()}))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_match_wadm() {
        let put = PutModelResponse {
            result: PutResult::NewVersion,
            total_versions: 2,
            current_version: "v2".into(),
            message: String::new(),
            name: "app".into(),
        };
        let json = serde_json::to_value(&put).unwrap();
        assert_eq!(json["result"], "newversion");
        let status: StatusInfo = serde_json::from_str(r#"{"type":"ready"}"#).unwrap();
        assert_eq!(status.kind, StatusType::Deployed);
        let worst = Status::of(
            "v1",
            vec![
                ScalerStatus {
                    name: "a".into(),
                    status: StatusInfo {
                        kind: StatusType::Deployed,
                        message: String::new(),
                    },
                    ..Default::default()
                },
                ScalerStatus {
                    name: "b".into(),
                    status: StatusInfo {
                        kind: StatusType::Failed,
                        message: "no host matches zone=eu".into(),
                    },
                    ..Default::default()
                },
            ],
        );
        assert_eq!(worst.status.kind, StatusType::Failed);
        assert_eq!(worst.status.message, "b: no host matches zone=eu");
        assert_eq!(
            serde_json::to_value(&worst).unwrap()["status"]["type"],
            "failed"
        );
    }
}
