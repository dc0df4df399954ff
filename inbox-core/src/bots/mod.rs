//! Bots the core answers for itself: the FAQ bot of the tenant's
//! settings. Pure: a turn in, an answer out.
//!
//! Bots behind the embedder's endpoint answer through the
//! [`Bot`](crate::ports::Bot) port instead.

mod faq;

pub use faq::faq_answer;
