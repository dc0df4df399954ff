//! The web inbox: static files compiled into the binary, served at
//! `/` (no JavaScript build step). No inline script or style: the pages
//! live under the server's Content-Security-Policy ([`super::http::CSP`]),
//! set with the other security headers on every answer.

use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

const INDEX: &str = include_str!("../web/index.html");
const APP: &str = include_str!("../web/app.js");
const STYLE: &str = include_str!("../web/style.css");
const PLATFORM: &str = include_str!("../web/platform.html");
const PLATFORM_JS: &str = include_str!("../web/platform.js");
const DOM_JS: &str = include_str!("../web/dom.js");

fn file(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
}

/// `/`, `/app.js`, `/style.css`, `/dom.js` (what both pages share), and
/// the operator's `/platform` with `/platform.js`.
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route(
            "/",
            get(|| async { file("text/html; charset=utf-8", INDEX) }),
        )
        .route(
            "/app.js",
            get(|| async { file("text/javascript; charset=utf-8", APP) }),
        )
        .route(
            "/style.css",
            get(|| async { file("text/css; charset=utf-8", STYLE) }),
        )
        .route(
            "/platform",
            get(|| async { file("text/html; charset=utf-8", PLATFORM) }),
        )
        .route(
            "/dom.js",
            get(|| async { file("text/javascript; charset=utf-8", DOM_JS) }),
        )
        .route(
            "/platform.js",
            get(|| async { file("text/javascript; charset=utf-8", PLATFORM_JS) }),
        )
}
