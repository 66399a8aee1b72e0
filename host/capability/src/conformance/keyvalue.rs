//! The `wasi:keyvalue` conformance suite.
//!
//! ```
//! # async fn demo() -> Result<(), weft_capability::conformance::Failure> {
//! use std::sync::Arc;
//! use weft_capability::keyvalue::InMemoryKeyValue;
//! weft_capability::conformance::keyvalue::run_all(Arc::new(InMemoryKeyValue::default()), "doc").await
//! # }
//! ```

use super::{Failure, backend, ensure};
use crate::keyvalue::{Error, KeyValue, LIST_KEYS_PAGE};
use std::collections::BTreeSet;
use std::sync::Arc;

/// Runs every check against `kv`. Buckets are named `<prefix>-…`, so a fresh
/// prefix per run keeps runs against a shared backend apart.
pub async fn run_all(kv: Arc<dyn KeyValue>, prefix: &str) -> Result<(), Failure> {
    let b = |name: &str| format!("{prefix}-{name}");
    set_get_delete_roundtrip(kv.as_ref(), &b("basic")).await?;
    missing_keys_are_absent(kv.as_ref(), &b("missing")).await?;
    buckets_are_independent(kv.as_ref(), &b("one"), &b("two")).await?;
    list_keys_pages_cover_every_key_once(kv.as_ref(), &b("list")).await?;
    increment_counts_from_absent(kv.as_ref(), &b("incr")).await?;
    increment_refuses_non_numeric(kv.as_ref(), &b("nan")).await?;
    batch_operations(kv.as_ref(), &b("batch")).await?;
    concurrent_increments_lose_nothing(kv, &b("race")).await?;
    Ok(())
}

async fn set_get_delete_roundtrip(kv: &dyn KeyValue, bucket: &str) -> Result<(), Failure> {
    const C: &str = "set_get_delete_roundtrip";
    backend(C, kv.open(bucket).await)?;
    let value = vec![0u8, 1, 2, 255, b'x'];
    backend(C, kv.set(bucket, "k", value.clone()).await)?;
    let got = backend(C, kv.get(bucket, "k").await)?;
    ensure(got.as_deref() == Some(&value[..]), C, || {
        format!("get after set: {got:?}")
    })?;
    ensure(backend(C, kv.exists(bucket, "k").await)?, C, || {
        "exists after set".into()
    })?;
    backend(C, kv.set(bucket, "k", b"new".to_vec()).await)?;
    let got = backend(C, kv.get(bucket, "k").await)?;
    ensure(got.as_deref() == Some(&b"new"[..]), C, || {
        "set replaces".into()
    })?;
    backend(C, kv.delete(bucket, "k").await)?;
    let got = backend(C, kv.get(bucket, "k").await)?;
    ensure(got.is_none(), C, || format!("get after delete: {got:?}"))?;
    backend(C, kv.delete(bucket, "k").await).map(|_| ())
}

async fn missing_keys_are_absent(kv: &dyn KeyValue, bucket: &str) -> Result<(), Failure> {
    const C: &str = "missing_keys_are_absent";
    let got = backend(C, kv.get(bucket, "nope").await)?;
    ensure(got.is_none(), C, || {
        format!("get of a missing key: {got:?}")
    })?;
    let exists = backend(C, kv.exists(bucket, "nope").await)?;
    ensure(!exists, C, || "exists of a missing key".into())?;
    let page = backend(C, kv.list_keys(bucket, None).await)?;
    ensure(page.keys.is_empty() && page.cursor.is_none(), C, || {
        format!("list of an empty bucket: {page:?}")
    })
}

async fn buckets_are_independent(kv: &dyn KeyValue, one: &str, two: &str) -> Result<(), Failure> {
    const C: &str = "buckets_are_independent";
    backend(C, kv.set(one, "shared", b"1".to_vec()).await)?;
    backend(C, kv.set(two, "shared", b"2".to_vec()).await)?;
    let a = backend(C, kv.get(one, "shared").await)?;
    let b = backend(C, kv.get(two, "shared").await)?;
    ensure(
        a.as_deref() == Some(b"1") && b.as_deref() == Some(b"2"),
        C,
        || format!("one={a:?} two={b:?}"),
    )?;
    let keys = backend(C, kv.list_keys(one, None).await)?.keys;
    ensure(keys == ["shared"], C, || format!("list of one: {keys:?}"))
}

async fn list_keys_pages_cover_every_key_once(
    kv: &dyn KeyValue,
    bucket: &str,
) -> Result<(), Failure> {
    const C: &str = "list_keys_pages_cover_every_key_once";
    let total = LIST_KEYS_PAGE * 2 + 17;
    let pairs: Vec<(String, Vec<u8>)> = (0..total)
        .map(|i| (format!("key:{i:05}"), vec![1]))
        .collect();
    let expected: BTreeSet<String> = pairs.iter().map(|(k, _)| k.clone()).collect();
    backend(C, kv.set_many(bucket, pairs).await)?;
    let mut seen = BTreeSet::new();
    let mut cursor = None;
    for _ in 0..(total + 2) {
        let page = backend(C, kv.list_keys(bucket, cursor).await)?;
        seen.extend(page.keys);
        cursor = page.cursor;
        if cursor.is_none() {
            break;
        }
    }
    ensure(cursor.is_none(), C, || "pages never ended".into())?;
    ensure(seen == expected, C, || {
        format!("saw {} of {} keys", seen.len(), expected.len())
    })?;
    // A cursor a guest made up must not fail.
    backend(C, kv.list_keys(bucket, Some(u64::MAX)).await).map(|_| ())
}

async fn increment_counts_from_absent(kv: &dyn KeyValue, bucket: &str) -> Result<(), Failure> {
    const C: &str = "increment_counts_from_absent";
    let first = backend(C, kv.increment(bucket, "n", 1).await)?;
    let second = backend(C, kv.increment(bucket, "n", 5).await)?;
    ensure(first == 1 && second == 6, C, || {
        format!("got {first} then {second}")
    })?;
    let stored = backend(C, kv.get(bucket, "n").await)?;
    ensure(stored.as_deref() == Some(b"6"), C, || {
        format!("stored {stored:?}")
    })
}

async fn increment_refuses_non_numeric(kv: &dyn KeyValue, bucket: &str) -> Result<(), Failure> {
    const C: &str = "increment_refuses_non_numeric";
    backend(C, kv.set(bucket, "word", b"hello".to_vec()).await)?;
    let r = kv.increment(bucket, "word", 1).await;
    ensure(matches!(r, Err(Error::Other(_))), C, || {
        format!("got {r:?}")
    })?;
    let stored = backend(C, kv.get(bucket, "word").await)?;
    ensure(stored.as_deref() == Some(b"hello"), C, || {
        "value changed".into()
    })
}

async fn batch_operations(kv: &dyn KeyValue, bucket: &str) -> Result<(), Failure> {
    const C: &str = "batch_operations";
    let pairs = vec![
        ("a".to_owned(), b"1".to_vec()),
        ("b".to_owned(), b"2".to_vec()),
    ];
    backend(C, kv.set_many(bucket, pairs).await)?;
    let keys = vec!["a".to_owned(), "missing".to_owned(), "b".to_owned()];
    let got = backend(C, kv.get_many(bucket, keys).await)?;
    let want = vec![
        Some(("a".to_owned(), b"1".to_vec())),
        None,
        Some(("b".to_owned(), b"2".to_vec())),
    ];
    ensure(got == want, C, || format!("get_many: {got:?}"))?;
    backend(
        C,
        kv.delete_many(bucket, vec!["a".into(), "missing".into()])
            .await,
    )?;
    let a = backend(C, kv.exists(bucket, "a").await)?;
    let b = backend(C, kv.exists(bucket, "b").await)?;
    ensure(!a && b, C, || format!("after delete_many: a={a} b={b}"))
}

async fn concurrent_increments_lose_nothing(
    kv: Arc<dyn KeyValue>,
    bucket: &str,
) -> Result<(), Failure> {
    const C: &str = "concurrent_increments_lose_nothing";
    const TASKS: u64 = 8;
    const EACH: u64 = 50;
    let mut tasks = Vec::new();
    for _ in 0..TASKS {
        let kv = kv.clone();
        let bucket = bucket.to_owned();
        tasks.push(tokio::spawn(async move {
            for _ in 0..EACH {
                kv.increment(&bucket, "count", 1).await?;
            }
            Ok::<_, Error>(())
        }));
    }
    for t in tasks {
        let joined = t.await.map_err(|e| Failure {
            check: C,
            detail: e.to_string(),
        })?;
        backend(C, joined)?;
    }
    let stored = backend(C, kv.get(bucket, "count").await)?;
    let want = (TASKS * EACH).to_string();
    ensure(stored.as_deref() == Some(want.as_bytes()), C, || {
        format!("stored {stored:?}, want {want}")
    })
}

#[cfg(test)]
mod tests {
    use crate::keyvalue::InMemoryKeyValue;
    use std::sync::Arc;

    #[tokio::test]
    async fn in_memory_keyvalue_passes_conformance() -> Result<(), super::Failure> {
        super::run_all(Arc::new(InMemoryKeyValue::default()), "mem").await
    }
}
