//! The crate's error type.

/// What can go wrong delivering events to subscriptions or checking a
/// delivery's signature.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SubscriptionError {
    /// A signature header did not check out (receiver side).
    #[error("bad delivery signature: {0}")]
    BadSignature(String),
    /// A subscription was malformed.
    #[error("invalid subscription: {0}")]
    InvalidSubscription(String),
    /// The subscription has no dead letter for this event.
    #[error("subscription {subscription:?} has no dead letter for event {seq}")]
    UnknownDeadLetter {
        /// The subscription.
        subscription: String,
        /// The event's sequence number.
        seq: u64,
    },
    /// No subscription with this id.
    #[error("no subscription {0:?}")]
    UnknownSubscription(String),
    /// Reading events or delivery state from the store failed.
    #[error(transparent)]
    Store(#[from] inbox_core::Error),
    /// The HTTP client could not be built.
    #[error("HTTP client: {0}")]
    Client(String),
}
