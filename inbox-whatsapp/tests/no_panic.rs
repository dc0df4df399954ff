//! The decoder never panics, whatever it is fed; and a well-formed envelope
//! always decodes (unknown or malformed parts become unsupported, invalid or
//! ignored items, never an error).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::Utc;
use proptest::prelude::*;
use serde_json::{json, Value};

use inbox_whatsapp::{decode_webhook, Webhook, WebhookConfig};

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        ".{0,12}".prop_map(Value::String),
        prop::sample::select(vec![
            "text",
            "image",
            "audio",
            "reaction",
            "interactive",
            "messages",
            "statuses",
            "system",
            "edit",
            "order",
            "1760000000",
            "wamid.x"
        ])
        .prop_map(|s| Value::String(s.to_string())),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(
                prop::sample::select(vec![
                    "id",
                    "from",
                    "type",
                    "text",
                    "body",
                    "image",
                    "audio",
                    "voice",
                    "reaction",
                    "emoji",
                    "message_id",
                    "interactive",
                    "button_reply",
                    "list_reply",
                    "nfm_reply",
                    "order",
                    "product_items",
                    "quantity",
                    "item_price",
                    "system",
                    "edit",
                    "message",
                    "revoke",
                    "original_message_id",
                    "context",
                    "referral",
                    "timestamp",
                    "status",
                    "errors",
                    "code",
                    "pricing",
                    "conversation",
                    "contacts",
                    "wa_id",
                    "user_id",
                    "metadata",
                    "phone_number_id",
                    "latitude",
                    "longitude",
                    "message_echoes",
                    "standby",
                    "to",
                    "to_user_id",
                    "recipient",
                    "sender",
                    "phone_number",
                    "control_passed",
                    "control_taken",
                    "previous_owner_role",
                    "new_owner_role",
                    "conversation_context",
                    "summary",
                    "user_preferences",
                    "x",
                ])
                .prop_map(str::to_string),
                inner,
                0..6,
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn envelope(value: Value) -> Value {
    envelope_of("messages", value)
}

fn envelope_of(field: &str, value: Value) -> Value {
    json!({
        "object": "whatsapp_business_account",
        "entry": [{ "id": "1", "changes": [{ "field": field, "value": value }] }]
    })
}

/// Every field the decoder reads (and one it does not).
const FIELDS: [&str; 13] = [
    "messages",
    "a_field_meta_adds_later",
    "message_template_status_update",
    "message_template_quality_update",
    "account_update",
    "phone_number_quality_update",
    "smb_app_state_sync",
    "smb_message_echoes",
    "standby",
    "messaging_handovers",
    "user_preferences",
    "calls",
    "history",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = decode_webhook(&bytes, Utc::now());
        let hook = Webhook::new(WebhookConfig::new("t", "s"));
        let _ = hook.verify_and_decode(Some("sha256=00"), &bytes, Utc::now());
    }

    #[test]
    fn arbitrary_json_never_panics(v in arb_json()) {
        let _ = decode_webhook(&serde_json::to_vec(&v).unwrap(), Utc::now());
    }

    #[test]
    fn every_field_decodes_any_value(
        field in prop::sample::select(FIELDS.to_vec()),
        items in prop::collection::vec(arb_json(), 0..4),
        inner in arb_json(),
        value in arb_json(),
    ) {
        // The value as it comes, and with the arrays each field reads.
        let shaped = json!({
            "metadata": { "phone_number_id": "106" },
            "messages": items.clone(),
            "message_echoes": items.clone(),
            "standby": { "messages": items.clone(), "message_echoes": items, "x": inner.clone() },
            "sender": inner.clone(),
            "recipient": { "phone_number_id": "106" },
            "type": "control_passed",
            "control_passed": inner.clone(),
            "calls": [inner.clone()],
            "state_sync": [{ "type": "contact", "contact": inner.clone() }],
            "event": "PAUSED",
            "message_template_name": "t",
            "message_template_language": "en",
            "other_info": inner.clone(),
            "violation_info": inner.clone(),
            "restriction_info": [inner.clone()],
            "disable_info": { "disable_date": inner.clone() },
            "history": [{ "metadata": inner.clone(), "threads": [{ "id": "1", "context": inner.clone(), "messages": [inner] }] }],
        });
        for v in [value, shaped] {
            let body = serde_json::to_vec(&envelope_of(field, v)).unwrap();
            let items = decode_webhook(&body, Utc::now());
            prop_assert!(items.is_ok(), "{:?}", items.err());
        }
    }

    #[test]
    fn well_formed_envelopes_always_decode(
        messages in prop::collection::vec(arb_json(), 0..4),
        statuses in prop::collection::vec(arb_json(), 0..3),
        extra in arb_json(),
    ) {
        let value = json!({
            "metadata": { "phone_number_id": "106" },
            "messages": messages,
            "statuses": statuses,
            "brand_new": extra,
        });
        let body = serde_json::to_vec(&envelope(value)).unwrap();
        let items = decode_webhook(&body, Utc::now());
        prop_assert!(items.is_ok(), "{:?}", items.err());
        // Every message item that decoded kept an id to deduplicate by.
        for item in items.unwrap() {
            if let inbox_whatsapp::Decoded::Message(m) = item {
                prop_assert!(!m.message.external_id.trim().is_empty());
            }
        }
    }
}
