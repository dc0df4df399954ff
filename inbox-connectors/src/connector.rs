//! What every connector does: answers with cards about a customer, writes
//! a conversation on the customer's record, and checks its credentials.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use inbox_core::model::Contact;
use inbox_core::ports::ContextCard;

use crate::{ConnectorError, ConnectorKind};

/// Who to look up: what the inbox knows of the customer.
///
/// ```
/// use inbox_connectors::Customer;
/// let c = Customer { phone: Some("+34600111222".into()), ..Default::default() };
/// assert_eq!(c.phone_digits().as_deref(), Some("34600111222"));
/// assert_eq!(c.describe(), "+34600111222");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Customer {
    /// Their number in E.164 (`+34600111222`), when WhatsApp gave it.
    pub phone: Option<String>,
    /// Their e-mail, when the team recorded one (the `email` attribute).
    pub email: Option<String>,
    /// Their name as the team knows it.
    pub name: Option<String>,
}

impl Customer {
    /// The customer of a contact: the number from its WhatsApp id, the
    /// `email` attribute, the team's name else the profile name.
    pub fn of(contact: &Contact) -> Self {
        let phone = contact
            .identity
            .wa_id
            .as_deref()
            .map(|wa| wa.trim_start_matches('+'))
            .filter(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
            .map(|d| format!("+{d}"));
        let email = contact
            .attributes
            .get("email")
            .map(|e| e.trim().to_string())
            .filter(|e| e.contains('@'));
        let name = [
            &contact.display_name,
            &contact.app_name,
            &contact.profile_name,
        ]
        .into_iter()
        .find_map(|n| n.clone().filter(|n| !n.trim().is_empty()));
        Self { phone, email, name }
    }

    /// The number's digits, without the `+`.
    pub fn phone_digits(&self) -> Option<String> {
        self.phone
            .as_ref()
            .map(|p| p.trim_start_matches('+').to_string())
    }

    /// How to name them in a "not found" card: the number, else the
    /// e-mail, else "this customer".
    pub fn describe(&self) -> String {
        self.phone
            .clone()
            .or_else(|| self.email.clone())
            .unwrap_or_else(|| "this customer".into())
    }

    /// Whether there is anything to look them up by.
    pub fn is_findable(&self) -> bool {
        self.phone.is_some() || self.email.is_some()
    }
}

/// A conversation (or one message of it) to write on the customer's record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    /// The customer.
    pub customer: Customer,
    /// The conversation's id (so the note can be found again; a connector
    /// may use it to avoid writing the same entry twice).
    pub conversation: String,
    /// A one-line title (`WhatsApp conversation resolved by Ana`).
    pub title: String,
    /// The text: a transcript, one line per message (`[10:02] Customer: …`).
    pub body: String,
    /// When it happened (the resolution, or the message).
    pub at: DateTime<Utc>,
}

/// What a connector did with a [`LogEntry`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Logged {
    /// Written on this record (the provider's id).
    Written {
        /// The record's id in the provider.
        record: String,
    },
    /// Not written: no record has the customer and the policy does not
    /// create one (said, not an error).
    NoRecord,
}

/// A connector to a CRM or a shop, built for one tenant with its settings
/// and credentials.
///
/// # Contract
///
/// - [`Connector::cards`] finds the customer (by phone, then e-mail) and
///   answers with cards stamped with the connector's name as `source`;
///   none found is one card that says so (never an empty answer, which
///   would look like a broken panel).
/// - Every call is bounded by its [`CallPolicy`](crate::CallPolicy):
///   timeouts, retries with backoff, rate limits; errors name the
///   connector and never carry a credential.
/// - [`Connector::log`] is idempotent per entry where the provider allows
///   (the conversation id is in the note), and creates a record only where
///   the tenant's policy says.
#[async_trait]
pub trait Connector: Send + Sync {
    /// Which connector.
    fn kind(&self) -> ConnectorKind;

    /// Cards about the customer.
    async fn cards(&self, customer: &Customer) -> Result<Vec<ContextCard>, ConnectorError>;

    /// Writes the entry on the customer's record.
    async fn log(&self, entry: &LogEntry) -> Result<Logged, ConnectorError>;

    /// One cheap authenticated call: whether the credentials work.
    async fn check(&self) -> Result<(), ConnectorError>;
}
