//! An axum router for the webhook endpoint (feature `axum`).

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use std::sync::Arc;

use inbox_core::Inbox;

use crate::webhook::{Webhook, WebhookResponse};

#[derive(Clone)]
struct HookState {
    webhook: Arc<Webhook>,
    inbox: Inbox,
}

fn into_response(r: WebhookResponse) -> Response {
    let status = StatusCode::from_u16(r.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, [(header::CONTENT_TYPE, r.content_type)], r.body).into_response()
}

/// A router serving the webhook at `path`: `GET` for the subscription
/// handshake, `POST` for signed notifications, which are acknowledged only
/// after they are stored in `inbox`.
///
/// ```
/// use inbox_whatsapp::{Webhook, WebhookConfig};
/// # fn inbox() -> inbox_core::Inbox { unimplemented!() }
/// # fn demo() {
/// let router: axum::Router = inbox_whatsapp::axum::webhook_router(
///     "/webhooks/whatsapp",
///     Webhook::new(WebhookConfig::new("verify-token", "app-secret")),
///     inbox(),
/// );
/// # let _ = router; }
/// ```
pub fn webhook_router(path: &str, webhook: Webhook, inbox: Inbox) -> Router {
    let state = HookState {
        webhook: Arc::new(webhook),
        inbox,
    };
    Router::new()
        .route(path, get(handshake).post(notify))
        .with_state(state)
}

async fn handshake(State(s): State<HookState>, RawQuery(query): RawQuery) -> Response {
    into_response(s.webhook.handshake(query.as_deref()))
}

async fn notify(State(s): State<HookState>, headers: HeaderMap, body: Bytes) -> Response {
    let now = s.inbox.now();
    // Boxed: ingesting is a large future (kilobytes); the handler's own
    // stays small, so the HTTP stack moves a pointer, not all of it.
    let handled = Box::pin(
        s.webhook
            .handle(&s.inbox, "POST", None, &headers, &body, now),
    );
    into_response(handled.await)
}
