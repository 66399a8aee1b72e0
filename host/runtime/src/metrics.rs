//! Counters and latency histograms the host exports as Prometheus metrics:
//! plain atomics, updated on the invocation path without locks or
//! allocation (a few relaxed adds and two clock reads per call).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// Upper bounds of the latency buckets, in seconds (the `le` labels).
pub const BUCKETS: [f64; 16] = [
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0, 2.5, 10.0,
];

/// The same bounds in nanoseconds, for the hot path.
const BOUNDS_NS: [u64; 16] = [
    50_000,
    100_000,
    250_000,
    500_000,
    1_000_000,
    2_500_000,
    5_000_000,
    10_000_000,
    25_000_000,
    50_000_000,
    100_000_000,
    250_000_000,
    500_000_000,
    1_000_000_000,
    2_500_000_000,
    10_000_000_000,
];

/// A latency histogram with the fixed [`BUCKETS`] (plus +Inf).
#[derive(Debug, Default)]
pub struct Histogram {
    /// Observations per bucket (not cumulative; the last is +Inf).
    buckets: [AtomicU64; 17],
    sum_ns: AtomicU64,
}

impl Histogram {
    /// Records one observation of `ns` nanoseconds.
    pub fn observe_ns(&self, ns: u64) {
        let i = BOUNDS_NS.partition_point(|&b| b < ns);
        self.buckets[i].fetch_add(1, Ordering::Relaxed);
        self.sum_ns.fetch_add(ns, Ordering::Relaxed);
    }

    /// Cumulative counts per bucket bound (the last is +Inf, i.e. the total).
    pub fn cumulative(&self) -> [u64; 17] {
        let mut out = [0u64; 17];
        let mut total = 0;
        for (o, b) in out.iter_mut().zip(&self.buckets) {
            total += b.load(Ordering::Relaxed);
            *o = total;
        }
        out
    }

    /// The sum of all observations, in seconds.
    pub fn sum_seconds(&self) -> f64 {
        self.sum_ns.load(Ordering::Relaxed) as f64 / 1e9
    }
}

/// Calls of one kind: how many, how many failed, how long they took.
#[derive(Debug, Default)]
pub struct Calls {
    count: AtomicU64,
    errors: AtomicU64,
    /// How long each took, failed ones included.
    pub latency: Histogram,
}

impl Calls {
    /// Records a call that began at `started` and succeeded or not.
    pub fn record(&self, started: Instant, ok: bool) {
        let ns = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.count.fetch_add(1, Ordering::Relaxed);
        if !ok {
            self.errors.fetch_add(1, Ordering::Relaxed);
        }
        self.latency.observe_ns(ns);
    }

    /// Calls recorded.
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// Of those, the failed ones.
    pub fn errors(&self) -> u64 {
        self.errors.load(Ordering::Relaxed)
    }
}

/// What invoked a component.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `wasi:http/incoming-handler` (an HTTP request).
    Http,
    /// `wasmcloud:messaging/handler` (a message).
    Message,
    /// An exported interface function (a link from another component, or
    /// `weft call`).
    Call,
}

impl Kind {
    /// Every kind, in label order.
    pub const ALL: [Kind; 3] = [Kind::Http, Kind::Message, Kind::Call];

    /// The `kind` label.
    pub fn label(self) -> &'static str {
        match self {
            Kind::Http => "http",
            Kind::Message => "message",
            Kind::Call => "call",
        }
    }
}

/// One component's invocations, by kind.
#[derive(Debug, Default)]
pub struct Invocations {
    kinds: [Calls; 3],
}

impl Invocations {
    /// The calls of `kind`.
    pub fn of(&self, kind: Kind) -> &Calls {
        &self.kinds[kind as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observations_land_in_the_first_bucket_that_holds_them() {
        let h = Histogram::default();
        h.observe_ns(10_000); // 10 µs ≤ 50 µs
        h.observe_ns(50_000); // exactly on a bound: that bucket
        h.observe_ns(3_000_000); // 3 ms ≤ 5 ms
        h.observe_ns(60_000_000_000); // a minute: +Inf
        let c = h.cumulative();
        assert_eq!(c[0], 2);
        assert_eq!(c[5], 2, "2.5 ms bucket holds only the first two");
        assert_eq!(c[6], 3);
        assert_eq!(c[15], 3);
        assert_eq!(c[16], 4);
        assert!((h.sum_seconds() - 60.003_06).abs() < 1e-6);
    }

    #[test]
    fn calls_count_errors_apart() {
        let calls = Calls::default();
        let t = Instant::now();
        calls.record(t, true);
        calls.record(t, false);
        assert_eq!((calls.count(), calls.errors()), (2, 1));
        assert_eq!(calls.latency.cumulative()[16], 2);
    }
}
