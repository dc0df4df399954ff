//! [`Settings`] on PostgreSQL (migration 21): the last version of each
//! tenant's document in one row, every change in the history table, both
//! written in one transaction.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::Row;

use inbox_core::error::{Conflict, Entity, Error, Result};
use inbox_core::ids::{AgentId, TenantId};
use inbox_core::ports::{
    DirectoryWrite, HistoryQuery, Settings, SettingsChange, SettingsPut, StoredSettings,
};

use crate::error::{corrupt, db};
use crate::tables::directory::{upsert_channel, AGENTS, TEAMS};
use crate::PgStore;

fn time(us: i64) -> Result<DateTime<Utc>> {
    DateTime::from_timestamp_micros(us).ok_or_else(|| Error::Backend {
        message: "PostgreSQL: corrupt settings row (time out of range)".into(),
        source: None,
    })
}

fn agent(id: Option<String>) -> Result<Option<AgentId>> {
    id.map(AgentId::new).transpose()
}

fn stored(tenant: &TenantId, row: &sqlx::postgres::PgRow) -> Result<StoredSettings> {
    let document: String = row.get("document");
    Ok(StoredSettings {
        tenant: tenant.clone(),
        version: row.get::<i64, _>("version") as u64,
        document: serde_json::from_str(&document).map_err(|e| corrupt("settings", e))?,
        updated_at: time(row.get("updated_us"))?,
        updated_by: agent(row.get("updated_by"))?,
    })
}

fn change(row: &sqlx::postgres::PgRow) -> Result<SettingsChange> {
    let sections: String = row.get("sections");
    Ok(SettingsChange {
        version: row.get::<i64, _>("version") as u64,
        at: time(row.get("at_us"))?,
        by: agent(row.get("by_agent"))?,
        sections: serde_json::from_str(&sections).map_err(|e| corrupt("settings history", e))?,
    })
}

impl PgStore {
    /// Writes the new version over `expected` in `tx`: `false` when the
    /// stored version is not `expected` (nothing written).
    async fn write_settings(
        tx: &mut sqlx::PgConnection,
        put: &SettingsPut<'_>,
        document: &str,
    ) -> Result<bool> {
        let sql = if put.expected == 0 {
            "INSERT INTO inbox_tenant_settings \
             (tenant_id, version, document, updated_us, updated_by) \
             VALUES ($1, $2 + 1, $3, $4, $5) ON CONFLICT (tenant_id) DO NOTHING"
        } else {
            "UPDATE inbox_tenant_settings \
             SET version = $2 + 1, document = $3, updated_us = $4, updated_by = $5 \
             WHERE tenant_id = $1 AND version = $2"
        };
        let written = sqlx::query(sql)
            .bind(put.tenant.as_str())
            .bind(put.expected as i64)
            .bind(document)
            .bind(put.at.timestamp_micros())
            .bind(put.by.map(|a| a.as_str()))
            .execute(&mut *tx)
            .await
            .map_err(|e| db("put settings", e))?;
        Ok(written.rows_affected() == 1)
    }

    /// Upserts the record a put carries, in `tx`.
    async fn write_directory(
        &self,
        tx: &mut sqlx::PgConnection,
        write: DirectoryWrite<'_>,
    ) -> Result<()> {
        match write {
            DirectoryWrite::Agent(a) => AGENTS.upsert(tx, &a.tenant, a.id.as_str(), a).await,
            DirectoryWrite::Team(t) => TEAMS.upsert(tx, &t.tenant, t.id.as_str(), t).await,
            DirectoryWrite::Channel(c) => {
                self.channels.clear();
                upsert_channel(self.pool(), tx, c).await
            }
        }
    }

    async fn settings_version(&self, tenant: &TenantId) -> Result<u64> {
        let v: Option<i64> =
            sqlx::query_scalar("SELECT version FROM inbox_tenant_settings WHERE tenant_id = $1")
                .bind(tenant.as_str())
                .fetch_optional(self.pool())
                .await
                .map_err(|e| db("read settings version", e))?;
        Ok(v.unwrap_or(0) as u64)
    }
}

#[async_trait]
impl Settings for PgStore {
    async fn settings(&self, tenant: &TenantId) -> Result<Option<StoredSettings>> {
        let row = sqlx::query(
            "SELECT version, document, updated_us, updated_by \
             FROM inbox_tenant_settings WHERE tenant_id = $1",
        )
        .bind(tenant.as_str())
        .fetch_optional(self.pool())
        .await
        .map_err(|e| db("read settings", e))?;
        row.map(|r| stored(tenant, &r)).transpose()
    }

    async fn put_settings(&self, put: SettingsPut<'_>) -> Result<StoredSettings> {
        let document = serde_json::to_string(put.document).map_err(|e| corrupt("settings", e))?;
        let sections = serde_json::to_string(put.sections).map_err(|e| corrupt("settings", e))?;
        let mut tx = self
            .pool()
            .begin()
            .await
            .map_err(|e| db("put settings", e))?;
        if !Self::write_settings(&mut tx, &put, &document).await? {
            drop(tx);
            let current = self.settings_version(put.tenant).await?;
            let c = Conflict::on(Entity::Settings, put.tenant, put.expected, current);
            return Err(Error::Conflict(Box::new(c)));
        }
        sqlx::query(
            "INSERT INTO inbox_tenant_settings_history \
             (tenant_id, version, at_us, by_agent, sections) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(put.tenant.as_str())
        .bind(put.expected as i64 + 1)
        .bind(put.at.timestamp_micros())
        .bind(put.by.map(|a| a.as_str()))
        .bind(&sections)
        .execute(&mut *tx)
        .await
        .map_err(|e| db("record settings history", e))?;
        if let Some(write) = put.directory {
            self.write_directory(&mut tx, write).await?;
        }
        tx.commit().await.map_err(|e| db("put settings", e))?;
        if matches!(put.directory, Some(DirectoryWrite::Channel(_))) {
            self.channels.clear();
        }
        Ok(StoredSettings {
            tenant: put.tenant.clone(),
            version: put.expected + 1,
            document: put.document.clone(),
            updated_at: put.at,
            updated_by: put.by.cloned(),
        })
    }

    async fn settings_history(
        &self,
        tenant: &TenantId,
        query: HistoryQuery,
    ) -> Result<Vec<SettingsChange>> {
        let rows = sqlx::query(
            "SELECT version, at_us, by_agent, sections FROM inbox_tenant_settings_history \
             WHERE tenant_id = $1 AND version < $2 ORDER BY version DESC LIMIT $3",
        )
        .bind(tenant.as_str())
        .bind(
            query
                .before
                .map_or(i64::MAX, |v| v.min(i64::MAX as u64) as i64),
        )
        .bind(i64::from(query.limit))
        .fetch_all(self.pool())
        .await
        .map_err(|e| db("read settings history", e))?;
        rows.iter().map(change).collect()
    }

    async fn settings_versions(&self) -> Result<Vec<(TenantId, u64)>> {
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT tenant_id, version FROM inbox_tenant_settings ORDER BY tenant_id",
        )
        .fetch_all(self.pool())
        .await
        .map_err(|e| db("list settings versions", e))?;
        rows.into_iter()
            .map(|(id, version)| Ok((TenantId::new(id)?, version as u64)))
            .collect()
    }
}
