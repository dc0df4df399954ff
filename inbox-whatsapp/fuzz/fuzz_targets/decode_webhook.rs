//! Fuzzes the webhook decoder and the signature check with arbitrary bytes.
#![no_main]

use chrono::{TimeZone, Utc};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let now = Utc.timestamp_opt(1_760_000_000, 0).unwrap();
    let _ = inbox_whatsapp::decode_webhook(data, now);
    let hook = inbox_whatsapp::Webhook::new(inbox_whatsapp::WebhookConfig::new("t", "s"));
    let header = std::str::from_utf8(&data[..data.len().min(80)]).ok();
    let _ = hook.verify_and_decode(header, data, now);
});
