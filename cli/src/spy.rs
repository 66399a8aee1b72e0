//! `weft spy`: the lattice's events as they happen, one line each; with
//! `--component`, only what concerns that component, plus the messages its
//! subscriptions deliver to it (`message`), the messages it sends (`sent`,
//! copied by its host while the spy runs) and the calls made to it (`call`).

use crate::lattice::{AppsNatsArgs, LatticeArgs, Output};
use crate::run::wait_for_shutdown;
use clap::Args;
use futures::StreamExt;
use serde_json::{Value, json};
use weft_lattice_protocol::EventName;

/// Examples shown by `weft spy --help`.
pub const EXAMPLES: &str = "\
Examples:
  weft spy                          # every event but heartbeats
  weft spy --heartbeats             # with heartbeats
  weft spy --component pingpong     # its events, the messages it gets and sends, the calls to it
  weft spy -o json | jq .           # one JSON object per line
  weft spy --count 5                # stop after five lines";

/// `weft spy` arguments.
#[derive(Debug, Args)]
pub struct SpyArgs {
    /// Only what concerns this component (or provider) id.
    #[arg(long, value_name = "ID")]
    component: Option<String>,
    /// Show heartbeats too (every host sends one every few seconds).
    #[arg(long)]
    heartbeats: bool,
    /// Stop after this many lines.
    #[arg(long, value_name = "N")]
    count: Option<usize>,
    #[command(flatten)]
    apps: AppsNatsArgs,
    #[command(flatten)]
    lattice: LatticeArgs,
}

/// What one line shows.
struct Line {
    kind: &'static str,
    what: String,
    detail: String,
    raw: Value,
}

/// Whether an event concerns `id`.
fn concerns(data: &Value, id: &str) -> bool {
    ["component_id", "provider_id", "source_id", "target"]
        .iter()
        .any(|k| data.get(k).and_then(Value::as_str) == Some(id))
}

fn event_line(payload: &[u8]) -> Option<Line> {
    let event: Value = serde_json::from_slice(payload).ok()?;
    let ty = event["type"].as_str().unwrap_or_default();
    // Ours by name (`component_scaled`); anything else by its whole type.
    let name = EventName::from_type(ty).map_or_else(|| ty.to_owned(), |n| n.as_str().to_owned());
    let data = &event["data"];
    let host = event["source"].as_str().unwrap_or_default();
    // The source comes from the wire: shortened by characters, not bytes.
    let short: String = host.chars().take(8).collect();
    let mut parts = vec![format!("host={short}")];
    for key in [
        "component_id",
        "provider_id",
        "source_id",
        "target",
        "config_name",
        "image_ref",
        "max_instances",
        "error",
        "message",
    ] {
        if let Some(v) = data.get(key).filter(|v| !v.is_null()) {
            let v = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
            parts.push(format!("{key}={v}"));
        }
    }
    Some(Line {
        kind: "event",
        what: name,
        detail: parts.join(" "),
        raw: event,
    })
}

fn preview(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut s: String = text.chars().take(80).collect();
    if text.chars().count() > 80 {
        s.push('…');
    }
    s
}

/// The subjects a component's messaging links subscribe it to.
async fn subscriptions(lattice: &LatticeArgs, id: &str) -> Vec<String> {
    let Ok(client) = lattice.client().await else {
        return Vec::new();
    };
    let Ok(links) = client.links().await else {
        return Vec::new();
    };
    let mut subjects = Vec::new();
    for link in links.iter().filter(|l| {
        l.target == id
            && l.wit_namespace == "wasmcloud"
            && l.wit_package == "messaging"
            && l.interfaces.iter().any(|i| i == "handler")
    }) {
        for name in &link.source_config {
            if let Ok(config) = client.config(name).await
                && let Some(subs) = config.get("subscriptions")
            {
                subjects.extend(
                    subs.split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned),
                );
            }
        }
    }
    subjects
}

/// Runs `weft spy`.
pub async fn spy(args: SpyArgs) -> anyhow::Result<()> {
    let subjects = args.lattice.subjects()?;
    let nats = args.lattice.connect("weft spy").await?;
    let mut streams = vec![
        nats.subscribe(subjects.events())
            .await?
            .map(|m| ("event", m))
            .boxed(),
    ];
    if let Some(id) = &args.component {
        streams.push(
            nats.subscribe(subjects.rpc(id))
                .await?
                .map(|m| ("call", m))
                .boxed(),
        );
        streams.push(
            nats.subscribe(subjects.spy(id))
                .await?
                .map(|m| ("sent", m))
                .boxed(),
        );
        // Hosts copy what it sends only while asked: ask, and keep asking.
        let (asker, subject) = (nats.clone(), subjects.spy_requests());
        let request = serde_json::to_vec(&weft_lattice_protocol::spy::SpyRequest {
            component_id: id.clone(),
            seconds: 15,
        })?;
        tokio::spawn(async move {
            loop {
                let _ = asker.publish(subject.clone(), request.clone().into()).await;
                tokio::time::sleep(std::time::Duration::from_secs(5)).await;
            }
        });
        // Its subscriptions are on the apps' account.
        let apps = args.apps.connect(&args.lattice, "weft spy").await?;
        for subject in subscriptions(&args.lattice, id).await {
            streams.push(
                apps.subscribe(subject)
                    .await?
                    .map(|m| ("message", m))
                    .boxed(),
            );
        }
    }
    let mut all = futures::stream::select_all(streams);
    let mut shown = 0usize;
    if args.lattice.output == Output::Text {
        eprintln!(
            "Watching lattice `{}`{}; Ctrl-C stops.",
            subjects.lattice(),
            args.component
                .as_ref()
                .map(|c| format!(" for `{c}`"))
                .unwrap_or_default()
        );
    }
    let stop = wait_for_shutdown();
    let mut stop = std::pin::pin!(stop);
    loop {
        let next = tokio::select! {
            next = all.next() => next,
            _ = &mut stop => break,
        };
        let Some((kind, msg)) = next else { break };
        let line = match kind {
            "event" => {
                let Some(line) = event_line(&msg.payload) else {
                    continue;
                };
                if line.what == "host_heartbeat" && !args.heartbeats {
                    continue;
                }
                if let Some(id) = &args.component
                    && !concerns(&line.raw["data"], id)
                {
                    continue;
                }
                line
            }
            "sent" => {
                let sent: Value = serde_json::from_slice(&msg.payload).unwrap_or(Value::Null);
                Line {
                    kind: "sent",
                    what: sent["subject"].as_str().unwrap_or("?").to_owned(),
                    detail: preview(sent["body"].as_str().unwrap_or_default().as_bytes()),
                    raw: sent,
                }
            }
            "call" => {
                let body: Value = serde_json::from_slice(&msg.payload).unwrap_or(Value::Null);
                Line {
                    kind: "call",
                    what: format!(
                        "{}#{}",
                        body["interface"].as_str().unwrap_or("?"),
                        body["function"].as_str().unwrap_or("?")
                    ),
                    detail: format!("args={}", body["args"]),
                    raw: body,
                }
            }
            _ => Line {
                kind: "message",
                what: msg.subject.to_string(),
                detail: preview(&msg.payload),
                raw: json!({
                    "subject": msg.subject.as_str(),
                    "reply": msg.reply.as_ref().map(|r| r.as_str()),
                    "body": String::from_utf8_lossy(&msg.payload),
                }),
            },
        };
        let now = chrono::Utc::now();
        match args.lattice.output {
            Output::Text => println!(
                "{}  {:<7} {:<28} {}",
                now.format("%H:%M:%S%.3f"),
                line.kind,
                line.what,
                line.detail
            ),
            Output::Json => println!(
                "{}",
                json!({"time": now.to_rfc3339(), "kind": line.kind, "name": line.what, "data": line.raw})
            ),
        }
        shown += 1;
        if args.count.is_some_and(|n| shown >= n) {
            break;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_from_any_source_is_shown_without_a_panic() {
        // A source from the wire with a character across byte 8.
        let event =
            json!({"type": "com.wasmcloud.lattice.host_started", "source": "ééééé", "data": {}});
        let line = event_line(event.to_string().as_bytes()).unwrap();
        assert_eq!(line.what, "host_started");
        assert!(line.detail.starts_with("host=ééééé"), "{}", line.detail);
    }
}
