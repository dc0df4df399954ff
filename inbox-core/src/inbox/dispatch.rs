//! The outbox dispatcher: delivers committed replies through the transport.

use chrono::{DateTime, Utc};
use std::time::Duration;

use super::Inbox;
use crate::error::{chrono_duration, Error, Result};
use crate::model::{DeliveryStatus, DeliveryUpdate, Direction, ProviderError};
use crate::ports::{
    MessageMutation, OutboundRequest, OutboxClaim, OutboxDisposition, TransportError,
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
    /// Interrupted attempts found (not resent; reconciled by status webhooks).
    pub in_doubt: u32,
    /// Entries that needed nothing (already reconciled, message gone).
    pub skipped: u32,
}

impl DispatchReport {
    /// Entries handled in this pass.
    pub fn total(&self) -> u32 {
        self.sent + self.retried + self.failed + self.in_doubt + self.skipped
    }
}

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
    /// to one of them.
    ///
    /// Retryable failures (rate limits, transient errors) are rescheduled
    /// with backoff; final ones (window closed, rejected, unauthorized, out
    /// of attempts) mark the message failed with the provider's error. A
    /// claim left by a dispatcher that died mid-send is never sent again: the
    /// message is marked in doubt until a status webhook reconciles it.
    pub async fn dispatch(&self, limit: u32) -> Result<DispatchReport> {
        let now = self.now();
        let policy = self.config.outbox;
        let claims = self
            .ports
            .store
            .claim_outbox(now, policy.lease, limit)
            .await?;
        let mut report = DispatchReport::default();
        for claim in claims {
            let disposition = self.dispatch_one(&claim, now, &mut report).await?;
            match self.ports.store.release_outbox(&claim, disposition).await {
                Ok(()) => {}
                // Our lease lapsed and another dispatcher has it now; what we
                // recorded on the message tells it what happened.
                Err(Error::Conflict(_)) => {
                    tracing::warn!(message = %claim.entry.message, "outbox lease lapsed during send")
                }
                Err(e) => return Err(e),
            }
        }
        Ok(report)
    }

    async fn dispatch_one(
        &self,
        claim: &OutboxClaim,
        now: DateTime<Utc>,
        report: &mut DispatchReport,
    ) -> Result<OutboxDisposition> {
        let store = &self.ports.store;
        let tenant = &claim.entry.tenant;
        let message = match store.message(tenant, &claim.entry.message).await {
            Ok(m) => m,
            Err(Error::NotFound { .. }) => {
                report.skipped += 1;
                return Ok(OutboxDisposition::Done);
            }
            Err(e) => return Err(e),
        };
        let pending = message.direction == Direction::Outbound
            && message.external_id.is_none()
            && message
                .delivery
                .as_ref()
                .is_some_and(|d| d.status == DeliveryStatus::Pending && d.in_doubt_since.is_none());
        if !pending {
            // Already accepted, reconciled, failed or in doubt.
            report.skipped += 1;
            return Ok(OutboxDisposition::Done);
        }
        if claim.in_doubt {
            if let Some(e) = store
                .update_message(tenant, &message.id, &MessageMutation::InDoubt { at: now })
                .await?
            {
                self.publish(&[e]).await;
            }
            report.in_doubt += 1;
            return Ok(OutboxDisposition::Done);
        }
        let conversation = store.conversation(tenant, &message.conversation).await?;
        let contact = store.contact(tenant, &conversation.contact).await?;
        let channel = store.channel(tenant, &message.channel).await?;
        let request = OutboundRequest {
            tenant: tenant.clone(),
            channel,
            to: contact.identity,
            message_id: message.id.clone(),
            content: message.content.clone(),
            reply_to: message.context.reply_to.clone(),
        };
        let result = self.ports.transport.send(&request).await;
        let at = self.now();
        let (mutation, disposition) = match result {
            Ok(receipt) => {
                report.sent += 1;
                (
                    MessageMutation::Delivery {
                        update: DeliveryUpdate {
                            status: DeliveryStatus::Accepted,
                            at,
                            error: None,
                        },
                        external_id: Some(receipt.external_id),
                    },
                    OutboxDisposition::Done,
                )
            }
            Err(e @ TransportError::InDoubt { .. }) => {
                // Meta may have the message: never resend it on our own.
                tracing::warn!(message = %message.id, error = %e, "send outcome unknown; message in doubt");
                report.in_doubt += 1;
                (MessageMutation::InDoubt { at }, OutboxDisposition::Done)
            }
            Err(e)
                if e.is_retryable() && claim.entry.attempts < self.config.outbox.max_attempts =>
            {
                report.retried += 1;
                let policy = self.config.outbox;
                let wait = match &e {
                    TransportError::RateLimited {
                        retry_after: Some(d),
                        ..
                    } => *d,
                    _ => backoff(
                        policy.base_backoff,
                        policy.max_backoff,
                        claim.entry.attempts,
                        message.id.as_str(),
                    ),
                };
                tracing::info!(message = %message.id, error = %e, ?wait, "send failed, will retry");
                return Ok(OutboxDisposition::RetryAt(at + chrono_duration(wait)));
            }
            Err(e) => {
                report.failed += 1;
                (
                    MessageMutation::Delivery {
                        update: DeliveryUpdate {
                            status: DeliveryStatus::Failed,
                            at,
                            error: Some(ProviderError {
                                code: e.code(),
                                title: e.to_string(),
                                details: None,
                            }),
                        },
                        external_id: None,
                    },
                    OutboxDisposition::Done,
                )
            }
        };
        if let Some(e) = store.update_message(tenant, &message.id, &mutation).await? {
            self.publish(&[e]).await;
        }
        Ok(disposition)
    }
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
