//! [`Scheduling`] on the memory store.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::collections::HashMap;

use inbox_core::error::{Conflict, Entity, Error, Result};
use inbox_core::ids::{AgentId, ConversationId, MessageId, TenantId};
use inbox_core::ports::{
    Lease, LeaseKey, LeaseRequest, OutboxAttempt, OutboxClaim, OutboxClaimRequest,
    OutboxDisposition, Scheduling,
};
use inbox_core::timer::Timer;

use super::MemoryStore;

#[async_trait]
impl Scheduling for MemoryStore {
    async fn due_timers(&self, now: DateTime<Utc>, limit: u32) -> Result<Vec<Timer>> {
        let s = self.read();
        Ok(s.timers_by_due
            .keys()
            .take_while(|(due, ..)| *due <= now)
            .take(limit as usize)
            .map(|(due, tenant, conversation, kind)| Timer {
                tenant: tenant.clone(),
                conversation: conversation.clone(),
                kind: *kind,
                due_at: *due,
            })
            .collect())
    }

    async fn acquire_lease(&self, request: LeaseRequest<'_>) -> Result<Lease> {
        let (tenant, conversation) = (request.key.tenant, request.key.conversation);
        let mut s = self.write();
        if !s
            .data(tenant)
            .is_some_and(|d| d.conversations.contains_key(conversation))
        {
            return Err(Error::not_found(Entity::Conversation, conversation));
        }
        let key = (tenant.clone(), conversation.clone());
        match s.leases.get(&key) {
            Some(l) if l.holder != *request.agent && l.until > request.now => Ok(l.clone()),
            _ => {
                let lease = Lease {
                    holder: request.agent.clone(),
                    until: request.until,
                };
                s.leases.insert(key, lease.clone());
                Ok(lease)
            }
        }
    }

    async fn release_lease(&self, key: LeaseKey<'_>, agent: &AgentId) -> Result<bool> {
        let mut s = self.write();
        let key = (key.tenant.clone(), key.conversation.clone());
        if s.leases.get(&key).is_some_and(|l| &l.holder == agent) {
            s.leases.remove(&key);
            return Ok(true);
        }
        Ok(false)
    }

    async fn lease(&self, key: LeaseKey<'_>, now: DateTime<Utc>) -> Result<Option<Lease>> {
        let s = self.read();
        Ok(s.leases
            .get(&(key.tenant.clone(), key.conversation.clone()))
            .filter(|l| l.until > now)
            .cloned())
    }

    async fn claim_outbox(&self, request: OutboxClaimRequest) -> Result<Vec<OutboxClaim>> {
        let OutboxClaimRequest { now, lease, limit } = request;
        let mut s = self.write();
        let lease_until =
            now + chrono::TimeDelta::from_std(lease).unwrap_or(chrono::TimeDelta::MAX);
        // Each conversation's first entry in commit order.
        let mut heads: HashMap<(&TenantId, &ConversationId), u64> = HashMap::new();
        for ((t, _), row) in &s.outbox {
            let first = heads.entry((t, &row.conversation)).or_insert(row.seq);
            *first = (*first).min(row.seq);
        }
        let mut due: Vec<((TenantId, MessageId), DateTime<Utc>)> = s
            .outbox
            .iter()
            .filter(|((t, _), row)| heads.get(&(t, &row.conversation)) == Some(&row.seq))
            .filter_map(|(k, row)| match row.claim {
                None if row.entry.not_before <= now => Some((k.clone(), row.entry.not_before)),
                Some((_, until)) if until <= now => Some((k.clone(), until)),
                _ => None,
            })
            .collect();
        due.sort_by(|a, b| a.1.cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
        due.truncate(limit as usize);
        let mut claims = Vec::with_capacity(due.len());
        for (key, _) in due {
            s.next_token += 1;
            let token = s.next_token;
            if let Some(row) = s.outbox.get_mut(&key) {
                let in_doubt = row.claim.is_some() && row.sending_since.is_some();
                row.claim = Some((token, lease_until));
                claims.push(OutboxClaim {
                    entry: row.entry.clone(),
                    token,
                    lease_until,
                    in_doubt,
                });
            }
        }
        Ok(claims)
    }

    async fn release_outbox(
        &self,
        claim: &OutboxClaim,
        disposition: OutboxDisposition,
    ) -> Result<()> {
        let mut s = self.write();
        let key = (claim.entry.tenant.clone(), claim.entry.message.clone());
        let row = s.outbox.get_mut(&key).ok_or_else(|| stale_claim(claim))?;
        if row.claim.map(|(t, _)| t) != Some(claim.token) {
            return Err(stale_claim(claim));
        }
        match disposition {
            OutboxDisposition::Done => {
                s.outbox.remove(&key);
            }
            OutboxDisposition::RetryAt(at) => {
                row.claim = None;
                row.sending_since = None;
                row.entry.not_before = at;
            }
        }
        Ok(())
    }

    async fn begin_outbox_attempt(
        &self,
        claim: &OutboxClaim,
        attempt: OutboxAttempt,
    ) -> Result<()> {
        let OutboxAttempt { at, until } = attempt;
        let mut s = self.write();
        let key = (claim.entry.tenant.clone(), claim.entry.message.clone());
        match s.outbox.get_mut(&key) {
            Some(row)
                if row
                    .claim
                    .is_some_and(|(t, lease)| t == claim.token && lease > at) =>
            {
                row.entry.attempts += 1;
                row.sending_since = Some(at);
                row.claim = row.claim.map(|(t, lease)| (t, lease.max(until)));
                Ok(())
            }
            _ => Err(stale_claim(claim)),
        }
    }
}

/// The conflict of an outbox claim that is no longer held.
fn stale_claim(claim: &OutboxClaim) -> Error {
    Error::Conflict(Box::new(Conflict::on(
        Entity::OutboxEntry,
        &claim.entry.message,
        claim.token,
        0,
    )))
}
