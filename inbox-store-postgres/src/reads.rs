//! Batched ingest reads: the lookups every webhook makes, gathered.
//!
//! Each webhook's message needs one read before it can be planned (is it a
//! duplicate, who is the contact, which conversation does it continue), and
//! each status one (which of our messages it reports on). At hundreds of
//! webhooks a second those single-row lookups cost more in round trips and
//! backend wake-ups than in work, so, as group commit does for writes,
//! lookups that arrive while another batch of them is running are answered
//! together by one multi-key query ([`crate::lookups`]). A lookup that
//! arrives when none is running goes out at once: batching adds no wait to
//! a quiet inbox.

use sqlx::{PgConnection, PgPool};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot, Mutex};

use inbox_core::error::{Error, Result};
use inbox_core::model::Message;
use inbox_core::ports::IngestContext;

use crate::error::{db, shared};
use crate::lookups::{self, ContextKey, StatusKey};
use crate::plans::{BatchPools, Held};

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

    /// Counts a query answering `lookups` lookups.
    fn count(&self, lookups: usize) {
        self.queries.fetch_add(1, Ordering::Relaxed);
        self.lookups.fetch_add(lookups as u64, Ordering::Relaxed);
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
                    run(&pools, &mut held, batch, &stats).await;
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

/// [`Conversations::ingest_context`](inbox_core::ports::Conversations::ingest_context):
/// through the readers when there are, else alone on `pool`.
pub(crate) async fn context(
    readers: Option<&Readers>,
    pool: &PgPool,
    key: ContextKey,
) -> Result<IngestContext> {
    match readers {
        Some(r) => r.context(key).await,
        None => lookups::context(pool, key).await,
    }
}

/// [`PgStore::message_for_status`](crate::PgStore::message_for_status):
/// through the readers when there are, else alone on `pool`.
pub(crate) async fn status(
    readers: Option<&Readers>,
    pool: &PgPool,
    key: StatusKey,
) -> Result<Option<Message>> {
    match readers {
        Some(r) => r.status(key).await,
        None => lookups::status(pool, key).await,
    }
}

/// Answers a batch of lookups: the ingest contexts with one query, the
/// statuses with another.
async fn run(pools: &BatchPools, held: &mut Held, batch: Vec<Lookup>, stats: &ReadBatchStats) {
    let mut contexts = Vec::new();
    let mut statuses = Vec::new();
    for item in batch {
        match item {
            Lookup::Context(k, r) => contexts.push((k, r)),
            Lookup::Status(k, r) => statuses.push((k, r)),
        }
    }
    answer_with(
        pools,
        held,
        stats,
        contexts,
        "ingest lookup",
        lookups::contexts,
    )
    .await;
    answer_with(
        pools,
        held,
        stats,
        statuses,
        "status lookup",
        lookups::statuses,
    )
    .await;
}

/// Answers `items` (if any) with one `query` of their keys on the task's
/// connection ([`answer`]); `context` names a failure to get one.
async fn answer_with<K, V>(
    pools: &BatchPools,
    held: &mut Held,
    stats: &ReadBatchStats,
    items: Vec<(K, oneshot::Sender<Result<V>>)>,
    context: &'static str,
    query: impl AsyncFnOnce(&mut PgConnection, &[K]) -> Result<Vec<Result<V>>>,
) {
    if items.is_empty() {
        return;
    }
    stats.count(items.len());
    let (keys, replies): (Vec<_>, Vec<_>) = items.into_iter().unzip();
    let result = match held.get(pools).await {
        Ok(conn) => query(conn, &keys).await,
        Err(e) => Err(db(context, e)),
    };
    answer(held, replies, result);
}

/// Sends each lookup of a batch its answer from the batch's one query; a
/// failed query fails every lookup of the batch with the same (typed)
/// error, and its connection goes back to the pool (which checks it).
fn answer<V>(
    held: &mut Held,
    replies: Vec<oneshot::Sender<Result<V>>>,
    result: Result<Vec<Result<V>>>,
) {
    // The queries answer every key; a reply left without an answer would
    // reach its caller as "the reader stopped".
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
