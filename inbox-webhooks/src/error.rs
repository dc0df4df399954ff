//! The crate's error type.

/// What can go wrong sending or checking webhooks.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WebhookError {
    /// A signature header did not check out (receiver side).
    #[error("bad webhook signature: {0}")]
    BadSignature(String),
    /// A subscription was malformed.
    #[error("invalid subscription: {0}")]
    InvalidSubscription(String),
    /// No dead letter with this id.
    #[error("no dead letter {0}")]
    UnknownDeadLetter(u64),
    /// Reading events from the store failed.
    #[error(transparent)]
    Store(#[from] inbox_core::Error),
    /// The HTTP client could not be built.
    #[error("HTTP client: {0}")]
    Client(String),
}
