//! The `user_preferences` field: a customer stopping or resuming marketing
//! messages, decoded into [`InboundPreference`]s.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::value::RawValue;

use inbox_core::inbound::{InboundPreference, InboundRefusal};
use inbox_core::model::ContactIdentity;

use super::decode::Decoded;
use super::fields::{text, unix_time, Whole};
use super::raw::envelope_of;

#[derive(Deserialize)]
struct PreferencesValue {
    metadata: Option<Metadata>,
    #[serde(default)]
    user_preferences: Vec<WirePreference>,
}

#[derive(Deserialize)]
struct Metadata {
    phone_number_id: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct WirePreference {
    wa_id: Option<serde_json::Value>,
    user_id: Option<String>,
    parent_user_id: Option<String>,
    detail: Option<String>,
    category: Option<String>,
    value: Option<String>,
    timestamp: Option<serde_json::Value>,
}

/// Decodes a `user_preferences` change value into one item per choice
/// (a choice that cannot be taken is [`Decoded::Invalid`], kept as a dead
/// letter with the whole value).
pub(crate) fn decode_preferences_value(
    waba_id: Option<&str>,
    raw: &RawValue,
    received_at: DateTime<Utc>,
    out: &mut Vec<Decoded>,
) {
    let whole = Whole {
        waba_id,
        field: "user_preferences",
        raw,
    };
    let invalid = |pnid, reason| whole.refused(pnid, reason);
    let value: PreferencesValue = match whole.read() {
        Ok(v) => v,
        Err(refused) => return out.push(refused),
    };
    let pnid = text(
        value
            .metadata
            .as_ref()
            .and_then(|m| m.phone_number_id.as_ref()),
    );
    if value.user_preferences.is_empty() {
        return;
    }
    let Some(pnid) = pnid else {
        return out.push(invalid(
            None,
            InboundRefusal::malformed("user_preferences without a phone_number_id"),
        ));
    };
    for p in value.user_preferences {
        let timestamp = unix_time(p.timestamp.as_ref(), received_at);
        let choice = timestamp.and_then(|timestamp| {
            let preference = InboundPreference {
                phone_number_id: pnid.clone(),
                from: ContactIdentity {
                    wa_id: text(p.wa_id.as_ref()),
                    user_id: p.user_id.clone(),
                    parent_user_id: p.parent_user_id.clone(),
                },
                category: p.category.clone().unwrap_or_default(),
                value: p.value.clone().unwrap_or_default(),
                detail: p.detail.clone(),
                timestamp,
            };
            preference.validate().map(|()| preference)
        });
        out.push(match choice {
            Ok(preference) => Decoded::Preference(Box::new(preference)),
            Err(reason) => invalid(Some(pnid.clone()), reason),
        });
    }
}

/// A choice as a webhook body of its own (what a dead letter keeps, to be
/// replayed like any other).
pub(crate) fn webhook_of(p: &InboundPreference) -> String {
    let value = serde_json::json!({
        "messaging_product": "whatsapp",
        "metadata": { "phone_number_id": p.phone_number_id },
        "user_preferences": [{
            "wa_id": p.from.wa_id, "user_id": p.from.user_id, "parent_user_id": p.from.parent_user_id,
            "detail": p.detail, "category": p.category, "value": p.value,
            "timestamp": p.timestamp.timestamp().to_string(),
        }],
    });
    envelope_of(None, "user_preferences", &value.to_string())
}
