//! [`ChannelSecrets`] on the memory store.

use async_trait::async_trait;
use std::ops::Bound;
use std::sync::PoisonError;

use inbox_core::error::{Entity, Error, Result};
use inbox_core::ports::{ChannelSecrets, SealedSecret, SecretSlot};

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
}
