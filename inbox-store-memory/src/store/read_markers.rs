//! [`ReadMarkers`] on the memory store: each agent's marker of each
//! conversation, by (tenant, agent, conversation).

use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::PoisonError;

use inbox_core::error::{Entity, Error, Result};
use inbox_core::ids::{AgentId, ConversationId, TenantId};
use inbox_core::ports::ReadMarkers;

use super::MemoryStore;

/// The markers, by tenant, agent and conversation.
pub(super) type Markers = HashMap<(TenantId, AgentId, ConversationId), u32>;

impl MemoryStore {
    /// Fails with `NotFound` unless the tenant has the agent and the
    /// conversation.
    fn require_reader(
        &self,
        tenant: &TenantId,
        agent: &AgentId,
        conversation: &ConversationId,
    ) -> Result<()> {
        let state = self.read();
        if !state.agents.contains_key(&(tenant.clone(), agent.clone())) {
            return Err(Error::not_found(Entity::Agent, agent));
        }
        let known = state
            .data(tenant)
            .is_some_and(|d| d.conversations.contains_key(conversation));
        if !known {
            return Err(Error::not_found(Entity::Conversation, conversation));
        }
        Ok(())
    }
}

#[async_trait]
impl ReadMarkers for MemoryStore {
    async fn mark_read(
        &self,
        tenant: &TenantId,
        agent: &AgentId,
        conversation: &ConversationId,
        seen: u32,
    ) -> Result<u32> {
        self.require_reader(tenant, agent, conversation)?;
        let mut markers = self
            .read_markers
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let key = (tenant.clone(), agent.clone(), conversation.clone());
        let marker = markers.entry(key).or_default();
        *marker = (*marker).max(seen);
        Ok(*marker)
    }

    async fn read_markers(
        &self,
        tenant: &TenantId,
        agent: &AgentId,
        conversations: &[ConversationId],
    ) -> Result<HashMap<ConversationId, u32>> {
        let markers = self
            .read_markers
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        let found = conversations.iter().filter_map(|c| {
            let key = (tenant.clone(), agent.clone(), c.clone());
            markers.get(&key).map(|&seen| (c.clone(), seen))
        });
        Ok(found.collect())
    }
}
