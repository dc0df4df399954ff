//! The agent API: JSON over the [`Inbox`], one handler per action. Every
//! action carries the conversation version the agent saw (`version`) and
//! an `Idempotency-Key` header; a repeated key gets the first answer again.

use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use inbox_core::metrics::{LiveQuery, MetricsQuery};
use inbox_core::model::{Agent, Content, ConversationStatus, Presence, Priority, Role};
use inbox_core::query::{Cursor, SortOrder};
use inbox_core::{
    Actor, AgentId, Assignee, ChannelId, ContactId, ConversationId, Reply, TeamId, View, ViewQuery,
};

use super::auth::{self, COOKIE};
use super::error::{ApiError, ApiResult};
use super::AppState;

// ------------------------------------------------------------------ session

/// The signed-in agent of a request.
#[derive(Debug, Clone)]
pub struct Session(pub Actor);

impl FromRequestParts<AppState> for Session {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = auth::token(&parts.headers).ok_or_else(ApiError::unauthenticated)?;
        state
            .auth
            .actor(&token, state.now())
            .map(Session)
            .ok_or_else(ApiError::unauthenticated)
    }
}

/// Sign-in form.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct SignIn {
    /// Agent id.
    pub agent: String,
    /// Password.
    pub password: String,
}

/// An agent as the API shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AgentView {
    /// Id.
    pub id: AgentId,
    /// Name.
    pub name: String,
    /// Role: `agent`, `supervisor` or `admin`.
    pub role: Role,
    /// Teams.
    pub teams: Vec<TeamId>,
    /// Presence: `online`, `away` or `offline`.
    pub presence: Presence,
    /// Capacity (0: unlimited).
    pub capacity: u32,
}

impl From<Agent> for AgentView {
    fn from(a: Agent) -> Self {
        Self {
            id: a.id,
            name: a.name,
            role: a.role,
            teams: a.teams,
            presence: a.presence,
            capacity: a.capacity,
        }
    }
}

/// `POST /api/session`: signs in; sets the session cookie and returns the
/// agent and the token (for API clients: `Authorization: Bearer`).
#[utoipa::path(post, path = "/api/session", tag = "session", request_body = SignIn, responses((status = 200, description = "Signed in; sets the `inbox_session` cookie; body `{agent, token}`"), (status = 401, body = ApiError)))]
pub async fn sign_in(State(s): State<AppState>, Json(form): Json<SignIn>) -> ApiResult<Response> {
    let auth = s.auth.clone();
    let now = s.now();
    let agent = form.agent.clone();
    let token = tokio::task::spawn_blocking(move || auth.sign_in(&agent, &form.password, now))
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "bad_credentials",
                "unknown agent or wrong password",
            )
        })?;
    let tenant = s.auth_tenant();
    let agent = s
        .inbox
        .ports()
        .store
        .agent(&tenant, &AgentId::new(&form.agent)?)
        .await?;
    let cookie = format!("{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict");
    Ok((
        [(header::SET_COOKIE, cookie)],
        Json(serde_json::json!({ "agent": AgentView::from(agent), "token": token })),
    )
        .into_response())
}

/// `DELETE /api/session`: signs out.
#[utoipa::path(delete, path = "/api/session", tag = "session", responses((status = 204, description = "Signed out")))]
pub async fn sign_out(State(s): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(t) = auth::token(&headers) {
        s.auth.sign_out(&t);
    }
    (
        [(
            header::SET_COOKIE,
            format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"),
        )],
        StatusCode::NO_CONTENT,
    )
        .into_response()
}

/// `GET /api/me`.
#[utoipa::path(get, path = "/api/me", tag = "session", responses((status = 200, body = AgentView), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError), (status = 409, body = ApiError, description = "conflict, already_owned, lease_held, window_closed, duplicate")))]
pub async fn me(State(s): State<AppState>, Session(a): Session) -> ApiResult<Json<AgentView>> {
    Ok(Json(
        s.inbox
            .ports()
            .store
            .agent(&a.tenant, &a.agent)
            .await?
            .into(),
    ))
}

/// `GET /api/agents`: the tenant's agents (names, presence, capacity).
#[utoipa::path(get, path = "/api/agents", tag = "agents", responses((status = 200, body = Vec<AgentView>), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError), (status = 409, body = ApiError, description = "conflict, already_owned, lease_held, window_closed, duplicate")))]
pub async fn agents(
    State(s): State<AppState>,
    Session(a): Session,
) -> ApiResult<Json<Vec<AgentView>>> {
    let all = s.inbox.ports().store.agents(&a.tenant).await?;
    Ok(Json(all.into_iter().map(AgentView::from).collect()))
}

// -------------------------------------------------------------------- views

/// Inbox view parameters.
#[derive(Debug, Deserialize, Default, utoipa::ToSchema, utoipa::IntoParams)]
pub struct ListParams {
    /// `mine`, `unassigned`, `team` (with `team`) or `all` (default).
    pub view: Option<String>,
    /// The team of `view=team`.
    pub team: Option<String>,
    /// Comma-separated statuses (default: the active ones).
    pub status: Option<String>,
    /// Only this number.
    pub channel: Option<String>,
    /// Only this tag.
    pub tag: Option<String>,
    /// `latest_activity` (default), `oldest_activity`, `waiting_longest`,
    /// `priority`, `newest`.
    pub sort: Option<String>,
    /// The `next` cursor of the previous page.
    pub after: Option<String>,
    /// Page size (default 50).
    pub limit: Option<u32>,
}

fn enum_param<T: serde::de::DeserializeOwned>(field: &str, v: &str) -> ApiResult<T> {
    serde_json::from_value(serde_json::Value::String(v.to_string()))
        .map_err(|_| ApiError::bad_request(format!("{field}: unknown value {v:?}")))
}

impl ListParams {
    fn query(&self) -> ApiResult<ViewQuery> {
        let view = match self.view.as_deref().unwrap_or("all") {
            "mine" => View::Mine,
            "unassigned" => View::Unassigned,
            "all" => View::All,
            "team" => View::Team(TeamId::new(
                self.team
                    .as_deref()
                    .ok_or_else(|| ApiError::bad_request("view=team needs team"))?,
            )?),
            other => return Err(ApiError::bad_request(format!("view: unknown {other:?}"))),
        };
        let mut q = ViewQuery::new(view);
        if let Some(st) = &self.status {
            q.statuses = st
                .split(',')
                .filter(|x| !x.is_empty())
                .map(|x| enum_param::<ConversationStatus>("status", x))
                .collect::<ApiResult<_>>()?;
        }
        if let Some(c) = &self.channel {
            q.channel = Some(ChannelId::new(c)?);
        }
        if let Some(t) = &self.tag {
            q.tag = Some(t.clone());
        }
        if let Some(sort) = &self.sort {
            q.sort = enum_param::<SortOrder>("sort", sort)?;
        }
        if let Some(after) = &self.after {
            q.after = Some(enum_param::<Cursor>("after", after)?);
        }
        if let Some(l) = self.limit {
            q.limit = l;
        }
        Ok(q)
    }
}

/// A page of conversations with their contacts (so a list can show
/// names without a request per row).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ConversationPage {
    /// The conversations.
    pub items: Vec<inbox_core::model::Conversation>,
    /// Where the next page starts (pass as `after`).
    pub next: Option<Cursor>,
    /// Their contacts, by id.
    pub contacts: HashMap<ContactId, inbox_core::model::Contact>,
    /// For a search: the message that matched, by conversation.
    #[serde(skip_serializing_if = "HashMap::is_empty")]
    pub matched: HashMap<ConversationId, inbox_core::model::Message>,
}

async fn with_contacts(
    s: &AppState,
    a: &Actor,
    page: inbox_core::Page<inbox_core::model::Conversation>,
) -> ApiResult<Json<ConversationPage>> {
    let mut contacts = HashMap::new();
    for c in &page.items {
        if !contacts.contains_key(&c.contact) {
            let k = s.inbox.ports().store.contact(&a.tenant, &c.contact).await?;
            contacts.insert(c.contact.clone(), k);
        }
    }
    Ok(Json(ConversationPage {
        items: page.items,
        next: page.next,
        contacts,
        matched: HashMap::new(),
    }))
}

/// `GET /api/conversations`: a page of an inbox view.
#[utoipa::path(get, path = "/api/conversations", tag = "conversations", params(ListParams), responses((status = 200, body = ConversationPage), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError), (status = 409, body = ApiError, description = "conflict, already_owned, lease_held, window_closed, duplicate")))]
pub async fn list(
    State(s): State<AppState>,
    Session(a): Session,
    Query(p): Query<ListParams>,
) -> ApiResult<Json<ConversationPage>> {
    let page = s.inbox.list(&a, &p.query()?).await?;
    with_contacts(&s, &a, page).await
}

/// Search parameters: the text and the view's.
#[derive(Debug, Deserialize, utoipa::ToSchema, utoipa::IntoParams)]
pub struct SearchParams {
    /// What to look for.
    pub q: String,
    /// The view and filters.
    #[serde(flatten)]
    #[param(inline)]
    pub list: ListParams,
}

/// `GET /api/search?q=`: conversations matching text, within what the agent
/// may see.
#[utoipa::path(get, path = "/api/search", tag = "conversations", params(SearchParams), responses((status = 200, body = ConversationPage), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError), (status = 409, body = ApiError, description = "conflict, already_owned, lease_held, window_closed, duplicate")))]
pub async fn search(
    State(s): State<AppState>,
    Session(a): Session,
    Query(p): Query<SearchParams>,
) -> ApiResult<Json<ConversationPage>> {
    let hits = s.inbox.search(&a, &p.q, &p.list.query()?).await?;
    let mut matched = HashMap::new();
    let mut items = Vec::with_capacity(hits.items.len());
    for h in hits.items {
        if let Some(m) = h.message {
            matched.insert(h.conversation.id.clone(), m);
        }
        items.push(h.conversation);
    }
    let page = inbox_core::Page {
        items,
        next: hits.next,
    };
    let Json(mut out) = with_contacts(&s, &a, page).await?;
    out.matched = matched;
    Ok(Json(out))
}

/// `GET /api/templates`: the approved templates.
#[utoipa::path(get, path = "/api/templates", tag = "conversations", responses((status = 200, body = Vec<super::config::TemplateConfig>), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError), (status = 409, body = ApiError, description = "conflict, already_owned, lease_held, window_closed, duplicate")))]
pub async fn templates(
    State(s): State<AppState>,
    Session(_): Session,
) -> Json<Vec<super::config::TemplateConfig>> {
    Json(s.templates.as_ref().clone())
}

/// `GET /api/conversations/{id}`: the conversation with its messages,
/// notes, timeline, SLA state and customer context.
#[utoipa::path(get, path = "/api/conversations/{id}", tag = "conversations", params(("id" = String, Path, description = "Conversation id")), responses((status = 200, description = "The conversation, its contact, messages and notes, timeline and customer context", body = inbox_core::ConversationDetail), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError), (status = 409, body = ApiError, description = "conflict, already_owned, lease_held, window_closed, duplicate")))]
pub async fn conversation(
    State(s): State<AppState>,
    Session(a): Session,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let detail = s.inbox.conversation(&a, &ConversationId::new(id)?).await?;
    Ok(Json(detail).into_response())
}

/// `GET /api/contacts/{id}`: a contact and their conversations.
#[utoipa::path(get, path = "/api/contacts/{id}", tag = "contacts", params(("id" = String, Path, description = "Contact id")), responses((status = 200, description = "The contact and their conversations", body = inbox_core::ContactDetail), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError), (status = 409, body = ApiError, description = "conflict, already_owned, lease_held, window_closed, duplicate")))]
pub async fn contact(
    State(s): State<AppState>,
    Session(a): Session,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let detail = s.inbox.contact(&a, &ContactId::new(id)?).await?;
    Ok(Json(detail).into_response())
}

// ------------------------------------------------------------------ actions

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

/// Presence form.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct PresenceForm {
    /// `online`, `away` or `offline`.
    pub presence: Presence,
}

/// `POST /api/presence`.
#[utoipa::path(post, path = "/api/presence", tag = "agents", request_body = PresenceForm, responses((status = 200, description = "The events recorded", body = Vec<inbox_core::Event>), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError), (status = 409, body = ApiError, description = "conflict, already_owned, lease_held, window_closed, duplicate")))]
pub async fn presence(
    State(s): State<AppState>,
    Session(a): Session,
    Json(f): Json<PresenceForm>,
) -> ApiResult<Response> {
    let events = s.inbox.set_presence(&a, f.presence).await?;
    Ok(Json(events).into_response())
}

// ------------------------------------------------------------------ reports

/// Report parameters.
#[derive(Debug, Deserialize, utoipa::ToSchema, utoipa::IntoParams)]
pub struct MetricsParams {
    /// Conversations opened from ...
    pub from: DateTime<Utc>,
    /// ... to.
    pub to: DateTime<Utc>,
    /// Only this number.
    pub channel: Option<String>,
    /// Only this team.
    pub team: Option<String>,
    /// Only this owner.
    pub agent: Option<String>,
    /// Only this tag.
    pub tag: Option<String>,
    /// Missed after this many seconds without an answer (default 1800).
    pub missed_after_secs: Option<u64>,
}

/// `GET /api/metrics`: the report (supervisors and admins).
#[utoipa::path(get, path = "/api/metrics", tag = "reports", params(MetricsParams), responses((status = 200, description = "The report", body = inbox_core::metrics::MetricsReport), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError), (status = 409, body = ApiError, description = "conflict, already_owned, lease_held, window_closed, duplicate")))]
pub async fn metrics(
    State(s): State<AppState>,
    Session(a): Session,
    Query(p): Query<MetricsParams>,
) -> ApiResult<Response> {
    let q = MetricsQuery {
        from: p.from,
        to: p.to,
        channel: p.channel.map(ChannelId::new).transpose()?,
        team: p.team.map(TeamId::new).transpose()?,
        agent: p.agent.map(AgentId::new).transpose()?,
        tag: p.tag,
        now: s.now(),
        missed_after: Duration::from_secs(p.missed_after_secs.unwrap_or(1800)),
    };
    Ok(Json(s.inbox.metrics(&a, q).await?).into_response())
}

/// Live snapshot parameters.
#[derive(Debug, Deserialize, utoipa::ToSchema, utoipa::IntoParams)]
pub struct LiveParams {
    /// Only this number.
    pub channel: Option<String>,
    /// Only this team.
    pub team: Option<String>,
}

/// `GET /api/live`: the live snapshot (supervisors and admins).
#[utoipa::path(get, path = "/api/live", tag = "reports", params(LiveParams), responses((status = 200, description = "The live snapshot", body = inbox_core::metrics::LiveSnapshot), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError), (status = 409, body = ApiError, description = "conflict, already_owned, lease_held, window_closed, duplicate")))]
pub async fn live(
    State(s): State<AppState>,
    Session(a): Session,
    Query(p): Query<LiveParams>,
) -> ApiResult<Response> {
    let q = LiveQuery {
        channel: p.channel.map(ChannelId::new).transpose()?,
        team: p.team.map(TeamId::new).transpose()?,
        now: s.now(),
    };
    Ok(Json(s.inbox.live_snapshot(&a, q).await?).into_response())
}
