//! What a manifest must satisfy beyond its shape, each failure naming the
//! path of the field (`spec.components[2].traits[0].properties.spread[1].weight`).

use crate::Invalid;
use crate::manifest::{
    API_VERSION, Component, ComponentType, ConfigProperty, KIND, LinkTrait, Manifest, Scaler, Trait,
};
use std::collections::{BTreeMap, BTreeSet};
use weft_capability::builtin::Builtin;
use weft_lattice_protocol::validate::token;

/// The builtin provider a capability image names, or `None`: a builtin
/// reference (`builtin:NAME`, `wasmcloud+builtin://NAME`) or one of
/// wasmCloud's own provider images (`ghcr.io/wasmcloud/http-server:0.23.0`,
/// `wasmcloud.azurecr.io/keyvalue-redis:…`), so manifests written for
/// wasmCloud deploy unchanged.
pub fn provider_ref(image: &str) -> Option<String> {
    if Builtin::is_builtin_reference(image) {
        return Builtin::parse(image).map(|kind| kind.reference().to_owned());
    }
    let bare = image.strip_prefix("oci://").unwrap_or(image);
    let (path, _tag) = bare.rsplit_once(':').unwrap_or((bare, ""));
    let repo = path.rsplit('/').next().unwrap_or(path);
    // wasmCloud publishes no in-memory keyvalue provider.
    let kind = Builtin::from_name(repo).filter(|k| *k != Builtin::KeyValueMemory)?;
    path.contains("wasmcloud")
        .then(|| kind.reference().to_owned())
}

fn check_configs(configs: &[ConfigProperty], path: &str, errors: &mut Vec<Invalid>) {
    for (i, c) in configs.iter().enumerate() {
        if let Err(e) = token("name", &c.name) {
            errors.push(Invalid::new(format!("{path}[{i}].name"), e.reason));
        }
        if let Some(props) = &c.properties
            && props.keys().any(String::is_empty)
        {
            errors.push(Invalid::new(
                format!("{path}[{i}].properties"),
                "has an empty key",
            ));
        }
    }
}

fn check_scaler(scaler: &Scaler, path: &str, errors: &mut Vec<Invalid>) {
    if scaler.instances == 0 {
        errors.push(Invalid::new(format!("{path}.instances"), "must be > 0"));
    }
    let mut names = BTreeSet::new();
    for (i, spread) in scaler.spread.iter().enumerate() {
        let at = format!("{path}.spread[{i}]");
        if spread.name.is_empty() {
            errors.push(Invalid::new(format!("{at}.name"), "must not be empty"));
        } else if !names.insert(spread.name.as_str()) {
            errors.push(Invalid::new(
                format!("{at}.name"),
                format!("`{}` is used twice", spread.name),
            ));
        }
        if spread.weight == Some(0) {
            errors.push(Invalid::new(format!("{at}.weight"), "must be > 0"));
        }
        for (k, v) in &spread.requirements {
            if k.is_empty() || v.is_empty() {
                errors.push(Invalid::new(
                    format!("{at}.requirements"),
                    "keys and values must not be empty",
                ));
            }
        }
    }
}

/// Checks `manifest`; every problem, each with its path.
pub fn validate(manifest: &Manifest) -> Result<(), Vec<Invalid>> {
    let mut check = Checker {
        manifest,
        names: manifest
            .spec
            .components
            .iter()
            .map(|c| c.name.as_str())
            .collect(),
        seen: BTreeSet::new(),
        ids: BTreeSet::new(),
        created: BTreeMap::new(),
        errors: Vec::new(),
    };
    check.header();
    for (i, c) in manifest.spec.components.iter().enumerate() {
        check.component(&format!("spec.components[{i}]"), c);
    }
    if check.errors.is_empty() {
        Ok(())
    } else {
        Err(check.errors)
    }
}

/// A check of one manifest in progress: what it has seen, what is wrong.
struct Checker<'m> {
    manifest: &'m Manifest,
    /// The components' names.
    names: BTreeSet<&'m str>,
    /// Names seen so far (to find one used twice).
    seen: BTreeSet<&'m str>,
    /// Ids seen so far.
    ids: BTreeSet<String>,
    /// Configs the app creates, with their values: one set each.
    created: BTreeMap<String, &'m BTreeMap<String, String>>,
    errors: Vec<Invalid>,
}

impl<'m> Checker<'m> {
    fn error(&mut self, path: impl Into<String>, reason: impl Into<String>) {
        self.errors.push(Invalid::new(path, reason));
    }

    /// apiVersion, kind, name, version, and that there are components.
    fn header(&mut self) {
        let manifest = self.manifest;
        if manifest.api_version != API_VERSION {
            let got = &manifest.api_version;
            self.error(
                "apiVersion",
                format!("must be `{API_VERSION}`, not `{got}`"),
            );
        }
        if manifest.kind != KIND {
            self.error("kind", format!("must be `{KIND}`, not `{}`", manifest.kind));
        }
        if let Err(e) = token("name", &manifest.metadata.name) {
            self.error("metadata.name", e.reason);
        }
        match manifest.version() {
            Some("latest") => self.error(
                "metadata.annotations.version",
                "`latest` is not a version: name it (v1.2.0), or leave it out and one is made up",
            ),
            Some(v) if v.is_empty() || v.contains(char::is_whitespace) => self.error(
                "metadata.annotations.version",
                "must be non-empty, without spaces",
            ),
            _ => {}
        }
        if manifest.spec.components.is_empty() {
            self.error("spec.components", "must list at least one component");
        }
    }

    /// Component `c` (at `at`): name, id, image, configs, traits.
    fn component(&mut self, at: &str, c: &'m Component) {
        if c.name.is_empty() {
            self.error(format!("{at}.name"), "must not be empty");
        } else if !self.seen.insert(c.name.as_str()) {
            self.error(format!("{at}.name"), format!("`{}` is used twice", c.name));
        }
        let id = self.manifest.id_of(c);
        if let Err(e) = token("id", &id) {
            self.error(
                format!("{at}.properties.id"),
                format!("`{id}`: {}", e.reason),
            );
        } else if !self.ids.insert(id.clone()) {
            self.error(
                format!("{at}.properties.id"),
                format!("`{id}` is used twice"),
            );
        }
        if c.properties.application.is_some() {
            self.error(
                format!("{at}.properties.application"),
                "shared components of other apps are not supported; give an image",
            );
        }
        let image_at = format!("{at}.properties.image");
        match (&c.properties.image, c.kind) {
            (None, _) => self.error(image_at, "is required"),
            (Some(image), ComponentType::Capability) if provider_ref(image).is_none() => self
                .error(
                    image_at,
                    format!(
                        "`{image}` is not a provider Weft has; use {} (or the wasmCloud images of those)",
                        Builtin::listed()
                    ),
                ),
            (Some(image), ComponentType::Component) if image.is_empty() => {
                self.error(image_at, "must not be empty");
            }
            _ => {}
        }
        check_configs(
            &c.properties.config,
            &format!("{at}.properties.config"),
            &mut self.errors,
        );
        let mut scalers = 0;
        let mut links = BTreeSet::new();
        for (t, tr) in c.traits.iter().enumerate() {
            let at = format!("{at}.traits[{t}].properties");
            match tr {
                Trait::Spreadscaler(s) | Trait::Daemonscaler(s) => {
                    scalers += 1;
                    if scalers > 1 {
                        self.error(at.clone(), "a component has one scaler at most");
                    }
                    check_scaler(s, &at, &mut self.errors);
                }
                Trait::Link(link) => self.link(&at, link, &mut links),
            }
        }
    }

    /// Link trait `link` (at `at`); `slots` are the component's link slots
    /// so far (name, namespace, package, interface).
    fn link(&mut self, at: &str, link: &'m LinkTrait, slots: &mut BTreeSet<[String; 4]>) {
        let target = link.target.name();
        if !self.names.contains(target) {
            self.error(
                format!("{at}.target"),
                format!("`{target}` is not a component of this app"),
            );
        }
        for (field, value) in [("namespace", &link.namespace), ("package", &link.package)] {
            if let Err(e) = token(field, value) {
                self.error(format!("{at}.{field}"), e.reason);
            }
        }
        if link.interfaces.is_empty() || link.interfaces.iter().any(String::is_empty) {
            self.error(
                format!("{at}.interfaces"),
                "must name at least one interface",
            );
        }
        if let Some(name) = &link.name
            && let Err(e) = token("name", name)
        {
            self.error(format!("{at}.name"), e.reason);
        }
        let name = link.name.as_deref().unwrap_or("default");
        for interface in &link.interfaces {
            let slot = [
                name.to_owned(),
                link.namespace.clone(),
                link.package.clone(),
                interface.clone(),
            ];
            if !slots.insert(slot) {
                self.error(
                    format!("{at}.interfaces"),
                    format!(
                        "{}:{}/{interface} is linked twice under the name `{name}`",
                        link.namespace, link.package
                    ),
                );
            }
        }
        check_configs(
            link.target.config(),
            &format!("{at}.target.config"),
            &mut self.errors,
        );
        let source = link.source.as_ref().map_or(&[][..], |s| &s.config[..]);
        check_configs(source, &format!("{at}.source.config"), &mut self.errors);
        for config in link.target.config().iter().chain(source) {
            if let Some(props) = &config.properties
                && self
                    .created
                    .insert(self.manifest.config_name(config), props)
                    .is_some_and(|p| p != props)
            {
                self.error(
                    at,
                    format!(
                        "config `{}` is given twice with different properties",
                        config.name
                    ),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::parse;

    const GOOD: &str = r#"
apiVersion: core.oam.dev/v1beta1
kind: Application
metadata:
  name: counter
  annotations:
    version: v0.1.0
    description: kv-counter behind HTTP
spec:
  components:
    - name: counter
      type: component
      properties:
        image: oci://localhost:5000/kv-counter:0.1.0
      traits:
        - type: spreadscaler
          properties:
            instances: 4
            spread:
              - name: eu
                requirements: {zone: eu}
                weight: 2
              - name: us
                requirements: {zone: us}
                weight: 1
        - type: link
          properties:
            target: {name: kv, config: [{name: kv-cfg, properties: {}}]}
            namespace: wasi
            package: keyvalue
            interfaces: [store, atomics]
    - name: kv
      type: capability
      properties:
        image: ghcr.io/wasmcloud/keyvalue-redis:0.28.1
        config: [{name: redis-url, properties: {url: "redis://127.0.0.1:6379"}}]
      traits:
        - type: spreadscaler
          properties: {replicas: 1}
    - name: http
      type: capability
      properties:
        image: builtin:http-server
      traits:
        - type: daemonscaler
          properties: {instances: 1}
        - type: link
          properties:
            target: counter
            namespace: wasi
            package: http
            interfaces: [incoming-handler]
            source: {config: [{name: listen, properties: {address: "127.0.0.1:8080"}}]}
"#;

    #[test]
    fn a_wadm_manifest_parses_and_validates() {
        let m = parse(GOOD).unwrap();
        validate(&m).unwrap();
        assert_eq!(m.id_of(&m.spec.components[0]), "counter-counter");
        assert_eq!(crate::manifest::sanitize("My ThInG.wasm"), "my_thing_wasm");
        assert_eq!(m.version(), Some("v0.1.0"));
        assert!(
            matches!(&m.spec.components[1].traits[0], Trait::Spreadscaler(s) if s.instances == 1)
        );
        assert_eq!(
            provider_ref("ghcr.io/wasmcloud/keyvalue-redis:0.28.1").as_deref(),
            Some("builtin:keyvalue-redis")
        );
        assert_eq!(
            provider_ref("wasmcloud+builtin://http-server").as_deref(),
            Some("builtin:http-server")
        );
        assert_eq!(provider_ref("ghcr.io/someone/http-server:1"), None);
        // JSON is YAML too.
        let json = serde_json::to_string(&m).unwrap();
        assert_eq!(parse(&json).unwrap(), m);
    }

    /// `(what is changed, the path the error names)`.
    const BAD: &[(&str, &str, &str)] = &[
        (
            "apiVersion: core.oam.dev/v1beta1",
            "apiVersion: v1",
            "apiVersion",
        ),
        ("kind: Application", "kind: Deployment", "kind"),
        (
            "version: v0.1.0",
            "version: latest",
            "metadata.annotations.version",
        ),
        (
            "name: counter\n  annotations",
            "name: my.app\n  annotations",
            "metadata.name",
        ),
        (
            "weight: 2",
            "weight: 0",
            "spec.components[0].traits[0].properties.spread[0].weight",
        ),
        (
            "- name: us",
            "- name: eu",
            "spec.components[0].traits[0].properties.spread[1].name",
        ),
        (
            "instances: 4",
            "instances: 0",
            "spec.components[0].traits[0].properties.instances",
        ),
        (
            "target: counter",
            "target: nowhere",
            "spec.components[2].traits[1].properties.target",
        ),
        (
            "image: builtin:http-server",
            "image: ghcr.io/acme/web-server:1",
            "spec.components[2].properties.image",
        ),
        ("- name: http\n", "- name: kv\n", "spec.components[2].name"),
        (
            "interfaces: [incoming-handler]",
            "interfaces: []",
            "spec.components[2].traits[1].properties.interfaces",
        ),
        (
            "package: keyvalue",
            "package: key.value",
            "spec.components[0].traits[1].properties.package",
        ),
        (
            "type: daemonscaler\n          properties: {instances: 1}",
            "type: daemonscaler\n          properties: {instances: 1}\n        - type: spreadscaler\n          properties: {instances: 1}",
            "spec.components[2].traits[1].properties",
        ),
    ];

    #[test]
    fn invalid_manifests_name_the_field() {
        for (from, to, path) in BAD {
            assert!(GOOD.contains(from), "fixture lacks {from:?}");
            let text = GOOD.replacen(from, to, 1);
            let errors = match parse(&text) {
                Ok(m) => validate(&m).expect_err(&format!("{to:?} passed")),
                Err(e) => vec![e],
            };
            assert!(
                errors.iter().any(|e| e.path == *path),
                "{to:?}: expected {path}, got {errors:?}"
            );
        }
    }

    #[test]
    fn shape_errors_name_the_path() {
        let unknown = GOOD.replacen("instances: 4", "instances: 4\n            colour: blue", 1);
        let e = parse(&unknown).unwrap_err();
        assert!(e.path.starts_with("spec.components[0].traits[0]"), "{e:?}");
        assert!(e.message.contains("colour"), "{e:?}");
        let bad_type = GOOD.replacen("type: component", "type: widget", 1);
        let e = parse(&bad_type).unwrap_err();
        assert!(e.path.starts_with("spec.components[0]"), "{e:?}");
        let e = parse("apiVersion: [").unwrap_err();
        assert!(!e.message.is_empty());
    }
}
