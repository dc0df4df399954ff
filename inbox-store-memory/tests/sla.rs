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
        res.warn_at,
        t0 + TimeDelta::hours(28),
        "the warning at 8 of the 10 hours: 2 before the pause, 6 after"
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

// Warnings after a pause (issue 21 §4): a target paused and resumed warns
// when the configured share of the *whole* target has elapsed, counting
// the (business) time before and after the pause.

const MIN: fn(i64) -> TimeDelta = TimeDelta::minutes;

/// One 60-minute target of `kind`, warning at 80 %, no breach actions.
fn hour_target(kind: SlaTargetKind, business_hours: bool) -> SlaPolicy {
    let secs = |k: SlaTargetKind| (k == kind).then_some(3600);
    SlaPolicy {
        id: "hour".into(),
        applies: Default::default(),
        first_response_secs: secs(SlaTargetKind::FirstResponse),
        next_response_secs: secs(SlaTargetKind::NextResponse),
        resolution_secs: secs(SlaTargetKind::Resolution),
        business_hours,
        warn_at_percent: 80,
        on_breach: vec![],
    }
}

async fn hour_fixture(kind: SlaTargetKind, calendar: Option<Calendar>) -> Fixture {
    let business_hours = calendar.is_some();
    fixture(SlaSettings {
        policies: vec![hour_target(kind, business_hours)],
        calendar: calendar.unwrap_or_else(Calendar::always),
        ..Default::default()
    })
    .await
}

/// Starts a target of `kind` at `t0` on a new conversation: the customer's
/// first message (first response, resolution), or their next one after an
/// answer (next response).
async fn start_target(
    f: &Fixture,
    kind: SlaTargetKind,
    t0: chrono::DateTime<Utc>,
) -> inbox_core::ConversationId {
    if kind == SlaTargetKind::NextResponse {
        f.clock.set(t0 - MIN(30));
        let (c, _) = f
            .customer_says("1001", "n0", "34600000009", "hi")
            .await
            .unwrap();
        f.clock.set(t0 - MIN(20));
        f.claim_and_reply(&f.actor("ana"), &c, "Hello!", "n1")
            .await
            .unwrap();
    }
    f.clock.set(t0);
    let (c, _) = f
        .customer_says("1001", "w0", "34600000009", "where is my order?")
        .await
        .unwrap();
    let t = target(f, &c, kind).await;
    assert_eq!((t.started_at, t.state), (t0, SlaTargetState::Active));
    c
}

async fn target(
    f: &Fixture,
    c: &inbox_core::ConversationId,
    kind: SlaTargetKind,
) -> inbox_core::sla::SlaTarget {
    let conv = f.store.conversation(&f.acme(), c).await.unwrap();
    conv.sla.unwrap().target(kind).unwrap().clone()
}

/// Snoozes at `at` until `until`, and wakes it with a tick at `until`.
async fn snooze_and_wake(
    f: &Fixture,
    c: &inbox_core::ConversationId,
    at: chrono::DateTime<Utc>,
    until: chrono::DateTime<Utc>,
) {
    f.clock.set(at);
    let v = f.version(c).await.unwrap();
    f.inbox.snooze(&f.actor("ana"), c, v, until).await.unwrap();
    f.clock.set(until);
    assert_eq!(f.inbox.tick(until, 100).await.unwrap().woken, 1);
}

/// Ticks at `at`, returning (warnings, breaches) fired.
async fn fire(f: &Fixture, at: chrono::DateTime<Utc>) -> (u32, u32) {
    let r = f.inbox.tick(at, 100).await.unwrap();
    (r.sla_warnings, r.sla_breaches)
}

/// The issue's example for one kind of target: 60 minutes, warning at
/// 80 %, 20 minutes elapsed before a snooze; after the wake the warning
/// comes 28 minutes later (not 32) and the breach 40 minutes later.
async fn the_issue_example(kind: SlaTargetKind) {
    let f = hour_fixture(kind, None).await;
    let t0 = Fixture::start();
    let c = start_target(&f, kind, t0).await;
    let resume = t0 + TimeDelta::hours(3);
    f.clock.set(t0 + MIN(20));
    let v = f.version(&c).await.unwrap();
    f.inbox
        .snooze(&f.actor("ana"), &c, v, resume)
        .await
        .unwrap();
    assert!(matches!(
        target(&f, &c, kind).await.state,
        SlaTargetState::Paused { .. }
    ));
    assert_eq!(fire(&f, t0 + TimeDelta::hours(2)).await, (0, 0), "paused");
    f.clock.set(resume);
    assert_eq!(f.inbox.tick(resume, 100).await.unwrap().woken, 1);
    let t = target(&f, &c, kind).await;
    assert_eq!(t.state, SlaTargetState::Active);
    assert_eq!(t.warn_at, resume + MIN(28), "{kind:?}: 48 of 60 minutes");
    assert_eq!(t.due_at, resume + MIN(40), "{kind:?}");
    assert_eq!(fire(&f, resume + MIN(27)).await, (0, 0));
    assert_eq!(fire(&f, resume + MIN(28)).await, (1, 0));
    assert_eq!(fire(&f, resume + MIN(39)).await, (0, 0));
    assert_eq!(fire(&f, resume + MIN(40)).await, (0, 1));
}

#[tokio::test]
async fn first_response_warns_at_its_share_of_the_whole_target_after_a_pause() {
    the_issue_example(SlaTargetKind::FirstResponse).await;
}

#[tokio::test]
async fn next_response_warns_at_its_share_of_the_whole_target_after_a_pause() {
    the_issue_example(SlaTargetKind::NextResponse).await;
}

#[tokio::test]
async fn resolution_warns_at_its_share_of_the_whole_target_after_a_pause() {
    the_issue_example(SlaTargetKind::Resolution).await;
}

/// The same in business hours (Madrid, 09:00-17:00 on weekdays): 20
/// business minutes before a snooze over the night; after the wake, 10
/// business minutes are left that day, so the warning (28 more business
/// minutes) and the breach (40) fall on the next morning.
async fn the_issue_example_in_business_hours(kind: SlaTargetKind) {
    let calendar = Calendar::weekdays("Europe/Madrid", &["09:00-17:00"]).unwrap();
    let f = hour_fixture(kind, Some(calendar)).await;
    // Monday 2 March 2026, 16:20 in Madrid (UTC+1).
    let t0 = Utc.with_ymd_and_hms(2026, 3, 2, 15, 20, 0).unwrap();
    let c = start_target(&f, kind, t0).await;
    let t = target(&f, &c, kind).await;
    // Before the pause: 40 minutes on Monday, 8 on Tuesday from 09:00.
    assert_eq!(
        t.warn_at,
        Utc.with_ymd_and_hms(2026, 3, 3, 8, 8, 0).unwrap()
    );
    // Snoozed at 16:40 until Tuesday 16:50: a night and a day pass.
    let wake = Utc.with_ymd_and_hms(2026, 3, 3, 15, 50, 0).unwrap();
    snooze_and_wake(&f, &c, t0 + MIN(20), wake).await;
    let t = target(&f, &c, kind).await;
    // 10 business minutes on Tuesday, 18 (warning) and 30 (due) on
    // Wednesday from 09:00 Madrid (08:00 UTC).
    let wednesday = Utc.with_ymd_and_hms(2026, 3, 4, 8, 0, 0).unwrap();
    assert_eq!(t.warn_at, wednesday + MIN(18), "{kind:?}");
    assert_eq!(t.due_at, wednesday + MIN(30), "{kind:?}");
    assert_eq!(fire(&f, wednesday + MIN(17)).await, (0, 0));
    assert_eq!(fire(&f, wednesday + MIN(18)).await, (1, 0));
    assert_eq!(fire(&f, wednesday + MIN(30)).await, (0, 1));
}

#[tokio::test]
async fn first_response_warning_after_a_pause_counts_business_time() {
    the_issue_example_in_business_hours(SlaTargetKind::FirstResponse).await;
}

#[tokio::test]
async fn next_response_warning_after_a_pause_counts_business_time() {
    the_issue_example_in_business_hours(SlaTargetKind::NextResponse).await;
}

#[tokio::test]
async fn resolution_warning_after_a_pause_counts_business_time() {
    the_issue_example_in_business_hours(SlaTargetKind::Resolution).await;
}

#[tokio::test]
async fn several_pauses_add_up() {
    let kind = SlaTargetKind::FirstResponse;
    let f = hour_fixture(kind, None).await;
    let t0 = Fixture::start();
    let c = start_target(&f, kind, t0).await;
    // 10 minutes, then pending for an hour, reopened by the agent.
    f.clock.set(t0 + MIN(10));
    let v = f.version(&c).await.unwrap();
    f.inbox
        .set_status(&f.actor("ana"), &c, v, ConversationStatus::Pending)
        .await
        .unwrap();
    let r1 = t0 + MIN(70);
    f.clock.set(r1);
    let v = f.version(&c).await.unwrap();
    f.inbox
        .set_status(&f.actor("ana"), &c, v, ConversationStatus::Open)
        .await
        .unwrap();
    let t = target(&f, &c, kind).await;
    assert_eq!((t.warn_at, t.due_at), (r1 + MIN(38), r1 + MIN(50)));
    // 10 more minutes, then snoozed for two hours.
    let r2 = r1 + MIN(130);
    snooze_and_wake(&f, &c, r1 + MIN(10), r2).await;
    let t = target(&f, &c, kind).await;
    assert_eq!((t.warn_at, t.due_at), (r2 + MIN(28), r2 + MIN(40)));
    // 10 more minutes, pending again; the customer writes: 30 of the 60
    // minutes are gone, 18 are left before the warning.
    f.clock.set(r2 + MIN(10));
    let v = f.version(&c).await.unwrap();
    f.inbox
        .set_status(&f.actor("ana"), &c, v, ConversationStatus::Pending)
        .await
        .unwrap();
    let r3 = r2 + TimeDelta::hours(5);
    f.clock.set(r3);
    f.customer_says("1001", "w1", "34600000009", "hello?")
        .await
        .unwrap();
    let t = target(&f, &c, kind).await;
    assert_eq!(t.state, SlaTargetState::Active);
    assert_eq!((t.warn_at, t.due_at), (r3 + MIN(18), r3 + MIN(30)));
    assert_eq!(fire(&f, r3 + MIN(17)).await, (0, 0));
    assert_eq!(fire(&f, r3 + MIN(18)).await, (1, 0));
    assert_eq!(fire(&f, r3 + MIN(30)).await, (0, 1));
}

/// Paused after the warning's share had elapsed but before any tick fired
/// it: the warning is due at the resume, not skipped and not moved later.
#[tokio::test]
async fn a_warning_that_came_due_before_the_pause_fires_at_the_resume() {
    let kind = SlaTargetKind::FirstResponse;
    let f = hour_fixture(kind, None).await;
    let t0 = Fixture::start();
    let c = start_target(&f, kind, t0).await;
    let resume = t0 + TimeDelta::hours(2);
    // 50 of 60 minutes gone (the warning was due at 48), nobody ticked.
    snooze_and_wake(&f, &c, t0 + MIN(50), resume).await;
    let t = target(&f, &c, kind).await;
    assert!(!t.warned);
    assert_eq!((t.warn_at, t.due_at), (resume, resume + MIN(10)));
    assert_eq!(fire(&f, resume).await, (1, 0), "warned at the resume");
    assert_eq!(fire(&f, resume + MIN(9)).await, (0, 0));
    assert_eq!(fire(&f, resume + MIN(10)).await, (0, 1));
    assert_eq!(events(&f, "sla_warning").len(), 1);
}

/// A warning that fired before the pause does not fire again after it.
#[tokio::test]
async fn a_warning_fired_before_the_pause_is_not_repeated() {
    let kind = SlaTargetKind::Resolution;
    let f = hour_fixture(kind, None).await;
    let t0 = Fixture::start();
    let c = start_target(&f, kind, t0).await;
    assert_eq!(fire(&f, t0 + MIN(48)).await, (1, 0));
    let resume = t0 + TimeDelta::hours(2);
    snooze_and_wake(&f, &c, t0 + MIN(50), resume).await;
    let t = target(&f, &c, kind).await;
    assert!(t.warned);
    assert_eq!(t.due_at, resume + MIN(10));
    assert_eq!(fire(&f, resume + MIN(9)).await, (0, 0));
    assert_eq!(fire(&f, resume + MIN(10)).await, (0, 1));
    assert_eq!(events(&f, "sla_warning").len(), 1);
}

/// The live snapshot counts the conversation at risk from the corrected
/// warning instant (28 minutes after the resume in the issue's example).
#[tokio::test]
async fn the_live_snapshot_puts_a_resumed_target_at_risk_at_its_share_of_the_whole() {
    use inbox_core::metrics::LiveQuery;
    let kind = SlaTargetKind::FirstResponse;
    let f = hour_fixture(kind, None).await;
    let t0 = Fixture::start();
    let c = start_target(&f, kind, t0).await;
    let resume = t0 + TimeDelta::hours(3);
    snooze_and_wake(&f, &c, t0 + MIN(20), resume).await;
    let sam = f.actor("sam");
    for (after, expected) in [(27, (0, 0)), (28, (1, 0)), (39, (1, 0)), (40, (0, 1))] {
        let at = resume + MIN(after);
        f.clock.set(at);
        let s = f
            .inbox
            .live_snapshot(&sam, LiveQuery::at(at))
            .await
            .unwrap();
        assert_eq!((s.sla_at_risk, s.sla_breached), expected, "{after} min");
    }
}
