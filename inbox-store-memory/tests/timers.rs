//! Follow-up reminders and inactivity auto-resolve, with a fake clock.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::TimeDelta;
use std::sync::Arc;
use std::time::Duration;

use inbox_core::model::ConversationStatus;
use inbox_core::ports::Store;
use inbox_core::testing::Fixture;
use inbox_core::timer::TimerPolicy;
use inbox_core::{EventKind, InboxConfig, Reply};
use inbox_store_memory::MemoryStore;

async fn fixture() -> Fixture {
    let config = InboxConfig {
        timers: TimerPolicy {
            follow_up_after: Some(Duration::from_secs(24 * 3600)),
            auto_resolve_after: Some(Duration::from_secs(72 * 3600)),
            ..TimerPolicy::default()
        },
        ..InboxConfig::default()
    };
    Fixture::with_config(Arc::new(MemoryStore::new()) as Arc<dyn Store>, config)
        .await
        .unwrap()
}

#[tokio::test]
async fn pending_conversations_get_one_follow_up_then_resolve_after_inactivity() {
    let f = fixture().await;
    let t0 = Fixture::start();
    let (c, _) = f
        .customer_says("1001", "w1", "34600000001", "can you send the invoice?")
        .await
        .unwrap();
    f.clock.set(t0 + TimeDelta::hours(1));
    f.inbox
        .reply(
            &f.actor("ana"),
            &c,
            1,
            Reply::text("Sure, which email?", "r1"),
        )
        .await
        .unwrap();
    let v = f.version(&c).await.unwrap();
    f.inbox
        .set_status(&f.actor("ana"), &c, v, ConversationStatus::Pending)
        .await
        .unwrap();

    assert_eq!(
        f.inbox
            .tick(t0 + TimeDelta::hours(24), 100)
            .await
            .unwrap()
            .follow_ups,
        0
    );
    let r = f.inbox.tick(t0 + TimeDelta::hours(25), 100).await.unwrap();
    assert_eq!(r.follow_ups, 1, "{r:?}");
    assert_eq!(
        f.inbox
            .tick(t0 + TimeDelta::hours(26), 100)
            .await
            .unwrap()
            .total(),
        0,
        "once"
    );
    let events = f.store.conversation_events(&f.acme(), &c, 0).await.unwrap();
    assert!(events.iter().any(
        |e| matches!(&e.kind, EventKind::FollowUpDue { owner: Some(o), .. } if o.as_str() == "ana")
    ));

    let r = f.inbox.tick(t0 + TimeDelta::hours(73), 100).await.unwrap();
    assert_eq!(r.auto_resolved, 1, "{r:?}");
    assert_eq!(
        f.store.conversation(&f.acme(), &c).await.unwrap().status,
        ConversationStatus::Resolved
    );
    assert_eq!(
        f.inbox
            .tick(t0 + TimeDelta::hours(200), 100)
            .await
            .unwrap()
            .total(),
        0
    );
}

#[tokio::test]
async fn a_customer_answer_cancels_the_follow_up() {
    let f = fixture().await;
    let t0 = Fixture::start();
    let (c, _) = f
        .customer_says("1001", "w1", "34600000002", "price?")
        .await
        .unwrap();
    f.inbox
        .reply(
            &f.actor("ana"),
            &c,
            1,
            Reply::text("For which model?", "r1"),
        )
        .await
        .unwrap();
    let v = f.version(&c).await.unwrap();
    f.inbox
        .set_status(&f.actor("ana"), &c, v, ConversationStatus::Pending)
        .await
        .unwrap();
    f.clock.set(t0 + TimeDelta::hours(5));
    f.customer_says("1001", "w2", "34600000002", "the red one")
        .await
        .unwrap();
    let r = f.inbox.tick(t0 + TimeDelta::hours(100), 100).await.unwrap();
    assert_eq!((r.follow_ups, r.auto_resolved), (0, 0), "{r:?}");
    assert_eq!(
        f.store.conversation(&f.acme(), &c).await.unwrap().status,
        ConversationStatus::Open
    );
}
