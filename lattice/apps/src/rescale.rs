//! Scaling a component an app manages: the reconciler would undo a direct
//! scale, so the app gets a new version whose scaler says the new count.
//! `v1.2.0` scaled to 4 is `v1.2.0-x4` (a version scaled before loses its
//! old suffix), so scaling back to a count seen before names the version
//! that has it already.

use crate::manifest::{Manifest, Trait};
use crate::store::generated_version;

/// Why a component cannot be scaled through its app.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RescaleError {
    /// The app declares no component with that id.
    #[error("app `{app}` declares no component `{id}`")]
    NoComponent {
        /// The app.
        app: String,
        /// The component id asked for.
        id: String,
    },
    /// The component has no scaler trait to change.
    #[error("component `{id}` of app `{app}` has no scaler to change; edit the manifest")]
    NoScaler {
        /// The app.
        app: String,
        /// The component id.
        id: String,
    },
}

/// `manifest` (the app's deployed version, `deployed`, or its latest) with
/// component `id` scaled to `instances`, under its new version.
pub fn rescaled(
    mut manifest: Manifest,
    deployed: Option<&str>,
    id: &str,
    instances: u32,
) -> Result<Manifest, RescaleError> {
    let app = manifest.name().to_owned();
    let name = manifest
        .spec
        .components
        .iter()
        .find(|c| manifest.id_of(c) == id)
        .map(|c| c.name.clone())
        .ok_or_else(|| RescaleError::NoComponent {
            app: app.clone(),
            id: id.to_owned(),
        })?;
    let mut changed = false;
    let scalers = manifest
        .spec
        .components
        .iter_mut()
        .filter(|c| c.name == name)
        .flat_map(|c| c.traits.iter_mut());
    for t in scalers {
        if let Trait::Spreadscaler(s) | Trait::Daemonscaler(s) = t {
            s.instances = instances;
            changed = true;
        }
    }
    if !changed {
        return Err(RescaleError::NoScaler {
            app,
            id: id.to_owned(),
        });
    }
    let base = deployed
        .or(manifest.version())
        .map_or_else(generated_version, str::to_owned);
    let base = match base.rsplit_once("-x") {
        Some((b, n)) if !n.is_empty() && n.bytes().all(|c| c.is_ascii_digit()) => b.to_owned(),
        _ => base,
    };
    manifest
        .metadata
        .annotations
        .insert("version".into(), format!("{base}-x{instances}"));
    Ok(manifest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::parse;

    const APP: &str = "apiVersion: core.oam.dev/v1beta1\nkind: Application\n\
        metadata: {name: shop, annotations: {version: v1.2.0}}\nspec:\n  components:\n\
        \x20   - name: web\n      type: component\n      properties: {image: 'oci://r/web:1', id: shop-web}\n\
        \x20     traits:\n        - {type: spreadscaler, properties: {instances: 2}}\n\
        \x20   - name: kv\n      type: capability\n      properties: {image: 'builtin:keyvalue-memory'}\n";

    #[test]
    fn a_scale_is_a_new_version_named_after_the_count() {
        let m = parse(APP).unwrap();
        let x4 = rescaled(m, None, "shop-web", 4).unwrap();
        assert_eq!(x4.version(), Some("v1.2.0-x4"));
        let x3 = rescaled(x4, Some("v1.2.0-x4"), "shop-web", 3).unwrap();
        assert_eq!(x3.version(), Some("v1.2.0-x3"));
        let Trait::Spreadscaler(s) = &x3.spec.components[0].traits[0] else {
            panic!("not a spreadscaler");
        };
        assert_eq!(s.instances, 3);
    }

    #[test]
    fn a_component_without_a_scaler_or_unknown_is_refused() {
        let m = parse(APP).unwrap();
        let kv = m.id_of(&m.spec.components[1]);
        assert!(matches!(
            rescaled(m.clone(), None, &kv, 2),
            Err(RescaleError::NoScaler { .. })
        ));
        assert!(matches!(
            rescaled(m, None, "nope", 2),
            Err(RescaleError::NoComponent { .. })
        ));
    }
}
