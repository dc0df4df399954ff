//! Batched message mutations: delivery status reports, gathered.
//!
//! Every status webhook ends in [`Messages::update_messages`]: find
//! the message, read it under a row lock, apply the status, write it back
//! and record its event. Alone, that is a lookup and a transaction of four
//! round trips that also holds the tenant's event-sequence row from the
//! event to the commit, so a tenant's status reports go one at a time, in
//! line with its group-commit batches. Status reports outnumber inbound
//! messages two or three to one (sent, delivered, read for every reply), so
//! they go through group commit with the changesets ([`crate::batch`]): the
//! mutations that arrive while a batch is being written join the next one,
//! which finds and reads all their messages with one query, applies the
//! mutations in arrival order (several for one message see each other, as
//! they would one after another), and writes them with its one statement
//! (a multi-row `UPDATE` and their events, numbered with the changesets'
//! events), one commit. [`Messages::update_message`] goes the same way.
//!
//! The read takes no lock (the batch has no transaction open across round
//! trips; see [`crate::batch`]): each message's row version (`xmin`) is
//! read with it, and the statement writes a changed message only if its
//! version is still that one. If another batch or instance changed it in
//! between, the statement's checks fail and the batch is redone; a
//! mutation redone alone reads its message under a row lock.
//!
//! The reports of one webhook (one [`Messages::update_messages`] call) are
//! one unit of the committers' queue: they land in one batch, in their
//! order, so a message's sent, delivered and read reports are one lookup
//! and one row write (three events) instead of three batches.
//!
//! [`Messages::update_message`]: inbox_core::ports::Messages::update_message
//! [`Messages::update_messages`]: inbox_core::ports::Messages::update_messages

use sqlx::{PgConnection, PgPool, Row};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::oneshot;

use inbox_core::error::{Conflict, Entity, Error, Result, Unique};
use inbox_core::event::{Event, Scope};
use inbox_core::ids::{AgentId, ChannelId, MessageId, TeamId, TenantId};
use inbox_core::model::Message;
use inbox_core::ports::{MessageMutation, MessageUpdated};

use crate::error::{db, unique_violation};
use crate::lookups::{self, status_target, StatusKey};
use crate::sql::{column, Statement};
use crate::tables::{events, messages};

/// Which message a mutation is for.
pub(crate) enum Target {
    /// [`MessageTarget::Id`]: this one (missing is `NotFound`).
    ///
    /// [`MessageTarget::Id`]: inbox_core::ports::MessageTarget::Id
    Id(MessageId),
    /// [`MessageTarget::Status`]: the one a status report
    /// concerns, found as `message_for_status` finds it (missing is
    /// `None`).
    ///
    /// [`MessageTarget::Status`]: inbox_core::ports::MessageTarget::Status
    Status {
        channel: ChannelId,
        ours: Option<MessageId>,
        external_id: String,
    },
}

/// One mutation waiting for its batch.
pub(crate) struct MutationJob {
    pub tenant: TenantId,
    pub target: Target,
    pub mutation: MessageMutation,
    pub reply: oneshot::Sender<Result<Option<MessageUpdated>>>,
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

    /// Counts a batch that applied `n` mutations.
    pub(crate) fn count_batch(&self, n: usize) {
        self.batches.fetch_add(1, Ordering::Relaxed);
        self.batched.fetch_add(n as u64, Ordering::Relaxed);
    }
}

/// Mutations applied to the messages as read, waiting to be written by
/// the batch's statement.
pub(crate) struct Applied {
    /// The changed messages, in their final state (one row each).
    pub changed: Vec<Message>,
    /// The row version (`xmin`, as text) each of `changed` was read at: the
    /// statement writes it only if its row is still that version.
    pub versions: Vec<String>,
    /// Each job's outcome: its error, no message (a status for an unknown
    /// message), or its message.
    pub outcomes: Vec<Result<Option<Found>>>,
    /// The events, in job order.
    pub events: Vec<Event>,
}

/// The message a mutation was applied to.
pub(crate) struct Found {
    pub message: MessageId,
    /// Where its event is in [`Applied::events`], if it has one.
    pub event: Option<usize>,
}

/// Finds the jobs' messages (a status's as `message_for_status` does),
/// reads them with their row versions (no lock: the batch's statement
/// checks the versions) and applies the mutations in arrival order:
/// several for one message see each other, as they would one after
/// another.
pub(crate) async fn read_and_apply(
    conn: &mut PgConnection,
    jobs: &[MutationJob],
) -> Result<Applied> {
    let mut tenants = Vec::with_capacity(jobs.len());
    let mut ids = Vec::with_capacity(jobs.len());
    let mut channels = Vec::with_capacity(jobs.len());
    let mut ours = Vec::with_capacity(jobs.len());
    let mut external = Vec::with_capacity(jobs.len());
    for job in jobs {
        tenants.push(job.tenant.as_str());
        match &job.target {
            Target::Id(id) => {
                ids.push(Some(id.as_str()));
                channels.push(None);
                ours.push(None);
                external.push(None);
            }
            Target::Status {
                channel,
                ours: our_id,
                external_id,
            } => {
                ids.push(None);
                channels.push(Some(channel.as_str()));
                ours.push(our_id.as_ref().map(|m| m.as_str()));
                external.push(Some(external_id.as_str()));
            }
        }
    }
    // `r`: each job's message id (a status's: our outbound message on the
    // channel, else the provider id's); then the messages and their row
    // versions.
    let rows = sqlx::query(concat!(
        "WITH r AS MATERIALIZED (SELECT u.ord, u.t, COALESCE(u.id, (",
        status_target!("message_id"),
        ")) AS id \
            FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) WITH ORDINALITY \
                 AS u(t, id, ch, ours, ext, ord)) \
         SELECT r.ord, m.message_id, m.data, m.xmin::text, c.channel_id, c.team_id, c.assignee FROM r \
         JOIN inbox_messages m ON m.tenant_id = r.t AND m.message_id = r.id \
         LEFT JOIN inbox_conversations c ON c.tenant_id = m.tenant_id AND c.conversation_id = m.conversation_id",
    ))
    .bind(&tenants)
    .bind(&ids)
    .bind(&channels)
    .bind(&ours)
    .bind(&external)
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| db("update message", e))?;
    // The job (by position) -> its message's key; the messages, once each.
    let mut found: Vec<Option<(String, String)>> = vec![None; jobs.len()];
    // (tenant, id) -> (message, its row version, changed)
    let mut messages: BTreeMap<(String, String), (Message, String, bool)> = BTreeMap::new();
    // (tenant, id) -> its conversation's scope, read with it.
    let mut scopes: BTreeMap<(String, String), Option<Scope>> = BTreeMap::new();
    for row in rows {
        let ord: i64 = row.get(0);
        let id: String = row.get(1);
        let Some((i, job)) = usize::try_from(ord - 1)
            .ok()
            .and_then(|i| jobs.get(i).map(|j| (i, j)))
        else {
            continue;
        };
        let key = (job.tenant.to_string(), id);
        if !messages.contains_key(&key) {
            if let Some(m) = column::<Message>(&row, 2, "message")? {
                let version: String = row.try_get(3).map_err(|e| db("update message", e))?;
                messages.insert(key.clone(), (m, version, false));
                scopes.insert(key.clone(), scope_columns(&row, 4));
            }
        }
        if let Some(slot) = found.get_mut(i) {
            *slot = Some(key);
        }
    }
    let mut outcomes = Vec::with_capacity(jobs.len());
    let mut events = Vec::new();
    for (job, key) in jobs.iter().zip(found) {
        let scope = key.as_ref().and_then(|k| scopes.get(k)).cloned().flatten();
        let Some((message, _, changed)) = key.as_ref().and_then(|k| messages.get_mut(k)) else {
            outcomes.push(match &job.target {
                Target::Id(id) => Err(Error::not_found(Entity::Message, id)),
                Target::Status { .. } => Ok(None),
            });
            continue;
        };
        let mutated = job.mutation.apply(message);
        *changed |= mutated.changed;
        let slot = mutated.event.map(|mut e| {
            e.scope = scope;
            events.push(e);
            events.len() - 1
        });
        outcomes.push(Ok(Some(Found {
            message: message.id.clone(),
            event: slot,
        })));
    }
    let (changed, versions) = messages
        .into_values()
        .filter(|(_, _, changed)| *changed)
        .map(|(m, version, _)| (m, version))
        .unzip();
    Ok(Applied {
        changed,
        versions,
        outcomes,
        events,
    })
}

/// A mutation in a transaction of its own (without group commit, and for
/// batches that must be redone one at a time): its message found (a
/// status's as `message_for_status` finds it), read under a row lock,
/// mutated, written, its event recorded.
pub(crate) async fn alone(pool: &PgPool, job: &MutationJob) -> Result<Option<MessageUpdated>> {
    let id = match &job.target {
        Target::Id(id) => id.clone(),
        Target::Status {
            channel,
            ours,
            external_id,
        } => {
            let key = StatusKey {
                at: lookups::Scope::of(&job.tenant, channel, external_id),
                our_id: ours.clone(),
            };
            match lookups::status(pool, key).await? {
                Some(m) => m.id,
                None => return Ok(None),
            }
        }
    };
    match update_alone(pool, &job.tenant, &id, &job.mutation).await {
        Ok(event) => Ok(Some(MessageUpdated { message: id, event })),
        Err(Error::NotFound { .. }) if matches!(job.target, Target::Status { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// [`Messages::update_message`](inbox_core::ports::Messages::update_message) in a
/// transaction of its own.
async fn update_alone(
    pool: &PgPool,
    tenant: &TenantId,
    id: &MessageId,
    mutation: &MessageMutation,
) -> Result<Option<Event>> {
    let mut tx = pool.begin().await.map_err(|e| db("begin", e))?;
    sqlx::query("SELECT 1 FROM inbox_tenants WHERE tenant_id = $1 FOR NO KEY UPDATE")
        .bind(tenant.as_str())
        .execute(&mut *tx)
        .await
        .map_err(|e| db("lock tenant", e))?;
    let (mut message, version) = messages::locked(&mut tx, tenant, id)
        .await?
        .ok_or_else(|| Error::not_found(Entity::Message, id))?;
    let mutated = mutation.apply(&mut message);
    if !mutated.changed {
        let _ = tx.rollback().await;
        return Ok(None);
    }
    let mut st = Statement::new();
    messages::update(
        &mut st,
        std::slice::from_ref(&message),
        std::slice::from_ref(&version),
    )?;
    match st.run(&mut tx, "").await {
        Ok((true, _)) => {}
        // Cannot happen: the row is locked.
        Ok((false, _)) => {
            let _ = tx.rollback().await;
            return Err(Error::Conflict(Box::new(Conflict::on(
                Entity::Message,
                id,
                0,
                0,
            ))));
        }
        Err(e) => {
            let _ = tx.rollback().await;
            return Err(match unique_violation(&e) {
                Some(_) => {
                    let ext = message.external_id.clone().unwrap_or_default();
                    let other = messages::BY_EXTERNAL_ID
                        .one(pool, &[tenant.as_str(), message.channel.as_str(), &ext])
                        .await?;
                    Error::Duplicate {
                        what: Unique::Message,
                        existing: other.map(|m| m.id.to_string()).unwrap_or_default(),
                    }
                }
                None => db("update message", e),
            });
        }
    }
    let recorded = match mutated.event {
        Some(mut e) => {
            e.scope = conversation_scope(&mut tx, tenant, &message).await?;
            events::record(&mut tx, vec![e]).await?.pop()
        }
        None => None,
    };
    tx.commit().await.map_err(|e| db("commit", e))?;
    Ok(recorded)
}

/// The scope (who may see it) of a message's conversation from the
/// columns `at..at + 3` of a row: its channel, team and owner (`None` if
/// the conversation was not found or a column does not read as an id).
/// A message's events carry it, so live subscribers decide whether an
/// agent sees them without reading the conversation.
fn scope_columns(row: &sqlx::postgres::PgRow, at: usize) -> Option<Scope> {
    let text = |i: usize| row.try_get::<Option<String>, _>(at + i).ok().flatten();
    Some(Scope {
        channel: ChannelId::new(text(0)?).ok()?,
        team: text(1).and_then(|t| TeamId::new(t).ok()),
        owner: text(2).and_then(|a| AgentId::new(a).ok()),
    })
}

/// The scope of `message`'s conversation as it stands in the transaction.
async fn conversation_scope(
    tx: &mut PgConnection,
    tenant: &TenantId,
    message: &Message,
) -> Result<Option<Scope>> {
    let row = sqlx::query(
        "SELECT channel_id, team_id, assignee FROM inbox_conversations \
         WHERE tenant_id = $1 AND conversation_id = $2",
    )
    .bind(tenant.as_str())
    .bind(message.conversation.as_str())
    .fetch_optional(&mut *tx)
    .await
    .map_err(|e| db("update message", e))?;
    Ok(row.and_then(|r| scope_columns(&r, 0)))
}
