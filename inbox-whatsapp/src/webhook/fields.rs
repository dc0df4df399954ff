//! Reading the loosely typed fields of Meta's newer webhook values: ids
//! and times sent as strings or numbers.

use chrono::{DateTime, Utc};
use serde_json::value::RawValue;

use inbox_core::inbound::InboundRefusal;

use super::decode::Decoded;
use super::raw::envelope_of;

/// A change value of `field` that the inbox cannot take, kept whole as a
/// dead letter (a webhook body of its own).
pub(super) struct Whole<'a> {
    /// `entry[].id`.
    pub waba_id: Option<&'a str>,
    /// The change's field.
    pub field: &'a str,
    /// The value as received.
    pub raw: &'a RawValue,
}

impl Whole<'_> {
    /// The value refused for `reason` (naming `pnid` when known).
    pub fn refused(&self, pnid: Option<String>, reason: InboundRefusal) -> Decoded {
        Decoded::Invalid {
            field: self.field.into(),
            phone_number_id: pnid,
            reason,
            raw: envelope_of(self.waba_id, self.field, self.raw.get()),
        }
    }

    /// The value read as `T`, or refused as unreadable.
    pub fn read<T: serde::de::DeserializeOwned>(&self) -> Result<T, Decoded> {
        serde_json::from_str(self.raw.get()).map_err(|e| {
            let detail = format!("unreadable {} value: {e}", self.field);
            self.refused(None, InboundRefusal::malformed(detail))
        })
    }
}

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
