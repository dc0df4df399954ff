//! Live events: what the Inbox commits reaches the memory bus's subscribers
//! of the right tenant, in order.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use futures::StreamExt;
use std::sync::Arc;
use std::time::Duration;

use inbox_core::ports::{BusItem, EventBus, ManualClock, SequentialIds};
use inbox_core::testing::{Fixture, RecordingTransport};
use inbox_core::{EventKind, Inbox, InboxConfig, Ports, TenantId};
use inbox_store_memory::{MemoryEventBus, MemoryStore};

#[tokio::test]
async fn inbox_changes_are_published_live_per_tenant() {
    let bus = Arc::new(MemoryEventBus::new(64));
    let store = Arc::new(MemoryStore::new());
    // Provision through a fixture, then run an inbox on the real bus.
    let f = Fixture::new(store.clone()).await.unwrap();
    let inbox = Inbox::new(
        Ports {
            store,
            transport: Arc::new(RecordingTransport::new()),
            bus: bus.clone(),
            clock: Arc::new(ManualClock::new(Fixture::start())),
            ids: Arc::new(SequentialIds::starting_at(1000)),
        },
        InboxConfig::default(),
    );
    let mut acme = inbox.ports().bus.subscribe(&TenantId::new("acme").unwrap());
    let mut globex = bus.subscribe(&TenantId::new("globex").unwrap());

    inbox
        .ingest(f.text("1001", "w1", "34600000001", "hi"))
        .await
        .unwrap();
    let mut kinds = Vec::new();
    let mut seqs = Vec::new();
    while kinds.len() < 3 {
        match tokio::time::timeout(Duration::from_secs(5), acme.next())
            .await
            .unwrap()
        {
            Some(BusItem::Event(e)) => {
                kinds.push(e.kind.name());
                seqs.push(e.seq);
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(
        kinds,
        ["contact_created", "conversation_opened", "message_received"]
    );
    assert_eq!(seqs, [1, 2, 3]);
    // A refused claim publishes a live-only collision notice.
    let conv = inbox
        .list(
            &f.actor("sam"),
            &inbox_core::ViewQuery::new(inbox_core::View::All),
        )
        .await
        .unwrap()
        .items
        .remove(0);
    inbox.claim(&f.actor("ana"), &conv.id, 1).await.unwrap();
    inbox.claim(&f.actor("ben"), &conv.id, 1).await.unwrap_err();
    let mut saw_collision = false;
    for _ in 0..2 {
        if let Some(BusItem::Event(e)) = tokio::time::timeout(Duration::from_secs(5), acme.next())
            .await
            .unwrap()
        {
            if let EventKind::CollisionPrevented { agent, .. } = &e.kind {
                assert_eq!(agent.as_str(), "ben");
                assert_eq!(e.seq, 0, "live only");
                saw_collision = true;
            }
        }
    }
    assert!(saw_collision);
    // Nothing of acme reached globex.
    assert!(
        tokio::time::timeout(Duration::from_millis(100), globex.next())
            .await
            .is_err()
    );
}
