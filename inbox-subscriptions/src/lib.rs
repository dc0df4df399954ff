//! # inbox-subscriptions
//!
//! Subscriptions: signed outbound deliveries of the inbox's domain events,
//! so a CRM, a helpdesk or an e-commerce back office can follow what
//! happens: every message, assignment, note, status change, SLA breach and
//! integration event emitted by a rule. (In this workspace "webhook" means
//! only what comes in: WhatsApp's notifications, in `inbox-whatsapp`.)
//!
//! - [`SubscriptionDispatcher`] reads the store's event log and POSTs each
//!   event to the tenant's [`Subscription`]s, signed, retried with
//!   exponential backoff, given up into a dead-letter list that can be
//!   replayed; positions, retries and dead letters are kept in the store
//!   ([`SubscriptionLog`](inbox_core::ports::SubscriptionLog)), so a restart
//!   loses none of them.
//! - [`sign`] and [`verify`] are the two sides of the `X-Inbox-Signature`
//!   header (HMAC-SHA256 over timestamp and body, compared in constant
//!   time); receivers written in Rust can use [`verify`] directly.
//! - [`HttpBot`] answers the tenants' `http` bots: it posts each bot turn
//!   to the embedder's endpoint, signed the same way, and maps its answer
//!   (or its failure) for the core.
//!
//! ```no_run
//! # async fn demo(clock: std::sync::Arc<dyn inbox_core::ports::Clock>) -> Result<(), inbox_subscriptions::SubscriptionError> {
//! use std::sync::Arc;
//! use inbox_core::{Secret, TenantId};
//! use inbox_store_memory::MemoryStore;
//! use inbox_subscriptions::{SubscriptionDispatcher, RetryPolicy, Subscription};
//! // Any store: it holds the events and the delivery state.
//! let store = Arc::new(MemoryStore::new());
//! let mut dispatcher = SubscriptionDispatcher::new(store.clone(), store, clock, RetryPolicy::default())?;
//! dispatcher.subscribe(Subscription {
//!     id: "crm".into(),
//!     tenant: TenantId::new("acme")?,
//!     url: "https://crm.example.com/hooks/inbox".parse().map_err(|_| inbox_subscriptions::SubscriptionError::InvalidSubscription("url".into()))?,
//!     secret: Secret::new("whsec_..."),
//!     events: vec!["assigned".into(), "integration".into()],
//! }, 0)?;
//! loop {
//!     let report = dispatcher.pump(500).await?;
//!     if report.read == 0 { tokio_sleep_a_second().await }
//! }
//! # async fn tokio_sleep_a_second() {}
//! # }
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod bot;
mod dispatcher;
mod error;
mod signature;

pub use bot::{
    BotDirectory, BotSecrets, HttpBot, StaticBotSecrets, MAX_BOT_ANSWER_BYTES, MIN_BOT_TIMEOUT,
};
pub use dispatcher::{DeadLetter, PumpReport, RetryPolicy, Subscription, SubscriptionDispatcher};
pub use error::SubscriptionError;
pub use signature::{sign, verify, SIGNATURE_HEADER};
