//! The page: three files embedded in the binary (no Node.js to run it,
//! nothing to build: plain HTML, CSS and JavaScript under `cli/ui/`).

use super::Ui;
use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use std::sync::Arc;

const INDEX: &str = include_str!("../../ui/index.html");
const SCRIPT: &str = include_str!("../../ui/app.js");
const STYLE: &str = include_str!("../../ui/style.css");

/// The page's routes.
pub fn routes() -> Router<Arc<Ui>> {
    let headers = |kind: &'static str| {
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, "no-cache"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ]
    };
    Router::new()
        .route(
            "/",
            get(
                move || async move { (headers("text/html; charset=utf-8"), INDEX).into_response() },
            ),
        )
        .route(
            "/app.js",
            get(move || async move {
                (headers("text/javascript; charset=utf-8"), SCRIPT).into_response()
            }),
        )
        .route(
            "/style.css",
            get(move || async move { (headers("text/css; charset=utf-8"), STYLE).into_response() }),
        )
}
