//! What transports hand to the core: customer messages, delivery statuses and
//! provider errors, already decoded (the WhatsApp adapter decodes webhooks
//! into these), and the typed reasons an item is refused with
//! ([`InboundRefusal`]).
//!
//! Every inbound item is checked on its own before anything is stored
//! ([`InboundEvent::check`]): an id a store cannot index, a character a
//! store cannot hold, a timestamp WhatsApp cannot have sent. The core's
//! ingest refuses such an item with [`Error::InvalidInput`] (never a store
//! failure), and an adapter checks each item of a webhook the same way, so
//! that it can keep a refused item as a dead letter and still store the
//! others.

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use crate::error::Error;
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
    /// The customer's WhatsApp username, if sent.
    #[serde(default)]
    pub username: Option<String>,
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
    /// What the message costs, when the provider says.
    #[serde(default)]
    pub pricing: Option<crate::model::Pricing>,
}

/// A customer's choice about what the business may send them (WhatsApp's
/// `user_preferences`: stopping or resuming marketing messages).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InboundPreference {
    /// The provider's id of the number the choice concerns.
    pub phone_number_id: String,
    /// Who chose.
    pub from: ContactIdentity,
    /// What it is about (`marketing_messages`; others are kept as sent).
    pub category: String,
    /// The choice (`stop`, `resume`; others are kept as sent).
    pub value: String,
    /// WhatsApp's description of it.
    #[serde(default)]
    pub detail: Option<String>,
    /// When they chose (provider time).
    pub timestamp: DateTime<Utc>,
}

impl InboundPreference {
    /// Whether this stops (`Some(true)`) or resumes (`Some(false)`)
    /// marketing messages; `None` for a choice the inbox does not act on.
    pub fn stops_marketing(&self) -> Option<bool> {
        if self.category != "marketing_messages" {
            return None;
        }
        match self.value.as_str() {
            "stop" => Some(true),
            "resume" => Some(false),
            _ => None,
        }
    }

    /// The checks of [`InboundPreference::check`] that do not depend on
    /// the clock (see [`InboundMessage::validate`]).
    pub fn validate(&self) -> Result<(), InboundRefusal> {
        check_phone_number_id(&self.phone_number_id)?;
        if !self.from.is_known() {
            return Err(InboundRefusal::InvalidSender {
                detail: "the preference names neither a wa_id nor a user_id".into(),
            });
        }
        for (field, text) in [("category", &self.category), ("value", &self.value)] {
            check_text(field, text)?;
        }
        if let Some(d) = &self.detail {
            check_text("detail", d)?;
        }
        check_not_too_old(self.timestamp)
    }
}

/// A message the business sent to a customer from another app on the same
/// number: the WhatsApp Business app or a companion device (WhatsApp's
/// `smb_message_echoes`, coexistence), or the app controlling the thread
/// (an echo seen on `standby`). Stored as an outbound message of the
/// customer's conversation, once however often it is delivered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InboundEcho {
    /// The message as sent. Its `from` is the customer it was sent
    /// **to**; its `timestamp` when the business sent it.
    pub message: InboundMessage,
    /// The app that sent it, by name ([`crate::model::Author::BUSINESS_APP`]
    /// for the WhatsApp Business app).
    pub app: String,
}

/// A passive copy of what passed on a thread another app controls
/// (WhatsApp's `standby`): the customer's messages and the controlling
/// app's replies. Kept for the agents to read; never routed or answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "by", rename_all = "snake_case")]
pub enum StandbyCopy {
    /// The customer wrote.
    Customer(InboundMessage),
    /// The controlling app answered.
    Business(InboundEcho),
}

impl StandbyCopy {
    /// The message either way.
    pub fn message(&self) -> &InboundMessage {
        match self {
            StandbyCopy::Customer(m) => m,
            StandbyCopy::Business(e) => &e.message,
        }
    }
}

/// Control of a customer's thread changed hands between apps sharing the
/// number (WhatsApp's `messaging_handovers`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InboundHandover {
    /// The provider's id of the number.
    pub phone_number_id: String,
    /// The customer whose thread it is.
    pub customer: ContactIdentity,
    /// Whether control came to this inbox (`true`: passed to it) or was
    /// taken from it (`false`).
    pub to_us: bool,
    /// The app (role) that held the thread before.
    #[serde(default)]
    pub previous_owner: Option<String>,
    /// The app (role) that holds it now.
    #[serde(default)]
    pub new_owner: Option<String>,
    /// What the app passing control sent along (its summary, say).
    #[serde(default)]
    pub metadata: Option<String>,
    /// When (provider time).
    pub timestamp: DateTime<Utc>,
}

impl InboundHandover {
    /// The checks of [`InboundHandover::check`] that do not depend on the
    /// clock (see [`InboundMessage::validate`]).
    pub fn validate(&self) -> Result<(), InboundRefusal> {
        check_phone_number_id(&self.phone_number_id)?;
        if !self.customer.is_known() {
            return Err(InboundRefusal::InvalidSender {
                detail: "the handover names neither a wa_id nor a user_id".into(),
            });
        }
        for (field, text) in [
            ("previous_owner", &self.previous_owner),
            ("new_owner", &self.new_owner),
            ("metadata", &self.metadata),
        ] {
            if let Some(t) = text {
                check_text(field, t)?;
            }
        }
        check_not_too_old(self.timestamp)
    }
}

/// A contact of the WhatsApp Business app on a coexistence number, added,
/// renamed or removed on the phone (WhatsApp's `smb_app_state_sync`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InboundAppContact {
    /// The provider's id of the number.
    pub phone_number_id: String,
    /// Who the contact is.
    pub contact: ContactIdentity,
    /// Their name in the app (`None` when removed or not given).
    #[serde(default)]
    pub name: Option<String>,
    /// Whether it was removed from the app's contacts.
    pub removed: bool,
    /// When (provider time).
    pub timestamp: DateTime<Utc>,
}

impl InboundAppContact {
    /// The checks of [`InboundAppContact::check`] that do not depend on
    /// the clock (see [`InboundMessage::validate`]).
    pub fn validate(&self) -> Result<(), InboundRefusal> {
        check_phone_number_id(&self.phone_number_id)?;
        if !self.contact.is_known() {
            return Err(InboundRefusal::InvalidSender {
                detail: "the app contact names neither a phone number nor a user_id".into(),
            });
        }
        if let Some(name) = &self.name {
            check_text("name", name)?;
        }
        check_not_too_old(self.timestamp)
    }
}

/// Past chats of a coexistence number, from the WhatsApp Business app
/// (WhatsApp's `history` webhook): one chunk of one phase, or the media of
/// earlier messages, or the business's refusal to share them. Stored as
/// history ([`Origin::History`](crate::model::Origin::History)): never
/// routed, never waited on, never notified.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InboundHistory {
    /// The provider's id of the number.
    pub phone_number_id: String,
    /// Which chunk this is (`None`: media sent after their placeholders).
    #[serde(default)]
    pub chunk: Option<HistoryChunk>,
    /// The chats, one per customer.
    #[serde(default)]
    pub threads: Vec<HistoryThread>,
    /// The business declined to share its history (Meta's error).
    #[serde(default)]
    pub declined: Option<ProviderError>,
    /// When it was received.
    pub timestamp: DateTime<Utc>,
}

/// Where a chunk of history stands: its phase (0: the first day, 1: up to
/// 90 days, 2: up to 180 days), its order in the phase, and the overall
/// progress (0 to 100).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryChunk {
    /// The phase.
    pub phase: u8,
    /// The chunk's order within it.
    pub chunk_order: u32,
    /// Overall progress, 0 to 100.
    pub progress: u8,
}

/// One customer's past chat.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryThread {
    /// The customer.
    pub customer: ContactIdentity,
    /// Their messages and the business's, as they were: each message's
    /// `from` is the customer.
    pub messages: Vec<HistoryMessage>,
}

/// One past message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryMessage {
    /// The message (its `from` is the customer, whoever wrote it).
    pub message: InboundMessage,
    /// The business sent it.
    pub from_business: bool,
    /// How far it got, for the business's messages (`SENT`, `READ` …).
    #[serde(default)]
    pub status: Option<DeliveryStatus>,
}

impl InboundHistory {
    /// The checks of [`InboundHistory::check`] that do not depend on the
    /// clock: every message as [`InboundMessage::validate`] checks it.
    pub fn validate(&self) -> Result<(), InboundRefusal> {
        check_phone_number_id(&self.phone_number_id)?;
        for m in self.threads.iter().flat_map(|t| &t.messages) {
            m.message.validate()?;
        }
        check_not_too_old(self.timestamp)
    }

    /// Checks the whole delivery against the inbox's clock `now` (see
    /// [`InboundMessage::check`]): one bad message refuses it all, so that
    /// Meta's chunk is kept whole as a dead letter.
    pub fn check(&self, now: DateTime<Utc>) -> Result<(), InboundRefusal> {
        self.validate()?;
        check_not_ahead(self.timestamp, now)?;
        for m in self.threads.iter().flat_map(|t| &t.messages) {
            m.message.check_time(now)?;
        }
        Ok(())
    }
}

/// What Meta reported about a tenant's WhatsApp account, one of its
/// numbers or one of its templates (webhook fields
/// `message_template_status_update`, `message_template_quality_update`,
/// `account_update`, `phone_number_quality_update`).
///
/// Meta sends these per WhatsApp Business Account, without a number: the
/// adapter names the numbers of the account that the webhook's signing
/// secret speaks for, all of one tenant (one event per tenant).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InboundAccountSignal {
    /// The numbers it concerns (at least one; all of one tenant).
    pub phone_number_ids: Vec<String>,
    /// What Meta said.
    pub signal: crate::model::AccountSignal,
    /// When (provider time).
    pub timestamp: DateTime<Utc>,
}

impl InboundAccountSignal {
    /// The checks of [`InboundAccountSignal::check`] that do not depend on
    /// the clock (see [`InboundMessage::validate`]).
    pub fn validate(&self) -> Result<(), InboundRefusal> {
        if self.phone_number_ids.is_empty() {
            return Err(InboundRefusal::malformed("the signal names no number"));
        }
        for pnid in &self.phone_number_ids {
            check_phone_number_id(pnid)?;
        }
        for (field, text) in signal_texts(&self.signal) {
            check_text(field, text)?;
        }
        check_not_too_old(self.timestamp)
    }
}

/// A field's value, with the field's name.
type Named<T> = (&'static str, T);

/// The texts of a signal, by field name.
fn signal_texts(signal: &crate::model::AccountSignal) -> Vec<(&'static str, &str)> {
    use crate::model::AccountSignal as S;
    let (texts, optional): (Vec<Named<&str>>, Vec<Named<&Option<String>>>) = match signal {
        S::TemplateStatus {
            name,
            language,
            reason,
            detail,
            ..
        } => (
            vec![("name", name), ("language", language)],
            vec![("reason", reason), ("detail", detail)],
        ),
        S::TemplateQuality {
            name,
            language,
            quality,
            previous,
        } => (
            vec![("name", name), ("language", language), ("quality", quality)],
            vec![("previous", previous)],
        ),
        S::Account { event, detail } => (vec![("event", event)], vec![("detail", detail)]),
        S::NumberQuality { event, limit } => (vec![("event", event)], vec![("limit", limit)]),
    };
    let given = optional
        .into_iter()
        .filter_map(|(field, text)| text.as_deref().map(|t| (field, t)));
    texts.into_iter().chain(given).collect()
}

/// Something a provider reported.
// Messages are most of what arrives and each is handled once, by value:
// boxing them would add an allocation per message to save none.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum InboundEvent {
    /// A customer message.
    Message(InboundMessage),
    /// A delivery status.
    Status(InboundStatus),
    /// A customer's choice about marketing messages.
    Preference(InboundPreference),
    /// A message the business sent from another app on the number.
    Echo(InboundEcho),
    /// A passive copy from a thread another app controls.
    Standby(StandbyCopy),
    /// Control of a thread changed hands.
    Handover(InboundHandover),
    /// A contact of the WhatsApp Business app changed.
    AppContact(InboundAppContact),
    /// Meta reported something about the account, a number or a template.
    Account(InboundAccountSignal),
    /// Past chats from the WhatsApp Business app.
    History(InboundHistory),
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
    /// A customer's choice about marketing messages, recorded on their
    /// contact (`changed`: it differs from what was known; an older report
    /// than the one kept changes nothing). `contact` is `None` for someone
    /// this tenant has never heard from (acknowledged, nothing stored).
    Preference {
        /// The contact it was recorded on.
        contact: Option<crate::ids::ContactId>,
        /// Whether the contact changed.
        changed: bool,
    },
    /// A contact of the WhatsApp Business app recorded (`changed`: its
    /// name is new; `contact` is `None` for a removal of someone this
    /// tenant has never heard from).
    AppContact {
        /// The contact.
        contact: Option<crate::ids::ContactId>,
        /// Whether the contact changed.
        changed: bool,
    },
    /// What Meta reported about the account, a number or a template,
    /// recorded (`changed`: it was news; a redelivered or older report
    /// changes nothing).
    AccountSignal {
        /// Whether anything changed.
        changed: bool,
    },
    /// Past chats imported (`stored`: the messages new to the inbox).
    History {
        /// The messages stored.
        stored: u32,
    },
    /// A handover recorded on the customer's conversation (`changed`: the
    /// inbox learned something new; `conversation` is `None` for a
    /// customer this tenant has never heard from).
    Handover {
        /// The conversation it was recorded on.
        conversation: Option<ConversationId>,
        /// Whether the conversation changed.
        changed: bool,
    },
}

/// The earliest provider timestamp an inbound item may carry, in unix
/// seconds: 2009-01-01T00:00:00Z (WhatsApp did not exist before). Anything
/// earlier is a bogus value that would close the customer window at once
/// and put the conversation first in "waiting longest".
pub const EARLIEST_INBOUND_TIMESTAMP: i64 = 1_230_768_000;

/// How far ahead of the inbox's clock a provider timestamp may be (clock
/// skew); an item further ahead is refused.
pub const MAX_INBOUND_SKEW: TimeDelta = TimeDelta::days(1);

/// The longest provider message id, sender id or phone number id accepted,
/// in bytes (WhatsApp's are well under 100; a store indexes them).
pub const MAX_INBOUND_ID_BYTES: usize = 512;

/// Why an inbound item was refused. Each variant has a stable
/// [`code`](InboundRefusal::code) and a message for people (`Display`).
///
/// ```
/// use inbox_core::inbound::InboundRefusal;
/// let r = InboundRefusal::TimestampTooOld { timestamp: -99_999_999_999 };
/// assert_eq!(r.code(), "timestamp_too_old");
/// assert!(r.to_string().contains("before 2009"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "code", rename_all = "snake_case")]
#[non_exhaustive]
pub enum InboundRefusal {
    /// The item cannot be read: not the shape the provider documents, or a
    /// field it must have is missing or unusable.
    Malformed {
        /// What was wrong.
        detail: String,
    },
    /// The provider's message id is empty, longer than
    /// [`MAX_INBOUND_ID_BYTES`], or holds control characters.
    InvalidExternalId {
        /// What was wrong.
        detail: String,
    },
    /// The sender is unusable: neither a wa_id nor a user_id, or one that is
    /// too long or holds control characters.
    InvalidSender {
        /// What was wrong.
        detail: String,
    },
    /// A text holds a NUL character, which no store can keep.
    ControlCharacter {
        /// Where (`content.body`, `profile_name`, `error.title` ...).
        field: String,
    },
    /// The timestamp is before 2009 ([`EARLIEST_INBOUND_TIMESTAMP`]).
    TimestampTooOld {
        /// The timestamp, in unix seconds.
        timestamp: i64,
    },
    /// The timestamp is more than [`MAX_INBOUND_SKEW`] ahead of the inbox's
    /// clock.
    TimestampInFuture {
        /// The timestamp, in unix seconds.
        timestamp: i64,
    },
    /// No tenant has this phone number id (yet): replay the item once the
    /// number is provisioned.
    UnknownChannel {
        /// The phone number id.
        phone_number_id: String,
    },
    /// The inbox refused the item as invalid for another reason.
    Refused {
        /// The field the inbox named.
        field: String,
        /// Why.
        reason: String,
    },
}

/// Longest detail kept in a refusal, in characters.
const MAX_DETAIL_CHARS: usize = 300;

/// A text safe to keep and show: control characters replaced, shortened.
fn clean(s: &str) -> String {
    let mut out: String = s
        .chars()
        .take(MAX_DETAIL_CHARS)
        .map(|c| if c.is_control() { '\u{fffd}' } else { c })
        .collect();
    if s.chars().nth(MAX_DETAIL_CHARS).is_some() {
        out.push('…');
    }
    out
}

fn fmt_timestamp(secs: i64) -> String {
    match Utc.timestamp_opt(secs, 0).single() {
        Some(t) => format!("{secs} ({})", t.to_rfc3339()),
        None => secs.to_string(),
    }
}

impl std::fmt::Display for InboundRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InboundRefusal::Malformed { detail } => write!(f, "unreadable item: {detail}"),
            InboundRefusal::InvalidExternalId { detail } => {
                write!(f, "invalid message id: {detail}")
            }
            InboundRefusal::InvalidSender { detail } => write!(f, "invalid sender: {detail}"),
            InboundRefusal::ControlCharacter { field } => {
                write!(f, "{field} holds a NUL character, which no store can keep")
            }
            InboundRefusal::TimestampTooOld { timestamp } => write!(
                f,
                "timestamp {} is before 2009, when WhatsApp did not exist",
                fmt_timestamp(*timestamp)
            ),
            InboundRefusal::TimestampInFuture { timestamp } => write!(
                f,
                "timestamp {} is more than a day ahead of the inbox's clock",
                fmt_timestamp(*timestamp)
            ),
            InboundRefusal::UnknownChannel { phone_number_id } => {
                write!(f, "no tenant has phone number id {phone_number_id:?}")
            }
            InboundRefusal::Refused { field, reason } => write!(f, "invalid {field}: {reason}"),
        }
    }
}

impl InboundRefusal {
    /// A [`Malformed`](InboundRefusal::Malformed) refusal; the detail is
    /// kept without control characters and shortened.
    pub fn malformed(detail: impl std::fmt::Display) -> Self {
        InboundRefusal::Malformed {
            detail: clean(&detail.to_string()),
        }
    }

    /// A short stable code (`timestamp_too_old`, `unknown_channel` ...).
    pub fn code(&self) -> &'static str {
        self.code_and_field().0
    }

    /// The field the refusal is about, as [`Error::InvalidInput`] names it.
    pub fn field(&self) -> &str {
        self.code_and_field().1
    }

    /// The refusal's [`code`](InboundRefusal::code) and
    /// [`field`](InboundRefusal::field), side by side for each kind.
    fn code_and_field(&self) -> (&'static str, &str) {
        match self {
            InboundRefusal::Malformed { .. } => ("malformed", "item"),
            InboundRefusal::InvalidExternalId { .. } => ("invalid_external_id", "external_id"),
            InboundRefusal::InvalidSender { .. } => ("invalid_sender", "from"),
            InboundRefusal::ControlCharacter { field } => ("control_character", field),
            InboundRefusal::TimestampTooOld { .. } => ("timestamp_too_old", "timestamp"),
            InboundRefusal::TimestampInFuture { .. } => ("timestamp_in_future", "timestamp"),
            InboundRefusal::UnknownChannel { .. } => ("unknown_channel", "phone_number_id"),
            InboundRefusal::Refused { field, .. } => ("refused", field),
        }
    }

    /// The refusal an ingest error stands for: an unknown number or invalid
    /// input (refused items); `None` for failures of the store or the
    /// transport, which are not the item's fault.
    pub fn from_error(e: &Error) -> Option<Self> {
        match e {
            Error::UnknownChannel { phone_number_id } => Some(InboundRefusal::UnknownChannel {
                phone_number_id: clean(phone_number_id),
            }),
            Error::InvalidInput { field, reason } => Some(InboundRefusal::Refused {
                field: clean(field),
                reason: clean(reason),
            }),
            _ => None,
        }
    }

    /// The same refusal with every text safe for any store: control
    /// characters replaced and details shortened (for refusals built by
    /// hand).
    pub fn sanitized(self) -> Self {
        match self {
            InboundRefusal::Malformed { detail } => InboundRefusal::Malformed {
                detail: clean(&detail),
            },
            InboundRefusal::InvalidExternalId { detail } => InboundRefusal::InvalidExternalId {
                detail: clean(&detail),
            },
            InboundRefusal::InvalidSender { detail } => InboundRefusal::InvalidSender {
                detail: clean(&detail),
            },
            InboundRefusal::ControlCharacter { field } => InboundRefusal::ControlCharacter {
                field: clean(&field),
            },
            InboundRefusal::UnknownChannel { phone_number_id } => InboundRefusal::UnknownChannel {
                phone_number_id: clean(&phone_number_id),
            },
            InboundRefusal::Refused { field, reason } => InboundRefusal::Refused {
                field: clean(&field),
                reason: clean(&reason),
            },
            other => other,
        }
    }
}

impl From<InboundRefusal> for Error {
    fn from(r: InboundRefusal) -> Self {
        match r {
            InboundRefusal::UnknownChannel { phone_number_id } => {
                Error::UnknownChannel { phone_number_id }
            }
            other => Error::invalid(other.field().to_string(), other.to_string()),
        }
    }
}

/// Refuses a timestamp from before WhatsApp existed (2009).
fn check_not_too_old(at: DateTime<Utc>) -> Result<(), InboundRefusal> {
    let timestamp = at.timestamp();
    if timestamp < EARLIEST_INBOUND_TIMESTAMP {
        return Err(InboundRefusal::TimestampTooOld { timestamp });
    }
    Ok(())
}

/// Refuses a timestamp more than a day ahead of `now`.
fn check_not_ahead(at: DateTime<Utc>, now: DateTime<Utc>) -> Result<(), InboundRefusal> {
    if at > now + MAX_INBOUND_SKEW {
        return Err(InboundRefusal::TimestampInFuture {
            timestamp: at.timestamp(),
        });
    }
    Ok(())
}

/// What is wrong with an id a store indexes, if anything.
fn id_problem(value: &str) -> Option<&'static str> {
    if value.trim().is_empty() {
        Some("must not be empty")
    } else if value.len() > MAX_INBOUND_ID_BYTES {
        Some("longer than 512 bytes")
    } else if value.chars().any(char::is_control) {
        Some("holds control characters")
    } else {
        None
    }
}

fn check_phone_number_id(pnid: &str) -> Result<(), InboundRefusal> {
    match id_problem(pnid) {
        Some(p) => Err(InboundRefusal::malformed(format!("phone_number_id {p}"))),
        None => Ok(()),
    }
}

fn check_external_id(id: &str) -> Result<(), InboundRefusal> {
    match id_problem(id) {
        Some(p) => Err(InboundRefusal::InvalidExternalId {
            detail: p.to_string(),
        }),
        None => Ok(()),
    }
}

fn check_text(field: &str, text: &str) -> Result<(), InboundRefusal> {
    if text.contains('\0') {
        return Err(InboundRefusal::ControlCharacter {
            field: field.to_string(),
        });
    }
    Ok(())
}

/// The path of the first string (or key) holding a NUL in `v`, if any.
fn nul_path(v: &serde_json::Value, path: &str) -> Option<String> {
    match v {
        serde_json::Value::String(s) => s.contains('\0').then(|| path.to_string()),
        serde_json::Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, x)| nul_path(x, &format!("{path}[{i}]"))),
        serde_json::Value::Object(map) => map.iter().find_map(|(k, x)| {
            let here = format!("{path}.{}", clean(k));
            if k.contains('\0') {
                Some(here)
            } else {
                nul_path(x, &here)
            }
        }),
        _ => None,
    }
}

fn check_json<T: Serialize>(field: &str, value: &T) -> Result<(), InboundRefusal> {
    // Fast path: a walk of the value's texts, nothing serialised; only a
    // value that holds a NUL is turned into JSON to say where.
    let malformed = |e: String| InboundRefusal::malformed(format!("{field}: {e}"));
    if !crate::nul::has_nul(value).map_err(malformed)? {
        return Ok(());
    }
    let v = serde_json::to_value(value).map_err(|e| malformed(e.to_string()))?;
    match nul_path(&v, field) {
        Some(field) => Err(InboundRefusal::ControlCharacter { field }),
        None => Ok(()),
    }
}

/// Implements `check` and `check_time` on an inbound item (one with a
/// `timestamp` and a `validate`): the clock's check and the checks that do
/// not depend on it, made the same way for messages and statuses.
macro_rules! clock_checks {
    ($item:ty, $(#[$check:meta])* check, $(#[$check_time:meta])* check_time) => {
        impl $item {
            $(#[$check])*
            pub fn check(&self, now: DateTime<Utc>) -> Result<(), InboundRefusal> {
                self.validate()?;
                self.check_time(now)
            }

            $(#[$check_time])*
            pub fn check_time(&self, now: DateTime<Utc>) -> Result<(), InboundRefusal> {
                check_not_ahead(self.timestamp, now)
            }
        }
    };
}

clock_checks!(
    InboundMessage,
    /// Checks that the message can be stored as it is, relative to the
    /// inbox's clock `now`: usable ids and sender, no NUL in any text, a
    /// timestamp from 2009 up to a day ahead of `now`. Nothing else in the
    /// inbox can then refuse it but an unknown number.
    ///
    /// ```
    /// use chrono::{TimeDelta, TimeZone, Utc};
    /// use inbox_core::model::{ContactIdentity, Content, ReplyContext};
    /// use inbox_core::InboundMessage;
    /// let now = Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap();
    /// let mut m = InboundMessage {
    ///     phone_number_id: "1001".into(),
    ///     external_id: "wamid.1".into(),
    ///     from: ContactIdentity::wa("34600111222"),
    ///     profile_name: None,
    ///     username: None,
    ///     timestamp: now,
    ///     content: Content::text("hola"),
    ///     context: ReplyContext::default(),
    /// };
    /// assert!(m.check(now).is_ok());
    /// m.timestamp = now + TimeDelta::days(2);
    /// assert_eq!(m.check(now).unwrap_err().code(), "timestamp_in_future");
    /// ```
    check,
    /// The check of [`InboundMessage::check`] that depends on the clock
    /// alone: the timestamp is at most a day ahead of `now` (for a decoder
    /// that made the others with [`InboundMessage::validate`]).
    check_time
);

clock_checks!(
    InboundStatus,
    /// Checks that the status can be applied as it is, relative to the
    /// inbox's clock `now` (see [`InboundMessage::check`]).
    check,
    /// The clock's check alone (see [`InboundMessage::check_time`]).
    check_time
);

clock_checks!(
    InboundPreference,
    /// Checks that the preference can be recorded as it is, relative to
    /// the inbox's clock `now` (see [`InboundMessage::check`]).
    check,
    /// The clock's check alone (see [`InboundMessage::check_time`]).
    check_time
);

clock_checks!(
    InboundAppContact,
    /// Checks that the app contact can be recorded as it is, relative to
    /// the inbox's clock `now` (see [`InboundMessage::check`]).
    check,
    /// The clock's check alone (see [`InboundMessage::check_time`]).
    check_time
);

clock_checks!(
    InboundAccountSignal,
    /// Checks that the signal can be recorded as it is, relative to the
    /// inbox's clock `now` (see [`InboundMessage::check`]).
    check,
    /// The clock's check alone (see [`InboundMessage::check_time`]).
    check_time
);

clock_checks!(
    InboundHandover,
    /// Checks that the handover can be recorded as it is, relative to the
    /// inbox's clock `now` (see [`InboundMessage::check`]).
    check,
    /// The clock's check alone (see [`InboundMessage::check_time`]).
    check_time
);

/// The checks every inbound item makes of its ids: a usable phone number
/// id and provider message id.
fn check_ids(phone_number_id: &str, external_id: &str) -> Result<(), InboundRefusal> {
    check_phone_number_id(phone_number_id)?;
    check_external_id(external_id)
}

impl InboundMessage {
    /// The checks of [`InboundMessage::check`] that do not depend on the
    /// clock (all but "more than a day ahead"): a decoder can make them as
    /// it reads the item.
    pub fn validate(&self) -> Result<(), InboundRefusal> {
        check_ids(&self.phone_number_id, &self.external_id)?;
        if !self.from.is_known() {
            return Err(InboundRefusal::InvalidSender {
                detail: "the message carries neither a wa_id nor a user_id".into(),
            });
        }
        let ids = [
            ("wa_id", &self.from.wa_id),
            ("user_id", &self.from.user_id),
            ("parent_user_id", &self.from.parent_user_id),
        ];
        for (name, id) in ids {
            if let Some(p) = id
                .as_deref()
                .filter(|s| !s.trim().is_empty())
                .and_then(id_problem)
            {
                return Err(InboundRefusal::InvalidSender {
                    detail: format!("{name} {p}"),
                });
            }
        }
        if let Some(name) = &self.profile_name {
            check_text("profile_name", name)?;
        }
        if let Some(name) = &self.username {
            check_text("username", name)?;
        }
        check_json("content", &self.content)?;
        check_json("context", &self.context)?;
        check_not_too_old(self.timestamp)
    }
}

impl InboundStatus {
    /// The checks of [`InboundStatus::check`] that do not depend on the
    /// clock (see [`InboundMessage::validate`]).
    pub fn validate(&self) -> Result<(), InboundRefusal> {
        Self::validate_parts(
            &self.phone_number_id,
            &self.external_id,
            self.error.as_ref(),
            self.timestamp,
        )
    }

    /// [`InboundStatus::validate`] on the parts it checks, for an adapter
    /// that holds them before (or without) building the status.
    ///
    /// ```
    /// use chrono::Utc;
    /// use inbox_core::InboundStatus;
    /// assert!(InboundStatus::validate_parts("106", "wamid.1", None, Utc::now()).is_ok());
    /// assert!(InboundStatus::validate_parts("106", " ", None, Utc::now()).is_err());
    /// ```
    pub fn validate_parts(
        phone_number_id: &str,
        external_id: &str,
        error: Option<&ProviderError>,
        timestamp: DateTime<Utc>,
    ) -> Result<(), InboundRefusal> {
        check_ids(phone_number_id, external_id)?;
        if let Some(e) = error {
            check_text("error.title", &e.title)?;
            if let Some(d) = &e.details {
                check_text("error.details", d)?;
            }
        }
        check_not_too_old(timestamp)
    }
}

impl InboundEvent {
    /// Checks the message or status (see [`InboundMessage::check`]).
    pub fn check(&self, now: DateTime<Utc>) -> Result<(), InboundRefusal> {
        match self {
            InboundEvent::Message(m) => m.check(now),
            InboundEvent::Status(s) => s.check(now),
            InboundEvent::Preference(p) => p.check(now),
            InboundEvent::Echo(e) => e.message.check(now),
            InboundEvent::Standby(c) => c.message().check(now),
            InboundEvent::Handover(h) => h.check(now),
            InboundEvent::AppContact(a) => a.check(now),
            InboundEvent::Account(a) => a.check(now),
            InboundEvent::History(h) => h.check(now),
        }
    }

    /// The phone number id the event is for.
    pub fn phone_number_id(&self) -> &str {
        match self {
            InboundEvent::Message(m) => &m.phone_number_id,
            InboundEvent::Status(s) => &s.phone_number_id,
            InboundEvent::Preference(p) => &p.phone_number_id,
            InboundEvent::Echo(e) => &e.message.phone_number_id,
            InboundEvent::Standby(c) => &c.message().phone_number_id,
            InboundEvent::Handover(h) => &h.phone_number_id,
            InboundEvent::AppContact(a) => &a.phone_number_id,
            InboundEvent::Account(a) => a.phone_number_ids.first().map_or("", String::as_str),
            InboundEvent::History(h) => &h.phone_number_id,
        }
    }
}
