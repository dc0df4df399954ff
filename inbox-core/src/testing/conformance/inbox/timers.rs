//! Timers through the inbox: snoozes wake, window warnings fire once and
//! move, an early timer is re-armed.

use crate::testing::conformance::support::*;

/// A snoozed conversation wakes when its time comes, once, whatever the
/// number of ticks; a customer message before then wakes it and the stale
/// timer is cleared.
pub(crate) async fn snoozed_conversations_wake_on_tick_once<S: Store + AsDynStore + ?Sized>(
    store: Arc<S>,
) {
    let f = fixture(store).await;
    let c = says(&f, "1001", "w1", "34690100000", "call me back tomorrow").await;
    let until = f.clock.now() + TimeDelta::hours(20);
    f.inbox.snooze(&f.actor("ana"), &c, 1, until).await.unwrap();
    let tick = |minutes: i64| {
        let inbox = f.inbox.clone();
        async move {
            inbox
                .tick(Fixture::start() + TimeDelta::minutes(minutes), 100)
                .await
                .unwrap()
        }
    };
    assert_eq!(tick(60).await.total(), 0);
    let r = tick(20 * 60).await;
    assert_eq!(r.woken, 1, "{r:?}");
    let conv = f.store.conversation(&f.acme(), &c).await.unwrap();
    assert_eq!(
        (conv.status, conv.snoozed_until),
        (ConversationStatus::Open, None)
    );
    assert_eq!(
        tick(20 * 60).await.total(),
        0,
        "the same tick twice fires once"
    );
    assert_eq!(tick(30 * 60).await.woken, 0);
    let woke = f
        .store
        .conversation_events(&f.acme(), &c, 0)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| {
            matches!(
                e.kind,
                EventKind::StatusChanged {
                    from: ConversationStatus::Snoozed,
                    to: ConversationStatus::Open,
                    ..
                }
            )
        })
        .count();
    assert_eq!(woke, 1);
    // Snoozed again, but the customer writes first.
    let v = f.version(&c).await.unwrap();
    f.clock.set(Fixture::start() + TimeDelta::hours(21));
    f.inbox
        .snooze(
            &f.actor("ana"),
            &c,
            v,
            Fixture::start() + TimeDelta::hours(30),
        )
        .await
        .unwrap();
    f.customer_says("1001", "w2", "34690100000", "actually, now is fine")
        .await
        .unwrap();
    assert_eq!(
        f.store.conversation(&f.acme(), &c).await.unwrap().status,
        ConversationStatus::Open
    );
    let r = tick(31 * 60).await;
    assert_eq!(r.woken, 0, "{r:?}");
}

/// The window-closing warning fires the configured time before the
/// window closes, once, only while the customer waits for an answer.
pub(crate) async fn window_warning_fires_once_while_the_customer_waits<
    S: Store + AsDynStore + ?Sized,
>(
    store: Arc<S>,
) {
    let f = fixture(store).await;
    let c = says(&f, "1001", "w1", "34690200000", "hello?").await;
    let answered = says(&f, "1001", "w2", "34690200001", "hi").await;
    f.inbox
        .reply(
            &f.actor("ana"),
            &answered,
            1,
            reply("Hello! How can I help?", "r1"),
        )
        .await
        .unwrap();
    let at_hours = |h: i64| Fixture::start() + TimeDelta::hours(h);
    assert_eq!(
        f.inbox
            .tick(at_hours(22), 100)
            .await
            .unwrap()
            .window_warnings,
        0
    );
    let r = f.inbox.tick(at_hours(23), 100).await.unwrap();
    assert_eq!(r.window_warnings, 1, "only the waiting conversation: {r:?}");
    assert_eq!(f.inbox.tick(at_hours(23), 100).await.unwrap().total(), 0);
    let warned = window_warnings_of(&f, &c).await;
    assert_eq!(warned, [at_hours(24)]);
    // A new customer message opens a new window, and a new warning.
    f.clock.set(at_hours(30));
    f.customer_says("1001", "w3", "34690200000", "still there?")
        .await
        .unwrap();
    assert_eq!(
        f.inbox
            .tick(at_hours(53), 100)
            .await
            .unwrap()
            .window_warnings,
        1
    );
}

/// When each window-closing warning of `c` said the window closes.
async fn window_warnings_of(f: &Fixture, c: &ConversationId) -> Vec<DateTime<Utc>> {
    f.store
        .conversation_events(&f.acme(), c, 0)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|e| match e.kind {
            EventKind::WindowClosing { closes_at } => Some(closes_at),
            _ => None,
        })
        .collect()
}

/// A timer the store holds earlier than the state asks for (a snooze
/// extended between a tick reading the due timers and firing them, say)
/// is re-armed for the wanted time when it comes due, not cleared: the
/// conversation still wakes, on time.
pub(crate) async fn a_timer_due_before_its_time_is_rearmed_not_lost<
    S: Store + AsDynStore + ?Sized,
>(
    store: Arc<S>,
) {
    use crate::timer::{Timer, TimerChange, TimerKind};
    let f = fixture(store).await;
    let c = says(&f, "1001", "w1", "34690100000", "call me back tomorrow").await;
    let at = |h: i64| Fixture::start() + TimeDelta::hours(h);
    f.inbox
        .snooze(&f.actor("ana"), &c, 1, at(20))
        .await
        .unwrap();
    // The stored wake-up, moved to an earlier time behind the core's back.
    let current = f.store.conversation(&f.acme(), &c).await.unwrap();
    let mut next = current.clone();
    next.version += 1;
    let stale = Changeset {
        conversation: Some(Write {
            value: next,
            expected_version: Some(current.version),
        }),
        timers: vec![TimerChange::Set(Timer {
            tenant: f.acme(),
            conversation: c.clone(),
            kind: TimerKind::SnoozeWake,
            due_at: at(2),
        })],
        ..Changeset::new(f.acme())
    };
    f.store.commit(stale).await.unwrap();
    let r = f.inbox.tick(at(2), 100).await.unwrap();
    assert_eq!((r.woken, r.rearmed, r.cleared), (0, 1, 0), "{r:?}");
    assert_eq!(
        f.store.conversation(&f.acme(), &c).await.unwrap().status,
        ConversationStatus::Snoozed
    );
    assert_eq!(f.inbox.tick(at(19), 100).await.unwrap().total(), 0);
    assert_eq!(f.inbox.tick(at(20), 100).await.unwrap().woken, 1);
}

/// A customer message that moves the window later leaves the stored
/// warning where it was (a deferred timer): at its old time the tick
/// re-arms it instead of warning, and it warns at the new time, once.
pub(crate) async fn window_warning_moved_later_rearms_and_fires_on_time<
    S: Store + AsDynStore + ?Sized,
>(
    store: Arc<S>,
) {
    let f = fixture(store).await;
    let c = says(&f, "1001", "w1", "34690200000", "hello?").await;
    let at_hours = |h: i64| Fixture::start() + TimeDelta::hours(h);
    f.clock.set(at_hours(5));
    let same = says(&f, "1001", "w2", "34690200000", "anyone?").await;
    assert_eq!(same, c, "the second message continues the conversation");
    // The warning was not moved: it is still stored for 23 h.
    let due = f.store.due_timers(at_hours(23), 100).await.unwrap();
    assert_eq!(
        due.iter().map(|t| (t.kind, t.due_at)).collect::<Vec<_>>(),
        [(crate::timer::TimerKind::WindowWarning, at_hours(23))]
    );
    let r = f.inbox.tick(at_hours(23), 100).await.unwrap();
    assert_eq!((r.window_warnings, r.rearmed), (0, 1), "{r:?}");
    // Re-armed for an hour before the new close (5 h + 24 h).
    assert!(f
        .store
        .due_timers(at_hours(27), 100)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(f.inbox.tick(at_hours(27), 100).await.unwrap().total(), 0);
    let r = f.inbox.tick(at_hours(28), 100).await.unwrap();
    assert_eq!((r.window_warnings, r.rearmed), (1, 0), "{r:?}");
    assert_eq!(f.inbox.tick(at_hours(28), 100).await.unwrap().total(), 0);
    let warned = window_warnings_of(&f, &c).await;
    assert_eq!(warned, [at_hours(29)]);
}
