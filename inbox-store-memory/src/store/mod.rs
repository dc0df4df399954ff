//! The in-memory [`Store`](inbox_core::ports::Store): its state and commits
//! here, each port in the module named after it.

mod contacts;
mod conversations;
mod directory;
mod messages;
mod outreach;
mod read_markers;
mod reports;
mod scheduling;
mod secrets;
mod subscriptions;

use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, HashMap};
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use inbox_core::error::{Conflict, Entity, Error, Result, Unique};
use inbox_core::event::Event;
use inbox_core::ids::{AgentId, ChannelId, ContactId, ConversationId, MessageId, TeamId, TenantId};
use inbox_core::model::{Agent, Channel, Contact, Conversation, Message, Team, Tenant};
use inbox_core::ports::{
    Changeset, Committed, Lease, OutboxEntry, SubscriptionDeadLetter, SubscriptionRetry,
};
use inbox_core::routing::RoutingCursor;
use inbox_core::timer::{TimerChange, TimerKind};

/// A complete, concurrency-safe [`Store`](inbox_core::ports::Store) held in
/// memory.
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
    /// Tenant settings, apart: they never share a commit with the rest.
    pub(crate) settings: RwLock<crate::settings::SettingsState>,
    /// Sealed secrets of numbers, by slot.
    secrets: RwLock<BTreeMap<inbox_core::ports::SecretSlot, inbox_core::ports::SealedSecret>>,
    /// Sealed tenant-wide secrets (connectors' credentials), by slot.
    tenant_secrets:
        RwLock<BTreeMap<inbox_core::ports::TenantSecretSlot, inbox_core::ports::SealedSecret>>,
    /// Passwords, sessions and API keys, apart (taken after `state` when
    /// both are).
    pub(crate) access: RwLock<crate::access::AccessState>,
    /// Each agent's read marker of each conversation (taken after `state`
    /// when both are).
    read_markers: RwLock<read_markers::Markers>,
    /// Broadcasts and their recipients (taken after `state` when both are).
    outreach: RwLock<outreach::OutreachState>,
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
    /// The first contact holding each parent BSUID (not unique: a lookup
    /// when neither number nor BSUID is known).
    contact_by_parent: HashMap<String, ContactId>,
    conversations: HashMap<ConversationId, Conversation>,
    active_by_pair: HashMap<(ChannelId, ContactId), ConversationId>,
    latest_by_pair: HashMap<(ChannelId, ContactId), ConversationId>,
    /// Messages, boxed: the map moves only pointers when it grows.
    messages: HashMap<MessageId, Box<Message>>,
    messages_of: HashMap<ConversationId, Vec<MessageId>>,
    /// Messages by provider id, per channel (looked up without copying
    /// the id).
    by_external: HashMap<ChannelId, HashMap<String, MessageId>>,
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

    /// What `read` finds in a tenant's data, cloned (`None` if the tenant
    /// has none).
    fn find<T: Clone>(
        &self,
        tenant: &TenantId,
        read: impl FnOnce(&TenantData) -> Option<&T>,
    ) -> Option<T> {
        self.read().data(tenant).and_then(read).cloned()
    }

    /// What `read` makes of a tenant's data; the default (nothing) if the
    /// tenant has none.
    fn with_tenant<T: Default>(&self, tenant: &TenantId, read: impl FnOnce(&TenantData) -> T) -> T {
        self.read().data(tenant).map_or_else(T::default, read)
    }
}

fn duplicate(what: Unique, existing: impl std::fmt::Display) -> Error {
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
            Err(Error::not_found(Entity::Tenant, tenant))
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
                return Err(duplicate(Unique::Message, &m.id));
            }
            if let Some(ext) = &m.external_id {
                if let Some(existing) = d.external(&m.channel, ext) {
                    return Err(duplicate(Unique::Message, existing));
                }
                if new_ext.contains(&(&m.channel, ext)) {
                    return Err(duplicate(Unique::Message, &m.id));
                }
                new_ext.push((&m.channel, ext));
            }
            if let Some(key) = &m.idempotency_key {
                if let Some(existing) = d.by_key.get(key) {
                    return Err(duplicate(Unique::IdempotencyKey, existing));
                }
                if new_keys.contains(&key) {
                    return Err(duplicate(Unique::IdempotencyKey, &m.id));
                }
                new_keys.push(key);
            }
            let in_changeset = ch
                .conversation
                .as_ref()
                .is_some_and(|w| w.value.id == m.conversation);
            if !in_changeset && !d.conversations.contains_key(&m.conversation) {
                return Err(Error::not_found(Entity::Conversation, &m.conversation));
            }
        }

        if let Some(w) = &ch.contact {
            let k = &w.value;
            match (w.expected_version, d.contacts.get(&k.id)) {
                (None, Some(_)) => return Err(duplicate(Unique::Contact, &k.id)),
                (Some(_), None) => return Err(Error::not_found(Entity::Contact, &k.id)),
                (Some(v), Some(cur)) if cur.version != v => {
                    return Err(Error::Conflict(Box::new(Conflict::on(
                        Entity::Contact,
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
                return Err(Error::not_found(Entity::Channel, &c.channel));
            }
            match (w.expected_version, d.conversations.get(&c.id)) {
                (None, Some(_)) => return Err(duplicate(Unique::Conversation, &c.id)),
                (Some(_), None) => return Err(Error::not_found(Entity::Conversation, &c.id)),
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
                        return Err(duplicate(Unique::ActiveConversation, active));
                    }
                }
            }
        }

        if let Some((agent, _)) = &ch.presence {
            if !self.agents.contains_key(&(tenant.clone(), agent.clone())) {
                return Err(Error::not_found(Entity::Agent, agent));
            }
        }
        for c in &ch.cursors {
            let stored = self
                .cursors
                .get(&(tenant.clone(), c.team.clone()))
                .map_or(0, |s| s.version);
            if stored + 1 != c.version {
                return Err(Error::Conflict(Box::new(Conflict::on(
                    Entity::RoutingCursor,
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
            d.unindex_contact(&k.id);
            d.index_contact(&k);
            d.contacts.insert(k.id.clone(), k);
        }
        if let Some(w) = ch.conversation {
            let c = w.value;
            let pair = (c.channel.clone(), c.contact.clone());
            // (an imported conversation is never anyone's latest)
            if w.expected_version.is_none() && !c.imported {
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
                d.index_external(&m.channel, ext, &m.id);
            }
            if let Some(key) = &m.idempotency_key {
                d.by_key.insert(key.clone(), m.id.clone());
            }
            d.messages_of
                .entry(m.conversation.clone())
                .or_default()
                .push(m.id.clone());
            d.messages.insert(m.id.clone(), Box::new(m));
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

impl TenantData {
    /// Forgets the identities contact `id` (as stored) is found by.
    fn unindex_contact(&mut self, id: &ContactId) {
        let Some(old) = self.contacts.get(id) else {
            return;
        };
        let identity = &old.identity;
        if let Some(wa) = &identity.wa_id {
            self.contact_by_wa.remove(wa);
        }
        if let Some(u) = &identity.user_id {
            self.contact_by_user.remove(u);
        }
        if let Some(p) = &identity.parent_user_id {
            if self.contact_by_parent.get(p) == Some(id) {
                self.contact_by_parent.remove(p);
            }
        }
    }

    /// Finds contact `k` by its identities from now on.
    fn index_contact(&mut self, k: &Contact) {
        if let Some(wa) = &k.identity.wa_id {
            self.contact_by_wa.insert(wa.clone(), k.id.clone());
        }
        if let Some(u) = &k.identity.user_id {
            self.contact_by_user.insert(u.clone(), k.id.clone());
        }
        if let Some(p) = &k.identity.parent_user_id {
            (self.contact_by_parent.entry(p.clone())).or_insert_with(|| k.id.clone());
        }
    }
}

fn check_identity(d: &TenantData, k: &Contact) -> Result<()> {
    if let Some(wa) = &k.identity.wa_id {
        if let Some(other) = d.contact_by_wa.get(wa) {
            if other != &k.id {
                return Err(duplicate(Unique::Contact, other));
            }
        }
    }
    if let Some(u) = &k.identity.user_id {
        if let Some(other) = d.contact_by_user.get(u) {
            if other != &k.id {
                return Err(duplicate(Unique::Contact, other));
            }
        }
    }
    Ok(())
}
