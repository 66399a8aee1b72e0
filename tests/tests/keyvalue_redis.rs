//! The keyvalue conformance suite against a real redis-server.

use std::sync::Arc;
use weft_capability::conformance;
use weft_keyvalue_redis::RedisKeyValue;
use weft_tests::redis::RedisServer;

#[tokio::test]
async fn redis_keyvalue_passes_conformance() -> anyhow::Result<()> {
    let redis = RedisServer::start().await?;
    let kv = RedisKeyValue::connect(&redis.url()).await?;
    conformance::keyvalue::run_all(Arc::new(kv), "redis").await?;
    Ok(())
}

#[tokio::test]
async fn unreachable_redis_is_a_backend_error() -> anyhow::Result<()> {
    let port = weft_tests::net::free_port()?;
    let r = RedisKeyValue::connect(&format!("redis://127.0.0.1:{port}")).await;
    assert!(matches!(
        r,
        Err(weft_capability::keyvalue::Error::Backend { .. })
    ));
    Ok(())
}
