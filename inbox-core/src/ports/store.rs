use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::event::{Event, EventActor, EventKind};
use crate::ids::{AgentId, ChannelId, ContactId, ConversationId, MessageId, TeamId, TenantId};
use crate::model::{
    Agent, Channel, Contact, ContactIdentity, Conversation, DeliveryUpdate, Message, Presence,
    Team, Tenant,
};
use crate::query::{ConversationQuery, Page, SearchHit, SearchQuery};
use crate::timer::{Timer, TimerChange};

/// An insert (`expected_version: None`) or an optimistic update of a
/// versioned entity.
#[derive(Debug, Clone, PartialEq)]
pub struct Write<T> {
    /// The new state. Its `version` must be `expected_version + 1`, or `1`
    /// for an insert.
    pub value: T,
    /// The version the writer read; `None` to insert a new entity.
    pub expected_version: Option<u64>,
}

/// A message waiting to be delivered by the dispatcher.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEntry {
    /// The tenant.
    pub tenant: TenantId,
    /// The outbound message.
    pub message: MessageId,
    /// Not to be attempted before this time.
    pub not_before: DateTime<Utc>,
    /// Attempts made so far.
    pub attempts: u32,
}

/// An outbox entry claimed by a dispatcher.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxClaim {
    /// The entry; `attempts` counts the send attempts begun before this
    /// claim ([`Store::begin_outbox_attempt`]).
    pub entry: OutboxEntry,
    /// Identifies this claim; beginning an attempt and releasing need it.
    pub token: u64,
    /// The claim lapses at this time if not released.
    pub lease_until: DateTime<Utc>,
    /// An earlier claim of this entry began a send attempt and lapsed
    /// without being released: that dispatcher may have handed the message
    /// to the provider and died (or lost the store) before recording the
    /// outcome. A lapsed claim that never began an attempt is not in doubt:
    /// its entry is simply claimed again.
    pub in_doubt: bool,
}

/// What to do with a claimed outbox entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutboxDisposition {
    /// Finished (sent, failed for good, or in doubt): remove it.
    Done,
    /// Try again, not before this time.
    RetryAt(DateTime<Utc>),
}

/// A change to one stored message, applied by the store atomically with the
/// pure rules in [`MessageMutation::apply`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessageMutation {
    /// A delivery status report, optionally recording the provider id.
    Delivery {
        /// The report.
        update: DeliveryUpdate,
        /// The provider id, recorded if the message has none yet.
        external_id: Option<String>,
    },
    /// A send attempt was interrupted: mark the message in doubt if it is
    /// still pending without a provider id.
    InDoubt {
        /// When the doubt was noticed.
        at: DateTime<Utc>,
    },
    /// An agent sent the message again as `copy` (the event was recorded
    /// with that commit): remember it, once.
    Resent {
        /// The new message.
        copy: MessageId,
    },
}

impl MessageMutation {
    /// Applies the mutation to `message` and says what to store: whether the
    /// message changed, and the event to record (none for a duplicate or
    /// backwards status, or a change that only records the provider id).
    /// Stores call this inside their transaction.
    pub fn apply(&self, message: &mut Message) -> Mutated {
        let Some(delivery) = message.delivery.as_mut() else {
            return Mutated::default();
        };
        match self {
            MessageMutation::Delivery {
                update,
                external_id,
            } => {
                let mut changed = false;
                if message.external_id.is_none() {
                    if let Some(ext) = external_id {
                        message.external_id = Some(ext.clone());
                        changed = true;
                    }
                }
                if !delivery.apply(update) {
                    return Mutated {
                        changed,
                        event: None,
                    };
                }
                let kind = EventKind::DeliveryChanged {
                    message: message.id.clone(),
                    status: delivery.status,
                    error: delivery.error.clone(),
                };
                Mutated {
                    changed: true,
                    event: Some(message_event(message, kind, update.at)),
                }
            }
            MessageMutation::Resent { copy } => {
                if delivery.resent_as.is_some() {
                    return Mutated::default();
                }
                delivery.resent_as = Some(copy.clone());
                Mutated {
                    changed: true,
                    event: None,
                }
            }
            MessageMutation::InDoubt { at } => {
                let doubtful = delivery.status == crate::model::DeliveryStatus::Pending
                    && message.external_id.is_none()
                    && delivery.in_doubt_since.is_none();
                if !doubtful {
                    return Mutated::default();
                }
                delivery.in_doubt_since = Some(*at);
                let kind = EventKind::DeliveryInDoubt {
                    message: message.id.clone(),
                };
                Mutated {
                    changed: true,
                    event: Some(message_event(message, kind, *at)),
                }
            }
        }
    }
}

/// What [`Store::update_message_for_status`] did.
#[derive(Debug, Clone, PartialEq)]
pub struct MessageUpdated {
    /// The message the status concerned.
    pub message: MessageId,
    /// The event recorded, or `None` if the status changed nothing (a
    /// duplicate, late or backwards report).
    pub event: Option<Event>,
}

/// One delivery status report for [`Store::update_messages_for_statuses`]:
/// which outbound message it concerns (found as
/// [`Store::message_for_status`] finds it: our id on the channel, else the
/// provider's id) and the mutation to apply to it.
///
/// ```
/// use inbox_core::ports::{MessageMutation, StatusReport};
/// use inbox_core::model::{DeliveryStatus, DeliveryUpdate};
/// use inbox_core::ChannelId;
/// let report = StatusReport {
///     channel: ChannelId::new("main").unwrap(),
///     our_id: None,
///     external_id: "wamid.out.1".into(),
///     mutation: MessageMutation::Delivery {
///         update: DeliveryUpdate {
///             status: DeliveryStatus::Delivered,
///             at: chrono::DateTime::UNIX_EPOCH,
///             error: None,
///         },
///         external_id: Some("wamid.out.1".into()),
///     },
/// };
/// assert_eq!(report.external_id, "wamid.out.1");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusReport {
    /// The channel the report came in on.
    pub channel: ChannelId,
    /// Our message id, if the report carries it (`biz_opaque_callback_data`).
    pub our_id: Option<MessageId>,
    /// The provider's message id.
    pub external_id: String,
    /// What to apply to the message.
    pub mutation: MessageMutation,
}

/// The result of [`MessageMutation::apply`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Mutated {
    /// The message changed and must be stored.
    pub changed: bool,
    /// The event to record with it.
    pub event: Option<Event>,
}

fn message_event(message: &Message, kind: EventKind, at: DateTime<Utc>) -> Event {
    let mut e = Event::new(message.tenant.clone(), at, EventActor::System, kind);
    e.conversation = Some(message.conversation.clone());
    e
}

/// Everything one action changes, committed atomically by
/// [`Store::commit`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Changeset {
    /// The tenant; everything in the changeset must belong to it.
    pub tenant: Option<TenantId>,
    /// Contact insert or update.
    pub contact: Option<Write<Contact>>,
    /// Conversation insert or update.
    pub conversation: Option<Write<Conversation>>,
    /// An agent's new presence (only that field of the stored agent
    /// changes; the agent must exist).
    pub presence: Option<(AgentId, Presence)>,
    /// New messages and notes.
    pub messages: Vec<Message>,
    /// New outbox entries (for outbound messages in `messages`).
    pub outbox: Vec<OutboxEntry>,
    /// Events to record, in order (`seq` is assigned by the store).
    pub events: Vec<Event>,
    /// Timers to set or clear (for the conversation of this changeset).
    pub timers: Vec<TimerChange>,
    /// Round-robin cursors to store, each at the version after the stored
    /// one (`1` when none is stored); a mismatch fails the commit with
    /// [`Error::Conflict`].
    pub cursors: Vec<crate::routing::RoutingCursor>,
}

impl Changeset {
    /// An empty changeset for `tenant`.
    pub fn new(tenant: TenantId) -> Self {
        Self {
            tenant: Some(tenant),
            ..Self::default()
        }
    }

    /// Checks the changeset's own consistency (every part in the tenant,
    /// versions that follow the expected ones, outbox entries for outbound
    /// messages of this changeset). Stores call this first.
    pub fn validate(&self) -> Result<&TenantId> {
        let tenant = self
            .tenant
            .as_ref()
            .ok_or_else(|| Error::invalid("changeset.tenant", "missing"))?;
        let wrong = |what: &str| Error::invalid(what, "belongs to another tenant");
        let check_version = |what: &str, expected: Option<u64>, version: u64| {
            let want = expected.map_or(1, |v| v + 1);
            if version == want {
                Ok(())
            } else {
                Err(Error::invalid(
                    what,
                    format!("version {version} does not follow expected {expected:?}"),
                ))
            }
        };
        if let Some(w) = &self.contact {
            if &w.value.tenant != tenant {
                return Err(wrong("contact"));
            }
            if !w.value.identity.is_known() {
                return Err(Error::invalid(
                    "contact.identity",
                    "needs a wa_id or user_id",
                ));
            }
            check_version("contact.version", w.expected_version, w.value.version)?;
        }
        if let Some(w) = &self.conversation {
            if &w.value.tenant != tenant {
                return Err(wrong("conversation"));
            }
            check_version("conversation.version", w.expected_version, w.value.version)?;
        }
        for m in &self.messages {
            if &m.tenant != tenant {
                return Err(wrong("message"));
            }
        }
        for o in &self.outbox {
            if &o.tenant != tenant {
                return Err(wrong("outbox"));
            }
            if !self.messages.iter().any(|m| m.id == o.message) {
                return Err(Error::invalid(
                    "outbox",
                    "entry for a message not in this changeset",
                ));
            }
        }
        for e in &self.events {
            if &e.tenant != tenant {
                return Err(wrong("event"));
            }
        }
        for t in &self.timers {
            let conversation = match t {
                TimerChange::Set(timer) => {
                    if &timer.tenant != tenant {
                        return Err(wrong("timer"));
                    }
                    &timer.conversation
                }
                TimerChange::Clear { conversation, .. } => conversation,
            };
            if self
                .conversation
                .as_ref()
                .is_none_or(|w| &w.value.id != conversation)
            {
                return Err(Error::invalid(
                    "timers",
                    "a timer for a conversation not in this changeset",
                ));
            }
        }
        for (i, c) in self.cursors.iter().enumerate() {
            if c.version == 0 {
                return Err(Error::invalid(
                    "cursors",
                    "a stored cursor has version 1 or more",
                ));
            }
            if self.cursors[..i].iter().any(|o| o.team == c.team) {
                return Err(Error::invalid("cursors", format!("team {} twice", c.team)));
            }
        }
        Ok(tenant)
    }
}

/// Two contacts merged into one, for [`Store::merge_contacts`].
#[derive(Debug, Clone, PartialEq)]
pub struct ContactMerge {
    /// The contact merged away, as it will be stored: identity cleared,
    /// `merged_into` set, at the version after the expected one.
    pub from: Write<Contact>,
    /// The contact that remains, with the union of both, at the version
    /// after the expected one.
    pub into: Write<Contact>,
    /// Events to record.
    pub events: Vec<Event>,
}

/// A reply lease: "Ana is replying until 10:02:30".
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Lease {
    /// Who holds it.
    pub holder: AgentId,
    /// When it lapses unless renewed.
    pub until: DateTime<Utc>,
}

/// What ingesting a customer message needs to read (see
/// [`Store::ingest_context`]).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct IngestContext {
    /// The message already stored with the external id, if any.
    pub existing: Option<Message>,
    /// The contact with the identity (by wa_id, else by user_id).
    pub contact: Option<Contact>,
    /// That contact's latest conversation on the channel (the active one
    /// if there is one).
    pub latest: Option<Conversation>,
}

/// What a commit recorded.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Committed {
    /// The events with their sequence numbers.
    pub events: Vec<Event>,
}

/// Durable state of the inbox: directory, contacts, conversations, messages,
/// events, the outbox.
///
/// # Contract
///
/// Every implementation must guarantee the following; the conformance suite
/// (`inbox_core::testing`, feature `testing`) checks each point.
///
/// **Tenancy.** Every read and write is scoped by tenant. An id of another
/// tenant is [`Error::NotFound`], never data. The only cross-tenant lookup is
/// [`Store::channel_by_phone_number_id`], which is how an inbound webhook finds
/// its tenant.
///
/// **Atomicity.** [`Store::commit`] applies a whole [`Changeset`] or nothing.
/// When it fails, no part of it is visible to any reader.
///
/// **Optimistic concurrency.** An update names the version it read; if the
/// stored version differs, the commit fails with [`Error::Conflict`] (with
/// empty `changes`: the core fills them in) and nothing is written. Of two
/// concurrent commits against the same version, exactly one succeeds, across
/// every process sharing the store.
///
/// **Uniqueness.** Within a tenant: one message per (channel, external id),
/// one message per idempotency key, one contact per `wa_id` and per
/// `user_id`, and at most one *active* (not resolved) conversation per
/// (channel, contact). A violation fails the whole commit with
/// [`Error::Duplicate`] naming what is duplicated and the id of what is
/// already stored (`what` is `"message"`, `"idempotency key"`, `"contact"`,
/// `"active conversation"` or `"conversation"`). Phone number ids are unique
/// across the deployment.
///
/// **Events.** Events of a commit are stored with it and get consecutive
/// sequence numbers, per tenant, starting at 1, without gaps, in commit order;
/// the commit returns them numbered.
///
/// **Ordering.** Messages of a conversation are returned in commit order;
/// events in sequence order.
///
/// **Delivery.** [`Store::update_message`] applies the mutation's pure rules
/// atomically (two concurrent status reports never lose one another or move a
/// status backwards) and records the returned event.
///
/// **Outbox.** An entry is claimed by one dispatcher at a time: a claim is
/// exclusive until released or until its lease lapses. A conversation's
/// entries are claimed in commit order, one at a time: an entry is not
/// handed out while an entry committed before it for the same conversation
/// is still in the outbox (claimed, waiting for a retry, or lapsed). Before handing a
/// message to the transport the dispatcher records the attempt
/// ([`Store::begin_outbox_attempt`]); a lapsed claim is handed out again,
/// flagged `in_doubt` exactly when an attempt was begun under it (or under
/// an earlier lapsed claim) and not released since. Beginning an attempt or
/// releasing with a stale token fails with [`Error::Conflict`].
///
/// **Errors.** Backend failures map to [`Error::Unavailable`] (retryable,
/// nothing written) or [`Error::Backend`]; an implementation keeps its own
/// error as the source and never puts secrets in messages.
///
/// **Dead letters.** Every store also keeps the inbound items the inbox
/// refused: [`DeadLetters`](super::DeadLetters), a trait of its own with
/// its own contract and conformance tests.
#[async_trait]
pub trait Store: super::DeadLetters + Send + Sync {
    // ---- directory ----

    /// Inserts or replaces a tenant.
    async fn upsert_tenant(&self, tenant: &Tenant) -> Result<()>;
    /// A tenant.
    async fn tenant(&self, id: &TenantId) -> Result<Tenant>;
    /// Inserts or replaces a channel. The tenant must exist; the phone number
    /// id must not belong to another channel ([`Error::Duplicate`]).
    async fn upsert_channel(&self, channel: &Channel) -> Result<()>;
    /// A channel of a tenant.
    async fn channel(&self, tenant: &TenantId, id: &ChannelId) -> Result<Channel>;
    /// The tenant's channels, by id.
    async fn channels(&self, tenant: &TenantId) -> Result<Vec<Channel>>;
    /// The channel with this WhatsApp phone number id, whatever its tenant.
    async fn channel_by_phone_number_id(&self, phone_number_id: &str) -> Result<Option<Channel>>;
    /// Inserts or replaces an agent. The tenant must exist.
    async fn upsert_agent(&self, agent: &Agent) -> Result<()>;
    /// An agent.
    async fn agent(&self, tenant: &TenantId, id: &AgentId) -> Result<Agent>;
    /// The tenant's agents, by id.
    async fn agents(&self, tenant: &TenantId) -> Result<Vec<Agent>>;
    /// Inserts or replaces a team. The tenant must exist.
    async fn upsert_team(&self, team: &Team) -> Result<()>;
    /// A team.
    async fn team(&self, tenant: &TenantId, id: &TeamId) -> Result<Team>;
    /// The tenant's teams, by id.
    async fn teams(&self, tenant: &TenantId) -> Result<Vec<Team>>;

    // ---- contacts and conversations ----

    /// A contact.
    async fn contact(&self, tenant: &TenantId, id: &ContactId) -> Result<Contact>;
    /// The contacts of the tenant with these ids, each once, in the order
    /// of `ids`; ids that are unknown (or another tenant's) are left out.
    /// For a page of conversations: one read instead of one per row. The
    /// default reads them one by one; stores with a round trip per read
    /// override it.
    async fn contacts(&self, tenant: &TenantId, ids: &[ContactId]) -> Result<Vec<Contact>> {
        let mut seen = std::collections::BTreeSet::new();
        let mut out = Vec::new();
        for id in ids {
            if !seen.insert(id) {
                continue;
            }
            match self.contact(tenant, id).await {
                Ok(c) => out.push(c),
                Err(Error::NotFound { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }
    /// The contact with this `wa_id`, else the one with this `user_id`.
    async fn find_contact(
        &self,
        tenant: &TenantId,
        identity: &ContactIdentity,
    ) -> Result<Option<Contact>>;
    /// A conversation.
    async fn conversation(&self, tenant: &TenantId, id: &ConversationId) -> Result<Conversation>;
    /// The most recently created conversation between a contact and a
    /// channel (the active one, if there is one).
    async fn latest_conversation(
        &self,
        tenant: &TenantId,
        channel: &ChannelId,
        contact: &ContactId,
    ) -> Result<Option<Conversation>>;
    /// A page of conversations (see [`crate::query`] for the exact filter and
    /// order semantics every store must follow).
    async fn list_conversations(
        &self,
        tenant: &TenantId,
        query: &ConversationQuery,
    ) -> Result<Page<Conversation>>;
    /// Full-text search over messages, notes, contact names and numbers (see
    /// [`SearchQuery`] for the exact semantics every store must follow).
    async fn search(&self, tenant: &TenantId, query: &SearchQuery) -> Result<Page<SearchHit>>;

    /// Active conversations assigned to an agent (their load).
    async fn agent_load(&self, tenant: &TenantId, agent: &AgentId) -> Result<u32>;

    /// A report over the tenant's conversations opened in the query's
    /// range, computed where the data lives (a database aggregates; it does
    /// not load the conversations), with exactly the numbers
    /// [`crate::metrics`] defines.
    async fn metrics(
        &self,
        tenant: &TenantId,
        query: &crate::metrics::MetricsQuery,
    ) -> Result<crate::metrics::MetricsReport>;

    /// What the team faces now: active conversations by status, unassigned,
    /// waiting (and the longest wait), SLA targets at risk and missed, and
    /// every agent's load against capacity, exactly as
    /// [`LiveSnapshot::compute`](crate::metrics::LiveSnapshot::compute)
    /// defines them. A database answers from its active-conversation
    /// indexes, without reading resolved history.
    async fn live_snapshot(
        &self,
        tenant: &TenantId,
        query: &crate::metrics::LiveQuery,
    ) -> Result<crate::metrics::LiveSnapshot>;

    /// The load of every agent of the tenant with at least one active
    /// conversation (agents with none may be absent). The default asks
    /// [`Store::agent_load`] per agent; a database answers in one query.
    async fn agent_loads(&self, tenant: &TenantId) -> Result<BTreeMap<AgentId, u32>> {
        let mut out = BTreeMap::new();
        for a in self.agents(tenant).await? {
            let n = self.agent_load(tenant, &a.id).await?;
            if n > 0 {
                out.insert(a.id, n);
            }
        }
        Ok(out)
    }

    /// The owner of the contact's most recently active conversation that
    /// had an owner (resolved ones included): who "served this contact
    /// last", for sticky assignment.
    async fn last_assignee(
        &self,
        tenant: &TenantId,
        contact: &ContactId,
    ) -> Result<Option<AgentId>>;

    /// The tenant's stored round-robin cursors.
    async fn routing_cursors(
        &self,
        tenant: &TenantId,
    ) -> Result<Vec<crate::routing::RoutingCursor>>;

    /// Merges two contacts atomically: checks both expected versions
    /// ([`Error::Conflict`] if either moved), moves every conversation of
    /// `from` to `into` (each conversation's version goes up by one), stores
    /// both contacts (`from` first, so `into` may take its identity) and
    /// records the events. Refused with [`Error::Duplicate`] (`"active
    /// conversation"`) if both have an active conversation on the same
    /// channel; nothing is written then.
    async fn merge_contacts(&self, tenant: &TenantId, merge: &ContactMerge) -> Result<Committed>;

    // ---- messages ----

    /// A message.
    async fn message(&self, tenant: &TenantId, id: &MessageId) -> Result<Message>;
    /// Messages and notes of a conversation, in commit order.
    async fn messages(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
    ) -> Result<Vec<Message>>;
    /// The message with this provider id on the channel.
    async fn message_by_external_id(
        &self,
        tenant: &TenantId,
        channel: &ChannelId,
        external_id: &str,
    ) -> Result<Option<Message>>;
    /// The message created with this idempotency key.
    async fn message_by_idempotency_key(
        &self,
        tenant: &TenantId,
        key: &str,
    ) -> Result<Option<Message>>;

    /// Everything ingesting a customer message reads, in one call: the
    /// message already stored with this external id on the channel (a
    /// redelivery), the contact with this identity, and that contact's
    /// latest conversation on the channel. The default calls
    /// [`Store::message_by_external_id`], [`Store::find_contact`] and
    /// [`Store::latest_conversation`]; a database store can answer in one
    /// round trip.
    async fn ingest_context(
        &self,
        tenant: &TenantId,
        channel: &ChannelId,
        identity: &ContactIdentity,
        external_id: &str,
    ) -> Result<IngestContext> {
        let existing = self
            .message_by_external_id(tenant, channel, external_id)
            .await?;
        if existing.is_some() {
            return Ok(IngestContext {
                existing,
                ..IngestContext::default()
            });
        }
        let contact = self.find_contact(tenant, identity).await?;
        let latest = match &contact {
            Some(k) => self.latest_conversation(tenant, channel, &k.id).await?,
            None => None,
        };
        Ok(IngestContext {
            existing,
            contact,
            latest,
        })
    }

    /// The outbound message a status report concerns: the one with our id
    /// `our_id` on the channel if there is one, else the one with the
    /// provider's `external_id`. The default makes up to two lookups.
    async fn message_for_status(
        &self,
        tenant: &TenantId,
        channel: &ChannelId,
        our_id: Option<&MessageId>,
        external_id: &str,
    ) -> Result<Option<Message>> {
        if let Some(id) = our_id {
            match self.message(tenant, id).await {
                Ok(m)
                    if &m.channel == channel
                        && m.direction == crate::model::Direction::Outbound =>
                {
                    return Ok(Some(m))
                }
                Ok(_) | Err(Error::NotFound { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        self.message_by_external_id(tenant, channel, external_id)
            .await
    }

    // ---- writes ----

    /// Atomically applies a changeset (see the contract above).
    async fn commit(&self, changes: Changeset) -> Result<Committed>;

    /// Atomically applies `mutation` to a stored message with
    /// [`MessageMutation::apply`] and records the resulting event. Returns
    /// the recorded event, or `None` if nothing changed.
    async fn update_message(
        &self,
        tenant: &TenantId,
        id: &MessageId,
        mutation: &MessageMutation,
    ) -> Result<Option<Event>>;

    /// Applies a delivery status report's `mutation` to the outbound
    /// message it concerns, found as [`Store::message_for_status`] finds it
    /// (our id on the channel, else the provider's id), atomically as
    /// [`Store::update_message`] does. `None` if there is no such message.
    /// The default looks the message up, then updates it; a store may do
    /// both in one step (one read of the message, under its lock).
    async fn update_message_for_status(
        &self,
        tenant: &TenantId,
        channel: &ChannelId,
        our_id: Option<&MessageId>,
        external_id: &str,
        mutation: &MessageMutation,
    ) -> Result<Option<MessageUpdated>> {
        let Some(message) = self
            .message_for_status(tenant, channel, our_id, external_id)
            .await?
        else {
            return Ok(None);
        };
        match self.update_message(tenant, &message.id, mutation).await {
            Ok(event) => Ok(Some(MessageUpdated {
                message: message.id,
                event,
            })),
            Err(Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Applies a tenant's status reports in the order given, each as
    /// [`Store::update_message_for_status`] would: atomically on its own,
    /// with its own result (at the same position), and seeing what the
    /// reports before it did. So the sent, delivered and read reports of
    /// one webhook give three events in that order, and a report that
    /// fails (a provider id another message already has) fails alone.
    ///
    /// The default applies them one after another. A store may apply them
    /// together -- one lookup and one lock per message, one write of a
    /// message several reports concern, one transaction -- as long as the
    /// results and events are those of the one-after-another order.
    async fn update_messages_for_statuses(
        &self,
        tenant: &TenantId,
        reports: &[StatusReport],
    ) -> Vec<Result<Option<MessageUpdated>>> {
        let mut results = Vec::with_capacity(reports.len());
        for r in reports {
            results.push(
                self.update_message_for_status(
                    tenant,
                    &r.channel,
                    r.our_id.as_ref(),
                    &r.external_id,
                    &r.mutation,
                )
                .await,
            );
        }
        results
    }

    // ---- events ----

    /// Stored events of a tenant with sequence number greater than
    /// `after_seq`, oldest first, at most `limit`.
    async fn events_since(
        &self,
        tenant: &TenantId,
        after_seq: u64,
        limit: u32,
    ) -> Result<Vec<Event>>;
    /// Stored events of a conversation that produced a version greater than
    /// `after_version`, plus delivery events, oldest first.
    async fn conversation_events(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
        after_version: u64,
    ) -> Result<Vec<Event>>;

    // ---- timers ----

    /// Timers due at `now` (due time at or before it), earliest first, at
    /// most `limit`, across tenants. Must cost in proportion to what is
    /// returned, not to the number of conversations (an index on due time).
    async fn due_timers(&self, now: DateTime<Utc>, limit: u32) -> Result<Vec<Timer>>;

    // ---- reply leases ----

    /// Takes or renews the reply lease of a conversation for `agent` until
    /// `until`, unless another agent holds one that has not expired at
    /// `now`; returns the lease in force afterwards (the caller's, or the
    /// other holder's). Atomic: of two agents racing, one holds it.
    async fn acquire_lease(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
        agent: &AgentId,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Lease>;

    /// Gives up `agent`'s lease; returns whether it held one.
    async fn release_lease(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
        agent: &AgentId,
    ) -> Result<bool>;

    /// The lease in force at `now`, if any.
    async fn lease(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
        now: DateTime<Utc>,
    ) -> Result<Option<Lease>>;

    // ---- outbox ----

    /// Claims up to `limit` outbox entries due at `now` (any tenant), each
    /// for `lease`, earliest due first; of each conversation only the
    /// entry committed first of those still in the outbox (so a
    /// conversation's messages go out one at a time, in order). Lapsed
    /// claims are claimed again, with `in_doubt` set if an attempt had
    /// begun under them.
    async fn claim_outbox(
        &self,
        now: DateTime<Utc>,
        lease: Duration,
        limit: u32,
    ) -> Result<Vec<OutboxClaim>>;
    /// Records, durably, that the claim's message is about to be handed to
    /// the transport, counts the attempt, and extends the claim's lease to
    /// `until` (if later): if the claim now lapses without being released,
    /// the next claim of the entry is `in_doubt`. Fails with
    /// [`Error::Conflict`] if the claim is no longer held (its token is
    /// stale, or its lease lapsed at or before `at`); nothing is written
    /// then, and the message must not be sent.
    async fn begin_outbox_attempt(
        &self,
        claim: &OutboxClaim,
        at: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<()>;
    /// Releases a claim: [`OutboxDisposition::Done`] removes the entry,
    /// [`OutboxDisposition::RetryAt`] puts it back in the queue (no longer
    /// in doubt, its attempts kept). Fails with [`Error::Conflict`] if the
    /// claim is no longer held.
    async fn release_outbox(
        &self,
        claim: &OutboxClaim,
        disposition: OutboxDisposition,
    ) -> Result<()>;
}

/// Turns a store into `Arc<dyn Store>`, for code that is generic over the
/// store but needs the shared object (the conformance suite runs the same
/// tests on a concrete store and on `dyn Store`).
pub trait AsDynStore {
    /// The store as a shared trait object.
    fn as_dyn(self: Arc<Self>) -> Arc<dyn Store>;
}

impl<S: Store + 'static> AsDynStore for S {
    fn as_dyn(self: Arc<Self>) -> Arc<dyn Store> {
        self
    }
}

impl AsDynStore for dyn Store {
    fn as_dyn(self: Arc<Self>) -> Arc<dyn Store> {
        self
    }
}

#[allow(dead_code)]
fn assert_object_safe(_: &dyn Store, _: &dyn super::Transport, _: &dyn super::EventBus) {}
