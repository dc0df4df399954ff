//! Text PostgreSQL cannot hold (NUL) or WhatsApp refuses (other control
//! characters) is refused by the core with a typed error before the store
//! sees it: never `Unavailable` (a 503 on every retry) or `Backend`, and
//! the conversation is left as it was.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;

use inbox_core::model::{Content, MediaKind, MediaRef};
use inbox_core::ports::Store;
use inbox_core::testing::Fixture;
use inbox_core::{Assignee, ConversationId, Error, Reply};
use inbox_store_postgres::PgStore;

async fn state(f: &Fixture, c: &ConversationId) -> (u64, usize, usize) {
    (
        f.version(c).await.unwrap(),
        f.store.messages(&f.acme(), c).await.unwrap().len(),
        f.store
            .events_since(&f.acme(), 0, 10_000)
            .await
            .unwrap()
            .len(),
    )
}

fn refused_field(e: &Error) -> &str {
    match e {
        Error::InvalidContent(v) => &v.field,
        Error::InvalidInput { field, .. } => field,
        other => panic!("expected a refusal of the input, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nul_in_replies_and_notes_is_refused_with_a_typed_error() {
    let Some(url) = common::fresh_database().await else {
        return;
    };
    let store = Arc::new(PgStore::connect(&url, 4).await.unwrap());
    let f = Fixture::new(store as Arc<dyn Store>).await.unwrap();
    let (c, _) = f
        .customer_says("1001", "wamid.in1", "34600000001", "hello")
        .await
        .unwrap();
    let ana = f.actor("ana");
    let v = f.version(&c).await.unwrap();
    let claimed = f.inbox.claim(&ana, &c, v).await.unwrap();
    let v = claimed.conversation.version;
    let before = state(&f, &c).await;

    let image = Content::Media {
        kind: MediaKind::Image,
        media: MediaRef {
            id: Some("media-1".into()),
            ..MediaRef::default()
        },
        caption: Some("look\0".into()),
    };
    let template = Content::Template {
        name: "order_update".into(),
        language: "en_US".into(),
        components: serde_json::json!([
            { "type": "body", "parameters": [ { "type": "text", "text": "A\u{0}1" } ] }
        ]),
    };
    let replies = [
        (Content::text("hello\0world"), "text.body"),
        (image, "image.caption"),
        (template, "template.components[0].parameters[0].text"),
    ];
    for (i, (content, field)) in replies.into_iter().enumerate() {
        let reply = Reply {
            content,
            idempotency_key: format!("r{i}"),
            reply_to: None,
        };
        let err = f.inbox.reply(&ana, &c, v, reply).await.unwrap_err();
        assert!(
            matches!(err, Error::InvalidContent(_)),
            "reply {i}: {err:?}"
        );
        assert_eq!(refused_field(&err), field);
    }
    let err = f
        .inbox
        .reply(&ana, &c, v, Reply::text("hi", "key\0"))
        .await
        .unwrap_err();
    assert_eq!(refused_field(&err), "idempotency_key");

    let err = f
        .inbox
        .note(&ana, &c, v, "call him\0back", "n1")
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidContent(_)), "{err:?}");
    assert_eq!(refused_field(&err), "note");
    let err = f
        .inbox
        .transfer(
            &ana,
            &c,
            v,
            Assignee::Agent(inbox_core::AgentId::new("ben").unwrap()),
            "over to you\0",
        )
        .await
        .unwrap_err();
    assert_eq!(refused_field(&err), "handoff_note");
    let err = f
        .inbox
        .release(&ana, &c, v, "end of shift\0")
        .await
        .unwrap_err();
    assert_eq!(refused_field(&err), "reason");

    assert_eq!(state(&f, &c).await, before, "the conversation is unchanged");
    // The store still works, and the same texts without the NUL go through.
    let v = f
        .inbox
        .reply(&ana, &c, v, Reply::text("hello world", "r-ok"))
        .await
        .unwrap()
        .conversation
        .version;
    f.inbox
        .note(&ana, &c, v, "call him back", "n-ok")
        .await
        .unwrap();
}
