//! The directory: `inbox_tenants`, `inbox_channels`, `inbox_agents` and
//! `inbox_teams` (documents upserted and read by key), the checks that
//! tenants and channels exist, the writer of agents' presence, and the
//! cache of channels by phone number id.

use serde::de::DeserializeOwned;
use serde::Serialize;
use sqlx::types::Json;
use sqlx::PgPool;
use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use inbox_core::error::{Entity, Error, Result, Unique};
use inbox_core::ids::{AgentId, TenantId};
use inbox_core::model::{Agent, Channel, Presence, Team, Tenant};

use crate::error::{corrupt, db, fk_violation, unique_violation};
use crate::sql::{cast, documents, Arrays, ByKey, Docs, Statement};

/// A table of tenant documents by id (agents, teams, channels):
/// `(tenant_id, <key>, data)`.
pub(crate) struct DocTable<T> {
    docs: Docs,
    /// The id column.
    key: &'static str,
    /// What an upsert is called in errors (none: upserted elsewhere, see
    /// [`upsert_channel`]).
    upserting: Option<&'static str>,
    of: PhantomData<fn() -> T>,
}

impl<T> DocTable<T> {
    const fn new(docs: Docs, key: &'static str, upserting: Option<&'static str>) -> Self {
        Self {
            docs,
            key,
            upserting,
            of: PhantomData,
        }
    }
}

/// `inbox_agents`.
pub(crate) const AGENTS: DocTable<Agent> = DocTable::new(
    Docs::new(Entity::Agent, "inbox_agents"),
    "agent_id",
    Some("upsert agent"),
);

/// `inbox_teams`.
pub(crate) const TEAMS: DocTable<Team> = DocTable::new(
    Docs::new(Entity::Team, "inbox_teams"),
    "team_id",
    Some("upsert team"),
);

/// `inbox_channels`.
pub(crate) const CHANNELS: DocTable<Channel> = DocTable::new(
    Docs::new(Entity::Channel, "inbox_channels"),
    "channel_id",
    None,
);

impl<T: DeserializeOwned> DocTable<T> {
    /// The tenant's document `id`; `NotFound` if there is none.
    pub(crate) async fn get(&self, pool: &PgPool, tenant: &TenantId, id: &str) -> Result<T> {
        let (what, table, key) = (self.docs.what(), self.docs.table, self.key);
        let sql = format!("SELECT data FROM {table} WHERE tenant_id = $1 AND {key} = $2");
        let found = documents(pool, (what, what), &sql, &[tenant.as_str(), id]).await?;
        found
            .into_iter()
            .next()
            .ok_or_else(|| Error::not_found(self.docs.entity, id))
    }

    /// The tenant's documents, by id.
    pub(crate) async fn list(&self, pool: &PgPool, tenant: &TenantId) -> Result<Vec<T>> {
        let (what, table, key) = (self.docs.what(), self.docs.table, self.key);
        let sql = format!("SELECT data FROM {table} WHERE tenant_id = $1 ORDER BY {key}");
        documents(pool, (what, what), &sql, &[tenant.as_str()]).await
    }
}

impl<T: Serialize + Sync> DocTable<T> {
    /// Inserts or replaces a document of a tenant (through `ex`: the pool
    /// or a transaction).
    pub(crate) async fn upsert<'e>(
        &self,
        ex: impl sqlx::PgExecutor<'e>,
        tenant: &TenantId,
        id: &str,
        value: &T,
    ) -> Result<()> {
        let (table, key) = (self.docs.table, self.key);
        let Some(upserting) = self.upserting else {
            return Err(Error::invalid(
                self.docs.what(),
                "not upserted as a document",
            ));
        };
        let sql = format!(
            "INSERT INTO {table} (tenant_id, {key}, data) VALUES ($1, $2, $3) \
             ON CONFLICT (tenant_id, {key}) DO UPDATE SET data = EXCLUDED.data"
        );
        let r = sqlx::query(&sql)
            .bind(tenant.as_str())
            .bind(id)
            .bind(Json(value))
            .execute(ex)
            .await;
        match r {
            Ok(_) => Ok(()),
            Err(e) if fk_violation(&e) => Err(Error::not_found(Entity::Tenant, tenant)),
            Err(e) => Err(db(upserting, e)),
        }
    }
}

/// Inserts or replaces a tenant (name, suspended).
pub(crate) async fn upsert_tenant(pool: &PgPool, tenant: &Tenant) -> Result<()> {
    sqlx::query(
        "INSERT INTO inbox_tenants (tenant_id, name, suspended) VALUES ($1, $2, $3) \
         ON CONFLICT (tenant_id) DO UPDATE SET name = EXCLUDED.name, suspended = EXCLUDED.suspended",
    )
    .bind(tenant.id.as_str())
    .bind(&tenant.name)
    .bind(tenant.suspended)
    .execute(pool)
    .await
    .map_err(|e| db("upsert tenant", e))?;
    Ok(())
}

/// A tenant; `NotFound` if there is none.
pub(crate) async fn tenant(pool: &PgPool, id: &TenantId) -> Result<Tenant> {
    let row: Option<(String, bool)> =
        sqlx::query_as("SELECT name, suspended FROM inbox_tenants WHERE tenant_id = $1")
            .bind(id.as_str())
            .fetch_optional(pool)
            .await
            .map_err(|e| db("tenant", e))?;
    let (name, suspended) = row.ok_or_else(|| Error::not_found(Entity::Tenant, id))?;
    Ok(Tenant {
        suspended,
        ..Tenant::new(id.clone(), name)
    })
}

/// Every tenant, by id.
pub(crate) async fn tenants(pool: &PgPool) -> Result<Vec<Tenant>> {
    let rows: Vec<(String, String, bool)> =
        sqlx::query_as("SELECT tenant_id, name, suspended FROM inbox_tenants ORDER BY tenant_id")
            .fetch_all(pool)
            .await
            .map_err(|e| db("tenants", e))?;
    rows.into_iter()
        .map(|(id, name, suspended)| {
            Ok(Tenant {
                suspended,
                ..Tenant::new(TenantId::new(id)?, name)
            })
        })
        .collect()
}

/// Checks that the `tenants` exist (CTE `tn`), and locks their rows, by
/// id: every transaction that bumps a tenant's event sequence takes that
/// row first, so no two commits lock the same rows in opposite orders
/// (the AFTER triggers of a one-statement batch run after its events).
pub(crate) fn tenants_exist<'a>(st: &mut Statement<'a>, tenants: Vec<&'a str>) {
    st.check("(SELECT n FROM tn)".into(), tenants.len());
    st.cte("tn", |q| {
        q.push("SELECT count(*) AS n FROM (SELECT 1 FROM inbox_tenants WHERE tenant_id = ANY(");
        q.push_bind(tenants)
            .push("::text[]) ORDER BY tenant_id FOR NO KEY UPDATE) l");
    });
}

/// Checks that the channels `(tenant, channel)` exist (CTE `chk`).
pub(crate) fn channels_exist<'a>(st: &mut Statement<'a>, channels: &[(&'a str, &'a str)]) {
    st.check("(SELECT n FROM chk)".into(), channels.len());
    st.cte("chk", |q| {
        q.push("SELECT count(*) AS n FROM inbox_channels ch JOIN UNNEST(");
        Arrays::on(q)
            .col(cast::TEXT, channels, |c| c.0)
            .col(cast::TEXT, channels, |c| c.1);
        q.push(") AS u(t, c) ON ch.tenant_id = u.t AND ch.channel_id = u.c");
    });
}

/// Sets the presence of agents, each `(tenant, agent, presence)`, only
/// that field of their documents (CTE `pr`, counted: the agents must
/// exist). Group commit leaves changesets with presence to the single path
/// (rare).
pub(crate) fn set_presence<'a>(
    st: &mut Statement<'a>,
    rows: &[(&'a TenantId, &'a AgentId, &'a Presence)],
) -> Result<()> {
    let presence = rows
        .iter()
        .map(|(_, _, p)| serde_json::to_value(p).map_err(|e| corrupt("presence", e)))
        .collect::<Result<Vec<_>>>()?;
    st.counted("pr", rows.len(), |q| {
        q.push(
            "UPDATE inbox_agents a SET data = jsonb_set(a.data, '{presence}', u.p) FROM UNNEST(",
        );
        Arrays::on(q)
            .col(cast::TEXT, rows, |&(t, _, _)| t.as_str())
            .col(cast::TEXT, rows, |&(_, a, _)| a.as_str())
            .bind(cast::JSONB, presence);
        q.push(") AS u(t, id, p) WHERE a.tenant_id = u.t AND a.agent_id = u.id");
    });
    Ok(())
}

/// Inserts or replaces a channel through `ex` (the pool or a transaction);
/// its phone number id must be no other channel's (the owner of a taken one
/// is looked up through `pool`).
pub(crate) async fn upsert_channel<'e>(
    pool: &PgPool,
    ex: impl sqlx::PgExecutor<'e>,
    channel: &Channel,
) -> Result<()> {
    let r = sqlx::query(
        "INSERT INTO inbox_channels (tenant_id, channel_id, phone_number_id, data) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (tenant_id, channel_id) DO UPDATE SET phone_number_id = EXCLUDED.phone_number_id, \
         data = (EXCLUDED.data - 'signals' - 'history') \
             || CASE WHEN inbox_channels.data ? 'signals' THEN jsonb_build_object('signals', inbox_channels.data->'signals') ELSE '{}' END \
             || CASE WHEN inbox_channels.data ? 'history' THEN jsonb_build_object('history', inbox_channels.data->'history') ELSE '{}' END",
    )
    .bind(channel.tenant.as_str())
    .bind(channel.id.as_str())
    .bind(&channel.phone_number_id)
    .bind(Json(channel))
    .execute(ex)
    .await;
    match r {
        Ok(_) => Ok(()),
        Err(e) if fk_violation(&e) => Err(Error::not_found(Entity::Tenant, &channel.tenant)),
        Err(e) if unique_violation(&e).is_some() => {
            let owner = BY_PHONE_NUMBER_ID
                .one(pool, &[&channel.phone_number_id])
                .await?;
            Err(Error::Duplicate {
                what: Unique::PhoneNumberId,
                existing: owner.map(|c| c.id.to_string()).unwrap_or_default(),
            })
        }
        Err(e) => Err(db("upsert channel", e)),
    }
}

/// The channel of a phone number id, from the database: `(phone number
/// id)`.
const BY_PHONE_NUMBER_ID: ByKey<Channel> = CHANNELS
    .docs
    .by("channel by phone number id", "phone_number_id = $1");

/// How long a phone-number lookup is cached. Channels change rarely; a
/// change made through another instance is seen after at most this long.
const CHANNEL_TTL: Duration = Duration::from_secs(5);

/// Channels by phone number id (the lookup of every webhook), for
/// [`CHANNEL_TTL`]; cleared by every channel write of this instance.
#[derive(Debug, Default)]
pub(crate) struct ChannelCache(RwLock<HashMap<String, (Option<Channel>, Instant)>>);

impl ChannelCache {
    /// The channel of a phone number id, cached.
    pub(crate) async fn get(
        &self,
        pool: &PgPool,
        phone_number_id: &str,
    ) -> Result<Option<Channel>> {
        if let Ok(cache) = self.0.read() {
            if let Some((c, at)) = cache.get(phone_number_id) {
                if at.elapsed() < CHANNEL_TTL {
                    return Ok(c.clone());
                }
            }
        }
        let channel = BY_PHONE_NUMBER_ID.one(pool, &[phone_number_id]).await?;
        if let Ok(mut cache) = self.0.write() {
            if cache.len() > 10_000 {
                cache.clear();
            }
            cache.insert(
                phone_number_id.to_string(),
                (channel.clone(), Instant::now()),
            );
        }
        Ok(channel)
    }

    /// Forgets every channel.
    pub(crate) fn clear(&self) {
        if let Ok(mut cache) = self.0.write() {
            cache.clear();
        }
    }

    /// [`Directory::update_channel_news`](inbox_core::ports::Directory::update_channel_news):
    /// the row locked, changed, written; the cache cleared after.
    pub(crate) async fn update_news(
        &self,
        pool: &PgPool,
        tenant: &TenantId,
        id: &inbox_core::ChannelId,
        change: &inbox_core::ports::ChannelNews<'_>,
    ) -> Result<Channel> {
        let mut tx = pool.begin().await.map_err(|e| db("begin", e))?;
        let row: Option<(Json<Channel>,)> = sqlx::query_as(
            "SELECT data FROM inbox_channels WHERE tenant_id = $1 AND channel_id = $2 FOR UPDATE",
        )
        .bind(tenant.as_str())
        .bind(id.as_str())
        .fetch_optional(&mut *tx)
        .await
        .map_err(|e| db("channel news", e))?;
        let Some((Json(stored),)) = row else {
            return Err(Error::not_found(Entity::Channel, id));
        };
        let mut changed = stored.clone();
        if !change(&mut changed) {
            let _ = tx.rollback().await;
            return Ok(stored);
        }
        let after = changed.news_into(stored);
        sqlx::query("UPDATE inbox_channels SET data = $3 WHERE tenant_id = $1 AND channel_id = $2")
            .bind(tenant.as_str())
            .bind(id.as_str())
            .bind(Json(&after))
            .execute(&mut *tx)
            .await
            .map_err(|e| db("channel news", e))?;
        tx.commit().await.map_err(|e| db("commit", e))?;
        self.clear();
        Ok(after)
    }

    /// [`upsert_channel`], the cache cleared before and after.
    pub(crate) async fn upsert(&self, pool: &PgPool, channel: &Channel) -> Result<()> {
        self.clear();
        let r = upsert_channel(pool, pool, channel).await;
        self.clear();
        r
    }
}
