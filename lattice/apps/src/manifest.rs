//! The app manifest: wadm's OAM format (`core.oam.dev/v1beta1`
//! `Application`), read from YAML or JSON. Unknown fields are refused, and
//! a parse error names the path of the field that is wrong.

use crate::Invalid;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The only `apiVersion` accepted.
pub const API_VERSION: &str = "core.oam.dev/v1beta1";
/// The only `kind` accepted.
pub const KIND: &str = "Application";
/// The annotation that holds the manifest's version.
pub const VERSION_ANNOTATION: &str = "version";
/// The annotation that describes the app.
pub const DESCRIPTION_ANNOTATION: &str = "description";

/// An application.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Manifest {
    /// `core.oam.dev/v1beta1`.
    pub api_version: String,
    /// `Application`.
    pub kind: String,
    /// Name, version and description.
    pub metadata: Metadata,
    /// What the app runs.
    pub spec: Spec,
}

/// The manifest's metadata.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Metadata {
    /// The app's name (a NATS subject token).
    pub name: String,
    /// `version`, `description` and free-form annotations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// Free-form labels.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

/// The app's components.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// Components and capability providers.
    pub components: Vec<Component>,
    /// Policies (accepted for compatibility; Weft applies none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub policies: Vec<serde_json::Value>,
}

/// What a component entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ComponentType {
    /// A WebAssembly component.
    Component,
    /// A capability provider.
    Capability,
}

/// One component or provider of the app.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Component {
    /// Its name within the app (links name their target by it).
    pub name: String,
    /// Component or capability.
    #[serde(rename = "type")]
    pub kind: ComponentType,
    /// Image, id and config.
    pub properties: Properties,
    /// Scalers and links.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub traits: Vec<Trait>,
}

/// A component's properties.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Properties {
    /// Where it comes from: an OCI reference (or `file://` on hosts that
    /// allow it); for capabilities, a builtin provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Another app's shared component (accepted, not supported by Weft).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application: Option<serde_json::Value>,
    /// The lattice id (default: `{app}-{name}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Named configs, created from `properties` when given.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub config: Vec<ConfigProperty>,
    /// Secrets (accepted for compatibility; Weft has no secret store yet).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<serde_json::Value>,
}

/// A named config a component, provider or link uses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigProperty {
    /// The config's name in the lattice.
    pub name: String,
    /// Its values: the app creates the config with them (none: the config
    /// must exist already).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub properties: Option<BTreeMap<String, String>>,
}

/// A trait: how many and where, or a link.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(
    tag = "type",
    content = "properties",
    rename_all = "lowercase",
    deny_unknown_fields
)]
pub enum Trait {
    /// `instances` split across the spreads by weight, and within a spread
    /// across its eligible hosts.
    Spreadscaler(Scaler),
    /// `instances` on every host that matches.
    Daemonscaler(Scaler),
    /// A link from this component to another of the app.
    Link(LinkTrait),
}

/// A scaler's properties.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scaler {
    /// How many instances (components: max concurrent invocations in all;
    /// providers: how many hosts run one).
    #[serde(alias = "replicas")]
    pub instances: u32,
    /// Where: host labels and a weight per spread (none: anywhere).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub spread: Vec<Spread>,
}

/// One spread of a scaler.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spread {
    /// Its name.
    pub name: String,
    /// Labels an eligible host has.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub requirements: BTreeMap<String, String>,
    /// Its share of the instances (default 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<u32>,
}

/// A link trait's properties.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkTrait {
    /// The target component's name (and the configs the target gets).
    pub target: LinkTarget,
    /// WIT namespace (`wasi`).
    pub namespace: String,
    /// WIT package (`keyvalue`).
    pub package: String,
    /// WIT interfaces (`store`, `atomics`).
    pub interfaces: Vec<String>,
    /// The link name (default `default`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The configs the source gets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<LinkEnd>,
}

/// A link's target: a name, or a name with configs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum LinkTarget {
    /// Just the component's name.
    Name(String),
    /// The name and the target's configs.
    Full(LinkTargetFull),
}

/// A link target with configs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkTargetFull {
    /// The component's name.
    pub name: String,
    /// Configs for the target.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub config: Vec<ConfigProperty>,
    /// Secrets (accepted, not supported).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<serde_json::Value>,
}

/// One end's configs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkEnd {
    /// Configs for that end.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub config: Vec<ConfigProperty>,
    /// Secrets (accepted, not supported).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<serde_json::Value>,
}

impl LinkTarget {
    /// The target component's name.
    pub fn name(&self) -> &str {
        match self {
            Self::Name(name) => name,
            Self::Full(full) => &full.name,
        }
    }

    /// The target's configs.
    pub fn config(&self) -> &[ConfigProperty] {
        match self {
            Self::Name(_) => &[],
            Self::Full(full) => &full.config,
        }
    }
}

impl Manifest {
    /// The app's name.
    pub fn name(&self) -> &str {
        &self.metadata.name
    }

    /// The manifest's version annotation, if it has one.
    pub fn version(&self) -> Option<&str> {
        self.metadata
            .annotations
            .get(VERSION_ANNOTATION)
            .map(String::as_str)
    }

    /// The manifest's description annotation.
    pub fn description(&self) -> &str {
        self.metadata
            .annotations
            .get(DESCRIPTION_ANNOTATION)
            .map_or("", String::as_str)
    }

    /// The lattice id of component `c`: its `id`, or `{app}-{name}` with
    /// both lower-cased and anything not alphanumeric made `_` (as wadm
    /// does, so ids stay the same when an app moves over).
    pub fn id_of(&self, c: &Component) -> String {
        c.properties
            .id
            .clone()
            .unwrap_or_else(|| format!("{}-{}", sanitize(&self.metadata.name), sanitize(&c.name)))
    }

    /// The lattice name of a config the app creates (one with properties):
    /// `{app}-{name}`, sanitized as ids are; a config without properties
    /// is the existing one of that name.
    pub fn config_name(&self, config: &ConfigProperty) -> String {
        match config.properties {
            Some(_) => format!(
                "{}-{}",
                sanitize(&self.metadata.name),
                sanitize(&config.name)
            ),
            None => config.name.clone(),
        }
    }

    /// The component called `name`.
    pub fn component(&self, name: &str) -> Option<&Component> {
        self.spec.components.iter().find(|c| c.name == name)
    }
}

/// Lower-case, and `_` for anything not an ASCII letter or digit.
pub fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect()
}

/// Parses a manifest from YAML or JSON; the error names the path of what
/// does not fit (`spec.components[1].traits[0]: unknown variant …`).
pub fn parse(text: &str) -> Result<Manifest, Invalid> {
    let deserializer = serde_yaml::Deserializer::from_str(text);
    serde_path_to_error::deserialize(deserializer).map_err(|e| {
        let path = e.path().to_string();
        let message = e.inner().to_string();
        // serde_yaml appends " at line L column C"; keep it, it helps.
        Invalid::new(if path == "." { "manifest" } else { &path }, message)
    })
}

/// The manifest as YAML (how it is stored and shown).
pub fn to_yaml(manifest: &Manifest) -> String {
    serde_yaml::to_string(manifest).unwrap_or_default()
}
