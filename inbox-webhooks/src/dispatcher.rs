//! Delivering domain events to subscribers.

use chrono::{DateTime, TimeDelta, Utc};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use inbox_core::ports::{Clock, Store};
use inbox_core::{Event, Secret, TenantId};

use crate::error::WebhookError;
use crate::signature::{sign, SIGNATURE_HEADER};

/// A receiver of a tenant's events.
#[derive(Clone, PartialEq, Eq)]
pub struct Subscription {
    /// Stable id (shown in the `X-Inbox-Delivery` header).
    pub id: String,
    /// Whose events.
    pub tenant: TenantId,
    /// Where to POST them.
    pub url: url::Url,
    /// The signing secret the receiver shares.
    pub secret: Secret,
    /// Event types to send (`assigned`, `message_received` ...); empty for
    /// all.
    pub events: Vec<String>,
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("id", &self.id)
            .field("tenant", &self.tenant)
            .field("url", &self.url.as_str())
            .field("secret", &self.secret)
            .field("events", &self.events)
            .finish()
    }
}

impl Subscription {
    fn wants(&self, e: &Event) -> bool {
        self.events.is_empty() || self.events.iter().any(|t| t == e.kind.name())
    }
}

/// How hard to try.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts before an event becomes a dead letter.
    pub max_attempts: u32,
    /// Delay before the second attempt; doubled after each failure.
    pub base_delay: Duration,
    /// Longest delay.
    pub max_delay: Duration,
    /// How long to wait for the receiver's answer.
    pub timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 8,
            base_delay: Duration::from_secs(10),
            max_delay: Duration::from_secs(3600),
            timeout: Duration::from_secs(10),
        }
    }
}

impl RetryPolicy {
    /// The delay after `attempts` failed attempts.
    pub fn delay_after(&self, attempts: u32) -> Duration {
        let factor = 1u32
            .checked_shl(attempts.saturating_sub(1))
            .unwrap_or(u32::MAX);
        self.base_delay
            .checked_mul(factor)
            .unwrap_or(self.max_delay)
            .min(self.max_delay)
    }
}

/// An event that could not be delivered.
#[derive(Debug, Clone, PartialEq)]
pub struct DeadLetter {
    /// Its id, for [`Dispatcher::replay`].
    pub id: u64,
    /// The subscription.
    pub subscription: String,
    /// The event.
    pub event: Event,
    /// Attempts made.
    pub attempts: u32,
    /// The last failure: the HTTP status or the transport error.
    pub last_error: String,
    /// When it was given up.
    pub failed_at: DateTime<Utc>,
}

/// What a [`Dispatcher::pump`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PumpReport {
    /// New events read from the store.
    pub read: u32,
    /// Deliveries acknowledged with 2xx.
    pub delivered: u32,
    /// Failed attempts scheduled again.
    pub retrying: u32,
    /// Events given up (now dead letters).
    pub dead: u32,
}

#[derive(Debug, Clone)]
struct Pending {
    sub: usize,
    event: Event,
    attempts: u32,
}

#[derive(Debug, Default)]
struct State {
    /// Per subscription: the last event sequence read.
    cursors: Vec<u64>,
    /// Retries by due time.
    retries: BTreeMap<(DateTime<Utc>, usize, u64), Pending>,
    dead: Vec<DeadLetter>,
    next_dead: u64,
}

enum Outcome {
    Delivered,
    Retry(String),
    Permanent(String),
}

/// Sends a tenant's domain events to subscribers as signed HTTP POSTs.
///
/// It reads the store's event log ([`Store::events_since`]), so nothing
/// committed is missed: call [`Dispatcher::pump`] in a loop (every second,
/// say). Each delivery is a JSON body `{"subscription", "delivery",
/// "attempt", "event"}` with headers `X-Inbox-Signature` (see
/// [`sign`](crate::sign)), `X-Inbox-Event` (the event type) and
/// `X-Inbox-Delivery` (`<subscription>:<seq>`, the same on every attempt:
/// receivers dedupe on it). A 2xx answer delivers; a timeout, a network
/// error, 408, 429 or 5xx is retried with exponential backoff; any other
/// answer, or the last attempt failing, makes the event a dead letter,
/// which [`Dispatcher::replay`] sends again.
///
/// Delivery is at least once. Retries and dead letters live in memory:
/// persist [`Dispatcher::position`] to resume reading after a restart (events
/// then pending a retry are sent again from there). Deliveries are attempted
/// in sequence order, but a retried event arrives after later ones: order by
/// the event's `seq`. Run one dispatcher per set of subscriptions.
pub struct Dispatcher {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    client: reqwest::Client,
    policy: RetryPolicy,
    subscriptions: Vec<Subscription>,
    state: Mutex<State>,
}

impl std::fmt::Debug for Dispatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dispatcher")
            .field("policy", &self.policy)
            .field("subscriptions", &self.subscriptions)
            .finish_non_exhaustive()
    }
}

impl Dispatcher {
    /// A dispatcher reading `store`'s events.
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        policy: RetryPolicy,
    ) -> Result<Self, WebhookError> {
        let client = reqwest::Client::builder()
            .timeout(policy.timeout)
            .build()
            .map_err(|e| WebhookError::Client(e.to_string()))?;
        Ok(Self {
            store,
            clock,
            client,
            policy,
            subscriptions: Vec::new(),
            state: Mutex::new(State::default()),
        })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds a subscription that starts after event `after_seq` of its
    /// tenant (`0`: from the first event; a saved [`Dispatcher::position`]
    /// to resume).
    pub fn subscribe(&mut self, sub: Subscription, after_seq: u64) -> Result<(), WebhookError> {
        if sub.id.trim().is_empty() {
            return Err(WebhookError::InvalidSubscription("empty id".into()));
        }
        if self.subscriptions.iter().any(|s| s.id == sub.id) {
            return Err(WebhookError::InvalidSubscription(format!(
                "id {:?} is taken",
                sub.id
            )));
        }
        if !matches!(sub.url.scheme(), "http" | "https") {
            return Err(WebhookError::InvalidSubscription(format!(
                "{}: only http and https URLs",
                sub.id
            )));
        }
        self.subscriptions.push(sub);
        self.state().cursors.push(after_seq);
        Ok(())
    }

    /// The last event sequence read for a subscription (save it to resume).
    pub fn position(&self, subscription: &str) -> Option<u64> {
        let i = self
            .subscriptions
            .iter()
            .position(|s| s.id == subscription)?;
        self.state().cursors.get(i).copied()
    }

    /// The events given up, oldest first.
    pub fn dead_letters(&self) -> Vec<DeadLetter> {
        self.state().dead.clone()
    }

    /// Reads new events (up to `limit` per subscription), delivers them, and
    /// retries the failed deliveries that are due.
    pub async fn pump(&self, limit: u32) -> Result<PumpReport, WebhookError> {
        let mut report = PumpReport::default();
        let mut work = Vec::new();
        for (i, sub) in self.subscriptions.iter().enumerate() {
            let after = self.state().cursors.get(i).copied().unwrap_or(0);
            let events = self.store.events_since(&sub.tenant, after, limit).await?;
            if let Some(last) = events.last() {
                if let Some(c) = self.state().cursors.get_mut(i) {
                    *c = (*c).max(last.seq);
                }
            }
            report.read += events.len() as u32;
            work.extend(
                events
                    .into_iter()
                    .filter(|e| sub.wants(e))
                    .map(|event| Pending {
                        sub: i,
                        event,
                        attempts: 0,
                    }),
            );
        }
        let now = self.clock.now();
        {
            let mut state = self.state();
            let due: Vec<_> = state
                .retries
                .range(..=(now, usize::MAX, u64::MAX))
                .map(|(k, _)| *k)
                .collect();
            for k in due {
                if let Some(p) = state.retries.remove(&k) {
                    work.push(p);
                }
            }
        }
        for mut p in work {
            p.attempts += 1;
            let outcome = self.attempt(&p).await;
            let now = self.clock.now();
            let mut state = self.state();
            match outcome {
                Outcome::Delivered => report.delivered += 1,
                Outcome::Retry(why) if p.attempts < self.policy.max_attempts => {
                    let delay = self.policy.delay_after(p.attempts);
                    let due = now + TimeDelta::from_std(delay).unwrap_or(TimeDelta::MAX);
                    tracing::debug!(subscription = %self.subscriptions[p.sub].id, seq = p.event.seq, attempt = p.attempts, %why, "webhook delivery failed; retrying");
                    state.retries.insert((due, p.sub, p.event.seq), p);
                    report.retrying += 1;
                }
                Outcome::Retry(why) | Outcome::Permanent(why) => {
                    tracing::warn!(subscription = %self.subscriptions[p.sub].id, seq = p.event.seq, attempts = p.attempts, %why, "webhook delivery given up");
                    state.next_dead += 1;
                    let id = state.next_dead;
                    state.dead.push(DeadLetter {
                        id,
                        subscription: self.subscriptions[p.sub].id.clone(),
                        event: p.event,
                        attempts: p.attempts,
                        last_error: why,
                        failed_at: now,
                    });
                    report.dead += 1;
                }
            }
        }
        Ok(report)
    }

    /// Sends a dead letter again now. Delivered: it leaves the list
    /// (`Ok(true)`). Failed again: it stays, with the attempt counted
    /// (`Ok(false)`).
    pub async fn replay(&self, id: u64) -> Result<bool, WebhookError> {
        let letter = self
            .state()
            .dead
            .iter()
            .find(|d| d.id == id)
            .cloned()
            .ok_or(WebhookError::UnknownDeadLetter(id))?;
        let sub = self
            .subscriptions
            .iter()
            .position(|s| s.id == letter.subscription)
            .ok_or(WebhookError::UnknownDeadLetter(id))?;
        let p = Pending {
            sub,
            event: letter.event.clone(),
            attempts: letter.attempts + 1,
        };
        let outcome = self.attempt(&p).await;
        let now = self.clock.now();
        let mut state = self.state();
        match outcome {
            Outcome::Delivered => {
                state.dead.retain(|d| d.id != id);
                Ok(true)
            }
            Outcome::Retry(why) | Outcome::Permanent(why) => {
                if let Some(d) = state.dead.iter_mut().find(|d| d.id == id) {
                    d.attempts += 1;
                    d.last_error = why;
                    d.failed_at = now;
                }
                Ok(false)
            }
        }
    }

    async fn attempt(&self, p: &Pending) -> Outcome {
        let sub = &self.subscriptions[p.sub];
        let delivery = format!("{}:{}", sub.id, p.event.seq);
        let body = serde_json::json!({
            "subscription": sub.id,
            "delivery": delivery,
            "attempt": p.attempts,
            "event": p.event,
        });
        let body = match serde_json::to_vec(&body) {
            Ok(b) => b,
            Err(e) => return Outcome::Permanent(format!("event to JSON: {e}")),
        };
        let signature = sign(&sub.secret, self.clock.now(), &body);
        let sent = self
            .client
            .post(sub.url.clone())
            .header("content-type", "application/json")
            .header(SIGNATURE_HEADER, signature)
            .header("x-inbox-event", p.event.kind.name())
            .header("x-inbox-delivery", delivery)
            .body(body)
            .send()
            .await;
        match sent {
            Ok(r) if r.status().is_success() => Outcome::Delivered,
            Ok(r) => {
                let s = r.status();
                let why = format!("HTTP {}", s.as_u16());
                if s.is_server_error() || s.as_u16() == 408 || s.as_u16() == 429 {
                    Outcome::Retry(why)
                } else {
                    Outcome::Permanent(why)
                }
            }
            // The URL is not logged: it may carry a token.
            Err(e) if e.is_timeout() => Outcome::Retry("timed out".into()),
            Err(e) if e.is_connect() => Outcome::Retry("could not connect".into()),
            Err(_) => Outcome::Retry("request failed".into()),
        }
    }
}
