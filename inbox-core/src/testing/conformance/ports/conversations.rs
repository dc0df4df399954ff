//! The [`Conversations`] contract: atomic, optimistic commits with unique
//! keys, the gap-free event log, tenancy and listing.

use super::messages::by_external_id;
use crate::ports::IngestRequest;
use crate::testing::conformance::support::*;

/// A commit stores the contact, conversation, messages and events, and
/// numbers the events from 1.
pub(crate) async fn commit_stores_everything_and_numbers_events<S: Store + ?Sized>(store: Arc<S>) {
    let c = seed(&*store).await;
    let acme = t("acme");
    assert_eq!(store.conversation(&acme, &c.id).await.unwrap(), c);
    let k = store.contact(&acme, &c.contact).await.unwrap();
    assert_eq!(k.identity.wa_id.as_deref(), Some("34600000001"));
    assert_eq!(
        store
            .find_contact(&acme, &ContactIdentity::wa("34600000001"))
            .await
            .unwrap()
            .map(|k| k.id),
        Some(c.contact.clone())
    );
    let m = store
        .message(&acme, &MessageId::new("m1").unwrap())
        .await
        .unwrap();
    assert_eq!(m, inbound(&c, "m1", "wamid.1"));
    let support = ChannelId::new("support").unwrap();
    for (channel, expected) in [(&c.channel, Some(m.id.clone())), (&support, None)] {
        let found = by_external_id(&*store, &acme, channel, "wamid.1").await;
        assert_eq!(found, expected, "on {channel}");
    }

    // A second commit: an update with two messages, in order.
    let c2 = bump(&c);
    let committed = store
        .commit(update_with(
            &c,
            vec![inbound(&c2, "m2", "wamid.2"), inbound(&c2, "m3", "wamid.3")],
            vec![received(&c2, "m2"), received(&c2, "m3")],
        ))
        .await
        .unwrap();
    let seqs: Vec<u64> = committed.events.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, [2, 3]);
    let ids: Vec<String> = store
        .messages(&acme, &c.id)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.id.to_string())
        .collect();
    assert_eq!(ids, ["m1", "m2", "m3"]);
    assert_eq!(store.conversation(&acme, &c.id).await.unwrap().version, 2);
    let events = store.conversation_events(&acme, &c.id, 1).await.unwrap();
    assert_eq!(events.len(), 2);
    assert!(events.iter().all(|e| e.conversation_version == Some(2)));
    assert_eq!(
        store
            .conversation_events(&acme, &c.id, 0)
            .await
            .unwrap()
            .len(),
        3
    );
}

/// An update against a version that is no longer current fails with a
/// conflict, and nothing of that changeset is written.
pub(crate) async fn commit_rejects_stale_versions_and_writes_nothing<S: Store + ?Sized>(
    store: Arc<S>,
) {
    let c = seed(&*store).await;
    let acme = t("acme");
    commit_alone(&*store, acme.clone(), update(&c))
        .await
        .unwrap();
    let c2 = bump(&c);
    let err = store
        .commit(update_with(
            &c,
            vec![inbound(&c2, "m9", "wamid.9")],
            vec![received(&c2, "m9")],
        ))
        .await
        .unwrap_err();
    let conflict = err.as_conflict().expect("conflict");
    assert_eq!((conflict.seen, conflict.current), (1, 2));
    assert!(store
        .message(&acme, &MessageId::new("m9").unwrap())
        .await
        .is_err());
    assert_eq!(store.events_since(&acme, 0, 100).await.unwrap().len(), 1);
    // A version that does not follow the expected one is bad input.
    let mut skip = bump(&bump(&c2));
    skip.version = 9;
    let err = commit_alone(&*store, acme.clone(), over(skip, 2)).await;
    assert_eq!(refused(err), "invalid_input");
    // A contact update on a stale version conflicts too.
    let mut k = store.contact(&acme, &c.contact).await.unwrap();
    k.version = 2;
    k.profile_name = Some("new".into());
    commit_alone(&*store, acme.clone(), over(k.clone(), 1))
        .await
        .unwrap();
    let err = commit_alone(&*store, acme.clone(), over(k, 1)).await;
    assert_eq!(refused(err), "conflict");
}

/// A changeset whose message repeats an external id fails whole with
/// "duplicate message", naming the stored message.
pub(crate) async fn commit_is_atomic_on_duplicate_message<S: Store + ?Sized>(store: Arc<S>) {
    let c = seed(&*store).await;
    let acme = t("acme");
    let c2 = bump(&c);
    let err = store
        .commit(update_with(
            &c,
            vec![inbound(&c2, "m2", "wamid.2"), inbound(&c2, "m3", "wamid.1")],
            vec![received(&c2, "m2")],
        ))
        .await
        .unwrap_err();
    assert_eq!(expect_duplicate(&err, Unique::Message), "m1");
    assert_eq!(store.conversation(&acme, &c.id).await.unwrap().version, 1);
    assert!(store
        .message(&acme, &MessageId::new("m2").unwrap())
        .await
        .is_err());
    assert_eq!(store.events_since(&acme, 0, 10).await.unwrap().len(), 1);
    // The same external id on another channel is a different message.
    let other = conversation("acme", "c2", "support", "k1");
    store
        .commit(Changeset {
            conversation: Some(insert(other.clone())),
            messages: vec![inbound(&other, "m4", "wamid.1")],
            ..Changeset::new(acme.clone())
        })
        .await
        .unwrap();
    // Message ids are unique too.
    let err = store
        .commit(update_with(&c, vec![inbound(&c, "m1", "wamid.77")], vec![]))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Duplicate { .. }), "{err}");
}

/// Two messages with the same idempotency key are never both stored.
pub(crate) async fn commit_enforces_unique_idempotency_keys<S: Store + ?Sized>(store: Arc<S>) {
    let c = seed(&*store).await;
    let acme = t("acme");
    let c2 = bump(&c);
    store
        .commit(update_with(&c, vec![outbound(&c2, "r1", "key-1")], vec![]))
        .await
        .unwrap();
    let err = store
        .commit(update_with(
            &c2,
            vec![outbound(&bump(&c2), "r2", "key-1")],
            vec![],
        ))
        .await
        .unwrap_err();
    assert_eq!(expect_duplicate(&err, Unique::IdempotencyKey), "r1");
    assert_eq!(
        store
            .message_by_idempotency_key(&acme, "key-1")
            .await
            .unwrap()
            .map(|m| m.id.to_string()),
        Some("r1".into())
    );
    assert!(store
        .message_by_idempotency_key(&t("globex"), "key-1")
        .await
        .unwrap()
        .is_none());
}

/// A second active conversation for the same (channel, contact) is refused,
/// whether inserted or reopened; after resolution a new one is allowed.
pub(crate) async fn one_active_conversation_per_channel_and_contact<S: Store + ?Sized>(
    store: Arc<S>,
) {
    let c = seed(&*store).await;
    let acme = t("acme");
    let second = conversation("acme", "c2", "sales", "k1");
    let err = commit_alone(&*store, acme.clone(), insert(second.clone()))
        .await
        .unwrap_err();
    assert_eq!(expect_duplicate(&err, Unique::ActiveConversation), "c1");
    // Another channel is fine.
    let other_channel = conversation("acme", "c3", "support", "k1");
    commit_alone(&*store, acme.clone(), insert(other_channel))
        .await
        .unwrap();
    // Resolve c1, then c2 can open.
    let mut resolved = bump(&c);
    resolved.status = ConversationStatus::Resolved;
    commit_alone(&*store, acme.clone(), over(resolved.clone(), 1))
        .await
        .unwrap();
    commit_alone(&*store, acme.clone(), insert(second.clone()))
        .await
        .unwrap();
    assert_eq!(
        store
            .latest_conversation(&acme, &c.channel, &c.contact)
            .await
            .unwrap()
            .map(|c| c.id.to_string()),
        Some("c2".into())
    );
    // Reopening c1 now would make two active ones.
    let mut reopen = bump(&resolved);
    reopen.status = ConversationStatus::Open;
    let err = commit_alone(&*store, acme.clone(), over(reopen, 2))
        .await
        .unwrap_err();
    expect_duplicate(&err, Unique::ActiveConversation);
    // Conversation ids are unique.
    let mut dup = conversation("acme", "c2", "support", "k9");
    dup.status = ConversationStatus::Resolved;
    let err = commit_alone(&*store, acme, insert(dup)).await.unwrap_err();
    expect_duplicate(&err, Unique::Conversation);
}

/// Many writers racing on one version: exactly one wins, the rest conflict.
pub(crate) async fn concurrent_commits_on_one_version_exactly_one_wins<S: Store + ?Sized>(
    store: Arc<S>,
) {
    let c = seed(&*store).await;
    let acme = t("acme");
    let attempts = (0..16).map(|i| {
        let store = store.clone();
        let c = c.clone();
        async move {
            let c2 = bump(&c);
            let queued = EventKind::ReplyQueued {
                message: MessageId::new(format!("r{i}")).unwrap(),
                content: "text".into(),
            };
            store
                .commit(update_with(
                    &c,
                    vec![outbound(&c2, &format!("r{i}"), &format!("k{i}"))],
                    vec![ev(&c2, queued)],
                ))
                .await
        }
    });
    let results = join_all(attempts).await;
    let wins = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(wins, 1, "exactly one writer wins");
    assert!(results
        .iter()
        .filter_map(|r| r.as_ref().err())
        .all(|e| e.code() == "conflict"));
    assert_eq!(store.messages(&acme, &c.id).await.unwrap().len(), 2);
    assert_eq!(store.events_since(&acme, 0, 100).await.unwrap().len(), 2);
}

/// Sequences are per tenant, consecutive, and pageable.
pub(crate) async fn event_sequences_are_per_tenant_and_gap_free<S: Store + ?Sized>(store: Arc<S>) {
    let c = seed(&*store).await;
    let acme = t("acme");
    let g = conversation("globex", "g1", "main", "gk");
    store
        .commit(Changeset {
            conversation: Some(insert(g.clone())),
            events: vec![ev(
                &g,
                EventKind::Tagged {
                    added: vec!["x".into()],
                    removed: vec![],
                },
            )],
            ..Changeset::new(t("globex"))
        })
        .await
        .unwrap();
    let mut cur = c.clone();
    for _ in 0..5 {
        let next = bump(&cur);
        let tagged = EventKind::Tagged {
            added: vec![],
            removed: vec![],
        };
        let raised = EventKind::PriorityChanged {
            from: Priority::Normal,
            to: Priority::High,
        };
        store
            .commit(update_with(
                &cur,
                vec![],
                vec![ev(&next, tagged), ev(&next, raised)],
            ))
            .await
            .unwrap();
        cur = next;
    }
    let all = store.events_since(&acme, 0, 1000).await.unwrap();
    let seqs: Vec<u64> = all.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=11).collect::<Vec<_>>());
    let page = store.events_since(&acme, 4, 3).await.unwrap();
    assert_eq!(page.iter().map(|e| e.seq).collect::<Vec<_>>(), [5, 6, 7]);
    let globex = store.events_since(&t("globex"), 0, 10).await.unwrap();
    assert_eq!(globex.iter().map(|e| e.seq).collect::<Vec<_>>(), [1]);
    assert!(globex.iter().all(|e| e.tenant.as_str() == "globex"));
}

/// Reads with another tenant's id find nothing; writes naming another
/// tenant are refused.
pub(crate) async fn tenants_never_see_each_other<S: Store + ?Sized>(store: Arc<S>) {
    let c = seed(&*store).await;
    let globex = t("globex");
    assert_eq!(
        store.conversation(&globex, &c.id).await.unwrap_err().code(),
        "not_found"
    );
    assert_eq!(
        store.contact(&globex, &c.contact).await.unwrap_err().code(),
        "not_found"
    );
    assert_eq!(
        store
            .message(&globex, &MessageId::new("m1").unwrap())
            .await
            .unwrap_err()
            .code(),
        "not_found"
    );
    assert!(store
        .messages(&globex, &c.id)
        .await
        .unwrap_or_default()
        .is_empty());
    assert!(store
        .find_contact(&globex, &ContactIdentity::wa("34600000001"))
        .await
        .unwrap()
        .is_none());
    assert_eq!(
        by_external_id(&*store, &globex, &c.channel, "wamid.1").await,
        None
    );
    assert!(store
        .latest_conversation(&globex, &c.channel, &c.contact)
        .await
        .unwrap()
        .is_none());
    assert!(store.events_since(&globex, 0, 10).await.unwrap().is_empty());
    assert!(store
        .conversation_events(&globex, &c.id, 0)
        .await
        .unwrap()
        .is_empty());
    let q = ConversationQuery {
        filter: ConversationFilter::default(),
        sort: SortOrder::LatestActivity,
        after: None,
        limit: 10,
    };
    assert!(store
        .list_conversations(&globex, &q)
        .await
        .unwrap()
        .items
        .is_empty());
    let everything = ConversationFilter::default();
    let counted = store.count_conversations(&globex, &everything, 100).await;
    assert_eq!(counted.unwrap(), 0);
    // A changeset that smuggles another tenant's row is refused whole.
    let mut foreign = bump(&c);
    foreign.tenant = globex.clone();
    let err = commit_alone(&*store, globex.clone(), over(foreign, 1))
        .await
        .unwrap_err();
    assert!(matches!(err.code(), "not_found" | "conflict"), "{err}");
    let smuggled = Changeset {
        conversation: Some(update(&c)),
        ..Changeset::new(globex)
    };
    assert_eq!(
        store.commit(smuggled).await.unwrap_err().code(),
        "invalid_input"
    );
    assert_eq!(
        store.conversation(&t("acme"), &c.id).await.unwrap().version,
        1
    );
}

/// Listing returns exactly what the reference semantics of
/// [`crate::query`] say, for every sort order and a range of filters, page
/// after page.
pub(crate) async fn listing_matches_the_reference_semantics<S: Store + ?Sized>(store: Arc<S>) {
    setup_tenants(&*store).await;
    let acme = t("acme");
    let mut all = Vec::new();
    for i in 0..37i64 {
        let channel = if i % 3 == 0 { "support" } else { "sales" };
        let mut c = conversation("acme", &format!("c{i:02}"), channel, &format!("k{i}"));
        (c.status, c.priority) = [
            (ConversationStatus::Open, Priority::Low),
            (ConversationStatus::Pending, Priority::Normal),
            (ConversationStatus::Snoozed, Priority::High),
            (ConversationStatus::Resolved, Priority::Urgent),
        ][(i % 4) as usize];
        c.assignee = match i % 5 {
            0 | 1 => None,
            2 => Some(AgentId::new("ana").unwrap()),
            _ => Some(AgentId::new("ben").unwrap()),
        };
        c.team = match i % 3 {
            0 => None,
            1 => Some(TeamId::new("sales").unwrap()),
            _ => Some(TeamId::new("support").unwrap()),
        };
        if i % 2 == 0 {
            c.tags = vec!["vip".into()];
        }
        // Ties on purpose: several share an activity time.
        c.last_activity_at = at(i / 3);
        c.created_at = at(i % 7);
        c.waiting_since = (i % 3 != 1).then(|| at(100 - i));
        commit_alone(&*store, acme.clone(), insert(c.clone()))
            .await
            .unwrap();
        all.push(c);
    }
    // A conversation of another tenant must never appear.
    let g = conversation("globex", "c99", "main", "k1");
    commit_alone(&*store, t("globex"), insert(g)).await.unwrap();

    let filters = vec![
        ConversationFilter::default(),
        ConversationFilter {
            statuses: vec![ConversationStatus::Open, ConversationStatus::Pending],
            ..Default::default()
        },
        ConversationFilter {
            assignee: AssigneeFilter::Unassigned,
            ..Default::default()
        },
        ConversationFilter {
            assignee: AssigneeFilter::Agent(AgentId::new("ana").unwrap()),
            ..Default::default()
        },
        ConversationFilter {
            team: Some(TeamId::new("sales").unwrap()),
            tag: Some("vip".into()),
            ..Default::default()
        },
        ConversationFilter {
            channel: Some(ChannelId::new("support").unwrap()),
            min_priority: Some(Priority::High),
            ..Default::default()
        },
        ConversationFilter {
            contact: Some(ContactId::new("k4").unwrap()),
            ..Default::default()
        },
        ConversationFilter {
            visible_to: Some(VisibleTo {
                agent: AgentId::new("ana").unwrap(),
                teams: vec![TeamId::new("sales").unwrap()],
            }),
            ..Default::default()
        },
    ];
    let orders = [
        SortOrder::LatestActivity,
        SortOrder::OldestActivity,
        SortOrder::WaitingLongest,
        SortOrder::Priority,
        SortOrder::Newest,
    ];
    for filter in &filters {
        for sort in orders {
            let full = ConversationQuery {
                filter: filter.clone(),
                sort,
                after: None,
                limit: 500,
            };
            let expected: Vec<String> = page_in_memory(&full, all.iter())
                .unwrap()
                .items
                .into_iter()
                .map(|c| c.id.to_string())
                .collect();
            let mut got = Vec::new();
            let mut after = None;
            let mut pages = 0;
            loop {
                let q = ConversationQuery {
                    filter: filter.clone(),
                    sort,
                    after: after.clone(),
                    limit: 4,
                };
                let page = store.list_conversations(&acme, &q).await.unwrap();
                assert!(page.items.len() <= 4);
                got.extend(page.items.iter().map(|c| c.id.to_string()));
                pages += 1;
                assert!(pages < 50, "pagination does not end");
                match page.next {
                    Some(n) => after = Some(n),
                    None => break,
                }
            }
            assert_eq!(got, expected, "filter {filter:?} sort {sort:?}");
        }
        // Counted as listed; never past the cap.
        let listed = page_in_memory(&full_of(filter), all.iter())
            .unwrap()
            .items
            .len() as u64;
        let counted = store
            .count_conversations(&acme, filter, 1000)
            .await
            .unwrap();
        assert_eq!(counted, listed, "count of {filter:?}");
        let capped = store.count_conversations(&acme, filter, 2).await.unwrap();
        assert_eq!(capped, listed.min(2), "capped count of {filter:?}");
    }
    // Bad limits and cursors are refused.
    let bad = ConversationQuery {
        filter: Default::default(),
        sort: SortOrder::Newest,
        after: None,
        limit: 0,
    };
    assert_eq!(
        store
            .list_conversations(&acme, &bad)
            .await
            .unwrap_err()
            .code(),
        "invalid_input"
    );
}

/// A presence change is committed with its event; unknown agents are not
/// found.
pub(crate) async fn presence_changes_are_committed_with_their_event<S: Store + ?Sized>(
    store: Arc<S>,
) {
    setup_tenants(&*store).await;
    let acme = t("acme");
    let ana = Agent::new(
        acme.clone(),
        AgentId::new("ana").unwrap(),
        "Ana",
        Role::Agent,
    );
    store.upsert_agent(&ana).await.unwrap();
    let e = Event::new(
        acme.clone(),
        at(0),
        EventActor::Agent(ana.id.clone()),
        EventKind::PresenceChanged {
            agent: ana.id.clone(),
            presence: Presence::Online,
        },
    );
    store
        .commit(Changeset {
            presence: Some((ana.id.clone(), Presence::Online)),
            events: vec![e.clone()],
            ..Changeset::new(acme.clone())
        })
        .await
        .unwrap();
    assert_eq!(
        store.agent(&acme, &ana.id).await.unwrap().presence,
        Presence::Online
    );
    assert_eq!(store.events_since(&acme, 0, 10).await.unwrap().len(), 1);
    let err = store
        .commit(Changeset {
            presence: Some((AgentId::new("nobody").unwrap(), Presence::Online)),
            events: vec![e],
            ..Changeset::new(acme.clone())
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), "not_found");
    assert_eq!(store.events_since(&acme, 0, 10).await.unwrap().len(), 1);
}

/// What ingest reads in one call: the message already stored with the
/// external id on the channel (a redelivery), else the contact with the
/// identity (by `wa_id` first, then `user_id`) and its latest conversation
/// on the channel (the active one if there is one); nothing of another
/// channel or tenant.
pub(crate) async fn ingest_context_reads_what_ingest_needs<S: Store + ?Sized>(store: Arc<S>) {
    let c1 = seed(&*store).await;
    let acme = t("acme");
    let (sales, support) = (c1.channel.clone(), ChannelId::new("support").unwrap());
    let k1 = ContactIdentity::wa("34600000001");
    let some = |s: &str| Some(s.to_string());
    let on_sales = |identity, external_id| IngestRequest {
        tenant: &acme,
        channel: &sales,
        identity,
        external_id,
    };
    let cx = store
        .ingest_context(on_sales(&k1, "wamid.1"))
        .await
        .unwrap();
    assert_eq!(cx.existing.map(|m| m.id.to_string()), some("m1"));
    let cx = store
        .ingest_context(on_sales(&k1, "wamid.new"))
        .await
        .unwrap();
    assert_eq!(ids_read(&cx), (None, some("k1"), some("c1")));
    assert_eq!(cx.latest, Some(c1.clone()));
    // The same external id on another channel is another message.
    let elsewhere = IngestRequest {
        channel: &support,
        ..on_sales(&k1, "wamid.1")
    };
    assert_eq!(
        ingest_ids(&*store, elsewhere).await,
        (None, some("k1"), None)
    );
    // By user id when the number is unknown; the number first.
    let mut k2 = contact("acme", "k2", "unused");
    k2.identity = ContactIdentity::user("US.2");
    commit_alone(&*store, acme.clone(), insert(k2))
        .await
        .unwrap();
    let mut both = ContactIdentity::user("US.2");
    both.wa_id = Some("34699999999".into());
    let known = ContactIdentity {
        wa_id: k1.wa_id.clone(),
        ..both.clone()
    };
    for (identity, expected) in [
        (&both, (None, some("k2"), None)),
        (&known, (None, some("k1"), some("c1"))),
    ] {
        let request = on_sales(identity, "wamid.2");
        assert_eq!(ingest_ids(&*store, request).await, expected);
    }
    // Resolved, c1 is still the latest; a newer active one is preferred.
    let mut resolved = bump(&c1);
    resolved.status = ConversationStatus::Resolved;
    let mut c2 = conversation("acme", "c2", "sales", "k1");
    c2.created_at = at(5);
    for w in [over(resolved, 1), insert(c2)] {
        commit_alone(&*store, acme.clone(), w).await.unwrap();
    }
    // Another tenant sees nothing.
    let globex = t("globex");
    let other_tenant = IngestRequest {
        tenant: &globex,
        ..on_sales(&k1, "wamid.1")
    };
    for (request, expected) in [
        (on_sales(&k1, "wamid.3"), (None, some("k1"), some("c2"))),
        (other_tenant, (None, None, None)),
    ] {
        assert_eq!(ingest_ids(&*store, request).await, expected);
    }
}

/// The ids of what ingest read: the message already stored, the contact,
/// the latest conversation.
type IdsRead = (Option<String>, Option<String>, Option<String>);

/// The ids of what an ingest context holds.
fn ids_read(cx: &IngestContext) -> IdsRead {
    (
        cx.existing.as_ref().map(|m| m.id.to_string()),
        cx.contact.as_ref().map(|k| k.id.to_string()),
        cx.latest.as_ref().map(|c| c.id.to_string()),
    )
}

/// The ids of what ingest reads for a request.
async fn ingest_ids<S: Store + ?Sized>(store: &S, request: IngestRequest<'_>) -> IdsRead {
    ids_read(&store.ingest_context(request).await.unwrap())
}

/// A write of `value` over the stored version `expected`.
fn over<T>(value: T, expected: u64) -> Write<T> {
    Write {
        value,
        expected_version: Some(expected),
    }
}

/// An update of `c` to its next version, with these messages and events.
pub(crate) fn update_with(
    c: &Conversation,
    messages: Vec<Message>,
    events: Vec<Event>,
) -> Changeset {
    Changeset {
        conversation: Some(update(c)),
        messages,
        events,
        ..Changeset::new(c.tenant.clone())
    }
}

/// A query listing everything `filter` passes, on one page.
fn full_of(filter: &ConversationFilter) -> ConversationQuery {
    ConversationQuery {
        filter: filter.clone(),
        sort: SortOrder::Newest,
        after: None,
        limit: 500,
    }
}

/// A conversation's bot seat (with its handoff) is stored and read back
/// whole, by id and in lists; a conversation without one reads `None`.
pub(crate) async fn bot_seat_round_trips<S: Store + ?Sized>(store: Arc<S>) {
    use crate::model::{BotSeat, HandoffReason};
    let c = seed(&*store).await;
    assert_eq!(c.bot, None);
    let mut seat = BotSeat::new(AgentId::new("faq").unwrap(), at(1));
    seat.exchanges = 2;
    seat.turn = 3;
    seat.turn_due = Some(at(2));
    seat.hand_off(at(3), HandoffReason::CustomerAsked, None);
    if let Some(h) = seat.handed_off.as_mut() {
        h.human_at = Some(at(4));
    }
    let mut seated = c.clone();
    seated.bot = Some(seat);
    store
        .commit(Changeset {
            conversation: Some(update(&seated)),
            ..Changeset::new(t("acme"))
        })
        .await
        .unwrap();
    let read = store.conversation(&t("acme"), &c.id).await.unwrap();
    assert_eq!(read, bump(&seated));
    let listed = store
        .list_conversations(&t("acme"), &full_of(&ConversationFilter::default()))
        .await
        .unwrap();
    let found = listed.items.iter().find(|x| x.id == c.id).unwrap();
    assert_eq!(found.bot, seated.bot);
}
