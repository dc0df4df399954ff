//! The `calls` field: a customer's call (or the business's) connecting and
//! ending, decoded into messages of content [`Content::Call`] so that each
//! lands once on the customer's conversation (a missed call makes the
//! customer wait, like a message).

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::value::RawValue;

use inbox_core::inbound::{InboundMessage, InboundRefusal};
use inbox_core::model::{CallOutcome, ContactIdentity, Content, ReplyContext};

use super::decode::{Decoded, DecodedMessage};
use super::fields::{text, unix_time};
use super::raw::envelope_of;

#[derive(Deserialize)]
struct CallsValue<'a> {
    metadata: Option<Metadata>,
    #[serde(default)]
    contacts: Vec<Contact>,
    #[serde(default, borrow)]
    calls: Vec<&'a RawValue>,
}

#[derive(Deserialize)]
struct Metadata {
    phone_number_id: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct Contact {
    wa_id: Option<serde_json::Value>,
    user_id: Option<String>,
    parent_user_id: Option<String>,
    profile: Option<Profile>,
}

#[derive(Deserialize)]
struct Profile {
    name: Option<String>,
    username: Option<String>,
}

#[derive(Deserialize)]
struct WireCall {
    id: Option<String>,
    event: Option<String>,
    timestamp: Option<serde_json::Value>,
    direction: Option<String>,
    from: Option<serde_json::Value>,
    from_user_id: Option<String>,
    from_parent_user_id: Option<String>,
    to: Option<serde_json::Value>,
    to_user_id: Option<String>,
    to_parent_user_id: Option<String>,
    status: Option<String>,
    duration: Option<serde_json::Value>,
    start_time: Option<serde_json::Value>,
}

impl WireCall {
    /// Whether the customer called (WhatsApp's `USER_INITIATED`; a call
    /// without a direction is taken as the customer's).
    fn by_customer(&self) -> bool {
        !self
            .direction
            .as_deref()
            .is_some_and(|d| d.eq_ignore_ascii_case("BUSINESS_INITIATED"))
    }

    /// The customer: the caller, or whom the business called.
    fn customer(&self) -> ContactIdentity {
        let phone = |v: &Option<serde_json::Value>| {
            text(v.as_ref()).map(|n| n.trim_start_matches('+').to_string())
        };
        if self.by_customer() {
            ContactIdentity {
                wa_id: phone(&self.from),
                user_id: self.from_user_id.clone(),
                parent_user_id: self.from_parent_user_id.clone(),
            }
        } else {
            ContactIdentity {
                wa_id: phone(&self.to),
                user_id: self.to_user_id.clone(),
                parent_user_id: self.to_parent_user_id.clone(),
            }
        }
    }

    /// What happened: an answered call ends with its duration (or start
    /// time); a customer's call that ends without one was missed.
    fn outcome(&self) -> (CallOutcome, Option<u64>) {
        let event = self.event.clone().unwrap_or_default().to_ascii_lowercase();
        let duration = text(self.duration.as_ref()).and_then(|d| d.trim().parse::<f64>().ok());
        let duration = duration.map(|d| d.max(0.0).round() as u64);
        let answered = duration.is_some() || self.start_time.is_some();
        let failed = self
            .status
            .as_deref()
            .is_some_and(|s| s.eq_ignore_ascii_case("FAILED"));
        let outcome = match event.as_str() {
            "connect" => CallOutcome::Ringing,
            "terminate" if answered => CallOutcome::Answered,
            "terminate" if self.by_customer() => CallOutcome::Missed,
            "terminate" if failed => CallOutcome::Failed,
            "terminate" => CallOutcome::NotAnswered,
            other => CallOutcome::Other(other.to_string()),
        };
        (outcome, duration)
    }
}

/// Decodes a `calls` change value: one [`Decoded::Message`] per call
/// event (content [`Content::Call`], provider id `{call id}:{event}`), or
/// [`Decoded::Invalid`] for one the inbox cannot take.
pub(crate) fn decode_calls_value(
    waba_id: Option<&str>,
    raw: &RawValue,
    received_at: DateTime<Utc>,
    out: &mut Vec<Decoded>,
) {
    let value: CallsValue<'_> = match serde_json::from_str(raw.get()) {
        Ok(v) => v,
        Err(e) => {
            return out.push(Decoded::Invalid {
                field: "calls".into(),
                phone_number_id: None,
                reason: InboundRefusal::malformed(format!("unreadable calls value: {e}")),
                raw: envelope_of(waba_id, "calls", raw.get()),
            })
        }
    };
    let pnid = text(
        value
            .metadata
            .as_ref()
            .and_then(|m| m.phone_number_id.as_ref()),
    );
    // What each call is kept with: the number and the contacts.
    let whole: serde_json::Value = serde_json::from_str(raw.get()).unwrap_or_default();
    for item in &value.calls {
        let mut alone = serde_json::Map::new();
        for key in ["metadata", "contacts"] {
            if let Some(v) = whole.get(key).filter(|v| !v.is_null()) {
                alone.insert(key.into(), v.clone());
            }
        }
        let call: serde_json::Value = serde_json::from_str(item.get()).unwrap_or_default();
        alone.insert("calls".into(), serde_json::Value::Array(vec![call]));
        let kept = envelope_of(
            waba_id,
            "calls",
            &serde_json::Value::Object(alone).to_string(),
        );
        out.push(
            match decode_call(pnid.as_deref(), &value.contacts, item, received_at) {
                Ok(message) => Decoded::Message(Box::new(DecodedMessage {
                    waba_id: waba_id.map(str::to_string),
                    wa_type: "call".into(),
                    raw_type: "call".into(),
                    message,
                    errors: Vec::new(),
                    raw: kept.into(),
                })),
                Err(reason) => Decoded::Invalid {
                    field: "calls".into(),
                    phone_number_id: pnid.clone(),
                    reason,
                    raw: kept,
                },
            },
        );
    }
}

fn decode_call(
    pnid: Option<&str>,
    contacts: &[Contact],
    item: &RawValue,
    received_at: DateTime<Utc>,
) -> Result<InboundMessage, InboundRefusal> {
    let call: WireCall = serde_json::from_str(item.get())
        .map_err(|e| InboundRefusal::malformed(format!("unreadable call: {e}")))?;
    let pnid = pnid.ok_or_else(|| InboundRefusal::malformed("no metadata.phone_number_id"))?;
    let id = call
        .id
        .clone()
        .filter(|i| !i.trim().is_empty())
        .ok_or_else(|| InboundRefusal::InvalidExternalId {
            detail: "the call has no id".into(),
        })?;
    let timestamp = unix_time(call.timestamp.as_ref(), received_at)?;
    let customer = call.customer();
    let contact = contacts
        .iter()
        .find(|c| {
            (customer.wa_id.is_some() && text(c.wa_id.as_ref()) == customer.wa_id)
                || (customer.user_id.is_some() && c.user_id == customer.user_id)
        })
        .or((contacts.len() == 1).then(|| &contacts[0]));
    let from = ContactIdentity {
        wa_id: customer
            .wa_id
            .or_else(|| contact.and_then(|c| text(c.wa_id.as_ref()))),
        user_id: customer
            .user_id
            .or_else(|| contact.and_then(|c| c.user_id.clone())),
        parent_user_id: customer
            .parent_user_id
            .or_else(|| contact.and_then(|c| c.parent_user_id.clone())),
    };
    let (outcome, duration_secs) = call.outcome();
    let event = call.event.clone().unwrap_or_else(|| "call".into());
    let message = InboundMessage {
        phone_number_id: pnid.to_string(),
        external_id: format!("{id}:{}", event.to_ascii_lowercase()),
        from,
        profile_name: contact
            .and_then(|c| c.profile.as_ref())
            .and_then(|p| p.name.clone()),
        username: contact
            .and_then(|c| c.profile.as_ref())
            .and_then(|p| p.username.clone()),
        timestamp,
        content: Content::Call {
            call_id: id,
            from_customer: call.by_customer(),
            outcome,
            duration_secs,
        },
        context: ReplyContext::default(),
    };
    message.validate()?;
    Ok(message)
}
