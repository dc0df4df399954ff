//! The [`SubscriptionLog`] contract: the durable state of subscriptions,
//! the outbound deliveries of events.

use crate::testing::conformance::support::*;

fn event(tenant: &TenantId, seq: u64) -> Event {
    let mut e = Event::new(
        tenant.clone(),
        Fixture::start(),
        EventActor::System,
        EventKind::AutomationStopped {
            rules: vec![format!("r{seq}")],
            rounds: 1,
            dropped: Vec::new(),
        },
    );
    e.seq = seq;
    e
}

/// Positions only move forward; retries and dead letters are kept per
/// tenant and subscription, due retries come earliest first, and settling
/// delivers, reschedules, kills or revives them; the event survives intact.
pub async fn subscription_log_keeps_positions_retries_and_dead_letters<
    S: SubscriptionLog + ?Sized,
>(
    log: Arc<S>,
) {
    let acme: TenantId = id("acme");
    let globex: TenantId = id("globex");
    let t0 = Fixture::start();
    let at = |m: i64| t0 + TimeDelta::minutes(m);
    let retry = |seq: u64, due_min: i64| SubscriptionRetry {
        subscription: "crm".into(),
        event: event(&acme, seq),
        attempts: 1,
        due: at(due_min),
        last_error: "HTTP 503".into(),
    };
    let crm = SubscriptionKey::of(&acme, "crm");
    assert_eq!(log.subscription_position(crm).await.unwrap(), None);

    // Events 1-5 read: 2 and 4 to retry, 5 dead.
    let dead5 = SubscriptionDeadLetter {
        subscription: "crm".into(),
        event: event(&acme, 5),
        attempts: 1,
        last_error: "HTTP 410".into(),
        failed_at: at(0),
    };
    let commit = SubscriptionCommit {
        position: 5,
        retries: vec![retry(4, 2), retry(2, 1)],
        dead: vec![dead5.clone()],
    };
    log.subscription_commit(crm, commit).await.unwrap();
    assert_eq!(log.subscription_position(crm).await.unwrap(), Some(5));
    // A commit behind the position records its letters but keeps it.
    log.subscription_commit(crm, SubscriptionCommit::at(3))
        .await
        .unwrap();
    assert_eq!(log.subscription_position(crm).await.unwrap(), Some(5));
    // Nothing leaks to another subscription or tenant.
    assert_eq!(
        log.subscription_position(SubscriptionKey::of(&acme, "erp"))
            .await
            .unwrap(),
        None
    );
    let globex_crm = SubscriptionKey::of(&globex, "crm");
    assert_eq!(log.subscription_position(globex_crm).await.unwrap(), None);
    assert!(log
        .subscription_due_retries(globex_crm, at(60), 10)
        .await
        .unwrap()
        .is_empty());
    assert!(log
        .subscription_dead_letters(globex_crm)
        .await
        .unwrap()
        .is_empty());

    // Due retries: earliest first, limited, intact.
    assert!(log
        .subscription_due_retries(crm, at(0), 10)
        .await
        .unwrap()
        .is_empty());
    let due = log.subscription_due_retries(crm, at(5), 10).await.unwrap();
    assert_eq!(due, vec![retry(2, 1), retry(4, 2)]);
    let first = log.subscription_due_retries(crm, at(5), 1).await.unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].event.seq, 2);

    // 2 is delivered; 4 fails again and waits; then dies.
    log.subscription_settle(crm, 2, DeliveryOutcome::Delivered)
        .await
        .unwrap();
    log.subscription_settle(
        crm,
        4,
        DeliveryOutcome::Retry {
            attempts: 2,
            due: at(10),
            last_error: "timeout".into(),
        },
    )
    .await
    .unwrap();
    let due = log.subscription_due_retries(crm, at(9), 10).await.unwrap();
    assert!(due.is_empty(), "{due:?}");
    let due = log.subscription_due_retries(crm, at(10), 10).await.unwrap();
    assert_eq!(
        (due.len(), due[0].attempts, due[0].last_error.as_str()),
        (1, 2, "timeout")
    );
    log.subscription_settle(
        crm,
        4,
        DeliveryOutcome::Dead {
            attempts: 3,
            last_error: "HTTP 500".into(),
            failed_at: at(10),
        },
    )
    .await
    .unwrap();
    assert!(log
        .subscription_due_retries(crm, at(60), 10)
        .await
        .unwrap()
        .is_empty());
    let dead = log.subscription_dead_letters(crm).await.unwrap();
    assert_eq!(
        dead.iter()
            .map(|d| (d.event.seq, d.attempts, d.last_error.as_str()))
            .collect::<Vec<_>>(),
        [(4, 3, "HTTP 500"), (5, 1, "HTTP 410")]
    );
    assert_eq!(dead[1], dead5);

    // A replay that fails keeps the letter with the attempt counted; one
    // that succeeds removes it; settling it again is a no-op.
    log.subscription_settle(
        crm,
        5,
        DeliveryOutcome::Dead {
            attempts: 2,
            last_error: "HTTP 410".into(),
            failed_at: at(20),
        },
    )
    .await
    .unwrap();
    log.subscription_settle(crm, 4, DeliveryOutcome::Delivered)
        .await
        .unwrap();
    log.subscription_settle(crm, 4, DeliveryOutcome::Delivered)
        .await
        .unwrap();
    log.subscription_settle(globex_crm, 5, DeliveryOutcome::Delivered)
        .await
        .unwrap();
    let dead = log.subscription_dead_letters(crm).await.unwrap();
    assert_eq!(
        dead.iter()
            .map(|d| (d.event.seq, d.attempts, d.failed_at))
            .collect::<Vec<_>>(),
        [(5, 2, at(20))]
    );
}
