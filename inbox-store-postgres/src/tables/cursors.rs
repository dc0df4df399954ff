//! `inbox_routing_cursors`: the writer (round-robin cursors under their
//! versions) and the reads.

use sqlx::{PgPool, Row};

use inbox_core::error::Result;
use inbox_core::ids::{AgentId, TeamId, TenantId};
use inbox_core::routing::RoutingCursor;

use crate::error::db;
use crate::sql::{cast, Arrays, Statement};

/// Stores `rows`, each `(tenant, cursor)` at the version after the stored
/// one: version 1 inserted if none is stored (CTE `ri`), a later one
/// updated where the stored version is the one before (CTE `ru`); both
/// counted. Group commit leaves changesets with cursors to the single path
/// (rare), which writes them one at a time.
pub(crate) fn store<'a>(st: &mut Statement<'a>, rows: &[(&'a TenantId, &'a RoutingCursor)]) {
    let (new, next): (Vec<_>, Vec<_>) = rows.iter().partition(|(_, c)| c.version == 1);
    if !new.is_empty() {
        st.counted("ri", new.len(), |q| {
            q.push("INSERT INTO inbox_routing_cursors (tenant_id, team_id, last_agent, version) SELECT *, 1 FROM UNNEST(");
            columns(Arrays::on(q), &new);
            q.push(") ON CONFLICT DO NOTHING");
        });
    }
    if !next.is_empty() {
        st.counted("ru", next.len(), |q| {
            q.push("UPDATE inbox_routing_cursors c SET last_agent = u.l, version = u.v FROM UNNEST(");
            columns(Arrays::on(q), &next)
                .col(cast::BIGINT, &next, |(_, c)| c.version as i64);
            q.push(") AS u(t, tm, l, v) WHERE c.tenant_id = u.t AND c.team_id = u.tm AND c.version = u.v - 1");
        });
    }
}

/// The cursors' tenants, teams and last agents as bound arrays.
fn columns<'b, 'a>(
    a: Arrays<'b, 'a>,
    rows: &[&(&'a TenantId, &'a RoutingCursor)],
) -> Arrays<'b, 'a> {
    a.col(cast::TEXT, rows, |(t, _)| t.as_str())
        .col(cast::TEXT, rows, |(_, c)| c.team.as_str())
        .col(cast::TEXT, rows, |(_, c)| {
            c.last.as_ref().map(|a| a.as_str())
        })
}

/// The stored version of a team's cursor: `(tenant, team id)` (to explain
/// a write that wrote nothing, [`crate::sql::version`]).
pub(crate) const VERSION: &str =
    "SELECT version FROM inbox_routing_cursors WHERE tenant_id = $1 AND team_id = $2";

/// The tenant's cursors, by team.
pub(crate) async fn all(pool: &PgPool, tenant: &TenantId) -> Result<Vec<RoutingCursor>> {
    let rows = sqlx::query(
        "SELECT team_id, last_agent, version FROM inbox_routing_cursors WHERE tenant_id = $1 ORDER BY team_id",
    )
    .bind(tenant.as_str())
    .fetch_all(pool)
    .await
    .map_err(|e| db("routing cursors", e))?;
    rows.into_iter()
        .map(|r| {
            let last: Option<String> = r.get(1);
            Ok(RoutingCursor {
                team: TeamId::new(r.get::<String, _>(0))?,
                last: last.map(AgentId::new).transpose()?,
                version: r.get::<i64, _>(2) as u64,
            })
        })
        .collect()
}
