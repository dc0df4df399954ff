//! [`Conversations`] on the memory store.

use async_trait::async_trait;

use inbox_core::error::{Entity, Error, Result};
use inbox_core::event::Event;
use inbox_core::ids::{ChannelId, ContactId, ConversationId, TenantId};
use inbox_core::model::Conversation;
use inbox_core::ports::{Changeset, Committed, Conversations, IngestContext, IngestRequest};
use inbox_core::query::{page_in_memory, ConversationFilter, ConversationQuery, Page};

use super::{MemoryStore, TenantData};

impl TenantData {
    /// The active conversation of a contact on a channel, else its latest.
    pub(super) fn latest_conversation(
        &self,
        channel: &ChannelId,
        contact: &ContactId,
    ) -> Option<&Conversation> {
        let pair = (channel.clone(), contact.clone());
        let id = self
            .active_by_pair
            .get(&pair)
            .or_else(|| self.latest_by_pair.get(&pair));
        id.and_then(|id| self.conversations.get(id))
    }
}

#[async_trait]
impl Conversations for MemoryStore {
    async fn conversation(&self, tenant: &TenantId, id: &ConversationId) -> Result<Conversation> {
        self.find(tenant, |d| d.conversations.get(id))
            .ok_or_else(|| Error::not_found(Entity::Conversation, id))
    }

    async fn latest_conversation(
        &self,
        tenant: &TenantId,
        channel: &ChannelId,
        contact: &ContactId,
    ) -> Result<Option<Conversation>> {
        Ok(self.find(tenant, |d| d.latest_conversation(channel, contact)))
    }

    async fn list_conversations(
        &self,
        tenant: &TenantId,
        query: &ConversationQuery,
    ) -> Result<Page<Conversation>> {
        let s = self.read();
        match s.data(tenant) {
            Some(d) => page_in_memory(query, d.conversations.values()),
            None => page_in_memory(query, std::iter::empty()),
        }
    }

    async fn count_conversations(
        &self,
        tenant: &TenantId,
        filter: &ConversationFilter,
        cap: u32,
    ) -> Result<u64> {
        let s = self.read();
        let count = s.data(tenant).map_or(0, |d| {
            let passing = d.conversations.values().filter(|c| filter.matches(c));
            passing.take(cap as usize).count()
        });
        Ok(count as u64)
    }

    async fn ingest_context(&self, request: IngestRequest<'_>) -> Result<IngestContext> {
        let IngestRequest {
            tenant,
            channel,
            identity,
            external_id,
        } = request;
        Ok(self.with_tenant(tenant, |d| {
            if let Some(existing) = d.message_by_external_id(channel, external_id) {
                return IngestContext {
                    existing: Some(existing.clone()),
                    ..IngestContext::default()
                };
            }
            let contact = d.contact_by_identity(identity);
            let latest = contact.and_then(|k| d.latest_conversation(channel, &k.id));
            IngestContext {
                existing: None,
                contact: contact.cloned(),
                latest: latest.cloned(),
            }
        }))
    }

    async fn commit(&self, changes: Changeset) -> Result<Committed> {
        let tenant = changes.validate()?.clone();
        let mut s = self.write();
        s.check(&tenant, &changes)?;
        Ok(s.apply(&tenant, changes))
    }

    async fn events_since(
        &self,
        tenant: &TenantId,
        after_seq: u64,
        limit: u32,
    ) -> Result<Vec<Event>> {
        Ok(self.with_tenant(tenant, |d| {
            let start = usize::try_from(after_seq)
                .unwrap_or(usize::MAX)
                .min(d.events.len());
            d.events[start..]
                .iter()
                .take(limit as usize)
                .cloned()
                .collect()
        }))
    }

    async fn conversation_events(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
        after_version: u64,
    ) -> Result<Vec<Event>> {
        Ok(self.with_tenant(tenant, |d| {
            let of_conversation = d.events_of.get(conversation).into_iter().flatten();
            of_conversation
                .map(|&i| &d.events[i])
                .filter(|e| e.conversation_version.is_none_or(|v| v > after_version))
                .cloned()
                .collect()
        }))
    }
}
