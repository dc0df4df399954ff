//! Which connector: HubSpot, Zoho CRM or Shopify.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The connectors this crate has.
///
/// ```
/// use inbox_connectors::ConnectorKind;
/// assert_eq!(ConnectorKind::HubSpot.to_string(), "HubSpot");
/// assert_eq!(ConnectorKind::parse("zoho"), Some(ConnectorKind::Zoho));
/// assert_eq!(ConnectorKind::Shopify.id(), "shopify");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectorKind {
    /// HubSpot CRM.
    HubSpot,
    /// Zoho CRM.
    Zoho,
    /// Shopify.
    Shopify,
}

impl ConnectorKind {
    /// Every connector, in display order.
    pub const ALL: [ConnectorKind; 3] = [Self::HubSpot, Self::Zoho, Self::Shopify];

    /// Its id in settings, URLs and secret names (`hubspot`).
    pub fn id(self) -> &'static str {
        match self {
            Self::HubSpot => "hubspot",
            Self::Zoho => "zoho",
            Self::Shopify => "shopify",
        }
    }

    /// The connector of an id.
    pub fn parse(id: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.id() == id)
    }

    /// The names of the credentials it takes, as stored (`hubspot.token`),
    /// with what each is; [`ConnectorKind::credential_sets`] says which
    /// together suffice.
    pub fn credentials(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Self::HubSpot => &[("token", "the private app's access token (pat-...)")],
            Self::Zoho => &[
                ("client_id", "the Self Client's client id"),
                ("client_secret", "the Self Client's client secret"),
                (
                    "refresh_token",
                    "a refresh token for the scopes in docs/zoho.md",
                ),
            ],
            Self::Shopify => &[
                (
                    "token",
                    "a custom app's Admin API access token (shpat_...), or:",
                ),
                ("client_id", "a Dev Dashboard app's client id"),
                ("client_secret", "a Dev Dashboard app's client secret"),
            ],
        }
    }

    /// The sets of credentials that suffice, in order of preference: the
    /// first set fully stored is used.
    ///
    /// ```
    /// use inbox_connectors::ConnectorKind;
    /// assert_eq!(ConnectorKind::Shopify.credential_sets(), [&["token"][..], &["client_id", "client_secret"][..]]);
    /// ```
    pub fn credential_sets(self) -> &'static [&'static [&'static str]] {
        match self {
            Self::HubSpot => &[&["token"]],
            Self::Zoho => &[&["client_id", "client_secret", "refresh_token"]],
            Self::Shopify => &[&["token"], &["client_id", "client_secret"]],
        }
    }

    /// The stored name of one of its credentials (`zoho.refresh_token`).
    pub fn secret_name(self, credential: &str) -> String {
        format!("{}.{credential}", self.id())
    }
}

impl fmt::Display for ConnectorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::HubSpot => "HubSpot",
            Self::Zoho => "Zoho CRM",
            Self::Shopify => "Shopify",
        })
    }
}
