//! Group commit: concurrent commits share one transaction.
//!
//! Every commit takes the tenant's event-sequence row lock until it
//! commits, so a tenant's commits are serial and each pays a WAL flush.
//! Group commit gathers the commits that arrive while a batch is running and
//! applies them together: the whole batch is one statement (`WITH` one
//! multi-row `INSERT`/`UPDATE` per table, then the checks: tenants and
//! channels exist, every optimistic version matched), so a batch costs one
//! round trip, one plan and one WAL flush however many commits it holds. If
//! anything in the batch collides (a duplicate, a stale version), nothing of
//! it is kept and it is redone one changeset at a time under savepoints, so
//! each commit still succeeds or fails on its own, exactly as if it had run
//! alone.
//!
//! The statement is sent outside any explicit transaction: it is its own
//! transaction, committed by the server as soon as it ends (no `BEGIN` or
//! `COMMIT` round trip), and its checks raise inside it
//! (`inbox_batch_checked`, migration 12), so a batch that does not add up
//! commits nothing. Its locks, the tenant's sequence row among them, are
//! held only while the server works, never while the application reads a
//! result.
//!
//! Message mutations (delivery statuses, [`crate::mutations`]) ride in the
//! same batches: their messages are read first (one more round trip, no
//! lock), the mutations applied, and the statement writes them, each only
//! if its row is still the version read, and numbers their events with the
//! changesets'.

use sqlx::PgConnection;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot, Mutex};

use inbox_core::error::{Error, Result};
use inbox_core::ids::TenantId;
use inbox_core::ports::{Changeset, Committed, MessageMutation, MessageUpdated};

use crate::changes::{write_batch, Writer};
use crate::error::shared;
use crate::mutations::{read_and_apply, MutationBatchStats, MutationJob, Target};
use crate::plans::{BatchPools, Held};

/// A changeset waiting for its batch.
pub(crate) struct Job {
    pub tenant: TenantId,
    pub changes: Changeset,
    pub reply: oneshot::Sender<Result<Committed>>,
}

/// What the committers take: a changeset, or message mutations (delivery
/// statuses; see [`crate::mutations`]) that must be applied in their order
/// (the reports of one webhook), so they go into one batch together.
pub(crate) enum Work {
    Commit(Box<Job>),
    Mutate(Vec<MutationJob>),
}

/// Settings of group commit and of the batched ingest lookups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupCommit {
    /// Most changesets and message mutations (delivery statuses) in one
    /// transaction, and most lookups in one query. The status reports of
    /// one webhook count as one (they are never split).
    pub max_batch: usize,
    /// Committer tasks (batches in flight at once). Two (the default) let
    /// one batch write while another waits for its WAL flush. Batches
    /// written concurrently can deadlock on each other's rows; a batch that
    /// fails that way is redone changeset by changeset.
    pub committers: usize,
    /// Reader tasks answering ingest lookups (queries in flight at once).
    /// One (the default): a lookup query is short, and one reader lets the
    /// lookups that arrive meanwhile gather into the next query; more
    /// readers mean more, smaller queries (measured: 5,500 against 4,700
    /// webhooks a second with two, at 128 concurrent webhooks).
    pub readers: usize,
    /// Whether the batches' statements switch to generic plans (made once
    /// per connection) once the tables have statistics (the default), or
    /// are planned for every execution (see
    /// `PgStore::uses_generic_plans`). Measured in the ingest bench:
    /// about 5% more webhooks a second than planning per execution.
    pub generic_plans: bool,
}

impl Default for GroupCommit {
    fn default() -> Self {
        Self {
            max_batch: 128,
            committers: 2,
            readers: 1,
            generic_plans: true,
        }
    }
}

/// Counters of group commit, for monitoring and benchmarks.
#[derive(Debug, Default)]
pub struct GroupCommitStats {
    /// Batches of one commit.
    pub single: AtomicU64,
    /// Batches written with multi-row statements.
    pub fast: AtomicU64,
    /// Batches redone one changeset at a time under savepoints.
    pub fallback: AtomicU64,
    /// Changesets committed through batches of more than one.
    pub batched_changesets: AtomicU64,
}

impl GroupCommitStats {
    /// (single, fast, fallback, batched changesets).
    pub fn snapshot(&self) -> (u64, u64, u64, u64) {
        (
            self.single.load(Ordering::Relaxed),
            self.fast.load(Ordering::Relaxed),
            self.fallback.load(Ordering::Relaxed),
            self.batched_changesets.load(Ordering::Relaxed),
        )
    }
}

/// The committers' counters.
#[derive(Clone)]
pub(crate) struct Counters {
    pub commits: Arc<GroupCommitStats>,
    pub mutations: Arc<MutationBatchStats>,
}

fn stopped() -> Error {
    Error::unavailable("PostgreSQL: the committer stopped")
}

/// The committers' queue.
#[derive(Debug, Clone)]
pub(crate) struct Queue(mpsc::UnboundedSender<Work>);

/// [`Conversations::commit`](inbox_core::ports::Conversations::commit): through the
/// committers when group commit is on (`queue`), else (or if they are
/// gone: the runtime is shutting down) alone on `writer`.
pub(crate) async fn commit(
    queue: Option<&Queue>,
    writer: &Writer,
    changes: Changeset,
) -> Result<Committed> {
    let tenant = changes.validate()?.clone();
    let Some(Queue(queue)) = queue else {
        return writer.commit_alone(&tenant, &changes).await;
    };
    let (reply, answer) = oneshot::channel();
    let job = Job {
        tenant: tenant.clone(),
        changes,
        reply,
    };
    if let Err(mpsc::error::SendError(Work::Commit(job))) = queue.send(Work::Commit(Box::new(job)))
    {
        return writer.commit_alone(&tenant, &job.changes).await;
    }
    answer.await.unwrap_or_else(|_| Err(stopped()))
}

/// Message mutations applied in the order given, each with its own
/// result: one unit of group commit (they land in one batch, in this
/// order), or one after another in transactions of their own without it.
pub(crate) async fn mutate(
    queue: Option<&Queue>,
    writer: &Writer,
    tenant: &TenantId,
    mutations: Vec<(Target, MessageMutation)>,
) -> Vec<Result<Option<MessageUpdated>>> {
    let mut answers = Vec::with_capacity(mutations.len());
    let jobs: Vec<MutationJob> = mutations
        .into_iter()
        .map(|(target, mutation)| {
            let (reply, answer) = oneshot::channel();
            answers.push(answer);
            MutationJob {
                tenant: tenant.clone(),
                target,
                mutation,
                reply,
            }
        })
        .collect();
    let unsent = match queue {
        None => Some(jobs),
        Some(Queue(queue)) => match queue.send(Work::Mutate(jobs)) {
            Ok(()) => None,
            // The committers are gone (the runtime is shutting down).
            Err(mpsc::error::SendError(Work::Mutate(jobs))) => Some(jobs),
            Err(_) => None,
        },
    };
    for job in unsent.into_iter().flatten() {
        let r = writer.mutate_alone(&job).await;
        let _ = job.reply.send(r);
    }
    let mut results = Vec::with_capacity(answers.len());
    for answer in answers {
        results.push(answer.await.unwrap_or_else(|_| Err(stopped())));
    }
    results
}

/// Spawns the committers on the current runtime; they take their work
/// from the queue returned.
pub(crate) fn spawn(pools: BatchPools, settings: GroupCommit, counters: Counters) -> Queue {
    let (tx, rx) = mpsc::unbounded_channel::<Work>();
    let rx = Arc::new(Mutex::new(rx));
    for _ in 0..settings.committers.max(1) {
        let rx = rx.clone();
        let pools = pools.clone();
        let counters = counters.clone();
        tokio::spawn(async move {
            let mut held = Held::default();
            let mut closing = pools.closing();
            while let Some(work) = held.next_batch(&mut closing, &rx, settings.max_batch).await {
                run(&pools, &mut held, work, &counters).await;
            }
        });
    }
    Queue(tx)
}

async fn run(pools: &BatchPools, held: &mut Held, work: Vec<Work>, counters: &Counters) {
    let writer = pools.writer().await;
    let (stats, mstats) = (&*counters.commits, &*counters.mutations);
    let mut jobs = Vec::new();
    let mut mutations = Vec::new();
    for w in work {
        match w {
            Work::Commit(j) => jobs.push(*j),
            Work::Mutate(m) => mutations.extend(m),
        }
    }
    if jobs.len() + mutations.len() == 1 {
        if let Some(job) = jobs.pop() {
            stats.single.fetch_add(1, Ordering::Relaxed);
            let r = writer.commit_alone(&job.tenant, &job.changes).await;
            let _ = job.reply.send(r);
        }
        if let Some(m) = mutations.pop() {
            let r = writer.mutate_alone(&m).await;
            let _ = m.reply.send(r);
        }
        return;
    }
    stats
        .batched_changesets
        .fetch_add(jobs.len() as u64, Ordering::Relaxed);
    let written = match held.get(pools).await {
        Ok(conn) => fast_on(conn, &mut jobs, &mutations).await,
        Err(e) => Err(why(e)),
    };
    if written.is_err() {
        // Back to the pool, which checks it; the batch is redone on
        // connections of the pool.
        held.release();
    }
    match written {
        Ok(mutated) => {
            if !jobs.is_empty() {
                stats.fast.fetch_add(1, Ordering::Relaxed);
            }
            if !mutations.is_empty() {
                mstats.count_batch(mutations.len());
            }
            for job in jobs {
                let _ = job.reply.send(Ok(Committed {
                    events: job.changes.events,
                }));
            }
            for (m, r) in mutations.into_iter().zip(mutated) {
                let _ = m.reply.send(r);
            }
        }
        Err(reason) => {
            tracing::debug!(%reason, changesets = jobs.len(), mutations = mutations.len(), "group commit: batch redone one at a time");
            if !jobs.is_empty() {
                stats.fallback.fetch_add(1, Ordering::Relaxed);
                savepoints(writer, jobs).await;
            }
            mutate_apart(writer, mutations, mstats).await;
        }
    }
}

/// The mutations of a batch that had to be redone: together again if the
/// changesets were what collided; if they collide themselves (a provider
/// id already taken must give its caller its own `Duplicate`), each in a
/// transaction of its own, as without batching.
async fn mutate_apart(writer: &Writer, mutations: Vec<MutationJob>, mstats: &MutationBatchStats) {
    if mutations.len() > 1 {
        if let Ok(results) = fast(writer, &mut [], &mutations).await {
            mstats.count_batch(mutations.len());
            for (m, r) in mutations.into_iter().zip(results) {
                let _ = m.reply.send(r);
            }
            return;
        }
    }
    mstats
        .redone
        .fetch_add(mutations.len() as u64, Ordering::Relaxed);
    for m in mutations {
        let r = writer.mutate_alone(&m).await;
        let _ = m.reply.send(r);
    }
}

/// Each mutation's result (the changesets' events are numbered in place).
type BatchResults = Vec<Result<Option<MessageUpdated>>>;

/// The changesets of a batch that had to be redone, one at a time under
/// savepoints in one transaction ([`Writer::commit_each`]).
async fn savepoints(writer: &Writer, jobs: Vec<Job>) {
    let batch: Vec<(&TenantId, &Changeset)> =
        jobs.iter().map(|j| (&j.tenant, &j.changes)).collect();
    match writer.commit_each(&batch).await {
        Ok(results) => {
            for (job, r) in jobs.into_iter().zip(results) {
                let _ = job.reply.send(r);
            }
        }
        // A transient failure (a deadlock with another instance's batch, a
        // serialisation failure): nothing was committed; commit each
        // changeset in its own transaction instead.
        Err(e) if e.is_retryable() && !writer.pool().is_closed() => {
            for job in jobs {
                let r = writer.commit_alone(&job.tenant, &job.changes).await;
                let _ = job.reply.send(r);
            }
        }
        Err(e) => {
            // Nothing of the batch was committed.
            for job in jobs {
                let _ = job.reply.send(Err(shared(&e)));
            }
        }
    }
}

/// The whole batch as one statement ([`write_batch`]) in a transaction of
/// its own (no `BEGIN` or `COMMIT`: the statement commits as it ends),
/// after its mutations' messages are read and the mutations applied. Any
/// collision or mismatch fails the statement (nothing is written) and the
/// caller redoes the batch one at a time; the reason is returned for the
/// log.
///
/// Without an explicit transaction the batch holds its rows' locks and the
/// tenant's sequence row only while the server runs the statement and
/// flushes its commit, never while the application reads a result: the
/// other committer's batch waits for less, and each batch saves two round
/// trips. The mutations' messages are read without a lock; the statement
/// writes each changed message only if its row version (`xmin`) is still
/// the one read, so a status applied meanwhile by another batch (or
/// another instance) fails this one's checks instead of being overwritten.
async fn fast(
    writer: &Writer,
    jobs: &mut [Job],
    mutations: &[MutationJob],
) -> std::result::Result<BatchResults, String> {
    let mut conn = writer.pool().acquire().await.map_err(why)?;
    fast_on(&mut conn, jobs, mutations).await
}

/// [`fast`] on a given connection (a committer's own, see [`Held`]).
/// Once the batch is committed, its changesets' events carry their
/// sequence numbers (numbered in place, not copied).
async fn fast_on(
    conn: &mut PgConnection,
    jobs: &mut [Job],
    mutations: &[MutationJob],
) -> std::result::Result<BatchResults, String> {
    let applied = if mutations.is_empty() {
        None
    } else {
        Some(read_and_apply(conn, mutations).await.map_err(why)?)
    };
    let batch: Vec<(&TenantId, &Changeset)> =
        jobs.iter().map(|j| (&j.tenant, &j.changes)).collect();
    let mut next = write_batch(conn, &batch, applied.as_ref()).await?;
    for job in jobs.iter_mut() {
        for e in &mut job.changes.events {
            next.number(e)?;
        }
    }
    let Some(a) = applied else {
        return Ok(Vec::new());
    };
    // Each mutation's event is its own (one index each): moved, not copied.
    let mut events = Vec::with_capacity(a.events.len());
    for mut e in a.events {
        next.number(&mut e)?;
        events.push(Some(e));
    }
    Ok(a.outcomes
        .into_iter()
        .map(|o| {
            o.map(|found| {
                found.map(|f| MessageUpdated {
                    message: f.message,
                    event: f
                        .event
                        .and_then(|i| events.get_mut(i).and_then(Option::take)),
                })
            })
        })
        .collect())
}

fn why(e: impl std::fmt::Display) -> String {
    e.to_string()
}
