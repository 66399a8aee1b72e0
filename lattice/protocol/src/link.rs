//! The rules a link must follow, alone and next to the links already set.

use crate::validate::{self, Invalid};
use crate::wire::{DeleteLink, Link};

/// Why a `link.put` was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    /// A field is malformed.
    #[error(transparent)]
    Invalid(#[from] Invalid),
    /// Another link of the same slot already sends one of these interfaces
    /// to a different target.
    #[error(
        "link `{}` from `{}` for {}:{} already sends `{interface}` to `{}`; delete it first or use another link name",
        existing.name, existing.source_id, existing.wit_namespace, existing.wit_package, existing.target
    )]
    Conflict {
        /// The link already set.
        existing: Box<Link>,
        /// An interface both links claim.
        interface: String,
    },
}

impl Link {
    /// Checks every field: ids, name, namespace and package are subject
    /// tokens; at least one interface, none repeated; config names are
    /// tokens, none repeated.
    pub fn validate(&self) -> Result<(), Invalid> {
        validate::token("source_id", &self.source_id)?;
        validate::token("target", &self.target)?;
        validate::token("name", &self.name)?;
        validate::token("wit_namespace", &self.wit_namespace)?;
        validate::token("wit_package", &self.wit_package)?;
        if self.interfaces.is_empty() {
            return Err(Invalid::new(
                "interfaces",
                "must list at least one interface of the package",
            ));
        }
        validate::names("interfaces", &self.interfaces)?;
        validate::names("source_config", &self.source_config)?;
        validate::names("target_config", &self.target_config)?;
        Ok(())
    }

    /// Whether `other` is the same link slot: same source, name, namespace
    /// and package (a put for the same slot and target updates in place).
    pub fn same_slot(&self, other: &Link) -> bool {
        self.source_id == other.source_id
            && self.name == other.name
            && self.wit_namespace == other.wit_namespace
            && self.wit_package == other.wit_package
    }

    /// Whether this link is the one `del` names.
    pub fn matches(&self, del: &DeleteLink) -> bool {
        self.source_id == del.source_id
            && self.name == del.name
            && self.wit_namespace == del.wit_namespace
            && self.wit_package == del.wit_package
    }
}

/// Checks `new` against the links already set, and says which it replaces.
///
/// - a link of the same slot (source, name, namespace, package) and target is
///   updated in place;
/// - a link of the same slot whose interfaces `new` all covers, to another
///   target, is *moved*: `new` replaces it in one step, so calls switch
///   target without a gap;
/// - a link of the same slot sharing only some interfaces with `new`, to
///   another target, is a conflict (calls would split ambiguously), as in
///   wasmCloud.
///
/// Returns the indices of the links `new` replaces.
pub fn check_put(existing: &[Link], new: &Link) -> Result<Vec<usize>, LinkError> {
    new.validate()?;
    let mut replaces = Vec::new();
    for (i, link) in existing.iter().enumerate() {
        if !link.same_slot(new) {
            continue;
        }
        let covered = link.interfaces.iter().all(|i| new.interfaces.contains(i));
        if link.target == new.target || covered {
            replaces.push(i);
            continue;
        }
        if let Some(interface) = link.interfaces.iter().find(|i| new.interfaces.contains(i)) {
            return Err(LinkError::Conflict {
                existing: Box::new(link.clone()),
                interface: interface.clone(),
            });
        }
    }
    Ok(replaces)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(target: &str, interfaces: &[&str]) -> Link {
        Link {
            source_id: "app".into(),
            target: target.into(),
            name: "default".into(),
            wit_namespace: "wasi".into(),
            wit_package: "keyvalue".into(),
            interfaces: interfaces.iter().map(|s| s.to_string()).collect(),
            source_config: vec![],
            target_config: vec![],
        }
    }

    #[test]
    fn same_target_updates_in_place_and_covering_every_interface_moves_it() {
        for (existing, put) in [
            (
                link("cache", &["store"]),
                link("cache", &["store", "atomics"]),
            ),
            (
                link("cache", &["store", "atomics"]),
                link("redis", &["atomics", "store"]),
            ),
        ] {
            assert_eq!(check_put(&[existing], &put), Ok(vec![0]));
        }
    }

    #[test]
    fn partly_overlapping_interface_to_another_target_is_refused() {
        let existing = vec![link("cache", &["store", "atomics"])];
        let err = check_put(&existing, &link("redis", &["atomics"])).unwrap_err();
        assert!(
            matches!(err, LinkError::Conflict { ref interface, .. } if interface == "atomics"),
            "{err}"
        );
    }

    #[test]
    fn other_names_and_disjoint_interfaces_coexist() {
        let existing = vec![link("cache", &["store"])];
        assert_eq!(check_put(&existing, &link("redis", &["batch"])), Ok(vec![]));
        let mut named = link("redis", &["store"]);
        named.name = "sessions".into();
        assert_eq!(check_put(&existing, &named), Ok(vec![]));
    }

    #[test]
    fn malformed_fields_are_named() {
        let mut bad = link("cache", &[]);
        let Err(LinkError::Invalid(e)) = check_put(&[], &bad) else {
            panic!("accepted a link without interfaces");
        };
        assert_eq!(e.field, "interfaces");
        bad = link("ca.che", &["store"]);
        let Err(LinkError::Invalid(e)) = check_put(&[], &bad) else {
            panic!("accepted a dotted target");
        };
        assert_eq!(e.field, "target");
        bad = link("cache", &["store"]);
        bad.source_config = vec!["c".into(), "c".into()];
        let Err(LinkError::Invalid(e)) = check_put(&[], &bad) else {
            panic!("accepted a repeated config");
        };
        assert_eq!(e.field, "source_config");
    }
}
