//! The webhook side: subscription handshake, signature verification,
//! decoding, and ingesting into an [`Inbox`](inbox_core::Inbox).

mod decode;
mod handler;
mod wire;

pub use decode::{
    decode_webhook, ConversationInfo, Decoded, DecodedMessage, DecodedStatus, MetaError,
    PricingInfo,
};
pub use handler::{AppSecrets, IngestSummary, Webhook, WebhookConfig, WebhookResponse};
