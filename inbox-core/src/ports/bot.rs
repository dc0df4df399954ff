//! The bot port: an automated participant that answers the conversations
//! it owns, one turn at a time.
//!
//! The core calls a bot outside any commit (never inside a webhook) with a
//! [`BotTurn`]: the conversation's recent messages (never its notes), the
//! contact and, when configured, the embedder's customer context. The bot
//! answers with [`BotAction`]s; the core checks and commits them as the
//! bot's own actions (its replies go through the outbox, the window rules
//! and content validation like anyone's). A bot that fails, is late or
//! answers something the core refuses hands the conversation to people:
//! never silence.
//!
//! The FAQ bot of the tenant's settings lives in the core; a [`Bot`] set
//! with [`Inbox::set_bot`](crate::Inbox::set_bot) answers for the tenant's
//! other bots (the HTTP bot adapter, which calls an embedder's endpoint).

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::ContextCard;
use crate::ids::{AgentId, ChannelId, ConversationId, MessageId, TenantId};
use crate::model::Content;

/// Most replies one answer may give.
pub const MAX_BOT_REPLIES: usize = 3;
/// Most actions one answer may give.
pub const MAX_BOT_ACTIONS: usize = 5;
/// Longest handoff summary, in characters (it becomes a note).
pub const MAX_BOT_SUMMARY_CHARS: usize = 2_000;
/// Most contact attributes one answer may set.
pub const MAX_BOT_ATTRIBUTES: usize = 20;

/// What a bot is given to take its turn.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BotTurn {
    /// The tenant.
    pub tenant: TenantId,
    /// The bot (its agent id, as in the tenant's `bots` settings).
    pub bot: AgentId,
    /// The conversation.
    pub conversation: ConversationId,
    /// The turn's number in the conversation.
    pub turn: u64,
    /// The turn's idempotency key (`{conversation}:{turn}`): the core may
    /// ask again with the same key after a crash; answer the same way.
    pub key: String,
    /// The number the customer wrote to.
    pub channel: ChannelId,
    /// The customer.
    pub contact: BotContact,
    /// The latest messages, oldest first; notes are never included.
    pub messages: Vec<BotMessage>,
    /// When free-form replies stop being possible (the customer service
    /// window closes); after it only templates can be sent.
    pub window_expires_at: Option<DateTime<Utc>>,
    /// Customer messages the bot answered in this conversation so far.
    pub exchanges: u32,
    /// The embedder's customer context, when the bot asks for it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub context: Vec<ContextCard>,
    /// The answer must come before this.
    pub deadline: DateTime<Utc>,
}

/// The customer, as a bot sees them: no phone number or WhatsApp ids.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BotContact {
    /// Their name, if known.
    pub name: Option<String>,
    /// Their tags.
    pub tags: Vec<String>,
    /// Their attributes.
    pub attributes: BTreeMap<String, String>,
}

/// Who wrote a message a bot sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum BotSpeaker {
    /// The customer.
    Customer,
    /// This bot.
    Bot,
    /// A person of the team.
    Agent,
    /// An automatic message (a rule, a survey …).
    Automation,
}

/// A message of the conversation, as a bot sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BotMessage {
    /// Its id.
    pub id: MessageId,
    /// Who wrote it.
    pub from: BotSpeaker,
    /// What it says.
    pub content: Content,
    /// When.
    pub at: DateTime<Utc>,
}

impl BotTurn {
    /// The text of the customer's latest messages since the bot last
    /// spoke (what the turn answers), joined by newlines.
    pub fn customer_text(&self) -> String {
        let since = self
            .messages
            .iter()
            .rposition(|m| m.from != BotSpeaker::Customer)
            .map_or(0, |i| i + 1);
        self.messages[since..]
            .iter()
            .filter_map(|m| m.content.text_body())
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// One thing a bot does in its turn.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum BotAction {
    /// Send this to the customer.
    Reply {
        /// The message.
        content: Content,
    },
    /// Hand the conversation to people.
    Handoff {
        /// Why, in words (shown on the timeline).
        reason: String,
        /// What people should know: becomes a note.
        #[serde(default)]
        summary: Option<String>,
    },
    /// Tag the conversation.
    Tag {
        /// Tags to add.
        #[serde(default)]
        add: Vec<String>,
        /// Tags to remove.
        #[serde(default)]
        remove: Vec<String>,
    },
    /// Set attributes of the contact.
    SetAttributes {
        /// Names and values.
        attributes: BTreeMap<String, String>,
    },
    /// Resolve the conversation.
    Resolve,
}

impl BotAction {
    /// The action's name (as in its JSON `type`).
    pub fn name(&self) -> &'static str {
        match self {
            BotAction::Reply { .. } => "reply",
            BotAction::Handoff { .. } => "handoff",
            BotAction::Tag { .. } => "tag",
            BotAction::SetAttributes { .. } => "set_attributes",
            BotAction::Resolve => "resolve",
        }
    }
}

/// A bot's answer: what it does this turn, in order (none: it says
/// nothing this time).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BotAnswer {
    /// The actions.
    pub actions: Vec<BotAction>,
}

/// Why a bot gave no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BotError {
    /// It did not answer before the deadline.
    #[error("the bot did not answer in time")]
    Timeout,
    /// It could not be reached (or said it cannot answer now).
    #[error("the bot is unavailable: {0}")]
    Unavailable(String),
    /// It answered something that is not an answer.
    #[error("the bot's answer is not usable: {0}")]
    BadAnswer(String),
}

/// An automated participant.
///
/// # Contract
///
/// - Answers by [`BotTurn::deadline`]: the core has no timer of its own,
///   so the adapter bounds its latency (an answer the core receives more
///   than a second after the deadline is treated as [`BotError::Timeout`]).
/// - Answers only for the turn's tenant and conversation.
/// - May be called again with the same [`BotTurn::key`] (after a crash, or
///   by a second worker); it should answer the same way. The core commits
///   at most one answer per turn whatever it does.
/// - Failures are [`BotError`] values, never panics.
#[async_trait]
pub trait Bot: Send + Sync {
    /// Takes a turn.
    async fn turn(&self, turn: &BotTurn) -> std::result::Result<BotAnswer, BotError>;
}
