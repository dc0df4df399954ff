//! Ports: the traits through which the core reaches the world.
//!
//! All are object safe and meant to be used as `Arc<dyn Trait>`. Each trait's
//! documentation has a `# Contract` section that says what an implementation
//! must guarantee.
//!
//! Durable state is split by concern into [`Directory`], [`Contacts`],
//! [`Conversations`], [`Messages`], [`Scheduling`], [`Reports`],
//! [`DeadLetters`], [`Settings`], [`Access`], [`ChannelSecrets`],
//! [`ReadMarkers`] and [`Outreach`]; [`Store`] is all of them together, the one object the
//! core holds. Media files are kept apart, by a [`MediaStore`] (bytes, not
//! rows: see its module).

mod access;
mod bot;
mod bus;
mod clock;
mod contacts;
mod context;
mod conversations;
mod dead_letters;
mod directory;
mod idgen;
mod media;
mod messages;
mod outreach;
mod read_markers;
mod reports;
mod scheduling;
mod secrets;
mod settings;
mod store;
mod subscriptions;
mod transport;

pub use access::{Access, ApiKeyRecord, SessionRecord, TokenHash};
pub use bot::{
    Bot, BotAction, BotAnswer, BotContact, BotError, BotMessage, BotSpeaker, BotTurn,
    MAX_BOT_ACTIONS, MAX_BOT_ATTRIBUTES, MAX_BOT_REPLIES, MAX_BOT_SUMMARY_CHARS,
};
pub use bus::{for_tenant, BusItem, EventBus, EventStream};
pub use clock::{Clock, ManualClock};
pub use contacts::{ContactMerge, Contacts};
pub use context::{ContextCard, ContextError, ContextSnippet, CustomerContext};
pub use conversations::{Changeset, Committed, Conversations, IngestContext, IngestRequest, Write};
pub use dead_letters::{
    DeadLetter, DeadLetterPut, DeadLetterQuery, DeadLetterReplay, DeadLetterScope, DeadLetters,
    InboundDecoder, ReplayOutcome,
};
pub use directory::{ChannelNews, Directory};
pub use idgen::{IdGenerator, SequentialIds};
pub use media::{check_content_type, MediaKey, MediaObject, MediaStore, MEDIA_KEY_MAX};
pub use messages::{
    MessageMutation, MessageTarget, MessageUpdate, MessageUpdated, Messages, Mutated,
};
pub use outreach::{settles, Outreach, RecipientClaim, RecipientOutcome};
pub use read_markers::ReadMarkers;
pub use reports::{LoadScope, Reports};
pub use scheduling::{
    Lease, LeaseKey, LeaseRequest, OutboxAttempt, OutboxClaim, OutboxClaimRequest,
    OutboxDisposition, OutboxEntry, Scheduling,
};
pub use secrets::{ChannelSecrets, SealedSecret, SecretSlot, TenantSecretSlot};
pub use settings::{
    DirectoryWrite, HistoryQuery, SectionChange, Settings, SettingsChange, SettingsPut,
    StoredSettings,
};
pub use store::{AsDynStore, Store};
pub use subscriptions::{
    DeliveryOutcome, DeliveryRecord, SubscriptionCommit, SubscriptionDeadLetter, SubscriptionKey,
    SubscriptionLog, SubscriptionRetry,
};
pub use transport::{
    OutboundRequest, SendReceipt, ThreadAction, ThreadControlRequest, Transport, TransportError,
    MAX_THREAD_METADATA_CHARS,
};
