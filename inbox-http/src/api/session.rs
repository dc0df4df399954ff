//! Sign-in, sessions, the agents and their presence.

use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json as JsonAnswer;
use serde::{Deserialize, Serialize};

use inbox_core::model::{Agent, Presence, Role};
use inbox_core::{Actor, AgentId, TeamId, TenantId};

use crate::auth::{self, COOKIE};
use crate::client::Client;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Json, Path};
use crate::throttle::{Account, Address};
use crate::AppState;

/// The signed-in agent of a request.
#[derive(Debug, Clone)]
pub struct Session(pub Actor);

impl FromRequestParts<AppState> for Session {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let actor = state.identity.identify(parts).await?;
        state.tenants.admit(state, &actor.tenant).await?;
        let span = tracing::Span::current();
        span.record("tenant", actor.tenant.as_str());
        span.record("actor", actor.agent.as_str());
        Ok(Session(actor))
    }
}

/// The signed-in agent of a request, with the shared state: who asks, and
/// the inbox they ask.
#[derive(Debug)]
pub struct Caller(
    /// Shared state.
    pub AppState,
    /// Who asks.
    pub Actor,
);

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Session(actor) = Session::from_request_parts(parts, state).await?;
        Ok(Self(state.clone(), actor))
    }
}

/// A request about one entity of the path (`/{id}`): the shared state, the
/// signed-in agent and the id, checked like any id of its kind.
#[derive(Debug)]
pub struct On<Id> {
    /// Shared state.
    pub state: AppState,
    /// Who asks.
    pub actor: Actor,
    /// The id of the path.
    pub id: Id,
}

impl<Id> FromRequestParts<AppState> for On<Id>
where
    Id: TryFrom<String, Error = inbox_core::Error> + Send,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Caller(shared, actor) = Caller::from_request_parts(parts, state).await?;
        let Path(id) = Path::<String>::from_request_parts(parts, state).await?;
        Ok(Self {
            state: shared,
            actor,
            id: Id::try_from(id)?,
        })
    }
}

/// Sign-in form.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct SignIn {
    /// The workspace (tenant id); the server's default one when left out.
    pub tenant: Option<String>,
    /// Agent id.
    pub agent: String,
    /// Password.
    pub password: String,
}

/// An agent as the API shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AgentView {
    /// Their workspace (tenant).
    #[schema(value_type = String)]
    pub tenant: TenantId,
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
    /// Whether they may sign in and take work.
    pub active: bool,
    /// A service account (an API key's), not a person.
    pub service: bool,
}

impl From<Agent> for AgentView {
    fn from(a: Agent) -> Self {
        Self {
            tenant: a.tenant,
            id: a.id,
            name: a.name,
            role: a.role,
            teams: a.teams,
            presence: a.presence,
            capacity: a.capacity,
            active: a.active,
            service: a.service,
        }
    }
}

/// `POST /api/session`: signs in; sets the session cookie and returns the
/// agent and the token (for API clients: `Authorization: Bearer`).
/// Guessing is slowed down: attempts are rate limited per account and per
/// client address, repeated failures lock the account (and the address)
/// out for longer and longer, and only a few passwords are checked at once.
#[utoipa::path(post, path = "/api/session", tag = "session", request_body = SignIn, responses((status = 200, description = "Signed in; sets the `inbox_session` cookie; body `{agent, token}`"), (status = 401, body = ApiError), (status = 429, body = ApiError, description = "too_many_attempts (wait for `Retry-After` seconds) or sign_in_busy")))]
pub async fn sign_in(
    State(s): State<AppState>,
    client: Client,
    headers: HeaderMap,
    Json(form): Json<SignIn>,
) -> ApiResult<Response> {
    let tenant = match &form.tenant {
        Some(t) => TenantId::new(t.trim())?,
        None => s.auth.tenant().clone(),
    };
    let id = AgentId::new(form.agent.trim()).ok();
    let hash = match &id {
        Some(id) => s.auth.hash_of(&tenant, id).await,
        None => None,
    };
    let account = match (&id, &hash) {
        (Some(id), Some(_)) => Account::Agent(tenant.clone(), id.clone()),
        _ => Account::Unknown,
    };
    let address = Address::of(client.ip);
    s.throttle.admit(&account, address).map_err(|wait| {
        let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        refused(
            "too_many_attempts",
            format!("too many sign-in attempts; try again in {secs} s"),
            secs.max(1),
        )
    })?;
    let admitted = s.hashes.try_admit().ok_or_else(|| {
        refused(
            "sign_in_busy",
            "too many sign-ins at once; try again in a moment".into(),
            1,
        )
    })?;
    let password = form.password;
    let checked = admitted
        .run(move |memory| auth::Auth::check_password(hash.as_deref(), &password, memory))
        .await
        .ok_or_else(|| {
            ApiError::internal(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                &"password check",
            )
        })?;
    s.throttle.record(&account, address, checked);
    let bad = || {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "bad_credentials",
            "unknown agent or wrong password",
        )
    };
    let id = id.filter(|_| checked).ok_or_else(bad)?;
    let agent = s.inbox.me(&Actor::new(tenant.clone(), id.clone())).await?;
    s.tenants.admit(&s, &tenant).await?;
    let user_agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok());
    let token = s.auth.open_session(&tenant, &id, user_agent).await?;
    Ok((
        [(header::SET_COOKIE, cookie(&token, client, None))],
        axum::Json(serde_json::json!({ "agent": AgentView::from(agent), "token": token })),
    )
        .into_response())
}

/// 429 with `Retry-After`.
fn refused(code: &'static str, message: String, retry_after: u64) -> ApiError {
    let mut e = ApiError::new(StatusCode::TOO_MANY_REQUESTS, code, message);
    e.details = Some(serde_json::json!({ "retry_after_secs": retry_after }));
    e
}

/// The session cookie: `HttpOnly`, `SameSite=Strict`, and `Secure` when
/// the client came over TLS.
fn cookie(value: &str, client: Client, max_age: Option<u32>) -> String {
    let mut c = format!("{COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict");
    if client.https {
        c.push_str("; Secure");
    }
    if let Some(age) = max_age {
        c.push_str(&format!("; Max-Age={age}"));
    }
    c
}

/// `DELETE /api/session`: signs out (its live event streams end); the
/// agent's presence becomes `offline` unless another session of theirs
/// (another browser or device) is still live ([`inbox_core::Inbox::sign_out`]).
#[utoipa::path(delete, path = "/api/session", tag = "session", responses((status = 204, description = "Signed out; offline unless another session of the agent's is live")))]
pub async fn sign_out(State(s): State<AppState>, client: Client, headers: HeaderMap) -> Response {
    if let Some(t) = auth::token(&headers) {
        s.auth.sign_out(&t).await;
    }
    (
        [(header::SET_COOKIE, cookie("", client, Some(0)))],
        StatusCode::NO_CONTENT,
    )
        .into_response()
}

/// `GET /api/me`.
#[utoipa::path(get, path = "/api/me", tag = "session", responses((status = 200, body = AgentView), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError), (status = 409, body = ApiError, description = "conflict, already_owned, lease_held, window_closed, duplicate")))]
pub async fn me(Caller(s, a): Caller) -> ApiResult<JsonAnswer<AgentView>> {
    Ok(JsonAnswer(s.inbox.me(&a).await?.into()))
}

/// `GET /api/agents`: the tenant's agents (names, presence, capacity).
#[utoipa::path(get, path = "/api/agents", tag = "agents", responses((status = 200, body = Vec<AgentView>), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError), (status = 409, body = ApiError, description = "conflict, already_owned, lease_held, window_closed, duplicate")))]
pub async fn agents(Caller(s, a): Caller) -> ApiResult<JsonAnswer<Vec<AgentView>>> {
    let all = s.inbox.agents(&a).await?;
    Ok(JsonAnswer(all.into_iter().map(AgentView::from).collect()))
}

/// Presence form.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct PresenceForm {
    /// `online`, `away` or `offline`.
    pub presence: Presence,
}

/// `POST /api/presence`.
#[utoipa::path(post, path = "/api/presence", tag = "agents", request_body = PresenceForm, responses((status = 200, description = "The events recorded", body = Vec<inbox_core::Event>), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError), (status = 409, body = ApiError, description = "conflict, already_owned, lease_held, window_closed, duplicate")))]
pub async fn presence(Caller(s, a): Caller, Json(f): Json<PresenceForm>) -> ApiResult<Response> {
    let events = s.inbox.set_presence(&a, f.presence).await?;
    Ok(JsonAnswer(events).into_response())
}
