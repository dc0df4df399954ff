//! `inbox_leases`: reply leases ("Ana is replying"), taken, renewed and
//! released.

use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::{PgPool, Row};

use inbox_core::error::{Entity, Error, Result};
use inbox_core::ids::AgentId;
use inbox_core::ports::{Lease, LeaseKey, LeaseRequest};

use crate::error::db;
use crate::tables::conversations;

/// A lease from a row of `holder, until`.
fn lease(r: &PgRow) -> Result<Lease> {
    Ok(Lease {
        holder: AgentId::new(r.get::<String, _>(0))?,
        until: r.get(1),
    })
}

/// [`Scheduling::acquire_lease`](inbox_core::ports::Scheduling::acquire_lease).
pub(crate) async fn acquire(pool: &PgPool, request: LeaseRequest<'_>) -> Result<Lease> {
    let LeaseRequest {
        key: LeaseKey {
            tenant,
            conversation,
        },
        agent,
        now,
        until,
    } = request;
    let exists = conversations::exists(pool, tenant, conversation)
        .await
        .map_err(|e| db("acquire lease", e))?;
    if !exists {
        return Err(Error::not_found(Entity::Conversation, conversation));
    }
    // Take it if free, expired or ours; otherwise report the holder.
    let row = sqlx::query(
        "INSERT INTO inbox_leases (tenant_id, conversation_id, holder, until) VALUES ($1, $2, $3, $5) \
         ON CONFLICT (tenant_id, conversation_id) DO UPDATE SET holder = EXCLUDED.holder, until = EXCLUDED.until \
         WHERE inbox_leases.holder = EXCLUDED.holder OR inbox_leases.until <= $4 \
         RETURNING holder, until",
    )
    .bind(tenant.as_str())
    .bind(conversation.as_str())
    .bind(agent.as_str())
    .bind(now)
    .bind(until)
    .fetch_optional(pool)
    .await
    .map_err(|e| db("acquire lease", e))?;
    let row = match row {
        Some(r) => r,
        None => sqlx::query(
            "SELECT holder, until FROM inbox_leases WHERE tenant_id = $1 AND conversation_id = $2",
        )
        .bind(tenant.as_str())
        .bind(conversation.as_str())
        .fetch_one(pool)
        .await
        .map_err(|e| db("acquire lease", e))?,
    };
    lease(&row)
}

/// [`Scheduling::release_lease`](inbox_core::ports::Scheduling::release_lease).
pub(crate) async fn release(pool: &PgPool, key: LeaseKey<'_>, agent: &AgentId) -> Result<bool> {
    let done = sqlx::query(
        "DELETE FROM inbox_leases WHERE tenant_id = $1 AND conversation_id = $2 AND holder = $3",
    )
    .bind(key.tenant.as_str())
    .bind(key.conversation.as_str())
    .bind(agent.as_str())
    .execute(pool)
    .await
    .map_err(|e| db("release lease", e))?;
    Ok(done.rows_affected() > 0)
}

/// [`Scheduling::lease`](inbox_core::ports::Scheduling::lease): the lease held at
/// `now`, if any.
pub(crate) async fn current(
    pool: &PgPool,
    key: LeaseKey<'_>,
    now: DateTime<Utc>,
) -> Result<Option<Lease>> {
    let row = sqlx::query(
        "SELECT holder, until FROM inbox_leases WHERE tenant_id = $1 AND conversation_id = $2 AND until > $3",
    )
    .bind(key.tenant.as_str())
    .bind(key.conversation.as_str())
    .bind(now)
    .fetch_optional(pool)
    .await
    .map_err(|e| db("lease", e))?;
    row.as_ref().map(lease).transpose()
}
