//! A framework-agnostic webhook endpoint: method, query, headers and raw
//! body in; status and body out.

use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::BTreeSet;

use inbox_core::Inbox;

use super::config::WebhookConfig;
use super::decode::{decode_webhook, Decoded};
use super::ingest::Delivery;
use crate::error::WhatsAppError;
use crate::signature::verify_signature;

/// What to answer Meta with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookResponse {
    /// HTTP status.
    pub status: u16,
    /// `text/plain` for the handshake, `application/json` otherwise.
    pub content_type: &'static str,
    /// Body.
    pub body: String,
}

impl WebhookResponse {
    fn text(status: u16, body: impl Into<String>) -> Self {
        Self {
            status,
            content_type: "text/plain; charset=utf-8",
            body: body.into(),
        }
    }

    fn json(status: u16, body: &impl Serialize) -> Self {
        Self {
            status,
            content_type: "application/json",
            body: serde_json::to_string(body).unwrap_or_else(|_| "{}".into()),
        }
    }

    fn error(e: &WhatsAppError) -> Self {
        Self::json(
            e.http_status(),
            &serde_json::json!({ "error": e.to_string() }),
        )
    }
}

/// What a POST did (also the webhook's metrics: each field counts items).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct IngestSummary {
    /// New messages stored.
    pub stored: u32,
    /// Messages already stored (redeliveries).
    pub duplicates: u32,
    /// Statuses that moved a message forward.
    pub statuses: u32,
    /// Statuses that changed nothing or concern unknown messages.
    pub statuses_ignored: u32,
    /// Customers' choices about marketing messages (`user_preferences`)
    /// taken.
    #[serde(default)]
    pub preferences: u32,
    /// Thread handovers (`messaging_handovers`) recorded.
    #[serde(default)]
    pub handovers: u32,
    /// Contacts of the WhatsApp Business app (`smb_app_state_sync`)
    /// recorded.
    #[serde(default)]
    pub app_contacts: u32,
    /// Past messages from the WhatsApp Business app (`history`) stored
    /// (each once).
    #[serde(default)]
    pub history_messages: u32,
    /// What Meta said about the account, its numbers and templates,
    /// recorded (once per tenant whose numbers it concerns).
    #[serde(default)]
    pub account_signals: u32,
    /// Value-level errors reported by Meta.
    pub errors: u32,
    /// Changes of other fields, acknowledged and ignored.
    pub ignored: u32,
    /// Items the inbox refused (unreadable, an id or text no store can
    /// hold, a timestamp out of range, a number no tenant has), each kept
    /// as a dead letter for an operator to replay.
    pub dead_lettered: u32,
}

/// The webhook endpoint.
///
/// ```
/// use inbox_whatsapp::{Webhook, WebhookConfig};
/// let hook = Webhook::new(WebhookConfig::new("verify-me", "app-secret"));
/// let ok = hook.handshake(Some("hub.mode=subscribe&hub.verify_token=verify-me&hub.challenge=42"));
/// assert_eq!((ok.status, ok.body.as_str()), (200, "42"));
/// assert_eq!(hook.handshake(Some("hub.mode=subscribe&hub.verify_token=nope&hub.challenge=42")).status, 403);
/// ```
#[derive(Debug, Clone)]
pub struct Webhook {
    config: WebhookConfig,
}

impl Webhook {
    /// An endpoint with this configuration.
    pub fn new(config: WebhookConfig) -> Self {
        Self { config }
    }

    /// The GET verification handshake: echoes `hub.challenge` when
    /// `hub.mode` is `subscribe` and `hub.verify_token` matches (compared in
    /// constant time); 403 otherwise.
    pub fn handshake(&self, query: Option<&str>) -> WebhookResponse {
        let mut mode = None;
        let mut token = None;
        let mut challenge = None;
        for (k, v) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            match k.as_ref() {
                "hub.mode" => mode = Some(v.into_owned()),
                "hub.verify_token" => token = Some(v.into_owned()),
                "hub.challenge" => challenge = Some(v.into_owned()),
                _ => {}
            }
        }
        let token_ok = token.is_some_and(|t| {
            use subtle::ConstantTimeEq;
            // Compare digests (equal length) in constant time, so neither the
            // token nor its length leaks through timing.
            let a = sha2_digest(t.as_bytes());
            let b = sha2_digest(self.config.verify_token.expose().as_bytes());
            bool::from(a.as_slice().ct_eq(b.as_slice()))
        });
        match (mode.as_deref(), token_ok, challenge) {
            (Some("subscribe"), true, Some(challenge)) => WebhookResponse::text(200, challenge),
            _ => WebhookResponse::text(403, "forbidden"),
        }
    }

    /// Checks the size and signature of a POST body, decodes it, and checks
    /// that every number it names is one the verifying secret speaks for
    /// ([`AppSecrets::covers`]): otherwise the whole webhook is refused
    /// with [`WhatsAppError::NumberNotAllowed`] (403).
    ///
    /// [`AppSecrets::covers`]: crate::AppSecrets::covers
    pub fn verify_and_decode(
        &self,
        signature: Option<&str>,
        body: &[u8],
        received_at: DateTime<Utc>,
    ) -> Result<Vec<Decoded>, WhatsAppError> {
        if body.len() > self.config.max_body_bytes {
            return Err(WhatsAppError::BodyTooLarge {
                size: body.len(),
                limit: self.config.max_body_bytes,
            });
        }
        let items = match self.config.secrets.single() {
            Some(secret) => {
                verify_signature(&secret, signature, body)?;
                decode_webhook(body, received_at)?
            }
            None => self.verify_per_number(signature, body, received_at)?,
        };
        if let Some(n) = self.first_not_covered(&items) {
            return Err(WhatsAppError::NumberNotAllowed(n.to_string()));
        }
        Ok(items)
    }

    /// The first number (in order) the items name that this webhook does
    /// not speak for. Items of one value name the same number: each is
    /// looked up once however many items name it.
    fn first_not_covered<'i>(&self, items: &'i [Decoded]) -> Option<&'i str> {
        let mut last = None;
        let mut first: Option<&str> = None;
        for n in items.iter().filter_map(named_number) {
            if last == Some(n) {
                continue;
            }
            last = Some(n);
            if first.is_none_or(|f| n < f) && !self.config.secrets.covers(n) {
                first = Some(n);
            }
        }
        first
    }

    /// Per-number secrets: the body must be read to know the numbers, but
    /// nothing is used before every number's secret has verified it.
    fn verify_per_number(
        &self,
        signature: Option<&str>,
        body: &[u8],
        received_at: DateTime<Utc>,
    ) -> Result<Vec<Decoded>, WhatsAppError> {
        if signature.is_none() {
            return Err(WhatsAppError::Signature(
                crate::error::SignatureProblem::Missing,
            ));
        }
        let items = decode_webhook(body, received_at)?;
        let numbers: Vec<Option<&str>> = match named_numbers(&items) {
            n if n.is_empty() => vec![None],
            n => n.into_iter().map(Some).collect(),
        };
        for n in numbers {
            let secret = self.config.secrets.app_secret(n).ok_or_else(|| {
                WhatsAppError::NumberNotAllowed(n.unwrap_or("(none)").to_string())
            })?;
            verify_signature(&secret, signature, body)?;
        }
        Ok(items)
    }

    /// Handles a POST: verifies and decodes it, stores every valid item
    /// (an account-level one for the account's numbers this webhook speaks
    /// for, once per tenant; for none: ignored), and keeps each item the
    /// inbox refuses as a dead letter
    /// ([`Inbox::record_dead_letter`]) with its typed reason. Answers once
    /// the valid items and the dead letters are committed; a failure of the
    /// store fails the whole webhook (503), so Meta delivers it again (both
    /// are idempotent).
    pub async fn receive(
        &self,
        inbox: &Inbox,
        signature: Option<&str>,
        body: &[u8],
        received_at: DateTime<Utc>,
    ) -> Result<IngestSummary, WhatsAppError> {
        let items = self.verify_and_decode(signature, body, received_at)?;
        let speaks_for = |pnid: &str| self.speaks_for(pnid, signature, body);
        Delivery::new(inbox, received_at)
            .binding(&speaks_for)
            .run(items)
            .await
    }

    /// Whether this verified webhook may speak for `phone_number_id`, a
    /// number of the account an account-level item names: the number is
    /// covered, and its own secret verifies the body (a default secret
    /// does not speak for a number with a secret of its own).
    fn speaks_for(&self, phone_number_id: &str, signature: Option<&str>, body: &[u8]) -> bool {
        let secrets = &self.config.secrets;
        if !secrets.covers(phone_number_id) {
            return false;
        }
        secrets.single().is_some()
            || secrets
                .app_secret(Some(phone_number_id))
                .is_some_and(|s| verify_signature(&s, signature, body).is_ok())
    }

    /// Handles one HTTP request of any method: GET is the handshake, POST a
    /// notification; anything else is 405.
    pub async fn handle(
        &self,
        inbox: &Inbox,
        method: &str,
        query: Option<&str>,
        headers: &http::HeaderMap,
        body: &[u8],
        received_at: DateTime<Utc>,
    ) -> WebhookResponse {
        match method {
            "GET" => self.handshake(query),
            "POST" => {
                let signature = headers
                    .get(crate::signature::SIGNATURE_HEADER)
                    .and_then(|v| v.to_str().ok());
                match self.receive(inbox, signature, body, received_at).await {
                    Ok(summary) => WebhookResponse::json(200, &summary),
                    Err(e) => {
                        tracing::warn!(error = %e, "webhook refused");
                        WebhookResponse::error(&e)
                    }
                }
            }
            _ => WebhookResponse::text(405, "method not allowed"),
        }
    }
}

/// The phone number ids a webhook's items name, each once.
fn named_numbers(items: &[Decoded]) -> BTreeSet<&str> {
    items.iter().filter_map(named_number).collect()
}

/// The phone number id an item names, if it names one.
fn named_number(item: &Decoded) -> Option<&str> {
    match item {
        Decoded::Message(m) => Some(m.message.phone_number_id.as_str()),
        Decoded::Status(s) => Some(s.phone_number_id.as_str()),
        Decoded::Preference(p) => Some(p.phone_number_id.as_str()),
        Decoded::Echo(m) | Decoded::Standby { message: m, .. } => {
            Some(m.message.phone_number_id.as_str())
        }
        Decoded::Handover { handover, .. } => Some(handover.phone_number_id.as_str()),
        Decoded::AppContact(a) => Some(a.phone_number_id.as_str()),
        Decoded::History { history, .. } => Some(history.phone_number_id.as_str()),
        Decoded::Error {
            phone_number_id, ..
        }
        | Decoded::Invalid {
            phone_number_id, ..
        } => phone_number_id.as_deref(),
        Decoded::Ignored { .. } | Decoded::Signal(_) => None,
    }
}

fn sha2_digest(bytes: &[u8]) -> hmac::digest::Output<sha2::Sha256> {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
}
