//! Replaying dead letters the webhook kept: their items decoded again with
//! today's decoder.

use chrono::{DateTime, Utc};

use inbox_core::ports::InboundDecoder;
use inbox_core::{InboundEvent, InboundRefusal};

use super::decode::{decode_webhook, Decoded};

/// The [`DeadLetter::source`](inbox_core::ports::DeadLetter::source) of
/// the items this adapter keeps.
pub const SOURCE: &str = "whatsapp";

/// Decodes the items the WhatsApp webhook kept as dead letters, for
/// [`Inbox::replay_dead_letter`](inbox_core::Inbox::replay_dead_letter):
/// each is a webhook body of its own, read as a webhook is.
///
/// ```
/// use chrono::Utc;
/// use inbox_core::ports::InboundDecoder;
/// use inbox_whatsapp::WhatsAppDecoder;
/// let raw = r#"{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[
///   {"field":"messages","value":{"metadata":{"phone_number_id":"106"},
///    "messages":[{"from":"16505551234","id":"wamid.1","timestamp":"1749416383",
///                 "type":"text","text":{"body":"Hi"}}]}}]}]}"#;
/// assert_eq!(WhatsAppDecoder.decode(raw, Utc::now()).unwrap().len(), 1);
/// let bad = raw.replace("1749416383", "-99999999999");
/// assert_eq!(WhatsAppDecoder.decode(&bad, Utc::now()).unwrap_err().code(), "timestamp_too_old");
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct WhatsAppDecoder;

impl InboundDecoder for WhatsAppDecoder {
    fn source(&self) -> &str {
        SOURCE
    }

    fn decode(
        &self,
        raw: &str,
        received_at: DateTime<Utc>,
    ) -> Result<Vec<InboundEvent>, InboundRefusal> {
        let items =
            decode_webhook(raw.as_bytes(), received_at).map_err(InboundRefusal::malformed)?;
        let mut events = Vec::new();
        for item in items {
            if let Decoded::Invalid { reason, .. } = item {
                return Err(reason);
            }
            if let Decoded::Signal(_) = item {
                // Which numbers it spoke for was decided by the webhook's
                // secret, which a replay does not have.
                return Err(InboundRefusal::malformed(
                    "an account-level signal names no number and cannot be replayed; Meta's next report replaces it",
                ));
            }
            events.extend(item.to_inbound());
        }
        Ok(events)
    }
}
