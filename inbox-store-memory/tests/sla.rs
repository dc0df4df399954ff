//! SLA simulations with a fake clock: business hours across a weekend and
//! a holiday, pause while pending, warning then breach then breach actions,
//! idempotent ticks.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::{NaiveDate, TimeDelta, TimeZone, Utc};
use std::sync::Arc;

use inbox_core::calendar::Calendar;
use inbox_core::model::{ConversationStatus, Priority};
use inbox_core::ports::Store;
use inbox_core::sla::{BreachAction, SlaPolicy, SlaSettings, SlaTargetKind, SlaTargetState};
use inbox_core::testing::Fixture;
use inbox_core::{EventKind, InboxConfig, Reply};
use inbox_store_memory::MemoryStore;

fn policy(business_hours: bool) -> SlaPolicy {
    SlaPolicy {
        id: "standard".into(),
        applies: Default::default(),
        first_response_secs: Some(4 * 3600),
        next_response_secs: Some(2 * 3600),
        resolution_secs: Some(24 * 3600),
        business_hours,
        warn_at_percent: 80,
        on_breach: vec![
            BreachAction::RaisePriority,
            BreachAction::ReturnToQueue,
            BreachAction::Tag("sla-breached".into()),
            BreachAction::NotifySupervisor,
        ],
    }
}

async fn fixture(sla: SlaSettings) -> Fixture {
    let config = InboxConfig {
        sla,
        ..InboxConfig::default()
    };
    Fixture::with_config(Arc::new(MemoryStore::new()) as Arc<dyn Store>, config)
        .await
        .unwrap()
}

fn events(f: &Fixture, kind: &str) -> Vec<EventKind> {
    futures::executor::block_on(f.store.events_since(&f.acme(), 0, 10_000))
        .unwrap()
        .into_iter()
        .filter(|e| e.kind.name() == kind)
        .map(|e| e.kind)
        .collect()
}

#[tokio::test]
async fn business_hours_sla_spans_a_weekend_and_a_holiday() {
    // Madrid, 09:00-17:00 weekdays; Monday 9 March 2026 is a holiday here.
    let calendar = Calendar::weekdays("Europe/Madrid", &["09:00-17:00"])
        .unwrap()
        .with_holiday(NaiveDate::from_ymd_opt(2026, 3, 9).unwrap());
    let f = fixture(SlaSettings {
        policies: vec![policy(true)],
        calendar,
        ..Default::default()
    })
    .await;
    // Friday 6 March 2026, 15:00 Madrid (14:00 UTC): 2 business hours left
    // that day, then the weekend, the holiday, and 2 more hours on Tuesday.
    let friday = Utc.with_ymd_and_hms(2026, 3, 6, 14, 0, 0).unwrap();
    f.clock.set(friday);
    let (c, _) = f
        .customer_says("1001", "w1", "34600000001", "my order is late")
        .await
        .unwrap();
    let conv = f.store.conversation(&f.acme(), &c).await.unwrap();
    let first = conv
        .sla
        .as_ref()
        .unwrap()
        .target(SlaTargetKind::FirstResponse)
        .unwrap()
        .clone();
    // Due Tuesday 10 March 11:00 Madrid = 10:00 UTC.
    assert_eq!(
        first.due_at,
        Utc.with_ymd_and_hms(2026, 3, 10, 10, 0, 0).unwrap()
    );
    // Warning at 80% = 3h12m of business time: Tuesday 10:12 Madrid.
    assert_eq!(
        first.warn_at,
        Utc.with_ymd_and_hms(2026, 3, 10, 9, 12, 0).unwrap()
    );
    // Ticking through the weekend and the holiday fires nothing.
    for day in 0..4 {
        let r = f
            .inbox
            .tick(friday + TimeDelta::days(day) + TimeDelta::hours(8), 100)
            .await
            .unwrap();
        assert_eq!(r.sla_warnings + r.sla_breaches, 0, "day {day}: {r:?}");
    }
    let r = f.inbox.tick(first.warn_at, 100).await.unwrap();
    assert_eq!(r.sla_warnings, 1);
    assert_eq!(
        f.inbox.tick(first.warn_at, 100).await.unwrap().total(),
        0,
        "same tick twice"
    );
    let r = f.inbox.tick(first.due_at, 100).await.unwrap();
    assert_eq!(r.sla_breaches, 1);
    assert_eq!(events(&f, "sla_warning").len(), 1);
    assert_eq!(events(&f, "sla_breached").len(), 1);
}

#[tokio::test]
async fn warning_then_breach_then_actions_and_met_targets() {
    let f = fixture(SlaSettings {
        policies: vec![policy(false)],
        ..Default::default()
    })
    .await;
    let t0 = Fixture::start();
    let (c, _) = f
        .customer_says("1001", "w1", "34600000002", "hello")
        .await
        .unwrap();
    f.inbox.claim(&f.actor("ana"), &c, 1).await.unwrap();
    let r = f
        .inbox
        .tick(t0 + TimeDelta::minutes(3 * 60 + 12), 100)
        .await
        .unwrap();
    assert_eq!(r.sla_warnings, 1, "{r:?}");
    let r = f.inbox.tick(t0 + TimeDelta::hours(4), 100).await.unwrap();
    assert_eq!(r.sla_breaches, 1, "{r:?}");
    let conv = f.store.conversation(&f.acme(), &c).await.unwrap();
    assert_eq!(conv.priority, Priority::High, "raised");
    assert_eq!(conv.assignee, None, "returned to the queue");
    assert!(conv.tags.contains(&"sla-breached".to_string()));
    match &events(&f, "sla_breached")[0] {
        EventKind::SlaBreached {
            target, actions, ..
        } => {
            assert_eq!(target, "first_response");
            assert_eq!(
                actions,
                &[
                    "raise_priority",
                    "return_to_queue",
                    "tag:sla-breached",
                    "notify_supervisor"
                ]
            );
        }
        _ => unreachable!(),
    }
    assert_eq!(
        f.inbox
            .tick(t0 + TimeDelta::hours(5), 100)
            .await
            .unwrap()
            .sla_breaches,
        0,
        "fires once"
    );
    // A late answer does not turn a breach into "met".
    f.clock.set(t0 + TimeDelta::hours(5));
    let v = f.version(&c).await.unwrap();
    f.inbox
        .reply(
            &f.actor("sam"),
            &c,
            v,
            Reply::text("Sorry for the wait!", "r1"),
        )
        .await
        .unwrap();
    let conv = f.store.conversation(&f.acme(), &c).await.unwrap();
    let first = conv
        .sla
        .as_ref()
        .unwrap()
        .target(SlaTargetKind::FirstResponse)
        .unwrap();
    assert!(matches!(first.state, SlaTargetState::Breached { .. }));
    // The next customer message starts a next-response target, met in time.
    f.clock.set(t0 + TimeDelta::hours(6));
    f.customer_says("1001", "w2", "34600000002", "thanks, one more question")
        .await
        .unwrap();
    f.clock.set(t0 + TimeDelta::hours(7));
    let v = f.version(&c).await.unwrap();
    f.inbox
        .reply(&f.actor("sam"), &c, v, Reply::text("Sure!", "r2"))
        .await
        .unwrap();
    let met = events(&f, "sla_met");
    assert!(
        met.iter()
            .any(|e| matches!(e, EventKind::SlaMet { target, .. } if target == "next_response")),
        "{met:?}"
    );
    assert_eq!(
        f.inbox
            .tick(t0 + TimeDelta::hours(9), 100)
            .await
            .unwrap()
            .sla_breaches,
        0
    );
    // Resolving meets the resolution target.
    let v = f.version(&c).await.unwrap();
    f.inbox
        .set_status(&f.actor("sam"), &c, v, ConversationStatus::Resolved)
        .await
        .unwrap();
    assert!(events(&f, "sla_met")
        .iter()
        .any(|e| matches!(e, EventKind::SlaMet { target, .. } if target == "resolution")));
    assert_eq!(
        f.inbox
            .tick(t0 + TimeDelta::hours(48), 100)
            .await
            .unwrap()
            .total(),
        0,
        "nothing left to fire"
    );
}

#[tokio::test]
async fn waiting_on_the_customer_pauses_the_clock() {
    let mut p = policy(false);
    p.first_response_secs = None;
    p.next_response_secs = None;
    p.resolution_secs = Some(10 * 3600);
    p.on_breach = vec![];
    let f = fixture(SlaSettings {
        policies: vec![p],
        ..Default::default()
    })
    .await;
    let t0 = Fixture::start();
    let (c, _) = f
        .customer_says("1001", "w1", "34600000003", "please send a quote")
        .await
        .unwrap();
    // After 2 hours the agent asks for details and sets it pending.
    f.clock.set(t0 + TimeDelta::hours(2));
    f.inbox
        .reply(&f.actor("ana"), &c, 1, Reply::text("Which size?", "r1"))
        .await
        .unwrap();
    let v = f.version(&c).await.unwrap();
    f.inbox
        .set_status(&f.actor("ana"), &c, v, ConversationStatus::Pending)
        .await
        .unwrap();
    // The customer answers 20 hours later: the clock did not run meanwhile.
    assert_eq!(
        f.inbox
            .tick(t0 + TimeDelta::hours(12), 100)
            .await
            .unwrap()
            .sla_breaches,
        0
    );
    f.clock.set(t0 + TimeDelta::hours(22));
    f.customer_says("1001", "w2", "34600000003", "size 42")
        .await
        .unwrap();
    let conv = f.store.conversation(&f.acme(), &c).await.unwrap();
    let res = conv
        .sla
        .as_ref()
        .unwrap()
        .target(SlaTargetKind::Resolution)
        .unwrap()
        .clone();
    assert_eq!(res.state, SlaTargetState::Active);
    assert_eq!(
        res.due_at,
        t0 + TimeDelta::hours(30),
        "8 hours were left when it paused"
    );
    assert_eq!(
        f.inbox
            .tick(t0 + TimeDelta::hours(29), 100)
            .await
            .unwrap()
            .sla_breaches,
        0
    );
    assert_eq!(
        f.inbox
            .tick(t0 + TimeDelta::hours(30), 100)
            .await
            .unwrap()
            .sla_breaches,
        1
    );
}
