//! Fair use of a host's cores between components. An invocation that ends
//! in a trap or at its deadline earns its component a debt, in time; while
//! a component owes time and other components are running, its next
//! invocations wait before they start, and a running one of its long
//! invocations pauses longer between ticks. A hostile or broken guest whose
//! clients ask again as soon as it fails thus gets a small share of the
//! cores instead of an equal one. Alone on the host it is never held back.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Invocations started in this process, by every component and host in it
/// (they share its cores).
static STARTS: AtomicU64 = AtomicU64::new(0);

/// A failed invocation owes this many times the time it ran ...
const PENALTY_FACTOR: u32 = 10;

/// ... and at least this much (a stack overflow fails in a fraction of a
/// millisecond, and is asked for again at once).
const MIN_PENALTY: Duration = Duration::from_millis(50);

/// The most a component can owe: it is never held back for longer.
const MAX_DEBT: Duration = Duration::from_secs(1);

/// How long a held-back invocation waits before it looks again whether
/// other components still run.
const RECHECK: Duration = Duration::from_millis(10);

/// Microseconds since the first call: the clock debts (and log allowances)
/// are kept in.
pub(crate) fn now_us() -> u64 {
    static ORIGIN: OnceLock<Instant> = OnceLock::new();
    let origin = *ORIGIN.get_or_init(Instant::now);
    u64::try_from(origin.elapsed().as_micros()).unwrap_or(u64::MAX)
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// One component's standing: what it owes and how much of the process's
/// invocations are its own.
#[derive(Debug, Default)]
pub(crate) struct Fairness {
    /// Until when (µs on [`now_us`]'s clock) it owes time; 0 when it owes
    /// none, so the common case costs one atomic read.
    until: AtomicU64,
    /// Invocations it started.
    starts: AtomicU64,
    /// Invocations other components had started when it last started one.
    others_seen: AtomicU64,
}

impl Fairness {
    /// Invocations started in the process by other components.
    fn others(&self) -> u64 {
        STARTS
            .load(Ordering::Relaxed)
            .wrapping_sub(self.starts.load(Ordering::Relaxed))
    }

    /// Waits while the component owes time and others want the cores, but
    /// not past `deadline`, then counts the invocation as started; `false`
    /// when the deadline came first (the invocation must not start).
    pub(crate) async fn admit(&self, deadline: Instant) -> bool {
        if self.until.load(Ordering::Relaxed) != 0 && !self.hold_back(deadline).await {
            return false;
        }
        self.others_seen.store(self.others(), Ordering::Relaxed);
        self.starts.fetch_add(1, Ordering::Relaxed);
        STARTS.fetch_add(1, Ordering::Relaxed);
        true
    }

    /// `false` when `deadline` passed while held back.
    async fn hold_back(&self, deadline: Instant) -> bool {
        // While nobody else has started anything since this component last
        // did, it is alone, and waiting would help no one.
        let mut seen = self.others_seen.load(Ordering::Relaxed);
        loop {
            let until = self.until.load(Ordering::Relaxed);
            let now = now_us();
            if until <= now {
                // Paid off: back to the one-read path (a failure in between
                // may have raised it again; then the next invocation waits).
                let _ = self
                    .until
                    .compare_exchange(until, 0, Ordering::Relaxed, Ordering::Relaxed);
                return true;
            }
            let others = self.others();
            if others == seen {
                return true;
            }
            seen = others;
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            let wait = Duration::from_micros(until - now).min(RECHECK).min(left);
            tokio::time::sleep(wait).await;
        }
    }

    /// Records an invocation that ran for `ran` and failed (trapped, or was
    /// stopped at its deadline).
    pub(crate) fn failed(&self, ran: Duration) {
        let penalty = micros(
            ran.saturating_mul(PENALTY_FACTOR)
                .clamp(MIN_PENALTY, MAX_DEBT),
        );
        let now = now_us();
        let cap = now.saturating_add(micros(MAX_DEBT));
        let _ = self
            .until
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |until| {
                Some(until.max(now).saturating_add(penalty).min(cap))
            });
    }

    /// Whether it owes time now.
    pub(crate) fn in_debt(&self) -> bool {
        self.until.load(Ordering::Relaxed) > now_us()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_is_owed_for_ten_times_its_run_within_bounds() {
        let f = Fairness::default();
        assert!(!f.in_debt());
        f.failed(Duration::from_micros(300));
        let owed = f.until.load(Ordering::Relaxed).saturating_sub(now_us());
        assert!(owed > 40_000 && owed <= 50_000, "owed {owed} µs");
        for _ in 0..100 {
            f.failed(Duration::from_millis(500));
        }
        let owed = f.until.load(Ordering::Relaxed).saturating_sub(now_us());
        assert!(owed <= 1_000_000, "owed {owed} µs, more than the cap");
        assert!(f.in_debt());
    }

    /// A deadline the tests never reach.
    fn far() -> Instant {
        Instant::now() + Duration::from_secs(60)
    }

    #[tokio::test]
    async fn a_held_back_invocation_gives_up_at_its_deadline() {
        let _serial = SERIAL.lock().await;
        let (bad, good) = (Fairness::default(), Fairness::default());
        bad.admit(far()).await;
        bad.failed(MAX_DEBT);
        let busy = tokio::spawn(async move {
            for _ in 0..1000 {
                good.admit(far()).await;
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        });
        tokio::time::sleep(Duration::from_millis(5)).await;
        let started = Instant::now();
        let admitted = bad.admit(Instant::now() + Duration::from_millis(30)).await;
        busy.abort();
        assert!(!admitted, "admitted past its deadline");
        assert!(
            started.elapsed() < MAX_DEBT / 2,
            "waited {:?}",
            started.elapsed()
        );
    }

    /// The tests below count every start in the process: one at a time.
    static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

    #[tokio::test]
    async fn a_component_alone_is_not_held_back() {
        let _serial = SERIAL.lock().await;
        let f = Fairness::default();
        f.admit(far()).await;
        f.failed(MAX_DEBT);
        let started = Instant::now();
        f.admit(far()).await;
        assert!(started.elapsed() < MAX_DEBT / 2, "held back while alone");
    }

    #[tokio::test]
    async fn a_component_in_debt_waits_while_another_runs() {
        let _serial = SERIAL.lock().await;
        let (bad, good) = (Fairness::default(), Fairness::default());
        bad.admit(far()).await;
        bad.failed(Duration::from_millis(20)); // owes 200 ms
        let busy = tokio::spawn(async move {
            for _ in 0..100 {
                good.admit(far()).await;
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        });
        tokio::time::sleep(Duration::from_millis(5)).await;
        let started = Instant::now();
        bad.admit(far()).await;
        let waited = started.elapsed();
        busy.abort();
        assert!(
            waited >= Duration::from_millis(100),
            "waited only {waited:?}"
        );
        assert!(!bad.in_debt());
    }
}
