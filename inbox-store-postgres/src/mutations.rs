//! Batched message mutations: delivery status reports, gathered.
//!
//! Every status webhook ends in [`Store::update_message`]: read the message
//! under a row lock, apply the status, write it back and record its event.
//! Alone, that is a transaction of four round trips that also holds the
//! tenant's event-sequence row from the event to the commit, so a tenant's
//! status reports go one at a time, in line with its group-commit batches.
//! Status reports outnumber inbound messages two or three to one (sent,
//! delivered, read for every reply), so they go through group commit with
//! the changesets ([`crate::batch`]): the mutations that arrive while a
//! batch is being written join the next one, which reads all their
//! messages under one row lock, applies the mutations in arrival order
//! (several for one message see each other, as they would one after
//! another), and writes them with its one statement (a multi-row `UPDATE`
//! and their events, numbered with the changesets' events), one commit.
//!
//! [`Store::update_message`]: inbox_core::ports::Store::update_message

use sqlx::{Postgres, Row, Transaction};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::oneshot;

use inbox_core::error::{Error, Result};
use inbox_core::event::Event;
use inbox_core::ids::{MessageId, TenantId};
use inbox_core::model::Message;
use inbox_core::ports::MessageMutation;

use crate::error::db;

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
    /// Group-commit batches that applied mutations.
    pub batches: AtomicU64,
    /// Mutations applied by them.
    pub batched: AtomicU64,
    /// Mutations redone one at a time because their batch was (a provider
    /// id already taken by another message, a collision among the
    /// changesets, or a transient failure).
    pub redone: AtomicU64,
}

impl MutationBatchStats {
    /// (batches, mutations in them, mutations redone one at a time).
    pub fn snapshot(&self) -> (u64, u64, u64) {
        (
            self.batches.load(Ordering::Relaxed),
            self.batched.load(Ordering::Relaxed),
            self.redone.load(Ordering::Relaxed),
        )
    }
}

/// Mutations locked and applied inside a batch's transaction, waiting to
/// be written by its statement.
pub(crate) struct Applied {
    /// The changed messages, in their final state (one row each).
    pub changed: Vec<Message>,
    /// Each job's outcome: its error, nothing to record, or the index of
    /// its event in `events`.
    pub outcomes: Vec<Result<Option<usize>>>,
    /// The events, in job order.
    pub events: Vec<Event>,
}

/// Reads the jobs' messages under a row lock (in key order, so that two
/// batches never wait for each other in a cycle) and applies the mutations
/// in arrival order: several for one message see each other, as they would
/// one after another. A job whose message is missing gets `NotFound`.
pub(crate) async fn lock_and_apply(
    tx: &mut Transaction<'_, Postgres>,
    jobs: &[MutationJob],
) -> Result<Applied> {
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
    .fetch_all(&mut **tx)
    .await
    .map_err(|e| db("update message", e))?;
    // (tenant, id) -> (message, changed)
    let mut messages: BTreeMap<(String, String), (Message, bool)> = BTreeMap::new();
    for row in rows {
        if let Some(m) = crate::reads::column::<Message>(&row, 2, "message")? {
            messages.insert((row.get(0), row.get(1)), (m, false));
        }
    }
    let mut outcomes = Vec::with_capacity(jobs.len());
    let mut events = Vec::new();
    for job in jobs {
        let key = (job.tenant.to_string(), job.id.to_string());
        let Some((message, changed)) = messages.get_mut(&key) else {
            outcomes.push(Err(Error::not_found("message", &job.id)));
            continue;
        };
        let mutated = job.mutation.apply(message);
        *changed |= mutated.changed;
        outcomes.push(Ok(mutated.event.map(|e| {
            events.push(e);
            events.len() - 1
        })));
    }
    Ok(Applied {
        changed: messages
            .into_values()
            .filter(|(_, changed)| *changed)
            .map(|(m, _)| m)
            .collect(),
        outcomes,
        events,
    })
}
