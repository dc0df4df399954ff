//! Batched message mutations: delivery status reports, gathered.
//!
//! Every status webhook ends in [`Store::update_message`]: read the message
//! under a row lock, apply the status, write it back and record its event.
//! Alone, that is a transaction of four round trips that also holds the
//! tenant's event-sequence row from the event to the commit, so a tenant's
//! status reports go one at a time, in line with its group-commit batches.
//! Status reports outnumber inbound messages two or three to one (sent,
//! delivered, read for every reply), so, as with commits and lookups, the
//! mutations that arrive while a batch is being written are applied
//! together: one locking read of all their messages, the mutations applied
//! in arrival order (several for one message see each other, as they would
//! one after another), one multi-row `UPDATE`, the events, one commit.
//!
//! [`Store::update_message`]: inbox_core::ports::Store::update_message

use sqlx::types::Json;
use sqlx::Row;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot, Mutex};

use inbox_core::error::{Error, Result};
use inbox_core::event::Event;
use inbox_core::ids::{MessageId, TenantId};
use inbox_core::model::Message;
use inbox_core::ports::MessageMutation;

use crate::error::{db, shared, unique_violation};
use crate::store::PgStore;

/// One `update_message` call waiting for its batch.
pub(crate) struct MutationJob {
    pub tenant: TenantId,
    pub id: MessageId,
    pub mutation: MessageMutation,
    pub reply: oneshot::Sender<Result<Option<Event>>>,
}

/// Counters of batched message mutations, for monitoring and benchmarks.
#[derive(Debug, Default)]
pub struct MutationBatchStats {
    /// Transactions that applied more than one mutation.
    pub batches: AtomicU64,
    /// Mutations applied by them.
    pub batched: AtomicU64,
    /// Batches redone one mutation at a time (a provider id already taken
    /// by another message, or a transient failure).
    pub redone: AtomicU64,
}

impl MutationBatchStats {
    /// (batches, mutations in them, batches redone one at a time).
    pub fn snapshot(&self) -> (u64, u64, u64) {
        (
            self.batches.load(Ordering::Relaxed),
            self.batched.load(Ordering::Relaxed),
            self.redone.load(Ordering::Relaxed),
        )
    }
}

/// Spawns the mutation task on the current runtime; mutations sent to the
/// returned queue are applied in batches of up to `max_batch`.
pub(crate) fn spawn(
    store: PgStore,
    max_batch: usize,
    stats: Arc<MutationBatchStats>,
) -> mpsc::UnboundedSender<MutationJob> {
    let (tx, rx) = mpsc::unbounded_channel::<MutationJob>();
    let rx = Arc::new(Mutex::new(rx));
    tokio::spawn(async move {
        while let Some(jobs) = crate::reads::next_batch(&rx, max_batch).await {
            run(&store, jobs, &stats).await;
        }
    });
    tx
}

async fn run(store: &PgStore, jobs: Vec<MutationJob>, stats: &MutationBatchStats) {
    if jobs.len() == 1 {
        for job in jobs {
            let r = store
                .update_message_alone(&job.tenant, &job.id, &job.mutation)
                .await;
            let _ = job.reply.send(r);
        }
        return;
    }
    match together(store, &jobs).await {
        Ok(results) => {
            stats.batches.fetch_add(1, Ordering::Relaxed);
            stats
                .batched
                .fetch_add(jobs.len() as u64, Ordering::Relaxed);
            for (job, r) in jobs.into_iter().zip(results) {
                let _ = job.reply.send(r);
            }
        }
        // A provider id taken by another message (the caller must get its
        // own `Duplicate`), or a transient failure: nothing was written;
        // each mutation on its own, as without batching.
        Err(e) if e.redo && !store.pool().is_closed() => {
            tracing::debug!(reason = %e.error, mutations = jobs.len(), "message mutations redone one at a time");
            stats.redone.fetch_add(1, Ordering::Relaxed);
            for job in jobs {
                let r = store
                    .update_message_alone(&job.tenant, &job.id, &job.mutation)
                    .await;
                let _ = job.reply.send(r);
            }
        }
        Err(e) => {
            for job in jobs {
                let _ = job.reply.send(Err(shared(&e.error)));
            }
        }
    }
}

/// Why a batch wrote nothing, and whether to redo it one at a time.
struct Failed {
    error: Error,
    redo: bool,
}

impl Failed {
    fn new(error: Error) -> Self {
        let redo = error.is_retryable();
        Self { error, redo }
    }
}

/// Applies the batch in one transaction; each job's own result (a job whose
/// message is missing gets `NotFound`, the others are unaffected).
async fn together(
    store: &PgStore,
    jobs: &[MutationJob],
) -> std::result::Result<Vec<Result<Option<Event>>>, Failed> {
    let mut tx = store
        .pool()
        .begin()
        .await
        .map_err(|e| Failed::new(db("begin", e)))?;
    // The messages, locked in key order (two batches, or a batch and a
    // single update, never wait for each other in a cycle).
    let keys: Vec<(&str, &str)> = {
        let mut k: Vec<_> = jobs
            .iter()
            .map(|j| (j.tenant.as_str(), j.id.as_str()))
            .collect();
        k.sort_unstable();
        k.dedup();
        k
    };
    let rows = sqlx::query(
        "SELECT m.tenant_id, m.message_id, m.data FROM inbox_messages m \
         JOIN UNNEST($1::text[], $2::text[]) AS u(t, id) ON m.tenant_id = u.t AND m.message_id = u.id \
         ORDER BY m.tenant_id, m.message_id FOR UPDATE OF m",
    )
    .bind(keys.iter().map(|k| k.0).collect::<Vec<_>>())
    .bind(keys.iter().map(|k| k.1).collect::<Vec<_>>())
    .fetch_all(&mut *tx)
    .await
    .map_err(|e| Failed::new(db("update message", e)))?;
    let mut messages: HashMap<(String, String), (Message, bool)> = HashMap::new();
    for row in rows {
        if let Some(m) = crate::reads::column::<Message>(&row, 2, "message").map_err(Failed::new)? {
            messages.insert((row.get(0), row.get(1)), (m, false));
        }
    }

    // The mutations, in arrival order; `Ok(Some(i))`: the i-th event of
    // its tenant.
    let mut outcomes: Vec<Result<Option<usize>>> = Vec::with_capacity(jobs.len());
    let mut events: BTreeMap<&str, Vec<Event>> = BTreeMap::new();
    for job in jobs {
        let key = (job.tenant.to_string(), job.id.to_string());
        let Some((message, dirty)) = messages.get_mut(&key) else {
            outcomes.push(Err(Error::not_found("message", &job.id)));
            continue;
        };
        let mutated = job.mutation.apply(message);
        if !mutated.changed {
            outcomes.push(Ok(None));
            continue;
        }
        *dirty = true;
        match mutated.event {
            Some(e) => {
                let list = events.entry(job.tenant.as_str()).or_default();
                list.push(e);
                outcomes.push(Ok(Some(list.len() - 1)));
            }
            None => outcomes.push(Ok(None)),
        }
    }

    let changed: Vec<(&(String, String), &Message)> = messages
        .iter()
        .filter(|(_, (_, dirty))| *dirty)
        .map(|(k, (m, _))| (k, m))
        .collect();
    if !changed.is_empty() {
        let r = sqlx::query(
            "UPDATE inbox_messages m SET external_id = u.ext, data = u.d \
             FROM UNNEST($1::text[], $2::text[], $3::text[], $4::jsonb[]) AS u(t, id, ext, d) \
             WHERE m.tenant_id = u.t AND m.message_id = u.id",
        )
        .bind(
            changed
                .iter()
                .map(|(k, _)| k.0.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(
            changed
                .iter()
                .map(|(k, _)| k.1.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(
            changed
                .iter()
                .map(|(_, m)| m.external_id.as_deref())
                .collect::<Vec<_>>(),
        )
        .bind(changed.iter().map(|(_, m)| Json(*m)).collect::<Vec<_>>())
        .execute(&mut *tx)
        .await;
        if let Err(e) = r {
            let _ = tx.rollback().await;
            let redo = unique_violation(&e).is_some();
            let mut failed = Failed::new(db("update message", e));
            failed.redo |= redo;
            return Err(failed);
        }
    }

    // The events, numbered per tenant.
    let mut recorded: HashMap<&str, Vec<Event>> = HashMap::new();
    for (tenant, list) in events {
        let tenant_id = TenantId::new(tenant).map_err(Failed::new)?;
        let numbered = crate::store::record_events(&mut tx, &tenant_id, list)
            .await
            .map_err(Failed::new)?;
        recorded.insert(tenant, numbered);
    }
    tx.commit()
        .await
        .map_err(|e| Failed::new(db("commit", e)))?;
    Ok(jobs
        .iter()
        .zip(outcomes)
        .map(|(job, outcome)| {
            outcome.map(|slot| {
                slot.and_then(|i| {
                    recorded
                        .get(job.tenant.as_str())
                        .and_then(|list| list.get(i))
                        .cloned()
                })
            })
        })
        .collect())
}
