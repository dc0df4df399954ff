//! Conversations, the atomic commit and the event log: the [`Conversations`]
//! port.

use async_trait::async_trait;

use crate::error::{Error, Result};
use crate::event::Event;
use crate::ids::{AgentId, ChannelId, ContactId, ConversationId, TenantId};
use crate::model::{Contact, ContactIdentity, Conversation, Message, Presence};
use crate::query::{ConversationQuery, Page};
use crate::timer::TimerChange;

use super::OutboxEntry;

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

/// Everything one action changes, committed atomically by
/// [`Conversations::commit`].
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

/// A customer message about to be ingested, as
/// [`Conversations::ingest_context`] looks it up.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IngestRequest<'a> {
    /// The tenant.
    pub tenant: &'a TenantId,
    /// The channel it arrived on.
    pub channel: &'a ChannelId,
    /// Who sent it.
    pub identity: &'a ContactIdentity,
    /// The provider's id of the message.
    pub external_id: &'a str,
}

/// What ingesting a customer message needs to read (see
/// [`Conversations::ingest_context`]).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct IngestContext {
    /// The message already stored with the external id, if any.
    pub existing: Option<Message>,
    /// The contact with the identity (by wa_id, else by user_id).
    pub contact: Option<Contact>,
    /// That contact's latest conversation on the channel (the active one
    /// if there is one; never an [imported](Conversation::imported) one).
    pub latest: Option<Conversation>,
}

/// What a commit recorded.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Committed {
    /// The events with their sequence numbers.
    pub events: Vec<Event>,
}

/// Conversations, the atomic [`commit`](Conversations::commit) of
/// everything one action changes, and the tenant's event log.
///
/// # Contract
///
/// Every implementation must guarantee the following; the conformance suite
/// (`inbox_core::testing`, feature `testing`) checks each point.
///
/// **Tenancy.** Every read and write is scoped by tenant: an id of another
/// tenant is [`Error::NotFound`] (or `None`, or left out of a list), never
/// data.
///
/// **Atomicity.** [`Conversations::commit`] applies a whole [`Changeset`]
/// or nothing. When it fails, no part of it is visible to any reader.
///
/// **Optimistic concurrency.** An update names the version it read; if the
/// stored version differs, the commit fails with [`Error::Conflict`] (with
/// empty `changes`: the core fills them in) and nothing is written. Of two
/// concurrent commits against the same version, exactly one succeeds, across
/// every process sharing the store. Round-robin cursors follow the same
/// rule (see [`Changeset::cursors`]).
///
/// **Uniqueness.** Within a tenant: one message per (channel, external id),
/// one message per idempotency key, one contact per `wa_id` and per
/// `user_id`, and at most one *active* (not resolved) conversation per
/// (channel, contact). A violation fails the whole commit with
/// [`Error::Duplicate`] naming what is duplicated and the id of what is
/// already stored (`what` is [`Unique`](crate::Unique) `Message`,
/// `IdempotencyKey`, `Contact`, `ActiveConversation` or `Conversation`).
///
/// **Events.** Events of a commit are stored with it and get consecutive
/// sequence numbers, per tenant, starting at 1, without gaps, in commit order;
/// the commit returns them numbered. Every event a store records (by a
/// commit, a contact merge or a message update) is numbered the same way.
///
/// **Ordering.** Messages of a conversation are returned in commit order;
/// events in sequence order.
///
/// **Listing.** [`Conversations::list_conversations`] follows the filter and
/// order semantics of [`crate::query`] exactly;
/// [`Conversations::count_conversations`] counts what the same filter
/// lists.
#[async_trait]
pub trait Conversations: Send + Sync {
    /// A conversation.
    async fn conversation(&self, tenant: &TenantId, id: &ConversationId) -> Result<Conversation>;

    /// The most recently created conversation between a contact and a
    /// channel (the active one, if there is one), leaving out conversations
    /// [imported](Conversation::imported) from the WhatsApp Business app's
    /// history (their ids start with
    /// [`IMPORTED_PREFIX`](crate::IMPORTED_PREFIX)), whenever they were
    /// created.
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

    /// How many conversations pass `filter` (exactly as
    /// [`ConversationFilter::matches`](crate::query::ConversationFilter::matches)
    /// says), up to `cap`: the answer is the count or `cap`, whichever is
    /// smaller, so a store may stop counting at `cap` (an inbox shows
    /// "999+").
    async fn count_conversations(
        &self,
        tenant: &TenantId,
        filter: &crate::query::ConversationFilter,
        cap: u32,
    ) -> Result<u64>;

    /// Everything ingesting a customer message reads, in one call: the
    /// message already stored with the request's external id on its
    /// channel (a redelivery; then nothing else is needed and the rest may
    /// be left empty), else the contact with its identity (by `wa_id`, else
    /// by `user_id`) and that contact's latest conversation on the channel,
    /// as [`Conversations::latest_conversation`] finds it. A database store
    /// answers in one round trip.
    async fn ingest_context(&self, request: IngestRequest<'_>) -> Result<IngestContext>;

    /// Atomically applies a changeset (see the contract above).
    async fn commit(&self, changes: Changeset) -> Result<Committed>;

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
}
