//! `inbox_timers`: the writers (timers set, timers cleared) and the scan
//! for due timers.

use chrono::{DateTime, Utc};
use sqlx::{PgPool, Row};

use inbox_core::error::Result;
use inbox_core::ids::{ConversationId, TenantId};
use inbox_core::timer::{Timer, TimerChange, TimerKind};

use crate::error::db;
use crate::sql::{cast, Arrays, Statement};

/// The timers of `changes` that are set.
pub(crate) fn sets<'a>(changes: impl Iterator<Item = &'a TimerChange>) -> Vec<&'a Timer> {
    changes
        .filter_map(|c| match c {
            TimerChange::Set(t) => Some(t),
            TimerChange::Clear { .. } => None,
        })
        .collect()
}

/// The timers of `changes` (each with its tenant) that are cleared:
/// (tenant, conversation, kind).
pub(crate) fn clears<'a>(
    changes: impl Iterator<Item = (&'a TenantId, &'a TimerChange)>,
) -> Vec<(&'a str, &'a str, &'a str)> {
    changes
        .filter_map(|(tenant, c)| match c {
            TimerChange::Clear { conversation, kind } => {
                Some((tenant.as_str(), conversation.as_str(), kind.as_str()))
            }
            TimerChange::Set(_) => None,
        })
        .collect()
}

/// Deletes the timers `rows` ([`clears`]) (CTE `td`; not counted: a timer
/// may already be gone).
pub(crate) fn clear<'a>(st: &mut Statement<'a>, rows: &[(&'a str, &'a str, &'a str)]) {
    st.cte("td", |q| {
        q.push("DELETE FROM inbox_timers t USING UNNEST(");
        Arrays::on(q)
            .col(cast::TEXT, rows, |c| c.0)
            .col(cast::TEXT, rows, |c| c.1)
            .col(cast::TEXT, rows, |c| c.2);
        q.push(
            ") AS u(t, c, k) WHERE t.tenant_id = u.t AND t.conversation_id = u.c AND t.kind = u.k RETURNING 1",
        );
    });
}

/// Sets the timers `rows`, replacing a conversation's timer of the same
/// kind (CTE `ts`, counted).
pub(crate) fn set<'a>(st: &mut Statement<'a>, rows: &[&'a Timer]) {
    st.counted("ts", rows.len(), |q| {
        q.push("INSERT INTO inbox_timers (tenant_id, conversation_id, kind, due_at) SELECT * FROM UNNEST(");
        Arrays::on(q)
            .col(cast::TEXT, rows, |t| t.tenant.as_str())
            .col(cast::TEXT, rows, |t| t.conversation.as_str())
            .col(cast::TEXT, rows, |t| t.kind.as_str())
            .col(cast::TIMESTAMPTZ, rows, |t| t.due_at);
        q.push(") ON CONFLICT (tenant_id, conversation_id, kind) DO UPDATE SET due_at = EXCLUDED.due_at");
    });
}

/// [`Scheduling::due_timers`](inbox_core::ports::Scheduling::due_timers).
pub(crate) async fn due(pool: &PgPool, now: DateTime<Utc>, limit: u32) -> Result<Vec<Timer>> {
    let rows = sqlx::query(
        "SELECT tenant_id, conversation_id, kind, due_at FROM inbox_timers WHERE due_at <= $1 \
         ORDER BY due_at, tenant_id, conversation_id, kind LIMIT $2",
    )
    .bind(now)
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await
    .map_err(|e| db("due timers", e))?;
    // A kind this version does not know (written by a newer one) is left
    // for that version.
    rows.iter()
        .filter_map(|r| TimerKind::parse(&r.get::<String, _>(2)).map(|kind| (r, kind)))
        .map(|(r, kind)| {
            Ok(Timer {
                tenant: TenantId::new(r.get::<String, _>(0))?,
                conversation: ConversationId::new(r.get::<String, _>(1))?,
                kind,
                due_at: r.get(3),
            })
        })
        .collect()
}
