//! The PostgreSQL [`EventBus`]: LISTEN/NOTIFY across application instances.

use async_trait::async_trait;
use futures_util::stream;
use serde::{Deserialize, Serialize};
use sqlx::postgres::PgListener;
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::sync::broadcast;

use inbox_core::error::{Error, Result};
use inbox_core::event::Event;
use inbox_core::ids::TenantId;
use inbox_core::ports::{BusItem, Conversations, EventBus, EventStream};

use crate::error::db;
use crate::store::PgStore;

/// The NOTIFY channel.
pub const CHANNEL: &str = "inbox_events";

/// What travels in a notification: ids of stored events (subscribers read
/// them from the events table), or a live-only event inline.
#[derive(Serialize, Deserialize)]
#[serde(tag = "k")]
enum Note {
    /// Stored events `from..=to` of tenant `t`.
    #[serde(rename = "s")]
    Stored { t: String, from: u64, to: u64 },
    /// A live-only event (sequence 0), inline.
    #[serde(rename = "l")]
    Live { e: Box<Event> },
}

/// An [`EventBus`] over PostgreSQL LISTEN/NOTIFY, so every application
/// instance sharing the database sees the same live stream.
///
/// `publish` sends the ids of committed events; each instance's listener
/// reads them from the events table and hands them to its local
/// subscribers in sequence order. Live-only events (collision notices) travel
/// inline. A listener that loses its connection listens again on a new one
/// as soon as the database answers, and then tells every subscriber it may
/// have missed events ([`BusItem::Lagged`] with a count of 0): they are in
/// the table, to catch up with
/// [`Conversations::events_since`](inbox_core::ports::Conversations::events_since).
#[derive(Debug, Clone)]
pub struct PgEventBus {
    store: PgStore,
    sender: broadcast::Sender<Item>,
}

/// What the listener hands its local subscribers.
#[derive(Debug, Clone)]
enum Item {
    /// An event, in order.
    Event(Box<Event>),
    /// The listener lost its connection and listens again: notifications
    /// sent meanwhile never reached it, so every subscriber may have
    /// missed events ([`BusItem::Lagged`] with a count of 0: unknown).
    Gap,
}

impl PgEventBus {
    /// Starts listening (spawns a task on the current Tokio runtime).
    pub async fn connect(store: PgStore) -> Result<Self> {
        let mut listener = PgListener::connect_with(store.pool())
            .await
            .map_err(|e| db("event bus: listen", e))?;
        listener
            .listen(CHANNEL)
            .await
            .map_err(|e| db("event bus: listen", e))?;
        let (sender, _) = broadcast::channel(4096);
        let bus = Self { store, sender };
        let task_bus = bus.clone();
        tokio::spawn(async move { task_bus.run(listener).await });
        Ok(bus)
    }

    async fn run(self, mut listener: PgListener) {
        loop {
            match listener.try_recv().await {
                Ok(Some(n)) => self.deliver(n.payload()).await,
                // The connection was lost (`None`) or broke: listen again
                // on a new one, then tell every subscriber it may have
                // missed events (they are in the table: a subscriber
                // catches up from there).
                lost => {
                    if let Err(e) = lost {
                        tracing::warn!(error = %e, "event bus: listener error");
                    }
                    tracing::warn!("event bus: listener lost its connection; listening again");
                    match self.listen_again().await {
                        Some(again) => listener = again,
                        None => return,
                    }
                    let _ = self.sender.send(Item::Gap);
                }
            }
            if self.store.pool().is_closed() {
                return;
            }
        }
    }

    /// A new listener, once the database answers again (`None` once the
    /// store is closed).
    async fn listen_again(&self) -> Option<PgListener> {
        let mut wait = Duration::from_millis(50);
        loop {
            if self.store.pool().is_closed() {
                return None;
            }
            match PgListener::connect_with(self.store.pool()).await {
                Ok(mut listener) => match listener.listen(CHANNEL).await {
                    Ok(()) => return Some(listener),
                    Err(e) => tracing::warn!(error = %e, "event bus: listen"),
                },
                Err(e) => tracing::debug!(error = %e, "event bus: reconnecting"),
            }
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(Duration::from_secs(1));
        }
    }

    async fn deliver(&self, payload: &str) {
        match serde_json::from_str::<Note>(payload) {
            Ok(Note::Live { e }) => {
                let _ = self.sender.send(Item::Event(e));
            }
            Ok(Note::Stored { t, from, to }) => {
                let Ok(tenant) = TenantId::new(t) else {
                    tracing::warn!("event bus: a notification names an invalid tenant");
                    return;
                };
                let limit = u32::try_from(to.saturating_sub(from) + 1).unwrap_or(u32::MAX);
                match self
                    .store
                    .events_since(&tenant, from.saturating_sub(1), limit)
                    .await
                {
                    Ok(events) => {
                        for e in events {
                            let _ = self.sender.send(Item::Event(Box::new(e)));
                        }
                    }
                    // Never dropped silently: subscribers catch up.
                    Err(e) => {
                        tracing::warn!(error = %e, "event bus: reading notified events");
                        let _ = self.sender.send(Item::Gap);
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "event bus: unreadable notification"),
        }
    }

    async fn notify(&self, note: &Note) -> Result<()> {
        let payload = serde_json::to_string(note).map_err(|e| Error::Backend {
            message: format!("event bus: {e}"),
            source: None,
        })?;
        if payload.len() > 7_900 {
            tracing::warn!(
                bytes = payload.len(),
                "event bus: live event too large to notify; dropped"
            );
            return Ok(());
        }
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(CHANNEL)
            .bind(payload)
            .execute(self.store.pool())
            .await
            .map_err(|e| db("event bus: notify", e))?;
        Ok(())
    }
}

#[async_trait]
impl EventBus for PgEventBus {
    async fn publish(&self, events: &[Event]) -> Result<()> {
        // Contiguous ranges of stored events per tenant, one notification each.
        let mut ranges: BTreeMap<String, Vec<(u64, u64)>> = BTreeMap::new();
        for e in events {
            if e.seq == 0 {
                self.notify(&Note::Live {
                    e: Box::new(e.clone()),
                })
                .await?;
                continue;
            }
            let r = ranges.entry(e.tenant.to_string()).or_default();
            match r.last_mut() {
                Some((_, to)) if *to + 1 == e.seq => *to = e.seq,
                _ => r.push((e.seq, e.seq)),
            }
        }
        for (t, rs) in ranges {
            for (from, to) in rs {
                self.notify(&Note::Stored {
                    t: t.clone(),
                    from,
                    to,
                })
                .await?;
            }
        }
        Ok(())
    }

    fn subscribe(&self, tenant: &TenantId) -> EventStream {
        let rx = self.sender.subscribe();
        let tenant = tenant.clone();
        Box::pin(stream::unfold(
            (rx, tenant),
            |(mut rx, tenant)| async move {
                loop {
                    match rx.recv().await {
                        Ok(Item::Event(e)) if e.tenant == tenant => {
                            return Some((BusItem::Event(e), (rx, tenant)))
                        }
                        Ok(Item::Event(_)) => continue,
                        Ok(Item::Gap) => return Some((BusItem::Lagged(0), (rx, tenant))),
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
