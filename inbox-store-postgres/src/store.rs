//! The PostgreSQL [`Store`](inbox_core::ports::Store): the store's handle
//! and its settings, and the ports' methods (one impl block per port), each
//! delegating to the module that does the work (see the crate documentation
//! for the layers).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::postgres::{PgPool, PgPoolOptions};
use std::sync::Arc;
use std::time::Duration;

use inbox_core::error::{Error, Result};
use inbox_core::event::Event;
use inbox_core::ids::{AgentId, ChannelId, ContactId, ConversationId, MessageId, TeamId, TenantId};
use inbox_core::model::{
    Agent, Channel, Contact, ContactIdentity, Conversation, Message, Team, Tenant,
};
use inbox_core::ports::{
    Changeset, Committed, ContactMerge, Contacts, Conversations, Directory, IngestContext,
    IngestRequest, Lease, LeaseKey, LeaseRequest, LoadScope, MessageMutation, MessageTarget,
    MessageUpdate, MessageUpdated, Messages, OutboxAttempt, OutboxClaim, OutboxClaimRequest,
    OutboxDisposition, Reports, Scheduling,
};
use inbox_core::query::{ConversationFilter, ConversationQuery, Page, SearchHit, SearchQuery};
use inbox_core::timer::Timer;

use crate::batch::{self, GroupCommit, GroupCommitStats, Queue};
use crate::changes::Writer;
use crate::error::db;
use crate::lookups::{ContextKey, Scope, StatusKey};
use crate::mutations::{MutationBatchStats, Target};
use crate::plans::BatchPools;
use crate::reads::{self, ReadBatchStats, Readers};
use crate::tables::directory::{self, ChannelCache, AGENTS, CHANNELS, TEAMS};
use crate::tables::{contacts, conversations, cursors, events, leases, messages, outbox, timers};
use crate::{live, reports, search, views};

/// The migrations of this store, for embedders who run migrations
/// themselves (`MIGRATOR.run(&pool)`, then [`PgStore::reindex_search`]),
/// or to inspect.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// A [`Store`](inbox_core::ports::Store) on PostgreSQL.
///
/// Every commit is one transaction; optimistic version checks and unique
/// indexes make it safe for any number of application instances sharing
/// the database. See the crate documentation for the schema and its
/// guarantees.
#[derive(Debug, Clone)]
pub struct PgStore {
    /// Writes changesets alone, on the pool.
    writer: Writer,
    /// The committers' queue, with group commit.
    queue: Option<Queue>,
    stats: Arc<GroupCommitStats>,
    readers: Option<Readers>,
    read_stats: Arc<ReadBatchStats>,
    mutation_stats: Arc<MutationBatchStats>,
    /// The connections of the committers and readers (see
    /// [`PgStore::with_group_commit`]).
    batch_pool: Option<BatchPools>,
    pub(crate) channels: Arc<ChannelCache>,
    search_probe_limit: usize,
}

impl PgStore {
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

    /// Brings the tenant's report rollups up to date with every
    /// conversation written so far (reports do it before answering; after
    /// a bulk import, call it once so that the first report does not pay
    /// for the import). Marked conversations are moved one by one; past
    /// 50,000 of them the tenant's rollups are built again from all its
    /// conversations.
    ///
    /// ```no_run
    /// # async fn demo(store: inbox_store_postgres::PgStore) -> inbox_core::Result<()> {
    /// store.refresh_reports(&inbox_core::TenantId::new("acme")?).await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn refresh_reports(&self, tenant: &inbox_core::TenantId) -> Result<()> {
        crate::rollups::refresh(self.pool(), tenant).await
    }

    /// Builds the tenant's report rollups again from all its conversations
    /// (after restoring a backup of some tables only, or to check them:
    /// reports are the same before and after).
    ///
    /// ```no_run
    /// # async fn demo(store: inbox_store_postgres::PgStore) -> inbox_core::Result<()> {
    /// store.rebuild_reports(&inbox_core::TenantId::new("acme")?).await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn rebuild_reports(&self, tenant: &inbox_core::TenantId) -> Result<()> {
        crate::rollups::rebuild(self.pool(), tenant).await
    }

    /// A store on an existing pool, committing each changeset in its own
    /// transaction (no group commit).
    pub fn from_pool(pool: PgPool) -> Self {
        Self {
            writer: Writer::new(pool),
            queue: None,
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
    /// ([`Conversations::ingest_context`], [`PgStore::message_for_status`])
    /// are batched the same way. Spawns the committer and reader tasks on the
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
            self.pool().connect_options().as_ref(),
            u32::try_from(committers + readers).unwrap_or(u32::MAX),
            settings.generic_plans,
        );
        self.queue = Some(batch::spawn(
            pools.clone(),
            settings,
            batch::Counters {
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
    /// activity order probing each (fast for common words). For tests of
    /// both paths only (feature `testing`).
    #[cfg(feature = "testing")]
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
        self.queue = None;
        self.readers = None;
        self.batch_pool = None;
        self
    }

    /// The pool (for the event bus, health checks, the embedder's own
    /// queries).
    pub fn pool(&self) -> &PgPool {
        self.writer.pool()
    }

    /// Closes the store's connections (the pool, and those of group
    /// commit), waiting for the ones in use to be returned. Operations
    /// afterwards fail with [`Error::Unavailable`].
    pub async fn close(&self) {
        self.pool().close().await;
        if let Some(pools) = &self.batch_pool {
            pools.close().await;
        }
    }

    /// Applies the pending migrations, then re-indexes for search the rows
    /// that need it ([`PgStore::reindex_search`]).
    pub async fn migrate(&self) -> Result<()> {
        MIGRATOR
            .run(self.pool())
            .await
            .map_err(|e| Error::Backend {
                message: "PostgreSQL: migrations failed".into(),
                source: Some(Box::new(crate::error::PgStoreError::Migrate(e))),
            })?;
        self.reindex_search().await.map(|_| ())
    }

    /// Gives the rows written before migration 25 (or under an older
    /// version of the core's search rules,
    /// [`WORDS_VERSION`](inbox_core::search::WORDS_VERSION)) the words
    /// search compares, folded by the core, and returns how many rows it
    /// re-indexed. Until then such rows are found by their words as
    /// written (not folded, no tags or attributes).
    ///
    /// [`PgStore::migrate`] runs it; embedders who run [`MIGRATOR`]
    /// themselves call it after (it may run while the inbox serves, on any
    /// number of instances: batches of 500 rows, each its own transaction,
    /// one instance at a time per table, resuming where the last stopped).
    /// Once done, it costs one read per table.
    pub async fn reindex_search(&self) -> Result<u64> {
        crate::reindex::reindex(self.pool()).await
    }

    /// Message mutations through group commit when it is on.
    async fn mutate(
        &self,
        tenant: &TenantId,
        mutations: Vec<(Target, MessageMutation)>,
    ) -> Vec<Result<Option<MessageUpdated>>> {
        batch::mutate(self.queue.as_ref(), &self.writer, tenant, mutations).await
    }

    /// The outbound message a status report concerns: the one with our id
    /// `our_id` on the channel if there is one, else the one with the
    /// provider's `external_id` there (as [`MessageTarget::Status`] finds
    /// it), or `None`. Batched with the ingest lookups under group commit.
    pub async fn message_for_status(
        &self,
        tenant: &TenantId,
        channel: &ChannelId,
        our_id: Option<&MessageId>,
        external_id: &str,
    ) -> Result<Option<Message>> {
        let key = StatusKey {
            at: Scope::of(tenant, channel, external_id),
            our_id: our_id.cloned(),
        };
        reads::status(self.readers.as_ref(), self.pool(), key).await
    }
}

/// The mutation target of an update.
fn target(update: &MessageTarget) -> Target {
    match update {
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
    }
}

#[async_trait]
impl Directory for PgStore {
    async fn upsert_tenant(&self, tenant: &Tenant) -> Result<()> {
        directory::upsert_tenant(self.pool(), tenant).await
    }

    async fn tenant(&self, id: &TenantId) -> Result<Tenant> {
        directory::tenant(self.pool(), id).await
    }

    async fn tenants(&self) -> Result<Vec<Tenant>> {
        directory::tenants(self.pool()).await
    }

    async fn upsert_channel(&self, channel: &Channel) -> Result<()> {
        self.channels.upsert(self.pool(), channel).await
    }

    async fn channels_of_account(&self, waba_id: &str) -> Result<Vec<Channel>> {
        let rows: Vec<(sqlx::types::Json<Channel>,)> = sqlx::query_as(
            "SELECT data FROM inbox_channels WHERE data->>'waba_id' = $1 ORDER BY tenant_id, channel_id",
        )
        .bind(waba_id)
        .fetch_all(self.pool())
        .await
        .map_err(|e| crate::error::db("channels of account", e))?;
        Ok(rows.into_iter().map(|(c,)| c.0).collect())
    }

    async fn update_channel_news(
        &self,
        tenant: &TenantId,
        id: &ChannelId,
        change: &inbox_core::ports::ChannelNews<'_>,
    ) -> Result<Channel> {
        self.channels
            .update_news(self.pool(), tenant, id, change)
            .await
    }

    async fn channel(&self, tenant: &TenantId, id: &ChannelId) -> Result<Channel> {
        CHANNELS.get(self.pool(), tenant, id.as_str()).await
    }

    async fn channels(&self, tenant: &TenantId) -> Result<Vec<Channel>> {
        CHANNELS.list(self.pool(), tenant).await
    }

    async fn channel_by_phone_number_id(&self, phone_number_id: &str) -> Result<Option<Channel>> {
        self.channels.get(self.pool(), phone_number_id).await
    }

    async fn upsert_agent(&self, agent: &Agent) -> Result<()> {
        AGENTS
            .upsert(self.pool(), &agent.tenant, agent.id.as_str(), agent)
            .await
    }

    async fn agent(&self, tenant: &TenantId, id: &AgentId) -> Result<Agent> {
        AGENTS.get(self.pool(), tenant, id.as_str()).await
    }

    async fn agents(&self, tenant: &TenantId) -> Result<Vec<Agent>> {
        AGENTS.list(self.pool(), tenant).await
    }

    async fn upsert_team(&self, team: &Team) -> Result<()> {
        TEAMS
            .upsert(self.pool(), &team.tenant, team.id.as_str(), team)
            .await
    }

    async fn team(&self, tenant: &TenantId, id: &TeamId) -> Result<Team> {
        TEAMS.get(self.pool(), tenant, id.as_str()).await
    }

    async fn teams(&self, tenant: &TenantId) -> Result<Vec<Team>> {
        TEAMS.list(self.pool(), tenant).await
    }
}

#[async_trait]
impl Contacts for PgStore {
    async fn contacts(&self, tenant: &TenantId, ids: &[ContactId]) -> Result<Vec<Contact>> {
        contacts::by_ids(self.pool(), tenant, ids).await
    }

    async fn find_contact(
        &self,
        tenant: &TenantId,
        identity: &ContactIdentity,
    ) -> Result<Option<Contact>> {
        contacts::find(self.pool(), tenant, identity).await
    }

    async fn merge_contacts(&self, tenant: &TenantId, m: &ContactMerge) -> Result<Committed> {
        self.writer.merge_contacts(tenant, m).await
    }
}

#[async_trait]
impl Conversations for PgStore {
    async fn conversation(&self, tenant: &TenantId, id: &ConversationId) -> Result<Conversation> {
        conversations::BY_ID
            .required(self.pool(), &[tenant.as_str(), id.as_str()])
            .await
    }

    async fn latest_conversation(
        &self,
        tenant: &TenantId,
        channel: &ChannelId,
        contact: &ContactId,
    ) -> Result<Option<Conversation>> {
        let keys = [tenant.as_str(), channel.as_str(), contact.as_str()];
        conversations::LATEST.one(self.pool(), &keys).await
    }

    async fn list_conversations(
        &self,
        tenant: &TenantId,
        query: &ConversationQuery,
    ) -> Result<Page<Conversation>> {
        views::list(self.pool(), tenant, query).await
    }

    async fn count_conversations(
        &self,
        tenant: &TenantId,
        filter: &ConversationFilter,
        cap: u32,
    ) -> Result<u64> {
        views::count(self.pool(), tenant, filter, cap).await
    }

    async fn ingest_context(&self, request: IngestRequest<'_>) -> Result<IngestContext> {
        let key = ContextKey {
            at: Scope::of(request.tenant, request.channel, request.external_id),
            identity: request.identity.clone(),
        };
        reads::context(self.readers.as_ref(), self.pool(), key).await
    }

    async fn commit(&self, changes: Changeset) -> Result<Committed> {
        batch::commit(self.queue.as_ref(), &self.writer, changes).await
    }

    async fn events_since(
        &self,
        tenant: &TenantId,
        after_seq: u64,
        limit: u32,
    ) -> Result<Vec<Event>> {
        events::since(self.pool(), tenant, after_seq, limit).await
    }

    async fn conversation_events(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
        after_version: u64,
    ) -> Result<Vec<Event>> {
        events::of_conversation(self.pool(), tenant, conversation, after_version).await
    }
}

#[async_trait]
impl Messages for PgStore {
    async fn message(&self, tenant: &TenantId, id: &MessageId) -> Result<Message> {
        messages::BY_ID
            .required(self.pool(), &[tenant.as_str(), id.as_str()])
            .await
    }

    async fn messages(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
    ) -> Result<Vec<Message>> {
        let keys = [tenant.as_str(), conversation.as_str()];
        messages::OF_CONVERSATION.all(self.pool(), &keys).await
    }

    async fn message_by_external_id(
        &self,
        tenant: &TenantId,
        channel: &ChannelId,
        external_id: &str,
    ) -> Result<Option<Message>> {
        let keys = [tenant.as_str(), channel.as_str(), external_id];
        messages::BY_EXTERNAL_ID.one(self.pool(), &keys).await
    }

    async fn message_by_idempotency_key(
        &self,
        tenant: &TenantId,
        key: &str,
    ) -> Result<Option<Message>> {
        let keys = [tenant.as_str(), key];
        messages::BY_IDEMPOTENCY_KEY.one(self.pool(), &keys).await
    }

    async fn update_messages(
        &self,
        tenant: &TenantId,
        updates: &[MessageUpdate],
    ) -> Vec<Result<Option<MessageUpdated>>> {
        let mutations = updates
            .iter()
            .map(|u| (target(&u.target), u.mutation.clone()))
            .collect();
        self.mutate(tenant, mutations).await
    }
}

#[async_trait]
impl Scheduling for PgStore {
    async fn due_timers(&self, now: DateTime<Utc>, limit: u32) -> Result<Vec<Timer>> {
        timers::due(self.pool(), now, limit).await
    }

    async fn acquire_lease(&self, request: LeaseRequest<'_>) -> Result<Lease> {
        leases::acquire(self.pool(), request).await
    }

    async fn release_lease(&self, key: LeaseKey<'_>, agent: &AgentId) -> Result<bool> {
        leases::release(self.pool(), key, agent).await
    }

    async fn lease(&self, key: LeaseKey<'_>, now: DateTime<Utc>) -> Result<Option<Lease>> {
        leases::current(self.pool(), key, now).await
    }

    async fn claim_outbox(&self, request: OutboxClaimRequest) -> Result<Vec<OutboxClaim>> {
        outbox::claim(self.pool(), request).await
    }

    async fn begin_outbox_attempt(
        &self,
        claim: &OutboxClaim,
        attempt: OutboxAttempt,
    ) -> Result<()> {
        outbox::begin_attempt(self.pool(), claim, attempt).await
    }

    async fn release_outbox(
        &self,
        claim: &OutboxClaim,
        disposition: OutboxDisposition,
    ) -> Result<()> {
        outbox::release(self.pool(), claim, disposition).await
    }
}

#[async_trait]
impl Reports for PgStore {
    async fn search(&self, tenant: &TenantId, query: &SearchQuery) -> Result<Page<SearchHit>> {
        search::search(self.pool(), self.search_probe_limit, tenant, query).await
    }

    async fn metrics(
        &self,
        tenant: &TenantId,
        query: &inbox_core::metrics::MetricsQuery,
    ) -> Result<inbox_core::metrics::MetricsReport> {
        reports::metrics(self.pool(), tenant, query).await
    }

    async fn message_tallies(
        &self,
        tenant: &TenantId,
        query: &inbox_core::pricing::CostQuery,
    ) -> Result<Vec<inbox_core::pricing::MessageTally>> {
        reports::message_tallies(self.pool(), tenant, query).await
    }

    async fn surveys(
        &self,
        tenant: &TenantId,
        query: &inbox_core::metrics::CsatQuery,
    ) -> Result<Vec<inbox_core::metrics::SurveyRow>> {
        reports::surveys(self.pool(), tenant, query).await
    }

    async fn bot_rows(
        &self,
        tenant: &TenantId,
        query: &inbox_core::metrics::BotQuery,
    ) -> Result<Vec<inbox_core::metrics::BotRow>> {
        reports::bot_rows(self.pool(), tenant, query).await
    }

    async fn live_snapshot(
        &self,
        tenant: &TenantId,
        query: &inbox_core::metrics::LiveQuery,
    ) -> Result<inbox_core::metrics::LiveSnapshot> {
        live::live_snapshot(self.pool(), tenant, query).await
    }

    async fn agent_loads(
        &self,
        tenant: &TenantId,
        scope: &LoadScope,
    ) -> Result<std::collections::BTreeMap<AgentId, u32>> {
        conversations::loads(self.pool(), tenant, scope).await
    }

    async fn last_assignee(
        &self,
        tenant: &TenantId,
        contact: &ContactId,
    ) -> Result<Option<AgentId>> {
        conversations::last_assignee(self.pool(), tenant, contact).await
    }

    async fn routing_cursors(
        &self,
        tenant: &TenantId,
    ) -> Result<Vec<inbox_core::routing::RoutingCursor>> {
        cursors::all(self.pool(), tenant).await
    }
}
