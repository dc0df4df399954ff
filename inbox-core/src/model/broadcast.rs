//! Broadcasts: one approved template sent to a segment of contacts, paced,
//! each recipient at most once, marketing never to those who stopped it.
//!
//! A broadcast's recipients are selected from the segment (in contact id
//! order, a page at a time: the broadcast keeps its cursor), each
//! [`Pending`](RecipientState::Pending), [`Skipped`](RecipientState::Skipped)
//! with the reason (opted out, no opt-in, no identity), and later
//! [`Queued`](RecipientState::Queued) with the message sent to them. States
//! move forward only.
//!
//! ```
//! use inbox_core::model::Segment;
//! let vip = Segment { tags_all: vec!["vip".into()], ..Segment::default() };
//! assert!(!vip.is_everyone() && Segment::default().is_everyone());
//! ```

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Contact, TemplateFill};
use crate::ids::{AgentId, BroadcastId, ChannelId, ContactId, MessageId, TenantId};

/// Who a broadcast goes to: contacts with every tag of `tags_all`, at
/// least one of `tags_any` (when given), and these attribute values.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default, deny_unknown_fields)]
pub struct Segment {
    /// Tags a contact must all have.
    pub tags_all: Vec<String>,
    /// Tags of which a contact must have one (none given: no condition).
    pub tags_any: Vec<String>,
    /// Attribute values a contact must have, exactly.
    pub attributes: BTreeMap<String, String>,
}

impl Segment {
    /// Whether it selects every contact.
    pub fn is_everyone(&self) -> bool {
        self.tags_all.is_empty() && self.tags_any.is_empty() && self.attributes.is_empty()
    }

    /// Whether `c` is in the segment (contacts merged into another never
    /// are).
    pub fn matches(&self, c: &Contact) -> bool {
        c.merged_into.is_none()
            && self.tags_all.iter().all(|t| c.tags.contains(t))
            && (self.tags_any.is_empty() || self.tags_any.iter().any(|t| c.tags.contains(t)))
            && self
                .attributes
                .iter()
                .all(|(k, v)| c.attributes.get(k) == Some(v))
    }
}

/// Where a broadcast is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum BroadcastState {
    /// Being prepared; not started.
    Draft,
    /// Starts at its `schedule`.
    Scheduled,
    /// Choosing its recipients.
    Selecting,
    /// Sending.
    Sending,
    /// Paused by a person.
    Paused,
    /// Every recipient done.
    Done,
    /// Stopped for good.
    Cancelled,
}

impl BroadcastState {
    /// The snake-case name (as stored).
    pub fn as_str(self) -> &'static str {
        match self {
            BroadcastState::Draft => "draft",
            BroadcastState::Scheduled => "scheduled",
            BroadcastState::Selecting => "selecting",
            BroadcastState::Sending => "sending",
            BroadcastState::Paused => "paused",
            BroadcastState::Done => "done",
            BroadcastState::Cancelled => "cancelled",
        }
    }

    /// Whether a worker has something to do for it now (given its
    /// schedule for [`Scheduled`](BroadcastState::Scheduled)).
    pub fn is_working(self) -> bool {
        matches!(self, BroadcastState::Selecting | BroadcastState::Sending)
    }
}

/// A broadcast.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Broadcast {
    /// The tenant.
    pub tenant: TenantId,
    /// Its id.
    pub id: BroadcastId,
    /// A name for people.
    pub name: String,
    /// The number it is sent from.
    pub channel: ChannelId,
    /// The template and its values (which may name contact variables).
    pub template: TemplateFill,
    /// Who it goes to.
    pub segment: Segment,
    /// Who made it.
    pub created_by: AgentId,
    /// When it starts (`None`: when started by hand).
    pub schedule: Option<DateTime<Utc>>,
    /// Messages per second at most.
    pub rate_per_second: u32,
    /// Where it is.
    pub state: BroadcastState,
    /// Recipients chosen so far.
    pub selected: u32,
    /// The last contact the selection looked at.
    pub cursor: Option<ContactId>,
    /// The time its rate is used up to by what it sent: the next recipient
    /// may go then (kept with the broadcast, so a restart never sends
    /// faster).
    pub paced_until: Option<DateTime<Utc>>,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// When it finished.
    pub finished_at: Option<DateTime<Utc>>,
    /// Optimistic-concurrency version (1 when first stored).
    pub version: u64,
}

impl Broadcast {
    /// When a worker should look at it: its schedule when scheduled, now
    /// when selecting or sending, never otherwise.
    pub fn due_at(&self) -> Option<DateTime<Utc>> {
        match self.state {
            BroadcastState::Scheduled => self.schedule,
            s if s.is_working() => Some(self.created_at),
            _ => None,
        }
    }
}

/// Where one recipient of a broadcast is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum RecipientState {
    /// Chosen, not yet sent.
    Pending,
    /// Its message was queued.
    Queued,
    /// Not sent (see the reason).
    Skipped,
}

impl RecipientState {
    /// The snake-case name (as stored).
    pub fn as_str(self) -> &'static str {
        match self {
            RecipientState::Pending => "pending",
            RecipientState::Queued => "queued",
            RecipientState::Skipped => "skipped",
        }
    }
}

/// One recipient of a broadcast.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Recipient {
    /// The contact.
    pub contact: ContactId,
    /// Where it is.
    pub state: RecipientState,
    /// The message queued to them.
    pub message: Option<MessageId>,
    /// Why it was skipped (`opted_out`, `no_opt_in` …).
    pub reason: Option<String>,
}

/// How many recipients are in each state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RecipientCounts {
    /// Not yet sent.
    pub pending: u32,
    /// Queued.
    pub queued: u32,
    /// Skipped.
    pub skipped: u32,
}
