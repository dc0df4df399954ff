//! Dead letters: inbound items the inbox refused (an unusable id, a
//! character no store can hold, a timestamp WhatsApp cannot have sent, a
//! number no tenant has yet), kept whole so that an operator can see why
//! and replay them once the cause is gone, while the valid items of the same
//! webhook are stored and acknowledged.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::ids::{AgentId, ChannelId, DeadLetterId, MessageId, TenantId};
use crate::inbound::{InboundEvent, InboundRefusal};
use crate::query::{Cursor, Page, SortKey, SortOrder};

/// An inbound item the inbox refused, kept whole.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeadLetter {
    /// Its id.
    pub id: DeadLetterId,
    /// The tenant of its number, when a tenant had the number as it arrived
    /// (or when a replay stored it).
    pub tenant: Option<TenantId>,
    /// The channel of its number, likewise.
    pub channel: Option<ChannelId>,
    /// The provider's phone number id it names, if it names a usable one.
    pub phone_number_id: Option<String>,
    /// Which adapter recorded it and can decode it again (`"whatsapp"`).
    pub source: String,
    /// The item as received (for WhatsApp, a webhook body holding just this
    /// item with its metadata and contact): enough to replay it.
    pub raw: String,
    /// Why it was refused (the last replay's reason, if one was refused).
    pub reason: InboundRefusal,
    /// When it was first received.
    pub received_at: DateTime<Utc>,
    /// When a replay ingested it; `None` while it waits.
    pub replayed_at: Option<DateTime<Utc>>,
    /// The last replay, successful or not.
    pub last_replay: Option<DeadLetterReplay>,
}

impl DeadLetter {
    /// Whether it still waits for a replay.
    pub fn is_pending(&self) -> bool {
        self.replayed_at.is_none()
    }

    /// Its position in a listing (newest first, then by id); stores order
    /// by exactly this.
    pub fn sort_key(&self) -> SortKey {
        SortKey {
            a: -self.received_at.timestamp_micros(),
            b: 0,
            id: self.id.as_str().to_string(),
        }
    }
}

/// One replay of a dead letter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeadLetterReplay {
    /// When.
    pub at: DateTime<Utc>,
    /// The admin who replayed it.
    pub by: AgentId,
    /// What it did.
    pub outcome: ReplayOutcome,
}

/// What a replay did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "result", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ReplayOutcome {
    /// The item was ingested.
    Ingested {
        /// Messages stored by the replay.
        stored: Vec<MessageId>,
        /// Messages that were already stored (nothing new).
        duplicates: Vec<MessageId>,
        /// Statuses applied or acknowledged.
        statuses: u32,
    },
    /// The item was refused again; the letter keeps waiting with this
    /// reason.
    Refused {
        /// Why.
        reason: InboundRefusal,
    },
}

/// Which dead letters a tenant's admin sees: the tenant's own, and those
/// recorded for no tenant (their number had none yet) whose number the
/// tenant has now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetterScope {
    /// The tenant.
    pub tenant: TenantId,
    /// The tenant's phone number ids.
    pub numbers: Vec<String>,
}

impl DeadLetterScope {
    /// Whether `letter` is in the scope.
    pub fn contains(&self, letter: &DeadLetter) -> bool {
        match &letter.tenant {
            Some(t) => *t == self.tenant,
            None => letter
                .phone_number_id
                .as_ref()
                .is_some_and(|n| self.numbers.contains(n)),
        }
    }
}

/// A page of dead letters to list, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetterQuery {
    /// Only letters still waiting for a replay.
    pub pending_only: bool,
    /// Start after this position (from the previous page's `next`).
    pub after: Option<Cursor>,
    /// At most this many (1 to 200).
    pub limit: u32,
}

impl Default for DeadLetterQuery {
    fn default() -> Self {
        Self {
            pending_only: false,
            after: None,
            limit: 50,
        }
    }
}

impl DeadLetterQuery {
    /// Checks the limit and the cursor; the position to start after.
    pub fn validate(&self) -> Result<Option<SortKey>> {
        if !(1..=200).contains(&self.limit) {
            return Err(Error::invalid("limit", "must be between 1 and 200"));
        }
        match &self.after {
            None => Ok(None),
            Some(c) => match c.decode()? {
                (SortOrder::Newest, key) => Ok(Some(key)),
                _ => Err(Error::invalid("cursor", "not a dead letter listing cursor")),
            },
        }
    }

    /// The cursor for the page after one ending with `last`.
    pub fn cursor_after(last: &DeadLetter) -> Cursor {
        Cursor::after(SortOrder::Newest, &last.sort_key())
    }
}

/// What recording a dead letter did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetterPut {
    /// The letter as stored (the earlier one, for a redelivered item).
    pub letter: DeadLetter,
    /// `false` when the same item had already been recorded with the same
    /// reason.
    pub created: bool,
}

/// Where dead letters are kept. Every [`Store`](super::Store) is one too.
///
/// # Contract
///
/// - [`DeadLetters::put_dead_letter`] is idempotent per item and reason: a
///   letter with the same `source`, `phone_number_id`, `raw` and reason
///   [`code`](InboundRefusal::code) as one already recorded (the reason it
///   was first recorded with) records nothing and returns the stored
///   letter with `created: false`, so a webhook delivered many times leaves
///   one letter per refused item. Concurrent puts of one item record one.
/// - Letters are scoped: [`DeadLetters::dead_letters`] and
///   [`DeadLetters::dead_letter`] see only the letters a
///   [`DeadLetterScope`] contains; another one is [`Error::NotFound`].
/// - [`DeadLetters::dead_letters`] lists newest `received_at` first, ties
///   by id ascending ([`DeadLetter::sort_key`] ascending), from just after
///   the query's cursor, at most `limit`, with `next` set exactly when more
///   follow; `pending_only` keeps the letters without `replayed_at`.
/// - [`DeadLetters::update_dead_letter`] replaces the `tenant`, `channel`,
///   `reason`, `replayed_at` and `last_replay` of the stored letter with the
///   same id (never its item, source, arrival or the reason it is
///   deduplicated by); an unknown id is [`Error::NotFound`].
/// - Any text the core hands over is kept as it is: `raw` may be large (up
///   to a webhook's size) and hold escaped NULs (`\u0000`).
#[async_trait]
pub trait DeadLetters: Send + Sync {
    /// Records a refused item, once (see the contract).
    async fn put_dead_letter(&self, letter: DeadLetter) -> Result<DeadLetterPut>;

    /// A page of the letters in `scope`, newest first.
    async fn dead_letters(
        &self,
        scope: &DeadLetterScope,
        query: &DeadLetterQuery,
    ) -> Result<Page<DeadLetter>>;

    /// One letter in `scope`.
    async fn dead_letter(&self, scope: &DeadLetterScope, id: &DeadLetterId) -> Result<DeadLetter>;

    /// Records what a replay did (see the contract).
    async fn update_dead_letter(&self, letter: &DeadLetter) -> Result<()>;
}

/// Decodes a dead letter's item again, with today's decoder: the adapter
/// that recorded it provides one (the WhatsApp adapter's reads its webhook
/// bodies).
pub trait InboundDecoder: Send + Sync {
    /// The [`DeadLetter::source`] it reads.
    fn source(&self) -> &str;

    /// The events the item holds, or why it is still refused.
    fn decode(
        &self,
        raw: &str,
        received_at: DateTime<Utc>,
    ) -> std::result::Result<Vec<InboundEvent>, InboundRefusal>;
}
