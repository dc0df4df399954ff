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

    /// Content that WhatsApp would refuse (a text over its limit, a fourth
    /// reply button, two buttons with one title ...) or that contains
    /// characters no store can keep (NUL and other control characters), in
    /// a reply or a note: says which field, which rule and by how much.
    /// Refused before anything is stored or queued.
    #[error("invalid content: {0}")]
    InvalidContent(Box<ContentViolation>),

    /// The entity does not exist in this tenant. An id that belongs to another
    /// tenant is reported as not found, never as forbidden, so that tenants
    /// cannot learn about each other.
    #[error("{entity} {id:?} not found")]
    NotFound {
        /// What kind of entity ([`Entity::Conversation`], [`Entity::Agent`],
        /// ...).
        entity: Entity,
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
        /// Which uniqueness rule the write broke.
        what: Unique,
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

    /// A tenant's settings document was refused: every bad field, each by
    /// its path (`routing.rules[2].then[0].route_to_team`) with what was
    /// wrong. Nothing of the document was stored.
    #[error("invalid settings: {}", problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    InvalidSettings {
        /// The bad fields, in document order.
        problems: Vec<SettingsProblem>,
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

    /// The credentials presented (a session token, an API key) are unknown,
    /// expired or revoked, or belong to an agent who can no longer act.
    /// Says no more than that, whichever it was, so that a caller cannot
    /// tell a revoked key from one that never existed.
    #[error("not signed in: unknown, expired or revoked credentials")]
    Unauthenticated,

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
    pub fn not_found(entity: Entity, id: impl std::fmt::Display) -> Self {
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
            Error::InvalidContent(_) => "invalid_content",
            Error::NotFound { .. } => "not_found",
            Error::Forbidden { .. } => "forbidden",
            Error::Conflict(_) => "conflict",
            Error::AlreadyOwned { .. } => "already_owned",
            Error::LeaseHeld { .. } => "lease_held",
            Error::Duplicate { .. } => "duplicate",
            Error::InvalidState(_) => "invalid_state",
            Error::InvalidRules { .. } => "invalid_rules",
            Error::InvalidSettings { .. } => "invalid_settings",
            Error::WindowClosed { .. } => "window_closed",
            Error::UnknownChannel { .. } => "unknown_channel",
            Error::Unauthenticated => "unauthenticated",
            Error::Transport(_) => "transport",
            Error::Unavailable { .. } => "unavailable",
            Error::Backend { .. } => "backend",
        }
    }

    /// Shorthand for [`Error::InvalidContent`].
    pub fn content(field: impl Into<String>, problem: ContentProblem) -> Self {
        Error::InvalidContent(Box::new(ContentViolation {
            field: field.into(),
            problem,
        }))
    }

    /// Shorthand for [`Error::InvalidSettings`] with one problem.
    pub fn invalid_settings(path: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::InvalidSettings {
            problems: vec![SettingsProblem {
                path: path.into(),
                reason: reason.into(),
            }],
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

/// One bad field of a settings document, for [`Error::InvalidSettings`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[error("{path}: {reason}")]
pub struct SettingsProblem {
    /// Where, as a path from the document's root
    /// (`sla.policies[0].warn_at_percent`).
    pub path: String,
    /// What was wrong, with a suggestion where there is one.
    pub reason: String,
}

/// What was wrong with outbound content or a note, for
/// [`Error::InvalidContent`].
///
/// `field` is a path in the WhatsApp Cloud API's message object, the shape
/// Meta itself would name in its refusal (`text.body`, `image.caption`,
/// `interactive.action.sections[1].rows[3].title`,
/// `template.components[0].parameters[2].text`); for notes it is the
/// argument (`note`, `handoff_note`, `reason`). Lengths are in Unicode
/// characters (scalar values), not bytes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ContentViolation {
    /// The field, as a path (`interactive.action.buttons[2].reply.title`).
    pub field: String,
    /// The rule it broke.
    pub problem: ContentProblem,
}

impl std::fmt::Display for ContentViolation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.field, self.problem)
    }
}

/// The rule a field of outbound content broke.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ContentProblem {
    /// The field is empty (or only white space) and must not be.
    Empty,
    /// The text is longer than the limit, in characters.
    TooLong {
        /// The most characters allowed.
        limit: usize,
        /// The characters the value has.
        actual: usize,
    },
    /// The list has more items than the limit.
    TooMany {
        /// The most items allowed.
        limit: usize,
        /// The items given.
        actual: usize,
    },
    /// The list has fewer items than needed.
    TooFew {
        /// The fewest items allowed.
        min: usize,
        /// The items given.
        actual: usize,
    },
    /// The value repeats another one that must differ from it (button
    /// titles and ids, list row ids).
    Duplicate {
        /// The field holding the same value earlier.
        of: String,
    },
    /// The text contains a control character (NUL, bell, escape ...);
    /// line feed, carriage return and tab are allowed.
    ControlCharacter {
        /// The character's code point (`0` for NUL).
        code_point: u32,
        /// Its position in the text, in characters from 0.
        position: usize,
    },
    /// The number is outside its range (or not a number).
    OutOfRange {
        /// The smallest value allowed.
        min: f64,
        /// The largest value allowed.
        max: f64,
        /// The value given.
        actual: f64,
    },
    /// A template component has another number of parameters than the
    /// template's definition.
    ParameterCount {
        /// The component (`header`, `body`, `button 0`).
        component: String,
        /// The parameters the definition has.
        expected: usize,
        /// The parameters given.
        actual: usize,
    },
    /// Another rule, explained.
    Invalid {
        /// What is wrong.
        reason: String,
    },
}

impl ContentProblem {
    /// The limit and the actual size, for the problems that have both
    /// ([`ContentProblem::TooLong`], [`ContentProblem::TooMany`],
    /// [`ContentProblem::TooFew`], [`ContentProblem::ParameterCount`]).
    pub fn limit_and_actual(&self) -> Option<(usize, usize)> {
        match self {
            ContentProblem::TooLong { limit, actual }
            | ContentProblem::TooMany { limit, actual } => Some((*limit, *actual)),
            ContentProblem::TooFew { min, actual } => Some((*min, *actual)),
            ContentProblem::ParameterCount {
                expected, actual, ..
            } => Some((*expected, *actual)),
            _ => None,
        }
    }
}

impl std::fmt::Display for ContentProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ContentProblem::Empty => f.write_str("is empty"),
            ContentProblem::TooLong { limit, actual } => write!(
                f,
                "is {actual} characters long; WhatsApp allows at most {limit}"
            ),
            ContentProblem::TooMany { limit, actual } => {
                write!(f, "has {actual} items; WhatsApp allows at most {limit}")
            }
            ContentProblem::TooFew { min, actual } => {
                write!(f, "has {actual} items; at least {min} needed")
            }
            ContentProblem::Duplicate { of } => write!(f, "repeats {of}; they must differ"),
            ContentProblem::ControlCharacter {
                code_point,
                position,
            } => write!(
                f,
                "contains control character U+{code_point:04X} at character {position}"
            ),
            ContentProblem::OutOfRange { min, max, actual } => {
                write!(f, "is {actual}, outside {min} to {max}")
            }
            ContentProblem::ParameterCount {
                component,
                expected,
                actual,
            } => write!(
                f,
                "gives the {component} {actual} parameters; the template takes {expected}"
            ),
            ContentProblem::Invalid { reason } => f.write_str(reason),
        }
    }
}

/// Defines a unit enum whose variants read as fixed words: `Display`,
/// `as_str` and serde all give the word, so messages and JSON read as the
/// strings they replace.
macro_rules! worded_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $word:literal,)* }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[non_exhaustive]
        pub enum $name {
            $($(#[$vdoc])* #[serde(rename = $word)] $variant,)*
        }

        impl $name {
            /// The word for it, as error messages and JSON spell it.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $word,)*
                }
            }
        }

        display_as_str!($name);
    };
}

worded_enum! {
    /// What kind of stored thing an error is about: the one not found
    /// ([`Error::NotFound`]) or the one that changed under the caller
    /// ([`Conflict::entity`]).
    Entity {
        /// A tenant.
        Tenant = "tenant",
        /// A channel (a WhatsApp number of a tenant).
        Channel = "channel",
        /// An agent.
        Agent = "agent",
        /// A team.
        Team = "team",
        /// A contact.
        Contact = "contact",
        /// A conversation.
        Conversation = "conversation",
        /// A message or note.
        Message = "message",
        /// A dead letter.
        DeadLetter = "dead letter",
        /// A message template of a tenant.
        Template = "template",
        /// A tenant's settings document.
        Settings = "settings",
        /// A team's round-robin cursor (two assignments raced for it).
        RoutingCursor = "routing cursor",
        /// An outbox entry (its claim is no longer held).
        OutboxEntry = "outbox entry",
        /// A commit that raced another on a deferred unique key: retry.
        Commit = "commit",
        /// A unique key whose colliding row was gone again: retry.
        UniqueKey = "unique key",
        /// A signed-in session.
        Session = "session",
        /// An API key.
        ApiKey = "api key",
        /// A broadcast.
        Broadcast = "broadcast",
        /// A broadcast's recipient (its claim is no longer held).
        Recipient = "recipient",
    }
}

worded_enum! {
    /// Which uniqueness rule a write broke, for [`Error::Duplicate`].
    Unique {
        /// A message: one per (channel, provider id), and one per id.
        Message = "message",
        /// A message's idempotency key: one message per key.
        IdempotencyKey = "idempotency key",
        /// A contact: one per `wa_id`, one per `user_id`, and one per id.
        Contact = "contact",
        /// A conversation id.
        Conversation = "conversation",
        /// At most one active conversation per (channel, contact).
        ActiveConversation = "active conversation",
        /// A phone number id: one channel per number, across tenants.
        PhoneNumberId = "phone number id",
        /// A dead letter id.
        DeadLetter = "dead letter",
        /// An outbox entry: one per message.
        OutboxEntry = "outbox entry",
        /// A session: one per token.
        Session = "session",
        /// An API key: one per id.
        ApiKey = "api key",
        /// A broadcast id.
        Broadcast = "broadcast",
    }
}

/// Details of an optimistic-concurrency conflict: the agent acted on version
/// `seen` of a conversation but it is now at `current`, and these are the
/// changes in between.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Conflict {
    /// What kind of entity changed ([`Entity::Conversation`],
    /// [`Entity::Contact`], [`Entity::OutboxEntry`] ...).
    pub entity: Entity,
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
            entity: Entity::Conversation,
            id: id.to_string(),
            seen,
            current,
            changes: Vec::new(),
        }
    }

    /// A conflict on another entity.
    pub fn on(entity: Entity, id: impl std::fmt::Display, seen: u64, current: u64) -> Self {
        Self {
            entity,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_read_as_the_words_they_always_did() {
        let e = Error::not_found(Entity::RoutingCursor, "sales");
        assert_eq!(e.to_string(), r#"routing cursor "sales" not found"#);
        let e = Error::Duplicate {
            what: Unique::IdempotencyKey,
            existing: "r1".into(),
        };
        assert_eq!(
            e.to_string(),
            "duplicate idempotency key: already stored as r1"
        );
        let c = Conflict::on(Entity::OutboxEntry, "m1", 3, 0);
        assert_eq!(
            c.to_string(),
            "outbox entry m1 changed since version 3 (now 0)"
        );
        let json = serde_json::to_value(&c).unwrap();
        assert_eq!(json["entity"], "outbox entry");
        let back: Conflict = serde_json::from_value(json).unwrap();
        assert_eq!(back, c);
        assert_eq!(Entity::DeadLetter.as_str(), "dead letter");
        assert_eq!(
            Unique::ActiveConversation.to_string(),
            "active conversation"
        );
        assert_eq!(Unique::PhoneNumberId.to_string(), "phone number id");
    }
}
