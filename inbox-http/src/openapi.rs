//! The agent API's OpenAPI description, generated from the handlers and
//! forms (utoipa) and served at `/api/openapi.json`, so a BSP can build its
//! own front end. The core's types (conversations, messages, events,
//! reports) are described from their definitions (the core's `openapi`
//! feature).

use axum::Json;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::api;
use super::error::ApiError;
use super::live;

/// The description.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "inbox agent API",
        description = "A shared WhatsApp inbox over HTTP: sign in, work conversations, follow live events. Every action takes the conversation `version` the agent saw and an `Idempotency-Key` header; errors are `{code, message, details}` with a stable `code`."
    ),
    paths(
        api::sign_in, api::sign_out, api::me, api::agents, api::presence,
        api::list, api::start_conversation, api::counts, api::search, api::templates, api::template, api::sync_templates, api::conversation, api::mark_read,
        api::contact, api::put_contact, api::contact_context,
        api::connectors, api::put_credentials, api::check_connector,
        super::media::media,
        api::claim, api::assign, api::transfer, api::release, api::hand_to_bot, api::bots, api::csat, api::bot_report, api::import_contacts, api::broadcasts, api::create_broadcast, api::broadcast, api::broadcast_figures, api::steer_broadcast, api::thread, api::reply, api::attach, api::resend, api::note,
        api::tags, api::status, api::priority,
        api::take_lease, api::drop_lease, api::viewing,
        api::metrics, api::costs, api::price, api::live, api::dead_letters, api::replay_dead_letter, live::events, openapi_json,
        api::canned, api::render_canned, api::get_settings, api::put_settings, api::settings_history,
        api::settings_version, api::explain, api::teams, api::channels,
        api::platform::platform_tenants, api::platform::put_tenant, api::platform::platform_numbers,
        api::platform::put_number, api::platform::reseal,
        api::sessions, api::revoke_session, api::revoke_agent_sessions, api::set_password,
        api::api_keys, api::create_api_key, api::revoke_api_key, api::put_team, api::put_agent,
    ),
    components(schemas(
        ApiError, api::ConnectorView, api::CredentialView, api::CredentialsForm, api::CheckView, api::ContactForm, api::StartForm, api::TemplateView, api::TemplateForm, api::ParameterCount, api::SyncView, api::SignIn, api::AgentView, api::ConversationPage, api::ReadView,
        api::Versioned, api::Handoff, api::ReleaseForm, api::ThreadForm, api::ThreadMove, api::ReplyForm, api::NoteForm,
        api::TagsForm, api::StatusForm, api::PriorityForm, api::ViewingForm, api::PresenceForm,
        api::SettingsView, api::SettingsForm, api::DocumentForm, api::VersionView, api::UnderForm,
        api::SampleForm, api::ExplainForm, api::TeamForm, api::AgentForm, api::RenderedCanned, api::ChannelView, api::SignalView,
        api::platform::TenantForm, api::platform::TenantView, api::platform::NumberForm,
        api::platform::NumberView, api::platform::Resealed,
        api::Ended, api::PasswordForm, api::KeyForm, api::NewKey,
    )),
    modifiers(&Sessions),
    security(("session_cookie" = []), ("bearer" = [])),
)]
pub struct ApiDoc;

struct Sessions;

impl Modify for Sessions {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "session_cookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(super::auth::COOKIE))),
        );
        components.add_security_scheme(
            "operator",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// `GET /api/openapi.json`: this description.
#[utoipa::path(get, path = "/api/openapi.json", tag = "meta", security(()), responses(
    (status = 200, description = "The OpenAPI 3.1 description of this API", body = Object)))]
pub async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
