//! Secrets of a tenant's numbers (access token, app secret, verify token)
//! and of the tenant itself (its connectors' credentials), stored sealed:
//! the store keeps ciphertext it cannot read; sealing and opening are the
//! embedder's (the HTTP layer's secret box).

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

/// Where a tenant-wide stored secret belongs (a connector's credential):
/// the tenant and the secret's name (`hubspot.token`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TenantSecretSlot {
    /// The tenant.
    pub tenant: TenantId,
    /// The secret's name.
    pub name: String,
}

/// Where the sealed secrets of tenants and their numbers are kept. Every
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
/// - Tenant-wide secrets ([`TenantSecretSlot`]) follow the same rules:
///   [`ChannelSecrets::put_tenant_secret`] needs the tenant to exist
///   ([`Error::NotFound`](crate::Error::NotFound) on
///   [`Entity::Tenant`](crate::error::Entity::Tenant)), `None` removes;
///   [`ChannelSecrets::tenant_secret`] returns what was put;
///   [`ChannelSecrets::tenant_secret_names`] lists one tenant's names in
///   order (never another tenant's); [`ChannelSecrets::sealed_tenant_secrets`]
///   pages through every tenant's in slot order.
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

    /// Stores (or with `None` removes) a tenant-wide secret.
    async fn put_tenant_secret(
        &self,
        slot: &TenantSecretSlot,
        secret: Option<&SealedSecret>,
    ) -> Result<()>;

    /// A tenant-wide secret, if one is stored.
    async fn tenant_secret(&self, slot: &TenantSecretSlot) -> Result<Option<SealedSecret>>;

    /// The names of a tenant's stored tenant-wide secrets, in order.
    async fn tenant_secret_names(&self, tenant: &TenantId) -> Result<Vec<String>>;

    /// Every stored tenant-wide secret after `after`, in slot order, at
    /// most `limit`.
    async fn sealed_tenant_secrets(
        &self,
        after: Option<&TenantSecretSlot>,
        limit: u32,
    ) -> Result<Vec<(TenantSecretSlot, SealedSecret)>>;
}
