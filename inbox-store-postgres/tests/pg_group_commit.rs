//! Group commit, batched ingest reads and batched message mutations under
//! concurrent load: changesets that share a transaction (one multi-row
//! statement, or one savepoint each when something in the batch collides)
//! end exactly as if each had been committed alone, and so do status
//! reports applied together.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use futures::future::join_all;
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use inbox_core::model::{
    Author, Content, ConversationStatus, DeliveryState, DeliveryStatus, DeliveryUpdate, Direction,
    Message,
};
use inbox_core::ports::{
    Changeset, MessageMutation, MessageTarget, MessageUpdate, MessageUpdated, Store, Write,
};
use inbox_core::testing::Fixture;
use inbox_core::{
    AgentId, ChannelId, EventKind, IngestOutcome, MessageId, TenantId, View, ViewQuery,
};
use inbox_store_memory::MemoryStore;
use inbox_store_postgres::{GroupCommit, PgStore};

/// One delivery of the load: (phone number id, external id, sender).
type Delivery = (&'static str, String, String);

/// Three rounds of 48 customers on three numbers (two tenants) writing at
/// once. Round 0 opens every conversation, one message each (no batch has
/// a collision); in the others, which continue them, every 4th message is
/// delivered three times and customers 0, 1 and 2 send two messages at once
/// (their changesets collide on the conversation, and the batch is redone
/// one changeset at a time).
fn rounds() -> Vec<Vec<Delivery>> {
    let pnids = ["1001", "1002", "2001"];
    (0..3)
        .map(|round| {
            let mut load = Vec::new();
            for c in 0..48usize {
                let pnid = pnids[c % 3];
                let from = format!("3460000{c:04}");
                let messy = round > 0;
                let copies = if messy && c % 4 == 0 { 3 } else { 1 };
                for _ in 0..copies {
                    load.push((pnid, format!("wamid.{round}.{c}"), from.clone()));
                }
                if messy && c < 3 {
                    load.push((pnid, format!("wamid.{round}.{c}.b"), from.clone()));
                }
            }
            load
        })
        .collect()
}

async fn deliver(f: &Fixture, load: &[Delivery]) -> Vec<IngestOutcome> {
    join_all(load.iter().map(|(pnid, ext, from)| {
        let event = f.text(pnid, ext, from, &format!("message {ext}"));
        async move { f.inbox.ingest(event).await }
    }))
    .await
    .into_iter()
    .map(|r| r.unwrap())
    .collect()
}

/// Per tenant and sender: (conversations, messages in each, active ones).
async fn shape(f: &Fixture) -> BTreeMap<(String, String), (usize, Vec<usize>, usize)> {
    let mut out = BTreeMap::new();
    for (tenant, admin) in [("acme", "sam"), ("globex", "gus")] {
        let t = TenantId::new(tenant).unwrap();
        let mut query = ViewQuery::new(View::All).limit(500);
        query.statuses = vec![];
        let page = f.inbox.list(&f.actor(admin), &query).await.unwrap();
        for conv in page.items {
            let contact = f.store.contact(&t, &conv.contact).await.unwrap();
            let messages = f.store.messages(&t, &conv.id).await.unwrap();
            assert_eq!(conv.message_count as usize, messages.len(), "{conv:?}");
            let key = (
                tenant.to_string(),
                contact.identity.wa_id.clone().unwrap_or_default(),
            );
            let e: &mut (usize, Vec<usize>, usize) = out.entry(key).or_default();
            e.0 += 1;
            e.1.push(messages.len());
            if conv.status != ConversationStatus::Resolved {
                e.2 += 1;
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_ingests_share_transactions_and_end_as_if_committed_alone() {
    let Some(url) = common::fresh_database().await else {
        return;
    };
    // One committer, so that commits queue behind the running batch.
    let pg = PgStore::connect(&url, 8)
        .await
        .unwrap()
        .with_group_commit(GroupCommit {
            max_batch: 64,
            committers: 1,
            readers: 1,
            ..GroupCommit::default()
        });
    let f = Fixture::new(Arc::new(pg.clone()) as Arc<dyn Store>)
        .await
        .unwrap();
    // The same load, one delivery at a time, on the memory store.
    let alone = Fixture::new(Arc::new(MemoryStore::new()) as Arc<dyn Store>)
        .await
        .unwrap();

    // Replies to another customer, whose statuses arrive during the rounds
    // and share their batches (and their redos when changesets collide).
    let mut replies = Vec::new();
    for fx in [&f, &alone] {
        let provider_ids = (0..30).map(|n| Some(format!("wamid.out.{n}")));
        replies = seed_replies(fx, "wamid.replied", "34699999999", provider_ids).await;
    }
    let channel = replies[0].channel.clone();
    let statuses = |round: usize| {
        let status = [
            DeliveryStatus::Sent,
            DeliveryStatus::Delivered,
            DeliveryStatus::Read,
        ][round % 3];
        let (store, t, channel) = (f.store.clone(), f.acme(), channel.clone());
        async move {
            join_all((0..30).map(|n| {
                let (store, t, channel) = (store.clone(), t.clone(), channel.clone());
                async move {
                    let ext = format!("wamid.out.{n}");
                    update_for_status(&*store, &t, &channel, None, &ext, &report(status, &ext))
                        .await
                        .unwrap()
                        .expect("the reply is found")
                }
            }))
            .await
        }
    };

    let mut external_ids = HashSet::from(["wamid.replied".to_string()]);
    for (round, load) in rounds().into_iter().enumerate() {
        let (outcomes, updated) = tokio::join!(deliver(&f, &load), statuses(round));
        assert!(
            updated.iter().all(|u| u.event.is_some()),
            "each status moves its reply forward: {updated:?}"
        );
        for d in &load {
            let _ = alone
                .inbox
                .ingest(alone.text(d.0, &d.1, &d.2, "x"))
                .await
                .unwrap();
        }
        let fresh: HashSet<_> = load.iter().map(|d| d.1.clone()).collect();
        let (stored, duplicates) = stored_and_duplicates(&outcomes);
        assert_eq!(stored, fresh.len(), "each message stored once");
        assert_eq!(duplicates, load.len() - fresh.len());
        external_ids.extend(fresh);
    }

    let (single, fast, fallback, batched) = pg.group_commit_stats().snapshot();
    assert!(
        fast > 0 && batched > 0,
        "no batch was written with the multi-row statement \
         ({single} single commits, {fallback} batches redone one by one)"
    );
    let (queries, lookups) = pg.read_batch_stats().snapshot();
    assert!(
        lookups > queries,
        "lookups shared queries: {lookups} in {queries}"
    );

    let (_, mutations, _) = pg.mutation_batch_stats().snapshot();
    assert!(mutations > 0, "no status rode in a batch");
    for reply in &replies {
        let m = f.store.message(&f.acme(), &reply.id).await.unwrap();
        assert_eq!(m.delivery.unwrap().status, DeliveryStatus::Read);
    }

    // Same conversations, same messages in each, one active per customer.
    assert_eq!(shape(&f).await, shape(&alone).await);

    for tenant in ["acme", "globex"] {
        let t = TenantId::new(tenant).unwrap();
        // Every message once, findable by its external id.
        let events = f.store.events_since(&t, 0, 100_000).await.unwrap();
        // The tenant's event sequence is gap-free and in order.
        for (i, e) in events.iter().enumerate() {
            assert_eq!(e.seq, i as u64 + 1, "{tenant}: event {i} is {e:?}");
        }
        let received = events
            .iter()
            .filter(|e| matches!(e.kind, EventKind::MessageReceived { .. }))
            .count();
        let channels: Vec<ChannelId> = f
            .store
            .channels(&t)
            .await
            .unwrap()
            .into_iter()
            .map(|c| c.id)
            .collect();
        let mut found = 0;
        for ext in &external_ids {
            for ch in &channels {
                if f.store
                    .message_by_external_id(&t, ch, ext)
                    .await
                    .unwrap()
                    .is_some()
                {
                    found += 1;
                }
            }
        }
        assert_eq!(received, found, "{tenant}: one event per stored message");
        // Each conversation's events end at its stored version.
        let mut query = ViewQuery::new(View::All).limit(500);
        query.statuses = vec![];
        let admin = if tenant == "acme" { "sam" } else { "gus" };
        for conv in f.inbox.list(&f.actor(admin), &query).await.unwrap().items {
            let last = f
                .store
                .conversation_events(&t, &conv.id, 0)
                .await
                .unwrap()
                .iter()
                .filter_map(|e| e.conversation_version)
                .max();
            assert_eq!(last, Some(conv.version), "{conv:?}");
        }
    }
}

/// Opens a conversation on number 1001 with a message `ext` from `wa_id`,
/// then stores replies `msg_out_0`, `msg_out_1`, … in it (with the given
/// provider ids) as a reply commit would: the conversation's count and
/// version moved on, one `ReplyQueued` event each. Returns the replies.
async fn seed_replies(
    fx: &Fixture,
    ext: &str,
    wa_id: &str,
    provider_ids: impl Iterator<Item = Option<String>>,
) -> Vec<Message> {
    let IngestOutcome::Stored {
        message,
        conversation,
        ..
    } = fx
        .inbox
        .ingest(fx.text("1001", ext, wa_id, "hello"))
        .await
        .unwrap()
    else {
        panic!("not stored");
    };
    let current = fx
        .store
        .conversation(&fx.acme(), &conversation)
        .await
        .unwrap();
    let replies: Vec<Message> = provider_ids
        .enumerate()
        .map(|(n, ext)| outbound(&message, n, ext))
        .collect();
    let mut next = current.clone();
    next.version += 1;
    next.message_count += u32::try_from(replies.len()).unwrap();
    let events = replies
        .iter()
        .map(|m| {
            inbox_core::Event::new(
                fx.acme(),
                Fixture::start(),
                inbox_core::EventActor::System,
                EventKind::ReplyQueued {
                    message: m.id.clone(),
                    content: "text".into(),
                },
            )
            .on(&conversation, next.version)
        })
        .collect();
    let changes = Changeset {
        conversation: Some(Write {
            value: next,
            expected_version: Some(current.version),
        }),
        messages: replies.clone(),
        events,
        ..Changeset::new(fx.acme())
    };
    fx.store.commit(changes).await.unwrap();
    replies
}

/// An outbound message in `conversation`, as the dispatcher leaves it:
/// accepted by the provider, with the provider id `ext` if given.
fn outbound(stored: &Message, n: usize, ext: Option<String>) -> Message {
    Message {
        id: MessageId::new(format!("msg_out_{n}")).unwrap(),
        direction: Direction::Outbound,
        author: Author::Agent(AgentId::new("ana").unwrap()),
        content: Content::text(format!("reply {n}")),
        external_id: ext,
        idempotency_key: None,
        delivery: Some(DeliveryState {
            pricing: None,
            status: DeliveryStatus::Accepted,
            updated_at: Fixture::start(),
            error: None,
            in_doubt_since: None,
            resent_as: None,
        }),
        response: None,
        origin: Default::default(),
        ..stored.clone()
    }
}

/// How a test reaches the reply `msg_out_{n}` it reports on.
#[derive(Debug, Clone, Copy)]
enum Via {
    /// `update_message` with the message id.
    Id,
    /// A status report ([`MessageTarget::Status`]) with our id (and another
    /// provider id).
    Ours,
    /// A status report with the provider id `wamid.out.{n}`
    /// (the one the mutation records, too).
    Provider,
}

impl Via {
    /// `Ok(None)`: no such message (a status about an unknown message);
    /// `Ok(Some(event))`: the event recorded, if any.
    async fn update(
        self,
        store: &dyn Store,
        t: &TenantId,
        n: usize,
        m: &MessageMutation,
    ) -> inbox_core::Result<Option<Option<inbox_core::Event>>> {
        let id = MessageId::new(format!("msg_out_{n}")).unwrap();
        let channel = ChannelId::new("sales").unwrap();
        let MessageMutation::Delivery {
            external_id: Some(ext),
            ..
        } = m
        else {
            panic!("a delivery report");
        };
        match self {
            Via::Id => store.update_message(t, &id, m).await.map(Some),
            Via::Ours => update_for_status(store, t, &channel, Some(&id), "wamid.elsewhere", m)
                .await
                .map(|u| u.map(|u| u.event)),
            Via::Provider => update_for_status(store, t, &channel, None, ext, m)
                .await
                .map(|u| u.map(|u| u.event)),
        }
    }
}

/// One status report, as [`MessageTarget::Status`], applied on its own.
async fn update_for_status(
    store: &dyn Store,
    t: &TenantId,
    channel: &ChannelId,
    our_id: Option<&MessageId>,
    external_id: &str,
    mutation: &MessageMutation,
) -> inbox_core::Result<Option<MessageUpdated>> {
    let update = status_update(channel, our_id, external_id, mutation.clone());
    let mut results = store.update_messages(t, &[update]).await;
    assert_eq!(results.len(), 1, "one result per update");
    results.remove(0)
}

/// A status report about a message of `channel`.
fn status_update(
    channel: &ChannelId,
    our_id: Option<&MessageId>,
    external_id: &str,
    mutation: MessageMutation,
) -> MessageUpdate {
    MessageUpdate {
        target: MessageTarget::Status {
            channel: channel.clone(),
            our_id: our_id.cloned(),
            external_id: external_id.to_string(),
        },
        mutation,
    }
}

/// A fixture on a fresh database's store, group commit on (`None` without
/// a database).
async fn group_commit_fixture() -> Option<(PgStore, Fixture)> {
    let url = common::fresh_database().await?;
    Some(fixture_on(&url).await)
}

/// [`group_commit_fixture`] and its database's URL (for more stores).
async fn fixture_and_url() -> Option<(String, PgStore, Fixture)> {
    let url = common::fresh_database().await?;
    let (pg, f) = fixture_on(&url).await;
    Some((url, pg, f))
}

/// A store (group commit on) on the database of `url` and a fixture on it.
async fn fixture_on(url: &str) -> (PgStore, Fixture) {
    let pg = PgStore::connect(url, 8).await.unwrap();
    let f = Fixture::new(Arc::new(pg.clone()) as Arc<dyn Store>)
        .await
        .unwrap();
    (pg, f)
}

fn report(status: DeliveryStatus, ext: &str) -> MessageMutation {
    MessageMutation::Delivery {
        update: DeliveryUpdate {
            pricing: None,
            status,
            at: Fixture::start(),
            error: None,
        },
        external_id: Some(ext.to_string()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_status_reports_are_applied_together_as_if_one_at_a_time() {
    let Some((pg, f)) = group_commit_fixture().await else {
        return;
    };
    let t = f.acme();
    // 40 replies with provider ids, and two without (their first status
    // records one: both are given the same, which only one may take).
    let provider_ids = (0..40)
        .map(|n| Some(format!("wamid.out.{n}")))
        .chain([None, None]);
    seed_replies(&f, "wamid.in", "34600000001", provider_ids).await;
    let before = f.store.events_since(&t, 0, 10_000).await.unwrap().len();

    // Sent, delivered and read for each, all at once, in a scrambled order:
    // by message id (`update_message`) or as a status webhook finds the
    // message (a status report: by our id, or by the provider's).
    let mut calls: Vec<(usize, Via, MessageMutation)> = Vec::new();
    for (status, via) in [
        (DeliveryStatus::Read, Via::Id),
        (DeliveryStatus::Sent, Via::Ours),
        (DeliveryStatus::Delivered, Via::Provider),
    ] {
        for n in 0..40 {
            calls.push((n, via, report(status, &format!("wamid.out.{n}"))));
        }
    }
    calls.push((99, Via::Id, report(DeliveryStatus::Sent, "wamid.nobody")));
    calls.push((
        99,
        Via::Provider,
        report(DeliveryStatus::Sent, "wamid.nobody"),
    ));
    let update_all = |calls: Vec<(usize, Via, MessageMutation)>| {
        let (store, t) = (f.store.clone(), t.clone());
        async move {
            join_all(calls.into_iter().map(|(n, via, m)| {
                let (store, t) = (store.clone(), t.clone());
                async move { via.update(&*store, &t, n, &m).await }
            }))
            .await
        }
    };
    let results = update_all(calls.clone()).await;
    // They were batched. (Whether a batch also had to be redone one at a
    // time depends on how the machine schedules the committers: a busy
    // one may run two batches on the same message at once. The outcome
    // below is the same either way, which is what is asserted.)
    let (batches, batched, redone) = pg.mutation_batch_stats().snapshot();
    assert!(
        batches > 0 && batched > 1,
        "{batches} batches of {batched}, {redone} redone"
    );
    // Each reply ends read; the events are exactly the moves forward.
    let mut applied = BTreeMap::<usize, usize>::new();
    for ((n, via, _), r) in calls.iter().zip(&results) {
        match (n, via, r) {
            (99, Via::Id, r) => assert!(
                matches!(r, Err(inbox_core::Error::NotFound { .. })),
                "{r:?}"
            ),
            (99, _, r) => assert!(matches!(r, Ok(None)), "{r:?}"),
            (n, _, Ok(Some(event))) => {
                *applied.entry(*n).or_default() += usize::from(event.is_some())
            }
            (n, via, r) => panic!("{n} {via:?}: {r:?}"),
        }
    }
    for n in 0..40 {
        let id = MessageId::new(format!("msg_out_{n}")).unwrap();
        let m = f.store.message(&t, &id).await.unwrap();
        assert_eq!(m.delivery.unwrap().status, DeliveryStatus::Read);
        assert!((1..=3).contains(&applied[&n]), "{n}: {applied:?}");
    }
    // Two replies race for one provider id: one takes it, the other is
    // told who has it (its batch is redone one at a time).
    let taken = update_all(vec![
        (40, Via::Id, report(DeliveryStatus::Sent, "wamid.taken")),
        (41, Via::Ours, report(DeliveryStatus::Sent, "wamid.taken")),
    ])
    .await;
    assert_eq!(
        taken.iter().filter(|r| matches!(r, Ok(Some(_)))).count(),
        1,
        "{taken:?}"
    );
    assert_eq!(
        taken
            .iter()
            .filter(|r| matches!(r, Err(inbox_core::Error::Duplicate { .. })))
            .count(),
        1,
        "{taken:?}"
    );
    // The tenant's events: gap-free, one per status applied.
    let events = f.store.events_since(&t, 0, 10_000).await.unwrap();
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e.seq, i as u64 + 1, "event {i} is {e:?}");
    }
    let delivery_events = events[before..]
        .iter()
        .filter(|e| matches!(e.kind, EventKind::DeliveryChanged { .. }))
        .count();
    assert_eq!(delivery_events, applied.values().sum::<usize>() + 1);
}

/// Group commit reads the messages a batch's status reports are about
/// without a lock and writes each back only if its row is still the
/// version it read. Three instances (three stores on one database, as
/// behind a load balancer) each receive every report of 40 replies at
/// once, so their batches race on the same rows: no report may overwrite
/// a move made meanwhile by another instance. Each reply ends read, and
/// its delivery events only ever move it forward, one per status at most.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn status_reports_racing_on_several_instances_never_move_a_message_back() {
    let Some((url, pg, f)) = fixture_and_url().await else {
        return;
    };
    let t = f.acme();
    let ids = |n: usize| Some(format!("wamid.out.{n}"));
    seed_replies(&f, "wamid.race", "34600000088", (0..40).map(ids)).await;
    let before = f.store.events_since(&t, 0, 10_000).await.unwrap().len();
    let mut stores = vec![pg.clone()];
    for _ in 0..2 {
        stores.push(PgStore::connect(&url, 8).await.unwrap());
    }
    let mut calls = Vec::new();
    for status in [
        DeliveryStatus::Read,
        DeliveryStatus::Sent,
        DeliveryStatus::Delivered,
    ] {
        for n in 0..40 {
            for store in &stores {
                calls.push((store.clone(), n, report(status, &format!("wamid.out.{n}"))));
            }
        }
    }
    let results = join_all(calls.iter().map(|(store, n, m)| {
        let t = t.clone();
        async move { Via::Provider.update(store, &t, *n, m).await }
    }))
    .await;
    assert!(
        results.iter().all(|r| matches!(r, Ok(Some(_)))),
        "{results:?}"
    );
    let events = f.store.events_since(&t, 0, 10_000).await.unwrap();
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e.seq, i as u64 + 1, "event {i} is {e:?}");
    }
    let mut moves: BTreeMap<MessageId, Vec<DeliveryStatus>> = BTreeMap::new();
    for e in &events[before..] {
        if let EventKind::DeliveryChanged {
            message, status, ..
        } = &e.kind
        {
            moves.entry(message.clone()).or_default().push(*status);
        }
    }
    let recorded: usize = results
        .iter()
        .filter(|r| matches!(r, Ok(Some(Some(_)))))
        .count();
    assert_eq!(recorded, moves.values().map(Vec::len).sum::<usize>());
    for n in 0..40 {
        let id = MessageId::new(format!("msg_out_{n}")).unwrap();
        let m = f.store.message(&t, &id).await.unwrap();
        assert_eq!(m.delivery.unwrap().status, DeliveryStatus::Read, "{n}");
        let seen = &moves[&id];
        assert!(
            seen.windows(2).all(|w| w[0] < w[1]) && seen.last() == Some(&DeliveryStatus::Read),
            "reply {n} moved {seen:?}"
        );
    }
    for store in stores {
        store.close().await;
    }
}

/// A batch of status reports alone (no changesets) locks the tenant's row
/// before any message, as every path that bumps the tenant's event
/// sequence does: while another transaction holds the tenant's row, the
/// batch waits without holding the reply it reports on. (It once locked
/// the replies first and the tenant's row last, the opposite order of a
/// report applied alone, and the two deadlocked.)
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_batch_of_status_reports_locks_the_tenant_before_its_messages() {
    let Some((pg, f)) = group_commit_fixture().await else {
        return;
    };
    let t = f.acme();
    seed_replies(
        &f,
        "wamid.order",
        "34600000077",
        [Some("wamid.out.0".into())].into_iter(),
    )
    .await;
    let mut holder = pg.pool().begin().await.unwrap();
    sqlx::query("SELECT 1 FROM inbox_tenants WHERE tenant_id = $1 FOR NO KEY UPDATE")
        .bind(t.as_str())
        .execute(&mut *holder)
        .await
        .unwrap();
    // One webhook's two reports: one unit, written by the batch statement.
    let channel = ChannelId::new("sales").unwrap();
    let reports: Vec<MessageUpdate> = [DeliveryStatus::Sent, DeliveryStatus::Delivered]
        .into_iter()
        .map(|s| status_update(&channel, None, "wamid.out.0", report(s, "wamid.out.0")))
        .collect();
    let (store, tenant) = (f.store.clone(), t.clone());
    let batch = tokio::spawn(async move { store.update_messages(&tenant, &reports).await });
    let mut waiting = 0;
    for _ in 0..3_000 {
        waiting = sqlx::query_scalar::<_, i64>(
            "SELECT count(*) FROM pg_stat_activity \
             WHERE datname = current_database() AND wait_event_type = 'Lock'",
        )
        .fetch_one(pg.pool())
        .await
        .unwrap();
        if waiting > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(waiting, 1, "the batch waits for the tenant's row");
    let mut probe = pg.pool().begin().await.unwrap();
    let reply = sqlx::query(
        "SELECT 1 FROM inbox_messages WHERE tenant_id = $1 AND message_id = 'msg_out_0' \
         FOR UPDATE NOWAIT",
    )
    .bind(t.as_str())
    .execute(&mut *probe)
    .await;
    probe.rollback().await.unwrap();
    holder.rollback().await.unwrap();
    let results = batch.await.unwrap();
    assert!(
        reply.is_ok(),
        "the waiting batch holds the reply's row: {reply:?}"
    );
    assert!(
        results.iter().all(|r| matches!(r, Ok(Some(_)))),
        "{results:?}"
    );
    let m = f
        .store
        .message(&t, &MessageId::new("msg_out_0").unwrap())
        .await
        .unwrap();
    assert_eq!(m.delivery.unwrap().status, DeliveryStatus::Delivered);
}

/// The committers and the reader keep a connection from one batch to the
/// next; closing the store (which waits for every connection to come
/// back) has them let go of it, so it returns, and what comes after fails
/// retryably.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn closing_a_store_returns_once_group_commit_has_run() {
    let Some((pg, f)) = group_commit_fixture().await else {
        return;
    };
    let results = common::ingest_at_once(&f, "close", "346000002", 8).await;
    assert!(results.iter().all(|r| r.is_ok()), "{results:?}");
    // (eight at once are batched together or not, as the machine's load
    // has it: a batch of one went through the committers all the same)
    let (single, fast, fallback, _) = pg.group_commit_stats().snapshot();
    let (queries, _) = pg.read_batch_stats().snapshot();
    assert!(
        single + fast + fallback > 0 && queries > 0,
        "group commit ran: {single} single, {fast} fast, {fallback} fallback batches; {queries} batched reads"
    );
    tokio::time::timeout(std::time::Duration::from_secs(10), pg.close())
        .await
        .expect("close returned");
    let after = f
        .inbox
        .ingest(f.text("1001", "wamid.close.after", "34600000299", "hi"))
        .await;
    assert!(matches!(&after, Err(e) if e.is_retryable()), "{after:?}");
}

/// The status reports of one webhook (one `update_messages` call) are
/// one unit of group commit: applied in their order, even with many such
/// units arriving at once and sharing batches, each report with its own
/// event, numbered in report order.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_webhooks_status_reports_are_applied_in_order_in_one_batch() {
    let Some((pg, f)) = group_commit_fixture().await else {
        return;
    };
    let t = f.acme();
    let provider_ids = (0..30).map(|n| Some(format!("wamid.out.{n}")));
    seed_replies(&f, "wamid.in", "34600000001", provider_ids).await;
    let last = f.store.events_since(&t, 0, 10_000).await.unwrap().len() as u64;
    let channel = ChannelId::new("sales").unwrap();
    let statuses = [
        DeliveryStatus::Sent,
        DeliveryStatus::Delivered,
        DeliveryStatus::Read,
    ];
    // 30 webhooks at once, each with sent, delivered and read for its reply.
    let results = join_all((0..30).map(|n| {
        let (store, t, channel) = (f.store.clone(), t.clone(), channel.clone());
        async move {
            let ext = format!("wamid.out.{n}");
            let reports: Vec<MessageUpdate> = statuses
                .iter()
                .map(|s| status_update(&channel, None, &ext, report(*s, &ext)))
                .collect();
            store.update_messages(&t, &reports).await
        }
    }))
    .await;
    let (batches, batched, redone) = pg.mutation_batch_stats().snapshot();
    assert_eq!((batched, redone), (90, 0), "{batches} batches");
    assert!(batches < 90, "{batches} batches for 30 webhooks");
    let mut seqs = BTreeMap::<MessageId, Vec<(u64, DeliveryStatus)>>::new();
    for (n, r) in results.iter().enumerate() {
        let id = MessageId::new(format!("msg_out_{n}")).unwrap();
        assert_eq!(r.len(), 3, "{r:?}");
        for (k, r) in r.iter().enumerate() {
            let Ok(Some(updated)) = r else {
                panic!("webhook {n}, report {k}: {r:?}");
            };
            assert_eq!(updated.message, id);
            let Some(event) = &updated.event else {
                panic!("webhook {n}, report {k} changed nothing: the reports ran out of order");
            };
            let EventKind::DeliveryChanged { status, .. } = &event.kind else {
                panic!("{event:?}");
            };
            seqs.entry(id.clone())
                .or_default()
                .push((event.seq, *status));
        }
        let m = f.store.message(&t, &id).await.unwrap();
        assert_eq!(m.delivery.unwrap().status, DeliveryStatus::Read);
    }
    for (id, moves) in &seqs {
        let mut sorted = moves.clone();
        sorted.sort();
        assert_eq!(&sorted, moves, "{id}: events numbered in report order");
        let order: Vec<DeliveryStatus> = moves.iter().map(|(_, s)| *s).collect();
        assert_eq!(order, statuses, "{id}");
    }
    // The events stored are the ones returned, gap-free.
    let events = f.store.events_since(&t, last, 10_000).await.unwrap();
    assert_eq!(events.len(), 90);
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e.seq, last + 1 + i as u64);
    }
}

/// Group commit plans its statements per execution until the tables have
/// statistics (an `ANALYZE` of empty tables gives none), then keeps
/// generic plans, with which ingest (new messages, redeliveries, statuses)
/// still ends exactly as one at a time would; `generic_plans: false` never
/// switches.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn generic_plans_once_the_tables_have_statistics() {
    let Some((url, pg, f)) = fixture_and_url().await else {
        return;
    };
    let t = f.acme();
    let analyze = || async {
        sqlx::query("ANALYZE").execute(pg.pool()).await.unwrap();
    };
    assert!(!pg.uses_generic_plans());
    analyze().await;
    assert!(
        !pg.check_statistics().await,
        "empty tables have no statistics"
    );
    let replies = seed_replies(
        &f,
        "wamid.first",
        "34600000001",
        (0..10).map(|n| Some(format!("wamid.out.{n}"))),
    )
    .await;
    for k in 0..20 {
        f.inbox
            .ingest(f.text(
                "1001",
                &format!("wamid.a{k}"),
                &format!("3461000{k:04}"),
                "hi",
            ))
            .await
            .unwrap();
    }
    analyze().await;
    assert!(pg.check_statistics().await, "the tables have statistics");
    assert!(pg.uses_generic_plans());
    // With generic plans: new messages, redeliveries and statuses at once.
    let new = (0..20).map(|k| (format!("wamid.b{k}"), format!("3462000{k:04}")));
    let again = (0..20).map(|k| (format!("wamid.a{k}"), format!("3461000{k:04}")));
    let outcomes = join_all(new.chain(again).map(|(ext, from)| {
        let event = f.text("1001", &ext, &from, "hello");
        let inbox = f.inbox.clone();
        async move { inbox.ingest(event).await.unwrap() }
    }))
    .await;
    let (stored, duplicates) = stored_and_duplicates(&outcomes);
    assert_eq!((stored, duplicates), (20, 20), "{outcomes:?}");
    let channel = ChannelId::new("sales").unwrap();
    let reports: Vec<MessageUpdate> = replies
        .iter()
        .map(|m| {
            let ext = m.external_id.clone().unwrap();
            status_update(&channel, None, &ext, report(DeliveryStatus::Read, &ext))
        })
        .collect();
    let applied = f.store.update_messages(&t, &reports).await;
    assert!(
        applied
            .iter()
            .all(|r| matches!(r, Ok(Some(MessageUpdated { event: Some(_), .. })))),
        "{applied:?}"
    );
    let events = f.store.events_since(&t, 0, 100_000).await.unwrap();
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e.seq, i as u64 + 1);
    }
    // Turned off: planned per execution whatever the statistics.
    let custom = PgStore::connect(&url, 4)
        .await
        .unwrap()
        .with_group_commit(GroupCommit {
            generic_plans: false,
            ..GroupCommit::default()
        });
    assert!(!custom.check_statistics().await);
}

/// How many outcomes stored a message, and how many were redeliveries.
fn stored_and_duplicates(outcomes: &[IngestOutcome]) -> (usize, usize) {
    let count = |f: fn(&IngestOutcome) -> bool| outcomes.iter().filter(|o| f(o)).count();
    (
        count(|o| matches!(o, IngestOutcome::Stored { .. })),
        count(|o| matches!(o, IngestOutcome::Duplicate { .. })),
    )
}

/// Tags of any text survive the batch statement, which binds each
/// conversation's tags as one array literal: twelve conversations tagged
/// at once (quotes, backslashes, commas, braces, the word "null") read
/// back as written and are found by each tag.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tags_of_any_text_survive_batched_commits() {
    let Some((pg, f)) = group_commit_fixture().await else {
        return;
    };
    let odd = [
        r#"say "hi""#,
        r"back\slash",
        "a,b",
        "{x}",
        "null",
        "two words",
    ];
    let mut convs = Vec::new();
    for k in 0..12 {
        let (c, _) = f
            .customer_says(
                "1001",
                &format!("wamid.t{k}"),
                &format!("3461100{k:04}"),
                "hi",
            )
            .await
            .unwrap();
        convs.push(c);
    }
    let (_, fast_before, _, _) = pg.group_commit_stats().snapshot();
    join_all(convs.iter().enumerate().map(|(k, c)| {
        let f = &f;
        async move {
            let v = f.version(c).await.unwrap();
            let tags = [odd[k % odd.len()], "vip"];
            f.inbox
                .tag(&f.actor("sam"), c, v, &tags, &[])
                .await
                .unwrap()
        }
    }))
    .await;
    let (_, fast_after, _, _) = pg.group_commit_stats().snapshot();
    assert!(fast_after > fast_before, "the tags went through a batch");
    for (k, c) in convs.iter().enumerate() {
        let stored: Vec<String> = sqlx::query_scalar(
            "SELECT tags FROM inbox_conversations WHERE tenant_id = 'acme' AND conversation_id = $1",
        )
        .bind(c.as_str())
        .fetch_one(pg.pool())
        .await
        .unwrap();
        let mut expected = vec![odd[k % odd.len()].to_string(), "vip".to_string()];
        expected.sort();
        let mut stored_sorted = stored.clone();
        stored_sorted.sort();
        assert_eq!(stored_sorted, expected, "{c}");
    }
    for tag in odd {
        let mut q = ViewQuery::new(View::All);
        q.tag = Some(tag.to_string());
        let page = f.inbox.list(&f.actor("sam"), &q).await.unwrap();
        assert_eq!(page.items.len(), 2, "tag {tag:?}");
    }
}

/// Message rows whose derived columns (author agent, direction, next
/// response times: what reports and the status lookup read) disagree with
/// the stored document, by the rules the server generated them with until
/// migration 16; and, so the check cannot pass on rows that have none:
/// rows with an author agent, with a next response time, notes, and all.
async fn message_columns(pg: &PgStore) -> (i64, i64, i64, i64, i64) {
    let row = sqlx::query_as::<_, (i64, i64, i64, i64, i64)>(
        "SELECT count(*) FILTER (WHERE \
            author_agent IS DISTINCT FROM (CASE WHEN d->'author'->>'kind' = 'agent' THEN d->'author'->>'id' END) \
            OR direction IS DISTINCT FROM d->>'direction' \
            OR next_response_secs IS DISTINCT FROM \
               (CASE WHEN d->'response'->>'first' = 'false' THEN (d->'response'->>'secs')::bigint END) \
            OR next_response_business_secs IS DISTINCT FROM \
               (CASE WHEN d->'response'->>'first' = 'false' THEN (d->'response'->>'business_secs')::bigint END)), \
         count(*) FILTER (WHERE author_agent IS NOT NULL), \
         count(*) FILTER (WHERE next_response_secs IS NOT NULL), \
         count(*) FILTER (WHERE direction = 'note'), count(*) \
         FROM (SELECT *, data::jsonb AS d FROM inbox_messages) s",
    )
    .fetch_one(pg.pool())
    .await
    .unwrap();
    row
}

/// Every path that writes a message or conversation row fills its derived
/// columns from the entity: ingests, replies and resolutions committed
/// together (one statement) and alone, notes, reopenings, SLA targets, and
/// the provider ids the dispatcher records, in batches and alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn derived_columns_follow_the_documents_on_every_write_path() {
    let Some(url) = common::fresh_database().await else {
        return;
    };
    // With an SLA, so conversations carry targets.
    let pg = PgStore::connect(&url, 8).await.unwrap();
    let f = Fixture::with_settings(
        Arc::new(pg.clone()) as Arc<dyn Store>,
        Fixture::first_response_sla(600),
    )
    .await
    .unwrap();
    let ana = f.actor("ana");
    // Six customers at once (batched inserts), then one alone.
    let mut conversations = join_all((0..6).map(|c| {
        let f = &f;
        async move {
            f.customer_says(
                "1001",
                &format!("wamid.a.{c}"),
                &format!("3460000{c:04}"),
                "hi",
            )
            .await
            .unwrap()
            .0
        }
    }))
    .await;
    conversations.push(
        f.customer_says("1001", "wamid.a.alone", "34600009999", "hi")
            .await
            .unwrap()
            .0,
    );
    // First replies (at once), the customers again, next responses (at
    // once), a note in each; then the same in the last one alone.
    let replies = |round: &'static str| {
        join_all(conversations[..6].iter().enumerate().map(|(i, c)| {
            let (f, ana) = (&f, &ana);
            async move {
                let v = f.version(c).await.unwrap();
                let v = match round {
                    "first" => f
                        .claim_and_reply(ana, c, "hello", &format!("k1.{i}"))
                        .await
                        .unwrap(),
                    _ => {
                        f.inbox
                            .reply(
                                ana,
                                c,
                                v,
                                inbox_core::Reply::text("and so", format!("k2.{i}")),
                            )
                            .await
                            .unwrap()
                            .conversation
                            .version
                    }
                };
                f.inbox
                    .note(ana, c, v, "noted", &format!("n.{round}.{i}"))
                    .await
                    .unwrap();
            }
        }))
    };
    replies("first").await;
    assert_eq!(
        conversation_columns(&pg).await.0,
        0,
        "after the first replies"
    );
    f.clock.advance(chrono::TimeDelta::minutes(5));
    join_all((0..6).map(|c| {
        let f = &f;
        async move {
            f.customer_says(
                "1001",
                &format!("wamid.b.{c}"),
                &format!("3460000{c:04}"),
                "and?",
            )
            .await
            .unwrap();
        }
    }))
    .await;
    f.clock.advance(chrono::TimeDelta::minutes(7));
    replies("next").await;
    assert_eq!(
        conversation_columns(&pg).await.0,
        0,
        "after the next replies"
    );
    let last = &conversations[6];
    f.claim_and_reply(&ana, last, "hello", "k1.alone")
        .await
        .unwrap();
    f.customer_says("1001", "wamid.b.alone", "34600009999", "and?")
        .await
        .unwrap();
    f.clock.advance(chrono::TimeDelta::minutes(3));
    let v = f.version(last).await.unwrap();
    let v = f
        .inbox
        .reply(&ana, last, v, inbox_core::Reply::text("and so", "k2.alone"))
        .await
        .unwrap()
        .conversation
        .version;
    f.inbox
        .note(&ana, last, v, "noted", "n.alone")
        .await
        .unwrap();
    // The dispatcher records each reply's provider id (a message update
    // each, batched when they come together); a conversation's replies go
    // out one per pass.
    let mut sent = 0;
    for _ in 0..4 {
        sent += f.inbox.dispatch(100).await.unwrap().sent;
    }
    assert_eq!(sent, 14);
    let recorded: (i64,) = sqlx::query_as(
        "SELECT count(*) FROM inbox_messages WHERE direction = 'outbound' AND external_id IS NOT NULL",
    )
    .fetch_one(pg.pool())
    .await
    .unwrap();
    assert_eq!(recorded.0, 14, "provider ids recorded");

    let (wrong, by_agent, next, notes, all) = message_columns(&pg).await;
    assert_eq!(wrong, 0, "rows whose columns disagree with their document");
    // 14 inbound, 14 replies, 13 notes; 7 next responses.
    assert_eq!((all, by_agent, notes, next), (41, 27, 13, 7));

    // Four resolved at once, the last alone, and one of those reopened.
    join_all(conversations[..4].iter().map(|c| {
        let (f, ana) = (&f, &ana);
        async move {
            let v = f.version(c).await.unwrap();
            f.inbox
                .set_status(ana, c, v, ConversationStatus::Resolved)
                .await
                .unwrap();
        }
    }))
    .await;
    let v = f.version(last).await.unwrap();
    f.inbox
        .set_status(&ana, last, v, ConversationStatus::Resolved)
        .await
        .unwrap();
    f.clock.advance(chrono::TimeDelta::minutes(1));
    f.customer_says("1001", "wamid.c.0", "34600000000", "me again")
        .await
        .unwrap();
    let (wrong, first, resolved, reopened, sla) = conversation_columns(&pg).await;
    assert_eq!(
        wrong, 0,
        "conversation rows whose columns disagree with their document"
    );
    // (the reopened one keeps its last resolution time)
    assert_eq!((first, resolved, reopened, sla), (7, 5, 1, 7));

    let (_, _, _, batched) = pg.group_commit_stats().snapshot();
    assert!(batched > 0, "nothing was committed in a batch");
}

/// Conversation rows whose report columns disagree with the stored
/// document by the rules migration 17 filled them with; and, so the check
/// cannot pass on rows that have none: rows with a first response, a
/// resolution, a reopening and SLA targets.
async fn conversation_columns(pg: &PgStore) -> (i64, i64, i64, i64, i64) {
    sqlx::query_as::<_, (i64, i64, i64, i64, i64)>(
        "WITH c AS (SELECT *, data::jsonb AS d FROM inbox_conversations), \
         e AS (SELECT c.*, \
            CASE WHEN d->>'first_response_at' IS NOT NULL THEN \
              ((extract(epoch FROM (d->>'first_response_at')::timestamptz) - extract(epoch FROM (d->>'created_at')::timestamptz)) * 1000000)::bigint / 1000000 END AS x_fr, \
            CASE WHEN d->>'resolved_at' IS NOT NULL THEN \
              ((extract(epoch FROM (d->>'resolved_at')::timestamptz) - extract(epoch FROM (d->>'created_at')::timestamptz)) * 1000000)::bigint / 1000000 END AS x_rs, \
            (d->>'first_response_business_secs')::bigint AS x_frb, (d->>'resolution_business_secs')::bigint AS x_rsb, \
            COALESCE((d->>'reopen_count')::bigint, 0) AS x_ro, \
            CASE WHEN jsonb_typeof(d->'sla') = 'object' THEN d->'sla'->>'policy' END AS x_sp, \
            CASE WHEN jsonb_typeof(d->'sla') = 'object' THEN ARRAY(SELECT t->>'kind' FROM jsonb_array_elements(d->'sla'->'targets') WITH ORDINALITY AS a(t, o) ORDER BY o) END AS x_sk, \
            CASE WHEN jsonb_typeof(d->'sla') = 'object' THEN ARRAY(SELECT t->'state'->>'state' FROM jsonb_array_elements(d->'sla'->'targets') WITH ORDINALITY AS a(t, o) ORDER BY o) END AS x_ss, \
            CASE WHEN jsonb_typeof(d->'sla') = 'object' THEN ARRAY(SELECT (extract(epoch FROM (t->>'warn_at')::timestamptz) * 1000000)::bigint FROM jsonb_array_elements(d->'sla'->'targets') WITH ORDINALITY AS a(t, o) ORDER BY o) END AS x_sw, \
            CASE WHEN jsonb_typeof(d->'sla') = 'object' THEN ARRAY(SELECT (extract(epoch FROM (t->>'due_at')::timestamptz) * 1000000)::bigint FROM jsonb_array_elements(d->'sla'->'targets') WITH ORDINALITY AS a(t, o) ORDER BY o) END AS x_sd \
            FROM c) \
         SELECT count(*) FILTER (WHERE (first_response_secs, resolution_secs, first_response_business_secs, resolution_business_secs, \
                reopen_count, sla_policy, sla_kinds, sla_states, sla_warn_us, sla_due_us) \
                IS DISTINCT FROM (x_fr, x_rs, x_frb, x_rsb, x_ro, x_sp, x_sk, x_ss, x_sw, x_sd)), \
            count(*) FILTER (WHERE first_response_secs IS NOT NULL), count(*) FILTER (WHERE resolution_secs IS NOT NULL), \
            count(*) FILTER (WHERE reopen_count > 0), count(*) FILTER (WHERE cardinality(sla_kinds) > 0) \
         FROM e",
    )
    .fetch_one(pg.pool())
    .await
    .unwrap()
}
