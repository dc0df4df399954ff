//! The example server: a shared WhatsApp inbox over HTTP.
//!
//! - the WhatsApp webhook per number (`/webhooks/whatsapp/{channel}`:
//!   handshake and signed notifications, acknowledged once stored);
//! - the agent API under `/api` (JSON; see [`api`]);
//! - live updates as server-sent events (`/api/events`);
//! - sign-in from a configuration file ([`config`], [`auth`]), guarded
//!   against password guessing ([`throttle`]);
//! - the API's OpenAPI description at `/api/openapi.json` ([`openapi`]);
//! - the web inbox at `/` ([`web`]);
//! - simulated customers and a fake Graph API ([`simulator`]);
//! - the HTTP edge: timeouts, body limits, errors as JSON, security headers
//!   ([`http`], [`settings`]).
//!
//! Everything goes through the library's public API: [`Inbox`] and the
//! WhatsApp adapter's axum router.

pub mod api;
pub mod auth;
pub mod client;
pub mod config;
pub mod error;
pub mod extract;
pub mod http;
pub mod launch;
pub mod live;
pub mod openapi;
pub mod settings;
pub mod simulator;
pub mod throttle;
pub mod web;

use axum::routing::{get, post, put};
use axum::Router;
use chrono::{DateTime, Utc};
use std::sync::Arc;

use inbox_core::{Inbox, TenantId};
use inbox_whatsapp::{Webhook, WebhookConfig};

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    /// The inbox.
    pub inbox: Inbox,
    /// Sign-in and sessions.
    pub auth: Arc<auth::Auth>,
    /// Answers to repeated idempotency keys.
    pub idempotency: Arc<api::Idempotency>,
    /// The message templates agents may send when the window is closed.
    pub templates: Arc<Vec<config::TemplateConfig>>,
    /// Network and sign-in settings.
    pub settings: Arc<settings::Settings>,
    /// Sign-in rate limits and lockouts.
    pub throttle: Arc<throttle::Throttle>,
    /// The password hashes running at once.
    pub hashes: Arc<throttle::HashGate>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("auth", &self.auth)
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// State for `inbox`, with the agents of `config` and the default
    /// settings.
    pub fn new(inbox: Inbox, config: &config::ServerConfig) -> Result<Self, inbox_core::Error> {
        Self::with_settings(inbox, config, settings::Settings::default())
    }

    /// State for `inbox`, with the agents of `config` and these settings.
    pub fn with_settings(
        inbox: Inbox,
        config: &config::ServerConfig,
        settings: settings::Settings,
    ) -> Result<Self, inbox_core::Error> {
        let limits = &settings.sign_in;
        Ok(Self {
            auth: Arc::new(auth::Auth::new(config, settings.session_ttl)?),
            idempotency: Arc::new(api::Idempotency::new(10_000)),
            templates: Arc::new(config.templates.clone()),
            throttle: Arc::new(throttle::Throttle::new(limits, inbox.ports().clock.clone())),
            hashes: Arc::new(throttle::HashGate::new(
                limits.concurrent_hashes,
                limits.waiting,
            )),
            settings: Arc::new(settings),
            inbox,
        })
    }

    /// The inbox's clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.inbox.ports().clock.now()
    }

    fn auth_tenant(&self) -> TenantId {
        self.auth.tenant().clone()
    }
}

/// The whole application: webhooks, agent API, live events, web inbox,
/// each route behind the HTTP edge ([`http::harden`]).
pub fn router(state: AppState, config: &config::ServerConfig) -> Router {
    use api::*;
    let conversation = Router::new()
        .route("/", get(api::conversation))
        .route("/claim", post(claim))
        .route("/assign", post(assign))
        .route("/transfer", post(transfer))
        .route("/release", post(release))
        .route("/reply", post(reply))
        .route("/messages/{message_id}/resend", post(resend))
        .route("/notes", post(note))
        .route("/tags", post(tags))
        .route("/status", post(status))
        .route("/priority", post(priority))
        .route("/lease", put(take_lease).delete(drop_lease))
        .route("/viewing", post(viewing));
    let api = Router::new()
        .route("/session", post(sign_in).delete(sign_out))
        .route("/me", get(me))
        .route("/agents", get(agents))
        .route("/presence", post(presence))
        .route("/conversations", get(list))
        .nest("/conversations/{id}", conversation)
        .route("/search", get(search))
        .route("/contacts/{id}", get(contact))
        .route("/metrics", get(metrics))
        .route("/live", get(live))
        .route("/events", get(live::events))
        .route("/templates", get(templates))
        .route("/dead-letters", get(dead_letters))
        .route("/dead-letters/{id}/replay", post(replay_dead_letter))
        .route("/openapi.json", get(openapi::openapi_json))
        .with_state(state.clone());
    let mut app = Router::new().nest("/api", api).merge(web::router());
    for c in &config.channels {
        // Each route speaks only for its own number (a body about another
        // one, signed with this route's secret, is refused with 403).
        let secret = WebhookConfig::for_numbers(
            c.verify_token.as_str(),
            c.app_secret.as_str(),
            [&c.phone_number_id],
        );
        let webhook = Webhook::new(secret);
        app = app.merge(inbox_whatsapp::axum::webhook_router(
            &format!("/webhooks/whatsapp/{}", c.id),
            webhook,
            state.inbox.clone(),
        ));
    }
    http::harden(app, &state.settings)
}
