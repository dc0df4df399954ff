//! Conversations the business starts: `POST /api/conversations` sends a
//! customer one of the tenant's templates first, once per idempotency key.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use inbox_core::model::TemplateFill;
use inbox_core::{
    ActionOutcome, Actor, ChannelId, ContactId, ConversationId, EventKind, StartConversation,
    StartTo,
};

use super::actions::{json_form, key_error, required_key, run_once};
use super::idempotency::{self, RequestDigest};
use super::session::Session;
use crate::error::{ApiError, ApiResult};
use crate::AppState;

/// A conversation to start: the number, the customer (exactly one of
/// `contact_id`, `wa_id`, `user_id`) and the template with its values.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartForm {
    /// The number to write from (a channel id, as `GET /api/channels`
    /// lists them).
    pub channel: String,
    /// A contact of the tenant ...
    #[serde(default)]
    pub contact_id: Option<String>,
    /// ... or a WhatsApp phone number with its country code (`+34 600 11
    /// 22 33`): its contact, made if the tenant has none ...
    #[serde(default)]
    pub wa_id: Option<String>,
    /// ... or a WhatsApp user id (BSUID): its contact, made if the tenant
    /// has none.
    #[serde(default)]
    pub user_id: Option<String>,
    /// The template (`name`, `language`) and its values (`header`, `body`,
    /// `buttons`), one per slot of `GET /api/templates/{name}/{language}`.
    pub template: TemplateFill,
}

impl StartForm {
    /// Whom the form names.
    fn to(&self) -> ApiResult<StartTo> {
        match (&self.contact_id, &self.wa_id, &self.user_id) {
            (Some(k), None, None) => Ok(StartTo::Contact(ContactId::new(k)?)),
            (None, Some(w), None) => Ok(StartTo::WaId(w.clone())),
            (None, None, Some(u)) => Ok(StartTo::UserId(u.clone())),
            _ => Err(ApiError::bad_request(
                "give exactly one of contact_id, wa_id and user_id",
            )),
        }
    }
}

/// A start request: the signed-in agent, the `Idempotency-Key` header and
/// the form.
#[derive(Debug)]
pub struct Start {
    state: AppState,
    actor: Actor,
    key: String,
    digest: RequestDigest,
    form: StartForm,
}

impl FromRequest<AppState> for Start {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let (mut parts, body) = req.into_parts();
        let Session(actor) = Session::from_request_parts(&mut parts, state).await?;
        let key = required_key(&parts.headers)?;
        let (method, path) = (parts.method.to_string(), parts.uri.path().to_string());
        let (form, bytes) = json_form(Request::from_parts(parts, body), state).await?;
        let digest = idempotency::digest(&actor.agent, &method, &path, &bytes);
        Ok(Self {
            state: state.clone(),
            actor,
            key,
            digest,
            form,
        })
    }
}

impl Start {
    /// Starts the conversation the form asks for: 201 when it opened one,
    /// 200 when the template went to the customer's active conversation.
    async fn act(&self) -> ApiResult<(StatusCode, ActionOutcome)> {
        let start = StartConversation {
            channel: ChannelId::new(&self.form.channel)?,
            to: self.form.to()?,
            template: self.form.template.clone(),
            idempotency_key: idempotency::core_key(&self.actor.agent, &self.key),
        };
        let outcome = self
            .state
            .inbox
            .start_conversation(&self.actor, start)
            .await
            .map_err(key_error)?;
        let opened =
            (outcome.events.iter()).any(|e| matches!(e.kind, EventKind::ConversationOpened { .. }));
        let status = match opened {
            true => StatusCode::CREATED,
            false => StatusCode::OK,
        };
        Ok((status, outcome))
    }

    /// Fails unless the agent may still see the conversation an answer
    /// shows (a refusal shows none).
    async fn still_visible(&self, answer: &str) -> ApiResult<()> {
        let shown = serde_json::from_str::<serde_json::Value>(answer)
            .ok()
            .and_then(|v| v["conversation"]["id"].as_str().map(str::to_string));
        if let Some(id) = shown {
            let id = ConversationId::new(id)?;
            self.state
                .inbox
                .conversation_state(&self.actor, &id)
                .await?;
        }
        Ok(())
    }
}

/// `POST /api/conversations`: starts a conversation with a customer by
/// sending one of the tenant's approved templates, filled with the values
/// given. A new conversation (201) is pending, owned by the agent (by
/// nobody for an API key), and routed by the tenant's rules when the
/// customer answers; if the customer has an active conversation on the
/// number, the template is added to it as the agent's reply (200). The
/// `Idempotency-Key` also keys the message in the store: the same request
/// again gets the first answer and never sends twice.
#[utoipa::path(post, path = "/api/conversations", tag = "actions", params(("Idempotency-Key" = String, Header, description = "Required; the same request again gets the first answer, another request under the key 422 idempotency_key_reused")), request_body = StartForm, responses((status = 201, description = "A new conversation, pending, with the template queued: the conversation, the message, the events recorded", body = inbox_core::ActionOutcome), (status = 200, description = "The template added to the customer's active conversation as the agent's reply (or, after a restart, the same request again: `replayed`)", body = inbox_core::ActionOutcome), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError, description = "forbidden: the role, a marketing template to a customer who stopped them, another owner's conversation where only owners reply"), (status = 404, body = ApiError, description = "not_found: no such number or contact"), (status = 409, body = ApiError, description = "conflict, lease_held, idempotency_key_in_use"), (status = 422, body = ApiError, description = "invalid_content (the template unknown, not approved, or its values: `details.field` names the value, `body[0]`), invalid_input (`wa_id`, `user_id`), idempotency_key_reused")))]
pub async fn start_conversation(r: Start) -> ApiResult<Response> {
    let replayed = async |answer: &str| r.still_visible(answer).await;
    let acted = async || r.act().await;
    run_once(&r.state, &r.actor.agent, &r.key, r.digest, replayed, acted).await
}
