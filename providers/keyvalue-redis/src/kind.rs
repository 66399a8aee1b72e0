//! `builtin:keyvalue-redis`: start a [`RedisKeyValue`] from named config.

use crate::RedisKeyValue;
use async_trait::async_trait;
use std::collections::BTreeMap;
use std::sync::Arc;
use weft_capability::provider::{self, Capability, ProviderKind, only_keys};

/// The provider kind; config keys: `url` (required, `redis://host:port/db`).
#[derive(Debug, Default)]
pub struct RedisKeyValueKind;

#[async_trait]
impl ProviderKind for RedisKeyValueKind {
    async fn start(
        &self,
        config: &BTreeMap<String, String>,
    ) -> Result<Capability, provider::Error> {
        only_keys(config, &["url"])?;
        let url = config
            .get("url")
            .ok_or_else(|| provider::Error::MissingKey("url".into()))?;
        if !(url.starts_with("redis://") || url.starts_with("rediss://")) {
            return Err(provider::Error::BadValue {
                key: "url".into(),
                reason: "must start with redis:// or rediss://".into(),
            });
        }
        let kv = RedisKeyValue::connect(url)
            .await
            .map_err(|e| provider::Error::Backend(format!("could not connect to Redis: {e}")))?;
        Ok(Capability::KeyValue(Arc::new(kv)))
    }
}
