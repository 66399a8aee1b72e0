//! Field checks for values that become NATS subject tokens or KV keys.
//!
//! Every value here comes from a client on the network, so each check names
//! the field it rejects and says what a valid value looks like.

/// A field that failed validation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {field}: {reason}")]
pub struct Invalid {
    /// Which field, as the wire names it (`source_id`, `config name`, …).
    pub field: String,
    /// What is wrong with it.
    pub reason: String,
}

impl Invalid {
    /// A failure of `field` for `reason`.
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

/// The longest token accepted; NATS has no hard limit, but subjects of
/// unbounded length from the network are a way to waste memory.
pub const MAX_TOKEN_LEN: usize = 256;

/// Checks that `value` can be one NATS subject token: non-empty, at most
/// [`MAX_TOKEN_LEN`] bytes, no whitespace or control characters, and none of
/// `.`, `*`, `>`.
pub fn token(field: &str, value: &str) -> Result<(), Invalid> {
    if value.is_empty() {
        return Err(Invalid::new(field, "must not be empty"));
    }
    if value.len() > MAX_TOKEN_LEN {
        return Err(Invalid::new(
            field,
            format!(
                "is {} bytes; at most {MAX_TOKEN_LEN} are allowed",
                value.len()
            ),
        ));
    }
    if let Some(c) = value
        .chars()
        .find(|c| c.is_whitespace() || c.is_control() || matches!(c, '.' | '*' | '>'))
    {
        return Err(Invalid::new(
            field,
            format!(
                "`{}` contains {c:?}; use letters, digits, `-` or `_` (no spaces, `.`, `*` or `>`)",
                value.escape_debug()
            ),
        ));
    }
    Ok(())
}

/// Checks a list of names: each a valid token, none repeated.
pub fn names(field: &str, values: &[String]) -> Result<(), Invalid> {
    for (i, v) in values.iter().enumerate() {
        token(field, v)?;
        if values[..i].contains(v) {
            return Err(Invalid::new(field, format!("lists `{v}` twice")));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_follow_nats_rules() {
        for good in ["default", "listen-8080", "NABC123", "a_b", "ünïcode"] {
            assert!(token("f", good).is_ok(), "{good}");
        }
        for bad in ["", "a.b", "a*", ">", "a b", "tab\t", "nl\n", "\u{7}"] {
            let e = token("config name", bad).unwrap_err();
            assert_eq!(e.field, "config name", "{bad}");
        }
        assert!(token("f", &"x".repeat(MAX_TOKEN_LEN)).is_ok());
        assert!(token("f", &"x".repeat(MAX_TOKEN_LEN + 1)).is_err());
    }

    #[test]
    fn name_lists_reject_duplicates_and_bad_tokens() {
        let list = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(names("source_config", &list(&["a", "b"])).is_ok());
        assert!(names("source_config", &list(&[])).is_ok());
        let e = names("source_config", &list(&["a", "a"])).unwrap_err();
        assert!(e.reason.contains("twice"), "{e}");
        assert!(names("target_config", &list(&["a", "b.c"])).is_err());
    }
}
