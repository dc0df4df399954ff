//! Outbound content WhatsApp would refuse is refused by the core before it
//! reaches the outbox: through `Inbox::reply` and `Inbox::note` on the
//! memory store, a refused reply or note leaves the conversation, its
//! messages, its events and the outbox exactly as they were.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::{fixture, says};
use inbox_core::model::{Content, OutboundButton, OutboundSection};
use inbox_core::ports::{Clock, OutboxClaimRequest};
use inbox_core::testing::Fixture;
use inbox_core::{ConversationId, Error, Reply};

/// What a test looks at to tell that nothing changed.
#[derive(Debug, PartialEq)]
struct Snapshot {
    version: u64,
    messages: usize,
    events: usize,
}

async fn snapshot(f: &Fixture, c: &ConversationId) -> Snapshot {
    Snapshot {
        version: f.version(c).await.unwrap(),
        messages: f.store.messages(&f.acme(), c).await.unwrap().len(),
        events: f
            .store
            .events_since(&f.acme(), 0, 10_000)
            .await
            .unwrap()
            .len(),
    }
}

/// A limit and the actual length, where a refusal has them.
type Limit = Option<(usize, usize)>;

/// The field a refusal names, and its limit and actual length where it has
/// them.
fn refusal(e: &Error) -> (String, Limit) {
    match e {
        Error::InvalidContent(v) => (v.field.clone(), v.problem.limit_and_actual()),
        other => panic!("expected a content refusal, got {other:?}"),
    }
}

async fn setup() -> (Fixture, ConversationId, u64) {
    let f = fixture().await;
    let c = says(&f, "wamid.in1", "34600000001", "hello").await;
    let v = f.version(&c).await.unwrap();
    let claimed = f.inbox.claim(&f.actor("ana"), &c, v).await.unwrap();
    (f, c, claimed.conversation.version)
}

/// Replies of the conversation waiting in the outbox (the store hands a
/// conversation's entries out one at a time: each is claimed and released
/// in turn).
async fn outbox_len(f: &Fixture) -> usize {
    let far = f.clock.now() + chrono::TimeDelta::days(1);
    let mut n = 0;
    loop {
        let claims = f
            .store
            .claim_outbox(OutboxClaimRequest {
                now: far,
                lease: Duration::from_secs(1),
                limit: 100,
            })
            .await
            .unwrap();
        if claims.is_empty() {
            return n;
        }
        for c in claims {
            n += 1;
            f.store
                .release_outbox(&c, inbox_core::ports::OutboxDisposition::Done)
                .await
                .unwrap();
        }
    }
}

fn buttons(titles: &[&str]) -> Content {
    Content::Buttons {
        header: None,
        body: "Pick one".into(),
        footer: None,
        buttons: titles
            .iter()
            .enumerate()
            .map(|(i, t)| OutboundButton {
                id: format!("b{i}"),
                title: (*t).into(),
            })
            .collect(),
    }
}

fn list_with_row_title(title: &str) -> Content {
    Content::List {
        header: None,
        body: "Choose".into(),
        footer: None,
        button: "Options".into(),
        sections: vec![
            OutboundSection {
                title: "First".into(),
                rows: vec![("r0".into(), "Zero".into(), None)],
            },
            OutboundSection {
                title: "Second".into(),
                rows: vec![
                    ("r1".into(), "One".into(), None),
                    ("r2".into(), "Two".into(), None),
                    ("r3".into(), "Three".into(), None),
                    ("r4".into(), title.into(), None),
                ],
            },
        ],
    }
}

fn reply(content: Content, key: &str) -> Reply {
    Reply {
        content,
        idempotency_key: key.into(),
        reply_to: None,
    }
}

#[tokio::test]
async fn refused_replies_queue_nothing_and_commit_nothing() {
    let (f, c, v) = setup().await;
    let ana = f.actor("ana");
    let before = snapshot(&f, &c).await;
    let cases: Vec<(Content, &str, Limit)> = vec![
        (
            Content::text("x".repeat(4097)),
            "text.body",
            Some((4096, 4097)),
        ),
        (Content::text("a\0b"), "text.body", None),
        (
            buttons(&["Yes", "No", "A title of 21 chars.."]),
            "interactive.action.buttons[2].reply.title",
            Some((20, 21)),
        ),
        (
            buttons(&["Yes", "No", "Yes"]),
            "interactive.action.buttons[2].reply.title",
            None,
        ),
        (
            list_with_row_title("a row title of 25 chars.."),
            "interactive.action.sections[1].rows[3].title",
            Some((24, 25)),
        ),
    ];
    for (i, (content, field, numbers)) in cases.into_iter().enumerate() {
        let err = f
            .inbox
            .reply(&ana, &c, v, reply(content, &format!("k{i}")))
            .await
            .unwrap_err();
        assert_eq!(refusal(&err), (field.to_string(), numbers), "case {i}");
        assert_eq!(err.code(), "invalid_content");
        assert_eq!(snapshot(&f, &c).await, before, "case {i} changed nothing");
        // The key was not used up by the refusal.
        assert!(f
            .store
            .message_by_idempotency_key(&f.acme(), &format!("k{i}"))
            .await
            .unwrap()
            .is_none());
    }
    assert_eq!(outbox_len(&f).await, 0, "nothing queued");
    f.inbox.dispatch(10).await.unwrap();
    assert!(f.transport.sent().is_empty(), "nothing sent");
}

#[tokio::test]
async fn content_exactly_at_the_limits_is_queued() {
    let (f, c, mut v) = setup().await;
    let ana = f.actor("ana");
    let at_the_limits = [
        (Content::text("é".repeat(4096)), "t"),
        (buttons(&["Yes", "No", "A title of 20 chars."]), "b"),
        (list_with_row_title("a row title of 24 chars."), "l"),
    ];
    for (content, key) in at_the_limits {
        let outcome = f.inbox.reply(&ana, &c, v, reply(content, key)).await;
        v = outcome.unwrap().conversation.version;
    }
    assert_eq!(outbox_len(&f).await, 3);
}

#[tokio::test]
async fn notes_and_keys_with_control_characters_are_refused_and_change_nothing() {
    let (f, c, v) = setup().await;
    let ana = f.actor("ana");
    let before = snapshot(&f, &c).await;
    for (key, text) in [("n1", "call back at 5\0"), ("n2", "bell \u{7}")] {
        let err = f.inbox.note(&ana, &c, v, text, key).await.unwrap_err();
        assert_eq!(refusal(&err).0, "note", "{text:?}");
    }
    let err = f
        .inbox
        .reply(&ana, &c, v, Reply::text("hi", "key\0"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::InvalidInput { field, .. } if field == "idempotency_key"),
        "{err:?}"
    );
    assert_eq!(snapshot(&f, &c).await, before);
    // Line breaks and tabs are text, not control characters to refuse.
    f.inbox
        .note(&ana, &c, v, "line one\r\nline two\tend", "n3")
        .await
        .unwrap();
}
