//! [`Directory`] on the memory store.

use async_trait::async_trait;
use std::collections::BTreeMap;

use inbox_core::error::{Entity, Error, Result, Unique};
use inbox_core::ids::{AgentId, ChannelId, TeamId, TenantId};
use inbox_core::model::{Agent, Channel, Team, Tenant};
use inbox_core::ports::{ChannelNews, Directory, DirectoryWrite};

use super::{duplicate, MemoryStore, State};

/// Implements [`Directory`] on the memory store. The tables of plain rows
/// of a tenant (agents, teams) get their upsert, get and list from one
/// template, as `table: Row by Id, Entity => upsert, get;`; the methods in
/// the braces after them are written out.
macro_rules! directory {
    (
        $($table:ident: $row:ident by $id:ident, $entity:ident => $upsert:ident, $get:ident;)*
        {$($written:tt)*}
    ) => {
        #[async_trait]
        impl Directory for MemoryStore {
            $($written)*

            $(
                async fn $upsert(&self, value: &$row) -> Result<()> {
                    self.upsert(|s| &mut s.$table, &value.tenant, &value.id, value)
                }

                async fn $get(&self, tenant: &TenantId, id: &$id) -> Result<$row> {
                    row(&self.read().$table, tenant, id, Entity::$entity)
                }

                async fn $table(&self, tenant: &TenantId) -> Result<Vec<$row>> {
                    Ok(rows(&self.read().$table, tenant))
                }
            )*
        }
    };
}

directory! {
    agents: Agent by AgentId, Agent => upsert_agent, agent;
    teams: Team by TeamId, Team => upsert_team, team;
    {
        async fn upsert_tenant(&self, tenant: &Tenant) -> Result<()> {
            self.write()
                .tenants
                .insert(tenant.id.clone(), tenant.clone());
            Ok(())
        }

        async fn tenants(&self) -> Result<Vec<Tenant>> {
            let mut all: Vec<Tenant> = self.read().tenants.values().cloned().collect();
            all.sort_by(|a, b| a.id.cmp(&b.id));
            Ok(all)
        }

        async fn tenant(&self, id: &TenantId) -> Result<Tenant> {
            self.read()
                .tenants
                .get(id)
                .cloned()
                .ok_or_else(|| Error::not_found(Entity::Tenant, id))
        }

        async fn upsert_channel(&self, channel: &Channel) -> Result<()> {
            self.put_channel(channel)
        }

        async fn update_channel_news(
            &self,
            tenant: &TenantId,
            id: &ChannelId,
            change: &ChannelNews<'_>,
        ) -> Result<Channel> {
            let mut s = self.write();
            let key = (tenant.clone(), id.clone());
            let stored = s
                .channels
                .get_mut(&key)
                .ok_or_else(|| Error::not_found(Entity::Channel, id))?;
            let mut changed = stored.clone();
            if change(&mut changed) {
                *stored = changed.news_into(stored.clone());
            }
            Ok(stored.clone())
        }

        async fn channel(&self, tenant: &TenantId, id: &ChannelId) -> Result<Channel> {
            row(&self.read().channels, tenant, id, Entity::Channel)
        }

        async fn channels(&self, tenant: &TenantId) -> Result<Vec<Channel>> {
            Ok(rows(&self.read().channels, tenant))
        }

        async fn channel_by_phone_number_id(&self, phone_number_id: &str) -> Result<Option<Channel>> {
            let s = self.read();
            Ok(s.channel_by_number
                .get(phone_number_id)
                .and_then(|k| s.channels.get(k))
                .cloned())
        }
    }
}

/// A directory table: rows by tenant and id.
type Table<K, V> = BTreeMap<(TenantId, K), V>;

impl MemoryStore {
    /// Fails with [`Error::NotFound`] on the agent unless the tenant has it.
    pub(crate) fn require_agent(&self, tenant: &TenantId, agent: &AgentId) -> Result<()> {
        if self
            .read()
            .agents
            .contains_key(&(tenant.clone(), agent.clone()))
        {
            Ok(())
        } else {
            Err(Error::not_found(Entity::Agent, agent))
        }
    }

    /// Upserts the record of a settings put (see [`DirectoryWrite`]).
    pub(crate) fn write_directory(&self, write: DirectoryWrite<'_>) -> Result<()> {
        match write {
            DirectoryWrite::Agent(a) => self.upsert(|s| &mut s.agents, &a.tenant, &a.id, a),
            DirectoryWrite::Team(t) => self.upsert(|s| &mut s.teams, &t.tenant, &t.id, t),
            DirectoryWrite::Channel(c) => self.put_channel(c),
        }
    }

    /// Inserts or replaces a channel; its phone number id must be no other
    /// channel's.
    fn put_channel(&self, channel: &Channel) -> Result<()> {
        let mut s = self.write();
        s.require_tenant(&channel.tenant)?;
        let key = (channel.tenant.clone(), channel.id.clone());
        if let Some(owner) = s.channel_by_number.get(&channel.phone_number_id) {
            if owner != &key {
                return Err(duplicate(Unique::PhoneNumberId, &owner.1));
            }
        }
        let mut channel = channel.clone();
        if let Some(old) = s.channels.get(&key) {
            let old_number = old.phone_number_id.clone();
            channel = channel.with_news_of(old);
            s.channel_by_number.remove(&old_number);
        }
        s.channel_by_number
            .insert(channel.phone_number_id.clone(), key.clone());
        s.channels.insert(key, channel);
        Ok(())
    }

    /// Inserts or replaces a row of a directory table; the tenant must
    /// exist.
    fn upsert<K: Ord + Clone, V: Clone>(
        &self,
        table: impl FnOnce(&mut State) -> &mut Table<K, V>,
        tenant: &TenantId,
        id: &K,
        row: &V,
    ) -> Result<()> {
        let mut s = self.write();
        s.require_tenant(tenant)?;
        table(&mut s).insert((tenant.clone(), id.clone()), row.clone());
        Ok(())
    }
}

/// A tenant's row, or not found.
fn row<K, V>(table: &Table<K, V>, tenant: &TenantId, id: &K, entity: Entity) -> Result<V>
where
    K: Ord + Clone + std::fmt::Display,
    V: Clone,
{
    table
        .get(&(tenant.clone(), id.clone()))
        .cloned()
        .ok_or_else(|| Error::not_found(entity, id))
}

/// A tenant's rows, by id.
fn rows<K: Ord, V: Clone>(table: &Table<K, V>, tenant: &TenantId) -> Vec<V> {
    table
        .iter()
        .filter(|((t, _), _)| t == tenant)
        .map(|(_, v)| v.clone())
        .collect()
}
