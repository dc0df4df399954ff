//! The directory: `inbox_tenants`, `inbox_channels`, `inbox_agents` and
//! `inbox_teams` (documents upserted and read by key), the checks that
//! tenants and channels exist, the writer of agents' presence, and the
//! cache of channels by phone number id.

use serde::de::DeserializeOwned;
use serde::Serialize;
use sqlx::types::Json;
use sqlx::PgPool;
use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use inbox_core::error::{Error, Result};
use inbox_core::ids::{AgentId, TenantId};
use inbox_core::model::{Channel, Presence, Tenant};

use crate::error::{corrupt, db, fk_violation, unique_violation};
use crate::sql::{cast, document_of, documents, Arrays, Statement};

/// A table of tenant documents (agents, teams, channels) and its
/// statements.
pub(crate) struct Docs {
    /// The kind of document (for errors).
    pub what: &'static str,
    /// What an upsert is called in errors.
    pub upserting: &'static str,
    /// Upserts `($1 tenant, $2 id, $3 document)`.
    pub upsert: &'static str,
    /// Selects the document of `($1 tenant, $2 id)`.
    pub get: &'static str,
    /// Selects the tenant's documents (`$1`) by id.
    pub list: &'static str,
}

/// `inbox_agents`.
pub(crate) const AGENTS: Docs = Docs {
    what: "agent",
    upserting: "upsert agent",
    upsert: "INSERT INTO inbox_agents (tenant_id, agent_id, data) VALUES ($1, $2, $3) \
             ON CONFLICT (tenant_id, agent_id) DO UPDATE SET data = EXCLUDED.data",
    get: "SELECT data FROM inbox_agents WHERE tenant_id = $1 AND agent_id = $2",
    list: "SELECT data FROM inbox_agents WHERE tenant_id = $1 ORDER BY agent_id",
};

/// `inbox_teams`.
pub(crate) const TEAMS: Docs = Docs {
    what: "team",
    upserting: "upsert team",
    upsert: "INSERT INTO inbox_teams (tenant_id, team_id, data) VALUES ($1, $2, $3) \
             ON CONFLICT (tenant_id, team_id) DO UPDATE SET data = EXCLUDED.data",
    get: "SELECT data FROM inbox_teams WHERE tenant_id = $1 AND team_id = $2",
    list: "SELECT data FROM inbox_teams WHERE tenant_id = $1 ORDER BY team_id",
};

/// `inbox_channels` (upserted by [`upsert_channel`]: it has a phone
/// number id too).
pub(crate) const CHANNELS: Docs = Docs {
    what: "channel",
    upserting: "upsert channel",
    upsert: "",
    get: "SELECT data FROM inbox_channels WHERE tenant_id = $1 AND channel_id = $2",
    list: "SELECT data FROM inbox_channels WHERE tenant_id = $1 ORDER BY channel_id",
};

impl Docs {
    /// Inserts or replaces a document of a tenant.
    pub(crate) async fn upsert<T: Serialize + Sync>(
        &self,
        pool: &PgPool,
        tenant: &TenantId,
        id: &str,
        value: &T,
    ) -> Result<()> {
        let r = sqlx::query(self.upsert)
            .bind(tenant.as_str())
            .bind(id)
            .bind(Json(value))
            .execute(pool)
            .await;
        match r {
            Ok(_) => Ok(()),
            Err(e) if fk_violation(&e) => Err(Error::not_found("tenant", tenant)),
            Err(e) => Err(db(self.upserting, e)),
        }
    }

    /// The document `id` of the tenant; `NotFound` if there is none.
    pub(crate) async fn get<T: DeserializeOwned>(
        &self,
        pool: &PgPool,
        tenant: &TenantId,
        id: &str,
    ) -> Result<T> {
        document_of(
            pool,
            (self.what, self.what),
            self.get,
            &[tenant.as_str(), id],
        )
        .await?
        .ok_or_else(|| Error::not_found(self.what, id))
    }

    /// The tenant's documents, by id.
    pub(crate) async fn list<T: DeserializeOwned>(
        &self,
        pool: &PgPool,
        tenant: &TenantId,
    ) -> Result<Vec<T>> {
        documents(pool, (self.what, self.what), self.list, &[tenant.as_str()]).await
    }
}

/// Inserts or renames a tenant.
pub(crate) async fn upsert_tenant(pool: &PgPool, tenant: &Tenant) -> Result<()> {
    sqlx::query(
        "INSERT INTO inbox_tenants (tenant_id, name) VALUES ($1, $2) \
         ON CONFLICT (tenant_id) DO UPDATE SET name = EXCLUDED.name",
    )
    .bind(tenant.id.as_str())
    .bind(&tenant.name)
    .execute(pool)
    .await
    .map_err(|e| db("upsert tenant", e))?;
    Ok(())
}

/// A tenant; `NotFound` if there is none.
pub(crate) async fn tenant(pool: &PgPool, id: &TenantId) -> Result<Tenant> {
    let name: String = sqlx::query_scalar("SELECT name FROM inbox_tenants WHERE tenant_id = $1")
        .bind(id.as_str())
        .fetch_optional(pool)
        .await
        .map_err(|e| db("tenant", e))?
        .ok_or_else(|| Error::not_found("tenant", id))?;
    Ok(Tenant::new(id.clone(), name))
}

/// Checks that the `tenants` exist (CTE `tn`).
pub(crate) fn tenants_exist<'a>(st: &mut Statement<'a>, tenants: Vec<&'a str>) {
    st.check("(SELECT n FROM tn)".into(), tenants.len());
    st.cte("tn", |q| {
        q.push("SELECT count(*) AS n FROM inbox_tenants WHERE tenant_id = ANY(");
        q.push_bind(tenants).push("::text[])");
    });
}

/// Checks that the channels `(tenant, channel)` exist (CTE `chk`).
pub(crate) fn channels_exist<'a>(st: &mut Statement<'a>, channels: Vec<(&'a str, &'a str)>) {
    st.check("(SELECT n FROM chk)".into(), channels.len());
    let (tenants, ids): (Vec<&str>, Vec<&str>) = channels.into_iter().unzip();
    st.cte("chk", |q| {
        q.push("SELECT count(*) AS n FROM inbox_channels ch JOIN UNNEST(");
        Arrays::on(q)
            .bind(cast::TEXT, tenants)
            .bind(cast::TEXT, ids);
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
            .bind(
                cast::TEXT,
                rows.iter().map(|&(t, _, _)| t.as_str()).collect::<Vec<_>>(),
            )
            .bind(
                cast::TEXT,
                rows.iter().map(|&(_, a, _)| a.as_str()).collect::<Vec<_>>(),
            )
            .bind(cast::JSONB, presence);
        q.push(") AS u(t, id, p) WHERE a.tenant_id = u.t AND a.agent_id = u.id");
    });
    Ok(())
}

/// Inserts or replaces a channel; its phone number id must be no other
/// channel's.
pub(crate) async fn upsert_channel(pool: &PgPool, channel: &Channel) -> Result<()> {
    let r = sqlx::query(
        "INSERT INTO inbox_channels (tenant_id, channel_id, phone_number_id, data) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (tenant_id, channel_id) DO UPDATE SET phone_number_id = EXCLUDED.phone_number_id, data = EXCLUDED.data",
    )
    .bind(channel.tenant.as_str())
    .bind(channel.id.as_str())
    .bind(&channel.phone_number_id)
    .bind(Json(channel))
    .execute(pool)
    .await;
    match r {
        Ok(_) => Ok(()),
        Err(e) if fk_violation(&e) => Err(Error::not_found("tenant", &channel.tenant)),
        Err(e) if unique_violation(&e).is_some() => {
            let owner = channel_by_phone_number_id(pool, &channel.phone_number_id).await?;
            Err(Error::Duplicate {
                what: "phone number id",
                existing: owner.map(|c| c.id.to_string()).unwrap_or_default(),
            })
        }
        Err(e) => Err(db("upsert channel", e)),
    }
}

/// The channel of a phone number id, from the database.
pub(crate) async fn channel_by_phone_number_id(
    pool: &PgPool,
    phone_number_id: &str,
) -> Result<Option<Channel>> {
    document_of(
        pool,
        ("channel by phone number id", "channel"),
        "SELECT data FROM inbox_channels WHERE phone_number_id = $1",
        &[phone_number_id],
    )
    .await
}

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
        let channel = channel_by_phone_number_id(pool, phone_number_id).await?;
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

    /// [`upsert_channel`], the cache cleared before and after.
    pub(crate) async fn upsert(&self, pool: &PgPool, channel: &Channel) -> Result<()> {
        self.clear();
        let r = upsert_channel(pool, channel).await;
        self.clear();
        r
    }
}
