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
        let c = nth_says(&f, round, "3466000000", "hi").await;
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
        let claims = count_events(&f, &c, |k| matches!(k, EventKind::Claimed { .. }));
        assert_eq!(claims.await, 1);
    }
}

/// An action on a stale version is refused with what changed, and nothing
/// is stored; a live collision notice is published.
pub(crate) async fn stale_actions_are_refused_with_what_changed<S: Store + AsDynStore + ?Sized>(
    store: Arc<S>,
) {
    let (f, c) = opened(store, "34677777777", "hi").await;
    let seen = f.version(&c).await.unwrap();
    f.inbox.claim(&f.actor("ana"), &c, seen).await.unwrap();
    let (_, new_msg) = f
        .customer_says("1001", "w2", "34677777777", "hello??")
        .await
        .unwrap();
    let before = stored(&f, &c).await;
    let sam = f.actor("sam");
    let err = f.inbox.reply(&sam, &c, seen, reply("On it", "k1")).await;
    let err = err.unwrap_err();
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
    assert_eq!(stored(&f, &c).await, before);
    let k1 = f.store.message_by_idempotency_key(&f.acme(), "k1").await;
    assert!(k1.unwrap().is_none());
    let published = f.bus.published();
    assert!(published
        .iter()
        .any(|e| matches!(e.kind, EventKind::CollisionPrevented { .. }) && e.seq == 0));
    // Ana replies on the current version; Ben's reply on the version before
    // it is told that Ana replied.
    let now_v = before.version;
    let out = replied(&f, "ana", &c, now_v, "Shipped today!", "k2").await;
    let ben = f.actor("ben");
    let err = f.inbox.reply(&ben, &c, now_v, reply("Let me check", "k3"));
    let err = err.await.unwrap_err();
    let changes = &err.as_conflict().expect("conflict").changes;
    let agent = Some(id("ana"));
    let ana_replied = Change::AgentReplied {
        agent,
        message: out.id,
    };
    assert!(changes.contains(&ana_replied), "{changes:?}");
    // A stale claim on a conversation someone owns says who.
    let err = f.inbox.claim(&f.actor("ben"), &c, seen).await.unwrap_err();
    assert!(
        matches!(err, Error::AlreadyOwned { ref owner, .. } if owner.as_str() == "ana"),
        "{err}"
    );
    // Notes commute: a stale note goes in with a warning.
    let note = f.inbox.note(&ben, &c, seen, "customer called too", "n1");
    assert!(!note.await.unwrap().warnings.is_empty());
    // The warn policy lets a stale reply through with the changes as warning.
    f.edit_settings(|s| s.replies.stale = crate::inbox::StaleReplies::Warn)
        .await
        .unwrap();
    let lenient = &f.inbox;
    let late = reply("Also: tracking link", "k4");
    let out = lenient
        .reply(&f.actor("ana"), &c, seen, late)
        .await
        .unwrap();
    let warned = out.warnings.iter().any(|w| w.contains("changed since"));
    assert!(warned, "{:?}", out.warnings);
}

/// Retrying a reply with the same key returns the first reply; one message
/// and one delivery.
pub(crate) async fn replies_are_idempotent<S: Store + AsDynStore + ?Sized>(store: Arc<S>) {
    let (f, c) = opened(store, "34688888888", "hi").await;
    let ana = f.actor("ana");
    let hello = || reply("Hello!", "req-1");
    let first = f.inbox.reply(&ana, &c, 1, hello()).await.unwrap();
    assert!(!first.replayed);
    for _ in 0..3 {
        let again = f.inbox.reply(&ana, &c, 1, hello()).await.unwrap();
        assert!(again.replayed);
        assert_eq!(
            again.message.as_ref().map(|m| &m.id),
            first.message.as_ref().map(|m| &m.id)
        );
    }
    // Concurrent retries as well.
    let v = f.version(&c).await.unwrap();
    let results =
        join_all((0..6).map(|_| f.inbox.reply(&ana, &c, v, reply("Second", "req-2")))).await;
    let ids: HashSet<MessageId> = results
        .iter()
        .map(|r| r.as_ref().unwrap().message.as_ref().unwrap().id.clone())
        .collect();
    assert_eq!(ids.len(), 1, "{results:?}");
    let messages = messages_of(&f, &c).await;
    let outbound = messages
        .iter()
        .filter(|m| m.direction == Direction::Outbound);
    assert_eq!(outbound.count(), 2);
    f.inbox.dispatch(100).await.unwrap();
    f.inbox.dispatch(100).await.unwrap();
    assert_eq!(f.transport.sent().len(), 2);
    // The same key for another conversation is refused.
    let c2 = says(&f, "1001", "w2", "34688888889", "hi").await;
    let err = f.inbox.reply(&ana, &c2, 1, hello()).await;
    assert_eq!(refused(err), "invalid_input");
}

/// Notes (and handoff notes) are stored but never handed to the transport.
pub(crate) async fn notes_never_reach_the_transport<S: Store + AsDynStore + ?Sized>(store: Arc<S>) {
    let (f, c) = opened(store, "34690000000", "hi").await;
    let ana = f.actor("ana");
    let n = f
        .inbox
        .note(&ana, &c, 1, "@ben this is the VIP from yesterday", "n1");
    let note = n.await.unwrap().message.unwrap();
    assert!(note.is_note());
    assert_eq!(note.mentions, vec![AgentId::new("ben").unwrap()]);
    let v = f.version(&c).await.unwrap();
    f.inbox.claim(&ana, &c, v).await.unwrap();
    let v = f.version(&c).await.unwrap();
    let handoff = f
        .inbox
        .transfer(&ana, &c, v, agent("ben"), "Wants a refund, see note");
    handoff.await.unwrap();
    let v = f.version(&c).await.unwrap();
    replied(&f, "ben", &c, v, "Refund issued", "r1").await;
    let report = f.inbox.dispatch(100).await.unwrap();
    assert_eq!(report.sent, 1);
    let sent = f.transport.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].request.content, Content::text("Refund issued"));
    let messages = messages_of(&f, &c).await;
    assert_eq!(messages.iter().filter(|m| m.is_note()).count(), 2);
}

/// Roles and tenancy are enforced by the core, and a refused action changes
/// nothing.
pub(crate) async fn permissions_are_enforced_and_change_nothing<S: Store + AsDynStore + ?Sized>(
    store: Arc<S>,
) {
    let (f, c) = opened(store, "34691000000", "hi").await;
    let v = f.version(&c).await.unwrap();
    let [ana, sam, cy, gus] = ["ana", "sam", "cy", "gus"].map(|a| f.actor(a));
    let to_sales = f.inbox.assign(&sam, &c, v, team("sales"), "sales lead");
    to_sales.await.unwrap();
    let before = stored(&f, &c).await;
    let events_before = events(&f).await.len();
    let v = before.version;
    // An agent may not assign others' conversations.
    let err = f.inbox.assign(&ana, &c, v, agent("ben"), "").await;
    assert_eq!(err.as_ref().unwrap_err().code(), "forbidden", "{err:?}");
    // Cy (support) cannot see a sales conversation, claim it or reply.
    assert_eq!(refused(f.inbox.conversation(&cy, &c).await), "forbidden");
    assert_eq!(refused(f.inbox.claim(&cy, &c, v).await), "forbidden");
    let hi = reply("hi", "x1");
    assert_eq!(refused(f.inbox.reply(&cy, &c, v, hi).await), "forbidden");
    // Another tenant's admin does not even find it.
    assert_eq!(refused(f.inbox.conversation(&gus, &c).await), "not_found");
    assert_eq!(refused(f.inbox.claim(&gus, &c, v).await), "not_found");
    // Settings are for admins only.
    let team = Team::new(f.acme(), id("vip"), "VIP");
    assert_eq!(refused(f.inbox.save_team(&sam, &team).await), "forbidden");
    let ada = f.actor("ada");
    f.inbox.save_team(&ada, &team).await.unwrap();
    let foreign = Team::new(t("globex"), id("x"), "X");
    assert_eq!(
        refused(f.inbox.save_team(&ada, &foreign).await),
        "not_found"
    );
    // Assignee-only replies: others are refused, supervisors may override.
    f.edit_settings(|s| s.replies.assignee_only = true)
        .await
        .unwrap();
    let strict = &f.inbox;
    strict.claim(&ana, &c, v).await.unwrap();
    let v2 = v + 1;
    let ben = f.actor("ben");
    // What each sees they may do says so before they try.
    let c_ref = &c;
    let may = |who| async move { strict.conversation(&who, c_ref).await.unwrap().may };
    let ben_may = may(ben.clone()).await;
    assert!(!ben_may.reply.allowed && ben_may.note && !ben_may.assign);
    let why = ben_may.reply.reason.unwrap();
    assert!(why.contains("only its owner, ana, may reply"), "{why}");
    assert!(may(ana.clone()).await.reply.allowed);
    let sam_may = may(sam.clone()).await;
    assert!(sam_may.reply.allowed && sam_may.assign, "{sam_may:?}");
    let checked = strict.check_reply(&ben, &c, v2, false).await;
    assert_eq!(refused(checked), "forbidden");
    strict.check_reply(&sam, &c, v2, false).await.unwrap();
    let err = strict.reply(&ben, &c, v2, reply("me too", "b1")).await;
    let err = err.unwrap_err();
    assert_eq!(err.code(), "forbidden");
    assert!(err.to_string().contains("ana"), "{err}");
    let supervisor = reply("Supervisor here", "s1");
    strict.reply(&sam, &c, v2, supervisor).await.unwrap();
    // Only ana's claim and sam's reply were recorded.
    assert_eq!(events(&f).await.len(), events_before + 2);
    // Unknown agents are not found.
    let ghost = crate::inbox::Actor::new(f.acme(), id("ghost"));
    let all = ViewQuery::new(View::All);
    assert_eq!(refused(f.inbox.list(&ghost, &all).await), "not_found");
}

/// Bad input gets a typed error naming the problem, and nothing changes.
pub(crate) async fn bad_input_is_rejected_and_changes_nothing<S: Store + AsDynStore + ?Sized>(
    store: Arc<S>,
) {
    let (f, c) = opened(store, "34692000000", "hi").await;
    let before = stored(&f, &c).await;
    let (ana, sam, inbox) = (f.actor("ana"), f.actor("sam"), &f.inbox);
    let welcome = Reply {
        content: Content::RequestWelcome,
        idempotency_key: "k9".into(),
        reply_to: None,
    };
    let cursor = crate::query::Cursor::parse("la.1.2.x").unwrap();
    let bad_cursor = ViewQuery::new(View::All)
        .after(Some(cursor))
        .sort(SortOrder::Newest);
    let past = Fixture::start() - TimeDelta::hours(1);
    assert_bad_input(
        "empty reply",
        inbox.reply(&ana, &c, 1, reply("   ", "k")).await,
    );
    assert_bad_input(
        "empty key",
        inbox.reply(&ana, &c, 1, reply("hi", " ")).await,
    );
    assert_bad_input(
        "unknown conversation",
        inbox.claim(&ana, &id("nope"), 1).await,
    );
    assert_bad_input("future version", inbox.claim(&ana, &c, 99).await);
    assert_bad_input("empty note", inbox.note(&ana, &c, 1, "", "n").await);
    assert_bad_input("empty tag", inbox.tag(&ana, &c, 1, &[" "], &[]).await);
    assert_bad_input("snooze in the past", inbox.snooze(&ana, &c, 1, past).await);
    assert_bad_input(
        "unknown assignee",
        inbox.assign(&sam, &c, 1, agent("nobody"), "").await,
    );
    assert_bad_input(
        "unknown team",
        inbox.assign(&sam, &c, 1, team("nobody"), "").await,
    );
    assert_bad_input(
        "transfer without note",
        inbox.transfer(&sam, &c, 1, agent("ben"), "").await,
    );
    assert_bad_input("release unowned", inbox.release(&sam, &c, 1, "").await);
    assert_bad_input(
        "inbound-only content",
        inbox.reply(&ana, &c, 1, welcome).await,
    );
    assert_bad_input("bad cursor", inbox.list(&ana, &bad_cursor).await);
    let no_items = ViewQuery::new(View::All).limit(0);
    assert_bad_input("zero limit", inbox.list(&ana, &no_items).await);
    assert_eq!(stored(&f, &c).await, before);
    assert_eq!(messages_of(&f, &c).await.len(), 1);
}

/// Asserts that `result` refused bad input (`what`) with a typed error
/// and a message.
fn assert_bad_input<T: std::fmt::Debug>(what: &str, result: Result<T, Error>) {
    let err = result.unwrap_err();
    assert!(
        matches!(
            err.code(),
            "invalid_input" | "invalid_content" | "not_found" | "invalid_state"
        ),
        "{what}: {err}"
    );
    assert!(!err.to_string().is_empty());
}

/// Outside the 24-hour window free-form replies are refused with a typed
/// error; templates go through.
pub(crate) async fn window_closed_refuses_free_form_but_accepts_templates<
    S: Store + AsDynStore + ?Sized,
>(
    store: Arc<S>,
) {
    let (f, c) = opened(store, "34693000000", "hi").await;
    f.advance(TimeDelta::hours(23) + TimeDelta::minutes(59));
    let ana = f.actor("ana");
    // The check before a reply agrees with the reply and stores nothing.
    f.inbox.check_reply(&ana, &c, 1, false).await.unwrap();
    assert_eq!(f.version(&c).await.unwrap(), 1);
    assert!(f
        .inbox
        .earlier_reply(&ana, &c, "k1")
        .await
        .unwrap()
        .is_none());
    replied(&f, "ana", &c, 1, "just in time", "k1").await;
    let earlier = f
        .inbox
        .earlier_reply(&ana, &c, "k1")
        .await
        .unwrap()
        .unwrap();
    assert!(earlier.replayed && earlier.message.is_some());
    f.advance(TimeDelta::minutes(2));
    let v = f.version(&c).await.unwrap();
    let checked = f.inbox.check_reply(&ana, &c, v, false).await;
    assert!(
        matches!(checked, Err(Error::WindowClosed { .. })),
        "{checked:?}"
    );
    f.inbox.check_reply(&ana, &c, v, true).await.unwrap();
    let err = f.inbox.reply(&ana, &c, v, reply("too late", "k2")).await;
    let err = err.unwrap_err();
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
    let follow_up = Reply {
        content: template,
        idempotency_key: "k3".into(),
        reply_to: None,
    };
    let out = f.inbox.reply(&ana, &c, v, follow_up).await.unwrap();
    assert!(out.message.unwrap().content.is_template());
}

/// Ownership changes record actor, time and reason in the timeline; over
/// capacity assignment warns.
pub(crate) async fn transfer_assign_release_record_who_and_why<S: Store + AsDynStore + ?Sized>(
    store: Arc<S>,
) {
    let f = fixture(store).await;
    let ben: AgentId = id("ben");
    // Ben is at capacity (3).
    for i in 0..3 {
        let c = nth_says(&f, i, "3469800000", "hi").await;
        f.inbox.claim(&f.actor("ben"), &c, 1).await.unwrap();
    }
    let c = says(&f, "1001", "w9", "34698100000", "hi").await;
    let (ana, sam) = (f.actor("ana"), f.actor("sam"));
    f.inbox.claim(&ana, &c, 1).await.unwrap();
    let to_ben = Assignee::Agent(ben.clone());
    let out = f.inbox.transfer(&ana, &c, 2, to_ben, "Knows this customer");
    let out = out.await.unwrap();
    let warned = out.warnings.iter().any(|w| w.contains("capacity"));
    assert!(warned, "{:?}", out.warnings);
    assert_eq!(out.conversation.assignee, Some(ben.clone()));
    f.advance(TimeDelta::minutes(3));
    let v = out.conversation.version;
    let out = f.inbox.release(&sam, &c, v, "ben went home").await.unwrap();
    assert_eq!(out.conversation.assignee, None);
    let timeline = f.inbox.conversation(&sam, &c).await.unwrap().timeline;
    let find = |is: fn(&EventKind) -> bool| timeline.iter().find(|e| is(&e.kind)).unwrap();
    let transferred = find(|k| matches!(k, EventKind::Transferred { .. }));
    assert_eq!(transferred.actor, EventActor::Agent(id("ana")));
    let released = find(|k| matches!(k, EventKind::Released { .. }));
    assert_eq!(released.actor, EventActor::Agent(id("sam")));
    assert_eq!(released.at, Fixture::start() + TimeDelta::minutes(3));
    match &released.kind {
        EventKind::Released { agent, reason } => {
            assert_eq!((agent, reason.as_str()), (&ben, "ben went home"))
        }
        _ => unreachable!(),
    }
    let messages = messages_of(&f, &c).await;
    let handoff = messages.iter().find(|m| m.is_note()).unwrap();
    assert_eq!(handoff.content, Content::text("Knows this customer"));
}

/// Reply leases: one holder at a time, who and until when is reported to
/// others, they lapse after the TTL, renewals extend them, and a reply by
/// another agent is refused while one is held.
pub(crate) async fn reply_leases_are_exclusive_and_expire<S: Store + AsDynStore + ?Sized>(
    store: Arc<S>,
) {
    let (f, c) = opened(store, "34690300000", "hi").await;
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
    let err = f.inbox.reply(&ben, &c, 1, reply("me too", "b1")).await;
    let err = err.unwrap_err();
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
    replied(&f, "ben", &c, 1, "Hello!", "b2").await;
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
    let gus = f.actor("gus");
    assert_eq!(
        refused(f.inbox.acquire_reply_lease(&gus, &c).await),
        "not_found"
    );
    let published = f.bus.published();
    assert!(published
        .iter()
        .any(|e| matches!(e.kind, EventKind::ReplyLease { .. })));
}

/// An authentication template needs the customer's phone number: to a
/// customer known only by their WhatsApp user id it is refused before
/// anything is stored or sent; to one with a number it goes.
pub(crate) async fn authentication_templates_need_a_phone_number<S: Store + AsDynStore + ?Sized>(
    store: Arc<S>,
) {
    let f = fixture(store).await;
    f.edit_settings(|s| {
        let mut login = crate::model::TemplateDefinition::new("login_code", "en_US");
        login.category = Some(crate::model::TemplateCategory::Authentication);
        s.templates.push(login);
    })
    .await
    .unwrap();
    let code = |key: &str| Reply {
        content: Content::Template {
            name: "login_code".into(),
            language: "en_US".into(),
            components: serde_json::json!([]),
        },
        idempotency_key: key.into(),
        reply_to: None,
    };
    let mut m = f.inbound("1001", "w1", "unused", Content::text("hola"));
    m.from = ContactIdentity::user("ES.hidden");
    let hidden = ingested(&f, InboundEvent::Message(m)).await;
    let ana = f.actor("ana");
    let before = f.store.messages(&f.acme(), &hidden).await.unwrap().len();
    let err = f
        .inbox
        .reply(&ana, &hidden, 1, code("k1"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "invalid_content", "{err}");
    assert!(err.to_string().contains("phone number"), "{err}");
    assert_eq!(
        f.store.messages(&f.acme(), &hidden).await.unwrap().len(),
        before
    );
    assert_eq!(f.version(&hidden).await.unwrap(), 1, "nothing changed");
    let with_phone = says(&f, "1001", "w2", "34611112233", "hola").await;
    let out = f
        .inbox
        .reply(&ana, &with_phone, 1, code("k2"))
        .await
        .unwrap();
    assert!(out.message.unwrap().content.is_template());
}
