//! The in-process [`EventBus`].

use async_trait::async_trait;
use futures_util::StreamExt;
use std::sync::Arc;
use tokio::sync::broadcast;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;
use tokio_stream::wrappers::BroadcastStream;

use inbox_core::error::Result;
use inbox_core::event::Event;
use inbox_core::ids::TenantId;
use inbox_core::ports::{for_tenant, BusItem, EventBus, EventStream};

/// An in-process [`EventBus`] on a Tokio broadcast channel.
///
/// Subscribers see their tenant's events in publish order. A subscriber that
/// falls more than `capacity` events behind receives [`BusItem::Lagged`] and
/// can catch up from the store by sequence number. Publishing never blocks.
///
/// ```
/// use inbox_store_memory::MemoryEventBus;
/// let bus = MemoryEventBus::new(1024);
/// # let _ = bus;
/// ```
#[derive(Debug, Clone)]
pub struct MemoryEventBus {
    sender: broadcast::Sender<Arc<Event>>,
}

impl Default for MemoryEventBus {
    fn default() -> Self {
        Self::new(4096)
    }
}

impl MemoryEventBus {
    /// A bus buffering up to `capacity` events per slow subscriber (at
    /// least 1).
    pub fn new(capacity: usize) -> Self {
        let (sender, _) = broadcast::channel(capacity.max(1));
        Self { sender }
    }
}

#[async_trait]
impl EventBus for MemoryEventBus {
    async fn publish(&self, events: &[Event]) -> Result<()> {
        // No subscribers is not an error: the events are in the store.
        // Nor is it a reason to copy them.
        if self.sender.receiver_count() == 0 {
            return Ok(());
        }
        for e in events {
            let _ = self.sender.send(Arc::new(e.clone()));
        }
        Ok(())
    }

    fn subscribe_to(&self, tenant: Option<&TenantId>) -> EventStream {
        let all = BroadcastStream::new(self.sender.subscribe()).map(|item| match item {
            Ok(e) => BusItem::Event(e),
            Err(BroadcastStreamRecvError::Lagged(n)) => BusItem::Lagged(n),
        });
        for_tenant(all, tenant.cloned())
    }
}
