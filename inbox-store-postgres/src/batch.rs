//! Group commit: concurrent commits share one transaction.
//!
//! Every commit takes the tenant's event-sequence row lock until it
//! commits, so a tenant's commits are serial and each pays a WAL flush.
//! Group commit gathers the commits that arrive while a batch is running and
//! applies them together: first with multi-row statements (a handful of
//! round trips and one flush for the whole batch); if anything in the batch
//! collides (a duplicate, a stale version), the batch is redone one
//! changeset at a time under savepoints, so each commit still succeeds or
//! fails on its own, exactly as if it had run alone.

use chrono::{DateTime, Utc};
use sqlx::{Postgres, Row, Transaction};
use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot, Mutex};

use inbox_core::error::{Error, Result};
use inbox_core::event::Event;
use inbox_core::ids::TenantId;
use inbox_core::ports::{Changeset, Committed};

use crate::error::db;
use crate::store::{conversation_columns, Failure, PgStore};

pub(crate) struct Job {
    pub tenant: TenantId,
    pub changes: Changeset,
    pub reply: oneshot::Sender<Result<Committed>>,
}

/// Settings of group commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupCommit {
    /// Most changesets in one transaction.
    pub max_batch: usize,
    /// Committer tasks (batches in flight at once). Two (the default) let
    /// one batch write while another waits for its WAL flush. Batches
    /// written concurrently can deadlock on each other's rows; a batch that
    /// fails that way is redone changeset by changeset.
    pub committers: usize,
}

impl Default for GroupCommit {
    fn default() -> Self {
        Self {
            max_batch: 128,
            committers: 2,
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

pub(crate) fn spawn(
    store: PgStore,
    settings: GroupCommit,
    stats: Arc<GroupCommitStats>,
) -> mpsc::UnboundedSender<Job> {
    let (tx, rx) = mpsc::unbounded_channel::<Job>();
    let rx = Arc::new(Mutex::new(rx));
    for _ in 0..settings.committers.max(1) {
        let rx = rx.clone();
        let store = store.clone();
        let stats = stats.clone();
        tokio::spawn(async move {
            loop {
                let mut jobs = Vec::new();
                {
                    let mut rx = rx.lock().await;
                    match rx.recv().await {
                        Some(j) => jobs.push(j),
                        None => return,
                    }
                    while jobs.len() < settings.max_batch.max(1) {
                        match rx.try_recv() {
                            Ok(j) => jobs.push(j),
                            Err(_) => break,
                        }
                    }
                }
                run(&store, jobs, &stats).await;
            }
        });
    }
    tx
}

async fn run(store: &PgStore, jobs: Vec<Job>, stats: &GroupCommitStats) {
    if jobs.len() == 1 {
        stats.single.fetch_add(1, Ordering::Relaxed);
        let mut jobs = jobs;
        if let Some(job) = jobs.pop() {
            let r = store.commit_alone(&job.tenant, &job.changes).await;
            let _ = job.reply.send(r);
        }
        return;
    }
    stats
        .batched_changesets
        .fetch_add(jobs.len() as u64, Ordering::Relaxed);
    match fast(store, &jobs).await {
        Ok(results) => {
            stats.fast.fetch_add(1, Ordering::Relaxed);
            for (job, events) in jobs.into_iter().zip(results) {
                let _ = job.reply.send(Ok(Committed { events }));
            }
        }
        Err(_) => {
            stats.fallback.fetch_add(1, Ordering::Relaxed);
            savepoints(store, jobs).await
        }
    }
}

/// One changeset at a time under savepoints, in one transaction.
async fn savepoints(store: &PgStore, jobs: Vec<Job>) {
    let mut outcomes: Vec<std::result::Result<Vec<Event>, Failure>> =
        Vec::with_capacity(jobs.len());
    let result: Result<()> = async {
        let mut tx = store.pool().begin().await.map_err(|e| db("begin", e))?;
        for job in &jobs {
            sqlx::query("SAVEPOINT inbox_job")
                .execute(&mut *tx)
                .await
                .map_err(|e| db("savepoint", e))?;
            match store.commit_in(&mut tx, &job.tenant, &job.changes).await {
                Ok(events) => {
                    sqlx::query("RELEASE SAVEPOINT inbox_job")
                        .execute(&mut *tx)
                        .await
                        .map_err(|e| db("savepoint", e))?;
                    outcomes.push(Ok(events));
                }
                Err(f) => {
                    sqlx::query("ROLLBACK TO SAVEPOINT inbox_job")
                        .execute(&mut *tx)
                        .await
                        .map_err(|e| db("savepoint", e))?;
                    outcomes.push(Err(f));
                }
            }
        }
        tx.commit().await.map_err(|e| db("commit", e))
    }
    .await;
    match result {
        Ok(()) => {
            for (job, outcome) in jobs.into_iter().zip(outcomes) {
                let r = match outcome {
                    Ok(events) => Ok(Committed { events }),
                    Err(Failure::Unique(c)) => {
                        Err(store.explain_duplicate(&job.tenant, &job.changes, &c).await)
                    }
                    Err(Failure::Core(e)) => Err(e),
                };
                let _ = job.reply.send(r);
            }
        }
        // A transient failure (a deadlock with another instance's batch, a
        // serialisation failure): nothing was committed; commit each
        // changeset in its own transaction instead.
        Err(e) if e.is_retryable() && !store.pool().is_closed() => {
            for job in jobs {
                let r = store.commit_alone(&job.tenant, &job.changes).await;
                let _ = job.reply.send(r);
            }
        }
        Err(e) => {
            // Nothing of the batch was committed.
            let text = e.to_string();
            let retryable = e.is_retryable();
            for job in jobs {
                let err = if retryable {
                    Error::unavailable(text.clone())
                } else {
                    Error::Backend {
                        message: text.clone(),
                        source: None,
                    }
                };
                let _ = job.reply.send(Err(err));
            }
        }
    }
}

/// The whole batch with multi-row statements. Any collision or mismatch
/// aborts it (nothing is written) and the caller redoes it with savepoints.
async fn fast(store: &PgStore, jobs: &[Job]) -> std::result::Result<Vec<Vec<Event>>, ()> {
    let mut tx = store.pool().begin().await.map_err(|_| ())?;
    let r = fast_in(&mut tx, jobs).await;
    match r {
        Ok(events) => {
            tx.commit().await.map_err(|_| ())?;
            Ok(events)
        }
        Err(()) => {
            let _ = tx.rollback().await;
            Err(())
        }
    }
}

async fn fast_in(
    tx: &mut Transaction<'_, Postgres>,
    jobs: &[Job],
) -> std::result::Result<Vec<Vec<Event>>, ()> {
    // Tenants exist.
    let tenants: Vec<&str> = jobs
        .iter()
        .map(|j| j.tenant.as_str())
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let found: i64 = sqlx::query("SELECT count(*) FROM inbox_tenants WHERE tenant_id = ANY($1)")
        .bind(&tenants)
        .fetch_one(&mut **tx)
        .await
        .map_err(drop)?
        .get(0);
    if found != tenants.len() as i64 {
        return Err(());
    }
    // Messages whose conversation is not in their changeset: take the slow
    // path (it checks they exist).
    if jobs.iter().any(|j| {
        j.changes.messages.iter().any(|m| {
            j.changes
                .conversation
                .as_ref()
                .is_none_or(|w| w.value.id != m.conversation)
        })
    }) {
        return Err(());
    }
    // Presence changes and round-robin cursors are rare: take the slow
    // path.
    if jobs
        .iter()
        .any(|j| j.changes.presence.is_some() || !j.changes.cursors.is_empty())
    {
        return Err(());
    }

    // Messages.
    let msgs: Vec<_> = jobs
        .iter()
        .flat_map(|j| j.changes.messages.iter().map(move |m| (&j.tenant, m)))
        .collect();
    if !msgs.is_empty() {
        let data: Vec<serde_json::Value> = msgs
            .iter()
            .map(|(_, m)| serde_json::to_value(m))
            .collect::<std::result::Result<_, _>>()
            .map_err(drop)?;
        sqlx::query(
            "INSERT INTO inbox_messages (tenant_id, message_id, conversation_id, channel_id, external_id, idempotency_key, data, body) \
             SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::jsonb[], $8::text[])",
        )
        .bind(msgs.iter().map(|(t, _)| t.as_str()).collect::<Vec<_>>())
        .bind(msgs.iter().map(|(_, m)| m.id.as_str()).collect::<Vec<_>>())
        .bind(msgs.iter().map(|(_, m)| m.conversation.as_str()).collect::<Vec<_>>())
        .bind(msgs.iter().map(|(_, m)| m.channel.as_str()).collect::<Vec<_>>())
        .bind(msgs.iter().map(|(_, m)| m.external_id.as_deref()).collect::<Vec<_>>())
        .bind(msgs.iter().map(|(_, m)| m.idempotency_key.as_deref()).collect::<Vec<_>>())
        .bind(&data)
        .bind(msgs.iter().map(|(_, m)| m.content.text_body()).collect::<Vec<_>>())
        .execute(&mut **tx)
        .await
        .map_err(drop)?;
    }

    // Contacts.
    let new_contacts: Vec<_> = jobs
        .iter()
        .filter_map(|j| {
            j.changes
                .contact
                .as_ref()
                .filter(|w| w.expected_version.is_none())
                .map(|w| &w.value)
        })
        .collect();
    if !new_contacts.is_empty() {
        let data: Vec<serde_json::Value> = new_contacts
            .iter()
            .map(serde_json::to_value)
            .collect::<std::result::Result<_, _>>()
            .map_err(drop)?;
        sqlx::query(
            "INSERT INTO inbox_contacts (tenant_id, contact_id, wa_id, user_id, version, data) \
             SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::jsonb[])",
        )
        .bind(new_contacts.iter().map(|k| k.tenant.as_str()).collect::<Vec<_>>())
        .bind(new_contacts.iter().map(|k| k.id.as_str()).collect::<Vec<_>>())
        .bind(new_contacts.iter().map(|k| k.identity.wa_id.as_deref()).collect::<Vec<_>>())
        .bind(new_contacts.iter().map(|k| k.identity.user_id.as_deref()).collect::<Vec<_>>())
        .bind(new_contacts.iter().map(|k| k.version as i64).collect::<Vec<_>>())
        .bind(&data)
        .execute(&mut **tx)
        .await
        .map_err(drop)?;
    }
    let upd_contacts: Vec<_> = jobs
        .iter()
        .filter_map(|j| {
            j.changes
                .contact
                .as_ref()
                .and_then(|w| w.expected_version.map(|v| (&w.value, v)))
        })
        .collect();
    if !upd_contacts.is_empty() {
        let data: Vec<serde_json::Value> = upd_contacts
            .iter()
            .map(|(k, _)| serde_json::to_value(k))
            .collect::<std::result::Result<_, _>>()
            .map_err(drop)?;
        let done = sqlx::query(
            "UPDATE inbox_contacts c SET wa_id = u.wa_id, user_id = u.user_id, version = u.version, data = u.data \
             FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::jsonb[], $7::bigint[]) \
                  AS u(tenant_id, contact_id, wa_id, user_id, version, data, expected) \
             WHERE c.tenant_id = u.tenant_id AND c.contact_id = u.contact_id AND c.version = u.expected",
        )
        .bind(upd_contacts.iter().map(|(k, _)| k.tenant.as_str()).collect::<Vec<_>>())
        .bind(upd_contacts.iter().map(|(k, _)| k.id.as_str()).collect::<Vec<_>>())
        .bind(upd_contacts.iter().map(|(k, _)| k.identity.wa_id.as_deref()).collect::<Vec<_>>())
        .bind(upd_contacts.iter().map(|(k, _)| k.identity.user_id.as_deref()).collect::<Vec<_>>())
        .bind(upd_contacts.iter().map(|(k, _)| k.version as i64).collect::<Vec<_>>())
        .bind(&data)
        .bind(upd_contacts.iter().map(|(_, v)| *v as i64).collect::<Vec<_>>())
        .execute(&mut **tx)
        .await
        .map_err(drop)?;
        if done.rows_affected() != upd_contacts.len() as u64 {
            return Err(());
        }
    }

    // Conversations.
    let convs: Vec<_> = jobs
        .iter()
        .filter_map(|j| j.changes.conversation.as_ref())
        .collect();
    let new_convs: Vec<_> = convs
        .iter()
        .filter(|w| w.expected_version.is_none())
        .map(|w| &w.value)
        .collect();
    if !new_convs.is_empty() {
        let pairs: HashSet<(&str, &str)> = new_convs
            .iter()
            .map(|c| (c.tenant.as_str(), c.channel.as_str()))
            .collect();
        let (pt, pc): (Vec<&str>, Vec<&str>) = pairs.iter().copied().unzip();
        let n: i64 = sqlx::query(
            "SELECT count(*) FROM inbox_channels ch JOIN UNNEST($1::text[], $2::text[]) AS u(t, c) \
             ON ch.tenant_id = u.t AND ch.channel_id = u.c",
        )
        .bind(&pt)
        .bind(&pc)
        .fetch_one(&mut **tx)
        .await
        .map_err(drop)?
        .get(0);
        if n != pairs.len() as i64 {
            return Err(());
        }
        let cols = conversation_columns(&new_convs).map_err(drop)?;
        cols.bind(sqlx::query(
            "INSERT INTO inbox_conversations (tenant_id, conversation_id, channel_id, contact_id, status, assignee, team_id, \
             priority_rank, tags, last_activity_us, created_us, waiting_us, version, data) \
             SELECT t, id, ch, k, st, a, tm, pr, (SELECT coalesce(array_agg(x), '{}') FROM jsonb_array_elements_text(tg) x), la, cr, wt, v, d \
             FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::smallint[], \
                         $9::jsonb[], $10::bigint[], $11::bigint[], $12::bigint[], $13::bigint[], $14::jsonb[]) \
                  AS u(t, id, ch, k, st, a, tm, pr, tg, la, cr, wt, v, d)",
        ))
        .execute(&mut **tx)
        .await
        .map_err(drop)?;
    }
    let upd: Vec<_> = convs
        .iter()
        .filter_map(|w| w.expected_version.map(|v| (&w.value, v)))
        .collect();
    if !upd.is_empty() {
        let values: Vec<_> = upd.iter().map(|(c, _)| *c).collect();
        let cols = conversation_columns(&values).map_err(drop)?;
        let expected: Vec<i64> = upd.iter().map(|(_, v)| *v as i64).collect();
        let done = cols
            .bind(sqlx::query(
            "UPDATE inbox_conversations c SET status = u.st, assignee = u.a, team_id = u.tm, priority_rank = u.pr, \
             tags = (SELECT coalesce(array_agg(x), '{}') FROM jsonb_array_elements_text(u.tg) x), \
             last_activity_us = u.la, created_us = u.cr, waiting_us = u.wt, version = u.v, data = u.d \
             FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::smallint[], \
                         $9::jsonb[], $10::bigint[], $11::bigint[], $12::bigint[], $13::bigint[], $14::jsonb[], $15::bigint[]) \
                  AS u(t, id, ch, k, st, a, tm, pr, tg, la, cr, wt, v, d, expected) \
             WHERE c.tenant_id = u.t AND c.conversation_id = u.id AND c.channel_id = u.ch AND c.contact_id = u.k \
               AND c.version = u.expected",
        ))
        .bind(&expected)
        .execute(&mut **tx)
        .await
        .map_err(drop)?;
        if done.rows_affected() != upd.len() as u64 {
            return Err(());
        }
    }

    // Outbox.
    let outbox: Vec<_> = jobs.iter().flat_map(|j| j.changes.outbox.iter()).collect();
    if !outbox.is_empty() {
        let due: Vec<DateTime<Utc>> = outbox.iter().map(|o| o.not_before).collect();
        sqlx::query(
            "INSERT INTO inbox_outbox (tenant_id, message_id, not_before, attempts) \
             SELECT * FROM UNNEST($1::text[], $2::text[], $3::timestamptz[], $4::int[])",
        )
        .bind(outbox.iter().map(|o| o.tenant.as_str()).collect::<Vec<_>>())
        .bind(
            outbox
                .iter()
                .map(|o| o.message.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(&due)
        .bind(outbox.iter().map(|o| o.attempts as i32).collect::<Vec<_>>())
        .execute(&mut **tx)
        .await
        .map_err(drop)?;
    }

    // Timers.
    let timers: Vec<_> = jobs
        .iter()
        .flat_map(|j| j.changes.timers.iter().map(move |t| (&j.tenant, t)))
        .collect();
    if !timers.is_empty() {
        crate::store::write_timers_multi(tx, &timers)
            .await
            .map_err(drop)?;
    }

    // Events: one sequence bump per tenant, numbered in job order.
    let mut per_tenant: BTreeMap<&str, i64> = BTreeMap::new();
    for j in jobs {
        *per_tenant.entry(j.tenant.as_str()).or_default() += j.changes.events.len() as i64;
    }
    let mut next: BTreeMap<&str, i64> = BTreeMap::new();
    for (t, n) in &per_tenant {
        if *n == 0 {
            continue;
        }
        let last: i64 = sqlx::query("UPDATE inbox_tenants SET event_seq = event_seq + $2 WHERE tenant_id = $1 RETURNING event_seq")
            .bind(*t)
            .bind(*n)
            .fetch_one(&mut **tx)
            .await
            .map_err(drop)?
            .get(0);
        next.insert(t, last - n + 1);
    }
    let mut results = Vec::with_capacity(jobs.len());
    let mut all: Vec<Event> = Vec::new();
    for j in jobs {
        let mut events = j.changes.events.clone();
        for ev in &mut events {
            let n = next.get_mut(j.tenant.as_str()).ok_or(())?;
            ev.seq = *n as u64;
            *n += 1;
        }
        all.extend(events.iter().cloned());
        results.push(events);
    }
    if !all.is_empty() {
        let data: Vec<serde_json::Value> = all
            .iter()
            .map(serde_json::to_value)
            .collect::<std::result::Result<_, _>>()
            .map_err(drop)?;
        sqlx::query(
            "INSERT INTO inbox_events (tenant_id, seq, conversation_id, conversation_version, data) \
             SELECT * FROM UNNEST($1::text[], $2::bigint[], $3::text[], $4::bigint[], $5::jsonb[])",
        )
        .bind(all.iter().map(|ev| ev.tenant.as_str()).collect::<Vec<_>>())
        .bind(all.iter().map(|ev| ev.seq as i64).collect::<Vec<_>>())
        .bind(all.iter().map(|ev| ev.conversation.as_ref().map(|c| c.as_str())).collect::<Vec<_>>())
        .bind(all.iter().map(|ev| ev.conversation_version.map(|v| v as i64)).collect::<Vec<_>>())
        .bind(&data)
        .execute(&mut **tx)
        .await
        .map_err(drop)?;
    }
    Ok(results)
}
