//! The raw JSON of one webhook item, kept for a dead letter: a webhook body
//! of its own holding just that item, with the metadata and contact it came
//! with, so that today's decoder reads it again exactly as it read the
//! original. Built from the received text, byte for byte, so a redelivered
//! webhook yields the same items.

use chrono::{DateTime, Utc};
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::sync::Arc;

/// An item as received, as a webhook body of its own holding just that
/// item, with the metadata and contact it came with (what a dead letter
/// keeps if the inbox refuses it). Made from the received body only when
/// asked for: most items are never refused.
#[derive(Clone)]
pub struct RawItem(Repr);

#[derive(Clone)]
enum Repr {
    /// The text, made.
    Text(String),
    /// Item `index` of what the body decodes to, received at `at`.
    InBody {
        body: Arc<[u8]>,
        at: DateTime<Utc>,
        index: usize,
    },
}

impl RawItem {
    /// Item `index` of what `body`, received at `at`, decodes to.
    pub(crate) fn in_body(body: Arc<[u8]>, at: DateTime<Utc>, index: usize) -> Self {
        Self(Repr::InBody { body, at, index })
    }

    /// The text: a webhook body of its own.
    pub fn text(&self) -> Cow<'_, str> {
        match &self.0 {
            Repr::Text(t) => Cow::Borrowed(t),
            Repr::InBody { body, at, index } => {
                Cow::Owned(super::decode::raw_of_item(body, *at, *index))
            }
        }
    }

    /// The text, owned.
    pub fn into_string(self) -> String {
        match self.0 {
            Repr::Text(t) => t,
            other => Self(other).text().into_owned(),
        }
    }
}

impl From<String> for RawItem {
    fn from(text: String) -> Self {
        Self(Repr::Text(text))
    }
}

impl PartialEq for RawItem {
    fn eq(&self, other: &Self) -> bool {
        self.text() == other.text()
    }
}

impl std::fmt::Debug for RawItem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.text().fmt(f)
    }
}

impl std::fmt::Display for RawItem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text())
    }
}

/// A webhook body with one `messages` change whose value is `value` (raw
/// JSON text).
pub(crate) fn envelope(waba_id: Option<&str>, value: &str) -> String {
    envelope_of(waba_id, "messages", value)
}

/// A webhook body of its own holding one change `value` of `field`.
pub(crate) fn envelope_of(waba_id: Option<&str>, field: &str, value: &str) -> String {
    let mut out = String::with_capacity(value.len() + field.len() + 112);
    open_envelope(&mut out, waba_id, field);
    out.push_str(value);
    out.push_str(CLOSE);
    out
}

/// What follows the value in [`envelope_of`].
const CLOSE: &str = "}]}]}";

/// [`envelope_of`] up to the value.
fn open_envelope(out: &mut String, waba_id: Option<&str>, field: &str) {
    out.push_str(r#"{"object":"whatsapp_business_account","entry":[{"id":"#);
    match waba_id {
        Some(id) => push_json_str(out, id),
        None => out.push_str("null"),
    }
    out.push_str(r#","changes":[{"field":"#);
    push_json_str(out, field);
    out.push_str(r#","value":"#);
}

/// `s` as a JSON string, as `serde_json::to_string` writes it.
fn push_json_str(out: &mut String, s: &str) {
    // serde_json escapes only `"`, `\` and control characters.
    if s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.push('"');
        out.push_str(s);
        out.push('"');
    } else {
        out.push_str(&serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into()));
    }
}

/// What an item of a `messages`, `smb_message_echoes` or `standby` value
/// comes with.
#[derive(Clone, Copy)]
pub(crate) struct ItemContext<'a> {
    /// `entry[].id`.
    pub waba_id: Option<&'a str>,
    /// The value's `metadata`, as received.
    pub metadata: Option<&'a RawValue>,
    /// The change's field.
    pub field: &'a str,
}

impl ItemContext<'_> {
    /// A webhook body of the same field holding only `item` under `key`
    /// (`messages`, `statuses`, `message_echoes`; inside `standby` for that
    /// field), with the metadata and, for a message, its customer's
    /// contact.
    pub fn item(&self, contact: Option<&RawValue>, key: &str, item: &RawValue) -> String {
        let mut value = String::with_capacity(
            item.get().len()
                + self.metadata.map_or(0, |m| m.get().len())
                + contact.map_or(0, |c| c.get().len())
                + self.field.len()
                + 192,
        );
        open_envelope(&mut value, self.waba_id, self.field);
        value.push('{');
        if let Some(m) = self.metadata {
            value.push_str("\"metadata\":");
            value.push_str(m.get());
            value.push(',');
        }
        let standby = self.field == "standby";
        if standby {
            value.push_str("\"standby\":{");
        }
        if let Some(c) = contact {
            value.push_str("\"contacts\":[");
            value.push_str(c.get());
            value.push_str("],");
        }
        value.push('"');
        value.push_str(key);
        value.push_str("\":[");
        value.push_str(item.get());
        value.push_str("]}");
        if standby {
            value.push('}');
        }
        value.push_str(CLOSE);
        value
    }
}
