//! Component and provider lifecycle commands: `component.scale`,
//! `component.update`, `provider.start`, each answered once the host has
//! finished, with its event published.

use super::{Ctx, json};
use crate::convert;
use weft_lattice_protocol::LatticeEvent;
use weft_lattice_protocol::payload::{ComponentScaled, ProviderStarted};
use weft_lattice_protocol::wire::{self, CtlResponse};

impl Ctx {
    /// `sha256:…` of the component running as `id` here.
    fn digest_of(&self, id: &str) -> Option<String> {
        self.host
            .inventory()
            .components
            .into_iter()
            .find(|c| c.id == id)
            .map(|c| format!("sha256:{}", c.digest))
    }
}

impl Ctx {
    pub(super) async fn scale(&self, cmd: wire::ScaleComponent) -> Vec<u8> {
        let result = match convert::scale_request(&cmd) {
            Ok(mut req) => match self.named_configs(&cmd.config).await {
                Ok(config) => {
                    req.config = config;
                    self.host
                        .scale_component(req)
                        .await
                        .map_err(|e| e.to_string())
                }
                Err(message) => Err(message),
            },
            Err(e) => Err(e.to_string()),
        };
        let mut data = ComponentScaled {
            component_id: cmd.component_id.clone(),
            image_ref: cmd.component_ref.clone(),
            host_id: self.host_id.clone(),
            max_instances: cmd.max_instances,
            annotations: cmd.annotations.clone(),
            digest: None,
            error: None,
        };
        match result {
            Ok(_) => {
                data.digest = self.digest_of(&cmd.component_id);
                self.rpc.sync().await;
                self.events
                    .publish(&LatticeEvent::ComponentScaled(data))
                    .await;
                json(&CtlResponse::ack())
            }
            Err(message) => {
                data.error = Some(message.clone());
                self.events
                    .publish(&LatticeEvent::ComponentScaleFailed(data))
                    .await;
                json(&CtlResponse::<()>::error(message))
            }
        }
    }

    pub(super) async fn start_provider(&self, cmd: wire::StartProvider) -> Vec<u8> {
        let result = match self.merged_config(&cmd).await {
            Ok(config) => self
                .host
                .start_provider(weft_host::StartProviderRequest {
                    provider_id: cmd.provider_id.clone(),
                    provider_ref: cmd.provider_ref.clone(),
                    config,
                    annotations: cmd.annotations.clone().unwrap_or_default(),
                })
                .await
                .map_err(|e| e.to_string()),
            Err(message) => Err(message),
        };
        let mut data = ProviderStarted {
            provider_id: cmd.provider_id,
            provider_ref: cmd.provider_ref,
            host_id: self.host_id.clone(),
            annotations: cmd.annotations.unwrap_or_default(),
            error: None,
        };
        match result {
            Ok(()) => {
                self.events
                    .publish(&LatticeEvent::ProviderStarted(data))
                    .await;
                json(&CtlResponse::ack())
            }
            Err(message) => {
                data.error = Some(message.clone());
                self.events
                    .publish(&LatticeEvent::ProviderStartFailed(data))
                    .await;
                json(&CtlResponse::<()>::error(message))
            }
        }
    }

    /// The named configs of a provider start, merged in order.
    async fn merged_config(&self, cmd: &wire::StartProvider) -> Result<wire::StringMap, String> {
        weft_lattice_protocol::validate::token("provider_id", &cmd.provider_id)
            .map_err(|e| e.to_string())?;
        self.named_configs(&cmd.config).await
    }

    /// Named configs merged in order; each must exist.
    async fn named_configs(&self, names: &[String]) -> Result<wire::StringMap, String> {
        let mut merged = wire::StringMap::new();
        for name in names {
            match self.state.config(name).await {
                Ok(Some(values)) => {
                    merged.extend(weft_lattice_protocol::secret::without_marker(values))
                }
                Ok(None) => {
                    return Err(format!(
                        "config `{name}` does not exist; create it first with `weft config put {name} KEY=VALUE`"
                    ));
                }
                Err(e) => return Err(e.to_string()),
            }
        }
        Ok(merged)
    }

    /// Switches a running component to a new image; answers once the new
    /// one serves (wasmCloud announces an update as `component_scaled`).
    pub(super) async fn update(&self, cmd: wire::UpdateComponent) -> Vec<u8> {
        let req = weft_host::UpdateRequest {
            component_id: cmd.component_id.clone(),
            image_ref: cmd.new_component_ref.clone(),
            annotations: cmd.annotations.clone(),
        };
        let result = self.host.update_component(req).await;
        let inventory = self.host.inventory();
        let running = inventory
            .components
            .iter()
            .find(|c| c.id == cmd.component_id);
        let mut data = ComponentScaled {
            component_id: cmd.component_id.clone(),
            image_ref: cmd.new_component_ref.clone(),
            host_id: self.host_id.clone(),
            max_instances: running.and_then(|c| c.max_instances).unwrap_or(0),
            annotations: running.map(|c| c.annotations.clone()).unwrap_or_default(),
            digest: running.map(|c| format!("sha256:{}", c.digest)),
            error: None,
        };
        match result {
            Ok(previous) => {
                tracing::info!(component = %cmd.component_id, from = %previous, to = %cmd.new_component_ref, "component updated");
                self.events
                    .publish(&LatticeEvent::ComponentScaled(data))
                    .await;
                json(&CtlResponse::ack())
            }
            Err(e) => {
                let message = e.to_string();
                data.error = Some(message.clone());
                self.events
                    .publish(&LatticeEvent::ComponentScaleFailed(data))
                    .await;
                json(&CtlResponse::<()>::error(message))
            }
        }
    }
}
