//! Which images a host agrees to run: from an allow-list of registries
//! (none: any), and, when asked, only by digest (`…@sha256:…`), so a moved
//! tag cannot change what runs. Checked before anything is fetched, and in
//! auctions, so a host that would refuse does not bid.

use crate::scale::ScaleError;

/// A host's policy for OCI references.
#[derive(Debug, Clone, Default)]
pub(crate) struct SupplyPolicy {
    /// Registries (`host[:port]`) images may come from; empty: any.
    pub(crate) registries: Vec<String>,
    /// Refuse references without a digest.
    pub(crate) require_digest: bool,
}

impl SupplyPolicy {
    /// Whether `image_ref` (an `oci://` or bare OCI reference) may run here.
    pub(crate) fn check(&self, image_ref: &str) -> Result<(), ScaleError> {
        if self.registries.is_empty() && !self.require_digest {
            return Ok(());
        }
        let parsed = weft_oci::reference::parse(image_ref)?;
        let registry = parsed.registry();
        if !self.registries.is_empty() && !self.registries.iter().any(|r| r == registry) {
            return Err(ScaleError::RegistryNotAllowed {
                reference: image_ref.to_owned(),
                registry: registry.to_owned(),
                allowed: self.registries.join(", "),
            });
        }
        if self.require_digest && parsed.digest().is_none() {
            return Err(ScaleError::DigestRequired(image_ref.to_owned()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIGEST: &str = "sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae";

    #[test]
    fn no_policy_allows_anything() {
        assert!(
            SupplyPolicy::default()
                .check("oci://anywhere.io/x:1")
                .is_ok()
        );
    }

    #[test]
    fn registries_outside_the_list_are_refused_naming_the_list() {
        let policy = SupplyPolicy {
            registries: vec!["ghcr.io".into(), "127.0.0.1:5000".into()],
            require_digest: false,
        };
        assert!(policy.check("oci://ghcr.io/org/app:1").is_ok());
        assert!(policy.check("127.0.0.1:5000/app:1").is_ok());
        let err = policy
            .check("oci://docker.io/library/app:1")
            .err()
            .map(|e| e.to_string());
        let err = err.unwrap_or_default();
        assert!(
            err.contains("docker.io") && err.contains("ghcr.io, 127.0.0.1:5000"),
            "{err}"
        );
    }

    #[test]
    fn with_digests_required_a_tag_is_refused() {
        let policy = SupplyPolicy {
            registries: vec![],
            require_digest: true,
        };
        assert!(
            policy
                .check(&format!("oci://ghcr.io/org/app@{DIGEST}"))
                .is_ok()
        );
        let err = policy
            .check("oci://ghcr.io/org/app:1")
            .err()
            .map(|e| e.to_string());
        assert!(err.unwrap_or_default().contains("@sha256:"));
    }
}
