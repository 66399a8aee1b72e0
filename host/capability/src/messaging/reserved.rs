//! The subjects a lattice keeps for itself, which nothing a component
//! sends may reach: not what it publishes or requests, not the reply
//! subject it asks for, not the reply subject a message it handles came
//! with (the *sender* chose that one), not the subjects or queue groups of
//! its subscriptions.
//!
//! Reserved are every subject whose first token starts with `$` (`$JS`,
//! `$KV`, `$O`, `$SYS`, `$SRV`, …: JetStream, its buckets, the server
//! itself), everything under `wasmbus` (control, events, rpc, spy) and
//! `wadm` (the app API), the inboxes of the lattice's own connections
//! ([`LATTICE_INBOX_PREFIX`]), and any other prefix a host adds (a custom
//! control prefix). A subscription is refused when its pattern *could*
//! match a reserved subject: `>`, `*.ctl.>` and `$KV.>` all are.
//!
//! Reply inboxes of other clients (`_INBOX.<random>`) are not reserved: a
//! component must be able to answer the requests it is sent, and such an
//! inbox cannot be guessed.

use super::Error;

/// The inbox prefix of every connection a lattice host or control client
/// makes (`_INBOX.weft.<random>.…`), so that their replies can be told
/// apart from the data plane's and kept from it.
pub const LATTICE_INBOX_PREFIX: &str = "_INBOX.weft";

/// Queue groups the lattice's servers share (wadm's API, component calls
/// between hosts): no subscription of a component may join them.
const RESERVED_GROUPS: &[&str] = &["wadm_server", "weft-rpc"];

/// What a refused subject was meant for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Use {
    /// Publishing or requesting on it.
    Send,
    /// Asking for replies on it.
    ReplyTo,
    /// Subscribing to it (a pattern).
    Subscribe,
}

/// The subjects a lattice reserves; [`Reserved::default`] holds the ones
/// every Weft lattice uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reserved {
    /// Reserved prefixes, as tokens: a subject is reserved when its first
    /// tokens are these.
    prefixes: Vec<Vec<String>>,
}

impl Default for Reserved {
    fn default() -> Self {
        Self {
            prefixes: ["wasmbus", "wadm", LATTICE_INBOX_PREFIX]
                .into_iter()
                .map(tokens)
                .collect(),
        }
    }
}

fn tokens(subject: &str) -> Vec<String> {
    subject.split('.').map(str::to_owned).collect()
}

impl Reserved {
    /// Also reserves every subject under `prefix` (dot-separated tokens,
    /// e.g. a control prefix other than `wasmbus.ctl`).
    pub fn with_prefix(mut self, prefix: &str) -> Self {
        let prefix = tokens(prefix.trim_end_matches(".>"));
        if !prefix.iter().any(String::is_empty) && !self.prefixes.contains(&prefix) {
            self.prefixes.push(prefix);
        }
        self
    }

    /// Whether the literal subject `subject` is reserved.
    pub fn is_reserved(&self, subject: &str) -> bool {
        let subject: Vec<&str> = subject.split('.').collect();
        subject.first().is_some_and(|t| t.starts_with('$'))
            || self.prefixes.iter().any(|prefix| {
                prefix.len() <= subject.len() && prefix.iter().zip(&subject).all(|(p, s)| p == s)
            })
    }

    /// Whether the subscription pattern `pattern` (`*` a token, a final
    /// `>` the rest) could match a reserved subject.
    pub fn overlaps(&self, pattern: &str) -> bool {
        let pattern: Vec<&str> = pattern.split('.').collect();
        let first = pattern.first().copied().unwrap_or_default();
        if first == "*" || first == ">" || first.starts_with('$') {
            return true;
        }
        self.prefixes.iter().any(|prefix| {
            for (i, want) in prefix.iter().enumerate() {
                match pattern.get(i) {
                    // The pattern ends before the prefix does: it matches
                    // only subjects shorter than the prefix.
                    None => return false,
                    Some(&">") => return true,
                    Some(&"*") => {}
                    Some(token) if token == want => {}
                    Some(_) => return false,
                }
            }
            true
        })
    }

    /// Refuses `subject` for `usage` when it is reserved (for subscriptions:
    /// when it could match a reserved subject).
    pub fn check(&self, subject: &str, usage: Use) -> Result<(), Error> {
        let reserved = match usage {
            Use::Send | Use::ReplyTo => self.is_reserved(subject),
            Use::Subscribe => self.overlaps(subject),
        };
        if reserved {
            return Err(Error::Reserved {
                subject: subject.to_owned(),
                usage,
            });
        }
        Ok(())
    }

    /// Refuses a queue group the lattice's own servers use, or one named
    /// like its subjects.
    pub fn check_queue_group(&self, group: &str) -> Result<(), Error> {
        let bad = group.is_empty() || group.contains(char::is_whitespace);
        if bad {
            return Err(Error::BadSubject(group.to_owned()));
        }
        if RESERVED_GROUPS.contains(&group)
            || group.starts_with('$')
            || group.starts_with("_INBOX")
            || self.is_reserved(group)
        {
            return Err(Error::Reserved {
                subject: group.to_owned(),
                usage: Use::Subscribe,
            });
        }
        Ok(())
    }

    /// Checks everything about one message a component sends.
    pub fn check_message(&self, subject: &str, reply_to: Option<&str>) -> Result<(), Error> {
        self.check(subject, Use::Send)?;
        match reply_to {
            Some(reply) => self.check(reply, Use::ReplyTo),
            None => Ok(()),
        }
    }
}

impl std::fmt::Display for Use {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Send => "send to",
            Self::ReplyTo => "ask for replies on",
            Self::Subscribe => "subscribe to",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lattices_subjects_are_reserved_and_the_data_planes_are_not() {
        let r = Reserved::default();
        for s in [
            "wasmbus.ctl.v1.default.label.put.N1",
            "wasmbus.rpc.default.greeter",
            "wasmbus.evt.default.host_heartbeat",
            "wasmbus",
            "wadm.api.default.model.put",
            "$JS.API.STREAM.DELETE.KV_x",
            "$KV.weft_default_config.x",
            "$O.bucket.x",
            "$SYS.REQ.SERVER.PING",
            "$SRV.PING",
            "_INBOX.weft.abc.1",
        ] {
            assert!(r.is_reserved(s), "{s}");
            assert!(r.check(s, Use::Send).is_err(), "{s}");
        }
        for s in [
            "weft.ping",
            "wasmbusx.ctl",
            "orders.wasmbus",
            "_INBOX.abcdefghijklmnopqrstuv.1",
            "_INBOX",
            "_INBOX.weftx.1",
            "wadmin.x",
        ] {
            assert!(!r.is_reserved(s), "{s}");
            assert!(r.check_message(s, Some("_INBOX.abc")).is_ok(), "{s}");
        }
        assert!(r.check_message("weft.ping", Some("wasmbus.ctl.x")).is_err());
    }

    #[test]
    fn patterns_that_could_match_a_reserved_subject_are_refused() {
        let r = Reserved::default();
        for p in [
            ">",
            "*",
            "*.ping",
            "*.ctl.>",
            "wasmbus.>",
            "wasmbus.*.v1.>",
            "wadm.>",
            "$KV.>",
            "_INBOX.>",
            "_INBOX.*.>",
            "_INBOX.weft.>",
            "wasmbus",
        ] {
            assert!(r.overlaps(p), "{p}");
        }
        for p in [
            "weft.ping",
            "orders.>",
            "orders.*.new",
            "_INBOX",
            "_INBOX.abc.>",
        ] {
            assert!(!r.overlaps(p), "{p}");
        }
    }

    #[test]
    fn a_custom_control_prefix_is_reserved_too() {
        let r = Reserved::default().with_prefix("acme.ctl");
        assert!(r.is_reserved("acme.ctl.v1.default.host.ping"));
        assert!(!r.is_reserved("acme.orders"));
        assert!(r.overlaps("acme.>"));
        assert!(!r.overlaps("acme.orders.>"));
    }

    #[test]
    fn the_lattices_queue_groups_are_refused() {
        let r = Reserved::default();
        for g in [
            "wadm_server",
            "weft-rpc",
            "wasmbus.ctl.v1.default",
            "$x",
            "_INBOX.y",
        ] {
            assert!(r.check_queue_group(g).is_err(), "{g}");
        }
        assert!(r.check_queue_group("billing").is_ok());
        assert!(r.check_queue_group("a b").is_err());
    }
}
