//! The live snapshot ([`Reports::live_snapshot`]) read from what the
//! conversation writes keep (migration 30: `inbox_live_counts`,
//! `inbox_live_sla`), never by counting the active conversations.
//!
//! [`Reports::live_snapshot`]: inbox_core::ports::Reports::live_snapshot

use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::{PgPool, Postgres, QueryBuilder, Row};

use inbox_core::error::Result;
use inbox_core::ids::{AgentId, ConversationId, TenantId};
use inbox_core::metrics::{AgentLoad, LiveQuery, LiveSnapshot, Waiting};
use inbox_core::model::Agent;

use crate::error::db;
use crate::sql::micros;
use crate::tables::directory::AGENTS;

/// [`Reports::live_snapshot`](inbox_core::ports::Reports::live_snapshot):
/// one statement for the counts, the SLA figures, the messages in doubt,
/// the longest wait and every agent's load; then the agents.
pub(crate) async fn live_snapshot(
    pool: &PgPool,
    tenant: &TenantId,
    query: &LiveQuery,
) -> Result<LiveSnapshot> {
    let t = tenant.as_str().to_string();
    let now_us = micros(query.now);
    // Loads are whole, whatever the filters (capacity is for all of them).
    let mut qb = QueryBuilder::new(
        "WITH loads AS (SELECT assignee, sum(open + pending + snoozed)::int8 AS n \
         FROM inbox_live_counts WHERE tenant_id = ",
    );
    qb.push_bind(t.clone()).push(
        " AND assignee <> '' GROUP BY assignee HAVING sum(open + pending + snoozed) > 0) \
         SELECT c.*, ",
    );
    // At risk: inside one of its (disjoint) at-risk intervals.
    qb.push("(SELECT count(*) FROM inbox_live_sla WHERE tenant_id = ")
        .push_bind(t.clone())
        .push(" AND to_us IS NOT NULL AND from_us <= ")
        .push_bind(now_us)
        .push(" AND to_us > ")
        .push_bind(now_us);
    push_narrowing(&mut qb, query);
    // Breached with no target marked: its earliest running due time passed.
    qb.push("), (SELECT count(*) FROM inbox_live_sla WHERE tenant_id = ")
        .push_bind(t.clone())
        .push(" AND to_us IS NULL AND from_us <= ")
        .push_bind(now_us);
    push_narrowing(&mut qb, query);
    qb.push("), ");
    push_in_doubt(&mut qb, &t, query);
    qb.push(
        ", w.conversation_id, w.since, (SELECT array_agg(assignee) FROM loads), \
         (SELECT array_agg(n) FROM loads) FROM (SELECT \
         COALESCE(sum(open), 0)::int8, COALESCE(sum(pending), 0)::int8, \
         COALESCE(sum(snoozed), 0)::int8, \
         COALESCE(sum(open + pending + snoozed) FILTER (WHERE assignee = ''), 0)::int8, \
         COALESCE(sum(waiting), 0)::int8, COALESCE(sum(breached), 0)::int8 \
         FROM inbox_live_counts WHERE tenant_id = ",
    )
    .push_bind(t.clone());
    push_narrowing(&mut qb, query);
    qb.push(
        ") c LEFT JOIN LATERAL (SELECT conversation_id, data->'waiting_since' AS since \
         FROM inbox_conversations WHERE tenant_id = ",
    )
    .push_bind(t)
    .push(" AND status <> 'resolved'");
    push_narrowing(&mut qb, query);
    qb.push(
        " AND waiting_us IS NOT NULL ORDER BY COALESCE(waiting_us, 9223372036854775807), \
         conversation_id LIMIT 1) w ON true",
    );
    let row = qb
        .build()
        .fetch_one(pool)
        .await
        .map_err(|e| db("live snapshot", e))?;
    let mut snapshot = counted(&row, query)?;
    let agents: Vec<Agent> = AGENTS.list(pool, tenant).await?;
    snapshot.agents = agent_loads(&row, agents, query)?;
    Ok(snapshot)
}

/// ` AND channel_id = … AND team_id = …` as the query narrows.
fn push_narrowing(qb: &mut QueryBuilder<'_, Postgres>, query: &LiveQuery) {
    if let Some(c) = &query.channel {
        qb.push(" AND channel_id = ")
            .push_bind(c.as_str().to_string());
    }
    if let Some(t) = &query.team {
        qb.push(" AND team_id = ").push_bind(t.as_str().to_string());
    }
}

/// Outbound messages in doubt on the number and in the team (any
/// conversation status), through the partial index of migration 18, as a
/// scalar subquery.
fn push_in_doubt(qb: &mut QueryBuilder<'_, Postgres>, tenant: &str, query: &LiveQuery) {
    qb.push("(SELECT count(*) FROM inbox_messages m WHERE m.tenant_id = ")
        .push_bind(tenant.to_string())
        .push(
            " AND m.external_id IS NULL AND m.direction = 'outbound' \
             AND (m.data -> 'delivery' ->> 'in_doubt_since') IS NOT NULL \
             AND (m.data -> 'delivery' ->> 'status') = 'pending' \
             AND (m.data -> 'delivery' ->> 'resent_as') IS NULL",
        );
    if let Some(c) = &query.channel {
        qb.push(" AND m.channel_id = ")
            .push_bind(c.as_str().to_string());
    }
    if let Some(t) = &query.team {
        qb.push(
            " AND EXISTS (SELECT 1 FROM inbox_conversations c WHERE c.tenant_id = m.tenant_id \
             AND c.conversation_id = m.conversation_id AND c.team_id = ",
        )
        .push_bind(t.as_str().to_string())
        .push(")");
    }
    qb.push(")");
}

/// The figures of the statement's row (all but the agents).
fn counted(row: &PgRow, query: &LiveQuery) -> Result<LiveSnapshot> {
    let fail = |e| db("live snapshot", e);
    let n = |i: usize| row.try_get::<i64, _>(i).map(|v| v.max(0) as u64);
    let (open, pending, snoozed) = (
        n(0).map_err(fail)?,
        n(1).map_err(fail)?,
        n(2).map_err(fail)?,
    );
    let waiting_longest = match row.try_get::<Option<String>, _>(9).map_err(fail)? {
        None => None,
        Some(id) => Some(Waiting {
            conversation: ConversationId::new(id)?,
            since: row
                .try_get::<sqlx::types::Json<DateTime<Utc>>, _>(10)
                .map_err(fail)?
                .0,
        }),
    };
    Ok(LiveSnapshot {
        active: open + pending + snoozed,
        open,
        pending,
        snoozed,
        unassigned: n(3).map_err(fail)?,
        waiting: n(4).map_err(fail)?,
        sla_breached: n(5).map_err(fail)? + n(7).map_err(fail)?,
        sla_at_risk: n(6).map_err(fail)?,
        in_doubt: n(8).map_err(fail)?,
        waiting_longest,
        ..LiveSnapshot::empty(query.now)
    })
}

/// The tenant's active agents (in the team, when narrowed), by id, with
/// their loads from the statement's row.
fn agent_loads(row: &PgRow, agents: Vec<Agent>, query: &LiveQuery) -> Result<Vec<AgentLoad>> {
    let fail = |e| db("live snapshot: loads", e);
    let ids: Vec<String> = row
        .try_get::<Option<_>, _>(11)
        .map_err(fail)?
        .unwrap_or_default();
    let loads: Vec<i64> = row
        .try_get::<Option<_>, _>(12)
        .map_err(fail)?
        .unwrap_or_default();
    let load = |id: &AgentId| {
        let at = ids.iter().position(|a| a == id.as_str());
        at.and_then(|i| loads.get(i)).map_or(0, |n| *n as u32)
    };
    let mut out: Vec<AgentLoad> = agents
        .into_iter()
        .filter(|a| a.active && !a.service)
        .filter(|a| query.team.as_ref().is_none_or(|t| a.is_in_team(t)))
        .map(|a| AgentLoad {
            load: load(&a.id),
            agent: a.id,
            presence: a.presence,
            capacity: a.capacity,
        })
        .collect();
    out.sort_by(|a, b| a.agent.cmp(&b.agent));
    Ok(out)
}
