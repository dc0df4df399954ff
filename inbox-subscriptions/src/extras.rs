//! What a delivery carries besides the event when the tenant's
//! `subscriptions` settings ask for it: the message the event is about
//! (`include_message_text`) and the conversation's contact
//! (`include_contact`), read from the store when the delivery is built.

use std::collections::HashMap;

use serde::Serialize;
use serde_json::{Map, Value};

use inbox_core::model::{Author, Contact, Content, Direction, Message};
use inbox_core::ports::Store;
use inbox_core::settings::SubscriptionsSection;
use inbox_core::{ContactId, Event, EventKind, MessageId, TenantId};

/// Each tenant's `subscriptions` settings, read at most once per pump (a
/// failed read too: every delivery of that tenant in the pump is then
/// retried).
#[derive(Debug, Default)]
pub(crate) struct TenantOptions {
    read: HashMap<TenantId, Result<SubscriptionsSection, String>>,
}

impl TenantOptions {
    /// The tenant's options, read from the store the first time.
    async fn of(
        &mut self,
        store: &dyn Store,
        tenant: &TenantId,
    ) -> Result<SubscriptionsSection, String> {
        if let Some(known) = self.read.get(tenant) {
            return known.clone();
        }
        let read = match store.settings(tenant).await {
            Ok(stored) => Ok(stored.map(|s| s.document.subscriptions).unwrap_or_default()),
            Err(e) => Err(format!("reading the tenant's settings: {e}")),
        };
        self.read.insert(tenant.clone(), read.clone());
        read
    }
}

/// The fields `event`'s delivery carries besides the event (none when the
/// tenant's options are off). A message or contact the store does not
/// have is left out; any other store failure is an error (the delivery is
/// retried).
pub(crate) async fn extras(
    store: &dyn Store,
    options: &mut TenantOptions,
    event: &Event,
) -> Result<Map<String, Value>, String> {
    let mut fields = Map::new();
    let wanted = options.of(store, &event.tenant).await?;
    if wanted.include_message_text {
        if let Some(id) = message_of(&event.kind) {
            if let Some(m) = found(store.message(&event.tenant, id).await, "message")? {
                fields.insert("message".into(), to_value(&MessageFields::of(&m))?);
            }
        }
    }
    if wanted.include_contact {
        if let Some(c) = contact_of(store, event).await? {
            fields.insert("contact".into(), to_value(&ContactFields::of(&c))?);
        }
    }
    Ok(fields)
}

/// The message an event names, if any.
fn message_of(kind: &EventKind) -> Option<&MessageId> {
    match kind {
        EventKind::MessageReceived { message, .. }
        | EventKind::MessageRevised { message, .. }
        | EventKind::MessageEchoed { message, .. }
        | EventKind::StandbyKept { message, .. }
        | EventKind::ReplyQueued { message, .. }
        | EventKind::DeliveryChanged { message, .. }
        | EventKind::DeliveryInDoubt { message }
        | EventKind::MessageResent { message, .. }
        | EventKind::NoteAdded { message, .. }
        | EventKind::SurveySent { message } => Some(message),
        EventKind::Transferred { note, .. } => Some(note),
        _ => None,
    }
}

/// The contact of the event's conversation, if it has one the store still
/// has (not merged away).
async fn contact_of(store: &dyn Store, event: &Event) -> Result<Option<Contact>, String> {
    let Some(conversation) = &event.conversation else {
        return Ok(None);
    };
    let read = store.conversation(&event.tenant, conversation).await;
    let Some(conversation) = found(read, "conversation")? else {
        return Ok(None);
    };
    let id: &ContactId = &conversation.contact;
    let contacts = store
        .contacts(&event.tenant, std::slice::from_ref(id))
        .await
        .map_err(|e| format!("reading the contact: {e}"))?;
    Ok(contacts
        .into_iter()
        .find(|c| c.id == *id && c.merged_into.is_none()))
}

/// A read's value, `None` when the store does not have it, or the failure
/// in words.
fn found<T>(read: inbox_core::Result<T>, what: &str) -> Result<Option<T>, String> {
    match read {
        Ok(v) => Ok(Some(v)),
        Err(inbox_core::Error::NotFound { .. }) => Ok(None),
        Err(e) => Err(format!("reading the {what}: {e}")),
    }
}

fn to_value(fields: &impl Serialize) -> Result<Value, String> {
    serde_json::to_value(fields).map_err(|e| format!("delivery fields to JSON: {e}"))
}

/// `"message"`: the message as it is stored when the delivery is built.
#[derive(Debug, Serialize)]
struct MessageFields<'a> {
    id: &'a MessageId,
    /// `inbound`, `outbound` or `note`.
    direction: Direction,
    /// `{"kind": "customer" | "agent" | "automation" | "system" | "app", "id"}`.
    author: &'a Author,
    /// The content kind (`text`, `image` ...).
    #[serde(rename = "type")]
    kind: &'a str,
    /// The text, or a media caption; absent for other kinds.
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<&'a str>,
}

impl<'a> MessageFields<'a> {
    fn of(m: &'a Message) -> Self {
        let text = match &m.content {
            Content::Text { body, .. } => Some(body.as_str()),
            Content::Media { caption, .. } => caption.as_deref(),
            _ => None,
        };
        Self {
            id: &m.id,
            direction: m.direction,
            author: &m.author,
            kind: m.content.kind(),
            text,
        }
    }
}

/// `"contact"`: the conversation's customer as stored when the delivery is
/// built; unknown fields are left out.
#[derive(Debug, Serialize)]
struct ContactFields<'a> {
    id: &'a ContactId,
    /// The team's name for them, else the WhatsApp Business app's, else
    /// their profile name.
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    /// E.164 (`+` and the `wa_id`), when the `wa_id` is known.
    #[serde(skip_serializing_if = "Option::is_none")]
    phone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    wa_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    username: Option<&'a str>,
    /// The contact's `email` attribute.
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<&'a str>,
}

impl<'a> ContactFields<'a> {
    fn of(c: &'a Contact) -> Self {
        let wa_id = given(c.identity.wa_id.as_deref());
        Self {
            id: &c.id,
            name: given(c.display_name.as_deref())
                .or(given(c.app_name.as_deref()))
                .or(given(c.profile_name.as_deref())),
            phone: wa_id.and_then(e164),
            wa_id,
            user_id: given(c.identity.user_id.as_deref()),
            username: given(c.username.as_deref()),
            email: given(c.attributes.get("email").map(String::as_str)),
        }
    }
}

/// A value that is not blank.
fn given(s: Option<&str>) -> Option<&str> {
    s.map(str::trim).filter(|s| !s.is_empty())
}

/// A `wa_id` (country code and number, digits only) in E.164; `None` for
/// anything that is not 1 to 15 digits.
fn e164(wa_id: &str) -> Option<String> {
    let digits = wa_id.len() <= 15 && wa_id.bytes().all(|b| b.is_ascii_digit());
    digits.then(|| format!("+{wa_id}"))
}

#[cfg(test)]
mod tests {
    use super::e164;

    #[test]
    fn phones_are_e164_or_nothing() {
        assert_eq!(e164("34600111222").as_deref(), Some("+34600111222"));
        assert_eq!(e164("+34600"), None);
        assert_eq!(e164("1234567890123456"), None);
        assert_eq!(e164("34 600"), None);
    }
}
