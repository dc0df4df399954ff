//! Several application instances (separate connection pools) sharing one
//! database, and what happens when the connection is lost.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use futures::future::join_all;
use futures::StreamExt;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use inbox_core::event::{Event, EventActor};
use inbox_core::ports::{BusItem, Changeset, Conversations, EventBus, Store};
use inbox_core::testing::Fixture;
use inbox_core::{
    ConversationId, Error, EventKind, InboxConfig, IngestOutcome, MessageId, Reply, TenantId, View,
    ViewQuery,
};
use inbox_store_postgres::{PgEventBus, PgStore};

/// Instance `n` on its own pool, on the database of `url`.
async fn instance(url: &str, prefix: &'static str) -> Fixture {
    let store = Arc::new(PgStore::connect(url, 4).await.unwrap());
    Fixture::instance(store as Arc<dyn Store>, InboxConfig::default(), prefix)
}

/// `N` instances (at most three) on a fresh database, each on its own
/// pool; the first provisions the fixture's tenant. `None` when the tests
/// skip.
async fn instances<const N: usize>() -> Option<[Fixture; N]> {
    let url = common::fresh_database().await?;
    let store = Arc::new(PgStore::connect(&url, 4).await.unwrap());
    let mut all = vec![Fixture::new(store as Arc<dyn Store>).await.unwrap()];
    for prefix in ["b", "c"].into_iter().take(N - 1) {
        all.push(instance(&url, prefix).await);
    }
    all.try_into().ok()
}

/// `n` conversations on `f`, each opened by a new customer whose number is
/// `prefix` and four digits.
async fn conversations(f: &Fixture, n: usize, prefix: &str) -> Vec<ConversationId> {
    let mut convs = Vec::new();
    for i in 0..n {
        let wa_id = format!("{prefix}{i:04}");
        convs.push(
            f.customer_says("1001", &format!("w{i}"), &wa_id, "hi")
                .await
                .unwrap()
                .0,
        );
    }
    convs
}

/// The ids of the messages `f`'s transport sent.
fn sent(f: &Fixture) -> Vec<MessageId> {
    f.transport
        .sent()
        .into_iter()
        .map(|s| s.request.message_id)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn claims_race_across_pools_exactly_one_wins() {
    let Some([a, b, c]) = instances().await else {
        return;
    };
    for conv in &conversations(&a, 10, "3460000").await {
        let attempts = [
            (&a, "ana"),
            (&b, "ben"),
            (&c, "sam"),
            (&b, "ada"),
            (&c, "ana"),
        ];
        let results = join_all(attempts.iter().map(|(f, agent)| {
            let conv = conv.clone();
            async move { f.inbox.claim(&f.actor(agent), &conv, 1).await }
        }))
        .await;
        let winners: Vec<_> = results
            .iter()
            .filter(|r| matches!(r, Ok(o) if !o.replayed))
            .collect();
        assert_eq!(winners.len(), 1, "{results:?}");
        let stored = a.store.conversation(&a.acme(), conv).await.unwrap();
        let owner = stored.assignee.unwrap();
        for r in &results {
            match r {
                Ok(o) => assert_eq!(o.conversation.assignee.as_ref(), Some(&owner)),
                Err(Error::AlreadyOwned { owner: o, .. }) => assert_eq!(o, &owner),
                Err(e) => panic!("{e}"),
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn duplicate_deliveries_across_pools_store_one_message() {
    let Some([a, b, c]) = instances().await else {
        return;
    };
    let instances = [&a, &b, &c];
    let deliveries = (0..30).map(|i| {
        let f = instances[i % 3];
        let event = f.text("1001", &format!("wamid.{}", i % 5), "34600000001", "hello");
        async move { f.inbox.ingest(event).await }
    });
    let results = join_all(deliveries).await;
    let stored = results
        .iter()
        .filter(|r| matches!(r, Ok(IngestOutcome::Stored { .. })));
    assert_eq!(stored.count(), 5);
    assert!(results.iter().all(|r| r.is_ok()), "{results:?}");
    let all = ViewQuery::new(View::All);
    let conversations = a.inbox.list(&a.actor("sam"), &all).await.unwrap().items;
    assert_eq!(conversations.len(), 1, "one conversation");
    let messages = a.store.messages(&a.acme(), &conversations[0].id).await;
    assert_eq!(messages.unwrap().len(), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_dispatchers_send_each_message_once() {
    let Some([a, b]) = instances().await else {
        return;
    };
    let mut queued = HashSet::new();
    for (i, conv) in conversations(&a, 12, "3461000").await.iter().enumerate() {
        for k in 0..3 {
            let v = a.version(conv).await.unwrap();
            let reply = Reply::text(format!("answer {k}"), format!("r{i}-{k}"));
            let out = a
                .inbox
                .reply(&a.actor("ana"), conv, v, reply)
                .await
                .unwrap();
            queued.insert(out.message.unwrap().id);
        }
    }
    // Both instances drain the same outbox at once, in small batches.
    let drain = |f: &Fixture| {
        let inbox = f.inbox.clone();
        async move {
            loop {
                let r = inbox.dispatch(3).await.unwrap();
                if r.total() == 0 {
                    break;
                }
            }
        }
    };
    futures::join!(drain(&a), drain(&b));
    let (sent_a, sent_b) = (sent(&a), sent(&b));
    let mut all: Vec<_> = sent_a.iter().chain(sent_b.iter()).cloned().collect();
    assert_eq!(
        all.len(),
        queued.len(),
        "a sent {}, b sent {}",
        sent_a.len(),
        sent_b.len()
    );
    all.sort();
    all.dedup();
    assert_eq!(
        all.into_iter().collect::<HashSet<_>>(),
        queued,
        "each message sent exactly once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn events_published_on_one_instance_reach_another() {
    let Some(url) = common::fresh_database().await else {
        return;
    };
    let store_a = PgStore::connect(&url, 4).await.unwrap();
    let store_b = PgStore::connect(&url, 4).await.unwrap();
    let bus_b = PgEventBus::connect(store_b.clone()).await.unwrap();
    let mut live = bus_b.subscribe(&TenantId::new("acme").unwrap());
    // Instance A runs its inbox with its own bus.
    let bus_a = Arc::new(PgEventBus::connect(store_a.clone()).await.unwrap());
    let f = Fixture::new(Arc::new(store_a) as Arc<dyn Store>)
        .await
        .unwrap();
    let inbox = inbox_core::Inbox::new(
        inbox_core::Ports {
            bus: bus_a,
            ..f.inbox.ports().clone()
        },
        InboxConfig::default(),
    );
    inbox
        .ingest(f.text("1001", "w1", "34600000009", "hello from A"))
        .await
        .unwrap();
    let mut kinds = Vec::new();
    while kinds.len() < 3 {
        match tokio::time::timeout(Duration::from_secs(10), live.next())
            .await
            .expect("event reached instance B")
        {
            Some(BusItem::Event(e)) => kinds.push(e.kind.name()),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(
        kinds,
        ["contact_created", "conversation_opened", "message_received"]
    );
    let _ = store_b;
}

/// The bus sends the events themselves in the notification: those that
/// fit reach the other instance without a read of the events table, with
/// their scope, equal to what is stored; a stored event too large for a
/// notification is read back from the table; a live-only one that large is
/// dropped.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn events_travel_in_notifications_and_only_the_too_large_are_read_back() {
    let Some(url) = common::fresh_database().await else {
        return;
    };
    let acme = TenantId::new("acme").unwrap();
    let store_a = PgStore::connect(&url, 4).await.unwrap();
    let store_b = PgStore::connect(&url, 4).await.unwrap();
    let bus_b = PgEventBus::connect(store_b.clone()).await.unwrap();
    let mut live = bus_b.subscribe(&acme);
    let bus_a = Arc::new(PgEventBus::connect(store_a.clone()).await.unwrap());
    let f = Fixture::new(Arc::new(store_a.clone()) as Arc<dyn Store>)
        .await
        .unwrap();
    let inbox = inbox_core::Inbox::new(
        inbox_core::Ports {
            bus: bus_a.clone(),
            ..f.inbox.ports().clone()
        },
        InboxConfig::default(),
    );
    let mut next = async || match tokio::time::timeout(Duration::from_secs(10), live.next())
        .await
        .expect("an event reached instance B")
    {
        Some(BusItem::Event(e)) => (*e).clone(),
        other => panic!("{other:?}"),
    };
    inbox
        .ingest(f.text("1001", "w1", "34600000009", "hello from A"))
        .await
        .unwrap();
    let mut got = Vec::new();
    for _ in 0..3 {
        got.push(next().await);
    }
    let stored = store_b.events_since(&acme, 0, 1000).await.unwrap();
    assert_eq!(got, stored[stored.len() - 3..]);
    assert!(got[1..].iter().all(|e| e.scope.is_some()), "{got:?}");
    assert_eq!(bus_b.read_backs(), 0, "read from the notifications");

    let big = |seq: u64| {
        let mut e = Event::new(
            acme.clone(),
            Fixture::start(),
            EventActor::Automation("crm".into()),
            EventKind::Integration {
                name: "crm.note".into(),
                data: [("text".to_string(), "x".repeat(10_000))].into(),
            },
        );
        e.seq = seq;
        e
    };
    let committed = store_a
        .commit(Changeset {
            events: vec![big(0)],
            ..Changeset::new(acme.clone())
        })
        .await
        .unwrap()
        .events;
    let mut small = big(0);
    small.kind = EventKind::Integration {
        name: "crm.ping".into(),
        data: Default::default(),
    };
    bus_a
        .publish(&[big(0), committed[0].clone(), small.clone()])
        .await
        .unwrap();
    assert_eq!(next().await, committed[0]);
    assert_eq!(next().await, small, "the large live-only event is dropped");
    assert_eq!(bus_b.read_backs(), 1);
}

/// Publishes made at once share the notifier's statements (one
/// transaction for many), and every event arrives, each publisher's in the
/// order it published them.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn publishes_at_once_share_statements_and_keep_each_publishers_order() {
    let Some(url) = common::fresh_database().await else {
        return;
    };
    let acme = TenantId::new("acme").unwrap();
    let store_a = PgStore::connect(&url, 4).await.unwrap();
    let store_b = PgStore::connect(&url, 4).await.unwrap();
    let bus_b = PgEventBus::connect(store_b).await.unwrap();
    let mut live = bus_b.subscribe(&acme);
    let bus_a = PgEventBus::connect(store_a).await.unwrap();
    let event = |p: usize, k: usize| {
        Event::new(
            acme.clone(),
            Fixture::start(),
            EventActor::Automation("crm".into()),
            EventKind::Integration {
                name: format!("{p}.{k}"),
                data: Default::default(),
            },
        )
    };
    let (publishers, each) = (50, 4);
    join_all((0..publishers).map(|p| {
        let (bus, event) = (bus_a.clone(), &event);
        async move {
            for k in 0..each {
                bus.publish(&[event(p, k)]).await.unwrap();
            }
        }
    }))
    .await;
    let mut seen = vec![Vec::new(); publishers];
    for _ in 0..publishers * each {
        let e = match tokio::time::timeout(Duration::from_secs(10), live.next())
            .await
            .expect("every event arrives")
        {
            Some(BusItem::Event(e)) => e,
            other => panic!("{other:?}"),
        };
        let EventKind::Integration { name, .. } = &e.kind else {
            panic!("{e:?}");
        };
        let (p, k) = name.split_once('.').unwrap();
        seen[p.parse::<usize>().unwrap()].push(k.parse::<usize>().unwrap());
    }
    let in_order: Vec<usize> = (0..each).collect();
    assert!(seen.iter().all(|ks| *ks == in_order), "{seen:?}");
    let statements = bus_a.notify_statements();
    assert!(
        statements <= (publishers * each / 2) as u64,
        "{statements} statements for {} publishes",
        publishers * each
    );
}

#[tokio::test]
async fn an_unreachable_database_is_a_retryable_error() {
    if common::database_url().is_none() {
        return;
    }
    // Nothing listens on port 1: the pool cannot connect.
    let err = PgStore::connect("postgres://postgres@127.0.0.1:1/none", 1)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Unavailable { .. }), "{err:?}");
    assert!(err.is_retryable());
    assert!(!format!("{err:?}").contains("password"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_connections_fail_cleanly_and_the_pool_recovers() {
    let Some(url) = common::fresh_database().await else {
        return;
    };
    let store = Arc::new(PgStore::connect(&url, 4).await.unwrap());
    let f = Fixture::new(store.clone() as Arc<dyn Store>).await.unwrap();
    let (conv, _) = f
        .customer_says("1001", "w1", "34600000001", "hi")
        .await
        .unwrap();
    let admin = PgStore::connect(&common::database_url().unwrap(), 1)
        .await
        .unwrap();
    let dbname = url
        .rsplit('/')
        .next()
        .unwrap()
        .split('?')
        .next()
        .unwrap()
        .to_string();
    for round in 0..3 {
        // Kill every connection of the store's pool.
        sqlx::query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()")
            .bind(&dbname)
            .execute(admin.pool())
            .await
            .unwrap();
        let v = f.version(&conv).await;
        match v {
            Ok(_) => {}
            Err(e) => assert!(e.is_retryable(), "round {round}: {e:?}"),
        }
        // Writes either commit whole or fail retryably, never half.
        let seen = f.version(&conv).await.unwrap_or(0);
        let before = f
            .store
            .messages(&f.acme(), &conv)
            .await
            .map(|m| m.len())
            .unwrap_or(0);
        let r = f
            .inbox
            .note(
                &f.actor("ana"),
                &conv,
                seen,
                &format!("note {round}"),
                &format!("n{round}"),
            )
            .await;
        if let Err(e) = &r {
            assert!(e.is_retryable() || matches!(e, Error::Conflict(_)), "{e:?}");
        }
        // The pool is usable again.
        let mut ok = false;
        for _ in 0..20 {
            if f.store.conversation(&f.acme(), &conv).await.is_ok() {
                ok = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(ok, "the pool recovered");
        // Group commit's own connections, which the reader and the
        // committers keep from batch to batch, were killed too: a batch
        // may fail on one, retryably, and the next run on fresh ones.
        // (Eight ingests at once, so that the committers batch them.)
        let mut delivered = false;
        for _ in 0..5 {
            let ingests = (0..8).map(|i| {
                let (wamid, wa_id) = (format!("wamid.r{round}.{i}"), format!("346000001{i:02}"));
                f.inbox.ingest(f.text("1001", &wamid, &wa_id, "hello"))
            });
            let results = join_all(ingests).await;
            for r in &results {
                if let Err(e) = r {
                    assert!(e.is_retryable(), "round {round}: {e:?}");
                }
            }
            if results.iter().all(|r| r.is_ok()) {
                delivered = true;
                break;
            }
        }
        assert!(delivered, "round {round}: group commit recovered");
        let after = f.store.messages(&f.acme(), &conv).await.unwrap().len();
        let events = f
            .store
            .conversation_events(&f.acme(), &conv, 0)
            .await
            .unwrap();
        let notes = events
            .iter()
            .filter(|e| matches!(e.kind, EventKind::NoteAdded { .. }))
            .count();
        // Message and event were written together or not at all.
        assert_eq!(
            after - 1,
            notes,
            "round {round}: messages {before}->{after}, note events {notes}"
        );
    }
}

/// Instance `prefix` of the inbox on its own pool and its own PostgreSQL
/// event bus, following settings changes as a deployed instance does.
async fn following_instance(url: &str, prefix: &'static str) -> Fixture {
    let store = PgStore::connect(url, 4).await.unwrap();
    let bus = Arc::new(PgEventBus::connect(store.clone()).await.unwrap());
    let mut f = Fixture::instance(
        Arc::new(store) as Arc<dyn Store>,
        InboxConfig::default(),
        prefix,
    );
    f.inbox = inbox_core::Inbox::new(
        inbox_core::Ports {
            bus,
            ..f.inbox.ports().clone()
        },
        InboxConfig::default(),
    );
    let follower = f.inbox.clone();
    tokio::spawn(async move { follower.follow_settings().await });
    f
}

/// The team `f`'s conversation with `wa_id` (a new customer writing now)
/// is routed to.
async fn routed_team(f: &Fixture, wamid: &str, wa_id: &str) -> Option<String> {
    let (c, _) = f.customer_says("1001", wamid, wa_id, "hi").await.unwrap();
    let stored = f.store.conversation(&f.acme(), &c).await.unwrap();
    stored.team.map(|t| t.to_string())
}

/// Changes the settings through `by` (as its admin, on version `seen`),
/// then waits until `other` runs them: it hears of them on the bus within
/// a second (10 s allowed, on a loaded machine).
async fn changed(
    by: &Fixture,
    seen: u64,
    doc: inbox_core::settings::TenantSettings,
    other: &Fixture,
) -> inbox_core::ports::StoredSettings {
    let admin = by.actor("ada");
    let stored = by
        .inbox
        .update_settings(&admin, seen, doc.clone())
        .await
        .unwrap();
    for _ in 0..100 {
        if other.inbox.policy(&other.acme()).await.unwrap().document == doc {
            return stored;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the other instance did not apply the change within 10 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_settings_change_through_one_instance_decides_the_next_message_on_another() {
    let Some(url) = common::fresh_database().await else {
        return;
    };
    let store = Arc::new(PgStore::connect(&url, 2).await.unwrap());
    Fixture::new(store as Arc<dyn Store>).await.unwrap();
    let a = following_instance(&url, "a").await;
    let b = following_instance(&url, "b").await;
    assert_eq!(routed_team(&b, "w0", "34600000000").await, None);
    let to = |team: &str| {
        let yaml = format!(
            "routing:\n  rules:\n    - name: all\n      then: [{{route_to_team: {team}}}]\n"
        );
        inbox_core::settings::TenantSettings::from_yaml(&yaml).unwrap()
    };
    // Through A (as its admin); B hears of it on the bus within a second.
    let v0 = a.inbox.settings(&a.actor("ada")).await.unwrap().version;
    let stored = changed(&a, v0, to("sales"), &b).await;
    assert_eq!(stored.version, v0 + 1);
    let team = routed_team(&b, "w1", "34600000001").await;
    assert_eq!(team.as_deref(), Some("sales"));
    // And back through B; A follows.
    changed(&b, v0 + 1, to("support"), &a).await;
    let team = routed_team(&a, "w2", "34600000002").await;
    assert_eq!(team.as_deref(), Some("support"));
    // A team provisioned through B is the next version; a rule to it
    // through A is made on that version.
    let vip =
        inbox_core::model::Team::new(a.acme(), inbox_core::TeamId::new("vip").unwrap(), "VIP");
    b.inbox.save_team(&b.actor("ada"), &vip).await.unwrap();
    changed(&a, v0 + 3, to("vip"), &b).await;
    let team = routed_team(&b, "w3", "34600000003").await;
    assert_eq!(team.as_deref(), Some("vip"));
    // Both restart: what they run comes from the store.
    drop((a, b));
    let a = following_instance(&url, "c").await;
    let b = instance(&url, "d").await;
    assert_eq!(b.inbox.load_settings().await.unwrap(), 2, "acme and globex");
    assert_eq!(
        routed_team(&a, "w4", "34600000004").await.as_deref(),
        Some("vip")
    );
    assert_eq!(
        routed_team(&b, "w5", "34600000005").await.as_deref(),
        Some("vip")
    );
    let history = a
        .inbox
        .settings_history(
            &a.actor("ada"),
            inbox_core::ports::HistoryQuery {
                before: None,
                limit: 4,
            },
        )
        .await
        .unwrap();
    let sections: Vec<(u64, Vec<&str>)> = history
        .iter()
        .map(|c| {
            (
                c.version,
                c.sections.iter().map(|s| s.section.as_str()).collect(),
            )
        })
        .collect();
    assert_eq!(
        sections,
        [
            (v0 + 4, vec!["routing"]),
            (v0 + 3, vec!["teams.vip"]),
            (v0 + 2, vec!["routing"]),
            (v0 + 1, vec!["routing"]),
        ]
    );
}
