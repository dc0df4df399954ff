//! [`ChannelSecrets`] on the memory store.

use async_trait::async_trait;
use std::ops::Bound;
use std::sync::PoisonError;

use inbox_core::error::{Entity, Error, Result};
use inbox_core::ids::TenantId;
use inbox_core::ports::{ChannelSecrets, SealedSecret, SecretSlot, TenantSecretSlot};

use super::MemoryStore;

#[async_trait]
impl ChannelSecrets for MemoryStore {
    async fn put_channel_secret(
        &self,
        slot: &SecretSlot,
        secret: Option<&SealedSecret>,
    ) -> Result<()> {
        let key = (slot.tenant.clone(), slot.channel.clone());
        if !self.read().channels.contains_key(&key) {
            return Err(Error::not_found(Entity::Channel, &slot.channel));
        }
        let mut secrets = self.secrets.write().unwrap_or_else(PoisonError::into_inner);
        match secret {
            Some(s) => secrets.insert(slot.clone(), s.clone()),
            None => secrets.remove(slot),
        };
        Ok(())
    }

    async fn channel_secret(&self, slot: &SecretSlot) -> Result<Option<SealedSecret>> {
        let secrets = self.secrets.read().unwrap_or_else(PoisonError::into_inner);
        Ok(secrets.get(slot).cloned())
    }

    async fn sealed_secrets(
        &self,
        after: Option<&SecretSlot>,
        limit: u32,
    ) -> Result<Vec<(SecretSlot, SealedSecret)>> {
        let secrets = self.secrets.read().unwrap_or_else(PoisonError::into_inner);
        let from = after.map_or(Bound::Unbounded, Bound::Excluded);
        Ok(secrets
            .range((from, Bound::Unbounded))
            .take(limit as usize)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }

    async fn put_tenant_secret(
        &self,
        slot: &TenantSecretSlot,
        secret: Option<&SealedSecret>,
    ) -> Result<()> {
        if !self.read().tenants.contains_key(&slot.tenant) {
            return Err(Error::not_found(Entity::Tenant, &slot.tenant));
        }
        let mut secrets = self
            .tenant_secrets
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        match secret {
            Some(s) => secrets.insert(slot.clone(), s.clone()),
            None => secrets.remove(slot),
        };
        Ok(())
    }

    async fn tenant_secret(&self, slot: &TenantSecretSlot) -> Result<Option<SealedSecret>> {
        let secrets = self
            .tenant_secrets
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        Ok(secrets.get(slot).cloned())
    }

    async fn tenant_secret_names(&self, tenant: &TenantId) -> Result<Vec<String>> {
        let secrets = self
            .tenant_secrets
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        Ok(secrets
            .keys()
            .filter(|k| &k.tenant == tenant)
            .map(|k| k.name.clone())
            .collect())
    }

    async fn sealed_tenant_secrets(
        &self,
        after: Option<&TenantSecretSlot>,
        limit: u32,
    ) -> Result<Vec<(TenantSecretSlot, SealedSecret)>> {
        let secrets = self
            .tenant_secrets
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        let from = after.map_or(Bound::Unbounded, Bound::Excluded);
        Ok(secrets
            .range((from, Bound::Unbounded))
            .take(limit as usize)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }
}
