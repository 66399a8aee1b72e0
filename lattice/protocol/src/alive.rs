//! Which hosts of a lattice are alive, from what they say: a host is alive
//! from its `host_started` or first heartbeat until it says `host_stopped`
//! or misses [`Liveness::missed_beats`] of its heartbeats. One tracker for
//! every reader: a host's auction answers (how many hosts to wait for), the
//! reconciler (where things run) and the dashboard (whom to ask).
//!
//! Pure bookkeeping: the caller passes the time, so it is tested without
//! waiting.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// How a tracker judges silence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Liveness {
    /// A host is gone after this many missed beats.
    pub missed_beats: u32,
    /// The interval assumed of a host that has not stated or shown its own.
    pub default_beat: Duration,
    /// The least time a host counts as alive after it was last heard from.
    pub min_horizon: Duration,
    /// The longest interval believed (a host saying it beats once a day is
    /// not kept for three days).
    pub max_beat: Duration,
    /// Hosts tracked at most: ids come from the wire, and anyone on the
    /// lattice can invent them. Past it, hosts not seen before are ignored.
    pub cap: usize,
}

impl Default for Liveness {
    /// Three missed beats of wasmCloud's 30 s default, 10,000 hosts.
    fn default() -> Self {
        Self {
            missed_beats: 3,
            default_beat: Duration::from_secs(30),
            min_horizon: Duration::ZERO,
            max_beat: Duration::from_secs(60),
            cap: 10_000,
        }
    }
}

/// Two beats closer than this (a host restarting) say nothing of the
/// interval.
const LEAST_GAP: Duration = Duration::from_millis(100);

#[derive(Debug, Clone)]
struct Seen<V> {
    value: V,
    last: Instant,
    /// Its heartbeat interval, stated or learnt from two beats.
    interval: Option<Duration>,
}

/// When a host last heard from as `seen` counts as gone under `policy`.
fn until<V>(policy: &Liveness, seen: &Seen<V>) -> Instant {
    let beat = seen
        .interval
        .unwrap_or(policy.default_beat)
        .min(policy.max_beat);
    seen.last + (beat * policy.missed_beats).max(policy.min_horizon)
}

/// The live hosts, each with what the reader keeps of it (`V`).
#[derive(Debug, Clone)]
pub struct LiveHosts<V> {
    hosts: HashMap<String, Seen<V>>,
    policy: Liveness,
}

impl<V> LiveHosts<V> {
    /// An empty tracker judging by `policy`.
    pub fn new(policy: Liveness) -> Self {
        Self {
            hosts: HashMap::new(),
            policy,
        }
    }

    /// `host` was heard from at `now`: a heartbeat (`beat`, stating its
    /// interval if it does) or another sign of life. `keep` makes what is
    /// kept of it from what was (`None` for a host not tracked yet).
    /// Returns whether it was new; a new host past the cap is not tracked.
    pub fn heard(
        &mut self,
        host: &str,
        now: Instant,
        beat: bool,
        stated: Option<Duration>,
        keep: impl FnOnce(Option<V>) -> V,
    ) -> bool {
        let previous = self.hosts.remove(host);
        if previous.is_none() && self.hosts.len() >= self.policy.cap {
            // Full: make room from the hosts that went silent (a sweep only
            // when needed, so a flood of invented ids costs no sweep each).
            self.forget_silent(now);
            if self.hosts.len() >= self.policy.cap {
                return false;
            }
        }
        let new = previous.is_none();
        let (old, last, known) = match previous {
            Some(s) => (Some(s.value), Some(s.last), s.interval),
            None => (None, None, None),
        };
        let interval = match (stated, last) {
            (Some(stated), _) => Some(stated),
            (None, Some(last)) if beat && now.duration_since(last) >= LEAST_GAP => {
                Some(now.duration_since(last))
            }
            _ => known,
        };
        self.hosts.insert(
            host.to_owned(),
            Seen {
                value: keep(old),
                last: now,
                interval,
            },
        );
        new
    }

    /// `host` said goodbye.
    pub fn gone(&mut self, host: &str) {
        self.hosts.remove(host);
    }

    /// What is kept of `host`, to change, if it is tracked.
    pub fn get_mut(&mut self, host: &str) -> Option<&mut V> {
        self.hosts.get_mut(host).map(|s| &mut s.value)
    }

    /// Whether `host` is tracked (alive or not yet forgotten).
    pub fn contains(&self, host: &str) -> bool {
        self.hosts.contains_key(host)
    }

    /// Drops the hosts that are not alive at `now`.
    pub fn forget_silent(&mut self, now: Instant) {
        let policy = self.policy;
        self.hosts.retain(|_, s| until(&policy, s) > now);
    }

    /// The hosts alive at `now`, with what is kept of each.
    pub fn alive(&self, now: Instant) -> impl Iterator<Item = (&str, &V)> {
        self.hosts
            .iter()
            .filter(move |(_, s)| until(&self.policy, s) > now)
            .map(|(h, s)| (h.as_str(), &s.value))
    }

    /// When the first host alive at `now` counts as gone if it stays
    /// silent.
    pub fn next_expiry(&self, now: Instant) -> Option<Instant> {
        self.hosts
            .values()
            .map(|s| until(&self.policy, s))
            .filter(|t| *t > now)
            .min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn a_host_lives_three_of_its_beats_and_goodbye_ends_it() {
        let mut hosts = LiveHosts::new(Liveness::default());
        let t0 = Instant::now();
        assert!(hosts.heard("a", t0, true, Some(S), |_| ()));
        assert!(!hosts.heard("a", t0 + S, true, Some(S), |_| ()));
        assert_eq!(hosts.alive(t0 + S * 3).count(), 1);
        assert_eq!(hosts.alive(t0 + S * 4).count(), 0);
        assert_eq!(hosts.next_expiry(t0 + S), Some(t0 + S * 4));
        hosts.heard("b", t0, false, None, |_| ());
        hosts.gone("b");
        assert!(!hosts.contains("b"));
    }

    #[test]
    fn the_interval_is_learnt_from_two_beats_and_bounded() {
        let mut hosts = LiveHosts::new(Liveness::default());
        let t0 = Instant::now();
        hosts.heard("a", t0, true, None, |_| ());
        // Unknown: wasmCloud's 30 s default.
        assert_eq!(hosts.alive(t0 + S * 89).count(), 1);
        hosts.heard("a", t0 + S * 2, true, None, |_| ());
        assert_eq!(hosts.alive(t0 + S * 8).count(), 0);
        // A host stating a day is believed for a minute.
        hosts.heard("slow", t0, true, Some(S * 86_400), |_| ());
        assert_eq!(hosts.alive(t0 + S * 181).count(), 0);
    }

    #[test]
    fn a_slow_beater_is_kept_for_three_of_its_beats_when_the_policy_allows() {
        let day = Liveness {
            max_beat: Duration::from_secs(86_400),
            ..Liveness::default()
        };
        let mut hosts = LiveHosts::new(day);
        let t0 = Instant::now();
        // `weft host --heartbeat 5m`: one late beat is not a lost host.
        hosts.heard("slow", t0, true, Some(S * 300), |_| ());
        assert_eq!(hosts.alive(t0 + S * 899).count(), 1);
        assert_eq!(hosts.alive(t0 + S * 901).count(), 0);
    }

    #[test]
    fn values_are_kept_and_the_cap_holds_against_invented_ids() {
        let policy = Liveness {
            cap: 2,
            ..Liveness::default()
        };
        let mut hosts = LiveHosts::new(policy);
        let t0 = Instant::now();
        hosts.heard("a", t0, false, None, |_| 1);
        hosts.heard("a", t0, false, None, |old| old.unwrap_or(0) + 1);
        assert_eq!(hosts.get_mut("a").copied(), Some(2));
        hosts.heard("b", t0, false, None, |_| 0);
        assert!(!hosts.heard("c", t0, false, None, |_| 0));
        assert!(!hosts.contains("c"));
        // Once one falls silent, a new host takes its place.
        let later = t0 + Duration::from_secs(91);
        hosts.heard("a", later - Duration::from_secs(1), false, None, |_| 3);
        assert!(hosts.heard("c", later, false, None, |_| 0));
        assert!(hosts.contains("c") && !hosts.contains("b"));
    }
}
