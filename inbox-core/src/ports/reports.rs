//! What the inbox computes over many conversations: search, reports, the
//! live view and the inputs of routing; the [`Reports`] port.

use async_trait::async_trait;
use std::collections::BTreeMap;

use crate::error::Result;
use crate::ids::{AgentId, ContactId, TenantId};
use crate::metrics::{LiveQuery, LiveSnapshot, MetricsQuery, MetricsReport};
use crate::pricing::{CostQuery, MessageTally};
use crate::query::{Page, SearchHit, SearchQuery};
use crate::routing::RoutingCursor;

/// Whose load [`Reports::agent_loads`] counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoadScope {
    /// Every agent of the tenant with at least one active conversation.
    Tenant,
    /// These agents only (each once; an agent with no active conversation
    /// may be absent from the answer or counted 0).
    Agents(Vec<AgentId>),
}

/// Reads that span a tenant's conversations: full-text search, reports,
/// the live snapshot, agents' loads, and the state routing keeps.
///
/// # Contract
///
/// Every implementation must guarantee the following; the conformance suite
/// (`inbox_core::testing`, feature `testing`) checks each point.
///
/// **Same numbers everywhere.** Search follows [`SearchQuery`], reports
/// [`crate::metrics`] and the snapshot
/// [`LiveSnapshot::compute`](crate::metrics::LiveSnapshot::compute)
/// exactly: a database computes them where the data lives (it aggregates;
/// it does not load the conversations), with the numbers the reference
/// definitions give.
///
/// **Tenancy.** Every answer covers one tenant's data only.
///
/// **Counts, not costs.** [`Reports::message_tallies`] counts; the core
/// prices the counts ([`CostReport::compute`](crate::pricing::CostReport::compute)),
/// so costs never differ between stores.
///
/// **Load.** An agent's load is the number of active (not resolved)
/// conversations assigned to it.
#[async_trait]
pub trait Reports: Send + Sync {
    /// Full-text search, case and accents aside, over messages and notes,
    /// contacts (names, tags, attribute values, number, user id) and
    /// conversations' tags, in every status the filter allows, resolved
    /// included (see [`SearchQuery`] for the exact semantics every store
    /// must follow; a store that indexes words keeps exactly those of
    /// [`crate::search`], and each hit's highlights are
    /// [`ValidSearch::explain`](crate::search::ValidSearch::explain)'s).
    async fn search(&self, tenant: &TenantId, query: &SearchQuery) -> Result<Page<SearchHit>>;

    /// A report over the tenant's conversations opened in the query's
    /// range, computed where the data lives (a database aggregates; it does
    /// not load the conversations), with exactly the numbers
    /// [`crate::metrics`] defines.
    async fn metrics(&self, tenant: &TenantId, query: &MetricsQuery) -> Result<MetricsReport>;

    /// The tenant's outbound messages sent (`sent_at`) in the query's
    /// range, counted by group: number, the conversation's team now, the
    /// author when an agent, the customer's market
    /// ([`market_of`](crate::pricing::market_of) of the conversation's
    /// contact, exactly), and the pricing WhatsApp reported (`None` when
    /// none was). Exactly [`MessageTally::count`]'s groups and counts, in
    /// any order (a group may come in several rows; the report adds them).
    /// A database aggregates where the data lives; it does not load the
    /// messages.
    async fn message_tallies(
        &self,
        tenant: &TenantId,
        query: &CostQuery,
    ) -> Result<Vec<MessageTally>>;

    /// The satisfaction surveys of the tenant's conversations resolved in
    /// the query's range: exactly [`SurveyRow::of`](crate::metrics::SurveyRow::of)
    /// of every conversation, in any order.
    async fn surveys(
        &self,
        tenant: &TenantId,
        query: &crate::metrics::CsatQuery,
    ) -> Result<Vec<crate::metrics::SurveyRow>>;

    /// The bot seats of the tenant's conversations that a bot took in the
    /// query's range: exactly [`BotRow::of`](crate::metrics::BotRow::of)
    /// of every conversation, in any order.
    async fn bot_rows(
        &self,
        tenant: &TenantId,
        query: &crate::metrics::BotQuery,
    ) -> Result<Vec<crate::metrics::BotRow>>;

    /// What the team faces now: active conversations by status, unassigned,
    /// waiting (and the longest wait), SLA targets at risk and missed, and
    /// every agent's load against capacity, exactly as
    /// [`LiveSnapshot::compute`](crate::metrics::LiveSnapshot::compute)
    /// defines them. A database answers from its active-conversation
    /// indexes, without reading resolved history.
    async fn live_snapshot(&self, tenant: &TenantId, query: &LiveQuery) -> Result<LiveSnapshot>;

    /// The loads of the agents in `scope`: for each, its active
    /// conversations. Agents with none may be absent. A database answers
    /// in one query.
    async fn agent_loads(
        &self,
        tenant: &TenantId,
        scope: &LoadScope,
    ) -> Result<BTreeMap<AgentId, u32>>;

    /// One agent's load, read as [`Reports::agent_loads`] reads it.
    /// Implementations need not override it.
    async fn agent_load(&self, tenant: &TenantId, agent: &AgentId) -> Result<u32> {
        let loads = self
            .agent_loads(tenant, &LoadScope::Agents(vec![agent.clone()]))
            .await?;
        Ok(loads.get(agent).copied().unwrap_or(0))
    }

    /// The owner of the contact's most recently active conversation that
    /// had an owner (resolved ones included): who "served this contact
    /// last", for sticky assignment.
    async fn last_assignee(
        &self,
        tenant: &TenantId,
        contact: &ContactId,
    ) -> Result<Option<AgentId>>;

    /// The tenant's stored round-robin cursors (written by
    /// [`Conversations::commit`](super::Conversations::commit)).
    async fn routing_cursors(&self, tenant: &TenantId) -> Result<Vec<RoutingCursor>>;
}
