//! Steps the memory store's integration tests share: a fixture on a fresh
//! memory store, and the few calls nearly every test makes (a customer
//! writes, an agent changes the status, the clock ticks), each unwrapped.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::{DateTime, Utc};
use std::sync::Arc;

use inbox_core::model::{Conversation, ConversationStatus};
use inbox_core::ports::Store;
use inbox_core::settings::TenantSettings;
use inbox_core::testing::Fixture;
use inbox_core::{ConversationId, Reply, TickReport};
use inbox_store_memory::MemoryStore;

/// A fixture on a fresh memory store with the default configuration.
pub async fn fixture() -> Fixture {
    Fixture::new(Arc::new(MemoryStore::new()) as Arc<dyn Store>)
        .await
        .unwrap()
}

/// A fixture on a fresh memory store whose tenant `acme` has `settings`.
pub async fn fixture_with(settings: TenantSettings) -> Fixture {
    Fixture::with_settings(Arc::new(MemoryStore::new()) as Arc<dyn Store>, settings)
        .await
        .unwrap()
}

/// The customer `wa_id` writes `text` (WhatsApp message id `wamid`) to the
/// fixture's number 1001; returns their conversation.
pub async fn says(f: &Fixture, wamid: &str, wa_id: &str, text: &str) -> ConversationId {
    f.customer_says("1001", wamid, wa_id, text).await.unwrap().0
}

/// `agent` replies `text` (idempotency key `key`) on version `v`.
pub async fn reply(
    f: &Fixture,
    agent: &'static str,
    c: &ConversationId,
    v: u64,
    text: &str,
    key: &str,
) {
    f.inbox
        .reply(&f.actor(agent), c, v, Reply::text(text, key))
        .await
        .unwrap();
}

/// `agent` sets the status of `c`, on its current version.
pub async fn set_status(
    f: &Fixture,
    agent: &'static str,
    c: &ConversationId,
    status: ConversationStatus,
) {
    let v = f.version(c).await.unwrap();
    f.inbox
        .set_status(&f.actor(agent), c, v, status)
        .await
        .unwrap();
}

/// The clock ticks at `at` (up to 100 timers).
pub async fn tick(f: &Fixture, at: DateTime<Utc>) -> TickReport {
    f.inbox.tick(at, 100).await.unwrap()
}

/// The stored conversation `c` of the fixture's tenant.
pub async fn conversation(f: &Fixture, c: &ConversationId) -> Conversation {
    f.store.conversation(&f.acme(), c).await.unwrap()
}
