//! Which buckets a component may open through a keyvalue link, and what
//! the provider calls them. A link grants buckets in its target config:
//! `buckets=orders,carts` (or wasmCloud's `bucket=orders`) lets the
//! component open exactly those, under their own names, so components
//! whose links name the same bucket share it; a link that names one
//! bucket also maps the default bucket (`""`, `default`) onto it, as
//! wasmCloud's link config `bucket` does. Without either, the component
//! has a namespace of its own: its bucket `b` is `<component id>/b` in the
//! provider (both parts with `%` and `/` escaped), so two apps on one Redis or NATS KV provider never read each
//! other's keys.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;
use weft_capability::keyvalue::{DEFAULT_BUCKET, Error};

/// `part` with `%` and `/` escaped, so the first `/` of a namespaced bucket
/// always ends the component's id: component `a` opening `b/default` is
/// never component `a/b`'s `default`.
fn escape(part: &str) -> Cow<'_, str> {
    if part.contains(['%', '/']) {
        Cow::Owned(part.replace('%', "%25").replace('/', "%2F"))
    } else {
        Cow::Borrowed(part)
    }
}

/// A keyvalue link's reach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Scope {
    /// The component's own namespace (its id).
    Own(Arc<str>),
    /// Only these buckets, by name.
    Granted(Arc<[String]>),
}

impl Scope {
    /// The scope of `component`'s link with `target_config`.
    pub(crate) fn of_link(component: &str, target_config: &BTreeMap<String, String>) -> Self {
        let granted: Vec<String> = ["buckets", "bucket"]
            .iter()
            .filter_map(|k| target_config.get(*k))
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|b| !b.is_empty())
            .map(str::to_owned)
            .collect();
        if granted.is_empty() {
            Self::Own(component.into())
        } else {
            Self::Granted(granted.into())
        }
    }

    /// The provider's name for the guest's bucket `bucket` (already
    /// normalised: `default` for `""`), or why the guest may not open it.
    pub(crate) fn bucket<'a>(&'a self, bucket: &'a str) -> Result<Cow<'a, str>, Error> {
        match self {
            Self::Own(component) => Ok(Cow::Owned(format!(
                "{}/{}",
                escape(component),
                escape(bucket)
            ))),
            Self::Granted(names) => {
                if names.iter().any(|n| n == bucket) {
                    Ok(Cow::Borrowed(bucket))
                } else if let [only] = &names[..]
                    && bucket == DEFAULT_BUCKET
                {
                    Ok(Cow::Borrowed(only.as_str()))
                } else {
                    Err(Error::Other(format!(
                        "bucket `{bucket}` is not one this component's keyvalue link grants \
                         ({}); name it in the link's target config `buckets`",
                        names.join(", ")
                    )))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn without_grants_a_component_has_a_namespace_of_its_own() {
        let a = Scope::of_link("app-a", &config(&[]));
        let b = Scope::of_link("app-b", &config(&[]));
        assert_eq!(a.bucket("default").unwrap(), "app-a/default");
        assert_ne!(a.bucket("x").unwrap(), b.bucket("x").unwrap());
        // A guest's bucket name cannot climb out of the namespace, nor
        // into the namespace of a component whose id has a `/`.
        assert_eq!(a.bucket("../app-b/x").unwrap(), "app-a/..%2Fapp-b%2Fx");
        let nested = Scope::of_link("app-a/b", &config(&[]));
        assert_ne!(
            a.bucket("b/default").unwrap(),
            nested.bucket("default").unwrap()
        );
        assert_eq!(nested.bucket("default").unwrap(), "app-a%2Fb/default");
    }

    #[test]
    fn granted_buckets_only_and_the_default_maps_onto_a_single_one() {
        let s = Scope::of_link("app", &config(&[("buckets", "orders, carts")]));
        assert_eq!(s.bucket("orders").unwrap(), "orders");
        assert!(s.bucket("other").is_err());
        assert!(s.bucket("default").is_err());
        let one = Scope::of_link("app", &config(&[("bucket", "orders")]));
        assert_eq!(one.bucket("default").unwrap(), "orders");
        assert_eq!(one.bucket("orders").unwrap(), "orders");
    }
}
