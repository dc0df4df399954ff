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
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

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

/// The webhooks of run-time numbers, as last built from the store (or
/// their absence), kept [`NumberHooks::TTL`]: anyone may call a webhook
/// route, so unknown or repeated calls cost no store read or decryption
/// each time. Cleared for a number when the operator changes it here.
#[derive(Debug, Default)]
pub struct NumberHooks(Mutex<Hooks>);

/// Each number's webhook (none: no such number, or no secrets) and when it
/// was built.
type Hooks = HashMap<(TenantId, ChannelId), (Option<Webhook>, Instant)>;

impl NumberHooks {
    /// How long a built webhook (or its absence) is kept.
    pub const TTL: Duration = Duration::from_secs(5);

    /// Forgets a number's webhook (its secrets just changed).
    pub fn forget(&self, tenant: &TenantId, channel: &ChannelId) {
        self.lock().remove(&(tenant.clone(), channel.clone()));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Hooks> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The number's webhook (cached; see [`NumberHooks`]).
async fn webhook(s: &AppState, tenant: String, channel: String) -> Option<Webhook> {
    let key = (TenantId::new(tenant).ok()?, ChannelId::new(channel).ok()?);
    if let Some((hook, at)) = s.numbers.lock().get(&key) {
        if at.elapsed() < NumberHooks::TTL {
            return hook.clone();
        }
    }
    let hook = build(s, &key.0, &key.1).await;
    let mut cache = s.numbers.lock();
    if cache.len() > 10_000 {
        cache.clear();
    }
    cache.insert(key, (hook.clone(), Instant::now()));
    hook
}

/// The number's webhook, from its stored secrets; `None` when the number
/// or its secrets are not there (or do not open: logged).
async fn build(s: &AppState, tenant: &TenantId, id: &ChannelId) -> Option<Webhook> {
    let secrets = s.secrets.as_ref()?;
    let (tenant, id) = (tenant.clone(), id.clone());
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
    // (boxed, as in `inbox_whatsapp::axum`: the handler's future stays small)
    answer(Box::pin(w.handle(&s.inbox, "POST", None, &headers, &body, now)).await)
}
