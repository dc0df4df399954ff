use async_trait::async_trait;
use std::sync::Mutex;

use crate::error::Result;
use crate::event::Event;
use crate::ids::TenantId;
use crate::ports::{EventBus, EventStream};

/// An [`EventBus`] that records what is published. Its subscriptions end at
/// once (it delivers nothing live); use a real bus (such as
/// `inbox-store-memory`'s) to test live delivery.
#[derive(Debug, Default)]
pub struct RecordingBus {
    published: Mutex<Vec<Event>>,
}

impl RecordingBus {
    /// An empty recorder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Everything published so far.
    pub fn published(&self) -> Vec<Event> {
        self.published
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

#[async_trait]
impl EventBus for RecordingBus {
    async fn publish(&self, events: &[Event]) -> Result<()> {
        self.published
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(events);
        Ok(())
    }

    fn subscribe_to(&self, _tenant: Option<&TenantId>) -> EventStream {
        Box::pin(futures_util::stream::empty())
    }
}
