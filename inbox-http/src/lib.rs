//! # inbox-http
//!
//! The shared inbox over HTTP, as an axum [`Router`] over an [`Inbox`]
//! that an embedder serves on its own or nests under any path of its own
//! service:
//!
//! - the agent API under `/api` (JSON; see [`api`] and [`API_ROUTES`]),
//!   every action idempotent ([`api::idempotency`]);
//! - live updates as server-sent events (`/api/events`, [`live`]);
//! - password sign-in (Argon2) with sessions ([`auth`]), guarded against
//!   password guessing ([`throttle`]);
//! - the API's OpenAPI 3.1 description at `/api/openapi.json` ([`openapi`]);
//! - the WhatsApp webhook of each number, `/webhooks/whatsapp/{channel}`
//!   (the handshake and signed notifications, acknowledged once stored;
//!   [`AppStateBuilder::webhook`]);
//! - the web inbox at `/` ([`web`]);
//! - the HTTP edge: timeouts, body limits, errors as JSON, security headers
//!   ([`http`], [`settings`]), and an accept loop with a header read
//!   timeout ([`http::serve`]).
//!
//! Everything goes through the library's public API: [`Inbox`] and the
//! WhatsApp adapter's axum router. The example server
//! (`cargo run --example server`) is a thin binary over this crate.
//!
//! ## Nesting the router in an embedder's app
//!
//! ```no_run
//! use axum::routing::get;
//! use axum::Router;
//! use inbox_core::{AgentId, ChannelId, Inbox, TenantId};
//! use inbox_http::auth::{hash_password, Accounts};
//! use inbox_http::{AppState, Settings};
//! use inbox_whatsapp::{Webhook, WebhookConfig};
//!
//! # async fn embed(inbox: Inbox) -> Result<(), Box<dyn std::error::Error>> {
//! // Who may sign in with a password (the tenant is provisioned already).
//! let accounts = Accounts::new(TenantId::new("acme")?)
//!     .with_agent(AgentId::new("ana")?, hash_password("correct horse")?)?;
//! let state = AppState::builder(inbox, accounts)
//!     .settings(Settings::default())
//!     .webhook(
//!         ChannelId::new("main")?,
//!         Webhook::new(WebhookConfig::for_numbers("verify-token", "app-secret", ["1000001"])),
//!     )
//!     .build();
//! // The embedder's own routes, with the inbox below `/inbox`
//! // (`/inbox/api/...`, `/inbox/webhooks/whatsapp/main`).
//! let app = Router::new()
//!     .route("/health", get(|| async { "ok" }))
//!     .nest("/inbox", inbox_http::router(state));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! axum::serve(listener, app).await?;
//! # Ok(())
//! # }
//! ```
//!
//! Sign-in limits attempts per client address, read from axum's
//! `ConnectInfo<SocketAddr>`: [`http::serve`] gives every request its peer
//! (and adds a header read timeout), as does [`axum::serve()`] on
//! `app.into_make_service_with_connect_info::<SocketAddr>()`; without it
//! every client counts as one address. The web
//! inbox's script calls the API at `/api` of its origin and the session
//! cookie has `Path=/`: nested under a path, the JSON API, live events and
//! webhooks work there, the web inbox only at the root.
#![forbid(unsafe_code)]

pub mod api;
pub mod auth;
pub mod client;
pub mod error;
pub mod extract;
pub mod http;
pub mod identity;
pub mod live;
pub mod media;
pub mod openapi;
pub mod secrets;
pub mod settings;
pub mod tenants;
pub mod throttle;
pub mod web;
pub mod webhooks;

use axum::Router;
use chrono::{DateTime, Utc};
use std::sync::Arc;

use inbox_core::{ChannelId, Inbox, TenantId};
use inbox_whatsapp::Webhook;

pub use auth::Accounts;
pub use settings::Settings;

/// What every handler shares. Cheap to clone (everything behind `Arc`s);
/// made with [`AppState::builder`].
#[derive(Clone)]
pub struct AppState {
    /// The inbox.
    pub inbox: Inbox,
    /// Password sign-in and its sessions (the built-in identity).
    pub auth: Arc<auth::Auth>,
    /// Who each request comes from: [`AppState::auth`] unless the
    /// embedder plugged in their own ([`AppStateBuilder::identity`]).
    pub identity: Arc<dyn identity::Identity>,
    /// Answers to repeated idempotency keys.
    pub idempotency: Arc<api::Idempotency>,
    /// The Graph API client template syncs read with and media files are
    /// fetched with (none: no sync, only media already kept is served).
    pub graph: Option<inbox_whatsapp::GraphClient>,
    /// Where media files are kept once fetched ([`media`]; none: fetched
    /// from Meta at every view).
    pub media: Option<Arc<dyn inbox_core::ports::MediaStore>>,
    /// Network and sign-in settings.
    pub settings: Arc<settings::Settings>,
    /// Sign-in rate limits and lockouts.
    pub throttle: Arc<throttle::Throttle>,
    /// The password hashes running at once.
    pub hashes: Arc<throttle::HashGate>,
    /// The WhatsApp webhook of each number, routed at
    /// `/webhooks/whatsapp/{channel}`.
    pub webhooks: Arc<Vec<(String, Webhook)>>,
    /// The platform operator's token (none: no operator API).
    pub operator: Option<Arc<api::platform::OperatorToken>>,
    /// The keys numbers' secrets are sealed with (none: no operator API,
    /// no run-time numbers).
    pub secrets: Option<secrets::SecretBox>,
    /// Which tenants are suspended (read from the store, kept a few
    /// seconds).
    pub tenants: Arc<tenants::TenantGate>,
    /// The webhooks of numbers added at run time (built from the store,
    /// kept a few seconds).
    pub numbers: Arc<webhooks::NumberHooks>,
    /// The recent events' JSON, shared by the live streams.
    pub live: Arc<live::EncodedEvents>,
    /// The tenants' CRM and shop connectors (none: not run; the
    /// connectors API then says so).
    pub connectors: Option<inbox_connectors::Connectors>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("auth", &self.auth)
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// A builder of the state for `inbox`, where `accounts` may sign in;
    /// no Graph client, no webhooks and the default [`Settings`] until told
    /// otherwise.
    pub fn builder(inbox: Inbox, accounts: Accounts) -> AppStateBuilder {
        AppStateBuilder {
            inbox,
            accounts,
            graph: None,
            media: None,
            settings: Settings::default(),
            webhooks: Vec::new(),
            identity: None,
            operator: None,
            secrets: None,
            connectors: None,
        }
    }

    /// The inbox's clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.inbox.now()
    }
}

/// Makes an [`AppState`]; see [`AppState::builder`].
pub struct AppStateBuilder {
    inbox: Inbox,
    accounts: Accounts,
    graph: Option<inbox_whatsapp::GraphClient>,
    media: Option<Arc<dyn inbox_core::ports::MediaStore>>,
    settings: Settings,
    webhooks: Vec<(String, Webhook)>,
    identity: Option<Arc<dyn identity::Identity>>,
    operator: Option<api::platform::OperatorToken>,
    secrets: Option<secrets::SecretBox>,
    connectors: Option<inbox_connectors::ConnectorOptions>,
}

impl std::fmt::Debug for AppStateBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppStateBuilder")
            .field("accounts", &self.accounts)
            .field("identity", &self.identity.is_some())
            .finish_non_exhaustive()
    }
}

impl AppStateBuilder {
    /// Who requests come from: the embedder's own sessions, tokens or
    /// certificates instead of the built-in password sessions (keep both
    /// with [`identity::AnyOf`]; the sign-in routes open built-in
    /// sessions).
    pub fn identity(mut self, identity: Arc<dyn identity::Identity>) -> Self {
        self.identity = Some(identity);
        self
    }

    /// The Graph API client `POST /api/templates/sync` reads the tenant's
    /// templates with (each account with its number's token: give the
    /// client a [`TokenSource`](inbox_whatsapp::TokenSource) such as
    /// [`StoredTokens`](secrets::StoredTokens) for numbers added at run
    /// time).
    pub fn graph(mut self, client: inbox_whatsapp::GraphClient) -> Self {
        self.graph = Some(client);
        self
    }

    /// Where the media proxy keeps the files it fetched from Meta
    /// (`GET /api/media/{message_id}`, [`media`]): a local directory or an
    /// object store (`inbox-media`'s `ObjectMediaStore`).
    pub fn media_store(mut self, store: Arc<dyn inbox_core::ports::MediaStore>) -> Self {
        self.media = Some(store);
        self
    }

    /// The platform operator's API (`/api/platform/...`: tenants, their
    /// numbers and secrets), for bearers of `token`, sealing secrets with
    /// `secrets`; numbers it adds receive webhooks at
    /// `/webhooks/whatsapp/{tenant}/{channel}`.
    pub fn operator(
        mut self,
        token: api::platform::OperatorToken,
        secrets: secrets::SecretBox,
    ) -> Self {
        self.operator = Some(token);
        self.secrets = Some(secrets);
        self
    }

    /// The keys secrets are sealed with at rest, without the operator's
    /// API: what tenants' connector credentials need.
    pub fn secrets(mut self, secrets: secrets::SecretBox) -> Self {
        self.secrets = Some(secrets);
        self
    }

    /// Runs the tenants' CRM and shop connectors (each tenant's
    /// `connectors` settings, its credentials sealed with the state's
    /// secret keys) as the inbox's customer context, replacing any set
    /// before; `options` say where the providers are and how hard to try.
    pub fn connectors(mut self, options: inbox_connectors::ConnectorOptions) -> Self {
        self.connectors = Some(options);
        self
    }

    /// The network and sign-in settings.
    pub fn settings(mut self, settings: Settings) -> Self {
        self.settings = settings;
        self
    }

    /// The WhatsApp webhook of number `channel`, routed at
    /// `/webhooks/whatsapp/{channel}`. Bind its configuration to that
    /// number alone ([`inbox_whatsapp::WebhookConfig::for_numbers`]), so the
    /// route speaks only for it: a body about another number, signed with
    /// this route's secret, is refused with 403.
    pub fn webhook(mut self, channel: ChannelId, webhook: Webhook) -> Self {
        let path = format!("/webhooks/whatsapp/{}", channel.as_str());
        self.webhooks.push((path, webhook));
        self
    }

    /// The WhatsApp webhook of a number of `tenant` (not the server's
    /// first one), routed at `/webhooks/whatsapp/{tenant}/{channel}`,
    /// bound as [`AppStateBuilder::webhook`] says.
    pub fn tenant_webhook(
        mut self,
        tenant: &TenantId,
        channel: &ChannelId,
        webhook: Webhook,
    ) -> Self {
        let path = format!("/webhooks/whatsapp/{tenant}/{channel}");
        self.webhooks.push((path, webhook));
        self
    }

    /// The state.
    pub fn build(self) -> AppState {
        let settings = self.settings;
        let auth = Arc::new(auth::Auth::new(
            self.accounts,
            settings.session_ttl,
            self.inbox.clone(),
        ));
        let limits = &settings.sign_in;
        let secrets = self
            .secrets
            .or_else(|| settings.operator.as_ref().map(|o| o.secrets.clone()))
            .or_else(|| settings.secrets.clone());
        let options = self.connectors.or_else(|| settings.connectors.clone());
        let connectors = options.map(|options| {
            let store = self.inbox.ports().store.clone();
            let opened = secrets::StoredConnectorSecrets::new(store.clone(), secrets.clone());
            let connectors = inbox_connectors::Connectors::new(
                store,
                Arc::new(opened),
                self.inbox.clock(),
                options,
            );
            self.inbox
                .set_customer_context(Arc::new(connectors.clone()));
            connectors
        });
        AppState {
            connectors,
            identity: self.identity.unwrap_or_else(|| auth.clone()),
            auth,
            idempotency: Arc::new(api::Idempotency::new(10_000)),
            graph: self.graph,
            media: self.media,
            throttle: Arc::new(throttle::Throttle::new(limits, self.inbox.clock())),
            hashes: Arc::new(throttle::HashGate::new(
                limits.concurrent_hashes,
                limits.waiting,
            )),
            webhooks: Arc::new(self.webhooks),
            operator: self
                .operator
                .or_else(|| settings.operator.as_ref().map(|o| o.token.clone()))
                .map(Arc::new),
            secrets,
            tenants: Arc::default(),
            numbers: Arc::default(),
            live: Arc::default(),
            settings: Arc::new(settings),
            inbox: self.inbox,
        }
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
    post "/conversations" => api::start_conversation,
    get "/counts" => api::counts,
    get "/conversations/{id}" => api::conversation,
    post "/conversations/{id}/read" => api::mark_read,
    post "/conversations/{id}/claim" => api::claim,
    post "/conversations/{id}/assign" => api::assign,
    post "/conversations/{id}/transfer" => api::transfer,
    post "/conversations/{id}/release" => api::release,
    post "/conversations/{id}/bot" => api::hand_to_bot,
    get "/bots" => api::bots,
    post "/conversations/{id}/thread" => api::thread,
    post "/conversations/{id}/reply" => api::reply,
    post "/conversations/{id}/attachments" => api::attach,
    post "/conversations/{id}/messages/{message_id}/resend" => api::resend,
    post "/conversations/{id}/notes" => api::note,
    post "/conversations/{id}/tags" => api::tags,
    post "/conversations/{id}/status" => api::status,
    post "/conversations/{id}/priority" => api::priority,
    put "/conversations/{id}/lease" => api::take_lease,
    delete "/conversations/{id}/lease" => api::drop_lease,
    post "/conversations/{id}/viewing" => api::viewing,
    get "/conversations/{id}/price" => api::price,
    get "/search" => api::search,
    get "/contacts/{id}" => api::contact,
    get "/contacts/{id}/context" => api::contact_context,
    put "/contacts/{id}" => api::put_contact,
    post "/contacts/import" => api::import_contacts,
    get "/broadcasts" => api::broadcasts,
    post "/broadcasts" => api::create_broadcast,
    get "/broadcasts/{id}" => api::broadcast,
    get "/broadcasts/{id}/figures" => api::broadcast_figures,
    post "/broadcasts/{id}/steer" => api::steer_broadcast,
    get "/media/{message_id}" => media::media,
    get "/metrics" => api::metrics,
    get "/costs" => api::costs,
    get "/csat" => api::csat,
    get "/bots/report" => api::bot_report,
    get "/live" => api::live,
    get "/events" => live::events,
    get "/templates" => api::templates,
    get "/templates/{name}/{language}" => api::template,
    post "/templates/sync" => api::sync_templates,
    get "/canned" => api::canned,
    get "/conversations/{id}/canned/{shortcut}" => api::render_canned,
    get "/settings" => api::get_settings,
    put "/settings" => api::put_settings,
    get "/settings/history" => api::settings_history,
    get "/settings/versions/{version}" => api::settings_version,
    post "/settings/explain" => api::explain,
    get "/connectors" => api::connectors,
    put "/connectors/{id}/credentials" => api::put_credentials,
    post "/connectors/{id}/check" => api::check_connector,
    get "/teams" => api::teams,
    get "/channels" => api::channels,
    put "/teams/{id}" => api::put_team,
    put "/agents/{id}" => api::put_agent,
    get "/sessions" => api::sessions,
    delete "/sessions/{id}" => api::revoke_session,
    delete "/agents/{id}/sessions" => api::revoke_agent_sessions,
    put "/agents/{id}/password" => api::set_password,
    get "/keys" => api::api_keys,
    post "/keys" => api::create_api_key,
    delete "/keys/{id}" => api::revoke_api_key,
    get "/dead-letters" => api::dead_letters,
    post "/dead-letters/{id}/replay" => api::replay_dead_letter,
    get "/openapi.json" => openapi::openapi_json,
    get "/platform/tenants" => api::platform::platform_tenants,
    put "/platform/tenants/{id}" => api::platform::put_tenant,
    get "/platform/tenants/{id}/numbers" => api::platform::platform_numbers,
    put "/platform/tenants/{id}/numbers/{channel}" => api::platform::put_number,
    post "/platform/secrets/reseal" => api::platform::reseal,
}

/// The whole application: the state's webhooks, the agent API, live
/// events, the web inbox, each route behind the HTTP edge
/// ([`http::harden`]), unknown paths included (404 `not_found`). Serve it
/// ([`http::serve`]) or nest it under a path of a larger app
/// ([`Router::nest`]).
pub fn router(state: AppState) -> Router {
    let api = api_router().with_state(state.clone());
    let mut app = Router::new()
        .nest("/api", api)
        .merge(web::router())
        .merge(webhooks::router(state.clone()));
    for (path, webhook) in state.webhooks.iter() {
        app = app.merge(inbox_whatsapp::axum::webhook_router(
            path,
            webhook.clone(),
            state.inbox.clone(),
        ));
    }
    // Its own fallback, so that nested under a path, the routes it does
    // not know below that path are answered like the others (JSON, the
    // security headers), not by the embedder's fallback.
    let app = app.fallback(|| async { axum::http::StatusCode::NOT_FOUND });
    http::harden(app, &state.settings)
}
