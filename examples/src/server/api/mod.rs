//! The agent API: JSON over the [`Inbox`], one handler per action. Every
//! action carries the conversation version the agent saw (`version`) and
//! an `Idempotency-Key` header; a repeated key gets the first answer again.

mod actions;
mod reports;
mod session;
mod views;

pub use actions::*;
pub use reports::*;
pub use session::*;
pub use views::*;
