//! The live snapshot through the inbox: a morning driven by the simulated
//! clock, with every expected figure worked out by hand.

use crate::metrics::{AgentLoad, LiveQuery, Waiting};
use crate::testing::conformance::support::*;

/// Active conversations by status, unassigned, waiting and the longest
/// wait, SLA targets at risk and missed (marked by the timer or merely past
/// due), agents' loads against capacity; narrowed by number and team; the
/// same on every store.
pub(crate) async fn live_snapshot_shows_what_the_team_faces_now<S: Store + AsDynStore + ?Sized>(
    store: Arc<S>,
) {
    // First response within 30 minutes, warned at 80% (24 minutes).
    let settings = Fixture::first_response_sla(1800);
    let f = Fixture::with_settings(store.as_dyn(), settings)
        .await
        .unwrap();
    let t0 = Fixture::start(); // Monday 09:00
    let at = |m: i64| t0 + TimeDelta::minutes(m);
    let (ana, ben, sam) = (f.actor("ana"), f.actor("ben"), f.actor("sam"));

    // A, sales, 09:00: nobody answers; due 09:30, marked breached by the
    // timer at 09:33.
    let a = says(&f, "1001", "a1", "34610001", "hola").await;
    // E, sales, 09:02: ana answers and resolves it (not active).
    f.clock.set(at(2));
    let e = says(&f, "1001", "e1", "34610005", "gracias").await;
    let v = f.claim_and_reply(&ana, &e, "¡A ti!", "e-r").await.unwrap();
    let resolved = f
        .inbox
        .set_status(&ana, &e, v, ConversationStatus::Resolved);
    resolved.await.unwrap();
    // F, support, 09:05: nobody answers; due 09:35, past due at 09:40
    // with no timer run since.
    f.clock.set(at(5));
    let fc = says(&f, "1002", "f1", "34610006", "help").await;
    // B, sales, 09:15: ana claims it without answering; warned at 09:39,
    // due 09:45: at risk at 09:40.
    f.clock.set(at(15));
    let b = says(&f, "1001", "b1", "34610002", "precio?").await;
    claim_now(&f, &ana, &b).await;
    // C, support, 09:20: sam answers at 09:22 (met) and sets it pending.
    f.clock.set(at(20));
    let c = says(&f, "1002", "c1", "34610003", "order?").await;
    f.clock.set(at(22));
    let v = f.claim_and_reply(&sam, &c, "Shipped", "c-r").await.unwrap();
    let pending = f.inbox.set_status(&sam, &c, v, ConversationStatus::Pending);
    pending.await.unwrap();
    // D, sales, 09:25: ben claims it and snoozes it until noon (its SLA
    // pauses; the customer still waits).
    f.clock.set(at(25));
    let d = says(&f, "1001", "d1", "34610004", "later").await;
    let v = claim_now(&f, &ben, &d).await;
    f.inbox.snooze(&ben, &d, v, at(180)).await.unwrap();
    f.clock.set(at(33));
    tick(&f, at(33)).await;
    f.inbox.set_presence(&ana, Presence::Online).await.unwrap();
    f.clock.set(at(40));

    let snapshot = |query: LiveQuery| f.inbox.live_snapshot(&sam, query);
    let s = snapshot(LiveQuery::at(t0)).await.unwrap();
    assert_eq!(s.at, at(40));
    assert_eq!(
        (s.active, s.open, s.pending, s.snoozed),
        (5, 3, 1, 1),
        "{s:?}"
    );
    assert_eq!((s.unassigned, s.waiting), (2, 4), "{s:?}");
    assert_eq!(
        s.waiting_longest,
        Some(Waiting {
            conversation: a.clone(),
            since: t0
        })
    );
    assert_eq!((s.sla_at_risk, s.sla_breached), (1, 2), "{s:?}");
    fn load(agent: &'static str, presence: Presence, load: u32, capacity: u32) -> AgentLoad {
        AgentLoad {
            agent: id(agent),
            presence,
            load,
            capacity,
        }
    }
    assert_eq!(
        s.agents,
        [
            load("ada", Presence::Offline, 0, 0),
            load("ana", Presence::Online, 1, 3),
            load("ben", Presence::Offline, 1, 3),
            load("cy", Presence::Offline, 0, 0),
            load("sam", Presence::Offline, 1, 0),
        ]
    );
    assert_eq!(s.full_agents().count(), 0);

    // The support number: C and F.
    let on_support = LiveQuery {
        channel: Some(id("support")),
        ..LiveQuery::at(t0)
    };
    let support = snapshot(on_support).await.unwrap();
    assert_eq!(
        (
            support.active,
            support.open,
            support.pending,
            support.unassigned,
            support.waiting,
            support.sla_at_risk,
            support.sla_breached
        ),
        (2, 1, 1, 1, 1, 0, 1),
        "{support:?}"
    );
    assert_eq!(
        support.waiting_longest.map(|w| (w.conversation, w.since)),
        Some((fc.clone(), at(5)))
    );
    // Loads stay whole under a filter (capacity is for all of them).
    assert_eq!(support.agents.len(), 5);
    // The support team's agents only.
    let of_support = LiveQuery {
        team: Some(id("support")),
        ..LiveQuery::at(t0)
    };
    let team = snapshot(of_support).await.unwrap();
    let loads = team.agents.iter().map(|a| (a.agent.to_string(), a.load));
    let loads: Vec<_> = loads.collect();
    assert_eq!(loads, [("cy".to_string(), 0), ("sam".to_string(), 1)]);
    // Once B is answered and D resolved: B is no longer at risk nor
    // waiting, D leaves the snapshot.
    reply_now(&f, &ana, &b, "10 €", "b-r").await;
    set_status_now(&f, &ben, &d, ConversationStatus::Resolved).await;
    let later = snapshot(LiveQuery::at(t0)).await.unwrap();
    assert_eq!(
        (
            later.active,
            later.snoozed,
            later.waiting,
            later.sla_at_risk,
            later.sla_breached
        ),
        (4, 0, 2, 0, 2),
        "{later:?}"
    );
    // Another tenant sees nothing of it; agents may not look.
    let gus = f.actor("gus");
    let globex = f
        .inbox
        .live_snapshot(&gus, LiveQuery::at(t0))
        .await
        .unwrap();
    assert_eq!((globex.active, globex.agents.len()), (0, 1));
    assert!(matches!(
        f.inbox.live_snapshot(&ana, LiveQuery::at(t0)).await,
        Err(Error::Forbidden { .. })
    ));
}

/// The snapshot a store answers equals the reference definition
/// ([`LiveSnapshot::compute`](crate::metrics::LiveSnapshot::compute) over
/// every conversation and agent read back) after every step of a seeded
/// random morning: customers writing on two numbers, claims, transfers
/// between teams, replies, pending, snoozes, resolves, reopening messages
/// and timer runs, under first response, next response and resolution
/// targets; whole, by number and by team. A store that keeps the counts as
/// conversations are written (instead of counting them when asked) must
/// keep them exactly.
pub(crate) async fn live_snapshot_equals_the_reference_on_random_days<
    S: Store + AsDynStore + ?Sized,
>(
    store: Arc<S>,
) {
    let mut settings = Fixture::first_response_sla(1800);
    settings.sla.policies[0].next_response_secs = Some(1200);
    settings.sla.policies[0].resolution_secs = Some(5400);
    let f = Fixture::with_settings(store.as_dyn(), settings)
        .await
        .unwrap();
    let t0 = Fixture::start();
    let actors = ["ana", "ben", "sam", "cy"].map(|a| f.actor(a));
    let (numbers, teams) = (["1001", "1002"], ["sales", "support"]);
    let mut dice = crate::testing::Seeded::new(0x9E37_79B9_7F4A_7C15);
    let mut seen: Vec<ConversationId> = Vec::new();
    let mut now = t0;
    let mut most = [0u64; 7];
    for step in 0..120u64 {
        now += TimeDelta::minutes(dice.below(9) as i64);
        f.clock.set(now);
        let pick =
            |d: &mut crate::testing::Seeded| seen[d.below(seen.len() as u64) as usize].clone();
        let actor = &actors[dice.below(4) as usize];
        // Refusals (not the owner, resolved, …) are part of a real day.
        match dice.below(10) {
            0..=2 => {
                let number = numbers[dice.below(2) as usize];
                let who = format!("3461{:04}", dice.below(12));
                let c = says(&f, number, &format!("m{step}"), &who, "hola").await;
                if !seen.contains(&c) {
                    seen.push(c);
                }
            }
            _ if seen.is_empty() => {}
            3 => {
                let c = pick(&mut dice);
                let _ = f.inbox.claim(actor, &c, f.version(&c).await.unwrap()).await;
            }
            4 => {
                let c = pick(&mut dice);
                let to = team(teams[dice.below(2) as usize]);
                let v = f.version(&c).await.unwrap();
                let _ = f.inbox.transfer(actor, &c, v, to, "yours").await;
            }
            5 | 6 => {
                let c = pick(&mut dice);
                let v = f.version(&c).await.unwrap();
                let body = reply("ok", &format!("r{step}"));
                let _ = f.inbox.reply(actor, &c, v, body).await;
            }
            7 => {
                let c = pick(&mut dice);
                let status = [
                    ConversationStatus::Pending,
                    ConversationStatus::Resolved,
                    ConversationStatus::Open,
                ][dice.below(3) as usize];
                let v = f.version(&c).await.unwrap();
                let _ = f.inbox.set_status(actor, &c, v, status).await;
            }
            8 => {
                let c = pick(&mut dice);
                let v = f.version(&c).await.unwrap();
                let until = now + TimeDelta::minutes(30);
                let _ = f.inbox.snooze(actor, &c, v, until).await;
            }
            _ => {
                tick(&f, now).await;
            }
        }
        if step % 6 == 5 {
            let s = compare_with_reference(&f, &seen).await;
            let figures = [
                s.sla_at_risk,
                s.sla_breached,
                s.pending,
                s.snoozed,
                s.unassigned,
                s.active - s.unassigned,
                s.waiting,
            ];
            for (most, n) in most.iter_mut().zip(figures) {
                *most = (*most).max(n);
            }
        }
    }
    compare_with_reference(&f, &seen).await;
    // The day went through every state the snapshot counts.
    assert!(most.iter().all(|n| *n > 0), "{most:?}");
}

/// The store's snapshots (whole, per number, per team) against
/// [`LiveSnapshot::compute`](crate::metrics::LiveSnapshot::compute); the
/// whole one.
async fn compare_with_reference(
    f: &Fixture,
    seen: &[ConversationId],
) -> crate::metrics::LiveSnapshot {
    use crate::metrics::LiveSnapshot;
    let mut conversations = Vec::new();
    let mut messages = Vec::new();
    for c in seen {
        conversations.push(stored(f, c).await);
        messages.extend(messages_of(f, c).await);
    }
    let agents = f.store.agents(&f.acme()).await.unwrap();
    let now = f.inbox.now();
    let queries = [
        LiveQuery::at(now),
        LiveQuery {
            channel: Some(id("support")),
            ..LiveQuery::at(now)
        },
        LiveQuery {
            team: Some(id("sales")),
            ..LiveQuery::at(now)
        },
        LiveQuery {
            channel: Some(id("sales")),
            team: Some(id("support")),
            ..LiveQuery::at(now)
        },
    ];
    let mut whole = None;
    for query in queries {
        let mut expected = LiveSnapshot::compute(&query, &conversations, &agents);
        let pairs = messages.iter().filter_map(|m| {
            let c = conversations.iter().find(|c| c.id == m.conversation)?;
            Some((m, c))
        });
        expected.in_doubt = LiveSnapshot::count_in_doubt(&query, pairs);
        let sam = f.actor("sam");
        let got = f.inbox.live_snapshot(&sam, query.clone()).await.unwrap();
        assert_eq!(got, expected, "{query:?}");
        whole.get_or_insert(got);
    }
    whole.unwrap_or_else(|| LiveSnapshot::empty(now))
}
