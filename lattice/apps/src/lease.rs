//! Which host's reconciler acts: the one holding the lease, a JetStream KV
//! key (`weft_<lattice>_lease`, key `reconciler`) written with revision
//! checks. The holder renews it well before it lapses; when the holder dies
//! the lease lapses within [`TTL`] and another host takes it.

use async_nats::jetstream::kv;
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};
use weft_jetstream::bucket::{Placement, escape};

/// How long a lease lasts unless renewed.
pub const TTL: Duration = Duration::from_secs(3);
const KEY: &str = "reconciler";

#[derive(Debug, Serialize, Deserialize)]
struct Record {
    holder: String,
    /// Wall-clock milliseconds when it lapses.
    until_ms: i64,
    /// Reconcile passes the holder had finished when it last renewed.
    #[serde(default)]
    passes: u64,
}

/// One host's claim on the lease.
pub struct Lease {
    kv: kv::Store,
    me: String,
    held: bool,
    /// When another holder's lease lapses, as last read.
    lapses: Option<Instant>,
    /// Passes finished while holding it, told to the lattice on renewal.
    passes: u64,
}

impl Lease {
    /// The lease of `lattice`, claimed as `me` (the host id), in
    /// `placement`'s JetStream domain.
    pub async fn open(
        client: async_nats::Client,
        lattice: &str,
        me: &str,
        placement: &Placement,
    ) -> Result<Self, String> {
        let kv = placement
            .open(client, &format!("weft_{}_lease", escape(lattice)))
            .await
            .map_err(|e| e.to_string())?;
        Ok(Self {
            kv,
            me: me.to_owned(),
            held: false,
            lapses: None,
            passes: 0,
        })
    }

    /// Counts a reconcile pass finished while holding the lease.
    pub fn passed(&mut self) {
        self.passes += 1;
    }

    fn record(&self) -> Option<bytes::Bytes> {
        let until_ms = chrono::Utc::now().timestamp_millis()
            + i64::try_from(TTL.as_millis()).unwrap_or(i64::MAX);
        serde_json::to_vec(&Record {
            holder: self.me.clone(),
            until_ms,
            passes: self.passes,
        })
        .ok()
        .map(Into::into)
    }

    /// Takes or renews the lease if it is free, lapsed or ours; whether we
    /// hold it now.
    pub async fn hold(&mut self) -> bool {
        self.lapses = None;
        self.held = self.try_hold().await.unwrap_or(false);
        self.held
    }

    /// When the lease another host holds lapses unless renewed (as of the
    /// last [`Self::hold`]): a follower tries again then, so a dead
    /// leader is replaced without waiting for the next periodic try.
    pub fn lapses_at(&self) -> Option<Instant> {
        self.lapses
    }

    /// Whether the last [`Self::hold`] got it.
    pub fn held(&self) -> bool {
        self.held
    }

    async fn try_hold(&mut self) -> Result<bool, String> {
        let Some(value) = self.record() else {
            return Ok(false);
        };
        let entry = self.kv.entry(KEY).await.map_err(|e| e.to_string())?;
        let Some(entry) = entry.filter(|e| e.operation == kv::Operation::Put) else {
            return Ok(match self.kv.create(KEY, value.clone()).await {
                Ok(_) => true,
                // Deleted or purged entries leave a revision to update.
                Err(_) => match self.kv.entry(KEY).await.map_err(|e| e.to_string())? {
                    Some(e) if e.operation != kv::Operation::Put => {
                        self.kv.update(KEY, value, e.revision).await.is_ok()
                    }
                    _ => false,
                },
            });
        };
        let current: Option<Record> = serde_json::from_slice(&entry.value).ok();
        let ours = current.as_ref().is_some_and(|r| r.holder == self.me);
        let lapsed = current
            .as_ref()
            .is_none_or(|r| r.until_ms < chrono::Utc::now().timestamp_millis());
        if !ours && !lapsed {
            if let Some(r) = &current {
                let left = r
                    .until_ms
                    .saturating_sub(chrono::Utc::now().timestamp_millis());
                let left = Duration::from_millis(u64::try_from(left).unwrap_or(0));
                self.lapses = Some(Instant::now() + left);
            }
            return Ok(false);
        }
        Ok(self.kv.update(KEY, value, entry.revision).await.is_ok())
    }

    /// Gives the lease up (a host stopping gracefully), so another takes
    /// over at once.
    pub async fn release(&mut self) {
        if !self.held {
            return;
        }
        if let Ok(Some(entry)) = self.kv.entry(KEY).await {
            let ours =
                serde_json::from_slice::<Record>(&entry.value).is_ok_and(|r| r.holder == self.me);
            if ours {
                let _ = self
                    .kv
                    .delete_expect_revision(KEY, Some(entry.revision))
                    .await;
            }
        }
        self.held = false;
    }
}

/// The reconcile passes the holder of `lattice`'s lease had finished when it
/// last renewed it (`None`: no holder). A pass reads the whole lattice and
/// corrects it, so two more passes mean the reconciler saw the lattice as it
/// is now and left it so: tests wait for that instead of sleeping.
pub async fn passes(
    client: async_nats::Client,
    lattice: &str,
    placement: &Placement,
) -> Result<Option<u64>, String> {
    let kv = placement
        .open(client, &format!("weft_{}_lease", escape(lattice)))
        .await
        .map_err(|e| e.to_string())?;
    let entry = kv.entry(KEY).await.map_err(|e| e.to_string())?;
    Ok(entry
        .filter(|e| e.operation == kv::Operation::Put)
        .and_then(|e| serde_json::from_slice::<Record>(&e.value).ok())
        .map(|r| r.passes))
}
