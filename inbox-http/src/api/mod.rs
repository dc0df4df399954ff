//! The agent API: JSON over the [`Inbox`](inbox_core::Inbox), one handler
//! per action. Every action carries the conversation version the agent saw
//! (`version`) and an `Idempotency-Key` header; the same request again
//! gets the first answer, another request under the same key is refused
//! ([`idempotency`]).

mod access;
mod actions;
mod admin;
mod attachments;
mod broadcasts;
mod connectors;
mod contacts;
mod dead_letters;
pub mod idempotency;
mod imports;
mod outbound;
pub mod platform;
mod pricing;
mod reports;
mod session;
mod templates;
mod threads;
mod views;

pub use access::*;
pub use actions::*;
pub use admin::*;
pub use attachments::*;
pub use broadcasts::*;
pub use connectors::*;
pub use contacts::*;
pub use dead_letters::*;
pub use idempotency::Idempotency;
pub use imports::*;
pub use outbound::*;
pub use pricing::*;
pub use reports::*;
pub use session::*;
pub use templates::*;
pub use threads::*;
pub use views::*;
