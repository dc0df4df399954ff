//! The PostgreSQL [`EventBus`]: LISTEN/NOTIFY across application instances.

use async_trait::async_trait;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use sqlx::postgres::PgListener;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;
use tokio_stream::wrappers::BroadcastStream;

use inbox_core::error::{Error, Result};
use inbox_core::event::Event;
use inbox_core::ids::TenantId;
use inbox_core::ports::{for_tenant, BusItem, Conversations, EventBus, EventStream};

use crate::error::{db, shared};
use crate::store::PgStore;

/// The NOTIFY channel.
pub const CHANNEL: &str = "inbox_events";

/// The largest notification payload sent: PostgreSQL refuses payloads of
/// 8000 bytes or more; the rest is margin.
const MAX_PAYLOAD: usize = 7_900;

/// What travels in a notification.
#[derive(Serialize, Deserialize)]
#[serde(tag = "k")]
enum Note {
    /// Events (stored or live-only), inline and in order: what fits.
    #[serde(rename = "e")]
    Inline { e: Vec<Event> },
    /// Stored events `from..=to` of tenant `t`, too large to travel
    /// inline: subscribers' listeners read them from the events table.
    #[serde(rename = "s")]
    Stored { t: String, from: u64, to: u64 },
    /// A live-only event inline (as earlier versions send them).
    #[serde(rename = "l")]
    Live { e: Box<Event> },
}

/// Most publishes whose notifications one statement sends.
const MAX_PUBLISHES: usize = 256;

/// The empty inline note; an inline note is this with the events' JSON,
/// separated by commas, between the brackets.
const INLINE_ENVELOPE: &str = r#"{"k":"e","e":[]}"#;

/// An [`EventBus`] over PostgreSQL LISTEN/NOTIFY, so every application
/// instance sharing the database sees the same live stream.
///
/// `publish` sends the events themselves, as many to a notification as
/// fit in PostgreSQL's payload limit (8000 bytes); each instance's listener
/// hands them to its local subscribers in publish order, reading nothing.
/// A stored event too large for a notification travels as its sequence
/// number, and listeners read it back from the events table (a live-only
/// event that large is dropped, logged). A listener that loses its
/// connection listens again on a new one as soon as the database answers,
/// and then tells every subscriber it may have missed events
/// ([`BusItem::Lagged`] with a count of 0): they are in the table, to catch
/// up with [`Conversations::events_since`](inbox_core::ports::Conversations::events_since).
///
/// Publishes are sent together: one notifier task sends the notifications
/// of every publish waiting while the previous statement ran, in one
/// statement (one transaction, one round trip), in publish order, and
/// each `publish` returns once its own are sent (or with the statement's
/// error). Under load that is one transaction for many webhooks instead
/// of one each. PostgreSQL delivers identical payloads sent in one
/// transaction once: only two byte-identical live-only events published
/// at the same moment can be that, and then one of them arrives.
#[derive(Debug, Clone)]
pub struct PgEventBus {
    store: PgStore,
    sender: broadcast::Sender<Item>,
    /// Notifications the listener read back from the events table.
    read_backs: Arc<AtomicU64>,
    /// The notifier task's queue.
    notifier: mpsc::UnboundedSender<Publish>,
    /// Statements the notifier ran.
    statements: Arc<AtomicU64>,
}

/// One publish's notifications, and who waits for them to be sent.
#[derive(Debug)]
struct Publish {
    payloads: Vec<String>,
    sent: oneshot::Sender<Result<()>>,
}

/// What the listener hands its local subscribers.
#[derive(Debug, Clone)]
enum Item {
    /// An event, in order (one allocation shared by every subscriber).
    Event(Arc<Event>),
    /// The listener lost its connection and listens again: notifications
    /// sent meanwhile never reached it, so every subscriber may have
    /// missed events ([`BusItem::Lagged`] with a count of 0: unknown).
    Gap,
}

/// Packs events into notification payloads, in order.
#[derive(Default)]
struct Packer {
    payloads: Vec<String>,
    /// The JSON of the events of the inline note being filled.
    inline: Vec<String>,
    /// The size of the inline note being filled.
    size: usize,
    /// A range of stored events too large to travel, being extended.
    stored: Option<(TenantId, u64, u64)>,
}

impl Packer {
    /// The payloads that carry `events`, in order.
    fn pack(events: &[Event]) -> Result<Vec<String>> {
        let mut p = Packer::default();
        for e in events {
            let json = serde_json::to_string(e).map_err(encoding)?;
            if INLINE_ENVELOPE.len() + json.len() <= MAX_PAYLOAD {
                p.inline(json)?;
            } else if e.seq == 0 {
                tracing::warn!(
                    bytes = json.len(),
                    "event bus: live event too large to notify; dropped"
                );
            } else {
                p.too_large(e)?;
            }
        }
        p.flush()?;
        Ok(p.payloads)
    }

    fn inline(&mut self, json: String) -> Result<()> {
        self.flush_stored()?;
        if !self.inline.is_empty() && self.size + 1 + json.len() > MAX_PAYLOAD {
            self.flush_inline();
        }
        self.size = match self.inline.is_empty() {
            true => INLINE_ENVELOPE.len() + json.len(),
            false => self.size + 1 + json.len(),
        };
        self.inline.push(json);
        Ok(())
    }

    fn too_large(&mut self, e: &Event) -> Result<()> {
        self.flush_inline();
        match &mut self.stored {
            Some((t, _, to)) if *t == e.tenant && *to + 1 == e.seq => *to = e.seq,
            _ => {
                self.flush_stored()?;
                self.stored = Some((e.tenant.clone(), e.seq, e.seq));
            }
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        self.flush_inline();
        self.flush_stored()
    }

    fn flush_inline(&mut self) {
        if !self.inline.is_empty() {
            self.payloads
                .push(format!(r#"{{"k":"e","e":[{}]}}"#, self.inline.join(",")));
            self.inline.clear();
            self.size = 0;
        }
    }

    fn flush_stored(&mut self) -> Result<()> {
        if let Some((t, from, to)) = self.stored.take() {
            let note = Note::Stored {
                t: t.to_string(),
                from,
                to,
            };
            self.payloads
                .push(serde_json::to_string(&note).map_err(encoding)?);
        }
        Ok(())
    }
}

fn encoding(e: serde_json::Error) -> Error {
    Error::Backend {
        message: format!("event bus: {e}"),
        source: None,
    }
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
        let (notifier, queue) = mpsc::unbounded_channel();
        let statements = Arc::new(AtomicU64::new(0));
        tokio::spawn(notify_in_batches(
            store.clone(),
            queue,
            Arc::clone(&statements),
        ));
        let bus = Self {
            store,
            sender,
            read_backs: Arc::default(),
            notifier,
            statements,
        };
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

    /// How many statements this bus has sent its publishes' notifications
    /// with (publishes waiting at once share one).
    pub fn notify_statements(&self) -> u64 {
        self.statements.load(Ordering::Relaxed)
    }

    /// How many notifications this bus's listener has read back from the
    /// events table (stored events too large to travel in a notification).
    pub fn read_backs(&self) -> u64 {
        self.read_backs.load(Ordering::Relaxed)
    }

    async fn deliver(&self, payload: &str) {
        match serde_json::from_str::<Note>(payload) {
            Ok(Note::Inline { e }) => {
                for e in e {
                    let _ = self.sender.send(Item::Event(Arc::new(e)));
                }
            }
            Ok(Note::Live { e }) => {
                let _ = self.sender.send(Item::Event(Arc::from(e)));
            }
            Ok(Note::Stored { t, from, to }) => {
                self.read_backs.fetch_add(1, Ordering::Relaxed);
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
                            let _ = self.sender.send(Item::Event(Arc::new(e)));
                        }
                    }
                    // Never dropped silently: subscribers catch up.
                    Err(e) => {
                        tracing::warn!(error = %e, "event bus: reading notified events");
                        let _ = self.sender.send(Item::Gap);
                    }
                }
            }
            // What it carried is lost here: subscribers catch up.
            Err(e) => {
                tracing::warn!(error = %e, "event bus: unreadable notification");
                let _ = self.sender.send(Item::Gap);
            }
        }
    }
}

/// The notifier task: sends the notifications of every publish waiting
/// (up to [`MAX_PUBLISHES`]) in one statement, in order, then tells each
/// publish how it went; ends when every bus is gone.
async fn notify_in_batches(
    store: PgStore,
    mut queue: mpsc::UnboundedReceiver<Publish>,
    statements: Arc<AtomicU64>,
) {
    let mut batch = Vec::new();
    while queue.recv_many(&mut batch, MAX_PUBLISHES).await > 0 {
        statements.fetch_add(1, Ordering::Relaxed);
        let payloads: Vec<&str> = batch
            .iter()
            .flat_map(|p| p.payloads.iter().map(String::as_str))
            .collect();
        // The function scan yields the array in order, and each row's
        // `pg_notify` runs as it comes: the notifications keep that order.
        let sent = sqlx::query("SELECT pg_notify($1, p) FROM UNNEST($2::text[]) AS u(p)")
            .bind(CHANNEL)
            .bind(payloads)
            .execute(store.pool())
            .await
            .map(drop)
            .map_err(|e| db("event bus: notify", e));
        for p in batch.drain(..) {
            let _ = p.sent.send(sent.as_ref().copied().map_err(shared));
        }
    }
}

#[async_trait]
impl EventBus for PgEventBus {
    async fn publish(&self, events: &[Event]) -> Result<()> {
        let payloads = Packer::pack(events)?;
        if payloads.is_empty() {
            return Ok(());
        }
        let (sent, done) = oneshot::channel();
        let gone = || Error::unavailable("event bus: the notifier has stopped");
        self.notifier
            .send(Publish { payloads, sent })
            .map_err(|_| gone())?;
        done.await.map_err(|_| gone())?
    }

    // A gap in the notifications is a lag of unknown size.
    fn subscribe_to(&self, tenant: Option<&TenantId>) -> EventStream {
        let all = BroadcastStream::new(self.sender.subscribe()).map(|item| match item {
            Ok(Item::Event(e)) => BusItem::Event(e),
            Ok(Item::Gap) => BusItem::Lagged(0),
            Err(BroadcastStreamRecvError::Lagged(n)) => BusItem::Lagged(n),
        });
        for_tenant(all, tenant.cloned())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]

    use super::*;
    use chrono::TimeZone;
    use inbox_core::event::{EventActor, EventKind};

    fn event(seq: u64, bytes: usize) -> Event {
        let mut e = Event::new(
            TenantId::new("acme").unwrap(),
            chrono::Utc.timestamp_opt(0, 0).unwrap(),
            EventActor::System,
            EventKind::Integration {
                name: "x".repeat(bytes),
                data: Default::default(),
            },
        );
        e.seq = seq;
        e
    }

    fn notes(events: &[Event]) -> Vec<Note> {
        let payloads = Packer::pack(events).unwrap();
        assert!(
            payloads.iter().all(|p| p.len() <= MAX_PAYLOAD),
            "{payloads:?}"
        );
        payloads
            .iter()
            .map(|p| serde_json::from_str(p).unwrap())
            .collect()
    }

    #[test]
    fn events_travel_inline_as_many_to_a_notification_as_fit() {
        let small: Vec<Event> = (1..=3).map(|s| event(s, 10)).collect();
        match notes(&small).as_slice() {
            [Note::Inline { e }] => assert_eq!(e, &small),
            _ => panic!("one inline note"),
        }
        // 3 KB each: two to a notification, in order.
        let big: Vec<Event> = (1..=5).map(|s| event(s, 3_000)).collect();
        let mut seen = Vec::new();
        for n in notes(&big) {
            let Note::Inline { e } = n else {
                panic!("inline")
            };
            assert!(e.len() <= 2);
            seen.extend(e);
        }
        assert_eq!(seen, big);
    }

    #[test]
    fn events_too_large_travel_as_sequence_numbers() {
        let events = [
            event(1, 10),
            event(2, 9_000),
            event(3, 9_000),
            event(0, 9_000), // live only: dropped
            event(4, 10),
            event(5, 9_000),
        ];
        let notes = notes(&events);
        let shape: Vec<String> = notes
            .iter()
            .map(|n| match n {
                Note::Inline { e } => {
                    format!("inline {:?}", e.iter().map(|e| e.seq).collect::<Vec<_>>())
                }
                Note::Stored { t, from, to } => format!("{t} {from}..={to}"),
                Note::Live { .. } => "live".into(),
            })
            .collect();
        assert_eq!(
            shape,
            ["inline [1]", "acme 2..=3", "inline [4]", "acme 5..=5"]
        );
    }
}
