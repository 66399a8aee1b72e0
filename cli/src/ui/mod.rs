//! `weft ui`: the dashboard, served by Weft itself — a JSON API over the
//! lattice client and the app API, a live stream of lattice events
//! (server-sent events), and the page, embedded in the binary.
//!
//! Bound to loopback by default, where it answers only to its own names
//! and takes changes only from its own page (see [`guard`]). Bound
//! anywhere else it wants a token of at least 128 bits (`--token`,
//! `WEFT_UI_TOKEN`, or one made up and printed at start) on every API
//! call: `Authorization: Bearer TOKEN`, or `?token=TOKEN` (the page's event
//! stream cannot set headers); on loopback it wants one when given.

mod api;
mod assets;
pub mod guard;
mod live;
mod views;

use crate::lattice::LatticeArgs;
use anyhow::Context;
use axum::Router;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use clap::Args;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use weft_apps::client::AppClient;
use weft_jetstream::bucket::Placement;
use weft_lattice_client::LatticeClient;
use weft_lattice_nats::LatticeState;
use weft_lattice_protocol::Subjects;

/// Examples shown under `weft ui --help`.
pub const EXAMPLES: &str = "\
Examples:
  weft ui                                   # http://127.0.0.1:3030, no token on loopback
  weft ui --addr 127.0.0.1:8088
  weft ui --addr 0.0.0.0:3030               # prints a token; open the printed URL
  WEFT_UI_TOKEN=s3cret weft ui --addr 10.0.0.5:3030
  weft up --dashboard 127.0.0.1:3030        # a lattice and its dashboard in one go

The page shows hosts, components (and what their imports are linked to),
providers, links, named configs (values hidden until asked), apps with their
status, and the lattice's events as they happen; it deploys and undeploys
apps, scales components, puts and deletes links, and puts configs.";

/// `weft ui` arguments.
#[derive(Debug, Args)]
pub struct UiArgs {
    /// Where to serve the dashboard. Anything but loopback requires a token.
    #[arg(long, default_value = "127.0.0.1:3030", value_name = "ADDR")]
    addr: SocketAddr,
    /// The token API calls must carry (default on loopback: none; elsewhere:
    /// a random one of 244 bits, printed; one given for a dashboard off
    /// loopback must have at least 32 characters, e.g. `openssl rand -hex 16`).
    #[arg(
        long,
        env = "WEFT_UI_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true
    )]
    token: Option<String>,
    #[command(flatten)]
    lattice: LatticeArgs,
}

/// What every handler reaches.
pub(crate) struct Ui {
    pub(crate) lattice: LatticeClient,
    pub(crate) apps: AppClient,
    pub(crate) state: LatticeState,
    pub(crate) nats: async_nats::Client,
    pub(crate) subjects: Subjects,
    pub(crate) name: String,
    pub(crate) known: Arc<views::Known>,
    /// Where the lattice's buckets live.
    pub(crate) placement: Placement,
    token: Option<String>,
}

/// A running dashboard.
pub struct Dashboard {
    /// Where it listens.
    pub addr: SocketAddr,
    /// The token API calls need, if any.
    pub token: Option<String>,
    /// The server task.
    pub task: tokio::task::JoinHandle<()>,
}

impl Dashboard {
    /// The address to open in a browser (with the token when there is one).
    pub fn url(&self) -> String {
        match &self.token {
            Some(t) => format!("http://{}/?token={t}", self.addr),
            None => format!("http://{}/", self.addr),
        }
    }
}

/// Starts the dashboard for `lattice` on `addr`; `token` as given, or made
/// up when `addr` is not loopback.
pub async fn start(
    nats: async_nats::Client,
    subjects: Subjects,
    addr: SocketAddr,
    token: Option<String>,
    placement: Placement,
) -> anyhow::Result<Dashboard> {
    guard::check_token_strength(addr, token.as_deref().filter(|t| !t.is_empty()))
        .map_err(crate::Usage)?;
    let token = effective_token(addr, token);
    let name = subjects.lattice().to_owned();
    let state = LatticeState::open_in(nats.clone(), &name, &placement)
        .await
        .with_context(|| format!("opening the state of lattice `{name}`"))?;
    let known = Arc::new(views::Known::default());
    let follower = known
        .clone()
        .follow(&nats, &subjects)
        .await
        .context("cannot follow the lattice's events")?;
    let ui = Arc::new(Ui {
        lattice: LatticeClient::new(nats.clone(), subjects.clone())
            .with_timeout(Duration::from_secs(5))
            .with_window(Duration::from_millis(250)),
        apps: AppClient::new(nats.clone(), &name).with_timeout(Duration::from_secs(5)),
        state,
        nats,
        subjects,
        name,
        known,
        placement,
        token: token.clone(),
    });
    let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| {
        format!("cannot listen on {addr} (is another dashboard running? try --addr)")
    })?;
    let addr = listener.local_addr()?;
    let app = router(ui, guard::Access::new(addr));
    let task = tokio::spawn(async move {
        crate::serve::run(listener, app).await;
        follower.abort();
    });
    Ok(Dashboard { addr, token, task })
}

/// The token a dashboard on `addr` requires: the one `given`; else none on
/// loopback and a random one anywhere else (two v4 UUIDs: 244 random bits).
fn effective_token(addr: SocketAddr, given: Option<String>) -> Option<String> {
    given.filter(|t| !t.is_empty()).or_else(|| {
        (!addr.ip().is_loopback()).then(|| {
            format!(
                "{}{}",
                uuid::Uuid::new_v4().simple(),
                uuid::Uuid::new_v4().simple()
            )
        })
    })
}

fn router(ui: Arc<Ui>, access: guard::Access) -> Router {
    let api = api::routes()
        .merge(live::routes())
        .layer(axum::middleware::from_fn_with_state(
            ui.clone(),
            check_token,
        ));
    // The Host and Origin checks come first, for the page as for the API.
    Router::new()
        .nest("/api", api)
        .merge(assets::routes())
        .with_state(ui)
        .layer(axum::middleware::from_fn_with_state(
            Arc::new(access),
            guard::check_origin,
        ))
}

/// Refuses API calls without the token (when there is one).
async fn check_token(State(ui): State<Arc<Ui>>, req: Request, next: Next) -> Response {
    let Some(want) = &ui.token else {
        return next.run(req).await;
    };
    let header = req
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let query = req.uri().query().and_then(|q| {
        q.split('&')
            .find_map(|kv| kv.strip_prefix("token="))
            .map(str::to_owned)
    });
    let given = header.map(str::to_owned).or(query);
    if given
        .as_deref()
        .is_some_and(|g| constant_time_eq(g.as_bytes(), want.as_bytes()))
    {
        next.run(req).await
    } else {
        api::error(
            StatusCode::UNAUTHORIZED,
            "this dashboard wants its token: open the URL `weft ui` printed, or send Authorization: Bearer TOKEN",
        )
        .into_response()
    }
}

/// Compares without leaking where the first difference is.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Runs `weft ui`.
pub async fn ui(args: UiArgs) -> anyhow::Result<()> {
    let nats = args.lattice.connect("weft-ui").await?;
    let dashboard = start(
        nats,
        args.lattice.subjects()?,
        args.addr,
        args.token,
        args.lattice.placement(),
    )
    .await?;
    println!(
        "The dashboard of lattice `{}` is at {}",
        args.lattice.lattice,
        dashboard.url()
    );
    if dashboard.token.is_some() {
        println!("API calls need the token (Authorization: Bearer TOKEN); keep the URL private.");
    }
    println!("Ctrl-C stops it.");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        r = dashboard.task => r.context("the dashboard stopped")?,
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_needs_no_token_and_anything_else_gets_one() {
        let lo: SocketAddr = "127.0.0.1:3030".parse().unwrap();
        let lo6: SocketAddr = "[::1]:3030".parse().unwrap();
        let any: SocketAddr = "0.0.0.0:3030".parse().unwrap();
        assert_eq!(effective_token(lo, None), None);
        assert_eq!(effective_token(lo6, None), None);
        let made = effective_token(any, None).unwrap();
        assert_eq!(made.len(), 64);
        assert_ne!(effective_token(any, None), Some(made));
        assert_eq!(
            effective_token(any, Some("s3cret".into())).as_deref(),
            Some("s3cret")
        );
        assert_eq!(
            effective_token(lo, Some("s3cret".into())).as_deref(),
            Some("s3cret")
        );
        // An empty --token is no token.
        assert!(effective_token(any, Some(String::new())).is_some());
    }

    #[test]
    fn tokens_compare_whole() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
