//! Who may get in: signed-in sessions (one's own; an admin's view of
//! everyone's), passwords, and API keys for integrations (service
//! accounts with a role; the key is shown once, stored as a digest,
//! revocable). The roles are the core's (`ManageAccess`: admins).

use axum::extract::Query;
use axum::http::{HeaderMap, StatusCode};
use axum::Json as JsonAnswer;
use serde::{Deserialize, Serialize};

use inbox_core::model::Role;
use inbox_core::ports::{ApiKeyRecord, SessionRecord, TokenHash};
use inbox_core::{AgentId, ApiKeyId, Secret};

use super::idempotency::{self, Seen};
use super::session::{Caller, On};
use crate::auth;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Json, Path};

/// Session listing parameters.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct SessionParams {
    /// Another agent's sessions (admins); one's own when left out.
    pub agent: Option<String>,
}

/// `GET /api/sessions`: signed-in sessions, newest first: one's own, or
/// (admins) an agent's. Each has an `id` to revoke it by.
#[utoipa::path(get, path = "/api/sessions", tag = "access", params(SessionParams), responses((status = 200, body = Vec<Object>), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn sessions(
    Caller(s, a): Caller,
    Query(p): Query<SessionParams>,
) -> ApiResult<JsonAnswer<Vec<SessionRecord>>> {
    let agent = match p.agent {
        Some(id) => AgentId::new(id)?,
        None => a.agent.clone(),
    };
    Ok(JsonAnswer(s.inbox.sessions(&a, Some(&agent)).await?))
}

/// `DELETE /api/sessions/{id}`: ends a session (one's own, or any of the
/// tenant's for admins), on every instance.
#[utoipa::path(delete, path = "/api/sessions/{id}", tag = "access", params(("id" = String, Path, description = "The session's id, as listed")), responses((status = 204, description = "Ended"), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError), (status = 422, body = ApiError)))]
pub async fn revoke_session(Caller(s, a): Caller, Path(id): Path<String>) -> ApiResult<StatusCode> {
    let hash = TokenHash::from_hex(&id)?;
    s.inbox.revoke_session(&a, &hash).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// How many sessions ended.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Ended {
    /// Sessions ended.
    pub ended: u64,
}

/// `DELETE /api/agents/{id}/sessions`: signs an agent out everywhere
/// (admins).
#[utoipa::path(delete, path = "/api/agents/{id}/sessions", tag = "access", params(("id" = String, Path, description = "Agent id")), responses((status = 200, body = Ended), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError)))]
pub async fn revoke_agent_sessions(on: On<AgentId>) -> ApiResult<JsonAnswer<Ended>> {
    let ended = on.state.inbox.revoke_sessions(&on.actor, &on.id).await?;
    Ok(JsonAnswer(Ended { ended }))
}

/// A new password.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordForm {
    /// The password (at least 10 characters).
    #[schema(value_type = String)]
    pub password: Secret,
    /// One's current password: required to change one's own (a session
    /// left open elsewhere cannot take the account over).
    #[schema(value_type = Option<String>)]
    pub current: Option<Secret>,
}

impl std::fmt::Debug for PasswordForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordForm { .. }")
    }
}

/// `PUT /api/agents/{id}/password`: sets a password (one's own, with the
/// current one; or anyone's for admins); the agent's other sessions end,
/// the one making the change stays.
#[utoipa::path(put, path = "/api/agents/{id}/password", tag = "access", params(("id" = String, Path, description = "Agent id")), request_body = PasswordForm, responses((status = 200, body = Ended), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError), (status = 422, body = ApiError), (status = 429, body = ApiError)))]
pub async fn set_password(
    on: On<AgentId>,
    headers: HeaderMap,
    Json(form): Json<PasswordForm>,
) -> ApiResult<JsonAnswer<Ended>> {
    let password = form.password.expose().to_string();
    if password.chars().count() < 10 {
        return Err(inbox_core::Error::invalid("password", "at least 10 characters").into());
    }
    // Who may, before any costly hashing.
    let target = on.state.inbox.may_manage_access(&on.actor, &on.id).await?;
    let own = target.id == on.actor.agent;
    let current = match (own, form.current) {
        (true, None) => {
            return Err(inbox_core::Error::invalid(
                "current",
                "your current password is needed to change it",
            )
            .into())
        }
        (true, Some(c)) => Some((on.state.auth.hash_of(&on.actor.tenant, &on.id).await, c)),
        (false, _) => None,
    };
    let admitted = on.state.hashes.try_admit().ok_or_else(|| {
        ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "sign_in_busy",
            "too many password checks at once; try again in a moment",
        )
    })?;
    let hashed = admitted
        .run(move |memory| {
            let ok = current.is_none_or(|(hash, c)| {
                auth::Auth::check_password(hash.as_deref(), c.expose(), memory)
            });
            ok.then(|| auth::hash_password(&password).ok())
        })
        .await
        .ok_or_else(|| {
            ApiError::internal(StatusCode::INTERNAL_SERVER_ERROR, "internal", &"hashing")
        })?;
    let phc = match hashed {
        None => {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "the current password is wrong",
            ))
        }
        Some(None) => {
            return Err(ApiError::internal(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                &"hashing",
            ))
        }
        Some(Some(phc)) => phc,
    };
    let keep = auth::token(&headers);
    let ended = on
        .state
        .inbox
        .set_password(&on.actor, &on.id, Some(&phc), keep.as_deref())
        .await?;
    Ok(JsonAnswer(Ended { ended }))
}

/// `GET /api/keys`: the tenant's API keys (admins), without their secrets.
#[utoipa::path(get, path = "/api/keys", tag = "access", responses((status = 200, body = Vec<Object>), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn api_keys(Caller(s, a): Caller) -> ApiResult<JsonAnswer<Vec<ApiKeyRecord>>> {
    Ok(JsonAnswer(s.inbox.api_keys(&a).await?))
}

/// A new API key.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyForm {
    /// What it is for ("CRM sync").
    pub name: String,
    /// The role it acts with: `agent`, `supervisor` or `admin`.
    #[schema(value_type = String)]
    pub role: Role,
}

/// A key just made: shown this once.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct NewKey {
    /// Send it as `Authorization: Bearer <key>`. Not shown again.
    pub key: String,
    /// The key as stored.
    #[schema(value_type = Object)]
    pub record: ApiKeyRecord,
}

/// `POST /api/keys`: makes an API key (admins): a service account with
/// the role given; the key is in this answer only. With an
/// `Idempotency-Key` header, the same request again (a retry after a lost
/// answer) gets the first answer, key included, instead of a second key;
/// another request under the key is refused (422
/// `idempotency_key_reused`).
#[utoipa::path(post, path = "/api/keys", tag = "access", params(("Idempotency-Key" = Option<String>, Header, description = "Optional; the same request again gets the first answer")), request_body = KeyForm, responses((status = 201, body = NewKey), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 409, body = ApiError, description = "idempotency_key_in_use"), (status = 422, body = ApiError, description = "invalid_input, idempotency_key_reused")))]
pub async fn create_api_key(
    Caller(s, a): Caller,
    headers: HeaderMap,
    Json(form): Json<KeyForm>,
) -> ApiResult<axum::response::Response> {
    use axum::response::IntoResponse;
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|k| !k.is_empty());
    let reservation = match key {
        None => None,
        Some(k) if k.len() > 200 => {
            return Err(ApiError::bad_request(
                "the Idempotency-Key header takes 1-200 characters",
            ))
        }
        Some(k) => {
            let body = serde_json::json!([form.name, form.role]).to_string();
            let digest = idempotency::digest(&a.agent, "POST", "/keys", body.as_bytes());
            match s.idempotency.begin(&a.agent, k, digest) {
                Seen::New(r) => Some(r),
                Seen::Replay(status, body) => {
                    // Still an admin: the key is not shown to someone who
                    // has lost the right since.
                    s.inbox.api_keys(&a).await?;
                    let json = [(axum::http::header::CONTENT_TYPE, "application/json")];
                    return Ok((status, json, body).into_response());
                }
                Seen::Reused => return Err(idempotency::reused()),
                Seen::InProgress => {
                    return Err(ApiError::new(
                        StatusCode::CONFLICT,
                        "idempotency_key_in_use",
                        "a request with this Idempotency-Key is still being answered; retry in a moment",
                    ))
                }
            }
        }
    };
    let secret = Secret::new(hex::encode(rand::random::<[u8; 32]>()));
    let made = s
        .inbox
        .create_api_key(&a, &form.name, form.role, &secret)
        .await?;
    let answer = NewKey {
        key: made.key.expose().to_string(),
        record: made.record,
    };
    if let Some(r) = reservation {
        let body = serde_json::to_string(&answer)
            .map_err(|e| ApiError::internal(StatusCode::INTERNAL_SERVER_ERROR, "internal", &e))?;
        r.finish(StatusCode::CREATED, body);
    }
    Ok((StatusCode::CREATED, JsonAnswer(answer)).into_response())
}

/// `DELETE /api/keys/{id}`: revokes a key (admins): refused from then on.
#[utoipa::path(delete, path = "/api/keys/{id}", tag = "access", params(("id" = String, Path, description = "Key id (`key_...`)")), responses((status = 200, body = Object, description = "The key as revoked"), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError)))]
pub async fn revoke_api_key(on: On<ApiKeyId>) -> ApiResult<JsonAnswer<ApiKeyRecord>> {
    Ok(JsonAnswer(
        on.state.inbox.revoke_api_key(&on.actor, &on.id).await?,
    ))
}
