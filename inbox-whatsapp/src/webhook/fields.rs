//! Reading the loosely typed fields of Meta's newer webhook values: ids
//! and times sent as strings or numbers.

use chrono::{DateTime, Utc};

use inbox_core::inbound::InboundRefusal;

/// A string or number as text (Meta sends ids and times as either).
pub(super) fn text(v: Option<&serde_json::Value>) -> Option<String> {
    match v? {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A unix-seconds time (string or number); `received_at` when there is
/// none; refused when it is not whole seconds or out of range.
pub(super) fn unix_time(
    v: Option<&serde_json::Value>,
    received_at: DateTime<Utc>,
) -> Result<DateTime<Utc>, InboundRefusal> {
    match text(v).map(|t| t.trim().parse::<i64>()) {
        None => Ok(received_at),
        Some(Ok(secs)) => DateTime::from_timestamp(secs, 0)
            .ok_or_else(|| InboundRefusal::malformed("timestamp out of range")),
        Some(Err(_)) => Err(InboundRefusal::malformed("timestamp is not unix seconds")),
    }
}
