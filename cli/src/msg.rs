//! `weft msg pub|request`: send a message where messaging components
//! listen (e.g. "ping" to pingpong): the apps' NATS account (`--apps-nats`,
//! or the one `weft up` started), else the lattice's server.

use crate::lattice::{AppsNatsArgs, LatticeArgs, Output};
use anyhow::Context;
use clap::{Args, Subcommand};
use std::time::Duration;

/// Examples shown by `weft msg --help`.
pub const EXAMPLES: &str = "Examples:
  weft msg request weft.ping ping --lattice demo      # prints the reply, e.g. `pong 1`
  weft msg pub jobs.new '{\"id\":7}' --lattice demo
  weft msg request weft.ping ping --wait 2s -o json
  weft msg request weft.ping ping --apps-nats nats://apps:PASSWORD@10.0.0.5:4222

After `weft up`, messages go to the apps' account of the nats-server it
started (its URL is in ~/.local/state/weft/apps-nats), where components'
messaging runs, apart from the lattice's own subjects.";

/// Arguments of `weft msg`.
#[derive(Debug, Args)]
pub struct MsgArgs {
    #[command(subcommand)]
    what: What,
    #[command(flatten)]
    apps: AppsNatsArgs,
    #[command(flatten)]
    lattice: LatticeArgs,
}

#[derive(Debug, Subcommand)]
enum What {
    /// Publish BODY on SUBJECT without waiting for a reply.
    Pub {
        /// The subject (e.g. `weft.ping`).
        subject: String,
        /// The payload, as text.
        body: String,
    },
    /// Send BODY on SUBJECT and print the first reply.
    Request {
        /// The subject (e.g. `weft.ping`).
        subject: String,
        /// The payload, as text.
        body: String,
        /// How long to wait for the reply.
        #[arg(long, default_value = "5s", value_parser = crate::units::parse_duration)]
        wait: Duration,
    },
}

/// Runs `weft msg`.
pub async fn msg(args: MsgArgs) -> anyhow::Result<()> {
    // The data plane, with its inbox: components may answer it.
    let nats = args.apps.connect(&args.lattice, "weft msg").await?;
    match args.what {
        What::Pub { subject, body } => {
            nats.publish(subject.clone(), body.into_bytes().into())
                .await
                .with_context(|| format!("could not publish on `{subject}`"))?;
            nats.flush().await.context("could not flush to NATS")?;
            if args.lattice.output == Output::Json {
                println!(
                    "{}",
                    serde_json::json!({ "success": true, "subject": subject })
                );
            }
        }
        What::Request {
            subject,
            body,
            wait,
        } => {
            let request = async_nats::Request::new()
                .payload(body.into_bytes().into())
                .timeout(Some(wait));
            let reply = nats
                .send_request(subject.clone(), request)
                .await
                .map_err(|e| match e.kind() {
                    async_nats::RequestErrorKind::NoResponders => anyhow::anyhow!(
                        "nobody is subscribed to `{subject}`; link a messaging provider to a component with subscriptions={subject}"
                    ),
                    async_nats::RequestErrorKind::TimedOut => anyhow::anyhow!(
                        "no reply on `{subject}` within {wait:?} (a subscriber got it but did not answer)"
                    ),
                    _ => anyhow::anyhow!("request on `{subject}` failed: {e}"),
                })?;
            let text = String::from_utf8_lossy(&reply.payload);
            match args.lattice.output {
                Output::Json => println!(
                    "{}",
                    serde_json::json!({ "success": true, "subject": subject, "reply": text })
                ),
                Output::Text => println!("{text}"),
            }
        }
    }
    Ok(())
}
