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
            throttle: Arc::new(throttle::Throttle::new(limits, inbox.clock())),
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
        self.inbox.now()
    }

    fn auth_tenant(&self) -> TenantId {
        self.auth.tenant().clone()
    }
}

/// Declares the agent API's routes once: [`API_ROUTES`] lists them and
/// `api_router` routes them, so neither can leave a route out.
macro_rules! api_routes {
    ($($method:ident $path:literal => $handler:expr,)*) => {
        /// Every route of the agent API below `/api`, as (method, path): what
        /// the OpenAPI description documents, no more and no less (a test
        /// holds one against the other).
        pub const API_ROUTES: &[(&str, &str)] = &[$((stringify!($method), $path)),*];

        /// The agent API (below `/api`).
        fn api_router() -> Router<AppState> {
            Router::new()$(.route($path, axum::routing::$method($handler)))*
        }
    };
}

api_routes! {
    post "/session" => api::sign_in,
    delete "/session" => api::sign_out,
    get "/me" => api::me,
    get "/agents" => api::agents,
    post "/presence" => api::presence,
    get "/conversations" => api::list,
    get "/conversations/{id}" => api::conversation,
    post "/conversations/{id}/claim" => api::claim,
    post "/conversations/{id}/assign" => api::assign,
    post "/conversations/{id}/transfer" => api::transfer,
    post "/conversations/{id}/release" => api::release,
    post "/conversations/{id}/reply" => api::reply,
    post "/conversations/{id}/messages/{message_id}/resend" => api::resend,
    post "/conversations/{id}/notes" => api::note,
    post "/conversations/{id}/tags" => api::tags,
    post "/conversations/{id}/status" => api::status,
    post "/conversations/{id}/priority" => api::priority,
    put "/conversations/{id}/lease" => api::take_lease,
    delete "/conversations/{id}/lease" => api::drop_lease,
    post "/conversations/{id}/viewing" => api::viewing,
    get "/search" => api::search,
    get "/contacts/{id}" => api::contact,
    get "/metrics" => api::metrics,
    get "/live" => api::live,
    get "/events" => live::events,
    get "/templates" => api::templates,
    get "/dead-letters" => api::dead_letters,
    post "/dead-letters/{id}/replay" => api::replay_dead_letter,
    get "/openapi.json" => openapi::openapi_json,
}

/// The whole application: webhooks, agent API, live events, web inbox,
/// each route behind the HTTP edge ([`http::harden`]).
pub fn router(state: AppState, config: &config::ServerConfig) -> Router {
    let api = api_router().with_state(state.clone());
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
