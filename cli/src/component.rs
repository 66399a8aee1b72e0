//! `weft start|stop|scale component`: place components by auction and
//! scale them, returning when the host has finished.

use crate::lattice::{LatticeArgs, Output};
use anyhow::Context;
use clap::{Args, Subcommand};
use weft_lattice_client::LatticeClient;
use weft_lattice_protocol::wire::{
    ComponentAuctionRequest, ProviderAuctionRequest, ScaleComponent, StartProvider, StringMap,
    UpdateComponent,
};

/// Examples shown under `weft start --help` and friends.
pub const EXAMPLES: &str = "\
Examples:
  weft push app.wasm oci://localhost:5000/app:1.0
  weft start component oci://localhost:5000/app:1.0 app --max 10 --constraint zone=eu
  weft start component file:///abs/path/app.wasm dev   # hosts started with --allow-file-load
  weft scale component app --max 50
  weft update component app oci://localhost:5000/app:1.1
  weft stop component app

References are OCI references (oci://registry/repo:tag or …@sha256:…; the host
pulls, checks every digest, and compiles once per digest) or, on hosts started
with --allow-file-load, file:///absolute/paths. The command returns once the host has started the
component, or says why it could not.";

/// `weft start …`
#[derive(Debug, Args)]
pub struct StartArgs {
    #[command(subcommand)]
    what: StartWhat,
    #[command(flatten)]
    lattice: LatticeArgs,
}

#[derive(Debug, Subcommand)]
enum StartWhat {
    /// Start component REF as ID on the best host that qualifies.
    Component {
        /// Where the component comes from (`oci://registry/repo:tag`, or `file:///abs/path.wasm`).
        image_ref: String,
        /// The lattice-unique id it runs under.
        id: String,
        /// Invocations that may run at once.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
        max: u32,
        /// A label the host must have (repeatable).
        #[arg(long = "constraint", value_name = "KEY=VALUE", value_parser = crate::units::parse_pair)]
        constraints: Vec<(String, String)>,
        /// A named config its wasi:config values come from (repeatable,
        /// merged in order; create it with `weft config put`).
        #[arg(long = "config", value_name = "NAME")]
        config: Vec<String>,
        /// Skip the auction and start on this host.
        #[arg(long, value_name = "HOST_ID")]
        host: Option<String>,
    },
    /// Start provider REF as ID: `builtin:keyvalue-memory`, `builtin:keyvalue-redis`,
    /// `builtin:keyvalue-nats`, `builtin:messaging-nats`, `builtin:http-server`, `builtin:http-client`.
    Provider {
        /// The provider kind.
        provider_ref: String,
        /// The lattice-unique id links will name as target.
        id: String,
        /// A named config it is configured from (repeatable, merged in order).
        #[arg(long = "config", value_name = "NAME")]
        config: Vec<String>,
        /// A label the host must have (repeatable).
        #[arg(long = "constraint", value_name = "KEY=VALUE", value_parser = crate::units::parse_pair)]
        constraints: Vec<(String, String)>,
        /// Skip the auction and start on this host.
        #[arg(long, value_name = "HOST_ID")]
        host: Option<String>,
    },
}

/// `weft stop …`
#[derive(Debug, Args)]
pub struct StopArgs {
    #[command(subcommand)]
    what: StopWhat,
    #[command(flatten)]
    lattice: LatticeArgs,
}

#[derive(Debug, Subcommand)]
enum StopWhat {
    /// Stop component ID on every host running it (or only on --host).
    Component {
        /// The component's id.
        id: String,
        /// Only on this host.
        #[arg(long, value_name = "HOST_ID")]
        host: Option<String>,
    },
    /// Stop provider ID on every host running it (or only on --host).
    Provider {
        /// The provider's id.
        id: String,
        /// Only on this host.
        #[arg(long, value_name = "HOST_ID")]
        host: Option<String>,
    },
}

/// `weft scale …`
#[derive(Debug, Args)]
pub struct ScaleArgs {
    #[command(subcommand)]
    what: ScaleWhat,
    #[command(flatten)]
    lattice: LatticeArgs,
}

#[derive(Debug, Subcommand)]
enum ScaleWhat {
    /// Change how many invocations of ID may run at once, on every host running it.
    Component {
        /// The component's id.
        id: String,
        /// Invocations that may run at once (0 stops it).
        #[arg(long)]
        max: u32,
    },
}

fn scale_body(image_ref: &str, id: &str, host: &str, max: u32) -> ScaleComponent {
    ScaleComponent {
        component_ref: image_ref.to_owned(),
        component_id: id.to_owned(),
        host_id: host.to_owned(),
        max_instances: max,
        annotations: StringMap::new(),
        config: Vec::new(),
        allow_update: false,
        component_limits: None,
    }
}

fn report(output: Output, sentence: String, value: serde_json::Value) -> anyhow::Result<()> {
    match output {
        Output::Text => println!("{sentence}"),
        Output::Json => println!("{}", serde_json::to_string_pretty(&value)?),
    }
    Ok(())
}

/// Hosts running component `id`, with the image each runs.
async fn running(client: &LatticeClient, id: &str) -> anyhow::Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for host in client.hosts().await? {
        let inventory = client.inventory(&host.id).await?;
        if let Some(c) = inventory.components.iter().find(|c| c.id == id) {
            out.push((host.id.clone(), c.image_ref.clone()));
        }
    }
    Ok(out)
}

/// Runs `weft start …`.
pub async fn start(args: StartArgs) -> anyhow::Result<()> {
    let client = args.lattice.client().await?;
    let (image_ref, id, max, constraints, config, host) = match args.what {
        StartWhat::Component {
            image_ref,
            id,
            max,
            constraints,
            config,
            host,
        } => (image_ref, id, max, constraints, config, host),
        StartWhat::Provider {
            provider_ref,
            id,
            config,
            constraints,
            host,
        } => {
            return start_provider(
                &client,
                &args.lattice,
                provider_ref,
                id,
                config,
                constraints,
                host,
            )
            .await;
        }
    };
    let constraints: StringMap = constraints.into_iter().collect();
    let host = match host {
        Some(host) => host,
        None => {
            let req = ComponentAuctionRequest {
                component_ref: image_ref.clone(),
                component_id: id.clone(),
                constraints: constraints.clone(),
            };
            client.place_component(&req).await?.host_id
        }
    };
    let body = ScaleComponent {
        config,
        ..scale_body(&image_ref, &id, &host, max)
    };
    crate::oci::with_spinner(
        format!("host {host} is fetching and compiling {image_ref}…"),
        client.scale_component(&host, &body),
    )
    .await
    .with_context(|| format!("starting `{id}` on host {host}"))?;
    report(
        args.lattice.output,
        format!("Started `{id}` ({image_ref}) on host {host}, up to {max} at once."),
        serde_json::json!({"success": true, "component_id": id, "host_id": host}),
    )
}

/// Runs `weft stop …`.
pub async fn stop(args: StopArgs) -> anyhow::Result<()> {
    let client = args.lattice.client().await?;
    let (id, host) = match args.what {
        StopWhat::Component { id, host } => (id, host),
        StopWhat::Provider { id, host } => {
            return stop_provider(&client, &args.lattice, id, host).await;
        }
    };
    let targets: Vec<(String, String)> = running(&client, &id)
        .await?
        .into_iter()
        .filter(|(h, _)| host.as_ref().is_none_or(|want| want == h))
        .collect();
    if targets.is_empty() {
        anyhow::bail!(
            "component `{id}` is not running in lattice `{}`{}",
            args.lattice.lattice,
            host.map(|h| format!(" on host {h}")).unwrap_or_default()
        );
    }
    for (h, image_ref) in &targets {
        client
            .scale_component(h, &scale_body(image_ref, &id, h, 0))
            .await
            .with_context(|| format!("stopping `{id}` on host {h}"))?;
    }
    let hosts: Vec<&str> = targets.iter().map(|(h, _)| h.as_str()).collect();
    report(
        args.lattice.output,
        format!("Stopped `{id}` on {}.", hosts.join(", ")),
        serde_json::json!({"success": true, "component_id": id, "hosts": hosts}),
    )
}

/// `weft update …`
#[derive(Debug, Args)]
pub struct UpdateArgs {
    #[command(subcommand)]
    what: UpdateWhat,
    #[command(flatten)]
    lattice: LatticeArgs,
}

#[derive(Debug, Subcommand)]
enum UpdateWhat {
    /// Switch component ID to image REF on every host running it, with no
    /// gap: each host starts the new image, then moves the id (links,
    /// listeners, subscriptions) to it.
    Component {
        /// The component's id.
        id: String,
        /// The image to run from now on.
        image_ref: String,
    },
}

/// The hosts component `id` runs on (with its image there), or an error
/// saying how to start it (from `image_ref`).
async fn running_somewhere(
    client: &LatticeClient,
    lattice: &LatticeArgs,
    id: &str,
    image_ref: &str,
) -> anyhow::Result<Vec<(String, String)>> {
    let targets = running(client, id).await?;
    if targets.is_empty() {
        anyhow::bail!(
            "component `{id}` is not running in lattice `{}`; start it with `weft start component {image_ref} {id}`",
            lattice.lattice
        );
    }
    Ok(targets)
}

/// Runs `weft update …`.
pub async fn update(args: UpdateArgs) -> anyhow::Result<()> {
    let client = args.lattice.client().await?;
    let UpdateWhat::Component { id, image_ref } = args.what;
    let targets = running_somewhere(&client, &args.lattice, &id, &image_ref).await?;
    for (h, _) in &targets {
        let cmd = UpdateComponent {
            component_id: id.clone(),
            host_id: h.clone(),
            new_component_ref: image_ref.clone(),
            annotations: None,
        };
        crate::oci::with_spinner(
            format!("host {h} is fetching and compiling {image_ref}…"),
            client.update_component(h, &cmd),
        )
        .await
        .with_context(|| format!("updating `{id}` on host {h}"))?;
    }
    let hosts: Vec<&str> = targets.iter().map(|(h, _)| h.as_str()).collect();
    report(
        args.lattice.output,
        format!("Updated `{id}` to {image_ref} on {}.", hosts.join(", ")),
        serde_json::json!({"success": true, "component_id": id, "image_ref": image_ref, "hosts": hosts}),
    )
}

/// Runs `weft scale …`.
pub async fn scale(args: ScaleArgs) -> anyhow::Result<()> {
    let client = args.lattice.client().await?;
    let ScaleWhat::Component { id, max } = args.what;
    let targets = running_somewhere(&client, &args.lattice, &id, "REF").await?;
    for (h, image_ref) in &targets {
        client
            .scale_component(h, &scale_body(image_ref, &id, h, max))
            .await
            .with_context(|| format!("scaling `{id}` on host {h}"))?;
    }
    report(
        args.lattice.output,
        format!(
            "Scaled `{id}` to {max} at once on {} host(s).",
            targets.len()
        ),
        serde_json::json!({"success": true, "component_id": id, "max_instances": max}),
    )
}

async fn start_provider(
    client: &LatticeClient,
    lattice: &LatticeArgs,
    provider_ref: String,
    id: String,
    config: Vec<String>,
    constraints: Vec<(String, String)>,
    host: Option<String>,
) -> anyhow::Result<()> {
    let constraints: StringMap = constraints.into_iter().collect();
    let host = match host {
        Some(host) => host,
        None => {
            let req = ProviderAuctionRequest {
                provider_ref: provider_ref.clone(),
                provider_id: id.clone(),
                constraints,
            };
            client.place_provider(&req).await?.host_id
        }
    };
    let cmd = StartProvider {
        provider_id: id.clone(),
        provider_ref: provider_ref.clone(),
        host_id: host.clone(),
        config,
        annotations: None,
    };
    client
        .start_provider(&host, &cmd)
        .await
        .with_context(|| format!("starting provider `{id}` on host {host}"))?;
    report(
        lattice.output,
        format!("Started provider `{id}` ({provider_ref}) on host {host}."),
        serde_json::json!({"success": true, "provider_id": id, "host_id": host}),
    )
}

async fn stop_provider(
    client: &LatticeClient,
    lattice: &LatticeArgs,
    id: String,
    host: Option<String>,
) -> anyhow::Result<()> {
    let mut stopped = Vec::new();
    for h in client.hosts().await? {
        if host.as_ref().is_some_and(|want| *want != h.id) {
            continue;
        }
        let inventory = client.inventory(&h.id).await?;
        if inventory.providers.iter().any(|p| p.id == id) {
            client.stop_provider(&h.id, &id).await?;
            stopped.push(h.id);
        }
    }
    if stopped.is_empty() {
        anyhow::bail!(
            "provider `{id}` is not running in lattice `{}`",
            lattice.lattice
        );
    }
    report(
        lattice.output,
        format!("Stopped provider `{id}` on {}.", stopped.join(", ")),
        serde_json::json!({"success": true, "provider_id": id, "hosts": stopped}),
    )
}
