//! The `history` field (coexistence onboarding): past chats of the
//! WhatsApp Business app in chunks, the media of earlier placeholders,
//! or the business's refusal to share, decoded into [`InboundHistory`].
//!
//! Each thread's messages are decoded by the messages decoder itself (the
//! customer's as `messages`, the business's as `message_echoes`), so a
//! past message reads exactly as a live one; an item it refuses is kept as
//! a dead letter and the rest of the chunk is imported.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{json, Value};

use inbox_core::model::DeliveryStatus;
use inbox_core::{HistoryChunk, HistoryMessage, HistoryThread, InboundHistory, InboundRefusal};

use super::decode::{Decoded, DecodedMessage};
use super::fields::{text, Whole};

#[derive(Deserialize)]
struct HistoryValue {
    metadata: Option<Value>,
    #[serde(default)]
    history: Vec<Batch>,
    #[serde(default)]
    messages: Vec<Value>,
    #[serde(default)]
    message_echoes: Vec<Value>,
}

#[derive(Deserialize)]
struct Batch {
    metadata: Option<BatchMetadata>,
    #[serde(default)]
    threads: Vec<Thread>,
    #[serde(default)]
    errors: Vec<super::wire::WireError>,
}

#[derive(Deserialize)]
struct BatchMetadata {
    phase: Option<Value>,
    chunk_order: Option<Value>,
    progress: Option<Value>,
}

#[derive(Deserialize)]
struct Thread {
    id: Option<Value>,
    #[serde(default)]
    context: Option<Value>,
    #[serde(default)]
    messages: Vec<Value>,
}

/// Decodes a `history` change value: one [`Decoded::History`] per chunk,
/// per batch of media, or for the refusal; refused items as dead letters.
pub(crate) fn decode_history_value(
    whole: &Whole<'_>,
    received_at: DateTime<Utc>,
    out: &mut Vec<Decoded>,
) {
    let mut value: HistoryValue = match whole.read() {
        Ok(v) => v,
        Err(refused) => return out.push(refused),
    };
    let pnid = value
        .metadata
        .as_ref()
        .and_then(|m| text(m.get("phone_number_id")));
    let Some(pnid) = pnid else {
        let reason = InboundRefusal::malformed("no metadata.phone_number_id");
        return out.push(whole.refused(None, reason));
    };
    let base = Base {
        whole,
        metadata: value.metadata.clone().unwrap_or(Value::Null),
        pnid,
        received_at,
    };
    for batch in std::mem::take(&mut value.history) {
        base.batch(batch, out);
    }
    if !value.messages.is_empty() || !value.message_echoes.is_empty() {
        base.media(value, out);
    }
}

/// What every part of one value shares.
struct Base<'a> {
    whole: &'a Whole<'a>,
    metadata: Value,
    pnid: String,
    received_at: DateTime<Utc>,
}

impl Base<'_> {
    /// A chunk of past chats, or the refusal to share them.
    fn batch(&self, batch: Batch, out: &mut Vec<Decoded>) {
        let declined = batch.errors.first().map(|e| {
            let error: super::decode::MetaError = e.into();
            error.to_provider_error()
        });
        let chunk = batch.metadata.as_ref().map(|m| HistoryChunk {
            phase: number(m.phase.as_ref()).min(u64::from(u8::MAX)) as u8,
            chunk_order: number(m.chunk_order.as_ref()).min(u64::from(u32::MAX)) as u32,
            progress: number(m.progress.as_ref()).min(100) as u8,
        });
        if chunk.is_none() && declined.is_none() {
            let reason = InboundRefusal::malformed("history without metadata or errors");
            return out.push(self.whole.refused(Some(self.pnid.clone()), reason));
        }
        let threads = batch
            .threads
            .into_iter()
            .filter_map(|t| self.thread(t, out))
            .collect();
        self.push(chunk, threads, declined, out);
    }

    /// One customer's past messages (`None` when none could be read).
    fn thread(&self, t: Thread, out: &mut Vec<Decoded>) -> Option<HistoryThread> {
        let context = t.context.unwrap_or(Value::Null);
        let wa_id = text(t.id.as_ref()).or_else(|| text(context.get("wa_id")));
        let contact = json!({
            "wa_id": wa_id,
            "user_id": context.get("user_id"),
            "parent_user_id": context.get("parent_user_id"),
            "profile": { "username": context.get("username") },
        });
        let (customer, business): (Vec<Value>, Vec<Value>) = t
            .messages
            .into_iter()
            .partition(|m| !self.by_business(m, wa_id.as_deref()));
        let business = business
            .into_iter()
            .map(|m| addressed(m, wa_id.as_deref(), context.get("user_id")))
            .collect();
        let messages = self.decode(vec![contact], customer, business, out);
        let customer = messages.first()?.message.from.clone();
        Some(HistoryThread { customer, messages })
    }

    /// Whether a past message was the business's: it names a recipient,
    /// or it is from the business's own number.
    fn by_business(&self, m: &Value, customer: Option<&str>) -> bool {
        let digits = |s: &str| s.chars().filter(char::is_ascii_digit).collect::<String>();
        let own = text(self.metadata.get("display_phone_number")).map(|n| digits(&n));
        let from = text(m.get("from")).map(|f| digits(&f));
        m.get("to").is_some()
            || (from.is_some() && from == own)
            || (from.is_some()
                && customer.is_some()
                && from.as_deref() != customer.map(digits).as_deref())
    }

    /// The media of earlier placeholders (top-level `messages`, the
    /// customer's, and `message_echoes`, the business's), by customer.
    fn media(&self, value: HistoryValue, out: &mut Vec<Decoded>) {
        let contacts = contacts_of(self.whole.raw.get());
        let messages = self.decode(contacts, value.messages, value.message_echoes, out);
        let mut threads: Vec<HistoryThread> = Vec::new();
        for m in messages {
            match threads.iter_mut().find(|t| t.customer == m.message.from) {
                Some(t) => t.messages.push(m),
                None => threads.push(HistoryThread {
                    customer: m.message.from.clone(),
                    messages: vec![m],
                }),
            }
        }
        self.push(None, threads, None, out);
    }

    /// Decodes past messages with the messages decoder: the customer's as
    /// `messages`, the business's as `message_echoes`.
    fn decode(
        &self,
        contacts: Vec<Value>,
        customer: Vec<Value>,
        business: Vec<Value>,
        out: &mut Vec<Decoded>,
    ) -> Vec<HistoryMessage> {
        let statuses: std::collections::HashMap<String, DeliveryStatus> = business
            .iter()
            .filter_map(|m| Some((text(m.get("id"))?, status(m)?)))
            .collect();
        let value = json!({
            "metadata": self.metadata,
            "contacts": contacts,
            "messages": customer,
            "message_echoes": business,
        });
        // Written straight into its raw text (not written, then read
        // again to check it).
        let Ok(raw) = serde_json::value::to_raw_value(&value) else {
            return Vec::new();
        };
        let mut decoded = Vec::new();
        super::decode::decode_messages_value(
            self.whole.waba_id,
            "history",
            &raw,
            self.received_at,
            &mut decoded,
        );
        let mut messages = Vec::new();
        for d in decoded {
            match d {
                Decoded::Message(m) => messages.push(past(*m, false, None)),
                Decoded::Echo(m) => {
                    let status = statuses.get(&m.message.external_id).copied();
                    messages.push(past(*m, true, status));
                }
                invalid @ Decoded::Invalid { .. } => out.push(invalid),
                _ => {}
            }
        }
        messages
    }

    fn push(
        &self,
        chunk: Option<HistoryChunk>,
        threads: Vec<HistoryThread>,
        declined: Option<inbox_core::model::ProviderError>,
        out: &mut Vec<Decoded>,
    ) {
        let history = InboundHistory {
            phone_number_id: self.pnid.clone(),
            chunk,
            threads,
            declined,
            timestamp: self.received_at,
        };
        let raw = super::raw::envelope_of(self.whole.waba_id, "history", self.whole.raw.get());
        out.push(Decoded::History {
            history: Box::new(history),
            raw,
        });
    }
}

/// The `contacts` of a history value (the last when the key comes twice,
/// as a JSON object keeps it), read only when its media need them: only
/// that key is read, the rest skipped; none when they are not a list or
/// do not read.
fn contacts_of(value: &str) -> Vec<Value> {
    struct Contacts(Option<Value>);
    impl<'de> Deserialize<'de> for Contacts {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct Keys;
            impl<'de> serde::de::Visitor<'de> for Keys {
                type Value = Contacts;
                fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.write_str("a history value")
                }
                fn visit_map<A: serde::de::MapAccess<'de>>(
                    self,
                    mut map: A,
                ) -> Result<Contacts, A::Error> {
                    let mut contacts = None;
                    while let Some(key) = map.next_key::<String>()? {
                        if key == "contacts" {
                            contacts = Some(map.next_value::<Value>()?);
                        } else {
                            map.next_value::<serde::de::IgnoredAny>()?;
                        }
                    }
                    Ok(Contacts(contacts))
                }
            }
            d.deserialize_map(Keys)
        }
    }
    match serde_json::from_str::<Contacts>(value) {
        Ok(Contacts(Some(Value::Array(contacts)))) => contacts,
        _ => Vec::new(),
    }
}

/// A business message of the thread with its customer named as an echo
/// names them (`to`, `to_user_id`), when it does not already.
fn addressed(mut m: Value, wa_id: Option<&str>, user_id: Option<&Value>) -> Value {
    if let Some(item) = m.as_object_mut() {
        if !item.contains_key("to") && !item.contains_key("to_user_id") {
            match (wa_id, user_id) {
                (Some(wa), _) => item.insert("to".into(), json!(wa)),
                (None, Some(u)) => item.insert("to_user_id".into(), u.clone()),
                _ => None,
            };
        }
    }
    m
}

/// How far a past message of the business got (`history_context.status`).
fn status(m: &Value) -> Option<DeliveryStatus> {
    let s = text(m.get("history_context")?.get("status"))?;
    Some(match s.to_ascii_uppercase().as_str() {
        "PENDING" => DeliveryStatus::Pending,
        "SENT" => DeliveryStatus::Sent,
        "DELIVERED" => DeliveryStatus::Delivered,
        "READ" => DeliveryStatus::Read,
        "PLAYED" => DeliveryStatus::Played,
        "ERROR" => DeliveryStatus::Failed,
        _ => return None,
    })
}

/// A decoded message as a past one.
fn past(m: DecodedMessage, from_business: bool, status: Option<DeliveryStatus>) -> HistoryMessage {
    HistoryMessage {
        message: m.message,
        from_business,
        status,
    }
}

/// A whole number sent as a number or text (0 when absent or unreadable).
fn number(v: Option<&Value>) -> u64 {
    text(v).and_then(|t| t.trim().parse().ok()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::contacts_of;
    use serde_json::json;

    #[test]
    fn contacts_are_read_as_a_json_object_keeps_them() {
        let two = r#"{"contacts":[{"wa_id":"1"}],"messages":[],"contacts":[{"wa_id":"2"}]}"#;
        assert_eq!(contacts_of(two), vec![json!({"wa_id": "2"})]);
        assert!(contacts_of(r#"{"contacts":null}"#).is_empty());
        assert!(contacts_of(r#"{"contacts":{"wa_id":"1"}}"#).is_empty());
        assert!(contacts_of(r#"{"messages":[{"deep":[[[1]]]}]}"#).is_empty());
        assert!(contacts_of("not json").is_empty());
    }
}
