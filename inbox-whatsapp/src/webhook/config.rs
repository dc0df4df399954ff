//! Webhook configuration: the verify token, and the app secrets with the
//! phone numbers each one may speak for.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use crate::Secret;

/// Where app secrets come from, and which numbers each may speak for.
///
/// Meta signs each webhook with the secret of the app the number is
/// subscribed through. A webhook is accepted only when its signature
/// verifies and every phone number id it names is
/// [covered](AppSecrets::covers): a body about another tenant's number,
/// signed with this endpoint's secret, is refused (403) and nothing of it
/// is stored.
pub trait AppSecrets: Send + Sync {
    /// The app secret for webhooks about `phone_number_id`; `None` asks for
    /// the default secret (for webhooks that name no number). `None` back:
    /// the number is not configured.
    fn app_secret(&self, phone_number_id: Option<&str>) -> Option<Secret>;

    /// If one secret verifies every webhook of this endpoint, that secret:
    /// the signature is then checked before the body is parsed at all.
    fn single(&self) -> Option<Secret> {
        None
    }

    /// Whether a webhook verified here may speak for `phone_number_id`. By
    /// default: when a secret is configured for the number.
    fn covers(&self, phone_number_id: &str) -> bool {
        self.app_secret(Some(phone_number_id)).is_some()
    }
}

/// One secret for every number an app's webhooks name: for a deployment
/// whose app serves only its own numbers. Where numbers belong to different
/// tenants, bind each secret to its numbers ([`BoundSecret`]).
impl AppSecrets for Secret {
    fn app_secret(&self, _: Option<&str>) -> Option<Secret> {
        Some(self.clone())
    }

    fn single(&self) -> Option<Secret> {
        Some(self.clone())
    }

    fn covers(&self, _: &str) -> bool {
        true
    }
}

/// Per-number secrets; the entry under the key `""` is the default. Each
/// secret speaks for the number it is filed under.
impl AppSecrets for HashMap<String, Secret> {
    fn app_secret(&self, phone_number_id: Option<&str>) -> Option<Secret> {
        self.get(phone_number_id.unwrap_or("")).cloned()
    }

    fn covers(&self, phone_number_id: &str) -> bool {
        !phone_number_id.is_empty() && self.contains_key(phone_number_id)
    }
}

/// An app secret bound to the phone numbers it may speak for: a webhook
/// signed with it that names any other number is refused.
///
/// ```
/// use inbox_whatsapp::{AppSecrets, BoundSecret, Secret};
/// let main = BoundSecret::new(Secret::new("main-app-secret"), ["106"]);
/// assert!(main.covers("106"));
/// assert!(!main.covers("107"));
/// ```
#[derive(Clone, Debug)]
pub struct BoundSecret {
    secret: Secret,
    numbers: BTreeSet<String>,
}

impl BoundSecret {
    /// `secret`, speaking for `numbers` only.
    pub fn new(secret: Secret, numbers: impl IntoIterator<Item = impl Into<String>>) -> Self {
        Self {
            secret,
            numbers: numbers.into_iter().map(Into::into).collect(),
        }
    }
}

impl AppSecrets for BoundSecret {
    fn app_secret(&self, phone_number_id: Option<&str>) -> Option<Secret> {
        match phone_number_id {
            Some(n) if !self.numbers.contains(n) => None,
            _ => Some(self.secret.clone()),
        }
    }

    fn single(&self) -> Option<Secret> {
        Some(self.secret.clone())
    }

    fn covers(&self, phone_number_id: &str) -> bool {
        self.numbers.contains(phone_number_id)
    }
}

/// Webhook endpoint configuration.
#[derive(Clone)]
pub struct WebhookConfig {
    /// The token configured in the Meta app dashboard for the GET handshake.
    pub verify_token: Secret,
    /// App secrets for signature verification, and the numbers each one
    /// speaks for.
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
    /// A configuration with one app secret for every number its webhooks
    /// name, and a 1 MiB body limit. Where numbers belong to different
    /// tenants, use [`WebhookConfig::for_numbers`].
    pub fn new(verify_token: impl Into<Secret>, app_secret: impl Into<Secret>) -> Self {
        Self {
            verify_token: verify_token.into(),
            secrets: Arc::new(app_secret.into()),
            max_body_bytes: 1024 * 1024,
        }
    }

    /// A configuration whose app secret speaks only for `numbers` (phone
    /// number ids), with a 1 MiB body limit: a webhook naming another number
    /// is refused with 403 and nothing of it is stored.
    ///
    /// ```
    /// use chrono::Utc;
    /// use inbox_whatsapp::{sign, Secret, Webhook, WebhookConfig, WhatsAppError};
    /// let hook = Webhook::new(WebhookConfig::for_numbers("verify", "main-secret", ["106"]));
    /// let other = br#"{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[
    ///   {"field":"messages","value":{"metadata":{"phone_number_id":"107"},
    ///    "statuses":[{"id":"wamid.9","status":"read","timestamp":"1750000000"}]}}]}]}"#;
    /// let signature = sign(&Secret::new("main-secret"), other);
    /// let refused = hook.verify_and_decode(Some(&signature), other, Utc::now()).unwrap_err();
    /// assert!(matches!(refused, WhatsAppError::NumberNotAllowed(ref n) if n == "107"));
    /// assert_eq!(refused.http_status(), 403);
    /// ```
    pub fn for_numbers(
        verify_token: impl Into<Secret>,
        app_secret: impl Into<Secret>,
        numbers: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        Self {
            verify_token: verify_token.into(),
            secrets: Arc::new(BoundSecret::new(app_secret.into(), numbers)),
            max_body_bytes: 1024 * 1024,
        }
    }
}
