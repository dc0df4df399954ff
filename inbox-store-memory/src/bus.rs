//! The in-process [`EventBus`].

use async_trait::async_trait;
use futures_util::stream;
use tokio::sync::broadcast;

use inbox_core::error::Result;
use inbox_core::event::Event;
use inbox_core::ids::TenantId;
use inbox_core::ports::{BusItem, EventBus, EventStream};

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
    sender: broadcast::Sender<Event>,
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
            let _ = self.sender.send(e.clone());
        }
        Ok(())
    }

    fn subscribe(&self, tenant: &TenantId) -> EventStream {
        self.stream(Some(tenant.clone()))
    }

    fn subscribe_all(&self) -> EventStream {
        self.stream(None)
    }
}

impl MemoryEventBus {
    /// The events of `tenant` (of every tenant: `None`) from now on.
    fn stream(&self, tenant: Option<TenantId>) -> EventStream {
        let rx = self.sender.subscribe();
        Box::pin(stream::unfold(
            (rx, tenant),
            |(mut rx, tenant)| async move {
                loop {
                    match rx.recv().await {
                        Ok(e) if tenant.as_ref().is_none_or(|t| *t == e.tenant) => {
                            return Some((BusItem::Event(Box::new(e)), (rx, tenant)))
                        }
                        Ok(_) => continue,
                        Err(broadcast::error::RecvError::Lagged(n)) => {
                            return Some((BusItem::Lagged(n), (rx, tenant)))
                        }
                        Err(broadcast::error::RecvError::Closed) => return None,
                    }
                }
            },
        ))
    }
}
