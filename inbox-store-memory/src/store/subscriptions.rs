//! [`SubscriptionLog`] on the memory store: one [`SubscriptionState`] per
//! tenant and subscription.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use inbox_core::error::Result;
use inbox_core::ids::TenantId;
use inbox_core::ports::{
    DeliveryOutcome, DeliveryRecord, SubscriptionCommit, SubscriptionDeadLetter, SubscriptionKey,
    SubscriptionLog, SubscriptionRetry,
};

use super::{MemoryStore, SubscriptionState};

/// The key of a subscription's state in the store.
fn slot(key: SubscriptionKey<'_>) -> (TenantId, String) {
    (key.tenant.clone(), key.subscription.to_string())
}

impl MemoryStore {
    /// What `read` makes of a subscription's state; the default if it has
    /// none yet.
    fn with_subscription<T: Default>(
        &self,
        key: SubscriptionKey<'_>,
        read: impl FnOnce(&SubscriptionState) -> T,
    ) -> T {
        self.read()
            .subscriptions
            .get(&slot(key))
            .map_or_else(T::default, read)
    }
}

#[async_trait]
impl SubscriptionLog for MemoryStore {
    async fn subscription_position(&self, key: SubscriptionKey<'_>) -> Result<Option<u64>> {
        Ok(self.with_subscription(key, |w| w.position))
    }

    async fn subscription_commit(
        &self,
        key: SubscriptionKey<'_>,
        commit: SubscriptionCommit,
    ) -> Result<()> {
        let SubscriptionCommit {
            position,
            retries,
            dead,
        } = commit;
        let mut s = self.write();
        let w = s.subscriptions.entry(slot(key)).or_default();
        w.position = Some(w.position.map_or(position, |p| p.max(position)));
        for r in retries {
            w.dead.remove(&r.event.seq);
            w.retries.insert(r.event.seq, r);
        }
        for d in dead {
            w.retries.remove(&d.event.seq);
            w.dead.insert(d.event.seq, d);
        }
        Ok(())
    }

    async fn subscription_due_retries(
        &self,
        key: SubscriptionKey<'_>,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<SubscriptionRetry>> {
        let mut due: Vec<SubscriptionRetry> = self.with_subscription(key, |w| {
            w.retries
                .values()
                .filter(|r| r.due <= now)
                .cloned()
                .collect()
        });
        due.sort_by_key(|r| (r.due, r.event.seq));
        due.truncate(limit as usize);
        Ok(due)
    }

    async fn subscription_settle(
        &self,
        key: SubscriptionKey<'_>,
        seq: u64,
        outcome: DeliveryOutcome,
    ) -> Result<()> {
        let mut s = self.write();
        let Some(w) = s.subscriptions.get_mut(&slot(key)) else {
            return Ok(());
        };
        let event = match (w.retries.remove(&seq), w.dead.remove(&seq)) {
            (Some(r), _) => r.event,
            (None, Some(d)) => d.event,
            (None, None) => return Ok(()),
        };
        match outcome.record(key.subscription, event) {
            None => {}
            Some(DeliveryRecord::Retry(r)) => {
                w.retries.insert(seq, r);
            }
            Some(DeliveryRecord::Dead(d)) => {
                w.dead.insert(seq, d);
            }
        }
        Ok(())
    }

    async fn subscription_dead_letters(
        &self,
        key: SubscriptionKey<'_>,
    ) -> Result<Vec<SubscriptionDeadLetter>> {
        Ok(self.with_subscription(key, |w| w.dead.values().cloned().collect()))
    }
}
