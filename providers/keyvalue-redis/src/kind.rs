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

#[cfg(test)]
mod tests {
    use super::RedisKeyValueKind;
    use std::collections::BTreeMap;
    use weft_capability::provider::ProviderKind;

    /// Start errors go to the log, to events and to whoever started the
    /// provider: none may repeat a password from the URL.
    #[tokio::test]
    async fn a_failed_start_does_not_repeat_the_password() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap_or(1);
        for url in [
            format!("redis://:hunter2@127.0.0.1:{port}/0"),
            "redis://user:hunter2@[::1/0".to_owned(),
            "redis://user:hunter2@127.0.0.1:notaport/0".to_owned(),
        ] {
            let config = BTreeMap::from([("url".to_owned(), url.clone())]);
            match RedisKeyValueKind.start(&config).await {
                Ok(_) => panic!("{url}: started against a closed port"),
                Err(e) => {
                    let said = format!("{e} {e:?}");
                    assert!(!said.contains("hunter2"), "{url}: {said}");
                }
            }
        }
    }
}
