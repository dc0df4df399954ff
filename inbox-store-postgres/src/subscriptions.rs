//! [`SubscriptionLog`] on PostgreSQL: positions in one table, retries and
//! dead letters as rows of another (created by migration 8, renamed by
//! migration 20).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::Row;

use inbox_core::ports::{
    DeliveryOutcome, DeliveryRecord, SubscriptionDeadLetter, SubscriptionLog, SubscriptionRetry,
};
use inbox_core::{Result, TenantId};

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

const UPSERT: &str = "INSERT INTO inbox_subscription_deliveries (tenant_id, subscription, seq, dead, due_us, data) \
     VALUES ($1, $2, $3, $4, $5, $6) \
     ON CONFLICT (tenant_id, subscription, seq) DO UPDATE SET dead = EXCLUDED.dead, due_us = EXCLUDED.due_us, data = EXCLUDED.data";

#[async_trait]
impl SubscriptionLog for PgStore {
    async fn subscription_position(
        &self,
        tenant: &TenantId,
        subscription: &str,
    ) -> Result<Option<u64>> {
        let p: Option<i64> = sqlx::query_scalar(
            "SELECT position FROM inbox_subscription_positions WHERE tenant_id = $1 AND subscription = $2",
        )
        .bind(tenant.as_str())
        .bind(subscription)
        .fetch_optional(self.pool())
        .await
        .map_err(|e| db("subscription position", e))?;
        Ok(p.map(|p| p.max(0) as u64))
    }

    async fn subscription_commit(
        &self,
        tenant: &TenantId,
        subscription: &str,
        position: u64,
        retries: Vec<SubscriptionRetry>,
        dead: Vec<SubscriptionDeadLetter>,
    ) -> Result<()> {
        let fail = |e| db("subscription commit", e);
        let mut tx = self.pool().begin().await.map_err(fail)?;
        sqlx::query(
            "INSERT INTO inbox_subscription_positions (tenant_id, subscription, position) VALUES ($1, $2, $3) \
             ON CONFLICT (tenant_id, subscription) DO UPDATE \
             SET position = GREATEST(inbox_subscription_positions.position, EXCLUDED.position)",
        )
        .bind(tenant.as_str())
        .bind(subscription)
        .bind(seq(position))
        .execute(&mut *tx)
        .await
        .map_err(fail)?;
        for r in &retries {
            sqlx::query(UPSERT)
                .bind(tenant.as_str())
                .bind(subscription)
                .bind(seq(r.event.seq))
                .bind(false)
                .bind(Some(r.due.timestamp_micros()))
                .bind(json(r)?)
                .execute(&mut *tx)
                .await
                .map_err(fail)?;
        }
        for d in &dead {
            sqlx::query(UPSERT)
                .bind(tenant.as_str())
                .bind(subscription)
                .bind(seq(d.event.seq))
                .bind(true)
                .bind(None::<i64>)
                .bind(json(d)?)
                .execute(&mut *tx)
                .await
                .map_err(fail)?;
        }
        tx.commit().await.map_err(fail)
    }

    async fn subscription_due_retries(
        &self,
        tenant: &TenantId,
        subscription: &str,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<SubscriptionRetry>> {
        let rows: Vec<serde_json::Value> = sqlx::query_scalar(
            "SELECT data FROM inbox_subscription_deliveries \
             WHERE tenant_id = $1 AND subscription = $2 AND NOT dead AND due_us <= $3 \
             ORDER BY due_us, seq LIMIT $4",
        )
        .bind(tenant.as_str())
        .bind(subscription)
        .bind(now.timestamp_micros())
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await
        .map_err(|e| db("subscription due retries", e))?;
        rows.into_iter().map(parse).collect()
    }

    async fn subscription_settle(
        &self,
        tenant: &TenantId,
        subscription: &str,
        event_seq: u64,
        outcome: DeliveryOutcome,
    ) -> Result<()> {
        let fail = |e| db("subscription settle", e);
        let mut tx = self.pool().begin().await.map_err(fail)?;
        let row = sqlx::query(
            "SELECT dead, data FROM inbox_subscription_deliveries \
             WHERE tenant_id = $1 AND subscription = $2 AND seq = $3 FOR UPDATE",
        )
        .bind(tenant.as_str())
        .bind(subscription)
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
        let (dead, due, data) = match outcome.record(subscription, event) {
            None => {
                sqlx::query(
                    "DELETE FROM inbox_subscription_deliveries WHERE tenant_id = $1 AND subscription = $2 AND seq = $3",
                )
                .bind(tenant.as_str())
                .bind(subscription)
                .bind(seq(event_seq))
                .execute(&mut *tx)
                .await
                .map_err(fail)?;
                return tx.commit().await.map_err(fail);
            }
            Some(DeliveryRecord::Retry(r)) => (false, Some(r.due.timestamp_micros()), json(&r)?),
            Some(DeliveryRecord::Dead(d)) => (true, None, json(&d)?),
        };
        sqlx::query(UPSERT)
            .bind(tenant.as_str())
            .bind(subscription)
            .bind(seq(event_seq))
            .bind(dead)
            .bind(due)
            .bind(data)
            .execute(&mut *tx)
            .await
            .map_err(fail)?;
        tx.commit().await.map_err(fail)
    }

    async fn subscription_dead_letters(
        &self,
        tenant: &TenantId,
        subscription: &str,
    ) -> Result<Vec<SubscriptionDeadLetter>> {
        let rows: Vec<serde_json::Value> = sqlx::query_scalar(
            "SELECT data FROM inbox_subscription_deliveries \
             WHERE tenant_id = $1 AND subscription = $2 AND dead ORDER BY seq",
        )
        .bind(tenant.as_str())
        .bind(subscription)
        .fetch_all(self.pool())
        .await
        .map_err(|e| db("subscription dead letters", e))?;
        rows.into_iter().map(parse).collect()
    }
}
