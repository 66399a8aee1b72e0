//! The provider kinds compiled into Weft, and the one place their
//! references are written.
//!
//! A reference names a kind in `provider.start` and in app manifests:
//! `builtin:keyvalue-redis`, or wasmCloud's spelling
//! `wasmcloud+builtin://keyvalue-redis`. The composition root
//! (`weft-lattice-host`) maps every [`Builtin`] to its implementation in
//! one exhaustive `match`, so a kind added here cannot go unregistered;
//! manifest validation and error messages list [`Builtin::ALL`].

use std::fmt;

/// A provider kind that ships with Weft.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Builtin {
    /// `wasi:keyvalue` in the host's memory, lost when it stops.
    KeyValueMemory,
    /// `wasi:keyvalue` on Redis.
    KeyValueRedis,
    /// `wasi:keyvalue` on a NATS JetStream KV bucket.
    KeyValueNats,
    /// `wasmcloud:messaging` on NATS.
    MessagingNats,
    /// An HTTP server calling components' `wasi:http/incoming-handler`.
    HttpServer,
    /// An HTTP client serving components' `wasi:http/outgoing-handler`.
    HttpClient,
}

/// Each kind and its reference: the only place they are spelled.
const REFERENCES: [(Builtin, &str); 6] = [
    (Builtin::KeyValueMemory, "builtin:keyvalue-memory"),
    (Builtin::KeyValueRedis, "builtin:keyvalue-redis"),
    (Builtin::KeyValueNats, "builtin:keyvalue-nats"),
    (Builtin::MessagingNats, "builtin:messaging-nats"),
    (Builtin::HttpServer, "builtin:http-server"),
    (Builtin::HttpClient, "builtin:http-client"),
];

/// The scheme of Weft's own references.
const SCHEME: &str = "builtin:";

/// wasmCloud's way of naming a builtin kind.
const WASMCLOUD_SCHEME: &str = "wasmcloud+builtin://";

impl Builtin {
    /// Every builtin kind, in the order help and errors list them.
    pub const ALL: [Builtin; 6] = [
        Builtin::KeyValueMemory,
        Builtin::KeyValueRedis,
        Builtin::KeyValueNats,
        Builtin::MessagingNats,
        Builtin::HttpServer,
        Builtin::HttpClient,
    ];

    /// The reference that names it: `builtin:keyvalue-redis`, ….
    pub fn reference(self) -> &'static str {
        REFERENCES
            .iter()
            .find_map(|(kind, reference)| (*kind == self).then_some(*reference))
            .unwrap_or_default()
    }

    /// Its name without the scheme: `keyvalue-redis`, ….
    pub fn name(self) -> &'static str {
        let reference = self.reference();
        reference.strip_prefix(SCHEME).unwrap_or(reference)
    }

    /// The kind `name` (`keyvalue-redis`) names, if any.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.name() == name)
    }

    /// The kind `reference` names, as `builtin:NAME` or wasmCloud's
    /// `wasmcloud+builtin://NAME`; `None` for anything else.
    pub fn parse(reference: &str) -> Option<Self> {
        match reference.strip_prefix(WASMCLOUD_SCHEME) {
            Some(name) => Self::from_name(name),
            None => REFERENCES
                .iter()
                .find_map(|(kind, r)| (*r == reference).then_some(*kind)),
        }
    }

    /// Whether `reference` is spelled as a builtin one (known or not).
    pub fn is_builtin_reference(reference: &str) -> bool {
        reference.starts_with(WASMCLOUD_SCHEME) || reference.starts_with(SCHEME)
    }

    /// `reference` in its canonical form: a builtin kind's own reference
    /// whichever way it was spelled, anything else unchanged.
    pub fn canonical(reference: &str) -> String {
        Self::parse(reference).map_or_else(|| reference.to_owned(), |k| k.reference().to_owned())
    }

    /// Every reference, comma-separated, for messages that list them.
    pub fn listed() -> String {
        Self::ALL.map(Self::reference).join(", ")
    }
}

impl fmt::Display for Builtin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.reference())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_one_reference_and_both_spellings_parse() {
        for kind in Builtin::ALL {
            assert!(kind.reference().starts_with(SCHEME), "{kind:?}");
            assert_eq!(Builtin::parse(kind.reference()), Some(kind));
            let wasmcloud = format!("wasmcloud+builtin://{}", kind.name());
            assert_eq!(Builtin::parse(&wasmcloud), Some(kind));
            assert_eq!(Builtin::canonical(&wasmcloud), kind.reference());
            assert!(Builtin::is_builtin_reference(&wasmcloud));
        }
        assert_eq!(REFERENCES.len(), Builtin::ALL.len());
        assert_eq!(Builtin::parse("builtin:nope"), None);
        assert!(Builtin::is_builtin_reference("builtin:nope"));
        assert!(!Builtin::is_builtin_reference("ghcr.io/x/y:1"));
        assert_eq!(Builtin::canonical("oci://x/y"), "oci://x/y");
    }
}
