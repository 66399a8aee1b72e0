//! Lattice commands in wash's shape: `get`, `config`, `link`, `label`.

use crate::lattice::{LatticeArgs, Output};
use clap::{Args, Subcommand};
use serde::Serialize;
use weft_lattice_client::LatticeClient;
use weft_lattice_protocol::wire::{DEFAULT_LINK_NAME, DeleteLink, HostInventory, Link, StringMap};

/// Examples shown under `weft get --help` and friends.
pub const EXAMPLES: &str = "\
Examples:
  weft get hosts
  weft get inventory                     # every host
  weft config put redis-prod url=redis://127.0.0.1:6379
  weft config put db url=postgres://db:5432/app password=s3cret --secret password
  weft config get db --reveal            # secret values are masked without it
  weft link put app cache wasi keyvalue --interface store --interface atomics
  weft link put app greeter weft platform --interface greeter          # to a component
  weft link put app es-greeter weft platform --interface greeter --name es
  weft config put outbound allowed_hosts=api.example.com,*.example.org
  weft link put app web wasi http --interface outgoing-handler --target-config outbound
  weft link get -o json
  weft label put NABC… zone=eu

All take --nats, --lattice (or WEFT_NATS_URL, WEFT_LATTICE) and --output json.";

/// `weft get …`
#[derive(Debug, Args)]
pub struct GetArgs {
    #[command(subcommand)]
    what: GetWhat,
    #[command(flatten)]
    lattice: LatticeArgs,
}

#[derive(Debug, Subcommand)]
enum GetWhat {
    /// The hosts of the lattice (those answering ping within a second).
    Hosts,
    /// What runs on HOST, or on every host.
    Inventory {
        /// A host id (see `weft get hosts`).
        host: Option<String>,
    },
    /// Every link of the lattice.
    Links,
}

/// `weft config …`
#[derive(Debug, Args)]
pub struct ConfigArgs {
    #[command(subcommand)]
    cmd: ConfigCmd,
    #[command(flatten)]
    lattice: LatticeArgs,
}

#[derive(Debug, Subcommand)]
enum ConfigCmd {
    /// Store named config NAME (replacing it if it exists).
    Put {
        /// The config's name.
        name: String,
        /// Its values.
        #[arg(value_name = "KEY=VALUE", required = true, value_parser = crate::units::parse_pair)]
        values: Vec<(String, String)>,
        /// Mark KEY's value secret (repeatable): `config get` and the
        /// dashboard show it masked unless asked to reveal it; components
        /// and providers get it as usual.
        #[arg(long = "secret", value_name = "KEY")]
        secret: Vec<String>,
    },
    /// Print named config NAME (secret values masked).
    Get {
        /// The config's name.
        name: String,
        /// Show secret values too.
        #[arg(long)]
        reveal: bool,
    },
    /// Delete named config NAME (no error if it does not exist).
    Del {
        /// The config's name.
        name: String,
    },
}

/// `weft link …`
#[derive(Debug, Args)]
pub struct LinkArgs {
    #[command(subcommand)]
    cmd: LinkCmd,
    #[command(flatten)]
    lattice: LatticeArgs,
}

#[derive(Debug, Subcommand)]
enum LinkCmd {
    /// Bind SOURCE's NAMESPACE:PACKAGE interfaces to TARGET.
    Put {
        /// The component or provider whose calls are routed.
        source: String,
        /// The component or provider that serves them.
        target: String,
        /// WIT namespace (e.g. `wasi`).
        namespace: String,
        /// WIT package (e.g. `keyvalue`).
        package: String,
        /// An interface of the package (repeatable, at least one).
        #[arg(long = "interface", required = true, value_name = "INTERFACE")]
        interfaces: Vec<String>,
        /// The link name; guests choose non-default ones with wasmcloud:bus.
        #[arg(long, default_value = DEFAULT_LINK_NAME)]
        name: String,
        /// A named config for the source (repeatable).
        #[arg(long = "source-config", value_name = "CONFIG")]
        source_config: Vec<String>,
        /// A named config for the target (repeatable).
        #[arg(long = "target-config", value_name = "CONFIG")]
        target_config: Vec<String>,
    },
    /// Delete SOURCE's links for NAMESPACE:PACKAGE (no error if none).
    Del {
        /// The link source.
        source: String,
        /// WIT namespace.
        namespace: String,
        /// WIT package.
        package: String,
        /// The link name.
        #[arg(long, default_value = DEFAULT_LINK_NAME)]
        name: String,
    },
    /// List every link of the lattice.
    Get,
}

/// `weft label …`
#[derive(Debug, Args)]
pub struct LabelArgs {
    #[command(subcommand)]
    cmd: LabelCmd,
    #[command(flatten)]
    lattice: LatticeArgs,
}

#[derive(Debug, Subcommand)]
enum LabelCmd {
    /// Set a label on HOST.
    Put {
        /// The host id.
        host: String,
        /// The label.
        #[arg(value_name = "KEY=VALUE", value_parser = crate::units::parse_pair)]
        label: (String, String),
    },
    /// Remove label KEY from HOST.
    Del {
        /// The host id.
        host: String,
        /// The label key (a `KEY=VALUE` is accepted; the value is ignored).
        key: String,
    },
}

/// Prints `value` as JSON, or `text` for people.
pub(crate) fn print(
    output: Output,
    value: &impl Serialize,
    text: impl FnOnce() -> String,
) -> anyhow::Result<()> {
    match output {
        Output::Json => println!("{}", serde_json::to_string_pretty(value)?),
        Output::Text => println!("{}", text().trim_end()),
    }
    Ok(())
}

fn done(output: Output, sentence: String) -> anyhow::Result<()> {
    print(output, &serde_json::json!({"success": true}), || sentence)
}

fn labels(map: &StringMap) -> String {
    map.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// Runs `weft get …`.
pub async fn get(args: GetArgs) -> anyhow::Result<()> {
    let client = args.lattice.client().await?;
    let out = args.lattice.output;
    match args.what {
        GetWhat::Hosts => {
            let hosts = client.hosts().await?;
            print(out, &hosts, || {
                if hosts.is_empty() {
                    return format!(
                        "No hosts answered in lattice `{}`. Start one with `weft host --lattice {}`.",
                        args.lattice.lattice, args.lattice.lattice
                    );
                }
                let mut t = format!(
                    "{:<56}  {:<24}  {:<10}  LABELS\n",
                    "HOST ID", "NAME", "UPTIME"
                );
                for h in &hosts {
                    t += &format!(
                        "{:<56}  {:<24}  {:<10}  {}\n",
                        h.id,
                        h.friendly_name,
                        h.uptime_human,
                        labels(&h.labels)
                    );
                }
                t
            })
        }
        GetWhat::Inventory { host } => {
            let inventories = inventories(&client, host).await?;
            print(out, &inventories, || {
                inventories.iter().map(inventory_text).collect()
            })
        }
        GetWhat::Links => {
            let links = noted_links(&client).await?;
            print(out, &links, || links_text(&links))
        }
    }
}

async fn inventories(
    client: &LatticeClient,
    host: Option<String>,
) -> anyhow::Result<Vec<HostInventory>> {
    let ids = match host {
        Some(id) => vec![id],
        None => client.hosts().await?.into_iter().map(|h| h.id).collect(),
    };
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        out.push(client.inventory(&id).await?);
    }
    Ok(out)
}

fn inventory_text(inv: &HostInventory) -> String {
    let mut t = format!(
        "Host {} ({}), up {}, labels {}\n",
        inv.host_id,
        inv.friendly_name,
        inv.uptime_human,
        labels(&inv.labels)
    );
    if inv.components.is_empty() {
        t += "  no components\n";
    }
    for c in &inv.components {
        t += &format!(
            "  component {:<24} {}  max {}\n",
            c.id, c.image_ref, c.max_instances
        );
    }
    for p in &inv.providers {
        let image = p.image_ref.as_deref().unwrap_or("-");
        t += &format!("  provider  {:<24} {}\n", p.id, image);
    }
    t + "\n"
}

/// The lattice's links; a note from the answering host (they are its own
/// copy while the lattice's state cannot be read) goes to stderr.
async fn noted_links(client: &LatticeClient) -> anyhow::Result<Vec<Link>> {
    let (links, note) = client.links_noted().await?;
    if !note.is_empty() {
        eprintln!("note: {note}");
    }
    Ok(links)
}

fn links_text(links: &[Link]) -> String {
    if links.is_empty() {
        return "No links. Add one with `weft link put SOURCE TARGET NAMESPACE PACKAGE --interface I`.".into();
    }
    let mut t = format!(
        "{:<20} {:<20} {:<10} {:<40} CONFIG (source / target)\n",
        "SOURCE", "TARGET", "NAME", "INTERFACES"
    );
    for l in links {
        t += &format!(
            "{:<20} {:<20} {:<10} {:<40} {} / {}\n",
            l.source_id,
            l.target,
            l.name,
            format!(
                "{}:{}/{{{}}}",
                l.wit_namespace,
                l.wit_package,
                l.interfaces.join(",")
            ),
            l.source_config.join(","),
            l.target_config.join(",")
        );
    }
    t
}

/// Runs `weft config …`.
pub async fn config(args: ConfigArgs) -> anyhow::Result<()> {
    let client = args.lattice.client().await?;
    let out = args.lattice.output;
    match args.cmd {
        ConfigCmd::Put {
            name,
            values,
            secret,
        } => {
            let values = weft_lattice_protocol::secret::mark(values.into_iter().collect(), &secret)
                .map_err(anyhow::Error::msg)?;
            client.put_config(&name, &values).await?;
            done(out, format!("Config `{name}` stored."))
        }
        ConfigCmd::Get { name, reveal } => {
            let stored = client.config(&name).await?;
            let values = weft_lattice_protocol::secret::for_display(&stored, reveal);
            print(out, &values, || {
                values.iter().map(|(k, v)| format!("{k}={v}\n")).collect()
            })
        }
        ConfigCmd::Del { name } => {
            client.delete_config(&name).await?;
            done(out, format!("Config `{name}` deleted."))
        }
    }
}

/// Runs `weft link …`.
pub async fn link(args: LinkArgs) -> anyhow::Result<()> {
    let client = args.lattice.client().await?;
    let out = args.lattice.output;
    match args.cmd {
        LinkCmd::Put {
            source,
            target,
            namespace,
            package,
            interfaces,
            name,
            source_config,
            target_config,
        } => {
            let link = Link {
                source_id: source,
                target,
                name,
                wit_namespace: namespace,
                wit_package: package,
                interfaces,
                source_config,
                target_config,
            };
            client.put_link(&link).await?;
            done(
                out,
                format!(
                    "Linked {} → {} for {}:{}/{{{}}} (link `{}`).",
                    link.source_id,
                    link.target,
                    link.wit_namespace,
                    link.wit_package,
                    link.interfaces.join(","),
                    link.name
                ),
            )
        }
        LinkCmd::Del {
            source,
            namespace,
            package,
            name,
        } => {
            let del = DeleteLink {
                source_id: source,
                name,
                wit_namespace: namespace,
                wit_package: package,
            };
            client.delete_link(&del).await?;
            done(
                out,
                format!(
                    "Deleted link `{}` of {} for {}:{}.",
                    del.name, del.source_id, del.wit_namespace, del.wit_package
                ),
            )
        }
        LinkCmd::Get => {
            let links = noted_links(&client).await?;
            print(out, &links, || links_text(&links))
        }
    }
}

/// Runs `weft label …`.
pub async fn label(args: LabelArgs) -> anyhow::Result<()> {
    let client = args.lattice.client().await?;
    let out = args.lattice.output;
    match args.cmd {
        LabelCmd::Put {
            host,
            label: (key, value),
        } => {
            client.put_label(&host, &key, &value).await?;
            done(out, format!("Label {key}={value} set on {host}."))
        }
        LabelCmd::Del { host, key } => {
            let key = key.split_once('=').map_or(key.as_str(), |(k, _)| k);
            client.delete_label(&host, key).await?;
            done(out, format!("Label {key} removed from {host}."))
        }
    }
}
