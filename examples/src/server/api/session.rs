//! Sign-in, sessions, the agents and their presence.

use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};

use inbox_core::model::{Agent, Presence, Role};
use inbox_core::{Actor, AgentId, TeamId};

use crate::server::auth::{self, COOKIE};
use crate::server::error::{ApiError, ApiResult};
use crate::server::AppState;

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
