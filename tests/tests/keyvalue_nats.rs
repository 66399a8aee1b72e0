//! The keyvalue conformance suite against a real nats-server (JetStream KV),
//! and the provider kind's config checks.

use std::collections::BTreeMap;
use std::sync::Arc;
use weft_capability::conformance;
use weft_capability::keyvalue::KeyValue;
use weft_capability::provider::{Error, ProviderKind};
use weft_keyvalue_nats::{NatsKeyValue, NatsKeyValueKind};
use weft_tests::nats::NatsServer;

#[tokio::test]
async fn nats_keyvalue_passes_conformance() -> anyhow::Result<()> {
    let nats = NatsServer::start().await?;
    let client = async_nats::connect(nats.url()).await?;
    let kv = NatsKeyValue::open(client, "conformance").await?;
    conformance::keyvalue::run_all(Arc::new(kv), "nats").await?;
    Ok(())
}

#[tokio::test]
async fn guest_keys_with_any_characters_survive_listing() -> anyhow::Result<()> {
    let nats = NatsServer::start().await?;
    let kv = NatsKeyValue::open(async_nats::connect(nats.url()).await?, "odd").await?;
    for key in ["a.b", "with space", "ünï", "x>y*z"] {
        kv.set("my.bucket", key, b"v".to_vec()).await?;
    }
    let mut keys = kv.list_keys("my.bucket", None).await?.keys;
    keys.sort();
    assert_eq!(keys, ["a.b", "with space", "x>y*z", "ünï"]);
    Ok(())
}

#[tokio::test]
async fn the_kind_names_bad_config_keys() -> anyhow::Result<()> {
    let nats = NatsServer::start().await?;
    let kind = NatsKeyValueKind;
    let config = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let err = kind.start(&config(&[])).await.unwrap_err();
    assert!(
        matches!(err, Error::MissingKey(ref k) if k == "url"),
        "{err}"
    );
    let err = kind
        .start(&config(&[("url", &nats.url()), ("buckt", "x")]))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::UnknownKey { ref key, .. } if key == "buckt"),
        "{err}"
    );
    let err = kind
        .start(&config(&[("url", &nats.url()), ("bucket", "a.b")]))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::BadValue { ref key, .. } if key == "bucket"),
        "{err}"
    );
    assert!(kind.start(&config(&[("url", &nats.url())])).await.is_ok());
    Ok(())
}
