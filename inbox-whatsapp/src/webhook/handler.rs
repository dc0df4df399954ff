//! A framework-agnostic webhook endpoint: method, query, headers and raw
//! body in; status and body out.

use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use inbox_core::{InboundEvent, InboundStatus, Inbox, IngestOutcome};

use super::decode::{decode_webhook, Decoded};
use crate::error::WhatsAppError;
use crate::signature::verify_signature;
use crate::Secret;

/// Where app secrets come from. Meta signs each webhook with the secret of
/// the app the number is subscribed through; numbers may belong to
/// different apps.
pub trait AppSecrets: Send + Sync {
    /// The app secret for webhooks about `phone_number_id`; `None` asks for
    /// the default secret (for webhooks that name no number).
    fn app_secret(&self, phone_number_id: Option<&str>) -> Option<Secret>;

    /// If every number uses the same secret, that secret: the signature is
    /// then checked before the body is parsed at all.
    fn single(&self) -> Option<Secret> {
        None
    }
}

impl AppSecrets for Secret {
    fn app_secret(&self, _: Option<&str>) -> Option<Secret> {
        Some(self.clone())
    }

    fn single(&self) -> Option<Secret> {
        Some(self.clone())
    }
}

/// Per-number secrets; the entry under the key `""` is the default.
impl AppSecrets for HashMap<String, Secret> {
    fn app_secret(&self, phone_number_id: Option<&str>) -> Option<Secret> {
        self.get(phone_number_id.unwrap_or("")).cloned()
    }
}

/// Webhook endpoint configuration.
#[derive(Clone)]
pub struct WebhookConfig {
    /// The token configured in the Meta app dashboard for the GET handshake.
    pub verify_token: Secret,
    /// App secrets for signature verification.
    pub secrets: Arc<dyn AppSecrets>,
    /// Largest accepted body; larger ones are refused with 413.
    pub max_body_bytes: usize,
}

impl std::fmt::Debug for WebhookConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookConfig")
            .field("verify_token", &self.verify_token)
            .field("secrets", &"[redacted]")
            .field("max_body_bytes", &self.max_body_bytes)
            .finish()
    }
}

impl WebhookConfig {
    /// A configuration with one app secret for every number and a 1 MiB
    /// body limit.
    pub fn new(verify_token: impl Into<Secret>, app_secret: impl Into<Secret>) -> Self {
        Self {
            verify_token: verify_token.into(),
            secrets: Arc::new(app_secret.into()),
            max_body_bytes: 1024 * 1024,
        }
    }
}

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

/// What a POST did.
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
    /// Value-level errors reported by Meta.
    pub errors: u32,
    /// Other fields and unusable items, acknowledged and ignored.
    pub ignored: u32,
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

    /// Checks the size and signature of a POST body and decodes it.
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
        if let Some(secret) = self.config.secrets.single() {
            verify_signature(&secret, signature, body)?;
            return decode_webhook(body, received_at);
        }
        // Per-number secrets: the body must be read to know the number, but
        // nothing is used before every number's secret has verified it.
        if signature.is_none() {
            return Err(WhatsAppError::Signature(
                crate::error::SignatureProblem::Missing,
            ));
        }
        let items = decode_webhook(body, received_at)?;
        let numbers: BTreeSet<Option<&str>> = items
            .iter()
            .map(|d| match d {
                Decoded::Message(m) => Some(m.message.phone_number_id.as_str()),
                Decoded::Status(s) => Some(s.phone_number_id.as_str()),
                Decoded::Error {
                    phone_number_id, ..
                } => phone_number_id.as_deref(),
                _ => None,
            })
            .collect();
        let numbers = if numbers.iter().any(Option::is_some) {
            numbers.into_iter().flatten().map(Some).collect()
        } else {
            vec![None]
        };
        for n in numbers {
            let secret =
                self.config.secrets.app_secret(n).ok_or_else(|| {
                    WhatsAppError::UnknownChannel(n.unwrap_or("(none)").to_string())
                })?;
            verify_signature(&secret, signature, body)?;
        }
        Ok(items)
    }

    /// Handles a POST: verifies, decodes and ingests every event, and
    /// answers 200 only when all of them are stored (so Meta retries
    /// anything that was not).
    pub async fn receive(
        &self,
        inbox: &Inbox,
        signature: Option<&str>,
        body: &[u8],
        received_at: DateTime<Utc>,
    ) -> Result<IngestSummary, WhatsAppError> {
        let items = self.verify_and_decode(signature, body, received_at)?;
        let mut summary = IngestSummary::default();
        // Consecutive statuses go to the inbox together, in order
        // ([`Inbox::ingest_statuses`]): a message's sent, delivered and read
        // reports are then one lookup and one write.
        let mut statuses = Vec::new();
        for item in &items {
            match item {
                Decoded::Error { .. } => summary.errors += 1,
                Decoded::Ignored { .. } | Decoded::Invalid { .. } => summary.ignored += 1,
                Decoded::Status(s) if s.status.is_none() => summary.statuses_ignored += 1,
                _ => {}
            }
            match item.to_inbound() {
                None => {}
                Some(InboundEvent::Status(s)) => statuses.push(s),
                Some(event) => {
                    ingest_statuses(inbox, &mut statuses, &mut summary).await?;
                    count(&mut summary, inbox.ingest(event).await?);
                }
            }
        }
        ingest_statuses(inbox, &mut statuses, &mut summary).await?;
        Ok(summary)
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

/// Ingests the statuses gathered so far, together; the first failure is
/// returned (the others are applied: statuses are idempotent, so Meta's
/// redelivery of the whole webhook is harmless).
async fn ingest_statuses(
    inbox: &Inbox,
    statuses: &mut Vec<InboundStatus>,
    summary: &mut IngestSummary,
) -> Result<(), WhatsAppError> {
    if statuses.is_empty() {
        return Ok(());
    }
    for outcome in inbox.ingest_statuses(std::mem::take(statuses)).await {
        count(summary, outcome?);
    }
    Ok(())
}

fn count(summary: &mut IngestSummary, outcome: IngestOutcome) {
    match outcome {
        IngestOutcome::Stored { .. } => summary.stored += 1,
        IngestOutcome::Duplicate { .. } => summary.duplicates += 1,
        IngestOutcome::StatusApplied { .. } => summary.statuses += 1,
        _ => summary.statuses_ignored += 1,
    }
}

fn sha2_digest(bytes: &[u8]) -> hmac::digest::Output<sha2::Sha256> {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
}
