//! The decoder as it was before the single-pass rewrite (#28 goal 5),
//! kept verbatim as the oracle the new one is compared with
//! (`super::equivalence`): every body, every fixture, must decode the same
//! with both. Test builds only.

#![allow(dead_code)]

use chrono::{DateTime, TimeZone, Utc};
use serde_json::value::RawValue;

use inbox_core::model::{
    ContactCard, ContactIdentity, Content, DeliveryStatus, InteractiveReply, MediaKind, MediaRef,
    OrderItem, ReplyContext, SystemChange,
};
use inbox_core::{InboundMessage, InboundRefusal};

use super::wire::*;
use crate::error::WhatsAppError;
use crate::webhook::decode::{
    ConversationInfo, Decoded, DecodedMessage, DecodedStatus, MetaError, PricingInfo,
};
use crate::webhook::raw::ItemContext;

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
pub(crate) fn decode_webhook(
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
            let waba = entry.id.as_deref();
            if let Some(value) = change
                .value
                .filter(|_| OWN_FIELDS.contains(&field.as_str()))
            {
                decode_own_field(
                    waba,
                    &field,
                    value,
                    entry.time.as_ref(),
                    received_at,
                    &mut out,
                );
                continue;
            }
            if !MESSAGE_FIELDS.contains(&field.as_str()) {
                out.push(Decoded::Ignored { field });
                continue;
            }
            let Some(value) = change.value else {
                out.push(Decoded::Invalid {
                    field,
                    phone_number_id: None,
                    reason: InboundRefusal::malformed("change without a value"),
                    raw: crate::webhook::raw::envelope(entry.id.as_deref(), "null"),
                });
                continue;
            };
            decode_messages_value(entry.id.as_deref(), &field, value, received_at, &mut out);
        }
    }
    Ok(out)
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
            crate::webhook::preferences::decode_preferences_value(waba, value, received_at, out)
        }
        "smb_app_state_sync" => {
            crate::webhook::app_state::decode_state_sync_value(waba, value, received_at, out)
        }
        "calls" => crate::webhook::calls::decode_calls_value(waba, value, received_at, out),
        "history" => {
            let whole = crate::webhook::fields::Whole {
                waba_id: waba,
                field,
                raw: value,
            };
            crate::webhook::history::decode_history_value(&whole, received_at, out)
        }
        "messaging_handovers" => {
            crate::webhook::handovers::decode_handover_value(waba, value, received_at, out)
        }
        _ => {
            let whole = crate::webhook::fields::Whole {
                waba_id: waba,
                field,
                raw: value,
            };
            out.push(crate::webhook::signals::decode_signal_value(
                &whole,
                entry_time,
                received_at,
            ));
        }
    }
}

/// The fields whose values hold messages, echoes and statuses.
const MESSAGE_FIELDS: [&str; 3] = ["messages", "smb_message_echoes", "standby"];

fn decode_messages_value(
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
        raw: crate::webhook::raw::envelope_of(waba_id, field, raw.get()),
    };
    let value: MessagesValue<'_> = match serde_json::from_str(raw.get()) {
        Ok(v) => v,
        Err(e) => {
            out.push(whole(InboundRefusal::malformed(format!(
                "unreadable {field} value: {e}"
            ))));
            return;
        }
    };
    let mut parts: RawParts<'_> = serde_json::from_str(raw.get()).unwrap_or_default();
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
            out.push(whole(InboundRefusal::malformed(
                "no metadata.phone_number_id",
            )));
        }
        return;
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
}

/// What the items of one `messages` value share.
struct ValueContext<'a> {
    item: ItemContext<'a>,
    pnid: &'a str,
    contacts: &'a [WireContact],
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
    /// date can hold (the time received when there is none); or the item
    /// refused for the first that is not.
    fn id_and_time(
        &self,
        field: &str,
        id: Option<String>,
        no_id: &str,
        timestamp: Option<&str>,
        raw_item: &str,
    ) -> Result<(String, DateTime<Utc>), Decoded> {
        let refuse = |reason| self.invalid(field, reason, raw_item.to_string());
        let Some(id) = id.filter(|s| !s.trim().is_empty()) else {
            return Err(refuse(InboundRefusal::InvalidExternalId {
                detail: no_id.into(),
            }));
        };
        let timestamp = item_timestamp(timestamp, self.received_at).map_err(refuse)?;
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
    fn ids(self, head: &MessageHead) -> (Option<String>, Option<String>) {
        match self {
            Party::Sender => (head.from.clone(), head.from_user_id.clone()),
            Party::Recipient => (
                head.to.clone(),
                head.to_user_id.clone().or_else(|| head.recipient.clone()),
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
    let head: MessageHead = match ctx.read(field, "message", raw, || ctx.item.item(None, key, kept))
    {
        Ok(h) => h,
        Err(refused) => return refused,
    };
    // Identity: the customer, completed from the contacts array.
    let (wa_id, user_id) = party.ids(&head);
    let contact_at = ctx
        .contacts
        .iter()
        .position(|c| {
            (wa_id.is_some() && c.wa_id == wa_id) || (user_id.is_some() && c.user_id == user_id)
        })
        .or((ctx.contacts.len() == 1).then_some(0));
    let contact = contact_at.and_then(|i| ctx.contacts.get(i));
    let raw_item = ctx.item.item(
        contact_at.and_then(|i| ctx.raw_contacts.get(i).copied()),
        key,
        kept,
    );
    let no_id = "the message has no id";
    let time = head.timestamp.as_deref();
    let (external_id, timestamp) =
        match ctx.id_and_time(field, head.id.clone(), no_id, time, &raw_item) {
            Ok(checked) => checked,
            Err(refused) => return refused,
        };
    let raw_type = head.kind.clone().unwrap_or_else(|| "unsupported".into());
    // A type this decoder does not know, or a body that is not the shape
    // Meta documents, is unsupported content.
    let body = serde_json::from_str::<MessageBody>(raw.get());
    let parsed = body.is_ok();
    let content = content_of(&raw_type, body.unwrap_or_default());
    let known = content.is_some();
    let content = content
        .filter(|_| parsed)
        .unwrap_or_else(|| Content::Unsupported {
            raw_type: raw_type.clone(),
        });
    let from = ContactIdentity {
        wa_id: wa_id.or_else(|| contact.and_then(|c| c.wa_id.clone())),
        user_id: user_id.or_else(|| contact.and_then(|c| c.user_id.clone())),
        parent_user_id: head
            .to_parent_user_id
            .clone()
            .filter(|_| party == Party::Recipient)
            .or_else(|| contact.and_then(|c| c.parent_user_id.clone())),
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
            .and_then(|p| p.name.clone()),
        username: contact
            .and_then(|c| c.profile.as_ref())
            .and_then(|p| p.username.clone()),
        timestamp,
        content,
        context,
    };
    if let Err(reason) = message.validate() {
        return ctx.invalid(field, reason, raw_item);
    }
    Decoded::Message(Box::new(DecodedMessage {
        waba_id: ctx.item.waba_id.map(str::to_string),
        wa_type: if known {
            raw_type.clone()
        } else {
            "unsupported".into()
        },
        raw_type,
        message,
        errors: head.errors.iter().map(MetaError::from).collect(),
        raw: raw_item.into(),
    }))
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
        "image" => media_or(b.image, MediaKind::Image),
        "video" => media_or(b.video, MediaKind::Video),
        "audio" => media_or(b.audio, MediaKind::Audio),
        "document" => media_or(b.document, MediaKind::Document),
        "sticker" => media_or(b.sticker, MediaKind::Sticker),
        "location" => match b.location {
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
        "interactive" => match b.interactive {
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
        "edit" => match b.edit {
            Some(WireEdit {
                original_message_id: Some(target),
                message,
            }) => {
                let inner = message
                    .and_then(|m| {
                        let h: MessageHead = serde_json::from_str(m.get()).ok()?;
                        let body: MessageBody = serde_json::from_str(m.get()).ok()?;
                        let k = h.kind.unwrap_or_else(|| "text".into());
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
        "revoke" => match b.revoke {
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
    let no_id = "the status names no message id";
    let time = s.timestamp.as_deref();
    let (external_id, timestamp) = match ctx.id_and_time("statuses", s.id, no_id, time, &raw_item) {
        Ok(checked) => checked,
        Err(refused) => return refused,
    };
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
        raw: raw_item.into(),
    };
    if let Some(Err(reason)) = decoded.to_inbound().map(|i| i.validate()) {
        return ctx.invalid("statuses", reason, decoded.raw.into_string());
    }
    Decoded::Status(Box::new(decoded))
}

/// A customer's answer to a request to call them.
fn call_permission(p: WireCallPermission) -> InteractiveReply {
    let expires_at = crate::webhook::fields::text(p.expiration_timestamp.as_ref())
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
