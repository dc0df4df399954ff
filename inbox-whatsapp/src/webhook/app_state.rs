//! The `smb_app_state_sync` field: contacts of the WhatsApp Business app
//! on a coexistence number (added or renamed, removed), decoded into
//! [`InboundAppContact`]s.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::value::RawValue;

use inbox_core::inbound::InboundRefusal;
use inbox_core::model::ContactIdentity;
use inbox_core::InboundAppContact;

use super::decode::Decoded;
use super::fields::{text, unix_time, Whole};
use super::raw::envelope_of;

#[derive(Deserialize)]
struct StateSyncValue {
    metadata: Option<Metadata>,
    #[serde(default)]
    state_sync: Vec<Item>,
}

#[derive(Deserialize)]
struct Metadata {
    phone_number_id: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct Item {
    #[serde(rename = "type")]
    kind: Option<String>,
    contact: Option<WireContact>,
    action: Option<String>,
    metadata: Option<ItemMetadata>,
}

#[derive(Deserialize)]
struct WireContact {
    full_name: Option<String>,
    first_name: Option<String>,
    phone_number: Option<serde_json::Value>,
    user_id: Option<String>,
    parent_user_id: Option<String>,
}

#[derive(Deserialize)]
struct ItemMetadata {
    timestamp: Option<serde_json::Value>,
}

/// Decodes a `smb_app_state_sync` change value: one
/// [`Decoded::AppContact`] per contact item (other item types are
/// ignored); one the inbox cannot take is [`Decoded::Invalid`], kept as a
/// dead letter with the whole value.
pub(crate) fn decode_state_sync_value(
    waba_id: Option<&str>,
    raw: &RawValue,
    received_at: DateTime<Utc>,
    out: &mut Vec<Decoded>,
) {
    let whole = Whole {
        waba_id,
        field: "smb_app_state_sync",
        raw,
    };
    let invalid = |pnid, reason| whole.refused(pnid, reason);
    let value: StateSyncValue = match whole.read() {
        Ok(v) => v,
        Err(refused) => return out.push(refused),
    };
    let pnid = text(
        value
            .metadata
            .as_ref()
            .and_then(|m| m.phone_number_id.as_ref()),
    );
    for item in value.state_sync {
        if item.kind.as_deref().is_some_and(|k| k != "contact") {
            out.push(Decoded::Ignored {
                field: "smb_app_state_sync".into(),
            });
            continue;
        }
        out.push(match app_contact(pnid.as_deref(), item, received_at) {
            Ok(a) => Decoded::AppContact(Box::new(a)),
            Err(reason) => invalid(pnid.clone(), reason),
        });
    }
}

fn app_contact(
    pnid: Option<&str>,
    item: Item,
    received_at: DateTime<Utc>,
) -> Result<InboundAppContact, InboundRefusal> {
    let pnid = pnid.ok_or_else(|| InboundRefusal::malformed("no metadata.phone_number_id"))?;
    let c = item
        .contact
        .ok_or_else(|| InboundRefusal::malformed("a contact item without a contact"))?;
    let stamp = item.metadata.as_ref().and_then(|m| m.timestamp.as_ref());
    let timestamp = unix_time(stamp, received_at)?;
    let a = InboundAppContact {
        phone_number_id: pnid.to_string(),
        contact: ContactIdentity {
            wa_id: text(c.phone_number.as_ref()).map(|n| n.trim_start_matches('+').to_string()),
            user_id: c.user_id,
            parent_user_id: c.parent_user_id,
        },
        name: c.full_name.or(c.first_name),
        removed: item.action.as_deref() == Some("remove"),
        timestamp,
    };
    a.validate()?;
    Ok(a)
}

/// An app contact as a webhook body of its own (what a dead letter
/// keeps, to be replayed like any other).
pub(crate) fn webhook_of(a: &InboundAppContact) -> String {
    let value = serde_json::json!({
        "messaging_product": "whatsapp",
        "metadata": { "phone_number_id": a.phone_number_id },
        "state_sync": [{
            "type": "contact",
            "contact": { "full_name": a.name, "phone_number": a.contact.wa_id,
                         "user_id": a.contact.user_id, "parent_user_id": a.contact.parent_user_id },
            "action": if a.removed { "remove" } else { "add" },
            "metadata": { "timestamp": a.timestamp.timestamp().to_string() },
        }],
    });
    envelope_of(None, "smb_app_state_sync", &value.to_string())
}
