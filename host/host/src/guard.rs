//! What the host refuses components on the lattice's behalf, whatever
//! provider serves them: messaging to the lattice's own subjects
//! (`weft_capability::messaging::Reserved`); and what it drops for them:
//! messages a stuck subscription could not hold. Each is counted by
//! component and action (`weft_messaging_refused_total`,
//! `weft_messaging_dropped_total`) and logged — the 1st, 2nd, 4th, 8th… of
//! each, so a guest that retries in a loop cannot flood the log.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use weft_capability::messaging::Reserved;
use weft_capability::sync::Locked;

/// The host's guard: what is reserved, and what was refused so far.
#[derive(Debug, Default)]
pub(crate) struct Guard {
    /// The lattice's subjects.
    pub(crate) reserved: Reserved,
    /// Refusals by (metric, component, action).
    refused: Mutex<BTreeMap<(&'static str, String, &'static str), u64>>,
}

impl Guard {
    /// A guard keeping `reserved` from components.
    pub(crate) fn new(reserved: Reserved) -> Self {
        Self {
            reserved,
            refused: Mutex::default(),
        }
    }

    /// Counts in `weft_{metric}_total` (and, sparingly, logs) that
    /// `component` was refused `action`, or had it dropped, for `reason`.
    pub(crate) fn count(
        &self,
        metric: &'static str,
        component: &str,
        action: &'static str,
        reason: &dyn std::fmt::Display,
    ) {
        let n = {
            let mut refused = self.refused.locked();
            let n = refused
                .entry((metric, component.to_owned(), action))
                .or_default();
            *n += 1;
            *n
        };
        if n.is_power_of_two() {
            // The reason may carry a guest's subject: one line, cut short.
            let reason = reason.to_string();
            let reason = weft_runtime::logging::printable(
                reason
                    .get(..reason.floor_char_boundary(300))
                    .unwrap_or_default(),
            );
            tracing::warn!(
                component,
                action,
                refusals = n,
                "{metric} ({n} so far): {reason}"
            );
        }
    }

    /// The refusal counters in the Prometheus text format.
    pub(crate) fn render(&self, out: &mut String) {
        let refused = self.refused.locked();
        let mut last = "";
        for ((metric, component, action), n) in refused.iter() {
            if *metric != last {
                let _ = writeln!(
                    out,
                    "# HELP weft_{metric}_total What the host refused a component or dropped for it, by action.\n# TYPE weft_{metric}_total counter"
                );
                last = metric;
            }
            let _ = writeln!(
                out,
                "weft_{metric}_total{{component=\"{}\",action=\"{action}\"}} {n}",
                crate::metrics::escape(component)
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_are_counted_by_component_and_action() {
        let guard = Guard::default();
        for _ in 0..3 {
            guard.count("messaging_refused", "echo", "publish", &"no");
        }
        guard.count("messaging_refused", "echo", "subscribe", &"no");
        let mut out = String::new();
        guard.render(&mut out);
        assert!(
            out.contains("weft_messaging_refused_total{component=\"echo\",action=\"publish\"} 3")
        );
        assert!(
            out.contains("weft_messaging_refused_total{component=\"echo\",action=\"subscribe\"} 1")
        );
        assert_eq!(out.matches("# TYPE").count(), 1);
    }
}
