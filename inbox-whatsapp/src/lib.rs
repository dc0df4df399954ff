//! # inbox-whatsapp
//!
//! The WhatsApp Cloud API adapter of the inbox:
//!
//! - **webhooks in** ([`Webhook`]): the GET subscription handshake,
//!   `X-Hub-Signature-256` verification (constant time, per-number app
//!   secrets, a body-size limit) bound to the numbers each secret speaks for
//!   (a body naming another number is refused with 403), decoding of the
//!   whole envelope ([`decode_webhook`]) into the core's inbound events —
//!   every message type, statuses, value-level errors; types and fields Meta
//!   adds tomorrow decode as unsupported or ignored, never as errors — and
//!   ingesting into an [`Inbox`](inbox_core::Inbox): valid items are stored,
//!   each item the inbox refuses is kept as a dead letter with its typed
//!   reason (replayed with [`WhatsAppDecoder`]), and 200 is answered only
//!   once all of that is committed;
//! - **Graph API out** ([`GraphClient`]): implements the core's
//!   [`Transport`](inbox_core::ports::Transport) (text, replies, media,
//!   templates, interactive buttons and lists, reactions, location,
//!   contacts), marks messages read with the typing indicator, looks up,
//!   downloads and uploads media, lists approved templates; classifies
//!   Meta's error codes ([`classify`]), retries what is retryable with
//!   backoff and jitter, reports a send whose outcome is unknown (a timeout
//!   or a connection lost after the request was written, a success without
//!   a message id) as in doubt instead of sending it twice, and limits
//!   throughput per number;
//! - **templates** ([`templates`]): [`GraphClient::templates`] lists every
//!   template of a WhatsApp Business Account with the parameters each
//!   component takes, and [`templates::sync_templates`] makes them the
//!   `templates` section of a tenant's settings;
//! - optionally (feature `axum`) an axum router for the webhook endpoint.
//!
//! ## Template sync
//!
//! A tenant's templates live in its settings document, so what agents may
//! send is versioned and checked like the rest of its settings. Run
//! [`templates::sync_templates`] when the tenant connects its account,
//! from a periodic job, or on Meta's `message_template_status_update`
//! webhook: it fetches Meta's list (all pages), replaces the tenant's
//! `templates` section with it, sorted by name then language, and stores
//! it with [`Inbox::import_settings`](inbox_core::Inbox::import_settings)
//! on the version it read (once more on a conflict). The settings history
//! records the change under the section `templates`; an unchanged list
//! stores nothing. It reports the templates added, changed and removed as
//! `name@language`.
//!
//! Tokens and app secrets are [`Secret`]s: never in `Debug`, logs or errors.
//!
//! ## Example
//!
//! ```
//! use chrono::Utc;
//! use inbox_whatsapp::{sign, Decoded, Secret, Webhook, WebhookConfig};
//!
//! let hook = Webhook::new(WebhookConfig::new("verify-token", "app-secret"));
//! let body = br#"{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[
//!   {"field":"messages","value":{"metadata":{"phone_number_id":"106"},
//!    "statuses":[{"id":"wamid.9","status":"read","timestamp":"1750000000",
//!                 "recipient_id":"16505551234","biz_opaque_callback_data":"msg-1"}]}}]}]}"#;
//! let signature = sign(&Secret::new("app-secret"), body);
//! let items = hook.verify_and_decode(Some(&signature), body, Utc::now()).unwrap();
//! let Decoded::Status(s) = &items[0] else { panic!() };
//! assert_eq!(s.biz_opaque_callback_data.as_deref(), Some("msg-1"));
//! assert!(hook.verify_and_decode(None, body, Utc::now()).is_err());
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(feature = "axum")]
pub mod axum;
mod client;
mod error;
mod signature;
pub mod templates;
mod webhook;

pub use client::{
    classify, mark_read_body, message_body, thread_control_body, GraphClient, GraphConfig,
    MediaFile, MediaInfo, RetryPolicy, TemplateInfo, TokenSource,
};
pub use error::{SignatureProblem, WhatsAppError};
/// Tokens and app secrets (the core's type, re-exported).
pub use inbox_core::Secret;
pub use signature::{sign, verify_signature, SIGNATURE_HEADER};
pub use webhook::{
    decode_webhook, AppSecrets, BoundSecret, ConversationInfo, Decoded, DecodedMessage,
    DecodedSignal, DecodedStatus, IngestSummary, MetaError, PricingInfo, RawItem, Webhook,
    WebhookConfig, WebhookResponse, WhatsAppDecoder, SOURCE,
};
