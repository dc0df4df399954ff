//! The dispatcher on the store, under faults too: a store that goes away
//! mid-dispatch, a dispatcher that dies, a send whose outcome is unknown
//! (through [`FaultyStore`]).

use crate::ports::{OutboxAttempt, OutboxClaimRequest};
use crate::testing::conformance::support::*;

/// Five customers, each answered once by ana: five replies queued, in five
/// conversations, over a store that can be switched off.
async fn five_replies<S: Store + AsDynStore + ?Sized>(
    store: Arc<S>,
) -> (Fixture, Arc<FaultyStore>, Vec<MessageId>) {
    let faulty = Arc::new(FaultyStore::new(store.as_dyn()));
    let f = Fixture::with_config(faulty.clone(), InboxConfig::default())
        .await
        .unwrap();
    let mut replies = Vec::new();
    for i in 0..5 {
        let wa = format!("3469900000{i}");
        let c = says(&f, "1001", &format!("w{i}"), &wa, "hi").await;
        let r = replied(&f, "ana", &c, 1, "hello", &format!("k{i}")).await;
        replies.push(r.id);
        // Queued a second apart: claimed in this order.
        f.advance(TimeDelta::seconds(1));
    }
    (f, faulty, replies)
}

/// The store goes away while the second message is with the provider.
fn outage_at_second_send(f: &Fixture, faulty: &Arc<FaultyStore>) {
    let faulty = faulty.clone();
    f.transport.on_send(move |n| {
        if n == 2 {
            faulty.set_down(true);
        }
    });
}

/// The next send's outcome is unknown (`why`: a timeout after the request
/// was written, say).
fn next_send_in_doubt(f: &Fixture, why: &str) {
    let message = why.to_string();
    f.transport.fail_next(TransportError::InDoubt {
        code: None,
        message,
    });
}

/// [`five_replies`], the first of them sent alone and left in doubt
/// (`why`): the fixture and that message.
async fn first_reply_in_doubt<S: Store + AsDynStore + ?Sized>(
    store: Arc<S>,
    why: &str,
) -> (Fixture, Message) {
    let (f, _, replies) = five_replies(store).await;
    next_send_in_doubt(&f, why);
    f.inbox.dispatch(1).await.unwrap();
    let m = message(&f, &replies[0]).await;
    assert!(m.is_in_doubt());
    (f, m)
}

/// What a dispatcher claims of the outbox now, for a minute.
async fn claim_for_a_minute(f: &Fixture) -> Vec<OutboxClaim> {
    f.store
        .claim_outbox(OutboxClaimRequest {
            now: f.clock.now(),
            lease: Duration::from_secs(60),
            limit: 10,
        })
        .await
        .unwrap()
}

/// A message of `acme` as stored.
async fn message(f: &Fixture, id: &MessageId) -> Message {
    f.store.message(&f.acme(), id).await.unwrap()
}

/// How many times each message reached a provider.
fn sends(transports: &[&Fixture]) -> BTreeMap<MessageId, usize> {
    let mut n = BTreeMap::new();
    for f in transports {
        for s in f.transport.sent() {
            *n.entry(s.request.message_id).or_insert(0) += 1;
        }
    }
    n
}

/// The dispatcher sends, retries transient failures with backoff, fails
/// final ones with the provider error, and marks lapsed claims in doubt
/// instead of resending.
pub(crate) async fn dispatcher_retries_fails_and_marks_in_doubt<S: Store + AsDynStore + ?Sized>(
    store: Arc<S>,
) {
    let f = fixture(store).await;
    let c = says(&f, "1001", "w1", "34694000000", "hi").await;
    let r1 = replied(&f, "ana", &c, 1, "one", "k1").await;
    f.transport.fail_next(TransportError::Transient {
        code: Some(2),
        message: "service unavailable".into(),
    });
    let report = f.inbox.dispatch(10).await.unwrap();
    assert_eq!((report.sent, report.retried), (0, 1));
    assert_eq!(
        f.inbox.dispatch(10).await.unwrap().total(),
        0,
        "not due yet"
    );
    f.advance(TimeDelta::seconds(5));
    let report = f.inbox.dispatch(10).await.unwrap();
    assert_eq!(report.sent, 1);
    let m = f.store.message(&f.acme(), &r1.id).await.unwrap();
    assert_eq!(
        m.delivery.as_ref().unwrap().status,
        DeliveryStatus::Accepted
    );
    assert_eq!(m.external_id.as_deref(), Some("wamid.test.1"));
    assert_eq!(f.transport.sent()[0].request.message_id, r1.id);
    assert_eq!(
        f.transport.sent()[0].request.to,
        ContactIdentity::wa("34694000000")
    );
    // Window closed: failed for good, not retried.
    let v = f.version(&c).await.unwrap();
    let r2 = replied(&f, "ana", &c, v, "two", "k2").await;
    f.transport
        .fail_next(TransportError::WindowClosed { code: Some(131047) });
    assert_eq!(f.inbox.dispatch(10).await.unwrap().failed, 1);
    let m = f.store.message(&f.acme(), &r2.id).await.unwrap();
    let d = m.delivery.unwrap();
    assert_eq!(d.status, DeliveryStatus::Failed);
    assert_eq!(d.error.unwrap().code, Some(131047));
    f.advance(TimeDelta::hours(1));
    assert_eq!(f.inbox.dispatch(10).await.unwrap().total(), 0);
    // A dispatcher that claimed and died before sending: the claim lapses
    // and the message is sent by the next dispatcher.
    let v = f.version(&c).await.unwrap();
    let r3 = replied(&f, "ana", &c, v, "three", "k3").await;
    let claimed = claim_for_a_minute(&f).await;
    assert_eq!(claimed.len(), 1);
    f.advance(TimeDelta::minutes(2));
    let report = f.inbox.dispatch(10).await.unwrap();
    assert_eq!((report.sent, report.in_doubt), (1, 0));
    assert_eq!(f.transport.sent().last().unwrap().request.message_id, r3.id);
    // One that died after the attempt began: the message is marked in
    // doubt, never sent twice.
    let v = f.version(&c).await.unwrap();
    let r4 = replied(&f, "ana", &c, v, "four", "k4").await;
    let claimed = claim_for_a_minute(&f).await;
    f.store
        .begin_outbox_attempt(
            &claimed[0],
            OutboxAttempt {
                at: f.clock.now(),
                until: f.clock.now() + TimeDelta::seconds(60),
            },
        )
        .await
        .unwrap();
    f.advance(TimeDelta::minutes(2));
    let attempts = f.transport.attempts();
    let report = f.inbox.dispatch(10).await.unwrap();
    assert_eq!(report.in_doubt, 1);
    assert_eq!(f.transport.attempts(), attempts, "nothing resent");
    let m = f.store.message(&f.acme(), &r4.id).await.unwrap();
    assert!(m.delivery.unwrap().in_doubt_since.is_some());
}

/// A store outage mid-dispatch strands nothing and doubles nothing: the
/// pass stops with the store's error, messages not yet attempted go back
/// to the queue, the outcome of the send under way is kept and recorded
/// once the store answers, and then every message has been sent exactly
/// once, none in doubt.
pub(crate) async fn dispatcher_settles_each_message_through_a_store_outage<
    S: Store + AsDynStore + ?Sized,
>(
    store: Arc<S>,
) {
    let (f, faulty, replies) = five_replies(store).await;
    outage_at_second_send(&f, &faulty);
    let err = f.inbox.dispatch(100).await.unwrap_err();
    assert_eq!(err.code(), "unavailable");
    let attempted = f.transport.attempts();
    assert!(attempted >= 2, "{attempted}");
    // Still down: the next pass fails too, and sends nothing.
    assert!(f.inbox.dispatch(100).await.is_err());
    assert_eq!(f.transport.attempts(), attempted);
    faulty.set_down(false);
    let mut recovered = 0;
    for _ in 0..3 {
        recovered += f.inbox.dispatch(100).await.unwrap().recovered;
    }
    assert!(recovered >= 1, "the kept outcome was recorded");
    let sent = sends(&[&f]);
    for (i, id) in replies.iter().enumerate() {
        assert_eq!(sent.get(id), Some(&1), "reply {i} sent exactly once");
        let m = message(&f, id).await;
        let d = m.delivery.unwrap();
        assert_eq!(d.status, DeliveryStatus::Accepted, "reply {i}");
        assert!(d.in_doubt_since.is_none(), "reply {i}");
        let given = f.transport.sent();
        let given = given.iter().find(|s| &s.request.message_id == id).unwrap();
        assert_eq!(m.external_id.as_ref(), Some(&given.external_id));
    }
}

/// A dispatcher that dies after losing its store: the next dispatcher sends
/// every message the dead one never attempted, marks in doubt only the ones
/// it had handed to the provider without recording the outcome (never
/// resending them), tells integrations with an event, and a status webhook
/// carrying our id reconciles them.
pub(crate) async fn a_crashed_dispatcher_leaves_in_doubt_only_what_it_attempted<
    S: Store + AsDynStore + ?Sized,
>(
    store: Arc<S>,
) {
    let (f, faulty, replies) = five_replies(store).await;
    outage_at_second_send(&f, &faulty);
    assert!(f.inbox.dispatch(100).await.is_err());
    // The process dies (its kept outcomes with it); another starts once the
    // leases (the attempt's: five minutes) have lapsed.
    let first = f.transport.sent();
    let g = Fixture::instance(faulty.clone(), InboxConfig::default(), "b");
    g.clock.set(f.clock.now() + TimeDelta::minutes(6));
    faulty.set_down(false);
    let report = g.inbox.dispatch(100).await.unwrap();
    assert!(report.in_doubt >= 1, "{report:?}");
    let sent = sends(&[&f, &g]);
    let mut doubtful = BTreeSet::new();
    for id in &replies {
        assert!(sent.get(id).copied().unwrap_or(0) <= 1, "never twice");
        let m = message(&g, id).await;
        let d = m.delivery.as_ref().unwrap();
        if d.in_doubt_since.is_some() {
            assert_eq!(d.status, DeliveryStatus::Pending);
            doubtful.insert(id.clone());
        } else {
            assert_eq!(d.status, DeliveryStatus::Accepted);
            assert_eq!(sent.get(id), Some(&1));
        }
    }
    let handed: BTreeSet<_> = first.iter().map(|s| s.request.message_id.clone()).collect();
    assert!(
        doubtful.is_subset(&handed),
        "only attempted ones are in doubt"
    );
    assert_eq!(doubtful.len() as u32, report.in_doubt);
    let told: Vec<_> = g
        .bus
        .published()
        .into_iter()
        .filter(|e| matches!(e.kind, EventKind::DeliveryInDoubt { .. }))
        .collect();
    assert_eq!(told.len(), doubtful.len(), "an event per message in doubt");
    // Nothing is resent later either.
    g.clock.set(g.clock.now() + TimeDelta::hours(1));
    let attempts = g.transport.attempts();
    assert_eq!(g.inbox.dispatch(100).await.unwrap().total(), 0);
    assert_eq!(g.transport.attempts(), attempts);
    // Meta's status webhooks carry our id: each one is reconciled.
    for (i, id) in doubtful.iter().enumerate() {
        let status = InboundEvent::Status(InboundStatus {
            pricing: None,
            phone_number_id: "1001".into(),
            external_id: format!("wamid.reconciled.{i}"),
            our_message_id: Some(id.to_string()),
            recipient: None,
            status: DeliveryStatus::Delivered,
            timestamp: g.clock.now(),
            error: None,
        });
        g.inbox.ingest(status).await.unwrap();
        let m = message(&g, id).await;
        let d = m.delivery.unwrap();
        assert_eq!(d.status, DeliveryStatus::Delivered);
        assert!(d.in_doubt_since.is_none(), "reconciled");
        assert_eq!(m.external_id, Some(format!("wamid.reconciled.{i}")));
    }
}

/// A send the transport cannot vouch for (a timeout after the request was
/// written, an answer without an id) is in doubt at once and never resent.
pub(crate) async fn a_send_with_an_unknown_outcome_is_in_doubt_and_never_resent<
    S: Store + AsDynStore + ?Sized,
>(
    store: Arc<S>,
) {
    let (f, _, replies) = five_replies(store).await;
    next_send_in_doubt(&f, "timed out after the request was sent");
    let report = f.inbox.dispatch(1).await.unwrap();
    assert_eq!((report.in_doubt, report.retried, report.sent), (1, 0, 0));
    let m = message(&f, &replies[0]).await;
    assert!(m.delivery.unwrap().in_doubt_since.is_some());
    f.advance(TimeDelta::hours(2));
    let report = f.inbox.dispatch(100).await.unwrap();
    assert_eq!(report.sent, 4);
    assert_eq!(f.transport.attempts(), 5, "the doubtful one was not resent");
    assert!(!sends(&[&f]).contains_key(&replies[0]));
}

/// A conversation's messages go out in order: the store hands them out one
/// at a time, so when one waits for a retry the later ones wait behind it
/// (unattempted, across passes), while other conversations go on.
pub(crate) async fn a_conversations_messages_wait_behind_a_retry<S: Store + AsDynStore + ?Sized>(
    store: Arc<S>,
) {
    // One message at a time, so the scripted failure meets the first.
    let mut config = InboxConfig::default();
    config.outbox.concurrency = 1;
    let f = Fixture::with_config(store.as_dyn(), config).await.unwrap();
    let c = says(&f, "1001", "w1", "34698000001", "hi").await;
    let mut ids = Vec::new();
    for (i, body) in ["first", "second", "third"].iter().enumerate() {
        let v = f.version(&c).await.unwrap();
        let r = replied(&f, "ana", &c, v, body, &format!("o{i}")).await;
        ids.push(r.id);
        f.advance(TimeDelta::seconds(1));
    }
    let other = other_conversation_reply(&f).await;
    f.transport.fail_next(TransportError::Transient {
        code: Some(131000),
        message: "something went wrong".into(),
    });
    let report = f.inbox.dispatch(100).await.unwrap();
    assert_eq!((report.sent, report.retried), (1, 1), "{report:?}");
    assert_eq!(f.transport.sent()[0].request.message_id, other);
    // Later passes before the retry is due send nothing of the
    // conversation: "second" does not overtake "first".
    for _ in 0..3 {
        f.advance(TimeDelta::milliseconds(200));
        assert_eq!(f.inbox.dispatch(100).await.unwrap().total(), 0);
    }
    assert_eq!(
        f.transport.attempts(),
        2,
        "the later two were not attempted"
    );
    f.advance(TimeDelta::minutes(10));
    let mut sent = 0;
    for _ in 0..10 {
        sent += f.inbox.dispatch(100).await.unwrap().sent;
    }
    assert_eq!(sent, 3);
    let order: Vec<_> = f.transport.sent()[1..]
        .iter()
        .map(|s| s.request.message_id.clone())
        .collect();
    assert_eq!(order, ids, "in the order they were written");
}

async fn other_conversation_reply(f: &Fixture) -> MessageId {
    let c = says(f, "1001", "w2", "34698000002", "hello?").await;
    let r = f
        .inbox
        .reply(&f.actor("ben"), &c, 1, Reply::text("hi there", "other"))
        .await
        .unwrap();
    r.message.unwrap().id
}

/// A message in doubt is a state people can act on: the live snapshot
/// counts it (on its number and team, resolved or not), and an agent can
/// send it again as a new message with a new key (audited on the
/// timeline, replayed on retry, never twice); messages that were sent
/// cannot be sent again.
pub(crate) async fn messages_in_doubt_are_counted_and_can_be_sent_again<
    S: Store + AsDynStore + ?Sized,
>(
    store: Arc<S>,
) {
    let (f, _, replies) = five_replies(store).await;
    next_send_in_doubt(&f, "connection closed before the answer");
    f.inbox.dispatch(100).await.unwrap();
    // Sends run concurrently: whichever came first met the failure.
    let mut doubtful = Vec::new();
    for id in &replies {
        if message(&f, id).await.is_in_doubt() {
            doubtful.push(id.clone());
        }
    }
    assert_eq!(doubtful.len(), 1);
    let doubtful = doubtful.remove(0);
    let fine = replies.iter().find(|r| **r != doubtful).unwrap().clone();
    let sam = f.actor("sam");
    let live = |channel: Option<&str>| {
        let mut q = crate::metrics::LiveQuery::at(f.clock.now());
        q.channel = channel.map(|c| crate::ids::ChannelId::new(c).unwrap());
        q
    };
    let snapshot = f.inbox.live_snapshot(&sam, live(None)).await.unwrap();
    assert_eq!(snapshot.in_doubt, 1);
    for (channel, in_doubt) in [("sales", 1), ("support", 0)] {
        let on = f.inbox.live_snapshot(&sam, live(Some(channel))).await;
        assert_eq!(on.unwrap().in_doubt, in_doubt, "{channel}");
    }
    // Sent messages cannot be sent again; nor can another conversation's.
    let m = message(&f, &doubtful).await;
    let c = m.conversation.clone();
    let ana = f.actor("ana");
    let v = f.version(&c).await.unwrap();
    let elsewhere = f.inbox.resend(&ana, &c, v, &fine, "a0").await.unwrap_err();
    assert_eq!(elsewhere.code(), "invalid_input", "another conversation's");
    let other = message(&f, &fine).await.conversation;
    let ov = f.version(&other).await.unwrap();
    let refused = f.inbox.resend(&ana, &other, ov, &fine, "a0").await;
    assert_eq!(refused.unwrap_err().code(), "invalid_state", "already sent");
    // Sending again: a new message, quoting what the original quoted; the
    // original no longer counts as in doubt; the timeline says who did it.
    let again = f.inbox.resend(&ana, &c, v, &doubtful, "a1").await.unwrap();
    let copy = again.message.clone().unwrap();
    assert_ne!(copy.id, doubtful);
    assert_eq!(copy.content, m.content);
    assert_eq!(copy.context.reply_to, m.context.reply_to);
    assert!(again.events.iter().any(|e| matches!(
        &e.kind,
        EventKind::MessageResent { original, message } if original == &doubtful && message == &copy.id
    )));
    let original = message(&f, &doubtful).await;
    assert!(!original.is_in_doubt());
    assert_eq!(original.delivery.unwrap().resent_as, Some(copy.id.clone()));
    let snapshot = f.inbox.live_snapshot(&sam, live(None)).await.unwrap();
    assert_eq!(snapshot.in_doubt, 0, "sent again: no longer in doubt");
    // At most once: the same request again returns the same resend; any
    // other (another key, another agent) is refused.
    let replayed = f.inbox.resend(&ana, &c, v, &doubtful, "a1").await.unwrap();
    assert!(replayed.replayed);
    assert_eq!(replayed.message.unwrap().id, copy.id);
    let v = f.version(&c).await.unwrap();
    for (who, key) in [("ana", "a2"), ("ben", "b1")] {
        let again = f.inbox.resend(&f.actor(who), &c, v, &doubtful, key).await;
        assert_eq!(again.unwrap_err().code(), "invalid_state", "{who}");
    }
    let report = f.inbox.dispatch(100).await.unwrap();
    assert_eq!(report.sent, 1);
    assert_eq!(sends(&[&f]).get(&copy.id), Some(&1));
    assert!(!sends(&[&f]).contains_key(&doubtful));
}

/// Messages in doubt stay counted when their conversation is resolved,
/// until reconciled or sent again.
pub(crate) async fn messages_in_doubt_are_counted_after_resolving<
    S: Store + AsDynStore + ?Sized,
>(
    store: Arc<S>,
) {
    let (f, m) = first_reply_in_doubt(store, "connection closed before the answer").await;
    let ana = f.actor("ana");
    let v = f.version(&m.conversation).await.unwrap();
    f.inbox
        .set_status(&ana, &m.conversation, v, ConversationStatus::Resolved)
        .await
        .unwrap();
    let q = crate::metrics::LiveQuery::at(f.clock.now());
    let snapshot = f.inbox.live_snapshot(&f.actor("sam"), q).await.unwrap();
    assert_eq!(snapshot.in_doubt, 1);
}

/// A claim handed out in doubt (its dispatcher began sending and died) is
/// only ever settled as in doubt: when the store fails during the pass that
/// finds it, it is not put back in the queue with its attempt forgotten,
/// so a later dispatcher marks it in doubt instead of sending it again.
pub(crate) async fn an_in_doubt_claim_is_never_put_back_in_the_queue<
    S: Store + AsDynStore + ?Sized,
>(
    store: Arc<S>,
) {
    let (f, faulty, replies) = five_replies(store).await;
    // A dispatcher claims everything, begins sending the first, dies.
    let now = f.clock.now();
    let lease = std::time::Duration::from_secs(60);
    let claims = f
        .store
        .claim_outbox(OutboxClaimRequest {
            now,
            lease,
            limit: 100,
        })
        .await
        .unwrap();
    let first = claims
        .iter()
        .find(|c| c.entry.message == replies[0])
        .unwrap();
    let until = now + TimeDelta::seconds(60);
    f.store
        .begin_outbox_attempt(first, OutboxAttempt { at: now, until })
        .await
        .unwrap();
    // The next finds it in doubt, but the store goes away right after the
    // claim, so nothing it decides is recorded; then the store is back and
    // the same dispatcher goes on.
    let g = Fixture::instance(faulty.clone(), InboxConfig::default(), "b");
    g.clock.set(now + TimeDelta::minutes(2));
    faulty.fail_after(1);
    assert!(g.inbox.dispatch(100).await.is_err());
    faulty.set_down(false);
    let mut report = crate::inbox::DispatchReport::default();
    for _ in 0..3 {
        g.clock.set(g.clock.now() + TimeDelta::minutes(2));
        let r = g.inbox.dispatch(100).await.unwrap();
        report.sent += r.sent;
        report.in_doubt += r.in_doubt;
    }
    assert_eq!(report.sent, 4, "{report:?}");
    let sent = sends(&[&f, &g]);
    assert!(!sent.contains_key(&replies[0]), "never sent again");
    assert!(message(&g, &replies[0]).await.is_in_doubt());
}

/// A message that can never be sent as it stands (its number is gone from
/// the store) is marked failed with the reason and leaves the queue; it
/// does not stop the dispatcher or hold up other conversations.
pub(crate) async fn an_unsendable_message_does_not_block_the_outbox<
    S: Store + AsDynStore + ?Sized,
>(
    store: Arc<S>,
) {
    let (f, faulty, replies) = five_replies(store).await;
    faulty.refuse("channel", || Error::NotFound {
        entity: Entity::Channel,
        id: "sales".into(),
    });
    let report = f.inbox.dispatch(100).await.unwrap();
    assert_eq!((report.sent, report.skipped), (0, 5), "{report:?}");
    for id in &replies {
        let d = message(&f, id).await.delivery.unwrap();
        assert_eq!(d.status, DeliveryStatus::Failed);
        let reason = d.error.unwrap().title;
        assert!(reason.contains("could not send"), "{reason}");
    }
    assert_eq!(f.inbox.dispatch(100).await.unwrap().total(), 0, "gone");
    assert_eq!(f.transport.attempts(), 0);
}

/// Two agents sending the same message in doubt again at once, from the
/// same look at the conversation: exactly one new message.
pub(crate) async fn a_message_is_sent_again_at_most_once_under_races<
    S: Store + AsDynStore + ?Sized,
>(
    store: Arc<S>,
) {
    let (f, m) = first_reply_in_doubt(store, "timed out").await;
    let v = f.version(&m.conversation).await.unwrap();
    let c = &m.conversation;
    let (ana, ben) = (f.actor("ana"), f.actor("ben"));
    let tries = futures_util::future::join_all([
        f.inbox.resend(&ana, c, v, &m.id, "a"),
        f.inbox.resend(&ben, c, v, &m.id, "b"),
    ])
    .await;
    let won = tries.iter().filter(|t| t.is_ok()).count();
    assert_eq!(won, 1, "{tries:?}");
    f.advance(TimeDelta::minutes(1));
    let mut sent = 0;
    for _ in 0..5 {
        sent += f.inbox.dispatch(100).await.unwrap().sent;
    }
    assert_eq!(sent, 5, "the four others and one copy");
}
