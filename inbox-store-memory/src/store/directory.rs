//! [`Directory`] on the memory store.

use async_trait::async_trait;

use inbox_core::error::{Entity, Error, Result, Unique};
use inbox_core::ids::{AgentId, ChannelId, TeamId, TenantId};
use inbox_core::model::{Agent, Channel, Team, Tenant};
use inbox_core::ports::Directory;

use super::{duplicate, MemoryStore};

#[async_trait]
impl Directory for MemoryStore {
    async fn upsert_tenant(&self, tenant: &Tenant) -> Result<()> {
        self.write()
            .tenants
            .insert(tenant.id.clone(), tenant.clone());
        Ok(())
    }

    async fn tenant(&self, id: &TenantId) -> Result<Tenant> {
        self.read()
            .tenants
            .get(id)
            .cloned()
            .ok_or_else(|| Error::not_found(Entity::Tenant, id))
    }

    async fn upsert_channel(&self, channel: &Channel) -> Result<()> {
        let mut s = self.write();
        s.require_tenant(&channel.tenant)?;
        let key = (channel.tenant.clone(), channel.id.clone());
        if let Some(owner) = s.channel_by_number.get(&channel.phone_number_id) {
            if owner != &key {
                return Err(duplicate(Unique::PhoneNumberId, &owner.1));
            }
        }
        if let Some(old) = s.channels.get(&key) {
            let old_number = old.phone_number_id.clone();
            s.channel_by_number.remove(&old_number);
        }
        s.channel_by_number
            .insert(channel.phone_number_id.clone(), key.clone());
        s.channels.insert(key, channel.clone());
        Ok(())
    }

    async fn channel(&self, tenant: &TenantId, id: &ChannelId) -> Result<Channel> {
        self.read()
            .channels
            .get(&(tenant.clone(), id.clone()))
            .cloned()
            .ok_or_else(|| Error::not_found(Entity::Channel, id))
    }

    async fn channels(&self, tenant: &TenantId) -> Result<Vec<Channel>> {
        Ok(self
            .read()
            .channels
            .iter()
            .filter(|((t, _), _)| t == tenant)
            .map(|(_, c)| c.clone())
            .collect())
    }

    async fn channel_by_phone_number_id(&self, phone_number_id: &str) -> Result<Option<Channel>> {
        let s = self.read();
        Ok(s.channel_by_number
            .get(phone_number_id)
            .and_then(|k| s.channels.get(k))
            .cloned())
    }

    async fn upsert_agent(&self, agent: &Agent) -> Result<()> {
        let mut s = self.write();
        s.require_tenant(&agent.tenant)?;
        s.agents
            .insert((agent.tenant.clone(), agent.id.clone()), agent.clone());
        Ok(())
    }

    async fn agent(&self, tenant: &TenantId, id: &AgentId) -> Result<Agent> {
        self.read()
            .agents
            .get(&(tenant.clone(), id.clone()))
            .cloned()
            .ok_or_else(|| Error::not_found(Entity::Agent, id))
    }

    async fn agents(&self, tenant: &TenantId) -> Result<Vec<Agent>> {
        Ok(self
            .read()
            .agents
            .iter()
            .filter(|((t, _), _)| t == tenant)
            .map(|(_, a)| a.clone())
            .collect())
    }

    async fn upsert_team(&self, team: &Team) -> Result<()> {
        let mut s = self.write();
        s.require_tenant(&team.tenant)?;
        s.teams
            .insert((team.tenant.clone(), team.id.clone()), team.clone());
        Ok(())
    }

    async fn team(&self, tenant: &TenantId, id: &TeamId) -> Result<Team> {
        self.read()
            .teams
            .get(&(tenant.clone(), id.clone()))
            .cloned()
            .ok_or_else(|| Error::not_found(Entity::Team, id))
    }

    async fn teams(&self, tenant: &TenantId) -> Result<Vec<Team>> {
        Ok(self
            .read()
            .teams
            .iter()
            .filter(|((t, _), _)| t == tenant)
            .map(|(_, a)| a.clone())
            .collect())
    }
}
