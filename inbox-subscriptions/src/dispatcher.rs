//! Delivering domain events to subscribers.

use chrono::TimeDelta;
use std::sync::Arc;
use std::time::Duration;

use inbox_core::ports::{
    Clock, DeliveryOutcome, DeliveryRecord, Store, SubscriptionCommit, SubscriptionDeadLetter,
    SubscriptionKey, SubscriptionLog,
};
use inbox_core::{Event, Secret, TenantId};

use crate::error::SubscriptionError;
use crate::extras::{extras, TenantOptions};
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

/// An event given up for a subscription (see [`SubscriptionDispatcher::replay`]).
pub type DeadLetter = SubscriptionDeadLetter;

/// What a [`SubscriptionDispatcher::pump`] did.
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

/// One delivery attempt.
struct Pending<'a> {
    sub: &'a Subscription,
    event: Event,
    /// Attempts including this one.
    attempts: u32,
}

enum Outcome {
    Delivered,
    Retry(String),
    Permanent(String),
}

/// Sends a tenant's domain events to subscribers as signed HTTP POSTs.
///
/// It reads the store's event log ([`Conversations::events_since`](inbox_core::ports::Conversations::events_since)), so nothing
/// committed is missed: call [`SubscriptionDispatcher::pump`] in a loop (every second,
/// say). Each delivery is a JSON body `{"subscription", "delivery",
/// "attempt", "event"}` (and `"message"`, `"contact"` when the tenant's
/// `subscriptions` settings ask: see the [crate docs](crate)) with headers `X-Inbox-Signature` (see
/// [`sign`](crate::sign)), `X-Inbox-Event` (the event type) and
/// `X-Inbox-Delivery` (`<subscription>:<seq>`, the same on every attempt:
/// receivers dedupe on it). A 2xx answer delivers; a timeout, a network
/// error, 408, 429 or 5xx is retried with exponential backoff; any other
/// answer, or the last attempt failing, makes the event a dead letter,
/// which [`SubscriptionDispatcher::replay`] sends again.
///
/// Its state is durable, in a [`SubscriptionLog`] (both stores implement it):
/// each subscription's position in the event log, the deliveries waiting
/// for a retry and the dead letters. A restart (or another instance taking
/// over) carries on from there: nothing is lost, and at most the events of
/// a pump interrupted before it recorded its outcome are sent again.
/// Delivery is at least once. Deliveries are attempted in sequence order,
/// but a retried event arrives after later ones: order by the event's
/// `seq`. Run one dispatcher per set of subscriptions at a time.
pub struct SubscriptionDispatcher {
    store: Arc<dyn Store>,
    log: Arc<dyn SubscriptionLog>,
    clock: Arc<dyn Clock>,
    client: reqwest::Client,
    policy: RetryPolicy,
    /// Subscriptions and where each starts when the log has no position.
    subscriptions: Vec<(Subscription, u64)>,
}

impl std::fmt::Debug for SubscriptionDispatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SubscriptionDispatcher")
            .field("policy", &self.policy)
            .field("subscriptions", &self.subscriptions)
            .finish_non_exhaustive()
    }
}

impl SubscriptionDispatcher {
    /// A dispatcher reading `store`'s events and keeping its state in `log`
    /// (usually the same store).
    pub fn new(
        store: Arc<dyn Store>,
        log: Arc<dyn SubscriptionLog>,
        clock: Arc<dyn Clock>,
        policy: RetryPolicy,
    ) -> Result<Self, SubscriptionError> {
        let client = reqwest::Client::builder()
            .timeout(policy.timeout)
            .build()
            .map_err(|e| SubscriptionError::Client(e.to_string()))?;
        Ok(Self {
            store,
            log,
            clock,
            client,
            policy,
            subscriptions: Vec::new(),
        })
    }

    /// Adds a subscription. It resumes from its position in the log; a new
    /// one starts after event `start_after` of its tenant (`0`: from the
    /// first event).
    pub fn subscribe(
        &mut self,
        sub: Subscription,
        start_after: u64,
    ) -> Result<(), SubscriptionError> {
        if sub.id.trim().is_empty() {
            return Err(SubscriptionError::InvalidSubscription("empty id".into()));
        }
        if self.subscriptions.iter().any(|(s, _)| s.id == sub.id) {
            return Err(SubscriptionError::InvalidSubscription(format!(
                "id {:?} is taken",
                sub.id
            )));
        }
        if !matches!(sub.url.scheme(), "http" | "https") {
            return Err(SubscriptionError::InvalidSubscription(format!(
                "{}: only http and https URLs",
                sub.id
            )));
        }
        self.subscriptions.push((sub, start_after));
        Ok(())
    }

    fn subscription(&self, id: &str) -> Result<&(Subscription, u64), SubscriptionError> {
        self.subscriptions
            .iter()
            .find(|(s, _)| s.id == id)
            .ok_or_else(|| SubscriptionError::UnknownSubscription(id.to_string()))
    }

    /// The last event sequence a subscription has handled.
    pub async fn position(&self, subscription: &str) -> Result<u64, SubscriptionError> {
        let (sub, start) = self.subscription(subscription)?;
        Ok(self
            .log
            .subscription_position(SubscriptionKey::of(&sub.tenant, &sub.id))
            .await?
            .unwrap_or(*start))
    }

    /// A subscription's dead letters, oldest event first.
    pub async fn dead_letters(
        &self,
        subscription: &str,
    ) -> Result<Vec<DeadLetter>, SubscriptionError> {
        let (sub, _) = self.subscription(subscription)?;
        Ok(self
            .log
            .subscription_dead_letters(SubscriptionKey::of(&sub.tenant, &sub.id))
            .await?)
    }

    /// Reads new events (up to `limit` per subscription), delivers them, and
    /// retries the failed deliveries that are due (up to `limit`).
    ///
    /// Each tenant's `subscriptions` settings are read once per pump, when
    /// it has something to deliver.
    pub async fn pump(&self, limit: u32) -> Result<PumpReport, SubscriptionError> {
        let mut report = PumpReport::default();
        let mut options = TenantOptions::default();
        for (sub, start) in &self.subscriptions {
            self.deliver_new(sub, *start, limit, &mut options, &mut report)
                .await?;
            self.retry_due(sub, limit, &mut options, &mut report)
                .await?;
        }
        Ok(report)
    }

    /// Delivers the subscription's events after its position, up to
    /// `limit`, and records the new position with the retries and dead
    /// letters.
    async fn deliver_new(
        &self,
        sub: &Subscription,
        start: u64,
        limit: u32,
        options: &mut TenantOptions,
        report: &mut PumpReport,
    ) -> Result<(), SubscriptionError> {
        let key = SubscriptionKey::of(&sub.tenant, &sub.id);
        let after = self.log.subscription_position(key).await?.unwrap_or(start);
        let events = self.store.events_since(&sub.tenant, after, limit).await?;
        let Some(last) = events.last().map(|e| e.seq) else {
            return Ok(());
        };
        report.read += events.len() as u32;
        let (mut retries, mut dead) = (Vec::new(), Vec::new());
        for event in events.into_iter().filter(|e| sub.wants(e)) {
            let p = Pending {
                sub,
                event,
                attempts: 1,
            };
            let step = self.next_step(&p, self.attempt(&p, options).await);
            match step.record(&sub.id, p.event) {
                None => report.delivered += 1,
                Some(DeliveryRecord::Retry(r)) => {
                    report.retrying += 1;
                    retries.push(r);
                }
                Some(DeliveryRecord::Dead(d)) => {
                    report.dead += 1;
                    dead.push(d);
                }
            }
        }
        let commit = SubscriptionCommit {
            position: last,
            retries,
            dead,
        };
        Ok(self.log.subscription_commit(key, commit).await?)
    }

    /// Attempts the subscription's failed deliveries that are due, up to
    /// `limit`.
    async fn retry_due(
        &self,
        sub: &Subscription,
        limit: u32,
        options: &mut TenantOptions,
        report: &mut PumpReport,
    ) -> Result<(), SubscriptionError> {
        let key = SubscriptionKey::of(&sub.tenant, &sub.id);
        let now = self.clock.now();
        for r in self.log.subscription_due_retries(key, now, limit).await? {
            let p = Pending {
                sub,
                event: r.event,
                attempts: r.attempts + 1,
            };
            let step = self.next_step(&p, self.attempt(&p, options).await);
            match &step {
                DeliveryOutcome::Delivered => report.delivered += 1,
                DeliveryOutcome::Retry { .. } => report.retrying += 1,
                DeliveryOutcome::Dead { .. } => report.dead += 1,
            }
            self.log.subscription_settle(key, p.event.seq, step).await?;
        }
        Ok(())
    }

    /// What follows an attempt: done, another attempt later, or a dead
    /// letter.
    fn next_step(&self, p: &Pending<'_>, outcome: Outcome) -> DeliveryOutcome {
        let now = self.clock.now();
        match outcome {
            Outcome::Delivered => DeliveryOutcome::Delivered,
            Outcome::Retry(why) if p.attempts < self.policy.max_attempts => {
                let delay = self.policy.delay_after(p.attempts);
                tracing::debug!(subscription = %p.sub.id, seq = p.event.seq, attempt = p.attempts, %why, "subscription delivery failed; retrying");
                DeliveryOutcome::Retry {
                    attempts: p.attempts,
                    due: now + TimeDelta::from_std(delay).unwrap_or(TimeDelta::MAX),
                    last_error: why,
                }
            }
            Outcome::Retry(why) | Outcome::Permanent(why) => {
                tracing::warn!(subscription = %p.sub.id, seq = p.event.seq, attempts = p.attempts, %why, "subscription delivery given up");
                DeliveryOutcome::Dead {
                    attempts: p.attempts,
                    last_error: why,
                    failed_at: now,
                }
            }
        }
    }

    /// Sends a subscription's dead letter (by event `seq`) again now.
    /// Delivered: it leaves the list (`Ok(true)`). Failed again: it stays,
    /// with the attempt counted (`Ok(false)`).
    pub async fn replay(&self, subscription: &str, seq: u64) -> Result<bool, SubscriptionError> {
        let (sub, _) = self.subscription(subscription)?;
        let letter = self
            .log
            .subscription_dead_letters(SubscriptionKey::of(&sub.tenant, &sub.id))
            .await?
            .into_iter()
            .find(|d| d.event.seq == seq)
            .ok_or_else(|| SubscriptionError::UnknownDeadLetter {
                subscription: sub.id.clone(),
                seq,
            })?;
        let p = Pending {
            sub,
            event: letter.event,
            attempts: letter.attempts + 1,
        };
        let mut options = TenantOptions::default();
        let (delivered, step) = match self.attempt(&p, &mut options).await {
            Outcome::Delivered => (true, DeliveryOutcome::Delivered),
            Outcome::Retry(why) | Outcome::Permanent(why) => (
                false,
                DeliveryOutcome::Dead {
                    attempts: p.attempts,
                    last_error: why,
                    failed_at: self.clock.now(),
                },
            ),
        };
        self.log
            .subscription_settle(SubscriptionKey::of(&sub.tenant, &sub.id), seq, step)
            .await?;
        Ok(delivered)
    }

    /// The delivery's body: the event, and what the tenant's options add
    /// (read from the store now). A store failure is retried.
    async fn body(&self, p: &Pending<'_>, options: &mut TenantOptions) -> Result<Vec<u8>, Outcome> {
        let mut body = serde_json::json!({
            "subscription": p.sub.id,
            "delivery": delivery_id(p),
            "attempt": p.attempts,
            "event": p.event,
        });
        let extras = extras(self.store.as_ref(), options, &p.event)
            .await
            .map_err(Outcome::Retry)?;
        if let Some(fields) = body.as_object_mut() {
            fields.extend(extras);
        }
        serde_json::to_vec(&body).map_err(|e| Outcome::Permanent(format!("event to JSON: {e}")))
    }

    async fn attempt(&self, p: &Pending<'_>, options: &mut TenantOptions) -> Outcome {
        let sub = p.sub;
        let delivery = delivery_id(p);
        let body = match self.body(p, options).await {
            Ok(b) => b,
            Err(failed) => return failed,
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

/// The `X-Inbox-Delivery` id: the same on every attempt.
fn delivery_id(p: &Pending<'_>) -> String {
    format!("{}:{}", p.sub.id, p.event.seq)
}
