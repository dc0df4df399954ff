//! Agents' actions through the inbox: collisions, idempotent replies,
//! notes, permissions, bad input, the customer window, transfers and reply
//! leases.

use crate::testing::conformance::support::*;

/// Many agents claiming one conversation at once: exactly one wins; every
/// other is told who owns it.
pub(crate) async fn concurrent_claims_exactly_one_wins<S: Store + AsDynStore + ?Sized>(
    store: Arc<S>,
) {
    let f = fixture(store).await;
    for round in 0..5 {
        let c = says(
            &f,
            "1001",
            &format!("w{round}"),
            &format!("3466000000{round}"),
            "hi",
        )
        .await;
        let v = f.version(&c).await.unwrap();
        let agents = ["ana", "ben", "sam", "ada", "ana", "ben"];
        let results = join_all(agents.iter().map(|a| {
            let actor = f.actor(a);
            let inbox = f.inbox.clone();
            let c = c.clone();
            async move { inbox.claim(&actor, &c, v).await }
        }))
        .await;
        let winners: Vec<&AgentId> = results
            .iter()
            .filter_map(|r| r.as_ref().ok())
            .filter(|o| !o.replayed)
            .map(|o| o.conversation.assignee.as_ref().unwrap())
            .collect();
        assert_eq!(winners.len(), 1, "round {round}: {results:?}");
        let owner = owner_of(&f, &c).await.unwrap();
        assert_eq!(&owner, winners[0]);
        for r in &results {
            match r {
                Ok(o) => assert_eq!(o.conversation.assignee.as_ref(), Some(&owner)),
                Err(Error::AlreadyOwned { owner: o, .. }) => assert_eq!(o, &owner),
                Err(e) => panic!("unexpected {e}"),
            }
        }
        let claims = f
            .store
            .conversation_events(&f.acme(), &c, 0)
            .await
            .unwrap()
            .into_iter()
            .filter(|e| matches!(e.kind, EventKind::Claimed { .. }))
            .count();
        assert_eq!(claims, 1);
    }
}

/// An action on a stale version is refused with what changed, and nothing
/// is stored; a live collision notice is published.
pub(crate) async fn stale_actions_are_refused_with_what_changed<S: Store + AsDynStore + ?Sized>(
    store: Arc<S>,
) {
    let f = fixture(store).await;
    let c = says(&f, "1001", "w1", "34677777777", "hi").await;
    let seen = f.version(&c).await.unwrap();
    f.inbox.claim(&f.actor("ana"), &c, seen).await.unwrap();
    let (_, new_msg) = f
        .customer_says("1001", "w2", "34677777777", "hello??")
        .await
        .unwrap();
    let before = f.store.conversation(&f.acme(), &c).await.unwrap();
    let err = f
        .inbox
        .reply(&f.actor("sam"), &c, seen, reply("On it", "k1"))
        .await
        .unwrap_err();
    let conflict = err.as_conflict().expect("conflict");
    assert_eq!(conflict.current, before.version);
    assert!(
        conflict.changes.contains(&Change::OwnerChanged {
            owner: Some(AgentId::new("ana").unwrap())
        }),
        "{conflict}"
    );
    assert!(
        conflict
            .changes
            .contains(&Change::NewCustomerMessage { message: new_msg }),
        "{conflict}"
    );
    assert_eq!(f.store.conversation(&f.acme(), &c).await.unwrap(), before);
    assert!(f
        .store
        .message_by_idempotency_key(&f.acme(), "k1")
        .await
        .unwrap()
        .is_none());
    assert!(f
        .bus
        .published()
        .iter()
        .any(|e| matches!(e.kind, EventKind::CollisionPrevented { .. }) && e.seq == 0));
    // Ana replies on the current version; Ben's reply on the version before
    // it is told that Ana replied.
    let now_v = before.version;
    let out = f
        .inbox
        .reply(&f.actor("ana"), &c, now_v, reply("Shipped today!", "k2"))
        .await
        .unwrap();
    let err = f
        .inbox
        .reply(&f.actor("ben"), &c, now_v, reply("Let me check", "k3"))
        .await
        .unwrap_err();
    let changes = &err.as_conflict().expect("conflict").changes;
    assert!(
        changes.contains(&Change::AgentReplied {
            agent: Some(AgentId::new("ana").unwrap()),
            message: out.message.unwrap().id
        }),
        "{changes:?}"
    );
    // A stale claim on a conversation someone owns says who.
    let err = f.inbox.claim(&f.actor("ben"), &c, seen).await.unwrap_err();
    assert!(
        matches!(err, Error::AlreadyOwned { ref owner, .. } if owner.as_str() == "ana"),
        "{err}"
    );
    // Notes commute: a stale note goes in with a warning.
    let note = f
        .inbox
        .note(&f.actor("ben"), &c, seen, "customer called too", "n1")
        .await
        .unwrap();
    assert!(!note.warnings.is_empty());
    // The warn policy lets a stale reply through with the changes as warning.
    let config = InboxConfig {
        reply: ReplyPolicy {
            stale: crate::inbox::StaleReplies::Warn,
            ..ReplyPolicy::default()
        },
        ..InboxConfig::default()
    };
    let lenient = crate::inbox::Inbox::new(f.inbox.ports().clone(), config);
    let out = lenient
        .reply(
            &f.actor("ana"),
            &c,
            seen,
            reply("Also: tracking link", "k4"),
        )
        .await
        .unwrap();
    assert!(
        out.warnings.iter().any(|w| w.contains("changed since")),
        "{:?}",
        out.warnings
    );
}

/// Retrying a reply with the same key returns the first reply; one message
/// and one delivery.
pub(crate) async fn replies_are_idempotent<S: Store + AsDynStore + ?Sized>(store: Arc<S>) {
    let f = fixture(store).await;
    let c = says(&f, "1001", "w1", "34688888888", "hi").await;
    let first = f
        .inbox
        .reply(&f.actor("ana"), &c, 1, reply("Hello!", "req-1"))
        .await
        .unwrap();
    assert!(!first.replayed);
    for _ in 0..3 {
        let again = f
            .inbox
            .reply(&f.actor("ana"), &c, 1, reply("Hello!", "req-1"))
            .await
            .unwrap();
        assert!(again.replayed);
        assert_eq!(
            again.message.as_ref().map(|m| &m.id),
            first.message.as_ref().map(|m| &m.id)
        );
    }
    // Concurrent retries as well.
    let v = f.version(&c).await.unwrap();
    let ana = f.actor("ana");
    let results =
        join_all((0..6).map(|_| f.inbox.reply(&ana, &c, v, reply("Second", "req-2")))).await;
    let ids: HashSet<MessageId> = results
        .iter()
        .map(|r| r.as_ref().unwrap().message.as_ref().unwrap().id.clone())
        .collect();
    assert_eq!(ids.len(), 1, "{results:?}");
    let outbound = f
        .store
        .messages(&f.acme(), &c)
        .await
        .unwrap()
        .into_iter()
        .filter(|m| m.direction == Direction::Outbound)
        .count();
    assert_eq!(outbound, 2);
    f.inbox.dispatch(100).await.unwrap();
    f.inbox.dispatch(100).await.unwrap();
    assert_eq!(f.transport.sent().len(), 2);
    // The same key for another conversation is refused.
    let c2 = says(&f, "1001", "w2", "34688888889", "hi").await;
    let err = f
        .inbox
        .reply(&f.actor("ana"), &c2, 1, reply("Hello!", "req-1"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "invalid_input");
}

/// Notes (and handoff notes) are stored but never handed to the transport.
pub(crate) async fn notes_never_reach_the_transport<S: Store + AsDynStore + ?Sized>(store: Arc<S>) {
    let f = fixture(store).await;
    let c = says(&f, "1001", "w1", "34690000000", "hi").await;
    let n = f
        .inbox
        .note(
            &f.actor("ana"),
            &c,
            1,
            "@ben this is the VIP from yesterday",
            "n1",
        )
        .await
        .unwrap();
    let note = n.message.unwrap();
    assert!(note.is_note());
    assert_eq!(note.mentions, vec![AgentId::new("ben").unwrap()]);
    let v = f.version(&c).await.unwrap();
    f.inbox.claim(&f.actor("ana"), &c, v).await.unwrap();
    let v = f.version(&c).await.unwrap();
    f.inbox
        .transfer(
            &f.actor("ana"),
            &c,
            v,
            Assignee::Agent(AgentId::new("ben").unwrap()),
            "Wants a refund, see note",
        )
        .await
        .unwrap();
    let v = f.version(&c).await.unwrap();
    f.inbox
        .reply(&f.actor("ben"), &c, v, reply("Refund issued", "r1"))
        .await
        .unwrap();
    let report = f.inbox.dispatch(100).await.unwrap();
    assert_eq!(report.sent, 1);
    let sent = f.transport.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].request.content, Content::text("Refund issued"));
    let notes = f
        .store
        .messages(&f.acme(), &c)
        .await
        .unwrap()
        .into_iter()
        .filter(|m| m.is_note())
        .count();
    assert_eq!(notes, 2);
}

/// Roles and tenancy are enforced by the core, and a refused action changes
/// nothing.
pub(crate) async fn permissions_are_enforced_and_change_nothing<S: Store + AsDynStore + ?Sized>(
    store: Arc<S>,
) {
    let f = fixture(store).await;
    let c = says(&f, "1001", "w1", "34691000000", "hi").await;
    let v = f.version(&c).await.unwrap();
    f.inbox
        .assign(
            &f.actor("sam"),
            &c,
            v,
            Assignee::Team(TeamId::new("sales").unwrap()),
            "sales lead",
        )
        .await
        .unwrap();
    let before = f.store.conversation(&f.acme(), &c).await.unwrap();
    let events_before = f
        .store
        .events_since(&f.acme(), 0, 1000)
        .await
        .unwrap()
        .len();
    let v = before.version;
    // An agent may not assign others' conversations.
    let err = f
        .inbox
        .assign(
            &f.actor("ana"),
            &c,
            v,
            Assignee::Agent(AgentId::new("ben").unwrap()),
            "",
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), "forbidden", "{err}");
    // Cy (support) cannot see a sales conversation, claim it or reply.
    assert_eq!(
        f.inbox
            .conversation(&f.actor("cy"), &c)
            .await
            .unwrap_err()
            .code(),
        "forbidden"
    );
    assert_eq!(
        f.inbox
            .claim(&f.actor("cy"), &c, v)
            .await
            .unwrap_err()
            .code(),
        "forbidden"
    );
    assert_eq!(
        f.inbox
            .reply(&f.actor("cy"), &c, v, reply("hi", "x1"))
            .await
            .unwrap_err()
            .code(),
        "forbidden"
    );
    // Another tenant's admin does not even find it.
    assert_eq!(
        f.inbox
            .conversation(&f.actor("gus"), &c)
            .await
            .unwrap_err()
            .code(),
        "not_found"
    );
    assert_eq!(
        f.inbox
            .claim(&f.actor("gus"), &c, v)
            .await
            .unwrap_err()
            .code(),
        "not_found"
    );
    // Settings are for admins only.
    let team = Team::new(f.acme(), TeamId::new("vip").unwrap(), "VIP");
    assert_eq!(
        f.inbox
            .save_team(&f.actor("sam"), &team)
            .await
            .unwrap_err()
            .code(),
        "forbidden"
    );
    f.inbox.save_team(&f.actor("ada"), &team).await.unwrap();
    let foreign = Team::new(
        TenantId::new("globex").unwrap(),
        TeamId::new("x").unwrap(),
        "X",
    );
    assert_eq!(
        f.inbox
            .save_team(&f.actor("ada"), &foreign)
            .await
            .unwrap_err()
            .code(),
        "not_found"
    );
    // Assignee-only replies: others are refused, supervisors may override.
    let config = InboxConfig {
        reply: ReplyPolicy {
            assignee_only: true,
            ..ReplyPolicy::default()
        },
        ..InboxConfig::default()
    };
    let strict = crate::inbox::Inbox::new(f.inbox.ports().clone(), config);
    strict.claim(&f.actor("ana"), &c, v).await.unwrap();
    let v2 = v + 1;
    let err = strict
        .reply(&f.actor("ben"), &c, v2, reply("me too", "b1"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "forbidden");
    assert!(err.to_string().contains("ana"), "{err}");
    strict
        .reply(&f.actor("sam"), &c, v2, reply("Supervisor here", "s1"))
        .await
        .unwrap();
    // Only ana's claim and sam's reply were recorded.
    assert_eq!(
        f.store
            .events_since(&f.acme(), 0, 1000)
            .await
            .unwrap()
            .len(),
        events_before + 2
    );
    // Unknown agents are not found.
    let ghost = crate::inbox::Actor::new(f.acme(), AgentId::new("ghost").unwrap());
    assert_eq!(
        f.inbox
            .list(&ghost, &ViewQuery::new(View::All))
            .await
            .unwrap_err()
            .code(),
        "not_found"
    );
}

/// Bad input gets a typed error naming the problem, and nothing changes.
pub(crate) async fn bad_input_is_rejected_and_changes_nothing<S: Store + AsDynStore + ?Sized>(
    store: Arc<S>,
) {
    let f = fixture(store).await;
    let c = says(&f, "1001", "w1", "34692000000", "hi").await;
    let before = f.store.conversation(&f.acme(), &c).await.unwrap();
    let ana = f.actor("ana");
    let cases: Vec<(&str, Error)> = vec![
        (
            "empty reply",
            f.inbox
                .reply(&ana, &c, 1, reply("   ", "k"))
                .await
                .unwrap_err(),
        ),
        (
            "empty key",
            f.inbox
                .reply(&ana, &c, 1, reply("hi", " "))
                .await
                .unwrap_err(),
        ),
        (
            "unknown conversation",
            f.inbox
                .claim(&ana, &ConversationId::new("nope").unwrap(), 1)
                .await
                .unwrap_err(),
        ),
        (
            "future version",
            f.inbox.claim(&ana, &c, 99).await.unwrap_err(),
        ),
        (
            "empty note",
            f.inbox.note(&ana, &c, 1, "", "n").await.unwrap_err(),
        ),
        (
            "empty tag",
            f.inbox.tag(&ana, &c, 1, &[" "], &[]).await.unwrap_err(),
        ),
        (
            "snooze in the past",
            f.inbox
                .snooze(&ana, &c, 1, Fixture::start() - TimeDelta::hours(1))
                .await
                .unwrap_err(),
        ),
        (
            "unknown assignee",
            f.inbox
                .assign(
                    &f.actor("sam"),
                    &c,
                    1,
                    Assignee::Agent(AgentId::new("nobody").unwrap()),
                    "",
                )
                .await
                .unwrap_err(),
        ),
        (
            "unknown team",
            f.inbox
                .assign(
                    &f.actor("sam"),
                    &c,
                    1,
                    Assignee::Team(TeamId::new("nobody").unwrap()),
                    "",
                )
                .await
                .unwrap_err(),
        ),
        (
            "transfer without note",
            f.inbox
                .transfer(
                    &f.actor("sam"),
                    &c,
                    1,
                    Assignee::Agent(AgentId::new("ben").unwrap()),
                    "",
                )
                .await
                .unwrap_err(),
        ),
        (
            "release unowned",
            f.inbox
                .release(&f.actor("sam"), &c, 1, "")
                .await
                .unwrap_err(),
        ),
        (
            "inbound-only content",
            f.inbox
                .reply(
                    &ana,
                    &c,
                    1,
                    Reply {
                        content: Content::RequestWelcome,
                        idempotency_key: "k9".into(),
                        reply_to: None,
                    },
                )
                .await
                .unwrap_err(),
        ),
        (
            "bad cursor",
            f.inbox
                .list(
                    &ana,
                    &ViewQuery::new(View::All)
                        .after(Some(crate::query::Cursor::parse("la.1.2.x").unwrap()))
                        .sort(SortOrder::Newest),
                )
                .await
                .unwrap_err(),
        ),
        (
            "zero limit",
            f.inbox
                .list(&ana, &ViewQuery::new(View::All).limit(0))
                .await
                .unwrap_err(),
        ),
    ];
    for (what, err) in &cases {
        assert!(
            matches!(
                err.code(),
                "invalid_input" | "invalid_content" | "not_found" | "invalid_state"
            ),
            "{what}: {err}"
        );
        assert!(!err.to_string().is_empty());
    }
    assert_eq!(f.store.conversation(&f.acme(), &c).await.unwrap(), before);
    assert_eq!(f.store.messages(&f.acme(), &c).await.unwrap().len(), 1);
}

/// Outside the 24-hour window free-form replies are refused with a typed
/// error; templates go through.
pub(crate) async fn window_closed_refuses_free_form_but_accepts_templates<
    S: Store + AsDynStore + ?Sized,
>(
    store: Arc<S>,
) {
    let f = fixture(store).await;
    let c = says(&f, "1001", "w1", "34693000000", "hi").await;
    f.advance(TimeDelta::hours(23) + TimeDelta::minutes(59));
    f.inbox
        .reply(&f.actor("ana"), &c, 1, reply("just in time", "k1"))
        .await
        .unwrap();
    f.advance(TimeDelta::minutes(2));
    let v = f.version(&c).await.unwrap();
    let err = f
        .inbox
        .reply(&f.actor("ana"), &c, v, reply("too late", "k2"))
        .await
        .unwrap_err();
    match &err {
        Error::WindowClosed { closed_at, .. } => {
            assert_eq!(closed_at.0, Some(Fixture::start() + TimeDelta::hours(24)))
        }
        other => panic!("{other}"),
    }
    assert!(err.to_string().contains("template"));
    let template = Content::Template {
        name: "follow_up".into(),
        language: "en_US".into(),
        components: serde_json::json!([]),
    };
    let out = f
        .inbox
        .reply(
            &f.actor("ana"),
            &c,
            v,
            Reply {
                content: template,
                idempotency_key: "k3".into(),
                reply_to: None,
            },
        )
        .await
        .unwrap();
    assert!(out.message.unwrap().content.is_template());
}

/// Ownership changes record actor, time and reason in the timeline; over
/// capacity assignment warns.
pub(crate) async fn transfer_assign_release_record_who_and_why<S: Store + AsDynStore + ?Sized>(
    store: Arc<S>,
) {
    let f = fixture(store).await;
    let ben = AgentId::new("ben").unwrap();
    // Ben is at capacity (3).
    for i in 0..3 {
        let c = says(
            &f,
            "1001",
            &format!("x{i}"),
            &format!("3469800000{i}"),
            "hi",
        )
        .await;
        f.inbox.claim(&f.actor("ben"), &c, 1).await.unwrap();
    }
    let c = says(&f, "1001", "w1", "34698100000", "hi").await;
    f.inbox.claim(&f.actor("ana"), &c, 1).await.unwrap();
    let out = f
        .inbox
        .transfer(
            &f.actor("ana"),
            &c,
            2,
            Assignee::Agent(ben.clone()),
            "Knows this customer",
        )
        .await
        .unwrap();
    assert!(
        out.warnings.iter().any(|w| w.contains("capacity")),
        "{:?}",
        out.warnings
    );
    assert_eq!(out.conversation.assignee, Some(ben.clone()));
    f.advance(TimeDelta::minutes(3));
    let out = f
        .inbox
        .release(
            &f.actor("sam"),
            &c,
            out.conversation.version,
            "ben went home",
        )
        .await
        .unwrap();
    assert_eq!(out.conversation.assignee, None);
    let timeline = f
        .inbox
        .conversation(&f.actor("sam"), &c)
        .await
        .unwrap()
        .timeline;
    let transferred = timeline
        .iter()
        .find(|e| matches!(e.kind, EventKind::Transferred { .. }))
        .unwrap();
    assert_eq!(
        transferred.actor,
        EventActor::Agent(AgentId::new("ana").unwrap())
    );
    let released = timeline
        .iter()
        .find(|e| matches!(e.kind, EventKind::Released { .. }))
        .unwrap();
    assert_eq!(
        released.actor,
        EventActor::Agent(AgentId::new("sam").unwrap())
    );
    assert_eq!(released.at, Fixture::start() + TimeDelta::minutes(3));
    match &released.kind {
        EventKind::Released { agent, reason } => {
            assert_eq!((agent, reason.as_str()), (&ben, "ben went home"))
        }
        _ => unreachable!(),
    }
    let handoff = f
        .store
        .messages(&f.acme(), &c)
        .await
        .unwrap()
        .into_iter()
        .find(|m| m.is_note())
        .unwrap();
    assert_eq!(handoff.content, Content::text("Knows this customer"));
}

/// Reply leases: one holder at a time, who and until when is reported to
/// others, they lapse after the TTL, renewals extend them, and a reply by
/// another agent is refused while one is held.
pub(crate) async fn reply_leases_are_exclusive_and_expire<S: Store + AsDynStore + ?Sized>(
    store: Arc<S>,
) {
    let f = fixture(store).await;
    let c = says(&f, "1001", "w1", "34690300000", "hi").await;
    let ana = f.actor("ana");
    let ben = f.actor("ben");
    let lease = f.inbox.acquire_reply_lease(&ana, &c).await.unwrap();
    assert_eq!(lease.holder.as_str(), "ana");
    assert_eq!(lease.until, f.clock.now() + TimeDelta::seconds(30));
    match f.inbox.acquire_reply_lease(&ben, &c).await.unwrap_err() {
        Error::LeaseHeld { holder, until, .. } => {
            assert_eq!((holder.as_str(), until), ("ana", lease.until))
        }
        other => panic!("{other}"),
    }
    let err = f
        .inbox
        .reply(&ben, &c, 1, reply("me too", "b1"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "lease_held", "{err}");
    assert!(err.to_string().contains("ana"));
    // Ana renews while composing.
    f.advance(TimeDelta::seconds(20));
    let renewed = f.inbox.acquire_reply_lease(&ana, &c).await.unwrap();
    assert!(renewed.until > lease.until);
    f.advance(TimeDelta::seconds(20));
    assert!(
        f.inbox.acquire_reply_lease(&ben, &c).await.is_err(),
        "renewal holds"
    );
    // Ana walks away: it lapses by itself.
    f.advance(TimeDelta::seconds(15));
    assert_eq!(f.inbox.reply_lease(&ben, &c).await.unwrap(), None);
    let mine = f.inbox.acquire_reply_lease(&ben, &c).await.unwrap();
    assert_eq!(mine.holder.as_str(), "ben");
    f.inbox
        .reply(&ben, &c, 1, reply("Hello!", "b2"))
        .await
        .unwrap();
    assert!(f.inbox.release_reply_lease(&ben, &c).await.unwrap());
    assert!(!f.inbox.release_reply_lease(&ana, &c).await.unwrap());
    // Many agents racing: exactly one holds it.
    let agents = ["ana", "ben", "sam", "ada"].map(|a| f.actor(a));
    let results = join_all(agents.iter().map(|a| f.inbox.acquire_reply_lease(a, &c))).await;
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
    let holder = f.inbox.reply_lease(&ana, &c).await.unwrap().unwrap().holder;
    for r in results.iter().filter_map(|r| r.as_ref().err()) {
        assert!(
            matches!(r, Error::LeaseHeld { holder: h, .. } if h == &holder),
            "{r}"
        );
    }
    // Other tenants and invisible conversations are refused.
    assert_eq!(
        f.inbox
            .acquire_reply_lease(&f.actor("gus"), &c)
            .await
            .unwrap_err()
            .code(),
        "not_found"
    );
    assert!(f
        .bus
        .published()
        .iter()
        .any(|e| matches!(e.kind, EventKind::ReplyLease { .. })));
}
