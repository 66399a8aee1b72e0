//! Provider kinds: how a provider instance is started from named config.
//!
//! A kind (`builtin:keyvalue-redis`, …) is compiled into the binary; the
//! composition root registers each kind with the host under its reference.
//! Starting an instance parses the config into the kind's typed settings —
//! unknown keys and bad values are errors that name the key — and yields the
//! capability components linked to the instance will call.

use crate::http::HttpListener;
use crate::http_client::HttpClientProvider;
use crate::keyvalue::{InMemoryKeyValue, KeyValue};
use crate::messaging::Messaging;
use async_trait::async_trait;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

/// What a running provider instance offers to components linked to it.
#[derive(Clone)]
pub enum Capability {
    /// `wasi:keyvalue` (store, atomics, batch).
    KeyValue(Arc<dyn KeyValue>),
    /// `wasmcloud:messaging`: components publish through it (`consumer`)
    /// and it delivers its subscriptions to components (`handler`).
    Messaging(Arc<dyn Messaging>),
    /// An HTTP server that hands requests to components
    /// (`wasi:http/incoming-handler`).
    HttpServer(Arc<dyn HttpListener>),
    /// An HTTP client components send requests through
    /// (`wasi:http/outgoing-handler`), one policy per link.
    HttpClient(Arc<dyn HttpClientProvider>),
}

impl Capability {
    /// The WIT `namespace:package` this capability serves.
    pub fn package(&self) -> (&'static str, &'static str) {
        match self {
            Self::KeyValue(_) => ("wasi", "keyvalue"),
            Self::Messaging(_) => ("wasmcloud", "messaging"),
            Self::HttpServer(_) | Self::HttpClient(_) => ("wasi", "http"),
        }
    }
}

impl Capability {
    /// Whether the instance's backend answers now: `Err` says why not.
    pub async fn health(&self) -> Result<(), String> {
        match self {
            Self::KeyValue(kv) => kv.health().await.map_err(|e| e.to_string()),
            Self::Messaging(m) => m.health().await.map_err(|e| e.to_string()),
            // In process, nothing to reach.
            Self::HttpServer(_) | Self::HttpClient(_) => Ok(()),
        }
    }
}

impl fmt::Debug for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (ns, pkg) = self.package();
        write!(f, "Capability({ns}:{pkg})")
    }
}

/// Why an instance could not be started.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The config has a key the kind does not know.
    #[error("unknown config key `{key}`; this provider takes: {known}")]
    UnknownKey {
        /// The key.
        key: String,
        /// The keys the kind takes, comma-separated.
        known: String,
    },
    /// A required key is missing.
    #[error("config key `{0}` is required")]
    MissingKey(String),
    /// A value is malformed.
    #[error("config key `{key}`: {reason}")]
    BadValue {
        /// The key.
        key: String,
        /// What is wrong.
        reason: String,
    },
    /// The backend could not be reached or refused.
    #[error("{0}")]
    Backend(String),
}

/// Something a provider keeps doing for a link (a subscription, a
/// listener); dropping it stops that.
pub struct Subscription {
    cancel: Option<Box<dyn FnOnce() + Send + Sync>>,
}

impl Subscription {
    /// A subscription that runs `cancel` when dropped.
    pub fn new(cancel: impl FnOnce() + Send + Sync + 'static) -> Self {
        Self {
            cancel: Some(Box::new(cancel)),
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        if let Some(cancel) = self.cancel.take() {
            cancel();
        }
    }
}

impl fmt::Debug for Subscription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Subscription")
    }
}

/// A provider instance's config: its named configs merged, key by key.
/// Kinds read it into a typed struct with [`crate::settings::read`].
pub type Config = BTreeMap<String, String>;

/// A provider kind the binary knows how to start.
#[async_trait]
pub trait ProviderKind: Send + Sync + 'static {
    /// Starts an instance configured by `config` (merged named configs).
    async fn start(&self, config: &Config) -> Result<Capability, Error>;
}

/// Checks that `config` has only `known` keys.
pub fn only_keys(config: &BTreeMap<String, String>, known: &[&str]) -> Result<(), Error> {
    match config.keys().find(|k| !known.contains(&k.as_str())) {
        Some(key) => Err(Error::UnknownKey {
            key: key.clone(),
            known: if known.is_empty() {
                "no keys".into()
            } else {
                known.join(", ")
            },
        }),
        None => Ok(()),
    }
}

/// The credentials a URL (or the first of a comma-separated list) carries
/// before its `@`, percent-decoded: `nats://apps:s%40cret@h:4222` gives
/// `("apps", Some("s@cret"))`, `nats://TOKEN@h` gives `("TOKEN", None)`, a
/// token by NATS's convention. NATS clients do not read them from the URL
/// themselves (async-nats 0.51 ignores them), so connections pass them on.
pub fn url_credentials(url: &str) -> Option<(String, Option<String>)> {
    let first = url.split(',').next()?.trim();
    let start = first.find("://").map_or(0, |i| i + 3);
    let end = first[start..].find('/').map_or(first.len(), |i| start + i);
    let (userinfo, _) = first[start..end].rsplit_once('@')?;
    match userinfo.split_once(':') {
        Some((user, password)) => Some((percent_decode(user)?, Some(percent_decode(password)?))),
        None => Some((percent_decode(userinfo)?, None)),
    }
}

/// `%XX` escapes decoded; `None` for a malformed escape or non-UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// `url` (or a comma-separated list of URLs) fit for an error or a log:
/// the user and password before an `@` are replaced by `***`.
pub fn redacted(url: &str) -> String {
    url.split(',')
        .map(|one| {
            let start = one.find("://").map_or(0, |i| i + 3);
            let end = one[start..].find('/').map_or(one.len(), |i| start + i);
            match one[start..end].rfind('@') {
                Some(at) => format!("{}***{}", &one[..start], &one[start + at..]),
                None => one.to_owned(),
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// `builtin:keyvalue-memory`: an in-process keyvalue store per instance.
/// Config keys: `max_keys` and `max_bytes`, what each component's buckets
/// may hold (default 100,000 keys and 64 MiB).
#[derive(Debug, Default)]
pub struct InMemoryKeyValueKind;

/// The config `builtin:keyvalue-memory` takes: sizes, as `64MiB` or a
/// plain number.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct MemorySettings {
    max_keys: Option<String>,
    max_bytes: Option<String>,
}

/// The size `value` (of `key`), or `default` when absent.
fn size(key: &str, value: Option<&str>, default: u64) -> Result<u64, Error> {
    value.map_or(Ok(default), |v| {
        crate::config::parse_size(v).map_err(|reason| Error::BadValue {
            key: key.to_owned(),
            reason,
        })
    })
}

#[async_trait]
impl ProviderKind for InMemoryKeyValueKind {
    async fn start(&self, config: &Config) -> Result<Capability, Error> {
        let settings: MemorySettings = crate::settings::read(config)?;
        let quota = crate::keyvalue::Quota {
            max_keys: size(
                "max_keys",
                settings.max_keys.as_deref(),
                crate::keyvalue::DEFAULT_MAX_KEYS,
            )?,
            max_bytes: size(
                "max_bytes",
                settings.max_bytes.as_deref(),
                crate::keyvalue::DEFAULT_MAX_BYTES,
            )?,
        };
        Ok(Capability::KeyValue(Arc::new(
            InMemoryKeyValue::with_quota(quota),
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_their_credentials_and_keep_the_rest() {
        for (url, shown) in [
            (
                "nats://u:hunter2@127.0.0.1:4222",
                "nats://***@127.0.0.1:4222",
            ),
            ("redis://:hunter2@h:6379/0", "redis://***@h:6379/0"),
            ("tok@h:4222,nats://h2", "***@h:4222,nats://h2"),
            ("nats://h:4222/p@th", "nats://h:4222/p@th"),
            ("nats://127.0.0.1:4222", "nats://127.0.0.1:4222"),
            ("memory", "memory"),
        ] {
            assert_eq!(redacted(url), shown, "{url}");
        }
    }

    #[test]
    fn credentials_come_out_of_urls_decoded() {
        assert_eq!(
            url_credentials("nats://apps:s%40cret@127.0.0.1:4222"),
            Some(("apps".into(), Some("s@cret".into())))
        );
        assert_eq!(
            url_credentials("nats://u:p@a:4222,nats://b:4222"),
            Some(("u".into(), Some("p".into())))
        );
        assert_eq!(
            url_credentials("nats://tok@h:4222"),
            Some(("tok".into(), None))
        );
        assert_eq!(url_credentials("nats://127.0.0.1:4222"), None);
        assert_eq!(url_credentials("nats://h:4222/p@th"), None);
        assert_eq!(url_credentials("nats://u:%zz@h"), None);
    }

    #[tokio::test]
    async fn memory_kind_refuses_unknown_keys_by_name() {
        let kind = InMemoryKeyValueKind;
        assert!(kind.start(&BTreeMap::new()).await.is_ok());
        let config = BTreeMap::from([("url".to_owned(), "x".to_owned())]);
        let err = kind.start(&config).await.unwrap_err();
        assert!(
            matches!(err, Error::UnknownKey { ref key, .. } if key == "url"),
            "{err}"
        );
    }
}
