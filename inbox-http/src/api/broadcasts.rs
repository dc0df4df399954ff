//! Broadcasts over HTTP (supervisors and admins): make one, list them, see
//! one with its recipients' counts, and start, pause, resume or cancel it
//! on the version seen. Workers send them (`Inbox::run_broadcasts`).

use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use inbox_core::model::{Broadcast, RecipientCounts, Segment, TemplateFill};

use inbox_core::{BroadcastId, ChannelId, NewBroadcast, Steer};

use super::session::Caller;
use crate::error::{ApiError, ApiResult};

/// A broadcast to make.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BroadcastForm {
    /// Its id (making it again with the same id is refused: 409).
    pub id: String,
    /// A name for people.
    pub name: String,
    /// The number it is sent from.
    pub channel: String,
    /// The template and its values.
    pub template: TemplateFill,
    /// Who it goes to.
    #[serde(default)]
    pub segment: Segment,
    /// When it starts (none: a draft, started by hand).
    #[serde(default)]
    pub schedule: Option<DateTime<Utc>>,
    /// Messages per second at most (default 20).
    #[serde(default = "default_rate")]
    pub rate_per_second: u32,
}

fn default_rate() -> u32 {
    20
}

/// A broadcast with its recipients' counts.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BroadcastView {
    /// The broadcast.
    #[serde(flatten)]
    pub broadcast: Broadcast,
    /// Its recipients by state.
    pub recipients: RecipientCounts,
}

/// A move of a broadcast.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SteerForm {
    /// The version seen.
    pub version: u64,
    /// `start`, `pause`, `resume` or `cancel`.
    pub action: String,
}

/// `POST /api/broadcasts`: makes a broadcast (201).
#[utoipa::path(post, path = "/api/broadcasts", tag = "broadcasts", request_body = BroadcastForm, responses((status = 201, body = BroadcastView), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError, description = "no such number"), (status = 409, body = ApiError, description = "duplicate id"), (status = 422, body = ApiError, description = "invalid_input / invalid_content naming the field")))]
pub async fn create_broadcast(
    Caller(s, a): Caller,
    Json(f): Json<BroadcastForm>,
) -> ApiResult<Response> {
    let new = NewBroadcast {
        id: BroadcastId::new(f.id)?,
        name: f.name,
        channel: ChannelId::new(f.channel)?,
        template: f.template,
        segment: f.segment,
        schedule: f.schedule,
        rate_per_second: f.rate_per_second,
    };
    let b = s.inbox.create_broadcast(&a, new).await?;
    let recipients = RecipientCounts::default();
    Ok((
        StatusCode::CREATED,
        Json(BroadcastView {
            broadcast: b,
            recipients,
        }),
    )
        .into_response())
}

/// `GET /api/broadcasts`: the tenant's broadcasts, newest first.
#[utoipa::path(get, path = "/api/broadcasts", tag = "broadcasts", responses((status = 200, body = Vec<Broadcast>), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn broadcasts(Caller(s, a): Caller) -> ApiResult<Json<Vec<Broadcast>>> {
    Ok(Json(s.inbox.broadcasts(&a).await?))
}

/// `GET /api/broadcasts/{id}`: one broadcast and its recipients' counts.
#[utoipa::path(get, path = "/api/broadcasts/{id}", tag = "broadcasts", params(("id" = String, Path, description = "Broadcast id")), responses((status = 200, body = BroadcastView), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError)))]
pub async fn broadcast(
    Caller(s, a): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<BroadcastView>> {
    let id = BroadcastId::new(id)?;
    let (broadcast, recipients) = s.inbox.broadcast(&a, &id).await?;
    Ok(Json(BroadcastView {
        broadcast,
        recipients,
    }))
}

/// `GET /api/broadcasts/{id}/figures`: what became of its recipients and
/// their messages (sent, delivered, read, failed by code, cancelled,
/// replied; skipped by reason).
#[utoipa::path(get, path = "/api/broadcasts/{id}/figures", tag = "broadcasts", params(("id" = String, Path, description = "Broadcast id")), responses((status = 200, body = inbox_core::BroadcastFigures), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError)))]
pub async fn broadcast_figures(
    Caller(s, a): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<inbox_core::BroadcastFigures>> {
    let id = BroadcastId::new(id)?;
    Ok(Json(s.inbox.broadcast_figures(&a, &id).await?))
}

/// `POST /api/broadcasts/{id}/steer`: start, pause, resume or cancel it.
#[utoipa::path(post, path = "/api/broadcasts/{id}/steer", tag = "broadcasts", params(("id" = String, Path, description = "Broadcast id")), request_body = SteerForm, responses((status = 200, body = Broadcast), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError), (status = 409, body = ApiError, description = "conflict (another version) or invalid_state (a move its state does not allow)")))]
pub async fn steer_broadcast(
    Caller(s, a): Caller,
    Path(id): Path<String>,
    Json(f): Json<SteerForm>,
) -> ApiResult<Json<Broadcast>> {
    let steer = match f.action.as_str() {
        "start" => Steer::Start,
        "pause" => Steer::Pause,
        "resume" => Steer::Resume,
        "cancel" => Steer::Cancel,
        other => {
            let why = format!("action {other:?}: start, pause, resume or cancel");
            return Err(ApiError::bad_request(why));
        }
    };
    let id = BroadcastId::new(id)?;
    Ok(Json(
        s.inbox.steer_broadcast(&a, &id, f.version, steer).await?,
    ))
}
