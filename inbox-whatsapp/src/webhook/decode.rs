//! Decoding Meta's webhook envelope into the core's inbound events.

use chrono::{DateTime, TimeZone, Utc};
use serde::Serialize;
use serde_json::value::RawValue;
use std::borrow::Cow;

use inbox_core::model::Author;
use inbox_core::model::{
    ContactCard, ContactIdentity, Content, DeliveryStatus, InteractiveReply, MediaKind, MediaRef,
    OrderItem, ProviderError, ReplyContext, SystemChange,
};
use inbox_core::{
    InboundEcho, InboundEvent, InboundHandover, InboundMessage, InboundPreference, InboundRefusal,
    InboundStatus, StandbyCopy,
};

use super::raw::{ItemContext, RawItem};
use super::wire::*;
use crate::error::WhatsAppError;

/// An error object from Meta (value-level, message-level or status-level).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MetaError {
    /// Meta's numeric code.
    pub code: Option<i64>,
    /// Short title.
    pub title: Option<String>,
    /// Message.
    pub message: Option<String>,
    /// `error_data.details`.
    pub details: Option<String>,
}

impl From<&WireError> for MetaError {
    fn from(e: &WireError) -> Self {
        Self {
            code: e.code,
            title: e.title.clone(),
            message: e.message.clone(),
            details: e.error_data.as_ref().and_then(|d| d.details.clone()),
        }
    }
}

impl MetaError {
    pub(crate) fn to_provider_error(&self) -> ProviderError {
        ProviderError {
            code: self.code,
            title: self
                .title
                .clone()
                .or_else(|| self.message.clone())
                .unwrap_or_else(|| "failed".into()),
            details: self.details.clone().or_else(|| self.message.clone()),
        }
    }
}

/// A customer message, decoded.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodedMessage {
    /// The WhatsApp Business Account id (`entry[].id`).
    pub waba_id: Option<String>,
    /// Meta's message type (`text`, `image` ...), or `unsupported` for a type
    /// this decoder does not know.
    pub wa_type: String,
    /// The raw type as Meta sent it (differs from `wa_type` for unknown
    /// types).
    pub raw_type: String,
    /// The message as the core ingests it.
    pub message: InboundMessage,
    /// Message-level errors (Meta attaches them to unsupported messages).
    pub errors: Vec<MetaError>,
    /// The message as received, as a webhook body of its own (with its
    /// metadata and contact): what a dead letter keeps if the inbox refuses
    /// it.
    pub raw: RawItem,
}

/// Conversation object of a status (pricing era before per-message pricing).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConversationInfo {
    /// Conversation id.
    pub id: Option<String>,
    /// Origin type (`service`, `marketing` ...).
    pub origin: Option<String>,
    /// When the conversation expires.
    pub expires_at: Option<DateTime<Utc>>,
}

/// Pricing object of a status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PricingInfo {
    /// Billable.
    pub billable: Option<bool>,
    /// Pricing model (`CBP`, `PMP`).
    pub model: Option<String>,
    /// Category (`service`, `utility` ...).
    pub category: Option<String>,
    /// Pricing type (`regular`, `free_customer_service` ...).
    pub kind: Option<String>,
}

impl PricingInfo {
    /// As the core keeps it with the message.
    pub fn to_pricing(&self) -> inbox_core::model::Pricing {
        inbox_core::model::Pricing {
            model: self.model.clone(),
            category: self.category.clone(),
            kind: self.kind.clone(),
            billable: self.billable,
        }
    }
}

/// A delivery status, decoded.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodedStatus {
    /// The WhatsApp Business Account id.
    pub waba_id: Option<String>,
    /// The number it concerns.
    pub phone_number_id: String,
    /// The provider's message id.
    pub external_id: String,
    /// The status as Meta sent it.
    pub raw_status: String,
    /// The status, if it is one the core knows (`None` for new ones).
    pub status: Option<DeliveryStatus>,
    /// The recipient (wa_id, or a group id for group messages).
    pub recipient: Option<String>,
    /// The recipient's BSUID.
    pub recipient_user_id: Option<String>,
    /// `individual` or `group`.
    pub recipient_type: Option<String>,
    /// For group messages, the participant.
    pub recipient_participant: Option<String>,
    /// When it happened.
    pub timestamp: DateTime<Utc>,
    /// Our id, echoed back.
    pub biz_opaque_callback_data: Option<String>,
    /// Conversation object.
    pub conversation: Option<ConversationInfo>,
    /// Pricing object.
    pub pricing: Option<PricingInfo>,
    /// Errors (for `failed`).
    pub errors: Vec<MetaError>,
    /// The status as received, as a webhook body of its own (see
    /// [`DecodedMessage::raw`]).
    pub raw: RawItem,
}

impl DecodedStatus {
    /// The core's view of this status (`None` for statuses the core does not
    /// know, which are acknowledged and otherwise ignored).
    pub fn to_inbound(&self) -> Option<InboundStatus> {
        Some(InboundStatus {
            pricing: self.pricing.as_ref().map(PricingInfo::to_pricing),
            phone_number_id: self.phone_number_id.clone(),
            external_id: self.external_id.clone(),
            our_message_id: self.biz_opaque_callback_data.clone(),
            recipient: self.recipient.clone(),
            status: self.status?,
            timestamp: self.timestamp,
            error: self.errors.first().map(MetaError::to_provider_error),
        })
    }
}

/// One thing a webhook carried.
#[derive(Debug, Clone, PartialEq)]
pub enum Decoded {
    /// A customer message.
    Message(Box<DecodedMessage>),
    /// A delivery status.
    Status(Box<DecodedStatus>),
    /// A value-level error Meta reported for a number.
    Error {
        /// The number.
        phone_number_id: Option<String>,
        /// The error.
        error: MetaError,
    },
    /// A customer stopping or resuming marketing messages
    /// (`user_preferences`).
    Preference(Box<InboundPreference>),
    /// A message the business sent from the WhatsApp Business app or a
    /// companion device (`smb_message_echoes`, coexistence); its
    /// `message.from` is the customer it was sent to.
    Echo(Box<DecodedMessage>),
    /// A passive copy from a thread another app controls (`standby`): the
    /// customer's message, or the controlling app's (`by_business`; its
    /// `message.from` is then the customer it was sent to).
    Standby {
        /// The message.
        message: Box<DecodedMessage>,
        /// Whether the controlling app sent it.
        by_business: bool,
    },
    /// A contact of the WhatsApp Business app added, renamed or removed
    /// (`smb_app_state_sync`).
    AppContact(Box<inbox_core::InboundAppContact>),
    /// Control of a customer's thread changed hands
    /// (`messaging_handovers`).
    Handover {
        /// The handover.
        handover: Box<InboundHandover>,
        /// The change as received, as a webhook body of its own.
        raw: String,
    },
    /// What Meta said about a WhatsApp Business Account, one of its
    /// numbers or templates (`message_template_status_update`,
    /// `message_template_quality_update`, `account_update`,
    /// `phone_number_quality_update`). It names the account, not a number:
    /// [`Webhook::receive`](crate::Webhook::receive) binds it to the
    /// account's numbers the signing secret speaks for.
    Signal(Box<super::signals::DecodedSignal>),
    /// Past chats of a coexistence number from the WhatsApp Business app
    /// (`history`): a chunk, the media of earlier placeholders, or the
    /// business's refusal to share.
    History {
        /// The chunk.
        history: Box<inbox_core::InboundHistory>,
        /// The change as received, as a webhook body of its own.
        raw: String,
    },
    /// A change of a field other than `messages` (acknowledged, ignored).
    Ignored {
        /// The field.
        field: String,
    },
    /// An item the inbox cannot take as it is: unreadable, without an id
    /// or a phone number id, with an id, sender or text no store can hold,
    /// with a timestamp from before 2009. Acknowledged so that Meta stops
    /// resending it, and kept as a dead letter by [`Webhook::receive`].
    ///
    /// [`Webhook::receive`]: crate::Webhook::receive
    Invalid {
        /// Where it was (`messages`, `statuses`).
        field: String,
        /// The number it names, if it names one.
        phone_number_id: Option<String>,
        /// What was wrong.
        reason: InboundRefusal,
        /// The item as received, as a webhook body of its own (the whole
        /// value when no single item could be told apart).
        raw: String,
    },
}

impl Decoded {
    /// The core event to ingest, if any.
    pub fn to_inbound(&self) -> Option<InboundEvent> {
        match self {
            Decoded::Message(m) => Some(InboundEvent::Message(m.message.clone())),
            Decoded::Status(s) => s.to_inbound().map(InboundEvent::Status),
            Decoded::Preference(p) => Some(InboundEvent::Preference((**p).clone())),
            Decoded::Echo(m) => Some(InboundEvent::Echo(InboundEcho {
                message: m.message.clone(),
                app: Author::BUSINESS_APP.into(),
            })),
            Decoded::Standby {
                message,
                by_business: false,
            } => Some(InboundEvent::Standby(StandbyCopy::Customer(
                message.message.clone(),
            ))),
            Decoded::Standby {
                message,
                by_business: true,
            } => Some(InboundEvent::Standby(StandbyCopy::Business(InboundEcho {
                message: message.message.clone(),
                app: inbox_core::UNNAMED_APP.into(),
            }))),
            Decoded::Handover { handover, .. } => {
                Some(InboundEvent::Handover((**handover).clone()))
            }
            Decoded::AppContact(a) => Some(InboundEvent::AppContact((**a).clone())),
            Decoded::History { history, .. } => Some(InboundEvent::History((**history).clone())),
            _ => None,
        }
    }
}

/// Parses an optional unix-seconds timestamp of secondary data (a
/// conversation's expiry): `None` when missing or unreadable.
fn parse_ts(s: Option<&str>) -> Option<DateTime<Utc>> {
    let secs: i64 = s?.trim().parse().ok()?;
    Utc.timestamp_opt(secs, 0).single()
}

/// Parses an item's unix-seconds timestamp: `received_at` when missing; a
/// value that is not whole seconds, or out of any calendar's range, is a
/// refusal (never a stand-in time that would distort the conversation).
fn item_timestamp(
    s: Option<&str>,
    received_at: DateTime<Utc>,
) -> Result<DateTime<Utc>, InboundRefusal> {
    let Some(s) = s else {
        return Ok(received_at);
    };
    let secs: i64 = s
        .trim()
        .parse()
        .map_err(|_| InboundRefusal::malformed(format!("timestamp {s:?} is not unix seconds")))?;
    Utc.timestamp_opt(secs, 0).single().ok_or(if secs < 0 {
        InboundRefusal::TimestampTooOld { timestamp: secs }
    } else {
        InboundRefusal::TimestampInFuture { timestamp: secs }
    })
}

/// Decodes a webhook body. Never panics; every item Meta may add tomorrow
/// decodes as unsupported or ignored, never as an error. Only a body that is
/// not JSON, or not a WhatsApp Business Account webhook, is an error; an
/// item the inbox cannot take as it is decodes as [`Decoded::Invalid`] with
/// a typed reason (the checks of [`InboundMessage::validate`] and
/// [`InboundStatus::validate`]), and the other items decode as usual.
///
/// `received_at` stands in for timestamps that are missing.
///
/// ```
/// use chrono::Utc;
/// use inbox_whatsapp::{decode_webhook, Decoded};
/// let body = br#"{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[
///   {"field":"messages","value":{"metadata":{"phone_number_id":"106"},
///    "contacts":[{"profile":{"name":"Sheena"},"wa_id":"16505551234"}],
///    "messages":[{"from":"16505551234","id":"wamid.1","timestamp":"1749416383",
///                 "type":"text","text":{"body":"Hi"}}]}}]}]}"#;
/// let items = decode_webhook(body, Utc::now()).unwrap();
/// match &items[0] {
///     Decoded::Message(m) => assert_eq!(m.message.content.text_body(), Some("Hi")),
///     other => panic!("{other:?}"),
/// }
/// ```
pub fn decode_webhook(
    body: &[u8],
    received_at: DateTime<Utc>,
) -> Result<Vec<Decoded>, WhatsAppError> {
    match decode_typed(body, received_at).or_else(|| decode_one_pass(body, received_at)) {
        Some(items) => Ok(items),
        None => decode_in_parts(body, received_at),
    }
}

/// What Meta names the object of the webhooks of WhatsApp accounts.
const WABA_OBJECT: &str = "whatsapp_business_account";

/// [`decode_webhook`] in one pass over the body, items included, for a
/// body whose `messages` values read whole ([`TypedValue`]) and whose
/// every message and status the inbox can take; `None` for any other.
/// Each item's raw text is made only when asked for ([`RawItem`]).
pub(super) fn decode_typed(body: &[u8], received_at: DateTime<Utc>) -> Option<Vec<Decoded>> {
    // The text checked once, not each string as it is read.
    let text = std::str::from_utf8(body).ok()?;
    let envelope: OnePassEnvelope<'_, TypedValue<'_>> = serde_json::from_str(text).ok()?;
    if envelope.object.as_deref() != Some(WABA_OBJECT) {
        return None;
    }
    let mut out = Vec::new();
    let mut source = Source {
        body,
        at: received_at,
        shared: None,
    };
    for entry in envelope.entry? {
        for change in entry.changes {
            let field = change.field.unwrap_or_default();
            let waba = entry.id.as_deref();
            let raw = match change.value {
                Some(ChangeValue::Parts(value)) => {
                    decode_typed_value(waba, &field, value, &mut source, &mut out)?;
                    continue;
                }
                Some(ChangeValue::Raw(raw)) => Some(raw),
                None => None,
            };
            let (time, field) = (entry.time.as_ref(), field.into_owned());
            decode_change(waba, time, field, raw, received_at, &mut out);
        }
    }
    Some(out)
}

/// The body [`decode_typed`] reads: what its items' raw texts are made
/// from, shared by them once one asks for it.
struct Source<'b> {
    body: &'b [u8],
    at: DateTime<Utc>,
    shared: Option<std::sync::Arc<[u8]>>,
}

impl Source<'_> {
    /// The raw text of item `index` of what the body decodes to.
    fn item(&mut self, index: usize) -> RawItem {
        let body = self.shared.get_or_insert_with(|| self.body.into()).clone();
        RawItem::in_body(body, self.at, index)
    }
}

/// Decodes a `messages` value read whole (errors, messages, statuses)
/// into `out`; `None` where [`decode_value`] would decode it otherwise
/// than this does: echoes, items without a number, an item refused.
fn decode_typed_value(
    waba_id: Option<&str>,
    field: &str,
    value: TypedValue<'_>,
    source: &mut Source<'_>,
    out: &mut Vec<Decoded>,
) -> Option<()> {
    if !value.message_echoes.is_empty() {
        return None;
    }
    let phone_number_id = value.metadata.and_then(|m| m.phone_number_id);
    for e in &value.errors {
        out.push(Decoded::Error {
            phone_number_id: phone_number_id.clone(),
            error: e.into(),
        });
    }
    let Some(pnid) = phone_number_id else {
        return (value.messages.is_empty() && value.statuses.is_empty()).then_some(());
    };
    let ctx = ValueContext {
        item: ItemContext {
            waba_id,
            metadata: None,
            field,
        },
        pnid: &pnid,
        contacts: &value.contacts,
        raw_contacts: &[],
        received_at: source.at,
    };
    for item in value.messages {
        let (head, body) = item.split();
        let mut message = message_of(&ctx, head, Ok(body), Party::Sender).1.ok()?;
        message.raw = source.item(out.len());
        out.push(Decoded::Message(message));
    }
    for s in value.statuses {
        let mut status = status_of(&ctx, s).ok()?;
        status.raw = source.item(out.len());
        out.push(Decoded::Status(status));
    }
    Some(())
}

/// The raw text of the message or status `index` of what `body`, received
/// at `at`, decodes to, as [`decode_in_parts`] makes it (the whole body
/// where that item is not one, which [`decode_typed`] never asks for).
pub(super) fn raw_of_item(body: &[u8], at: DateTime<Utc>, index: usize) -> String {
    let items = decode_in_parts(body, at).unwrap_or_default();
    match items.into_iter().nth(index) {
        Some(Decoded::Message(m) | Decoded::Echo(m) | Decoded::Standby { message: m, .. }) => {
            m.raw.into_string()
        }
        Some(Decoded::Status(s)) => s.raw.into_string(),
        _ => String::from_utf8_lossy(body).into_owned(),
    }
}

/// [`decode_webhook`] in one pass over the body, for a body whose every
/// part reads ([`OnePassEnvelope`]); `None` for any other, which
/// [`decode_in_parts`] decodes.
pub(super) fn decode_one_pass(body: &[u8], received_at: DateTime<Utc>) -> Option<Vec<Decoded>> {
    let envelope: OnePassEnvelope<'_, ValueParts<'_>> = serde_json::from_slice(body).ok()?;
    if envelope.object.as_deref() != Some(WABA_OBJECT) {
        return None;
    }
    let mut out = Vec::new();
    for entry in envelope.entry? {
        for change in entry.changes {
            let field = change.field.unwrap_or_default().into_owned();
            let waba = entry.id.as_deref();
            match change.value {
                Some(ChangeValue::Parts(parts)) => {
                    let (value, raw_parts) = read_parts(parts)?;
                    decode_value(waba, &field, value, raw_parts, received_at, &mut out).ok()?;
                }
                Some(ChangeValue::Raw(raw)) => decode_change(
                    waba,
                    entry.time.as_ref(),
                    field,
                    Some(raw),
                    received_at,
                    &mut out,
                ),
                None => decode_change(
                    waba,
                    entry.time.as_ref(),
                    field,
                    None,
                    received_at,
                    &mut out,
                ),
            }
        }
    }
    Some(out)
}

/// [`decode_webhook`] reading the envelope, then each change's value, then
/// each item, each on its own: every body, and every error.
pub(super) fn decode_in_parts(
    body: &[u8],
    received_at: DateTime<Utc>,
) -> Result<Vec<Decoded>, WhatsAppError> {
    let envelope: Envelope<'_> = serde_json::from_slice(body).map_err(|e| {
        if e.is_syntax() || e.is_eof() {
            WhatsAppError::InvalidJson(e.to_string())
        } else {
            WhatsAppError::NotAWebhook(e.to_string())
        }
    })?;
    match envelope.object.as_deref() {
        Some("whatsapp_business_account") => {}
        Some(other) => {
            return Err(WhatsAppError::NotAWebhook(format!(
                "object is {other:?}, not \"whatsapp_business_account\""
            )))
        }
        None => return Err(WhatsAppError::NotAWebhook("no \"object\" field".into())),
    }
    let entries = envelope
        .entry
        .ok_or_else(|| WhatsAppError::NotAWebhook("no \"entry\" array".into()))?;
    let mut out = Vec::new();
    for entry in entries {
        for change in entry.changes {
            let field = change.field.unwrap_or_default();
            decode_change(
                entry.id.as_deref(),
                entry.time.as_ref(),
                field,
                change.value,
                received_at,
                &mut out,
            );
        }
    }
    Ok(out)
}

/// Decodes a change of `field` whose value is `value` (as received).
fn decode_change(
    waba: Option<&str>,
    entry_time: Option<&serde_json::Value>,
    field: String,
    value: Option<&RawValue>,
    received_at: DateTime<Utc>,
    out: &mut Vec<Decoded>,
) {
    if let Some(value) = value.filter(|_| OWN_FIELDS.contains(&field.as_str())) {
        decode_own_field(waba, &field, value, entry_time, received_at, out);
        return;
    }
    if !MESSAGE_FIELDS.contains(&field.as_str()) {
        out.push(Decoded::Ignored { field });
        return;
    }
    let Some(value) = value else {
        out.push(Decoded::Invalid {
            field,
            phone_number_id: None,
            reason: InboundRefusal::malformed("change without a value"),
            raw: super::raw::envelope(waba, "null"),
        });
        return;
    };
    decode_messages_value(waba, &field, value, received_at, out);
}

/// The fields other than messages' that have a decoder of their own.
const OWN_FIELDS: [&str; 9] = [
    "user_preferences",
    "history",
    "smb_app_state_sync",
    "calls",
    "messaging_handovers",
    "message_template_status_update",
    "message_template_quality_update",
    "account_update",
    "phone_number_quality_update",
];

/// Decodes a change of one of the [`OWN_FIELDS`].
fn decode_own_field(
    waba: Option<&str>,
    field: &str,
    value: &RawValue,
    entry_time: Option<&serde_json::Value>,
    received_at: DateTime<Utc>,
    out: &mut Vec<Decoded>,
) {
    match field {
        "user_preferences" => {
            super::preferences::decode_preferences_value(waba, value, received_at, out)
        }
        "smb_app_state_sync" => {
            super::app_state::decode_state_sync_value(waba, value, received_at, out)
        }
        "calls" => super::calls::decode_calls_value(waba, value, received_at, out),
        "history" => {
            let whole = super::fields::Whole {
                waba_id: waba,
                field,
                raw: value,
            };
            super::history::decode_history_value(&whole, received_at, out)
        }
        "messaging_handovers" => {
            super::handovers::decode_handover_value(waba, value, received_at, out)
        }
        _ => {
            let whole = super::fields::Whole {
                waba_id: waba,
                field,
                raw: value,
            };
            out.push(super::signals::decode_signal_value(
                &whole,
                entry_time,
                received_at,
            ));
        }
    }
}

/// The fields whose values hold messages, echoes and statuses.
const MESSAGE_FIELDS: [&str; 3] = ["messages", "smb_message_echoes", "standby"];

pub(super) fn decode_messages_value(
    waba_id: Option<&str>,
    field: &str,
    raw: &RawValue,
    received_at: DateTime<Utc>,
    out: &mut Vec<Decoded>,
) {
    let whole = |reason: InboundRefusal| Decoded::Invalid {
        field: field.into(),
        phone_number_id: None,
        reason,
        raw: super::raw::envelope_of(waba_id, field, raw.get()),
    };
    // One pass over the value where it reads as one; otherwise (`standby`,
    // a part that does not read) it is read as it always was.
    let one_pass = if field == "standby" {
        None
    } else {
        one_pass_value(raw)
    };
    let (value, mut parts) = match one_pass {
        Some(read) => read,
        None => match serde_json::from_str::<MessagesValue<'_>>(raw.get()) {
            Ok(v) => (v, serde_json::from_str(raw.get()).unwrap_or_default()),
            Err(e) => {
                out.push(whole(InboundRefusal::malformed(format!(
                    "unreadable {field} value: {e}"
                ))));
                return;
            }
        },
    };
    // `standby` holds the arrays one level down.
    let value = match (field, value.standby) {
        ("standby", Some(inner)) => {
            let nested: Result<MessagesValue<'_>, _> = serde_json::from_str(inner.get());
            let Ok(mut nested) = nested else {
                out.push(whole(InboundRefusal::malformed(
                    "unreadable standby object",
                )));
                return;
            };
            let inner_parts: RawParts<'_> = serde_json::from_str(inner.get()).unwrap_or_default();
            parts.contacts = inner_parts.contacts;
            nested.metadata = value.metadata;
            nested.errors = value.errors;
            nested
        }
        _ => value,
    };
    if decode_value(waba_id, field, value, parts, received_at, out).is_err() {
        out.push(whole(InboundRefusal::malformed(
            "no metadata.phone_number_id",
        )));
    }
}

/// A `messages` value has items but no `metadata.phone_number_id`.
struct NoNumber;

/// Decodes the items of a `messages` value, as [`MessagesValue`] and
/// [`RawParts`] read it: its errors, messages, echoes and statuses. `Err`
/// when it holds items but names no number (its errors are decoded).
fn decode_value(
    waba_id: Option<&str>,
    field: &str,
    value: MessagesValue<'_>,
    parts: RawParts<'_>,
    received_at: DateTime<Utc>,
    out: &mut Vec<Decoded>,
) -> Result<(), NoNumber> {
    let phone_number_id = value
        .metadata
        .as_ref()
        .and_then(|m| m.phone_number_id.clone());
    for e in &value.errors {
        out.push(Decoded::Error {
            phone_number_id: phone_number_id.clone(),
            error: e.into(),
        });
    }
    let Some(pnid) = phone_number_id else {
        if !value.messages.is_empty()
            || !value.statuses.is_empty()
            || !value.message_echoes.is_empty()
        {
            return Err(NoNumber);
        }
        return Ok(());
    };
    let value_ctx = ValueContext {
        item: ItemContext {
            waba_id,
            metadata: parts.metadata,
            field,
        },
        pnid: &pnid,
        contacts: &value.contacts,
        raw_contacts: &parts.contacts,
        received_at,
    };
    let standby = field == "standby";
    for m in &value.messages {
        let decoded = decode_message(&value_ctx, m, m, Party::Sender);
        out.push(match decoded {
            Decoded::Message(message) if standby => Decoded::Standby {
                message,
                by_business: false,
            },
            other => other,
        });
    }
    for e in &value.message_echoes {
        out.push(match decode_echo(&value_ctx, e) {
            Decoded::Message(message) if standby => Decoded::Standby {
                message,
                by_business: true,
            },
            Decoded::Message(message) => Decoded::Echo(message),
            other => other,
        });
    }
    for s in &value.statuses {
        out.push(decode_status(&value_ctx, s));
    }
    Ok(())
}

/// A `messages` value as [`MessagesValue`] and [`RawParts`] read it, in
/// one pass over it ([`ValueParts`]; its metadata and contacts are then
/// read on their own); `None` where any part does not read so.
fn one_pass_value(raw: &RawValue) -> Option<(MessagesValue<'_>, RawParts<'_>)> {
    read_parts(serde_json::from_str(raw.get()).ok()?)
}

/// [`ValueParts`] as [`MessagesValue`] and [`RawParts`] read the value;
/// `None` where its metadata or a contact does not read.
fn read_parts(v: ValueParts<'_>) -> Option<(MessagesValue<'_>, RawParts<'_>)> {
    let metadata = match v.metadata {
        Some(m) => Some(serde_json::from_str::<Metadata>(m.get()).ok()?),
        None => None,
    };
    let contacts = v
        .contacts
        .iter()
        .map(|c| serde_json::from_str::<WireContact>(c.get()).ok())
        .collect::<Option<Vec<_>>>()?;
    Some((
        MessagesValue {
            metadata,
            contacts,
            messages: v.messages,
            statuses: v.statuses,
            message_echoes: v.message_echoes,
            standby: v.standby,
            errors: v.errors,
        },
        RawParts {
            metadata: v.metadata,
            contacts: v.contacts,
        },
    ))
}

/// What the items of one `messages` value share.
struct ValueContext<'a> {
    item: ItemContext<'a>,
    pnid: &'a str,
    contacts: &'a [WireContact<'a>],
    raw_contacts: &'a [&'a RawValue],
    received_at: DateTime<Utc>,
}

impl ValueContext<'_> {
    fn invalid(&self, field: &str, reason: InboundRefusal, raw: String) -> Decoded {
        Decoded::Invalid {
            field: field.into(),
            phone_number_id: Some(self.pnid.to_string()),
            reason,
            raw,
        }
    }

    /// An item of `field` (`messages`, `statuses`) read as `T`, or the
    /// item (as `raw_item` makes it) refused as an unreadable `what`.
    fn read<T: serde::de::DeserializeOwned>(
        &self,
        field: &str,
        what: &str,
        raw: &RawValue,
        raw_item: impl FnOnce() -> String,
    ) -> Result<T, Decoded> {
        serde_json::from_str(raw.get()).map_err(|e| {
            let reason = InboundRefusal::malformed(format!("unreadable {what}: {e}"));
            self.invalid(field, reason, raw_item())
        })
    }

    /// An item's id and time as the inbox needs them: an id that is not
    /// blank (`no_id` says what is missing when it is) and a timestamp a
    /// date can hold (the time received when there is none); or why the
    /// item is refused, for the first that is not.
    fn id_and_time(
        &self,
        id: Option<String>,
        no_id: &str,
        timestamp: Option<&str>,
    ) -> Result<(String, DateTime<Utc>), InboundRefusal> {
        let Some(id) = id.filter(|s| !s.trim().is_empty()) else {
            return Err(InboundRefusal::InvalidExternalId {
                detail: no_id.into(),
            });
        };
        let timestamp = item_timestamp(timestamp, self.received_at)?;
        Ok((id, timestamp))
    }
}

/// Whose identity a message item names as the customer.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Party {
    /// The sender (`from`, `from_user_id`): a customer's message.
    Sender,
    /// The recipient (`to`, `to_user_id`, `recipient`): the business's
    /// message sent from another app.
    Recipient,
}

impl Party {
    /// The customer's phone number and BSUID the item names.
    fn ids<'h>(self, head: &'h MessageHead<'_>) -> (Option<&'h str>, Option<&'h str>) {
        match self {
            Party::Sender => (head.from.as_deref(), head.from_user_id.as_deref()),
            Party::Recipient => (
                head.to.as_deref(),
                head.to_user_id.as_deref().or(head.recipient.as_deref()),
            ),
        }
    }

    /// The array such items are in.
    fn key(self) -> &'static str {
        match self {
            Party::Sender => "messages",
            Party::Recipient => "message_echoes",
        }
    }
}

/// Decodes an echo of the business's message. On `standby` the item wraps
/// the send request (`{id, timestamp, message: {to, type, …}}`): it is
/// read as one flat item; the item as received is what a dead letter
/// keeps.
fn decode_echo(ctx: &ValueContext<'_>, raw: &RawValue) -> Decoded {
    let flat = flatten_echo(raw);
    match flat.as_deref() {
        Some(flat) => decode_message(ctx, flat, raw, Party::Recipient),
        None => decode_message(ctx, raw, raw, Party::Recipient),
    }
}

/// A wrapped echo's send request with the wrapper's id and timestamp, as
/// one item (`None` when it is not wrapped).
fn flatten_echo(raw: &RawValue) -> Option<Box<RawValue>> {
    let mut item: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(raw.get()).ok()?;
    let Some(serde_json::Value::Object(mut inner)) = item.remove("message") else {
        return None;
    };
    for key in ["id", "timestamp"] {
        if let Some(v) = item.remove(key) {
            inner.insert(key.into(), v);
        }
    }
    RawValue::from_string(serde_json::Value::Object(inner).to_string()).ok()
}

/// Decodes a message item `raw` (`kept`: the item as received, for a dead
/// letter) whose customer is `party`.
fn decode_message(
    ctx: &ValueContext<'_>,
    raw: &RawValue,
    kept: &RawValue,
    party: Party,
) -> Decoded {
    let key = party.key();
    let field = ctx.item.field;
    // One pass where the item reads as one; otherwise (a body not of its
    // type's shape, a key repeated) its head and body read apart, as they
    // always did.
    let one_pass = serde_json::from_str::<MessageItem<'_>>(raw.get());
    let (head, body) = match one_pass {
        Ok(item) => {
            let (head, body) = item.split();
            (head, Ok(body))
        }
        Err(_) => match serde_json::from_str::<MessageHead<'_>>(raw.get()) {
            Ok(head) => (head, serde_json::from_str::<MessageBody>(raw.get())),
            Err(e) => {
                let reason = InboundRefusal::malformed(format!("unreadable message: {e}"));
                return ctx.invalid(field, reason, ctx.item.item(None, key, kept));
            }
        },
    };
    let (contact_at, built) = message_of(ctx, head, body, party);
    let raw_item = ctx.item.item(
        contact_at.and_then(|i| ctx.raw_contacts.get(i).copied()),
        key,
        kept,
    );
    match built {
        Ok(mut message) => {
            message.raw = raw_item.into();
            Decoded::Message(message)
        }
        Err(reason) => ctx.invalid(field, reason, raw_item),
    }
}

/// The message of `head` and `body` whose customer is `party` (its raw
/// text left empty), or why the inbox cannot take it; with the index of
/// its customer's contact in the value's contacts.
fn message_of(
    ctx: &ValueContext<'_>,
    head: MessageHead<'_>,
    body: Result<MessageBody, serde_json::Error>,
    party: Party,
) -> (Option<usize>, Result<Box<DecodedMessage>, InboundRefusal>) {
    let (contact_at, message) = inbound_of(ctx, &head, body, party);
    let decoded = message.map(|(message, raw_type, known)| {
        let wa_type = match known {
            true => raw_type.clone(),
            false => "unsupported".into(),
        };
        let errors = head.errors.iter().map(MetaError::from).collect();
        let waba_id = ctx.item.waba_id.map(str::to_string);
        let raw = RawItem::from(String::new());
        Box::new(DecodedMessage {
            waba_id,
            wa_type,
            raw_type,
            message,
            errors,
            raw,
        })
    });
    (contact_at, decoded)
}

/// [`message_of`]'s inbound message, raw type and whether this decoder
/// knows the type.
type Inbound = Result<(InboundMessage, String, bool), InboundRefusal>;

/// The inbound message of [`message_of`].
fn inbound_of(
    ctx: &ValueContext<'_>,
    head: &MessageHead<'_>,
    body: Result<MessageBody, serde_json::Error>,
    party: Party,
) -> (Option<usize>, Inbound) {
    // Identity: the customer, completed from the contacts array.
    let (wa_id, user_id) = party.ids(head);
    let contact_at = ctx
        .contacts
        .iter()
        .position(|c| {
            (wa_id.is_some() && c.wa_id.as_deref() == wa_id)
                || (user_id.is_some() && c.user_id.as_deref() == user_id)
        })
        .or((ctx.contacts.len() == 1).then_some(0));
    let contact = contact_at.and_then(|i| ctx.contacts.get(i));
    let no_id = "the message has no id";
    let time = head.timestamp.as_deref();
    let id = head.id.as_deref().map(str::to_string);
    let (external_id, timestamp) = match ctx.id_and_time(id, no_id, time) {
        Ok(checked) => checked,
        Err(reason) => return (contact_at, Err(reason)),
    };
    let raw_type = head
        .kind
        .as_deref()
        .map_or_else(|| "unsupported".to_string(), str::to_string);
    // A type this decoder does not know, or a body that is not the shape
    // Meta documents, is unsupported content.
    let parsed = body.is_ok();
    let content = content_of(&raw_type, body.unwrap_or_default());
    let known = content.is_some();
    let content = content
        .filter(|_| parsed)
        .unwrap_or_else(|| Content::Unsupported {
            raw_type: raw_type.clone(),
        });
    let from = ContactIdentity {
        wa_id: wa_id
            .map(str::to_string)
            .or_else(|| contact.and_then(|c| c.wa_id.as_deref().map(str::to_string))),
        user_id: user_id
            .map(str::to_string)
            .or_else(|| contact.and_then(|c| c.user_id.as_deref().map(str::to_string))),
        parent_user_id: head
            .to_parent_user_id
            .as_deref()
            .filter(|_| party == Party::Recipient)
            .map(str::to_string)
            .or_else(|| contact.and_then(|c| c.parent_user_id.as_deref().map(str::to_string))),
    };
    let context = ReplyContext {
        reply_to: head.context.as_ref().and_then(|c| c.id.clone()),
        forwarded: head.context.as_ref().is_some_and(|c| c.forwarded),
        frequently_forwarded: head
            .context
            .as_ref()
            .is_some_and(|c| c.frequently_forwarded),
        referral: head.referral.clone().or_else(|| {
            head.context
                .as_ref()
                .and_then(|c| c.referred_product.clone())
                .map(|p| serde_json::json!({ "referred_product": p }))
        }),
    };
    let message = InboundMessage {
        phone_number_id: ctx.pnid.to_string(),
        external_id,
        from,
        profile_name: contact
            .and_then(|c| c.profile.as_ref())
            .and_then(|p| p.name.as_deref().map(str::to_string)),
        username: contact
            .and_then(|c| c.profile.as_ref())
            .and_then(|p| p.username.as_deref().map(str::to_string)),
        timestamp,
        content,
        context,
    };
    let checked = message.validate().map(|()| (message, raw_type, known));
    (contact_at, checked)
}

fn media(kind: MediaKind, m: WireMedia) -> Content {
    let kind = if kind == MediaKind::Audio && m.voice {
        MediaKind::Voice
    } else {
        kind
    };
    Content::Media {
        kind,
        media: MediaRef {
            id: m.id,
            link: m.link.or(m.url),
            mime_type: m.mime_type,
            sha256: m.sha256,
            filename: m.filename,
        },
        caption: m.caption,
    }
}

fn contact_card(v: serde_json::Value) -> ContactCard {
    let str_at = |v: &serde_json::Value, path: &[&str]| -> Option<String> {
        let mut cur = v;
        for p in path {
            cur = cur.get(p)?;
        }
        cur.as_str().map(str::to_string)
    };
    let list = |key: &str, inner: &str| -> Vec<String> {
        v.get(key)
            .and_then(|a| a.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.get(inner).and_then(|s| s.as_str()).map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    ContactCard {
        name: str_at(&v, &["name", "formatted_name"])
            .or_else(|| str_at(&v, &["name", "first_name"]))
            .unwrap_or_default(),
        phones: list("phones", "phone"),
        emails: list("emails", "email"),
        raw: v,
    }
}

/// What a message of type `kind` with body `b` says; `None` for a type this
/// decoder does not know (what it knows is what this matches).
fn content_of(kind: &str, b: MessageBody) -> Option<Content> {
    let unsupported = || Content::Unsupported {
        raw_type: kind.to_string(),
    };
    let media_or =
        |m: Option<WireMedia>, as_kind| m.map_or_else(unsupported, |m| media(as_kind, m));
    Some(match kind {
        "text" => b.text.map_or_else(unsupported, |t| Content::Text {
            body: t.body.unwrap_or_default(),
            preview_url: false,
        }),
        "image" => media_or(b.image.map(|m| *m), MediaKind::Image),
        "video" => media_or(b.video.map(|m| *m), MediaKind::Video),
        "audio" => media_or(b.audio.map(|m| *m), MediaKind::Audio),
        "document" => media_or(b.document.map(|m| *m), MediaKind::Document),
        "sticker" => media_or(b.sticker.map(|m| *m), MediaKind::Sticker),
        "location" => match b.location.map(|l| *l) {
            Some(WireLocation {
                latitude: Some(latitude),
                longitude: Some(longitude),
                name,
                address,
            }) => Content::Location {
                latitude,
                longitude,
                name,
                address,
            },
            _ => unsupported(),
        },
        "contacts" => b
            .contacts
            .map_or_else(unsupported, |cards| Content::Contacts {
                cards: cards.into_iter().map(contact_card).collect(),
            }),
        "interactive" => match b.interactive.map(|i| *i) {
            Some(i) => {
                let sub = i.kind.clone().unwrap_or_default();
                let row = |r: Option<WireReplyRow>| {
                    r.map(|r| {
                        (
                            r.id.unwrap_or_default(),
                            r.title.unwrap_or_default(),
                            r.description,
                        )
                    })
                };
                let reply = match (sub.as_str(), i) {
                    ("button_reply", i) => match row(i.button_reply) {
                        Some((id, title, _)) => InteractiveReply::ButtonReply { id, title },
                        None => InteractiveReply::Other { raw_type: sub },
                    },
                    ("list_reply", i) => match row(i.list_reply) {
                        Some((id, title, description)) => InteractiveReply::ListReply {
                            id,
                            title,
                            description,
                        },
                        None => InteractiveReply::Other { raw_type: sub },
                    },
                    ("nfm_reply", i) => match i.nfm_reply {
                        Some(n) => InteractiveReply::FlowReply {
                            name: n.name,
                            body: n.body,
                            response_json: n.response_json.unwrap_or_default(),
                        },
                        None => InteractiveReply::Other { raw_type: sub },
                    },
                    ("call_permission_reply", i) => match i.call_permission_reply {
                        Some(p) => call_permission(p),
                        None => InteractiveReply::Other { raw_type: sub },
                    },
                    _ => InteractiveReply::Other { raw_type: sub },
                };
                Content::Interactive { reply }
            }
            None => unsupported(),
        },
        "button" => b.button.map_or_else(unsupported, |btn| Content::Button {
            payload: btn.payload,
            text: btn.text.unwrap_or_default(),
        }),
        "reaction" => b.reaction.map_or_else(unsupported, |r| Content::Reaction {
            target: r.message_id.unwrap_or_default(),
            // An empty or missing emoji means the reaction was removed.
            emoji: r.emoji.filter(|e| !e.is_empty()),
        }),
        "order" => b.order.map_or_else(unsupported, |o| Content::Order {
            catalog_id: o.catalog_id,
            text: o.text.filter(|t| !t.is_empty()),
            items: o
                .product_items
                .into_iter()
                .map(|i| OrderItem {
                    product_retailer_id: i.product_retailer_id.unwrap_or_default(),
                    quantity: i
                        .quantity
                        .map_or(0, |q| q.max(0.0).min(u32::MAX as f64) as u32),
                    item_price: i.item_price.unwrap_or(0.0),
                    currency: i.currency.unwrap_or_default(),
                })
                .collect(),
        }),
        "system" => b.system.map_or_else(unsupported, |s| {
            let sub = s.kind.clone().unwrap_or_default();
            let change = match sub.as_str() {
                "user_changed_number" | "customer_changed_number" => SystemChange::NumberChanged {
                    new_wa_id: s.wa_id.or(s.new_wa_id),
                },
                "customer_identity_changed" | "user_identity_changed" => {
                    SystemChange::IdentityChanged
                }
                "user_changed_user_id" | "user_id_changed" => SystemChange::UserIdChanged {
                    new_user_id: s.user_id,
                },
                _ => SystemChange::Other { raw_type: sub },
            };
            Content::System {
                change,
                body: s.body,
            }
        }),
        "edit" => match b.edit.map(|e| *e) {
            Some(WireEdit {
                original_message_id: Some(target),
                message,
            }) => {
                let inner = message
                    .and_then(|m| {
                        let h: MessageHead<'_> = serde_json::from_str(m.get()).ok()?;
                        let body: MessageBody = serde_json::from_str(m.get()).ok()?;
                        let k = h.kind.map_or_else(|| "text".to_string(), Cow::into_owned);
                        if k == "edit" {
                            return None;
                        }
                        Some(content_of(&k, body).unwrap_or(Content::Unsupported { raw_type: k }))
                    })
                    .unwrap_or(Content::Unsupported {
                        raw_type: "edit".into(),
                    });
                Content::Edit {
                    target,
                    content: Box::new(inner),
                }
            }
            _ => unsupported(),
        },
        "revoke" => match b.revoke.map(|r| *r) {
            Some(WireRevoke {
                original_message_id: Some(target),
            }) => Content::Revoke { target },
            _ => unsupported(),
        },
        "request_welcome" => Content::RequestWelcome,
        // Meta's own names for types it does not support.
        "unsupported" | "unknown" => unsupported(),
        _ => return None,
    })
}

fn decode_status(ctx: &ValueContext<'_>, raw: &RawValue) -> Decoded {
    let raw_item = ctx.item.item(None, "statuses", raw);
    let s: WireStatus = match ctx.read(ctx.item.field, "status", raw, || raw_item.clone()) {
        Ok(s) => s,
        Err(refused) => return refused,
    };
    match status_of(ctx, s) {
        Ok(mut status) => {
            status.raw = raw_item.into();
            Decoded::Status(status)
        }
        Err(reason) => ctx.invalid("statuses", reason, raw_item),
    }
}

/// The status `s` (its raw text left empty), or why the inbox cannot take
/// it.
fn status_of(ctx: &ValueContext<'_>, s: WireStatus) -> Result<Box<DecodedStatus>, InboundRefusal> {
    let no_id = "the status names no message id";
    let time = s.timestamp.as_deref();
    let (external_id, timestamp) = ctx.id_and_time(s.id, no_id, time)?;
    let raw_status = s.status.unwrap_or_default();
    let status = match raw_status.as_str() {
        "sent" => Some(DeliveryStatus::Sent),
        "delivered" => Some(DeliveryStatus::Delivered),
        "read" => Some(DeliveryStatus::Read),
        "played" => Some(DeliveryStatus::Played),
        "failed" => Some(DeliveryStatus::Failed),
        _ => None,
    };
    let decoded = DecodedStatus {
        waba_id: ctx.item.waba_id.map(str::to_string),
        phone_number_id: ctx.pnid.to_string(),
        external_id,
        raw_status,
        status,
        recipient: s.recipient_id,
        recipient_user_id: s.recipient_user_id,
        recipient_type: s.recipient_type,
        recipient_participant: s.recipient_participant_id,
        timestamp,
        biz_opaque_callback_data: s.biz_opaque_callback_data,
        conversation: s.conversation.map(|c| ConversationInfo {
            id: c.id,
            origin: c.origin.and_then(|o| o.kind),
            expires_at: parse_ts(c.expiration_timestamp.as_deref()),
        }),
        pricing: s.pricing.map(|p| PricingInfo {
            billable: p.billable,
            model: p.pricing_model,
            category: p.category,
            kind: p.kind,
        }),
        errors: s.errors.iter().map(MetaError::from).collect(),
        raw: RawItem::from(String::new()),
    };
    // The core's checks of the status it will be (none for a status the
    // core does not know), on its parts: no copy of them made to check.
    if decoded.status.is_some() {
        let error = decoded.errors.first().map(MetaError::to_provider_error);
        InboundStatus::validate_parts(
            &decoded.phone_number_id,
            &decoded.external_id,
            error.as_ref(),
            decoded.timestamp,
        )?;
    }
    Ok(Box::new(decoded))
}

/// A customer's answer to a request to call them.
fn call_permission(p: super::wire::WireCallPermission) -> InteractiveReply {
    let expires_at = super::fields::text(p.expiration_timestamp.as_ref())
        .and_then(|t| t.trim().parse::<i64>().ok())
        .and_then(|secs| DateTime::from_timestamp(secs, 0));
    InteractiveReply::CallPermission {
        accepted: p.response.is_some_and(|r| r.eq_ignore_ascii_case("accept")),
        permanent: p.is_permanent.unwrap_or(false),
        expires_at,
        automatic: p
            .response_source
            .is_some_and(|s| s.eq_ignore_ascii_case("automatic")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The content and Meta type of the one message `message` (its JSON
    /// after the sender, id and time) decodes to.
    fn decoded(message: &str) -> (Content, String) {
        let body = format!(
            r#"{{"object":"whatsapp_business_account","entry":[{{"id":"1","changes":[
            {{"field":"messages","value":{{"metadata":{{"phone_number_id":"106"}},
            "messages":[{{"from":"16505551234","id":"wamid.1","timestamp":"1749416383",
            {message}}}]}}}}]}}]}}"#
        );
        match decode_webhook(body.as_bytes(), Utc::now())
            .unwrap()
            .as_slice()
        {
            [Decoded::Message(m)] => (m.message.content.clone(), m.wa_type.clone()),
            other => panic!("{other:?}"),
        }
    }

    fn unsupported(raw_type: &str) -> Content {
        Content::Unsupported {
            raw_type: raw_type.into(),
        }
    }

    fn edit(content: Content) -> Content {
        Content::Edit {
            target: "wamid.0".into(),
            content: Box::new(content),
        }
    }

    #[test]
    fn what_the_decoder_does_not_know_is_unsupported() {
        let edit_of = |inner: &str| {
            format!(r#""type":"edit","edit":{{"original_message_id":"wamid.0","message":{inner}}}"#)
        };
        for (message, content, wa_type) in [
            (
                r#""type":"hologram""#.to_string(),
                unsupported("hologram"),
                "unsupported",
            ),
            (
                r#""type":"unknown""#.into(),
                unsupported("unknown"),
                "unknown",
            ),
            (
                r#""type":"unsupported""#.into(),
                unsupported("unsupported"),
                "unsupported",
            ),
            // A known type with a body that is not the documented shape.
            (
                r#""type":"request_welcome","text":5"#.into(),
                unsupported("request_welcome"),
                "request_welcome",
            ),
            (
                edit_of(r#"{"type":"hologram"}"#),
                edit(unsupported("hologram")),
                "edit",
            ),
            (
                edit_of(r#"{"type":"edit"}"#),
                edit(unsupported("edit")),
                "edit",
            ),
            (
                edit_of(r#"{"type":"text","text":{"body":"hi"}}"#),
                edit(Content::text("hi")),
                "edit",
            ),
        ] {
            assert_eq!(
                decoded(&message),
                (content, wa_type.to_string()),
                "{message}"
            );
        }
    }
}
