//! `builtin:keyvalue-nats`: start a [`NatsKeyValue`] from named config.

use crate::NatsKeyValue;
use async_trait::async_trait;
use std::sync::Arc;
use weft_capability::provider::{self, Capability, Config, ProviderKind};
use weft_capability::settings;
use weft_jetstream::bucket::Placement;

/// The default KV bucket.
pub const DEFAULT_BUCKET: &str = "weft_keyvalue";

/// The provider kind; config keys: `url` (required, `nats://…`), `bucket`
/// (the KV bucket, default `weft_keyvalue`), `js_domain` (the JetStream
/// domain, for a hub's JetStream seen from a leaf node) and `replicas`
/// (copies of the bucket when it is created, default 1).
#[derive(Debug, Default)]
pub struct NatsKeyValueKind;

/// The config `builtin:keyvalue-nats` takes.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    url: String,
    bucket: Option<String>,
    js_domain: Option<String>,
    replicas: Option<u8>,
}

#[async_trait]
impl ProviderKind for NatsKeyValueKind {
    async fn start(&self, config: &Config) -> Result<Capability, provider::Error> {
        let settings: Settings = settings::read(config)?;
        let url = settings.url;
        let bucket = settings.bucket.as_deref().unwrap_or(DEFAULT_BUCKET);
        if bucket.is_empty()
            || !bucket
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(provider::Error::BadValue {
                key: "bucket".into(),
                reason: format!("`{bucket}` must be letters, digits, `-` or `_`"),
            });
        }
        let replicas = settings.replicas.unwrap_or(1);
        if !(1..=5).contains(&replicas) {
            return Err(provider::Error::BadValue {
                key: "replicas".into(),
                reason: format!("`{replicas}` must be a number from 1 to 5"),
            });
        }
        let placement = Placement {
            domain: settings.js_domain,
            replicas: usize::from(replicas),
        };
        let options = match provider::url_credentials(&url) {
            Some((user, Some(password))) => {
                async_nats::ConnectOptions::with_user_and_password(user, password)
            }
            Some((token, None)) => async_nats::ConnectOptions::with_token(token),
            None => async_nats::ConnectOptions::new(),
        };
        let nats = options.connect(url.as_str()).await.map_err(|e| {
            let url = provider::redacted(&url);
            provider::Error::Backend(format!("could not connect to NATS at {url}: {e}"))
        })?;
        let kv = NatsKeyValue::open_in(nats, bucket, &placement)
            .await
            .map_err(|e| {
                provider::Error::Backend(format!("could not open KV bucket `{bucket}`: {e}"))
            })?;
        Ok(Capability::KeyValue(Arc::new(kv)))
    }
}
