//! Actions on a conversation: claim, assign, transfer, release, reply,
//! notes, tags, status, priority; reply leases and viewing notices. Every
//! action runs once per idempotency key.

use axum::extract::{FromRequest, FromRequestParts, Path, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use inbox_core::model::{Content, ConversationStatus, Priority};
use inbox_core::{Actor, AgentId, Assignee, ConversationId, Reply, TeamId};

use super::session::Session;
use crate::server::error::{ApiError, ApiResult};
use crate::server::AppState;

type AnswerKey = (AgentId, String);

/// Stored answers, and their keys oldest first (for eviction).
#[derive(Debug, Default)]
struct Answers {
    by_key: HashMap<AnswerKey, (StatusCode, String)>,
    order: VecDeque<AnswerKey>,
}

/// Answers kept for repeated idempotency keys (the latest `capacity`).
#[derive(Debug)]
pub struct Idempotency {
    answers: Mutex<Answers>,
    capacity: usize,
}

impl Idempotency {
    /// Keeps up to `capacity` answers.
    pub fn new(capacity: usize) -> Self {
        Self {
            answers: Mutex::new(Answers::default()),
            capacity,
        }
    }

    fn get(&self, agent: &AgentId, key: &str) -> Option<(StatusCode, String)> {
        let g = self.answers.lock().unwrap_or_else(PoisonError::into_inner);
        g.by_key.get(&(agent.clone(), key.to_string())).cloned()
    }

    fn put(&self, agent: &AgentId, key: &str, answer: (StatusCode, String)) {
        let mut g = self.answers.lock().unwrap_or_else(PoisonError::into_inner);
        let k = (agent.clone(), key.to_string());
        if g.by_key.insert(k.clone(), answer).is_none() {
            g.order.push_back(k);
        }
        while g.order.len() > self.capacity {
            if let Some(old) = g.order.pop_front() {
                g.by_key.remove(&old);
            }
        }
    }
}

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
    /// The request's idempotency key.
    pub key: String,
    /// The form.
    pub form: F,
}

impl<F: serde::de::DeserializeOwned + Send> FromRequest<AppState> for Act<F> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let (mut parts, body) = req.into_parts();
        let Session(actor) = Session::from_request_parts(&mut parts, state).await?;
        let Path(id) = Path::<String>::from_request_parts(&mut parts, state)
            .await
            .map_err(|e| ApiError::bad_request(e.body_text()))?;
        let key = parts
            .headers
            .get(KEY_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|k| !k.is_empty() && k.len() <= 200)
            .ok_or_else(|| {
                ApiError::bad_request("the Idempotency-Key header is required (1-200 characters)")
            })?
            .to_string();
        let Json(form) = Json::<F>::from_request(Request::from_parts(parts, body), state)
            .await
            .map_err(|e| ApiError::bad_request(e.body_text()))?;
        Ok(Self {
            state: state.clone(),
            actor,
            id: ConversationId::new(id)?,
            key,
            form,
        })
    }
}

impl<F> Act<F> {
    /// Runs the action once per idempotency key: a repeated key gets the
    /// stored answer (errors included, except those worth retrying).
    async fn once<T: Serialize>(
        self,
        act: impl AsyncFnOnce(&Self) -> ApiResult<T>,
    ) -> ApiResult<Response> {
        let cache = &self.state.idempotency;
        if let Some((status, body)) = cache.get(&self.actor.agent, &self.key) {
            return Ok(json_answer(status, body));
        }
        let (status, body) = match act(&self).await {
            Ok(v) => (
                StatusCode::OK,
                serde_json::to_string(&v).map_err(|e| {
                    ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string())
                })?,
            ),
            Err(e) if e.status.is_server_error() => return Err(e),
            Err(e) => (e.status, serde_json::to_string(&e).unwrap_or_default()),
        };
        cache.put(&self.actor.agent, &self.key, (status, body.clone()));
        Ok(json_answer(status, body))
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
#[utoipa::path(post, path = "/api/conversations/{id}/claim", tag = "actions", params(("id" = String, Path, description = "Conversation id"), ("Idempotency-Key" = String, Header, description = "Required; a repeated key gets the first answer")), request_body = Versioned, responses((status = 200, description = "The conversation after the action, the message created, the events recorded, warnings", body = inbox_core::ActionOutcome), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError), (status = 409, body = ApiError, description = "conflict, already_owned, lease_held, window_closed, duplicate")))]
pub async fn claim(r: Act<Versioned>) -> ApiResult<Response> {
    r.once(async |r| Ok(r.state.inbox.claim(&r.actor, &r.id, r.form.version).await?))
        .await
}

/// `POST /api/conversations/{id}/assign`.
#[utoipa::path(post, path = "/api/conversations/{id}/assign", tag = "actions", params(("id" = String, Path, description = "Conversation id"), ("Idempotency-Key" = String, Header, description = "Required; a repeated key gets the first answer")), request_body = Handoff, responses((status = 200, description = "The conversation after the action, the message created, the events recorded, warnings", body = inbox_core::ActionOutcome), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError), (status = 409, body = ApiError, description = "conflict, already_owned, lease_held, window_closed, duplicate")))]
pub async fn assign(r: Act<Handoff>) -> ApiResult<Response> {
    r.once(async |r| {
        let f = &r.form;
        Ok(r.state
            .inbox
            .assign(&r.actor, &r.id, f.version, f.to()?, &f.note)
            .await?)
    })
    .await
}

/// `POST /api/conversations/{id}/transfer`.
#[utoipa::path(post, path = "/api/conversations/{id}/transfer", tag = "actions", params(("id" = String, Path, description = "Conversation id"), ("Idempotency-Key" = String, Header, description = "Required; a repeated key gets the first answer")), request_body = Handoff, responses((status = 200, description = "The conversation after the action, the message created, the events recorded, warnings", body = inbox_core::ActionOutcome), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError), (status = 409, body = ApiError, description = "conflict, already_owned, lease_held, window_closed, duplicate")))]
pub async fn transfer(r: Act<Handoff>) -> ApiResult<Response> {
    r.once(async |r| {
        let f = &r.form;
        Ok(r.state
            .inbox
            .transfer(&r.actor, &r.id, f.version, f.to()?, &f.note)
            .await?)
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
#[utoipa::path(post, path = "/api/conversations/{id}/release", tag = "actions", params(("id" = String, Path, description = "Conversation id"), ("Idempotency-Key" = String, Header, description = "Required; a repeated key gets the first answer")), request_body = ReleaseForm, responses((status = 200, description = "The conversation after the action, the message created, the events recorded, warnings", body = inbox_core::ActionOutcome), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError), (status = 409, body = ApiError, description = "conflict, already_owned, lease_held, window_closed, duplicate")))]
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

/// `POST /api/conversations/{id}/reply`: the `Idempotency-Key` is also the
/// message's key, so a retried request never sends twice.
#[utoipa::path(post, path = "/api/conversations/{id}/reply", tag = "actions", params(("id" = String, Path, description = "Conversation id"), ("Idempotency-Key" = String, Header, description = "Required; a repeated key gets the first answer")), request_body = ReplyForm, responses((status = 200, description = "The conversation after the action, the message created, the events recorded, warnings", body = inbox_core::ActionOutcome), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError), (status = 409, body = ApiError, description = "conflict, already_owned, lease_held, window_closed, duplicate")))]
pub async fn reply(r: Act<ReplyForm>) -> ApiResult<Response> {
    r.once(async |r| {
        let content = match (&r.form.text, &r.form.content) {
            (Some(t), None) => Content::text(t.clone()),
            (None, Some(c)) => c.clone(),
            _ => return Err(ApiError::bad_request("give either text or content")),
        };
        let mut reply = Reply::text("", r.key.clone());
        reply.content = content;
        Ok(r.state
            .inbox
            .reply(&r.actor, &r.id, r.form.version, reply)
            .await?)
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
#[utoipa::path(post, path = "/api/conversations/{id}/notes", tag = "actions", params(("id" = String, Path, description = "Conversation id"), ("Idempotency-Key" = String, Header, description = "Required; a repeated key gets the first answer")), request_body = NoteForm, responses((status = 200, description = "The conversation after the action, the message created, the events recorded, warnings", body = inbox_core::ActionOutcome), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError), (status = 409, body = ApiError, description = "conflict, already_owned, lease_held, window_closed, duplicate")))]
pub async fn note(r: Act<NoteForm>) -> ApiResult<Response> {
    r.once(async |r| {
        Ok(r.state
            .inbox
            .note(&r.actor, &r.id, r.form.version, &r.form.text, &r.key)
            .await?)
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
#[utoipa::path(post, path = "/api/conversations/{id}/tags", tag = "actions", params(("id" = String, Path, description = "Conversation id"), ("Idempotency-Key" = String, Header, description = "Required; a repeated key gets the first answer")), request_body = TagsForm, responses((status = 200, description = "The conversation after the action, the message created, the events recorded, warnings", body = inbox_core::ActionOutcome), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError), (status = 409, body = ApiError, description = "conflict, already_owned, lease_held, window_closed, duplicate")))]
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
#[utoipa::path(post, path = "/api/conversations/{id}/status", tag = "actions", params(("id" = String, Path, description = "Conversation id"), ("Idempotency-Key" = String, Header, description = "Required; a repeated key gets the first answer")), request_body = StatusForm, responses((status = 200, description = "The conversation after the action, the message created, the events recorded, warnings", body = inbox_core::ActionOutcome), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError), (status = 409, body = ApiError, description = "conflict, already_owned, lease_held, window_closed, duplicate")))]
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
#[utoipa::path(post, path = "/api/conversations/{id}/priority", tag = "actions", params(("id" = String, Path, description = "Conversation id"), ("Idempotency-Key" = String, Header, description = "Required; a repeated key gets the first answer")), request_body = PriorityForm, responses((status = 200, description = "The conversation after the action, the message created, the events recorded, warnings", body = inbox_core::ActionOutcome), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError), (status = 409, body = ApiError, description = "conflict, already_owned, lease_held, window_closed, duplicate")))]
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
#[utoipa::path(put, path = "/api/conversations/{id}/lease", tag = "collision", params(("id" = String, Path, description = "Conversation id")), responses((status = 200, description = "The reply lease", body = inbox_core::ports::Lease), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError), (status = 409, body = ApiError, description = "conflict, already_owned, lease_held, window_closed, duplicate")))]
pub async fn take_lease(
    State(s): State<AppState>,
    Session(a): Session,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let lease = s
        .inbox
        .acquire_reply_lease(&a, &ConversationId::new(id)?)
        .await?;
    Ok(Json(lease).into_response())
}

/// `DELETE /api/conversations/{id}/lease`.
#[utoipa::path(delete, path = "/api/conversations/{id}/lease", tag = "collision", params(("id" = String, Path, description = "Conversation id")), responses((status = 204, description = "Released"), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError), (status = 409, body = ApiError, description = "conflict, already_owned, lease_held, window_closed, duplicate")))]
pub async fn drop_lease(
    State(s): State<AppState>,
    Session(a): Session,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    s.inbox
        .release_reply_lease(&a, &ConversationId::new(id)?)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Viewing form.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct ViewingForm {
    /// `viewing`, `typing` or `left`.
    pub state: inbox_core::ViewerState,
}

/// `POST /api/conversations/{id}/viewing`: tells the others ("Ana is
/// viewing", "Ana is replying"); lasts 30 seconds unless repeated.
#[utoipa::path(post, path = "/api/conversations/{id}/viewing", tag = "collision", params(("id" = String, Path, description = "Conversation id")), request_body = ViewingForm, responses((status = 200, description = "When the notice lapses", body = String), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError), (status = 409, body = ApiError, description = "conflict, already_owned, lease_held, window_closed, duplicate")))]
pub async fn viewing(
    State(s): State<AppState>,
    Session(a): Session,
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
    Ok(Json(out).into_response())
}
