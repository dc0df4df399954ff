//! A store wrapper that fails on demand, for fault-injection tests.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::error::{Error, Result};
use crate::event::Event;
use crate::ids::{
    AgentId, ChannelId, ContactId, ConversationId, DeadLetterId, MessageId, TeamId, TenantId,
};
use crate::metrics::{LiveQuery, LiveSnapshot, MetricsQuery, MetricsReport};
use crate::model::{Agent, Channel, Contact, ContactIdentity, Conversation, Message, Team, Tenant};
use crate::ports::{
    Changeset, Committed, ContactMerge, Contacts, Conversations, DeadLetter, DeadLetterPut,
    DeadLetterQuery, DeadLetterScope, DeadLetters, Directory, IngestContext, Lease, LoadScope,
    MessageUpdate, MessageUpdated, Messages, OutboxClaim, OutboxDisposition, Reports, Scheduling,
    Store,
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
/// use inbox_core::ports::{Directory, Store};
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

    /// Every call of `operation` (the name of a method a store implements,
    /// such as `"channel"`; a provided method such as
    /// [`Contacts::contact`] is a call of the method it is made of,
    /// `"contacts"`) fails with `error()` from now on, while the rest
    /// works: for data a backend cannot read or has lost.
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

// Passes a call to the inner store once `FaultyStore::check` lets it.
macro_rules! pass {
    ($self:ident.$method:ident($($arg:expr),*)) => {{
        $self.check(stringify!($method))?;
        $self.inner.$method($($arg),*).await
    }};
}

#[async_trait]
impl Directory for FaultyStore {
    async fn upsert_tenant(&self, tenant: &Tenant) -> Result<()> {
        pass!(self.upsert_tenant(tenant))
    }

    async fn tenant(&self, id: &TenantId) -> Result<Tenant> {
        pass!(self.tenant(id))
    }

    async fn upsert_channel(&self, channel: &Channel) -> Result<()> {
        pass!(self.upsert_channel(channel))
    }

    async fn channel(&self, tenant: &TenantId, id: &ChannelId) -> Result<Channel> {
        pass!(self.channel(tenant, id))
    }

    async fn channels(&self, tenant: &TenantId) -> Result<Vec<Channel>> {
        pass!(self.channels(tenant))
    }

    async fn channel_by_phone_number_id(&self, phone_number_id: &str) -> Result<Option<Channel>> {
        pass!(self.channel_by_phone_number_id(phone_number_id))
    }

    async fn upsert_agent(&self, agent: &Agent) -> Result<()> {
        pass!(self.upsert_agent(agent))
    }

    async fn agent(&self, tenant: &TenantId, id: &AgentId) -> Result<Agent> {
        pass!(self.agent(tenant, id))
    }

    async fn agents(&self, tenant: &TenantId) -> Result<Vec<Agent>> {
        pass!(self.agents(tenant))
    }

    async fn upsert_team(&self, team: &Team) -> Result<()> {
        pass!(self.upsert_team(team))
    }

    async fn team(&self, tenant: &TenantId, id: &TeamId) -> Result<Team> {
        pass!(self.team(tenant, id))
    }

    async fn teams(&self, tenant: &TenantId) -> Result<Vec<Team>> {
        pass!(self.teams(tenant))
    }
}

#[async_trait]
impl Contacts for FaultyStore {
    async fn contacts(&self, tenant: &TenantId, ids: &[ContactId]) -> Result<Vec<Contact>> {
        pass!(self.contacts(tenant, ids))
    }

    async fn find_contact(
        &self,
        tenant: &TenantId,
        identity: &ContactIdentity,
    ) -> Result<Option<Contact>> {
        pass!(self.find_contact(tenant, identity))
    }

    async fn merge_contacts(&self, tenant: &TenantId, merge: &ContactMerge) -> Result<Committed> {
        pass!(self.merge_contacts(tenant, merge))
    }
}

#[async_trait]
impl Conversations for FaultyStore {
    async fn conversation(&self, tenant: &TenantId, id: &ConversationId) -> Result<Conversation> {
        pass!(self.conversation(tenant, id))
    }

    async fn latest_conversation(
        &self,
        tenant: &TenantId,
        channel: &ChannelId,
        contact: &ContactId,
    ) -> Result<Option<Conversation>> {
        pass!(self.latest_conversation(tenant, channel, contact))
    }

    async fn list_conversations(
        &self,
        tenant: &TenantId,
        query: &ConversationQuery,
    ) -> Result<Page<Conversation>> {
        pass!(self.list_conversations(tenant, query))
    }

    async fn ingest_context(
        &self,
        tenant: &TenantId,
        channel: &ChannelId,
        identity: &ContactIdentity,
        external_id: &str,
    ) -> Result<IngestContext> {
        pass!(self.ingest_context(tenant, channel, identity, external_id))
    }

    async fn commit(&self, changes: Changeset) -> Result<Committed> {
        pass!(self.commit(changes))
    }

    async fn events_since(
        &self,
        tenant: &TenantId,
        after_seq: u64,
        limit: u32,
    ) -> Result<Vec<Event>> {
        pass!(self.events_since(tenant, after_seq, limit))
    }

    async fn conversation_events(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
        after_version: u64,
    ) -> Result<Vec<Event>> {
        pass!(self.conversation_events(tenant, conversation, after_version))
    }
}

#[async_trait]
impl Messages for FaultyStore {
    async fn message(&self, tenant: &TenantId, id: &MessageId) -> Result<Message> {
        pass!(self.message(tenant, id))
    }

    async fn messages(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
    ) -> Result<Vec<Message>> {
        pass!(self.messages(tenant, conversation))
    }

    async fn message_by_external_id(
        &self,
        tenant: &TenantId,
        channel: &ChannelId,
        external_id: &str,
    ) -> Result<Option<Message>> {
        pass!(self.message_by_external_id(tenant, channel, external_id))
    }

    async fn message_by_idempotency_key(
        &self,
        tenant: &TenantId,
        key: &str,
    ) -> Result<Option<Message>> {
        pass!(self.message_by_idempotency_key(tenant, key))
    }

    async fn update_messages(
        &self,
        tenant: &TenantId,
        updates: &[MessageUpdate],
    ) -> Vec<Result<Option<MessageUpdated>>> {
        if self.check("update_messages").is_err() {
            return updates.iter().map(|_| Err(Self::outage())).collect();
        }
        self.inner.update_messages(tenant, updates).await
    }
}

#[async_trait]
impl Scheduling for FaultyStore {
    async fn due_timers(&self, now: DateTime<Utc>, limit: u32) -> Result<Vec<Timer>> {
        pass!(self.due_timers(now, limit))
    }

    async fn acquire_lease(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
        agent: &AgentId,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Lease> {
        pass!(self.acquire_lease(tenant, conversation, agent, now, until))
    }

    async fn release_lease(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
        agent: &AgentId,
    ) -> Result<bool> {
        pass!(self.release_lease(tenant, conversation, agent))
    }

    async fn lease(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
        now: DateTime<Utc>,
    ) -> Result<Option<Lease>> {
        pass!(self.lease(tenant, conversation, now))
    }

    async fn claim_outbox(
        &self,
        now: DateTime<Utc>,
        lease: Duration,
        limit: u32,
    ) -> Result<Vec<OutboxClaim>> {
        pass!(self.claim_outbox(now, lease, limit))
    }

    async fn begin_outbox_attempt(
        &self,
        claim: &OutboxClaim,
        at: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<()> {
        pass!(self.begin_outbox_attempt(claim, at, until))
    }

    async fn release_outbox(
        &self,
        claim: &OutboxClaim,
        disposition: OutboxDisposition,
    ) -> Result<()> {
        pass!(self.release_outbox(claim, disposition))
    }
}

#[async_trait]
impl Reports for FaultyStore {
    async fn search(&self, tenant: &TenantId, query: &SearchQuery) -> Result<Page<SearchHit>> {
        pass!(self.search(tenant, query))
    }

    async fn metrics(&self, tenant: &TenantId, query: &MetricsQuery) -> Result<MetricsReport> {
        pass!(self.metrics(tenant, query))
    }

    async fn live_snapshot(&self, tenant: &TenantId, query: &LiveQuery) -> Result<LiveSnapshot> {
        pass!(self.live_snapshot(tenant, query))
    }

    async fn agent_loads(
        &self,
        tenant: &TenantId,
        scope: &LoadScope,
    ) -> Result<BTreeMap<AgentId, u32>> {
        pass!(self.agent_loads(tenant, scope))
    }

    async fn last_assignee(
        &self,
        tenant: &TenantId,
        contact: &ContactId,
    ) -> Result<Option<AgentId>> {
        pass!(self.last_assignee(tenant, contact))
    }

    async fn routing_cursors(&self, tenant: &TenantId) -> Result<Vec<RoutingCursor>> {
        pass!(self.routing_cursors(tenant))
    }
}

#[async_trait]
impl DeadLetters for FaultyStore {
    async fn put_dead_letter(&self, letter: DeadLetter) -> Result<DeadLetterPut> {
        pass!(self.put_dead_letter(letter))
    }

    async fn dead_letters(
        &self,
        scope: &DeadLetterScope,
        query: &DeadLetterQuery,
    ) -> Result<Page<DeadLetter>> {
        pass!(self.dead_letters(scope, query))
    }

    async fn dead_letter(&self, scope: &DeadLetterScope, id: &DeadLetterId) -> Result<DeadLetter> {
        pass!(self.dead_letter(scope, id))
    }

    async fn update_dead_letter(&self, letter: &DeadLetter) -> Result<()> {
        pass!(self.update_dead_letter(letter))
    }
}
