//! The `messaging_handovers` field: control of a customer's thread passed
//! to this app (`control_passed`) or taken from it (`control_taken`),
//! decoded into [`InboundHandover`]s.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::value::RawValue;

use inbox_core::inbound::{InboundHandover, InboundRefusal};
use inbox_core::model::ContactIdentity;

use super::decode::Decoded;
use super::fields::{text, unix_time};
use super::raw::envelope_of;

#[derive(Deserialize)]
struct HandoverValue {
    #[serde(rename = "type")]
    kind: Option<String>,
    sender: Option<Party>,
    recipient: Option<Party>,
    /// The older shape: the number in `metadata`, the customer in
    /// `contacts`.
    metadata: Option<Party>,
    #[serde(default)]
    contacts: Vec<Party>,
    timestamp: Option<serde_json::Value>,
    control_passed: Option<Control>,
    control_taken: Option<Control>,
}

/// Either side of a handover: the customer (`phone_number`, `wa_id`,
/// `user_id`) or the business number (`phone_number_id`).
#[derive(Deserialize, Default)]
struct Party {
    phone_number: Option<serde_json::Value>,
    wa_id: Option<serde_json::Value>,
    user_id: Option<String>,
    parent_user_id: Option<String>,
    phone_number_id: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct Control {
    previous_owner_role: Option<String>,
    new_owner_role: Option<String>,
    /// Deprecated names of the roles.
    previous_owner_app_role: Option<String>,
    metadata: Option<String>,
    conversation_context: Option<Context>,
}

#[derive(Deserialize)]
struct Context {
    summary: Option<Summary>,
}

#[derive(Deserialize)]
struct Summary {
    text: Option<String>,
}

/// Decodes a `messaging_handovers` change value into one
/// [`Decoded::Handover`], or [`Decoded::Invalid`] (kept as a dead letter
/// with the whole value) when it names no number, no customer or no known
/// type.
pub(crate) fn decode_handover_value(
    waba_id: Option<&str>,
    raw: &RawValue,
    received_at: DateTime<Utc>,
    out: &mut Vec<Decoded>,
) {
    let kept = || envelope_of(waba_id, "messaging_handovers", raw.get());
    let refuse = |pnid: Option<String>, detail: String| Decoded::Invalid {
        field: "messaging_handovers".into(),
        phone_number_id: pnid,
        reason: InboundRefusal::malformed(detail),
        raw: kept(),
    };
    let value: HandoverValue = match serde_json::from_str(raw.get()) {
        Ok(v) => v,
        Err(e) => return out.push(refuse(None, format!("unreadable handover: {e}"))),
    };
    let pnid = [value.recipient.as_ref(), value.metadata.as_ref()]
        .into_iter()
        .flatten()
        .find_map(|p| text(p.phone_number_id.as_ref()));
    let Some(pnid) = pnid else {
        return out.push(refuse(None, "the handover names no phone_number_id".into()));
    };
    let customer = value.sender.as_ref().or(value.contacts.first());
    let customer = customer.map(|c| ContactIdentity {
        wa_id: text(c.wa_id.as_ref())
            .or_else(|| text(c.phone_number.as_ref()))
            .map(|n| n.trim_start_matches('+').to_string()),
        user_id: c.user_id.clone(),
        parent_user_id: c.parent_user_id.clone(),
    });
    let kind = value.kind.as_deref().unwrap_or_else(|| {
        if value.control_taken.is_some() {
            "control_taken"
        } else {
            "control_passed"
        }
    });
    let (to_us, control) = match kind {
        "control_passed" => (true, value.control_passed),
        "control_taken" => (false, value.control_taken),
        other => {
            return out.push(refuse(
                Some(pnid),
                format!("unknown handover type {other:?}"),
            ))
        }
    };
    let timestamp = match unix_time(value.timestamp.as_ref(), received_at) {
        Ok(t) => t,
        Err(reason) => return out.push(refuse(Some(pnid), reason.to_string())),
    };
    let handover = InboundHandover {
        phone_number_id: pnid.clone(),
        customer: customer.unwrap_or_default(),
        to_us,
        previous_owner: control.as_ref().and_then(|c| {
            c.previous_owner_role
                .clone()
                .or(c.previous_owner_app_role.clone())
        }),
        new_owner: control.as_ref().and_then(|c| c.new_owner_role.clone()),
        metadata: control.as_ref().and_then(metadata_of),
        timestamp,
    };
    out.push(match handover.validate() {
        Ok(()) => Decoded::Handover {
            handover: Box::new(handover),
            raw: kept(),
        },
        Err(reason) => Decoded::Invalid {
            field: "messaging_handovers".into(),
            phone_number_id: Some(pnid),
            reason,
            raw: kept(),
        },
    });
}

/// What came with the handover: the caller's metadata and the AI agent's
/// summary of the conversation, either or both.
fn metadata_of(c: &Control) -> Option<String> {
    let summary = c
        .conversation_context
        .as_ref()
        .and_then(|x| x.summary.as_ref())
        .and_then(|s| s.text.clone())
        .filter(|s| !s.trim().is_empty());
    let metadata = c.metadata.clone().filter(|m| !m.trim().is_empty());
    match (metadata, summary) {
        (Some(m), Some(s)) => Some(format!("{m}\n\n{s}")),
        (m, s) => m.or(s),
    }
}
