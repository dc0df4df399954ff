//! The in-memory [`Store`].

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, HashMap};
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use inbox_core::error::{Conflict, Error, Result};
use inbox_core::event::Event;
use inbox_core::ids::{AgentId, ChannelId, ContactId, ConversationId, MessageId, TeamId, TenantId};
use inbox_core::model::{
    Agent, Channel, Contact, ContactIdentity, Conversation, Message, Team, Tenant,
};
use inbox_core::ports::{
    Changeset, Committed, ContactMerge, DeliveryOutcome, DeliveryRecord, Lease, MessageMutation,
    OutboxClaim, OutboxDisposition, OutboxEntry, Store, SubscriptionDeadLetter, SubscriptionLog,
    SubscriptionRetry,
};
use inbox_core::query::{
    page_in_memory, ConversationQuery, Cursor, Page, SearchHit, SearchQuery, SortKey, SortOrder,
    ValidSearch,
};
use inbox_core::routing::RoutingCursor;
use inbox_core::timer::{Timer, TimerChange, TimerKind};

/// A complete, concurrency-safe [`Store`] held in memory.
///
/// Every commit runs under one write lock, so it is atomic and serialised
/// like a transaction at the highest isolation level; reads share a read
/// lock and never see a half-applied commit. It keeps the same indexes a
/// database would (by external id, idempotency key, contact identity, active
/// conversation per contact and channel), so lookups on the ingest and reply
/// paths do not scan. Nothing survives the process: use it for tests, trials
/// and embedding where durability is not needed.
///
/// ```
/// use std::sync::Arc;
/// use inbox_core::ports::Store;
/// use inbox_store_memory::MemoryStore;
/// let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
/// # let _ = store;
/// ```
#[derive(Debug, Default)]
pub struct MemoryStore {
    state: RwLock<State>,
    /// Dead letters, apart: they never share a commit with the rest.
    pub(crate) dead_letters: RwLock<crate::dead_letters::DeadLetterState>,
}

#[derive(Debug, Default)]
struct State {
    tenants: HashMap<TenantId, Tenant>,
    channels: BTreeMap<(TenantId, ChannelId), Channel>,
    channel_by_number: HashMap<String, (TenantId, ChannelId)>,
    agents: BTreeMap<(TenantId, AgentId), Agent>,
    teams: BTreeMap<(TenantId, TeamId), Team>,
    data: HashMap<TenantId, TenantData>,
    outbox: BTreeMap<(TenantId, MessageId), OutboxRow>,
    next_token: u64,
    next_outbox_seq: u64,
    /// Timers by due time (the index `due_timers` ranges over).
    timers_by_due: BTreeMap<(DateTime<Utc>, TenantId, ConversationId, TimerKind), ()>,
    /// Due time of each timer.
    timers: HashMap<(TenantId, ConversationId, TimerKind), DateTime<Utc>>,
    leases: HashMap<(TenantId, ConversationId), Lease>,
    cursors: BTreeMap<(TenantId, TeamId), RoutingCursor>,
    subscriptions: BTreeMap<(TenantId, String), SubscriptionState>,
}

/// One subscription's delivery state.
#[derive(Debug, Default)]
struct SubscriptionState {
    position: Option<u64>,
    retries: BTreeMap<u64, SubscriptionRetry>,
    dead: BTreeMap<u64, SubscriptionDeadLetter>,
}

#[derive(Debug, Default)]
struct TenantData {
    contacts: HashMap<ContactId, Contact>,
    contact_by_wa: HashMap<String, ContactId>,
    contact_by_user: HashMap<String, ContactId>,
    conversations: HashMap<ConversationId, Conversation>,
    active_by_pair: HashMap<(ChannelId, ContactId), ConversationId>,
    latest_by_pair: HashMap<(ChannelId, ContactId), ConversationId>,
    messages: HashMap<MessageId, Message>,
    messages_of: HashMap<ConversationId, Vec<MessageId>>,
    by_external: HashMap<(ChannelId, String), MessageId>,
    by_key: HashMap<String, MessageId>,
    /// Event `seq` n is at index n - 1.
    events: Vec<Event>,
    events_of: HashMap<ConversationId, Vec<usize>>,
}

#[derive(Debug, Clone)]
struct OutboxRow {
    entry: OutboxEntry,
    claim: Option<(u64, DateTime<Utc>)>,
    /// A send attempt began under a claim not released since.
    sending_since: Option<DateTime<Utc>>,
    /// The message's conversation, and the entry's place in commit order:
    /// a conversation's entries are claimed one at a time, in this order.
    conversation: ConversationId,
    seq: u64,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn read(&self) -> RwLockReadGuard<'_, State> {
        // A panic while holding the lock cannot leave a half-applied commit
        // (commits check everything before they change anything), so a
        // poisoned lock is safe to keep using.
        self.state.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait]
impl SubscriptionLog for MemoryStore {
    async fn subscription_position(
        &self,
        tenant: &TenantId,
        subscription: &str,
    ) -> Result<Option<u64>> {
        Ok(self
            .read()
            .subscriptions
            .get(&(tenant.clone(), subscription.to_string()))
            .and_then(|w| w.position))
    }

    async fn subscription_commit(
        &self,
        tenant: &TenantId,
        subscription: &str,
        position: u64,
        retries: Vec<SubscriptionRetry>,
        dead: Vec<SubscriptionDeadLetter>,
    ) -> Result<()> {
        let mut s = self.write();
        let w = s
            .subscriptions
            .entry((tenant.clone(), subscription.to_string()))
            .or_default();
        w.position = Some(w.position.map_or(position, |p| p.max(position)));
        for r in retries {
            w.dead.remove(&r.event.seq);
            w.retries.insert(r.event.seq, r);
        }
        for d in dead {
            w.retries.remove(&d.event.seq);
            w.dead.insert(d.event.seq, d);
        }
        Ok(())
    }

    async fn subscription_due_retries(
        &self,
        tenant: &TenantId,
        subscription: &str,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<SubscriptionRetry>> {
        let s = self.read();
        let Some(w) = s
            .subscriptions
            .get(&(tenant.clone(), subscription.to_string()))
        else {
            return Ok(Vec::new());
        };
        let mut due: Vec<SubscriptionRetry> = w
            .retries
            .values()
            .filter(|r| r.due <= now)
            .cloned()
            .collect();
        due.sort_by_key(|r| (r.due, r.event.seq));
        due.truncate(limit as usize);
        Ok(due)
    }

    async fn subscription_settle(
        &self,
        tenant: &TenantId,
        subscription: &str,
        seq: u64,
        outcome: DeliveryOutcome,
    ) -> Result<()> {
        let mut s = self.write();
        let Some(w) = s
            .subscriptions
            .get_mut(&(tenant.clone(), subscription.to_string()))
        else {
            return Ok(());
        };
        let event = match (w.retries.remove(&seq), w.dead.remove(&seq)) {
            (Some(r), _) => r.event,
            (None, Some(d)) => d.event,
            (None, None) => return Ok(()),
        };
        match outcome.record(subscription, event) {
            None => {}
            Some(DeliveryRecord::Retry(r)) => {
                w.retries.insert(seq, r);
            }
            Some(DeliveryRecord::Dead(d)) => {
                w.dead.insert(seq, d);
            }
        }
        Ok(())
    }

    async fn subscription_dead_letters(
        &self,
        tenant: &TenantId,
        subscription: &str,
    ) -> Result<Vec<SubscriptionDeadLetter>> {
        Ok(self
            .read()
            .subscriptions
            .get(&(tenant.clone(), subscription.to_string()))
            .map(|w| w.dead.values().cloned().collect())
            .unwrap_or_default())
    }
}

fn duplicate(what: &'static str, existing: impl std::fmt::Display) -> Error {
    Error::Duplicate {
        what,
        existing: existing.to_string(),
    }
}

impl State {
    fn require_tenant(&self, tenant: &TenantId) -> Result<()> {
        if self.tenants.contains_key(tenant) {
            Ok(())
        } else {
            Err(Error::not_found("tenant", tenant))
        }
    }

    fn data(&self, tenant: &TenantId) -> Option<&TenantData> {
        self.data.get(tenant)
    }

    /// Checks a whole changeset against the current state without changing
    /// anything.
    fn check(&self, tenant: &TenantId, ch: &Changeset) -> Result<()> {
        self.require_tenant(tenant)?;
        let empty = TenantData::default();
        let d = self.data(tenant).unwrap_or(&empty);

        // Messages first: a redelivered webhook must be reported as a
        // duplicate message whatever else raced with it.
        let mut new_ext = Vec::new();
        let mut new_keys = Vec::new();
        for m in &ch.messages {
            if d.messages.contains_key(&m.id)
                || ch.messages.iter().filter(|o| o.id == m.id).count() > 1
            {
                return Err(duplicate("message", &m.id));
            }
            if let Some(ext) = &m.external_id {
                if let Some(existing) = d.by_external.get(&(m.channel.clone(), ext.clone())) {
                    return Err(duplicate("message", existing));
                }
                if new_ext.contains(&(&m.channel, ext)) {
                    return Err(duplicate("message", &m.id));
                }
                new_ext.push((&m.channel, ext));
            }
            if let Some(key) = &m.idempotency_key {
                if let Some(existing) = d.by_key.get(key) {
                    return Err(duplicate("idempotency key", existing));
                }
                if new_keys.contains(&key) {
                    return Err(duplicate("idempotency key", &m.id));
                }
                new_keys.push(key);
            }
            let in_changeset = ch
                .conversation
                .as_ref()
                .is_some_and(|w| w.value.id == m.conversation);
            if !in_changeset && !d.conversations.contains_key(&m.conversation) {
                return Err(Error::not_found("conversation", &m.conversation));
            }
        }

        if let Some(w) = &ch.contact {
            let k = &w.value;
            match (w.expected_version, d.contacts.get(&k.id)) {
                (None, Some(_)) => return Err(duplicate("contact", &k.id)),
                (Some(_), None) => return Err(Error::not_found("contact", &k.id)),
                (Some(v), Some(cur)) if cur.version != v => {
                    return Err(Error::Conflict(Box::new(Conflict::on(
                        "contact",
                        &k.id,
                        v,
                        cur.version,
                    ))))
                }
                _ => {}
            }
            check_identity(d, k)?;
        }

        if let Some(w) = &ch.conversation {
            let c = &w.value;
            if !self
                .channels
                .contains_key(&(tenant.clone(), c.channel.clone()))
            {
                return Err(Error::not_found("channel", &c.channel));
            }
            match (w.expected_version, d.conversations.get(&c.id)) {
                (None, Some(_)) => return Err(duplicate("conversation", &c.id)),
                (Some(_), None) => return Err(Error::not_found("conversation", &c.id)),
                (Some(v), Some(cur)) => {
                    if cur.version != v {
                        return Err(Error::Conflict(Box::new(Conflict::conversation(
                            &c.id,
                            v,
                            cur.version,
                        ))));
                    }
                    if cur.channel != c.channel || cur.contact != c.contact {
                        return Err(Error::invalid(
                            "conversation",
                            "channel and contact of a conversation cannot change",
                        ));
                    }
                }
                (None, None) => {}
            }
            if c.status.is_active() {
                if let Some(active) = d
                    .active_by_pair
                    .get(&(c.channel.clone(), c.contact.clone()))
                {
                    if active != &c.id {
                        return Err(duplicate("active conversation", active));
                    }
                }
            }
        }

        if let Some((agent, _)) = &ch.presence {
            if !self.agents.contains_key(&(tenant.clone(), agent.clone())) {
                return Err(Error::not_found("agent", agent));
            }
        }
        for c in &ch.cursors {
            let stored = self
                .cursors
                .get(&(tenant.clone(), c.team.clone()))
                .map_or(0, |s| s.version);
            if stored + 1 != c.version {
                return Err(Error::Conflict(Box::new(Conflict::on(
                    "routing cursor",
                    &c.team,
                    c.version - 1,
                    stored,
                ))));
            }
        }
        Ok(())
    }

    /// Applies a checked changeset.
    fn apply(&mut self, tenant: &TenantId, ch: Changeset) -> Committed {
        if let Some((agent, presence)) = &ch.presence {
            if let Some(a) = self.agents.get_mut(&(tenant.clone(), agent.clone())) {
                a.presence = *presence;
            }
        }
        for c in &ch.cursors {
            self.cursors
                .insert((tenant.clone(), c.team.clone()), c.clone());
        }
        for o in &ch.outbox {
            let Some(m) = ch.messages.iter().find(|m| m.id == o.message) else {
                continue;
            };
            self.next_outbox_seq += 1;
            self.outbox.insert(
                (tenant.clone(), o.message.clone()),
                OutboxRow {
                    entry: o.clone(),
                    claim: None,
                    sending_since: None,
                    conversation: m.conversation.clone(),
                    seq: self.next_outbox_seq,
                },
            );
        }
        for t in &ch.timers {
            let (conversation, kind, due) = match t {
                TimerChange::Set(timer) => (&timer.conversation, timer.kind, Some(timer.due_at)),
                TimerChange::Clear { conversation, kind } => (conversation, *kind, None),
            };
            let key = (tenant.clone(), conversation.clone(), kind);
            if let Some(old) = self.timers.remove(&key) {
                self.timers_by_due
                    .remove(&(old, key.0.clone(), key.1.clone(), kind));
            }
            if let Some(due) = due {
                self.timers_by_due
                    .insert((due, key.0.clone(), key.1.clone(), kind), ());
                self.timers.insert(key, due);
            }
        }
        let d = self.data.entry(tenant.clone()).or_default();
        if let Some(w) = ch.contact {
            let k = w.value;
            if let Some(old) = d.contacts.get(&k.id) {
                if let Some(wa) = &old.identity.wa_id {
                    d.contact_by_wa.remove(wa);
                }
                if let Some(u) = &old.identity.user_id {
                    d.contact_by_user.remove(u);
                }
            }
            if let Some(wa) = &k.identity.wa_id {
                d.contact_by_wa.insert(wa.clone(), k.id.clone());
            }
            if let Some(u) = &k.identity.user_id {
                d.contact_by_user.insert(u.clone(), k.id.clone());
            }
            d.contacts.insert(k.id.clone(), k);
        }
        if let Some(w) = ch.conversation {
            let c = w.value;
            let pair = (c.channel.clone(), c.contact.clone());
            if w.expected_version.is_none() {
                d.latest_by_pair.insert(pair.clone(), c.id.clone());
            }
            if c.status.is_active() {
                d.active_by_pair.insert(pair, c.id.clone());
            } else if d.active_by_pair.get(&pair) == Some(&c.id) {
                d.active_by_pair.remove(&pair);
            }
            d.conversations.insert(c.id.clone(), c);
        }
        for m in ch.messages {
            if let Some(ext) = &m.external_id {
                d.by_external
                    .insert((m.channel.clone(), ext.clone()), m.id.clone());
            }
            if let Some(key) = &m.idempotency_key {
                d.by_key.insert(key.clone(), m.id.clone());
            }
            d.messages_of
                .entry(m.conversation.clone())
                .or_default()
                .push(m.id.clone());
            d.messages.insert(m.id.clone(), m);
        }
        let mut recorded = Vec::with_capacity(ch.events.len());
        for e in ch.events {
            recorded.push(d.record(e));
        }
        Committed { events: recorded }
    }
}

impl TenantData {
    fn record(&mut self, mut e: Event) -> Event {
        e.seq = self.events.len() as u64 + 1;
        if let Some(c) = &e.conversation {
            self.events_of
                .entry(c.clone())
                .or_default()
                .push(self.events.len());
        }
        self.events.push(e.clone());
        e
    }
}

fn check_identity(d: &TenantData, k: &Contact) -> Result<()> {
    if let Some(wa) = &k.identity.wa_id {
        if let Some(other) = d.contact_by_wa.get(wa) {
            if other != &k.id {
                return Err(duplicate("contact", other));
            }
        }
    }
    if let Some(u) = &k.identity.user_id {
        if let Some(other) = d.contact_by_user.get(u) {
            if other != &k.id {
                return Err(duplicate("contact", other));
            }
        }
    }
    Ok(())
}

#[async_trait]
impl Store for MemoryStore {
    async fn upsert_tenant(&self, tenant: &Tenant) -> Result<()> {
        self.write()
            .tenants
            .insert(tenant.id.clone(), tenant.clone());
        Ok(())
    }

    async fn tenant(&self, id: &TenantId) -> Result<Tenant> {
        self.read()
            .tenants
            .get(id)
            .cloned()
            .ok_or_else(|| Error::not_found("tenant", id))
    }

    async fn upsert_channel(&self, channel: &Channel) -> Result<()> {
        let mut s = self.write();
        s.require_tenant(&channel.tenant)?;
        let key = (channel.tenant.clone(), channel.id.clone());
        if let Some(owner) = s.channel_by_number.get(&channel.phone_number_id) {
            if owner != &key {
                return Err(duplicate("phone number id", &owner.1));
            }
        }
        if let Some(old) = s.channels.get(&key) {
            let old_number = old.phone_number_id.clone();
            s.channel_by_number.remove(&old_number);
        }
        s.channel_by_number
            .insert(channel.phone_number_id.clone(), key.clone());
        s.channels.insert(key, channel.clone());
        Ok(())
    }

    async fn channel(&self, tenant: &TenantId, id: &ChannelId) -> Result<Channel> {
        self.read()
            .channels
            .get(&(tenant.clone(), id.clone()))
            .cloned()
            .ok_or_else(|| Error::not_found("channel", id))
    }

    async fn channels(&self, tenant: &TenantId) -> Result<Vec<Channel>> {
        Ok(self
            .read()
            .channels
            .iter()
            .filter(|((t, _), _)| t == tenant)
            .map(|(_, c)| c.clone())
            .collect())
    }

    async fn channel_by_phone_number_id(&self, phone_number_id: &str) -> Result<Option<Channel>> {
        let s = self.read();
        Ok(s.channel_by_number
            .get(phone_number_id)
            .and_then(|k| s.channels.get(k))
            .cloned())
    }

    async fn upsert_agent(&self, agent: &Agent) -> Result<()> {
        let mut s = self.write();
        s.require_tenant(&agent.tenant)?;
        s.agents
            .insert((agent.tenant.clone(), agent.id.clone()), agent.clone());
        Ok(())
    }

    async fn agent(&self, tenant: &TenantId, id: &AgentId) -> Result<Agent> {
        self.read()
            .agents
            .get(&(tenant.clone(), id.clone()))
            .cloned()
            .ok_or_else(|| Error::not_found("agent", id))
    }

    async fn agents(&self, tenant: &TenantId) -> Result<Vec<Agent>> {
        Ok(self
            .read()
            .agents
            .iter()
            .filter(|((t, _), _)| t == tenant)
            .map(|(_, a)| a.clone())
            .collect())
    }

    async fn upsert_team(&self, team: &Team) -> Result<()> {
        let mut s = self.write();
        s.require_tenant(&team.tenant)?;
        s.teams
            .insert((team.tenant.clone(), team.id.clone()), team.clone());
        Ok(())
    }

    async fn team(&self, tenant: &TenantId, id: &TeamId) -> Result<Team> {
        self.read()
            .teams
            .get(&(tenant.clone(), id.clone()))
            .cloned()
            .ok_or_else(|| Error::not_found("team", id))
    }

    async fn teams(&self, tenant: &TenantId) -> Result<Vec<Team>> {
        Ok(self
            .read()
            .teams
            .iter()
            .filter(|((t, _), _)| t == tenant)
            .map(|(_, a)| a.clone())
            .collect())
    }

    async fn contact(&self, tenant: &TenantId, id: &ContactId) -> Result<Contact> {
        self.read()
            .data(tenant)
            .and_then(|d| d.contacts.get(id))
            .cloned()
            .ok_or_else(|| Error::not_found("contact", id))
    }

    async fn find_contact(
        &self,
        tenant: &TenantId,
        identity: &ContactIdentity,
    ) -> Result<Option<Contact>> {
        let s = self.read();
        let Some(d) = s.data(tenant) else {
            return Ok(None);
        };
        let id = identity
            .wa_id
            .as_ref()
            .and_then(|w| d.contact_by_wa.get(w))
            .or_else(|| {
                identity
                    .user_id
                    .as_ref()
                    .and_then(|u| d.contact_by_user.get(u))
            });
        Ok(id.and_then(|id| d.contacts.get(id)).cloned())
    }

    async fn conversation(&self, tenant: &TenantId, id: &ConversationId) -> Result<Conversation> {
        self.read()
            .data(tenant)
            .and_then(|d| d.conversations.get(id))
            .cloned()
            .ok_or_else(|| Error::not_found("conversation", id))
    }

    async fn latest_conversation(
        &self,
        tenant: &TenantId,
        channel: &ChannelId,
        contact: &ContactId,
    ) -> Result<Option<Conversation>> {
        let s = self.read();
        let Some(d) = s.data(tenant) else {
            return Ok(None);
        };
        let pair = (channel.clone(), contact.clone());
        let id = d
            .active_by_pair
            .get(&pair)
            .or_else(|| d.latest_by_pair.get(&pair));
        Ok(id.and_then(|id| d.conversations.get(id)).cloned())
    }

    async fn list_conversations(
        &self,
        tenant: &TenantId,
        query: &ConversationQuery,
    ) -> Result<Page<Conversation>> {
        let s = self.read();
        match s.data(tenant) {
            Some(d) => page_in_memory(query, d.conversations.values()),
            None => page_in_memory(query, std::iter::empty()),
        }
    }

    async fn search(&self, tenant: &TenantId, query: &SearchQuery) -> Result<Page<SearchHit>> {
        let ValidSearch {
            tokens,
            digits,
            after,
        } = query.validate()?;
        let s = self.read();
        let Some(d) = s.data(tenant) else {
            return Ok(Page {
                items: Vec::new(),
                next: None,
            });
        };
        let mut hits: Vec<(SortKey, SearchHit)> = d
            .conversations
            .values()
            .filter(|c| query.filter.matches(c))
            .map(|c| (SortOrder::LatestActivity.key(c), c))
            .filter(|(k, _)| after.as_ref().is_none_or(|a| k > a))
            .filter_map(|(k, c)| {
                let messages: Vec<&Message> = d
                    .messages_of
                    .get(&c.id)
                    .map(|ids| ids.iter().filter_map(|id| d.messages.get(id)).collect())
                    .unwrap_or_default();
                SearchQuery::hit(
                    &tokens,
                    digits.as_deref(),
                    c,
                    d.contacts.get(&c.contact),
                    &messages,
                )
                .map(|h| (k, h))
            })
            .collect();
        hits.sort_by(|a, b| a.0.cmp(&b.0));
        let limit = query.limit as usize;
        let more = hits.len() > limit;
        hits.truncate(limit);
        let next = if more {
            hits.last()
                .map(|(k, _)| Cursor::after(SortOrder::LatestActivity, k))
        } else {
            None
        };
        Ok(Page {
            items: hits.into_iter().map(|(_, h)| h).collect(),
            next,
        })
    }

    async fn agent_load(&self, tenant: &TenantId, agent: &AgentId) -> Result<u32> {
        let s = self.read();
        Ok(s.data(tenant).map_or(0, |d| {
            d.conversations
                .values()
                .filter(|c| c.status.is_active() && c.assignee.as_ref() == Some(agent))
                .count() as u32
        }))
    }

    async fn metrics(
        &self,
        tenant: &TenantId,
        query: &inbox_core::metrics::MetricsQuery,
    ) -> Result<inbox_core::metrics::MetricsReport> {
        query.validate()?;
        let s = self.read();
        Ok(match s.data(tenant) {
            Some(d) => inbox_core::metrics::MetricsReport::compute(
                query,
                d.conversations.values(),
                d.messages.values(),
            ),
            None => inbox_core::metrics::MetricsReport::default(),
        })
    }

    async fn live_snapshot(
        &self,
        tenant: &TenantId,
        query: &inbox_core::metrics::LiveQuery,
    ) -> Result<inbox_core::metrics::LiveSnapshot> {
        let s = self.read();
        let agents = s
            .agents
            .iter()
            .filter(|((t, _), _)| t == tenant)
            .map(|(_, a)| a);
        use inbox_core::metrics::LiveSnapshot;
        Ok(match s.data(tenant) {
            Some(d) => {
                let mut snapshot = LiveSnapshot::compute(query, d.conversations.values(), agents);
                let messages = d
                    .messages
                    .values()
                    .filter_map(|m| d.conversations.get(&m.conversation).map(|c| (m, c)));
                snapshot.in_doubt = LiveSnapshot::count_in_doubt(query, messages);
                snapshot
            }
            None => LiveSnapshot::compute(query, [], agents),
        })
    }

    async fn agent_loads(&self, tenant: &TenantId) -> Result<BTreeMap<AgentId, u32>> {
        let s = self.read();
        let mut out = BTreeMap::new();
        if let Some(d) = s.data(tenant) {
            for c in d.conversations.values() {
                if let (true, Some(a)) = (c.status.is_active(), &c.assignee) {
                    *out.entry(a.clone()).or_insert(0) += 1;
                }
            }
        }
        Ok(out)
    }

    async fn last_assignee(
        &self,
        tenant: &TenantId,
        contact: &ContactId,
    ) -> Result<Option<AgentId>> {
        let s = self.read();
        Ok(s.data(tenant).and_then(|d| {
            d.conversations
                .values()
                .filter(|c| &c.contact == contact && c.assignee.is_some())
                .max_by(|a, b| {
                    a.last_activity_at
                        .cmp(&b.last_activity_at)
                        .then_with(|| a.id.cmp(&b.id))
                })
                .and_then(|c| c.assignee.clone())
        }))
    }

    async fn routing_cursors(&self, tenant: &TenantId) -> Result<Vec<RoutingCursor>> {
        let s = self.read();
        Ok(s.cursors
            .iter()
            .filter(|((t, _), _)| t == tenant)
            .map(|(_, c)| c.clone())
            .collect())
    }

    async fn message(&self, tenant: &TenantId, id: &MessageId) -> Result<Message> {
        self.read()
            .data(tenant)
            .and_then(|d| d.messages.get(id))
            .cloned()
            .ok_or_else(|| Error::not_found("message", id))
    }

    async fn messages(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
    ) -> Result<Vec<Message>> {
        let s = self.read();
        let Some(d) = s.data(tenant) else {
            return Ok(Vec::new());
        };
        Ok(d.messages_of
            .get(conversation)
            .map(|ids| {
                ids.iter()
                    .filter_map(|id| d.messages.get(id))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default())
    }

    async fn message_by_external_id(
        &self,
        tenant: &TenantId,
        channel: &ChannelId,
        external_id: &str,
    ) -> Result<Option<Message>> {
        let s = self.read();
        Ok(s.data(tenant).and_then(|d| {
            d.by_external
                .get(&(channel.clone(), external_id.to_string()))
                .and_then(|id| d.messages.get(id))
                .cloned()
        }))
    }

    async fn message_by_idempotency_key(
        &self,
        tenant: &TenantId,
        key: &str,
    ) -> Result<Option<Message>> {
        let s = self.read();
        Ok(s.data(tenant)
            .and_then(|d| d.by_key.get(key).and_then(|id| d.messages.get(id)))
            .cloned())
    }

    async fn commit(&self, changes: Changeset) -> Result<Committed> {
        let tenant = changes.validate()?.clone();
        let mut s = self.write();
        s.check(&tenant, &changes)?;
        Ok(s.apply(&tenant, changes))
    }

    async fn merge_contacts(&self, tenant: &TenantId, m: &ContactMerge) -> Result<Committed> {
        let mut s = self.write();
        s.require_tenant(tenant)?;
        let d = s
            .data
            .get_mut(tenant)
            .ok_or_else(|| Error::not_found("contact", &m.into.value.id))?;
        let (from, into) = (&m.from.value, &m.into.value);
        if from.tenant != *tenant
            || into.tenant != *tenant
            || m.events.iter().any(|e| &e.tenant != tenant)
        {
            return Err(Error::invalid("merge", "belongs to another tenant"));
        }
        for w in [&m.from, &m.into] {
            let cur = d
                .contacts
                .get(&w.value.id)
                .ok_or_else(|| Error::not_found("contact", &w.value.id))?;
            let expected = w.expected_version.unwrap_or(0);
            if cur.version != expected || w.value.version != expected + 1 {
                return Err(Error::Conflict(Box::new(Conflict::on(
                    "contact",
                    &w.value.id,
                    expected,
                    cur.version,
                ))));
            }
        }
        // Both active on one channel: refuse before changing anything.
        let moving: Vec<ConversationId> = d
            .conversations
            .values()
            .filter(|c| c.contact == from.id)
            .map(|c| c.id.clone())
            .collect();
        for id in &moving {
            let c = &d.conversations[id];
            if c.status.is_active() {
                if let Some(active) = d.active_by_pair.get(&(c.channel.clone(), into.id.clone())) {
                    return Err(duplicate("active conversation", active));
                }
            }
        }
        // Identities: the tombstone lets go, the survivor takes.
        for k in [&d.contacts[&from.id], &d.contacts[&into.id]] {
            let (wa, user) = (k.identity.wa_id.clone(), k.identity.user_id.clone());
            if let Some(wa) = wa {
                d.contact_by_wa.remove(&wa);
            }
            if let Some(u) = user {
                d.contact_by_user.remove(&u);
            }
        }
        if let Some(wa) = &into.identity.wa_id {
            d.contact_by_wa.insert(wa.clone(), into.id.clone());
        }
        if let Some(u) = &into.identity.user_id {
            d.contact_by_user.insert(u.clone(), into.id.clone());
        }
        d.contacts.insert(from.id.clone(), from.clone());
        d.contacts.insert(into.id.clone(), into.clone());
        for id in moving {
            let Some(c) = d.conversations.get_mut(&id) else {
                continue;
            };
            c.contact = into.id.clone();
            c.version += 1;
            let (channel, active, created, cid) = (
                c.channel.clone(),
                c.status.is_active(),
                c.created_at,
                c.id.clone(),
            );
            let old = (channel.clone(), from.id.clone());
            let new = (channel, into.id.clone());
            if d.active_by_pair.get(&old) == Some(&cid) {
                d.active_by_pair.remove(&old);
            }
            if active {
                d.active_by_pair.insert(new.clone(), cid.clone());
            }
            if d.latest_by_pair.get(&old) == Some(&cid) {
                d.latest_by_pair.remove(&old);
            }
            let newer = match d
                .latest_by_pair
                .get(&new)
                .and_then(|l| d.conversations.get(l))
            {
                Some(l) => created > l.created_at,
                None => true,
            };
            if newer {
                d.latest_by_pair.insert(new, cid);
            }
        }
        let mut recorded = Vec::with_capacity(m.events.len());
        for e in &m.events {
            recorded.push(d.record(e.clone()));
        }
        Ok(Committed { events: recorded })
    }

    async fn update_message(
        &self,
        tenant: &TenantId,
        id: &MessageId,
        mutation: &MessageMutation,
    ) -> Result<Option<Event>> {
        let mut s = self.write();
        let d = s
            .data
            .get_mut(tenant)
            .ok_or_else(|| Error::not_found("message", id))?;
        let current = d
            .messages
            .get(id)
            .ok_or_else(|| Error::not_found("message", id))?;
        let mut next = current.clone();
        let had_external = current.external_id.is_some();
        let mutated = mutation.apply(&mut next);
        if !mutated.changed {
            return Ok(None);
        }
        if !had_external {
            if let Some(ext) = &next.external_id {
                let key = (next.channel.clone(), ext.clone());
                if let Some(other) = d.by_external.get(&key) {
                    if other != id {
                        return Err(duplicate("message", other));
                    }
                }
                d.by_external.insert(key, id.clone());
            }
        }
        d.messages.insert(id.clone(), next);
        Ok(mutated.event.map(|e| d.record(e)))
    }

    async fn events_since(
        &self,
        tenant: &TenantId,
        after_seq: u64,
        limit: u32,
    ) -> Result<Vec<Event>> {
        let s = self.read();
        let Some(d) = s.data(tenant) else {
            return Ok(Vec::new());
        };
        let start = usize::try_from(after_seq)
            .unwrap_or(usize::MAX)
            .min(d.events.len());
        Ok(d.events[start..]
            .iter()
            .take(limit as usize)
            .cloned()
            .collect())
    }

    async fn conversation_events(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
        after_version: u64,
    ) -> Result<Vec<Event>> {
        let s = self.read();
        let Some(d) = s.data(tenant) else {
            return Ok(Vec::new());
        };
        Ok(d.events_of
            .get(conversation)
            .map(|idx| {
                idx.iter()
                    .map(|&i| &d.events[i])
                    .filter(|e| e.conversation_version.is_none_or(|v| v > after_version))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default())
    }

    async fn due_timers(&self, now: DateTime<Utc>, limit: u32) -> Result<Vec<Timer>> {
        let s = self.read();
        Ok(s.timers_by_due
            .keys()
            .take_while(|(due, ..)| *due <= now)
            .take(limit as usize)
            .map(|(due, tenant, conversation, kind)| Timer {
                tenant: tenant.clone(),
                conversation: conversation.clone(),
                kind: *kind,
                due_at: *due,
            })
            .collect())
    }

    async fn acquire_lease(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
        agent: &AgentId,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Lease> {
        let mut s = self.write();
        if !s
            .data(tenant)
            .is_some_and(|d| d.conversations.contains_key(conversation))
        {
            return Err(Error::not_found("conversation", conversation));
        }
        let key = (tenant.clone(), conversation.clone());
        match s.leases.get(&key) {
            Some(l) if &l.holder != agent && l.until > now => Ok(l.clone()),
            _ => {
                let lease = Lease {
                    holder: agent.clone(),
                    until,
                };
                s.leases.insert(key, lease.clone());
                Ok(lease)
            }
        }
    }

    async fn release_lease(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
        agent: &AgentId,
    ) -> Result<bool> {
        let mut s = self.write();
        let key = (tenant.clone(), conversation.clone());
        if s.leases.get(&key).is_some_and(|l| &l.holder == agent) {
            s.leases.remove(&key);
            return Ok(true);
        }
        Ok(false)
    }

    async fn lease(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
        now: DateTime<Utc>,
    ) -> Result<Option<Lease>> {
        let s = self.read();
        Ok(s.leases
            .get(&(tenant.clone(), conversation.clone()))
            .filter(|l| l.until > now)
            .cloned())
    }

    async fn claim_outbox(
        &self,
        now: DateTime<Utc>,
        lease: Duration,
        limit: u32,
    ) -> Result<Vec<OutboxClaim>> {
        let mut s = self.write();
        let lease_until =
            now + chrono::TimeDelta::from_std(lease).unwrap_or(chrono::TimeDelta::MAX);
        // Each conversation's first entry in commit order.
        let mut heads: HashMap<(&TenantId, &ConversationId), u64> = HashMap::new();
        for ((t, _), row) in &s.outbox {
            let first = heads.entry((t, &row.conversation)).or_insert(row.seq);
            *first = (*first).min(row.seq);
        }
        let mut due: Vec<((TenantId, MessageId), DateTime<Utc>)> = s
            .outbox
            .iter()
            .filter(|((t, _), row)| heads.get(&(t, &row.conversation)) == Some(&row.seq))
            .filter_map(|(k, row)| match row.claim {
                None if row.entry.not_before <= now => Some((k.clone(), row.entry.not_before)),
                Some((_, until)) if until <= now => Some((k.clone(), until)),
                _ => None,
            })
            .collect();
        due.sort_by(|a, b| a.1.cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
        due.truncate(limit as usize);
        let mut claims = Vec::with_capacity(due.len());
        for (key, _) in due {
            s.next_token += 1;
            let token = s.next_token;
            if let Some(row) = s.outbox.get_mut(&key) {
                let in_doubt = row.claim.is_some() && row.sending_since.is_some();
                row.claim = Some((token, lease_until));
                claims.push(OutboxClaim {
                    entry: row.entry.clone(),
                    token,
                    lease_until,
                    in_doubt,
                });
            }
        }
        Ok(claims)
    }

    async fn release_outbox(
        &self,
        claim: &OutboxClaim,
        disposition: OutboxDisposition,
    ) -> Result<()> {
        let mut s = self.write();
        let key = (claim.entry.tenant.clone(), claim.entry.message.clone());
        let row = s.outbox.get_mut(&key).ok_or_else(|| stale_claim(claim))?;
        if row.claim.map(|(t, _)| t) != Some(claim.token) {
            return Err(stale_claim(claim));
        }
        match disposition {
            OutboxDisposition::Done => {
                s.outbox.remove(&key);
            }
            OutboxDisposition::RetryAt(at) => {
                row.claim = None;
                row.sending_since = None;
                row.entry.not_before = at;
            }
        }
        Ok(())
    }

    async fn begin_outbox_attempt(
        &self,
        claim: &OutboxClaim,
        at: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<()> {
        let mut s = self.write();
        let key = (claim.entry.tenant.clone(), claim.entry.message.clone());
        match s.outbox.get_mut(&key) {
            Some(row)
                if row
                    .claim
                    .is_some_and(|(t, lease)| t == claim.token && lease > at) =>
            {
                row.entry.attempts += 1;
                row.sending_since = Some(at);
                row.claim = row.claim.map(|(t, lease)| (t, lease.max(until)));
                Ok(())
            }
            _ => Err(stale_claim(claim)),
        }
    }
}

/// The conflict of an outbox claim that is no longer held.
fn stale_claim(claim: &OutboxClaim) -> Error {
    Error::Conflict(Box::new(Conflict::on(
        "outbox entry",
        &claim.entry.message,
        claim.token,
        0,
    )))
}
