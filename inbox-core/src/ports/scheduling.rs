//! Work the inbox does later or holds for a while: timers, reply leases and
//! the outbox; the [`Scheduling`] port.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::time::Duration;

use crate::error::Result;
use crate::ids::{AgentId, ConversationId, MessageId, TenantId};
use crate::timer::Timer;

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
    /// claim ([`Scheduling::begin_outbox_attempt`]).
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

/// What a dispatcher claims ([`Scheduling::claim_outbox`]): up to `limit`
/// entries due at `now`, each for `lease`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutboxClaimRequest {
    /// The time of claiming: entries due at or before it are claimed.
    pub now: DateTime<Utc>,
    /// How long each claim holds unless released.
    pub lease: Duration,
    /// How many entries at most.
    pub limit: u32,
}

/// A send attempt about to begin under a claim
/// ([`Scheduling::begin_outbox_attempt`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutboxAttempt {
    /// When it begins: the claim must still hold then.
    pub at: DateTime<Utc>,
    /// The claim holds at least until then, to cover the send.
    pub until: DateTime<Utc>,
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

/// A conversation's reply lease: what the lease methods of [`Scheduling`]
/// name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaseKey<'a> {
    /// The tenant.
    pub tenant: &'a TenantId,
    /// The conversation.
    pub conversation: &'a ConversationId,
}

impl<'a> LeaseKey<'a> {
    /// The reply lease of `conversation`, of `tenant`.
    pub fn of(tenant: &'a TenantId, conversation: &'a ConversationId) -> Self {
        Self {
            tenant,
            conversation,
        }
    }
}

/// An agent asking for a conversation's reply lease until a time
/// ([`Scheduling::acquire_lease`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaseRequest<'a> {
    /// The lease asked for.
    pub key: LeaseKey<'a>,
    /// Who asks.
    pub agent: &'a AgentId,
    /// The time of asking: a lease of another agent that lapses at or
    /// before it is free.
    pub now: DateTime<Utc>,
    /// When the lease taken or renewed lapses.
    pub until: DateTime<Utc>,
}

/// Timers, reply leases and the outbox: what makes the inbox act later,
/// hold a conversation for an agent for a while, and send each reply once.
/// Timers and outbox entries are written by
/// [`Conversations::commit`](super::Conversations::commit); this port
/// finds and settles them.
///
/// # Contract
///
/// Every implementation must guarantee the following; the conformance suite
/// (`inbox_core::testing`, feature `testing`) checks each point.
///
/// **Timers.** [`Scheduling::due_timers`] answers from an index on due time,
/// across tenants; a timer set again replaces the one of its kind.
///
/// **Leases.** Of two agents racing for a conversation's reply lease, one
/// holds it; a lease lapses at its time.
///
/// **Outbox.** An entry is claimed by one dispatcher at a time: a claim is
/// exclusive until released or until its lease lapses. A conversation's
/// entries are claimed in commit order, one at a time: an entry is not
/// handed out while an entry committed before it for the same conversation
/// is still in the outbox (claimed, waiting for a retry, or lapsed). Before
/// handing a message to the transport the dispatcher records the attempt
/// ([`Scheduling::begin_outbox_attempt`]); a lapsed claim is handed out
/// again, flagged `in_doubt` exactly when an attempt was begun under it (or
/// under an earlier lapsed claim) and not released since. Beginning an
/// attempt or releasing with a stale token fails with
/// [`Error::Conflict`](crate::Error::Conflict).
#[async_trait]
pub trait Scheduling: Send + Sync {
    // ---- timers ----

    /// Timers due at `now` (due time at or before it), earliest first, at
    /// most `limit`, across tenants. Must cost in proportion to what is
    /// returned, not to the number of conversations (an index on due time).
    async fn due_timers(&self, now: DateTime<Utc>, limit: u32) -> Result<Vec<Timer>>;

    // ---- reply leases ----

    /// Takes or renews the reply lease of a conversation for the request's
    /// `agent` until its `until`, unless another agent holds one that has
    /// not expired at its `now`; returns the lease in force afterwards (the
    /// caller's, or the other holder's). Atomic: of two agents racing, one
    /// holds it. A conversation the tenant does not have is
    /// [`Error::NotFound`](crate::Error::NotFound).
    async fn acquire_lease(&self, request: LeaseRequest<'_>) -> Result<Lease>;

    /// Gives up `agent`'s lease; returns whether it held one.
    async fn release_lease(&self, key: LeaseKey<'_>, agent: &AgentId) -> Result<bool>;

    /// The lease in force at `now`, if any.
    async fn lease(&self, key: LeaseKey<'_>, now: DateTime<Utc>) -> Result<Option<Lease>>;

    // ---- outbox ----

    /// Claims up to the request's `limit` outbox entries due at its `now`
    /// (any tenant), each for its `lease`, earliest due first; of each conversation only the
    /// entry committed first of those still in the outbox (so a
    /// conversation's messages go out one at a time, in order). Lapsed
    /// claims are claimed again, with `in_doubt` set if an attempt had
    /// begun under them.
    async fn claim_outbox(&self, request: OutboxClaimRequest) -> Result<Vec<OutboxClaim>>;
    /// Records, durably, that the claim's message is about to be handed to
    /// the transport, counts the attempt, and extends the claim's lease to
    /// the attempt's `until` (if later): if the claim now lapses without
    /// being released, the next claim of the entry is `in_doubt`. Fails
    /// with [`Error::Conflict`](crate::Error::Conflict) if the claim is no
    /// longer held (its token is stale, or its lease lapsed at or before
    /// the attempt's `at`); nothing is written then, and the message must
    /// not be sent.
    async fn begin_outbox_attempt(&self, claim: &OutboxClaim, attempt: OutboxAttempt)
        -> Result<()>;
    /// Releases a claim: [`OutboxDisposition::Done`] removes the entry,
    /// [`OutboxDisposition::RetryAt`] puts it back in the queue (no longer
    /// in doubt, its attempts kept). Fails with
    /// [`Error::Conflict`](crate::Error::Conflict) if the claim is no
    /// longer held.
    async fn release_outbox(
        &self,
        claim: &OutboxClaim,
        disposition: OutboxDisposition,
    ) -> Result<()>;
}
