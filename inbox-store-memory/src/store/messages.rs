//! [`Messages`] on the memory store.

use async_trait::async_trait;
use std::collections::HashMap;

use inbox_core::error::{Entity, Error, Result, Unique};
use inbox_core::event::Scope;
use inbox_core::ids::{ChannelId, ConversationId, MessageId, TenantId};
use inbox_core::model::{Direction, Message};
use inbox_core::ports::{MessageTarget, MessageUpdate, MessageUpdated, Messages};

use super::{duplicate, MemoryStore, State, TenantData};

impl TenantData {
    /// The message with this id.
    pub(super) fn message(&self, id: &MessageId) -> Option<&Message> {
        self.messages.get(id).map(Box::as_ref)
    }

    /// The message with this provider id on the channel.
    pub(super) fn message_by_external_id(
        &self,
        channel: &ChannelId,
        external_id: &str,
    ) -> Option<&Message> {
        self.external(channel, external_id)
            .and_then(|id| self.message(id))
    }

    /// The id of the message with this provider id on the channel.
    pub(super) fn external(&self, channel: &ChannelId, external_id: &str) -> Option<&MessageId> {
        self.by_external.get(channel)?.get(external_id)
    }

    /// Finds message `id` by its provider id on the channel from now on.
    pub(super) fn index_external(
        &mut self,
        channel: &ChannelId,
        external_id: &str,
        id: &MessageId,
    ) {
        if !self.by_external.contains_key(channel) {
            self.by_external.insert(channel.clone(), HashMap::new());
        }
        if let Some(of_channel) = self.by_external.get_mut(channel) {
            of_channel.insert(external_id.to_owned(), id.clone());
        }
    }

    /// The message an update targets: `Ok(None)` for a status report
    /// about no message of ours, [`Error::NotFound`] for a missing id.
    fn target(&self, target: &MessageTarget) -> Result<Option<MessageId>> {
        match target {
            MessageTarget::Id(id) if self.messages.contains_key(id) => Ok(Some(id.clone())),
            MessageTarget::Id(id) => Err(Error::not_found(Entity::Message, id)),
            MessageTarget::Status {
                channel,
                our_id,
                external_id,
            } => {
                let ours = our_id
                    .as_ref()
                    .and_then(|id| self.message(id))
                    .filter(|m| &m.channel == channel && m.direction == Direction::Outbound);
                Ok(ours
                    .or_else(|| self.message_by_external_id(channel, external_id))
                    .map(|m| m.id.clone()))
            }
        }
    }
}

impl State {
    /// Applies one update atomically (the caller holds the write lock).
    fn update_message(
        &mut self,
        tenant: &TenantId,
        update: &MessageUpdate,
    ) -> Result<Option<MessageUpdated>> {
        let Some(d) = self.data.get_mut(tenant) else {
            return match &update.target {
                MessageTarget::Id(id) => Err(Error::not_found(Entity::Message, id)),
                MessageTarget::Status { .. } => Ok(None),
            };
        };
        let Some(id) = d.target(&update.target)? else {
            return Ok(None);
        };
        let current = d
            .message(&id)
            .ok_or_else(|| Error::not_found(Entity::Message, &id))?;
        let mut next = current.clone();
        let had_external = current.external_id.is_some();
        let mutated = update.mutation.apply(&mut next);
        if !mutated.changed {
            return Ok(Some(MessageUpdated {
                message: id,
                event: None,
            }));
        }
        if !had_external {
            if let Some(ext) = &next.external_id {
                if let Some(other) = d.external(&next.channel, ext) {
                    if other != &id {
                        return Err(duplicate(Unique::Message, other));
                    }
                }
                d.index_external(&next.channel, ext, &id);
            }
        }
        // The event says who may see it: its conversation's scope as it
        // stands, so live subscribers read nothing to decide.
        let scope = d.conversations.get(&next.conversation).map(Scope::of);
        if let Some(stored) = d.messages.get_mut(&id) {
            **stored = next;
        }
        Ok(Some(MessageUpdated {
            message: id,
            event: mutated.event.map(|mut e| {
                e.scope = scope;
                d.record(e)
            }),
        }))
    }
}

#[async_trait]
impl Messages for MemoryStore {
    async fn message(&self, tenant: &TenantId, id: &MessageId) -> Result<Message> {
        self.find(tenant, |d| d.message(id))
            .ok_or_else(|| Error::not_found(Entity::Message, id))
    }

    async fn messages(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
    ) -> Result<Vec<Message>> {
        let s = self.read();
        let Some(d) = s.data(tenant) else {
            return Ok(Vec::new());
        };
        Ok(d.messages_of
            .get(conversation)
            .map(|ids| ids.iter().filter_map(|id| d.message(id)).cloned().collect())
            .unwrap_or_default())
    }

    async fn message_by_external_id(
        &self,
        tenant: &TenantId,
        channel: &ChannelId,
        external_id: &str,
    ) -> Result<Option<Message>> {
        Ok(self.find(tenant, |d| d.message_by_external_id(channel, external_id)))
    }

    async fn message_by_idempotency_key(
        &self,
        tenant: &TenantId,
        key: &str,
    ) -> Result<Option<Message>> {
        Ok(self.find(tenant, |d| d.by_key.get(key).and_then(|id| d.message(id))))
    }

    async fn update_messages(
        &self,
        tenant: &TenantId,
        updates: &[MessageUpdate],
    ) -> Vec<Result<Option<MessageUpdated>>> {
        let mut s = self.write();
        updates
            .iter()
            .map(|u| s.update_message(tenant, u))
            .collect()
    }
}
