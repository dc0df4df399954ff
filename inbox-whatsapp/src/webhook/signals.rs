//! The account-level fields: `message_template_status_update`,
//! `message_template_quality_update`, `account_update` and
//! `phone_number_quality_update`, decoded into [`AccountSignal`]s. Meta
//! sends them per WhatsApp Business Account (`entry[].id`), with no
//! `metadata`: [`Decoded::Signal`] names the account, and the webhook
//! binds it to the account's numbers its signing secret speaks for.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Map, Value};

use inbox_core::model::{AccountSignal, TemplateStatus};

use super::decode::Decoded;
use super::fields::{text, unix_time, Whole};

/// A signal about a WhatsApp Business Account, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodedSignal {
    /// The account (`entry[].id`).
    pub waba_id: Option<String>,
    /// The number it is about, as Meta writes it (`display_phone_number`,
    /// or an account update's `phone_number`), when it names one.
    pub display_phone_number: Option<String>,
    /// What Meta said.
    pub signal: AccountSignal,
    /// When (`entry[].time`, else the time it was received).
    pub timestamp: DateTime<Utc>,
    /// The change as received, as a webhook body of its own.
    pub raw: String,
}

/// Decodes one change of an account-level field (an unreadable one is
/// [`Decoded::Invalid`], kept as a dead letter).
pub(crate) fn decode_signal_value(
    whole: &Whole<'_>,
    entry_time: Option<&Value>,
    received_at: DateTime<Utc>,
) -> Decoded {
    let value: Map<String, Value> = match whole.read() {
        Ok(v) => v,
        Err(refused) => return refused,
    };
    let timestamp = match unix_time(entry_time, received_at) {
        Ok(t) => t,
        Err(reason) => return whole.refused(None, reason),
    };
    let read = match whole.field {
        "message_template_status_update" => template_status(&value),
        "message_template_quality_update" => template_quality(&value),
        "account_update" => Some(account(&value)),
        _ => number_quality(&value),
    };
    let Some((signal, display_phone_number)) = read else {
        let reason = inbox_core::InboundRefusal::malformed(format!(
            "{} without the fields it needs",
            whole.field
        ));
        return whole.refused(None, reason);
    };
    Decoded::Signal(Box::new(DecodedSignal {
        waba_id: whole.waba_id.map(str::to_string),
        display_phone_number,
        signal,
        timestamp,
        raw: with_time(whole, entry_time),
    }))
}

type Read = Option<(AccountSignal, Option<String>)>;

/// The longest text kept from a signal, in characters (Meta's are short;
/// a longer one is cut).
const MAX_SIGNAL_TEXT: usize = 500;

/// `text` cut to [`MAX_SIGNAL_TEXT`].
fn capped(text: String) -> String {
    text.chars().take(MAX_SIGNAL_TEXT).collect()
}

fn get(v: &Map<String, Value>, key: &str) -> Option<String> {
    text(v.get(key))
        .filter(|t| !t.trim().is_empty())
        .map(capped)
}

fn template_status(v: &Map<String, Value>) -> Read {
    let signal = AccountSignal::TemplateStatus {
        name: get(v, "message_template_name")?,
        language: get(v, "message_template_language")?,
        status: status_of(&get(v, "event")?),
        reason: get(v, "reason").filter(|r| !r.eq_ignore_ascii_case("NONE")),
        detail: status_detail(v),
    };
    Some((signal, None))
}

/// The status an event leaves the template in: a reinstated template is
/// approved again; other events are statuses of their own name.
fn status_of(event: &str) -> TemplateStatus {
    if event.eq_ignore_ascii_case("REINSTATED") {
        return TemplateStatus::Approved;
    }
    TemplateStatus::from(event)
}

/// A status change's detail in a line: the pause, the rejection's
/// recommendation, the date it will be disabled.
fn status_detail(v: &Map<String, Value>) -> Option<String> {
    #[derive(Deserialize)]
    struct Info {
        title: Option<String>,
        description: Option<String>,
        reason: Option<String>,
        recommendation: Option<String>,
    }
    let info = |key| {
        v.get(key)
            .and_then(|i| serde_json::from_value::<Info>(i.clone()).ok())
    };
    if let Some(i) = info("other_info").or_else(|| info("rejection_info")) {
        let parts = [i.title, i.reason, i.description, i.recommendation];
        let line: Vec<String> = parts.into_iter().flatten().collect();
        return (!line.is_empty()).then(|| capped(line.join(": ")));
    }
    let disable = v.get("disable_info")?.get("disable_date");
    let at = unix_time(disable, DateTime::UNIX_EPOCH).ok()?;
    Some(format!("disabled on {}", at.format("%Y-%m-%d")))
}

fn template_quality(v: &Map<String, Value>) -> Read {
    let signal = AccountSignal::TemplateQuality {
        name: get(v, "message_template_name")?,
        language: get(v, "message_template_language")?,
        quality: get(v, "new_quality_score")?,
        previous: get(v, "previous_quality_score"),
    };
    Some((signal, None))
}

fn account(v: &Map<String, Value>) -> (AccountSignal, Option<String>) {
    let event = get(v, "event").unwrap_or_else(|| "UNKNOWN".into());
    let signal = AccountSignal::Account {
        detail: account_detail(v),
        event,
    };
    (signal, get(v, "phone_number"))
}

/// What an account update says besides its name, in a line: the first
/// of its event-specific objects Meta documents, as `key: value` pairs of
/// its text fields.
fn account_detail(v: &Map<String, Value>) -> Option<String> {
    const DETAILS: [&str; 7] = [
        "violation_info",
        "restriction_info",
        "ban_info",
        "disconnection_info",
        "volume_tier_info",
        "partner_client_certification_info",
        "waba_info",
    ];
    if let Some(country) = get(v, "country") {
        return Some(format!("country: {country}"));
    }
    let found = DETAILS.iter().find_map(|k| v.get(*k))?;
    let first = match found {
        Value::Array(items) => items.first()?,
        other => other,
    };
    let pairs: Vec<String> = first
        .as_object()?
        .iter()
        .filter_map(|(k, v)| text(Some(v)).map(|t| format!("{k}: {t}")))
        .collect();
    (!pairs.is_empty()).then(|| capped(pairs.join(", ")))
}

fn number_quality(v: &Map<String, Value>) -> Read {
    let limit = get(v, "max_daily_conversations_per_business")
        .or_else(|| get(v, "messaging_limit_tier"))
        .or_else(|| get(v, "current_limit"));
    let signal = AccountSignal::NumberQuality {
        event: get(v, "event")?,
        limit,
    };
    Some((signal, get(v, "display_phone_number")))
}

/// The change as a webhook body of its own, with the entry's time.
fn with_time(whole: &Whole<'_>, entry_time: Option<&Value>) -> String {
    let body = super::raw::envelope_of(whole.waba_id, whole.field, whole.raw.get());
    let Some(time) = entry_time else {
        return body;
    };
    match serde_json::from_str::<Value>(&body) {
        Ok(mut v) => {
            v["entry"][0]["time"] = time.clone();
            v.to_string()
        }
        Err(_) => body,
    }
}
