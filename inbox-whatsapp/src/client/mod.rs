//! The Graph API client: sends messages (implements the core's
//! [`Transport`]), marks messages read, handles media and lists templates.

mod body;
mod classify;

use async_trait::async_trait;
use bytes::Bytes;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use rand::Rng;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use inbox_core::model::TemplateDefinition;
use inbox_core::ports::{
    OutboundRequest, SendReceipt, ThreadControlRequest, Transport, TransportError,
};

pub use body::{mark_read_body, message_body, thread_control_body};
pub use classify::classify;

use crate::error::WhatsAppError;
use crate::Secret;

/// When and how often a failed call is tried again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all (1 = no retry).
    pub max_attempts: u32,
    /// First delay; doubled each attempt, with full jitter.
    pub base_delay: Duration,
    /// Longest delay.
    pub max_delay: Duration,
    /// Resend, within one call, a message or upload whose outcome is
    /// unknown: the answer timed out once the request was written, or the
    /// connection was lost before the answer. **Off by default, and risks
    /// duplicates**: Meta may have accepted the first request and the Cloud
    /// API has no idempotency key, so the customer can get the message
    /// twice. Off, such a send fails with [`TransportError::InDoubt`], which
    /// the core's dispatcher never resends: it marks the message in doubt
    /// and reconciles it from the status webhook carrying our id. On, a
    /// send that still fails after a doubtful attempt is in doubt too. A
    /// success answer without a message id is never resent, even when on.
    /// Calls that are harmless to repeat (marking read, media lookups and
    /// downloads, template lists) retry lost answers regardless.
    pub retry_timeouts: bool,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 4,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(20),
            retry_timeouts: false,
        }
    }
}

/// Graph API client configuration.
#[derive(Clone)]
pub struct GraphConfig {
    /// Base URL (tests point it at a local mock server).
    pub base_url: String,
    /// API version, e.g. `v23.0`.
    pub api_version: String,
    /// The access token used where no per-number token is set.
    pub access_token: Secret,
    /// Per phone number id tokens (numbers of different businesses).
    pub tokens: HashMap<String, Secret>,
    /// Timeout of one HTTP request, from connecting to the end of the
    /// answer.
    pub timeout: Duration,
    /// Timeout of opening a connection (TCP and TLS). A connection not made
    /// in time never carried the request, so it is retried like a refused
    /// one. Keep it shorter than `timeout`: a connection still opening when
    /// `timeout` expires cannot be told from a request without an answer,
    /// and a send is then in doubt.
    pub connect_timeout: Duration,
    /// Retries.
    pub retry: RetryPolicy,
    /// Messages per second per number (WhatsApp's default is 80; up to
    /// 1,000 when Meta raises it).
    pub messages_per_second: u32,
    /// Messages per second per number used in the WhatsApp Business app
    /// too ([`Channel::coexistence`](inbox_core::model::Channel::coexistence)):
    /// WhatsApp's fixed 20.
    pub coexistence_messages_per_second: u32,
}

impl std::fmt::Debug for GraphConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GraphConfig")
            .field("base_url", &self.base_url)
            .field("api_version", &self.api_version)
            .field("access_token", &self.access_token)
            .field(
                "tokens",
                &format!("{} per-number token(s), redacted", self.tokens.len()),
            )
            .field("timeout", &self.timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("retry", &self.retry)
            .field("messages_per_second", &self.messages_per_second)
            .field(
                "coexistence_messages_per_second",
                &self.coexistence_messages_per_second,
            )
            .finish()
    }
}

impl GraphConfig {
    /// The default Graph API version.
    pub const DEFAULT_VERSION: &'static str = "v23.0";

    /// Configuration for `graph.facebook.com` with one access token.
    ///
    /// ```
    /// let c = inbox_whatsapp::GraphConfig::new("EAAG...");
    /// assert_eq!(c.api_version, "v23.0");
    /// assert!(!format!("{c:?}").contains("EAAG"));
    /// ```
    pub fn new(access_token: impl Into<Secret>) -> Self {
        Self {
            base_url: "https://graph.facebook.com".into(),
            api_version: Self::DEFAULT_VERSION.into(),
            access_token: access_token.into(),
            tokens: HashMap::new(),
            timeout: Duration::from_secs(20),
            connect_timeout: Duration::from_secs(10),
            retry: RetryPolicy::default(),
            messages_per_second: 80,
            coexistence_messages_per_second: 20,
        }
    }

    /// Points the client at another base URL (builder style).
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = url.into();
        self
    }
}

/// Where a media file can be fetched.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct MediaInfo {
    /// Media id.
    pub id: String,
    /// Download URL (valid for five minutes, needs the access token).
    pub url: String,
    /// MIME type.
    pub mime_type: Option<String>,
    /// SHA-256 of the file.
    pub sha256: Option<String>,
    /// Size in bytes.
    #[serde(default, deserialize_with = "size")]
    pub file_size: Option<u64>,
}

fn size<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    Ok(match Option::<serde_json::Value>::deserialize(d)? {
        Some(serde_json::Value::Number(n)) => n.as_u64(),
        Some(serde_json::Value::String(s)) => s.parse().ok(),
        _ => None,
    })
}

/// A downloaded media file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaFile {
    /// What the lookup said about it.
    pub info: MediaInfo,
    /// The bytes.
    pub bytes: Bytes,
}

/// A message template of a WhatsApp Business Account.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct TemplateInfo {
    /// Template id.
    pub id: Option<String>,
    /// Name (what a template message names).
    pub name: String,
    /// Language code.
    pub language: String,
    /// `APPROVED`, `PENDING`, `REJECTED` ...
    pub status: String,
    /// `MARKETING`, `UTILITY`, `AUTHENTICATION`.
    pub category: Option<String>,
    /// Components (header, body, footer, buttons) as Meta describes them.
    #[serde(default)]
    pub components: serde_json::Value,
}

#[derive(Deserialize)]
struct SendResponse {
    #[serde(default)]
    messages: Vec<SentId>,
}

#[derive(Deserialize)]
struct SentId {
    id: String,
}

impl SendResponse {
    /// The message id of a success answer, if it has one.
    fn message_id(body: &[u8]) -> Option<String> {
        serde_json::from_slice::<SendResponse>(body)
            .ok()?
            .messages
            .into_iter()
            .map(|m| m.id)
            .find(|id| !id.is_empty())
    }
}

#[derive(Deserialize)]
struct TemplatePage {
    #[serde(default)]
    data: Vec<TemplateInfo>,
    paging: Option<Paging>,
}

#[derive(Deserialize)]
struct Paging {
    next: Option<String>,
    cursors: Option<Cursors>,
}

#[derive(Deserialize)]
struct Cursors {
    after: Option<String>,
}

/// A template list read page by page: the templates, and whether the last
/// page was reached within the bound.
struct TemplateList {
    templates: Vec<TemplateInfo>,
    complete: bool,
}

/// The WhatsApp Cloud API client.
///
/// ```no_run
/// # async fn demo() -> Result<(), inbox_whatsapp::WhatsAppError> {
/// use inbox_whatsapp::{GraphClient, GraphConfig};
/// let client = GraphClient::new(GraphConfig::new("EAAG..."))?;
/// let templates = client.approved_templates("102290129340398").await?;
/// # let _ = templates; Ok(()) }
/// ```
#[derive(Clone)]
pub struct GraphClient {
    http: reqwest::Client,
    config: Arc<GraphConfig>,
    limiter: Arc<DefaultKeyedRateLimiter<String>>,
    /// The limit of coexistence numbers.
    coexistence_limiter: Arc<DefaultKeyedRateLimiter<String>>,
    tokens: Option<Arc<dyn TokenSource>>,
}

/// Where the access token of a number not in [`GraphConfig::tokens`] comes
/// from (numbers added at run time, whose tokens are kept sealed in a
/// store): asked before each request for such a number; `None` falls back
/// to [`GraphConfig::access_token`].
#[async_trait::async_trait]
pub trait TokenSource: Send + Sync {
    /// The access token of a phone number id, if this source has one.
    async fn token(&self, phone_number_id: &str) -> Option<Secret>;
}

impl std::fmt::Debug for GraphClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GraphClient")
            .field("config", &self.config)
            .finish()
    }
}

/// What one attempt came to, when it is not a final error.
enum Attempt<T> {
    /// A success answer.
    Done(T),
    /// A failure worth another attempt, if any are left.
    Retry(TransportError),
}

/// Whether a request may be repeated when its outcome is unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Repeat {
    /// Repeating it changes nothing (marking read, lookups, downloads,
    /// lists): a lost answer is a transient failure, retried.
    Harmless,
    /// Repeating it may do it twice (sends, uploads): a lost answer is in
    /// doubt, retried only with [`RetryPolicy::retry_timeouts`].
    Risky,
}

impl GraphClient {
    /// A client with its own connection pool.
    pub fn new(config: GraphConfig) -> Result<Self, WhatsAppError> {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.connect_timeout)
            .build()
            .map_err(|e| WhatsAppError::Config(format!("HTTP client: {e}")))?;
        let rate = |name: &str, per_second: u32| {
            NonZeroU32::new(per_second)
                .map(|r| Arc::new(RateLimiter::keyed(Quota::per_second(r))))
                .ok_or_else(|| WhatsAppError::Config(format!("{name} must be at least 1")))
        };
        Ok(Self {
            http,
            limiter: rate("messages_per_second", config.messages_per_second)?,
            coexistence_limiter: rate(
                "coexistence_messages_per_second",
                config.coexistence_messages_per_second,
            )?,
            config: Arc::new(config),
            tokens: None,
        })
    }

    /// The client asking `source` for the tokens of numbers its
    /// configuration has none for.
    pub fn with_token_source(mut self, source: Arc<dyn TokenSource>) -> Self {
        self.tokens = Some(source);
        self
    }

    /// The configuration.
    pub fn config(&self) -> &GraphConfig {
        &self.config
    }

    fn url(&self, path: &str) -> String {
        format!(
            "{}/{}/{}",
            self.config.base_url.trim_end_matches('/'),
            self.config.api_version,
            path.trim_start_matches('/')
        )
    }

    /// The token for a number: its configured one, else the source's,
    /// else the default.
    async fn token(&self, phone_number_id: Option<&str>) -> Secret {
        if let Some(t) = phone_number_id.and_then(|p| self.config.tokens.get(p)) {
            return t.clone();
        }
        if let (Some(p), Some(source)) = (phone_number_id, &self.tokens) {
            if let Some(t) = source.token(p).await {
                return t;
            }
        }
        self.config.access_token.clone()
    }

    fn delay(&self, attempt: u32, error: &TransportError) -> Duration {
        if let TransportError::RateLimited {
            retry_after: Some(d),
            ..
        } = error
        {
            return *d;
        }
        let p = self.config.retry;
        let cap = p
            .base_delay
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(16))
            .min(p.max_delay);
        // Full jitter: a random delay up to the cap.
        let ms = cap.as_millis() as u64;
        Duration::from_millis(if ms == 0 {
            0
        } else {
            rand::rng().random_range(0..=ms)
        })
    }

    /// Whether to wait for another attempt within this call: not when Meta
    /// asked for a longer pause than `max_delay` (the dispatcher waits it
    /// out instead of this call retrying too early).
    fn may_wait(&self, error: &TransportError) -> bool {
        !matches!(error, TransportError::RateLimited { retry_after: Some(d), .. }
            if *d > self.config.retry.max_delay)
    }

    /// Runs `call` with retries for retryable failures. Once an attempt was
    /// in doubt, a call that does not succeed is in doubt: that attempt may
    /// have been accepted.
    async fn with_retries<T, F, Fut>(&self, what: &str, mut call: F) -> Result<T, TransportError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<Attempt<T>, TransportError>>,
    {
        let max = self.config.retry.max_attempts.max(1);
        let mut doubt: Option<String> = None;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let error = match call().await {
                Ok(Attempt::Done(v)) => return Ok(v),
                Ok(Attempt::Retry(e)) if attempt < max && self.may_wait(&e) => e,
                Ok(Attempt::Retry(e)) | Err(e) => return Err(give_up(e, attempt, doubt)),
            };
            if let TransportError::InDoubt { message, .. } = &error {
                doubt = Some(message.clone());
            }
            let wait = self.delay(attempt, &error);
            tracing::info!(%what, attempt, %error, ?wait, "Graph API call failed, retrying");
            tokio::time::sleep(wait).await;
        }
    }

    /// One request; classifies the outcome into done, retry or final error.
    async fn attempt(
        &self,
        request: reqwest::RequestBuilder,
        repeat: Repeat,
    ) -> Result<Attempt<Bytes>, TransportError> {
        let resp = match request.send().await {
            Ok(resp) => resp,
            Err(e) => return self.send_failed(&e, repeat),
        };
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| classify::parse_retry_after(v, std::time::SystemTime::now().into()));
        let success = (200..300).contains(&status);
        let body = match resp.bytes().await {
            Ok(body) => body,
            Err(e) if success => {
                let message = format!(
                    "HTTP {status}, but reading the answer failed: {}",
                    redact(&e)
                );
                return self.outcome_unknown(message, repeat);
            }
            // A refusal whose body was lost: its status still says refused.
            Err(_) => Bytes::new(),
        };
        if success {
            return Ok(Attempt::Done(body));
        }
        let e = classify(status, &body, retry_after);
        if e.is_retryable() {
            Ok(Attempt::Retry(e))
        } else {
            Err(e)
        }
    }

    /// A request that got no answer. Only a failure to connect (refused,
    /// unreachable, connect timeout, TLS) proves the request was never
    /// written; anything later (a timeout, a connection reset or closed
    /// while waiting) may have reached Meta.
    fn send_failed(
        &self,
        e: &reqwest::Error,
        repeat: Repeat,
    ) -> Result<Attempt<Bytes>, TransportError> {
        let message = redact(e);
        if e.is_connect() {
            return Ok(Attempt::Retry(TransportError::Transient {
                code: None,
                message,
            }));
        }
        if e.is_builder() {
            return Err(TransportError::Rejected {
                code: None,
                message,
            });
        }
        self.outcome_unknown(message, repeat)
    }

    /// A request that may have reached Meta without us learning the outcome.
    fn outcome_unknown(
        &self,
        message: String,
        repeat: Repeat,
    ) -> Result<Attempt<Bytes>, TransportError> {
        if repeat == Repeat::Harmless {
            return Ok(Attempt::Retry(TransportError::Transient {
                code: None,
                message,
            }));
        }
        let e = TransportError::InDoubt {
            code: None,
            message,
        };
        if self.config.retry.retry_timeouts {
            Ok(Attempt::Retry(e))
        } else {
            Err(e)
        }
    }

    /// Sends a message; returns the provider's message id.
    ///
    /// A refused connection and Meta's retryable refusals are retried here
    /// (see [`RetryPolicy`]); a send whose outcome is unknown — the answer
    /// timed out or the connection was lost after the request was written,
    /// or Meta answered with success but no message id — fails with
    /// [`TransportError::InDoubt`] and is not sent again unless
    /// [`RetryPolicy::retry_timeouts`] says so.
    pub async fn send_message(
        &self,
        request: &OutboundRequest,
    ) -> Result<SendReceipt, TransportError> {
        let body = message_body(request)?;
        let pnid = request.channel.phone_number_id.clone();
        let url = self.url(&format!("{pnid}/messages"));
        let token = self.token(Some(&pnid)).await;
        let bytes = self
            .with_retries("send message", || {
                let req = self.http.post(&url).bearer_auth(token.expose()).json(&body);
                let limiter = match request.channel.coexistence {
                    true => self.coexistence_limiter.clone(),
                    false => self.limiter.clone(),
                };
                let key = pnid.clone();
                async move {
                    limiter.until_key_ready(&key).await;
                    self.attempt(req, Repeat::Risky).await
                }
            })
            .await?;
        let external_id =
            SendResponse::message_id(&bytes).ok_or_else(|| TransportError::InDoubt {
                code: None,
                message: "Meta answered with success but without a message id: it may have \
                          accepted the message"
                    .into(),
            })?;
        Ok(SendReceipt { external_id })
    }

    /// Takes, passes or releases control of a customer's thread
    /// (`POST /{phone_number_id}/thread_control`, WhatsApp's Conversation
    /// Routing). Refusals Meta marks retryable and refused connections are
    /// retried; an answer that never came is not (the call may have taken
    /// effect): [`TransportError::InDoubt`]. A take the number may not make
    /// fails with code 2494191.
    pub async fn thread_control(
        &self,
        request: &ThreadControlRequest,
    ) -> Result<(), TransportError> {
        let body = thread_control_body(request)?;
        let pnid = request.channel.phone_number_id.clone();
        let url = self.url(&format!("{pnid}/thread_control"));
        let token = self.token(Some(&pnid)).await;
        self.with_retries("thread control", || {
            let req = self.http.post(&url).bearer_auth(token.expose()).json(&body);
            async move { self.attempt(req, Repeat::Risky).await }
        })
        .await
        .map(|_| ())
    }

    /// GETs `url` with the token of `phone_number_id` (the default token
    /// without one), retried as any read is: repeating it is harmless.
    async fn get(
        &self,
        what: &str,
        url: &str,
        phone_number_id: Option<&str>,
    ) -> Result<Bytes, TransportError> {
        let token = self.token(phone_number_id).await;
        self.with_retries(what, || {
            let req = self.http.get(url).bearer_auth(token.expose());
            async move { self.attempt(req, Repeat::Harmless).await }
        })
        .await
    }

    /// Marks a customer message as read, optionally showing the typing
    /// indicator (dismissed when a reply is sent or after 25 seconds).
    pub async fn mark_read(
        &self,
        phone_number_id: &str,
        message_id: &str,
        typing_indicator: bool,
    ) -> Result<(), TransportError> {
        let url = self.url(&format!("{phone_number_id}/messages"));
        let body = mark_read_body(message_id, typing_indicator);
        let token = self.token(Some(phone_number_id)).await;
        self.with_retries("mark read", || {
            let req = self.http.post(&url).bearer_auth(token.expose()).json(&body);
            async move { self.attempt(req, Repeat::Harmless).await }
        })
        .await
        .map(|_| ())
    }

    /// Looks up a media id: its download URL (valid five minutes), type,
    /// hash and size.
    pub async fn media_info(
        &self,
        phone_number_id: Option<&str>,
        media_id: &str,
    ) -> Result<MediaInfo, WhatsAppError> {
        let url = self.url(media_id);
        let bytes = self.get("media lookup", &url, phone_number_id).await?;
        serde_json::from_slice(&bytes)
            .map_err(|e| WhatsAppError::UnexpectedResponse(format!("media lookup: {e}")))
    }

    /// Downloads a media file: looks it up, then fetches its URL with the
    /// access token.
    pub async fn download_media(
        &self,
        phone_number_id: Option<&str>,
        media_id: &str,
    ) -> Result<MediaFile, WhatsAppError> {
        let info = self.media_info(phone_number_id, media_id).await?;
        self.download_media_at(phone_number_id, info).await
    }

    /// Downloads a media file already looked up ([`GraphClient::media_info`]:
    /// check its size and type first), from its URL with the access token
    /// of `phone_number_id`.
    pub async fn download_media_at(
        &self,
        phone_number_id: Option<&str>,
        info: MediaInfo,
    ) -> Result<MediaFile, WhatsAppError> {
        let bytes = self
            .get("media download", &info.url, phone_number_id)
            .await?;
        Ok(MediaFile { info, bytes })
    }

    /// Uploads a media file for sending; returns its media id.
    pub async fn upload_media(
        &self,
        phone_number_id: &str,
        bytes: Bytes,
        mime_type: &str,
        filename: &str,
    ) -> Result<String, WhatsAppError> {
        let url = self.url(&format!("{phone_number_id}/media"));
        let token = self.token(Some(phone_number_id)).await;
        let token = &token;
        let result = self
            .with_retries("media upload", || {
                let part = reqwest::multipart::Part::bytes(bytes.to_vec())
                    .file_name(filename.to_string())
                    .mime_str(mime_type);
                let http = &self.http;
                let url = &url;
                async move {
                    let part = part.map_err(|e| TransportError::Rejected {
                        code: None,
                        message: format!("invalid MIME type {mime_type:?}: {e}"),
                    })?;
                    let form = reqwest::multipart::Form::new()
                        .text("messaging_product", "whatsapp")
                        .text("type", mime_type.to_string())
                        .part("file", part);
                    let req = http.post(url).bearer_auth(token.expose()).multipart(form);
                    self.attempt(req, Repeat::Risky).await
                }
            })
            .await?;
        #[derive(Deserialize)]
        struct Uploaded {
            id: String,
        }
        serde_json::from_slice::<Uploaded>(&result)
            .map(|u| u.id)
            .map_err(|e| WhatsAppError::UnexpectedResponse(format!("media upload: {e}")))
    }

    /// The approved message templates of a WhatsApp Business Account (all
    /// pages), for agents to pick from when the customer window is closed.
    pub async fn approved_templates(
        &self,
        waba_id: &str,
    ) -> Result<Vec<TemplateInfo>, WhatsAppError> {
        let list = self
            .template_list(waba_id, "status=APPROVED&limit=100", 100, None)
            .await?;
        Ok(list
            .templates
            .into_iter()
            .filter(|t| t.status.eq_ignore_ascii_case("APPROVED"))
            .collect())
    }

    /// Every message template of a WhatsApp Business Account, whatever its
    /// status, as the tenant settings keep them: name, language, category,
    /// status, components, and the parameters each component takes (see
    /// [`TemplateInfo::definition`]). Reads
    /// `GET /{version}/{waba_id}/message_templates` page by page, at most
    /// [`GraphClient::TEMPLATE_PAGES`] pages of 100; a list longer than
    /// that is an [`WhatsAppError::UnexpectedResponse`], never a partial
    /// list (a sync would take the missing templates for removed ones).
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), inbox_whatsapp::WhatsAppError> {
    /// use inbox_whatsapp::{GraphClient, GraphConfig};
    /// let client = GraphClient::new(GraphConfig::new("EAAG..."))?;
    /// for t in client.templates("102290129340398").await? {
    ///     println!("{}@{}: {:?}", t.name, t.language, t.status);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn templates(&self, waba_id: &str) -> Result<Vec<TemplateDefinition>, WhatsAppError> {
        self.templates_via(waba_id, None).await
    }

    /// [`GraphClient::templates`] asked with the access token of the phone
    /// number `via` (its configured one, else its [`TokenSource`]'s, else
    /// the default): for accounts whose numbers were added at run time.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), inbox_whatsapp::WhatsAppError> {
    /// use inbox_whatsapp::{GraphClient, GraphConfig};
    /// let client = GraphClient::new(GraphConfig::new("EAAG..."))?;
    /// let list = client.templates_via("102290129340398", Some("106540352242922")).await?;
    /// # let _ = list; Ok(()) }
    /// ```
    pub async fn templates_via(
        &self,
        waba_id: &str,
        via: Option<&str>,
    ) -> Result<Vec<TemplateDefinition>, WhatsAppError> {
        let list = self
            .template_list(
                waba_id,
                "fields=name,language,category,status,components&limit=100",
                Self::TEMPLATE_PAGES,
                via,
            )
            .await?;
        if !list.complete {
            return Err(WhatsAppError::UnexpectedResponse(format!(
                "templates: more than {} pages",
                Self::TEMPLATE_PAGES
            )));
        }
        Ok(list
            .templates
            .iter()
            .map(TemplateInfo::definition)
            .collect())
    }

    /// The most pages [`GraphClient::templates`] reads.
    pub const TEMPLATE_PAGES: usize = 50;

    /// The templates of `waba_id` asked for with `query`, following the
    /// pages for at most `max_pages` pages.
    async fn template_list(
        &self,
        waba_id: &str,
        query: &str,
        max_pages: usize,
        via: Option<&str>,
    ) -> Result<TemplateList, WhatsAppError> {
        let first = self.url(&format!("{waba_id}/message_templates"));
        let mut url = format!("{first}?{query}");
        let mut templates = Vec::new();
        for _ in 0..max_pages {
            let bytes = self.get("list templates", &url, via).await?;
            let page: TemplatePage = serde_json::from_slice(&bytes)
                .map_err(|e| WhatsAppError::UnexpectedResponse(format!("templates: {e}")))?;
            templates.extend(page.data);
            match page.paging.and_then(|p| self.next_page(&first, query, p)) {
                Some(next) => url = next?,
                None => {
                    return Ok(TemplateList {
                        templates,
                        complete: true,
                    })
                }
            }
        }
        Ok(TemplateList {
            templates,
            complete: false,
        })
    }

    /// The URL of the page after one whose paging is `paging`, `None` on
    /// the last page (no `next` link, as Meta ends a list). The `next` link
    /// is followed when it is on the configured Graph API; one elsewhere is
    /// not sent our token: the page after the `after` cursor is asked of
    /// the configured API instead, and without a cursor that is an error.
    fn next_page(
        &self,
        first: &str,
        query: &str,
        paging: Paging,
    ) -> Option<Result<String, WhatsAppError>> {
        let next = paging.next?;
        let base = format!("{}/", self.config.base_url.trim_end_matches('/'));
        if next.starts_with(&base) {
            return Some(Ok(next));
        }
        Some(
            match paging
                .cursors
                .and_then(|c| c.after)
                .filter(|a| !a.is_empty())
            {
                Some(after) => {
                    let after: String =
                        url::form_urlencoded::byte_serialize(after.as_bytes()).collect();
                    Ok(format!("{first}?{query}&after={after}"))
                }
                None => Err(WhatsAppError::UnexpectedResponse(
                    "templates: the next page is not on the configured Graph API and has no cursor"
                        .into(),
                )),
            },
        )
    }
}

/// The error a call gives up with after `attempts` attempts: in doubt if an
/// earlier attempt was (that one may have been accepted), and saying how
/// many attempts were made.
fn give_up(last: TransportError, attempts: u32, doubt: Option<String>) -> TransportError {
    let mut last = match (doubt, &last) {
        (Some(earlier), e) if !matches!(e, TransportError::InDoubt { .. }) => {
            TransportError::InDoubt {
                code: None,
                message: format!("an earlier attempt may have been accepted ({earlier}); then {e}"),
            }
        }
        _ => last,
    };
    if attempts < 2 {
        return last;
    }
    if let TransportError::Transient { message, .. }
    | TransportError::InDoubt { message, .. }
    | TransportError::Rejected { message, .. }
    | TransportError::Unauthorized { message, .. } = &mut last
    {
        *message = format!("{message} (after {attempts} attempts)");
    }
    last
}

/// A reqwest error as text with its causes, without the URL (which could
/// carry a token in a query string, as Meta's paging links do).
fn redact(e: &reqwest::Error) -> String {
    let kind = match (e.is_connect(), e.is_timeout()) {
        (true, true) => "connecting timed out",
        (true, false) => "could not connect",
        (false, true) => "timed out",
        _ if e.is_body() || e.is_decode() => "bad response body",
        _ if e.is_request() => "the connection failed before an answer",
        _ => "HTTP error",
    };
    let url = e.url().map(|u| u.as_str().to_owned());
    let mut text = format!("{kind}: {e}");
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        text = format!("{text}: {cause}");
        source = cause.source();
    }
    match url {
        Some(url) => text.replace(&url, "<url>"),
        None => text,
    }
}

#[async_trait]
impl Transport for GraphClient {
    async fn send(&self, request: &OutboundRequest) -> Result<SendReceipt, TransportError> {
        self.send_message(request).await
    }

    async fn thread_control(&self, request: &ThreadControlRequest) -> Result<(), TransportError> {
        GraphClient::thread_control(self, request).await
    }
}
