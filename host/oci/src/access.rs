//! Where a registry's credentials may go. They are bound to the registry's
//! host: sent to it (over HTTPS, or plain HTTP on loopback), and exchanged
//! for a token only at a realm on that same host. A registry whose
//! `WWW-Authenticate` challenge names a token realm elsewhere gets nothing
//! (Docker Hub, whose realm is `auth.docker.io`, is the one known
//! exception). Anonymous token requests may go anywhere: they carry no
//! secret.

use std::collections::BTreeMap;

/// A `WWW-Authenticate` challenge: its scheme (lower case) and parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Challenge {
    /// `bearer` or `basic`.
    pub(crate) scheme: String,
    /// `realm`, `service`, `scope`, … (names in lower case).
    pub(crate) params: BTreeMap<String, String>,
}

impl Challenge {
    /// Parses `Scheme k="v", k2=v2` (the value is the registry's, so
    /// anything malformed is `None`, never a panic).
    pub(crate) fn parse(header: &str) -> Option<Self> {
        let header = header.trim();
        let (scheme, rest) = header.split_once(' ').unwrap_or((header, ""));
        if scheme.is_empty() {
            return None;
        }
        let mut params = BTreeMap::new();
        let mut rest = rest.trim_start();
        while !rest.is_empty() {
            let (name, after) = rest.split_once('=')?;
            let name = name.trim().to_ascii_lowercase();
            let after = after.trim_start();
            let (value, next) = match after.strip_prefix('"') {
                Some(quoted) => {
                    let end = quoted.find('"')?;
                    (&quoted[..end], &quoted[end + 1..])
                }
                None => after.split_once(',').map_or((after, ""), |(v, n)| (v, n)),
            };
            params.insert(name, value.trim().to_owned());
            rest = next.trim_start().trim_start_matches(',').trim_start();
        }
        Some(Self {
            scheme: scheme.to_ascii_lowercase(),
            params,
        })
    }

    /// The token realm of a bearer challenge.
    pub(crate) fn realm(&self) -> Option<&str> {
        (self.scheme == "bearer")
            .then(|| self.params.get("realm").map(String::as_str))
            .flatten()
    }
}

/// The host of `registry` (`host[:port]`, `[v6]:port`), lower case.
pub(crate) fn registry_host(registry: &str) -> String {
    let host = match registry.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or_default(),
        None => registry.rsplit_once(':').map_or(registry, |(h, _)| h),
    };
    host.to_ascii_lowercase()
}

/// Whether `host` is a loopback name or address.
pub(crate) fn is_loopback(host: &str) -> bool {
    matches!(host, "localhost" | "::1")
        || host
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Docker Hub's registry names, whose tokens come from `auth.docker.io`.
const DOCKER_HUB: &[&str] = &["docker.io", "index.docker.io", "registry-1.docker.io"];

/// Why credentials for `registry` may not go to the token realm `realm`,
/// or `None` when they may: the realm must be on the registry's own host,
/// over HTTPS unless that host is loopback.
pub(crate) fn realm_refused(registry: &str, realm: &str) -> Option<String> {
    let Ok(url) = reqwest::Url::parse(realm) else {
        return Some(format!("its token realm `{realm}` is not a URL"));
    };
    let host = url
        .host_str()
        .unwrap_or_default()
        .trim_matches(['[', ']'])
        .to_ascii_lowercase();
    let own = registry_host(registry);
    let same = host == own || (DOCKER_HUB.contains(&own.as_str()) && host == "auth.docker.io");
    if !same {
        return Some(format!(
            "it asks for its credentials to be sent to `{host}` (token realm {realm}); \
             Weft sends the credentials of `{registry}` only to `{own}`"
        ));
    }
    if url.scheme() != "https" && !is_loopback(&host) {
        return Some(format!(
            "its token realm {realm} is not HTTPS; credentials are never sent in clear text"
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_parse_and_malformed_ones_are_none() {
        let c = Challenge::parse(
            r#"Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:a/b:pull""#,
        )
        .unwrap();
        assert_eq!(c.realm(), Some("https://ghcr.io/token"));
        assert_eq!(c.params["service"], "ghcr.io");
        assert_eq!(c.params["scope"], "repository:a/b:pull");
        let basic = Challenge::parse(r#"Basic realm="weft-test""#).unwrap();
        assert_eq!(basic.scheme, "basic");
        assert_eq!(basic.realm(), None);
        let bare = Challenge::parse("Bearer realm=https://r.example/t, service=r").unwrap();
        assert_eq!(bare.realm(), Some("https://r.example/t"));
        assert_eq!(bare.params["service"], "r");
        for bad in ["", r#"Bearer realm="unclosed"#, "Bearer noequals"] {
            assert_eq!(
                Challenge::parse(bad).and_then(|c| c.realm().map(str::to_owned)),
                None,
                "{bad}"
            );
        }
    }

    #[test]
    fn credentials_go_only_to_a_realm_on_the_registrys_host() {
        assert_eq!(realm_refused("ghcr.io", "https://ghcr.io/token"), None);
        assert_eq!(
            realm_refused("127.0.0.1:5000", "http://127.0.0.1:5001/token"),
            None
        );
        assert_eq!(
            realm_refused("registry-1.docker.io", "https://auth.docker.io/token"),
            None
        );
        assert!(realm_refused("ghcr.io", "https://evil.example/token").is_some());
        assert!(realm_refused("127.0.0.1:5000", "http://localhost:5000/token").is_some());
        assert!(realm_refused("reg.example", "http://reg.example/token").is_some());
        assert!(realm_refused("reg.example", "not a url").is_some());
        assert!(realm_refused("evil.example", "https://auth.docker.io/token").is_some());
    }

    #[test]
    fn registry_hosts_and_loopback() {
        assert_eq!(registry_host("Ghcr.io"), "ghcr.io");
        assert_eq!(registry_host("127.0.0.1:5000"), "127.0.0.1");
        assert_eq!(registry_host("[::1]:5000"), "::1");
        assert!(is_loopback("127.0.0.1") && is_loopback("localhost") && is_loopback("::1"));
        assert!(!is_loopback("10.0.0.1") && !is_loopback("localhost.evil.example"));
    }
}
