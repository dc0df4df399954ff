//! SLA simulations with a fake clock: business hours across a weekend and
//! a holiday, pause while pending, warning then breach then breach actions,
//! idempotent ticks.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use chrono::{DateTime, NaiveDate, TimeDelta, TimeZone, Utc};

use common::{conversation, reply, says, set_status, tick};
use std::sync::Arc;

use inbox_core::model::{ConversationStatus, Priority};
use inbox_core::ports::Store;
use inbox_core::routing::CalendarSpec;
use inbox_core::settings::TenantSettings;
use inbox_core::sla::{BreachAction, SlaPolicy, SlaTarget, SlaTargetKind, SlaTargetState};
use inbox_core::testing::Fixture;
use inbox_core::{ConversationId, EventKind};
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

/// A fixture whose tenant measures `policies` on `calendar` (always open
/// when `None`), through its settings.
async fn fixture(policies: Vec<SlaPolicy>, calendar: Option<CalendarSpec>) -> Fixture {
    let mut settings = TenantSettings::default();
    settings.sla.policies = policies;
    if let Some(calendar) = calendar {
        settings.routing.calendars.insert("hours".into(), calendar);
        settings.sla.calendar = Some("hours".into());
    }
    let store = Arc::new(MemoryStore::new()) as Arc<dyn Store>;
    Fixture::with_settings(store, settings).await.unwrap()
}

/// Madrid, 09:00-17:00 on weekdays, closed on `holidays`.
fn madrid(holidays: &[NaiveDate]) -> CalendarSpec {
    CalendarSpec {
        zone: "Europe/Madrid".into(),
        weekdays: vec!["09:00-17:00".into()],
        holidays: holidays.to_vec(),
        ..CalendarSpec::default()
    }
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
    let calendar = madrid(&[NaiveDate::from_ymd_opt(2026, 3, 9).unwrap()]);
    let f = fixture(vec![policy(true)], Some(calendar)).await;
    // Friday 6 March 2026, 15:00 Madrid (14:00 UTC): 2 business hours left
    // that day, then the weekend, the holiday, and 2 more hours on Tuesday.
    let friday = Utc.with_ymd_and_hms(2026, 3, 6, 14, 0, 0).unwrap();
    f.clock.set(friday);
    let c = says(&f, "w1", "34600000001", "my order is late").await;
    let first = target(&f, &c, SlaTargetKind::FirstResponse).await;
    // Due Tuesday 10 March 11:00 Madrid = 10:00 UTC.
    assert_eq!(first.due_at, utc(2026, 3, 10, 10, 0));
    // Warning at 80% = 3h12m of business time: Tuesday 10:12 Madrid.
    assert_eq!(first.warn_at, utc(2026, 3, 10, 9, 12));
    // Ticking through the weekend and the holiday fires nothing.
    for day in 0..4 {
        let r = tick(&f, friday + TimeDelta::days(day) + TimeDelta::hours(8)).await;
        assert_eq!(r.sla_warnings + r.sla_breaches, 0, "day {day}: {r:?}");
    }
    assert_eq!(tick(&f, first.warn_at).await.sla_warnings, 1);
    assert_eq!(tick(&f, first.warn_at).await.total(), 0, "same tick twice");
    assert_eq!(tick(&f, first.due_at).await.sla_breaches, 1);
    assert_eq!(events(&f, "sla_warning").len(), 1);
    assert_eq!(events(&f, "sla_breached").len(), 1);
}

#[tokio::test]
async fn warning_then_breach_then_actions_and_met_targets() {
    let f = fixture(vec![policy(false)], None).await;
    let t0 = Fixture::start();
    let c = says(&f, "w1", "34600000002", "hello").await;
    f.inbox.claim(&f.actor("ana"), &c, 1).await.unwrap();
    let r = tick(&f, t0 + TimeDelta::minutes(3 * 60 + 12)).await;
    assert_eq!(r.sla_warnings, 1, "{r:?}");
    let r = tick(&f, t0 + TimeDelta::hours(4)).await;
    assert_eq!(r.sla_breaches, 1, "{r:?}");
    let conv = conversation(&f, &c).await;
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
    let at = t0 + TimeDelta::hours(5);
    assert_eq!(tick(&f, at).await.sla_breaches, 0, "fires once");
    // A late answer does not turn a breach into "met".
    f.clock.set(at);
    let v = f.version(&c).await.unwrap();
    reply(&f, "sam", &c, v, "Sorry for the wait!", "r1").await;
    let first = target(&f, &c, SlaTargetKind::FirstResponse).await;
    assert!(matches!(first.state, SlaTargetState::Breached { .. }));
    // The next customer message starts a next-response target, met in time.
    f.clock.set(t0 + TimeDelta::hours(6));
    says(&f, "w2", "34600000002", "thanks, one more question").await;
    f.clock.set(t0 + TimeDelta::hours(7));
    let v = f.version(&c).await.unwrap();
    reply(&f, "sam", &c, v, "Sure!", "r2").await;
    let met = events(&f, "sla_met");
    assert!(
        met.iter()
            .any(|e| matches!(e, EventKind::SlaMet { target, .. } if target == "next_response")),
        "{met:?}"
    );
    assert_eq!(tick(&f, t0 + TimeDelta::hours(9)).await.sla_breaches, 0);
    // Resolving meets the resolution target.
    set_status(&f, "sam", &c, ConversationStatus::Resolved).await;
    assert!(events(&f, "sla_met")
        .iter()
        .any(|e| matches!(e, EventKind::SlaMet { target, .. } if target == "resolution")));
    let later = t0 + TimeDelta::hours(48);
    assert_eq!(tick(&f, later).await.total(), 0, "nothing left to fire");
}

#[tokio::test]
async fn waiting_on_the_customer_pauses_the_clock() {
    let mut p = policy(false);
    p.first_response_secs = None;
    p.next_response_secs = None;
    p.resolution_secs = Some(10 * 3600);
    p.on_breach = vec![];
    let f = fixture(vec![p], None).await;
    let t0 = Fixture::start();
    let c = says(&f, "w1", "34600000003", "please send a quote").await;
    // After 2 hours the agent asks for details and sets it pending.
    f.clock.set(t0 + TimeDelta::hours(2));
    reply(&f, "ana", &c, 1, "Which size?", "r1").await;
    set_status(&f, "ana", &c, ConversationStatus::Pending).await;
    // The customer answers 20 hours later: the clock did not run meanwhile.
    assert_eq!(tick(&f, t0 + TimeDelta::hours(12)).await.sla_breaches, 0);
    f.clock.set(t0 + TimeDelta::hours(22));
    says(&f, "w2", "34600000003", "size 42").await;
    let res = target(&f, &c, SlaTargetKind::Resolution).await;
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
    assert_eq!(tick(&f, t0 + TimeDelta::hours(29)).await.sla_breaches, 0);
    assert_eq!(tick(&f, t0 + TimeDelta::hours(30)).await.sla_breaches, 1);
}

/// `y-m-d h:m` UTC.
fn utc(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, h, min, 0).unwrap()
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

async fn hour_fixture(kind: SlaTargetKind, calendar: Option<CalendarSpec>) -> Fixture {
    let business_hours = calendar.is_some();
    fixture(vec![hour_target(kind, business_hours)], calendar).await
}

/// Starts a target of `kind` at `t0` on a new conversation: the customer's
/// first message (first response, resolution), or their next one after an
/// answer (next response).
async fn start_target(f: &Fixture, kind: SlaTargetKind, t0: DateTime<Utc>) -> ConversationId {
    if kind == SlaTargetKind::NextResponse {
        f.clock.set(t0 - MIN(30));
        let c = says(f, "n0", "34600000009", "hi").await;
        f.clock.set(t0 - MIN(20));
        f.claim_and_reply(&f.actor("ana"), &c, "Hello!", "n1")
            .await
            .unwrap();
    }
    f.clock.set(t0);
    let c = says(f, "w0", "34600000009", "where is my order?").await;
    let t = target(f, &c, kind).await;
    assert_eq!((t.started_at, t.state), (t0, SlaTargetState::Active));
    c
}

/// A one-hour target of `kind` in wall-clock time, started at the
/// fixture's start on a new conversation.
async fn started(kind: SlaTargetKind) -> (Fixture, DateTime<Utc>, ConversationId) {
    let f = hour_fixture(kind, None).await;
    let t0 = Fixture::start();
    let c = start_target(&f, kind, t0).await;
    (f, t0, c)
}

async fn target(f: &Fixture, c: &ConversationId, kind: SlaTargetKind) -> SlaTarget {
    let conv = conversation(f, c).await;
    conv.sla.unwrap().target(kind).unwrap().clone()
}

/// Snoozes at `at` until `until`.
async fn snooze(f: &Fixture, c: &ConversationId, at: DateTime<Utc>, until: DateTime<Utc>) {
    f.clock.set(at);
    let v = f.version(c).await.unwrap();
    f.inbox.snooze(&f.actor("ana"), c, v, until).await.unwrap();
}

/// Wakes the snoozed conversation with a tick at `at`.
async fn wake(f: &Fixture, at: DateTime<Utc>) {
    f.clock.set(at);
    assert_eq!(tick(f, at).await.woken, 1);
}

/// Snoozes at `at` until `until`, and wakes it with a tick at `until`.
async fn snooze_and_wake(f: &Fixture, c: &ConversationId, at: DateTime<Utc>, until: DateTime<Utc>) {
    snooze(f, c, at, until).await;
    wake(f, until).await;
}

/// Ticks at `at`, returning (warnings, breaches) fired.
async fn fire(f: &Fixture, at: DateTime<Utc>) -> (u32, u32) {
    let r = tick(f, at).await;
    (r.sla_warnings, r.sla_breaches)
}

/// Ticks at `from` plus each number of minutes in turn and checks the
/// (warnings, breaches) each tick fires.
async fn fires(f: &Fixture, from: DateTime<Utc>, expected: &[(i64, (u32, u32))]) {
    for &(after, fired) in expected {
        assert_eq!(fire(f, from + MIN(after)).await, fired, "{after} min");
    }
}

/// The issue's example for one kind of target: 60 minutes, warning at
/// 80 %, 20 minutes elapsed before a snooze; after the wake the warning
/// comes 28 minutes later (not 32) and the breach 40 minutes later.
async fn the_issue_example(kind: SlaTargetKind) {
    let (f, t0, c) = started(kind).await;
    let resume = t0 + TimeDelta::hours(3);
    snooze(&f, &c, t0 + MIN(20), resume).await;
    assert!(matches!(
        target(&f, &c, kind).await.state,
        SlaTargetState::Paused { .. }
    ));
    assert_eq!(fire(&f, t0 + TimeDelta::hours(2)).await, (0, 0), "paused");
    wake(&f, resume).await;
    let t = target(&f, &c, kind).await;
    assert_eq!(t.state, SlaTargetState::Active);
    assert_eq!(t.warn_at, resume + MIN(28), "{kind:?}: 48 of 60 minutes");
    assert_eq!(t.due_at, resume + MIN(40), "{kind:?}");
    let expected = [(27, (0, 0)), (28, (1, 0)), (39, (0, 0)), (40, (0, 1))];
    fires(&f, resume, &expected).await;
}

/// The same in business hours (Madrid, 09:00-17:00 on weekdays): 20
/// business minutes before a snooze over the night; after the wake, 10
/// business minutes are left that day, so the warning (28 more business
/// minutes) and the breach (40) fall on the next morning.
async fn the_issue_example_in_business_hours(kind: SlaTargetKind) {
    let f = hour_fixture(kind, Some(madrid(&[]))).await;
    // Monday 2 March 2026, 16:20 in Madrid (UTC+1).
    let t0 = utc(2026, 3, 2, 15, 20);
    let c = start_target(&f, kind, t0).await;
    let t = target(&f, &c, kind).await;
    // Before the pause: 40 minutes on Monday, 8 on Tuesday from 09:00.
    assert_eq!(t.warn_at, utc(2026, 3, 3, 8, 8));
    // Snoozed at 16:40 until Tuesday 16:50: a night and a day pass.
    snooze_and_wake(&f, &c, t0 + MIN(20), utc(2026, 3, 3, 15, 50)).await;
    let t = target(&f, &c, kind).await;
    // 10 business minutes on Tuesday, 18 (warning) and 30 (due) on
    // Wednesday from 09:00 Madrid (08:00 UTC).
    let wednesday = utc(2026, 3, 4, 8, 0);
    assert_eq!(t.warn_at, wednesday + MIN(18), "{kind:?}");
    assert_eq!(t.due_at, wednesday + MIN(30), "{kind:?}");
    fires(&f, wednesday, &[(17, (0, 0)), (18, (1, 0)), (30, (0, 1))]).await;
}

/// One test per kind of target, each running `$scenario` for its kind.
macro_rules! for_each_kind {
    ($scenario:ident: $first:ident, $next:ident, $resolution:ident) => {
        #[tokio::test]
        async fn $first() {
            $scenario(SlaTargetKind::FirstResponse).await;
        }
        #[tokio::test]
        async fn $next() {
            $scenario(SlaTargetKind::NextResponse).await;
        }
        #[tokio::test]
        async fn $resolution() {
            $scenario(SlaTargetKind::Resolution).await;
        }
    };
}

for_each_kind!(the_issue_example:
    first_response_warns_at_its_share_of_the_whole_target_after_a_pause,
    next_response_warns_at_its_share_of_the_whole_target_after_a_pause,
    resolution_warns_at_its_share_of_the_whole_target_after_a_pause
);

for_each_kind!(the_issue_example_in_business_hours:
    first_response_warning_after_a_pause_counts_business_time,
    next_response_warning_after_a_pause_counts_business_time,
    resolution_warning_after_a_pause_counts_business_time
);

#[tokio::test]
async fn several_pauses_add_up() {
    let kind = SlaTargetKind::FirstResponse;
    let (f, t0, c) = started(kind).await;
    // 10 minutes, then pending for an hour, reopened by the agent.
    f.clock.set(t0 + MIN(10));
    set_status(&f, "ana", &c, ConversationStatus::Pending).await;
    let r1 = t0 + MIN(70);
    f.clock.set(r1);
    set_status(&f, "ana", &c, ConversationStatus::Open).await;
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
    set_status(&f, "ana", &c, ConversationStatus::Pending).await;
    let r3 = r2 + TimeDelta::hours(5);
    f.clock.set(r3);
    says(&f, "w1", "34600000009", "hello?").await;
    let t = target(&f, &c, kind).await;
    assert_eq!(t.state, SlaTargetState::Active);
    assert_eq!((t.warn_at, t.due_at), (r3 + MIN(18), r3 + MIN(30)));
    fires(&f, r3, &[(17, (0, 0)), (18, (1, 0)), (30, (0, 1))]).await;
}

/// Paused after the warning's share had elapsed but before any tick fired
/// it: the warning is due at the resume, not skipped and not moved later.
#[tokio::test]
async fn a_warning_that_came_due_before_the_pause_fires_at_the_resume() {
    let kind = SlaTargetKind::FirstResponse;
    let (f, t0, c) = started(kind).await;
    let resume = t0 + TimeDelta::hours(2);
    // 50 of 60 minutes gone (the warning was due at 48), nobody ticked.
    snooze_and_wake(&f, &c, t0 + MIN(50), resume).await;
    let t = target(&f, &c, kind).await;
    assert!(!t.warned);
    assert_eq!((t.warn_at, t.due_at), (resume, resume + MIN(10)));
    assert_eq!(fire(&f, resume).await, (1, 0), "warned at the resume");
    fires(&f, resume, &[(9, (0, 0)), (10, (0, 1))]).await;
    assert_eq!(events(&f, "sla_warning").len(), 1);
}

/// A warning that fired before the pause does not fire again after it.
#[tokio::test]
async fn a_warning_fired_before_the_pause_is_not_repeated() {
    let kind = SlaTargetKind::Resolution;
    let (f, t0, c) = started(kind).await;
    assert_eq!(fire(&f, t0 + MIN(48)).await, (1, 0));
    let resume = t0 + TimeDelta::hours(2);
    snooze_and_wake(&f, &c, t0 + MIN(50), resume).await;
    let t = target(&f, &c, kind).await;
    assert!(t.warned);
    assert_eq!(t.due_at, resume + MIN(10));
    fires(&f, resume, &[(9, (0, 0)), (10, (0, 1))]).await;
    assert_eq!(events(&f, "sla_warning").len(), 1);
}

/// The live snapshot counts the conversation at risk from the corrected
/// warning instant (28 minutes after the resume in the issue's example).
#[tokio::test]
async fn the_live_snapshot_puts_a_resumed_target_at_risk_at_its_share_of_the_whole() {
    use inbox_core::metrics::LiveQuery;
    let (f, t0, c) = started(SlaTargetKind::FirstResponse).await;
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
