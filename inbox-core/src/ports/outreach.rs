//! Outreach: broadcasts, their recipients, and the contacts a segment
//! selects.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::error::Result;
use crate::ids::{BroadcastId, ContactId, MessageId, TenantId};
use crate::model::{Broadcast, Contact, Recipient, RecipientCounts, RecipientState, Segment};

/// A recipient a worker holds until `until` (see [`Outreach::claim_recipients`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecipientClaim {
    /// The tenant.
    pub tenant: TenantId,
    /// The broadcast.
    pub broadcast: BroadcastId,
    /// The contact.
    pub contact: ContactId,
    /// The claim's token: settling needs it.
    pub token: u64,
}

/// What became of a claimed recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecipientOutcome {
    /// Its message was queued.
    Queued(MessageId),
    /// Not sent, and why (`opted_out` …).
    Skipped(String),
}

/// Broadcasts and their recipients.
///
/// # Contract
///
/// - **Tenancy**: every method is scoped by tenant, but for
///   [`due_broadcasts`](Outreach::due_broadcasts), which workers drain for
///   every tenant.
/// - **Versions**: [`put_broadcast`](Outreach::put_broadcast) stores a new
///   broadcast (`expected: None`; one with the same id is
///   [`Error::Duplicate`](crate::Error::Duplicate)) or replaces the stored
///   one only at the version the caller read (else
///   [`Error::Conflict`](crate::Error::Conflict)); the stored version is
///   the caller's plus one (1 for a new one).
/// - **Once per contact**: [`add_recipients`](Outreach::add_recipients)
///   adds a contact to a broadcast at most once; adding it again changes
///   nothing and is not counted.
/// - **Exclusive claims**: a pending recipient is handed to one claimant
///   at a time, until its claim is settled or lapses (`until`); a lapsed
///   claim is handed out again.
/// - **Forward only**: a recipient moves from `pending` to `queued` or
///   `skipped`, once; settling with a token that is not the recipient's
///   current claim is a conflict and changes nothing.
/// - **Segments**: [`segment_contacts`](Outreach::segment_contacts) lists
///   exactly the contacts [`Segment::matches`] selects, in contact id
///   order, after `after`.
#[async_trait]
pub trait Outreach: Send + Sync {
    /// Stores a broadcast (see the contract's versions).
    async fn put_broadcast(&self, broadcast: &Broadcast, expected: Option<u64>) -> Result<()>;

    /// A broadcast ([`Error::NotFound`](crate::Error::NotFound) if none).
    async fn broadcast(&self, tenant: &TenantId, id: &BroadcastId) -> Result<Broadcast>;

    /// The tenant's broadcasts, newest first.
    async fn broadcasts(&self, tenant: &TenantId) -> Result<Vec<Broadcast>>;

    /// Broadcasts a worker should look at now, across tenants: scheduled
    /// ones whose time came, and those selecting or sending; oldest first,
    /// at most `limit`.
    async fn due_broadcasts(&self, now: DateTime<Utc>, limit: u32) -> Result<Vec<Broadcast>>;

    /// Adds recipients (each with its first state and, if skipped, why);
    /// returns how many were new.
    async fn add_recipients(
        &self,
        tenant: &TenantId,
        broadcast: &BroadcastId,
        recipients: &[Recipient],
    ) -> Result<u32>;

    /// Up to `limit` pending recipients not claimed (or whose claim lapsed
    /// by `now`), each now held until `until`, in contact id order.
    async fn claim_recipients(
        &self,
        tenant: &TenantId,
        broadcast: &BroadcastId,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<RecipientClaim>>;

    /// Records what became of a claimed recipient (see the contract).
    async fn settle_recipient(
        &self,
        claim: &RecipientClaim,
        outcome: &RecipientOutcome,
    ) -> Result<()>;

    /// The broadcast's recipients after `after`, in contact id order, at
    /// most `limit`.
    async fn recipients(
        &self,
        tenant: &TenantId,
        broadcast: &BroadcastId,
        after: Option<&ContactId>,
        limit: u32,
    ) -> Result<Vec<Recipient>>;

    /// How many recipients are in each state.
    async fn recipient_counts(
        &self,
        tenant: &TenantId,
        broadcast: &BroadcastId,
    ) -> Result<RecipientCounts>;

    /// The contacts `segment` selects after `after`, in id order, at most
    /// `limit`.
    async fn segment_contacts(
        &self,
        tenant: &TenantId,
        segment: &Segment,
        after: Option<&ContactId>,
        limit: u32,
    ) -> Result<Vec<Contact>>;
}

/// Whether a recipient in `state` may be settled (only pending ones).
pub fn settles(state: RecipientState) -> bool {
    state == RecipientState::Pending
}
