//! Each rule of [`super`] at its boundary, and the refusals' fields.

use super::*;
use crate::model::MediaRef;

/// The field and problem of a refusal; panics on anything else.
fn refused(content: &Content) -> (String, ContentProblem) {
    match content.validate_outbound() {
        Err(Error::InvalidContent(v)) => (v.field, v.problem),
        other => panic!("expected a content refusal, got {other:?}"),
    }
}

fn too_long(limit: usize) -> ContentProblem {
    ContentProblem::TooLong {
        limit,
        actual: limit + 1,
    }
}

/// `n` characters of two bytes each: limits count characters.
fn chars(n: usize) -> String {
    "é".repeat(n)
}

fn button(id: &str, title: &str) -> OutboundButton {
    OutboundButton {
        id: id.into(),
        title: title.into(),
    }
}

fn buttons_with(
    header: Option<String>,
    body: String,
    footer: Option<String>,
    buttons: Vec<OutboundButton>,
) -> Content {
    Content::Buttons {
        header,
        body,
        footer,
        buttons,
    }
}

fn yes_no() -> Vec<OutboundButton> {
    vec![button("y", "Yes"), button("n", "No")]
}

fn row(id: &str, title: &str, description: Option<&str>) -> (String, String, Option<String>) {
    (id.into(), title.into(), description.map(str::to_string))
}

fn section(title: &str, rows: Vec<(String, String, Option<String>)>) -> OutboundSection {
    OutboundSection {
        title: title.into(),
        rows,
    }
}

fn list(button: &str, sections: Vec<OutboundSection>) -> Content {
    Content::List {
        header: None,
        body: "Choose".into(),
        footer: None,
        button: button.into(),
        sections,
    }
}

fn image(caption: Option<String>) -> Content {
    Content::Media {
        kind: MediaKind::Image,
        media: MediaRef {
            id: Some("m1".into()),
            ..MediaRef::default()
        },
        caption,
    }
}

fn template(components: serde_json::Value) -> Content {
    Content::Template {
        name: "order_update".into(),
        language: "en_US".into(),
        components,
    }
}

fn body_param(text: &str) -> Content {
    template(serde_json::json!([
        { "type": "body", "parameters": [ { "type": "text", "text": "ok" }, { "type": "text", "text": text } ] }
    ]))
}

/// Each text limit: exactly the limit passes, one more is refused with
/// the field, the limit and the actual length.
#[test]
fn every_text_limit_holds_at_its_boundary() {
    type Build = Box<dyn Fn(String) -> Content>;
    let cases: Vec<(usize, &str, Build)> = vec![
        (4096, "text.body", Box::new(Content::text)),
        (1024, "image.caption", Box::new(|s| image(Some(s)))),
        (
            1024,
            "interactive.body.text",
            Box::new(|s| buttons_with(None, s, None, yes_no())),
        ),
        (
            60,
            "interactive.header.text",
            Box::new(|s| buttons_with(Some(s), "b".into(), None, yes_no())),
        ),
        (
            60,
            "interactive.footer.text",
            Box::new(|s| buttons_with(None, "b".into(), Some(s), yes_no())),
        ),
        (
            20,
            "interactive.action.buttons[1].reply.title",
            Box::new(|s| {
                buttons_with(
                    None,
                    "b".into(),
                    None,
                    vec![button("a", "A"), button("b", &s)],
                )
            }),
        ),
        (
            256,
            "interactive.action.buttons[0].reply.id",
            Box::new(|s| buttons_with(None, "b".into(), None, vec![button(&s, "A")])),
        ),
        (
            20,
            "interactive.action.button",
            Box::new(|s| list(&s, vec![section("S", vec![row("r", "R", None)])])),
        ),
        (
            24,
            "interactive.action.sections[1].title",
            Box::new(|s| {
                list(
                    "Open",
                    vec![
                        section("S", vec![row("r0", "R", None)]),
                        section(&s, vec![row("r1", "R", None)]),
                    ],
                )
            }),
        ),
        (
            200,
            "interactive.action.sections[0].rows[1].id",
            Box::new(|s| {
                list(
                    "Open",
                    vec![section("S", vec![row("r0", "R", None), row(&s, "R", None)])],
                )
            }),
        ),
        (
            24,
            "interactive.action.sections[0].rows[0].title",
            Box::new(|s| list("Open", vec![section("S", vec![row("r0", &s, None)])])),
        ),
        (
            72,
            "interactive.action.sections[0].rows[0].description",
            Box::new(|s| list("Open", vec![section("S", vec![row("r0", "R", Some(&s))])])),
        ),
        (
            512,
            "template.name",
            Box::new(|s| Content::Template {
                name: s,
                language: "en".into(),
                components: serde_json::Value::Null,
            }),
        ),
    ];
    for (limit, field, build) in cases {
        assert_eq!(
            build(chars(limit))
                .validate_outbound()
                .map_err(|e| e.to_string()),
            Ok(()),
            "{field} at {limit}"
        );
        assert_eq!(
            refused(&build(chars(limit + 1))),
            (field.to_string(), too_long(limit)),
            "{field}"
        );
    }
    // Lists have the same header, body and footer limits as buttons.
    let mut l = list("Open", vec![section("S", vec![row("r", "R", None)])]);
    if let Content::List { header, .. } = &mut l {
        *header = Some(chars(61));
    }
    assert_eq!(
        refused(&l),
        ("interactive.header.text".into(), too_long(60))
    );
}

#[test]
fn notes_hold_their_limit_and_refuse_control_characters() {
    assert!(check_note("note", &chars(NOTE)).is_ok());
    let err = check_note("note", &chars(NOTE + 1)).unwrap_err();
    assert!(
        matches!(&err, Error::InvalidContent(v) if v.field == "note" && v.problem == too_long(NOTE)),
        "{err:?}"
    );
    let err = check_note("handoff_note", "ok\0").unwrap_err();
    assert!(
        matches!(&err, Error::InvalidContent(v) if v.field == "handoff_note"
        && v.problem == ContentProblem::ControlCharacter { code_point: 0, position: 2 }),
        "{err:?}"
    );
    assert!(
        matches!(check_note("note", "  "), Err(Error::InvalidContent(v)) if v.problem == ContentProblem::Empty)
    );
}

#[test]
fn reply_buttons_are_one_to_three_with_distinct_titles_and_ids() {
    let three = vec![button("a", "A"), button("b", "B"), button("c", "C")];
    assert!(buttons_with(None, "b".into(), None, three.clone())
        .validate_outbound()
        .is_ok());
    let mut four = three;
    four.push(button("d", "D"));
    assert_eq!(
        refused(&buttons_with(None, "b".into(), None, four)),
        (
            "interactive.action.buttons".into(),
            ContentProblem::TooMany {
                limit: 3,
                actual: 4
            }
        )
    );
    assert_eq!(
        refused(&buttons_with(None, "b".into(), None, vec![])),
        (
            "interactive.action.buttons".into(),
            ContentProblem::TooFew { min: 1, actual: 0 }
        )
    );
    assert_eq!(
        refused(&buttons_with(
            None,
            "b".into(),
            None,
            vec![button("a", "Yes"), button("b", "No"), button("c", "Yes")]
        )),
        (
            "interactive.action.buttons[2].reply.title".into(),
            ContentProblem::Duplicate {
                of: "interactive.action.buttons[0].reply.title".into()
            }
        )
    );
    assert_eq!(
        refused(&buttons_with(
            None,
            "b".into(),
            None,
            vec![button("a", "Yes"), button("a", "No")]
        )),
        (
            "interactive.action.buttons[1].reply.id".into(),
            ContentProblem::Duplicate {
                of: "interactive.action.buttons[0].reply.id".into()
            }
        )
    );
    let (field, _) = refused(&buttons_with(
        None,
        "b".into(),
        None,
        vec![button(" a", "Yes")],
    ));
    assert_eq!(field, "interactive.action.buttons[0].reply.id");
    let (field, problem) = refused(&buttons_with(
        None,
        "b".into(),
        None,
        vec![button("a", " ")],
    ));
    assert_eq!(
        (field.as_str(), problem),
        (
            "interactive.action.buttons[0].reply.title",
            ContentProblem::Empty
        )
    );
}

#[test]
fn lists_have_one_to_ten_sections_and_rows_in_all() {
    let one_row_each = |n: usize| {
        (0..n)
            .map(|i| section(&format!("S{i}"), vec![row(&format!("r{i}"), "R", None)]))
            .collect::<Vec<_>>()
    };
    assert!(list("Open", one_row_each(10)).validate_outbound().is_ok());
    assert_eq!(
        refused(&list("Open", one_row_each(11))),
        (
            "interactive.action.sections".into(),
            ContentProblem::TooMany {
                limit: 10,
                actual: 11
            }
        )
    );
    assert_eq!(
        refused(&list("Open", vec![])),
        (
            "interactive.action.sections".into(),
            ContentProblem::TooFew { min: 1, actual: 0 }
        )
    );
    let rows = |n: usize, from: usize| {
        (from..from + n)
            .map(|i| row(&format!("r{i}"), "R", None))
            .collect()
    };
    assert!(list(
        "Open",
        vec![section("A", rows(4, 0)), section("B", rows(6, 4))]
    )
    .validate_outbound()
    .is_ok());
    assert_eq!(
        refused(&list(
            "Open",
            vec![section("A", rows(5, 0)), section("B", rows(6, 5))]
        )),
        (
            "interactive.action.sections[*].rows".into(),
            ContentProblem::TooMany {
                limit: 10,
                actual: 11
            }
        )
    );
    assert_eq!(
        refused(&list(
            "Open",
            vec![section("A", rows(2, 0)), section("B", vec![])]
        )),
        (
            "interactive.action.sections[1].rows".into(),
            ContentProblem::TooFew { min: 1, actual: 0 }
        )
    );
}

#[test]
fn list_rows_have_distinct_ids_and_sections_need_titles_when_several() {
    assert_eq!(
        refused(&list(
            "Open",
            vec![
                section("A", vec![row("x", "R", None)]),
                section("B", vec![row("y", "R", None), row("x", "R2", None)])
            ]
        )),
        (
            "interactive.action.sections[1].rows[1].id".into(),
            ContentProblem::Duplicate {
                of: "interactive.action.sections[0].rows[0].id".into()
            }
        )
    );
    assert!(list("Open", vec![section("", vec![row("x", "R", None)])])
        .validate_outbound()
        .is_ok());
    assert_eq!(
        refused(&list(
            "Open",
            vec![
                section("A", vec![row("x", "R", None)]),
                section("", vec![row("y", "R", None)])
            ]
        )),
        (
            "interactive.action.sections[1].title".into(),
            ContentProblem::Empty
        )
    );
    assert_eq!(
        refused(&list(" ", vec![section("A", vec![row("x", "R", None)])])).0,
        "interactive.action.button"
    );
}

/// NUL and the other control characters are refused in every text
/// field, with their position; tab, line feed and carriage return are
/// text.
#[test]
fn control_characters_are_refused_in_every_text_field() {
    let nul = |at: usize| ContentProblem::ControlCharacter {
        code_point: 0,
        position: at,
    };
    assert_eq!(
        refused(&Content::text("ab\0c")),
        ("text.body".into(), nul(2))
    );
    assert_eq!(
        refused(&image(Some("\0".into()))),
        ("image.caption".into(), nul(0))
    );
    assert_eq!(
        refused(&buttons_with(
            Some("h\0".into()),
            "b".into(),
            None,
            yes_no()
        ))
        .0,
        "interactive.header.text"
    );
    assert_eq!(
        refused(&buttons_with(None, "b".into(), Some("\0".into()), yes_no())).0,
        "interactive.footer.text"
    );
    assert_eq!(
        refused(&buttons_with(
            None,
            "b".into(),
            None,
            vec![button("a", "Y\0")]
        ))
        .0,
        "interactive.action.buttons[0].reply.title"
    );
    assert_eq!(
        refused(&list(
            "Open",
            vec![section("S", vec![row("r", "R", Some("d\0"))])]
        ))
        .0,
        "interactive.action.sections[0].rows[0].description"
    );
    let place = Content::Location {
        latitude: 0.0,
        longitude: 0.0,
        name: Some("HQ\0".into()),
        address: None,
    };
    assert_eq!(refused(&place).0, "location.name");
    let card = Content::Contacts {
        cards: vec![ContactCard {
            name: "Ana".into(),
            phones: vec!["+34\0".into()],
            ..ContactCard::default()
        }],
    };
    assert_eq!(refused(&card).0, "contacts[0].phones[0].phone");
    let raw = Content::Contacts {
        cards: vec![ContactCard {
            raw: serde_json::json!({"name": {"formatted_name": "Ana"}, "org": {"company": "A\0"}}),
            ..ContactCard::default()
        }],
    };
    assert_eq!(refused(&raw).0, "contacts[0].org.company");
    assert_eq!(
        refused(&body_param("x\0")).0,
        "template.components[0].parameters[1].text"
    );
    for c in ['\u{7}', '\u{1b}', '\u{7f}', '\u{85}'] {
        let (field, problem) = refused(&Content::text(format!("é{c}")));
        assert_eq!(field, "text.body");
        assert_eq!(
            problem,
            ContentProblem::ControlCharacter {
                code_point: u32::from(c),
                position: 1
            }
        );
    }
    assert!(Content::text("line\r\nline\ttab")
        .validate_outbound()
        .is_ok());
    assert!(check_control("reason", "a\u{200b}b ✓").is_ok());
}

#[test]
fn empty_and_unsendable_content_is_refused() {
    assert_eq!(
        refused(&Content::text(" \n ")),
        ("text.body".into(), ContentProblem::Empty)
    );
    assert_eq!(
        refused(&buttons_with(None, " ".into(), None, yes_no())),
        ("interactive.body.text".into(), ContentProblem::Empty)
    );
    assert_eq!(
        refused(&buttons_with(
            Some(String::new()),
            "b".into(),
            None,
            yes_no()
        ))
        .0,
        "interactive.header.text"
    );
    assert_eq!(refused(&Content::RequestWelcome).0, "type");
    assert_eq!(refused(&Content::Contacts { cards: vec![] }).0, "contacts");
    let nameless = Content::Contacts {
        cards: vec![ContactCard::default()],
    };
    assert_eq!(
        refused(&nameless),
        (
            "contacts[0].name.formatted_name".into(),
            ContentProblem::Empty
        )
    );
}

#[test]
fn media_needs_an_id_or_a_link_and_captions_only_where_shown() {
    let media = |kind, media, caption: Option<&str>| Content::Media {
        kind,
        media,
        caption: caption.map(str::to_string),
    };
    assert_eq!(
        refused(&media(MediaKind::Video, MediaRef::default(), None)).0,
        "video"
    );
    let link = MediaRef {
        link: Some("https://example.com/a.pdf".into()),
        ..MediaRef::default()
    };
    assert!(media(MediaKind::Document, link.clone(), Some("invoice"))
        .validate_outbound()
        .is_ok());
    assert!(media(MediaKind::Voice, link.clone(), None)
        .validate_outbound()
        .is_ok());
    assert_eq!(
        refused(&media(MediaKind::Voice, link.clone(), Some("hear this"))).0,
        "audio.caption"
    );
    assert_eq!(
        refused(&media(MediaKind::Sticker, link, Some("hi"))).0,
        "sticker.caption"
    );
    let blank = MediaRef {
        id: Some(" ".into()),
        ..MediaRef::default()
    };
    assert_eq!(
        refused(&media(MediaKind::Image, blank, None)),
        ("image.id".into(), ContentProblem::Empty)
    );
}

#[test]
fn locations_are_within_range() {
    let at = |latitude, longitude| Content::Location {
        latitude,
        longitude,
        name: None,
        address: None,
    };
    assert!(at(90.0, -180.0).validate_outbound().is_ok());
    assert!(at(-90.0, 180.0).validate_outbound().is_ok());
    assert_eq!(
        refused(&at(90.5, 0.0)),
        (
            "location.latitude".into(),
            ContentProblem::OutOfRange {
                min: -90.0,
                max: 90.0,
                actual: 90.5
            }
        )
    );
    assert_eq!(refused(&at(0.0, -180.5)).0, "location.longitude");
    assert_eq!(refused(&at(f64::NAN, 0.0)).0, "location.latitude");
}

#[test]
fn a_reaction_is_one_emoji_or_none() {
    let react = |emoji: Option<&str>| Content::Reaction {
        target: "wamid.1".into(),
        emoji: emoji.map(str::to_string),
    };
    for ok in [
        None,
        Some(""),
        Some("👍"),
        Some("👍🏽"),
        Some("👨‍👩‍👧"),
        Some("🇪🇸"),
        Some("1️⃣"),
        Some("❤️"),
    ] {
        assert!(react(ok).validate_outbound().is_ok(), "{ok:?}");
    }
    for bad in ["👍👍", "a", "ok", "é", "中", " ", "👍 "] {
        assert_eq!(refused(&react(Some(bad))).0, "reaction.emoji", "{bad:?}");
    }
    let no_target = Content::Reaction {
        target: " ".into(),
        emoji: Some("👍".into()),
    };
    assert_eq!(
        refused(&no_target),
        ("reaction.message_id".into(), ContentProblem::Empty)
    );
}

#[test]
fn template_text_parameters_have_no_line_breaks_tabs_or_long_runs_of_spaces() {
    assert!(body_param("Ana    García").validate_outbound().is_ok());
    for bad in ["two\nlines", "a\ttab", "five     spaces", "cr\r", " "] {
        assert_eq!(
            refused(&body_param(bad)).0,
            "template.components[0].parameters[1].text",
            "{bad:?}"
        );
    }
    assert!(template(serde_json::Value::Null)
        .validate_outbound()
        .is_ok());
    assert!(template(serde_json::json!([])).validate_outbound().is_ok());
    assert_eq!(
        refused(&template(serde_json::json!({"type": "body"}))).0,
        "template.components"
    );
    assert_eq!(
        refused(&template(serde_json::json!(["body"]))).0,
        "template.components[0]"
    );
    assert_eq!(
        refused(&template(
            serde_json::json!([{"type": "body", "parameters": 3}])
        ))
        .0,
        "template.components[0].parameters"
    );
    let no_language = Content::Template {
        name: "t".into(),
        language: "".into(),
        components: serde_json::Value::Null,
    };
    assert_eq!(
        refused(&no_language),
        ("template.language.code".into(), ContentProblem::Empty)
    );
}

/// Automatic replies and notes of routing rules are checked when the
/// rules load, so automation never queues what an agent could not.
#[test]
fn routing_rules_with_content_whatsapp_refuses_do_not_load() {
    let cases = [
        (
            r#"{ auto_reply: { text: "hi\0" } }"#,
            "then[0].auto_reply.text",
        ),
        (
            r#"{ auto_reply: { template: { name: t, language: en, params: ["two\nlines"] } } }"#,
            "then[0].auto_reply.template",
        ),
        (r#"{ note: "vip\u0007" }"#, "then[0].note"),
    ];
    for (action, field) in cases {
        let yaml = format!("rules:\n  - name: ack\n    then: [ {action} ]\n");
        let err = crate::routing::Routing::from_yaml(&yaml).unwrap_err();
        assert_eq!(err.code(), "invalid_rules", "{action}");
        assert!(err.to_string().contains(field), "{action}: {err}");
    }
    let fine = "rules:\n  - name: ack\n    then: [ { auto_reply: { text: \"Thanks!\\nWe are on it.\" } } ]\n";
    assert!(crate::routing::Routing::from_yaml(fine).is_ok());
}

#[test]
fn the_error_names_field_limit_and_length_in_its_message_and_json() {
    let err = Content::text(chars(4097)).validate_outbound().unwrap_err();
    assert_eq!(err.code(), "invalid_content");
    assert_eq!(
        err.to_string(),
        "invalid content: text.body is 4097 characters long; WhatsApp allows at most 4096"
    );
    let Error::InvalidContent(v) = err else {
        panic!()
    };
    assert_eq!(
        serde_json::to_value(&v).unwrap(),
        serde_json::json!({"field": "text.body", "problem": {"kind": "too_long", "limit": 4096, "actual": 4097}})
    );
    let back: crate::ContentViolation =
        serde_json::from_value(serde_json::to_value(&v).unwrap()).unwrap();
    assert_eq!(back, *v);
}
