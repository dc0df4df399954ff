//! Ports: the traits through which the core reaches the world.
//!
//! All are object safe and meant to be used as `Arc<dyn Trait>`. Each trait's
//! documentation has a `# Contract` section that says what an implementation
//! must guarantee.

mod bus;
mod clock;
mod context;
mod dead_letters;
mod idgen;
mod store;
mod subscriptions;
mod transport;

pub use bus::{BusItem, EventBus, EventStream};
pub use clock::{Clock, ManualClock};
pub use context::{ContextCard, ContextError, CustomerContext};
pub use dead_letters::{
    DeadLetter, DeadLetterPut, DeadLetterQuery, DeadLetterReplay, DeadLetterScope, DeadLetters,
    InboundDecoder, ReplayOutcome,
};
pub use idgen::{IdGenerator, SequentialIds};
pub use store::{
    AsDynStore, Changeset, Committed, ContactMerge, IngestContext, Lease, MessageMutation,
    MessageUpdated, Mutated, OutboxClaim, OutboxDisposition, OutboxEntry, StatusReport, Store,
    Write,
};
pub use subscriptions::{
    DeliveryOutcome, DeliveryRecord, SubscriptionDeadLetter, SubscriptionLog, SubscriptionRetry,
};
pub use transport::{OutboundRequest, SendReceipt, Transport, TransportError};
