//! In-process hosts on a lattice: a [`Host`] answering the control protocol
//! over its own NATS connection, as `weft host` runs one, optionally with
//! the `host_started` event and heartbeats other hosts count in auctions.

use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;
use weft_host::Host;
use weft_lattice_client::LatticeClient;
use weft_lattice_nats::{CtlServer, Endpoints, Events, LatticeState, NatsAuth, connect, ctl};
use weft_lattice_protocol::{EventName, Subjects};

/// A host serving the control protocol until dropped.
pub struct InProcessHost {
    /// The host itself.
    pub host: Arc<Host>,
    _ctl: CtlServer,
    beat: Option<JoinHandle<()>>,
}

impl Drop for InProcessHost {
    fn drop(&mut self) {
        if let Some(beat) = self.beat.take() {
            beat.abort();
        }
    }
}

impl InProcessHost {
    /// Joins `host` to `lattice` on the NATS server at `url`. With
    /// `heartbeat`, announces it (`host_started`) and beats at that
    /// interval, so the other hosts know it is alive.
    pub async fn join(
        host: Host,
        url: &str,
        lattice: &str,
        heartbeat: Option<Duration>,
    ) -> anyhow::Result<Self> {
        let host = Arc::new(host);
        let subjects = Subjects::new("wasmbus.ctl", lattice)?;
        let nc = connect(
            url,
            &NatsAuth::None,
            None,
            "bench-host",
            Duration::from_secs(5),
        )
        .await?;
        let events = Events::new(nc.clone(), subjects.clone(), host.id());
        let endpoints = Endpoints {
            lattice: lattice.into(),
            ctl_host: url.into(),
            rpc_host: url.into(),
        };
        let state = LatticeState::open(nc.clone(), lattice).await?;
        let ctl = ctl::serve(nc, subjects, host.clone(), endpoints, events.clone(), state).await?;
        let beat = match heartbeat {
            Some(every) => {
                events
                    .publish(EventName::HostStarted, &serde_json::json!({}))
                    .await;
                Some(events.heartbeat(host.clone(), every))
            }
            None => None,
        };
        Ok(Self {
            host,
            _ctl: ctl,
            beat,
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
