use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Content, DeliveryState, ReplyContext};
use crate::ids::{AgentId, ChannelId, ContactId, ConversationId, MessageId, TenantId};

/// Which way a message travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// From the customer.
    Inbound,
    /// To the customer.
    Outbound,
    /// An internal note: seen by the team only, never sent.
    Note,
}

/// Who wrote a message.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum Author {
    /// The customer.
    Customer(ContactId),
    /// A team member.
    Agent(AgentId),
    /// A rule or bot, by name.
    Automation(String),
    /// The system itself (WhatsApp notices, handoffs).
    System,
}

/// A message, outbound reply or internal note.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Message {
    /// The tenant.
    pub tenant: TenantId,
    /// The message's id.
    pub id: MessageId,
    /// The conversation it belongs to.
    pub conversation: ConversationId,
    /// The channel (number) it travels on.
    pub channel: ChannelId,
    /// Inbound, outbound or note.
    pub direction: Direction,
    /// Who wrote it.
    pub author: Author,
    /// What it says.
    pub content: Content,
    /// The provider's id (wamid); unique per channel.
    pub external_id: Option<String>,
    /// The agent's idempotency key for replies and notes; unique per tenant.
    pub idempotency_key: Option<String>,
    /// Reply, forward and referral context (inbound), or the message an
    /// outbound reply quotes (`reply_to` holds its external id).
    pub context: ReplyContext,
    /// Agents mentioned in a note.
    pub mentions: Vec<AgentId>,
    /// When the provider says it was sent (inbound), or when it was written.
    pub sent_at: DateTime<Utc>,
    /// When it was stored.
    pub created_at: DateTime<Utc>,
    /// Delivery state (outbound only).
    pub delivery: Option<DeliveryState>,
    /// For an agent's reply that answered a waiting customer: how long they
    /// had waited (reports measure response times with it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<ResponseTime>,
}

/// How long a customer had waited when an agent's reply answered them,
/// from their oldest unanswered message.
///
/// ```
/// use inbox_core::model::ResponseTime;
/// let r = ResponseTime { secs: 5400, business_secs: 1800, first: false };
/// assert!(r.is_next_response());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ResponseTime {
    /// Wall-clock seconds.
    pub secs: i64,
    /// Seconds within the conversation's business hours.
    pub business_secs: i64,
    /// Whether this was the conversation's first agent reply.
    pub first: bool,
}

impl ResponseTime {
    /// Whether it counts as a next response (any reply after the first).
    pub fn is_next_response(&self) -> bool {
        !self.first
    }
}

impl Message {
    /// Whether this is an internal note.
    pub fn is_note(&self) -> bool {
        self.direction == Direction::Note
    }

    /// Whether this outbound message is in doubt: it may or may not have
    /// reached the provider, and waits for a status webhook or a person
    /// to send it again (pending, no provider id, `in_doubt_since` set,
    /// not sent again yet).
    pub fn is_in_doubt(&self) -> bool {
        self.direction == Direction::Outbound
            && self.external_id.is_none()
            && self.delivery.as_ref().is_some_and(|d| {
                d.status == super::DeliveryStatus::Pending
                    && d.in_doubt_since.is_some()
                    && d.resent_as.is_none()
            })
    }
}
