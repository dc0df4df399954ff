//! Thread control on numbers shared with other apps (Meta's AI agent, a
//! bot platform): an agent takes the conversation's WhatsApp thread, passes
//! it to another app's role, or releases it.

use axum::response::Response;
use serde::Deserialize;

use super::actions::Act;
use crate::error::{ApiError, ApiResult};

/// What to do with the conversation's thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ThreadMove {
    /// Take control from the app that has it.
    Take,
    /// Pass control to the app with `target_role`.
    Pass,
    /// Give control up: WhatsApp's routing picks who answers next.
    Release,
}

/// Thread control form.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ThreadForm {
    /// Conversation version.
    pub version: u64,
    /// `take`, `pass` or `release`.
    pub action: ThreadMove,
    /// For `pass`: the role to pass to (`ai_agent`: Meta's AI agent).
    #[serde(default)]
    pub target_role: Option<String>,
    /// For `pass`: what the other app gets along (at most 2,000
    /// characters are sent).
    #[serde(default)]
    pub metadata: Option<String>,
}

/// `POST /api/conversations/{id}/thread`: takes, passes or releases control
/// of the conversation's WhatsApp thread. WhatsApp's refusal (a take the
/// number may not make: 2494191) is 409 `invalid_state` saying why; not
/// reaching WhatsApp is 502. Either is on the conversation's timeline.
#[utoipa::path(post, path = "/api/conversations/{id}/thread", tag = "actions",
    params(("id" = String, Path, description = "Conversation id"),
        ("Idempotency-Key" = String, Header, description = "Required; the same request again gets the first answer, another request under the key 422 idempotency_key_reused")),
    request_body = ThreadForm,
    responses((status = 200, description = "The conversation after the action, the events recorded", body = inbox_core::ActionOutcome),
        (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError),
        (status = 404, body = ApiError), (status = 409, body = ApiError, description = "conflict, invalid_state (WhatsApp refused; this inbox already or does not control the thread)"),
        (status = 422, body = ApiError, description = "invalid_input, idempotency_key_reused"),
        (status = 502, body = ApiError)))]
pub async fn thread(r: Act<ThreadForm>) -> ApiResult<Response> {
    r.once(async |r| {
        let (f, inbox) = (&r.form, &r.state.inbox);
        Ok(match f.action {
            ThreadMove::Take => inbox.take_thread(&r.actor, &r.id, f.version).await?,
            ThreadMove::Release => inbox.release_thread(&r.actor, &r.id, f.version).await?,
            ThreadMove::Pass => {
                let role = f.target_role.as_deref().ok_or_else(|| {
                    inbox_core::Error::invalid("target_role", "name the role to pass the thread to")
                })?;
                inbox
                    .pass_thread(&r.actor, &r.id, f.version, role, f.metadata.clone())
                    .await?
            }
        })
    })
    .await
}
