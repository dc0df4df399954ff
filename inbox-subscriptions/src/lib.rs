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
//! ## What a delivery carries
//!
//! Each delivery is a JSON body `{"subscription", "delivery", "attempt",
//! "event"}`. A tenant can have it carry more, so that a CRM follows its
//! conversations without calling back, with its `subscriptions` settings
//! ([`SubscriptionsSection`](inbox_core::settings::SubscriptionsSection)):
//!
//! ```yaml
//! subscriptions: { include_message_text: true, include_contact: true }
//! ```
//!
//! Both are **off by default**, per tenant: off, the body is exactly the
//! four fields above.
//!
//! - `include_message_text`: a delivery about a message (`message_received`,
//!   `message_revised`, `message_echoed`, `standby_kept`, `reply_queued`,
//!   `delivery_changed`, `delivery_in_doubt`, `message_resent` (the new
//!   message), `note_added`, `transferred` (its handoff note),
//!   `survey_sent`) also carries `"message": {"id", "direction"
//!   (inbound, outbound, note), "author" ({"kind", "id"}: customer, agent,
//!   automation, system, app), "type" (text, image, location ...),
//!   "text"}`. `text` is the text of a text message or note, or a media's
//!   caption; other kinds (and media without a caption) carry no `text`.
//! - `include_contact`: a delivery about a conversation (any event with a
//!   `conversation`) also carries `"contact": {"id", "name", "phone",
//!   "wa_id", "user_id", "username", "email"}` for the conversation's
//!   customer: `name` is the team's name for them, else the WhatsApp
//!   Business app's, else their WhatsApp profile name; `phone` is E.164
//!   (`+` and the `wa_id`); `email` is the contact's `email` attribute.
//!   Only `id` is always there: the others are left out when not known.
//!   Events of no conversation (`contact_created` ...) carry none.
//!
//! **Including text sends customer data to the receiver**: what customers
//! write and who they are (name, number, e-mail) leave the inbox for the
//! subscription's URL. Turn it on only for receivers allowed to hold it,
//! over `https`.
//!
//! Both are read from the store when the delivery is built, on every
//! attempt: a retry or a [replay](SubscriptionDispatcher::replay) carries
//! the message's text and the contact as they are at that time (an edited
//! contact name shows its new value), not as they were when the event
//! happened. A message or contact the store no longer has (deleted, merged
//! away) leaves its field out and the delivery goes; a store that fails to
//! answer makes the attempt fail, retried like a failed delivery. The
//! settings are read at most once per tenant per
//! [`pump`](SubscriptionDispatcher::pump): a change applies from the next
//! pump. The signature covers the whole body, these fields included.
//!
//! ```json
//! {"attempt":1,
//!  "contact":{"email":"lucia@example.com","id":"contact-1","name":"Lucía Pérez","phone":"+3460001","wa_id":"3460001"},
//!  "delivery":"crm:3",
//!  "event":{"actor":{"id":"contact-1","kind":"customer"},"at":"2026-03-02T09:00:00Z","conversation":"conversation-2","conversation_version":1,
//!           "kind":{"content":"text","message":"message-3","type":"message_received"},"scope":{"channel":"sales"},"seq":3,"tenant":"acme"},
//!  "message":{"author":{"id":"contact-1","kind":"customer"},"direction":"inbound","id":"message-3","text":"hola","type":"text"},
//!  "subscription":"crm"}
//! ```
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
mod extras;
mod signature;

pub use bot::{
    BotDirectory, BotSecrets, HttpBot, StaticBotSecrets, MAX_BOT_ANSWER_BYTES, MIN_BOT_TIMEOUT,
};
pub use dispatcher::{DeadLetter, PumpReport, RetryPolicy, Subscription, SubscriptionDispatcher};
pub use error::SubscriptionError;
pub use signature::{sign, verify, SIGNATURE_HEADER};
