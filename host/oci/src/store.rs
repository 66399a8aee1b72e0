//! Blobs (layers, configs, manifests) on disk by digest:
//! `<dir>/blobs/sha256/<hex>`. Written atomically after their digest was
//! checked; checked again when read, so a corrupt entry is dropped (and
//! pulled again), never used.

use crate::Error;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use tokio::io::AsyncWriteExt;

/// `sha256:<hex>` of `bytes`.
pub fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// The on-disk blob store of a host (or of `weft pull`).
#[derive(Debug, Clone)]
pub struct Store {
    dir: PathBuf,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Store {
        path: path.to_owned(),
        source,
    }
}

impl Store {
    /// A store in `dir` (created on first write).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// Where the blob of `digest` lives; `None` for a malformed digest (a
    /// registry's answer must never become a path outside the store).
    pub fn path(&self, digest: &str) -> Option<PathBuf> {
        crate::reference::check_digest(digest).ok()?;
        let hex = digest.strip_prefix("sha256:")?;
        Some(self.dir.join("blobs").join("sha256").join(hex))
    }

    /// Whether the blob is on disk (not checked).
    pub fn contains(&self, digest: &str) -> bool {
        self.path(digest).is_some_and(|p| p.is_file())
    }

    /// The blob's bytes if it is on disk and hashes to its digest; a corrupt
    /// one is removed (and logged) and reported absent.
    pub async fn read(&self, digest: &str) -> Result<Option<Vec<u8>>, Error> {
        let Some(path) = self.path(digest) else {
            return Ok(None);
        };
        let bytes = match tokio::fs::read(&path).await {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io(&path)(e)),
        };
        let actual = sha256_digest(&bytes);
        if actual != digest {
            tracing::warn!(path = %path.display(), %digest, %actual, "corrupt blob in the OCI store; pulling it again");
            let _ = tokio::fs::remove_file(&path).await;
            return Ok(None);
        }
        Ok(Some(bytes))
    }

    /// Stores `bytes` as `digest`, which they must hash to.
    pub async fn write(&self, digest: &str, bytes: &[u8]) -> Result<(), Error> {
        let Some(path) = self.path(digest) else {
            return Err(Error::Store {
                path: self.dir.clone(),
                source: std::io::Error::other(format!("`{digest}` is not a sha256 digest")),
            });
        };
        debug_assert_eq!(sha256_digest(bytes), digest);
        let dir = path.parent().unwrap_or(&self.dir).to_owned();
        tokio::fs::create_dir_all(&dir).await.map_err(io(&dir))?;
        // Unique per writer: concurrent writers of one digest never share a
        // temp file, and the rename makes the blob appear whole.
        let temp = dir.join(format!(".{}.{}.tmp", std::process::id(), unique()));
        let mut file = tokio::fs::File::create(&temp).await.map_err(io(&temp))?;
        file.write_all(bytes).await.map_err(io(&temp))?;
        file.sync_all().await.map_err(io(&temp))?;
        drop(file);
        tokio::fs::rename(&temp, &path).await.map_err(io(&path))
    }
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn blobs_round_trip_and_corrupt_ones_are_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path());
        let digest = sha256_digest(b"hello");
        assert_eq!(store.read(&digest).await.unwrap(), None);
        store.write(&digest, b"hello").await.unwrap();
        assert!(store.contains(&digest));
        assert_eq!(
            store.read(&digest).await.unwrap().as_deref(),
            Some(&b"hello"[..])
        );
        std::fs::write(store.path(&digest).unwrap(), b"tampered").unwrap();
        assert_eq!(store.read(&digest).await.unwrap(), None);
        assert!(!store.contains(&digest), "the corrupt entry is gone");
        assert!(store.path("sha256:../../etc").is_none());
        assert!(store.path("md5:abc").is_none());
    }
}
