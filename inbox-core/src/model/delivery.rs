use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Where an outbound message is on its way to the customer.
///
/// Statuses only move forward: `pending → accepted → sent → delivered → read
/// → played`. `failed` ends the journey unless the message had already been
/// delivered (a late failure after delivery is ignored). `cancelled` ends
/// it before it began: the inbox itself decided not to send a message
/// still waiting in the outbox (a bot's reply after a person took over, a
/// marketing message to a customer who stopped them). Statuses that arrive
/// twice, out of order or with gaps (WhatsApp may send `read` without
/// `delivered`) never move a message backwards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Committed, waiting in the outbox for the dispatcher.
    Pending,
    /// The provider accepted the request and returned its message id.
    Accepted,
    /// Sent to the customer's device.
    Sent,
    /// Delivered to the device.
    Delivered,
    /// Read by the customer.
    Read,
    /// A voice message was played.
    Played,
    /// Failed; see [`DeliveryState::error`].
    Failed,
    /// Never sent: the inbox cancelled it while it waited (its
    /// [`DeliveryState::error`] says why). Final.
    Cancelled,
}

impl DeliveryStatus {
    /// Position on the forward path (`Failed` is off the path).
    fn rank(self) -> Option<u8> {
        match self {
            DeliveryStatus::Pending => Some(0),
            DeliveryStatus::Accepted => Some(1),
            DeliveryStatus::Sent => Some(2),
            DeliveryStatus::Delivered => Some(3),
            DeliveryStatus::Read => Some(4),
            DeliveryStatus::Played => Some(5),
            DeliveryStatus::Failed | DeliveryStatus::Cancelled => None,
        }
    }

    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Accepted => "accepted",
            DeliveryStatus::Sent => "sent",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Read => "read",
            DeliveryStatus::Played => "played",
            DeliveryStatus::Failed => "failed",
            DeliveryStatus::Cancelled => "cancelled",
        }
    }
}

display_as_str!(DeliveryStatus);

/// An error reported by the provider for a failed message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProviderError {
    /// The provider's numeric code (e.g. 131047).
    pub code: Option<i64>,
    /// Short title.
    pub title: String,
    /// Longer details, if any.
    pub details: Option<String>,
}

/// What WhatsApp says a sent message costs (a status's `pricing`; per
/// message since July 2025). Values are kept as Meta sends them, new ones
/// included: nothing here is ever refused.
///
/// ```
/// use inbox_core::model::Pricing;
/// let service = Pricing { model: Some("PMP".into()), category: Some("service".into()),
///                         kind: Some("free_customer_service".into()), billable: None };
/// assert!(service.is_free());
/// let marketing = Pricing { kind: Some("regular".into()), category: Some("marketing".into()), ..service };
/// assert!(!marketing.is_free());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Pricing {
    /// The pricing model (`PMP`: per message; `CBP`: the older
    /// per-conversation model).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// The category billed (`marketing`, `utility`, `authentication`,
    /// `service` ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// `regular` (billed), `free_customer_service` (inside the customer
    /// service window) or `free_entry_point` (after an ad or a button that
    /// opens a free window) ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Whether it is billed (deprecated by Meta; older statuses).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub billable: Option<bool>,
}

impl Pricing {
    /// Whether the message is free: its type says so (`free_…`), or, on
    /// older statuses, it is not billable.
    pub fn is_free(&self) -> bool {
        match &self.kind {
            Some(kind) => kind.starts_with("free"),
            None => self.billable == Some(false),
        }
    }
}

/// The delivery state of an outbound message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeliveryState {
    /// Current status.
    pub status: DeliveryStatus,
    /// When the status was last changed (provider time where known).
    pub updated_at: DateTime<Utc>,
    /// The provider's error when `status` is `Failed`; why it was
    /// cancelled (no code) when `Cancelled`.
    pub error: Option<ProviderError>,
    /// Set when a send attempt was interrupted (the dispatcher's lease expired
    /// before it recorded the result): the message may or may not have gone
    /// out. It is never sent again automatically; a status webhook carrying our
    /// message id reconciles it.
    pub in_doubt_since: Option<DateTime<Utc>>,
    /// The message an agent sent in its place ([`crate::Inbox::resend`]):
    /// a message is sent again at most once, and one sent again no longer
    /// counts as in doubt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resent_as: Option<crate::ids::MessageId>,
    /// What WhatsApp says the message costs, once a status said it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pricing: Option<Pricing>,
}

/// A change reported for an outbound message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeliveryUpdate {
    /// The reported status.
    pub status: DeliveryStatus,
    /// When it happened.
    pub at: DateTime<Utc>,
    /// The provider's error, for `Failed`.
    pub error: Option<ProviderError>,
    /// What the provider says the message costs, if the report says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pricing: Option<Pricing>,
}

impl DeliveryState {
    /// A new outbound message waiting in the outbox.
    pub fn pending(at: DateTime<Utc>) -> Self {
        Self {
            status: DeliveryStatus::Pending,
            updated_at: at,
            error: None,
            in_doubt_since: None,
            resent_as: None,
            pricing: None,
        }
    }

    /// Applies an update, returning whether the state changed.
    ///
    /// Forward only: an update to the same or an earlier status changes
    /// nothing; `failed` applies only before `delivered`; nothing leaves
    /// `failed` or `cancelled`. A report of `cancelled` changes nothing:
    /// only the inbox cancels, with [`DeliveryState::cancel`].
    ///
    /// ```
    /// use chrono::{TimeZone, Utc};
    /// use inbox_core::model::{DeliveryState, DeliveryStatus, DeliveryUpdate};
    /// let t = Utc.timestamp_opt(1_700_000_000, 0).unwrap();
    /// let mut s = DeliveryState::pending(t);
    /// let up = |status| DeliveryUpdate { status, at: t, error: None, pricing: None };
    /// assert!(s.apply(&up(DeliveryStatus::Read)));
    /// assert!(!s.apply(&up(DeliveryStatus::Delivered))); // late, ignored
    /// assert_eq!(s.status, DeliveryStatus::Read);
    /// ```
    pub fn apply(&mut self, update: &DeliveryUpdate) -> bool {
        if update.status == DeliveryStatus::Cancelled {
            return false;
        }
        let next = match (self.status.rank(), update.status.rank()) {
            // Nothing leaves failed.
            (None, _) => false,
            // Failure counts only before delivery.
            (Some(cur), None) => cur < 3,
            (Some(cur), Some(new)) => new > cur,
        };
        if next {
            self.status = update.status;
            self.updated_at = update.at;
            self.error = if update.status == DeliveryStatus::Failed {
                update.error.clone().or(Some(ProviderError {
                    code: None,
                    title: "failed without details".into(),
                    details: None,
                }))
            } else {
                None
            };
            // Whatever the provider reports, it had the message: no longer
            // in doubt.
            self.in_doubt_since = None;
        }
        next
    }
}

impl DeliveryState {
    /// Cancels a message that is still waiting to be sent (pending, no
    /// attempt in doubt) at `at` for `reason`; returns whether it did. A
    /// message already handed to the provider, failed or cancelled is left
    /// as it is.
    ///
    /// ```
    /// use chrono::{TimeZone, Utc};
    /// use inbox_core::model::{DeliveryState, DeliveryStatus};
    /// let t = Utc.timestamp_opt(1_700_000_000, 0).unwrap();
    /// let mut s = DeliveryState::pending(t);
    /// assert!(s.cancel(t, "taken over by ana"));
    /// assert_eq!(s.status, DeliveryStatus::Cancelled);
    /// assert!(!s.cancel(t, "again"));
    /// assert_eq!(s.error.unwrap().title, "taken over by ana");
    /// ```
    pub fn cancel(&mut self, at: DateTime<Utc>, reason: &str) -> bool {
        if self.status != DeliveryStatus::Pending || self.in_doubt_since.is_some() {
            return false;
        }
        self.status = DeliveryStatus::Cancelled;
        self.updated_at = at;
        self.error = Some(ProviderError {
            code: None,
            title: reason.to_string(),
            details: None,
        });
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

    fn t(s: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_700_000_000 + s, 0).single().unwrap()
    }

    fn status() -> impl Strategy<Value = DeliveryStatus> {
        prop_oneof![
            Just(DeliveryStatus::Pending),
            Just(DeliveryStatus::Accepted),
            Just(DeliveryStatus::Sent),
            Just(DeliveryStatus::Delivered),
            Just(DeliveryStatus::Read),
            Just(DeliveryStatus::Played),
            Just(DeliveryStatus::Failed),
        ]
    }

    #[test]
    fn failed_carries_error_and_is_final() {
        let mut s = DeliveryState::pending(t(0));
        let err = ProviderError {
            code: Some(131047),
            title: "Re-engagement message".into(),
            details: None,
        };
        assert!(s.apply(&DeliveryUpdate {
            pricing: None,
            status: DeliveryStatus::Failed,
            at: t(1),
            error: Some(err.clone())
        }));
        assert_eq!(s.error, Some(err));
        assert!(!s.apply(&DeliveryUpdate {
            pricing: None,
            status: DeliveryStatus::Read,
            at: t(2),
            error: None
        }));
        assert_eq!(s.status, DeliveryStatus::Failed);
    }

    #[test]
    fn failure_after_delivery_is_ignored() {
        let mut s = DeliveryState::pending(t(0));
        s.apply(&DeliveryUpdate {
            pricing: None,
            status: DeliveryStatus::Delivered,
            at: t(1),
            error: None,
        });
        assert!(!s.apply(&DeliveryUpdate {
            pricing: None,
            status: DeliveryStatus::Failed,
            at: t(2),
            error: None
        }));
        assert_eq!(s.status, DeliveryStatus::Delivered);
    }

    proptest! {
        /// Delivery status never goes backwards, whatever order, duplicates or
        /// gaps the updates arrive in.
        #[test]
        fn delivery_status_never_goes_backwards(updates in prop::collection::vec(status(), 0..30)) {
            let mut s = DeliveryState::pending(t(0));
            for (i, st) in updates.iter().enumerate() {
                let before = s.clone();
                let changed = s.apply(&DeliveryUpdate { status: *st, at: t(i as i64 + 1), error: None, pricing: None });
                if before.status == DeliveryStatus::Failed {
                    prop_assert!(!changed);
                    prop_assert_eq!(&s, &before);
                }
                match (before.status.rank(), s.status.rank()) {
                    (Some(a), Some(b)) => prop_assert!(b >= a),
                    (Some(a), None) => prop_assert!(a < 3),
                    (None, b) => prop_assert!(b.is_none()),
                }
                if !changed {
                    prop_assert_eq!(&s, &before);
                }
                if s.status == DeliveryStatus::Failed {
                    prop_assert!(s.error.is_some());
                }
            }
            // The final status is the highest forward status seen, unless a
            // failure came before any delivery.
            let highest = updates.iter().filter_map(|u| u.rank()).max().unwrap_or(0);
            if s.status != DeliveryStatus::Failed {
                prop_assert_eq!(s.status.rank(), Some(highest));
            }
        }
    }
}
