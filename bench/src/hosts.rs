//! In-process hosts on a lattice: the product's own
//! [`weft_lattice_host::LatticeHost`], as `weft host` runs one (announced,
//! beating, answering the control protocol), without the app API and the
//! reconciler, which no bench uses.

use std::sync::Arc;
use std::time::Duration;
use weft_host::{Host, HostBuilder};
use weft_lattice_client::LatticeClient;
use weft_lattice_host::{LatticeHost, LatticeHostConfig};
use weft_lattice_nats::{NatsAuth, Plane, connect_to};
use weft_lattice_protocol::Subjects;

/// A host serving the control protocol until dropped.
pub struct InProcessHost {
    /// The host itself.
    pub host: Arc<Host>,
    _lattice: LatticeHost,
}

impl InProcessHost {
    /// Builds the host `builder` describes and joins it to `lattice` on the
    /// NATS server at `url`.
    pub async fn join(builder: HostBuilder, url: &str, lattice: &str) -> anyhow::Result<Self> {
        let subjects = Subjects::new("wasmbus.ctl", lattice)?;
        let nats = connect_to(
            Plane::Control,
            url,
            &NatsAuth::None,
            None,
            "bench-host",
            Duration::from_secs(5),
        )
        .await?;
        let lattice = LatticeHost::start(LatticeHostConfig {
            app_api: false,
            reconciler: false,
            host: builder,
            ..LatticeHostConfig::new(nats, url, subjects)
        })
        .await?;
        Ok(Self {
            host: lattice.host().clone(),
            _lattice: lattice,
        })
    }
}

/// A control client of `lattice` on its own connection.
pub async fn client(url: &str, lattice: &str) -> anyhow::Result<LatticeClient> {
    let subjects = Subjects::new("wasmbus.ctl", lattice)?;
    Ok(LatticeClient::new(
        async_nats::connect(url).await?,
        subjects,
    ))
}
