//! A store wrapper that fails on demand, for fault-injection tests.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::error::{Error, Result};
use crate::event::Event;
use crate::ids::{AgentId, ChannelId, ContactId, ConversationId, MessageId, TeamId, TenantId};
use crate::metrics::{LiveQuery, LiveSnapshot, MetricsQuery, MetricsReport};
use crate::model::{Agent, Channel, Contact, ContactIdentity, Conversation, Message, Team, Tenant};
use crate::ports::{
    Changeset, Committed, ContactMerge, IngestContext, Lease, MessageMutation, MessageUpdated,
    OutboxClaim, OutboxDisposition, StatusReport, Store,
};
use crate::query::{ConversationQuery, Page, SearchHit, SearchQuery};
use crate::routing::RoutingCursor;
use crate::timer::Timer;

/// A [`Store`] that passes every call to another store, except while it is
/// switched off: then every call fails with [`Error::Unavailable`] and
/// reaches nothing, as when a database goes away. It can also go down by
/// itself after a number of calls ([`FaultyStore::fail_after`]) and refuse
/// one operation with a scripted error ([`FaultyStore::refuse`]).
///
/// ```no_run
/// # futures::executor::block_on(async {
/// use inbox_core::testing::FaultyStore;
/// use inbox_core::ports::Store;
/// # let inner: std::sync::Arc<dyn Store> = unimplemented!();
/// let store = FaultyStore::new(inner);
/// store.set_down(true);
/// assert!(store.tenant(&inbox_core::TenantId::new("acme").unwrap()).await.is_err());
/// # });
/// ```
pub struct FaultyStore {
    inner: Arc<dyn Store>,
    down: AtomicBool,
    /// Calls still answered before the store goes down by itself.
    countdown: Mutex<Option<u64>>,
    /// Operations refused with a scripted error while the rest works.
    refusals: Mutex<HashMap<&'static str, MakeError>>,
    /// Calls made, by operation.
    calls: Mutex<BTreeMap<String, u64>>,
}

/// Makes the error a refused operation fails with.
type MakeError = fn() -> Error;

impl std::fmt::Debug for FaultyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaultyStore")
            .field("down", &self.is_down())
            .finish_non_exhaustive()
    }
}

impl FaultyStore {
    /// Wraps `inner`, switched on.
    pub fn new(inner: Arc<dyn Store>) -> Self {
        Self {
            inner,
            down: AtomicBool::new(false),
            countdown: Mutex::new(None),
            refusals: Mutex::new(HashMap::new()),
            calls: Mutex::new(BTreeMap::new()),
        }
    }

    /// Switches the store off (every call fails) or on again (which also
    /// cancels a [`FaultyStore::fail_after`] countdown).
    pub fn set_down(&self, down: bool) {
        *self.countdown.lock().unwrap_or_else(|e| e.into_inner()) = None;
        self.down.store(down, Ordering::SeqCst);
    }

    /// Answers the next `calls` calls, then goes down by itself (as a
    /// database that goes away in the middle of some work).
    pub fn fail_after(&self, calls: u64) {
        *self.countdown.lock().unwrap_or_else(|e| e.into_inner()) = Some(calls);
    }

    /// Every call of `operation` (a [`Store`] method's name, such as
    /// `"channel"`) fails with `error()` from now on, while the rest works:
    /// for data a backend cannot read or has lost.
    pub fn refuse(&self, operation: &'static str, error: fn() -> Error) {
        let mut refusals = self.refusals.lock().unwrap_or_else(|e| e.into_inner());
        refusals.insert(operation, error);
    }

    /// The calls made so far (answered or not), by operation (a [`Store`]
    /// method's name): to count what some work reads.
    pub fn calls(&self) -> BTreeMap<String, u64> {
        self.calls.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Whether calls fail now.
    pub fn is_down(&self) -> bool {
        self.down.load(Ordering::SeqCst)
    }

    fn outage() -> Error {
        Error::Unavailable {
            message: "the store is switched off (fault injection)".into(),
            source: None,
        }
    }

    fn check(&self, operation: &str) -> Result<()> {
        *self
            .calls
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(operation.to_string())
            .or_default() += 1;
        {
            let mut countdown = self.countdown.lock().unwrap_or_else(|e| e.into_inner());
            match countdown.as_mut() {
                Some(0) => {
                    *countdown = None;
                    self.down.store(true, Ordering::SeqCst);
                }
                Some(n) => *n -= 1,
                None => {}
            }
        }
        if self.is_down() {
            return Err(Self::outage());
        }
        let refusals = self.refusals.lock().unwrap_or_else(|e| e.into_inner());
        match refusals.get(operation) {
            Some(error) => Err(error()),
            None => Ok(()),
        }
    }
}

#[async_trait]
impl Store for FaultyStore {
    async fn upsert_tenant(&self, tenant: &Tenant) -> Result<()> {
        self.check("upsert_tenant")?;
        self.inner.upsert_tenant(tenant).await
    }

    async fn tenant(&self, id: &TenantId) -> Result<Tenant> {
        self.check("tenant")?;
        self.inner.tenant(id).await
    }

    async fn upsert_channel(&self, channel: &Channel) -> Result<()> {
        self.check("upsert_channel")?;
        self.inner.upsert_channel(channel).await
    }

    async fn channel(&self, tenant: &TenantId, id: &ChannelId) -> Result<Channel> {
        self.check("channel")?;
        self.inner.channel(tenant, id).await
    }

    async fn channels(&self, tenant: &TenantId) -> Result<Vec<Channel>> {
        self.check("channels")?;
        self.inner.channels(tenant).await
    }

    async fn channel_by_phone_number_id(&self, phone_number_id: &str) -> Result<Option<Channel>> {
        self.check("channel_by_phone_number_id")?;
        self.inner.channel_by_phone_number_id(phone_number_id).await
    }

    async fn upsert_agent(&self, agent: &Agent) -> Result<()> {
        self.check("upsert_agent")?;
        self.inner.upsert_agent(agent).await
    }

    async fn agent(&self, tenant: &TenantId, id: &AgentId) -> Result<Agent> {
        self.check("agent")?;
        self.inner.agent(tenant, id).await
    }

    async fn agents(&self, tenant: &TenantId) -> Result<Vec<Agent>> {
        self.check("agents")?;
        self.inner.agents(tenant).await
    }

    async fn upsert_team(&self, team: &Team) -> Result<()> {
        self.check("upsert_team")?;
        self.inner.upsert_team(team).await
    }

    async fn team(&self, tenant: &TenantId, id: &TeamId) -> Result<Team> {
        self.check("team")?;
        self.inner.team(tenant, id).await
    }

    async fn teams(&self, tenant: &TenantId) -> Result<Vec<Team>> {
        self.check("teams")?;
        self.inner.teams(tenant).await
    }

    async fn contact(&self, tenant: &TenantId, id: &ContactId) -> Result<Contact> {
        self.check("contact")?;
        self.inner.contact(tenant, id).await
    }

    async fn contacts(&self, tenant: &TenantId, ids: &[ContactId]) -> Result<Vec<Contact>> {
        self.check("contacts")?;
        self.inner.contacts(tenant, ids).await
    }

    async fn find_contact(
        &self,
        tenant: &TenantId,
        identity: &ContactIdentity,
    ) -> Result<Option<Contact>> {
        self.check("find_contact")?;
        self.inner.find_contact(tenant, identity).await
    }

    async fn conversation(&self, tenant: &TenantId, id: &ConversationId) -> Result<Conversation> {
        self.check("conversation")?;
        self.inner.conversation(tenant, id).await
    }

    async fn latest_conversation(
        &self,
        tenant: &TenantId,
        channel: &ChannelId,
        contact: &ContactId,
    ) -> Result<Option<Conversation>> {
        self.check("latest_conversation")?;
        self.inner
            .latest_conversation(tenant, channel, contact)
            .await
    }

    async fn list_conversations(
        &self,
        tenant: &TenantId,
        query: &ConversationQuery,
    ) -> Result<Page<Conversation>> {
        self.check("list_conversations")?;
        self.inner.list_conversations(tenant, query).await
    }

    async fn search(&self, tenant: &TenantId, query: &SearchQuery) -> Result<Page<SearchHit>> {
        self.check("search")?;
        self.inner.search(tenant, query).await
    }

    async fn agent_load(&self, tenant: &TenantId, agent: &AgentId) -> Result<u32> {
        self.check("agent_load")?;
        self.inner.agent_load(tenant, agent).await
    }

    async fn metrics(&self, tenant: &TenantId, query: &MetricsQuery) -> Result<MetricsReport> {
        self.check("metrics")?;
        self.inner.metrics(tenant, query).await
    }

    async fn live_snapshot(&self, tenant: &TenantId, query: &LiveQuery) -> Result<LiveSnapshot> {
        self.check("live_snapshot")?;
        self.inner.live_snapshot(tenant, query).await
    }

    async fn agent_loads(&self, tenant: &TenantId) -> Result<BTreeMap<AgentId, u32>> {
        self.check("agent_loads")?;
        self.inner.agent_loads(tenant).await
    }

    async fn last_assignee(
        &self,
        tenant: &TenantId,
        contact: &ContactId,
    ) -> Result<Option<AgentId>> {
        self.check("last_assignee")?;
        self.inner.last_assignee(tenant, contact).await
    }

    async fn routing_cursors(&self, tenant: &TenantId) -> Result<Vec<RoutingCursor>> {
        self.check("routing_cursors")?;
        self.inner.routing_cursors(tenant).await
    }

    async fn merge_contacts(&self, tenant: &TenantId, merge: &ContactMerge) -> Result<Committed> {
        self.check("merge_contacts")?;
        self.inner.merge_contacts(tenant, merge).await
    }

    async fn message(&self, tenant: &TenantId, id: &MessageId) -> Result<Message> {
        self.check("message")?;
        self.inner.message(tenant, id).await
    }

    async fn messages(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
    ) -> Result<Vec<Message>> {
        self.check("messages")?;
        self.inner.messages(tenant, conversation).await
    }

    async fn message_by_external_id(
        &self,
        tenant: &TenantId,
        channel: &ChannelId,
        external_id: &str,
    ) -> Result<Option<Message>> {
        self.check("message_by_external_id")?;
        self.inner
            .message_by_external_id(tenant, channel, external_id)
            .await
    }

    async fn message_by_idempotency_key(
        &self,
        tenant: &TenantId,
        key: &str,
    ) -> Result<Option<Message>> {
        self.check("message_by_idempotency_key")?;
        self.inner.message_by_idempotency_key(tenant, key).await
    }

    async fn ingest_context(
        &self,
        tenant: &TenantId,
        channel: &ChannelId,
        identity: &ContactIdentity,
        external_id: &str,
    ) -> Result<IngestContext> {
        self.check("ingest_context")?;
        self.inner
            .ingest_context(tenant, channel, identity, external_id)
            .await
    }

    async fn message_for_status(
        &self,
        tenant: &TenantId,
        channel: &ChannelId,
        our_id: Option<&MessageId>,
        external_id: &str,
    ) -> Result<Option<Message>> {
        self.check("message_for_status")?;
        self.inner
            .message_for_status(tenant, channel, our_id, external_id)
            .await
    }

    async fn commit(&self, changes: Changeset) -> Result<Committed> {
        self.check("commit")?;
        self.inner.commit(changes).await
    }

    async fn update_message(
        &self,
        tenant: &TenantId,
        id: &MessageId,
        mutation: &MessageMutation,
    ) -> Result<Option<Event>> {
        self.check("update_message")?;
        self.inner.update_message(tenant, id, mutation).await
    }

    async fn update_message_for_status(
        &self,
        tenant: &TenantId,
        channel: &ChannelId,
        our_id: Option<&MessageId>,
        external_id: &str,
        mutation: &MessageMutation,
    ) -> Result<Option<MessageUpdated>> {
        self.check("update_message_for_status")?;
        self.inner
            .update_message_for_status(tenant, channel, our_id, external_id, mutation)
            .await
    }

    async fn update_messages_for_statuses(
        &self,
        tenant: &TenantId,
        reports: &[StatusReport],
    ) -> Vec<Result<Option<MessageUpdated>>> {
        if self.check("update_messages_for_statuses").is_err() {
            return reports.iter().map(|_| Err(Self::outage())).collect();
        }
        self.inner
            .update_messages_for_statuses(tenant, reports)
            .await
    }

    async fn events_since(
        &self,
        tenant: &TenantId,
        after_seq: u64,
        limit: u32,
    ) -> Result<Vec<Event>> {
        self.check("events_since")?;
        self.inner.events_since(tenant, after_seq, limit).await
    }

    async fn conversation_events(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
        after_version: u64,
    ) -> Result<Vec<Event>> {
        self.check("conversation_events")?;
        self.inner
            .conversation_events(tenant, conversation, after_version)
            .await
    }

    async fn due_timers(&self, now: DateTime<Utc>, limit: u32) -> Result<Vec<Timer>> {
        self.check("due_timers")?;
        self.inner.due_timers(now, limit).await
    }

    async fn acquire_lease(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
        agent: &AgentId,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Lease> {
        self.check("acquire_lease")?;
        self.inner
            .acquire_lease(tenant, conversation, agent, now, until)
            .await
    }

    async fn release_lease(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
        agent: &AgentId,
    ) -> Result<bool> {
        self.check("release_lease")?;
        self.inner.release_lease(tenant, conversation, agent).await
    }

    async fn lease(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
        now: DateTime<Utc>,
    ) -> Result<Option<Lease>> {
        self.check("lease")?;
        self.inner.lease(tenant, conversation, now).await
    }

    async fn claim_outbox(
        &self,
        now: DateTime<Utc>,
        lease: Duration,
        limit: u32,
    ) -> Result<Vec<OutboxClaim>> {
        self.check("claim_outbox")?;
        self.inner.claim_outbox(now, lease, limit).await
    }

    async fn begin_outbox_attempt(
        &self,
        claim: &OutboxClaim,
        at: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<()> {
        self.check("begin_outbox_attempt")?;
        self.inner.begin_outbox_attempt(claim, at, until).await
    }

    async fn release_outbox(
        &self,
        claim: &OutboxClaim,
        disposition: OutboxDisposition,
    ) -> Result<()> {
        self.check("release_outbox")?;
        self.inner.release_outbox(claim, disposition).await
    }
}

#[async_trait]
impl crate::ports::DeadLetters for FaultyStore {
    async fn put_dead_letter(
        &self,
        letter: crate::ports::DeadLetter,
    ) -> Result<crate::ports::DeadLetterPut> {
        self.check("put_dead_letter")?;
        self.inner.put_dead_letter(letter).await
    }

    async fn dead_letters(
        &self,
        scope: &crate::ports::DeadLetterScope,
        query: &crate::ports::DeadLetterQuery,
    ) -> Result<Page<crate::ports::DeadLetter>> {
        self.check("dead_letters")?;
        self.inner.dead_letters(scope, query).await
    }

    async fn dead_letter(
        &self,
        scope: &crate::ports::DeadLetterScope,
        id: &crate::ids::DeadLetterId,
    ) -> Result<crate::ports::DeadLetter> {
        self.check("dead_letter")?;
        self.inner.dead_letter(scope, id).await
    }

    async fn update_dead_letter(&self, letter: &crate::ports::DeadLetter) -> Result<()> {
        self.check("update_dead_letter")?;
        self.inner.update_dead_letter(letter).await
    }
}
