//! What Meta says about a tenant's WhatsApp account, its numbers and its
//! message templates (webhook fields `message_template_status_update`,
//! `message_template_quality_update`, `account_update` and
//! `phone_number_quality_update`): [`AccountSignal`], and the last one of
//! each kind a number keeps ([`SignalSeen`]).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::TemplateStatus;

/// One thing Meta reported about the account, a number or a template.
/// Values Meta adds later are kept as text, never an error.
///
/// ```
/// use inbox_core::model::{AccountSignal, TemplateStatus};
/// let paused = AccountSignal::TemplateStatus {
///     name: "spring_sale".into(),
///     language: "en_US".into(),
///     status: TemplateStatus::Paused,
///     reason: None,
///     detail: Some("FIRST_PAUSE".into()),
/// };
/// assert_eq!(paused.slot(), "template:spring_sale:en_US:status");
/// assert!(paused.needs_attention());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AccountSignal {
    /// A template's review status changed (approved, paused, rejected,
    /// disabled …).
    TemplateStatus {
        /// The template's name.
        name: String,
        /// Its language (`en_US`).
        language: String,
        /// Where it stands now.
        #[cfg_attr(feature = "openapi", schema(value_type = String))]
        status: TemplateStatus,
        /// Meta's reason (`INCORRECT_CATEGORY` …), if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
        /// More from Meta: the pause's title, the rejection's
        /// recommendation, the date it will be disabled.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        detail: Option<String>,
    },
    /// A template's quality rating changed (`GREEN`, `YELLOW`, `RED`,
    /// `UNKNOWN`).
    TemplateQuality {
        /// The template's name.
        name: String,
        /// Its language.
        language: String,
        /// The new rating.
        quality: String,
        /// The rating before, if Meta said.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        previous: Option<String>,
    },
    /// Something happened to the WhatsApp Business Account
    /// (`ACCOUNT_VIOLATION`, `DISABLED_UPDATE`, `PARTNER_REMOVED` …).
    Account {
        /// Meta's event name.
        event: String,
        /// What Meta said of it, in a line (the violation, the ban state,
        /// why a coexistence number was disconnected …).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        detail: Option<String>,
    },
    /// A number's quality or messaging limit changed.
    NumberQuality {
        /// Meta's event name (`THROUGHPUT_UPGRADE`, `FLAGGED` …).
        event: String,
        /// The number's messaging limit now (`TIER_2K`, `TIER_UNLIMITED` …).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        limit: Option<String>,
    },
}

impl AccountSignal {
    /// What the signal is about, as a key: a newer signal of the same
    /// slot replaces an older one (one kind of account event, the number's
    /// quality, one template's status or quality), so routine news never
    /// hides an alarm of another kind.
    pub fn slot(&self) -> String {
        match self {
            AccountSignal::TemplateStatus { name, language, .. } => {
                format!("template:{name}:{language}:status")
            }
            AccountSignal::TemplateQuality { name, language, .. } => {
                format!("template:{name}:{language}:quality")
            }
            AccountSignal::Account { event, .. } => format!("account:{event}"),
            AccountSignal::NumberQuality { .. } => "number_quality".into(),
        }
    }

    /// Whether an admin should act on it: a template that can no longer
    /// be sent or whose quality fell to red, an account event other than
    /// routine partner and pricing news, a number flagged or downgraded.
    pub fn needs_attention(&self) -> bool {
        match self {
            AccountSignal::TemplateStatus { status, .. } => !matches!(
                status,
                TemplateStatus::Approved | TemplateStatus::Pending | TemplateStatus::InAppeal
            ),
            AccountSignal::TemplateQuality { quality, .. } => quality.eq_ignore_ascii_case("red"),
            AccountSignal::Account { event, .. } => !ROUTINE_ACCOUNT_EVENTS
                .iter()
                .any(|e| e.eq_ignore_ascii_case(event)),
            AccountSignal::NumberQuality { event, .. } => ["FLAGGED", "DOWNGRADE"]
                .iter()
                .any(|e| e.eq_ignore_ascii_case(event)),
        }
    }
}

/// Account events that are news, not alarms.
const ROUTINE_ACCOUNT_EVENTS: [&str; 9] = [
    "AD_ACCOUNT_LINKED",
    "MM_LITE_TERMS_SIGNED",
    "PARTNER_ADDED",
    "PARTNER_APP_INSTALLED",
    "AUTH_INTL_PRICE_ELIGIBILITY_UPDATE",
    "BUSINESS_PRIMARY_LOCATION_COUNTRY_UPDATE",
    "VOLUME_BASED_PRICING_TIER_UPDATE",
    "ACCOUNT_RECONNECTED",
    "VERIFIED_ACCOUNT",
];

/// The last signal of one slot a number received, and when Meta sent it:
/// a redelivered or older signal changes nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SignalSeen {
    /// The signal.
    pub signal: AccountSignal,
    /// When Meta sent it.
    pub at: DateTime<Utc>,
}

impl SignalSeen {
    /// Whether `signal` sent at `at` is news next to this one: sent later,
    /// or at the same second but saying something else.
    ///
    /// ```
    /// use chrono::{TimeZone, Utc};
    /// use inbox_core::model::{AccountSignal, SignalSeen};
    /// let flagged = AccountSignal::NumberQuality { event: "FLAGGED".into(), limit: None };
    /// let at = Utc.with_ymd_and_hms(2026, 5, 1, 9, 0, 0).unwrap();
    /// let seen = SignalSeen { signal: flagged.clone(), at };
    /// assert!(!seen.is_news(&flagged, at)); // redelivered
    /// assert!(seen.is_news(&flagged, at + chrono::Duration::hours(1)));
    /// assert!(!seen.is_news(&flagged, at - chrono::Duration::hours(1))); // late
    /// ```
    pub fn is_news(&self, signal: &AccountSignal, at: DateTime<Utc>) -> bool {
        at > self.at || (at == self.at && *signal != self.signal)
    }
}
