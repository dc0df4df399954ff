//! The HTTP edge: what wraps every route (a tracing span with the tenant
//! and actor, body limit, request timeout, panics caught, errors as JSON,
//! security headers) and the accept loop
//! with a header read timeout, which `axum::serve` does not offer.

use axum::body::Body;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Request};
use axum::http::{header, HeaderValue, Response, StatusCode};
use axum::middleware::{self, Next};
use axum::response::IntoResponse;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpListener;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;

use super::error::ApiError;
use super::extract::code_of;
use super::settings::Settings;

/// Only this origin's scripts, styles and connections; never in a frame.
pub const CSP: &str = "default-src 'self'; img-src 'self' data:; object-src 'none'; \
                       base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Wraps every route: from the outside in, security headers, errors as
/// JSON, panics caught (a 500 with a request id), the request timeout
/// (408) and the body limit (413).
pub fn harden(app: Router, settings: &Settings) -> Router {
    // Agents' files (`POST /api/conversations/{id}/attachments`) read
    // their body themselves, within `media.max_upload_bytes`; every other
    // body is read through an extractor, within `body_limit`.
    let upload = usize::try_from(settings.media.max_upload_bytes).unwrap_or(usize::MAX);
    app.layer(DefaultBodyLimit::max(settings.body_limit))
        .layer(RequestBodyLimitLayer::new(settings.body_limit.max(upload)))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            settings.request_timeout,
        ))
        .layer(CatchPanicLayer::custom(panicked))
        .layer(middleware::from_fn(json_errors))
        .layer(middleware::map_response(security_headers))
        .layer(middleware::from_fn(traced))
}

/// Runs each request in a `request` span with its method and path; the
/// identity fills in `tenant` and `actor` once it knows them, and the
/// answer's status is logged at debug level.
async fn traced(req: Request, next: Next) -> Response<Body> {
    use tracing::Instrument;
    let span = tracing::info_span!(
        "request",
        method = %req.method(),
        path = %req.uri().path(),
        tenant = tracing::field::Empty,
        actor = tracing::field::Empty,
    );
    let res = next.run(req).instrument(span.clone()).await;
    span.in_scope(|| tracing::debug!(status = res.status().as_u16(), "answered"));
    res
}

fn panicked(panic: Box<dyn std::any::Any + Send>) -> Response<Body> {
    let what = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic".into());
    ApiError::internal(StatusCode::INTERNAL_SERVER_ERROR, "internal", &what).into_response()
}

async fn security_headers(mut res: Response<Body>) -> Response<Body> {
    let h = res.headers_mut();
    for (name, value) in [
        (header::CONTENT_SECURITY_POLICY, CSP),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    ] {
        h.entry(name).or_insert(HeaderValue::from_static(value));
    }
    res
}

/// The most of a non-JSON error body that is kept as the message.
const MESSAGE_LIMIT: usize = 1024;

/// Errors that are not JSON yet (axum's 404, 405 and rejections, the
/// limit and timeout layers, the webhook router) become `{code, message}`;
/// a server error's text goes to the log, not to the client.
async fn json_errors(req: Request, next: Next) -> Response<Body> {
    let what = format!("{} {}", req.method(), req.uri().path());
    let res = next.run(req).await;
    let status = res.status();
    let is_json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return res;
    }
    let (parts, body) = res.into_parts();
    let text = axum::body::to_bytes(body, MESSAGE_LIMIT)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_string())
        .unwrap_or_default();
    let error = if status.is_server_error() {
        ApiError::internal(status, code_of(status), &format!("{what}: {status} {text}"))
    } else {
        let message = match (text.is_empty(), status) {
            (false, _) => text,
            (true, StatusCode::NOT_FOUND) => format!("no such route: {what}"),
            (true, StatusCode::METHOD_NOT_ALLOWED) => format!("method not allowed: {what}"),
            (true, _) => status.canonical_reason().unwrap_or("refused").to_string(),
        };
        ApiError::new(status, code_of(status), message)
    };
    let mut out = error.into_response();
    // Keep what the status needs (`Allow`, `Retry-After` ...).
    for (name, value) in parts.headers.iter() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            out.headers_mut().entry(name).or_insert(value.clone());
        }
    }
    out
}

/// Serves `app` on `listener` until `shutdown` resolves: HTTP/1.1, each
/// connection told its peer (`ConnectInfo<SocketAddr>`), a client that
/// does not finish its headers (or stays idle between requests) within
/// `header_timeout` is disconnected. On shutdown, connections finish
/// their requests in flight, for up to `grace`.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    header_timeout: Duration,
    grace: Duration,
    shutdown: impl Future<Output = ()>,
) {
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(header_timeout);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: pause, go on.
                    tracing::warn!(error = %e, "accept");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let service = TowerToHyperService::new(tower::util::MapRequest::new(
            app.clone(),
            move |mut req: Request<hyper::body::Incoming>| {
                req.extensions_mut().insert(ConnectInfo::<SocketAddr>(peer));
                req
            },
        ));
        let conn = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, %peer, "connection");
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("connections still open after {grace:?}");
    }
}
