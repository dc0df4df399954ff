//! Follow-up reminders and inactivity auto-resolve, with a fake clock.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use chrono::TimeDelta;

use common::{conversation, fixture_with, reply, says, set_status, tick};
use inbox_core::model::ConversationStatus;
use inbox_core::settings::TenantSettings;
use inbox_core::testing::Fixture;
use inbox_core::{ConversationId, EventKind};

/// Follow-up after a day, auto-resolve after three, in the tenant's
/// settings.
async fn fixture() -> Fixture {
    let settings = "timers: {follow_up_after: 1d, auto_resolve_after: 3d}";
    fixture_with(TenantSettings::from_yaml(settings).unwrap()).await
}

/// The customer `wa_id` asks a question, an agent asks back (on version 1)
/// and sets the conversation pending; the clock moves to the fixture's
/// start plus `answered_after` before the answer.
async fn waiting_on_the_customer(
    f: &Fixture,
    wa_id: &str,
    [question, answer]: [&str; 2],
    answered_after: TimeDelta,
) -> ConversationId {
    let c = says(f, "w1", wa_id, question).await;
    f.clock.set(Fixture::start() + answered_after);
    reply(f, "ana", &c, 1, answer, "r1").await;
    set_status(f, "ana", &c, ConversationStatus::Pending).await;
    c
}

#[tokio::test]
async fn pending_conversations_get_one_follow_up_then_resolve_after_inactivity() {
    let f = fixture().await;
    let t0 = Fixture::start();
    let asked = ["can you send the invoice?", "Sure, which email?"];
    let c = waiting_on_the_customer(&f, "34600000001", asked, TimeDelta::hours(1)).await;

    assert_eq!(tick(&f, t0 + TimeDelta::hours(24)).await.follow_ups, 0);
    let r = tick(&f, t0 + TimeDelta::hours(25)).await;
    assert_eq!(r.follow_ups, 1, "{r:?}");
    assert_eq!(tick(&f, t0 + TimeDelta::hours(26)).await.total(), 0, "once");
    let events = f.store.conversation_events(&f.acme(), &c, 0).await.unwrap();
    assert!(events.iter().any(
        |e| matches!(&e.kind, EventKind::FollowUpDue { owner: Some(o), .. } if o.as_str() == "ana")
    ));

    let r = tick(&f, t0 + TimeDelta::hours(73)).await;
    assert_eq!(r.auto_resolved, 1, "{r:?}");
    assert_eq!(
        conversation(&f, &c).await.status,
        ConversationStatus::Resolved
    );
    assert_eq!(tick(&f, t0 + TimeDelta::hours(200)).await.total(), 0);
}

#[tokio::test]
async fn a_customer_answer_cancels_the_follow_up() {
    let f = fixture().await;
    let t0 = Fixture::start();
    let asked = ["price?", "For which model?"];
    let c = waiting_on_the_customer(&f, "34600000002", asked, TimeDelta::zero()).await;
    f.clock.set(t0 + TimeDelta::hours(5));
    says(&f, "w2", "34600000002", "the red one").await;
    let r = tick(&f, t0 + TimeDelta::hours(100)).await;
    assert_eq!((r.follow_ups, r.auto_resolved), (0, 0), "{r:?}");
    assert_eq!(conversation(&f, &c).await.status, ConversationStatus::Open);
}
