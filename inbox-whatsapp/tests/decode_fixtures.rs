//! Our own webhook fixtures: every message type and status, each decoded
//! item asserted field by field.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::{TimeZone, Utc};

use inbox_core::model::*;
use inbox_whatsapp::{decode_webhook, Decoded, DecodedMessage, DecodedStatus};

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn messages() -> Vec<Decoded> {
    decode_webhook(
        &fixture("all_message_types.json"),
        Utc.timestamp_opt(1_800_000_000, 0).unwrap(),
    )
    .unwrap()
}

fn msg<'a>(items: &'a [Decoded], id: &str) -> &'a DecodedMessage {
    items
        .iter()
        .find_map(|d| match d {
            Decoded::Message(m) if m.message.external_id == id => Some(&**m),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no message {id}"))
}

/// Checks the content each message id of `expected` decoded to.
fn contents(items: &[Decoded], expected: Vec<(&str, Content)>) {
    for (id, content) in expected {
        assert_eq!(msg(items, id).message.content, content, "{id}");
    }
}

#[test]
fn text_with_identity_profile_and_time() {
    let items = messages();
    let m = msg(&items, "wamid.text");
    assert_eq!(m.wa_type, "text");
    assert_eq!(m.waba_id.as_deref(), Some("880001"));
    assert_eq!(m.message.phone_number_id, "550001");
    assert_eq!(m.message.from.wa_id.as_deref(), Some("34611000001"));
    assert_eq!(m.message.from.user_id.as_deref(), Some("ES.bsuid.marta"));
    assert_eq!(m.message.profile_name.as_deref(), Some("Marta"));
    assert_eq!(
        m.message.timestamp,
        Utc.timestamp_opt(1_760_000_000, 0).unwrap()
    );
    assert_eq!(
        m.message.content,
        Content::text("Hola, ¿tenéis la talla 42?")
    );
}

#[test]
fn media_kinds() {
    let items = messages();
    let expect = |id: &str, kind: MediaKind, media_id: &str| {
        let m = msg(&items, id);
        match &m.message.content {
            Content::Media { kind: k, media, .. } => {
                assert_eq!(*k, kind, "{id}");
                assert_eq!(media.id.as_deref(), Some(media_id));
                assert!(media.mime_type.is_some());
            }
            other => panic!("{id}: {other:?}"),
        }
    };
    expect("wamid.image", MediaKind::Image, "media-img");
    expect("wamid.video", MediaKind::Video, "media-vid");
    expect("wamid.audio", MediaKind::Audio, "media-aud");
    expect("wamid.voice", MediaKind::Voice, "media-voice");
    expect("wamid.document", MediaKind::Document, "media-doc");
    expect("wamid.sticker", MediaKind::Sticker, "media-stk");
    assert_eq!(msg(&items, "wamid.voice").wa_type, "audio");
    match &msg(&items, "wamid.image").message.content {
        Content::Media { caption, media, .. } => {
            assert_eq!(caption.as_deref(), Some("this one"));
            assert_eq!(media.sha256.as_deref(), Some("abc="));
        }
        _ => unreachable!(),
    }
    match &msg(&items, "wamid.document").message.content {
        Content::Media { media, caption, .. } => {
            assert_eq!(media.filename.as_deref(), Some("invoice-1042.pdf"));
            assert_eq!(caption.as_deref(), Some("invoice"));
        }
        _ => unreachable!(),
    }
}

#[test]
fn location_and_contacts() {
    let items = messages();
    let sol = Content::Location {
        latitude: 40.4168,
        longitude: -3.7038,
        name: Some("Puerta del Sol".into()),
        address: Some("Madrid".into()),
    };
    contents(&items, vec![("wamid.location", sol)]);
    match &msg(&items, "wamid.contacts").message.content {
        Content::Contacts { cards } => {
            assert_eq!(cards.len(), 1);
            assert_eq!(cards[0].name, "Ana García");
            assert_eq!(cards[0].phones, ["+34 600 000 000"]);
            assert_eq!(cards[0].emails, ["ana@example.com"]);
            assert_eq!(cards[0].raw["phones"][0]["type"], "CELL");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn interactive_replies_buttons_and_context() {
    let items = messages();
    let b = msg(&items, "wamid.button_reply");
    assert_eq!(
        b.message.content,
        Content::Interactive {
            reply: InteractiveReply::ButtonReply {
                id: "yes".into(),
                title: "Yes please".into()
            }
        }
    );
    assert_eq!(
        b.message.context.reply_to.as_deref(),
        Some("wamid.out.buttons")
    );
    let list = InteractiveReply::ListReply {
        id: "express".into(),
        title: "Express".into(),
        description: Some("Tomorrow".into()),
    };
    let flow = InteractiveReply::FlowReply {
        name: Some("flow".into()),
        body: Some("Sent".into()),
        response_json: "{\"size\":\"42\"}".into(),
    };
    contents(
        &items,
        vec![
            ("wamid.list_reply", Content::Interactive { reply: list }),
            ("wamid.flow", Content::Interactive { reply: flow }),
        ],
    );
    let t = msg(&items, "wamid.button");
    assert_eq!(
        t.message.content,
        Content::Button {
            payload: Some("STOP".into()),
            text: "Stop promotions".into()
        }
    );
    assert_eq!(
        t.message.context.reply_to.as_deref(),
        Some("wamid.out.template")
    );
}

#[test]
fn reactions_and_their_removal() {
    let items = messages();
    let reaction = |emoji: Option<&str>| Content::Reaction {
        target: "wamid.out.1".into(),
        emoji: emoji.map(str::to_string),
    };
    contents(
        &items,
        vec![
            ("wamid.reaction", reaction(Some("❤️"))),
            ("wamid.unreact", reaction(None)),
            ("wamid.unreact2", reaction(None)),
        ],
    );
}

#[test]
fn orders_accept_numbers_and_numeric_strings() {
    let items = messages();
    match &msg(&items, "wamid.order").message.content {
        Content::Order {
            catalog_id,
            text,
            items,
        } => {
            assert_eq!(catalog_id.as_deref(), Some("cat-1"));
            assert_eq!(text.as_deref(), Some("for Friday"));
            assert_eq!(items.len(), 2);
            assert_eq!(
                (
                    items[0].product_retailer_id.as_str(),
                    items[0].quantity,
                    items[0].item_price
                ),
                ("shoe-42", 2, 59.9)
            );
            assert_eq!(
                (
                    items[1].quantity,
                    items[1].item_price,
                    items[1].currency.as_str()
                ),
                (3, 4.5, "EUR")
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn system_edit_revoke_welcome() {
    let items = messages();
    let number_changed = Content::System {
        change: SystemChange::NumberChanged {
            new_wa_id: Some("34611999999".into()),
        },
        body: Some("Marta changed from 34611000001 to 34611999999".into()),
    };
    let edit = Content::Edit {
        target: "wamid.text".into(),
        content: Box::new(Content::text("Hola, ¿tenéis la talla 43?")),
    };
    let revoke = Content::Revoke {
        target: "wamid.image".into(),
    };
    contents(
        &items,
        vec![
            ("wamid.system.number", number_changed),
            ("wamid.edit", edit),
            ("wamid.revoke", revoke),
            ("wamid.welcome", Content::RequestWelcome),
        ],
    );
    match &msg(&items, "wamid.system.identity").message.content {
        Content::System {
            change: SystemChange::IdentityChanged,
            ..
        } => {}
        other => panic!("{other:?}"),
    }
}

#[test]
fn unknown_and_unsupported_types_are_kept_not_dropped() {
    let items = messages();
    let u = msg(&items, "wamid.unsupported");
    assert_eq!(u.wa_type, "unsupported");
    assert_eq!(u.errors[0].code, Some(131051));
    let f = msg(&items, "wamid.future");
    assert_eq!(f.wa_type, "unsupported");
    assert_eq!(f.raw_type, "hologram");
    // A known type with a malformed body degrades to unsupported, keeping the
    // message (and its id for deduplication).
    let unsupported = |raw_type: &str| Content::Unsupported {
        raw_type: raw_type.into(),
    };
    contents(
        &items,
        vec![
            ("wamid.future", unsupported("hologram")),
            ("wamid.broken", unsupported("image")),
        ],
    );
    // A message without an id cannot be deduplicated: reported as invalid.
    assert!(items.iter().any(
        |d| matches!(d, Decoded::Invalid { reason, .. } if reason.code() == "invalid_external_id")
    ));
}

#[test]
fn forwarded_referral_and_bsuid_only_sender() {
    let items = messages();
    let f = msg(&items, "wamid.forwarded");
    assert!(f.message.context.forwarded && f.message.context.frequently_forwarded);
    let ad = msg(&items, "wamid.ad");
    let referral = ad.message.context.referral.as_ref().unwrap();
    assert_eq!(referral["source_type"], "ad");
    assert_eq!(referral["ctwa_clid"], "clid");
    let b = msg(&items, "wamid.bsuid");
    assert_eq!(b.message.from.wa_id, None);
    assert_eq!(b.message.from.user_id.as_deref(), Some("ES.bsuid.nophone"));
    assert_eq!(b.message.profile_name.as_deref(), Some("Only Bsuid"));
    // 2026: a username, and the parent BSUID of linked portfolios.
    assert_eq!(b.message.username.as_deref(), Some("solo.bsuid"));
    assert_eq!(
        b.message.from.parent_user_id.as_deref(),
        Some("ES.ENT.bsuid.parent")
    );
    let m = msg(&items, "wamid.text");
    assert_eq!(
        (
            m.message.username.as_deref(),
            m.message.from.parent_user_id.as_deref()
        ),
        (None, None)
    );
}

#[test]
fn every_message_in_the_fixture_is_accounted_for() {
    let items = messages();
    let messages = items
        .iter()
        .filter(|d| matches!(d, Decoded::Message(_)))
        .count();
    let invalid = items
        .iter()
        .filter(|d| matches!(d, Decoded::Invalid { .. }))
        .count();
    assert_eq!((messages, invalid), (28, 1));
    // Everything decodes into a core event the inbox can ingest.
    for d in &items {
        if let Decoded::Message(m) = d {
            assert!(m.message.from.is_known(), "{}", m.message.external_id);
            assert!(d.to_inbound().is_some());
        }
    }
}

fn statuses() -> Vec<Decoded> {
    decode_webhook(
        &fixture("statuses.json"),
        Utc.timestamp_opt(1_800_000_000, 0).unwrap(),
    )
    .unwrap()
}

fn status(items: &[Decoded], i: usize) -> &DecodedStatus {
    items
        .iter()
        .filter_map(|d| match d {
            Decoded::Status(s) => Some(&**s),
            _ => None,
        })
        .nth(i)
        .unwrap()
}

#[test]
fn statuses_with_pricing_errors_groups_and_unknown_values() {
    let items = statuses();
    let sent = status(&items, 0);
    assert_eq!(sent.status, Some(DeliveryStatus::Sent));
    assert_eq!(sent.biz_opaque_callback_data.as_deref(), Some("msg_abc"));
    assert_eq!(sent.recipient.as_deref(), Some("34611000001"));
    assert_eq!(sent.timestamp, Utc.timestamp_opt(1_760_001_000, 0).unwrap());
    let conv = sent.conversation.as_ref().unwrap();
    assert_eq!(
        (conv.id.as_deref(), conv.origin.as_deref()),
        (Some("conv-1"), Some("service"))
    );
    assert_eq!(
        conv.expires_at,
        Some(Utc.timestamp_opt(1_760_087_400, 0).unwrap())
    );
    let pricing = sent.pricing.as_ref().unwrap();
    assert_eq!(
        (
            pricing.billable,
            pricing.model.as_deref(),
            pricing.category.as_deref()
        ),
        (Some(false), Some("PMP"), Some("service"))
    );
    let inbound = sent.to_inbound().unwrap();
    assert_eq!(inbound.our_message_id.as_deref(), Some("msg_abc"));
    assert_eq!(inbound.external_id, "wamid.out.1");
    // What it costs reaches the core (free: inside the service window).
    let pricing = inbound.pricing.unwrap();
    assert_eq!(pricing.kind.as_deref(), Some("free_customer_service"));
    assert!(pricing.is_free());

    assert_eq!(status(&items, 1).status, Some(DeliveryStatus::Delivered));
    assert_eq!(status(&items, 2).status, Some(DeliveryStatus::Read));
    assert_eq!(status(&items, 3).status, Some(DeliveryStatus::Played));
    let failed = status(&items, 4);
    assert_eq!(failed.status, Some(DeliveryStatus::Failed));
    let err = failed.to_inbound().unwrap().error.unwrap();
    assert_eq!(err.code, Some(131047));
    assert_eq!(err.title, "Re-engagement message");
    assert!(err.details.unwrap().contains("24 hours"));
    let group = status(&items, 5);
    assert_eq!(group.recipient_type.as_deref(), Some("group"));
    assert_eq!(group.recipient_participant.as_deref(), Some("34611000002"));
    let unknown = status(&items, 6);
    assert_eq!(
        (unknown.status, unknown.raw_status.as_str()),
        (None, "deleted")
    );
    assert!(unknown.to_inbound().is_none());

    let errors: Vec<_> = items
        .iter()
        .filter_map(|d| match d {
            Decoded::Error {
                phone_number_id,
                error,
            } => Some((phone_number_id.clone(), error.code)),
            _ => None,
        })
        .collect();
    assert_eq!(errors, [(Some("550001".to_string()), Some(131052))]);
    let ignored: Vec<&str> = items
        .iter()
        .filter_map(|d| match d {
            Decoded::Ignored { field } => Some(field.as_str()),
            _ => None,
        })
        .collect();
    assert!(ignored.is_empty(), "{ignored:?}");
    // Account-level fields are signals of their own (see
    // `account_template_and_number_signals_are_typed`).
    let signals = items
        .iter()
        .filter(|d| matches!(d, Decoded::Signal(_)))
        .count();
    assert_eq!(signals, 2);
}

#[test]
fn envelope_errors_are_typed() {
    let now = Utc::now();
    assert!(matches!(
        decode_webhook(b"{not json", now),
        Err(inbox_whatsapp::WhatsAppError::InvalidJson(_))
    ));
    assert!(matches!(
        decode_webhook(b"[1,2]", now),
        Err(inbox_whatsapp::WhatsAppError::NotAWebhook(_))
    ));
    assert!(matches!(
        decode_webhook(br#"{"object":"page","entry":[]}"#, now),
        Err(inbox_whatsapp::WhatsAppError::NotAWebhook(_))
    ));
    assert!(matches!(
        decode_webhook(br#"{"object":"whatsapp_business_account"}"#, now),
        Err(inbox_whatsapp::WhatsAppError::NotAWebhook(_))
    ));
    // An empty entry list is a well-formed (if pointless) webhook.
    assert!(
        decode_webhook(br#"{"object":"whatsapp_business_account","entry":[]}"#, now)
            .unwrap()
            .is_empty()
    );
}

#[test]
fn marketing_preferences_are_decoded_and_bad_ones_refused() {
    let items = decode_webhook(
        &fixture("user_preferences.json"),
        Utc.timestamp_opt(1_800_000_000, 0).unwrap(),
    )
    .unwrap();
    let choices: Vec<_> = items
        .iter()
        .filter_map(|d| match d {
            Decoded::Preference(p) => Some(&**p),
            _ => None,
        })
        .collect();
    assert_eq!(choices.len(), 2, "{items:?}");
    let stop = choices[0];
    assert_eq!(stop.phone_number_id, "550001");
    assert_eq!(stop.from.wa_id.as_deref(), Some("34611000001"));
    assert_eq!(stop.stops_marketing(), Some(true));
    assert_eq!(stop.timestamp, Utc.timestamp_opt(1_760_000_100, 0).unwrap());
    assert_eq!(
        stop.detail.as_deref(),
        Some("Customer asked to stop marketing messages")
    );
    let resume = choices[1];
    assert_eq!(resume.from.user_id.as_deref(), Some("ES.bsuid.nophone"));
    assert_eq!(
        resume.from.parent_user_id.as_deref(),
        Some("ES.ENT.bsuid.parent")
    );
    assert_eq!(resume.stops_marketing(), Some(false));
    // Without anyone to attribute it to, or a time that is not one: kept
    // as dead letters (a body of their own, replayable); the value
    // without a number too.
    let invalid = invalid_items(&items);
    assert_eq!(invalid.len(), 3, "{items:?}");
    assert!(invalid
        .iter()
        .all(|(field, raw)| *field == "user_preferences"
            && raw.contains("\"field\":\"user_preferences\"")));
    assert!(items.iter().all(|d| d.to_inbound().is_some()
        == matches!(
            d,
            Decoded::Preference(_) | Decoded::Message(_) | Decoded::Status(_)
        )));
}

/// The items of fixture `name`, decoded at a time after all of them.
fn decoded_fixture(name: &str) -> Vec<Decoded> {
    decode_webhook(&fixture(name), Utc.timestamp_opt(1_800_000_000, 0).unwrap()).unwrap()
}

#[test]
fn echoes_of_the_business_app_name_the_customer_they_went_to() {
    let items = decoded_fixture("smb_message_echoes.json");
    let echoes: Vec<&DecodedMessage> = items
        .iter()
        .filter_map(|d| match d {
            Decoded::Echo(m) => Some(&**m),
            _ => None,
        })
        .collect();
    assert_eq!(echoes.len(), 5, "{items:?}");
    let first = &echoes[0].message;
    assert_eq!(first.phone_number_id, "550001");
    assert_eq!(
        first.from.wa_id.as_deref(),
        Some("34611000001"),
        "the customer, not the business"
    );
    assert_eq!(first.from.user_id.as_deref(), Some("ES.marta0001"));
    assert_eq!(
        first.content.text_body(),
        Some("Sí, la talla 42 está en tienda")
    );
    assert_eq!(
        first.timestamp,
        Utc.timestamp_opt(1_760_000_100, 0).unwrap()
    );
    assert!(matches!(
        &echoes[1].message.content,
        Content::Edit { target, content } if target == "wamid.echo.1"
            && content.text_body() == Some("Sí, la talla 42 está en tienda y online")
    ));
    assert_eq!(
        echoes[2].message.content,
        Content::Revoke {
            target: "wamid.echo.0".into()
        }
    );
    assert!(matches!(
        echoes[3].message.content,
        Content::Media {
            kind: MediaKind::Image,
            ..
        }
    ));
    // A customer known by BSUID only.
    let hidden = &echoes[4].message;
    assert_eq!(hidden.from.wa_id, None);
    assert_eq!(hidden.from.user_id.as_deref(), Some("ES.lucas0002"));
    assert_eq!(hidden.from.parent_user_id.as_deref(), Some("ES.ENT.lucas"));
    assert_eq!(hidden.username.as_deref(), Some("lucas.b"));
    // Without an id: a dead letter of the same field, replayable.
    let invalid = invalid_items(&items);
    assert_eq!(invalid.len(), 1, "{items:?}");
    assert_eq!(invalid[0].0, "smb_message_echoes");
    assert!(invalid[0].1.contains("\"field\":\"smb_message_echoes\""));
    assert!(invalid[0].1.contains("\"message_echoes\":["));
    // Replayed, the echo's own body decodes to the same echo.
    let again = decode_webhook(
        echoes[0].raw.text().as_bytes(),
        Utc.timestamp_opt(1_800_000_000, 0).unwrap(),
    )
    .unwrap();
    assert!(matches!(&again[..], [Decoded::Echo(m)] if m.message == echoes[0].message));
    match items[0].to_inbound() {
        Some(inbox_core::InboundEvent::Echo(e)) => {
            assert_eq!(e.app, Author::BUSINESS_APP);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn standby_copies_are_passive_and_the_other_apps_answers_name_the_customer() {
    let items = decoded_fixture("standby.json");
    let copies: Vec<(&DecodedMessage, bool)> = items
        .iter()
        .filter_map(|d| match d {
            Decoded::Standby {
                message,
                by_business,
            } => Some((&**message, *by_business)),
            _ => None,
        })
        .collect();
    assert_eq!(copies.len(), 3, "{items:?}");
    let (customer, false) = copies[0] else {
        panic!("{:?}", copies[0])
    };
    assert_eq!(customer.message.from.wa_id.as_deref(), Some("34611000004"));
    assert_eq!(customer.message.profile_name.as_deref(), Some("Iker"));
    let (answer, true) = copies[1] else {
        panic!("{:?}", copies[1])
    };
    assert_eq!(answer.message.external_id, "wamid.standby.2");
    assert_eq!(answer.message.from.wa_id.as_deref(), Some("34611000004"));
    assert_eq!(
        answer.message.content.text_body(),
        Some("Hola Iker, tu pedido llega mañana")
    );
    assert_eq!(
        answer.message.timestamp,
        Utc.timestamp_opt(1_760_000_305, 0).unwrap()
    );
    let (to_bsuid, true) = copies[2] else {
        panic!("{:?}", copies[2])
    };
    assert_eq!(to_bsuid.message.from.user_id.as_deref(), Some("ES.noa0005"));
    // The controlling app's receipts are statuses like any other.
    assert!(items
        .iter()
        .any(|d| matches!(d, Decoded::Status(s) if s.external_id == "wamid.standby.2")));
    // A dead letter or replay of a copy stays a standby copy.
    let again = decode_webhook(
        answer.raw.text().as_bytes(),
        Utc.timestamp_opt(1_800_000_000, 0).unwrap(),
    )
    .unwrap();
    assert!(
        matches!(&again[..], [Decoded::Standby { message, by_business: true }] if message.message == answer.message),
        "{again:?}"
    );
    assert!(matches!(
        items[0].to_inbound(),
        Some(inbox_core::InboundEvent::Standby(
            inbox_core::StandbyCopy::Customer(_)
        ))
    ));
}

#[test]
fn handovers_say_who_has_the_thread_and_bad_ones_are_refused() {
    let items = decoded_fixture("messaging_handovers.json");
    let handovers: Vec<&inbox_core::InboundHandover> = items
        .iter()
        .filter_map(|d| match d {
            Decoded::Handover { handover, .. } => Some(&**handover),
            _ => None,
        })
        .collect();
    assert_eq!(handovers.len(), 2, "{items:?}");
    let passed = handovers[0];
    assert!(passed.to_us);
    assert_eq!(passed.phone_number_id, "550001");
    assert_eq!(
        passed.customer.wa_id.as_deref(),
        Some("34611000004"),
        "without the +"
    );
    assert_eq!(passed.previous_owner.as_deref(), Some("ai_agent"));
    assert_eq!(
        passed.metadata.as_deref(),
        Some("order 8812 late\n\nIker asks for a person about a late order.")
    );
    assert_eq!(
        passed.timestamp,
        Utc.timestamp_opt(1_760_000_400, 0).unwrap()
    );
    let taken = handovers[1];
    assert!(!taken.to_us);
    assert_eq!(taken.new_owner.as_deref(), Some("escalation"));
    // No number, an unknown type: dead letters of the field.
    let invalid: Vec<_> = items
        .iter()
        .filter_map(|d| match d {
            Decoded::Invalid { field, reason, .. } => Some((field.as_str(), reason.to_string())),
            _ => None,
        })
        .collect();
    assert_eq!(invalid.len(), 2, "{items:?}");
    assert!(invalid.iter().all(|(f, _)| *f == "messaging_handovers"));
    assert!(invalid[1].1.contains("control_lent"), "{invalid:?}");
}

#[test]
fn calls_become_call_messages_and_a_missed_one_is_told_apart() {
    let items = decoded_fixture("calls.json");
    let calls: Vec<&DecodedMessage> = items
        .iter()
        .filter_map(|d| match d {
            Decoded::Message(m) => Some(&**m),
            _ => None,
        })
        .collect();
    assert_eq!(calls.len(), 6, "{items:?}");
    // Answers to the business's request to call, on the messages field.
    let permission = |m: &DecodedMessage| match &m.message.content {
        Content::Interactive { reply } => reply.clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!(
        permission(calls[4]),
        InteractiveReply::CallPermission {
            accepted: true,
            permanent: false,
            expires_at: Utc.timestamp_opt(1_760_607_800, 0).single(),
            automatic: false,
        }
    );
    assert_eq!(
        calls[4].message.context.reply_to.as_deref(),
        Some("wamid.ASK.1")
    );
    assert_eq!(
        permission(calls[5]),
        InteractiveReply::CallPermission {
            accepted: false,
            permanent: false,
            expires_at: None,
            automatic: true,
        }
    );
    let calls = &calls[..4];
    let outcome = |m: &DecodedMessage| match &m.message.content {
        Content::Call {
            outcome,
            duration_secs,
            from_customer,
            ..
        } => (outcome.clone(), *duration_secs, *from_customer),
        other => panic!("{other:?}"),
    };
    assert_eq!(outcome(calls[0]), (CallOutcome::Ringing, None, true));
    assert_eq!(calls[0].message.external_id, "wacid.in.1:connect");
    assert_eq!(calls[0].message.profile_name.as_deref(), Some("Iker"));
    assert_eq!(outcome(calls[1]), (CallOutcome::Missed, None, true));
    assert_eq!(calls[1].message.external_id, "wacid.in.1:terminate");
    assert_eq!(calls[1].wa_type, "call");
    // A customer known by BSUID only, an answered call with its length.
    assert_eq!(outcome(calls[2]), (CallOutcome::Answered, Some(100), true));
    assert_eq!(calls[2].message.from.user_id.as_deref(), Some("ES.noa0005"));
    // The business called and nobody answered: the customer is whom it
    // called.
    assert_eq!(outcome(calls[3]), (CallOutcome::Failed, None, false));
    assert_eq!(calls[3].message.from.wa_id.as_deref(), Some("34611000004"));
    // Without an id: a dead letter of the calls field, replayable.
    let invalid = invalid_items(&items);
    assert_eq!(invalid.len(), 1, "{items:?}");
    assert_eq!(invalid[0].0, "calls");
    assert!(invalid[0].1.contains("\"field\":\"calls\""));
    let again = decode_webhook(
        calls[1].raw.text().as_bytes(),
        Utc.timestamp_opt(1_800_000_000, 0).unwrap(),
    )
    .unwrap();
    assert!(matches!(&again[..], [Decoded::Message(m)] if m.message == calls[1].message));
}

#[test]
fn business_app_contacts_are_decoded_and_bad_ones_refused() {
    let items = decoded_fixture("smb_app_state_sync.json");
    let contacts: Vec<&inbox_core::InboundAppContact> = items
        .iter()
        .filter_map(|d| match d {
            Decoded::AppContact(a) => Some(&**a),
            _ => None,
        })
        .collect();
    assert_eq!(contacts.len(), 2, "{items:?}");
    assert_eq!(
        contacts[0].contact.wa_id.as_deref(),
        Some("34611000001"),
        "without the +"
    );
    assert_eq!(contacts[0].name.as_deref(), Some("Marta (tienda Sol)"));
    assert!(!contacts[0].removed);
    assert_eq!(
        contacts[0].timestamp,
        Utc.timestamp_opt(1_760_001_200, 0).unwrap()
    );
    assert!(contacts[1].removed);
    assert_eq!(contacts[1].contact.user_id.as_deref(), Some("ES.jon0002"));
    // Nobody to attribute it to: a dead letter; another item type: ignored.
    assert_eq!(
        items
            .iter()
            .filter(
                |d| matches!(d, Decoded::Invalid { field, .. } if field == "smb_app_state_sync")
            )
            .count(),
        1
    );
    assert_eq!(
        items
            .iter()
            .filter(|d| matches!(d, Decoded::Ignored { .. }))
            .count(),
        1
    );
}

#[test]
fn account_template_and_number_signals_are_typed() {
    let items = decoded_fixture("account_signals.json");
    let signals: Vec<&inbox_whatsapp::DecodedSignal> = items
        .iter()
        .filter_map(|d| match d {
            Decoded::Signal(s) => Some(&**s),
            _ => None,
        })
        .collect();
    let kinds: Vec<AccountSignal> = signals.iter().map(|s| s.signal.clone()).collect();
    let s = |x: &str| x.to_string();
    assert_eq!(
        kinds,
        vec![
            AccountSignal::TemplateStatus {
                name: s("spring_sale"),
                language: s("en_US"),
                status: TemplateStatus::Paused,
                reason: None,
                detail: Some(s("FIRST_PAUSE: Paused for 3 hours: low quality rating")),
            },
            AccountSignal::TemplateStatus {
                name: s("order_ready"),
                language: s("es"),
                status: TemplateStatus::Rejected,
                reason: Some(s("INVALID_FORMAT")),
                detail: Some(s("Variables at the start: Move {{1}} away from the start")),
            },
            AccountSignal::TemplateStatus {
                name: s("welcome_back"),
                language: s("en"),
                status: TemplateStatus::Approved,
                reason: None,
                detail: None,
            },
            AccountSignal::TemplateQuality {
                name: s("spring_sale"),
                language: s("en_US"),
                quality: s("RED"),
                previous: Some(s("GREEN")),
            },
            AccountSignal::Account {
                event: s("PARTNER_REMOVED"),
                detail: Some(s("initiated_by: SYSTEM, reason: COMPANION_INACTIVITY")),
            },
            AccountSignal::Account {
                event: s("DISABLED_UPDATE"),
                detail: Some(s("waba_ban_date: March 3, 2026, waba_ban_state: SCHEDULE_FOR_DISABLE")),
            },
            AccountSignal::Account {
                event: s("VOLUME_BASED_PRICING_TIER_UPDATE"),
                detail: Some(s("effective_month: 2026-11, pricing_category: UTILITY, region: Spain, tier: 250001:2000000, tier_update_time: 1760000000")),
            },
            AccountSignal::NumberQuality { event: s("FLAGGED"), limit: Some(s("TIER_2K")) },
            AccountSignal::NumberQuality {
                event: s("THROUGHPUT_UPGRADE"),
                limit: Some(s("100000")),
            },
        ]
    );
    // The account, the number named, and when (entry.time, number or text).
    assert!(signals
        .iter()
        .all(|s| s.waba_id.as_deref() == Some("880001")));
    assert_eq!(
        signals[4].display_phone_number.as_deref(),
        Some("34600100100")
    );
    assert_eq!(
        signals[7].display_phone_number.as_deref(),
        Some("34600100100")
    );
    assert_eq!(
        signals[0].timestamp,
        Utc.timestamp_opt(1_760_002_000, 0).unwrap()
    );
    assert_eq!(
        signals[4].timestamp,
        Utc.timestamp_opt(1_760_002_100, 0).unwrap()
    );
    let attention: Vec<bool> = kinds.iter().map(AccountSignal::needs_attention).collect();
    assert_eq!(
        attention,
        [true, true, false, true, true, true, false, true, false]
    );
    // A status without a template name: a dead letter; account_alerts is
    // not read yet: ignored.
    let refused = invalid_items(&items);
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(refused[0].0, "message_template_status_update");
    assert!(refused[0].1.contains("7310004"));
    assert!(matches!(items.last(), Some(Decoded::Ignored { field }) if field == "account_alerts"));
}

#[test]
fn history_chunks_media_and_refusals_are_decoded_as_past_messages() {
    let items = decoded_fixture("history.json");
    let histories: Vec<&inbox_core::InboundHistory> = items
        .iter()
        .filter_map(|d| match d {
            Decoded::History { history, .. } => Some(&**history),
            _ => None,
        })
        .collect();
    assert_eq!(histories.len(), 4, "{items:?}");
    let chunk = histories[0];
    assert_eq!(chunk.phone_number_id, "550001");
    let c = chunk.chunk.unwrap();
    assert_eq!((c.phase, c.chunk_order, c.progress), (1, 3, 40));
    assert_eq!(chunk.threads.len(), 2);
    let marta = &chunk.threads[0];
    assert_eq!(marta.customer.wa_id.as_deref(), Some("34611000001"));
    assert_eq!(marta.customer.user_id.as_deref(), Some("ES.marta0001"));
    let seen: Vec<(&str, bool, Option<DeliveryStatus>)> = marta
        .messages
        .iter()
        .map(|m| (m.message.external_id.as_str(), m.from_business, m.status))
        .collect();
    assert_eq!(
        seen,
        [
            ("wamid.HIST.C1", false, None),
            ("wamid.HIST.C2", false, None),
            ("wamid.HIST.B1", true, Some(DeliveryStatus::Read)),
            ("wamid.HIST.B2", true, Some(DeliveryStatus::Failed)),
        ]
    );
    // Every message names the customer, whoever wrote it.
    assert!(marta
        .messages
        .iter()
        .all(|m| m.message.from.wa_id.as_deref() == Some("34611000001")));
    assert_eq!(
        marta.messages[1].message.content,
        Content::Unsupported {
            raw_type: "media_placeholder".into()
        }
    );
    assert_eq!(
        marta.messages[2].message.content.text_body(),
        Some("Your order ships tomorrow")
    );
    // A customer with a business-scoped id only, and a message without an
    // id: kept as a dead letter, the rest imported.
    let noa = &chunk.threads[1];
    assert_eq!(noa.customer.user_id.as_deref(), Some("ES.noa0002"));
    assert_eq!(noa.messages.len(), 1);
    assert_eq!(invalid_items(&items).len(), 1);
    // The photo of the placeholder, later; the last chunk; the refusal.
    let media = histories[1];
    assert!(media.chunk.is_none());
    let photo = &media.threads[0].messages[0];
    assert_eq!(photo.message.external_id, "wamid.HIST.C2");
    assert!(
        matches!(photo.message.content, Content::Media { .. }),
        "{:?}",
        photo.message.content
    );
    assert_eq!(histories[2].chunk.unwrap().progress, 100);
    assert!(histories[2].threads.is_empty());
    assert_eq!(
        histories[3].declined.as_ref().and_then(|e| e.code),
        Some(2593109)
    );
}

/// The items refused as dead letters: their field and what they keep.
fn invalid_items(items: &[Decoded]) -> Vec<(&str, &str)> {
    items
        .iter()
        .filter_map(|d| match d {
            Decoded::Invalid { field, raw, .. } => Some((field.as_str(), raw.as_str())),
            _ => None,
        })
        .collect()
}
