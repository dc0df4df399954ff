use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::ids::TenantId;
use crate::model::Contact;

/// Something the embedder's other systems know about a customer: an order,
/// a lead stage, an open ticket. Shown next to the conversation.
///
/// A source that could not answer is shown as a card too, with its
/// [`ContextCard::problem`] set (the short reason), so several sources can
/// answer side by side and one being down leaves the others on screen.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ContextCard {
    /// Which system it comes from (`shop`, `crm`, `helpdesk`).
    pub source: String,
    /// A one-line title (`Order #10423 — shipped`).
    pub title: String,
    /// Labelled values, in display order.
    #[serde(default)]
    pub fields: Vec<(String, String)>,
    /// A link to the record in its system.
    #[serde(default)]
    pub url: Option<String>,
    /// Free-form extras for custom front ends.
    #[serde(default)]
    pub extra: BTreeMap<String, String>,
    /// When the source answered (a cached answer keeps its time), if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fetched_at: Option<DateTime<Utc>>,
    /// Why the source could not answer (no secrets): the card then holds
    /// no fields, only its source, title and this reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
    /// Texts an agent may insert into a reply (an order's status), in
    /// display order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub snippets: Vec<ContextSnippet>,
}

/// A text from a [`ContextCard`] an agent may insert into a reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ContextSnippet {
    /// What the button says (`Insert order status`).
    pub label: String,
    /// The text inserted.
    pub text: String,
}

/// Why a provider could not answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ContextError(pub String);

/// The embedder's source of customer context (order history, lead stage,
/// tickets), set with [`Inbox::set_customer_context`](crate::Inbox::set_customer_context).
///
/// # Contract
///
/// - Answers for one contact of one tenant; must never return another
///   tenant's data (the tenant is passed for that reason).
/// - Bounds its own latency (the core has no timer of its own): a slow CRM
///   should time out inside the provider and return an error.
/// - Errors are shown to the agent as "context unavailable" with the message;
///   they never fail the conversation view, so the message must not carry
///   secrets.
///
/// ```
/// use async_trait::async_trait;
/// use inbox_core::ports::{ContextCard, ContextError, CustomerContext};
/// use inbox_core::{model::Contact, TenantId};
/// struct Shop;
/// #[async_trait]
/// impl CustomerContext for Shop {
///     async fn cards(&self, _t: &TenantId, c: &Contact) -> Result<Vec<ContextCard>, ContextError> {
///         Ok(vec![ContextCard {
///             source: "shop".into(),
///             title: format!("3 orders for {}", c.identity.wa_id.as_deref().unwrap_or("?")),
///             fields: vec![("Last order".into(), "#10423, shipped".into())],
///             ..Default::default()
///         }])
///     }
/// }
/// ```
#[async_trait]
pub trait CustomerContext: Send + Sync {
    /// Cards about `contact`.
    async fn cards(
        &self,
        tenant: &TenantId,
        contact: &Contact,
    ) -> Result<Vec<ContextCard>, ContextError>;
}
