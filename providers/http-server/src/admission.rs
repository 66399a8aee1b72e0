//! How many connections a listener keeps open: in all, and per client
//! address, and how many all listeners of the process keep open together.
//! Clients that open connections and never finish a request (a slowloris)
//! would otherwise hold file descriptors until the host has none left for
//! anything else: other listeners, NATS, Redis, its cache.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use weft_capability::sync::Locked;

/// Connections open across every listener of this process.
static PROCESS_OPEN: AtomicUsize = AtomicUsize::new(0);

/// This process's file descriptor limit (its soft `RLIMIT_NOFILE`).
fn fd_limit() -> u64 {
    rustix::process::getrlimit(rustix::process::Resource::Nofile)
        .current
        .unwrap_or(u64::MAX)
}

/// How many connections all listeners of this process keep open together:
/// half its file descriptor limit (at least 64), so the other half stays
/// for everything else the host does however many listeners it has.
fn process_budget() -> usize {
    static BUDGET: OnceLock<usize> = OnceLock::new();
    *BUDGET.get_or_init(|| {
        usize::try_from(fd_limit() / 2)
            .unwrap_or(usize::MAX)
            .max(64)
    })
}

/// The caps on a listener's open connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Connections open at once, from all clients.
    pub max: usize,
    /// Connections open at once from one client address.
    pub max_per_client: usize,
}

impl Default for ConnectionLimits {
    /// 10,000 connections, or half of this process's file descriptor limit
    /// when that is lower; a quarter of that per client address, so one
    /// client cannot take them all and a reverse proxy in front still has
    /// plenty. (All listeners together never keep more than half the
    /// descriptors open, whatever their limits.)
    fn default() -> Self {
        Self::with_max(process_budget().min(10_000))
    }
}

impl ConnectionLimits {
    /// `max` connections in all, a quarter of them (at least one) per
    /// client address.
    pub fn with_max(max: usize) -> Self {
        Self {
            max,
            max_per_client: (max / 4).max(1),
        }
    }
}

/// Why a connection was turned away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    /// The listener has `max` connections open.
    Full(usize),
    /// This client address has `max_per_client` open.
    ClientFull(usize),
    /// All listeners of the process together have this many open: half
    /// its file descriptor limit.
    HostFull(usize),
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Full(n) => write!(f, "the server has {n} connections open, its limit"),
            Self::ClientFull(n) => {
                write!(
                    f,
                    "this client has {n} connections open, the limit per client"
                )
            }
            Self::HostFull(n) => write!(
                f,
                "the host's listeners have {n} connections open, half its file descriptor limit"
            ),
        }
    }
}

/// Counts a listener's open connections against its limits.
#[derive(Debug)]
pub(crate) struct Admission {
    limits: ConnectionLimits,
    /// Connections open across the process, and their most.
    process: &'static AtomicUsize,
    process_budget: usize,
    /// Open connections by client address (the sum is the total).
    open: Mutex<Counts>,
    /// Refusals since the last warning, and when that was.
    refused: AtomicU64,
    warned: Mutex<Option<Instant>>,
}

#[derive(Debug, Default)]
struct Counts {
    total: usize,
    by_client: HashMap<IpAddr, usize>,
}

/// An admitted connection; dropping it gives its place back.
#[derive(Debug)]
pub(crate) struct Admitted {
    admission: Arc<Admission>,
    client: IpAddr,
}

impl Admission {
    /// Counts against `limits` and this process's budget.
    pub(crate) fn new(limits: ConnectionLimits) -> Arc<Self> {
        Self::sharing(limits, &PROCESS_OPEN, process_budget())
    }

    /// Counts against `limits` and a budget of `budget` connections that
    /// `process` counts for every listener sharing it.
    fn sharing(
        limits: ConnectionLimits,
        process: &'static AtomicUsize,
        budget: usize,
    ) -> Arc<Self> {
        Arc::new(Self {
            limits,
            process,
            process_budget: budget,
            open: Mutex::new(Counts::default()),
            refused: AtomicU64::new(0),
            warned: Mutex::new(None),
        })
    }

    /// Takes a place for a connection from `client`, or says why not.
    pub(crate) fn admit(self: &Arc<Self>, client: IpAddr) -> Result<Admitted, Refused> {
        let mut open = self.open.locked();
        if open.total >= self.limits.max {
            return Err(self.refuse(Refused::Full(self.limits.max)));
        }
        if open.by_client.get(&client).copied().unwrap_or(0) >= self.limits.max_per_client {
            return Err(self.refuse(Refused::ClientFull(self.limits.max_per_client)));
        }
        let budget = self.process_budget;
        let taken = self
            .process
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < budget).then_some(n + 1)
            });
        if taken.is_err() {
            return Err(self.refuse(Refused::HostFull(budget)));
        }
        // Only now an entry: a refused client leaves none behind.
        *open.by_client.entry(client).or_insert(0) += 1;
        open.total += 1;
        Ok(Admitted {
            admission: Arc::clone(self),
            client,
        })
    }

    /// Counts a refusal and warns at most once a second, with how many
    /// there were since the last warning.
    fn refuse(&self, why: Refused) -> Refused {
        let count = self.refused.fetch_add(1, Ordering::Relaxed) + 1;
        let mut warned = self.warned.locked();
        let now = Instant::now();
        if warned.is_none_or(|at| now.duration_since(at) >= Duration::from_secs(1)) {
            *warned = Some(now);
            self.refused.store(0, Ordering::Relaxed);
            tracing::warn!("refused {count} connection(s) since the last warning: {why}");
        }
        why
    }

    /// Connections open now.
    #[cfg(test)]
    fn open(&self) -> usize {
        self.open.locked().total
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let mut open = self.admission.open.locked();
        open.total = open.total.saturating_sub(1);
        self.admission.process.fetch_sub(1, Ordering::AcqRel);
        if let Some(n) = open.by_client.get_mut(&self.client) {
            *n -= 1;
            if *n == 0 {
                open.by_client.remove(&self.client);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([127, 0, 0, last])
    }

    #[test]
    fn one_client_cannot_take_every_place() {
        let admission = Admission::new(ConnectionLimits {
            max: 4,
            max_per_client: 2,
        });
        let a: Vec<_> = (0..2).filter_map(|_| admission.admit(ip(1)).ok()).collect();
        assert_eq!(a.len(), 2);
        assert_eq!(admission.admit(ip(1)).err(), Some(Refused::ClientFull(2)));
        let b: Vec<_> = (0..2).filter_map(|_| admission.admit(ip(2)).ok()).collect();
        assert_eq!(b.len(), 2);
        assert_eq!(admission.admit(ip(3)).err(), Some(Refused::Full(4)));
        drop(a);
        assert_eq!(admission.open(), 2);
        assert!(admission.admit(ip(1)).is_ok());
        drop(b);
        assert_eq!(admission.open(), 0);
        assert!(
            admission
                .open
                .lock()
                .map(|o| o.by_client.is_empty())
                .unwrap_or(false)
        );
    }

    #[test]
    fn all_listeners_together_stay_within_the_process_budget() {
        static OPEN: AtomicUsize = AtomicUsize::new(0);
        let limits = ConnectionLimits {
            max: 4,
            max_per_client: 4,
        };
        let (a, b) = (
            Admission::sharing(limits, &OPEN, 6),
            Admission::sharing(limits, &OPEN, 6),
        );
        let held: Vec<_> = (0..4).filter_map(|_| a.admit(ip(1)).ok()).collect();
        let more: Vec<_> = (0..2).filter_map(|_| b.admit(ip(2)).ok()).collect();
        assert_eq!((held.len(), more.len()), (4, 2));
        assert_eq!(b.admit(ip(3)).err(), Some(Refused::HostFull(6)));
        drop(held);
        assert_eq!(OPEN.load(Ordering::Acquire), 2);
        assert!(b.admit(ip(3)).is_ok());
    }

    #[test]
    fn defaults_leave_descriptors_for_the_rest_of_the_host() {
        let limits = ConnectionLimits::default();
        assert!((64..=10_000).contains(&limits.max));
        assert!(limits.max_per_client >= 1 && limits.max_per_client <= limits.max);
    }
}
