//! The adapter's error type.

use inbox_core::ports::TransportError;

/// Why a signature check failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureProblem {
    /// No `X-Hub-Signature-256` header.
    Missing,
    /// The header is not `sha256=<64 hex digits>`.
    Malformed,
    /// The signature does not match the body and the app secret.
    Mismatch,
}

impl std::fmt::Display for SignatureProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SignatureProblem::Missing => "the X-Hub-Signature-256 header is missing",
            SignatureProblem::Malformed => {
                "the X-Hub-Signature-256 header is malformed (expected sha256=<64 hex digits>)"
            }
            SignatureProblem::Mismatch => {
                "the X-Hub-Signature-256 signature does not match the body"
            }
        })
    }
}

/// Everything the WhatsApp adapter can fail with. Never contains a token or
/// an app secret.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WhatsAppError {
    /// The webhook body is not valid JSON.
    #[error("invalid JSON: {0}")]
    InvalidJson(String),
    /// The body is JSON but not a WhatsApp Business Account webhook.
    #[error("not a WhatsApp webhook: {0}")]
    NotAWebhook(String),
    /// The signature check failed.
    #[error("signature rejected: {0}")]
    Signature(SignatureProblem),
    /// The body is larger than the configured limit.
    #[error("body of {size} bytes exceeds the limit of {limit} bytes")]
    BodyTooLarge {
        /// The body's size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The webhook names a phone number id with no configured app secret or
    /// channel.
    #[error("unknown channel: phone number id {0:?} is not configured")]
    UnknownChannel(String),
    /// The webhook names a phone number id its app secret does not speak
    /// for (a body about another number, perhaps another tenant's): the
    /// whole webhook is refused and nothing of it is stored.
    #[error("phone number id {0:?} is not served by this webhook's app secret")]
    NumberNotAllowed(String),
    /// A Graph API call failed.
    #[error("Graph API: {0}")]
    Transport(#[from] TransportError),
    /// The Graph API answered with something unexpected.
    #[error("unexpected Graph API response: {0}")]
    UnexpectedResponse(String),
    /// Ingesting into the inbox failed.
    #[error("inbox: {0}")]
    Inbox(#[from] inbox_core::Error),
    /// Invalid configuration.
    #[error("configuration: {0}")]
    Config(String),
}

impl WhatsAppError {
    /// The HTTP status a webhook endpoint should answer with for this
    /// error: 400 for bad bodies, 401 for signatures, 403 for a number the
    /// secret does not speak for, 413 for size, 404 for unknown numbers, 503
    /// when storing failed (Meta retries), 500 otherwise.
    pub fn http_status(&self) -> u16 {
        match self {
            WhatsAppError::InvalidJson(_) | WhatsAppError::NotAWebhook(_) => 400,
            WhatsAppError::Signature(_) => 401,
            WhatsAppError::NumberNotAllowed(_) => 403,
            WhatsAppError::BodyTooLarge { .. } => 413,
            WhatsAppError::UnknownChannel(_) => 404,
            WhatsAppError::Inbox(inbox_core::Error::UnknownChannel { .. }) => 404,
            WhatsAppError::Inbox(inbox_core::Error::InvalidInput { .. }) => 400,
            WhatsAppError::Inbox(_) => 503,
            _ => 500,
        }
    }
}
