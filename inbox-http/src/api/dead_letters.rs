//! Dead letters, for admins: the inbound items the inbox refused (kept
//! whole with their typed reason), listed newest first and replayed with
//! today's WhatsApp decoder.

use axum::extract::Query;
use axum::Json;
use serde::{Deserialize, Serialize};

use inbox_core::ports::{DeadLetter, DeadLetterQuery};
use inbox_core::query::Cursor;
use inbox_core::DeadLetterId;
use inbox_whatsapp::WhatsAppDecoder;

use super::session::{Caller, On};
use crate::error::{ApiError, ApiResult};

/// Dead letter listing parameters.
#[derive(Debug, Deserialize, Default, utoipa::ToSchema, utoipa::IntoParams)]
pub struct DeadLetterParams {
    /// Only letters still waiting for a replay.
    pub pending: Option<bool>,
    /// The `next` cursor of the previous page.
    pub after: Option<String>,
    /// Page size (1 to 200, default 50).
    pub limit: Option<u32>,
}

impl DeadLetterParams {
    fn query(&self) -> ApiResult<DeadLetterQuery> {
        Ok(DeadLetterQuery {
            pending_only: self.pending.unwrap_or(false),
            after: self.after.as_deref().map(Cursor::parse).transpose()?,
            limit: self.limit.unwrap_or(50),
        })
    }
}

/// A page of dead letters, newest first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DeadLetterPage {
    /// The letters.
    pub items: Vec<DeadLetter>,
    /// Where the next page starts (pass as `after`).
    pub next: Option<Cursor>,
}

/// `GET /api/dead-letters`: the inbound items the inbox refused (admins).
#[utoipa::path(get, path = "/api/dead-letters", tag = "admin", params(DeadLetterParams), responses((status = 200, body = DeadLetterPage), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 422, body = ApiError)))]
pub async fn dead_letters(
    Caller(s, a): Caller,
    Query(p): Query<DeadLetterParams>,
) -> ApiResult<Json<DeadLetterPage>> {
    let page = s.inbox.dead_letters(&a, &p.query()?).await?;
    Ok(Json(DeadLetterPage {
        items: page.items,
        next: page.next,
    }))
}

/// `POST /api/dead-letters/{id}/replay`: decodes the item again and
/// ingests it (admins). The letter comes back marked replayed, or still
/// waiting with the reason it was refused for now.
#[utoipa::path(post, path = "/api/dead-letters/{id}/replay", tag = "admin", params(("id" = String, Path, description = "Dead letter id")), responses((status = 200, body = DeadLetter), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError), (status = 409, body = ApiError, description = "invalid_state: already replayed")))]
pub async fn replay_dead_letter(on: On<DeadLetterId>) -> ApiResult<Json<DeadLetter>> {
    let inbox = &on.state.inbox;
    Ok(Json(
        inbox
            .replay_dead_letter(&on.actor, &on.id, &WhatsAppDecoder)
            .await?,
    ))
}
