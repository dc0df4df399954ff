//! The core's error type.
//!
//! One enum, [`Error`], for everything the core and its ports report. Its
//! variants are semantic (what went wrong for the caller), not technical (which
//! backend failed): stores map their own failures into [`Error::Unavailable`],
//! [`Error::Conflict`], [`Error::Duplicate`] and so on, keeping their private
//! error types as the `source`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::time::Duration;

use crate::ids::{AgentId, ConversationId, MessageId};
use crate::permissions::Action;

/// A boxed error from a backend, kept as the source of a core error.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Result alias used throughout the core.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in the core, its ports and its adapters.
///
/// Bad input always yields one of these with a message that says what was
/// wrong; nothing already stored changes when an action fails.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The input was malformed or out of range.
    #[error("invalid {field}: {reason}")]
    InvalidInput {
        /// The field or argument that was wrong.
        field: String,
        /// Why it was rejected.
        reason: String,
    },

    /// The entity does not exist in this tenant. An id that belongs to another
    /// tenant is reported as not found, never as forbidden, so that tenants
    /// cannot learn about each other.
    #[error("{entity} {id:?} not found")]
    NotFound {
        /// What kind of entity (`"conversation"`, `"agent"`, ...).
        entity: &'static str,
        /// The id that was looked up.
        id: String,
    },

    /// The acting agent's role or relation to the conversation does not allow
    /// the action.
    #[error("agent {agent} may not {action}: {reason}")]
    Forbidden {
        /// Who tried.
        agent: AgentId,
        /// What they tried.
        action: Action,
        /// Why it is not allowed.
        reason: String,
    },

    /// The action was based on a stale view of the conversation, or raced with
    /// another change. Says what changed; this is collision detection.
    #[error("{0}")]
    Conflict(Box<Conflict>),

    /// The conversation is owned by another agent, so it cannot be claimed.
    #[error("conversation {conversation} is already owned by {owner}")]
    AlreadyOwned {
        /// The conversation.
        conversation: ConversationId,
        /// Who owns it.
        owner: AgentId,
    },

    /// Another agent holds the conversation's reply lease.
    #[error("{holder} is replying to conversation {conversation} (lease until {until})")]
    LeaseHeld {
        /// The conversation.
        conversation: ConversationId,
        /// Who holds the lease.
        holder: AgentId,
        /// Until when.
        until: DateTime<Utc>,
    },

    /// Something with this identity is already stored (an inbound message with
    /// the same external id on the channel, a reply with the same idempotency
    /// key, an entity with the same unique key).
    #[error("duplicate {what}: already stored as {existing}")]
    Duplicate {
        /// What was duplicated.
        what: &'static str,
        /// The id of what is already stored.
        existing: String,
    },

    /// A routing configuration (rules, team policies, calendars) was
    /// rejected when loaded: says which rule, which field and why.
    #[error("invalid routing rules: {}{field}: {reason}", rule.as_ref().map(|r| format!("rule {r:?}, ")).unwrap_or_default())]
    InvalidRules {
        /// The rule's name (or its position, `#3`, if it has none yet).
        rule: Option<String>,
        /// The field, as a path (`when.all[1].regex.pattern`), with the line
        /// and column for parse errors.
        field: String,
        /// What was wrong.
        reason: String,
    },

    /// The action does not fit the conversation's current state (for example
    /// replying to a resolved conversation is allowed, but snoozing into the
    /// past is not).
    #[error("invalid state: {0}")]
    InvalidState(String),

    /// The 24-hour customer service window is closed: WhatsApp refuses
    /// free-form messages, only a template can be sent.
    #[error(
        "the 24-hour customer window of conversation {conversation} closed at {closed_at}; \
         only a template message can be sent"
    )]
    WindowClosed {
        /// The conversation.
        conversation: ConversationId,
        /// When the window closed (`None` if the customer never wrote).
        closed_at: WindowClosedAt,
    },

    /// An inbound event named a WhatsApp number that no tenant has configured.
    #[error("unknown channel: no tenant has phone number id {phone_number_id:?}")]
    UnknownChannel {
        /// The phone number id from the webhook.
        phone_number_id: String,
    },

    /// Sending through the transport failed.
    #[error("transport: {0}")]
    Transport(#[from] crate::ports::TransportError),

    /// The backend is unreachable or overloaded. Nothing was written; the
    /// operation can be retried.
    #[error("backend unavailable: {message}")]
    Unavailable {
        /// What happened, without secrets.
        message: String,
        /// The backend's own error.
        #[source]
        source: Option<BoxError>,
    },

    /// The backend failed in a way that retrying will not fix.
    #[error("backend error: {message}")]
    Backend {
        /// What happened, without secrets.
        message: String,
        /// The backend's own error.
        #[source]
        source: Option<BoxError>,
    },
}

/// When a customer window closed, for [`Error::WindowClosed`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WindowClosedAt(pub Option<DateTime<Utc>>);

impl std::fmt::Display for WindowClosedAt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(at) => write!(f, "{}", at.to_rfc3339()),
            None => f.write_str("never opened (the customer has not written)"),
        }
    }
}

impl Error {
    /// Shorthand for [`Error::InvalidInput`].
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::InvalidInput {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// Shorthand for [`Error::NotFound`].
    pub fn not_found(entity: &'static str, id: impl std::fmt::Display) -> Self {
        Error::NotFound {
            entity,
            id: id.to_string(),
        }
    }

    /// Shorthand for [`Error::Unavailable`] without a source.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Error::Unavailable {
            message: message.into(),
            source: None,
        }
    }

    /// Whether retrying the same call later may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Unavailable { .. } => true,
            Error::Transport(t) => t.is_retryable(),
            _ => false,
        }
    }

    /// A short stable code for the error, for APIs and logs
    /// (`"not_found"`, `"conflict"`, ...).
    pub fn code(&self) -> &'static str {
        match self {
            Error::InvalidInput { .. } => "invalid_input",
            Error::NotFound { .. } => "not_found",
            Error::Forbidden { .. } => "forbidden",
            Error::Conflict(_) => "conflict",
            Error::AlreadyOwned { .. } => "already_owned",
            Error::LeaseHeld { .. } => "lease_held",
            Error::Duplicate { .. } => "duplicate",
            Error::InvalidState(_) => "invalid_state",
            Error::InvalidRules { .. } => "invalid_rules",
            Error::WindowClosed { .. } => "window_closed",
            Error::UnknownChannel { .. } => "unknown_channel",
            Error::Transport(_) => "transport",
            Error::Unavailable { .. } => "unavailable",
            Error::Backend { .. } => "backend",
        }
    }

    /// The conflict details, if this is a [`Error::Conflict`].
    pub fn as_conflict(&self) -> Option<&Conflict> {
        match self {
            Error::Conflict(c) => Some(c),
            _ => None,
        }
    }
}

/// Details of an optimistic-concurrency conflict: the agent acted on version
/// `seen` of a conversation but it is now at `current`, and these are the
/// changes in between.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Conflict {
    /// What kind of entity changed (`"conversation"`, `"contact"`,
    /// `"outbox entry"`).
    pub entity: String,
    /// The id of the entity that changed.
    pub id: String,
    /// The version the caller saw.
    pub seen: u64,
    /// The version now stored.
    pub current: u64,
    /// What changed since `seen`, oldest first.
    pub changes: Vec<Change>,
}

impl Conflict {
    /// A conflict on a conversation, with no changes listed yet.
    pub fn conversation(id: &ConversationId, seen: u64, current: u64) -> Self {
        Self {
            entity: "conversation".into(),
            id: id.to_string(),
            seen,
            current,
            changes: Vec::new(),
        }
    }

    /// A conflict on another entity.
    pub fn on(entity: &str, id: impl std::fmt::Display, seen: u64, current: u64) -> Self {
        Self {
            entity: entity.into(),
            id: id.to_string(),
            seen,
            current,
            changes: Vec::new(),
        }
    }
}

impl std::fmt::Display for Conflict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {} changed since version {} (now {})",
            self.entity, self.id, self.seen, self.current
        )?;
        if !self.changes.is_empty() {
            f.write_str(": ")?;
            for (i, c) in self.changes.iter().enumerate() {
                if i > 0 {
                    f.write_str("; ")?;
                }
                write!(f, "{c}")?;
            }
        }
        Ok(())
    }
}

/// One change that happened after the version an agent saw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "change", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Change {
    /// The customer sent a new message.
    NewCustomerMessage {
        /// The new message.
        message: MessageId,
    },
    /// Another agent (or automation) replied.
    AgentReplied {
        /// Who replied (`None` for automation).
        agent: Option<AgentId>,
        /// The reply.
        message: MessageId,
    },
    /// The owner changed.
    OwnerChanged {
        /// The new owner (`None`: back in the queue).
        owner: Option<AgentId>,
    },
    /// The status changed.
    StatusChanged {
        /// The new status.
        status: crate::model::ConversationStatus,
    },
    /// A note was added.
    NoteAdded {
        /// The note.
        message: MessageId,
    },
    /// Something else changed (tags, priority, team ...).
    Other {
        /// A short description.
        what: String,
    },
}

impl std::fmt::Display for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Change::NewCustomerMessage { message } => {
                write!(f, "new customer message {message}")
            }
            Change::AgentReplied {
                agent: Some(a),
                message,
            } => write!(f, "{a} replied ({message})"),
            Change::AgentReplied {
                agent: None,
                message,
            } => write!(f, "automation replied ({message})"),
            Change::OwnerChanged { owner: Some(a) } => write!(f, "now owned by {a}"),
            Change::OwnerChanged { owner: None } => f.write_str("returned to the queue"),
            Change::StatusChanged { status } => write!(f, "status is now {status}"),
            Change::NoteAdded { message } => write!(f, "note added ({message})"),
            Change::Other { what } => f.write_str(what),
        }
    }
}

/// Converts a [`Duration`] to chrono, saturating instead of failing.
pub(crate) fn chrono_duration(d: Duration) -> chrono::TimeDelta {
    chrono::TimeDelta::from_std(d).unwrap_or(chrono::TimeDelta::MAX)
}
