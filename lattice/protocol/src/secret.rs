//! Config entries marked secret. A named config lists its secret keys under
//! the reserved key [`SECRET_KEYS`] (comma-separated); hosts strip that key
//! before a component or provider sees the config, and clients show the
//! secret values masked unless asked to reveal them. Events never carry
//! config values at all.

use crate::wire::StringMap;
use std::collections::BTreeSet;

/// The reserved key naming a config's secret keys (`password,token`).
pub const SECRET_KEYS: &str = "weft.secret_keys";

/// What a masked value shows.
pub const MASK: &str = "••••";

/// The keys of `config` marked secret.
pub fn secret_keys(config: &StringMap) -> BTreeSet<String> {
    config
        .get(SECRET_KEYS)
        .map(|list| {
            list.split(',')
                .map(str::trim)
                .filter(|k| !k.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// `config` as a component or provider gets it: without the marker.
pub fn without_marker(mut config: StringMap) -> StringMap {
    config.remove(SECRET_KEYS);
    config
}

/// `config` for display: without the marker, and with secret values
/// masked unless `reveal`.
pub fn for_display(config: &StringMap, reveal: bool) -> StringMap {
    let secret = secret_keys(config);
    config
        .iter()
        .filter(|(k, _)| k.as_str() != SECRET_KEYS)
        .map(|(k, v)| {
            let shown = if !reveal && secret.contains(k) {
                MASK.to_owned()
            } else {
                v.clone()
            };
            (k.clone(), shown)
        })
        .collect()
}

/// `values` with `secret` (each one of its keys) marked secret; fails
/// naming a secret key that has no value.
pub fn mark(mut values: StringMap, secret: &[String]) -> Result<StringMap, String> {
    if values.contains_key(SECRET_KEYS) {
        return Err(format!(
            "`{SECRET_KEYS}` is reserved; mark keys secret with --secret KEY"
        ));
    }
    for key in secret {
        if !values.contains_key(key) {
            return Err(format!(
                "--secret {key}: the config has no key `{key}`; give it as {key}=VALUE"
            ));
        }
    }
    if !secret.is_empty() {
        let list: BTreeSet<&str> = secret.iter().map(String::as_str).collect();
        values.insert(
            SECRET_KEYS.to_owned(),
            list.into_iter().collect::<Vec<_>>().join(","),
        );
    }
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> StringMap {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn marked_values_are_masked_unless_revealed_and_the_marker_never_shows() {
        let stored = mark(
            config(&[("url", "redis://x"), ("password", "hunter2")]),
            &["password".into()],
        );
        let stored = stored.unwrap_or_default();
        assert_eq!(secret_keys(&stored).len(), 1);
        let shown = for_display(&stored, false);
        assert_eq!(shown.get("password").map(String::as_str), Some(MASK));
        assert_eq!(shown.get("url").map(String::as_str), Some("redis://x"));
        assert!(!shown.contains_key(SECRET_KEYS));
        let revealed = for_display(&stored, true);
        assert_eq!(
            revealed.get("password").map(String::as_str),
            Some("hunter2")
        );
        let used = without_marker(stored);
        assert_eq!(used.len(), 2);
        assert!(!used.contains_key(SECRET_KEYS));
    }

    #[test]
    fn marking_refuses_unknown_keys_and_the_reserved_one() {
        let err = mark(config(&[("a", "1")]), &["b".into()]).err();
        assert!(err.unwrap_or_default().contains("--secret b"));
        let err = mark(config(&[(SECRET_KEYS, "x")]), &[]).err();
        assert!(err.unwrap_or_default().contains("reserved"));
    }
}
