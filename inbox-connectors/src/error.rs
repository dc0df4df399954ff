//! What went wrong, always naming the connector. No message carries a
//! credential or a URL with one: they are shown to agents and logged.

use std::time::Duration;

use crate::ConnectorKind;

/// Why a connector could not answer.
///
/// ```
/// use inbox_connectors::{ConnectorError, ConnectorKind};
/// let e = ConnectorError::Auth { connector: ConnectorKind::HubSpot, status: 401 };
/// assert_eq!(e.to_string(), "HubSpot refused the credentials (401): reconnect it in Settings");
/// assert_eq!(e.connector(), ConnectorKind::HubSpot);
/// assert!(!e.is_transient());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectorError {
    /// Not set up for the tenant (no settings, or a credential missing).
    #[error("{connector} is not set up: {what}")]
    NotConfigured {
        /// Which connector.
        connector: ConnectorKind,
        /// What is missing.
        what: String,
    },
    /// The provider refused the credentials (401, 403, an OAuth refresh
    /// refused).
    #[error("{connector} refused the credentials ({status}): reconnect it in Settings")]
    Auth {
        /// Which connector.
        connector: ConnectorKind,
        /// The HTTP status (or 0 for an OAuth error in a 200 answer).
        status: u16,
    },
    /// Rate limited, by the provider (429, Shopify's throttle) or by our
    /// own pacing, after the retries the time allowed.
    #[error("{connector} is rate limiting us{}", retry_hint(.retry_after))]
    RateLimited {
        /// Which connector.
        connector: ConnectorKind,
        /// When the provider said to come back, if it did.
        retry_after: Option<Duration>,
    },
    /// No answer in time.
    #[error("{connector} did not answer within {:.1} s", .after.as_secs_f64())]
    Timeout {
        /// Which connector.
        connector: ConnectorKind,
        /// How long we waited.
        after: Duration,
    },
    /// The provider could not be reached, or failed (5xx) on every try.
    #[error("{connector} is unavailable: {reason}")]
    Unavailable {
        /// Which connector.
        connector: ConnectorKind,
        /// What happened (no URL, no credential).
        reason: String,
    },
    /// The provider refused the request (a 4xx other than auth and rate
    /// limits): the message is the provider's, shortened.
    #[error("{connector} refused {what} ({status}): {message}")]
    Rejected {
        /// Which connector.
        connector: ConnectorKind,
        /// What was asked (`contact search`).
        what: &'static str,
        /// The HTTP status.
        status: u16,
        /// The provider's message.
        message: String,
    },
    /// The answer was not what the provider documents.
    #[error("{connector} answered {what} unexpectedly: {reason}")]
    BadResponse {
        /// Which connector.
        connector: ConnectorKind,
        /// What was asked.
        what: &'static str,
        /// What did not fit.
        reason: String,
    },
    /// The stored credentials could not be read (the store failed, or a
    /// sealed secret does not open).
    #[error("{connector}'s credentials could not be read: {reason}")]
    Credentials {
        /// Which connector.
        connector: ConnectorKind,
        /// Why.
        reason: String,
    },
}

fn retry_hint(after: &Option<Duration>) -> String {
    after.map_or_else(String::new, |d| {
        format!("; try again in {} s", d.as_secs().max(1))
    })
}

impl ConnectorError {
    /// The connector that failed.
    pub fn connector(&self) -> ConnectorKind {
        match self {
            Self::NotConfigured { connector, .. }
            | Self::Auth { connector, .. }
            | Self::RateLimited { connector, .. }
            | Self::Timeout { connector, .. }
            | Self::Unavailable { connector, .. }
            | Self::Rejected { connector, .. }
            | Self::BadResponse { connector, .. }
            | Self::Credentials { connector, .. } => *connector,
        }
    }

    /// Whether trying again later may succeed (rate limits, timeouts,
    /// outages), as opposed to a configuration to fix.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::RateLimited { .. } | Self::Timeout { .. } | Self::Unavailable { .. }
        )
    }
}
