//! Timers through the inbox: snoozes wake, window warnings fire once and
//! move, an early timer is re-armed.

use crate::testing::conformance::support::*;

/// A snoozed conversation wakes when its time comes, once, whatever the
/// number of ticks; a customer message before then wakes it and the stale
/// timer is cleared.
pub(crate) async fn snoozed_conversations_wake_on_tick_once<S: Store + AsDynStore + ?Sized>(
    store: Arc<S>,
) {
    let (f, c) = opened(store, "34690100000", "call me back tomorrow").await;
    let until = f.clock.now() + TimeDelta::hours(20);
    f.inbox.snooze(&f.actor("ana"), &c, 1, until).await.unwrap();
    assert_eq!(tick(&f, hours(1)).await.total(), 0);
    let r = tick(&f, hours(20)).await;
    assert_eq!(r.woken, 1, "{r:?}");
    let conv = stored(&f, &c).await;
    let open = ConversationStatus::Open;
    assert_eq!((conv.status, conv.snoozed_until), (open, None));
    let twice = tick(&f, hours(20)).await.total();
    assert_eq!(twice, 0, "the same tick twice fires once");
    assert_eq!(tick(&f, hours(30)).await.woken, 0);
    let woke = count_events(&f, &c, |kind| {
        matches!(
            kind,
            EventKind::StatusChanged {
                from: ConversationStatus::Snoozed,
                to: ConversationStatus::Open,
                ..
            }
        )
    });
    assert_eq!(woke.await, 1);
    // Snoozed again, but the customer writes first.
    let v = f.version(&c).await.unwrap();
    f.clock.set(hours(21));
    let ana = f.actor("ana");
    f.inbox.snooze(&ana, &c, v, hours(30)).await.unwrap();
    let again = f.customer_says("1001", "w2", "34690100000", "actually, now is fine");
    again.await.unwrap();
    assert_eq!(stored(&f, &c).await.status, open);
    let r = tick(&f, hours(31)).await;
    assert_eq!(r.woken, 0, "{r:?}");
}

/// The window-closing warning fires the configured time before the
/// window closes, once, only while the customer waits for an answer.
pub(crate) async fn window_warning_fires_once_while_the_customer_waits<
    S: Store + AsDynStore + ?Sized,
>(
    store: Arc<S>,
) {
    let (f, c) = opened(store, "34690200000", "hello?").await;
    let answered = says(&f, "1001", "w2", "34690200001", "hi").await;
    replied(&f, "ana", &answered, 1, "Hello! How can I help?", "r1").await;
    assert_eq!(tick(&f, hours(22)).await.window_warnings, 0);
    let r = tick(&f, hours(23)).await;
    assert_eq!(r.window_warnings, 1, "only the waiting conversation: {r:?}");
    assert_eq!(tick(&f, hours(23)).await.total(), 0);
    let warned = window_warnings_of(&f, &c).await;
    assert_eq!(warned, [hours(24)]);
    // A new customer message opens a new window, and a new warning.
    f.clock.set(hours(30));
    let again = f.customer_says("1001", "w3", "34690200000", "still there?");
    again.await.unwrap();
    assert_eq!(tick(&f, hours(53)).await.window_warnings, 1);
}

/// When each window-closing warning of `c` said the window closes.
async fn window_warnings_of(f: &Fixture, c: &ConversationId) -> Vec<DateTime<Utc>> {
    let events = events_of(f, c).await;
    events
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
    let (f, c) = opened(store, "34690100000", "call me back tomorrow").await;
    let ana = f.actor("ana");
    f.inbox.snooze(&ana, &c, 1, hours(20)).await.unwrap();
    // The stored wake-up, moved to an earlier time behind the core's back.
    let current = stored(&f, &c).await;
    let stale = Changeset {
        conversation: Some(update(&current)),
        timers: vec![TimerChange::Set(Timer {
            tenant: f.acme(),
            conversation: c.clone(),
            kind: TimerKind::SnoozeWake,
            due_at: hours(2),
        })],
        ..Changeset::new(f.acme())
    };
    f.store.commit(stale).await.unwrap();
    let r = tick(&f, hours(2)).await;
    assert_eq!((r.woken, r.rearmed, r.cleared), (0, 1, 0), "{r:?}");
    let status = stored(&f, &c).await.status;
    assert_eq!(status, ConversationStatus::Snoozed);
    assert_eq!(tick(&f, hours(19)).await.total(), 0);
    assert_eq!(tick(&f, hours(20)).await.woken, 1);
}

/// A customer message that moves the window later leaves the stored
/// warning where it was (a deferred timer): at its old time the tick
/// re-arms it instead of warning, and it warns at the new time, once.
pub(crate) async fn window_warning_moved_later_rearms_and_fires_on_time<
    S: Store + AsDynStore + ?Sized,
>(
    store: Arc<S>,
) {
    let (f, c) = opened(store, "34690200000", "hello?").await;
    f.clock.set(hours(5));
    let same = says(&f, "1001", "w2", "34690200000", "anyone?").await;
    assert_eq!(same, c, "the second message continues the conversation");
    // The warning was not moved: it is still stored for 23 h.
    let due = f.store.due_timers(hours(23), 100).await.unwrap();
    assert_eq!(
        due.iter().map(|t| (t.kind, t.due_at)).collect::<Vec<_>>(),
        [(crate::timer::TimerKind::WindowWarning, hours(23))]
    );
    let r = tick(&f, hours(23)).await;
    assert_eq!((r.window_warnings, r.rearmed), (0, 1), "{r:?}");
    // Re-armed for an hour before the new close (5 h + 24 h).
    let due = f.store.due_timers(hours(27), 100).await.unwrap();
    assert!(due.is_empty());
    assert_eq!(tick(&f, hours(27)).await.total(), 0);
    let r = tick(&f, hours(28)).await;
    assert_eq!((r.window_warnings, r.rearmed), (1, 0), "{r:?}");
    assert_eq!(tick(&f, hours(28)).await.total(), 0);
    let warned = window_warnings_of(&f, &c).await;
    assert_eq!(warned, [hours(29)]);
}
