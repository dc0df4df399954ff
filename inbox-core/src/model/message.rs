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
    /// Another app on the same number, by name: the business's own
    /// WhatsApp Business app or a companion device
    /// ([`Author::BUSINESS_APP`], coexistence echoes), or the app that
    /// controlled the thread when the message was sent (e.g. `ai_agent`,
    /// Meta's AI agent, seen on `standby`).
    App(String),
}

impl Author {
    /// The name of the WhatsApp Business app (and its companion devices)
    /// as an [`Author::App`]: messages the business sent from the phone
    /// app on a coexistence number.
    pub const BUSINESS_APP: &'static str = "whatsapp_business_app";

    /// The WhatsApp Business app as an author.
    ///
    /// ```
    /// use inbox_core::model::Author;
    /// assert_eq!(Author::business_app(), Author::App("whatsapp_business_app".into()));
    /// ```
    pub fn business_app() -> Self {
        Author::App(Self::BUSINESS_APP.into())
    }
}

/// How a message came to be in the inbox, beyond its direction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// The inbox's own traffic: a customer's message received while the
    /// inbox controlled the thread, a reply it sent, or one the business
    /// sent from its WhatsApp Business app (those count like replies).
    #[default]
    Live,
    /// A passive copy received while another app (Meta's AI agent, a bot
    /// platform) controlled the thread (WhatsApp's `standby`): shown,
    /// never routed, answered or counted as waiting.
    Standby,
    /// Imported from the WhatsApp Business app's past chats (WhatsApp's
    /// `history`): shown, never routed, answered or measured.
    History,
}

impl Origin {
    /// Whether this is the inbox's own traffic.
    pub fn is_live(&self) -> bool {
        *self == Origin::Live
    }
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
    /// How it came to be here: live (the default), a passive `standby`
    /// copy, or imported history.
    #[serde(default, skip_serializing_if = "Origin::is_live")]
    pub origin: Origin,
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
    /// Whether the inbox sent it through the WhatsApp Cloud API, where
    /// Meta prices each message: outbound, live, not a call, and not
    /// written in another app (the Business app's messages, another app's
    /// answers and imported history are not the inbox's sends).
    ///
    /// ```
    /// # use inbox_core::model::{Author, Message};
    /// # fn demo(m: &Message) {
    /// if m.is_api_send() {
    ///     assert!(!matches!(m.author, Author::App(_)));
    /// }
    /// # }
    /// ```
    pub fn is_api_send(&self) -> bool {
        self.direction == Direction::Outbound
            && self.origin == Origin::Live
            && !matches!(self.author, Author::App(_))
            && !matches!(self.content, Content::Call { .. })
    }

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
