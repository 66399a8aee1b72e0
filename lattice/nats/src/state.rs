//! Lattice state in JetStream KV: named configs and links, one key per
//! entity, written with revision checks so concurrent writers cannot lose
//! each other's changes.
//!
//! Buckets are `weft_{lattice}_config` (key: config name) and
//! `weft_{lattice}_links` (key: `source.namespace.package.name.target`). They are
//! created as plain streams, because async-nats's `create_key_value` fails
//! on nats-server 2.9 (see GOTCHAS.md 1).

use async_nats::jetstream::kv;
use weft_jetstream::bucket::{Placement, escape, unescape};
use weft_jetstream::leader::{self, NoLeader};
use weft_lattice_protocol::link::{LinkError, check_put};
use weft_lattice_protocol::validate::{self, Invalid};
use weft_lattice_protocol::wire::{DeleteLink, Link, StringMap};

/// Why a state operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The request was malformed or broke a rule.
    #[error(transparent)]
    Invalid(#[from] Invalid),
    /// The link conflicts with one already set.
    #[error(transparent)]
    Link(#[from] LinkError),
    /// A link names a config that does not exist.
    #[error("link refers to config `{0}`, which does not exist; create it first with config.put")]
    MissingConfig(String),
    /// No config has this name.
    #[error("no config named `{0}`")]
    NoSuchConfig(String),
    /// Another writer changed the same key at the same moment.
    #[error("`{0}` was changed by someone else at the same moment; retry")]
    Concurrent(String),
    /// JetStream has no leader for the bucket now.
    #[error(transparent)]
    Unavailable(#[from] NoLeader),
    /// A stored entry cannot be decoded.
    #[error("lattice state: {0} is corrupt")]
    Corrupt(String),
    /// JetStream failed.
    #[error("lattice state ({bucket}): {message}")]
    Store {
        /// The bucket.
        bucket: String,
        /// What JetStream said.
        message: String,
    },
}

/// One change to the links bucket.
#[derive(Debug, Clone)]
pub struct LinkChange {
    /// The link's key.
    pub key: String,
    /// The key's revision; later writes have higher ones.
    pub revision: u64,
    /// The link now stored there; `None` when it was deleted.
    pub link: Option<Link>,
    /// How many more changes are already waiting (0: the table is current).
    pub pending: u64,
}

/// The lattice's configs and links.
#[derive(Clone)]
pub struct LatticeState {
    config: kv::Store,
    links: kv::Store,
    config_bucket: String,
    links_bucket: String,
}

impl std::fmt::Debug for LatticeState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LatticeState")
            .field("config", &self.config_bucket)
            .field("links", &self.links_bucket)
            .finish()
    }
}

fn store_err(bucket: &str, e: impl std::fmt::Display) -> StateError {
    StateError::Store {
        bucket: bucket.to_owned(),
        message: e.to_string(),
    }
}

/// Runs the JetStream call `op` on `bucket` as [`NoLeader::call`] does:
/// within its deadline, failing with [`StateError::Unavailable`] while
/// JetStream cannot serve the bucket and [`StateError::Store`] otherwise.
async fn call<T, X: std::error::Error + 'static>(
    bucket: &str,
    op: impl std::future::Future<Output = Result<T, X>>,
) -> Result<T, StateError> {
    NoLeader::call(bucket, op, |e| store_err(bucket, e)).await
}

/// Every key of `store` (bucket `bucket`).
async fn keys(store: &kv::Store, bucket: &str) -> Result<Vec<String>, StateError> {
    leader::keys(store, bucket, |e| store_err(bucket, e)).await
}

/// Opens (creating if needed) the bucket `name` as a KV store.
async fn open_bucket(
    client: &async_nats::Client,
    placement: &Placement,
    name: &str,
) -> Result<kv::Store, StateError> {
    placement
        .open(client.clone(), name)
        .await
        .map_err(|e| store_err(name, e.message))
}

/// Sorts links as `link.get` lists them: by source, then link name.
pub(crate) fn sort_links(links: &mut [Link]) {
    links.sort_by(|a, b| a.source_id.cmp(&b.source_id).then(a.name.cmp(&b.name)));
}

/// A KV key part from a validated token (shared escaping: `=XX` for every
/// byte outside `[A-Za-z0-9_-]`).
fn key_part(token: &str) -> String {
    escape(token)
}

/// The key prefix of a link slot; a link's key adds `.{target}`, so links of
/// one slot to different targets (disjoint interfaces) coexist.
fn slot_key(source: &str, namespace: &str, package: &str, name: &str) -> String {
    [source, namespace, package, name].map(key_part).join(".")
}

impl LatticeState {
    /// Opens the state of `lattice` in `placement`'s JetStream domain,
    /// creating missing buckets with its replicas.
    pub async fn open_in(
        client: async_nats::Client,
        lattice: &str,
        placement: &Placement,
    ) -> Result<Self, StateError> {
        let lattice = key_part(lattice);
        let config_bucket = format!("weft_{lattice}_config");
        let links_bucket = format!("weft_{lattice}_links");
        Ok(Self {
            config: open_bucket(&client, placement, &config_bucket).await?,
            links: open_bucket(&client, placement, &links_bucket).await?,
            config_bucket,
            links_bucket,
        })
    }

    /// Stores config `name` (replacing any previous values).
    pub async fn put_config(&self, name: &str, values: &StringMap) -> Result<(), StateError> {
        validate::token("config name", name)?;
        for key in values.keys() {
            if key.is_empty() {
                return Err(Invalid::new("config key", "must not be empty").into());
            }
        }
        let bytes = serde_json::to_vec(values).map_err(|e| store_err(&self.config_bucket, e))?;
        let put = self.config.put(key_part(name), bytes.into());
        call(&self.config_bucket, put).await.map(drop)
    }

    /// Config `name`, if it exists.
    pub async fn config(&self, name: &str) -> Result<Option<StringMap>, StateError> {
        validate::token("config name", name)?;
        let read = self.config.get(key_part(name));
        let Some(bytes) = call(&self.config_bucket, read).await? else {
            return Ok(None);
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| StateError::Corrupt(format!("config `{name}`: {e}")))
    }

    /// Deletes config `name`; deleting a missing config is not an error.
    pub async fn delete_config(&self, name: &str) -> Result<(), StateError> {
        validate::token("config name", name)?;
        call(&self.config_bucket, self.config.delete(key_part(name))).await
    }

    /// The names of every named config, sorted (the dashboard lists them).
    pub async fn config_names(&self) -> Result<Vec<String>, StateError> {
        let keys = keys(&self.config, &self.config_bucket).await?;
        let mut names: Vec<String> = keys.iter().filter_map(|k| unescape(k)).collect();
        names.sort();
        Ok(names)
    }

    /// Every link in the lattice, sorted by source and name.
    pub async fn links(&self) -> Result<Vec<Link>, StateError> {
        let keys = keys(&self.links, &self.links_bucket).await?;
        let mut links = Vec::with_capacity(keys.len());
        for key in keys {
            if let Some(bytes) = call(&self.links_bucket, self.links.get(&key)).await? {
                match serde_json::from_slice::<Link>(&bytes) {
                    Ok(link) => links.push(link),
                    Err(e) => tracing::warn!(%key, "skipping a corrupt link entry: {e}"),
                }
            }
        }
        sort_links(&mut links);
        Ok(links)
    }

    /// Sets `link` after checking its fields, that its configs exist, and
    /// that it does not conflict with a link already set.
    pub async fn put_link(&self, link: &Link) -> Result<(), StateError> {
        link.validate()?;
        for name in link.source_config.iter().chain(&link.target_config) {
            if self.config(name).await?.is_none() {
                return Err(StateError::MissingConfig(name.clone()));
            }
        }
        let existing = self.links().await?;
        let replaced: Vec<Link> = check_put(&existing, link)?
            .into_iter()
            .filter_map(|i| existing.get(i))
            .filter(|l| l.target != link.target)
            .cloned()
            .collect();
        let key = format!(
            "{}.{}",
            slot_key(
                &link.source_id,
                &link.wit_namespace,
                &link.wit_package,
                &link.name
            ),
            key_part(&link.target)
        );
        let bytes = serde_json::to_vec(link).map_err(|e| store_err(&self.links_bucket, e))?;
        // Write against the revision we read: a concurrent put of the same
        // link makes this one fail instead of silently overwriting it.
        let entry = call(&self.links_bucket, self.links.entry(key.clone())).await?;
        // Only a revision that moved on means another writer; anything
        // else is JetStream's own failure and says so.
        let concurrent = || {
            tracing::debug!(%key, "link write refused: the revision moved on");
            StateError::Concurrent(format!("link {key}"))
        };
        let bucket = &self.links_bucket;
        match entry {
            Some(entry) => {
                let update = self.links.update(&key, bytes.into(), entry.revision);
                let lost = |e: kv::UpdateError| match e.kind() {
                    kv::UpdateErrorKind::WrongLastRevision => concurrent(),
                    _ => store_err(bucket, e),
                };
                NoLeader::call(bucket, update, lost).await?;
            }
            None => {
                let create = self.links.create(&key, bytes.into());
                let lost = |e: kv::CreateError| match e.kind() {
                    kv::CreateErrorKind::AlreadyExists => concurrent(),
                    _ => store_err(bucket, e),
                };
                NoLeader::call(bucket, create, lost).await?;
            }
        }
        // A moved link: the new one is written first and wins (hosts apply
        // the newest link of a slot), then the old one goes.
        for old in replaced {
            let old_key = format!(
                "{}.{}",
                slot_key(
                    &old.source_id,
                    &old.wit_namespace,
                    &old.wit_package,
                    &old.name
                ),
                key_part(&old.target)
            );
            call(&self.links_bucket, self.links.delete(&old_key)).await?;
        }
        Ok(())
    }

    /// Every change to the links: first the current state of each key, then
    /// each change as it happens. Hosts fold it into their link table, so a
    /// change costs one message, not a re-read of every link.
    pub async fn watch_links(
        &self,
    ) -> Result<impl futures::Stream<Item = LinkChange> + Send + 'static, StateError> {
        // History: the last value of every key first (`watch_all` would
        // only show new changes).
        let watch = call(&self.links_bucket, self.links.watch_with_history(">")).await?;
        Ok(futures::StreamExt::filter_map(watch, |entry| async move {
            let entry = match entry {
                Ok(entry) => entry,
                Err(e) => {
                    tracing::warn!("link watch: {e}");
                    return None;
                }
            };
            let link = match entry.operation {
                kv::Operation::Put => match serde_json::from_slice::<Link>(&entry.value) {
                    Ok(link) => Some(link),
                    Err(e) => {
                        tracing::warn!(key = %entry.key, "ignoring a corrupt link entry: {e}");
                        None
                    }
                },
                kv::Operation::Delete | kv::Operation::Purge => None,
            };
            Some(LinkChange {
                key: entry.key,
                revision: entry.revision,
                link,
                pending: entry.delta,
            })
        }))
    }

    /// Deletes the link `del` names; deleting a missing link is not an error.
    pub async fn delete_link(&self, del: &DeleteLink) -> Result<(), StateError> {
        validate::token("source_id", &del.source_id)?;
        validate::token("name", &del.name)?;
        validate::token("wit_namespace", &del.wit_namespace)?;
        validate::token("wit_package", &del.wit_package)?;
        let prefix = format!(
            "{}.",
            slot_key(
                &del.source_id,
                &del.wit_namespace,
                &del.wit_package,
                &del.name
            )
        );
        for key in keys(&self.links, &self.links_bucket).await? {
            if key.starts_with(&prefix) {
                call(&self.links_bucket, self.links.delete(&key)).await?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_parts_are_kv_safe_and_distinct() {
        assert_eq!(key_part("http-server_1"), "http-server_1");
        assert_eq!(key_part("a:b"), "a=3Ab");
        assert_ne!(key_part("a:b"), key_part("a=3Ab"));
        assert_eq!(
            slot_key("app", "wasi", "keyvalue", "default"),
            "app.wasi.keyvalue.default"
        );
    }
}
