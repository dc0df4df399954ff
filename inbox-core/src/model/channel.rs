use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use super::{HistoryImport, SignalSeen};

use crate::ids::{ChannelId, TenantId};

/// One WhatsApp number of a tenant (a sales line, a support line ...).
///
/// Secrets (the app secret and the access token) are not stored here: the
/// channel names them by reference, and the WhatsApp adapter resolves the
/// reference, so that no secret ever reaches the store, a log or `Debug`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Channel {
    /// The tenant that owns the number.
    pub tenant: TenantId,
    /// The channel's id, chosen by the embedder.
    pub id: ChannelId,
    /// Meta's phone number id (`metadata.phone_number_id` in webhooks). Unique
    /// across the whole deployment: it is how an inbound webhook finds its
    /// tenant.
    pub phone_number_id: String,
    /// The number as customers see it, e.g. `+34 600 000 000`.
    pub display_number: String,
    /// A label for agents ("Sales", "Support").
    pub name: String,
    /// Reference to the secrets of this number (app secret, access token) in
    /// the embedder's secret store. Never the secret itself.
    pub secrets_ref: Option<String>,
    /// Meta's id of the WhatsApp Business Account the number belongs to:
    /// where its message templates are listed (a template sync reads them
    /// from there). `None` when not known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waba_id: Option<String>,
    /// The number is also used in the WhatsApp Business app (coexistence):
    /// the business answers from the phone too (those messages arrive as
    /// echoes), and WhatsApp holds the number to 20 messages a second.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub coexistence: bool,
    /// What Meta last said about the number, its account and its
    /// templates, by [`AccountSignal::slot`](super::AccountSignal::slot):
    /// its quality and messaging limit, the account's state, each
    /// template's status and quality. Kept for admins to see; written by
    /// [`Inbox::ingest_account_signal`](crate::Inbox::ingest_account_signal).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub signals: BTreeMap<String, SignalSeen>,
    /// How far the import of the number's past chats from the WhatsApp
    /// Business app has come (coexistence; `None`: none started). Written
    /// by [`Inbox::ingest_history`](crate::Inbox::ingest_history).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history: Option<HistoryImport>,
}

impl Channel {
    /// `self` with what the inbox learned about `stored` (its signals and
    /// history import), for a store writing new configuration over it.
    pub fn with_news_of(self, stored: &Channel) -> Channel {
        Channel {
            signals: stored.signals.clone(),
            history: stored.history.clone(),
            ..self
        }
    }

    /// `stored` with the news of `changed` (its signals and history
    /// import), and nothing else of it.
    pub fn news_into(&self, stored: Channel) -> Channel {
        Channel {
            signals: self.signals.clone(),
            history: self.history.clone(),
            ..stored
        }
    }

    /// Creates a channel with no secrets reference.
    ///
    /// ```
    /// use inbox_core::{model::Channel, ChannelId, TenantId};
    /// let c = Channel::new(
    ///     TenantId::new("acme").unwrap(),
    ///     ChannelId::new("support").unwrap(),
    ///     "1066",
    ///     "+34 600 000 000",
    /// );
    /// assert_eq!(c.name, "support");
    /// ```
    pub fn new(
        tenant: TenantId,
        id: ChannelId,
        phone_number_id: impl Into<String>,
        display_number: impl Into<String>,
    ) -> Self {
        let name = id.as_str().to_string();
        Self {
            tenant,
            id,
            phone_number_id: phone_number_id.into(),
            display_number: display_number.into(),
            name,
            secrets_ref: None,
            waba_id: None,
            coexistence: false,
            signals: BTreeMap::new(),
            history: None,
        }
    }
}
