//! The [`Scheduling`] contract: outbox claims (exclusive, in commit order,
//! in doubt when an attempt lapsed) and timers by due time.

use crate::ports::{LeaseKey, LeaseRequest, OutboxAttempt, OutboxClaimRequest};
use crate::testing::conformance::support::*;

/// What dispatchers claim at `now`, for a minute each, ten at most.
async fn claims_at<S: Store + ?Sized>(store: &S, now: DateTime<Utc>) -> Vec<OutboxClaim> {
    let lease = Duration::from_secs(60);
    let request = OutboxClaimRequest {
        now,
        lease,
        limit: 10,
    };
    store.claim_outbox(request).await.unwrap()
}

/// A send attempt begun at minute `minute`, holding its claim a minute more.
fn attempt(minute: i64) -> OutboxAttempt {
    OutboxAttempt {
        at: at(minute),
        until: at(minute + 1),
    }
}

/// Outbox entries are claimed by one dispatcher at a time and rescheduled
/// on release; a lapsed claim is handed out again, flagged in doubt only if
/// a send attempt began under it; attempts count sends begun, not claims.
pub(crate) async fn outbox_claims_are_exclusive_and_lapse_in_doubt<S: Store + ?Sized>(
    store: Arc<S>,
) {
    let (_, r) = seed_reply(&*store).await;
    // Many dispatchers at once: exactly one gets it.
    let claims = join_all((0..8).map(|_| {
        let store = store.clone();
        async move { claims_at(&*store, at(1)).await }
    }))
    .await;
    let got: Vec<&OutboxClaim> = claims.iter().flatten().collect();
    assert_eq!(got.len(), 1);
    let first = got[0].clone();
    assert_eq!(first.entry.message, r);
    assert_eq!(first.entry.attempts, 0);
    assert!(!first.in_doubt);
    // A claim that lapses before any attempt is simply claimed again.
    let retaken = claims_at(&*store, at(70)).await;
    assert_eq!(retaken.len(), 1);
    assert!(!retaken[0].in_doubt, "never attempted: not in doubt");
    assert_eq!(retaken[0].entry.attempts, 0);
    let stale = store.begin_outbox_attempt(&first, attempt(70)).await;
    assert_eq!(
        stale.unwrap_err().code(),
        "conflict",
        "the old claim is stale"
    );
    // An attempt on an expired lease is refused too.
    let late = store.begin_outbox_attempt(&retaken[0], attempt(200)).await;
    assert_eq!(late.unwrap_err().code(), "conflict", "lease lapsed");
    let retaken = claims_at(&*store, at(200)).await;
    assert!(!retaken[0].in_doubt);
    store
        .begin_outbox_attempt(&retaken[0], attempt(200))
        .await
        .unwrap();
    // Not due yet after a retry is scheduled; no longer in doubt then.
    store
        .release_outbox(&retaken[0], OutboxDisposition::RetryAt(at(300)))
        .await
        .unwrap();
    assert!(claims_at(&*store, at(250)).await.is_empty());
    let second = claims_at(&*store, at(300)).await;
    assert_eq!(second.len(), 1);
    assert_eq!(second[0].entry.attempts, 1);
    assert!(!second[0].in_doubt);
    store
        .begin_outbox_attempt(&second[0], attempt(300))
        .await
        .unwrap();
    // The lease lapses after the attempt began: handed out again, in doubt,
    // and in doubt again if that claim lapses too; the old claim is stale.
    assert!(claims_at(&*store, at(300) + TimeDelta::seconds(30))
        .await
        .is_empty());
    let third = claims_at(&*store, at(302)).await;
    assert_eq!(third.len(), 1);
    assert!(third[0].in_doubt);
    assert_eq!(third[0].entry.attempts, 2);
    assert_ne!(third[0].token, second[0].token);
    let fourth = claims_at(&*store, at(304)).await;
    assert!(fourth[0].in_doubt, "still in doubt until released");
    for old in [&second[0], &third[0]] {
        let refused = store.release_outbox(old, OutboxDisposition::Done).await;
        assert_eq!(refused.unwrap_err().code(), "conflict");
    }
    store
        .release_outbox(&fourth[0], OutboxDisposition::Done)
        .await
        .unwrap();
    assert!(claims_at(&*store, at(10_000)).await.is_empty());
}

/// The store hands out a conversation's entries one at a time, in commit
/// order, whoever claims: the second is not claimable while the first is
/// claimed, waiting for a retry or lapsed in doubt, and becomes so once
/// the first is released.
pub(crate) async fn outbox_claims_a_conversations_entries_in_order<
    S: Store + AsDynStore + ?Sized,
>(
    store: Arc<S>,
) {
    let f = Fixture::new(store.as_dyn()).await.unwrap();
    let c = says(&f, "1001", "w1", "34698000011", "hi").await;
    let mut ids = Vec::new();
    for i in 0..2 {
        let v = f.version(&c).await.unwrap();
        let r = replied(&f, "ana", &c, v, "hello", &format!("q{i}")).await;
        ids.push(r.id);
    }
    let now = f.clock.now();
    let first = claims_at(&*f.store, now).await;
    assert_eq!(first.len(), 1, "one entry of the conversation at a time");
    assert_eq!(first[0].entry.message, ids[0]);
    assert!(claims_at(&*f.store, now).await.is_empty());
    // Waiting for a retry: still first in line.
    let retry = OutboxDisposition::RetryAt(now + TimeDelta::minutes(5));
    f.store.release_outbox(&first[0], retry).await.unwrap();
    let later = now + TimeDelta::minutes(1);
    assert!(claims_at(&*f.store, later).await.is_empty());
    // Attempted and lapsed: handed out again in doubt, still first.
    let again = now + TimeDelta::minutes(5);
    let claimed = claims_at(&*f.store, again).await;
    assert_eq!(claimed[0].entry.message, ids[0]);
    let until = again + TimeDelta::minutes(1);
    f.store
        .begin_outbox_attempt(&claimed[0], OutboxAttempt { at: again, until })
        .await
        .unwrap();
    let lapsed = again + TimeDelta::minutes(2);
    let doubt = claims_at(&*f.store, lapsed).await;
    assert_eq!(doubt.len(), 1);
    assert!(doubt[0].in_doubt);
    assert_eq!(doubt[0].entry.message, ids[0]);
    // Released: the second comes next.
    f.store
        .release_outbox(&doubt[0], OutboxDisposition::Done)
        .await
        .unwrap();
    let next = claims_at(&*f.store, lapsed).await;
    assert_eq!(next.len(), 1);
    assert_eq!(next[0].entry.message, ids[1]);
}

/// An attempt extends the claim's lease to cover the send: a slow send
/// keeps its claim (no one else marks it in doubt meanwhile) until the
/// attempt's own lease lapses.
pub(crate) async fn an_attempt_holds_its_claim_for_the_send<S: Store + AsDynStore + ?Sized>(
    store: Arc<S>,
) {
    let f = Fixture::new(store.as_dyn()).await.unwrap();
    let c = says(&f, "1001", "w1", "34698000021", "hi").await;
    f.inbox
        .reply(&f.actor("ana"), &c, 1, Reply::text("hello", "slow"))
        .await
        .unwrap();
    let now = f.clock.now();
    let claim = claims_at(&*f.store, now).await.remove(0);
    let until = now + TimeDelta::minutes(5);
    f.store
        .begin_outbox_attempt(&claim, OutboxAttempt { at: now, until })
        .await
        .unwrap();
    // Past the claim's lease, within the attempt's: still held.
    let mid = now + TimeDelta::minutes(3);
    assert!(claims_at(&*f.store, mid).await.is_empty());
    f.store
        .release_outbox(&claim, OutboxDisposition::Done)
        .await
        .unwrap();
}

/// Timers committed with a conversation are found by due time, earliest
/// first, only once due; moving or clearing one replaces it.
pub(crate) async fn timers_are_found_by_due_time<S: Store + ?Sized>(store: Arc<S>) {
    use crate::timer::{Timer, TimerChange, TimerKind};
    let c = seed(&*store).await;
    let acme = t("acme");
    let timer = |conv: &Conversation, kind, minute| {
        TimerChange::Set(Timer {
            tenant: conv.tenant.clone(),
            conversation: conv.id.clone(),
            kind,
            due_at: at(minute),
        })
    };
    store
        .commit(Changeset {
            conversation: Some(update(&c)),
            timers: vec![
                timer(&c, TimerKind::SnoozeWake, 30),
                timer(&c, TimerKind::WindowWarning, 10),
            ],
            ..Changeset::new(acme.clone())
        })
        .await
        .unwrap();
    let g = conversation("globex", "g1", "main", "gk");
    store
        .commit(Changeset {
            conversation: Some(insert(g.clone())),
            timers: vec![timer(&g, TimerKind::SnoozeWake, 20)],
            ..Changeset::new(t("globex"))
        })
        .await
        .unwrap();
    assert!(store.due_timers(at(5), 10).await.unwrap().is_empty());
    let due = store.due_timers(at(25), 10).await.unwrap();
    let got: Vec<(String, TimerKind)> = due
        .iter()
        .map(|t| (t.conversation.to_string(), t.kind))
        .collect();
    assert_eq!(
        got,
        [
            ("c1".to_string(), TimerKind::WindowWarning),
            ("g1".to_string(), TimerKind::SnoozeWake)
        ]
    );
    assert_eq!(due[1].tenant.as_str(), "globex");
    assert_eq!(store.due_timers(at(60), 2).await.unwrap().len(), 2, "limit");
    // Move one, clear another, in the next commits.
    let c2 = bump(&c);
    store
        .commit(Changeset {
            conversation: Some(update(&c2)),
            timers: vec![
                timer(&c2, TimerKind::WindowWarning, 50),
                TimerChange::Clear {
                    conversation: c2.id.clone(),
                    kind: TimerKind::SnoozeWake,
                },
            ],
            ..Changeset::new(acme.clone())
        })
        .await
        .unwrap();
    let due = store.due_timers(at(45), 10).await.unwrap();
    assert_eq!(due.len(), 1, "{due:?}");
    assert_eq!(due[0].conversation.as_str(), "g1");
    assert_eq!(store.due_timers(at(50), 10).await.unwrap().len(), 2);
    // A failed commit sets no timer.
    let stale = Changeset {
        conversation: Some(update(&c)),
        timers: vec![timer(&c, TimerKind::SnoozeWake, 1)],
        ..Changeset::new(acme.clone())
    };
    assert_eq!(store.commit(stale).await.unwrap_err().code(), "conflict");
    assert_eq!(store.due_timers(at(2), 10).await.unwrap().len(), 0);
}

/// A reply lease is held by one agent until it lapses: another agent gets
/// the holder's lease back, the holder renews it, anyone takes it once
/// lapsed, only the holder releases it; of agents racing, one holds it.
pub(crate) async fn reply_leases_are_held_by_one_agent_until_they_lapse<S: Store + ?Sized>(
    store: Arc<S>,
) {
    let c = seed(&*store).await;
    let acme = t("acme");
    let agent = |a: &str| AgentId::new(a).unwrap();
    let (ana, ben) = (agent("ana"), agent("ben"));
    let holder = |l: Lease| (l.holder.to_string(), l.until);
    let key = LeaseKey::of(&acme, &c.id);
    let ask = |agent, now, until| LeaseRequest {
        key,
        agent,
        now,
        until,
    };
    let got = store.acquire_lease(ask(&ana, at(0), at(1))).await;
    assert_eq!(holder(got.unwrap()), ("ana".into(), at(1)));
    let got = store.acquire_lease(ask(&ben, at(0), at(1))).await;
    assert_eq!(holder(got.unwrap()), ("ana".into(), at(1)), "ana's");
    let got = store.acquire_lease(ask(&ana, at(0), at(2))).await;
    assert_eq!(holder(got.unwrap()), ("ana".into(), at(2)), "renewed");
    let now = store.lease(key, at(1)).await.unwrap();
    assert_eq!(now.map(holder), Some(("ana".into(), at(2))));
    assert_eq!(store.lease(key, at(3)).await.unwrap(), None);
    let got = store.acquire_lease(ask(&ben, at(3), at(4))).await;
    assert_eq!(holder(got.unwrap()), ("ben".into(), at(4)), "lapsed");
    assert!(!store.release_lease(key, &ana).await.unwrap());
    assert!(store.release_lease(key, &ben).await.unwrap());
    assert_eq!(store.lease(key, at(3)).await.unwrap(), None);
    // Racing: everyone is told of the same holder, one of them.
    let racers: Vec<AgentId> = ["a1", "a2", "a3", "a4", "a5", "a6"].map(agent).to_vec();
    let leases = join_all(racers.iter().map(|a| {
        let store = store.clone();
        let (acme, id) = (acme.clone(), c.id.clone());
        async move {
            let key = LeaseKey::of(&acme, &id);
            store
                .acquire_lease(LeaseRequest {
                    key,
                    agent: a,
                    now: at(10),
                    until: at(11),
                })
                .await
        }
    }))
    .await;
    let holders: BTreeSet<AgentId> = leases.into_iter().map(|l| l.unwrap().holder).collect();
    assert_eq!(holders.len(), 1, "{holders:?}");
    assert!(holders.iter().all(|h| racers.contains(h)));
    // Another tenant's conversation is not found.
    let globex = t("globex");
    let err = store
        .acquire_lease(LeaseRequest {
            key: LeaseKey::of(&globex, &c.id),
            ..ask(&ana, at(10), at(11))
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), "not_found");
}
