//! The `connectors` section: which CRM and shop connectors a tenant uses
//! (HubSpot, Zoho CRM, Shopify) and what they do, and the `subscriptions`
//! section: what outbound event deliveries carry.
//!
//! Only choices live here. Credentials (HubSpot's private-app token, Zoho's
//! OAuth client and refresh token, Shopify's Admin API token) are stored
//! sealed beside the tenant, never in this document, so an exported
//! document can be shared; the connectors' addresses are the process's
//! (an admin cannot point a connector at another host).
//!
//! ```
//! use inbox_core::settings::{CrmLog, Known, TenantSettings, ZohoDataCenter};
//! let doc = TenantSettings::from_yaml(r#"
//! connectors:
//!   hubspot: { log: each_message, create_contacts: true, portal_id: 4431 }
//!   zoho: { data_center: eu }
//!   shopify: { shop: acme-store.myshopify.com, orders: 3 }
//! subscriptions: { include_message_text: true }
//! "#).unwrap();
//! let hubspot = doc.connectors.hubspot.as_ref().unwrap();
//! assert_eq!(hubspot.log, CrmLog::EachMessage);
//! assert_eq!(doc.connectors.zoho.as_ref().unwrap().data_center, ZohoDataCenter::Eu);
//! assert!(doc.subscriptions.include_message_text && !doc.subscriptions.include_contact);
//! assert!(doc.compile(&Known::default()).is_ok());
//!
//! let bad = TenantSettings::from_yaml("connectors: {shopify: {shop: 'evil.example.com'}}").unwrap();
//! let err = bad.compile(&Known::default()).unwrap_err().to_string();
//! assert!(err.contains("connectors.shopify.shop"), "{err}");
//! ```

use serde::{Deserialize, Serialize};

use super::SettingsProblem;

/// The tenant's connectors (none by default).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConnectorsSection {
    /// HubSpot CRM (API v3).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hubspot: Option<HubSpotSettings>,
    /// Zoho CRM (API v2+).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zoho: Option<ZohoSettings>,
    /// Shopify (Admin GraphQL API).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shopify: Option<ShopifySettings>,
}

/// What a CRM connector writes on the contact's record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CrmLog {
    /// Nothing.
    Off,
    /// One note with the transcript when a conversation is resolved.
    #[default]
    Resolved,
    /// One note per message, as it is sent or received.
    EachMessage,
}

/// HubSpot: the contact found by phone (or e-mail), its lifecycle stage,
/// owner, company and open deals; conversations logged on its timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HubSpotSettings {
    /// Whether it is used (off keeps the settings and the credentials).
    pub enabled: bool,
    /// What is written on the contact's timeline.
    pub log: CrmLog,
    /// Create the contact (with the customer's number and name) when a
    /// conversation is logged and none has the number.
    pub create_contacts: bool,
    /// The HubSpot account id, for links to records (none: no links).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub portal_id: Option<u64>,
}

impl Default for HubSpotSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            log: CrmLog::Resolved,
            create_contacts: false,
            portal_id: None,
        }
    }
}

/// Zoho's data centres: where the tenant's Zoho account lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ZohoDataCenter {
    /// United States (`zoho.com`).
    #[default]
    Us,
    /// Europe (`zoho.eu`).
    Eu,
    /// India (`zoho.in`).
    In,
    /// Australia (`zoho.com.au`).
    Au,
    /// Japan (`zoho.jp`).
    Jp,
    /// Canada (`zohocloud.ca`).
    Ca,
    /// Saudi Arabia (`zoho.sa`).
    Sa,
    /// China (`zoho.com.cn`).
    Cn,
}

impl ZohoDataCenter {
    /// The domain suffix of the data centre's hosts (`zoho.eu`): the
    /// accounts server is `accounts.<suffix>`, the API `www.zohoapis.<…>`.
    pub fn domain(self) -> &'static str {
        match self {
            Self::Us => "zoho.com",
            Self::Eu => "zoho.eu",
            Self::In => "zoho.in",
            Self::Au => "zoho.com.au",
            Self::Jp => "zoho.jp",
            Self::Ca => "zohocloud.ca",
            Self::Sa => "zoho.sa",
            Self::Cn => "zoho.com.cn",
        }
    }
}

/// A Zoho CRM module searched for the customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ZohoModule {
    /// Leads.
    Leads,
    /// Contacts.
    Contacts,
}

impl ZohoModule {
    /// The module's API name.
    pub fn api_name(self) -> &'static str {
        match self {
            Self::Leads => "Leads",
            Self::Contacts => "Contacts",
        }
    }
}

/// Zoho CRM: the lead or contact found by phone, its stage and owner; a
/// note on resolve.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ZohoSettings {
    /// Whether it is used.
    pub enabled: bool,
    /// Where the account lives.
    pub data_center: ZohoDataCenter,
    /// The modules searched, in order (the first record found is shown).
    pub modules: Vec<ZohoModule>,
    /// What is written on the record.
    pub log: CrmLog,
}

impl Default for ZohoSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            data_center: ZohoDataCenter::Us,
            modules: vec![ZohoModule::Contacts, ZohoModule::Leads],
            log: CrmLog::Resolved,
        }
    }
}

/// Shopify: the customer found by phone and their recent orders.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ShopifySettings {
    /// Whether it is used.
    pub enabled: bool,
    /// The shop's `myshopify.com` domain (`acme-store.myshopify.com`).
    pub shop: String,
    /// How many recent orders are shown (1 to 20).
    pub orders: u8,
}

impl Default for ShopifySettings {
    fn default() -> Self {
        Self {
            enabled: true,
            shop: String::new(),
            orders: 5,
        }
    }
}

/// What outbound event deliveries (subscriptions) carry besides the event.
/// Off by default: a receiver then calls back for what it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SubscriptionsSection {
    /// The text (or caption) of the message a message event is about.
    pub include_message_text: bool,
    /// The contact: name, number, WhatsApp ids, e-mail attribute.
    pub include_contact: bool,
}

impl SubscriptionsSection {
    /// Whether nothing is added (the default).
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }
}

impl ConnectorsSection {
    /// Whether no connector is set.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    pub(crate) fn check(&self) -> Vec<SettingsProblem> {
        let mut p = Vec::new();
        if let Some(s) = &self.shopify {
            if !is_shop_domain(&s.shop) {
                p.push(SettingsProblem {
                    path: "connectors.shopify.shop".into(),
                    reason: format!(
                        "{:?} is not a shop's domain: write it as <name>.myshopify.com",
                        s.shop
                    ),
                });
            }
            if !(1..=20).contains(&s.orders) {
                p.push(SettingsProblem {
                    path: "connectors.shopify.orders".into(),
                    reason: "must be 1 to 20".into(),
                });
            }
        }
        if let Some(z) = &self.zoho {
            if z.modules.is_empty() {
                p.push(SettingsProblem {
                    path: "connectors.zoho.modules".into(),
                    reason: "needs Leads, Contacts or both".into(),
                });
            }
        }
        p
    }
}

/// `<name>.myshopify.com`, the name lowercase letters, digits and dashes.
fn is_shop_domain(shop: &str) -> bool {
    shop.strip_suffix(".myshopify.com").is_some_and(|name| {
        !name.is_empty()
            && name.len() <= 63
            && !name.starts_with('-')
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shop_domains_are_myshopify_names_only() {
        for ok in ["acme.myshopify.com", "acme-store-2.myshopify.com"] {
            assert!(is_shop_domain(ok), "{ok}");
        }
        for bad in [
            "",
            ".myshopify.com",
            "acme.myshopify.com.evil.io",
            "ACME.myshopify.com",
            "a/b.myshopify.com",
            "127.0.0.1",
            "-x.myshopify.com",
        ] {
            assert!(!is_shop_domain(bad), "{bad}");
        }
    }
}
