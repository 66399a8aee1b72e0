//! A client of the app API (`wadm.api.{lattice}.model.*`), for `weft app`
//! and tests: one typed call per subject. It talks to Weft hosts and to
//! wadm alike.

use crate::api::{
    DeleteModelRequest, DeleteModelResponse, DeployModelRequest, DeployModelResponse,
    GetModelRequest, GetModelResponse, ListModelsResponse, PREFIX, PutModelResponse, PutResult,
    StatusResponse, VersionResponse,
};
use crate::manifest::Manifest;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::time::Duration;

/// Why a call got no usable answer.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Nobody serves the API on this lattice.
    #[error(
        "nothing serves the app API of lattice `{0}` (no responders on wadm.api.{0}.model.*); start a host with `weft up` or `weft host`, or check --lattice and --nats"
    )]
    NoServer(String),
    /// No answer in time.
    #[error("the app API of lattice `{lattice}` did not answer within {timeout:?}")]
    Timeout {
        /// The lattice.
        lattice: String,
        /// How long we waited.
        timeout: Duration,
    },
    /// NATS failed.
    #[error("the app API request failed: {0}")]
    Transport(String),
    /// The answer was not what the subject replies.
    #[error("the app API answered something unexpected: {0}")]
    BadReply(String),
}

/// What [`AppClient::put_or_same`] came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stored {
    /// Stored as this version, or that version holds this very manifest.
    Version(String),
    /// Refused, with the server's reason (another manifest under its
    /// version, an invalid manifest…).
    Refused(String),
}

/// The app API of one lattice.
#[derive(Clone)]
pub struct AppClient {
    nats: async_nats::Client,
    lattice: String,
    timeout: Duration,
}

impl AppClient {
    /// A client of `lattice`'s app API on `nats`.
    pub fn new(nats: async_nats::Client, lattice: &str) -> Self {
        Self {
            nats,
            lattice: lattice.to_owned(),
            timeout: Duration::from_secs(10),
        }
    }

    /// Waits up to `timeout` for each answer.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    async fn request<T: DeserializeOwned>(
        &self,
        op: &str,
        body: Vec<u8>,
    ) -> Result<T, ClientError> {
        let subject = format!("{PREFIX}.{}.model.{op}", self.lattice);
        let answer = tokio::time::timeout(self.timeout, self.nats.request(subject, body.into()))
            .await
            .map_err(|_| ClientError::Timeout {
                lattice: self.lattice.clone(),
                timeout: self.timeout,
            })?
            .map_err(|e| match e.kind() {
                async_nats::client::RequestErrorKind::NoResponders => {
                    ClientError::NoServer(self.lattice.clone())
                }
                async_nats::client::RequestErrorKind::TimedOut => ClientError::Timeout {
                    lattice: self.lattice.clone(),
                    timeout: self.timeout,
                },
                _ => ClientError::Transport(e.to_string()),
            })?;
        serde_json::from_slice(&answer.payload).map_err(|e| {
            // Generic errors come as {"result":"error","message":…}.
            match serde_json::from_slice::<serde_json::Value>(&answer.payload) {
                Ok(v) if v["message"].is_string() => {
                    ClientError::BadReply(v["message"].as_str().unwrap_or("").into())
                }
                _ => ClientError::BadReply(e.to_string()),
            }
        })
    }

    fn encode(body: &impl Serialize) -> Vec<u8> {
        serde_json::to_vec(body).unwrap_or_default()
    }

    /// Stores `manifest` as a new version; storing it again under its own
    /// version is fine when the stored one is the same, and anything else
    /// under that version is refused.
    pub async fn put_or_same(&self, manifest: &Manifest) -> Result<Stored, ClientError> {
        let text =
            serde_json::to_string(manifest).map_err(|e| ClientError::BadReply(e.to_string()))?;
        let r = self.put(&text).await?;
        if r.result != PutResult::Error {
            return Ok(Stored::Version(r.current_version));
        }
        if let Some(v) = manifest.version() {
            let stored = self.get(manifest.name(), Some(v)).await?;
            if stored.manifest.as_ref() == Some(manifest) {
                return Ok(Stored::Version(v.to_owned()));
            }
        }
        Ok(Stored::Refused(r.message))
    }

    /// Stores a manifest (YAML or JSON text) as a new version.
    pub async fn put(&self, manifest: &str) -> Result<PutModelResponse, ClientError> {
        self.request("put", manifest.as_bytes().to_vec()).await
    }

    /// A version of an app's manifest (default: the latest).
    pub async fn get(
        &self,
        name: &str,
        version: Option<&str>,
    ) -> Result<GetModelResponse, ClientError> {
        let version = version.map(str::to_owned);
        let body = Self::encode(&GetModelRequest { version });
        self.request(&format!("get.{name}"), body).await
    }

    /// Every app.
    pub async fn list(&self) -> Result<ListModelsResponse, ClientError> {
        self.request("get", Vec::new()).await
    }

    /// An app's versions.
    pub async fn versions(&self, name: &str) -> Result<VersionResponse, ClientError> {
        self.request(&format!("versions.{name}"), Vec::new()).await
    }

    /// Deletes a version of an app, or all of it.
    pub async fn delete(
        &self,
        name: &str,
        version: Option<&str>,
    ) -> Result<DeleteModelResponse, ClientError> {
        let version = version.map(str::to_owned);
        let body = Self::encode(&DeleteModelRequest { version });
        self.request(&format!("del.{name}"), body).await
    }

    /// Deploys a version of an app (default: the latest).
    pub async fn deploy(
        &self,
        name: &str,
        version: Option<&str>,
    ) -> Result<DeployModelResponse, ClientError> {
        let body = Self::encode(&DeployModelRequest {
            version: version.map(str::to_owned),
        });
        self.request(&format!("deploy.{name}"), body).await
    }

    /// Undeploys an app.
    pub async fn undeploy(&self, name: &str) -> Result<DeployModelResponse, ClientError> {
        self.request(&format!("undeploy.{name}"), b"{}".to_vec())
            .await
    }

    /// An app's status.
    pub async fn status(&self, name: &str) -> Result<StatusResponse, ClientError> {
        self.request(&format!("status.{name}"), Vec::new()).await
    }
}
