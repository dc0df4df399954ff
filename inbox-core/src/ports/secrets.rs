//! Secrets of a tenant's numbers (access token, app secret, verify token),
//! stored sealed: the store keeps ciphertext it cannot read; sealing and
//! opening are the embedder's (the HTTP layer's secret box).

use async_trait::async_trait;

use crate::error::Result;
use crate::ids::{ChannelId, TenantId};

/// A secret as stored: the id of the key that sealed it and the sealed
/// bytes (nonce and ciphertext, as the sealer lays them out). `Debug` shows
/// the key id and the length only.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedSecret {
    /// Which key sealed it (so that keys can be rotated).
    pub key_id: String,
    /// The sealed bytes.
    pub sealed: Vec<u8>,
}

impl std::fmt::Debug for SealedSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealedSecret")
            .field("key_id", &self.key_id)
            .field("bytes", &self.sealed.len())
            .finish()
    }
}

/// Where a stored secret belongs: a tenant's number and the secret's name
/// (`access_token`, `app_secret`, `verify_token`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SecretSlot {
    /// The tenant.
    pub tenant: TenantId,
    /// The number.
    pub channel: ChannelId,
    /// The secret's name.
    pub name: String,
}

/// Where the sealed secrets of tenants' numbers are kept. Every
/// [`Store`](super::Store) is one too.
///
/// # Contract
///
/// - [`ChannelSecrets::put_channel_secret`] stores or replaces the secret
///   of a slot; the number must exist
///   ([`Error::NotFound`](crate::Error::NotFound) on
///   [`Entity::Channel`](crate::error::Entity::Channel) otherwise).
///   `None` removes it.
/// - [`ChannelSecrets::channel_secret`] returns exactly what was put, or
///   `None`.
/// - Tenancy: a slot is its tenant's; another tenant's number has none.
/// - [`ChannelSecrets::sealed_secrets`] lists every stored secret of every
///   tenant in slot order, those after `after` (exclusive), at most
///   `limit`: for re-sealing them all under a new key.
#[async_trait]
pub trait ChannelSecrets: Send + Sync {
    /// Stores (or with `None` removes) the secret of a slot.
    async fn put_channel_secret(
        &self,
        slot: &SecretSlot,
        secret: Option<&SealedSecret>,
    ) -> Result<()>;

    /// The secret of a slot, if one is stored.
    async fn channel_secret(&self, slot: &SecretSlot) -> Result<Option<SealedSecret>>;

    /// Every stored secret after `after`, in slot order, at most `limit`.
    async fn sealed_secrets(
        &self,
        after: Option<&SecretSlot>,
        limit: u32,
    ) -> Result<Vec<(SecretSlot, SealedSecret)>>;
}
