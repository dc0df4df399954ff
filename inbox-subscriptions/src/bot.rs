//! The HTTP bot adapter: answers a tenant's `http` bots (see
//! [`HttpBotSpec`]) by posting each turn to the embedder's endpoint,
//! signed like the subscriptions' deliveries.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use inbox_core::ports::{Bot, BotAnswer, BotError, BotTurn, Clock};
use inbox_core::settings::{BotSpec, HttpBotSpec};
use inbox_core::{AgentId, Inbox, Secret, TenantId};

use crate::error::SubscriptionError;
use crate::signature::{sign, SIGNATURE_HEADER};

/// The largest answer read from a bot's endpoint, in bytes (256 KiB); a
/// longer one is a [`BotError::BadAnswer`].
pub const MAX_BOT_ANSWER_BYTES: usize = 256 * 1024;

/// The least time a request to a bot is given, even when the turn's
/// deadline is nearer (or past).
pub const MIN_BOT_TIMEOUT: Duration = Duration::from_millis(100);

/// Longest text of a [`BotError`] the adapter builds, in characters.
const MAX_ERROR_CHARS: usize = 200;

/// Where [`HttpBot`] finds a bot's settings.
#[async_trait]
pub trait BotDirectory: Send + Sync {
    /// The settings of `tenant`'s bot `bot` (`None`: the tenant has no such
    /// bot).
    async fn bot_spec(
        &self,
        tenant: &TenantId,
        bot: &AgentId,
    ) -> Result<Option<BotSpec>, inbox_core::Error>;
}

/// The inbox knows the bots of the settings each tenant runs.
#[async_trait]
impl BotDirectory for Inbox {
    async fn bot_spec(
        &self,
        tenant: &TenantId,
        bot: &AgentId,
    ) -> Result<Option<BotSpec>, inbox_core::Error> {
        let policy = self.policy(tenant).await?;
        Ok(policy.document.bots.list.get(bot.as_str()).cloned())
    }
}

/// Where [`HttpBot`] finds the secret a bot's requests are signed with
/// (the [`HttpBotSpec::secret`] name of the tenant's settings).
///
/// [`StaticBotSecrets`] holds them in memory, filled by the embedder; an
/// implementation over the store's sealed secrets is future work.
#[async_trait]
pub trait BotSecrets: Send + Sync {
    /// The secret `name` of `tenant` (`None`: it has none by that name).
    async fn secret(&self, tenant: &TenantId, name: &str) -> Option<Secret>;
}

/// Bot secrets given by the embedder (from its configuration or vault).
/// Its `Debug` shows the names, never the values.
///
/// ```
/// use inbox_core::{Secret, TenantId};
/// use inbox_subscriptions::StaticBotSecrets;
/// let acme = TenantId::new("acme").unwrap();
/// let secrets = StaticBotSecrets::new().with(acme, "ai", Secret::new("botsec_123"));
/// assert!(!format!("{secrets:?}").contains("botsec_123"));
/// ```
#[derive(Clone, Default)]
pub struct StaticBotSecrets {
    secrets: BTreeMap<(TenantId, String), Secret>,
}

impl StaticBotSecrets {
    /// No secrets.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) `tenant`'s secret `name`.
    pub fn insert(&mut self, tenant: TenantId, name: impl Into<String>, secret: Secret) {
        self.secrets.insert((tenant, name.into()), secret);
    }

    /// These secrets and `tenant`'s secret `name`.
    pub fn with(mut self, tenant: TenantId, name: impl Into<String>, secret: Secret) -> Self {
        self.insert(tenant, name, secret);
        self
    }
}

impl std::fmt::Debug for StaticBotSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names = self.secrets.keys().map(|(t, n)| format!("{t}/{n}"));
        f.debug_struct("StaticBotSecrets")
            .field("names", &names.collect::<Vec<_>>())
            .finish()
    }
}

#[async_trait]
impl BotSecrets for StaticBotSecrets {
    async fn secret(&self, tenant: &TenantId, name: &str) -> Option<Secret> {
        self.secrets
            .get(&(tenant.clone(), name.to_string()))
            .cloned()
    }
}

/// The [`Bot`] port over HTTP: each turn of a tenant's `http` bot is
/// posted to the bot's `url`.
///
/// The request is `POST {url}` with the [`BotTurn`] as its JSON body and
/// the headers `Content-Type: application/json`, `X-Inbox-Signature`
/// (see [`sign`], keyed with the bot's secret, over the exact body),
/// `Idempotency-Key` (the turn's [`key`](BotTurn::key): the same turn may
/// be posted again after a crash) and `User-Agent: inbox-bot/<version>`.
/// It may take until the turn's deadline (at least [`MIN_BOT_TIMEOUT`]);
/// it is not retried here (the core asks again or hands over, as the
/// tenant's settings say). Redirects are not followed.
///
/// A 2xx answer whose body is a [`BotAnswer`] (`{"actions": [...]}`, at
/// most [`MAX_BOT_ANSWER_BYTES`]) is the bot's answer; any other body is a
/// [`BotError::BadAnswer`]. Any other status, a refused connection, a
/// bot missing from the settings (or not an `http` bot), an address that
/// is neither `https://` nor on this machine, or a secret missing from
/// the [`BotSecrets`] is [`BotError::Unavailable`]; no answer by the
/// deadline is [`BotError::Timeout`]. Errors never carry the secret, the
/// address or more than a few words of the answer.
///
/// ```no_run
/// # async fn demo(inbox: inbox_core::Inbox) -> Result<(), inbox_subscriptions::SubscriptionError> {
/// use std::sync::Arc;
/// use inbox_core::{Secret, TenantId};
/// use inbox_subscriptions::{HttpBot, StaticBotSecrets};
/// let secrets = StaticBotSecrets::new().with(
///     TenantId::new("acme")?,
///     "ai", // the `secret` of the tenant's `bots.list.<id>` settings
///     Secret::new("botsec_..."),
/// );
/// inbox.set_bot(Arc::new(HttpBot::new(&inbox, Arc::new(secrets))?));
/// // After ingesting messages: the bots take their turns.
/// inbox.run_bots(50).await?;
/// # Ok(()) }
/// ```
pub struct HttpBot {
    directory: Arc<dyn BotDirectory>,
    secrets: Arc<dyn BotSecrets>,
    clock: Arc<dyn Clock>,
    client: reqwest::Client,
}

impl std::fmt::Debug for HttpBot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpBot").finish_non_exhaustive()
    }
}

impl HttpBot {
    /// The adapter for `inbox`'s tenants: it reads their bots from the
    /// settings they run and keeps time on the inbox's clock. It holds a
    /// handle on `inbox`, so once set with [`Inbox::set_bot`] both live as
    /// long as each other (usually the process).
    ///
    /// # Errors
    ///
    /// [`SubscriptionError::Client`] when the HTTP client cannot be built.
    pub fn new(inbox: &Inbox, secrets: Arc<dyn BotSecrets>) -> Result<Self, SubscriptionError> {
        Self::with_directory(Arc::new(inbox.clone()), secrets, inbox.clock())
    }

    /// The adapter reading bots from `directory`, with `clock` for the
    /// deadlines and signatures (the inbox's clock: turns' deadlines are
    /// on it).
    ///
    /// # Errors
    ///
    /// [`SubscriptionError::Client`] when the HTTP client cannot be built.
    pub fn with_directory(
        directory: Arc<dyn BotDirectory>,
        secrets: Arc<dyn BotSecrets>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, SubscriptionError> {
        let client = reqwest::Client::builder()
            .user_agent(concat!("inbox-bot/", env!("CARGO_PKG_VERSION")))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| SubscriptionError::Client(e.to_string()))?;
        Ok(Self {
            directory,
            secrets,
            clock,
            client,
        })
    }

    /// The turn's bot's settings, if it is an `http` bot.
    async fn spec(&self, turn: &BotTurn) -> Result<HttpBotSpec, BotError> {
        let found = self.directory.bot_spec(&turn.tenant, &turn.bot).await;
        let bot = turn.bot.as_str();
        match found {
            Ok(Some(BotSpec::Http(spec))) => Ok(spec),
            Ok(Some(_)) => Err(unavailable(format!("bot {bot:?} is not an http bot"))),
            Ok(None) => Err(unavailable(format!(
                "bot {bot:?} is not in the tenant's bots settings"
            ))),
            Err(e) => Err(unavailable(format!("the bots settings: {e}"))),
        }
    }

    /// The secret the turn is signed with.
    async fn secret(&self, turn: &BotTurn, spec: &HttpBotSpec) -> Result<Secret, BotError> {
        let found = self.secrets.secret(&turn.tenant, &spec.secret).await;
        found.ok_or_else(|| {
            unavailable(format!(
                "no secret {:?} for bot {:?}",
                spec.secret,
                turn.bot.as_str()
            ))
        })
    }

    /// Posts the turn; the response, if a 2xx one.
    async fn post(
        &self,
        url: reqwest::Url,
        turn: &BotTurn,
        secret: &Secret,
    ) -> Result<reqwest::Response, BotError> {
        let body =
            serde_json::to_vec(turn).map_err(|e| unavailable(format!("the turn as JSON: {e}")))?;
        let now = self.clock.now();
        let sent = self
            .client
            .post(url)
            .timeout(time_left(turn.deadline, now))
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(SIGNATURE_HEADER, sign(secret, now, &body))
            .header("idempotency-key", turn.key.as_str())
            .body(body)
            .send()
            .await
            .map_err(request_error)?;
        let status = sent.status();
        if !status.is_success() {
            return Err(unavailable(format!("HTTP {}", status.as_u16())));
        }
        Ok(sent)
    }
}

#[async_trait]
impl Bot for HttpBot {
    async fn turn(&self, turn: &BotTurn) -> Result<BotAnswer, BotError> {
        let spec = self.spec(turn).await?;
        let url = endpoint(&spec.url)?;
        let secret = self.secret(turn, &spec).await?;
        let response = self.post(url, turn, &secret).await?;
        let body = read_capped(response, MAX_BOT_ANSWER_BYTES).await?;
        serde_json::from_slice(&body).map_err(|e| bad_answer(e, &secret))
    }
}

/// The [`BotError::BadAnswer`] for an answer that did not parse: serde's
/// words (which may quote the answer), short, never with the secret.
fn bad_answer(e: serde_json::Error, secret: &Secret) -> BotError {
    let mut why = e.to_string();
    if !secret.expose().is_empty() {
        why = why.replace(secret.expose(), "[redacted]");
    }
    BotError::BadAnswer(capped(format!("not a bot answer: {why}")))
}

/// How long the request may take: until the deadline, at least
/// [`MIN_BOT_TIMEOUT`].
fn time_left(deadline: DateTime<Utc>, now: DateTime<Utc>) -> Duration {
    (deadline - now)
        .to_std()
        .unwrap_or(Duration::ZERO)
        .max(MIN_BOT_TIMEOUT)
}

/// The bot's address, if turns may be posted to it: `https://`, or
/// `http://` to this machine (settings are checked when stored; this
/// checks the host itself, which a prefix cannot).
fn endpoint(url: &str) -> Result<reqwest::Url, BotError> {
    let parsed =
        reqwest::Url::parse(url).map_err(|_| unavailable("the bot's url is not an address"))?;
    let local = match parsed.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    match parsed.scheme() {
        "https" => Ok(parsed),
        "http" if local => Ok(parsed),
        _ => Err(unavailable(
            "the bot's url must be https:// (http:// only to this machine)",
        )),
    }
}

/// What a failed request means for the turn. The error's text is not
/// used: it names the address, which may carry a token.
fn request_error(e: reqwest::Error) -> BotError {
    if e.is_timeout() {
        BotError::Timeout
    } else if e.is_connect() {
        unavailable("could not connect")
    } else if e.is_body() || e.is_decode() {
        unavailable("the answer could not be read")
    } else {
        unavailable("the request failed")
    }
}

/// The response's body, refused when over `limit` bytes.
async fn read_capped(mut response: reqwest::Response, limit: usize) -> Result<Vec<u8>, BotError> {
    let too_long = || BotError::BadAnswer(format!("the answer is over {limit} bytes"));
    if response.content_length().is_some_and(|n| n > limit as u64) {
        return Err(too_long());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(request_error)? {
        if body.len() + chunk.len() > limit {
            return Err(too_long());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn unavailable(why: impl Into<String>) -> BotError {
    BotError::Unavailable(capped(why.into()))
}

/// `text`, cut to [`MAX_ERROR_CHARS`] characters.
fn capped(text: String) -> String {
    match text.char_indices().nth(MAX_ERROR_CHARS) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_or_this_machine() {
        for ok in [
            "https://bot.example.com/turn",
            "http://127.0.0.1:8080/turn",
            "http://localhost/turn",
            "http://[::1]:9/turn",
        ] {
            assert!(endpoint(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://bot.example.com/turn",
            "http://localhost.example.com/turn",
            "ftp://127.0.0.1/turn",
            "not a url",
        ] {
            assert!(
                matches!(endpoint(bad), Err(BotError::Unavailable(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn errors_are_capped_and_time_has_a_floor() {
        let long = capped("é".repeat(500));
        assert_eq!(long.chars().count(), MAX_ERROR_CHARS + 1);
        assert_eq!(capped("short".into()), "short");
        let now = DateTime::<Utc>::UNIX_EPOCH;
        assert_eq!(time_left(now, now), MIN_BOT_TIMEOUT);
        let before = now - chrono::TimeDelta::seconds(1);
        assert_eq!(time_left(before, now), MIN_BOT_TIMEOUT);
        let later = now + chrono::TimeDelta::seconds(2);
        assert_eq!(time_left(later, now), Duration::from_secs(2));
    }
}
