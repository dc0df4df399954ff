//! Conversations written on the CRM record: [`CrmLogger`] follows each
//! tenant's event log (like an outbound subscription, with its position,
//! retries and dead letters kept in the store's
//! [`SubscriptionLog`](inbox_core::ports::SubscriptionLog)) and, per the
//! tenant's `log` policy of each CRM connector, writes a resolved
//! conversation's transcript or each message on the customer's record.

mod entry;

use async_trait::async_trait;
use chrono::TimeDelta;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use inbox_core::event::Event;
use inbox_core::ports::{
    Clock, DeliveryOutcome, DeliveryRecord, Store, SubscriptionCommit, SubscriptionKey,
    SubscriptionLog,
};
use inbox_core::settings::{ConnectorsSection, CrmLog};
use inbox_core::TenantId;

use crate::{Connector, ConnectorError, ConnectorKind, Connectors, LogEntry};

pub use entry::MAX_TRANSCRIPT_CHARS;

/// Where the logger finds a tenant's connector ([`Connectors`] in
/// production; a test may give its own).
#[async_trait]
pub trait ConnectorLookup: Send + Sync {
    /// The tenant's connector of this kind (`None`: not set up).
    async fn connector(
        &self,
        tenant: &TenantId,
        kind: ConnectorKind,
    ) -> Result<Option<Arc<dyn Connector>>, ConnectorError>;
}

#[async_trait]
impl ConnectorLookup for Connectors {
    async fn connector(
        &self,
        tenant: &TenantId,
        kind: ConnectorKind,
    ) -> Result<Option<Arc<dyn Connector>>, ConnectorError> {
        Connectors::connector(self, tenant, kind).await
    }
}

/// How hard the logger tries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogPolicy {
    /// Attempts before an entry becomes a dead letter.
    pub max_attempts: u32,
    /// The wait before the second attempt; doubled after each.
    pub base_delay: Duration,
    /// The longest wait.
    pub max_delay: Duration,
    /// Events older than this are passed over, not written: what happened
    /// before a connector was set up, or during a long outage of the
    /// logger, is not poured onto the CRM at once.
    pub max_age: Duration,
}

impl Default for LogPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 8,
            base_delay: Duration::from_secs(30),
            max_delay: Duration::from_secs(3600),
            max_age: Duration::from_secs(24 * 3600),
        }
    }
}

impl LogPolicy {
    fn delay_after(&self, attempts: u32) -> TimeDelta {
        let factor = 1u32
            .checked_shl(attempts.saturating_sub(1))
            .unwrap_or(u32::MAX);
        let delay = self
            .base_delay
            .checked_mul(factor)
            .unwrap_or(self.max_delay)
            .min(self.max_delay);
        TimeDelta::from_std(delay).unwrap_or(TimeDelta::MAX)
    }
}

/// What a [`CrmLogger::pump`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LogReport {
    /// Events read.
    pub read: u32,
    /// Entries written on a record.
    pub written: u32,
    /// Entries with no record to write on (and none to create).
    pub no_record: u32,
    /// Failed attempts scheduled again.
    pub retrying: u32,
    /// Entries given up (dead letters, kept in the subscription log).
    pub dead: u32,
}

enum Outcome {
    Written,
    NoRecord,
    Skipped,
    Failed(ConnectorError),
}

/// Writes conversations on CRM records, per each tenant's settings; call
/// [`CrmLogger::pump`] in a loop (every few seconds). One logger per store
/// at a time. Delivery is at least once: an entry interrupted before its
/// outcome was recorded is written again (the entry names the
/// conversation, so a person can tell).
pub struct CrmLogger {
    connectors: Arc<dyn ConnectorLookup>,
    store: Arc<dyn Store>,
    log: Arc<dyn SubscriptionLog>,
    clock: Arc<dyn Clock>,
    policy: LogPolicy,
    sections: Mutex<HashMap<TenantId, (u64, ConnectorsSection)>>,
}

impl std::fmt::Debug for CrmLogger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CrmLogger")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

/// The subscription id a connector's log position is kept under.
pub fn log_subscription(kind: ConnectorKind) -> String {
    format!("connector:{}", kind.id())
}

impl CrmLogger {
    /// A logger reading `store`'s events and settings, keeping its
    /// positions, retries and dead letters in `log` (usually the store).
    pub fn new(
        connectors: Arc<dyn ConnectorLookup>,
        store: Arc<dyn Store>,
        log: Arc<dyn SubscriptionLog>,
        clock: Arc<dyn Clock>,
        policy: LogPolicy,
    ) -> Self {
        Self {
            connectors,
            store,
            log,
            clock,
            policy,
            sections: Mutex::new(HashMap::new()),
        }
    }

    /// Reads each logging connector's new events (at most `limit` per
    /// connector and tenant), writes what its policy asks, and retries the
    /// entries that are due. Fails only when the store does.
    pub async fn pump(&self, limit: u32) -> inbox_core::Result<LogReport> {
        let mut report = LogReport::default();
        for (tenant, section) in self.logging_tenants().await? {
            for kind in [ConnectorKind::HubSpot, ConnectorKind::Zoho] {
                if let Some(policy) = log_policy(&section, kind) {
                    self.follow(&tenant, kind, policy, limit, &mut report)
                        .await?;
                    self.retry(&tenant, kind, policy, limit, &mut report)
                        .await?;
                }
            }
        }
        Ok(report)
    }

    /// Tenants whose settings name a connector that logs (settings read
    /// again only when their version changed).
    async fn logging_tenants(&self) -> inbox_core::Result<Vec<(TenantId, ConnectorsSection)>> {
        let versions = self.store.settings_versions().await?;
        let mut found = Vec::new();
        for (tenant, version) in versions {
            let known = self
                .lock()
                .get(&tenant)
                .filter(|(v, _)| *v == version)
                .cloned();
            let section = match known {
                Some((_, s)) => s,
                None => {
                    let stored = self.store.settings(&tenant).await?;
                    let s = stored.map(|s| s.document.connectors).unwrap_or_default();
                    self.lock().insert(tenant.clone(), (version, s.clone()));
                    s
                }
            };
            if ConnectorKind::ALL
                .iter()
                .any(|k| log_policy(&section, *k).is_some())
            {
                found.push((tenant, section));
            }
        }
        Ok(found)
    }

    async fn follow(
        &self,
        tenant: &TenantId,
        kind: ConnectorKind,
        policy: CrmLog,
        limit: u32,
        report: &mut LogReport,
    ) -> inbox_core::Result<()> {
        let id = log_subscription(kind);
        let key = SubscriptionKey::of(tenant, &id);
        let after = self.log.subscription_position(key).await?.unwrap_or(0);
        let events = self.store.events_since(tenant, after, limit).await?;
        let Some(last) = events.last().map(|e| e.seq) else {
            return Ok(());
        };
        report.read += events.len() as u32;
        let oldest =
            self.clock.now() - TimeDelta::from_std(self.policy.max_age).unwrap_or(TimeDelta::MAX);
        let mut commit = SubscriptionCommit {
            position: last,
            retries: Vec::new(),
            dead: Vec::new(),
        };
        for event in events.into_iter().filter(|e| e.at >= oldest) {
            let outcome = self.write(tenant, kind, policy, &event).await;
            match self.next_step(outcome, 1, report).record(&id, event) {
                Some(DeliveryRecord::Retry(r)) => commit.retries.push(r),
                Some(DeliveryRecord::Dead(d)) => commit.dead.push(d),
                None => {}
            }
        }
        self.log.subscription_commit(key, commit).await
    }

    async fn retry(
        &self,
        tenant: &TenantId,
        kind: ConnectorKind,
        policy: CrmLog,
        limit: u32,
        report: &mut LogReport,
    ) -> inbox_core::Result<()> {
        let id = log_subscription(kind);
        let key = SubscriptionKey::of(tenant, &id);
        let now = self.clock.now();
        for due in self.log.subscription_due_retries(key, now, limit).await? {
            let outcome = self.write(tenant, kind, policy, &due.event).await;
            let step = self.next_step(outcome, due.attempts + 1, report);
            self.log
                .subscription_settle(key, due.event.seq, step)
                .await?;
        }
        Ok(())
    }

    /// What follows an attempt, counted in the report.
    fn next_step(
        &self,
        outcome: Outcome,
        attempts: u32,
        report: &mut LogReport,
    ) -> DeliveryOutcome {
        let now = self.clock.now();
        let e = match outcome {
            Outcome::Written => {
                report.written += 1;
                return DeliveryOutcome::Delivered;
            }
            Outcome::NoRecord => {
                report.no_record += 1;
                return DeliveryOutcome::Delivered;
            }
            Outcome::Skipped => return DeliveryOutcome::Delivered,
            Outcome::Failed(e) => e,
        };
        if e.is_transient() && attempts < self.policy.max_attempts {
            report.retrying += 1;
            tracing::debug!(connector = %e.connector(), attempts, error = %e, "CRM log failed; retrying");
            return DeliveryOutcome::Retry {
                attempts,
                due: now + self.policy.delay_after(attempts),
                last_error: e.to_string(),
            };
        }
        report.dead += 1;
        tracing::warn!(connector = %e.connector(), attempts, error = %e, "CRM log given up");
        DeliveryOutcome::Dead {
            attempts,
            last_error: e.to_string(),
            failed_at: now,
        }
    }

    /// Writes what `event` asks under `policy`, if anything.
    async fn write(
        &self,
        tenant: &TenantId,
        kind: ConnectorKind,
        policy: CrmLog,
        event: &Event,
    ) -> Outcome {
        let entry = match self.entry(tenant, policy, event).await {
            Ok(Some(entry)) => entry,
            Ok(None) => return Outcome::Skipped,
            Err(e) => return Outcome::Failed(e.into_connector(kind)),
        };
        let connector = match self.connectors.connector(tenant, kind).await {
            Ok(Some(c)) => c,
            Ok(None) => return Outcome::Skipped,
            Err(e) => return Outcome::Failed(e),
        };
        match connector.log(&entry).await {
            Ok(crate::Logged::Written { .. }) => Outcome::Written,
            Ok(crate::Logged::NoRecord) => Outcome::NoRecord,
            Err(e) => Outcome::Failed(e),
        }
    }

    /// The entry an event makes under a policy (`None`: nothing to write).
    async fn entry(
        &self,
        tenant: &TenantId,
        policy: CrmLog,
        event: &Event,
    ) -> Result<Option<LogEntry>, StoreFailure> {
        let Some(conversation_id) = &event.conversation else {
            return Ok(None);
        };
        let wanted_message = match policy {
            CrmLog::Off => return Ok(None),
            CrmLog::Resolved if entry::resolution(event) => None,
            CrmLog::EachMessage => match entry::message_of(event) {
                Some(m) => Some(m),
                None => return Ok(None),
            },
            CrmLog::Resolved => return Ok(None),
        };
        let store = &self.store;
        let conversation = store.conversation(tenant, conversation_id).await?;
        if conversation.imported {
            return Ok(None);
        }
        let contact = store.contact(tenant, &conversation.contact).await?;
        Ok(Some(match wanted_message {
            Some(id) => {
                let message = store.message(tenant, id).await?;
                entry::for_message(event, &contact, &message)
            }
            None => {
                let messages = store.messages(tenant, conversation_id).await?;
                entry::for_resolution(event, &contact, &messages)
            }
        }))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<TenantId, (u64, ConnectorsSection)>> {
        self.sections.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A store read that failed while building an entry: retried like a
/// provider outage.
struct StoreFailure(inbox_core::Error);

impl From<inbox_core::Error> for StoreFailure {
    fn from(e: inbox_core::Error) -> Self {
        Self(e)
    }
}

impl StoreFailure {
    fn into_connector(self, kind: ConnectorKind) -> ConnectorError {
        ConnectorError::Unavailable {
            connector: kind,
            reason: format!("the inbox's store failed: {}", self.0),
        }
    }
}

/// The log policy of a connector that is set, enabled and logs.
fn log_policy(section: &ConnectorsSection, kind: ConnectorKind) -> Option<CrmLog> {
    let (enabled, log) = match kind {
        ConnectorKind::HubSpot => section.hubspot.as_ref().map(|s| (s.enabled, s.log))?,
        ConnectorKind::Zoho => section.zoho.as_ref().map(|s| (s.enabled, s.log))?,
        ConnectorKind::Shopify => return None,
    };
    (enabled && log != CrmLog::Off).then_some(log)
}
