//! Image references: `oci://registry/repository:tag`,
//! `oci://registry/repository@sha256:…`, or the same without `oci://`
//! (as wasmCloud clients send them).

use crate::Error;
use oci_client::Reference;

/// Parses a component reference; the registry must be named.
pub fn parse(reference: &str) -> Result<Reference, Error> {
    let bare = reference.strip_prefix("oci://").unwrap_or(reference);
    let bad = |reason: String| Error::BadReference {
        reference: reference.to_owned(),
        reason,
    };
    let first = bare.split('/').next().unwrap_or_default();
    // Without a registry host (`app:1`), the OCI default would be Docker
    // Hub; a component reference must say where it lives.
    if !bare.contains('/') || !(first.contains('.') || first.contains(':') || first == "localhost")
    {
        return Err(bad(
            "name the registry, e.g. oci://localhost:5000/app:1.0 or oci://ghcr.io/org/app:1.0"
                .into(),
        ));
    }
    let parsed: Reference = bare.parse().map_err(|e| bad(format!("{e}")))?;
    if let Some(digest) = parsed.digest() {
        check_digest(digest).map_err(bad)?;
    }
    Ok(parsed)
}

/// `sha256:` and 64 lower-case hex digits.
pub fn check_digest(digest: &str) -> Result<(), String> {
    match digest.strip_prefix("sha256:") {
        Some(hex)
            if hex.len() == 64
                && hex
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) =>
        {
            Ok(())
        }
        _ => Err(format!(
            "`{digest}` is not a sha256 digest (sha256: and 64 hex digits)"
        )),
    }
}

/// The reference as Weft writes it: `oci://` and the whole reference.
pub fn display(reference: &Reference) -> String {
    format!("oci://{}", reference.whole())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_need_a_registry_and_good_digests() {
        let r = parse("oci://localhost:5000/app:1.0").unwrap();
        assert_eq!(
            (r.registry(), r.repository(), r.tag()),
            ("localhost:5000", "app", Some("1.0"))
        );
        let r = parse("ghcr.io/org/app:2").unwrap();
        assert_eq!(r.registry(), "ghcr.io");
        let d = format!("sha256:{}", "a".repeat(64));
        let r = parse(&format!("oci://127.0.0.1:5000/team/app@{d}")).unwrap();
        assert_eq!(r.digest(), Some(d.as_str()));
        assert_eq!(display(&r), format!("oci://127.0.0.1:5000/team/app@{d}"));
        for bad in [
            "oci://app:1",
            "app",
            "oci://localhost:5000/app@sha256:xyz",
            "oci://localhost:5000/App:1",
        ] {
            assert!(
                matches!(parse(bad), Err(Error::BadReference { .. })),
                "{bad}"
            );
        }
    }
}
