//! [`Access`] on PostgreSQL (migration 22): password hashes, sessions by
//! token hash, API keys by id.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::Row;

use inbox_core::error::{Entity, Error, Result, Unique};
use inbox_core::ids::{AgentId, ApiKeyId, TenantId};
use inbox_core::model::Role;
use inbox_core::ports::{Access, ApiKeyRecord, SessionRecord, TokenHash};
use inbox_core::Secret;

use crate::error::{db, fk_violation, unique_violation};
use crate::PgStore;

const SESSION: &str =
    "token_hash, tenant_id, agent_id, created_us, expires_us, last_seen_us, user_agent";
const KEY: &str = "key_id, tenant_id, name, role, key_hash, created_us, created_by, \
                   last_used_us, revoked_us";

fn corrupt(what: &str) -> Error {
    Error::Backend {
        message: format!("PostgreSQL: corrupt access row ({what})"),
        source: None,
    }
}

fn time(us: i64) -> Result<DateTime<Utc>> {
    DateTime::from_timestamp_micros(us).ok_or_else(|| corrupt("time out of range"))
}

fn maybe_time(us: Option<i64>) -> Result<Option<DateTime<Utc>>> {
    us.map(time).transpose()
}

fn hash(bytes: Vec<u8>) -> Result<TokenHash> {
    let bytes: [u8; 32] = bytes.try_into().map_err(|_| corrupt("hash length"))?;
    Ok(TokenHash::from_bytes(bytes))
}

fn role(word: &str) -> Result<Role> {
    serde_json::from_value(serde_json::Value::String(word.into())).map_err(|_| corrupt("role"))
}

fn session(row: &PgRow) -> Result<SessionRecord> {
    Ok(SessionRecord {
        token_hash: hash(row.get("token_hash"))?,
        tenant: TenantId::new(row.get::<String, _>("tenant_id"))?,
        agent: AgentId::new(row.get::<String, _>("agent_id"))?,
        created_at: time(row.get("created_us"))?,
        expires_at: time(row.get("expires_us"))?,
        last_seen_at: maybe_time(row.get("last_seen_us"))?,
        user_agent: row.get("user_agent"),
    })
}

fn key(row: &PgRow) -> Result<ApiKeyRecord> {
    let created_by: Option<String> = row.get("created_by");
    Ok(ApiKeyRecord {
        id: ApiKeyId::new(row.get::<String, _>("key_id"))?,
        tenant: TenantId::new(row.get::<String, _>("tenant_id"))?,
        name: row.get("name"),
        role: role(row.get("role"))?,
        key_hash: hash(row.get("key_hash"))?,
        created_at: time(row.get("created_us"))?,
        created_by: created_by.map(AgentId::new).transpose()?,
        last_used_at: maybe_time(row.get("last_used_us"))?,
        revoked_at: maybe_time(row.get("revoked_us"))?,
    })
}

impl PgStore {
    /// Fails with [`Error::NotFound`] on the agent unless the tenant has it.
    async fn require_agent(&self, tenant: &TenantId, agent: &AgentId) -> Result<()> {
        let found: Option<i32> =
            sqlx::query_scalar("SELECT 1 FROM inbox_agents WHERE tenant_id = $1 AND agent_id = $2")
                .bind(tenant.as_str())
                .bind(agent.as_str())
                .fetch_optional(self.pool())
                .await
                .map_err(|e| db("read agent", e))?;
        found
            .map(|_| ())
            .ok_or_else(|| Error::not_found(Entity::Agent, agent))
    }

    /// The rows of `sql` (which binds the tenant, then `agent` if given).
    async fn session_rows(
        &self,
        sql: &str,
        tenant: &TenantId,
        agent: Option<&AgentId>,
    ) -> Result<Vec<PgRow>> {
        let mut q = sqlx::query(sql).bind(tenant.as_str());
        if let Some(a) = agent {
            q = q.bind(a.as_str());
        }
        q.fetch_all(self.pool())
            .await
            .map_err(|e| db("list sessions", e))
    }
}

#[async_trait]
impl Access for PgStore {
    async fn set_password_hash(
        &self,
        tenant: &TenantId,
        agent: &AgentId,
        phc: Option<&str>,
    ) -> Result<()> {
        self.require_agent(tenant, agent).await?;
        let q = match phc {
            Some(phc) => sqlx::query(
                "INSERT INTO inbox_agent_passwords (tenant_id, agent_id, phc) VALUES ($1, $2, $3) \
                 ON CONFLICT (tenant_id, agent_id) DO UPDATE SET phc = EXCLUDED.phc",
            )
            .bind(tenant.as_str())
            .bind(agent.as_str())
            .bind(phc),
            None => sqlx::query(
                "DELETE FROM inbox_agent_passwords WHERE tenant_id = $1 AND agent_id = $2",
            )
            .bind(tenant.as_str())
            .bind(agent.as_str()),
        };
        q.execute(self.pool())
            .await
            .map_err(|e| match fk_violation(&e) {
                true => Error::not_found(Entity::Agent, agent),
                false => db("set password hash", e),
            })?;
        Ok(())
    }

    async fn password_hash(&self, tenant: &TenantId, agent: &AgentId) -> Result<Option<Secret>> {
        let row: Option<(Option<String>,)> = sqlx::query_as(
            "SELECT p.phc FROM inbox_agents a LEFT JOIN inbox_agent_passwords p \
             ON p.tenant_id = a.tenant_id AND p.agent_id = a.agent_id \
             WHERE a.tenant_id = $1 AND a.agent_id = $2",
        )
        .bind(tenant.as_str())
        .bind(agent.as_str())
        .fetch_optional(self.pool())
        .await
        .map_err(|e| db("read password hash", e))?;
        let (phc,) = row.ok_or_else(|| Error::not_found(Entity::Agent, agent))?;
        Ok(phc.map(Secret::new))
    }

    async fn create_session(&self, s: &SessionRecord) -> Result<()> {
        sqlx::query(&format!(
            "INSERT INTO inbox_sessions ({SESSION}) VALUES ($1, $2, $3, $4, $5, $6, $7)"
        ))
        .bind(&s.token_hash.as_bytes()[..])
        .bind(s.tenant.as_str())
        .bind(s.agent.as_str())
        .bind(s.created_at.timestamp_micros())
        .bind(s.expires_at.timestamp_micros())
        .bind(s.last_seen_at.map(|t| t.timestamp_micros()))
        .bind(s.user_agent.as_deref())
        .execute(self.pool())
        .await
        .map_err(|e| {
            if fk_violation(&e) {
                Error::not_found(Entity::Agent, &s.agent)
            } else if unique_violation(&e).is_some() {
                Error::Duplicate {
                    what: Unique::Session,
                    existing: s.token_hash.to_hex(),
                }
            } else {
                db("create session", e)
            }
        })?;
        Ok(())
    }

    async fn session(&self, token_hash: &TokenHash) -> Result<Option<SessionRecord>> {
        let row = sqlx::query(&format!(
            "SELECT {SESSION} FROM inbox_sessions WHERE token_hash = $1"
        ))
        .bind(&token_hash.as_bytes()[..])
        .fetch_optional(self.pool())
        .await
        .map_err(|e| db("read session", e))?;
        row.as_ref().map(session).transpose()
    }

    async fn touch_session(
        &self,
        tenant: &TenantId,
        token_hash: &TokenHash,
        at: DateTime<Utc>,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE inbox_sessions SET last_seen_us = $3 WHERE token_hash = $1 AND tenant_id = $2",
        )
        .bind(&token_hash.as_bytes()[..])
        .bind(tenant.as_str())
        .bind(at.timestamp_micros())
        .execute(self.pool())
        .await
        .map_err(|e| db("touch session", e))?;
        Ok(())
    }

    async fn revoke_session(&self, tenant: &TenantId, token_hash: &TokenHash) -> Result<bool> {
        let done =
            sqlx::query("DELETE FROM inbox_sessions WHERE token_hash = $1 AND tenant_id = $2")
                .bind(&token_hash.as_bytes()[..])
                .bind(tenant.as_str())
                .execute(self.pool())
                .await
                .map_err(|e| db("revoke session", e))?;
        Ok(done.rows_affected() > 0)
    }

    async fn revoke_agent_sessions(
        &self,
        tenant: &TenantId,
        agent: &AgentId,
        except: Option<&TokenHash>,
    ) -> Result<u64> {
        let done = sqlx::query(
            "DELETE FROM inbox_sessions WHERE tenant_id = $1 AND agent_id = $2 \
             AND token_hash IS DISTINCT FROM $3",
        )
        .bind(tenant.as_str())
        .bind(agent.as_str())
        .bind(except.map(|h| &h.as_bytes()[..]))
        .execute(self.pool())
        .await
        .map_err(|e| db("revoke sessions", e))?;
        Ok(done.rows_affected())
    }

    async fn sessions(
        &self,
        tenant: &TenantId,
        agent: Option<&AgentId>,
    ) -> Result<Vec<SessionRecord>> {
        let only = if agent.is_some() {
            " AND agent_id = $2"
        } else {
            ""
        };
        let sql = format!(
            "SELECT {SESSION} FROM inbox_sessions WHERE tenant_id = $1{only} \
             ORDER BY created_us DESC, token_hash DESC"
        );
        let rows = self.session_rows(&sql, tenant, agent).await?;
        rows.iter().map(session).collect()
    }

    async fn purge_sessions(&self, before: DateTime<Utc>) -> Result<u64> {
        let done = sqlx::query("DELETE FROM inbox_sessions WHERE expires_us <= $1")
            .bind(before.timestamp_micros())
            .execute(self.pool())
            .await
            .map_err(|e| db("purge sessions", e))?;
        Ok(done.rows_affected())
    }

    async fn create_api_key(&self, k: &ApiKeyRecord) -> Result<()> {
        sqlx::query(&format!(
            "INSERT INTO inbox_api_keys ({KEY}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        ))
        .bind(k.id.as_str())
        .bind(k.tenant.as_str())
        .bind(&k.name)
        .bind(k.role.to_string())
        .bind(&k.key_hash.as_bytes()[..])
        .bind(k.created_at.timestamp_micros())
        .bind(k.created_by.as_ref().map(|a| a.as_str()))
        .bind(k.last_used_at.map(|t| t.timestamp_micros()))
        .bind(k.revoked_at.map(|t| t.timestamp_micros()))
        .execute(self.pool())
        .await
        .map_err(|e| match unique_violation(&e) {
            Some(_) => Error::Duplicate {
                what: Unique::ApiKey,
                existing: k.id.to_string(),
            },
            None => db("create api key", e),
        })?;
        Ok(())
    }

    async fn api_key(&self, id: &ApiKeyId) -> Result<Option<ApiKeyRecord>> {
        let row = sqlx::query(&format!(
            "SELECT {KEY} FROM inbox_api_keys WHERE key_id = $1"
        ))
        .bind(id.as_str())
        .fetch_optional(self.pool())
        .await
        .map_err(|e| db("read api key", e))?;
        row.as_ref().map(key).transpose()
    }

    async fn api_keys(&self, tenant: &TenantId) -> Result<Vec<ApiKeyRecord>> {
        let rows = sqlx::query(&format!(
            "SELECT {KEY} FROM inbox_api_keys WHERE tenant_id = $1 ORDER BY key_id"
        ))
        .bind(tenant.as_str())
        .fetch_all(self.pool())
        .await
        .map_err(|e| db("list api keys", e))?;
        rows.iter().map(key).collect()
    }

    async fn revoke_api_key(
        &self,
        tenant: &TenantId,
        id: &ApiKeyId,
        at: DateTime<Utc>,
    ) -> Result<ApiKeyRecord> {
        let row = sqlx::query(&format!(
            "UPDATE inbox_api_keys SET revoked_us = COALESCE(revoked_us, $3) \
             WHERE key_id = $1 AND tenant_id = $2 RETURNING {KEY}"
        ))
        .bind(id.as_str())
        .bind(tenant.as_str())
        .bind(at.timestamp_micros())
        .fetch_optional(self.pool())
        .await
        .map_err(|e| db("revoke api key", e))?;
        let row = row.ok_or_else(|| Error::not_found(Entity::ApiKey, id))?;
        key(&row)
    }

    async fn touch_api_key(
        &self,
        tenant: &TenantId,
        id: &ApiKeyId,
        at: DateTime<Utc>,
    ) -> Result<()> {
        let done = sqlx::query(
            "UPDATE inbox_api_keys SET last_used_us = $3 WHERE key_id = $1 AND tenant_id = $2",
        )
        .bind(id.as_str())
        .bind(tenant.as_str())
        .bind(at.timestamp_micros())
        .execute(self.pool())
        .await
        .map_err(|e| db("touch api key", e))?;
        match done.rows_affected() {
            0 => Err(Error::not_found(Entity::ApiKey, id)),
            _ => Ok(()),
        }
    }
}
