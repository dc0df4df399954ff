//! Reports and the live snapshot (supervisors and admins).

use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use std::time::Duration;

use inbox_core::metrics::{LiveQuery, MetricsQuery};
use inbox_core::{AgentId, ChannelId, TeamId};

use super::session::Caller;
use crate::error::{ApiError, ApiResult};
use crate::extract::Query;

/// Report parameters.
#[derive(Debug, Deserialize, utoipa::ToSchema, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
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
    /// Missed after this many seconds without an answer (default 1800, at
    /// most a year).
    pub missed_after_secs: Option<u64>,
    /// The IANA time zone of the days and hours (default: the zone of the
    /// tenant's business calendar, else UTC).
    pub time_zone: Option<String>,
}

/// The longest `missed_after_secs`: a year.
const MISSED_AFTER_MAX: u64 = 366 * 24 * 3600;

/// `GET /api/metrics`: the report (supervisors and admins).
#[utoipa::path(get, path = "/api/metrics", tag = "reports", params(MetricsParams), responses((status = 200, description = "The report", body = inbox_core::metrics::MetricsReport), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError), (status = 409, body = ApiError, description = "conflict, already_owned, lease_held, window_closed, duplicate")))]
pub async fn metrics(Caller(s, a): Caller, Query(p): Query<MetricsParams>) -> ApiResult<Response> {
    let missed_after = p.missed_after_secs.unwrap_or(1800);
    if missed_after > MISSED_AFTER_MAX {
        return Err(inbox_core::Error::invalid(
            "missed_after_secs",
            format!("at most {MISSED_AFTER_MAX} (a year)"),
        )
        .into());
    }
    let q = MetricsQuery {
        from: p.from,
        to: p.to,
        channel: p.channel.map(ChannelId::new).transpose()?,
        team: p.team.map(TeamId::new).transpose()?,
        agent: p.agent.map(AgentId::new).transpose()?,
        tag: p.tag,
        now: s.now(),
        missed_after: Duration::from_secs(missed_after),
        time_zone: p
            .time_zone
            .map(|z| {
                z.parse().map_err(|_| {
                    inbox_core::Error::invalid(
                        "time_zone",
                        format!("{z:?} is not an IANA time zone"),
                    )
                })
            })
            .transpose()?,
    };
    Ok(Json(s.inbox.metrics(&a, q).await?).into_response())
}

/// Live snapshot parameters.
#[derive(Debug, Deserialize, utoipa::ToSchema, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LiveParams {
    /// Only this number.
    pub channel: Option<String>,
    /// Only this team.
    pub team: Option<String>,
}

/// `GET /api/live`: the live snapshot (supervisors and admins).
#[utoipa::path(get, path = "/api/live", tag = "reports", params(LiveParams), responses((status = 200, description = "The live snapshot", body = inbox_core::metrics::LiveSnapshot), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError), (status = 409, body = ApiError, description = "conflict, already_owned, lease_held, window_closed, duplicate")))]
pub async fn live(Caller(s, a): Caller, Query(p): Query<LiveParams>) -> ApiResult<Response> {
    let q = LiveQuery {
        channel: p.channel.map(ChannelId::new).transpose()?,
        team: p.team.map(TeamId::new).transpose()?,
        now: s.now(),
    };
    Ok(Json(s.inbox.live_snapshot(&a, q).await?).into_response())
}
