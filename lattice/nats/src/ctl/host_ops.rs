//! Operations on the host itself: labels, stopping it, stopping one of its
//! providers, registry credentials.

use super::{Ctx, json};
use crate::convert;
use std::collections::BTreeMap;
use std::time::Duration;
use weft_lattice_protocol::LatticeEvent;
use weft_lattice_protocol::payload::{LabelsChanged, ProviderStopped};
use weft_lattice_protocol::wire::{self, CtlResponse};

impl Ctx {
    pub(super) async fn label_put(&self, label: wire::HostLabel) -> Vec<u8> {
        match self.host.put_label(&label.key, &label.value) {
            Ok(()) => self.labels_changed().await,
            Err(e) => json(&CtlResponse::<()>::error(e.to_string())),
        }
    }

    pub(super) async fn label_del(&self, label: wire::HostLabelKey) -> Vec<u8> {
        match self.host.delete_label(&label.key) {
            Ok(_) => self.labels_changed().await,
            Err(e) => json(&CtlResponse::<()>::error(e.to_string())),
        }
    }

    async fn labels_changed(&self) -> Vec<u8> {
        let data = LabelsChanged {
            host_id: self.host_id.clone(),
            labels: self.host.info().labels,
        };
        self.events
            .publish(&LatticeEvent::LabelsChanged(data))
            .await;
        json(&CtlResponse::ack())
    }

    pub(super) fn host_stop(&self, stop: wire::StopHost) -> Vec<u8> {
        self.host
            .request_stop(stop.timeout.map(Duration::from_millis));
        json(&CtlResponse::ack())
    }

    pub(super) async fn stop_provider(&self, cmd: wire::StopProvider) -> Vec<u8> {
        if !self.host.stop_provider(&cmd.provider_id) {
            return json(&CtlResponse::<()>::error(format!(
                "provider `{}` is not running on this host",
                cmd.provider_id
            )));
        }
        let data = ProviderStopped {
            provider_id: cmd.provider_id,
            host_id: self.host_id.clone(),
        };
        self.events
            .publish(&LatticeEvent::ProviderStopped(data))
            .await;
        json(&CtlResponse::ack())
    }

    pub(super) fn registry_put(
        &self,
        registries: BTreeMap<String, wire::RegistryCredential>,
    ) -> Vec<u8> {
        self.host
            .put_registry_credentials(convert::registry_credentials(registries));
        json(&CtlResponse::ack())
    }
}
