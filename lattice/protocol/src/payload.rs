//! Every lattice event's data as a Rust type: hosts produce them, and the
//! spy, the reconciler, the dashboard and clients read them, from these
//! same types. Field names are wasmCloud's (`docs/protocol.md`); Weft's
//! additions are optional, so wasmCloud's events decode too.

use crate::event::EventName;
use crate::wire::{DeleteLink, HostInventory, Link, StringMap};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `host_started`: a host joined.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct HostStarted {
    /// Its labels.
    #[serde(default)]
    pub labels: StringMap,
    /// Its name for people.
    #[serde(default)]
    pub friendly_name: String,
    /// Its software version.
    #[serde(default)]
    pub version: String,
    /// Seconds since it started.
    #[serde(default)]
    pub uptime_seconds: u64,
}

/// `host_stopped`: a host left.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct HostStopped {
    /// Its labels.
    #[serde(default)]
    pub labels: StringMap,
    /// Why (`signal`, `host.stop request`).
    #[serde(default)]
    pub reason: String,
}

/// `host_heartbeat`: the host's whole inventory, and (Weft) the interval
/// it beats at, so a reconciler knows when a beat is missed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Heartbeat {
    /// What the host runs.
    #[serde(flatten)]
    pub inventory: HostInventory,
    /// Milliseconds between beats (absent from wasmCloud's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heartbeat_interval_ms: Option<u64>,
}

/// `component_scaled` (also an update) and `component_scale_failed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ComponentScaled {
    /// The component.
    pub component_id: String,
    /// Its image.
    #[serde(default)]
    pub image_ref: String,
    /// The host.
    pub host_id: String,
    /// Its instance limit now (0: stopped).
    #[serde(default)]
    pub max_instances: u32,
    /// Its annotations.
    #[serde(default)]
    pub annotations: StringMap,
    /// The digest of its bytes, once it runs (Weft).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// Why it failed (`component_scale_failed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// `provider_started` and `provider_start_failed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ProviderStarted {
    /// The instance.
    pub provider_id: String,
    /// Its kind.
    #[serde(default)]
    pub provider_ref: String,
    /// The host.
    pub host_id: String,
    /// Its annotations.
    #[serde(default)]
    pub annotations: StringMap,
    /// Why it failed (`provider_start_failed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// `provider_stopped`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ProviderStopped {
    /// The instance.
    pub provider_id: String,
    /// The host.
    pub host_id: String,
}

/// `health_check_passed`, `health_check_failed`, `health_check_status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Health {
    /// The provider instance.
    pub provider_id: String,
    /// The host.
    pub host_id: String,
    /// Whether its backend answers.
    pub healthy: bool,
    /// Why not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// `linkdef_set_failed`: the link, and why it was refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkRefused {
    /// The link as put.
    #[serde(flatten)]
    pub link: Link,
    /// Why.
    pub message: String,
}

/// `config_set` and `config_deleted`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ConfigChanged {
    /// The named config.
    pub config_name: String,
}

/// `labels_changed`: a host's labels, all of them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct LabelsChanged {
    /// The host.
    pub host_id: String,
    /// Its labels now.
    #[serde(default)]
    pub labels: StringMap,
}

/// A lattice event: its name and its data, typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LatticeEvent {
    /// `host_started`.
    HostStarted(HostStarted),
    /// `host_heartbeat`.
    HostHeartbeat(Box<Heartbeat>),
    /// `host_stopped`.
    HostStopped(HostStopped),
    /// `component_scaled`.
    ComponentScaled(ComponentScaled),
    /// `component_scale_failed`.
    ComponentScaleFailed(ComponentScaled),
    /// `provider_started`.
    ProviderStarted(ProviderStarted),
    /// `provider_start_failed`.
    ProviderStartFailed(ProviderStarted),
    /// `provider_stopped`.
    ProviderStopped(ProviderStopped),
    /// `health_check_passed`.
    HealthCheckPassed(Health),
    /// `health_check_failed`.
    HealthCheckFailed(Health),
    /// `health_check_status`.
    HealthCheckStatus(Health),
    /// `linkdef_set`.
    LinkdefSet(Link),
    /// `linkdef_set_failed`.
    LinkdefSetFailed(LinkRefused),
    /// `linkdef_deleted`.
    LinkdefDeleted(DeleteLink),
    /// `config_set`.
    ConfigSet(ConfigChanged),
    /// `config_deleted`.
    ConfigDeleted(ConfigChanged),
    /// `labels_changed`.
    LabelsChanged(LabelsChanged),
}

/// Calls `$m!(Variant)` for every variant, to write each match once.
macro_rules! each {
    ($self:expr, $v:ident => $body:expr) => {
        match $self {
            LatticeEvent::HostStarted($v) => $body,
            LatticeEvent::HostHeartbeat($v) => $body,
            LatticeEvent::HostStopped($v) => $body,
            LatticeEvent::ComponentScaled($v) => $body,
            LatticeEvent::ComponentScaleFailed($v) => $body,
            LatticeEvent::ProviderStarted($v) => $body,
            LatticeEvent::ProviderStartFailed($v) => $body,
            LatticeEvent::ProviderStopped($v) => $body,
            LatticeEvent::HealthCheckPassed($v) => $body,
            LatticeEvent::HealthCheckFailed($v) => $body,
            LatticeEvent::HealthCheckStatus($v) => $body,
            LatticeEvent::LinkdefSet($v) => $body,
            LatticeEvent::LinkdefSetFailed($v) => $body,
            LatticeEvent::LinkdefDeleted($v) => $body,
            LatticeEvent::ConfigSet($v) => $body,
            LatticeEvent::ConfigDeleted($v) => $body,
            LatticeEvent::LabelsChanged($v) => $body,
        }
    };
}

impl LatticeEvent {
    /// Its name.
    pub fn name(&self) -> EventName {
        match self {
            Self::HostStarted(_) => EventName::HostStarted,
            Self::HostHeartbeat(_) => EventName::HostHeartbeat,
            Self::HostStopped(_) => EventName::HostStopped,
            Self::ComponentScaled(_) => EventName::ComponentScaled,
            Self::ComponentScaleFailed(_) => EventName::ComponentScaleFailed,
            Self::ProviderStarted(_) => EventName::ProviderStarted,
            Self::ProviderStartFailed(_) => EventName::ProviderStartFailed,
            Self::ProviderStopped(_) => EventName::ProviderStopped,
            Self::HealthCheckPassed(_) => EventName::HealthCheckPassed,
            Self::HealthCheckFailed(_) => EventName::HealthCheckFailed,
            Self::HealthCheckStatus(_) => EventName::HealthCheckStatus,
            Self::LinkdefSet(_) => EventName::LinkdefSet,
            Self::LinkdefSetFailed(_) => EventName::LinkdefSetFailed,
            Self::LinkdefDeleted(_) => EventName::LinkdefDeleted,
            Self::ConfigSet(_) => EventName::ConfigSet,
            Self::ConfigDeleted(_) => EventName::ConfigDeleted,
            Self::LabelsChanged(_) => EventName::LabelsChanged,
        }
    }

    /// Its data as JSON.
    pub fn data(&self) -> Result<Value, serde_json::Error> {
        each!(self, d => serde_json::to_value(d))
    }

    /// The event `name` with `data`, read into its type.
    pub fn from_data(name: EventName, data: Value) -> Result<Self, serde_json::Error> {
        use serde_json::from_value as v;
        Ok(match name {
            EventName::HostStarted => Self::HostStarted(v(data)?),
            EventName::HostHeartbeat => Self::HostHeartbeat(Box::new(v(data)?)),
            EventName::HostStopped => Self::HostStopped(v(data)?),
            EventName::ComponentScaled => Self::ComponentScaled(v(data)?),
            EventName::ComponentScaleFailed => Self::ComponentScaleFailed(v(data)?),
            EventName::ProviderStarted => Self::ProviderStarted(v(data)?),
            EventName::ProviderStartFailed => Self::ProviderStartFailed(v(data)?),
            EventName::ProviderStopped => Self::ProviderStopped(v(data)?),
            EventName::HealthCheckPassed => Self::HealthCheckPassed(v(data)?),
            EventName::HealthCheckFailed => Self::HealthCheckFailed(v(data)?),
            EventName::HealthCheckStatus => Self::HealthCheckStatus(v(data)?),
            EventName::LinkdefSet => Self::LinkdefSet(v(data)?),
            EventName::LinkdefSetFailed => Self::LinkdefSetFailed(v(data)?),
            EventName::LinkdefDeleted => Self::LinkdefDeleted(v(data)?),
            EventName::ConfigSet => Self::ConfigSet(v(data)?),
            EventName::ConfigDeleted => Self::ConfigDeleted(v(data)?),
            EventName::LabelsChanged => Self::LabelsChanged(v(data)?),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{build, encode, receive};

    fn link() -> Link {
        serde_json::from_value(serde_json::json!({
            "source_id": "app", "target": "kv", "name": "default",
            "wit_namespace": "wasi", "wit_package": "keyvalue", "interfaces": ["store"],
        }))
        .unwrap()
    }

    #[test]
    fn every_event_goes_out_and_comes_back_as_it_was() {
        let scaled = ComponentScaled {
            component_id: "app".into(),
            host_id: "NHOST".into(),
            max_instances: 3,
            digest: Some("sha256:00".into()),
            ..ComponentScaled::default()
        };
        let provider = ProviderStarted {
            provider_id: "kv".into(),
            host_id: "NHOST".into(),
            ..ProviderStarted::default()
        };
        let health = Health {
            provider_id: "kv".into(),
            host_id: "NHOST".into(),
            healthy: false,
            message: Some("down".into()),
        };
        let config = ConfigChanged {
            config_name: "c".into(),
        };
        let inventory: HostInventory = serde_json::from_value(serde_json::json!({
            "host_id": "NHOST", "friendly_name": "f", "version": "v", "uptime_seconds": 1,
            "uptime_human": "1s", "labels": {}, "components": [], "providers": [],
        }))
        .unwrap();
        let events = [
            LatticeEvent::HostStarted(HostStarted::default()),
            LatticeEvent::HostHeartbeat(Box::new(Heartbeat {
                inventory,
                heartbeat_interval_ms: Some(1000),
            })),
            LatticeEvent::HostStopped(HostStopped::default()),
            LatticeEvent::ComponentScaled(scaled.clone()),
            LatticeEvent::ComponentScaleFailed(scaled),
            LatticeEvent::ProviderStarted(provider.clone()),
            LatticeEvent::ProviderStartFailed(provider),
            LatticeEvent::ProviderStopped(ProviderStopped::default()),
            LatticeEvent::HealthCheckPassed(health.clone()),
            LatticeEvent::HealthCheckFailed(health.clone()),
            LatticeEvent::HealthCheckStatus(health),
            LatticeEvent::LinkdefSet(link()),
            LatticeEvent::LinkdefSetFailed(LinkRefused {
                link: link(),
                message: "no".into(),
            }),
            LatticeEvent::LinkdefDeleted(DeleteLink {
                source_id: "app".into(),
                name: "default".into(),
                wit_namespace: "wasi".into(),
                wit_package: "keyvalue".into(),
            }),
            LatticeEvent::ConfigSet(config.clone()),
            LatticeEvent::ConfigDeleted(config),
            LatticeEvent::LabelsChanged(LabelsChanged::default()),
        ];
        assert_eq!(events.len(), EventName::ALL.len());
        for event in events {
            let built = build(event.name(), "NHOST", &event.data().unwrap()).unwrap();
            let back = receive(&encode(&built).unwrap()).unwrap().unwrap();
            assert_eq!(back.source, "NHOST");
            assert_eq!(back.event, event);
        }
    }

    #[test]
    fn wasmclouds_events_decode_and_other_types_are_not_ours() {
        let theirs = serde_json::json!({
            "specversion": "1.0", "id": "1", "source": "NHOST",
            "type": "com.wasmcloud.lattice.component_scaled",
            "data": {"component_id": "c", "host_id": "NHOST", "image_ref": "r", "max_instances": 2,
                     "annotations": {}, "claims": null, "public_key": ""},
        });
        let got = receive(theirs.to_string().as_bytes()).unwrap().unwrap();
        let LatticeEvent::ComponentScaled(c) = got.event else {
            panic!("{got:?}");
        };
        assert_eq!((c.max_instances, c.digest), (2, None));
        let other = serde_json::json!({"type": "com.example.thing", "data": {}});
        assert!(receive(other.to_string().as_bytes()).unwrap().is_none());
        // Data that is all defaults may be left out.
        for (ty, data) in [
            ("host_stopped", serde_json::Value::Null),
            ("labels_changed", serde_json::json!({"host_id": "NHOST"})),
        ] {
            let ty = format!("com.wasmcloud.lattice.{ty}");
            let event = serde_json::json!({"type": ty, "source": "NHOST", "data": data});
            assert!(
                receive(event.to_string().as_bytes()).unwrap().is_some(),
                "{ty}"
            );
        }
        let misshapen =
            serde_json::json!({"type": "com.wasmcloud.lattice.provider_stopped", "data": {}});
        assert!(receive(misshapen.to_string().as_bytes()).is_err());
    }
}
