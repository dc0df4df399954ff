//! Ingest through the inbox: each message stored once, conversations
//! opened and reopened, status reports reconciled.

use crate::search::SearchField;
use crate::testing::conformance::support::*;

/// The same inbound message delivered many times is stored once.
pub(crate) async fn ingest_same_message_many_times_stores_one<S: Store + AsDynStore + ?Sized>(
    store: Arc<S>,
) {
    let f = fixture(store).await;
    let event = f.text("1001", "wamid.A", "34611111111", "Hi, is my order shipped?");
    let first = f.inbox.ingest(event.clone()).await.unwrap();
    let IngestOutcome::Stored {
        message,
        conversation,
        opened: true,
        ..
    } = first
    else {
        panic!("{first:?}")
    };
    for _ in 0..3 {
        match f.inbox.ingest(event.clone()).await.unwrap() {
            IngestOutcome::Duplicate { message: m } => assert_eq!(m, message.id),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(
        f.store
            .messages(&f.acme(), &conversation)
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        f.store
            .conversation(&f.acme(), &conversation)
            .await
            .unwrap()
            .version,
        1
    );
}

/// The same message ingested by many concurrent deliveries is stored once,
/// in one conversation.
pub(crate) async fn concurrent_duplicate_ingest_stores_one<S: Store + AsDynStore + ?Sized>(
    store: Arc<S>,
) {
    let f = fixture(store).await;
    let events: Vec<InboundEvent> = (0..12)
        .map(|i| f.text("1001", &format!("wamid.{}", i % 3), "34622222222", "hello"))
        .collect();
    let results = join_all(events.into_iter().map(|e| f.inbox.ingest(e))).await;
    let stored = results
        .iter()
        .filter(|r| matches!(r, Ok(IngestOutcome::Stored { .. })))
        .count();
    assert!(results.iter().all(|r| r.is_ok()), "{results:?}");
    assert_eq!(stored, 3);
    let page = f
        .inbox
        .list(&f.actor("sam"), &ViewQuery::new(View::All))
        .await
        .unwrap();
    assert_eq!(page.items.len(), 1, "one conversation");
    assert_eq!(
        f.store
            .messages(&f.acme(), &page.items[0].id)
            .await
            .unwrap()
            .len(),
        3
    );
}

/// A customer message opens a conversation, continues it, reopens it after
/// resolution or snooze, and never creates a second active one.
pub(crate) async fn ingest_opens_reopens_and_never_two_active<S: Store + AsDynStore + ?Sized>(
    store: Arc<S>,
) {
    let f = fixture(store).await;
    let c = says(&f, "1001", "w1", "34633333333", "hi").await;
    let detail = f.inbox.conversation(&f.actor("sam"), &c).await.unwrap();
    assert_eq!(detail.conversation.status, ConversationStatus::Open);
    assert_eq!(
        detail.conversation.window_expires_at,
        Some(Fixture::start() + TimeDelta::hours(24))
    );
    assert_eq!(detail.conversation.waiting_since, Some(Fixture::start()));
    f.advance(TimeDelta::minutes(5));
    let c2 = says(&f, "1001", "w2", "34633333333", "anyone?").await;
    assert_eq!(c2, c);
    let v = f.version(&c).await.unwrap();
    f.inbox
        .set_status(&f.actor("ana"), &c, v, ConversationStatus::Resolved)
        .await
        .unwrap();
    f.advance(TimeDelta::hours(1));
    let out = f
        .inbox
        .ingest(f.text("1001", "w3", "34633333333", "one more thing"))
        .await
        .unwrap();
    let IngestOutcome::Stored {
        conversation,
        reopened,
        opened,
        ..
    } = out
    else {
        panic!()
    };
    assert_eq!(
        (conversation.clone(), reopened, opened),
        (c.clone(), true, false)
    );
    let conv = f.store.conversation(&f.acme(), &c).await.unwrap();
    assert_eq!(conv.status, ConversationStatus::Open);
    assert_eq!(conv.reopen_count, 1);
    // A reaction to a resolved conversation is stored without reopening it.
    let v = f.version(&c).await.unwrap();
    f.inbox
        .set_status(&f.actor("ana"), &c, v, ConversationStatus::Resolved)
        .await
        .unwrap();
    let reaction = Content::Reaction {
        target: "wamid.out".into(),
        emoji: Some("👍".into()),
    };
    let m = f.inbound("1001", "w4", "34633333333", reaction);
    f.inbox.ingest(InboundEvent::Message(m)).await.unwrap();
    let status = stored(&f, &c).await.status;
    assert_eq!(status, ConversationStatus::Resolved);
    // Snoozed wakes up on a customer message; pending goes back to open.
    f.customer_says("1001", "w5", "34633333333", "hello again")
        .await
        .unwrap();
    let v = f.version(&c).await.unwrap();
    f.inbox
        .snooze(&f.actor("ana"), &c, v, f.clock.now() + TimeDelta::days(1))
        .await
        .unwrap();
    f.customer_says("1001", "w6", "34633333333", "wake up")
        .await
        .unwrap();
    assert_eq!(stored(&f, &c).await.status, ConversationStatus::Open);
    let v = f.version(&c).await.unwrap();
    f.inbox
        .set_status(&f.actor("ana"), &c, v, ConversationStatus::Pending)
        .await
        .unwrap();
    f.customer_says("1001", "w7", "34633333333", "here it is")
        .await
        .unwrap();
    let conv = f.store.conversation(&f.acme(), &c).await.unwrap();
    assert_eq!(conv.status, ConversationStatus::Open);
    assert_eq!(conv.reopen_count, 3);
    let all = f
        .inbox
        .list(&f.actor("sam"), &ViewQuery::new(View::All).statuses(&[]))
        .await
        .unwrap();
    assert_eq!(all.items.len(), 1);
    // The same customer on another number is another conversation.
    let other = says(&f, "1002", "w8", "34633333333", "support question").await;
    assert_ne!(other, c);
}

/// With the new-conversation policy, a message after resolution opens a
/// fresh conversation; the old one stays resolved.
pub(crate) async fn ingest_reopen_policy_new_conversation<S: Store + AsDynStore + ?Sized>(
    store: Arc<S>,
) {
    let f = Fixture::new(store.as_dyn()).await.unwrap();
    f.edit_settings(|s| s.reopen = ReopenPolicy::NewConversation)
        .await
        .unwrap();
    let c = says(&f, "1001", "w1", "34644444444", "hi").await;
    f.inbox
        .set_status(&f.actor("ana"), &c, 1, ConversationStatus::Resolved)
        .await
        .unwrap();
    let c2 = says(&f, "1001", "w2", "34644444444", "new question").await;
    assert_ne!(c, c2);
    assert_eq!(
        f.store.conversation(&f.acme(), &c).await.unwrap().status,
        ConversationStatus::Resolved
    );
    // Reopening the old one by hand would make two active: refused.
    let err = f
        .inbox
        .set_status(&f.actor("sam"), &c, 2, ConversationStatus::Open)
        .await
        .unwrap_err();
    expect_duplicate(&err, Unique::ActiveConversation);
}

/// Contacts learn their BSUID and profile name; WhatsApp's number-change
/// notice updates the identity.
pub(crate) async fn ingest_updates_contact_identity<S: Store + AsDynStore + ?Sized>(store: Arc<S>) {
    let f = fixture(store).await;
    let c = says(&f, "1001", "w1", "34655555555", "hi").await;
    let mut m = f.inbound("1001", "w2", "34655555555", Content::text("again"));
    m.from.user_id = Some("ES.abc".into());
    m.profile_name = Some("Marta".into());
    f.inbox.ingest(InboundEvent::Message(m)).await.unwrap();
    let conv = f.store.conversation(&f.acme(), &c).await.unwrap();
    let k = f.store.contact(&f.acme(), &conv.contact).await.unwrap();
    assert_eq!(k.identity.user_id.as_deref(), Some("ES.abc"));
    assert_eq!(k.profile_name.as_deref(), Some("Marta"));
    // A message with only the BSUID finds the same contact.
    let mut m = f.inbound("1001", "w3", "ignored", Content::text("no phone"));
    m.from = ContactIdentity::user("ES.abc");
    assert_eq!(ingested(&f, InboundEvent::Message(m)).await, c);
    // Number change.
    let notice = Content::System {
        change: SystemChange::NumberChanged {
            new_wa_id: Some("34699999999".into()),
        },
        body: Some("changed".into()),
    };
    let m = f.inbound("1001", "w4", "34655555555", notice);
    f.inbox.ingest(InboundEvent::Message(m)).await.unwrap();
    let k = f.store.contact(&f.acme(), &conv.contact).await.unwrap();
    assert_eq!(k.identity.wa_id.as_deref(), Some("34699999999"));
    let c3 = says(&f, "1001", "w5", "34699999999", "new phone").await;
    assert_eq!(c3, c);
}

/// A customer who hides their number (2026): known by BSUID, username and
/// parent BSUID; found by the parent when they write to a number of a
/// linked portfolio (another BSUID); one contact when they later share
/// their number; found by username and by either id.
pub(crate) async fn a_customer_without_a_number_stays_one_contact<
    S: Store + AsDynStore + ?Sized,
>(
    store: Arc<S>,
) {
    let f = fixture(store).await;
    let writes = |pnid: &str, ext: &str, user: &str, phone: Option<&str>| {
        let mut m = f.inbound(pnid, ext, "unused", Content::text("hola"));
        m.from = ContactIdentity::user(user);
        m.from.wa_id = phone.map(Into::into);
        m.from.parent_user_id = Some("ES.ENT.marta".into());
        m.username = Some("marta.ruiz".into());
        InboundEvent::Message(m)
    };
    let c1 = ingested(&f, writes("1001", "w1", "ES.one", None)).await;
    let k = stored(&f, &c1).await.contact;
    let contact = f.store.contact(&f.acme(), &k).await.unwrap();
    assert_eq!(contact.username.as_deref(), Some("marta.ruiz"));
    assert_eq!(contact.identity.wa_id, None);
    // Another portfolio's number: another BSUID, the same parent.
    let c2 = ingested(&f, writes("1002", "w2", "ES.two", None)).await;
    assert_eq!(
        stored(&f, &c2).await.contact,
        k,
        "found by the parent BSUID"
    );
    // She shares her number later: still the same contact and thread.
    let c3 = ingested(&f, writes("1001", "w3", "ES.one", Some("34611119999"))).await;
    assert_eq!(c3, c1);
    let contact = f.store.contact(&f.acme(), &k).await.unwrap();
    assert_eq!(contact.identity.wa_id.as_deref(), Some("34611119999"));
    assert_eq!(contact.identity.user_id.as_deref(), Some("ES.one"));
    let query = crate::query::ConversationQuery {
        filter: Default::default(),
        sort: crate::query::SortOrder::Newest,
        after: None,
        limit: 50,
    };
    let all = f.store.list_conversations(&f.acme(), &query).await;
    let contacts: BTreeSet<_> = all.unwrap().items.into_iter().map(|c| c.contact).collect();
    assert_eq!(contacts, BTreeSet::from([k.clone()]), "one contact");
    // Found by username and by either id, and says how.
    let sam = f.actor("sam");
    let everything = ViewQuery::new(View::All);
    for (text, field) in [
        ("marta.ruiz", SearchField::Username),
        ("ES.ENT.marta", SearchField::UserId),
        ("ES.one", SearchField::UserId),
    ] {
        let hits = f.inbox.search(&sam, text, &everything).await.unwrap().items;
        assert!(!hits.is_empty(), "{text}");
        assert!(
            hits.iter()
                .all(|h| h.conversation.contact == k && h.matches.iter().any(|m| m.field == field)),
            "{text}: {hits:?}"
        );
    }
}

/// A customer stopping marketing messages is recorded on their contact
/// (with an event), an older report changes nothing, resuming is recorded
/// too; someone never heard from is acknowledged and nothing is stored.
pub(crate) async fn marketing_choices_are_recorded_on_the_contact<
    S: Store + AsDynStore + ?Sized,
>(
    store: Arc<S>,
) {
    let f = fixture(store).await;
    let c = says(&f, "1001", "w1", "34655500011", "hola").await;
    let k = stored(&f, &c).await.contact;
    let choice = |value: &str, minutes: i64, wa: &str| {
        InboundEvent::Preference(crate::inbound::InboundPreference {
            phone_number_id: "1001".into(),
            from: ContactIdentity::wa(wa),
            category: "marketing_messages".into(),
            value: value.into(),
            detail: Some("from the chat menu".into()),
            timestamp: Fixture::start() + TimeDelta::minutes(minutes),
        })
    };
    let contact = || async { f.store.contact(&f.acme(), &k).await.unwrap() };
    assert!(contact().await.accepts_marketing());
    let events_before = events(&f).await.len();
    let out = f
        .inbox
        .ingest(choice("stop", 10, "34655500011"))
        .await
        .unwrap();
    let recorded = IngestOutcome::Preference {
        contact: Some(k.clone()),
        changed: true,
    };
    assert_eq!(out, recorded);
    let after = contact().await;
    assert!(!after.accepts_marketing());
    let marketing = after.marketing.clone().unwrap();
    assert_eq!(
        (marketing.stopped, marketing.at),
        (true, Fixture::start() + TimeDelta::minutes(10))
    );
    assert_eq!(events(&f).await.len(), events_before + 1, "contact_updated");
    // An older report, delivered late, changes nothing.
    let late = f
        .inbox
        .ingest(choice("resume", 5, "34655500011"))
        .await
        .unwrap();
    assert_eq!(
        late,
        IngestOutcome::Preference {
            contact: Some(k.clone()),
            changed: false
        }
    );
    assert!(!contact().await.accepts_marketing());
    f.inbox
        .ingest(choice("resume", 20, "34655500011"))
        .await
        .unwrap();
    assert!(contact().await.accepts_marketing());
    // Two choices in one second (WhatsApp's times are whole seconds): the
    // one delivered last wins; the same one again changes nothing.
    f.inbox
        .ingest(choice("stop", 20, "34655500011"))
        .await
        .unwrap();
    assert!(!contact().await.accepts_marketing());
    let again = f
        .inbox
        .ingest(choice("stop", 20, "34655500011"))
        .await
        .unwrap();
    let unchanged = IngestOutcome::Preference {
        contact: Some(k.clone()),
        changed: false,
    };
    assert_eq!(again, unchanged);
    f.inbox
        .ingest(choice("resume", 21, "34655500011"))
        .await
        .unwrap();
    assert!(contact().await.accepts_marketing());
    // Someone never heard from: acknowledged, nothing stored.
    let stranger = f
        .inbox
        .ingest(choice("stop", 30, "34600000999"))
        .await
        .unwrap();
    assert_eq!(
        stranger,
        IngestOutcome::Preference {
            contact: None,
            changed: false
        }
    );
    // A choice from the future or without an identity is refused.
    let ahead = f.inbox.ingest(choice("stop", 60 * 48, "34655500011")).await;
    assert_eq!(ahead.unwrap_err().code(), "invalid_input");
}

/// An inbound event for a number no tenant has is reported clearly and
/// stores nothing.
pub(crate) async fn ingest_unknown_channel_is_reported<S: Store + AsDynStore + ?Sized>(
    store: Arc<S>,
) {
    let f = fixture(store).await;
    let err = f
        .inbox
        .ingest(f.text("7777", "w1", "346", "hi"))
        .await
        .unwrap_err();
    match err {
        Error::UnknownChannel { phone_number_id } => assert_eq!(phone_number_id, "7777"),
        other => panic!("{other}"),
    }
    let mut m = f.inbound("1001", "w1", "346", Content::text("x"));
    m.from = ContactIdentity::default();
    assert_eq!(
        f.inbox
            .ingest(InboundEvent::Message(m))
            .await
            .unwrap_err()
            .code(),
        "invalid_input"
    );
    assert!(events(&f).await.is_empty());
}

/// Status webhooks find the message by our id (even without a recorded
/// provider id) and only move it forward.
pub(crate) async fn status_webhooks_reconcile_by_our_id<S: Store + AsDynStore + ?Sized>(
    store: Arc<S>,
) {
    let f = fixture(store).await;
    let c = says(&f, "1001", "w1", "34695000000", "hi").await;
    let r = replied(&f, "ana", &c, 1, "hello", "k1").await;
    // As if the dispatcher crashed after the provider accepted it.
    let status = |s: DeliveryStatus, ours: Option<&str>| {
        InboundEvent::Status(InboundStatus {
            pricing: None,
            phone_number_id: "1001".into(),
            external_id: "wamid.real.1".into(),
            our_message_id: ours.map(str::to_string),
            recipient: Some("34695000000".into()),
            status: s,
            timestamp: f.clock.now(),
            error: None,
        })
    };
    let out = f
        .inbox
        .ingest(status(DeliveryStatus::Delivered, Some(r.id.as_str())))
        .await
        .unwrap();
    assert!(
        matches!(
            out,
            IngestOutcome::StatusApplied {
                status: DeliveryStatus::Delivered,
                ..
            }
        ),
        "{out:?}"
    );
    let m = f.store.message(&f.acme(), &r.id).await.unwrap();
    assert_eq!(m.external_id.as_deref(), Some("wamid.real.1"));
    // Later reports by provider id alone; a late "sent" changes nothing.
    let late_sent = f.inbox.ingest(status(DeliveryStatus::Sent, None)).await;
    assert!(matches!(
        late_sent.unwrap(),
        IngestOutcome::StatusIgnored { .. }
    ));
    let read = f.inbox.ingest(status(DeliveryStatus::Read, None)).await;
    assert!(matches!(read.unwrap(), IngestOutcome::StatusApplied { .. }));
    assert_eq!(
        f.store
            .message(&f.acme(), &r.id)
            .await
            .unwrap()
            .delivery
            .unwrap()
            .status,
        DeliveryStatus::Read
    );
    // What it costs is kept, even from a late report; the status stays.
    let mut priced = status(DeliveryStatus::Sent, None);
    let service = crate::model::Pricing {
        model: Some("PMP".into()),
        category: Some("service".into()),
        kind: Some("free_customer_service".into()),
        billable: None,
    };
    if let InboundEvent::Status(s) = &mut priced {
        s.pricing = Some(service.clone());
    }
    f.inbox.ingest(priced).await.unwrap();
    let delivery = f
        .store
        .message(&f.acme(), &r.id)
        .await
        .unwrap()
        .delivery
        .unwrap();
    assert_eq!(
        (delivery.status, delivery.pricing),
        (DeliveryStatus::Read, Some(service))
    );
    // The dispatcher now sees it reconciled and does not send it.
    let report = f.inbox.dispatch(10).await.unwrap();
    assert_eq!((report.sent, report.skipped), (0, 1));
    assert!(f.transport.sent().is_empty());
    // A status for a message we never sent is acknowledged and ignored.
    let mut unknown = status(DeliveryStatus::Read, None);
    if let InboundEvent::Status(s) = &mut unknown {
        s.external_id = "wamid.phone-app".into();
    }
    assert!(matches!(
        f.inbox.ingest(unknown).await.unwrap(),
        IngestOutcome::UnknownMessage { .. }
    ));
}

/// Status reports handed over together (one webhook's) are applied as
/// one after another, in order: each its own outcome at its position, a
/// message's reports seeing each other (a late "delivered" after "read"
/// changes nothing), their events numbered in report order, and a report
/// that fails (an empty id, a provider id another message has) failing
/// alone.
pub(crate) async fn statuses_reported_together_apply_in_order<S: Store + AsDynStore + ?Sized>(
    store: Arc<S>,
) {
    let f = fixture(store).await;
    let c = says(&f, "1001", "w1", "34695000000", "hi").await;
    let mut ours = Vec::new();
    for k in 1..=3 {
        let v = f.version(&c).await.unwrap();
        let m = replied(&f, "ana", &c, v, &format!("reply {k}"), &format!("k{k}")).await;
        ours.push(m.id);
    }
    let (r1, r2, r3) = (&ours[0], &ours[1], &ours[2]);
    let status = |s: DeliveryStatus, ext: &str, ours: Option<&MessageId>| InboundStatus {
        pricing: None,
        phone_number_id: "1001".into(),
        external_id: ext.into(),
        our_message_id: ours.map(|m| m.to_string()),
        recipient: Some("34695000000".into()),
        status: s,
        timestamp: f.clock.now(),
        error: None,
    };
    let before = f.store.events_since(&f.acme(), 0, 10_000).await.unwrap();
    let last_seq = before.last().map(|e| e.seq).unwrap_or(0);
    assert!(f.inbox.ingest_statuses(Vec::new()).await.is_empty());
    let out = f
        .inbox
        .ingest_statuses(vec![
            status(DeliveryStatus::Sent, "wamid.a", Some(r1)),
            status(DeliveryStatus::Delivered, "wamid.a", None),
            status(DeliveryStatus::Read, "wamid.b", Some(r2)),
            status(DeliveryStatus::Read, "wamid.a", None),
            status(DeliveryStatus::Delivered, "wamid.a", None),
            status(DeliveryStatus::Read, "wamid.unknown", None),
            status(DeliveryStatus::Sent, " ", None),
            status(DeliveryStatus::Sent, "wamid.a", Some(r3)),
            status(DeliveryStatus::Sent, "wamid.b", None),
        ])
        .await;
    assert_eq!(out.len(), 9, "one outcome per report: {out:?}");
    let applied = |i: usize, m: &MessageId, s: DeliveryStatus| match &out[i] {
        Ok(IngestOutcome::StatusApplied { message, status }) => {
            assert_eq!((message, *status), (m, s), "report {i}")
        }
        other => panic!("report {i}: {other:?}"),
    };
    applied(0, r1, DeliveryStatus::Sent);
    applied(1, r1, DeliveryStatus::Delivered);
    applied(2, r2, DeliveryStatus::Read);
    applied(3, r1, DeliveryStatus::Read);
    assert!(
        matches!(&out[4], Ok(IngestOutcome::StatusIgnored { message }) if message == r1),
        "a late delivered after read: {:?}",
        out[4]
    );
    assert!(
        matches!(&out[5], Ok(IngestOutcome::UnknownMessage { external_id }) if external_id == "wamid.unknown"),
        "{:?}",
        out[5]
    );
    assert!(
        matches!(&out[6], Err(Error::InvalidInput { .. })),
        "{:?}",
        out[6]
    );
    // r3 by our id, but with r1's provider id: refused, alone.
    assert!(
        matches!(&out[7], Err(Error::Duplicate { .. })),
        "a provider id another message has: {:?}",
        out[7]
    );
    assert!(
        matches!(&out[8], Ok(IngestOutcome::StatusIgnored { message }) if message == r2),
        "{:?}",
        out[8]
    );
    // The messages' final states.
    let m1 = f.store.message(&f.acme(), r1).await.unwrap();
    assert_eq!(m1.external_id.as_deref(), Some("wamid.a"));
    assert_eq!(m1.delivery.unwrap().status, DeliveryStatus::Read);
    let m2 = f.store.message(&f.acme(), r2).await.unwrap();
    assert_eq!(m2.external_id.as_deref(), Some("wamid.b"));
    assert_eq!(m2.delivery.unwrap().status, DeliveryStatus::Read);
    let m3 = f.store.message(&f.acme(), r3).await.unwrap();
    assert_eq!(m3.external_id, None, "the refused report changed nothing");
    // One event per forward move, numbered in report order, gap-free.
    let events = f
        .store
        .events_since(&f.acme(), last_seq, 10_000)
        .await
        .unwrap();
    let moves: Vec<(MessageId, DeliveryStatus)> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::DeliveryChanged {
                message, status, ..
            } => Some((message.clone(), *status)),
            _ => None,
        })
        .collect();
    assert_eq!(
        moves,
        vec![
            (r1.clone(), DeliveryStatus::Sent),
            (r1.clone(), DeliveryStatus::Delivered),
            (r2.clone(), DeliveryStatus::Read),
            (r1.clone(), DeliveryStatus::Read),
        ]
    );
    let seqs: Vec<u64> = events.iter().map(|e| e.seq).collect();
    let expected: Vec<u64> = (last_seq + 1..=last_seq + events.len() as u64).collect();
    assert_eq!(seqs, expected, "gap-free, in order");
    // The store's own answer for reports of one tenant, the same rules.
    let again = f
        .store
        .update_messages(
            &f.acme(),
            &[MessageUpdate {
                target: MessageTarget::Status {
                    channel: f.channel("sales"),
                    our_id: None,
                    external_id: "wamid.a".into(),
                },
                mutation: MessageMutation::Delivery {
                    update: DeliveryUpdate {
                        pricing: None,
                        status: DeliveryStatus::Read,
                        at: f.clock.now(),
                        error: None,
                    },
                    external_id: Some("wamid.a".into()),
                },
            }],
        )
        .await;
    assert_eq!(again.len(), 1);
    assert!(
        matches!(&again[0], Ok(Some(MessageUpdated { message, event: None })) if message == r1),
        "a repeated read changes nothing: {again:?}"
    );
}
