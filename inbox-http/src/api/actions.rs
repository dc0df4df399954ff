//! Actions on a conversation: claim, assign, transfer, release, reply,
//! send a message again, notes, tags, status, priority; reply leases and
//! viewing notices. Every action runs once per idempotency key.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::time::Duration;

use inbox_core::model::{Content, ConversationStatus, Direction, Message, Priority};
use inbox_core::ports::Lease;
use inbox_core::{Actor, AgentId, Assignee, ConversationId, MessageId, Reply, TeamId};

use super::idempotency::{self, RequestDigest, Seen};
use super::session::{Caller, On, Session};
use crate::error::{ApiError, ApiResult};
use crate::extract::{rejected, Json, Path};
use crate::AppState;

const KEY_HEADER: &str = "idempotency-key";

fn json_answer(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// An action request: the signed-in agent, the conversation of the path,
/// the `Idempotency-Key` header and the JSON form.
#[derive(Debug)]
pub struct Act<F> {
    /// Shared state.
    pub state: AppState,
    /// Who acts.
    pub actor: Actor,
    /// On which conversation.
    pub id: ConversationId,
    /// The path's other parameters (`message_id` ...).
    pub params: HashMap<String, String>,
    /// The request's idempotency key.
    pub key: String,
    /// The request's digest (agent, method, path, body), bound to the key.
    pub digest: RequestDigest,
    /// The form.
    pub form: F,
}

impl<F: serde::de::DeserializeOwned + Send> FromRequest<AppState> for Act<F> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let (head, req) = ActHead::read(req, state).await?;
        let (form, bytes) = json_form(req, state).await?;
        head.with(form, &bytes)
    }
}

/// The JSON form of `req`'s body, with the body's bytes (what the
/// request's digest binds).
pub(super) async fn json_form<F: serde::de::DeserializeOwned>(
    req: Request,
    state: &AppState,
) -> Result<(F, Bytes), ApiError> {
    let content_type = req.headers().get(header::CONTENT_TYPE).cloned();
    let bytes = Bytes::from_request(req, state)
        .await
        .map_err(|e| rejected(e.status(), e.body_text()))?;
    let mut json = Request::new(axum::body::Body::from(bytes.clone()));
    if let Some(ct) = content_type {
        json.headers_mut().insert(header::CONTENT_TYPE, ct);
    }
    let Json(form) = Json::<F>::from_request(json, state).await?;
    Ok((form, bytes))
}

/// A request's `Idempotency-Key` header: required, 1-200 characters.
pub(super) fn required_key(headers: &header::HeaderMap) -> Result<String, ApiError> {
    headers
        .get(KEY_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|k| !k.is_empty() && k.len() <= 200)
        .map(str::to_string)
        .ok_or_else(|| {
            ApiError::bad_request("the Idempotency-Key header is required (1-200 characters)")
        })
}

/// What every action request has before its body: the signed-in agent,
/// the path's conversation and other parameters, the `Idempotency-Key`,
/// and what the request's digest binds (method, path, query).
pub(super) struct ActHead {
    actor: Actor,
    id: String,
    params: HashMap<String, String>,
    key: String,
    target: String,
    method: String,
    state: AppState,
}

impl ActHead {
    /// Reads the head of `req`; returns it with the request (its body
    /// unread).
    pub(super) async fn read(req: Request, state: &AppState) -> Result<(Self, Request), ApiError> {
        let (mut parts, body) = req.into_parts();
        let Session(actor) = Session::from_request_parts(&mut parts, state).await?;
        let Path(mut params) =
            Path::<HashMap<String, String>>::from_request_parts(&mut parts, state).await?;
        let id = params
            .remove("id")
            .ok_or_else(|| ApiError::bad_request("the path names no conversation"))?;
        let key = required_key(&parts.headers)?;
        // Nested routers see the path without its prefix: the conversation
        // id is bound separately. The query is part of the request.
        let query = parts.uri.query().unwrap_or_default();
        let target = format!("{id}\n{}\n{query}", parts.uri.path());
        let head = Self {
            actor,
            id,
            params,
            key,
            target,
            method: parts.method.to_string(),
            state: state.clone(),
        };
        Ok((head, Request::from_parts(parts, body)))
    }

    /// The action request with its `form`, read from `body` (what the
    /// digest binds with the head).
    pub(super) fn with<F>(self, form: F, body: &[u8]) -> Result<Act<F>, ApiError> {
        let digest = idempotency::digest(&self.actor.agent, &self.method, &self.target, body);
        Ok(Act {
            id: ConversationId::new(self.id)?,
            state: self.state,
            actor: self.actor,
            params: self.params,
            key: self.key,
            digest,
            form,
        })
    }
}

impl<F> Act<F> {
    /// Runs the action once per idempotency key: the same request again
    /// gets the stored answer (errors included, except those worth
    /// retrying), once the agent is checked to still see the conversation;
    /// another request under the key is refused (see [`idempotency`]).
    pub(super) async fn once<T: Serialize>(
        self,
        act: impl AsyncFnOnce(&Self) -> ApiResult<T>,
    ) -> ApiResult<Response> {
        let (agent, key) = (&self.actor.agent, &self.key);
        let replayed = async |_: &str| self.still_visible().await;
        let acted = async || act(&self).await.map(|v| (StatusCode::OK, v));
        run_once(&self.state, agent, key, self.digest, replayed, acted).await
    }

    /// Fails unless the agent may (still) see the conversation: a replayed
    /// answer is not shown to someone who has lost sight of it.
    async fn still_visible(&self) -> ApiResult<()> {
        self.state
            .inbox
            .conversation_state(&self.actor, &self.id)
            .await?;
        Ok(())
    }

    /// The core's idempotency key for this request's reply, resend or note.
    pub(super) fn core_key(&self) -> String {
        idempotency::core_key(&self.actor.agent, &self.key)
    }

    /// Checks the outcome of a reply, note or resend: when the core
    /// replayed an earlier message under this key, it must be the one asked
    /// for now (after a restart the server's own memory of the key is gone;
    /// the stored message is the durable record): `asked` holds for it, and
    /// it is the resend of `resent` (`None`: not a resend at all).
    pub(super) async fn same_request(
        &self,
        outcome: inbox_core::ActionOutcome,
        resent: Option<&MessageId>,
        asked: impl FnOnce(&Message) -> bool,
    ) -> ApiResult<inbox_core::ActionOutcome> {
        if !outcome.replayed {
            return Ok(outcome);
        }
        let Some(message) = outcome.message.as_ref().filter(|m| asked(m)) else {
            return Err(idempotency::reused());
        };
        let from = self.state.inbox.resent_from(&self.actor, message).await?;
        if from.as_ref() != resent {
            return Err(idempotency::reused());
        }
        self.still_visible().await?;
        Ok(outcome)
    }

    /// A parameter of the path.
    fn param(&self, name: &str) -> ApiResult<&str> {
        self.params
            .get(name)
            .map(String::as_str)
            .ok_or_else(|| ApiError::bad_request(format!("the path has no {name}")))
    }
}

/// Runs a request once per idempotency key (`key` of `agent`, bound to
/// the request's `digest`): the same request again gets the stored answer
/// (errors included, except those worth retrying) once `replayed` accepts
/// it (given the stored answer: the agent may still see what it shows);
/// another request under the key is refused (see [`idempotency`]); a new
/// one is answered by `act` with its status.
pub(super) async fn run_once<T: Serialize>(
    state: &AppState,
    agent: &AgentId,
    key: &str,
    digest: RequestDigest,
    replayed: impl AsyncFnOnce(&str) -> ApiResult<()>,
    act: impl AsyncFnOnce() -> ApiResult<(StatusCode, T)>,
) -> ApiResult<Response> {
    let reservation =
        match state.idempotency.begin(agent, key, digest) {
            Seen::New(r) => r,
            Seen::Replay(status, body) => {
                replayed(&body).await?;
                return Ok(json_answer(status, body));
            }
            Seen::Reused => return Err(idempotency::reused()),
            Seen::InProgress => return Err(ApiError::new(
                StatusCode::CONFLICT,
                "idempotency_key_in_use",
                "a request with this Idempotency-Key is still being answered; retry in a moment",
            )),
        };
    let (status, body) = match act().await {
        Ok((status, v)) => (
            status,
            serde_json::to_string(&v).map_err(|e| {
                ApiError::internal(StatusCode::INTERNAL_SERVER_ERROR, "internal", &e)
            })?,
        ),
        // Worth retrying, or not this request's answer: not kept.
        Err(e) if e.status.is_server_error() || e.code == "idempotency_key_reused" => {
            return Err(e)
        }
        Err(e) => (e.status, serde_json::to_string(&e).unwrap_or_default()),
    };
    reservation.finish(status, body.clone());
    Ok(json_answer(status, body))
}

/// The core's refusal of a key already used on another conversation is a
/// reused key.
pub(super) fn key_error(e: inbox_core::Error) -> ApiError {
    match &e {
        inbox_core::Error::InvalidInput { field, .. } if field == "idempotency_key" => {
            idempotency::reused()
        }
        _ => e.into(),
    }
}

/// The version the agent saw.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct Versioned {
    /// Conversation version.
    pub version: u64,
}

/// Assign / transfer form.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct Handoff {
    /// Conversation version.
    pub version: u64,
    /// To this agent ...
    pub agent: Option<String>,
    /// ... or to this team's queue.
    pub team: Option<String>,
    /// Why (assign, release) or the handoff note (transfer).
    #[serde(default)]
    pub note: String,
}

impl Handoff {
    fn to(&self) -> ApiResult<Assignee> {
        match (&self.agent, &self.team) {
            (Some(a), None) => Ok(Assignee::Agent(AgentId::new(a)?)),
            (None, Some(t)) => Ok(Assignee::Team(TeamId::new(t)?)),
            _ => Err(ApiError::bad_request("give either agent or team")),
        }
    }
}

/// `POST /api/conversations/{id}/claim`.
#[utoipa::path(post, path = "/api/conversations/{id}/claim", tag = "actions", params(("id" = String, Path, description = "Conversation id"), ("Idempotency-Key" = String, Header, description = "Required; the same request again gets the first answer, another request under the key 422 idempotency_key_reused")), request_body = Versioned, responses((status = 200, description = "The conversation after the action, the message created, the events recorded, warnings", body = inbox_core::ActionOutcome), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError), (status = 409, body = ApiError, description = "conflict, already_owned, lease_held, window_closed, duplicate, idempotency_key_in_use"), (status = 422, body = ApiError, description = "invalid_input, idempotency_key_reused")))]
pub async fn claim(r: Act<Versioned>) -> ApiResult<Response> {
    r.once(async |r| Ok(r.state.inbox.claim(&r.actor, &r.id, r.form.version).await?))
        .await
}

/// Hand-to-bot form.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct ToBot {
    /// Conversation version.
    pub version: u64,
    /// The bot (an id of the tenant's `bots` settings).
    pub bot: String,
}

/// `POST /api/conversations/{id}/bot`: gives the conversation to a bot,
/// which answers the waiting customer at once (take it back with `claim`).
#[utoipa::path(post, path = "/api/conversations/{id}/bot", tag = "actions", params(("id" = String, Path, description = "Conversation id"), ("Idempotency-Key" = String, Header, description = "Required; the same request again gets the first answer, another request under the key 422 idempotency_key_reused")), request_body = ToBot, responses((status = 200, description = "The conversation after the action, the message created, the events recorded, warnings", body = inbox_core::ActionOutcome), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError), (status = 409, body = ApiError, description = "conflict, already_owned, lease_held, window_closed, duplicate, idempotency_key_in_use"), (status = 422, body = ApiError, description = "invalid_input (no such bot), idempotency_key_reused")))]
pub async fn hand_to_bot(r: Act<ToBot>) -> ApiResult<Response> {
    r.once(async |r| {
        let bot = AgentId::new(&r.form.bot)?;
        Ok(r.state
            .inbox
            .hand_to_bot(&r.actor, &r.id, r.form.version, &bot)
            .await?)
    })
    .await
}

/// `POST /api/conversations/{id}/assign`.
#[utoipa::path(post, path = "/api/conversations/{id}/assign", tag = "actions", params(("id" = String, Path, description = "Conversation id"), ("Idempotency-Key" = String, Header, description = "Required; the same request again gets the first answer, another request under the key 422 idempotency_key_reused")), request_body = Handoff, responses((status = 200, description = "The conversation after the action, the message created, the events recorded, warnings", body = inbox_core::ActionOutcome), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError), (status = 409, body = ApiError, description = "conflict, already_owned, lease_held, window_closed, duplicate, idempotency_key_in_use"), (status = 422, body = ApiError, description = "invalid_input, idempotency_key_reused")))]
pub async fn assign(r: Act<Handoff>) -> ApiResult<Response> {
    hand_over(r, false).await
}

/// `POST /api/conversations/{id}/transfer`.
#[utoipa::path(post, path = "/api/conversations/{id}/transfer", tag = "actions", params(("id" = String, Path, description = "Conversation id"), ("Idempotency-Key" = String, Header, description = "Required; the same request again gets the first answer, another request under the key 422 idempotency_key_reused")), request_body = Handoff, responses((status = 200, description = "The conversation after the action, the message created, the events recorded, warnings", body = inbox_core::ActionOutcome), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError), (status = 409, body = ApiError, description = "conflict, already_owned, lease_held, window_closed, duplicate, idempotency_key_in_use"), (status = 422, body = ApiError, description = "invalid_input, idempotency_key_reused")))]
pub async fn transfer(r: Act<Handoff>) -> ApiResult<Response> {
    hand_over(r, true).await
}

/// Assigns (the note is the reason) or transfers (the note is the handoff
/// note for the next owner) as the form says.
async fn hand_over(r: Act<Handoff>, transfer: bool) -> ApiResult<Response> {
    r.once(async |r| {
        let (f, inbox) = (&r.form, &r.state.inbox);
        let (to, note) = (f.to()?, &f.note);
        Ok(match transfer {
            true => inbox.transfer(&r.actor, &r.id, f.version, to, note).await?,
            false => inbox.assign(&r.actor, &r.id, f.version, to, note).await?,
        })
    })
    .await
}

/// Release form.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct ReleaseForm {
    /// Conversation version.
    pub version: u64,
    /// Why.
    #[serde(default)]
    pub reason: String,
}

/// `POST /api/conversations/{id}/release`.
#[utoipa::path(post, path = "/api/conversations/{id}/release", tag = "actions", params(("id" = String, Path, description = "Conversation id"), ("Idempotency-Key" = String, Header, description = "Required; the same request again gets the first answer, another request under the key 422 idempotency_key_reused")), request_body = ReleaseForm, responses((status = 200, description = "The conversation after the action, the message created, the events recorded, warnings", body = inbox_core::ActionOutcome), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError), (status = 409, body = ApiError, description = "conflict, already_owned, lease_held, window_closed, duplicate, idempotency_key_in_use"), (status = 422, body = ApiError, description = "invalid_input, idempotency_key_reused")))]
pub async fn release(r: Act<ReleaseForm>) -> ApiResult<Response> {
    r.once(async |r| {
        Ok(r.state
            .inbox
            .release(&r.actor, &r.id, r.form.version, &r.form.reason)
            .await?)
    })
    .await
}

/// Reply form: text, or a template (content JSON as the core defines it).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct ReplyForm {
    /// Conversation version.
    pub version: u64,
    /// Free-form text (needs the 24-hour window open).
    pub text: Option<String>,
    /// Any outbound content, e.g. a template (`{"type":"template",...}`).
    pub content: Option<Content>,
}

/// `POST /api/conversations/{id}/reply`: the `Idempotency-Key` also keys
/// the message in the store, so a retried request never sends twice, not
/// even after a restart.
#[utoipa::path(post, path = "/api/conversations/{id}/reply", tag = "actions", params(("id" = String, Path, description = "Conversation id"), ("Idempotency-Key" = String, Header, description = "Required; the same request again gets the first answer, another request under the key 422 idempotency_key_reused")), request_body = ReplyForm, responses((status = 200, description = "The conversation after the action, the message created, the events recorded, warnings", body = inbox_core::ActionOutcome), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError), (status = 409, body = ApiError, description = "conflict, already_owned, lease_held, window_closed, duplicate, idempotency_key_in_use"), (status = 422, body = ApiError, description = "invalid_input, idempotency_key_reused")))]
pub async fn reply(r: Act<ReplyForm>) -> ApiResult<Response> {
    r.once(async |r| {
        let content = match (&r.form.text, &r.form.content) {
            (Some(t), None) => Content::text(t.clone()),
            (None, Some(c)) => c.clone(),
            _ => return Err(ApiError::bad_request("give either text or content")),
        };
        let mut reply = Reply::text("", r.core_key());
        reply.content = content.clone();
        let outcome = r
            .state
            .inbox
            .reply(&r.actor, &r.id, r.form.version, reply)
            .await
            .map_err(key_error)?;
        r.same_request(outcome, None, |m| {
            m.direction == Direction::Outbound && m.content == content
        })
        .await
    })
    .await
}

/// `POST /api/conversations/{id}/messages/{message_id}/resend`: sends again
/// an outbound message that may not have been delivered (in doubt: the
/// message's `delivery.in_doubt_since` is set) or that failed, as a new
/// message with the same content. A message is sent again at most once:
/// the same request again gets that resend, any other 409 `invalid_state`.
/// The original is marked as sent again (a late status may still settle
/// it); the timeline records who sent it again (`message_resent`). The
/// `Idempotency-Key` also keys the new message in the store, so a retried
/// request never sends twice.
#[utoipa::path(post, path = "/api/conversations/{id}/messages/{message_id}/resend", tag = "actions", params(("id" = String, Path, description = "Conversation id"), ("message_id" = String, Path, description = "The outbound message in doubt or failed"), ("Idempotency-Key" = String, Header, description = "Required; the same request again gets the first answer, another request under the key 422 idempotency_key_reused")), request_body = Versioned, responses((status = 200, description = "The conversation after the action, the new message, the events recorded (`message_resent`, `reply_queued`), warnings", body = inbox_core::ActionOutcome), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError, description = "not_found: no such conversation or message"), (status = 409, body = ApiError, description = "invalid_state (the message is neither in doubt nor failed: nothing to send again), conflict, lease_held, window_closed, idempotency_key_in_use"), (status = 422, body = ApiError, description = "invalid_input (not an outbound message of this conversation), idempotency_key_reused")))]
pub async fn resend(r: Act<Versioned>) -> ApiResult<Response> {
    r.once(async |r| {
        let original = MessageId::new(r.param("message_id")?)?;
        let outcome = r
            .state
            .inbox
            .resend(&r.actor, &r.id, r.form.version, &original, &r.core_key())
            .await
            .map_err(key_error)?;
        r.same_request(outcome, Some(&original), |m| {
            m.direction == Direction::Outbound
        })
        .await
    })
    .await
}

/// Note form.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct NoteForm {
    /// Conversation version.
    pub version: u64,
    /// The note (`@agent` mentions notify).
    pub text: String,
}

/// `POST /api/conversations/{id}/notes`: an internal note, never sent.
#[utoipa::path(post, path = "/api/conversations/{id}/notes", tag = "actions", params(("id" = String, Path, description = "Conversation id"), ("Idempotency-Key" = String, Header, description = "Required; the same request again gets the first answer, another request under the key 422 idempotency_key_reused")), request_body = NoteForm, responses((status = 200, description = "The conversation after the action, the message created, the events recorded, warnings", body = inbox_core::ActionOutcome), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError), (status = 409, body = ApiError, description = "conflict, already_owned, lease_held, window_closed, duplicate, idempotency_key_in_use"), (status = 422, body = ApiError, description = "invalid_input, idempotency_key_reused")))]
pub async fn note(r: Act<NoteForm>) -> ApiResult<Response> {
    r.once(async |r| {
        let outcome = r
            .state
            .inbox
            .note(&r.actor, &r.id, r.form.version, &r.form.text, &r.core_key())
            .await
            .map_err(key_error)?;
        let text = Content::text(r.form.text.trim());
        r.same_request(outcome, None, |m| {
            m.direction == Direction::Note && m.content == text
        })
        .await
    })
    .await
}

/// Tags form.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct TagsForm {
    /// Conversation version.
    pub version: u64,
    /// Tags to add.
    #[serde(default)]
    pub add: Vec<String>,
    /// Tags to remove.
    #[serde(default)]
    pub remove: Vec<String>,
}

/// `POST /api/conversations/{id}/tags`.
#[utoipa::path(post, path = "/api/conversations/{id}/tags", tag = "actions", params(("id" = String, Path, description = "Conversation id"), ("Idempotency-Key" = String, Header, description = "Required; the same request again gets the first answer, another request under the key 422 idempotency_key_reused")), request_body = TagsForm, responses((status = 200, description = "The conversation after the action, the message created, the events recorded, warnings", body = inbox_core::ActionOutcome), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError), (status = 409, body = ApiError, description = "conflict, already_owned, lease_held, window_closed, duplicate, idempotency_key_in_use"), (status = 422, body = ApiError, description = "invalid_input, idempotency_key_reused")))]
pub async fn tags(r: Act<TagsForm>) -> ApiResult<Response> {
    r.once(async |r| {
        let add: Vec<&str> = r.form.add.iter().map(String::as_str).collect();
        let remove: Vec<&str> = r.form.remove.iter().map(String::as_str).collect();
        Ok(r.state
            .inbox
            .tag(&r.actor, &r.id, r.form.version, &add, &remove)
            .await?)
    })
    .await
}

/// Status form: a status, or snoozed with `until`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct StatusForm {
    /// Conversation version.
    pub version: u64,
    /// `open`, `pending`, `snoozed` (with `until`) or `resolved`.
    pub status: ConversationStatus,
    /// Until when a snooze lasts.
    pub until: Option<DateTime<Utc>>,
}

/// `POST /api/conversations/{id}/status`.
#[utoipa::path(post, path = "/api/conversations/{id}/status", tag = "actions", params(("id" = String, Path, description = "Conversation id"), ("Idempotency-Key" = String, Header, description = "Required; the same request again gets the first answer, another request under the key 422 idempotency_key_reused")), request_body = StatusForm, responses((status = 200, description = "The conversation after the action, the message created, the events recorded, warnings", body = inbox_core::ActionOutcome), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError), (status = 409, body = ApiError, description = "conflict, already_owned, lease_held, window_closed, duplicate, idempotency_key_in_use"), (status = 422, body = ApiError, description = "invalid_input, idempotency_key_reused")))]
pub async fn status(r: Act<StatusForm>) -> ApiResult<Response> {
    r.once(async |r| {
        let (inbox, f) = (&r.state.inbox, &r.form);
        Ok(match (f.status, f.until) {
            (ConversationStatus::Snoozed, Some(until)) => {
                inbox.snooze(&r.actor, &r.id, f.version, until).await?
            }
            (ConversationStatus::Snoozed, None) => {
                return Err(ApiError::bad_request("snoozed needs until"))
            }
            (st, _) => inbox.set_status(&r.actor, &r.id, f.version, st).await?,
        })
    })
    .await
}

/// Priority form.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct PriorityForm {
    /// Conversation version.
    pub version: u64,
    /// `low`, `normal`, `high`, `urgent`.
    pub priority: Priority,
}

/// `POST /api/conversations/{id}/priority`.
#[utoipa::path(post, path = "/api/conversations/{id}/priority", tag = "actions", params(("id" = String, Path, description = "Conversation id"), ("Idempotency-Key" = String, Header, description = "Required; the same request again gets the first answer, another request under the key 422 idempotency_key_reused")), request_body = PriorityForm, responses((status = 200, description = "The conversation after the action, the message created, the events recorded, warnings", body = inbox_core::ActionOutcome), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError), (status = 409, body = ApiError, description = "conflict, already_owned, lease_held, window_closed, duplicate, idempotency_key_in_use"), (status = 422, body = ApiError, description = "invalid_input, idempotency_key_reused")))]
pub async fn priority(r: Act<PriorityForm>) -> ApiResult<Response> {
    r.once(async |r| {
        Ok(r.state
            .inbox
            .set_priority(&r.actor, &r.id, r.form.version, r.form.priority)
            .await?)
    })
    .await
}

/// `PUT /api/conversations/{id}/lease`: takes (or renews) the reply lease,
/// so nobody else can reply meanwhile.
#[utoipa::path(put, path = "/api/conversations/{id}/lease", tag = "collision", params(("id" = String, Path, description = "Conversation id")), responses((status = 200, description = "The reply lease", body = inbox_core::ports::Lease), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError), (status = 409, body = ApiError, description = "conflict, already_owned, lease_held, window_closed, duplicate"), (status = 422, body = ApiError, description = "invalid_input")))]
pub async fn take_lease(on: On<ConversationId>) -> ApiResult<axum::Json<Lease>> {
    let lease = on
        .state
        .inbox
        .acquire_reply_lease(&on.actor, &on.id)
        .await?;
    Ok(axum::Json(lease))
}

/// `DELETE /api/conversations/{id}/lease`.
#[utoipa::path(delete, path = "/api/conversations/{id}/lease", tag = "collision", params(("id" = String, Path, description = "Conversation id")), responses((status = 204, description = "Released"), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError), (status = 409, body = ApiError, description = "conflict, already_owned, lease_held, window_closed, duplicate"), (status = 422, body = ApiError, description = "invalid_input")))]
pub async fn drop_lease(on: On<ConversationId>) -> ApiResult<StatusCode> {
    on.state
        .inbox
        .release_reply_lease(&on.actor, &on.id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Viewing form.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct ViewingForm {
    /// `viewing`, `typing` or `left`.
    pub state: inbox_core::ViewerState,
}

/// `POST /api/conversations/{id}/viewing`: tells the others ("Ana is
/// viewing", "Ana is replying"); lasts 30 seconds unless repeated.
#[utoipa::path(post, path = "/api/conversations/{id}/viewing", tag = "collision", params(("id" = String, Path, description = "Conversation id")), request_body = ViewingForm, responses((status = 200, description = "When the notice lapses", body = String), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError), (status = 409, body = ApiError, description = "conflict, already_owned, lease_held, window_closed, duplicate"), (status = 422, body = ApiError, description = "invalid_input")))]
pub async fn viewing(
    Caller(s, a): Caller,
    Path(id): Path<String>,
    Json(f): Json<ViewingForm>,
) -> ApiResult<Response> {
    let out = s
        .inbox
        .set_conversation_presence(
            &a,
            &ConversationId::new(id)?,
            f.state,
            Duration::from_secs(30),
        )
        .await?;
    Ok(axum::Json(out).into_response())
}
