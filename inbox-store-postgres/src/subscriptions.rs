//! [`SubscriptionLog`] on PostgreSQL: positions in one table, retries and
//! dead letters as rows of another (created by migration 8, renamed by
//! migration 20).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::postgres::PgArguments;
use sqlx::query::Query;
use sqlx::{PgConnection, Postgres, Row};

use inbox_core::ports::{
    DeliveryOutcome, DeliveryRecord, SubscriptionCommit, SubscriptionDeadLetter, SubscriptionKey,
    SubscriptionLog, SubscriptionRetry,
};
use inbox_core::Result;

use crate::error::{corrupt, db};
use crate::PgStore;

fn seq(s: u64) -> i64 {
    i64::try_from(s).unwrap_or(i64::MAX)
}

fn json<T: serde::Serialize>(v: &T) -> Result<serde_json::Value> {
    serde_json::to_value(v).map_err(|e| corrupt("subscription delivery", e))
}

fn parse<T: serde::de::DeserializeOwned>(v: serde_json::Value) -> Result<T> {
    serde_json::from_value(v).map_err(|e| corrupt("subscription delivery", e))
}

/// `sql` with the subscription's tenant and id bound to `$1` and `$2`.
fn keyed<'q>(sql: &'q str, key: SubscriptionKey<'q>) -> Query<'q, Postgres, PgArguments> {
    sqlx::query(sql)
        .bind(key.tenant.as_str())
        .bind(key.subscription)
}

const UPSERT: &str = "INSERT INTO inbox_subscription_deliveries (tenant_id, subscription, seq, dead, due_us, data) \
     VALUES ($1, $2, $3, $4, $5, $6) \
     ON CONFLICT (tenant_id, subscription, seq) DO UPDATE SET dead = EXCLUDED.dead, due_us = EXCLUDED.due_us, data = EXCLUDED.data";

/// A row of `inbox_subscription_deliveries` to write: a retry (with its due
/// time) or a dead letter.
struct DeliveryRow {
    seq: u64,
    dead: bool,
    due_us: Option<i64>,
    data: serde_json::Value,
}

impl DeliveryRow {
    fn retry(r: &SubscriptionRetry) -> Result<Self> {
        Ok(Self {
            seq: r.event.seq,
            dead: false,
            due_us: Some(r.due.timestamp_micros()),
            data: json(r)?,
        })
    }

    fn dead(d: &SubscriptionDeadLetter) -> Result<Self> {
        Ok(Self {
            seq: d.event.seq,
            dead: true,
            due_us: None,
            data: json(d)?,
        })
    }

    /// Writes the row for `key`, replacing the delivery's previous one.
    async fn upsert(self, conn: &mut PgConnection, key: SubscriptionKey<'_>) -> sqlx::Result<()> {
        keyed(UPSERT, key)
            .bind(seq(self.seq))
            .bind(self.dead)
            .bind(self.due_us)
            .bind(self.data)
            .execute(conn)
            .await
            .map(drop)
    }
}

#[async_trait]
impl SubscriptionLog for PgStore {
    async fn subscription_position(&self, key: SubscriptionKey<'_>) -> Result<Option<u64>> {
        let p: Option<i64> = sqlx::query_scalar(
            "SELECT position FROM inbox_subscription_positions WHERE tenant_id = $1 AND subscription = $2",
        )
        .bind(key.tenant.as_str())
        .bind(key.subscription)
        .fetch_optional(self.pool())
        .await
        .map_err(|e| db("subscription position", e))?;
        Ok(p.map(|p| p.max(0) as u64))
    }

    async fn subscription_commit(
        &self,
        key: SubscriptionKey<'_>,
        commit: SubscriptionCommit,
    ) -> Result<()> {
        let fail = |e| db("subscription commit", e);
        let rows = (commit.retries.iter().map(DeliveryRow::retry))
            .chain(commit.dead.iter().map(DeliveryRow::dead))
            .collect::<Result<Vec<_>>>()?;
        let mut tx = self.pool().begin().await.map_err(fail)?;
        keyed(
            "INSERT INTO inbox_subscription_positions (tenant_id, subscription, position) VALUES ($1, $2, $3) \
             ON CONFLICT (tenant_id, subscription) DO UPDATE \
             SET position = GREATEST(inbox_subscription_positions.position, EXCLUDED.position)",
            key,
        )
        .bind(seq(commit.position))
        .execute(&mut *tx)
        .await
        .map_err(fail)?;
        for row in rows {
            row.upsert(&mut tx, key).await.map_err(fail)?;
        }
        tx.commit().await.map_err(fail)
    }

    async fn subscription_due_retries(
        &self,
        key: SubscriptionKey<'_>,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<SubscriptionRetry>> {
        let rows: Vec<serde_json::Value> = sqlx::query_scalar(
            "SELECT data FROM inbox_subscription_deliveries \
             WHERE tenant_id = $1 AND subscription = $2 AND NOT dead AND due_us <= $3 \
             ORDER BY due_us, seq LIMIT $4",
        )
        .bind(key.tenant.as_str())
        .bind(key.subscription)
        .bind(now.timestamp_micros())
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await
        .map_err(|e| db("subscription due retries", e))?;
        rows.into_iter().map(parse).collect()
    }

    async fn subscription_settle(
        &self,
        key: SubscriptionKey<'_>,
        event_seq: u64,
        outcome: DeliveryOutcome,
    ) -> Result<()> {
        let fail = |e| db("subscription settle", e);
        let mut tx = self.pool().begin().await.map_err(fail)?;
        let row = keyed(
            "SELECT dead, data FROM inbox_subscription_deliveries \
             WHERE tenant_id = $1 AND subscription = $2 AND seq = $3 FOR UPDATE",
            key,
        )
        .bind(seq(event_seq))
        .fetch_optional(&mut *tx)
        .await
        .map_err(fail)?;
        let Some(row) = row else {
            return Ok(());
        };
        let event = if row.get::<bool, _>(0) {
            parse::<SubscriptionDeadLetter>(row.get(1))?.event
        } else {
            parse::<SubscriptionRetry>(row.get(1))?.event
        };
        let row = match outcome.record(key.subscription, event) {
            None => {
                keyed(
                    "DELETE FROM inbox_subscription_deliveries WHERE tenant_id = $1 AND subscription = $2 AND seq = $3",
                    key,
                )
                .bind(seq(event_seq))
                .execute(&mut *tx)
                .await
                .map_err(fail)?;
                return tx.commit().await.map_err(fail);
            }
            Some(DeliveryRecord::Retry(r)) => DeliveryRow::retry(&r)?,
            Some(DeliveryRecord::Dead(d)) => DeliveryRow::dead(&d)?,
        };
        let row = DeliveryRow {
            seq: event_seq,
            ..row
        };
        row.upsert(&mut tx, key).await.map_err(fail)?;
        tx.commit().await.map_err(fail)
    }

    async fn subscription_dead_letters(
        &self,
        key: SubscriptionKey<'_>,
    ) -> Result<Vec<SubscriptionDeadLetter>> {
        let rows: Vec<serde_json::Value> = sqlx::query_scalar(
            "SELECT data FROM inbox_subscription_deliveries \
             WHERE tenant_id = $1 AND subscription = $2 AND dead ORDER BY seq",
        )
        .bind(key.tenant.as_str())
        .bind(key.subscription)
        .fetch_all(self.pool())
        .await
        .map_err(|e| db("subscription dead letters", e))?;
        rows.into_iter().map(parse).collect()
    }
}
