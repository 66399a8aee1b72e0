//! `wasi:config`: the runtime configuration a component reads, as a string map.

use std::collections::BTreeMap;
use std::sync::Arc;

/// Errors of a config lookup, mirroring `wasi:config`'s `error` variant.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The config source failed.
    #[error("config source failed: {0}")]
    Upstream(String),
    /// Anything else.
    #[error("{0}")]
    Io(String),
}

/// A component's configuration: immutable key/value strings, cheap to clone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Config {
    values: Arc<BTreeMap<String, String>>,
}

impl Config {
    /// A config holding `values`.
    pub fn new(values: BTreeMap<String, String>) -> Self {
        Self {
            values: Arc::new(values),
        }
    }

    /// The value of `key`, if set.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.values.get(key).map(String::as_str)
    }

    /// Every key/value pair, sorted by key.
    pub fn all(&self) -> impl Iterator<Item = (&str, &str)> {
        self.values.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Parses `KEY=VALUE` (as given on a command line) into a pair.
    pub fn parse_pair(pair: &str) -> Option<(String, String)> {
        let (k, v) = pair.split_once('=')?;
        (!k.is_empty()).then(|| (k.to_owned(), v.to_owned()))
    }
}

impl FromIterator<(String, String)> for Config {
    fn from_iter<I: IntoIterator<Item = (String, String)>>(iter: I) -> Self {
        Self::new(iter.into_iter().collect())
    }
}

/// Parses a size or count: `67108864`, `64MiB`, `64M`, `512KiB`, `1GiB`
/// (binary units); the error says what to write.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("`{s}` is not a size; write e.g. 64MiB or 1048576"))?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        other => return Err(format!("unknown size unit `{other}`; use KiB, MiB or GiB")),
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("`{s}` is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_need_a_key_and_an_equals_sign() {
        assert_eq!(
            Config::parse_pair("a=b=c"),
            Some(("a".into(), "b=c".into()))
        );
        assert_eq!(Config::parse_pair("a="), Some(("a".into(), String::new())));
        assert_eq!(Config::parse_pair("=b"), None);
        assert_eq!(Config::parse_pair("ab"), None);
    }
}
