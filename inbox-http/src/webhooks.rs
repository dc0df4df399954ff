//! The webhook of every number the platform operator provisioned, at
//! `/webhooks/whatsapp/{tenant}/{channel}`: its verify token and app
//! secret are read from the store (sealed) for each request, so a number
//! added at run time receives at once, and a changed secret applies at
//! once. Bound to that number alone: a body about another number is
//! refused (403) even when correctly signed.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use inbox_core::{ChannelId, TenantId};
use inbox_whatsapp::{Webhook, WebhookConfig, WebhookResponse};

use crate::api::platform::slot;
use crate::AppState;

/// The routes.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route(
            "/webhooks/whatsapp/{tenant}/{channel}",
            get(handshake).post(notify),
        )
        .with_state(state)
}

fn answer(r: WebhookResponse) -> Response {
    let status = StatusCode::from_u16(r.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, [(header::CONTENT_TYPE, r.content_type)], r.body).into_response()
}

fn not_here() -> Response {
    (StatusCode::NOT_FOUND, "no such number").into_response()
}

/// The number's webhook, from its stored secrets; `None` when the number
/// or its secrets are not there (or do not open: logged).
async fn webhook(s: &AppState, tenant: String, channel: String) -> Option<Webhook> {
    let secrets = s.secrets.as_ref()?;
    let (tenant, id) = (TenantId::new(tenant).ok()?, ChannelId::new(channel).ok()?);
    let store = &s.inbox.ports().store;
    let channel = store.channel(&tenant, &id).await.ok()?;
    let (verify_slot, app_slot) = (
        slot(&tenant, &id, "verify_token"),
        slot(&tenant, &id, "app_secret"),
    );
    let verify = secrets.get(&**store, &verify_slot).await;
    let app = secrets.get(&**store, &app_slot).await;
    let (verify, app) = match (verify, app) {
        (Ok(Some(v)), Ok(Some(a))) => (v, a),
        (Err(e), _) | (_, Err(e)) => {
            tracing::error!(%tenant, channel = %id, error = %e, "webhook secrets do not open");
            return None;
        }
        _ => return None,
    };
    let config = WebhookConfig::for_numbers(verify, app, [channel.phone_number_id]);
    Some(Webhook::new(config))
}

async fn handshake(
    State(s): State<AppState>,
    Path((tenant, channel)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> Response {
    match webhook(&s, tenant, channel).await {
        Some(w) => answer(w.handshake(query.as_deref())),
        None => not_here(),
    }
}

async fn notify(
    State(s): State<AppState>,
    Path((tenant, channel)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(w) = webhook(&s, tenant, channel).await else {
        return not_here();
    };
    let now = s.inbox.now();
    answer(w.handle(&s.inbox, "POST", None, &headers, &body, now).await)
}
