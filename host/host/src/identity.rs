//! Who a host is: its id, a friendly name, and its labels.

use std::collections::BTreeMap;

/// Label keys under this prefix describe the machine and are set by the host;
/// clients cannot change them.
pub const RESERVED_LABEL_PREFIX: &str = "hostcore.";

/// A new host id in the shape wasmCloud clients know: 56 characters, `N`
/// followed by 55 base32 characters (the shape of an nkey server public key;
/// clients treat it as opaque).
pub fn new_host_id() -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut bits = Vec::with_capacity(4);
    for _ in 0..4 {
        bits.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
    }
    let mut id = String::with_capacity(56);
    id.push('N');
    // 55 symbols of 5 bits each, taken from the random bytes' low bits.
    id.extend(
        bits.iter()
            .take(55)
            .map(|b| char::from(ALPHABET[usize::from(b & 31)])),
    );
    id
}

/// A readable name for logs and dashboards, e.g. `quiet-river-4821`.
pub fn new_friendly_name() -> String {
    const ADJECTIVES: &[&str] = &[
        "quiet", "brisk", "amber", "silver", "gentle", "bold", "misty", "sunny", "lucky", "swift",
        "calm", "bright", "mellow", "rapid", "steady", "lively",
    ];
    const NOUNS: &[&str] = &[
        "river", "meadow", "harbor", "forest", "canyon", "glacier", "island", "summit", "valley",
        "prairie", "lagoon", "ridge", "delta", "orchard", "beacon", "loom",
    ];
    let bytes = uuid::Uuid::new_v4();
    let b = bytes.as_bytes();
    let adjective = ADJECTIVES[usize::from(b[0]) % ADJECTIVES.len()];
    let noun = NOUNS[usize::from(b[1]) % NOUNS.len()];
    let number = u16::from_le_bytes([b[2], b[3]]) % 10_000;
    format!("{adjective}-{noun}-{number}")
}

/// The labels every host carries: `hostcore.os`, `hostcore.arch`,
/// `hostcore.osfamily`.
pub fn machine_labels() -> BTreeMap<String, String> {
    BTreeMap::from([
        ("hostcore.os".to_owned(), std::env::consts::OS.to_owned()),
        (
            "hostcore.arch".to_owned(),
            std::env::consts::ARCH.to_owned(),
        ),
        (
            "hostcore.osfamily".to_owned(),
            std::env::consts::FAMILY.to_owned(),
        ),
    ])
}

/// Why a label change was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LabelError {
    /// The key is empty.
    #[error("a label key must not be empty")]
    EmptyKey,
    /// The key is one the host sets itself.
    #[error(
        "label `{0}` describes the machine and is set by the host; choose a key outside `hostcore.`"
    )]
    Reserved(String),
}

/// Checks a label key a client wants to set or delete.
pub fn check_label_key(key: &str) -> Result<(), LabelError> {
    if key.trim().is_empty() {
        return Err(LabelError::EmptyKey);
    }
    if key.starts_with(RESERVED_LABEL_PREFIX) {
        return Err(LabelError::Reserved(key.to_owned()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_ids_look_like_nkeys_and_differ() {
        let a = new_host_id();
        assert_eq!(a.len(), 56);
        assert!(a.starts_with('N'));
        assert!(
            a.chars()
                .all(|c| c.is_ascii_uppercase() || ('2'..='7').contains(&c))
        );
        assert_ne!(a, new_host_id());
    }

    #[test]
    fn friendly_names_have_three_parts() {
        assert_eq!(new_friendly_name().split('-').count(), 3);
    }

    #[test]
    fn reserved_and_empty_label_keys_are_refused() {
        assert_eq!(check_label_key(""), Err(LabelError::EmptyKey));
        assert!(matches!(
            check_label_key("hostcore.os"),
            Err(LabelError::Reserved(_))
        ));
        assert_eq!(check_label_key("zone"), Ok(()));
        assert!(machine_labels().contains_key("hostcore.arch"));
    }
}
