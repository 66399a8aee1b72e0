//! Which destinations a link lets a component reach: the `allowed_hosts`
//! of the link's target config, a comma-separated list of patterns
//! `[scheme://]host[:port]`.
//!
//! - `host` is a name (`api.example.com`), an IP literal (`127.0.0.1`,
//!   `[::1]`), `*.example.com` (any subdomain, not the apex) or `*` (any
//!   host).
//! - `port` is a number or `*`; without one, the scheme's default port
//!   (80, 443) is meant.
//! - `scheme` is `http` or `https`; without one, both are allowed.
//!
//! A destination matched only by a wildcard must resolve to public
//! addresses: loopback, private and link-local ones are reachable only by
//! naming them (or a host name that resolves to them) exactly, so a
//! wildcard cannot be turned against the host's own network.

use std::net::IpAddr;
use weft_capability::provider;

/// Where a request goes, as the policy sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    /// `http` or `https`.
    pub scheme: String,
    /// The host, lower-case, without brackets for IPv6.
    pub host: String,
    /// The port (the scheme's default when the URI has none).
    pub port: u16,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum HostPattern {
    Any,
    Subdomains(String),
    Exact(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Pattern {
    scheme: Option<String>,
    host: HostPattern,
    /// `None`: any port; `Some(None)`: the scheme's default.
    port: Option<Option<u16>>,
}

/// How a destination was allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Allowed {
    /// Named exactly: any address it resolves to is fine.
    Exactly,
    /// Only by a wildcard: it must resolve to public addresses.
    ByWildcard,
}

/// A link's outgoing-HTTP policy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    patterns: Vec<Pattern>,
}

/// The scheme's default port.
pub fn default_port(scheme: &str) -> u16 {
    if scheme == "https" { 443 } else { 80 }
}

impl Policy {
    /// Parses `allowed_hosts`; an error names the key and the bad entry.
    pub fn parse(allowed_hosts: &str) -> Result<Self, provider::Error> {
        let bad = |entry: &str, reason: &str| provider::Error::BadValue {
            key: "allowed_hosts".into(),
            reason: format!(
                "`{entry}` {reason} (e.g. api.example.com, *.example.com:8443, http://127.0.0.1:8080)"
            ),
        };
        let mut patterns = Vec::new();
        for entry in allowed_hosts
            .split(',')
            .map(str::trim)
            .filter(|e| !e.is_empty())
        {
            let (scheme, rest) = match entry.split_once("://") {
                Some((s, rest)) if s == "http" || s == "https" => (Some(s.to_owned()), rest),
                Some(_) => return Err(bad(entry, "has a scheme other than http or https")),
                None => (None, entry),
            };
            let (host, port) = split_port(rest).ok_or_else(|| bad(entry, "has a bad port"))?;
            let host = host.to_ascii_lowercase();
            if host.is_empty() || host.contains(['/', '?', '#', '@', ' ']) {
                return Err(bad(entry, "is not a host pattern"));
            }
            let host = if host == "*" {
                HostPattern::Any
            } else if let Some(domain) = host.strip_prefix("*.") {
                if domain.is_empty() || domain.contains('*') {
                    return Err(bad(entry, "has a wildcard in the wrong place"));
                }
                HostPattern::Subdomains(domain.to_owned())
            } else if host.contains('*') {
                return Err(bad(entry, "has a wildcard in the wrong place"));
            } else {
                HostPattern::Exact(host)
            };
            patterns.push(Pattern { scheme, host, port });
        }
        Ok(Self { patterns })
    }

    /// Whether the policy allows nothing at all.
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// How `dest` is allowed, or `None` if it is not.
    pub fn check(&self, dest: &Destination) -> Option<Allowed> {
        let mut best = None;
        for p in &self.patterns {
            if p.scheme.as_ref().is_some_and(|s| *s != dest.scheme) {
                continue;
            }
            let port_ok = match p.port {
                None => true,
                Some(None) => dest.port == default_port(&dest.scheme),
                Some(Some(port)) => dest.port == port,
            };
            if !port_ok {
                continue;
            }
            match &p.host {
                HostPattern::Exact(h) if *h == dest.host => return Some(Allowed::Exactly),
                HostPattern::Subdomains(d)
                    if dest.host.len() > d.len()
                        && dest.host.ends_with(d.as_str())
                        && dest.host.as_bytes()[dest.host.len() - d.len() - 1] == b'.' =>
                {
                    best = Some(Allowed::ByWildcard);
                }
                HostPattern::Any => best = Some(Allowed::ByWildcard),
                _ => {}
            }
        }
        best
    }
}

/// `host[:port]` with `[v6]` literals; the port is `None` for "any" (`*`),
/// `Some(None)` when absent.
fn split_port(s: &str) -> Option<(&str, Option<Option<u16>>)> {
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        match after.strip_prefix(':') {
            Some(port) => (host, Some(port)),
            None if after.is_empty() => (host, None),
            None => return None,
        }
    } else {
        match s.rsplit_once(':') {
            Some((host, port)) if !host.contains(':') => (host, Some(port)),
            Some(_) => return None,
            None => (s, None),
        }
    };
    let port = match port {
        None => Some(None),
        Some("*") => None,
        Some(p) => Some(Some(p.parse().ok().filter(|p| *p != 0)?)),
    };
    Some((host, port))
}

/// Whether an address is one a wildcard must not reach: loopback,
/// private, link-local, unspecified, or otherwise not globally routable,
/// also when an IPv6 address carries an IPv4 one that is (mapped,
/// compatible, NAT64, 6to4).
pub fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_multicast()
                || a == 0 // 0/8, "this network" (0.0.0.0 reaches the host itself)
                || a >= 240 // 240/4, reserved, and the broadcast address
                || a == 100 && (b & 0xc0) == 64 // 100.64/10, shared
                || a == 198 && (b & 0xfe) == 18 // 198.18/15, benchmarking
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            let low = std::net::Ipv4Addr::new(
                (s[6] >> 8) as u8,
                s[6] as u8,
                (s[7] >> 8) as u8,
                s[7] as u8,
            );
            // The local-use NAT64 prefix 64:ff9b:1::/48 (RFC 8215) maps
            // onto a network's own IPv4 space: internal, whatever it carries.
            if s[0] == 0x64 && s[1] == 0xff9b && s[2] == 1 {
                return true;
            }
            // IPv4-compatible (::a.b.c.d; :: and ::1 too) and the
            // well-known NAT64 prefix 64:ff9b::/96 carry it in the last 32
            // bits; 6to4 (2002::/16) in bits 16..48.
            let compatible = s[..6] == [0; 6];
            let nat64 = s[..6] == [0x64, 0xff9b, 0, 0, 0, 0];
            let embedded = if let Some(v4) = v6.to_ipv4_mapped() {
                Some(v4)
            } else if compatible || nat64 {
                Some(low)
            } else if s[0] == 0x2002 {
                Some(std::net::Ipv4Addr::new(
                    (s[1] >> 8) as u8,
                    s[1] as u8,
                    (s[2] >> 8) as u8,
                    s[2] as u8,
                ))
            } else {
                None
            };
            if let Some(v4) = embedded {
                return is_internal(IpAddr::V4(v4));
            }
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00 // unique local
                || (s[0] & 0xffc0) == 0xfe80 // link-local
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dest(scheme: &str, host: &str, port: u16) -> Destination {
        Destination {
            scheme: scheme.into(),
            host: host.into(),
            port,
        }
    }

    #[test]
    fn exact_hosts_ports_and_schemes() {
        let p = Policy::parse("api.example.com, http://127.0.0.1:8080, [::1]:*").unwrap();
        assert_eq!(
            p.check(&dest("https", "api.example.com", 443)),
            Some(Allowed::Exactly)
        );
        assert_eq!(
            p.check(&dest("http", "api.example.com", 80)),
            Some(Allowed::Exactly)
        );
        assert_eq!(
            p.check(&dest("https", "api.example.com", 8443)),
            None,
            "default port only"
        );
        assert_eq!(
            p.check(&dest("http", "127.0.0.1", 8080)),
            Some(Allowed::Exactly)
        );
        assert_eq!(
            p.check(&dest("https", "127.0.0.1", 8080)),
            None,
            "http only"
        );
        assert_eq!(p.check(&dest("http", "127.0.0.1", 8081)), None);
        assert_eq!(p.check(&dest("http", "::1", 9)), Some(Allowed::Exactly));
        assert_eq!(p.check(&dest("https", "example.com", 443)), None);
    }

    #[test]
    fn wildcards_match_subdomains_not_lookalikes() {
        let p = Policy::parse("*.example.com:*").unwrap();
        assert_eq!(
            p.check(&dest("https", "a.example.com", 1)),
            Some(Allowed::ByWildcard)
        );
        assert_eq!(
            p.check(&dest("https", "a.b.example.com", 443)),
            Some(Allowed::ByWildcard)
        );
        assert_eq!(
            p.check(&dest("https", "example.com", 443)),
            None,
            "not the apex"
        );
        assert_eq!(p.check(&dest("https", "badexample.com", 443)), None);
        let any = Policy::parse("*").unwrap();
        assert_eq!(
            any.check(&dest("http", "x.org", 80)),
            Some(Allowed::ByWildcard)
        );
        assert_eq!(any.check(&dest("http", "x.org", 81)), None);
    }

    #[test]
    fn bad_entries_name_the_key() {
        for bad in [
            "ftp://x", "a:b", "a:0", "*x.com", "a.*.com", "x/y", "[::1", "a:1:2",
        ] {
            match Policy::parse(bad) {
                Err(provider::Error::BadValue { key, .. }) => assert_eq!(key, "allowed_hosts"),
                other => panic!("{bad}: {other:?}"),
            }
        }
        assert!(Policy::parse(" , ").unwrap().is_empty());
    }

    #[test]
    fn internal_addresses_are_recognised() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "192.168.0.1",
            "172.16.0.1",
            "169.254.1.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "100.64.0.1",
            "0.1.2.3",
            "198.18.0.1",
            "198.19.255.255",
            "240.0.0.1",
            "255.255.255.255",
            "224.0.0.1",
            "64:ff9b::7f00:1",
            "64:ff9b::a00:1",
            "64:ff9b:1::c0a8:1",
            "64:ff9b:1:a00:1:0:101:101",
            "2002:7f00:1::",
            "2002:a00:1::1",
            "::127.0.0.1",
            "::10.0.0.1",
            "::",
            "ff02::1",
        ] {
            assert!(is_internal(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "93.184.216.34",
            "2606:2800:220:1::1",
            "1.1.1.1",
            "198.20.0.1",
            "64:ff9b::5db8:d822",
            "2002:5db8:d822::1",
        ] {
            assert!(!is_internal(ip.parse().unwrap()), "{ip}");
        }
    }
}
