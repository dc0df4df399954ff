//! [`ReadMarkers`] on PostgreSQL (migration 24): one row per agent and
//! conversation read, keyed by tenant, agent and conversation.

use async_trait::async_trait;
use std::collections::HashMap;

use inbox_core::error::{Entity, Error, Result};
use inbox_core::ids::{AgentId, ConversationId, TenantId};
use inbox_core::ports::ReadMarkers;

use crate::error::db;
use crate::PgStore;

/// A stored marker as the core counts it.
fn marker(seen: i64) -> Result<u32> {
    u32::try_from(seen).map_err(|_| Error::Backend {
        message: format!("PostgreSQL: corrupt read marker ({seen})"),
        source: None,
    })
}

/// The error of a refused marker: the agent or the conversation the
/// tenant does not have (by the constraint that refused it), else the
/// database's.
fn refused(e: sqlx::Error, agent: &AgentId, conversation: &ConversationId) -> Error {
    let constraint = match &e {
        sqlx::Error::Database(d) if d.code().as_deref() == Some("23503") => {
            d.constraint().map(str::to_string)
        }
        _ => None,
    };
    match constraint.as_deref() {
        Some("inbox_read_markers_agent") => Error::not_found(Entity::Agent, agent),
        Some(_) => Error::not_found(Entity::Conversation, conversation),
        None => db("mark read", e),
    }
}

#[async_trait]
impl ReadMarkers for PgStore {
    async fn mark_read(
        &self,
        tenant: &TenantId,
        agent: &AgentId,
        conversation: &ConversationId,
        seen: u32,
    ) -> Result<u32> {
        let stored: i64 = sqlx::query_scalar(
            "INSERT INTO inbox_read_markers (tenant_id, agent_id, conversation_id, seen) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (tenant_id, agent_id, conversation_id) \
             DO UPDATE SET seen = GREATEST(inbox_read_markers.seen, EXCLUDED.seen) \
             RETURNING seen",
        )
        .bind(tenant.as_str())
        .bind(agent.as_str())
        .bind(conversation.as_str())
        .bind(i64::from(seen))
        .fetch_one(self.pool())
        .await
        .map_err(|e| refused(e, agent, conversation))?;
        marker(stored)
    }

    async fn read_markers(
        &self,
        tenant: &TenantId,
        agent: &AgentId,
        conversations: &[ConversationId],
    ) -> Result<HashMap<ConversationId, u32>> {
        if conversations.is_empty() {
            return Ok(HashMap::new());
        }
        let ids: Vec<&str> = conversations.iter().map(ConversationId::as_str).collect();
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT conversation_id, seen FROM inbox_read_markers \
             WHERE tenant_id = $1 AND agent_id = $2 AND conversation_id = ANY($3)",
        )
        .bind(tenant.as_str())
        .bind(agent.as_str())
        .bind(&ids)
        .fetch_all(self.pool())
        .await
        .map_err(|e| db("read markers", e))?;
        rows.into_iter()
            .map(|(id, seen)| Ok((ConversationId::new(id)?, marker(seen)?)))
            .collect()
    }
}
