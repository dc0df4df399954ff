//! Batched ingest reads: the lookups every webhook makes, gathered.
//!
//! Each webhook's message needs one read before it can be planned (is it a
//! duplicate, who is the contact, which conversation does it continue), and
//! each status one (which of our messages it reports on). At hundreds of
//! webhooks a second those single-row lookups cost more in round trips and
//! backend wake-ups than in work, so, as group commit does for writes,
//! lookups that arrive while another batch of them is running are answered
//! together by one multi-row query (`UNNEST … WITH ORDINALITY`). A lookup
//! that arrives when none is running goes out at once: batching adds no
//! wait to a quiet inbox.

use sqlx::postgres::PgRow;
use sqlx::types::Json;
use sqlx::Row;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot, Mutex};

use inbox_core::error::{Error, Result};
use inbox_core::ids::{ChannelId, MessageId, TenantId};
use inbox_core::model::{ContactIdentity, Message};
use inbox_core::ports::IngestContext;

use crate::error::{db, shared};
use crate::plans::{BatchPools, Held};

/// The SQL of a scalar subquery selecting `$col` of the message a status
/// report concerns (`PgStore::message_for_status`): the outbound message
/// with our id `u.ours` on channel `u.ch` of tenant `u.t`, else the one
/// with the provider's id `u.ext` there.
macro_rules! status_target {
    ($col:literal) => {
        concat!(
            "SELECT x.",
            $col,
            " FROM ( \
                SELECT ",
            $col,
            ", 0 AS pref FROM inbox_messages \
                 WHERE tenant_id = u.t AND message_id = u.ours AND channel_id = u.ch \
                   AND direction = 'outbound' \
                UNION ALL \
                SELECT ",
            $col,
            ", 1 AS pref FROM inbox_messages \
                 WHERE tenant_id = u.t AND channel_id = u.ch AND external_id = u.ext) x \
             ORDER BY pref LIMIT 1"
        )
    };
}
pub(crate) use status_target;

/// Takes the next batch off a shared queue: waits for one item, then takes
/// what else is already queued, up to `max`. `None` once every sender is
/// gone.
pub(crate) async fn next_batch<T>(
    rx: &Mutex<mpsc::UnboundedReceiver<T>>,
    max: usize,
) -> Option<Vec<T>> {
    let mut rx = rx.lock().await;
    let first = rx.recv().await?;
    let mut items = vec![first];
    while items.len() < max.max(1) {
        match rx.try_recv() {
            Ok(item) => items.push(item),
            Err(_) => break,
        }
    }
    Some(items)
}

/// One webhook message's lookup.
pub(crate) struct ContextKey {
    pub tenant: TenantId,
    pub channel: ChannelId,
    pub identity: ContactIdentity,
    pub external_id: String,
}

/// One status's lookup.
pub(crate) struct StatusKey {
    pub tenant: TenantId,
    pub channel: ChannelId,
    pub our_id: Option<MessageId>,
    pub external_id: String,
}

enum Lookup {
    Context(ContextKey, oneshot::Sender<Result<IngestContext>>),
    Status(StatusKey, oneshot::Sender<Result<Option<Message>>>),
}

/// Counters of batched reads, for monitoring and benchmarks.
#[derive(Debug, Default)]
pub struct ReadBatchStats {
    /// Queries sent.
    pub queries: AtomicU64,
    /// Lookups answered by them.
    pub lookups: AtomicU64,
}

impl ReadBatchStats {
    /// (queries, lookups).
    pub fn snapshot(&self) -> (u64, u64) {
        (
            self.queries.load(Ordering::Relaxed),
            self.lookups.load(Ordering::Relaxed),
        )
    }
}

/// The handle callers queue their lookups on.
#[derive(Debug, Clone)]
pub(crate) struct Readers {
    tx: mpsc::UnboundedSender<Lookup>,
}

fn stopped() -> Error {
    Error::unavailable("PostgreSQL: the reader stopped")
}

impl Readers {
    /// Spawns `tasks` reader tasks on the current runtime, each answering
    /// up to `max_batch` lookups per query.
    pub(crate) fn spawn(
        pools: BatchPools,
        tasks: usize,
        max_batch: usize,
        stats: Arc<ReadBatchStats>,
    ) -> Self {
        let (tx, rx) = mpsc::unbounded_channel::<Lookup>();
        let rx = Arc::new(Mutex::new(rx));
        for _ in 0..tasks.max(1) {
            let (rx, pools, stats) = (rx.clone(), pools.clone(), stats.clone());
            tokio::spawn(async move {
                let mut held = Held::default();
                let mut closing = pools.closing();
                while let Some(batch) = held.next_batch(&mut closing, &rx, max_batch).await {
                    let mut contexts = Vec::new();
                    let mut statuses = Vec::new();
                    for item in batch {
                        match item {
                            Lookup::Context(k, r) => contexts.push((k, r)),
                            Lookup::Status(k, r) => statuses.push((k, r)),
                        }
                    }
                    if !contexts.is_empty() {
                        stats.queries.fetch_add(1, Ordering::Relaxed);
                        stats
                            .lookups
                            .fetch_add(contexts.len() as u64, Ordering::Relaxed);
                        let (keys, replies): (Vec<_>, Vec<_>) = contexts.into_iter().unzip();
                        let result = match held.get(&pools).await {
                            Ok(conn) => contexts_query(conn, keys).await,
                            Err(e) => Err(db("ingest lookup", e)),
                        };
                        answer(&mut held, replies, result);
                    }
                    if !statuses.is_empty() {
                        stats.queries.fetch_add(1, Ordering::Relaxed);
                        stats
                            .lookups
                            .fetch_add(statuses.len() as u64, Ordering::Relaxed);
                        let (keys, replies): (Vec<_>, Vec<_>) = statuses.into_iter().unzip();
                        let result = match held.get(&pools).await {
                            Ok(conn) => statuses_query(conn, keys).await,
                            Err(e) => Err(db("status lookup", e)),
                        };
                        answer(&mut held, replies, result);
                    }
                }
            });
        }
        Self { tx }
    }

    /// [`Conversations::ingest_context`](inbox_core::ports::Conversations::ingest_context),
    /// batched.
    pub(crate) async fn context(&self, key: ContextKey) -> Result<IngestContext> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Lookup::Context(key, reply))
            .map_err(|_| stopped())?;
        answer.await.unwrap_or_else(|_| Err(stopped()))
    }

    /// `PgStore::message_for_status`,
    /// batched.
    pub(crate) async fn status(&self, key: StatusKey) -> Result<Option<Message>> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Lookup::Status(key, reply))
            .map_err(|_| stopped())?;
        answer.await.unwrap_or_else(|_| Err(stopped()))
    }
}

/// Sends each lookup of a batch its answer from the batch's one query; a
/// failed query fails every lookup of the batch with the same (typed)
/// error, and its connection goes back to the pool (which checks it).
fn answer<V>(
    held: &mut Held,
    replies: Vec<oneshot::Sender<Result<V>>>,
    result: Result<Vec<Result<V>>>,
) {
    // The queries answer every key (`in_order`); a reply left without an
    // answer would reach its caller as "the reader stopped".
    match result {
        Ok(values) => {
            for (reply, v) in replies.into_iter().zip(values) {
                let _ = reply.send(v);
            }
        }
        Err(e) => {
            held.release();
            for reply in replies {
                let _ = reply.send(Err(shared(&e)));
            }
        }
    }
}

/// A `jsonb` column decoded straight into the model.
pub(crate) fn column<T: serde::de::DeserializeOwned>(
    row: &PgRow,
    index: usize,
    what: &'static str,
) -> Result<Option<T>> {
    row.try_get::<Option<Json<T>>, _>(index)
        .map(|v| v.map(|Json(v)| v))
        .map_err(|e| match e {
            sqlx::Error::ColumnDecode { source, .. } => Error::Backend {
                message: format!("PostgreSQL: corrupt {what} row: {source}"),
                source: None,
            },
            other => db("ingest lookup", other),
        })
}

/// Rows of a batched query in key order: `ord` (1-based) is column 0.
fn in_order(n: usize, rows: Vec<PgRow>) -> Vec<Option<PgRow>> {
    let mut out: Vec<Option<PgRow>> = (0..n).map(|_| None).collect();
    for row in rows {
        let ord: i64 = row.get(0);
        if let Some(slot) = usize::try_from(ord - 1).ok().and_then(|i| out.get_mut(i)) {
            *slot = Some(row);
        }
    }
    out
}

async fn contexts_query(
    conn: &mut sqlx::PgConnection,
    keys: Vec<ContextKey>,
) -> Result<Vec<Result<IngestContext>>> {
    let rows = sqlx::query(
        "SELECT u.ord, \
            (SELECT m.data FROM inbox_messages m \
              WHERE m.tenant_id = u.t AND m.channel_id = u.ch AND m.external_id = u.ext), \
            k.data, \
            (SELECT c.data FROM inbox_conversations c \
              WHERE c.tenant_id = u.t AND c.channel_id = u.ch AND c.contact_id = k.contact_id \
              ORDER BY (c.status <> 'resolved') DESC, c.row_seq DESC LIMIT 1) \
         FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) WITH ORDINALITY \
              AS u(t, ch, wa, uid, ext, ord) \
         LEFT JOIN LATERAL ( \
            SELECT contact_id, data FROM ( \
                SELECT contact_id, data, 0 AS pref FROM inbox_contacts WHERE tenant_id = u.t AND wa_id = u.wa \
                UNION ALL \
                SELECT contact_id, data, 1 AS pref FROM inbox_contacts WHERE tenant_id = u.t AND user_id = u.uid) x \
            ORDER BY pref LIMIT 1) k ON true",
    )
    .bind(keys.iter().map(|k| k.tenant.as_str()).collect::<Vec<_>>())
    .bind(keys.iter().map(|k| k.channel.as_str()).collect::<Vec<_>>())
    .bind(
        keys.iter()
            .map(|k| k.identity.wa_id.as_deref())
            .collect::<Vec<_>>(),
    )
    .bind(
        keys.iter()
            .map(|k| k.identity.user_id.as_deref())
            .collect::<Vec<_>>(),
    )
    .bind(
        keys.iter()
            .map(|k| k.external_id.as_str())
            .collect::<Vec<_>>(),
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| db("ingest context", e))?;
    Ok(in_order(keys.len(), rows)
        .into_iter()
        .map(|row| {
            let Some(row) = row else {
                return Ok(IngestContext::default());
            };
            Ok(IngestContext {
                existing: column(&row, 1, "message")?,
                contact: column(&row, 2, "contact")?,
                latest: column(&row, 3, "conversation")?,
            })
        })
        .collect())
}

async fn statuses_query(
    conn: &mut sqlx::PgConnection,
    keys: Vec<StatusKey>,
) -> Result<Vec<Result<Option<Message>>>> {
    let rows = sqlx::query(concat!(
        "SELECT u.ord, (",
        status_target!("data"),
        ") FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[]) WITH ORDINALITY AS u(t, ch, ours, ext, ord)",
    ))
    .bind(keys.iter().map(|k| k.tenant.as_str()).collect::<Vec<_>>())
    .bind(keys.iter().map(|k| k.channel.as_str()).collect::<Vec<_>>())
    .bind(
        keys.iter()
            .map(|k| k.our_id.as_ref().map(|m| m.as_str()))
            .collect::<Vec<_>>(),
    )
    .bind(
        keys.iter()
            .map(|k| k.external_id.as_str())
            .collect::<Vec<_>>(),
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| db("message for status", e))?;
    Ok(in_order(keys.len(), rows)
        .into_iter()
        .map(|row| match row {
            Some(row) => column(&row, 1, "message"),
            None => Ok(None),
        })
        .collect())
}
