use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::ids::{ContactId, TenantId};

/// How WhatsApp identifies a customer: the phone-number based `wa_id` and/or
/// the business-scoped user id (BSUID, `user_id`) that WhatsApp now sends, and
/// which may come without a `wa_id`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ContactIdentity {
    /// The WhatsApp id (phone number in international format without `+`).
    pub wa_id: Option<String>,
    /// The business-scoped user id (BSUID, `CC.` and letters and digits),
    /// WhatsApp's id of the customer within one business portfolio.
    pub user_id: Option<String>,
    /// The parent BSUID (`CC.ENT.…`), shared by the portfolios a business
    /// has linked: a customer writing to numbers of two linked portfolios
    /// has two BSUIDs and one parent, and stays one contact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_user_id: Option<String>,
}

impl Contact {
    /// A new contact of `tenant` known by `identity` only (no names, tags,
    /// attributes or choices), first seen `now`, at version 1 (as it is
    /// inserted).
    pub fn new(
        tenant: TenantId,
        id: ContactId,
        identity: ContactIdentity,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            tenant,
            id,
            identity,
            profile_name: None,
            username: None,
            marketing: None,
            app_name: None,
            app_name_at: None,
            display_name: None,
            tags: Vec::new(),
            attributes: BTreeMap::new(),
            created_at: now,
            merged_into: None,
            version: 1,
        }
    }

    /// Whether marketing messages may go to this customer: not when they
    /// stopped them in WhatsApp (and have not resumed them since).
    pub fn accepts_marketing(&self) -> bool {
        !self.marketing.as_ref().is_some_and(|m| m.stopped)
    }
}

impl ContactIdentity {
    /// An identity known by `wa_id` only.
    ///
    /// ```
    /// use inbox_core::model::ContactIdentity;
    /// assert!(ContactIdentity::wa("34600111222").is_known());
    /// assert!(!ContactIdentity::default().is_known());
    /// ```
    pub fn wa(wa_id: impl Into<String>) -> Self {
        Self {
            wa_id: Some(wa_id.into()),
            user_id: None,
            parent_user_id: None,
        }
    }

    /// An identity known by BSUID only.
    pub fn user(user_id: impl Into<String>) -> Self {
        Self {
            wa_id: None,
            user_id: Some(user_id.into()),
            parent_user_id: None,
        }
    }

    /// Whether at least one identifier is present (and not blank).
    pub fn is_known(&self) -> bool {
        self.wa_id.as_deref().is_some_and(|s| !s.trim().is_empty())
            || self
                .user_id
                .as_deref()
                .is_some_and(|s| !s.trim().is_empty())
    }

    /// A printable handle: the wa_id if known, else the BSUID.
    pub fn handle(&self) -> &str {
        self.wa_id
            .as_deref()
            .or(self.user_id.as_deref())
            .unwrap_or("unknown")
    }
}

/// A customer's last word on marketing messages, as WhatsApp reported it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MarketingChoice {
    /// They stopped marketing messages (`false`: they resumed them).
    pub stopped: bool,
    /// When they chose (WhatsApp's time).
    pub at: DateTime<Utc>,
    /// WhatsApp's description of the choice, if sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Where the choice came from (WhatsApp's stop button, a keyword …).
    #[serde(default)]
    pub source: ConsentSource,
    /// They asked for marketing messages (a resume keyword): an explicit
    /// opt-in, not only the absence of a stop.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub opted_in: bool,
}

/// Where a customer's choice about marketing messages came from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ConsentSource {
    /// WhatsApp's own stop or resume (`user_preferences`).
    #[default]
    #[serde(rename = "whatsapp")]
    WhatsApp,
    /// A keyword of the tenant's `consent` settings, sent as a message.
    Keyword,
    /// WhatsApp refused a marketing message to them because they stopped
    /// marketing messages (error 131050).
    SendRefused,
    /// A contacts list the team imported.
    Import,
}

/// A customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Contact {
    /// The tenant.
    pub tenant: TenantId,
    /// The contact's id.
    pub id: ContactId,
    /// WhatsApp identity; within a tenant at most one contact has a given
    /// `wa_id` and at most one a given `user_id`.
    pub identity: ContactIdentity,
    /// The profile name the customer set in WhatsApp (updated from their
    /// messages).
    pub profile_name: Option<String>,
    /// The WhatsApp username the customer chose, if they have one (updated
    /// from their messages): what identifies a customer who hides their
    /// phone number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Whether the customer stopped marketing messages in WhatsApp, and
    /// when (WhatsApp's `user_preferences`); `None` until they said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub marketing: Option<MarketingChoice>,
    /// The name the business gave them in the WhatsApp Business app's
    /// contacts (coexistence numbers: `smb_app_state_sync`). It names
    /// them for the team (`display_name`) unless someone on the team named
    /// them otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_name: Option<String>,
    /// When the app last said what `app_name` is: an older report,
    /// delivered late, changes nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_name_at: Option<chrono::DateTime<chrono::Utc>>,
    /// The name the team gave the contact (kept when WhatsApp's changes).
    #[serde(default)]
    pub display_name: Option<String>,
    /// Tags, e.g. `vip`.
    pub tags: Vec<String>,
    /// Free-form attributes (CRM id, language ...).
    pub attributes: BTreeMap<String, String>,
    /// When the contact first wrote.
    pub created_at: DateTime<Utc>,
    /// Set when this contact was merged into another (it is then kept only
    /// so old references resolve: its identity is cleared and its
    /// conversations belong to the other).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged_into: Option<ContactId>,
    /// Optimistic-concurrency version, incremented by every change.
    pub version: u64,
}
