//! Apps in JetStream KV: one key per app (`weft_<lattice>_apps`) holding
//! every version of its manifest and which one is deployed, written with
//! revision checks; statuses (`weft_<lattice>_appstatus`) written by the
//! reconciler.

use crate::api::Status;
use crate::manifest::Manifest;
use async_nats::jetstream::kv;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use weft_jetstream::bucket::{Placement, escape, unescape};
use weft_jetstream::leader::{self, NoLeader};
use weft_lattice_protocol::wire::Link;

/// Key prefix (in the status bucket) of a deleted app's links; `escape`
/// never makes a `.`, so no app's status key starts with it.
const RETIRED: &str = "retired.";

/// One stored version of an app.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredVersion {
    /// The version.
    pub version: String,
    /// The manifest.
    pub manifest: Manifest,
    /// When it was put (RFC 3339).
    pub stored_at: String,
}

/// An app: its versions, oldest first, and the deployed one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AppRecord {
    /// The app's name.
    pub name: String,
    /// Every version, oldest first.
    pub versions: Vec<StoredVersion>,
    /// The deployed version, if one is.
    pub deployed: Option<String>,
}

impl AppRecord {
    /// The latest version.
    pub fn latest(&self) -> Option<&StoredVersion> {
        self.versions.last()
    }

    /// Version `v`.
    pub fn version(&self, v: &str) -> Option<&StoredVersion> {
        self.versions.iter().find(|s| s.version == v)
    }

    /// The deployed manifest, if one is.
    pub fn deployed_manifest(&self) -> Option<&Manifest> {
        self.deployed
            .as_deref()
            .and_then(|v| self.version(v))
            .map(|s| &s.manifest)
    }
}

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// JetStream has no leader for the bucket now.
    #[error(transparent)]
    Unavailable(#[from] NoLeader),
    /// JetStream failed.
    #[error("the app store (bucket `{bucket}`) failed: {message}")]
    Backend {
        /// The bucket.
        bucket: String,
        /// What JetStream said.
        message: String,
    },
    /// The version exists already.
    #[error("app `{app}` has a version `{version}` already; put the manifest with another version")]
    VersionExists {
        /// The app.
        app: String,
        /// The version.
        version: String,
    },
    /// No such app.
    #[error("there is no app `{0}`; `weft app put FILE` stores one")]
    NoSuchApp(String),
    /// No such version.
    #[error("app `{app}` has no version `{version}`; `weft app versions {app}` lists them")]
    NoSuchVersion {
        /// The app.
        app: String,
        /// The version.
        version: String,
    },
    /// Others wrote at the same time, again and again.
    #[error("app `{0}` changed under us repeatedly; try again")]
    Contended(String),
}

/// What a put did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Put {
    /// Whether the app is new.
    pub created: bool,
    /// The version stored.
    pub version: String,
    /// How many versions it has now.
    pub total: usize,
}

/// The apps of one lattice.
#[derive(Clone)]
pub struct AppStore {
    apps: kv::Store,
    status: kv::Store,
    bucket: String,
}

/// A sortable, unique version for manifests that name none (like wadm's
/// ULIDs: milliseconds, then randomness, in Crockford base32).
pub fn generated_version() -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let millis = u128::try_from(chrono::Utc::now().timestamp_millis()).unwrap_or(0);
    let random = uuid::Uuid::new_v4().as_u128();
    let value = (millis << 80) | (random & ((1u128 << 80) - 1));
    (0..26)
        .rev()
        .map(|i| ALPHABET[((value >> (i * 5)) & 31) as usize] as char)
        .collect()
}

impl AppStore {
    /// Opens the store of `lattice` in `placement`'s JetStream domain,
    /// creating missing buckets with its replicas.
    pub async fn open_in(
        client: async_nats::Client,
        lattice: &str,
        placement: &Placement,
    ) -> Result<Self, StoreError> {
        let bucket = format!("weft_{}_apps", escape(lattice));
        let status_bucket = format!("weft_{}_appstatus", escape(lattice));
        let err = |bucket: &str, e: weft_jetstream::bucket::BucketError| StoreError::Backend {
            bucket: bucket.to_owned(),
            message: e.message,
        };
        Ok(Self {
            apps: placement
                .open(client.clone(), &bucket)
                .await
                .map_err(|e| err(&bucket, e))?,
            status: placement
                .open(client, &status_bucket)
                .await
                .map_err(|e| err(&status_bucket, e))?,
            bucket,
        })
    }

    /// One item per change to the manifests (a put, deploy, undeploy or
    /// delete), as it happens: the reconciler passes at once instead of at
    /// its next periodic pass.
    pub async fn changes(
        &self,
    ) -> Result<impl futures::Stream<Item = ()> + Send + use<>, StoreError> {
        let watch = self.call(self.apps.watch_all()).await?;
        Ok(futures::StreamExt::map(watch, |_| ()))
    }

    /// The name of each app whose status changes, as it happens (the
    /// dashboard follows it).
    pub async fn status_changes(
        &self,
    ) -> Result<impl futures::Stream<Item = String> + Send + use<>, StoreError> {
        let watch = self.call(self.status.watch_all()).await?;
        Ok(futures::StreamExt::filter_map(watch, |entry| async move {
            let key = entry.ok()?.key;
            if key.starts_with(RETIRED) {
                None
            } else {
                unescape(&key)
            }
        }))
    }

    /// A JetStream (or encoding) error: [`StoreError::Unavailable`] when
    /// JetStream has no leader for the bucket.
    fn js(&self, e: impl std::error::Error + 'static) -> StoreError {
        match NoLeader::from_error(&self.bucket, &e) {
            Some(no_leader) => no_leader.into(),
            None => self.err(e),
        }
    }

    /// Runs the JetStream call `op` as [`NoLeader::call`] does: within its
    /// deadline, failing with [`StoreError::Unavailable`] while JetStream
    /// cannot serve the bucket.
    async fn call<T, X: std::error::Error + 'static>(
        &self,
        op: impl std::future::Future<Output = Result<T, X>>,
    ) -> Result<T, StoreError> {
        NoLeader::call(&self.bucket, op, |e| self.err(e)).await
    }

    fn err(&self, e: impl std::fmt::Display) -> StoreError {
        StoreError::Backend {
            bucket: self.bucket.clone(),
            message: e.to_string(),
        }
    }

    /// The app called `name`, with the revision of its entry.
    async fn entry(&self, name: &str) -> Result<Option<(AppRecord, u64)>, StoreError> {
        let Some(entry) = self.call(self.apps.entry(escape(name))).await? else {
            return Ok(None);
        };
        if entry.operation != kv::Operation::Put {
            return Ok(None);
        }
        let record = serde_json::from_slice(&entry.value)
            .map_err(|e| self.err(format!("app `{name}` is corrupt: {e}")))?;
        Ok(Some((record, entry.revision)))
    }

    /// Writes `record` if its entry is still at `revision` (`None`: absent);
    /// `false` if someone else wrote first.
    async fn write(&self, record: &AppRecord, revision: Option<u64>) -> Result<bool, StoreError> {
        let bytes = serde_json::to_vec(record).map_err(|e| self.err(e))?;
        let key = escape(&record.name);
        // Only a revision that moved on means another writer; anything
        // else is JetStream's own failure and says so.
        NoLeader::within(&self.bucket, async {
            match revision {
                Some(rev) => match self.apps.update(&key, bytes.into(), rev).await {
                    Ok(_) => Ok(true),
                    Err(e) if e.kind() == kv::UpdateErrorKind::WrongLastRevision => Ok(false),
                    Err(e) => Err(self.js(e)),
                },
                None => match self.apps.create(&key, bytes.into()).await {
                    Ok(_) => Ok(true),
                    Err(e) if e.kind() == kv::CreateErrorKind::AlreadyExists => Ok(false),
                    Err(e) => Err(self.js(e)),
                },
            }
        })
        .await
    }

    /// Changes app `name` with `change`, retrying when others write at the
    /// same time; `change` sees `None` for a new app.
    async fn modify<T>(
        &self,
        name: &str,
        mut change: impl FnMut(Option<AppRecord>) -> Result<(Option<AppRecord>, T), StoreError>,
    ) -> Result<T, StoreError> {
        for _ in 0..10 {
            let current = self.entry(name).await?;
            let revision = current.as_ref().map(|(_, r)| *r);
            let (next, out) = change(current.map(|(r, _)| r))?;
            match next {
                None => {
                    if revision.is_some() {
                        self.call(self.apps.purge(escape(name))).await?;
                    }
                    return Ok(out);
                }
                Some(record) => {
                    if self.write(&record, revision).await? {
                        return Ok(out);
                    }
                }
            }
        }
        Err(StoreError::Contended(name.to_owned()))
    }

    /// Stores `manifest` as a new version (its `version` annotation, or a
    /// generated one).
    pub async fn put(&self, mut manifest: Manifest) -> Result<Put, StoreError> {
        let version = match manifest.version() {
            Some(v) => v.to_owned(),
            None => {
                let v = generated_version();
                manifest
                    .metadata
                    .annotations
                    .insert(crate::manifest::VERSION_ANNOTATION.into(), v.clone());
                v
            }
        };
        let name = manifest.name().to_owned();
        let stored_at = chrono::Utc::now().to_rfc3339();
        self.modify(&name, |current| {
            let created = current.is_none();
            let mut record = current.unwrap_or(AppRecord {
                name: name.clone(),
                versions: Vec::new(),
                deployed: None,
            });
            if record.version(&version).is_some() {
                return Err(StoreError::VersionExists {
                    app: name.clone(),
                    version: version.clone(),
                });
            }
            record.versions.push(StoredVersion {
                version: version.clone(),
                manifest: manifest.clone(),
                stored_at: stored_at.clone(),
            });
            let total = record.versions.len();
            Ok((
                Some(record),
                Put {
                    created,
                    version: version.clone(),
                    total,
                },
            ))
        })
        .await
    }

    /// App `name`.
    pub async fn get(&self, name: &str) -> Result<Option<AppRecord>, StoreError> {
        Ok(self.entry(name).await?.map(|(r, _)| r))
    }

    /// Every app, by name.
    pub async fn list(&self) -> Result<Vec<AppRecord>, StoreError> {
        let keys = leader::keys(&self.apps, &self.bucket, |e| self.err(e)).await?;
        let mut apps = Vec::new();
        for key in keys {
            let Some(name) = weft_jetstream::bucket::unescape(&key) else {
                continue;
            };
            if let Some(record) = self.get(&name).await? {
                apps.push(record);
            }
        }
        apps.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(apps)
    }

    /// Marks `version` (default: the latest) as deployed; returns it.
    pub async fn deploy(&self, name: &str, version: Option<&str>) -> Result<String, StoreError> {
        self.modify(name, |current| {
            let mut record = current.ok_or_else(|| StoreError::NoSuchApp(name.to_owned()))?;
            let chosen = match version.filter(|v| *v != "latest") {
                Some(v) => record
                    .version(v)
                    .map(|s| s.version.clone())
                    .ok_or_else(|| StoreError::NoSuchVersion {
                        app: name.to_owned(),
                        version: v.to_owned(),
                    })?,
                None => record
                    .latest()
                    .map(|s| s.version.clone())
                    .ok_or_else(|| StoreError::NoSuchApp(name.to_owned()))?,
            };
            record.deployed = Some(chosen.clone());
            Ok((Some(record), chosen))
        })
        .await
    }

    /// Marks the app undeployed; returns whether it was deployed.
    pub async fn undeploy(&self, name: &str) -> Result<bool, StoreError> {
        self.modify(name, |current| {
            let mut record = current.ok_or_else(|| StoreError::NoSuchApp(name.to_owned()))?;
            let was = record.deployed.take().is_some();
            Ok((Some(record), was))
        })
        .await
    }

    /// Deletes `version` (default: every version); returns (deleted
    /// anything, undeployed the app). An app deleted whole leaves its links
    /// behind as retired, for the leader to remove.
    pub async fn delete(
        &self,
        name: &str,
        version: Option<&str>,
    ) -> Result<(bool, bool), StoreError> {
        if let Some(record) = self.get(name).await? {
            let last = version.is_none_or(|v| record.versions.iter().all(|s| s.version == v));
            if last {
                self.retire_links(name, &crate::reconciler::links_to_remove(&record))
                    .await?;
            }
        }
        let mut gone = false;
        let out = self
            .modify(name, |current| {
                let (next, out) = without(current, version);
                gone = next.is_none() && out.0;
                Ok((next, out))
            })
            .await?;
        if gone {
            self.call(self.status.purge(escape(name))).await?;
        }
        Ok(out)
    }

    /// Remembers the links of app `name`, which is being deleted, so the
    /// leader removes them after its record is gone.
    pub async fn retire_links(&self, name: &str, links: &[Link]) -> Result<(), StoreError> {
        if links.is_empty() {
            return Ok(());
        }
        let bytes = serde_json::to_vec(links).map_err(|e| self.err(e))?;
        let put = self
            .status
            .put(format!("{RETIRED}{}", escape(name)), bytes.into());
        self.call(put).await.map(drop)
    }

    /// The links of deleted apps still to remove, by app.
    pub async fn retired_links(&self) -> Result<BTreeMap<String, Vec<Link>>, StoreError> {
        let keys = leader::keys(&self.status, &self.bucket, |e| self.err(e)).await?;
        let mut out = BTreeMap::new();
        for key in keys {
            let Some(name) = key
                .strip_prefix(RETIRED)
                .and_then(weft_jetstream::bucket::unescape)
            else {
                continue;
            };
            if let Some(bytes) = self.call(self.status.get(&key)).await?
                && let Ok(links) = serde_json::from_slice::<Vec<Link>>(&bytes)
            {
                out.insert(name, links);
            }
        }
        Ok(out)
    }

    /// Forgets the retired links of app `name` (all removed, or the app is
    /// back).
    pub async fn forget_retired(&self, name: &str) -> Result<(), StoreError> {
        let purge = self.status.purge(format!("{RETIRED}{}", escape(name)));
        self.call(purge).await.map(drop)
    }

    /// The app's last recorded status.
    pub async fn status(&self, name: &str) -> Result<Option<Status>, StoreError> {
        let Some(bytes) = self.call(self.status.get(escape(name))).await? else {
            return Ok(None);
        };
        Ok(serde_json::from_slice(&bytes).ok())
    }

    /// Records the app's status.
    pub async fn set_status(&self, name: &str, status: &Status) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec(status).map_err(|e| self.err(e))?;
        self.call(self.status.put(escape(name), bytes.into()))
            .await
            .map(drop)
    }
}

/// `current` without `version` (`None`: without every version), and
/// (deleted anything, undeployed the app).
fn without(current: Option<AppRecord>, version: Option<&str>) -> (Option<AppRecord>, (bool, bool)) {
    let Some(mut record) = current else {
        return (None, (false, false));
    };
    let Some(v) = version else {
        let deployed = record.deployed.is_some();
        return (None, (true, deployed));
    };
    let before = record.versions.len();
    record.versions.retain(|s| s.version != v);
    if record.versions.len() == before {
        return (Some(record), (false, false));
    }
    let undeploy = record.deployed.as_deref() == Some(v) || record.versions.is_empty();
    if undeploy {
        record.deployed = None;
    }
    if record.versions.is_empty() {
        return (None, (true, undeploy));
    }
    (Some(record), (true, undeploy))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_versions_sort_by_time_and_differ() {
        let a = generated_version();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = generated_version();
        assert_eq!(a.len(), 26);
        assert!(a < b, "{a} {b}");
    }
}
