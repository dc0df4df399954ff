//! The webhook side: subscription handshake, signature verification bound
//! to the numbers each app secret speaks for, decoding, ingesting into an
//! [`Inbox`](inbox_core::Inbox) with refused items kept as dead letters, and
//! the decoder that replays them.

mod app_state;
mod calls;
mod config;
mod decode;
mod fields;
mod handler;
mod handovers;
mod history;
mod ingest;
#[cfg(test)]
mod oracle;
mod preferences;
mod raw;
mod replay;
mod signals;
mod wire;

pub use config::{AppSecrets, BoundSecret, WebhookConfig};
pub use decode::{
    decode_webhook, ConversationInfo, Decoded, DecodedMessage, DecodedStatus, MetaError,
    PricingInfo,
};
pub use handler::{IngestSummary, Webhook, WebhookResponse};
pub use raw::RawItem;
pub use replay::{WhatsAppDecoder, SOURCE};
pub use signals::DecodedSignal;
