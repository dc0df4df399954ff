//! Errors of the agent API: JSON with a stable code and a human message.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

/// An error answer: `{"code": "...", "message": "...", "details": ...}`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ApiError {
    /// HTTP status.
    #[serde(skip)]
    #[schema(ignore)]
    pub status: StatusCode,
    /// Stable, machine-readable code (`conflict`, `already_owned`, ...).
    pub code: &'static str,
    /// For people.
    pub message: String,
    /// Structured details where there are some (a conflict's changes, the
    /// current owner, the field and limit refused content broke).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub details: Option<serde_json::Value>,
}

impl ApiError {
    /// An error with a status, code and message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            details: None,
        }
    }

    /// 401: no valid session.
    pub fn unauthenticated() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthenticated", "sign in first")
    }

    /// 400: a malformed request.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_input", message)
    }

    /// A server-side failure: `what` goes to the log under a new request
    /// id; the answer carries only the id (never a database's error text).
    pub fn internal(status: StatusCode, code: &'static str, what: &dyn std::fmt::Display) -> Self {
        let request_id = hex::encode(rand::random::<[u8; 8]>());
        tracing::error!(%request_id, status = status.as_u16(), error = %what, "request failed");
        let message = if status == StatusCode::SERVICE_UNAVAILABLE {
            format!("the service is unavailable; try again later (request id {request_id})")
        } else {
            format!("internal error (request id {request_id})")
        };
        Self {
            status,
            code,
            message,
            details: Some(serde_json::json!({ "request_id": request_id })),
        }
    }
}

impl ApiError {
    /// Meta's failure while `doing` something (`"giving the file"`) as an
    /// answer: 502 with a code (`graph_unauthorized`, `graph_unavailable`,
    /// `graph_unexpected`) and what Meta said (its error text, never a
    /// token).
    pub fn from_graph(e: inbox_whatsapp::WhatsAppError, doing: &str) -> Self {
        use inbox_core::ports::TransportError;
        use inbox_whatsapp::WhatsAppError as W;
        match e {
            W::Inbox(e) => e.into(),
            W::Transport(TransportError::Unauthorized { .. }) => Self::new(
                StatusCode::BAD_GATEWAY,
                "graph_unauthorized",
                "Meta refused the number's access token; the platform operator must set a valid one",
            ),
            W::Transport(e) => Self::new(
                StatusCode::BAD_GATEWAY,
                "graph_unavailable",
                format!("Meta's Graph API failed {doing}: {e}"),
            ),
            W::UnexpectedResponse(what) => Self::new(
                StatusCode::BAD_GATEWAY,
                "graph_unexpected",
                format!("Meta's Graph API answered something unexpected {doing}: {what}"),
            ),
            other => Self::internal(StatusCode::BAD_GATEWAY, "graph_unavailable", &other),
        }
    }
}

impl From<inbox_core::Error> for ApiError {
    fn from(e: inbox_core::Error) -> Self {
        use inbox_core::Error as E;
        let status = match &e {
            E::InvalidInput { .. }
            | E::InvalidContent(_)
            | E::InvalidRules { .. }
            | E::InvalidSettings { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            E::NotFound { .. } | E::UnknownChannel { .. } => StatusCode::NOT_FOUND,
            E::Forbidden { .. } => StatusCode::FORBIDDEN,
            E::Unauthenticated => StatusCode::UNAUTHORIZED,
            E::Conflict(_)
            | E::AlreadyOwned { .. }
            | E::LeaseHeld { .. }
            | E::Duplicate { .. }
            | E::InvalidState(_)
            | E::WindowClosed { .. } => StatusCode::CONFLICT,
            E::Transport(_) => StatusCode::BAD_GATEWAY,
            E::Unavailable { .. } | E::Backend { .. } => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let details = match &e {
            E::Conflict(c) => serde_json::to_value(c).ok(),
            E::InvalidContent(v) => serde_json::to_value(v).ok(),
            E::InvalidSettings { problems } => Some(serde_json::json!({ "problems": problems })),
            E::AlreadyOwned { owner, .. } => Some(serde_json::json!({ "owner": owner })),
            E::LeaseHeld { holder, .. } => Some(serde_json::json!({ "holder": holder })),
            _ => None,
        };
        if status.is_server_error() {
            return Self::internal(status, e.code(), &e);
        }
        Self {
            status,
            code: e.code(),
            message: e.to_string(),
            details,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let retry_after = self
            .details
            .as_ref()
            .and_then(|d| d["retry_after_secs"].as_u64());
        let mut res = (self.status, Json(self)).into_response();
        if let Some(secs) = retry_after {
            res.headers_mut()
                .insert(axum::http::header::RETRY_AFTER, secs.into());
        }
        res
    }
}

/// A handler's result.
pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_whatsapp_refuses_is_a_422_naming_field_and_limit() {
        let refused = inbox_core::model::Content::text("x".repeat(4097))
            .validate_outbound()
            .unwrap_err();
        let e = ApiError::from(refused);
        assert_eq!(e.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(e.code, "invalid_content");
        assert!(e.message.contains("text.body"), "{}", e.message);
        assert_eq!(
            e.details,
            Some(serde_json::json!({
                "field": "text.body",
                "problem": { "kind": "too_long", "limit": 4096, "actual": 4097 }
            }))
        );
    }
}
