//! Durable state of subscriptions, the outbound deliveries of domain events
//! to CRMs and other endpoints (inbound WhatsApp notifications are
//! "webhooks"; what the inbox sends out is "subscriptions"): where each
//! subscription stands in the event log, deliveries waiting for another
//! attempt, and dead letters.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::event::Event;
use crate::ids::TenantId;

/// A delivery waiting for another attempt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubscriptionRetry {
    /// The subscription.
    pub subscription: String,
    /// The event (its tenant and `seq` identify the delivery).
    pub event: Event,
    /// Attempts made so far.
    pub attempts: u32,
    /// When to try again.
    pub due: DateTime<Utc>,
    /// Why the last attempt failed.
    pub last_error: String,
}

/// An event given up for a subscription, until it is replayed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubscriptionDeadLetter {
    /// The subscription.
    pub subscription: String,
    /// The event (its `seq` identifies the letter within the subscription).
    pub event: Event,
    /// Attempts made.
    pub attempts: u32,
    /// Why the last attempt failed: the HTTP status or the transport error.
    pub last_error: String,
    /// When it was given up (or last replayed without success).
    pub failed_at: DateTime<Utc>,
}

/// What became of a retried or replayed delivery.
#[derive(Debug, Clone, PartialEq)]
pub enum DeliveryOutcome {
    /// Acknowledged: forget it.
    Delivered,
    /// Failed; try again at `due`.
    Retry {
        /// Attempts made so far.
        attempts: u32,
        /// When.
        due: DateTime<Utc>,
        /// Why it failed.
        last_error: String,
    },
    /// Failed for good: (stays) a dead letter.
    Dead {
        /// Attempts made.
        attempts: u32,
        /// Why it failed.
        last_error: String,
        /// When.
        failed_at: DateTime<Utc>,
    },
}

/// What a delivery leaves to store: a retry or a dead letter.
#[derive(Debug, Clone, PartialEq)]
pub enum DeliveryRecord {
    /// Waiting for another attempt.
    Retry(SubscriptionRetry),
    /// Given up.
    Dead(SubscriptionDeadLetter),
}

impl DeliveryOutcome {
    /// The record this outcome leaves for `event` in `subscription`
    /// (`None` once delivered).
    pub fn record(self, subscription: &str, event: Event) -> Option<DeliveryRecord> {
        let subscription = subscription.to_string();
        match self {
            DeliveryOutcome::Delivered => None,
            DeliveryOutcome::Retry {
                attempts,
                due,
                last_error,
            } => Some(DeliveryRecord::Retry(SubscriptionRetry {
                subscription,
                event,
                attempts,
                due,
                last_error,
            })),
            DeliveryOutcome::Dead {
                attempts,
                last_error,
                failed_at,
            } => Some(DeliveryRecord::Dead(SubscriptionDeadLetter {
                subscription,
                event,
                attempts,
                last_error,
                failed_at,
            })),
        }
    }
}

/// Which subscription of which tenant: the key of every
/// [`SubscriptionLog`] method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubscriptionKey<'a> {
    /// The tenant.
    pub tenant: &'a TenantId,
    /// The subscription id.
    pub subscription: &'a str,
}

impl<'a> SubscriptionKey<'a> {
    /// The subscription `subscription` of `tenant`.
    pub fn of(tenant: &'a TenantId, subscription: &'a str) -> Self {
        Self {
            tenant,
            subscription,
        }
    }
}

/// What a subscription records once it has handled the events up to
/// `position` ([`SubscriptionLog::subscription_commit`]).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SubscriptionCommit {
    /// The last event sequence handled.
    pub position: u64,
    /// Deliveries of those events waiting for another attempt.
    pub retries: Vec<SubscriptionRetry>,
    /// Deliveries of those events given up.
    pub dead: Vec<SubscriptionDeadLetter>,
}

impl SubscriptionCommit {
    /// Handled up to `position`, with nothing left to retry or given up.
    pub fn at(position: u64) -> Self {
        Self {
            position,
            ..Self::default()
        }
    }
}

/// Where subscription delivery keeps its state, so that a restart loses
/// neither a position, nor a pending retry, nor a dead letter.
///
/// # Contract
///
/// - Everything is keyed by tenant and subscription id; a subscription of
///   one tenant never sees another's state.
/// - [`SubscriptionLog::subscription_commit`] is atomic: the new position and the
///   retries and dead letters of the events read up to it are recorded
///   together or not at all, and a position never moves backwards (a
///   commit behind the stored position records its retries and dead letters
///   and leaves the position).
/// - A delivery (tenant, subscription, event `seq`) is at most one retry or
///   one dead letter at a time; recording it again replaces it.
/// - [`SubscriptionLog::subscription_due_retries`] returns retries due at or before
///   `now`, earliest first, at most `limit`.
/// - [`SubscriptionLog::subscription_settle`] applies an outcome to a stored retry or
///   dead letter (the retry wins if both exist): `Delivered` removes it,
///   `Retry` makes (or keeps) it a retry with the new attempts and due time,
///   `Dead` makes (or keeps) it a dead letter. Settling a delivery that is
///   neither is a no-op, not an error (another instance may have settled
///   it).
#[async_trait]
pub trait SubscriptionLog: Send + Sync {
    /// The last event sequence a subscription has handled (`None`: never
    /// committed).
    async fn subscription_position(&self, key: SubscriptionKey<'_>) -> Result<Option<u64>>;

    /// Records that a subscription handled the events up to the commit's
    /// `position`: delivered, or recorded here as its retries and dead
    /// letters.
    async fn subscription_commit(
        &self,
        key: SubscriptionKey<'_>,
        commit: SubscriptionCommit,
    ) -> Result<()>;

    /// Retries of a subscription due at `now`, earliest first.
    async fn subscription_due_retries(
        &self,
        key: SubscriptionKey<'_>,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<SubscriptionRetry>>;

    /// Applies what became of a retried or replayed delivery (the event
    /// `seq`).
    async fn subscription_settle(
        &self,
        key: SubscriptionKey<'_>,
        seq: u64,
        outcome: DeliveryOutcome,
    ) -> Result<()>;

    /// A subscription's dead letters, oldest event first.
    async fn subscription_dead_letters(
        &self,
        key: SubscriptionKey<'_>,
    ) -> Result<Vec<SubscriptionDeadLetter>>;
}
