//! What messages cost: the cost report (supervisors and admins) and the
//! estimate of one send (anyone who may see the conversation).

use axum::extract::Path;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use serde::Deserialize;

use inbox_core::model::Content;
use inbox_core::pricing::CostQuery;
use inbox_core::ConversationId;

use super::session::Caller;
use crate::error::{ApiError, ApiResult};
use crate::extract::Query;

/// Cost report parameters.
#[derive(Debug, Deserialize, utoipa::ToSchema, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CostParams {
    /// Messages sent from ...
    pub from: DateTime<Utc>,
    /// ... to.
    pub to: DateTime<Utc>,
}

/// `GET /api/costs`: what the outbound messages sent in a range cost, by
/// number, team, agent, category and market, from the tenant's rate card
/// (counts only without one; supervisors and admins).
#[utoipa::path(get, path = "/api/costs", tag = "reports", params(CostParams), responses((status = 200, description = "The cost report", body = inbox_core::pricing::CostReport), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 422, body = ApiError, description = "invalid_input: `to` is not after `from`")))]
pub async fn costs(Caller(s, a): Caller, Query(p): Query<CostParams>) -> ApiResult<Response> {
    let q = CostQuery {
        from: p.from,
        to: p.to,
    };
    Ok(Json(s.inbox.costs(&a, q).await?).into_response())
}

/// `GET /api/csat`: the satisfaction surveys of conversations resolved in
/// a range: sent, answered, response rate, positive share, average (1-5),
/// skipped by reason; by agent, team, number and day (supervisors and
/// admins).
#[utoipa::path(get, path = "/api/csat", tag = "reports", params(CostParams), responses((status = 200, description = "The satisfaction report", body = inbox_core::metrics::CsatReport), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 422, body = ApiError, description = "invalid_input: `to` is before `from`")))]
pub async fn csat(Caller(s, a): Caller, Query(p): Query<CostParams>) -> ApiResult<Response> {
    let q = inbox_core::metrics::CsatQuery {
        from: p.from,
        to: p.to,
    };
    Ok(Json(s.inbox.csat_report(&a, q).await?).into_response())
}

/// `GET /api/bots/report`: what bots did with the conversations they took
/// in a range: engaged, resolved by bots, handed off (rate and reasons),
/// time to a person; by bot (supervisors and admins).
#[utoipa::path(get, path = "/api/bots/report", tag = "reports", params(CostParams), responses((status = 200, description = "The bot report", body = inbox_core::metrics::BotReport), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 422, body = ApiError, description = "invalid_input: `to` is before `from`")))]
pub async fn bot_report(Caller(s, a): Caller, Query(p): Query<CostParams>) -> ApiResult<Response> {
    let q = inbox_core::metrics::BotQuery {
        from: p.from,
        to: p.to,
    };
    Ok(Json(s.inbox.bot_report(&a, q).await?).into_response())
}

/// Estimate parameters: a template by name and language, or nothing for a
/// free-form message.
#[derive(Debug, Deserialize, utoipa::ToSchema, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PriceParams {
    /// The template's name (none: a free-form message).
    pub template: Option<String>,
    /// The template's language code (`en_US`).
    pub language: Option<String>,
}

/// `GET /api/conversations/{id}/price`: whether sending a free-form
/// message, or the template named, in the conversation now will be free
/// or billed, why, and at what rate.
#[utoipa::path(get, path = "/api/conversations/{id}/price", tag = "conversations", params(("id" = String, Path, description = "Conversation id"), PriceParams), responses((status = 200, body = inbox_core::pricing::PriceEstimate), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError)))]
pub async fn price(
    Caller(s, a): Caller,
    Path(id): Path<String>,
    Query(p): Query<PriceParams>,
) -> ApiResult<Response> {
    let id = ConversationId::new(id)?;
    let content = match p.template {
        Some(name) => Content::Template {
            name,
            language: p.language.unwrap_or_default(),
            components: serde_json::Value::Null,
        },
        None => Content::text(""),
    };
    Ok(Json(s.inbox.price_estimate(&a, &id, &content).await?).into_response())
}
