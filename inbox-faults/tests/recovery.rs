//! The PostgreSQL store after the database restarts: its pools notice the
//! dead connections and work again as soon as the server answers.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::Utc;
use futures_util::StreamExt;
use std::time::Duration;

use inbox_core::model::{ContactIdentity, Content};
use inbox_core::ports::{Conversations, Directory, EventBus, Reports};
use inbox_core::query::{ConversationFilter, ConversationQuery, SortOrder};
use inbox_core::{InboundEvent, InboundMessage, Inbox};
use inbox_faults::scenario::{self, Settings, PHONE_NUMBER_ID};
use inbox_faults::{cluster_or_skip, GraphStandIn};
use inbox_store_postgres::{PgEventBus, PgStore};

fn list() -> ConversationQuery {
    ConversationQuery {
        filter: ConversationFilter::default(),
        sort: SortOrder::LatestActivity,
        after: None,
        limit: 20,
    }
}

fn customer_message(n: usize) -> InboundEvent {
    InboundEvent::Message(InboundMessage {
        phone_number_id: PHONE_NUMBER_ID.into(),
        external_id: format!("wamid.after.{n}"),
        from: ContactIdentity::wa(format!("3461111{n:04}")),
        profile_name: None,
        username: None,
        timestamp: Utc::now(),
        content: Content::text("are you there?"),
        context: Default::default(),
    })
}

/// One round of what a server does: a webhook (group commit), a list, a
/// read by id, the live snapshot.
async fn round(inbox: &Inbox, store: &PgStore, n: usize) -> Result<(), String> {
    let tenant = scenario::tenant();
    inbox
        .ingest(customer_message(n))
        .await
        .map_err(|e| format!("ingest: {e}"))?;
    store
        .list_conversations(&tenant, &list())
        .await
        .map_err(|e| format!("list: {e}"))?;
    store
        .tenant(&tenant)
        .await
        .map_err(|e| format!("tenant: {e}"))?;
    store
        .live_snapshot(&tenant, &inbox_core::metrics::LiveQuery::at(Utc::now()))
        .await
        .map_err(|e| format!("snapshot: {e}"))?;
    Ok(())
}

async fn rounds_until_one_succeeds(inbox: &Inbox, store: &PgStore, from: usize) -> Vec<String> {
    let mut failures = Vec::new();
    for n in from..from + 50 {
        match round(inbox, store, n).await {
            Ok(()) => break,
            Err(e) => failures.push(e),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    failures
}

/// After an immediate shutdown and a restart, every kind of operation
/// works again within the first rounds after the server answers (each
/// pool finds its dead connections by itself; none keeps failing until a
/// timeout), and the event bus delivers events again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_recovers_as_soon_as_the_database_is_back() {
    let Some(pg) = cluster_or_skip() else { return };
    let meta = GraphStandIn::start(Duration::ZERO).await.unwrap();
    let store = PgStore::connect(&pg.url(), 8).await.unwrap();
    store.migrate().await.unwrap();
    let inbox = scenario::inbox(store.clone(), &Settings::new(meta.url())).unwrap();
    scenario::queue_replies(&inbox, 3, 1).await.unwrap();
    let bus = PgEventBus::connect(store.clone()).await.unwrap();
    // Warm every pool and connection up.
    for n in 0..20 {
        round(&inbox, &store, n).await.unwrap();
    }
    // A restart nobody noticed (no request while the server was down),
    // then one during which requests failed.
    for (restart, busy) in [(1, false), (2, true)] {
        pg.stop_immediate().unwrap();
        if busy {
            assert!(round(&inbox, &store, 100).await.is_err(), "down");
        }
        pg.start().unwrap();
        let failures = rounds_until_one_succeeds(&inbox, &store, restart * 1000).await;
        eprintln!("restart {restart}: rounds failed after it: {failures:?}");
        assert!(
            failures.is_empty(),
            "restart {restart}: {} rounds failed after the server was back: {failures:?}",
            failures.len()
        );
        for k in 0..10 {
            round(&inbox, &store, restart * 1000 + 500 + k)
                .await
                .unwrap();
        }
    }
    // Live events flow again: the listener reconnected.
    let mut events = bus.subscribe(&scenario::tenant());
    let mut seen = false;
    for k in 0..50 {
        let event = inbox_core::Event::new(
            scenario::tenant(),
            Utc::now(),
            inbox_core::event::EventActor::System,
            inbox_core::event::EventKind::DeliveryInDoubt {
                message: inbox_core::MessageId::new(format!("probe-{k}")).unwrap(),
            },
        );
        let _ = bus.publish(&[event]).await;
        let next = tokio::time::timeout(Duration::from_millis(200), events.next()).await;
        if let Ok(Some(inbox_core::ports::BusItem::Event(e))) = next {
            if matches!(&e.kind, inbox_core::EventKind::DeliveryInDoubt { .. }) {
                seen = true;
                break;
            }
        }
    }
    assert!(seen, "events are delivered after the restart");
}
