//! `builtin:keyvalue-redis`: start a [`RedisKeyValue`] from named config.

use crate::RedisKeyValue;
use async_trait::async_trait;
use std::sync::Arc;
use weft_capability::provider::{self, Capability, Config, ProviderKind};
use weft_capability::settings;

/// The config `builtin:keyvalue-redis` takes.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    /// `redis://host:port/db` or `rediss://…`.
    url: String,
}

/// The provider kind; config keys: `url` (required, `redis://host:port/db`).
#[derive(Debug, Default)]
pub struct RedisKeyValueKind;

#[async_trait]
impl ProviderKind for RedisKeyValueKind {
    async fn start(&self, config: &Config) -> Result<Capability, provider::Error> {
        let Settings { url } = settings::read(config)?;
        if !(url.starts_with("redis://") || url.starts_with("rediss://")) {
            return Err(provider::Error::BadValue {
                key: "url".into(),
                reason: "must start with redis:// or rediss://".into(),
            });
        }
        let kv = RedisKeyValue::connect(&url)
            .await
            .map_err(|e| provider::Error::Backend(format!("could not connect to Redis: {e}")))?;
        Ok(Capability::KeyValue(Arc::new(kv)))
    }
}
