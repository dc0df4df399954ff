//! [`ChannelSecrets`] on PostgreSQL: one row per sealed secret, keyed by
//! tenant, number and name (migration 23), or by tenant and name for
//! tenant-wide secrets (migration 32).

use async_trait::async_trait;

use inbox_core::error::{Entity, Error, Result};
use inbox_core::ids::{ChannelId, TenantId};
use inbox_core::ports::{ChannelSecrets, SealedSecret, SecretSlot, TenantSecretSlot};

use crate::error::{db, fk_violation};
use crate::PgStore;

type Row = (String, String, String, String, Vec<u8>);

fn slot_of(row: Row) -> Result<(SecretSlot, SealedSecret)> {
    let (tenant, channel, name, key_id, sealed) = row;
    let slot = SecretSlot {
        tenant: TenantId::new(tenant)?,
        channel: ChannelId::new(channel)?,
        name,
    };
    Ok((slot, SealedSecret { key_id, sealed }))
}

#[async_trait]
impl ChannelSecrets for PgStore {
    async fn put_channel_secret(
        &self,
        slot: &SecretSlot,
        secret: Option<&SealedSecret>,
    ) -> Result<()> {
        let (t, c, n) = (slot.tenant.as_str(), slot.channel.as_str(), &slot.name);
        let result = match secret {
            Some(s) => sqlx::query(
                "INSERT INTO inbox_channel_secrets (tenant_id, channel_id, name, key_id, sealed) \
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tenant_id, channel_id, name) \
                     DO UPDATE SET key_id = EXCLUDED.key_id, sealed = EXCLUDED.sealed",
            )
            .bind(t)
            .bind(c)
            .bind(n)
            .bind(&s.key_id)
            .bind(&s.sealed)
            .execute(self.pool())
            .await,
            None => {
                let exists: Option<i32> = sqlx::query_scalar(
                    "SELECT 1 FROM inbox_channels WHERE tenant_id = $1 AND channel_id = $2",
                )
                .bind(t)
                .bind(c)
                .fetch_optional(self.pool())
                .await
                .map_err(|e| db("remove channel secret", e))?;
                if exists.is_none() {
                    return Err(Error::not_found(Entity::Channel, &slot.channel));
                }
                sqlx::query(
                    "DELETE FROM inbox_channel_secrets \
                     WHERE tenant_id = $1 AND channel_id = $2 AND name = $3",
                )
                .bind(t)
                .bind(c)
                .bind(n)
                .execute(self.pool())
                .await
            }
        };
        match result {
            Ok(_) => Ok(()),
            Err(e) if fk_violation(&e) => Err(Error::not_found(Entity::Channel, &slot.channel)),
            Err(e) => Err(db("put channel secret", e)),
        }
    }

    async fn channel_secret(&self, slot: &SecretSlot) -> Result<Option<SealedSecret>> {
        let row: Option<(String, Vec<u8>)> = sqlx::query_as(
            "SELECT key_id, sealed FROM inbox_channel_secrets \
             WHERE tenant_id = $1 AND channel_id = $2 AND name = $3",
        )
        .bind(slot.tenant.as_str())
        .bind(slot.channel.as_str())
        .bind(&slot.name)
        .fetch_optional(self.pool())
        .await
        .map_err(|e| db("read channel secret", e))?;
        Ok(row.map(|(key_id, sealed)| SealedSecret { key_id, sealed }))
    }

    async fn sealed_secrets(
        &self,
        after: Option<&SecretSlot>,
        limit: u32,
    ) -> Result<Vec<(SecretSlot, SealedSecret)>> {
        let (t, c, n) = after.map_or(("", "", ""), |s| {
            (s.tenant.as_str(), s.channel.as_str(), s.name.as_str())
        });
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT tenant_id, channel_id, name, key_id, sealed FROM inbox_channel_secrets \
             WHERE ($4 OR (tenant_id, channel_id, name) > ($1, $2, $3)) \
             ORDER BY tenant_id, channel_id, name LIMIT $5",
        )
        .bind(t)
        .bind(c)
        .bind(n)
        .bind(after.is_none())
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await
        .map_err(|e| db("list channel secrets", e))?;
        rows.into_iter().map(slot_of).collect()
    }

    async fn put_tenant_secret(
        &self,
        slot: &TenantSecretSlot,
        secret: Option<&SealedSecret>,
    ) -> Result<()> {
        let (t, n) = (slot.tenant.as_str(), slot.name.as_str());
        let result = match secret {
            Some(s) => sqlx::query(
                "INSERT INTO inbox_tenant_secrets (tenant_id, name, key_id, sealed) \
                     VALUES ($1, $2, $3, $4) ON CONFLICT (tenant_id, name) \
                     DO UPDATE SET key_id = EXCLUDED.key_id, sealed = EXCLUDED.sealed",
            )
            .bind(t)
            .bind(n)
            .bind(&s.key_id)
            .bind(&s.sealed)
            .execute(self.pool())
            .await
            .map(|_| true),
            None => sqlx::query_scalar::<_, bool>(
                "WITH gone AS (DELETE FROM inbox_tenant_secrets WHERE tenant_id = $1 AND name = $2) \
                 SELECT EXISTS (SELECT 1 FROM inbox_tenants WHERE tenant_id = $1)",
            )
            .bind(t)
            .bind(n)
            .fetch_one(self.pool())
            .await,
        };
        match result {
            Ok(true) => Ok(()),
            Ok(false) => Err(Error::not_found(Entity::Tenant, &slot.tenant)),
            Err(e) if fk_violation(&e) => Err(Error::not_found(Entity::Tenant, &slot.tenant)),
            Err(e) => Err(db("put tenant secret", e)),
        }
    }

    async fn tenant_secret(&self, slot: &TenantSecretSlot) -> Result<Option<SealedSecret>> {
        let row: Option<(String, Vec<u8>)> = sqlx::query_as(
            "SELECT key_id, sealed FROM inbox_tenant_secrets WHERE tenant_id = $1 AND name = $2",
        )
        .bind(slot.tenant.as_str())
        .bind(&slot.name)
        .fetch_optional(self.pool())
        .await
        .map_err(|e| db("read tenant secret", e))?;
        Ok(row.map(|(key_id, sealed)| SealedSecret { key_id, sealed }))
    }

    async fn tenant_secret_names(&self, tenant: &TenantId) -> Result<Vec<String>> {
        sqlx::query_scalar(
            "SELECT name FROM inbox_tenant_secrets WHERE tenant_id = $1 ORDER BY name",
        )
        .bind(tenant.as_str())
        .fetch_all(self.pool())
        .await
        .map_err(|e| db("list tenant secret names", e))
    }

    async fn sealed_tenant_secrets(
        &self,
        after: Option<&TenantSecretSlot>,
        limit: u32,
    ) -> Result<Vec<(TenantSecretSlot, SealedSecret)>> {
        let (t, n) = after.map_or(("", ""), |s| (s.tenant.as_str(), s.name.as_str()));
        let rows: Vec<(String, String, String, Vec<u8>)> = sqlx::query_as(
            "SELECT tenant_id, name, key_id, sealed FROM inbox_tenant_secrets \
             WHERE ($3 OR (tenant_id, name) > ($1, $2)) ORDER BY tenant_id, name LIMIT $4",
        )
        .bind(t)
        .bind(n)
        .bind(after.is_none())
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await
        .map_err(|e| db("list tenant secrets", e))?;
        rows.into_iter()
            .map(|(tenant, name, key_id, sealed)| {
                let slot = TenantSecretSlot {
                    tenant: TenantId::new(tenant)?,
                    name,
                };
                Ok((slot, SealedSecret { key_id, sealed }))
            })
            .collect()
    }
}
