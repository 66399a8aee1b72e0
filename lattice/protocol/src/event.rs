//! Lattice events: CloudEvents 1.0 in structured JSON mode, one NATS message
//! each on `wasmbus.evt.{lattice}.{name}` (see [`crate::Subjects::event`]).

use cloudevents::{AttributesReader, EventBuilder, EventBuilderV10};
use serde::Serialize;

pub use cloudevents::Event;

/// The type prefix of every event: the type is `{prefix}.{name}`.
pub const TYPE_PREFIX: &str = "com.wasmcloud.lattice";

/// Every event a host publishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventName {
    /// The host joined the lattice.
    HostStarted,
    /// Periodic, with the full inventory as data.
    HostHeartbeat,
    /// The host left the lattice.
    HostStopped,
    /// A component was started, scaled or stopped (max_instances 0).
    ComponentScaled,
    /// A scale command failed.
    ComponentScaleFailed,
    /// A provider started.
    ProviderStarted,
    /// A provider failed to start.
    ProviderStartFailed,
    /// A provider stopped.
    ProviderStopped,
    /// A provider's health check passed.
    HealthCheckPassed,
    /// A provider's health check failed.
    HealthCheckFailed,
    /// A provider's health status, periodically.
    HealthCheckStatus,
    /// A link was set.
    LinkdefSet,
    /// A link put was refused.
    LinkdefSetFailed,
    /// A link was deleted.
    LinkdefDeleted,
    /// A named config was set.
    ConfigSet,
    /// A named config was deleted.
    ConfigDeleted,
    /// A host's labels changed.
    LabelsChanged,
}

impl EventName {
    /// Every event name, in the order the protocol lists them.
    pub const ALL: [EventName; 17] = [
        Self::HostStarted,
        Self::HostHeartbeat,
        Self::HostStopped,
        Self::ComponentScaled,
        Self::ComponentScaleFailed,
        Self::ProviderStarted,
        Self::ProviderStartFailed,
        Self::ProviderStopped,
        Self::HealthCheckPassed,
        Self::HealthCheckFailed,
        Self::HealthCheckStatus,
        Self::LinkdefSet,
        Self::LinkdefSetFailed,
        Self::LinkdefDeleted,
        Self::ConfigSet,
        Self::ConfigDeleted,
        Self::LabelsChanged,
    ];

    /// The name as it appears in subjects and types (`host_heartbeat`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::HostStarted => "host_started",
            Self::HostHeartbeat => "host_heartbeat",
            Self::HostStopped => "host_stopped",
            Self::ComponentScaled => "component_scaled",
            Self::ComponentScaleFailed => "component_scale_failed",
            Self::ProviderStarted => "provider_started",
            Self::ProviderStartFailed => "provider_start_failed",
            Self::ProviderStopped => "provider_stopped",
            Self::HealthCheckPassed => "health_check_passed",
            Self::HealthCheckFailed => "health_check_failed",
            Self::HealthCheckStatus => "health_check_status",
            Self::LinkdefSet => "linkdef_set",
            Self::LinkdefSetFailed => "linkdef_set_failed",
            Self::LinkdefDeleted => "linkdef_deleted",
            Self::ConfigSet => "config_set",
            Self::ConfigDeleted => "config_deleted",
            Self::LabelsChanged => "labels_changed",
        }
    }

    /// The event's CloudEvents type, `com.wasmcloud.lattice.{name}`.
    pub fn event_type(self) -> String {
        format!("{TYPE_PREFIX}.{}", self.as_str())
    }

    /// The name of an event of CloudEvents type `ty`, if it is one of ours.
    pub fn from_type(ty: &str) -> Option<Self> {
        let name = ty.strip_prefix(TYPE_PREFIX)?.strip_prefix('.')?;
        Self::ALL.into_iter().find(|n| n.as_str() == name)
    }
}

/// Why an event could not be built or read.
#[derive(Debug, thiserror::Error)]
pub enum EventError {
    /// The data did not serialize to JSON.
    #[error("event data is not JSON-serializable: {0}")]
    Data(#[from] serde_json::Error),
    /// The CloudEvents builder refused the attributes.
    #[error("invalid CloudEvent: {0}")]
    Build(#[from] cloudevents::event::EventBuilderError),
}

/// Builds the event `name` from host `host_id` with `data`: a fresh unique
/// id, the current time, `datacontenttype: application/json`.
pub fn build(name: EventName, host_id: &str, data: &impl Serialize) -> Result<Event, EventError> {
    let data = serde_json::to_value(data)?;
    Ok(EventBuilderV10::new()
        .id(uuid::Uuid::new_v4().to_string())
        .ty(name.event_type())
        .source(host_id.to_owned())
        .time(chrono::Utc::now())
        .data("application/json", data)
        .build()?)
}

/// The bytes of the NATS message carrying `event` (structured-mode JSON).
pub fn encode(event: &Event) -> Result<Vec<u8>, EventError> {
    Ok(serde_json::to_vec(event)?)
}

/// Reads an event from a NATS message body; `None` for its name if the type
/// is not one of ours.
pub fn decode(bytes: &[u8]) -> Result<(Option<EventName>, Event), EventError> {
    let event: Event = serde_json::from_slice(bytes)?;
    Ok((EventName::from_type(event.ty()), event))
}

/// An event of ours as read from the lattice: who sent it, when, and what
/// it says, typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// The host that sent it (the CloudEvent's `source`).
    pub source: String,
    /// When (RFC 3339), as the sender said.
    pub time: Option<String>,
    /// The event.
    pub event: crate::payload::LatticeEvent,
}

/// Reads a NATS message body as one of our events; `None` when its type is
/// not one of ours, an error when it is but its data does not fit.
pub fn receive(bytes: &[u8]) -> Result<Option<Received>, EventError> {
    let raw: serde_json::Value = serde_json::from_slice(bytes)?;
    let Some(name) = raw["type"].as_str().and_then(EventName::from_type) else {
        return Ok(None);
    };
    // No data (or null) is an empty object: events whose fields all have
    // defaults still decode.
    let data = match raw.get("data") {
        None | Some(serde_json::Value::Null) => serde_json::json!({}),
        Some(data) => data.clone(),
    };
    Ok(Some(Received {
        source: raw["source"].as_str().unwrap_or_default().to_owned(),
        time: raw["time"].as_str().map(str::to_owned),
        event: crate::payload::LatticeEvent::from_data(name, data)?,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use cloudevents::AttributesReader;

    #[test]
    fn events_carry_the_documented_attributes() {
        let event = build(
            EventName::LabelsChanged,
            "NHOST",
            &serde_json::json!({"host_id": "NHOST", "labels": {"zone": "a"}}),
        )
        .unwrap();
        let json: serde_json::Value = serde_json::from_slice(&encode(&event).unwrap()).unwrap();
        assert_eq!(json["specversion"], "1.0");
        assert_eq!(json["type"], "com.wasmcloud.lattice.labels_changed");
        assert_eq!(json["source"], "NHOST");
        assert_eq!(json["datacontenttype"], "application/json");
        assert_eq!(json["data"]["labels"]["zone"], "a");
        assert!(json["id"].as_str().is_some_and(|id| !id.is_empty()));
        let time = json["time"].as_str().unwrap();
        assert!(chrono::DateTime::parse_from_rfc3339(time).is_ok(), "{time}");
    }

    #[test]
    fn ids_are_unique_and_events_decode() {
        let a = build(EventName::HostStarted, "N1", &()).unwrap();
        let b = build(EventName::HostStarted, "N1", &()).unwrap();
        assert_ne!(a.id(), b.id());
        let (name, back) = decode(&encode(&a).unwrap()).unwrap();
        assert_eq!(name, Some(EventName::HostStarted));
        assert_eq!(back.id(), a.id());
    }

    #[test]
    fn every_name_maps_to_its_type_and_back() {
        for name in EventName::ALL {
            assert_eq!(EventName::from_type(&name.event_type()), Some(name));
        }
        assert_eq!(EventName::from_type("com.example.other"), None);
    }
}
