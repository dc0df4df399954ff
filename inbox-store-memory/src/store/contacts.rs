//! [`Contacts`] on the memory store.

use async_trait::async_trait;
use std::collections::HashSet;

use inbox_core::error::{Conflict, Entity, Error, Result, Unique};
use inbox_core::ids::{ContactId, ConversationId, TenantId};
use inbox_core::model::{Contact, ContactIdentity};
use inbox_core::ports::{Committed, ContactMerge, Contacts};

use super::{duplicate, MemoryStore, TenantData};

impl TenantData {
    /// The contact with the identity's `wa_id`, else with its `user_id`.
    pub(super) fn contact_by_identity(&self, identity: &ContactIdentity) -> Option<&Contact> {
        let id = identity
            .wa_id
            .as_ref()
            .and_then(|w| self.contact_by_wa.get(w))
            .or_else(|| {
                identity
                    .user_id
                    .as_ref()
                    .and_then(|u| self.contact_by_user.get(u))
            })
            .or_else(|| {
                identity
                    .parent_user_id
                    .as_ref()
                    .and_then(|p| self.contact_by_parent.get(p))
            });
        id.and_then(|id| self.contacts.get(id))
    }
}

#[async_trait]
impl Contacts for MemoryStore {
    async fn contacts(&self, tenant: &TenantId, ids: &[ContactId]) -> Result<Vec<Contact>> {
        let mut seen = HashSet::new();
        Ok(self.with_tenant(tenant, |d| {
            ids.iter()
                .filter(|id| seen.insert(*id))
                .filter_map(|id| d.contacts.get(id))
                .cloned()
                .collect()
        }))
    }

    async fn find_contact(
        &self,
        tenant: &TenantId,
        identity: &ContactIdentity,
    ) -> Result<Option<Contact>> {
        Ok(self.find(tenant, |d| d.contact_by_identity(identity)))
    }

    async fn merge_contacts(&self, tenant: &TenantId, m: &ContactMerge) -> Result<Committed> {
        let mut s = self.write();
        s.require_tenant(tenant)?;
        let d = s
            .data
            .get_mut(tenant)
            .ok_or_else(|| Error::not_found(Entity::Contact, &m.into.value.id))?;
        let (from, into) = (&m.from.value, &m.into.value);
        if from.tenant != *tenant
            || into.tenant != *tenant
            || m.events.iter().any(|e| &e.tenant != tenant)
        {
            return Err(Error::invalid("merge", "belongs to another tenant"));
        }
        for w in [&m.from, &m.into] {
            let cur = d
                .contacts
                .get(&w.value.id)
                .ok_or_else(|| Error::not_found(Entity::Contact, &w.value.id))?;
            let expected = w.expected_version.unwrap_or(0);
            if cur.version != expected || w.value.version != expected + 1 {
                return Err(Error::Conflict(Box::new(Conflict::on(
                    Entity::Contact,
                    &w.value.id,
                    expected,
                    cur.version,
                ))));
            }
        }
        // Both active on one channel: refuse before changing anything.
        let moving: Vec<ConversationId> = d
            .conversations
            .values()
            .filter(|c| c.contact == from.id)
            .map(|c| c.id.clone())
            .collect();
        for id in &moving {
            let c = &d.conversations[id];
            if c.status.is_active() {
                if let Some(active) = d.active_by_pair.get(&(c.channel.clone(), into.id.clone())) {
                    return Err(duplicate(Unique::ActiveConversation, active));
                }
            }
        }
        // Identities: the tombstone lets go, the survivor takes.
        d.unindex_contact(&from.id);
        d.unindex_contact(&into.id);
        d.index_contact(into);
        d.contacts.insert(from.id.clone(), from.clone());
        d.contacts.insert(into.id.clone(), into.clone());
        for id in moving {
            let Some(c) = d.conversations.get_mut(&id) else {
                continue;
            };
            c.contact = into.id.clone();
            c.version += 1;
            let (channel, active, created, cid) = (
                c.channel.clone(),
                c.status.is_active(),
                c.created_at,
                c.id.clone(),
            );
            let old = (channel.clone(), from.id.clone());
            let new = (channel, into.id.clone());
            if d.active_by_pair.get(&old) == Some(&cid) {
                d.active_by_pair.remove(&old);
            }
            if active {
                d.active_by_pair.insert(new.clone(), cid.clone());
            }
            if d.latest_by_pair.get(&old) == Some(&cid) {
                d.latest_by_pair.remove(&old);
            }
            let newer = match d
                .latest_by_pair
                .get(&new)
                .and_then(|l| d.conversations.get(l))
            {
                Some(l) => created > l.created_at,
                None => true,
            };
            if newer {
                d.latest_by_pair.insert(new, cid);
            }
        }
        let mut recorded = Vec::with_capacity(m.events.len());
        for e in &m.events {
            recorded.push(d.record(e.clone()));
        }
        Ok(Committed { events: recorded })
    }
}
