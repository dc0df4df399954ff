//! # inbox-store-memory
//!
//! An in-memory [`Store`](inbox_core::ports::Store) and
//! [`EventBus`](inbox_core::ports::EventBus) for the inbox: complete and
//! concurrency-safe, with the same guarantees as a database store (atomic
//! commits, version checks, deduplication), checked by the core's
//! conformance suite. Use it for tests, trials and embedding where the data
//! need not outlive the process.
//!
//! [`ports`] assembles everything for a quick start, on the production clock
//! and ids of `inbox-runtime` (where [`SystemClock`] and [`UuidIds`] live;
//! they are re-exported here for compatibility).
//!
//! ## Example
//!
//! ```
//! use std::sync::Arc;
//! use inbox_core::{model::*, *};
//! use inbox_core::testing::RecordingTransport;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<()> {
//! let inbox = Inbox::new(
//!     inbox_store_memory::ports(Arc::new(RecordingTransport::new())),
//!     InboxConfig::default(),
//! );
//! let acme = TenantId::new("acme")?;
//! inbox.provision_tenant(&Tenant::new(acme.clone(), "Acme")).await?;
//! inbox.provision_channel(&Channel::new(acme.clone(), ChannelId::new("sales")?, "1001", "+34 600 000 001")).await?;
//! inbox.provision_agent(&Agent::new(acme.clone(), AgentId::new("ana")?, "Ana", Role::Agent)).await?;
//!
//! // A customer writes in ...
//! let out = inbox.ingest(InboundEvent::Message(InboundMessage {
//!     phone_number_id: "1001".into(),
//!     external_id: "wamid.1".into(),
//!     from: ContactIdentity::wa("34611111111"),
//!     profile_name: Some("Marta".into()),
//!     username: None,
//!     timestamp: chrono::Utc::now(),
//!     content: Content::text("Hi! Where is my order?"),
//!     context: ReplyContext::default(),
//! })).await?;
//! let IngestOutcome::Stored { conversation, .. } = out else { unreachable!() };
//!
//! // ... and Ana claims the conversation and replies.
//! let ana = Actor::new(acme, AgentId::new("ana")?);
//! let claimed = inbox.claim(&ana, &conversation, 1).await?;
//! inbox.reply(&ana, &conversation, claimed.conversation.version, Reply::text("On its way!", "req-1")).await?;
//! assert_eq!(inbox.dispatch(10).await?.sent, 1);
//! # Ok(()) }
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod access;
mod bus;
mod dead_letters;
mod settings;
mod store;

use std::sync::Arc;

pub use bus::MemoryEventBus;
/// Moved to `inbox-runtime`; re-exported for compatibility.
pub use inbox_runtime::{SystemClock, UuidIds};
pub use store::MemoryStore;

use inbox_core::ports::Transport;
use inbox_core::Ports;

/// Ports for an in-memory inbox: a [`MemoryStore`], a [`MemoryEventBus`],
/// the [`SystemClock`] and [`UuidIds`], with the given transport.
pub fn ports(transport: Arc<dyn Transport>) -> Ports {
    inbox_runtime::ports(
        Arc::new(MemoryStore::new()),
        Arc::new(MemoryEventBus::default()),
        transport,
    )
}
