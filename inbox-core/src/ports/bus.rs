use async_trait::async_trait;
use futures_core::Stream;
use futures_util::StreamExt;
use std::pin::Pin;
use std::sync::Arc;

use crate::error::Result;
use crate::event::Event;
use crate::ids::TenantId;

/// What a subscriber receives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BusItem {
    /// An event, shared by every subscriber that receives it (a bus
    /// hands each subscriber the same allocation, not a copy).
    Event(Arc<Event>),
    /// The subscriber fell behind and `n` events were dropped (`0`: an
    /// unknown number, e.g. while the bus was reconnecting); catch up with
    /// [`Conversations::events_since`](crate::ports::Conversations::events_since).
    Lagged(u64),
}

/// A live stream of one tenant's events.
pub type EventStream = Pin<Box<dyn Stream<Item = BusItem> + Send>>;

/// Publish/subscribe of domain events, for live updates to agents and for
/// integrations.
///
/// # Contract
///
/// - `subscribe(tenant)` yields only that tenant's events, never another's;
///   `subscribe_all()` yields every tenant's (for the instance's own
///   machinery, such as following settings changes; never hand it to an
///   agent).
/// - Events published after a subscription is created are delivered to it in
///   publish order, unless the subscriber lags or the bus loses events (a
///   reconnect), in which case it receives [`BusItem::Lagged`] and can
///   recover the stored events by sequence number: a dropped event is never
///   dropped silently.
/// - The bus is a live channel, not the record: committed events are durable
///   in the [`Store`](crate::ports::Store); the bus may drop them for slow
///   subscribers or across restarts. Live-only events (sequence `0`, such as
///   collision notices) are never stored.
/// - `publish` does not block on slow subscribers.
#[async_trait]
pub trait EventBus: Send + Sync {
    /// Publishes events (in order).
    async fn publish(&self, events: &[Event]) -> Result<()>;

    /// Subscribes from now on to the events of `tenant`, or of every
    /// tenant when `None` (what an implementation provides; callers use
    /// the two methods below).
    fn subscribe_to(&self, tenant: Option<&TenantId>) -> EventStream;

    /// Subscribes to a tenant's events from now on.
    fn subscribe(&self, tenant: &TenantId) -> EventStream {
        self.subscribe_to(Some(tenant))
    }

    /// Subscribes to every tenant's events from now on.
    fn subscribe_all(&self) -> EventStream {
        self.subscribe_to(None)
    }
}

/// For bus implementations: the items of `all` (every event the bus
/// carries, and its lag notices) that a subscriber to `tenant` gets (every
/// tenant's: `None`), as [`EventBus::subscribe`] and
/// [`EventBus::subscribe_all`] return them.
///
/// ```
/// use futures_util::{stream, StreamExt};
/// use inbox_core::ports::{for_tenant, BusItem};
/// # futures_util::FutureExt::now_or_never(async {
/// let lag = stream::iter([BusItem::Lagged(3)]);
/// let mine = for_tenant(lag, Some(inbox_core::TenantId::new("acme").unwrap()));
/// assert_eq!(mine.collect::<Vec<_>>().await, [BusItem::Lagged(3)]);
/// # });
/// ```
pub fn for_tenant(
    all: impl Stream<Item = BusItem> + Send + 'static,
    tenant: Option<TenantId>,
) -> EventStream {
    Box::pin(all.filter(move |item| {
        std::future::ready(match (item, &tenant) {
            (BusItem::Event(e), Some(t)) => e.tenant == *t,
            _ => true,
        })
    }))
}
