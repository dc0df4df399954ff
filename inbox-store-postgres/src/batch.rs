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

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, Postgres, QueryBuilder, Row};
use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot, Mutex};

use inbox_core::error::Result;
use inbox_core::event::Event;
use inbox_core::ids::TenantId;
use inbox_core::model::{Contact, Conversation};
use inbox_core::ports::{Changeset, Committed, MessageUpdated};
use inbox_core::timer::TimerChange;

use crate::error::{db, shared};
use crate::facts::{text_array_literal, ConversationFactColumns, MessageFactColumns};
use crate::mutations::{read_and_apply, Applied, MutationBatchStats, MutationJob};
use crate::plans::{BatchPools, Held};
use crate::store::{micros, priority_rank, Failure, PgStore};
use sqlx::types::Json;

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
    /// [`PgStore::uses_generic_plans`]). Measured in the ingest bench:
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

pub(crate) fn spawn(
    pools: BatchPools,
    settings: GroupCommit,
    counters: Counters,
) -> mpsc::UnboundedSender<Work> {
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
    tx
}

async fn run(pools: &BatchPools, held: &mut Held, work: Vec<Work>, counters: &Counters) {
    let store = pools.store().await;
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
            let r = store.commit_alone(&job.tenant, &job.changes).await;
            let _ = job.reply.send(r);
        }
        if let Some(m) = mutations.pop() {
            let r = store.mutate_alone(&m).await;
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
                mstats.batches.fetch_add(1, Ordering::Relaxed);
                mstats
                    .batched
                    .fetch_add(mutations.len() as u64, Ordering::Relaxed);
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
                savepoints(store, jobs).await;
            }
            mutate_apart(store, mutations, mstats).await;
        }
    }
}

/// The mutations of a batch that had to be redone: together again if the
/// changesets were what collided; if they collide themselves (a provider
/// id already taken must give its caller its own `Duplicate`), each in a
/// transaction of its own, as without batching.
async fn mutate_apart(store: &PgStore, mutations: Vec<MutationJob>, mstats: &MutationBatchStats) {
    if mutations.len() > 1 {
        if let Ok(results) = fast(store, &mut [], &mutations).await {
            mstats.batches.fetch_add(1, Ordering::Relaxed);
            mstats
                .batched
                .fetch_add(mutations.len() as u64, Ordering::Relaxed);
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
        let r = store.mutate_alone(&m).await;
        let _ = m.reply.send(r);
    }
}

/// Each mutation's result (the changesets' events are numbered in place).
type BatchResults = Vec<Result<Option<MessageUpdated>>>;

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
            for job in jobs {
                let _ = job.reply.send(Err(shared(&e)));
            }
        }
    }
}

/// The whole batch as one statement ([`fast_in`]) in a transaction of its
/// own (no `BEGIN` or `COMMIT`: the statement commits as it ends), after
/// its mutations' messages are read and the mutations applied. Any
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
    store: &PgStore,
    jobs: &mut [Job],
    mutations: &[MutationJob],
) -> std::result::Result<BatchResults, String> {
    let mut conn = store.pool().acquire().await.map_err(why)?;
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
    let mut applied = if mutations.is_empty() {
        None
    } else {
        Some(read_and_apply(conn, mutations).await.map_err(why)?)
    };
    let mut next = fast_in(conn, jobs, applied.as_ref()).await?;
    for job in jobs.iter_mut() {
        for e in &mut job.changes.events {
            number(&mut next, job.tenant.as_str(), e)?;
        }
    }
    let Some(a) = applied.take() else {
        return Ok(Vec::new());
    };
    // Each mutation's event is its own (one index each): moved, not copied.
    let mut events = Vec::with_capacity(a.events.len());
    for mut e in a.events {
        let tenant = e.tenant.clone();
        number(&mut next, tenant.as_str(), &mut e)?;
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

/// Gives `e` the next sequence number of `tenant` in the batch.
fn number(
    next: &mut BTreeMap<String, i64>,
    tenant: &str,
    e: &mut Event,
) -> std::result::Result<(), String> {
    let n = next.get_mut(tenant).ok_or("no sequence for a tenant")?;
    e.seq = u64::try_from(*n).map_err(why)?;
    *n += 1;
    Ok(())
}

/// Writes the batch with one `WITH … SELECT` statement, its own
/// transaction: a data-modifying CTE per table, then a `SELECT` that
/// passes the counts the checks need (tenants and channels found, rows
/// whose expected version matched, events written) with the expected ones
/// to `inbox_batch_checked` (which raises if they differ, so the statement
/// fails and nothing of it is committed), and each tenant's new last
/// sequence number. Returns each tenant's first sequence number in the
/// batch (its changesets' events in job order come first, then the
/// mutations'). Fails if the batch cannot be one statement or the
/// statement fails.
async fn fast_in(
    conn: &mut PgConnection,
    jobs: &[Job],
    applied: Option<&Applied>,
) -> std::result::Result<BTreeMap<String, i64>, String> {
    if !fits_one_statement(jobs) {
        return Err("a changeset needs the per-changeset path".into());
    }
    // The batch's one statement (`WITH … SELECT`), and the counts its
    // checks must read.
    let mut qb: QueryBuilder<'_, Postgres> = QueryBuilder::new("WITH ");
    let q = &mut qb;
    // (the count a check reads, the count it expects), in the order the
    // final `SELECT` reads them, which is the order the CTEs run in.
    let mut checks: Vec<(&str, i64)> = Vec::new();

    // Tenants exist.
    let tenants: Vec<&str> = jobs
        .iter()
        .map(|j| j.tenant.as_str())
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    checks.push(("(SELECT n FROM tn)", tenants.len() as i64));
    q.push("tn AS (SELECT count(*) AS n FROM inbox_tenants WHERE tenant_id = ANY(");
    q.push_bind(tenants);
    q.push("::text[]))");

    // Messages.
    let msgs: Vec<_> = jobs
        .iter()
        .flat_map(|j| j.changes.messages.iter().map(move |m| (&j.tenant, m)))
        .collect();
    if !msgs.is_empty() {
        let data = json_texts(msgs.iter().map(|(_, m)| *m))?;
        let facts = MessageFactColumns::of(msgs.iter().map(|(_, m)| *m));
        q.push(", m AS (INSERT INTO inbox_messages (tenant_id, message_id, conversation_id, channel_id, external_id, idempotency_key, data, body, \
                author_agent, direction, next_response_secs, next_response_business_secs) SELECT * FROM UNNEST(");
        q.push_bind(msgs.iter().map(|(t, _)| t.as_str()).collect::<Vec<_>>());
        q.push("::text[], ");
        q.push_bind(msgs.iter().map(|(_, m)| m.id.as_str()).collect::<Vec<_>>());
        q.push("::text[], ");
        q.push_bind(
            msgs.iter()
                .map(|(_, m)| m.conversation.as_str())
                .collect::<Vec<_>>(),
        );
        q.push("::text[], ");
        q.push_bind(
            msgs.iter()
                .map(|(_, m)| m.channel.as_str())
                .collect::<Vec<_>>(),
        );
        q.push("::text[], ");
        q.push_bind(
            msgs.iter()
                .map(|(_, m)| m.external_id.as_deref())
                .collect::<Vec<_>>(),
        );
        q.push("::text[], ");
        q.push_bind(
            msgs.iter()
                .map(|(_, m)| m.idempotency_key.as_deref())
                .collect::<Vec<_>>(),
        );
        q.push("::text[], ");
        q.push_bind(data);
        q.push("::text[]::json[], ");
        q.push_bind(
            msgs.iter()
                .map(|(_, m)| m.content.text_body())
                .collect::<Vec<_>>(),
        );
        q.push("::text[], ");
        push_message_facts(q, facts);
        q.push(") RETURNING 1)");
        checks.push(("(SELECT count(*) FROM m)", msgs.len() as i64));
    }

    // Contacts.
    let contacts: Vec<_> = jobs
        .iter()
        .filter_map(|j| j.changes.contact.as_ref())
        .collect();
    let new_contacts: Vec<_> = contacts
        .iter()
        .filter(|w| w.expected_version.is_none())
        .map(|w| &w.value)
        .collect();
    if !new_contacts.is_empty() {
        let data = json_values(new_contacts.iter().copied());
        q.push(", kn AS (INSERT INTO inbox_contacts (tenant_id, contact_id, wa_id, user_id, version, data) SELECT * FROM UNNEST(");
        push_contacts(q, &new_contacts, data);
        q.push(") RETURNING 1)");
        checks.push(("(SELECT count(*) FROM kn)", new_contacts.len() as i64));
    }
    let upd_contacts: Vec<_> = contacts
        .iter()
        .filter_map(|w| w.expected_version.map(|v| (&w.value, v as i64)))
        .collect();
    if !upd_contacts.is_empty() {
        checks.push(("(SELECT count(*) FROM ku)", upd_contacts.len() as i64));
        let values: Vec<_> = upd_contacts.iter().map(|(k, _)| *k).collect();
        let data = json_values(values.iter().copied());
        q.push(", ku AS (UPDATE inbox_contacts c SET wa_id = u.wa_id, user_id = u.user_id, version = u.version, data = u.data FROM UNNEST(");
        push_contacts(q, &values, data);
        q.push(", ");
        q.push_bind(upd_contacts.iter().map(|(_, v)| *v).collect::<Vec<_>>());
        q.push("::bigint[]) AS u(tenant_id, contact_id, wa_id, user_id, version, data, expected) \
                WHERE c.tenant_id = u.tenant_id AND c.contact_id = u.contact_id AND c.version = u.expected RETURNING 1)");
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
        // Their channels exist.
        let pairs: HashSet<(&str, &str)> = new_convs
            .iter()
            .map(|c| (c.tenant.as_str(), c.channel.as_str()))
            .collect();
        checks.push(("(SELECT n FROM chk)", pairs.len() as i64));
        let (pt, pc): (Vec<&str>, Vec<&str>) = pairs.into_iter().unzip();
        q.push(", chk AS (SELECT count(*) AS n FROM inbox_channels ch JOIN UNNEST(");
        q.push_bind(pt);
        q.push("::text[], ");
        q.push_bind(pc);
        q.push("::text[]) AS u(t, c) ON ch.tenant_id = u.t AND ch.channel_id = u.c)");
        let cols = ConvColumns::of(&new_convs)?;
        q.push(", cn AS (INSERT INTO inbox_conversations (tenant_id, conversation_id, channel_id, contact_id, status, assignee, team_id, \
                priority_rank, tags, last_activity_us, created_us, waiting_us, version, data, \
                first_response_secs, resolution_secs, first_response_business_secs, resolution_business_secs, reopen_count, \
                sla_policy, sla_kinds, sla_states, sla_warn_us, sla_due_us) \
                SELECT t, id, ch, k, st, a, tm, pr, tg::text[], la, cr, wt, v, d, fr, rs, frb, rsb, ro, sp, sk::text[], ss::text[], sw::bigint[], sd::bigint[] \
                FROM UNNEST(");
        cols.push(q);
        q.push(") AS u(t, id, ch, k, st, a, tm, pr, tg, la, cr, wt, v, d, fr, rs, frb, rsb, ro, sp, sk, ss, sw, sd) RETURNING 1)");
        checks.push(("(SELECT count(*) FROM cn)", new_convs.len() as i64));
    }
    let upd_convs: Vec<_> = convs
        .iter()
        .filter_map(|w| w.expected_version.map(|v| (&w.value, v as i64)))
        .collect();
    if !upd_convs.is_empty() {
        checks.push(("(SELECT count(*) FROM cu)", upd_convs.len() as i64));
        let values: Vec<_> = upd_convs.iter().map(|(c, _)| *c).collect();
        let cols = ConvColumns::of(&values)?;
        q.push(", cu AS (UPDATE inbox_conversations c SET status = u.st, assignee = u.a, team_id = u.tm, priority_rank = u.pr, \
                tags = u.tg::text[], \
                last_activity_us = u.la, created_us = u.cr, waiting_us = u.wt, version = u.v, data = u.d, \
                first_response_secs = u.fr, resolution_secs = u.rs, first_response_business_secs = u.frb, \
                resolution_business_secs = u.rsb, reopen_count = u.ro, sla_policy = u.sp, sla_kinds = u.sk::text[], \
                sla_states = u.ss::text[], sla_warn_us = u.sw::bigint[], sla_due_us = u.sd::bigint[] \
                FROM UNNEST(");
        cols.push(q);
        q.push(", ");
        q.push_bind(upd_convs.iter().map(|(_, v)| *v).collect::<Vec<_>>());
        q.push("::bigint[]) AS u(t, id, ch, k, st, a, tm, pr, tg, la, cr, wt, v, d, fr, rs, frb, rsb, ro, sp, sk, ss, sw, sd, expected) \
                WHERE c.tenant_id = u.t AND c.conversation_id = u.id AND c.channel_id = u.ch AND c.contact_id = u.k \
                AND c.version = u.expected RETURNING 1)");
    }

    // Outbox.
    let outbox: Vec<_> = jobs
        .iter()
        .flat_map(|j| j.changes.outbox.iter().map(move |o| (&j.changes, o)))
        .collect();
    if !outbox.is_empty() {
        q.push(", o AS (INSERT INTO inbox_outbox (tenant_id, message_id, conversation_id, not_before, attempts) SELECT * FROM UNNEST(");
        q.push_bind(
            outbox
                .iter()
                .map(|(_, o)| o.tenant.as_str())
                .collect::<Vec<_>>(),
        );
        q.push("::text[], ");
        q.push_bind(
            outbox
                .iter()
                .map(|(_, o)| o.message.as_str())
                .collect::<Vec<_>>(),
        );
        q.push("::text[], ");
        q.push_bind(
            outbox
                .iter()
                .map(|(ch, o)| crate::store::outbox_conversation(ch, o))
                .collect::<Vec<_>>(),
        );
        q.push("::text[], ");
        q.push_bind(
            outbox
                .iter()
                .map(|(_, o)| o.not_before)
                .collect::<Vec<DateTime<Utc>>>(),
        );
        q.push("::timestamptz[], ");
        q.push_bind(
            outbox
                .iter()
                .map(|(_, o)| o.attempts as i32)
                .collect::<Vec<_>>(),
        );
        q.push("::int[]) RETURNING 1)");
        checks.push(("(SELECT count(*) FROM o)", outbox.len() as i64));
    }

    // Timers.
    let timers: Vec<(&str, &TimerChange)> = jobs
        .iter()
        .flat_map(|j| j.changes.timers.iter().map(move |t| (j.tenant.as_str(), t)))
        .collect();
    let set: Vec<(&str, &inbox_core::timer::Timer)> = timers
        .iter()
        .filter_map(|(tenant, t)| match t {
            TimerChange::Set(t) => Some((*tenant, t)),
            TimerChange::Clear { .. } => None,
        })
        .collect();
    let clear: Vec<(&str, &str, &str)> = timers
        .iter()
        .filter_map(|(tenant, t)| match t {
            TimerChange::Clear { conversation, kind } => {
                Some((*tenant, conversation.as_str(), kind.as_str()))
            }
            TimerChange::Set(_) => None,
        })
        .collect();
    if !clear.is_empty() {
        q.push(", td AS (DELETE FROM inbox_timers t USING UNNEST(");
        q.push_bind(clear.iter().map(|c| c.0).collect::<Vec<_>>());
        q.push("::text[], ");
        q.push_bind(clear.iter().map(|c| c.1).collect::<Vec<_>>());
        q.push("::text[], ");
        q.push_bind(clear.iter().map(|c| c.2).collect::<Vec<_>>());
        q.push("::text[]) AS u(t, c, k) WHERE t.tenant_id = u.t AND t.conversation_id = u.c AND t.kind = u.k RETURNING 1)");
    }
    if !set.is_empty() {
        q.push(", ts AS (INSERT INTO inbox_timers (tenant_id, conversation_id, kind, due_at) SELECT * FROM UNNEST(");
        q.push_bind(set.iter().map(|(tenant, _)| *tenant).collect::<Vec<_>>());
        q.push("::text[], ");
        q.push_bind(
            set.iter()
                .map(|(_, t)| t.conversation.as_str())
                .collect::<Vec<_>>(),
        );
        q.push("::text[], ");
        q.push_bind(set.iter().map(|(_, t)| t.kind.as_str()).collect::<Vec<_>>());
        q.push("::text[], ");
        q.push_bind(
            set.iter()
                .map(|(_, t)| t.due_at)
                .collect::<Vec<DateTime<Utc>>>(),
        );
        q.push("::timestamptz[]) ON CONFLICT (tenant_id, conversation_id, kind) DO UPDATE SET due_at = EXCLUDED.due_at RETURNING 1)");
        checks.push(("(SELECT count(*) FROM ts)", set.len() as i64));
    }

    // Mutated messages (written only if their rows are still the versions
    // read; their provider ids may collide with another message's: either
    // fails the statement).
    let changed: &[inbox_core::model::Message] = applied.map(|a| &a.changed[..]).unwrap_or(&[]);
    if !changed.is_empty() {
        checks.push(("(SELECT count(*) FROM mu)", changed.len() as i64));
        q.push(", mu AS (UPDATE inbox_messages m SET external_id = u.ext, data = u.d, author_agent = u.aa, direction = u.dir, \
                next_response_secs = u.nr, next_response_business_secs = u.nrb FROM UNNEST(");
        q.push_bind(
            changed
                .iter()
                .map(|m| m.tenant.as_str())
                .collect::<Vec<_>>(),
        );
        q.push("::text[], ");
        q.push_bind(changed.iter().map(|m| m.id.as_str()).collect::<Vec<_>>());
        q.push("::text[], ");
        q.push_bind(
            changed
                .iter()
                .map(|m| m.external_id.as_deref())
                .collect::<Vec<_>>(),
        );
        q.push("::text[], ");
        q.push_bind(json_texts(changed.iter())?);
        q.push("::text[]::json[], ");
        q.push_bind(applied.map(|a| &a.versions[..]).unwrap_or(&[]));
        q.push("::text[], ");
        push_message_facts(q, MessageFactColumns::of(changed.iter()));
        q.push(") AS u(t, id, ext, d, x, aa, dir, nr, nrb) WHERE m.tenant_id = u.t AND m.message_id = u.id AND m.xmin = u.x::xid RETURNING 1)");
    }

    // Events: one sequence bump per tenant; the k-th event of a tenant in
    // this batch (the changesets' in job order, then the mutations') gets
    // `last - n + k`. The number goes in the `seq` column only: the JSON is
    // stored as the app serialised it (its `seq` is not yet known, so 0),
    // and every read takes the number from the column (`event_row`), so
    // the statement does not rewrite each event's document.
    let mut per_tenant: BTreeMap<&str, i64> = BTreeMap::new();
    // (tenant, k, event)
    let mut all: Vec<(&str, i64, &Event)> = Vec::new();
    let mutation_events: &[Event] = applied.map(|a| &a.events[..]).unwrap_or(&[]);
    let tagged = jobs
        .iter()
        .flat_map(|j| j.changes.events.iter().map(move |e| (j.tenant.as_str(), e)))
        .chain(mutation_events.iter().map(|e| (e.tenant.as_str(), e)));
    for (tenant, e) in tagged {
        let k = per_tenant.entry(tenant).or_default();
        *k += 1;
        all.push((tenant, *k, e));
    }
    if !all.is_empty() {
        checks.push(("(SELECT count(*) FROM ev)", all.len() as i64));
        // As text, cast to `json` (the column's type) by the statement: the
        // server validates it but does not parse it into `jsonb`.
        let data = all
            .iter()
            .map(|(_, _, e)| serde_json::to_string(e))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(why)?;
        let (seq_t, seq_n): (Vec<&str>, Vec<i64>) =
            per_tenant.iter().map(|(t, n)| (*t, *n)).unzip();
        q.push(", sq AS (UPDATE inbox_tenants t SET event_seq = t.event_seq + u.n FROM UNNEST(");
        q.push_bind(seq_t);
        q.push("::text[], ");
        q.push_bind(seq_n);
        q.push("::bigint[]) AS u(t, n) WHERE t.tenant_id = u.t RETURNING t.tenant_id, t.event_seq, u.n)");
        q.push(", ev AS (INSERT INTO inbox_events (tenant_id, seq, conversation_id, conversation_version, data) \
                SELECT e.t, s.event_seq - s.n + e.k, e.c, e.v, e.d::json \
                FROM UNNEST(");
        q.push_bind(all.iter().map(|(t, _, _)| *t).collect::<Vec<_>>());
        q.push("::text[], ");
        q.push_bind(all.iter().map(|(_, k, _)| *k).collect::<Vec<_>>());
        q.push("::bigint[], ");
        q.push_bind(
            all.iter()
                .map(|(_, _, e)| e.conversation.as_ref().map(|c| c.as_str()))
                .collect::<Vec<_>>(),
        );
        q.push("::text[], ");
        q.push_bind(
            all.iter()
                .map(|(_, _, e)| e.conversation_version.map(|v| v as i64))
                .collect::<Vec<_>>(),
        );
        q.push("::bigint[], ");
        q.push_bind(data);
        q.push("::text[]) AS e(t, k, c, v, d) JOIN sq s ON s.tenant_id = e.t RETURNING 1)");
    }

    // The checks, then each tenant's last sequence number. Each count is
    // read in turn, running its CTE (CTEs nobody reads run after the
    // `SELECT`): every write of the batch comes before the events, which
    // lock the tenants' sequence rows, so a batch holds those rows for its
    // events and its commit only. (Timers cleared are not counted: a
    // timer may already be gone.)
    q.push(" SELECT inbox_batch_checked(ARRAY[");
    let (reads, expected): (Vec<&str>, Vec<i64>) = checks.into_iter().unzip();
    q.push(reads.join(", "));
    q.push("]::bigint[], ");
    q.push_bind(expected);
    q.push("::bigint[]), ");
    q.push(if all.is_empty() {
        "'{}'::text[], '{}'::bigint[]"
    } else {
        "(SELECT array_agg(tenant_id) FROM sq), (SELECT array_agg(event_seq) FROM sq)"
    });
    // `fetch_one` reads up to the server's ready-for-query, so an error of
    // the implicit commit is seen too.
    let row = qb.build().fetch_one(&mut *conn).await.map_err(why)?;
    let seq_t: Vec<String> = row
        .try_get::<Option<Vec<String>>, _>(1)
        .map_err(why)?
        .unwrap_or_default();
    let seq_last: Vec<i64> = row
        .try_get::<Option<Vec<i64>>, _>(2)
        .map_err(why)?
        .unwrap_or_default();
    let mut next: BTreeMap<String, i64> = BTreeMap::new();
    for (t, last) in seq_t.into_iter().zip(&seq_last) {
        let n = per_tenant
            .get(t.as_str())
            .copied()
            .ok_or("sequence of an unknown tenant")?;
        next.insert(t, last - n + 1);
    }
    Ok(next)
}

/// Whether a batch can be written by the one statement of [`fast_in`]:
/// every message in its changeset's conversation (the slow path checks
/// others exist), no presence changes or round-robin cursors (rare), and no
/// conversation or contact written by two changesets (one statement cannot
/// change a row twice; the slow path lets the second see the first).
fn fits_one_statement(jobs: &[Job]) -> bool {
    let mut conversations = HashSet::new();
    let mut contacts = HashSet::new();
    jobs.iter().all(|j| {
        let ch = &j.changes;
        let conv = ch.conversation.as_ref().map(|w| &w.value.id);
        ch.presence.is_none()
            && ch.cursors.is_empty()
            && ch.messages.iter().all(|m| Some(&m.conversation) == conv)
            && ch
                .timers
                .iter()
                .all(|t| Some(timer_conversation(t)) == conv)
            && conv.is_none_or(|c| conversations.insert((&j.tenant, c)))
            && ch
                .contact
                .as_ref()
                .is_none_or(|w| contacts.insert((&j.tenant, &w.value.id)))
    })
}

fn timer_conversation(t: &TimerChange) -> &inbox_core::ids::ConversationId {
    match t {
        TimerChange::Set(t) => &t.conversation,
        TimerChange::Clear { conversation, .. } => conversation,
    }
}

fn why(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// Documents to bind as text and cast to `json[]` (the server validates
/// them and stores them as they are; see [`crate::facts`]).
fn json_texts<'a, T: serde::Serialize + 'a>(
    items: impl Iterator<Item = &'a T>,
) -> std::result::Result<Vec<String>, String> {
    items
        .map(|v| serde_json::to_string(v).map_err(why))
        .collect()
}

/// Pushes the messages' derived columns as bound arrays, comma-separated
/// (author agent, direction, next response and its business seconds).
fn push_message_facts<'a>(q: &mut QueryBuilder<'a, Postgres>, f: MessageFactColumns<'a>) {
    q.push_bind(f.author_agent);
    q.push("::text[], ");
    q.push_bind(f.direction);
    q.push("::text[], ");
    q.push_bind(f.next_response_secs);
    q.push("::bigint[], ");
    q.push_bind(f.next_response_business_secs);
    q.push("::bigint[]");
}

/// Values to bind as a `jsonb[]` (serialised straight into the statement).
fn json_values<'a, T: 'a>(items: impl Iterator<Item = &'a T>) -> Vec<Json<&'a T>> {
    items.map(Json).collect()
}

/// Column values of conversations for multi-row statements.
struct ConvColumns<'a> {
    tenant: Vec<&'a str>,
    id: Vec<&'a str>,
    channel: Vec<&'a str>,
    contact: Vec<&'a str>,
    status: Vec<&'static str>,
    assignee: Vec<Option<&'a str>>,
    team: Vec<Option<&'a str>>,
    priority: Vec<i16>,
    /// Each conversation's tags as one array literal (`{"a","b"}`): an
    /// array of arrays of different lengths cannot be bound.
    tags: Vec<String>,
    last_activity: Vec<i64>,
    created: Vec<i64>,
    waiting: Vec<Option<i64>>,
    version: Vec<i64>,
    /// The documents, serialised for the `json` column.
    data: Vec<String>,
    /// What reports read, beside the document.
    facts: ConversationFactColumns<'a>,
}

impl<'a> ConvColumns<'a> {
    fn of(cs: &[&'a Conversation]) -> std::result::Result<Self, String> {
        Ok(Self {
            tenant: cs.iter().map(|c| c.tenant.as_str()).collect(),
            id: cs.iter().map(|c| c.id.as_str()).collect(),
            channel: cs.iter().map(|c| c.channel.as_str()).collect(),
            contact: cs.iter().map(|c| c.contact.as_str()).collect(),
            status: cs.iter().map(|c| c.status.as_str()).collect(),
            assignee: cs
                .iter()
                .map(|c| c.assignee.as_ref().map(|a| a.as_str()))
                .collect(),
            team: cs
                .iter()
                .map(|c| c.team.as_ref().map(|t| t.as_str()))
                .collect(),
            priority: cs.iter().map(|c| priority_rank(c.priority)).collect(),
            tags: cs.iter().map(|c| text_array_literal(&c.tags)).collect(),
            last_activity: cs.iter().map(|c| micros(c.last_activity_at)).collect(),
            created: cs.iter().map(|c| micros(c.created_at)).collect(),
            waiting: cs.iter().map(|c| c.waiting_since.map(micros)).collect(),
            version: cs.iter().map(|c| c.version as i64).collect(),
            data: json_texts(cs.iter().copied())?,
            facts: ConversationFactColumns::of(cs),
        })
    }

    /// Pushes the columns as bound arrays, comma-separated, in declaration
    /// order (for `UNNEST(…)`).
    fn push(self, q: &mut QueryBuilder<'a, Postgres>) {
        q.push_bind(self.tenant);
        q.push("::text[], ");
        q.push_bind(self.id);
        q.push("::text[], ");
        q.push_bind(self.channel);
        q.push("::text[], ");
        q.push_bind(self.contact);
        q.push("::text[], ");
        q.push_bind(self.status);
        q.push("::text[], ");
        q.push_bind(self.assignee);
        q.push("::text[], ");
        q.push_bind(self.team);
        q.push("::text[], ");
        q.push_bind(self.priority);
        q.push("::smallint[], ");
        q.push_bind(self.tags);
        q.push("::text[], ");
        q.push_bind(self.last_activity);
        q.push("::bigint[], ");
        q.push_bind(self.created);
        q.push("::bigint[], ");
        q.push_bind(self.waiting);
        q.push("::bigint[], ");
        q.push_bind(self.version);
        q.push("::bigint[], ");
        q.push_bind(self.data);
        q.push("::text[]::json[], ");
        let f = self.facts;
        q.push_bind(f.first_response_secs);
        q.push("::bigint[], ");
        q.push_bind(f.resolution_secs);
        q.push("::bigint[], ");
        q.push_bind(f.first_response_business_secs);
        q.push("::bigint[], ");
        q.push_bind(f.resolution_business_secs);
        q.push("::bigint[], ");
        q.push_bind(f.reopen_count);
        q.push("::bigint[], ");
        q.push_bind(f.sla_policy);
        q.push("::text[], ");
        // Array literals, cast per row by the statement.
        q.push_bind(f.sla_kinds);
        q.push("::text[], ");
        q.push_bind(f.sla_states);
        q.push("::text[], ");
        q.push_bind(f.sla_warn_us);
        q.push("::text[], ");
        q.push_bind(f.sla_due_us);
        q.push("::text[]");
    }
}

fn push_contacts<'a>(
    q: &mut QueryBuilder<'a, Postgres>,
    ks: &[&'a Contact],
    data: Vec<Json<&'a Contact>>,
) {
    q.push_bind(ks.iter().map(|k| k.tenant.as_str()).collect::<Vec<_>>());
    q.push("::text[], ");
    q.push_bind(ks.iter().map(|k| k.id.as_str()).collect::<Vec<_>>());
    q.push("::text[], ");
    q.push_bind(
        ks.iter()
            .map(|k| k.identity.wa_id.as_deref())
            .collect::<Vec<_>>(),
    );
    q.push("::text[], ");
    q.push_bind(
        ks.iter()
            .map(|k| k.identity.user_id.as_deref())
            .collect::<Vec<_>>(),
    );
    q.push("::text[], ");
    q.push_bind(ks.iter().map(|k| k.version as i64).collect::<Vec<_>>());
    q.push("::bigint[], ");
    q.push_bind(data);
    q.push("::jsonb[]");
}
