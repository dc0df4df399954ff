//! # inbox-core
//!
//! The pure domain core of a shared, multi-agent WhatsApp team inbox: many
//! agents work one number's conversations with clear ownership, internal
//! notes, collision control and a full history, while the customer sees one
//! business.
//!
//! This crate does no IO and never reads the clock. It holds:
//!
//! - the [domain model](model): tenants, channels, agents, teams, contacts,
//!   conversations, messages and notes, delivery states;
//! - the [ports]: [`Store`](ports::Store), [`Transport`](ports::Transport),
//!   [`EventBus`](ports::EventBus), [`Clock`](ports::Clock) and
//!   [`IdGenerator`](ports::IdGenerator), object-safe traits with documented
//!   contracts;
//! - the [`Inbox`] service, the API an embedder calls;
//! - the [role matrix](permissions), [listing semantics](query), [search] and
//!   [domain events](event);
//! - behind the `testing` feature, the store conformance suite and a
//!   recording transport.
//!
//! Adapters live in their own crates: `inbox-store-memory` (in-memory store
//! and event bus), and the WhatsApp Cloud API and PostgreSQL adapters.
//!
//! ## Example
//!
//! ```
//! use chrono::{TimeZone, Utc};
//! use inbox_core::model::{Content, DeliveryState, DeliveryStatus, DeliveryUpdate};
//!
//! // Delivery statuses only move forward, whatever order WhatsApp sends them in.
//! let t = Utc.timestamp_opt(1_700_000_000, 0).unwrap();
//! let mut state = DeliveryState::pending(t);
//! for status in [DeliveryStatus::Read, DeliveryStatus::Sent, DeliveryStatus::Delivered] {
//!     state.apply(&DeliveryUpdate { status, at: t, error: None, pricing: None });
//! }
//! assert_eq!(state.status, DeliveryStatus::Read);
//!
//! // Free-form replies need the 24-hour window; templates do not.
//! assert!(!Content::text("hi").is_template());
//! ```
//!
//! A complete, runnable walk-through is the `quickstart` example of the
//! workspace (`cargo run --example quickstart`).

#![forbid(unsafe_code)]
#![warn(missing_docs)]

/// `Display` for a type that has an `as_str()`: the word it is written as.
macro_rules! display_as_str {
    ($($name:ty),+ $(,)?) => {
        $(impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        })+
    };
}

pub mod bots;
pub mod calendar;
pub mod error;
pub mod event;
pub mod ids;
pub mod inbound;
mod inbox;
pub mod metrics;
pub mod model;
mod nul;
pub mod permissions;
pub mod ports;
pub mod pricing;
pub mod query;
pub mod routing;
pub mod search;
mod secret;
pub mod settings;
pub mod sla;
#[cfg(feature = "testing")]
pub mod testing;
pub mod timer;

pub use error::{
    Change, Conflict, ContentProblem, ContentViolation, Entity, Error, Result, Unique,
};
pub use event::{Event, EventActor, EventKind, Ownership, Scope, ViewerState};
pub use ids::{
    AgentId, ApiKeyId, BroadcastId, ChannelId, ContactId, ConversationId, DeadLetterId, MessageId,
    TeamId, TenantId,
};
pub use inbound::{
    HistoryChunk, HistoryMessage, HistoryThread, InboundAccountSignal, InboundAppContact,
    InboundEcho, InboundEvent, InboundHandover, InboundHistory, InboundMessage, InboundPreference,
    InboundRefusal, InboundStatus, IngestOutcome, StandbyCopy,
};
pub use inbox::AGENT_REFRESH;
pub use inbox::{normalize_tag, parse_mentions};
pub use inbox::{
    ActionOutcome, Actor, AgentMay, Allowance, Assignee, ContactDetail, ContactUpdate,
    ConversationDetail, CustomerContextView, DispatchReport, DryRunSettings, Explanation, Inbox,
    InboxConfig, OfflineReport, OutboxPolicy, Ports, RefusedItem, ReopenPolicy, Reply, ReplyPolicy,
    StaleReplies, TickReport, View, ViewCounts, ViewQuery, CUSTOMER_WINDOW, MAX_HISTORY_PAGE,
    SETTINGS_RECHECK, VIEW_COUNT_CAP,
};
pub use inbox::{BroadcastFigures, NewBroadcast, Steer, MAX_BROADCAST_RATE, SELECTION_PAGE};
pub use inbox::{ClaimThread, ResolveThread, ThreadPolicy, UNNAMED_APP};
pub use inbox::{ImportProblem, ImportReport, ImportRow, MAX_IMPORT_ROWS};
pub use inbox::{NewApiKey, API_KEY_PREFIX, MIN_SECRET_LEN, TOUCH_EVERY};
pub use inbox::{StartConversation, StartTo};
pub use inbox::{IMPORTED_PREFIX, MEDIA_PLACEHOLDER};
pub use query::{Cursor, Page, SortOrder};
pub use secret::Secret;
