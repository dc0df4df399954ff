//! The outbox dispatcher: delivers committed replies through the transport.
//!
//! Every claimed message is settled on its own. The dispatcher reads what it
//! needs, records the attempt in the store ([`Scheduling::begin_outbox_attempt`]),
//! hands the message to the transport, then records the outcome and
//! releases the claim. So a message is *in doubt* (maybe sent, maybe not)
//! only if its request may have reached the provider:
//!
//! - the store fails before the attempt is recorded: the message was never
//!   sent; its claim is put back in the queue (now if the store answers
//!   again, else when its lease lapses) and it is sent after recovery;
//! - the store fails after the send: the outcome is kept in memory and
//!   recorded first on the next pass; if the process dies meanwhile, the
//!   lapsed claim is handed out flagged in doubt;
//! - the transport cannot tell whether the provider got the request
//!   ([`TransportError::InDoubt`]): the message is marked in doubt at once.
//!
//! An in-doubt message is never resent by the dispatcher: a claim flagged
//! in doubt is only ever settled as in doubt, never put back in the queue.
//! A status webhook carrying our id reconciles it; a person may send it
//! again ([`Inbox::resend`](super::Inbox::resend)).
//!
//! The store hands out a conversation's messages one at a time, in commit
//! order, so they reach the customer in the order they were written, even
//! when one waits for a retry.
//!
//! [`Scheduling::begin_outbox_attempt`]: crate::ports::Scheduling::begin_outbox_attempt

use futures_util::StreamExt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use super::Inbox;
use crate::error::{chrono_duration, Error, Result};
use crate::model::{DeliveryStatus, DeliveryUpdate, Direction, Message, ProviderError};
use crate::ports::{
    MessageMutation, OutboundRequest, OutboxAttempt, OutboxClaim, OutboxClaimRequest,
    OutboxDisposition, TransportError,
};

/// What one dispatcher pass did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DispatchReport {
    /// Accepted by the provider.
    pub sent: u32,
    /// Failed for now; scheduled again.
    pub retried: u32,
    /// Failed for good (window closed, rejected, unauthorized, out of
    /// attempts).
    pub failed: u32,
    /// Marked in doubt: the request may have reached the provider (an
    /// interrupted attempt found, or a send whose outcome is unknown). Not
    /// resent; reconciled by status webhooks.
    pub in_doubt: u32,
    /// Entries that needed nothing (already reconciled, message gone, claim
    /// lost to another dispatcher), or that cannot be sent (their number or
    /// contact is gone: marked failed).
    pub skipped: u32,
    /// Outcomes of an earlier pass recorded in this one (the store had
    /// failed when they were first recorded).
    pub recovered: u32,
    /// Not sent, on purpose ([`DeliveryStatus::Cancelled`]): a bot's reply
    /// after people took over, a marketing message to a customer who
    /// stopped them.
    pub cancelled: u32,
}

impl DispatchReport {
    /// Entries handled in this pass.
    pub fn total(&self) -> u32 {
        self.sent
            + self.retried
            + self.failed
            + self.in_doubt
            + self.skipped
            + self.recovered
            + self.cancelled
    }

    fn add(&mut self, other: &DispatchReport) {
        self.sent += other.sent;
        self.retried += other.retried;
        self.failed += other.failed;
        self.in_doubt += other.in_doubt;
        self.skipped += other.skipped;
        self.recovered += other.recovered;
        self.cancelled += other.cancelled;
    }
}

/// What is left to record for one claim: a change to its message (the
/// outcome of a send), then the claim's release.
#[derive(Debug, Clone)]
pub(super) struct Settlement {
    claim: OutboxClaim,
    mutation: Option<MessageMutation>,
    disposition: OutboxDisposition,
}

impl Settlement {
    fn new(
        claim: &OutboxClaim,
        mutation: Option<MessageMutation>,
        disposition: OutboxDisposition,
    ) -> Self {
        Self {
            claim: claim.clone(),
            mutation,
            disposition,
        }
    }

    /// A claim given back unattempted: due again when it was due (never
    /// used for a claim in doubt, whose attempt mark must stay).
    fn requeue(claim: &OutboxClaim) -> Self {
        let at = claim.entry.not_before;
        Self::new(claim, None, OutboxDisposition::RetryAt(at))
    }
}

/// Settlements the store refused (it was unavailable), recorded first on
/// the next pass. In memory: if the process dies, lapsed claims tell the
/// next dispatcher what may have happened.
#[derive(Debug, Default)]
pub(super) struct Backlog(Mutex<Vec<Settlement>>);

impl Backlog {
    fn take(&self) -> Vec<Settlement> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }

    fn keep(&self, settlements: impl IntoIterator<Item = Settlement>) {
        let mut kept = self.0.lock().unwrap_or_else(|e| e.into_inner());
        kept.extend(settlements);
    }

    fn len(&self) -> usize {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

/// The longest a provider's `Retry-After` is honoured (or the policy's
/// `max_backoff`, if longer): a bogus answer must not park a reply for
/// days.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// Exponential backoff with a deterministic jitter of up to a quarter,
/// derived from the message id and attempt (no random source in the core).
fn backoff(base: Duration, max: Duration, attempt: u32, salt: &str) -> Duration {
    let exp = base.saturating_mul(1u32 << attempt.saturating_sub(1).min(20));
    let capped = exp.min(max);
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in salt.bytes().chain(attempt.to_le_bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    let quarter = capped.as_millis() as u64 / 4;
    let jitter = if quarter == 0 { 0 } else { h % quarter };
    capped.saturating_sub(Duration::from_millis(jitter))
}

impl Inbox {
    /// Delivers up to `limit` queued replies that are due, across all
    /// tenants. Run it in a loop (or after each reply); several dispatchers
    /// may run at once, in one process or many: the store hands each entry
    /// to one of them, and a conversation's entries one at a time, in
    /// order. Up to [`OutboxPolicy::concurrency`](super::OutboxPolicy::concurrency)
    /// messages (each of another conversation) are sent at once.
    ///
    /// Retryable failures (rate limits, transient errors) are rescheduled
    /// with backoff, and the conversation's later messages wait behind
    /// them; final ones (window closed, rejected, unauthorized, out of
    /// attempts) mark the message failed with the provider's error. A
    /// message whose request may have reached the provider (an attempt
    /// interrupted by a crash, a send whose outcome is unknown) is marked in
    /// doubt and never sent again by the dispatcher.
    ///
    /// # Errors
    ///
    /// When the store fails (a retryable error), the pass stops starting
    /// sends and returns the error once the sends under way have finished.
    /// Nothing is lost: claims not yet attempted go back to the queue, and
    /// outcomes the store could not record are kept and recorded first on
    /// the next pass (which returns the error again, claiming nothing,
    /// while the store still fails).
    pub async fn dispatch(&self, limit: u32) -> Result<DispatchReport> {
        let mut report = self.settle_backlog().await?;
        let policy = self.config.outbox;
        let claims = self
            .ports
            .store
            .claim_outbox(OutboxClaimRequest {
                now: self.now(),
                lease: policy.lease,
                limit,
            })
            .await?;
        let failed = AtomicBool::new(false);
        let width = policy.concurrency.max(1) as usize;
        let mut results = futures_util::stream::iter(claims)
            .map(|claim| self.dispatch_claim(claim, &failed))
            .buffer_unordered(width);
        let mut error = None;
        while let Some((part, e)) = results.next().await {
            report.add(&part);
            error = error.or(e);
        }
        match error {
            Some(e) => Err(self.stopped(e).await),
            None => Ok(report),
        }
    }

    /// Records what earlier passes could not; fails (claiming nothing new)
    /// while the store still refuses.
    async fn settle_backlog(&self) -> Result<DispatchReport> {
        let mut report = DispatchReport::default();
        let mut pending = self.backlog.take().into_iter();
        while let Some(s) = pending.next() {
            if let Err(e) = self.settle(&s).await {
                self.backlog.keep(std::iter::once(s).chain(pending));
                return Err(e);
            }
            report.recovered += 1;
        }
        Ok(report)
    }

    /// The error a pass stopped on, logged with what is kept for later.
    async fn stopped(&self, e: Error) -> Error {
        tracing::warn!(error = %e, kept = self.backlog.len(), "dispatch stopped by a store error; unrecorded outcomes kept for the next pass");
        e
    }

    /// Handles one claim and settles it on its own. Once the store has
    /// failed (anywhere in the pass), a claim not yet attempted goes back
    /// unattempted; one in doubt is still only ever settled as in doubt.
    async fn dispatch_claim(
        &self,
        claim: OutboxClaim,
        failed: &AtomicBool,
    ) -> (DispatchReport, Option<Error>) {
        let mut report = DispatchReport::default();
        let decided = if claim.in_doubt {
            // An earlier dispatcher began sending it and never said how it
            // went: never put back in the queue. (Counted once settled: the
            // message may have been recorded after all.)
            let mutation = MessageMutation::InDoubt { at: self.now() };
            Ok(Some(Settlement::new(
                &claim,
                Some(mutation),
                OutboxDisposition::Done,
            )))
        } else if failed.load(Ordering::SeqCst) {
            Err(None)
        } else {
            self.attempt(&claim, &mut report).await.map_err(Some)
        };
        let result = match decided {
            Ok(Some(s)) => match self.settle(&s).await {
                Ok(changed) => {
                    if claim.in_doubt && changed {
                        report.in_doubt += 1;
                    } else if claim.in_doubt {
                        report.skipped += 1;
                    }
                    Ok(())
                }
                Err(e) => Err((Some(e), s)),
            },
            Ok(None) => Ok(()),
            Err(e) => Err((e, Settlement::requeue(&claim))),
        };
        match result {
            Ok(()) => (report, None),
            Err((e, kept)) => {
                failed.store(true, Ordering::SeqCst);
                self.backlog.keep([kept]);
                (report, e)
            }
        }
    }

    /// Decides and, if due, sends one message. `Ok(None)`: nothing to
    /// record (the claim was lost to another dispatcher). `Err`: the store
    /// failed (retryably) before the attempt was recorded: nothing was
    /// sent.
    async fn attempt(
        &self,
        claim: &OutboxClaim,
        report: &mut DispatchReport,
    ) -> Result<Option<Settlement>> {
        let store = &self.ports.store;
        let (tenant, id) = (&claim.entry.tenant, &claim.entry.message);
        let message = match store.message(tenant, id).await {
            Ok(m) => m,
            Err(Error::NotFound { .. }) => {
                report.skipped += 1;
                return Ok(Some(Settlement::new(claim, None, OutboxDisposition::Done)));
            }
            Err(e) if e.is_retryable() => return Err(e),
            Err(e) => return Ok(Some(self.unsendable(claim, &e, report))),
        };
        if !awaits_sending(&message) {
            // Already accepted, reconciled, failed or in doubt.
            report.skipped += 1;
            return Ok(Some(Settlement::new(claim, None, OutboxDisposition::Done)));
        }
        let (request, reason) = match self.request_for(&message).await {
            Ok(r) => r,
            Err(e) if e.is_retryable() => return Err(e),
            Err(e) => return Ok(Some(self.unsendable(claim, &e, report))),
        };
        if let Some(reason) = reason {
            tracing::info!(message = %message.id, %reason, "outbound message cancelled before sending");
            report.cancelled += 1;
            let mutation = MessageMutation::Cancelled {
                at: self.now(),
                reason,
            };
            return Ok(Some(Settlement::new(
                claim,
                Some(mutation),
                OutboxDisposition::Done,
            )));
        }
        let now = self.now();
        let until = now + chrono_duration(self.config.outbox.attempt_lease);
        match store
            .begin_outbox_attempt(claim, OutboxAttempt { at: now, until })
            .await
        {
            Ok(()) => {}
            Err(Error::Conflict(_)) => {
                tracing::warn!(message = %message.id, "outbox claim lost before sending");
                report.skipped += 1;
                return Ok(None);
            }
            Err(e) => return Err(e),
        }
        let result = self.ports.transport.send(&request).await;
        Ok(Some(self.outcome(claim, &message, result, report)))
    }

    /// A message that can never be sent as it stands (its number or
    /// contact is gone, its row unreadable): marked failed with the reason,
    /// its entry removed, so it does not hold up the queue.
    fn unsendable(
        &self,
        claim: &OutboxClaim,
        e: &Error,
        report: &mut DispatchReport,
    ) -> Settlement {
        tracing::error!(message = %claim.entry.message, error = %e, "outbound message cannot be sent");
        report.skipped += 1;
        let update = DeliveryUpdate {
            pricing: None,
            status: DeliveryStatus::Failed,
            at: self.now(),
            error: Some(ProviderError {
                code: None,
                title: format!("the inbox could not send it: {e}"),
                details: None,
            }),
        };
        let mutation = MessageMutation::Delivery {
            update,
            external_id: None,
        };
        Settlement::new(claim, Some(mutation), OutboxDisposition::Done)
    }

    /// What the transport needs to send a stored message, and why it must
    /// not be sent after all, if it must not ([`cancellation`]).
    async fn request_for(&self, message: &Message) -> Result<(OutboundRequest, Option<String>)> {
        let store = &self.ports.store;
        let tenant = &message.tenant;
        let conversation = store.conversation(tenant, &message.conversation).await?;
        let contact = store.contact(tenant, &conversation.contact).await?;
        let marketing = self
            .policy(tenant)
            .await?
            .document
            .may_be_marketing(&message.content);
        let reason = cancellation(message, &conversation, &contact, marketing);
        let channel = store.channel(tenant, &message.channel).await?;
        let request = OutboundRequest {
            tenant: tenant.clone(),
            channel,
            to: contact.identity,
            message_id: message.id.clone(),
            content: message.content.clone(),
            reply_to: message.context.reply_to.clone(),
        };
        Ok((request, reason))
    }

    /// What to record after a send.
    fn outcome(
        &self,
        claim: &OutboxClaim,
        message: &Message,
        result: std::result::Result<crate::ports::SendReceipt, TransportError>,
        report: &mut DispatchReport,
    ) -> Settlement {
        let at = self.now();
        let policy = self.config.outbox;
        let attempt = claim.entry.attempts + 1;
        let (mutation, disposition) = match result {
            Ok(receipt) => {
                report.sent += 1;
                let update = DeliveryUpdate {
                    pricing: None,
                    status: DeliveryStatus::Accepted,
                    at,
                    error: None,
                };
                let mutation = MessageMutation::Delivery {
                    update,
                    external_id: Some(receipt.external_id),
                };
                (Some(mutation), OutboxDisposition::Done)
            }
            Err(e @ TransportError::InDoubt { .. }) => {
                // The provider may have it: never resend on our own.
                tracing::warn!(message = %message.id, error = %e, "send outcome unknown; message in doubt");
                report.in_doubt += 1;
                (
                    Some(MessageMutation::InDoubt { at }),
                    OutboxDisposition::Done,
                )
            }
            Err(e) if e.is_retryable() && attempt < policy.max_attempts => {
                report.retried += 1;
                let wait = match &e {
                    TransportError::RateLimited {
                        retry_after: Some(d),
                        ..
                    } => (*d).min(policy.max_backoff.max(MAX_RETRY_AFTER)),
                    _ => backoff(
                        policy.base_backoff,
                        policy.max_backoff,
                        attempt,
                        message.id.as_str(),
                    ),
                };
                tracing::info!(message = %message.id, error = %e, ?wait, "send failed, will retry");
                (None, OutboxDisposition::RetryAt(at + chrono_duration(wait)))
            }
            Err(e) => {
                report.failed += 1;
                let update = DeliveryUpdate {
                    pricing: None,
                    status: DeliveryStatus::Failed,
                    at,
                    error: Some(ProviderError {
                        code: e.code(),
                        title: e.to_string(),
                        details: None,
                    }),
                };
                let mutation = MessageMutation::Delivery {
                    update,
                    external_id: None,
                };
                (Some(mutation), OutboxDisposition::Done)
            }
        };
        Settlement::new(claim, mutation, disposition)
    }

    /// Records a settlement: the message's change first (so whoever claims
    /// the entry next sees it), then the claim's release; says whether the
    /// message changed. A release refused because the lease lapsed is not
    /// an error: the message tells the next claimant what happened.
    ///
    /// Only a retryable failure is an error (kept for the next pass); one
    /// that retrying cannot fix (the message is gone, its row unreadable)
    /// is logged and the claim released all the same, so nothing blocks
    /// the queue for good.
    async fn settle(&self, s: &Settlement) -> Result<bool> {
        let store = &self.ports.store;
        let id = &s.claim.entry.message;
        let mut changed = false;
        if let Some(mutation) = &s.mutation {
            let tenant = &s.claim.entry.tenant;
            if let MessageMutation::Delivery { update, .. } = mutation {
                if super::consent::refuses_marketing(update.error.as_ref()) {
                    // (before the settlement: a failure here leaves the
                    // entry claimed, and the next pass records it)
                    match self.record_marketing_refused(tenant, id, update.at).await {
                        Ok(()) => {}
                        Err(e) if e.is_retryable() => return Err(e),
                        Err(e) => {
                            tracing::error!(message = %id, error = %e, "a refused marketing message's stop could not be recorded")
                        }
                    }
                }
            }
            match store.update_message(tenant, id, mutation).await {
                Ok(Some(e)) => {
                    changed = true;
                    self.publish(&[e]).await;
                }
                Ok(None) | Err(Error::NotFound { .. }) => {}
                Err(e) if e.is_retryable() => return Err(e),
                Err(e) => {
                    tracing::error!(message = %id, error = %e, "the outcome of a send could not be recorded")
                }
            }
        }
        match store.release_outbox(&s.claim, s.disposition).await {
            Ok(()) => Ok(changed),
            Err(Error::Conflict(_)) => {
                tracing::warn!(message = %id, "outbox lease lapsed before the outcome was recorded");
                Ok(changed)
            }
            Err(e) if e.is_retryable() => Err(e),
            Err(e) => {
                tracing::error!(message = %id, error = %e, "an outbox claim could not be released");
                Ok(changed)
            }
        }
    }
}

/// Why a message waiting in the outbox must not be sent after all, decided
/// at the last moment so that nothing that happened since it was queued is
/// missed:
///
/// - a bot's reply, once the bot no longer owns the conversation (a
///   person took over, or it was handed off): people always win;
/// - a message that may be marketing (`marketing`:
///   [`TenantSettings::may_be_marketing`](crate::settings::TenantSettings::may_be_marketing))
///   to a customer who stopped marketing messages, whoever queued it.
pub(super) fn cancellation(
    message: &Message,
    conversation: &crate::model::Conversation,
    contact: &crate::model::Contact,
    marketing: bool,
) -> Option<String> {
    let by_bot = conversation
        .bot
        .as_ref()
        .is_some_and(|seat| message.author == crate::model::Author::Agent(seat.agent.clone()));
    if by_bot && conversation.bot_owns().is_none() {
        let who = conversation
            .assignee
            .as_ref()
            .map_or(String::new(), |a| format!(" by {a}"));
        return Some(format!("the bot's reply: taken over{who}"));
    }
    if marketing && !contact.accepts_marketing() {
        return Some(OPTED_OUT.to_string());
    }
    None
}

/// Why a marketing message to a customer who stopped them was not sent.
pub(crate) const OPTED_OUT: &str = "opted_out: the customer stopped marketing messages";

/// An outbound message still waiting to be sent: no provider id, pending,
/// not in doubt.
fn awaits_sending(m: &Message) -> bool {
    m.direction == Direction::Outbound
        && m.external_id.is_none()
        && m.delivery
            .as_ref()
            .is_some_and(|d| d.status == DeliveryStatus::Pending && d.in_doubt_since.is_none())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_caps_and_jitters_deterministically() {
        let base = Duration::from_secs(2);
        let max = Duration::from_secs(60);
        let b1 = backoff(base, max, 1, "m-1");
        let b3 = backoff(base, max, 3, "m-1");
        assert!(b1 <= base && b1 >= base * 3 / 4);
        assert!(b3 <= base * 4 && b3 >= base * 3);
        assert!(backoff(base, max, 30, "m-1") <= max);
        assert_eq!(backoff(base, max, 3, "m-1"), backoff(base, max, 3, "m-1"));
    }
}
