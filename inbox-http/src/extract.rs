//! axum's extractors with the API's errors: a malformed body, query or
//! path is refused as JSON `{code, message}` with the status axum chose
//! (400, 413, 415, 422), never axum's plain text.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

use super::error::ApiError;

/// The stable code of a refused request's status.
pub fn code_of(status: StatusCode) -> &'static str {
    match status {
        StatusCode::UNAUTHORIZED => "unauthenticated",
        StatusCode::FORBIDDEN => "forbidden",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::REQUEST_TIMEOUT => "timeout",
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::TOO_MANY_REQUESTS => "too_many_requests",
        s if s.is_server_error() => "internal",
        _ => "invalid_input",
    }
}

/// An extractor's refusal as an API error.
pub fn rejected(status: StatusCode, text: String) -> ApiError {
    let status = if status.is_client_error() {
        status
    } else {
        StatusCode::BAD_REQUEST
    };
    ApiError::new(status, code_of(status), text)
}

/// A JSON body (`Content-Type: application/json`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        axum::Json::<T>::from_request(req, state)
            .await
            .map(|axum::Json(v)| Self(v))
            .map_err(|e| rejected(e.status(), e.body_text()))
    }
}

/// Declares a wrapper of the axum extractor of the same name that reads
/// the request's parts: the same value, refused with the API's errors.
macro_rules! parts_extractor {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, Default)]
        pub struct $name<T>(pub T);

        impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for $name<T> {
            type Rejection = ApiError;

            async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
                axum::extract::$name::<T>::from_request_parts(parts, state)
                    .await
                    .map(|axum::extract::$name(v)| Self(v))
                    .map_err(|e| rejected(e.status(), e.body_text()))
            }
        }
    };
}

parts_extractor!(
    /// Query parameters.
    Query
);

parts_extractor!(
    /// Path parameters.
    Path
);
