//! Meta's own examples from its OpenAPI description of the Cloud API: every
//! webhook example decodes to what it says, and the request bodies the
//! client builds match the request examples field for field.
//!
//! The description is read at run time from `../shared/whatsapp/` (or the
//! file named by `WHATSAPP_OPENAPI`); it is not copied into this project.
//! Where it is absent the tests say they were skipped, and why.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use chrono::Utc;
use serde_json::{json, Value};
use std::sync::OnceLock;

use inbox_core::model::*;
use inbox_core::ports::OutboundRequest;
use inbox_whatsapp::{decode_webhook, mark_read_body, message_body, Decoded};

fn spec() -> Option<&'static Value> {
    static SPEC: OnceLock<Option<Value>> = OnceLock::new();
    SPEC.get_or_init(|| {
        let path = std::env::var("WHATSAPP_OPENAPI").unwrap_or_else(|_| {
            format!("{}/../../shared/whatsapp/business-messaging-api_v23.0.yaml", env!("CARGO_MANIFEST_DIR"))
        });
        match std::fs::read_to_string(&path) {
            Ok(text) => Some(serde_norway::from_str(&text).expect("the OpenAPI description parses as YAML")),
            Err(e) => {
                eprintln!("SKIPPED: Meta's OpenAPI description not found at {path} ({e}); set WHATSAPP_OPENAPI to run these tests");
                None
            }
        }
    })
    .as_ref()
}

fn examples(path: &str) -> Option<Vec<(String, Value)>> {
    let ex =
        &spec()?["paths"][path]["post"]["requestBody"]["content"]["application/json"]["examples"];
    let map = ex.as_object().expect("examples object");
    Some(
        map.iter()
            .map(|(k, v)| (k.clone(), v["value"].clone()))
            .collect(),
    )
}

fn decoded(body: &Value) -> Vec<Decoded> {
    decode_webhook(&serde_json::to_vec(body).unwrap(), Utc::now()).unwrap()
}

fn only_message(items: &[Decoded]) -> &inbox_whatsapp::DecodedMessage {
    match items {
        [Decoded::Message(m)] => m,
        other => panic!("expected one message, got {other:?}"),
    }
}

#[test]
fn every_webhook_example_decodes_to_what_it_shows() {
    let Some(examples) = examples("/whatsapp/webhooks") else {
        return;
    };
    assert!(
        examples.len() >= 16,
        "found {} webhook examples",
        examples.len()
    );
    let mut checked = 0;
    for (name, body) in &examples {
        let items = decoded(body);
        let raw_msg = &body["entry"][0]["changes"][0]["value"]["messages"][0];
        match name.as_str() {
            n if n.starts_with("Group") => {
                let field = body["entry"][0]["changes"][0]["field"].as_str().unwrap();
                assert_eq!(
                    items,
                    vec![Decoded::Ignored {
                        field: field.to_string()
                    }],
                    "{name}"
                );
            }
            _ => {
                let m = only_message(&items);
                assert_eq!(
                    m.message.external_id,
                    raw_msg["id"].as_str().unwrap(),
                    "{name}"
                );
                assert_eq!(m.message.phone_number_id, "106540352242922", "{name}");
                assert_eq!(
                    m.message.from.wa_id.as_deref(),
                    raw_msg["from"].as_str(),
                    "{name}"
                );
                assert_eq!(m.wa_type, raw_msg["type"].as_str().unwrap(), "{name}");
                let ts: i64 = raw_msg["timestamp"].as_str().unwrap().parse().unwrap();
                assert_eq!(m.message.timestamp.timestamp(), ts, "{name}");
                let c = &m.message.content;
                match name.as_str() {
                    "Text Message" => {
                        assert_eq!(c, &Content::text("Does it come in another color?"));
                        assert_eq!(m.message.profile_name.as_deref(), Some("Sheena Nelson"));
                    }
                    "Text Message with Context (Product Inquiry)" => {
                        assert_eq!(c, &Content::text("Is this still available?"));
                        assert_eq!(
                            m.message.context.reply_to.as_deref(),
                            Some("wamid.HBgLMTY1MDM4Nzk0MzkVAgARGA9wcm9kdWN0X2lucXVpcnkA")
                        );
                        let referral = m.message.context.referral.as_ref().unwrap();
                        assert_eq!(
                            referral["referred_product"]["product_retailer_id"],
                            "di9ozbzfi4"
                        );
                    }
                    "Text Message from Click to WhatsApp Ad" => {
                        assert_eq!(c, &Content::text("Hello! Can I get more info on this?"));
                        let referral = m.message.context.referral.as_ref().unwrap();
                        assert_eq!(referral["source_type"], "ad");
                        assert_eq!(referral["source_id"], "120226305854810726");
                    }
                    "Reaction Message" => assert_eq!(
                        c,
                        &Content::Reaction {
                            target: "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI0RTJEOTc2ODVERUY5RDlGNkYA"
                                .into(),
                            emoji: Some("👍".into())
                        }
                    ),
                    "Image Message" => match c {
                        Content::Media {
                            kind: MediaKind::Image,
                            media,
                            caption,
                        } => {
                            assert_eq!(media.id.as_deref(), Some("1003383421387256"));
                            assert_eq!(media.mime_type.as_deref(), Some("image/jpeg"));
                            assert_eq!(caption.as_deref(), Some("Taj Mahal"));
                        }
                        other => panic!("{other:?}"),
                    },
                    "Location Message" => assert_eq!(
                        c,
                        &Content::Location {
                            latitude: 37.44221496582,
                            longitude: -122.16165924072,
                            name: Some("Philz Coffee".into()),
                            address: Some("101 Forest Ave, Palo Alto, CA 94301".into())
                        }
                    ),
                    "Contact Sharing Message" => match c {
                        Content::Contacts { cards } => {
                            assert_eq!(cards[0].name, "Lucía Gómez");
                            assert_eq!(cards[0].phones, ["+1 (983) 555-2319"]);
                        }
                        other => panic!("{other:?}"),
                    },
                    "Unsupported Message" => {
                        assert_eq!(
                            c,
                            &Content::Unsupported {
                                raw_type: "unsupported".into()
                            }
                        );
                        assert_eq!(m.errors[0].code, Some(131051));
                    }
                    "Button Message" => {
                        assert_eq!(
                            c,
                            &Content::Button {
                                payload: Some("Unsubscribe".into()),
                                text: "Unsubscribe".into()
                            }
                        );
                        assert!(m.message.context.reply_to.is_some());
                    }
                    "Interactive List Reply Message" => assert_eq!(
                        c,
                        &Content::Interactive {
                            reply: InteractiveReply::ListReply {
                                id: "priority_express".into(),
                                title: "Priority Mail Express".into(),
                                description: Some("Next Day to 2 Days".into())
                            }
                        }
                    ),
                    "Interactive Button Reply Message" => assert_eq!(
                        c,
                        &Content::Interactive {
                            reply: InteractiveReply::ButtonReply {
                                id: "cancel-button".into(),
                                title: "Cancel".into()
                            }
                        }
                    ),
                    "Order Message" => match c {
                        Content::Order {
                            catalog_id,
                            items,
                            text,
                        } => {
                            assert_eq!(catalog_id.as_deref(), Some("194836987003835"));
                            assert_eq!(text, &None, "an empty text is no text");
                            assert_eq!(items.len(), 2);
                            assert_eq!((items[0].quantity, items[0].item_price), (2, 30.0));
                        }
                        other => panic!("{other:?}"),
                    },
                    "System Message" => {
                        assert_eq!(
                            c,
                            &Content::System {
                                change: SystemChange::NumberChanged {
                                    new_wa_id: Some("12195555358".into())
                                },
                                body: Some(
                                    "User Sheena Nelson changed from 16505551234 to 12195555358"
                                        .into()
                                )
                            }
                        );
                    }
                    other => panic!(
                        "an example this test does not know: {other:?} — add its expectations"
                    ),
                }
            }
        }
        checked += 1;
    }
    assert_eq!(checked, examples.len());
}

fn request(content: Content, to: &str, reply_to: Option<&str>) -> OutboundRequest {
    common::request(content, to, "msg-1", reply_to)
}

/// The string at `v`, which the example must have.
fn text(v: &Value) -> String {
    v.as_str().unwrap().into()
}

/// The string at `v`, if the example has one.
fn maybe(v: &Value) -> Option<String> {
    v.as_str().map(str::to_string)
}

/// `f` of each element of the array at `v`.
fn each<T>(v: &Value, f: impl Fn(&Value) -> T) -> Vec<T> {
    v.as_array().unwrap().iter().map(f).collect()
}

/// Our body must carry every field of Meta's example with the same value;
/// the only fields it may add are the ones we always send.
fn assert_matches_example(name: &str, ours: &Value, example: &Value) {
    let ours = ours.as_object().unwrap();
    let example = example.as_object().unwrap();
    for (k, v) in example {
        assert_eq!(
            ours.get(k),
            Some(v),
            "{name}: field {k:?}\n ours: {ours:?}\n meta: {example:?}"
        );
    }
    for k in ours.keys() {
        assert!(
            example.contains_key(k)
                || ["recipient_type", "type", "biz_opaque_callback_data"].contains(&k.as_str()),
            "{name}: unexpected field {k}"
        );
    }
}

fn media_from(example: &Value, kind: MediaKind) -> Content {
    let m = &example[kind.wa_type()];
    Content::Media {
        kind,
        media: MediaRef {
            id: maybe(&m["id"]),
            link: maybe(&m["link"]),
            filename: maybe(&m["filename"]),
            ..MediaRef::default()
        },
        caption: maybe(&m["caption"]),
    }
}

#[test]
fn request_bodies_match_metas_examples_field_for_field() {
    let Some(examples) = examples("/{Version}/{Phone-Number-ID}/messages") else {
        return;
    };
    let get = |name: &str| {
        examples
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("no example {name:?}"))
    };
    let mut checked = Vec::new();
    let mut check = |name: &str, content: Content| {
        let ex = get(name);
        let to = ex["to"].as_str().unwrap();
        let reply_to = ex["context"]["message_id"].as_str();
        let ours = message_body(&request(content, to, reply_to)).unwrap();
        assert_matches_example(name, &ours, &ex);
        assert_eq!(ours["biz_opaque_callback_data"], "msg-1");
        checked.push(name.to_string());
    };

    // Text, with and without link preview, and as a reply.
    for name in [
        "Send Text Message",
        "Send Text Message with Preview URL",
        "Send Reply to Text Message",
    ] {
        let ex = get(name);
        check(
            name,
            Content::Text {
                body: text(&ex["text"]["body"]),
                preview_url: ex["text"]["preview_url"].as_bool().unwrap(),
            },
        );
    }
    // Every media kind, by id and by link, plain and as replies.
    for (kind, word) in [
        (MediaKind::Image, "Image"),
        (MediaKind::Audio, "Audio"),
        (MediaKind::Document, "Document"),
        (MediaKind::Sticker, "Sticker"),
        (MediaKind::Video, "Video"),
    ] {
        for name in [
            format!("Send {word} Message by ID"),
            format!("Send {word} Message by URL"),
            format!("Send Reply to {word} Message by ID"),
            format!("Send Reply to {word} Message by URL"),
        ] {
            let ex = get(&name);
            check(&name, media_from(&ex, kind));
        }
    }
    // Templates: components are passed through as given.
    for name in [
        "Send Message Template Text",
        "Send Message Template Media",
        "Send Message Template Interactive",
    ] {
        let ex = get(name);
        let t = &ex["template"];
        check(
            name,
            Content::Template {
                name: text(&t["name"]),
                language: text(&t["language"]["code"]),
                components: t["components"].clone(),
            },
        );
    }
    // Interactive reply buttons.
    {
        let ex = get("Send Reply Button");
        let i = &ex["interactive"];
        let buttons = each(&i["action"]["buttons"], |b| OutboundButton {
            id: text(&b["reply"]["id"]),
            title: text(&b["reply"]["title"]),
        });
        check(
            "Send Reply Button",
            Content::Buttons {
                header: None,
                body: text(&i["body"]["text"]),
                footer: None,
                buttons,
            },
        );
    }
    // Interactive lists, plain and as a reply.
    for name in ["Send List Message", "Send Reply to List Message"] {
        let ex = get(name);
        let i = &ex["interactive"];
        let sections = each(&i["action"]["sections"], |s| OutboundSection {
            title: text(&s["title"]),
            rows: each(&s["rows"], |r| {
                (text(&r["id"]), text(&r["title"]), maybe(&r["description"]))
            }),
        });
        check(
            name,
            Content::List {
                header: maybe(&i["header"]["text"]),
                body: text(&i["body"]["text"]),
                footer: maybe(&i["footer"]["text"]),
                button: text(&i["action"]["button"]),
                sections,
            },
        );
    }
    // Reactions.
    {
        let ex = get("Send Reply with Reaction Message");
        check(
            "Send Reply with Reaction Message",
            Content::Reaction {
                target: text(&ex["reaction"]["message_id"]),
                emoji: maybe(&ex["reaction"]["emoji"]),
            },
        );
    }
    // Location, plain and as a reply.
    for name in ["Send Location Message", "Send Reply to Location Message"] {
        let ex = get(name);
        let l = &ex["location"];
        check(
            name,
            Content::Location {
                latitude: l["latitude"].as_f64().unwrap(),
                longitude: l["longitude"].as_f64().unwrap(),
                name: maybe(&l["name"]),
                address: maybe(&l["address"]),
            },
        );
    }
    // Contact cards (kept raw, sent as given).
    {
        let ex = get("Send Contact Message");
        let cards = each(&ex["contacts"], |c| ContactCard {
            raw: c.clone(),
            ..ContactCard::default()
        });
        check("Send Contact Message", Content::Contacts { cards });
    }
    assert!(checked.len() >= 30, "{checked:?}");

    // Mark as read with the typing indicator.
    let ex = get("Send typing indicator and read receipt");
    assert_eq!(mark_read_body(ex["message_id"].as_str().unwrap(), true), ex);
    assert_eq!(
        mark_read_body("wamid.x", false),
        json!({"messaging_product": "whatsapp", "status": "read", "message_id": "wamid.x"})
    );
}
