//! The PostgreSQL [`Store`](inbox_core::ports::Store).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::Serialize;
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::types::Json;
use sqlx::{Postgres, QueryBuilder, Row, Transaction};
use std::collections::HashMap;
use std::time::{Duration, Instant};

use inbox_core::error::{Conflict, Entity, Error, Result, Unique};
use inbox_core::event::Event;
use inbox_core::ids::{AgentId, ChannelId, ContactId, ConversationId, MessageId, TeamId, TenantId};
use inbox_core::model::{
    Agent, Channel, Contact, ContactIdentity, Conversation, Message, Priority, Team, Tenant,
};
use inbox_core::ports::{
    Changeset, Committed, Contacts, Conversations, Directory, IngestContext, Lease, LoadScope,
    MessageMutation, MessageTarget, MessageUpdate, MessageUpdated, Messages, OutboxClaim,
    OutboxDisposition, OutboxEntry, Reports, Scheduling,
};
use inbox_core::query::{
    AssigneeFilter, ConversationQuery, Cursor, Page, SearchHit, SearchQuery, SortOrder, ValidSearch,
};
use inbox_core::timer::{Timer, TimerChange, TimerKind};

use tokio::sync::{mpsc, oneshot};

use crate::batch::{GroupCommit, GroupCommitStats, Job, Work};
use crate::error::{corrupt, db, fk_violation, unique_violation};
use crate::facts::{ConversationFacts, MessageFactColumns, MessageFacts};
use crate::mutations::{MutationBatchStats, MutationJob, Target};
use crate::plans::BatchPools;
use crate::reads::{ContextKey, ReadBatchStats, Readers, StatusKey};
use std::sync::Arc;

/// The migrations of this store, for embedders who run migrations
/// themselves (`MIGRATOR.run(&pool)`), or to inspect.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// A [`Store`](inbox_core::ports::Store) on PostgreSQL.
///
/// Every commit is one transaction; optimistic version checks and unique
/// indexes make it safe for any number of application instances sharing
/// the database. See the crate documentation for the schema and its
/// guarantees.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
    batcher: Option<mpsc::UnboundedSender<Work>>,
    stats: Arc<GroupCommitStats>,
    readers: Option<Readers>,
    read_stats: Arc<ReadBatchStats>,
    mutation_stats: Arc<MutationBatchStats>,
    /// The connections of the committers and readers (see
    /// [`PgStore::with_group_commit`]).
    batch_pool: Option<BatchPools>,
    channels: Arc<std::sync::RwLock<ChannelCache>>,
    search_probe_limit: usize,
}

/// Phone number id → (channel, when looked up).
type ChannelCache = HashMap<String, (Option<Channel>, Instant)>;

/// How long a phone-number lookup is cached. Channels change rarely; a
/// change made through another instance is seen after at most this long.
const CHANNEL_TTL: Duration = Duration::from_secs(5);

fn to_json<T: Serialize>(v: &T) -> Json<&T> {
    Json(v)
}

/// Binds a conversation's derived columns (`facts.rs`), in their order.
trait BindFacts<'q> {
    fn bind_facts(self, f: &'q ConversationFacts<'q>) -> Self;
}

impl<'q> BindFacts<'q>
    for sqlx::query::Query<'q, Postgres, <Postgres as sqlx::Database>::Arguments<'q>>
{
    fn bind_facts(self, f: &'q ConversationFacts<'q>) -> Self {
        self.bind(f.first_response_secs)
            .bind(f.resolution_secs)
            .bind(f.first_response_business_secs)
            .bind(f.resolution_business_secs)
            .bind(f.reopen_count)
            .bind(f.sla_policy)
            .bind(f.sla_kinds.as_deref())
            .bind(f.sla_states.as_deref())
            .bind(f.sla_warn_us.as_deref())
            .bind(f.sla_due_us.as_deref())
    }
}

/// A document serialised for a `json` column (bound as text, cast by the
/// statement).
pub(crate) fn json_text<T: Serialize>(what: &'static str, v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| corrupt(what, e))
}

fn from_json<T: DeserializeOwned>(what: &'static str, v: serde_json::Value) -> Result<T> {
    serde_json::from_value(v).map_err(|e| corrupt(what, e))
}

pub(crate) fn micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

pub(crate) fn priority_rank(p: Priority) -> i16 {
    match p {
        Priority::Low => 0,
        Priority::Normal => 1,
        Priority::High => 2,
        Priority::Urgent => 3,
    }
}

/// Why a transaction body stopped.
pub(crate) enum Failure {
    /// A unique index refused a row; explained after rollback.
    Unique(String),
    /// A core error to return as is.
    Core(Error),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::Core(e)
    }
}

fn fail(context: &'static str) -> impl Fn(sqlx::Error) -> Failure {
    move |e| match unique_violation(&e) {
        Some(c) => Failure::Unique(c),
        None => Failure::Core(db(context, e)),
    }
}

impl PgStore {
    /// Outbound messages in doubt on the number and in the team (any
    /// conversation status), through the partial index of migration 18.
    async fn count_in_doubt(
        &self,
        tenant: &TenantId,
        query: &inbox_core::metrics::LiveQuery,
    ) -> Result<u64> {
        let mut qb =
            QueryBuilder::new("SELECT count(*) FROM inbox_messages m WHERE m.tenant_id = ");
        qb.push_bind(tenant.as_str().to_string()).push(
            " AND m.external_id IS NULL AND m.direction = 'outbound' \
             AND (m.data -> 'delivery' ->> 'in_doubt_since') IS NOT NULL \
             AND (m.data -> 'delivery' ->> 'status') = 'pending' \
             AND (m.data -> 'delivery' ->> 'resent_as') IS NULL",
        );
        if let Some(c) = &query.channel {
            qb.push(" AND m.channel_id = ")
                .push_bind(c.as_str().to_string());
        }
        if let Some(t) = &query.team {
            qb.push(
                " AND EXISTS (SELECT 1 FROM inbox_conversations c WHERE c.tenant_id = m.tenant_id \
                 AND c.conversation_id = m.conversation_id AND c.team_id = ",
            )
            .push_bind(t.as_str().to_string())
            .push(")");
        }
        let row = qb
            .build()
            .fetch_one(&self.pool)
            .await
            .map_err(|e| db("live snapshot: messages in doubt", e))?;
        Ok(row.get::<i64, _>(0) as u64)
    }

    /// Connects with a pool of up to `max_connections`, without running
    /// migrations, with group commit on (see [`PgStore::with_group_commit`]).
    /// Must be called inside a Tokio runtime.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self> {
        use std::str::FromStr;
        // JIT compilation pays off for long analytical scans, not for the
        // short statements of an inbox: it added ~200 ms to searches whose
        // estimated cost crossed jit_above_cost. Off for this pool.
        let options = sqlx::postgres::PgConnectOptions::from_str(url)
            .map_err(|e| db("connecting", e))?
            .options([("jit", "off")]);
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(options)
            .await
            .map_err(|e| db("connecting", e))?;
        Ok(Self::from_pool(pool).with_group_commit(GroupCommit::default()))
    }

    /// A store on an existing pool, committing each changeset in its own
    /// transaction (no group commit).
    pub fn from_pool(pool: PgPool) -> Self {
        Self {
            pool,
            batcher: None,
            stats: Arc::default(),
            readers: None,
            read_stats: Arc::default(),
            mutation_stats: Arc::default(),
            batch_pool: None,
            channels: Arc::default(),
            search_probe_limit: 10_000,
        }
    }

    /// Turns group commit on: commits that arrive while others are being
    /// written share their transaction, so a tenant's commits (serialised
    /// by its event sequence) pay one statement and one WAL flush per batch
    /// instead of several statements and a flush each. Each commit still
    /// succeeds or fails on its own. Ingest lookups
    /// ([`Conversations::ingest_context`], finding the message a status
    /// report concerns) are
    /// batched the same way. Spawns the committer and reader tasks on the
    /// current Tokio runtime.
    ///
    /// The batches run on connections of their own: two lazily connected
    /// pools of up to `committers + readers + 1` connections each (each
    /// committer and reader keeps one from batch to batch, since taking a
    /// connection from a pool and giving it back cost a round trip each;
    /// the one more is for the statistics check and batches redone one
    /// changeset at a time). On the
    /// first, statements are planned for every execution; it serves until
    /// the keyed tables (messages, conversations, contacts) have statistics
    /// -- checked every two seconds, or at once by
    /// [`PgStore::check_statistics`]. Then the second serves: it keeps
    /// generic plans, made once per connection, with sequential scans,
    /// bitmap scans, hash and merge joins turned off so that every plan is
    /// nested loops over index scans (planning was 13% of PostgreSQL's time
    /// under ingest load). [`GroupCommit::generic_plans`] turns this off.
    ///
    /// ```no_run
    /// # async fn demo() -> inbox_core::Result<()> {
    /// use inbox_store_postgres::{GroupCommit, PgStore};
    /// let store = PgStore::connect("postgres://postgres@127.0.0.1/inbox", 16)
    ///     .await?
    ///     .with_group_commit(GroupCommit { committers: 1, ..GroupCommit::default() });
    /// # let _ = store; Ok(()) }
    /// ```
    pub fn with_group_commit(mut self, settings: GroupCommit) -> Self {
        // Batches run on connections of their own, planned per execution
        // until the tables have statistics, then with generic plans (see
        // `crate::plans`).
        let committers = settings.committers.max(1);
        let readers = settings.readers.max(1);
        let pools = BatchPools::new(
            self.pool.connect_options().as_ref(),
            u32::try_from(committers + readers).unwrap_or(u32::MAX),
            settings.generic_plans,
        );
        self.batcher = Some(crate::batch::spawn(
            pools.clone(),
            settings,
            crate::batch::Counters {
                commits: self.stats.clone(),
                mutations: self.mutation_stats.clone(),
            },
        ));
        self.readers = Some(Readers::spawn(
            pools.clone(),
            readers,
            settings.max_batch,
            self.read_stats.clone(),
        ));
        self.batch_pool = Some(pools);
        self
    }

    /// Search fetches the matching conversations by key when at most this
    /// many match (default 10,000), and otherwise walks conversations in
    /// activity order probing each (fast for common words). Exposed to test
    /// both paths.
    pub fn with_search_probe_limit(mut self, limit: usize) -> Self {
        self.search_probe_limit = limit;
        self
    }

    /// Group commit counters.
    pub fn group_commit_stats(&self) -> &GroupCommitStats {
        &self.stats
    }

    /// Counters of the batched ingest lookups.
    pub fn read_batch_stats(&self) -> &ReadBatchStats {
        &self.read_stats
    }

    /// Whether group commit's statements use generic plans (made once per
    /// connection) yet: they do once the tables have statistics, and are
    /// planned per execution before (see [`PgStore::with_group_commit`]).
    /// `false` without group commit.
    pub fn uses_generic_plans(&self) -> bool {
        self.batch_pool
            .as_ref()
            .is_some_and(BatchPools::uses_generic_plans)
    }

    /// Asks the database now whether the tables have statistics, so group
    /// commit switches to generic plans at once rather than at its next
    /// periodic check (after an `ANALYZE`, say); returns
    /// [`PgStore::uses_generic_plans`].
    pub async fn check_statistics(&self) -> bool {
        match &self.batch_pool {
            Some(pools) => pools.check_now().await,
            None => false,
        }
    }

    /// Counters of the batched message mutations (delivery statuses).
    pub fn mutation_batch_stats(&self) -> &MutationBatchStats {
        &self.mutation_stats
    }

    /// Turns group commit off.
    pub fn without_group_commit(mut self) -> Self {
        self.batcher = None;
        self.readers = None;
        self.batch_pool = None;
        self
    }

    /// The pool (for the event bus, health checks, the embedder's own
    /// queries).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Closes the store's connections (the pool, and those of group
    /// commit), waiting for the ones in use to be returned. Operations
    /// afterwards fail with [`Error::Unavailable`].
    pub async fn close(&self) {
        self.pool.close().await;
        if let Some(pools) = &self.batch_pool {
            pools.close().await;
        }
    }

    /// Applies the pending migrations.
    pub async fn migrate(&self) -> Result<()> {
        MIGRATOR.run(&self.pool).await.map_err(|e| Error::Backend {
            message: "PostgreSQL: migrations failed".into(),
            source: Some(Box::new(crate::error::PgStoreError::Migrate(e))),
        })
    }

    async fn fetch_data<T: DeserializeOwned>(
        &self,
        what: &'static str,
        sql: &'static str,
        a: &str,
        b: &str,
    ) -> Result<Option<T>> {
        let row = sqlx::query(sql)
            .bind(a)
            .bind(b)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| db(what, e))?;
        match row {
            Some(r) => Ok(Some(from_json(what, r.get::<serde_json::Value, _>(0))?)),
            None => Ok(None),
        }
    }

    async fn list_data<T: DeserializeOwned>(
        &self,
        what: &'static str,
        sql: &'static str,
        tenant: &str,
    ) -> Result<Vec<T>> {
        let rows = sqlx::query(sql)
            .bind(tenant)
            .fetch_all(&self.pool)
            .await
            .map_err(|e| db(what, e))?;
        rows.into_iter()
            .map(|r| from_json(what, r.get::<serde_json::Value, _>(0)))
            .collect()
    }

    /// Mutations applied in the order given, each with its own result: one
    /// unit of group commit (they land in one batch, in this order), or one
    /// after another in transactions of their own without it.
    async fn mutate_in_order(
        &self,
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
        let unsent = match &self.batcher {
            None => Some(jobs),
            Some(batcher) => match batcher.send(Work::Mutate(jobs)) {
                Ok(()) => None,
                // The committers are gone (the runtime is shutting down).
                Err(mpsc::error::SendError(Work::Mutate(jobs))) => Some(jobs),
                Err(_) => None,
            },
        };
        for job in unsent.into_iter().flatten() {
            let r = self.mutate_alone(&job).await;
            let _ = job.reply.send(r);
        }
        let mut results = Vec::with_capacity(answers.len());
        for answer in answers {
            results.push(
                answer.await.unwrap_or_else(|_| {
                    Err(Error::unavailable("PostgreSQL: the committer stopped"))
                }),
            );
        }
        results
    }

    /// A mutation in a transaction of its own (without group commit, and
    /// for batches that must be redone one at a time).
    pub(crate) async fn mutate_alone(&self, job: &MutationJob) -> Result<Option<MessageUpdated>> {
        let id = match &job.target {
            Target::Id(id) => id.clone(),
            Target::Status {
                channel,
                ours,
                external_id,
            } => match self
                .message_for_status(&job.tenant, channel, ours.as_ref(), external_id)
                .await?
            {
                Some(m) => m.id,
                None => return Ok(None),
            },
        };
        match self
            .update_message_alone(&job.tenant, &id, &job.mutation)
            .await
        {
            Ok(event) => Ok(Some(MessageUpdated { message: id, event })),
            Err(Error::NotFound { .. }) if matches!(job.target, Target::Status { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// [`Messages::update_message`] in a transaction of its own.
    async fn update_message_alone(
        &self,
        tenant: &TenantId,
        id: &MessageId,
        mutation: &MessageMutation,
    ) -> Result<Option<Event>> {
        let mut tx = self.pool.begin().await.map_err(|e| db("begin", e))?;
        let row = sqlx::query(
            "SELECT data FROM inbox_messages WHERE tenant_id = $1 AND message_id = $2 FOR UPDATE",
        )
        .bind(tenant.as_str())
        .bind(id.as_str())
        .fetch_optional(&mut *tx)
        .await
        .map_err(|e| db("update message", e))?
        .ok_or_else(|| Error::not_found(Entity::Message, id))?;
        let mut message: Message = from_json("message", row.get::<serde_json::Value, _>(0))?;
        let mutated = mutation.apply(&mut message);
        if !mutated.changed {
            let _ = tx.rollback().await;
            return Ok(None);
        }
        let facts = MessageFacts::of(&message);
        let r = sqlx::query(
            "UPDATE inbox_messages SET external_id = $3, data = $4::json, author_agent = $5, direction = $6, \
             next_response_secs = $7, next_response_business_secs = $8 WHERE tenant_id = $1 AND message_id = $2",
        )
        .bind(tenant.as_str())
        .bind(id.as_str())
        .bind(message.external_id.as_deref())
        .bind(json_text("message", &message)?)
        .bind(facts.author_agent)
        .bind(facts.direction)
        .bind(facts.next_response_secs)
        .bind(facts.next_response_business_secs)
        .execute(&mut *tx)
        .await;
        if let Err(e) = r {
            let _ = tx.rollback().await;
            return Err(match unique_violation(&e) {
                Some(_) => {
                    let ext = message.external_id.clone().unwrap_or_default();
                    let other = self
                        .message_by_external_id(tenant, &message.channel, &ext)
                        .await?;
                    Error::Duplicate {
                        what: Unique::Message,
                        existing: other.map(|m| m.id.to_string()).unwrap_or_default(),
                    }
                }
                None => db("update message", e),
            });
        }
        let recorded = match mutated.event {
            Some(e) => record_events(&mut tx, tenant, vec![e]).await?.pop(),
            None => None,
        };
        tx.commit().await.map_err(|e| db("commit", e))?;
        Ok(recorded)
    }

    pub(crate) async fn commit_alone(
        &self,
        tenant: &TenantId,
        changes: &Changeset,
    ) -> Result<Committed> {
        let tenant = tenant.clone();
        let mut tx = self.pool.begin().await.map_err(|e| db("begin", e))?;
        match self.commit_in(&mut tx, &tenant, changes).await {
            Ok(events) => {
                tx.commit().await.map_err(|e| match unique_violation(&e) {
                    Some(_) => Error::Conflict(Box::new(Conflict::on(
                        Entity::Commit,
                        "deferred unique key",
                        0,
                        0,
                    ))),
                    None => db("commit", e),
                })?;
                Ok(Committed { events })
            }
            Err(Failure::Unique(constraint)) => {
                let _ = tx.rollback().await;
                Err(self.explain_duplicate(&tenant, changes, &constraint).await)
            }
            Err(Failure::Core(e)) => {
                let _ = tx.rollback().await;
                Err(e)
            }
        }
    }

    /// Says which unique key a failed commit collided with, and with what.
    pub(crate) async fn explain_duplicate(
        &self,
        tenant: &TenantId,
        ch: &Changeset,
        constraint: &str,
    ) -> Error {
        // Messages first: a redelivered webhook is a duplicate message,
        // whatever else raced with it.
        for m in &ch.messages {
            if let Some(ext) = &m.external_id {
                if let Ok(Some(existing)) =
                    self.message_by_external_id(tenant, &m.channel, ext).await
                {
                    return Error::Duplicate {
                        what: Unique::Message,
                        existing: existing.id.to_string(),
                    };
                }
            }
            if let Some(key) = &m.idempotency_key {
                if let Ok(Some(existing)) = self.message_by_idempotency_key(tenant, key).await {
                    return Error::Duplicate {
                        what: Unique::IdempotencyKey,
                        existing: existing.id.to_string(),
                    };
                }
            }
            if constraint == "inbox_messages_pkey" && self.message(tenant, &m.id).await.is_ok() {
                return Error::Duplicate {
                    what: Unique::Message,
                    existing: m.id.to_string(),
                };
            }
        }
        if let Some(w) = &ch.contact {
            if constraint == "inbox_contacts_pkey" {
                return Error::Duplicate {
                    what: Unique::Contact,
                    existing: w.value.id.to_string(),
                };
            }
            if let Ok(Some(other)) = self.find_contact_strict(tenant, &w.value).await {
                return Error::Duplicate {
                    what: Unique::Contact,
                    existing: other,
                };
            }
        }
        if let Some(w) = &ch.conversation {
            let c = &w.value;
            if constraint == "inbox_conversations_pkey" {
                return Error::Duplicate {
                    what: Unique::Conversation,
                    existing: c.id.to_string(),
                };
            }
            if let Ok(Some(active)) = self
                .latest_conversation(tenant, &c.channel, &c.contact)
                .await
            {
                if active.status.is_active() && active.id != c.id {
                    return Error::Duplicate {
                        what: Unique::ActiveConversation,
                        existing: active.id.to_string(),
                    };
                }
            }
        }
        if constraint == "inbox_outbox_pkey" {
            return Error::Duplicate {
                what: Unique::OutboxEntry,
                existing: String::new(),
            };
        }
        // The colliding row is gone again (a race): let the caller retry.
        Error::Conflict(Box::new(Conflict::on(Entity::UniqueKey, constraint, 0, 0)))
    }

    /// Inserts or replaces a directory document (agent, team) of a tenant.
    async fn upsert_doc<T: Serialize + Sync>(
        &self,
        what: &'static str,
        sql: &'static str,
        tenant: &TenantId,
        id: &str,
        value: &T,
    ) -> Result<()> {
        let r = sqlx::query(sql)
            .bind(tenant.as_str())
            .bind(id)
            .bind(to_json(value))
            .execute(&self.pool)
            .await;
        match r {
            Ok(_) => Ok(()),
            Err(e) if fk_violation(&e) => Err(Error::not_found(Entity::Tenant, tenant)),
            Err(e) => Err(db(what, e)),
        }
    }

    /// Another contact holding one of `k`'s identifiers.
    async fn find_contact_strict(&self, tenant: &TenantId, k: &Contact) -> Result<Option<String>> {
        let row = sqlx::query(
            "SELECT contact_id FROM inbox_contacts WHERE tenant_id = $1 AND contact_id <> $2 \
             AND ((wa_id IS NOT NULL AND wa_id = $3) OR (user_id IS NOT NULL AND user_id = $4)) LIMIT 1",
        )
        .bind(tenant.as_str())
        .bind(k.id.as_str())
        .bind(k.identity.wa_id.as_deref())
        .bind(k.identity.user_id.as_deref())
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| db("find contact", e))?;
        Ok(row.map(|r| r.get::<String, _>(0)))
    }

    pub(crate) async fn commit_in(
        &self,
        tx: &mut Transaction<'_, Postgres>,
        tenant: &TenantId,
        ch: &Changeset,
    ) -> std::result::Result<Vec<Event>, Failure> {
        let t = tenant.as_str();
        let exists = sqlx::query("SELECT 1 FROM inbox_tenants WHERE tenant_id = $1")
            .bind(t)
            .fetch_optional(&mut **tx)
            .await
            .map_err(fail("commit: tenant"))?;
        if exists.is_none() {
            return Err(Error::not_found(Entity::Tenant, tenant).into());
        }

        // Messages first (see explain_duplicate).
        if !ch.messages.is_empty() {
            for m in &ch.messages {
                let in_changeset = ch
                    .conversation
                    .as_ref()
                    .is_some_and(|w| w.value.id == m.conversation);
                if !in_changeset {
                    let found = sqlx::query("SELECT 1 FROM inbox_conversations WHERE tenant_id = $1 AND conversation_id = $2")
                        .bind(t)
                        .bind(m.conversation.as_str())
                        .fetch_optional(&mut **tx)
                        .await
                        .map_err(fail("commit: message conversation"))?;
                    if found.is_none() {
                        return Err(Error::not_found(Entity::Conversation, &m.conversation).into());
                    }
                }
            }
            let ids: Vec<&str> = ch.messages.iter().map(|m| m.id.as_str()).collect();
            let convs: Vec<&str> = ch
                .messages
                .iter()
                .map(|m| m.conversation.as_str())
                .collect();
            let chans: Vec<&str> = ch.messages.iter().map(|m| m.channel.as_str()).collect();
            let exts: Vec<Option<&str>> = ch
                .messages
                .iter()
                .map(|m| m.external_id.as_deref())
                .collect();
            let keys: Vec<Option<&str>> = ch
                .messages
                .iter()
                .map(|m| m.idempotency_key.as_deref())
                .collect();
            let data: Vec<String> = ch
                .messages
                .iter()
                .map(|m| json_text("message", m))
                .collect::<Result<_>>()?;
            let facts = MessageFactColumns::of(ch.messages.iter());
            sqlx::query(
                "INSERT INTO inbox_messages (tenant_id, message_id, conversation_id, channel_id, external_id, idempotency_key, data, body, \
                 author_agent, direction, next_response_secs, next_response_business_secs) \
                 SELECT $1, * FROM UNNEST($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[]::json[], $8::text[], \
                 $9::text[], $10::text[], $11::bigint[], $12::bigint[])",
            )
            .bind(t)
            .bind(&ids)
            .bind(&convs)
            .bind(&chans)
            .bind(&exts)
            .bind(&keys)
            .bind(&data)
            .bind(ch.messages.iter().map(|m| m.content.text_body()).collect::<Vec<_>>())
            .bind(&facts.author_agent)
            .bind(&facts.direction)
            .bind(&facts.next_response_secs)
            .bind(&facts.next_response_business_secs)
            .execute(&mut **tx)
            .await
            .map_err(fail("commit: messages"))?;
        }

        if let Some(w) = &ch.contact {
            let k = &w.value;
            match w.expected_version {
                None => {
                    sqlx::query(
                        "INSERT INTO inbox_contacts (tenant_id, contact_id, wa_id, user_id, version, data) VALUES ($1, $2, $3, $4, $5, $6)",
                    )
                    .bind(t)
                    .bind(k.id.as_str())
                    .bind(k.identity.wa_id.as_deref())
                    .bind(k.identity.user_id.as_deref())
                    .bind(k.version as i64)
                    .bind(to_json(k))
                    .execute(&mut **tx)
                    .await
                    .map_err(fail("commit: contact"))?;
                }
                Some(v) => {
                    let done = sqlx::query(
                        "UPDATE inbox_contacts SET wa_id = $3, user_id = $4, version = $5, data = $6 \
                         WHERE tenant_id = $1 AND contact_id = $2 AND version = $7",
                    )
                    .bind(t)
                    .bind(k.id.as_str())
                    .bind(k.identity.wa_id.as_deref())
                    .bind(k.identity.user_id.as_deref())
                    .bind(k.version as i64)
                    .bind(to_json(k))
                    .bind(v as i64)
                    .execute(&mut **tx)
                    .await
                    .map_err(fail("commit: contact"))?;
                    if done.rows_affected() == 0 {
                        let cur = sqlx::query("SELECT version FROM inbox_contacts WHERE tenant_id = $1 AND contact_id = $2")
                            .bind(t)
                            .bind(k.id.as_str())
                            .fetch_optional(&mut **tx)
                            .await
                            .map_err(fail("commit: contact"))?;
                        return Err(match cur {
                            None => Error::not_found(Entity::Contact, &k.id),
                            Some(r) => Error::Conflict(Box::new(Conflict::on(
                                Entity::Contact,
                                &k.id,
                                v,
                                r.get::<i64, _>(0) as u64,
                            ))),
                        }
                        .into());
                    }
                }
            }
        }

        if let Some(w) = &ch.conversation {
            let c = &w.value;
            let channel = sqlx::query(
                "SELECT 1 FROM inbox_channels WHERE tenant_id = $1 AND channel_id = $2",
            )
            .bind(t)
            .bind(c.channel.as_str())
            .fetch_optional(&mut **tx)
            .await
            .map_err(fail("commit: channel"))?;
            if channel.is_none() {
                return Err(Error::not_found(Entity::Channel, &c.channel).into());
            }
            let data = json_text("conversation", c)?;
            let status = c.status.as_str();
            let waiting = c.waiting_since.map(micros);
            let facts = ConversationFacts::of(c);
            match w.expected_version {
                None => {
                    sqlx::query(
                        "INSERT INTO inbox_conversations (tenant_id, conversation_id, channel_id, contact_id, status, assignee, team_id, \
                         priority_rank, tags, last_activity_us, created_us, waiting_us, version, data, \
                         first_response_secs, resolution_secs, first_response_business_secs, resolution_business_secs, reopen_count, \
                         sla_policy, sla_kinds, sla_states, sla_warn_us, sla_due_us) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14::json, \
                         $15, $16, $17, $18, $19, $20, $21::text[], $22::text[], $23::bigint[], $24::bigint[])",
                    )
                    .bind(t)
                    .bind(c.id.as_str())
                    .bind(c.channel.as_str())
                    .bind(c.contact.as_str())
                    .bind(status)
                    .bind(c.assignee.as_ref().map(|a| a.as_str()))
                    .bind(c.team.as_ref().map(|a| a.as_str()))
                    .bind(priority_rank(c.priority))
                    .bind(&c.tags)
                    .bind(micros(c.last_activity_at))
                    .bind(micros(c.created_at))
                    .bind(waiting)
                    .bind(c.version as i64)
                    .bind(data)
                    .bind_facts(&facts)
                    .execute(&mut **tx)
                    .await
                    .map_err(fail("commit: conversation"))?;
                }
                Some(v) => {
                    let done = sqlx::query(
                        "UPDATE inbox_conversations SET status = $5, assignee = $6, team_id = $7, priority_rank = $8, tags = $9, \
                         last_activity_us = $10, created_us = $11, waiting_us = $12, version = $13, data = $14::json, \
                         first_response_secs = $15, resolution_secs = $16, first_response_business_secs = $17, \
                         resolution_business_secs = $18, reopen_count = $19, sla_policy = $20, sla_kinds = $21::text[], \
                         sla_states = $22::text[], sla_warn_us = $23::bigint[], sla_due_us = $24::bigint[] \
                         WHERE tenant_id = $1 AND conversation_id = $2 AND channel_id = $3 AND contact_id = $4 AND version = $25",
                    )
                    .bind(t)
                    .bind(c.id.as_str())
                    .bind(c.channel.as_str())
                    .bind(c.contact.as_str())
                    .bind(status)
                    .bind(c.assignee.as_ref().map(|a| a.as_str()))
                    .bind(c.team.as_ref().map(|a| a.as_str()))
                    .bind(priority_rank(c.priority))
                    .bind(&c.tags)
                    .bind(micros(c.last_activity_at))
                    .bind(micros(c.created_at))
                    .bind(waiting)
                    .bind(c.version as i64)
                    .bind(data)
                    .bind_facts(&facts)
                    .bind(v as i64)
                    .execute(&mut **tx)
                    .await
                    .map_err(fail("commit: conversation"))?;
                    if done.rows_affected() == 0 {
                        let cur = sqlx::query(
                            "SELECT version, channel_id, contact_id FROM inbox_conversations WHERE tenant_id = $1 AND conversation_id = $2",
                        )
                        .bind(t)
                        .bind(c.id.as_str())
                        .fetch_optional(&mut **tx)
                        .await
                        .map_err(fail("commit: conversation"))?;
                        return Err(match cur {
                            None => Error::not_found(Entity::Conversation, &c.id),
                            Some(r) => {
                                let current = r.get::<i64, _>(0) as u64;
                                if current != v {
                                    Error::Conflict(Box::new(Conflict::conversation(
                                        &c.id, v, current,
                                    )))
                                } else {
                                    Error::invalid(
                                        "conversation",
                                        "channel and contact of a conversation cannot change",
                                    )
                                }
                            }
                        }
                        .into());
                    }
                }
            }
        }

        if let Some((agent, presence)) = &ch.presence {
            let p = serde_json::to_value(presence).map_err(|e| corrupt("presence", e))?;
            let done = sqlx::query(
                "UPDATE inbox_agents SET data = jsonb_set(data, '{presence}', $3) WHERE tenant_id = $1 AND agent_id = $2",
            )
            .bind(t)
            .bind(agent.as_str())
            .bind(p)
            .execute(&mut **tx)
            .await
            .map_err(fail("commit: presence"))?;
            if done.rows_affected() == 0 {
                return Err(Error::not_found(Entity::Agent, agent).into());
            }
        }

        write_timers(tx, tenant, &ch.timers)
            .await
            .map_err(fail("commit: timers"))?;

        for c in &ch.cursors {
            let done = if c.version == 1 {
                sqlx::query(
                    "INSERT INTO inbox_routing_cursors (tenant_id, team_id, last_agent, version) VALUES ($1, $2, $3, 1) ON CONFLICT DO NOTHING",
                )
                .bind(t)
                .bind(c.team.as_str())
                .bind(c.last.as_ref().map(|a| a.as_str()))
                .execute(&mut **tx)
                .await
            } else {
                sqlx::query(
                    "UPDATE inbox_routing_cursors SET last_agent = $3, version = $4 WHERE tenant_id = $1 AND team_id = $2 AND version = $4 - 1",
                )
                .bind(t)
                .bind(c.team.as_str())
                .bind(c.last.as_ref().map(|a| a.as_str()))
                .bind(c.version as i64)
                .execute(&mut **tx)
                .await
            }
            .map_err(fail("commit: routing cursor"))?;
            if done.rows_affected() == 0 {
                let stored: Option<i64> = sqlx::query_scalar(
                    "SELECT version FROM inbox_routing_cursors WHERE tenant_id = $1 AND team_id = $2",
                )
                .bind(t)
                .bind(c.team.as_str())
                .fetch_optional(&mut **tx)
                .await
                .map_err(fail("commit: routing cursor"))?;
                return Err(Error::Conflict(Box::new(Conflict::on(
                    Entity::RoutingCursor,
                    &c.team,
                    c.version - 1,
                    stored.unwrap_or(0) as u64,
                )))
                .into());
            }
        }

        if !ch.outbox.is_empty() {
            let ids: Vec<&str> = ch.outbox.iter().map(|o| o.message.as_str()).collect();
            let conversations: Vec<&str> = ch
                .outbox
                .iter()
                .map(|o| outbox_conversation(ch, o))
                .collect();
            let due: Vec<DateTime<Utc>> = ch.outbox.iter().map(|o| o.not_before).collect();
            let attempts: Vec<i32> = ch.outbox.iter().map(|o| o.attempts as i32).collect();
            sqlx::query(
                "INSERT INTO inbox_outbox (tenant_id, message_id, conversation_id, not_before, attempts) \
                 SELECT $1, * FROM UNNEST($2::text[], $3::text[], $4::timestamptz[], $5::int[])",
            )
            .bind(t)
            .bind(&ids)
            .bind(&conversations)
            .bind(&due)
            .bind(&attempts)
            .execute(&mut **tx)
            .await
            .map_err(fail("commit: outbox"))?;
        }

        Ok(record_events(tx, tenant, ch.events.clone()).await?)
    }
}

/// Sets and clears timers (upserts for sets, deletes for clears).
pub(crate) async fn write_timers(
    tx: &mut Transaction<'_, Postgres>,
    tenant: &TenantId,
    changes: &[TimerChange],
) -> std::result::Result<(), sqlx::Error> {
    write_timers_multi(tx, &changes.iter().map(|c| (tenant, c)).collect::<Vec<_>>()).await
}

/// Timer changes of several tenants in two statements.
pub(crate) async fn write_timers_multi(
    tx: &mut Transaction<'_, Postgres>,
    changes: &[(&TenantId, &TimerChange)],
) -> std::result::Result<(), sqlx::Error> {
    let mut st = Vec::new();
    let mut sc = Vec::new();
    let mut sk = Vec::new();
    let mut sd = Vec::new();
    let mut ct = Vec::new();
    let mut cc = Vec::new();
    let mut ck = Vec::new();
    for (tenant, c) in changes {
        match c {
            TimerChange::Set(t) => {
                st.push(tenant.as_str());
                sc.push(t.conversation.as_str());
                sk.push(t.kind.as_str());
                sd.push(t.due_at);
            }
            TimerChange::Clear { conversation, kind } => {
                ct.push(tenant.as_str());
                cc.push(conversation.as_str());
                ck.push(kind.as_str());
            }
        }
    }
    if !ct.is_empty() {
        sqlx::query(
            "DELETE FROM inbox_timers t USING UNNEST($1::text[], $2::text[], $3::text[]) AS u(t, c, k) \
             WHERE t.tenant_id = u.t AND t.conversation_id = u.c AND t.kind = u.k",
        )
        .bind(&ct)
        .bind(&cc)
        .bind(&ck)
        .execute(&mut **tx)
        .await?;
    }
    if !st.is_empty() {
        sqlx::query(
            "INSERT INTO inbox_timers (tenant_id, conversation_id, kind, due_at) \
             SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::timestamptz[]) \
             ON CONFLICT (tenant_id, conversation_id, kind) DO UPDATE SET due_at = EXCLUDED.due_at",
        )
        .bind(&st)
        .bind(&sc)
        .bind(&sk)
        .bind(&sd)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// Numbers and stores events at the end of a transaction (the tenant's
/// sequence row stays locked only from here to commit).
pub(crate) async fn record_events(
    tx: &mut Transaction<'_, Postgres>,
    tenant: &TenantId,
    mut events: Vec<Event>,
) -> Result<Vec<Event>> {
    if events.is_empty() {
        return Ok(events);
    }
    let n = events.len() as i64;
    let last: i64 = sqlx::query("UPDATE inbox_tenants SET event_seq = event_seq + $2 WHERE tenant_id = $1 RETURNING event_seq")
        .bind(tenant.as_str())
        .bind(n)
        .fetch_one(&mut **tx)
        .await
        .map_err(|e| db("commit: event sequence", e))?
        .get(0);
    let first = last - n + 1;
    for (i, e) in events.iter_mut().enumerate() {
        e.seq = (first + i as i64) as u64;
    }
    let seqs: Vec<i64> = events.iter().map(|e| e.seq as i64).collect();
    let convs: Vec<Option<&str>> = events
        .iter()
        .map(|e| e.conversation.as_ref().map(|c| c.as_str()))
        .collect();
    let versions: Vec<Option<i64>> = events
        .iter()
        .map(|e| e.conversation_version.map(|v| v as i64))
        .collect();
    // As text, cast to `json` (the column's type).
    let data: Vec<String> = events
        .iter()
        .map(|e| serde_json::to_string(e).map_err(|er| corrupt("event", er)))
        .collect::<Result<_>>()?;
    sqlx::query(
        "INSERT INTO inbox_events (tenant_id, seq, conversation_id, conversation_version, data) \
         SELECT $1, s, c, v, d::json FROM UNNEST($2::bigint[], $3::text[], $4::bigint[], $5::text[]) AS u(s, c, v, d)",
    )
    .bind(tenant.as_str())
    .bind(&seqs)
    .bind(&convs)
    .bind(&versions)
    .bind(&data)
    .execute(&mut **tx)
    .await
    .map_err(|e| db("commit: events", e))?;
    Ok(events)
}

fn push_filters(q: &mut QueryBuilder<'_, Postgres>, f: &inbox_core::query::ConversationFilter) {
    if !f.statuses.is_empty() {
        let s: Vec<String> = f.statuses.iter().map(|s| s.as_str().to_string()).collect();
        q.push(" AND c.status = ANY(").push_bind(s).push(")");
    }
    match &f.assignee {
        AssigneeFilter::Any => {}
        AssigneeFilter::Unassigned => {
            q.push(" AND c.assignee IS NULL");
        }
        AssigneeFilter::Agent(a) => {
            q.push(" AND c.assignee = ").push_bind(a.to_string());
        }
    }
    if let Some(t) = &f.team {
        q.push(" AND c.team_id = ").push_bind(t.to_string());
    }
    if let Some(ch) = &f.channel {
        q.push(" AND c.channel_id = ").push_bind(ch.to_string());
    }
    if let Some(k) = &f.contact {
        q.push(" AND c.contact_id = ").push_bind(k.to_string());
    }
    if let Some(tag) = &f.tag {
        // `cardinality(c.tags) > 0` (implied) lets the planner use the partial
        // index of tagged conversations (migration 14).
        q.push(" AND cardinality(c.tags) > 0 AND c.tags @> ARRAY[")
            .push_bind(tag.clone())
            .push("]::text[]");
    }
    if let Some(p) = f.min_priority {
        q.push(" AND c.priority_rank >= ")
            .push_bind(priority_rank(p));
    }
    if let Some(v) = &f.visible_to {
        let teams: Vec<String> = v.teams.iter().map(|t| t.to_string()).collect();
        q.push(" AND (c.assignee = ")
            .push_bind(v.agent.to_string())
            .push(" OR c.team_id IS NULL OR c.team_id = ANY(")
            .push_bind(teams)
            .push("))");
    }
}

/// Keyset condition and ORDER BY for `order` (the caller appends the id
/// column and the limit).
fn push_keyset(
    q: &mut QueryBuilder<'_, Postgres>,
    order: SortOrder,
    after: Option<&inbox_core::query::SortKey>,
) {
    let (keys, descending) = sort_keys(order);
    match (after, descending) {
        (Some(k), false) => {
            q.push(" AND (");
            for key in keys {
                q.push(*key).push(", ");
            }
            q.push("c.conversation_id) > (");
            q.push_bind(k.a);
            if keys.len() > 1 {
                q.push(", ").push_bind(k.b);
            }
            q.push(", ").push_bind(k.id.clone()).push(" COLLATE \"C\")");
        }
        // Oldest first: after (a, id) in ascending activity is, on the
        // negated activity the index holds, (-a) or less, and at (-a)
        // itself a greater id. The bound on the key is an index condition
        // (where the backward scan starts); the rest filters the ties.
        (Some(k), true) => {
            let key = keys.first().copied().unwrap_or("(-c.last_activity_us)");
            let bound = k.a.saturating_neg();
            q.push(" AND ").push(key).push(" <= ").push_bind(bound);
            q.push(" AND (").push(key).push(" < ").push_bind(bound);
            q.push(" OR c.conversation_id > ")
                .push_bind(k.id.clone())
                .push(" COLLATE \"C\")");
        }
        (None, _) => {}
    }
    q.push(" ORDER BY ");
    for key in keys {
        q.push(*key).push(if descending { " DESC, " } else { ", " });
    }
}

/// The expressions `order` sorts by before the conversation id (which is
/// always ascending), as the keyset indexes hold them, and whether they
/// run descending. Only oldest first does, with one key: it is the
/// `latest` index, `(tenant_id, (-last_activity_us), conversation_id)`,
/// read backwards (and the per-owner and per-team `…_latest` indexes with
/// those filters), the ties on the activity time put in id order by an
/// incremental sort; so no index of its own has to be written on every
/// customer message.
fn sort_keys(order: SortOrder) -> (&'static [&'static str], bool) {
    match order {
        SortOrder::LatestActivity => (&["(-c.last_activity_us)"], false),
        SortOrder::OldestActivity => (&["(-c.last_activity_us)"], true),
        SortOrder::WaitingLongest => (&["COALESCE(c.waiting_us, 9223372036854775807)"], false),
        SortOrder::Priority => (
            &["(-c.priority_rank)::bigint", "(-c.last_activity_us)"],
            false,
        ),
        SortOrder::Newest => (&["(-c.created_us)"], false),
    }
}

#[async_trait]
impl Directory for PgStore {
    async fn upsert_tenant(&self, tenant: &Tenant) -> Result<()> {
        sqlx::query("INSERT INTO inbox_tenants (tenant_id, name) VALUES ($1, $2) ON CONFLICT (tenant_id) DO UPDATE SET name = EXCLUDED.name")
            .bind(tenant.id.as_str())
            .bind(&tenant.name)
            .execute(&self.pool)
            .await
            .map_err(|e| db("upsert tenant", e))?;
        Ok(())
    }

    async fn tenant(&self, id: &TenantId) -> Result<Tenant> {
        let row = sqlx::query("SELECT name FROM inbox_tenants WHERE tenant_id = $1")
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| db("tenant", e))?
            .ok_or_else(|| Error::not_found(Entity::Tenant, id))?;
        Ok(Tenant::new(id.clone(), row.get::<String, _>(0)))
    }

    async fn upsert_channel(&self, channel: &Channel) -> Result<()> {
        if let Ok(mut cache) = self.channels.write() {
            cache.clear();
        }
        let r = sqlx::query(
            "INSERT INTO inbox_channels (tenant_id, channel_id, phone_number_id, data) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (tenant_id, channel_id) DO UPDATE SET phone_number_id = EXCLUDED.phone_number_id, data = EXCLUDED.data",
        )
        .bind(channel.tenant.as_str())
        .bind(channel.id.as_str())
        .bind(&channel.phone_number_id)
        .bind(to_json(channel))
        .execute(&self.pool)
        .await;
        if let Ok(mut cache) = self.channels.write() {
            cache.clear();
        }
        match r {
            Ok(_) => Ok(()),
            Err(e) if fk_violation(&e) => Err(Error::not_found(Entity::Tenant, &channel.tenant)),
            Err(e) if unique_violation(&e).is_some() => {
                let owner = self
                    .channel_by_phone_number_id(&channel.phone_number_id)
                    .await?;
                Err(Error::Duplicate {
                    what: Unique::PhoneNumberId,
                    existing: owner.map(|c| c.id.to_string()).unwrap_or_default(),
                })
            }
            Err(e) => Err(db("upsert channel", e)),
        }
    }

    async fn channel(&self, tenant: &TenantId, id: &ChannelId) -> Result<Channel> {
        self.fetch_data(
            "channel",
            "SELECT data FROM inbox_channels WHERE tenant_id = $1 AND channel_id = $2",
            tenant.as_str(),
            id.as_str(),
        )
        .await?
        .ok_or_else(|| Error::not_found(Entity::Channel, id))
    }

    async fn channels(&self, tenant: &TenantId) -> Result<Vec<Channel>> {
        self.list_data(
            "channel",
            "SELECT data FROM inbox_channels WHERE tenant_id = $1 ORDER BY channel_id",
            tenant.as_str(),
        )
        .await
    }

    async fn channel_by_phone_number_id(&self, phone_number_id: &str) -> Result<Option<Channel>> {
        if let Ok(cache) = self.channels.read() {
            if let Some((c, at)) = cache.get(phone_number_id) {
                if at.elapsed() < CHANNEL_TTL {
                    return Ok(c.clone());
                }
            }
        }
        let row = sqlx::query("SELECT data FROM inbox_channels WHERE phone_number_id = $1")
            .bind(phone_number_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| db("channel by phone number id", e))?;
        let channel: Option<Channel> = row
            .map(|r| from_json("channel", r.get::<serde_json::Value, _>(0)))
            .transpose()?;
        if let Ok(mut cache) = self.channels.write() {
            if cache.len() > 10_000 {
                cache.clear();
            }
            cache.insert(
                phone_number_id.to_string(),
                (channel.clone(), Instant::now()),
            );
        }
        Ok(channel)
    }

    async fn upsert_agent(&self, agent: &Agent) -> Result<()> {
        self.upsert_doc(
            "upsert agent",
            "INSERT INTO inbox_agents (tenant_id, agent_id, data) VALUES ($1, $2, $3) \
             ON CONFLICT (tenant_id, agent_id) DO UPDATE SET data = EXCLUDED.data",
            &agent.tenant,
            agent.id.as_str(),
            agent,
        )
        .await
    }

    async fn agent(&self, tenant: &TenantId, id: &AgentId) -> Result<Agent> {
        self.fetch_data(
            "agent",
            "SELECT data FROM inbox_agents WHERE tenant_id = $1 AND agent_id = $2",
            tenant.as_str(),
            id.as_str(),
        )
        .await?
        .ok_or_else(|| Error::not_found(Entity::Agent, id))
    }

    async fn agents(&self, tenant: &TenantId) -> Result<Vec<Agent>> {
        self.list_data(
            "agent",
            "SELECT data FROM inbox_agents WHERE tenant_id = $1 ORDER BY agent_id",
            tenant.as_str(),
        )
        .await
    }

    async fn upsert_team(&self, team: &Team) -> Result<()> {
        self.upsert_doc(
            "upsert team",
            "INSERT INTO inbox_teams (tenant_id, team_id, data) VALUES ($1, $2, $3) \
             ON CONFLICT (tenant_id, team_id) DO UPDATE SET data = EXCLUDED.data",
            &team.tenant,
            team.id.as_str(),
            team,
        )
        .await
    }

    async fn team(&self, tenant: &TenantId, id: &TeamId) -> Result<Team> {
        self.fetch_data(
            "team",
            "SELECT data FROM inbox_teams WHERE tenant_id = $1 AND team_id = $2",
            tenant.as_str(),
            id.as_str(),
        )
        .await?
        .ok_or_else(|| Error::not_found(Entity::Team, id))
    }

    async fn teams(&self, tenant: &TenantId) -> Result<Vec<Team>> {
        self.list_data(
            "team",
            "SELECT data FROM inbox_teams WHERE tenant_id = $1 ORDER BY team_id",
            tenant.as_str(),
        )
        .await
    }
}

#[async_trait]
impl Reports for PgStore {
    async fn search(&self, tenant: &TenantId, query: &SearchQuery) -> Result<Page<SearchHit>> {
        let ValidSearch {
            tokens,
            digits,
            after,
        } = query.validate()?;
        // Words are letters and digits only: nothing here is a tsquery or
        // LIKE operator.
        let last = tokens.len() - 1;
        let tsquery = tokens
            .iter()
            .enumerate()
            .map(|(i, t)| {
                if i == last {
                    format!("{t}:*")
                } else {
                    t.clone()
                }
            })
            .collect::<Vec<_>>()
            .join(" & ");
        let t = tenant.as_str();
        // How many messages match, as the planner estimates it (cheap): a
        // common word is searched by walking conversations; otherwise the
        // matching conversations are collected by index (up to a bound).
        let few = self.search_probe_limit;
        let estimate: serde_json::Value = sqlx::query_scalar(
            "EXPLAIN (FORMAT JSON) SELECT 1 FROM inbox_messages m WHERE m.tenant_id = $1 AND m.tsv @@ to_tsquery('simple', $2)",
        )
        .bind(t)
        // Estimated on whole words: PostgreSQL estimates prefix matches with a
        // flat default, but knows how common each word is.
        .bind(tokens.join(" & "))
        .fetch_one(&self.pool)
        .await
        .map_err(|e| db("search estimate", e))?;
        let estimated = estimate[0]["Plan"]["Plan Rows"]
            .as_f64()
            .unwrap_or(f64::MAX);
        // A word the statistics do not know gets PostgreSQL's flat default
        // estimate (0.5% of the rows), so only a clearly common word skips
        // the probe. The probe itself is bounded: each branch stops at `cap`
        // rows, so a mis-estimated common word costs a bounded read, never a
        // sort of millions.
        let cap = few.saturating_mul(5).max(1);
        let common = estimated > (few as f64) * 50.0;
        let (ids, overflow): (Vec<String>, bool) = if common {
            (Vec::new(), true)
        } else {
            let mut in_messages: QueryBuilder<'_, Postgres> = QueryBuilder::new(
                "SELECT m.conversation_id FROM inbox_messages m WHERE m.tenant_id = ",
            );
            in_messages
                .push_bind(t)
                .push(" AND m.tsv @@ to_tsquery('simple', ")
                .push_bind(tsquery.clone())
                .push(") LIMIT ")
                .push_bind(cap as i64);
            let from_messages: Vec<String> = in_messages
                .build_query_scalar()
                .fetch_all(&self.pool)
                .await
                .map_err(|e| db("search", e))?;
            let mut in_contacts: QueryBuilder<'_, Postgres> = QueryBuilder::new(
                "SELECT c2.conversation_id FROM inbox_contacts k JOIN inbox_conversations c2 \
                 ON c2.tenant_id = k.tenant_id AND c2.contact_id = k.contact_id WHERE k.tenant_id = ",
            );
            in_contacts
                .push_bind(t)
                .push(" AND (k.name_tsv @@ to_tsquery('simple', ")
                .push_bind(tsquery.clone())
                .push(")");
            if let Some(d) = &digits {
                in_contacts
                    .push(" OR k.wa_id LIKE ")
                    .push_bind(format!("%{d}%"));
            }
            in_contacts.push(") LIMIT ").push_bind(cap as i64);
            let from_contacts: Vec<String> = in_contacts
                .build_query_scalar()
                .fetch_all(&self.pool)
                .await
                .map_err(|e| db("search", e))?;
            let overflow = from_messages.len() >= cap || from_contacts.len() >= cap;
            let mut ids = from_messages;
            ids.extend(from_contacts);
            ids.sort_unstable();
            ids.dedup();
            (ids, overflow)
        };
        let walk = overflow || ids.len() > few;
        let hits = (!walk).then_some(ids);
        let mut q: QueryBuilder<'_, Postgres> = QueryBuilder::new(
            "SELECT c.data, (SELECT m.data FROM inbox_messages m WHERE m.tenant_id = c.tenant_id \
             AND m.conversation_id = c.conversation_id AND m.tsv @@ to_tsquery('simple', ",
        );
        q.push_bind(tsquery.clone())
            .push(") ORDER BY m.msg_seq DESC LIMIT 1), EXISTS (SELECT 1 FROM inbox_contacts k WHERE k.tenant_id = c.tenant_id \
                   AND k.contact_id = c.contact_id AND (k.name_tsv @@ to_tsquery('simple', ")
            .push_bind(tsquery.clone())
            .push(")");
        if let Some(d) = &digits {
            q.push(" OR k.wa_id LIKE ").push_bind(format!("%{d}%"));
        }
        q.push(")) FROM inbox_conversations c WHERE c.tenant_id = ")
            .push_bind(t);
        push_filters(&mut q, &query.filter);
        match hits {
            // Few matches: fetch exactly those conversations by key.
            Some(ids) => {
                q.push(" AND c.conversation_id = ANY(")
                    .push_bind(ids)
                    .push(")");
            }
            // Very many (a common word): walk the conversations in activity
            // order and probe each one's messages; the page fills quickly.
            None => {
                q.push(
                    " AND (EXISTS (SELECT 1 FROM inbox_messages m WHERE m.tenant_id = c.tenant_id \
                     AND m.conversation_id = c.conversation_id AND m.tsv @@ to_tsquery('simple', ",
                )
                .push_bind(tsquery.clone())
                .push(
                    ")) OR EXISTS (SELECT 1 FROM inbox_contacts k WHERE k.tenant_id = c.tenant_id \
                       AND k.contact_id = c.contact_id AND (k.name_tsv @@ to_tsquery('simple', ",
                )
                .push_bind(tsquery.clone())
                .push(")");
                if let Some(d) = &digits {
                    q.push(" OR k.wa_id LIKE ").push_bind(format!("%{d}%"));
                }
                q.push(")))");
            }
        }
        push_keyset(&mut q, SortOrder::LatestActivity, after.as_ref());
        q.push("c.conversation_id LIMIT ")
            .push_bind(i64::from(query.limit) + 1);
        let rows = q
            .build()
            .fetch_all(&self.pool)
            .await
            .map_err(|e| db("search", e))?;
        let mut items = Vec::with_capacity(rows.len());
        for r in rows {
            let conversation: Conversation =
                from_json("conversation", r.get::<serde_json::Value, _>(0))?;
            let message: Option<serde_json::Value> = r.get(1);
            items.push(SearchHit {
                conversation,
                message: message.map(|m| from_json("message", m)).transpose()?,
                contact_matched: r.get(2),
            });
        }
        let more = items.len() > query.limit as usize;
        items.truncate(query.limit as usize);
        let next = if more {
            items.last().map(|h| {
                Cursor::after(
                    SortOrder::LatestActivity,
                    &SortOrder::LatestActivity.key(&h.conversation),
                )
            })
        } else {
            None
        };
        Ok(Page { items, next })
    }

    async fn metrics(
        &self,
        tenant: &TenantId,
        query: &inbox_core::metrics::MetricsQuery,
    ) -> Result<inbox_core::metrics::MetricsReport> {
        use inbox_core::metrics::{AgentMetrics, Distribution, MetricsReport};
        query.validate()?;
        // The population, as a WHERE clause (all on indexed columns). The
        // time range is on `(-created_us)`, the expression of the `newest`
        // keyset index, so that index finds it: created_us in [from, to)
        // is -created_us in (-to, -from].
        let population = |qb: &mut QueryBuilder<'_, Postgres>| {
            qb.push(" FROM inbox_conversations WHERE tenant_id = ")
                .push_bind(tenant.as_str().to_string())
                .push(" AND (-created_us) <= ")
                .push_bind(micros(query.from).saturating_neg())
                .push(" AND (-created_us) > ")
                .push_bind(micros(query.to).saturating_neg());
            if let Some(c) = &query.channel {
                qb.push(" AND channel_id = ")
                    .push_bind(c.as_str().to_string());
            }
            if let Some(t) = &query.team {
                qb.push(" AND team_id = ").push_bind(t.as_str().to_string());
            }
            if let Some(a) = &query.agent {
                qb.push(" AND assignee = ")
                    .push_bind(a.as_str().to_string());
            }
            if let Some(t) = &query.tag {
                qb.push(" AND cardinality(tags) > 0 AND tags @> ARRAY[")
                    .push_bind(t.clone())
                    .push("]::text[]");
            }
        };
        // Columns written beside the document (`facts.rs`).
        const FIRST: &str = "first_response_secs";
        const RESOLUTION: &str = "CASE WHEN status = 'resolved' THEN resolution_secs END";
        const FIRST_BUSINESS: &str = "first_response_business_secs";
        const RESOLUTION_BUSINESS: &str =
            "CASE WHEN status = 'resolved' THEN resolution_business_secs END";
        let dist = |r: &sqlx::postgres::PgRow, at: usize| Distribution {
            count: r.get::<i64, _>(at) as u64,
            avg_secs: r.get::<Option<f64>, _>(at + 1),
            median_secs: r.get::<Option<i64>, _>(at + 2),
            p90_secs: r.get::<Option<i64>, _>(at + 3),
        };
        let stats = |x: &str| {
            format!(
                "count({x}), avg({x})::float8, percentile_disc(0.5) WITHIN GROUP (ORDER BY {x}), percentile_disc(0.9) WITHIN GROUP (ORDER BY {x})"
            )
        };
        let fail = |e| db("metrics", e);

        let mut qb = QueryBuilder::new(format!(
            "SELECT count(*), count(*) FILTER (WHERE status = 'resolved'), \
             count(*) FILTER (WHERE reopen_count > 0), \
             count(*) FILTER (WHERE assignee IS NOT NULL), \
             count(*) FILTER (WHERE status <> 'resolved' AND waiting_us <= {}), {}, {}, {}, {} \
             FROM (SELECT status, assignee, reopen_count, waiting_us, {FIRST} AS fr, {RESOLUTION} AS rt, \
             {FIRST_BUSINESS} AS frb, {RESOLUTION_BUSINESS} AS rtb",
            micros(query.missed_before()),
            stats("fr"),
            stats("rt"),
            stats("frb"),
            stats("rtb"),
        ));
        population(&mut qb);
        qb.push(") s");
        let row = qb.build().fetch_one(&self.pool).await.map_err(fail)?;
        let mut report = MetricsReport {
            opened: row.get::<i64, _>(0) as u64,
            resolved: row.get::<i64, _>(1) as u64,
            reopened: row.get::<i64, _>(2) as u64,
            with_owner: row.get::<i64, _>(3) as u64,
            missed: row.get::<i64, _>(4) as u64,
            first_response: dist(&row, 5),
            resolution: dist(&row, 9),
            first_response_business: dist(&row, 13),
            resolution_business: dist(&row, 17),
            ..MetricsReport::default()
        };
        if report.opened == 0 {
            return Ok(report);
        }

        let mut qb = QueryBuilder::new(format!(
            "SELECT assignee, count(*), count(*) FILTER (WHERE status <> 'resolved'), {} FROM (SELECT assignee, status, {FIRST} AS fr",
            stats("fr")
        ));
        population(&mut qb);
        qb.push(" AND assignee IS NOT NULL) s GROUP BY assignee ORDER BY assignee");
        for r in qb.build().fetch_all(&self.pool).await.map_err(fail)? {
            report.agents.push(AgentMetrics {
                agent: AgentId::new(r.get::<String, _>(0))?,
                handled: r.get::<i64, _>(1) as u64,
                open: r.get::<i64, _>(2) as u64,
                first_response: dist(&r, 3),
                replies: 0,
                notes: 0,
                next_response: Distribution::default(),
            });
        }

        // What agents wrote in the population's conversations (an
        // index-only scan of inbox_messages_by_agent): per agent, and in
        // total for the next response times.
        let mut qb = QueryBuilder::new(format!(
            "SELECT m.author_agent, count(*) FILTER (WHERE m.direction = 'outbound'), \
             count(*) FILTER (WHERE m.direction = 'note'), {}, {} \
             FROM inbox_messages m JOIN (SELECT conversation_id",
            stats("m.next_response_secs"),
            stats("m.next_response_business_secs"),
        ));
        population(&mut qb);
        qb.push(") p ON m.conversation_id = p.conversation_id WHERE m.tenant_id = ")
            .push_bind(tenant.as_str().to_string())
            .push(" AND m.author_agent IS NOT NULL GROUP BY GROUPING SETS ((m.author_agent), ())");
        for r in qb.build().fetch_all(&self.pool).await.map_err(fail)? {
            let Some(agent) = r.get::<Option<String>, _>(0) else {
                report.next_response = dist(&r, 3);
                report.next_response_business = dist(&r, 7);
                continue;
            };
            let agent = AgentId::new(agent)?;
            let at = match report.agents.binary_search_by(|a| a.agent.cmp(&agent)) {
                Ok(i) => i,
                Err(i) => {
                    report.agents.insert(
                        i,
                        AgentMetrics {
                            agent,
                            handled: 0,
                            open: 0,
                            first_response: Distribution::default(),
                            replies: 0,
                            notes: 0,
                            next_response: Distribution::default(),
                        },
                    );
                    i
                }
            };
            let a = &mut report.agents[at];
            a.replies = r.get::<i64, _>(1) as u64;
            a.notes = r.get::<i64, _>(2) as u64;
            a.next_response = dist(&r, 3);
        }

        // Days and hours from the integer microseconds: exact.
        let mut qb = QueryBuilder::new(
            "SELECT created_us / 86400000000 AS day, (created_us / 3600000000) % 24 AS hour, channel_id, count(*)",
        );
        population(&mut qb);
        qb.push(" GROUP BY 1, 2, 3");
        let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
        for r in qb.build().fetch_all(&self.pool).await.map_err(fail)? {
            let n = r.get::<i64, _>(3) as u64;
            let day = epoch + chrono::Days::new(r.get::<i64, _>(0).max(0) as u64);
            *report.by_day.entry(day).or_default() += n;
            *report.by_hour.entry(r.get::<i64, _>(1) as u32).or_default() += n;
            *report
                .by_channel
                .entry(ChannelId::new(r.get::<String, _>(2))?)
                .or_default() += n;
        }

        let mut qb = QueryBuilder::new(
            "SELECT p, k, count(*) FILTER (WHERE st = 'met'), count(*) FILTER (WHERE st = 'breached') \
             FROM (SELECT sla_policy AS p, t.k, t.st \
             FROM (SELECT sla_policy, sla_kinds, sla_states",
        );
        population(&mut qb);
        qb.push(
            ") x CROSS JOIN LATERAL UNNEST(x.sla_kinds, x.sla_states) AS t(k, st)) s \
                 GROUP BY p, k ORDER BY p COLLATE \"C\", k COLLATE \"C\"",
        );
        for r in qb.build().fetch_all(&self.pool).await.map_err(fail)? {
            report.sla.push(inbox_core::metrics::SlaCompliance {
                policy: r.get::<Option<String>, _>(0).unwrap_or_default(),
                target: r.get::<Option<String>, _>(1).unwrap_or_default(),
                met: r.get::<i64, _>(2) as u64,
                breached: r.get::<i64, _>(3) as u64,
            });
        }

        let mut qb = QueryBuilder::new("SELECT t, count(*) FROM (SELECT unnest(tags) AS t");
        population(&mut qb);
        qb.push(") s GROUP BY t");
        for r in qb.build().fetch_all(&self.pool).await.map_err(fail)? {
            report
                .by_tag
                .insert(r.get::<String, _>(0), r.get::<i64, _>(1) as u64);
        }
        Ok(report)
    }

    async fn live_snapshot(
        &self,
        tenant: &TenantId,
        query: &inbox_core::metrics::LiveQuery,
    ) -> Result<inbox_core::metrics::LiveSnapshot> {
        use inbox_core::metrics::{AgentLoad, LiveSnapshot, Waiting};
        let fail = |e| db("live snapshot", e);
        let now = query.now;
        // Active conversations only (status <> 'resolved': the partial
        // indexes), narrowed by number and team.
        let scope = |qb: &mut QueryBuilder<'_, Postgres>| {
            qb.push(" FROM inbox_conversations WHERE tenant_id = ")
                .push_bind(tenant.as_str().to_string())
                .push(" AND status <> 'resolved'");
            if let Some(c) = &query.channel {
                qb.push(" AND channel_id = ")
                    .push_bind(c.as_str().to_string());
            }
            if let Some(t) = &query.team {
                qb.push(" AND team_id = ").push_bind(t.as_str().to_string());
            }
        };
        // Each SLA target's state, warning and due instants (`facts.rs`).
        const TARGETS: &str =
            "EXISTS (SELECT 1 FROM UNNEST(sla_states, sla_warn_us, sla_due_us) AS t(st, warn_us, due_us) WHERE ";
        let now_us = micros(now);
        let mut qb = QueryBuilder::new(
            "SELECT count(*), count(*) FILTER (WHERE status = 'open'), \
             count(*) FILTER (WHERE status = 'pending'), count(*) FILTER (WHERE status = 'snoozed'), \
             count(*) FILTER (WHERE assignee IS NULL), count(*) FILTER (WHERE waiting_us IS NOT NULL), \
             count(*) FILTER (WHERE ",
        );
        qb.push(TARGETS)
            .push("st = 'active' AND warn_us <= ")
            .push_bind(now_us)
            .push(" AND due_us > ")
            .push_bind(now_us)
            .push(")), count(*) FILTER (WHERE ")
            .push(TARGETS)
            .push("st = 'breached' OR (st = 'active' AND due_us <= ")
            .push_bind(now_us)
            .push(")))");
        scope(&mut qb);
        let row = qb.build().fetch_one(&self.pool).await.map_err(fail)?;
        let n = |i: usize| row.get::<i64, _>(i) as u64;
        let mut snapshot = LiveSnapshot {
            active: n(0),
            open: n(1),
            pending: n(2),
            snoozed: n(3),
            unassigned: n(4),
            waiting: n(5),
            sla_at_risk: n(6),
            sla_breached: n(7),
            ..LiveSnapshot::empty(now)
        };

        // The longest wait: the first row of the waiting index.
        let mut qb = QueryBuilder::new("SELECT conversation_id, data->'waiting_since'");
        scope(&mut qb);
        qb.push(
            " AND waiting_us IS NOT NULL \
             ORDER BY COALESCE(waiting_us, 9223372036854775807), conversation_id LIMIT 1",
        );
        if let Some(r) = qb.build().fetch_optional(&self.pool).await.map_err(fail)? {
            snapshot.waiting_longest = Some(Waiting {
                conversation: ConversationId::new(r.get::<String, _>(0))?,
                since: r
                    .try_get::<sqlx::types::Json<DateTime<Utc>>, _>(1)
                    .map_err(fail)?
                    .0,
            });
        }

        snapshot.in_doubt = self.count_in_doubt(tenant, query).await?;
        let loads = self.agent_loads(tenant, &LoadScope::Tenant).await?;
        snapshot.agents = self
            .agents(tenant)
            .await?
            .into_iter()
            .filter(|a| a.active && query.team.as_ref().is_none_or(|t| a.is_in_team(t)))
            .map(|a| AgentLoad {
                load: loads.get(&a.id).copied().unwrap_or(0),
                agent: a.id,
                presence: a.presence,
                capacity: a.capacity,
            })
            .collect();
        Ok(snapshot)
    }

    async fn agent_loads(
        &self,
        tenant: &TenantId,
        scope: &LoadScope,
    ) -> Result<std::collections::BTreeMap<AgentId, u32>> {
        let query = match scope {
            LoadScope::Tenant => sqlx::query("SELECT assignee, count(*) FROM inbox_conversations WHERE tenant_id = $1 AND assignee IS NOT NULL AND status <> 'resolved' GROUP BY assignee")
                .bind(tenant.as_str()),
            LoadScope::Agents(ids) => sqlx::query("SELECT assignee, count(*) FROM inbox_conversations WHERE tenant_id = $1 AND assignee = ANY($2) AND status <> 'resolved' GROUP BY assignee")
                .bind(tenant.as_str())
                .bind(ids.iter().map(|a| a.as_str()).collect::<Vec<_>>()),
        };
        let rows = query
            .fetch_all(&self.pool)
            .await
            .map_err(|e| db("agent loads", e))?;
        let mut out = std::collections::BTreeMap::new();
        for r in rows {
            let id: String = r.get(0);
            let n: i64 = r.get(1);
            out.insert(AgentId::new(id)?, n as u32);
        }
        Ok(out)
    }

    async fn last_assignee(
        &self,
        tenant: &TenantId,
        contact: &ContactId,
    ) -> Result<Option<AgentId>> {
        let row: Option<String> = sqlx::query_scalar(
            "SELECT assignee FROM inbox_conversations WHERE tenant_id = $1 AND contact_id = $2 AND assignee IS NOT NULL \
             ORDER BY last_activity_us DESC, conversation_id DESC LIMIT 1",
        )
        .bind(tenant.as_str())
        .bind(contact.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| db("last assignee", e))?;
        row.map(AgentId::new).transpose()
    }

    async fn routing_cursors(
        &self,
        tenant: &TenantId,
    ) -> Result<Vec<inbox_core::routing::RoutingCursor>> {
        let rows = sqlx::query(
            "SELECT team_id, last_agent, version FROM inbox_routing_cursors WHERE tenant_id = $1 ORDER BY team_id",
        )
        .bind(tenant.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(|e| db("routing cursors", e))?;
        rows.into_iter()
            .map(|r| {
                let team: String = r.get(0);
                let last: Option<String> = r.get(1);
                let version: i64 = r.get(2);
                Ok(inbox_core::routing::RoutingCursor {
                    team: TeamId::new(team)?,
                    last: last.map(AgentId::new).transpose()?,
                    version: version as u64,
                })
            })
            .collect()
    }
}

#[async_trait]
impl Messages for PgStore {
    async fn message(&self, tenant: &TenantId, id: &MessageId) -> Result<Message> {
        self.fetch_data(
            "message",
            "SELECT data FROM inbox_messages WHERE tenant_id = $1 AND message_id = $2",
            tenant.as_str(),
            id.as_str(),
        )
        .await?
        .ok_or_else(|| Error::not_found(Entity::Message, id))
    }

    async fn messages(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
    ) -> Result<Vec<Message>> {
        let rows = sqlx::query("SELECT data FROM inbox_messages WHERE tenant_id = $1 AND conversation_id = $2 ORDER BY msg_seq")
            .bind(tenant.as_str())
            .bind(conversation.as_str())
            .fetch_all(&self.pool)
            .await
            .map_err(|e| db("messages", e))?;
        rows.into_iter()
            .map(|r| from_json("message", r.get::<serde_json::Value, _>(0)))
            .collect()
    }

    async fn message_by_external_id(
        &self,
        tenant: &TenantId,
        channel: &ChannelId,
        external_id: &str,
    ) -> Result<Option<Message>> {
        let row = sqlx::query("SELECT data FROM inbox_messages WHERE tenant_id = $1 AND channel_id = $2 AND external_id = $3")
            .bind(tenant.as_str())
            .bind(channel.as_str())
            .bind(external_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| db("message by external id", e))?;
        row.map(|r| from_json("message", r.get::<serde_json::Value, _>(0)))
            .transpose()
    }

    async fn message_by_idempotency_key(
        &self,
        tenant: &TenantId,
        key: &str,
    ) -> Result<Option<Message>> {
        self.fetch_data(
            "message",
            "SELECT data FROM inbox_messages WHERE tenant_id = $1 AND idempotency_key = $2",
            tenant.as_str(),
            key,
        )
        .await
    }

    async fn update_messages(
        &self,
        tenant: &TenantId,
        updates: &[MessageUpdate],
    ) -> Vec<Result<Option<MessageUpdated>>> {
        let mutations = updates
            .iter()
            .map(|u| {
                let target = match &u.target {
                    MessageTarget::Id(id) => Target::Id(id.clone()),
                    MessageTarget::Status {
                        channel,
                        our_id,
                        external_id,
                    } => Target::Status {
                        channel: channel.clone(),
                        ours: our_id.clone(),
                        external_id: external_id.clone(),
                    },
                };
                (target, u.mutation.clone())
            })
            .collect();
        self.mutate_in_order(tenant, mutations).await
    }
}

#[async_trait]
impl Conversations for PgStore {
    async fn conversation(&self, tenant: &TenantId, id: &ConversationId) -> Result<Conversation> {
        self.fetch_data(
            "conversation",
            "SELECT data FROM inbox_conversations WHERE tenant_id = $1 AND conversation_id = $2",
            tenant.as_str(),
            id.as_str(),
        )
        .await?
        .ok_or_else(|| Error::not_found(Entity::Conversation, id))
    }

    async fn latest_conversation(
        &self,
        tenant: &TenantId,
        channel: &ChannelId,
        contact: &ContactId,
    ) -> Result<Option<Conversation>> {
        let row = sqlx::query(
            "SELECT data FROM inbox_conversations WHERE tenant_id = $1 AND channel_id = $2 AND contact_id = $3 \
             ORDER BY (status <> 'resolved') DESC, row_seq DESC LIMIT 1",
        )
        .bind(tenant.as_str())
        .bind(channel.as_str())
        .bind(contact.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| db("latest conversation", e))?;
        row.map(|r| from_json("conversation", r.get::<serde_json::Value, _>(0)))
            .transpose()
    }

    async fn list_conversations(
        &self,
        tenant: &TenantId,
        query: &ConversationQuery,
    ) -> Result<Page<Conversation>> {
        let after = query.validate()?;
        let limit = i64::from(query.limit) + 1;
        let mut narrowed = query.filter.clone();
        narrowed.visible_to = None;
        let mut q: QueryBuilder<'_, Postgres>;
        match (&query.filter.visible_to, &query.filter.assignee) {
            // An agent's visibility (own, unrouted, their teams) is an OR no
            // index can serve in order; each branch can, so the page is the
            // merge of per-branch pages.
            (Some(v), AssigneeFilter::Any | AssigneeFilter::Unassigned) if v.teams.len() <= 32 => {
                let (keys, descending) = sort_keys(query.sort);
                q = QueryBuilder::new("SELECT u.data FROM (");
                let mut first = true;
                let mut branch =
                    |q: &mut QueryBuilder<'_, Postgres>,
                     cond: &mut dyn FnMut(&mut QueryBuilder<'_, Postgres>)| {
                        if !first {
                            q.push(" UNION ALL ");
                        }
                        first = false;
                        q.push("(SELECT c.data");
                        for (i, key) in keys.iter().enumerate() {
                            q.push(format!(", {key} AS k{i}"));
                        }
                        q.push(", c.conversation_id AS id FROM inbox_conversations c WHERE c.tenant_id = ")
                        .push_bind(tenant.to_string());
                        push_filters(q, &narrowed);
                        cond(q);
                        push_keyset(q, query.sort, after.as_ref());
                        q.push("c.conversation_id LIMIT ")
                            .push_bind(limit)
                            .push(")");
                    };
                if query.filter.assignee == AssigneeFilter::Any {
                    let agent = v.agent.to_string();
                    branch(&mut q, &mut |q| {
                        q.push(" AND c.assignee = ").push_bind(agent.clone());
                    });
                }
                let agent = v.agent.to_string();
                branch(&mut q, &mut |q| {
                    q.push(" AND c.team_id IS NULL AND c.assignee IS DISTINCT FROM ")
                        .push_bind(agent.clone());
                });
                for t in &v.teams {
                    let team = t.to_string();
                    let agent = agent.clone();
                    branch(&mut q, &mut |q| {
                        q.push(" AND c.team_id = ")
                            .push_bind(team.clone())
                            .push(" AND c.assignee IS DISTINCT FROM ")
                            .push_bind(agent.clone());
                    });
                }
                q.push(") u ORDER BY ");
                for i in 0..keys.len() {
                    q.push(format!("k{i}{}, ", if descending { " DESC" } else { "" }));
                }
                q.push("u.id LIMIT ").push_bind(limit);
            }
            _ => {
                q = QueryBuilder::new(
                    "SELECT c.data FROM inbox_conversations c WHERE c.tenant_id = ",
                );
                q.push_bind(tenant.to_string());
                push_filters(&mut q, &query.filter);
                push_keyset(&mut q, query.sort, after.as_ref());
                q.push("c.conversation_id LIMIT ").push_bind(limit);
            }
        }
        let rows = q
            .build()
            .fetch_all(&self.pool)
            .await
            .map_err(|e| db("list conversations", e))?;
        let mut items: Vec<Conversation> = rows
            .into_iter()
            .map(|r| from_json("conversation", r.get::<serde_json::Value, _>(0)))
            .collect::<Result<_>>()?;
        let more = items.len() > query.limit as usize;
        items.truncate(query.limit as usize);
        let next = if more {
            items
                .last()
                .map(|c| Cursor::after(query.sort, &query.sort.key(c)))
        } else {
            None
        };
        Ok(Page { items, next })
    }

    async fn ingest_context(
        &self,
        tenant: &TenantId,
        channel: &ChannelId,
        identity: &ContactIdentity,
        external_id: &str,
    ) -> Result<IngestContext> {
        if let Some(readers) = &self.readers {
            return readers
                .context(ContextKey {
                    tenant: tenant.clone(),
                    channel: channel.clone(),
                    identity: identity.clone(),
                    external_id: external_id.to_string(),
                })
                .await;
        }
        let row = sqlx::query(
            "WITH k AS ( \
                SELECT contact_id, data FROM ( \
                    SELECT contact_id, data, 0 AS pref FROM inbox_contacts WHERE tenant_id = $1 AND wa_id = $3 \
                    UNION ALL \
                    SELECT contact_id, data, 1 AS pref FROM inbox_contacts WHERE tenant_id = $1 AND user_id = $4) x \
                ORDER BY pref LIMIT 1) \
             SELECT \
                (SELECT m.data FROM inbox_messages m WHERE m.tenant_id = $1 AND m.channel_id = $2 AND m.external_id = $5), \
                (SELECT k.data FROM k), \
                (SELECT c.data FROM inbox_conversations c \
                   WHERE c.tenant_id = $1 AND c.channel_id = $2 AND c.contact_id = (SELECT contact_id FROM k) \
                   ORDER BY (c.status <> 'resolved') DESC, c.row_seq DESC LIMIT 1)",
        )
        .bind(tenant.as_str())
        .bind(channel.as_str())
        .bind(identity.wa_id.as_deref())
        .bind(identity.user_id.as_deref())
        .bind(external_id)
        .fetch_one(&self.pool)
        .await
        .map_err(|e| db("ingest context", e))?;
        let existing: Option<serde_json::Value> = row.get(0);
        let contact: Option<serde_json::Value> = row.get(1);
        let latest: Option<serde_json::Value> = row.get(2);
        Ok(IngestContext {
            existing: existing.map(|v| from_json("message", v)).transpose()?,
            contact: contact.map(|v| from_json("contact", v)).transpose()?,
            latest: latest.map(|v| from_json("conversation", v)).transpose()?,
        })
    }

    async fn commit(&self, changes: Changeset) -> Result<Committed> {
        let tenant = changes.validate()?.clone();
        if let Some(batcher) = &self.batcher {
            let (reply, answer) = oneshot::channel();
            let job = Job {
                tenant: tenant.clone(),
                changes,
                reply,
            };
            if let Err(mpsc::error::SendError(Work::Commit(job))) =
                batcher.send(Work::Commit(Box::new(job)))
            {
                // The committers are gone (the runtime is shutting down).
                return self.commit_alone(&tenant, &job.changes).await;
            }
            return answer
                .await
                .unwrap_or_else(|_| Err(Error::unavailable("PostgreSQL: the committer stopped")));
        }
        self.commit_alone(&tenant, &changes).await
    }

    async fn events_since(
        &self,
        tenant: &TenantId,
        after_seq: u64,
        limit: u32,
    ) -> Result<Vec<Event>> {
        let rows = sqlx::query("SELECT data, seq FROM inbox_events WHERE tenant_id = $1 AND seq > $2 ORDER BY seq LIMIT $3")
            .bind(tenant.as_str())
            .bind(i64::try_from(after_seq).unwrap_or(i64::MAX))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(|e| db("events since", e))?;
        rows.into_iter().map(event_row).collect()
    }

    async fn conversation_events(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
        after_version: u64,
    ) -> Result<Vec<Event>> {
        let rows = sqlx::query(
            "SELECT data, seq FROM inbox_events WHERE tenant_id = $1 AND conversation_id = $2 \
             AND (conversation_version IS NULL OR conversation_version > $3) ORDER BY seq",
        )
        .bind(tenant.as_str())
        .bind(conversation.as_str())
        .bind(i64::try_from(after_version).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await
        .map_err(|e| db("conversation events", e))?;
        rows.into_iter().map(event_row).collect()
    }
}

#[async_trait]
impl Contacts for PgStore {
    async fn contacts(&self, tenant: &TenantId, ids: &[ContactId]) -> Result<Vec<Contact>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let rows = sqlx::query(
            "SELECT contact_id, data FROM inbox_contacts WHERE tenant_id = $1 AND contact_id = ANY($2)",
        )
        .bind(tenant.as_str())
        .bind(ids.iter().map(|i| i.as_str()).collect::<Vec<_>>())
        .fetch_all(&self.pool)
        .await
        .map_err(|e| db("contacts", e))?;
        let mut found: HashMap<String, Contact> = HashMap::with_capacity(rows.len());
        for row in rows {
            let id: String = row.get(0);
            found.insert(
                id,
                from_json("contact", row.get::<serde_json::Value, _>(1))?,
            );
        }
        // In the order asked, each once.
        Ok(ids
            .iter()
            .filter_map(|id| found.remove(id.as_str()))
            .collect())
    }

    async fn find_contact(
        &self,
        tenant: &TenantId,
        identity: &ContactIdentity,
    ) -> Result<Option<Contact>> {
        if let Some(wa) = &identity.wa_id {
            if let Some(c) = self
                .fetch_data(
                    "contact",
                    "SELECT data FROM inbox_contacts WHERE tenant_id = $1 AND wa_id = $2",
                    tenant.as_str(),
                    wa,
                )
                .await?
            {
                return Ok(Some(c));
            }
        }
        match &identity.user_id {
            Some(u) => {
                self.fetch_data(
                    "contact",
                    "SELECT data FROM inbox_contacts WHERE tenant_id = $1 AND user_id = $2",
                    tenant.as_str(),
                    u,
                )
                .await
            }
            None => Ok(None),
        }
    }

    async fn merge_contacts(
        &self,
        tenant: &TenantId,
        m: &inbox_core::ports::ContactMerge,
    ) -> Result<Committed> {
        let t = tenant.as_str();
        let (from, into) = (&m.from.value, &m.into.value);
        if from.tenant != *tenant
            || into.tenant != *tenant
            || m.events.iter().any(|e| &e.tenant != tenant)
        {
            return Err(Error::invalid("merge", "belongs to another tenant"));
        }
        let mut tx = self.pool.begin().await.map_err(|e| db("merge: begin", e))?;
        // Lock both, in id order (no deadlock with a merge the other way).
        let rows = sqlx::query(
            "SELECT contact_id, version FROM inbox_contacts WHERE tenant_id = $1 AND contact_id = ANY($2) ORDER BY contact_id FOR UPDATE",
        )
        .bind(t)
        .bind(vec![from.id.as_str(), into.id.as_str()])
        .fetch_all(&mut *tx)
        .await
        .map_err(|e| db("merge: contacts", e))?;
        for w in [&m.from, &m.into] {
            let expected = w.expected_version.unwrap_or(0);
            let current = rows
                .iter()
                .find(|r| r.get::<String, _>(0) == w.value.id.as_str())
                .map(|r| r.get::<i64, _>(1) as u64)
                .ok_or_else(|| Error::not_found(Entity::Contact, &w.value.id))?;
            if current != expected || w.value.version != expected + 1 {
                return Err(Error::Conflict(Box::new(Conflict::on(
                    Entity::Contact,
                    &w.value.id,
                    expected,
                    current,
                ))));
            }
        }
        // The merged contact lets go of its identity first, so the survivor
        // may take it.
        for k in [from, into] {
            sqlx::query(
                "UPDATE inbox_contacts SET wa_id = $3, user_id = $4, version = $5, data = $6 WHERE tenant_id = $1 AND contact_id = $2",
            )
            .bind(t)
            .bind(k.id.as_str())
            .bind(k.identity.wa_id.as_deref())
            .bind(k.identity.user_id.as_deref())
            .bind(k.version as i64)
            .bind(to_json(k))
            .execute(&mut *tx)
            .await
            .map_err(|e| match unique_violation(&e) {
                Some(_) => Error::Duplicate {
                    what: Unique::Contact,
                    existing: k.id.to_string(),
                },
                None => db("merge: contact", e),
            })?;
        }
        sqlx::query(
            "UPDATE inbox_conversations SET contact_id = $3, version = version + 1, \
             data = jsonb_set(jsonb_set(data::jsonb, '{contact}', to_jsonb($3::text)), '{version}', to_jsonb(version + 1))::json \
             WHERE tenant_id = $1 AND contact_id = $2",
        )
        .bind(t)
        .bind(from.id.as_str())
        .bind(into.id.as_str())
        .execute(&mut *tx)
        .await
        .map_err(|e| match unique_violation(&e) {
            Some(_) => Error::Duplicate {
                what: Unique::ActiveConversation,
                existing: into.id.to_string(),
            },
            None => db("merge: conversations", e),
        })?;
        let events = record_events(&mut tx, tenant, m.events.clone()).await?;
        tx.commit().await.map_err(|e| db("merge: commit", e))?;
        Ok(Committed { events })
    }
}

impl PgStore {
    /// The outbound message a status report concerns: the one with our id
    /// `our_id` on the channel if there is one, else the one with the
    /// provider's `external_id` ([`MessageTarget::Status`]).
    pub(crate) async fn message_for_status(
        &self,
        tenant: &TenantId,
        channel: &ChannelId,
        our_id: Option<&MessageId>,
        external_id: &str,
    ) -> Result<Option<Message>> {
        if let Some(readers) = &self.readers {
            return readers
                .status(StatusKey {
                    tenant: tenant.clone(),
                    channel: channel.clone(),
                    our_id: our_id.cloned(),
                    external_id: external_id.to_string(),
                })
                .await;
        }
        let row = sqlx::query(
            "SELECT data FROM ( \
                SELECT data, 0 AS pref FROM inbox_messages \
                WHERE tenant_id = $1 AND message_id = $3 AND channel_id = $2 AND direction = 'outbound' \
                UNION ALL \
                SELECT data, 1 AS pref FROM inbox_messages WHERE tenant_id = $1 AND channel_id = $2 AND external_id = $4) x \
             ORDER BY pref LIMIT 1",
        )
        .bind(tenant.as_str())
        .bind(channel.as_str())
        .bind(our_id.map(|m| m.as_str()))
        .bind(external_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| db("message for status", e))?;
        row.map(|r| from_json("message", r.get::<serde_json::Value, _>(0)))
            .transpose()
    }
}

#[async_trait]
impl Scheduling for PgStore {
    async fn due_timers(&self, now: DateTime<Utc>, limit: u32) -> Result<Vec<Timer>> {
        let rows = sqlx::query(
            "SELECT tenant_id, conversation_id, kind, due_at FROM inbox_timers WHERE due_at <= $1 \
             ORDER BY due_at, tenant_id, conversation_id, kind LIMIT $2",
        )
        .bind(now)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(|e| db("due timers", e))?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let kind: String = r.get(2);
            // A kind this version does not know (written by a newer one) is
            // left for that version.
            let Some(kind) = TimerKind::parse(&kind) else {
                continue;
            };
            out.push(Timer {
                tenant: TenantId::new(r.get::<String, _>(0))?,
                conversation: ConversationId::new(r.get::<String, _>(1))?,
                kind,
                due_at: r.get(3),
            });
        }
        Ok(out)
    }

    async fn acquire_lease(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
        agent: &AgentId,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Lease> {
        let exists = sqlx::query(
            "SELECT 1 FROM inbox_conversations WHERE tenant_id = $1 AND conversation_id = $2",
        )
        .bind(tenant.as_str())
        .bind(conversation.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| db("acquire lease", e))?;
        if exists.is_none() {
            return Err(Error::not_found(Entity::Conversation, conversation));
        }
        // Take it if free, expired or ours; otherwise report the holder.
        let row = sqlx::query(
            "INSERT INTO inbox_leases (tenant_id, conversation_id, holder, until) VALUES ($1, $2, $3, $5) \
             ON CONFLICT (tenant_id, conversation_id) DO UPDATE SET holder = EXCLUDED.holder, until = EXCLUDED.until \
             WHERE inbox_leases.holder = EXCLUDED.holder OR inbox_leases.until <= $4 \
             RETURNING holder, until",
        )
        .bind(tenant.as_str())
        .bind(conversation.as_str())
        .bind(agent.as_str())
        .bind(now)
        .bind(until)
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| db("acquire lease", e))?;
        let row = match row {
            Some(r) => r,
            None => sqlx::query("SELECT holder, until FROM inbox_leases WHERE tenant_id = $1 AND conversation_id = $2")
                .bind(tenant.as_str())
                .bind(conversation.as_str())
                .fetch_one(&self.pool)
                .await
                .map_err(|e| db("acquire lease", e))?,
        };
        Ok(Lease {
            holder: AgentId::new(row.get::<String, _>(0))?,
            until: row.get(1),
        })
    }

    async fn release_lease(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
        agent: &AgentId,
    ) -> Result<bool> {
        let done = sqlx::query("DELETE FROM inbox_leases WHERE tenant_id = $1 AND conversation_id = $2 AND holder = $3")
            .bind(tenant.as_str())
            .bind(conversation.as_str())
            .bind(agent.as_str())
            .execute(&self.pool)
            .await
            .map_err(|e| db("release lease", e))?;
        Ok(done.rows_affected() > 0)
    }

    async fn lease(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
        now: DateTime<Utc>,
    ) -> Result<Option<Lease>> {
        let row = sqlx::query("SELECT holder, until FROM inbox_leases WHERE tenant_id = $1 AND conversation_id = $2 AND until > $3")
            .bind(tenant.as_str())
            .bind(conversation.as_str())
            .bind(now)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| db("lease", e))?;
        match row {
            Some(r) => Ok(Some(Lease {
                holder: AgentId::new(r.get::<String, _>(0))?,
                until: r.get(1),
            })),
            None => Ok(None),
        }
    }

    async fn claim_outbox(
        &self,
        now: DateTime<Utc>,
        lease: Duration,
        limit: u32,
    ) -> Result<Vec<OutboxClaim>> {
        let lease_until =
            now + chrono::TimeDelta::from_std(lease).unwrap_or(chrono::TimeDelta::MAX);
        // A conversation's first entry only (`seq` is commit order): the
        // next waits until it is released.
        let rows = sqlx::query(
            "WITH due AS ( \
                SELECT o.tenant_id, o.message_id, (o.token IS NOT NULL AND o.sending_since IS NOT NULL) AS lapsed, \
                       CASE WHEN o.token IS NULL THEN o.not_before ELSE o.lease_until END AS due_at \
                FROM inbox_outbox o \
                WHERE ((o.token IS NULL AND o.not_before <= $1) OR (o.token IS NOT NULL AND o.lease_until <= $1)) \
                  AND NOT EXISTS (SELECT 1 FROM inbox_outbox e WHERE e.tenant_id = o.tenant_id \
                                  AND e.conversation_id = o.conversation_id AND e.seq < o.seq) \
                ORDER BY due_at, o.tenant_id, o.message_id \
                LIMIT $3 FOR UPDATE OF o SKIP LOCKED) \
             UPDATE inbox_outbox o SET token = nextval('inbox_outbox_tokens'), lease_until = $2 \
             FROM due WHERE o.tenant_id = due.tenant_id AND o.message_id = due.message_id \
             RETURNING o.tenant_id, o.message_id, o.not_before, o.attempts, o.token, due.lapsed, due.due_at",
        )
        .bind(now)
        .bind(lease_until)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(|e| db("claim outbox", e))?;
        let mut claims = Vec::with_capacity(rows.len());
        for r in rows {
            claims.push((
                r.get::<DateTime<Utc>, _>(6),
                OutboxClaim {
                    entry: OutboxEntry {
                        tenant: TenantId::new(r.get::<String, _>(0))?,
                        message: MessageId::new(r.get::<String, _>(1))?,
                        not_before: r.get(2),
                        attempts: r.get::<i32, _>(3) as u32,
                    },
                    token: r.get::<i64, _>(4) as u64,
                    lease_until,
                    in_doubt: r.get(5),
                },
            ));
        }
        claims.sort_by(|a, b| {
            a.0.cmp(&b.0).then_with(|| {
                (&a.1.entry.tenant, &a.1.entry.message)
                    .cmp(&(&b.1.entry.tenant, &b.1.entry.message))
            })
        });
        Ok(claims.into_iter().map(|(_, c)| c).collect())
    }

    async fn release_outbox(
        &self,
        claim: &OutboxClaim,
        disposition: OutboxDisposition,
    ) -> Result<()> {
        let tenant = claim.entry.tenant.as_str();
        let message = claim.entry.message.as_str();
        let token = claim.token as i64;
        let done = match disposition {
            OutboxDisposition::Done => sqlx::query(
                "DELETE FROM inbox_outbox WHERE tenant_id = $1 AND message_id = $2 AND token = $3",
            )
            .bind(tenant)
            .bind(message)
            .bind(token)
            .execute(&self.pool)
            .await,
            OutboxDisposition::RetryAt(at) => {
                sqlx::query(
                    "UPDATE inbox_outbox SET token = NULL, lease_until = NULL, sending_since = NULL, not_before = $4 \
                 WHERE tenant_id = $1 AND message_id = $2 AND token = $3",
                )
                .bind(tenant)
                .bind(message)
                .bind(token)
                .bind(at)
                .execute(&self.pool)
                .await
            }
        }
        .map_err(|e| db("release outbox", e))?;
        if done.rows_affected() == 0 {
            return Err(stale_claim(claim));
        }
        Ok(())
    }

    async fn begin_outbox_attempt(
        &self,
        claim: &OutboxClaim,
        at: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<()> {
        let done = sqlx::query(
            "UPDATE inbox_outbox SET attempts = attempts + 1, sending_since = $4, lease_until = GREATEST(lease_until, $5) \
             WHERE tenant_id = $1 AND message_id = $2 AND token = $3 AND lease_until > $4",
        )
        .bind(claim.entry.tenant.as_str())
        .bind(claim.entry.message.as_str())
        .bind(claim.token as i64)
        .bind(at)
        .bind(until)
        .execute(&self.pool)
        .await
        .map_err(|e| db("begin outbox attempt", e))?;
        if done.rows_affected() == 0 {
            return Err(stale_claim(claim));
        }
        Ok(())
    }
}

/// The conversation of an outbox entry: its message's, which the changeset
/// holds ([`Changeset::validate`] checks).
pub(crate) fn outbox_conversation<'a>(ch: &'a Changeset, entry: &OutboxEntry) -> &'a str {
    ch.messages
        .iter()
        .find(|m| m.id == entry.message)
        .map_or("", |m| m.conversation.as_str())
}

/// The conflict of an outbox claim that is no longer held.
fn stale_claim(claim: &OutboxClaim) -> Error {
    Error::Conflict(Box::new(Conflict::on(
        Entity::OutboxEntry,
        &claim.entry.message,
        claim.token,
        0,
    )))
}

fn event_row(r: sqlx::postgres::PgRow) -> Result<Event> {
    let mut e: Event = from_json("event", r.get::<serde_json::Value, _>(0))?;
    e.seq = r.get::<i64, _>(1) as u64;
    Ok(e)
}
