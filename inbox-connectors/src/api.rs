//! How every connector calls its provider: a per-request timeout, our own
//! pacing, retries with exponential backoff on timeouts, outages (5xx) and
//! rate limits (honouring the provider's `Retry-After` or its own hint),
//! and errors that name the connector and never carry a URL or a
//! credential.

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use reqwest::header::HeaderMap;
use serde::de::DeserializeOwned;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use crate::{ConnectorError, ConnectorKind};

/// How hard a connector tries, and how fast it may go.
///
/// ```
/// use inbox_connectors::CallPolicy;
/// use std::time::Duration;
/// let p = CallPolicy::default();
/// assert_eq!(p.backoff(1), Duration::from_millis(250));
/// assert_eq!(p.backoff(2), Duration::from_millis(500));
/// assert_eq!(p.backoff(30), p.max_wait);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallPolicy {
    /// How long one request may take.
    pub timeout: Duration,
    /// Tries in all (the first included).
    pub attempts: u32,
    /// The wait after the first failure; doubled after each.
    pub base_backoff: Duration,
    /// The longest wait between tries: a provider asking for longer (a
    /// `Retry-After` of a minute) gets [`ConnectorError::RateLimited`] now
    /// rather than a conversation view waiting a minute.
    pub max_wait: Duration,
    /// Requests per second to one provider for one tenant (our pacing,
    /// below the provider's limit so that its 429s stay rare).
    pub per_second: u32,
}

impl Default for CallPolicy {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(5),
            attempts: 3,
            base_backoff: Duration::from_millis(250),
            max_wait: Duration::from_secs(4),
            per_second: 4,
        }
    }
}

impl CallPolicy {
    /// The wait after `failures` failed tries.
    pub fn backoff(&self, failures: u32) -> Duration {
        let factor = 1u32
            .checked_shl(failures.saturating_sub(1))
            .unwrap_or(u32::MAX);
        self.base_backoff
            .checked_mul(factor)
            .unwrap_or(self.max_wait)
            .min(self.max_wait)
    }
}

/// What a provider answered with a 2xx.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The status.
    pub status: u16,
    /// The headers.
    pub headers: HeaderMap,
    /// The body.
    pub body: Vec<u8>,
}

impl Answer {
    /// The body as `T`, or [`ConnectorError::BadResponse`].
    pub fn json<T: DeserializeOwned>(
        &self,
        connector: ConnectorKind,
        what: &'static str,
    ) -> Result<T, ConnectorError> {
        serde_json::from_slice(&self.body).map_err(|e| ConnectorError::BadResponse {
            connector,
            what,
            reason: e.to_string(),
        })
    }
}

/// Reads a provider's hint of when to come back from a 429's headers.
pub type WaitHint = fn(&HeaderMap) -> Option<Duration>;

/// Reads what a provider's failed answer (status, headers, body) means
/// when it says more than its status: a missing scope behind a 403, a
/// day's quota spent behind a 429. `Some` is returned at once, not
/// retried; `None` leaves the answer to the status.
pub type Classify = fn(u16, &HeaderMap, &[u8]) -> Option<ConnectorError>;

/// `Retry-After` in seconds (what HTTP says; providers that say more have
/// their own [`WaitHint`]).
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(|s| Duration::from_secs_f64(s.min(86_400.0)))
}

/// A connector's caller of one provider for one tenant: the HTTP client,
/// the [`CallPolicy`] and the pacing. Cheap to clone.
#[derive(Clone)]
pub struct Api {
    connector: ConnectorKind,
    client: reqwest::Client,
    policy: CallPolicy,
    pace: Arc<DefaultDirectRateLimiter>,
    hint: WaitHint,
    classify: Option<Classify>,
    /// Whether a request that may have been carried out (a timeout, a
    /// 5xx) may be sent again: not for one that creates a record.
    repeatable: bool,
}

impl std::fmt::Debug for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Api")
            .field("connector", &self.connector)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

enum Try {
    Done(Answer),
    Again(ConnectorError, Option<Duration>),
    Fail(ConnectorError),
}

impl Api {
    /// A caller for `connector` over `client` (share one client across
    /// connectors: it pools connections).
    pub fn new(connector: ConnectorKind, client: reqwest::Client, policy: CallPolicy) -> Self {
        let per_second = NonZeroU32::new(policy.per_second.max(1)).unwrap_or(NonZeroU32::MIN);
        Self {
            connector,
            client,
            pace: Arc::new(RateLimiter::direct(Quota::per_second(per_second))),
            policy,
            hint: retry_after,
            classify: None,
            repeatable: true,
        }
    }

    /// The same, reading failed answers with the provider's `classify`
    /// first (see [`Classify`]).
    pub fn with_classifier(mut self, classify: Classify) -> Self {
        self.classify = Some(classify);
        self
    }

    /// The same caller for requests that create a record (a note, a
    /// contact): sent again only when the provider surely did not carry it
    /// out (no connection, 429); after a timeout or a 5xx the error is
    /// returned at once, so one call never writes the same record twice.
    /// (A caller that tries again later, as the CRM logger does, writes at
    /// least once.)
    pub fn creating(&self) -> Self {
        Self {
            repeatable: false,
            ..self.clone()
        }
    }

    /// The same, reading a 429's wait with `hint` (HubSpot's interval
    /// header, say) when `Retry-After` is absent.
    pub fn with_wait_hint(mut self, hint: WaitHint) -> Self {
        self.hint = hint;
        self
    }

    /// The connector it calls for.
    pub fn connector(&self) -> ConnectorKind {
        self.connector
    }

    /// Its policy.
    pub fn policy(&self) -> &CallPolicy {
        &self.policy
    }

    /// Sends the request `make` builds (again for each try) and returns the
    /// 2xx answer. `what` names the call in errors (`contact search`).
    pub async fn send(
        &self,
        what: &'static str,
        make: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    ) -> Result<Answer, ConnectorError> {
        let mut failures = 0;
        loop {
            self.paced().await?;
            let (err, asked) = match self.try_once(what, make(&self.client)).await {
                Try::Done(answer) => return Ok(answer),
                Try::Fail(e) => return Err(e),
                Try::Again(e, _) if !self.repeatable && maybe_done(&e) => return Err(e),
                Try::Again(e, asked) => (e, asked),
            };
            failures += 1;
            if failures >= self.policy.attempts {
                return Err(err);
            }
            let wait = asked.unwrap_or_else(|| self.policy.backoff(failures));
            self.wait(wait, err).await?;
        }
    }

    /// [`Api::send`], the answer read as JSON.
    pub async fn json<T: DeserializeOwned>(
        &self,
        what: &'static str,
        make: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    ) -> Result<T, ConnectorError> {
        self.send(what, make).await?.json(self.connector, what)
    }

    /// Waits `wait` before trying again, unless that is longer than the
    /// policy allows: then `err` (made a rate limit with the wait when it
    /// is one) is returned at once.
    pub async fn wait(&self, wait: Duration, err: ConnectorError) -> Result<(), ConnectorError> {
        if wait > self.policy.max_wait {
            return Err(match err {
                ConnectorError::RateLimited { connector, .. } => ConnectorError::RateLimited {
                    connector,
                    retry_after: Some(wait),
                },
                other => other,
            });
        }
        tokio::time::sleep(wait).await;
        Ok(())
    }

    async fn paced(&self) -> Result<(), ConnectorError> {
        use governor::clock::{Clock, DefaultClock};
        if let Err(not_yet) = self.pace.check() {
            let wait = not_yet.wait_time_from(DefaultClock::default().now());
            if wait > self.policy.max_wait {
                return Err(ConnectorError::RateLimited {
                    connector: self.connector,
                    retry_after: Some(wait),
                });
            }
            self.pace.until_ready().await;
        }
        Ok(())
    }

    async fn try_once(&self, what: &'static str, request: reqwest::RequestBuilder) -> Try {
        let connector = self.connector;
        let response = match request.timeout(self.policy.timeout).send().await {
            Ok(r) => r,
            Err(e) if e.is_timeout() => {
                let after = self.policy.timeout;
                return Try::Again(ConnectorError::Timeout { connector, after }, None);
            }
            Err(e) => {
                let reason = unreachable_reason(&e);
                return Try::Again(ConnectorError::Unavailable { connector, reason }, None);
            }
        };
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = match response.bytes().await {
            Ok(b) => b.to_vec(),
            Err(e) if e.is_timeout() => {
                let after = self.policy.timeout;
                return Try::Again(ConnectorError::Timeout { connector, after }, None);
            }
            Err(e) => {
                let reason = unreachable_reason(&e);
                return Try::Again(ConnectorError::Unavailable { connector, reason }, None);
            }
        };
        if !(200..=299).contains(&status) {
            if let Some(e) = self.classify.and_then(|c| c(status, &headers, &body)) {
                return Try::Fail(e);
            }
        }
        match status {
            200..=299 => Try::Done(Answer {
                status,
                headers,
                body,
            }),
            401 | 403 => Try::Fail(ConnectorError::Auth { connector, status }),
            429 => {
                let asked = (self.hint)(&headers).or_else(|| retry_after(&headers));
                let err = ConnectorError::RateLimited {
                    connector,
                    retry_after: asked,
                };
                Try::Again(err, asked)
            }
            408 | 500..=599 => {
                let reason = format!("it answered {status}");
                Try::Again(ConnectorError::Unavailable { connector, reason }, None)
            }
            _ => Try::Fail(ConnectorError::Rejected {
                connector,
                what,
                status,
                message: provider_message(&body),
            }),
        }
    }
}

/// Whether a failed request may still have been carried out: it timed out
/// or the provider failed (5xx) after receiving it, as opposed to no
/// connection at all or a 429.
fn maybe_done(e: &ConnectorError) -> bool {
    match e {
        ConnectorError::Timeout { .. } => true,
        ConnectorError::Unavailable { reason, .. } => reason != "could not connect",
        _ => false,
    }
}

/// A network failure, said without the URL (which may carry a shop's
/// name or a query).
fn unreachable_reason(e: &reqwest::Error) -> String {
    if e.is_connect() {
        "could not connect".into()
    } else if e.is_body() || e.is_decode() {
        "the answer broke off".into()
    } else {
        "the request failed".into()
    }
}

/// The provider's own message from an error body (`message`, `error`,
/// `errors`), at most 200 characters.
pub fn provider_message(body: &[u8]) -> String {
    let text = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| {
            ["message", "error_description", "error", "errors"]
                .iter()
                .find_map(|k| match v.get(*k)? {
                    serde_json::Value::String(s) => Some(s.clone()),
                    other => Some(other.to_string()),
                })
        })
        .unwrap_or_else(|| String::from_utf8_lossy(body).into_owned());
    let text = text.trim();
    match text.char_indices().nth(200) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None if text.is_empty() => "no message".into(),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_messages_are_read_and_shortened() {
        assert_eq!(
            provider_message(br#"{"status":"error","message":"bad"}"#),
            "bad"
        );
        assert_eq!(provider_message(br#"{"errors":"Not Found"}"#), "Not Found");
        assert_eq!(provider_message(b""), "no message");
        let long = "x".repeat(500);
        assert_eq!(provider_message(long.as_bytes()).chars().count(), 201);
    }

    #[test]
    fn retry_after_reads_seconds_only() {
        let mut h = HeaderMap::new();
        assert_eq!(retry_after(&h), None);
        h.insert("retry-after", "2".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(2)));
        h.insert("retry-after", "soon".parse().unwrap());
        assert_eq!(retry_after(&h), None);
    }
}
