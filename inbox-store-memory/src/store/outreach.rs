//! [`Outreach`] on the memory store: broadcasts and their recipients, by
//! tenant, apart from the conversations (they never share a commit).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use std::sync::PoisonError;

use inbox_core::error::{Conflict, Entity, Error, Result, Unique};
use inbox_core::ids::{BroadcastId, ContactId, TenantId};
use inbox_core::model::{Broadcast, Contact, Recipient, RecipientCounts, RecipientState, Segment};
use inbox_core::ports::{settles, Outreach, RecipientClaim, RecipientOutcome};

use super::MemoryStore;

/// Broadcasts and recipients.
#[derive(Debug, Default)]
pub(super) struct OutreachState {
    broadcasts: BTreeMap<(TenantId, BroadcastId), Broadcast>,
    recipients: BTreeMap<(TenantId, BroadcastId, ContactId), Row>,
    next_token: u64,
}

/// A recipient and its claim (token, until).
#[derive(Debug, Clone)]
struct Row {
    recipient: Recipient,
    claim: Option<(u64, DateTime<Utc>)>,
}

impl MemoryStore {
    fn outreach_write(&self) -> std::sync::RwLockWriteGuard<'_, OutreachState> {
        self.outreach
            .write()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn outreach_read(&self) -> std::sync::RwLockReadGuard<'_, OutreachState> {
        self.outreach.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn require_broadcast(
        &self,
        o: &OutreachState,
        tenant: &TenantId,
        id: &BroadcastId,
    ) -> Result<()> {
        match o.broadcasts.contains_key(&(tenant.clone(), id.clone())) {
            true => Ok(()),
            false => Err(Error::not_found(Entity::Broadcast, id)),
        }
    }
}

#[async_trait]
impl Outreach for MemoryStore {
    async fn put_broadcast(&self, b: &Broadcast, expected: Option<u64>) -> Result<()> {
        if !self.read().tenants.contains_key(&b.tenant) {
            return Err(Error::not_found(Entity::Tenant, &b.tenant));
        }
        let mut o = self.outreach_write();
        let key = (b.tenant.clone(), b.id.clone());
        let stored = o.broadcasts.get(&key).map(|s| s.version);
        let version = match (stored, expected) {
            (None, None) => 1,
            (Some(_), None) => {
                return Err(Error::Duplicate {
                    what: Unique::Broadcast,
                    existing: b.id.to_string(),
                })
            }
            (Some(v), Some(e)) if v == e => v + 1,
            (found, Some(e)) => {
                let found = found.unwrap_or(0);
                return Err(Error::Conflict(Box::new(Conflict::on(
                    Entity::Broadcast,
                    &b.id,
                    e,
                    found,
                ))));
            }
        };
        let mut stored = b.clone();
        stored.version = version;
        o.broadcasts.insert(key, stored);
        Ok(())
    }

    async fn broadcast(&self, tenant: &TenantId, id: &BroadcastId) -> Result<Broadcast> {
        self.outreach_read()
            .broadcasts
            .get(&(tenant.clone(), id.clone()))
            .cloned()
            .ok_or_else(|| Error::not_found(Entity::Broadcast, id))
    }

    async fn broadcasts(&self, tenant: &TenantId) -> Result<Vec<Broadcast>> {
        let o = self.outreach_read();
        let mut all: Vec<Broadcast> = o
            .broadcasts
            .iter()
            .filter(|((t, _), _)| t == tenant)
            .map(|(_, b)| b.clone())
            .collect();
        all.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
        Ok(all)
    }

    async fn due_broadcasts(&self, now: DateTime<Utc>, limit: u32) -> Result<Vec<Broadcast>> {
        let o = self.outreach_read();
        let mut due: Vec<(DateTime<Utc>, Broadcast)> = o
            .broadcasts
            .values()
            .filter_map(|b| b.due_at().filter(|at| *at <= now).map(|at| (at, b.clone())))
            .collect();
        due.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.id.cmp(&b.1.id)));
        Ok(due
            .into_iter()
            .take(limit as usize)
            .map(|(_, b)| b)
            .collect())
    }

    async fn add_recipients(
        &self,
        tenant: &TenantId,
        broadcast: &BroadcastId,
        recipients: &[Recipient],
    ) -> Result<u32> {
        let mut o = self.outreach_write();
        self.require_broadcast(&o, tenant, broadcast)?;
        let mut added = 0;
        for r in recipients {
            let key = (tenant.clone(), broadcast.clone(), r.contact.clone());
            if let std::collections::btree_map::Entry::Vacant(slot) = o.recipients.entry(key) {
                slot.insert(Row {
                    recipient: r.clone(),
                    claim: None,
                });
                added += 1;
            }
        }
        Ok(added)
    }

    async fn claim_recipients(
        &self,
        tenant: &TenantId,
        broadcast: &BroadcastId,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<RecipientClaim>> {
        let mut o = self.outreach_write();
        self.require_broadcast(&o, tenant, broadcast)?;
        let keys: Vec<(TenantId, BroadcastId, ContactId)> = o
            .recipients
            .iter()
            .filter(|((t, b, _), row)| {
                let free = row.claim.is_none_or(|(_, lapse)| lapse <= now);
                t == tenant
                    && b == broadcast
                    && row.recipient.state == RecipientState::Pending
                    && free
            })
            .take(limit as usize)
            .map(|(key, _)| key.clone())
            .collect();
        let mut claims = Vec::new();
        for key in keys {
            o.next_token += 1;
            let token = o.next_token;
            if let Some(row) = o.recipients.get_mut(&key) {
                row.claim = Some((token, until));
            }
            claims.push(RecipientClaim {
                tenant: key.0,
                broadcast: key.1,
                contact: key.2,
                token,
            });
        }
        Ok(claims)
    }

    async fn settle_recipient(
        &self,
        claim: &RecipientClaim,
        outcome: &RecipientOutcome,
    ) -> Result<()> {
        let mut o = self.outreach_write();
        let key = (
            claim.tenant.clone(),
            claim.broadcast.clone(),
            claim.contact.clone(),
        );
        let row = o
            .recipients
            .get_mut(&key)
            .ok_or_else(|| Error::not_found(Entity::Recipient, &claim.contact))?;
        let held = row.claim.is_some_and(|(token, _)| token == claim.token);
        if !held || !settles(row.recipient.state) {
            return Err(Error::Conflict(Box::new(Conflict::on(
                Entity::Recipient,
                &claim.contact,
                claim.token,
                0,
            ))));
        }
        row.claim = None;
        match outcome {
            RecipientOutcome::Queued(message) => {
                row.recipient.state = RecipientState::Queued;
                row.recipient.message = Some(message.clone());
            }
            RecipientOutcome::Skipped(reason) => {
                row.recipient.state = RecipientState::Skipped;
                row.recipient.reason = Some(reason.clone());
            }
        }
        Ok(())
    }

    async fn recipients(
        &self,
        tenant: &TenantId,
        broadcast: &BroadcastId,
        after: Option<&ContactId>,
        limit: u32,
    ) -> Result<Vec<Recipient>> {
        let o = self.outreach_read();
        self.require_broadcast(&o, tenant, broadcast)?;
        Ok(o.recipients
            .iter()
            .filter(|((t, b, c), _)| t == tenant && b == broadcast && after.is_none_or(|a| c > a))
            .take(limit as usize)
            .map(|(_, row)| row.recipient.clone())
            .collect())
    }

    async fn recipient_counts(
        &self,
        tenant: &TenantId,
        broadcast: &BroadcastId,
    ) -> Result<RecipientCounts> {
        let o = self.outreach_read();
        self.require_broadcast(&o, tenant, broadcast)?;
        let mut counts = RecipientCounts::default();
        for ((t, b, _), row) in &o.recipients {
            if t == tenant && b == broadcast {
                match row.recipient.state {
                    RecipientState::Pending => counts.pending += 1,
                    RecipientState::Queued => counts.queued += 1,
                    RecipientState::Skipped => counts.skipped += 1,
                }
            }
        }
        Ok(counts)
    }

    async fn segment_contacts(
        &self,
        tenant: &TenantId,
        segment: &Segment,
        after: Option<&ContactId>,
        limit: u32,
    ) -> Result<Vec<Contact>> {
        Ok(self.with_tenant(tenant, |d| {
            let mut found: Vec<&Contact> = d
                .contacts
                .values()
                .filter(|c| after.is_none_or(|a| &c.id > a) && segment.matches(c))
                .collect();
            found.sort_by(|a, b| a.id.cmp(&b.id));
            found.into_iter().take(limit as usize).cloned().collect()
        }))
    }
}
