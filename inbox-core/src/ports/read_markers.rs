//! How far each agent has read each conversation: the read markers behind
//! per-agent unread counts, kept in the store so that every browser,
//! device and instance shows an agent the same.

use async_trait::async_trait;
use std::collections::HashMap;

use crate::error::Result;
use crate::ids::{AgentId, ConversationId, TenantId};

/// Where each agent's read marker of each conversation is kept: the
/// conversation's [`message_count`](crate::model::Conversation::message_count)
/// the agent had seen when they last read it. What is unread for an agent
/// is the count now minus their marker (a conversation they never read has
/// marker 0). Every [`Store`](super::Store) is one too.
///
/// # Contract
///
/// - [`ReadMarkers::mark_read`] stores `seen` as the marker of (tenant,
///   agent, conversation) unless the stored one is higher: a marker never
///   moves back (two browser tabs racing, a late request), and returns the
///   marker as it is after the call. The conversation and the agent must
///   be the tenant's ([`Error::NotFound`](crate::Error::NotFound) on
///   [`Entity::Conversation`](crate::error::Entity::Conversation) or
///   [`Entity::Agent`](crate::error::Entity::Agent) otherwise, nothing
///   stored).
/// - [`ReadMarkers::read_markers`] answers, in one read, the markers of
///   those of `conversations` the agent has one for; ids not asked are never
///   in the answer, ids without a marker are left out (read them as 0).
/// - Markers are per agent: one agent's marker never shows as another's.
/// - Tenancy: a marker is its tenant's; another tenant's agent and
///   conversation of the same ids have markers of their own.
#[async_trait]
pub trait ReadMarkers: Send + Sync {
    /// Moves `agent`'s marker of `conversation` forward to `seen` (never
    /// back); the marker after the call.
    async fn mark_read(
        &self,
        tenant: &TenantId,
        agent: &AgentId,
        conversation: &ConversationId,
        seen: u32,
    ) -> Result<u32>;

    /// `agent`'s markers of those of `conversations` that have one.
    async fn read_markers(
        &self,
        tenant: &TenantId,
        agent: &AgentId,
        conversations: &[ConversationId],
    ) -> Result<HashMap<ConversationId, u32>>;
}
