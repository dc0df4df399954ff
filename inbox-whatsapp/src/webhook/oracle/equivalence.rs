//! The decoder and the oracle (the decoder as it was) agree: on every
//! fixture, on every fixture with a byte changed, and on generated bodies
//! of the fields the two decode differently (`messages`,
//! `smb_message_echoes`, `standby`), made of items both valid and not:
//! ids as strings, numbers or worse, known and unknown types, bodies of the
//! documented shape or not, keys repeated, missing, unknown or escaped.
//! Items, their errors and their raw dead-letter texts must be equal;
//! errors must be the same error with the same words.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::{DateTime, TimeZone, Utc};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

fn at() -> DateTime<Utc> {
    Utc.timestamp_opt(1_800_000_000, 0).unwrap()
}

/// Both decoders on `body`, compared; and each way the decoder reads a
/// body (in one pass with its items, in one pass, in parts), where it
/// reads it.
fn agree(body: &[u8]) -> Result<(), String> {
    use crate::webhook::decode;
    let old = super::decode::decode_webhook(body, at());
    let ways = [
        ("decode_webhook", Some(decode::decode_webhook(body, at()))),
        ("decode_in_parts", Some(decode::decode_in_parts(body, at()))),
        (
            "decode_one_pass",
            decode::decode_one_pass(body, at()).map(Ok),
        ),
        ("decode_typed", decode::decode_typed(body, at()).map(Ok)),
    ];
    for (way, new) in ways {
        match (new, &old) {
            (None, _) => {}
            (Some(Ok(a)), Ok(b)) if a == *b => {}
            (Some(Err(a)), Err(b)) if format!("{a:?}") == format!("{b:?}") => {}
            (Some(a), b) => {
                return Err(format!(
                    "body {}\n {way}: {a:#?}\n old: {b:#?}",
                    String::from_utf8_lossy(body)
                ))
            }
        }
    }
    Ok(())
}

fn fixtures() -> Vec<(String, Vec<u8>)> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| (p.display().to_string(), std::fs::read(&p).unwrap()))
        .collect();
    out.sort();
    assert!(out.len() >= 10, "fixtures missing: {out:?}");
    out
}

#[test]
fn every_fixture_decodes_as_before() {
    for (name, body) in fixtures() {
        if let Err(e) = agree(&body) {
            panic!("{name}: {e}");
        }
    }
}

#[test]
fn every_fixture_with_a_byte_changed_decodes_as_before() {
    // What a byte is changed to: JSON's punctuation, a digit, a letter, an
    // escape, a quote, non-ASCII.
    const SUBSTITUTES: &[u8] = b"{}[],:\"\\0 9an-.\xc3";
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for (name, body) in fixtures() {
        for _ in 0..400 {
            let mut changed = body.clone();
            let at = (next() % body.len() as u64) as usize;
            match next() % 3 {
                0 => {
                    changed.remove(at);
                }
                1 => changed[at] = SUBSTITUTES[(next() % SUBSTITUTES.len() as u64) as usize],
                _ => changed.insert(
                    at,
                    SUBSTITUTES[(next() % SUBSTITUTES.len() as u64) as usize],
                ),
            }
            if let Err(e) = agree(&changed) {
                panic!("{name} changed at {at}: {e}");
            }
        }
    }
}

type S = BoxedStrategy<String>;

fn lit(options: &'static [&'static str]) -> S {
    proptest::sample::select(options)
        .prop_map(str::to_string)
        .boxed()
}

/// Any JSON scalar or small container, as text.
fn junk() -> S {
    lit(&[
        "null",
        "true",
        "false",
        "0",
        "-5",
        "1.5",
        "1e3",
        "18446744073709551616",
        "\"\"",
        "\" \"",
        "\"x\"",
        "\"\\u00e9t\\u00e9 \\\"q\\\" \\n\"",
        "[]",
        "[1,\"a\"]",
        "{}",
        "{\"a\":{\"b\":[null]}}",
    ])
}

/// A string, with escapes and non-ASCII now and then.
fn text() -> S {
    prop_oneof![
        6 => lit(&["\"Hola\"", "\"¿tenéis la talla 42?\"", "\"a\\nb\"", "\"\\ud83d\\udc4d\"", "\"\"", "\"x\\\\y\\/z\""]),
        1 => junk(),
    ]
    .boxed()
}

/// An id as Meta sends them (strings or numbers), or worse.
fn id() -> S {
    prop_oneof![
        6 => lit(&["\"34611000001\"", "\"wamid.A\"", "\"wamid.B\"", "\"ES.bsuid.1\"", "\"550001\"", "34611000001", "550001", "\"\"", "\"  \"", "1.5", "\"wamid.\\u0041\""]),
        1 => junk(),
    ]
    .boxed()
}

fn timestamp() -> S {
    prop_oneof![
        6 => lit(&["\"1760000000\"", "1760000001", "\" 1760000002 \"", "\"-62135596801\"", "\"9999999999999\"", "-1", "\"17600.5\"", "\"soon\"", "1.76e9"]),
        1 => junk(),
    ]
    .boxed()
}

fn boolean() -> S {
    prop_oneof![4 => lit(&["true", "false"]), 1 => junk()].boxed()
}

/// An object of some of `fields` (each kept with probability 0.6), now and
/// then with a key repeated, an unknown key, or the keys reversed.
fn obj(fields: Vec<(&'static str, S)>) -> S {
    let parts: Vec<BoxedStrategy<Option<String>>> = fields
        .into_iter()
        .map(|(k, v)| {
            proptest::option::weighted(0.6, v.prop_map(move |v| format!("\"{k}\":{v}"))).boxed()
        })
        .collect();
    (parts, any::<u8>())
        .prop_map(|(parts, dice)| {
            let mut kept: Vec<String> = parts.into_iter().flatten().collect();
            if dice % 23 == 0 && !kept.is_empty() {
                let again = kept[usize::from(dice) % kept.len()].clone();
                kept.push(again);
            }
            if dice % 5 == 0 {
                kept.insert(
                    usize::from(dice) % (kept.len() + 1),
                    "\"x_new\":{\"a\":[1,{\"b\":\"c\"}]}".into(),
                );
            }
            if dice % 3 == 0 {
                kept.reverse();
            }
            format!("{{{}}}", kept.join(","))
        })
        .boxed()
}

fn arr(item: S, max: usize) -> S {
    prop::collection::vec(item, 0..=max)
        .prop_map(|v| format!("[{}]", v.join(",")))
        .boxed()
}

fn or_junk(s: S) -> S {
    prop_oneof![8 => s, 1 => junk()].boxed()
}

fn meta_error() -> S {
    or_junk(obj(vec![
        ("code", prop_oneof![lit(&["131051", "-1"]), junk()].boxed()),
        ("title", text()),
        ("message", text()),
        ("error_data", or_junk(obj(vec![("details", text())]))),
    ]))
}

fn media() -> S {
    or_junk(obj(vec![
        ("id", id()),
        ("link", text()),
        ("url", text()),
        (
            "mime_type",
            lit(&["\"image/jpeg\"", "\"audio/ogg; codecs=opus\""]),
        ),
        ("sha256", text()),
        ("caption", text()),
        ("filename", text()),
        ("voice", boolean()),
    ]))
}

/// What a message item may carry besides its head: every type's body.
fn bodies() -> Vec<(&'static str, S)> {
    let row = || {
        or_junk(obj(vec![
            ("id", text()),
            ("title", text()),
            ("description", text()),
        ]))
    };
    vec![
        (
            "text",
            or_junk(obj(vec![("body", text()), ("preview_url", boolean())])),
        ),
        ("image", media()),
        ("video", media()),
        ("audio", media()),
        ("document", media()),
        ("sticker", media()),
        (
            "location",
            or_junk(obj(vec![
                (
                    "latitude",
                    prop_oneof![lit(&["40.4", "-3", "1e2"]), junk()].boxed(),
                ),
                (
                    "longitude",
                    prop_oneof![lit(&["-3.7", "0"]), junk()].boxed(),
                ),
                ("name", text()),
                ("address", text()),
            ])),
        ),
        (
            "contacts",
            or_junk(arr(
                or_junk(obj(vec![
                    (
                        "name",
                        or_junk(obj(vec![
                            ("formatted_name", text()),
                            ("first_name", text()),
                        ])),
                    ),
                    (
                        "phones",
                        arr(obj(vec![("phone", text()), ("type", text())]), 2),
                    ),
                    ("emails", arr(obj(vec![("email", text())]), 2)),
                ])),
                2,
            )),
        ),
        (
            "interactive",
            or_junk(obj(vec![
                (
                    "type",
                    lit(&[
                        "\"button_reply\"",
                        "\"list_reply\"",
                        "\"nfm_reply\"",
                        "\"call_permission_reply\"",
                        "\"other\"",
                    ]),
                ),
                ("button_reply", row()),
                ("list_reply", row()),
                (
                    "nfm_reply",
                    or_junk(obj(vec![
                        ("name", text()),
                        ("body", text()),
                        ("response_json", text()),
                    ])),
                ),
                (
                    "call_permission_reply",
                    or_junk(obj(vec![
                        ("response", lit(&["\"accept\"", "\"REJECT\""])),
                        ("is_permanent", boolean()),
                        ("expiration_timestamp", timestamp()),
                        (
                            "response_source",
                            lit(&["\"automatic\"", "\"user_action\""]),
                        ),
                    ])),
                ),
            ])),
        ),
        (
            "button",
            or_junk(obj(vec![("payload", text()), ("text", text())])),
        ),
        (
            "reaction",
            or_junk(obj(vec![("message_id", id()), ("emoji", text())])),
        ),
        (
            "order",
            or_junk(obj(vec![
                ("catalog_id", id()),
                ("text", text()),
                (
                    "product_items",
                    or_junk(arr(
                        obj(vec![
                            ("product_retailer_id", id()),
                            (
                                "quantity",
                                prop_oneof![lit(&["2", "\"3\"", "-1", "1e20", "\"x\""]), junk()]
                                    .boxed(),
                            ),
                            (
                                "item_price",
                                prop_oneof![lit(&["9.5", "\"12.25\""]), junk()].boxed(),
                            ),
                            ("currency", text()),
                        ]),
                        2,
                    )),
                ),
            ])),
        ),
        (
            "system",
            or_junk(obj(vec![
                ("body", text()),
                (
                    "type",
                    lit(&[
                        "\"user_changed_number\"",
                        "\"customer_identity_changed\"",
                        "\"user_id_changed\"",
                        "\"other\"",
                    ]),
                ),
                ("wa_id", id()),
                ("new_wa_id", id()),
                ("user_id", text()),
            ])),
        ),
        (
            "edit",
            or_junk(obj(vec![
                ("original_message_id", id()),
                (
                    "message",
                    or_junk(obj(vec![
                        ("type", kind()),
                        ("text", or_junk(obj(vec![("body", text())]))),
                        ("image", media()),
                    ])),
                ),
            ])),
        ),
        ("revoke", or_junk(obj(vec![("original_message_id", id())]))),
    ]
}

fn kind() -> S {
    prop_oneof![
        8 => lit(&[
            "\"text\"", "\"image\"", "\"video\"", "\"audio\"", "\"document\"", "\"sticker\"",
            "\"location\"", "\"contacts\"", "\"interactive\"", "\"button\"", "\"reaction\"",
            "\"order\"", "\"system\"", "\"edit\"", "\"revoke\"", "\"request_welcome\"",
            "\"unsupported\"", "\"unknown\"", "\"hologram\"",
        ]),
        1 => junk(),
    ]
    .boxed()
}

/// A message item (a customer's, or an echo's).
fn message() -> S {
    let mut fields = vec![
        ("id", id()),
        ("from", id()),
        ("from_user_id", text()),
        ("to", id()),
        ("to_user_id", text()),
        ("to_parent_user_id", text()),
        ("recipient", text()),
        ("timestamp", timestamp()),
        ("type", kind()),
        (
            "context",
            or_junk(obj(vec![
                ("from", id()),
                ("id", text()),
                ("forwarded", boolean()),
                ("frequently_forwarded", boolean()),
                (
                    "referred_product",
                    or_junk(obj(vec![
                        ("catalog_id", id()),
                        ("product_retailer_id", id()),
                    ])),
                ),
            ])),
        ),
        (
            "referral",
            or_junk(obj(vec![("source_url", text()), ("headline", text())])),
        ),
        ("errors", or_junk(arr(meta_error(), 2))),
    ];
    fields.extend(bodies());
    prop_oneof![
        6 => obj(fields),
        // Echoes on `standby` wrap the send request.
        1 => (id(), timestamp(), obj(vec![("to", id()), ("type", kind()), ("text", or_junk(obj(vec![("body", text())])))]))
            .prop_map(|(i, t, m)| format!(r#"{{"id":{i},"timestamp":{t},"message":{m}}}"#)),
        1 => junk(),
    ]
    .boxed()
}

fn status() -> S {
    or_junk(obj(vec![
        ("id", id()),
        (
            "status",
            lit(&[
                "\"sent\"",
                "\"delivered\"",
                "\"read\"",
                "\"played\"",
                "\"failed\"",
                "\"deleted\"",
                "5",
            ]),
        ),
        ("timestamp", timestamp()),
        ("recipient_id", id()),
        ("recipient_user_id", text()),
        ("recipient_type", lit(&["\"individual\"", "\"group\""])),
        ("recipient_participant_id", id()),
        ("biz_opaque_callback_data", text()),
        (
            "conversation",
            or_junk(obj(vec![
                ("id", text()),
                ("expiration_timestamp", timestamp()),
                ("origin", or_junk(obj(vec![("type", text())]))),
            ])),
        ),
        (
            "pricing",
            or_junk(obj(vec![
                ("billable", boolean()),
                ("pricing_model", text()),
                ("category", text()),
                ("type", text()),
            ])),
        ),
        ("errors", or_junk(arr(meta_error(), 2))),
    ]))
}

fn contact() -> S {
    or_junk(obj(vec![
        (
            "profile",
            or_junk(obj(vec![("name", text()), ("username", text())])),
        ),
        ("wa_id", id()),
        ("user_id", lit(&["\"ES.bsuid.1\"", "\"ES.bsuid.2\""])),
        ("parent_user_id", text()),
    ]))
}

/// The arrays of a `messages` value (also what `standby` nests).
fn arrays() -> Vec<(&'static str, S)> {
    vec![
        ("contacts", or_junk(arr(contact(), 3))),
        ("messages", or_junk(arr(message(), 3))),
        ("message_echoes", or_junk(arr(message(), 2))),
        ("statuses", or_junk(arr(status(), 3))),
        ("errors", or_junk(arr(meta_error(), 2))),
    ]
}

fn value() -> S {
    let mut fields = vec![
        ("messaging_product", lit(&["\"whatsapp\""])),
        (
            "metadata",
            or_junk(obj(vec![
                ("display_phone_number", text()),
                ("phone_number_id", id()),
            ])),
        ),
        ("standby", or_junk(obj(arrays()))),
    ];
    fields.extend(arrays());
    or_junk(obj(fields))
}

fn body() -> S {
    let change = (
        lit(&[
            "\"messages\"",
            "\"smb_message_echoes\"",
            "\"standby\"",
            "\"account_update\"",
            "5",
        ]),
        proptest::option::weighted(0.95, value()),
        any::<bool>(),
    )
        .prop_map(|(field, value, value_first)| match (value, value_first) {
            (None, _) => format!(r#"{{"field":{field}}}"#),
            (Some(v), true) => format!(r#"{{"value":{v},"field":{field}}}"#),
            (Some(v), false) => format!(r#"{{"field":{field},"value":{v}}}"#),
        })
        .boxed();
    let entry = (id(), arr(change, 2))
        .prop_map(|(id, changes)| format!(r#"{{"id":{id},"changes":{changes}}}"#))
        .boxed();
    arr(entry, 2)
        .prop_map(|entries| {
            format!(r#"{{"object":"whatsapp_business_account","entry":{entries}}}"#)
        })
        .boxed()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 768, ..ProptestConfig::default() })]

    #[test]
    fn generated_bodies_decode_as_before(body in body()) {
        agree(body.as_bytes()).map_err(TestCaseError::fail)?;
    }
}

/// The generated bodies exercise both ways of decoding: a good share reads
/// in one pass, a good share does not.
#[test]
fn generated_bodies_take_both_paths() {
    use proptest::strategy::ValueTree;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let strategy = body();
    let (mut one_pass, mut typed, n) = (0, 0, 400);
    for _ in 0..n {
        let body = strategy.new_tree(&mut runner).unwrap().current();
        if crate::webhook::decode::decode_one_pass(body.as_bytes(), at()).is_some() {
            one_pass += 1;
        }
        if crate::webhook::decode::decode_typed(body.as_bytes(), at()).is_some() {
            typed += 1;
        }
    }
    assert!(
        (n / 5..=n * 4 / 5).contains(&one_pass),
        "{one_pass} of {n} in one pass"
    );
    assert!(
        (n / 10..=n * 4 / 5).contains(&typed),
        "{typed} of {n} in one pass with their items"
    );
}
