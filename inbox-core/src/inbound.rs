//! What transports hand to the core: customer messages, delivery statuses and
//! provider errors, already decoded (the WhatsApp adapter decodes webhooks
//! into these).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{ConversationId, MessageId};
use crate::model::{
    ContactIdentity, Content, DeliveryStatus, Message, ProviderError, ReplyContext,
};

/// A customer message as received from the provider.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InboundMessage {
    /// The provider's id of the receiving number (`phone_number_id`).
    pub phone_number_id: String,
    /// The provider's message id (wamid); deduplication key per channel.
    pub external_id: String,
    /// Who wrote.
    pub from: ContactIdentity,
    /// The profile name the customer set, if sent.
    pub profile_name: Option<String>,
    /// When the customer sent it (provider time).
    pub timestamp: DateTime<Utc>,
    /// What it says.
    pub content: Content,
    /// Reply, forward and ad context.
    #[serde(default)]
    pub context: ReplyContext,
}

/// A delivery status report for an outbound message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InboundStatus {
    /// The provider's id of the sending number.
    pub phone_number_id: String,
    /// The provider's message id.
    pub external_id: String,
    /// Our message id, when the provider echoes it back
    /// (`biz_opaque_callback_data`).
    pub our_message_id: Option<String>,
    /// The recipient.
    pub recipient: Option<String>,
    /// The reported status.
    pub status: DeliveryStatus,
    /// When it happened.
    pub timestamp: DateTime<Utc>,
    /// Errors, for `failed`.
    pub error: Option<ProviderError>,
}

/// Something a provider reported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum InboundEvent {
    /// A customer message.
    Message(InboundMessage),
    /// A delivery status.
    Status(InboundStatus),
}

/// What ingesting one inbound event did.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum IngestOutcome {
    /// A new message was stored.
    Stored {
        /// The stored message.
        message: Box<Message>,
        /// Its conversation.
        conversation: ConversationId,
        /// A new conversation was opened for it.
        opened: bool,
        /// A resolved, pending or snoozed conversation was reopened.
        reopened: bool,
    },
    /// The message was already stored (a redelivered webhook); nothing
    /// changed.
    Duplicate {
        /// The message stored the first time.
        message: MessageId,
    },
    /// A status moved a message's delivery forward.
    StatusApplied {
        /// The message.
        message: MessageId,
        /// Its new status.
        status: DeliveryStatus,
    },
    /// A status that changes nothing (duplicate, late or backwards).
    StatusIgnored {
        /// The message.
        message: MessageId,
    },
    /// A status for a message this inbox did not send (e.g. sent from the
    /// phone app). Acknowledged and otherwise ignored.
    UnknownMessage {
        /// The provider id.
        external_id: String,
    },
}
