//! `GET /api/events`: the lattice as it changes, as server-sent events —
//! `lattice` (each CloudEvent but heartbeats, as published), `heartbeat`
//! (the host id only) and `apps` (an app's manifest or status changed).

use super::Ui;
use super::api::{ApiError, error};
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::get;
use futures::{Stream, StreamExt};
use serde_json::{Value, json};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use weft_apps::store::AppStore;
use weft_lattice_protocol::EventName;

/// The stream's route.
pub fn routes() -> Router<Arc<Ui>> {
    Router::new().route("/events", get(events))
}

/// A CloudEvent from the lattice as an SSE event.
fn lattice_event(payload: &[u8]) -> Option<Event> {
    let v: Value = serde_json::from_slice(payload).ok()?;
    let kind = v["type"].as_str().and_then(EventName::from_type);
    if kind == Some(EventName::HostHeartbeat) {
        let host = v["source"].as_str().unwrap_or_default();
        return Some(Event::default().event("heartbeat").data(host));
    }
    Some(Event::default().event("lattice").data(v.to_string()))
}

async fn events(
    State(ui): State<Arc<Ui>>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let bad = |e: &dyn std::fmt::Display| {
        error(
            StatusCode::BAD_GATEWAY,
            format!("cannot follow the lattice: {e}"),
        )
    };
    let lattice = ui
        .nats
        .subscribe(ui.subjects.events())
        .await
        .map_err(|e| bad(&e))?;
    let store = AppStore::open_in(ui.nats.clone(), &ui.name, &ui.placement)
        .await
        .map_err(|e| bad(&e))?;
    let statuses = store.status_changes().await.map_err(|e| bad(&e))?;
    let manifests = store.changes().await.map_err(|e| bad(&e))?;
    let lattice = lattice.filter_map(|m| async move { lattice_event(&m.payload) });
    let statuses = statuses.map(|name| {
        Event::default()
            .event("apps")
            .data(json!({"name": name}).to_string())
    });
    let manifests = manifests.map(|()| Event::default().event("apps").data("{}"));
    let hello = futures::stream::once(async { Event::default().event("hello").data("{}") });
    let all = hello.chain(futures::stream::select(
        lattice,
        futures::stream::select(statuses, manifests),
    ));
    Ok(Sse::new(all.map(Ok)).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}
