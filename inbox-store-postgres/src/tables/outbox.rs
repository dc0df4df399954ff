//! `inbox_outbox`: the writer (new entries) and the dispatchers' queue
//! (claims, attempts, releases).

use chrono::{DateTime, Utc};
use sqlx::{PgPool, Row};

use inbox_core::error::{Conflict, Entity, Error, Result};
use inbox_core::ids::{MessageId, TenantId};
use inbox_core::ports::{
    Changeset, OutboxAttempt, OutboxClaim, OutboxClaimRequest, OutboxDisposition, OutboxEntry,
};

use crate::error::db;
use crate::sql::{cast, Arrays, Statement};

/// Inserts `rows`, each `(entry, its conversation)` (CTE `o`, counted).
pub(crate) fn insert<'a>(st: &mut Statement<'a>, rows: &[(&'a OutboxEntry, &'a str)]) {
    st.counted("o", rows.len(), |q| {
        q.push(
            "INSERT INTO inbox_outbox (tenant_id, message_id, conversation_id, not_before, attempts) \
             SELECT * FROM UNNEST(",
        );
        Arrays::on(q)
            .col(cast::TEXT, rows, |(o, _)| o.tenant.as_str())
            .col(cast::TEXT, rows, |(o, _)| o.message.as_str())
            .col(cast::TEXT, rows, |(_, c)| *c)
            .col(cast::TIMESTAMPTZ, rows, |(o, _)| o.not_before)
            .col(cast::INT, rows, |(o, _)| o.attempts as i32);
        q.push(")");
    });
}

/// The changeset's outbox entries, each with its conversation: its
/// message's, which the changeset holds ([`Changeset::validate`] checks).
pub(crate) fn entries(ch: &Changeset) -> impl Iterator<Item = (&OutboxEntry, &str)> {
    ch.outbox.iter().map(|o| {
        let conversation = ch
            .messages
            .iter()
            .find(|m| m.id == o.message)
            .map_or("", |m| m.conversation.as_str());
        (o, conversation)
    })
}

/// [`Scheduling::claim_outbox`](inbox_core::ports::Scheduling::claim_outbox).
pub(crate) async fn claim(
    pool: &PgPool,
    OutboxClaimRequest { now, lease, limit }: OutboxClaimRequest,
) -> Result<Vec<OutboxClaim>> {
    let lease_until = now + chrono::TimeDelta::from_std(lease).unwrap_or(chrono::TimeDelta::MAX);
    // A conversation's first entry only (`seq` is commit order): the
    // next waits until it is released.
    let rows = sqlx::query(
        "WITH due AS ( \
            SELECT o.tenant_id, o.message_id, (o.token IS NOT NULL AND o.sending_since IS NOT NULL) AS lapsed, \
                   CASE WHEN o.token IS NULL THEN o.not_before ELSE o.lease_until END AS due_at \
            FROM inbox_outbox o \
            WHERE ((o.token IS NULL AND o.not_before <= $1) OR (o.token IS NOT NULL AND o.lease_until <= $1)) \
              AND NOT EXISTS (SELECT 1 FROM inbox_outbox e WHERE e.tenant_id = o.tenant_id \
                              AND e.conversation_id = o.conversation_id AND e.seq < o.seq) \
            ORDER BY due_at, o.tenant_id, o.message_id \
            LIMIT $3 FOR UPDATE OF o SKIP LOCKED) \
         UPDATE inbox_outbox o SET token = nextval('inbox_outbox_tokens'), lease_until = $2 \
         FROM due WHERE o.tenant_id = due.tenant_id AND o.message_id = due.message_id \
         RETURNING o.tenant_id, o.message_id, o.not_before, o.attempts, o.token, due.lapsed, due.due_at",
    )
    .bind(now)
    .bind(lease_until)
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await
    .map_err(|e| db("claim outbox", e))?;
    let mut claims = Vec::with_capacity(rows.len());
    for r in rows {
        claims.push((
            r.get::<DateTime<Utc>, _>(6),
            OutboxClaim {
                entry: OutboxEntry {
                    tenant: TenantId::new(r.get::<String, _>(0))?,
                    message: MessageId::new(r.get::<String, _>(1))?,
                    not_before: r.get(2),
                    attempts: r.get::<i32, _>(3) as u32,
                },
                token: r.get::<i64, _>(4) as u64,
                lease_until,
                in_doubt: r.get(5),
            },
        ));
    }
    claims.sort_by(|a, b| {
        a.0.cmp(&b.0).then_with(|| {
            (&a.1.entry.tenant, &a.1.entry.message).cmp(&(&b.1.entry.tenant, &b.1.entry.message))
        })
    });
    Ok(claims.into_iter().map(|(_, c)| c).collect())
}

/// [`Scheduling::release_outbox`](inbox_core::ports::Scheduling::release_outbox).
pub(crate) async fn release(
    pool: &PgPool,
    claim: &OutboxClaim,
    disposition: OutboxDisposition,
) -> Result<()> {
    let (sql, at) = match disposition {
        OutboxDisposition::Done => (
            "DELETE FROM inbox_outbox WHERE tenant_id = $1 AND message_id = $2 AND token = $3",
            None,
        ),
        OutboxDisposition::RetryAt(at) => (
            "UPDATE inbox_outbox SET token = NULL, lease_until = NULL, sending_since = NULL, not_before = $4 \
             WHERE tenant_id = $1 AND message_id = $2 AND token = $3",
            Some(at),
        ),
    };
    let mut query = sqlx::query(sql)
        .bind(claim.entry.tenant.as_str())
        .bind(claim.entry.message.as_str())
        .bind(claim.token as i64);
    if let Some(at) = at {
        query = query.bind(at);
    }
    let done = query
        .execute(pool)
        .await
        .map_err(|e| db("release outbox", e))?;
    held(claim, done.rows_affected())
}

/// [`Scheduling::begin_outbox_attempt`](inbox_core::ports::Scheduling::begin_outbox_attempt).
pub(crate) async fn begin_attempt(
    pool: &PgPool,
    claim: &OutboxClaim,
    OutboxAttempt { at, until }: OutboxAttempt,
) -> Result<()> {
    let done = sqlx::query(
        "UPDATE inbox_outbox SET attempts = attempts + 1, sending_since = $4, lease_until = GREATEST(lease_until, $5) \
         WHERE tenant_id = $1 AND message_id = $2 AND token = $3 AND lease_until > $4",
    )
    .bind(claim.entry.tenant.as_str())
    .bind(claim.entry.message.as_str())
    .bind(claim.token as i64)
    .bind(at)
    .bind(until)
    .execute(pool)
    .await
    .map_err(|e| db("begin outbox attempt", e))?;
    held(claim, done.rows_affected())
}

/// Ok if the statement on the claim's entry found it (`rows` 1), else the
/// conflict of a claim that is no longer held.
fn held(claim: &OutboxClaim, rows: u64) -> Result<()> {
    if rows > 0 {
        return Ok(());
    }
    Err(Error::Conflict(Box::new(Conflict::on(
        Entity::OutboxEntry,
        &claim.entry.message,
        claim.token,
        0,
    ))))
}
