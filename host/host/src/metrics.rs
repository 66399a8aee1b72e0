//! The host's metrics in the Prometheus text format: invocations per
//! component, calls per link, the instance pool, OCI pulls and where
//! compiled code came from. Counters live where the work happens
//! (components, metered links); rendering reads them, it never blocks an
//! invocation.

use crate::Host;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use weft_capability::sync::Locked;
use weft_runtime::metrics::{BUCKETS, Calls, Histogram, Kind};
use weft_runtime::{Component, Origin};

/// What one link's calls are counted under.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct LinkKey {
    pub(crate) component: String,
    pub(crate) link: String,
    /// `namespace:package` (or `namespace:package/interface` for calls to
    /// components).
    pub(crate) interface: String,
    pub(crate) target: String,
}

/// Counters of the host itself, and the link meters by link.
#[derive(Default)]
pub(crate) struct HostMeters {
    pulls_ok: AtomicU64,
    pulls_failed: AtomicU64,
    /// Loads by [`Origin`]: compiled, from the disk cache, shared in memory.
    loads: [AtomicU64; 3],
    links: Mutex<BTreeMap<LinkKey, Arc<Calls>>>,
    /// The metered capabilities handed out, by link.
    pub(crate) wrappers: crate::metered::Wrappers,
}

impl HostMeters {
    /// Counts a pull of component bytes from a registry.
    pub(crate) fn pulled(&self, ok: bool) {
        let counter = if ok {
            &self.pulls_ok
        } else {
            &self.pulls_failed
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a component load by where its code came from.
    pub(crate) fn loaded(&self, origin: Origin) {
        let i = match origin {
            Origin::Compiled => 0,
            Origin::Cached => 1,
            Origin::Shared => 2,
        };
        self.loads[i].fetch_add(1, Ordering::Relaxed);
    }

    /// The meter of a link (the same one every time links are resolved).
    pub(crate) fn link(&self, key: LinkKey) -> Arc<Calls> {
        self.links.locked().entry(key).or_default().clone()
    }

    /// Forgets the meters of links no longer bound.
    pub(crate) fn keep_links(&self, bound: &[LinkKey]) {
        self.wrappers.keep(bound);
        self.links.locked().retain(|k, _| bound.contains(k));
    }
}

/// A label value, escaped as the text format wants.
pub(crate) fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Writes `# HELP` and `# TYPE` of a metric.
fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// Writes the series of a histogram whose labels are `labels` (`a="b",…`).
fn histogram(out: &mut String, name: &str, labels: &str, h: &Histogram) {
    let counts = h.cumulative();
    for (le, n) in BUCKETS.iter().zip(counts) {
        let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{le}\"}} {n}");
    }
    let total = counts[BUCKETS.len()];
    let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {total}");
    let _ = writeln!(out, "{name}_sum{{{labels}}} {}", h.sum_seconds());
    let _ = writeln!(out, "{name}_count{{{labels}}} {total}");
}

/// Writes count, error and duration series of calls under `prefix`.
fn calls<'a>(
    out: &mut String,
    prefix: &str,
    what: &str,
    series: impl Iterator<Item = (String, &'a Calls)> + Clone,
) {
    let total = format!("{prefix}s_total");
    header(
        out,
        &total,
        "counter",
        &format!("{what}, failed ones included."),
    );
    for (labels, c) in series.clone() {
        let _ = writeln!(out, "{total}{{{labels}}} {}", c.count());
    }
    let errors = format!("{prefix}_errors_total");
    header(out, &errors, "counter", &format!("{what} that failed."));
    for (labels, c) in series.clone() {
        let _ = writeln!(out, "{errors}{{{labels}}} {}", c.errors());
    }
    let duration = format!("{prefix}_duration_seconds");
    header(
        out,
        &duration,
        "histogram",
        &format!("How long {what} took."),
    );
    for (labels, c) in series {
        histogram(out, &duration, &labels, &c.latency);
    }
}

impl Host {
    /// The host's metrics in the Prometheus text format (what `weft host
    /// --metrics` serves at `/metrics`).
    pub fn metrics(&self) -> String {
        let mut components: Vec<Arc<Component>> =
            self.placed().components.values().cloned().collect();
        components.sort_by(|a, b| a.id().cmp(b.id()));
        let mut out = String::new();

        // Only kinds that happened: thousands of idle copies stay short.
        let invoked: Vec<(String, &Calls)> = components
            .iter()
            .flat_map(|c| {
                Kind::ALL.into_iter().filter_map(move |k| {
                    let calls = c.invocations().of(k);
                    (calls.count() > 0).then(|| {
                        let labels =
                            format!("component=\"{}\",kind=\"{}\"", escape(c.id()), k.label());
                        (labels, calls)
                    })
                })
            })
            .collect();
        calls(
            &mut out,
            "weft_invocation",
            "Invocations of a component, by what invoked it",
            invoked.iter().map(|(l, c)| (l.clone(), *c)),
        );

        let links: Vec<(LinkKey, Arc<Calls>)> = self
            .meters
            .links
            .locked()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        calls(
            &mut out,
            "weft_link_call",
            "Calls a component made through a link",
            links.iter().map(|(k, c)| {
                let labels = format!(
                    "component=\"{}\",link=\"{}\",interface=\"{}\",target=\"{}\"",
                    escape(&k.component),
                    escape(&k.link),
                    escape(&k.interface),
                    escape(&k.target)
                );
                (labels, c.as_ref())
            }),
        );

        header(
            &mut out,
            "weft_components",
            "gauge",
            "Components running on this host.",
        );
        let _ = writeln!(out, "weft_components {}", components.len());
        header(
            &mut out,
            "weft_invocations_in_flight",
            "gauge",
            "Invocations of a component running now.",
        );
        for c in components.iter().filter(|c| c.in_flight() > 0) {
            let _ = writeln!(
                out,
                "weft_invocations_in_flight{{component=\"{}\"}} {}",
                escape(c.id()),
                c.in_flight()
            );
        }
        self.pool_metrics(&mut out);

        header(
            &mut out,
            "weft_oci_pulls_total",
            "counter",
            "Component images pulled from a registry, by result.",
        );
        let m = &self.meters;
        let _ = writeln!(
            out,
            "weft_oci_pulls_total{{result=\"ok\"}} {}",
            m.pulls_ok.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "weft_oci_pulls_total{{result=\"error\"}} {}",
            m.pulls_failed.load(Ordering::Relaxed)
        );
        header(
            &mut out,
            "weft_component_loads_total",
            "counter",
            "Component loads by where the code came from: compiled now, the compile cache on \
             disk, or shared with a running copy (the last two are compile-cache hits).",
        );
        for (i, origin) in ["compiled", "cached", "shared"].iter().enumerate() {
            let _ = writeln!(
                out,
                "weft_component_loads_total{{origin=\"{origin}\"}} {}",
                m.loads[i].load(Ordering::Relaxed)
            );
        }
        self.guard.render(&mut out);
        out
    }

    /// The instance pool: what is allocated now and what it was sized for.
    fn pool_metrics(&self, out: &mut String) {
        let config = self.runtime.config();
        header(
            out,
            "weft_pool_instances_max",
            "gauge",
            "Component instances the pool can hold at once.",
        );
        let _ = writeln!(out, "weft_pool_instances_max {}", config.max_instances);
        let Some(pool) = self.runtime.engine().pooling_allocator_metrics() else {
            return;
        };
        header(
            out,
            "weft_pool_instances",
            "gauge",
            "Component instances allocated from the pool now.",
        );
        let _ = writeln!(out, "weft_pool_instances {}", pool.component_instances());
        header(
            out,
            "weft_pool_memories",
            "gauge",
            "Linear memories allocated from the pool now.",
        );
        let _ = writeln!(out, "weft_pool_memories {}", pool.memories());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape(r#"a"b\c"#), r#"a\"b\\c"#);
        assert_eq!(escape("x\ny"), "x\\ny");
    }

    #[test]
    fn a_histogram_ends_with_inf_sum_and_count() {
        let h = Histogram::default();
        h.observe_ns(2_000_000);
        let mut out = String::new();
        histogram(&mut out, "t", "c=\"x\"", &h);
        assert!(out.contains("t_bucket{c=\"x\",le=\"0.001\"} 0\n"), "{out}");
        assert!(out.contains("t_bucket{c=\"x\",le=\"0.0025\"} 1\n"), "{out}");
        assert!(out.contains("t_bucket{c=\"x\",le=\"+Inf\"} 1\n"), "{out}");
        assert!(out.contains("t_sum{c=\"x\"} 0.002\n"), "{out}");
        assert!(out.contains("t_count{c=\"x\"} 1\n"), "{out}");
    }

    #[test]
    fn link_meters_are_kept_across_resolves_and_dropped_with_the_link() {
        let meters = HostMeters::default();
        let key = LinkKey {
            component: "c".into(),
            link: "default".into(),
            interface: "wasi:keyvalue".into(),
            target: "redis".into(),
        };
        let a = meters.link(key.clone());
        assert!(Arc::ptr_eq(&a, &meters.link(key.clone())));
        meters.keep_links(&[]);
        assert!(!Arc::ptr_eq(&a, &meters.link(key)));
    }
}
