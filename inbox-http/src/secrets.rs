//! Sealing secrets at rest: [`SecretBox`] seals a number's access token,
//! app secret or verify token, or a tenant's connector credential, with
//! XChaCha20-Poly1305 under the current key before the store sees it, bound
//! to its slot (tenant, number or none, name: a sealed value copied to
//! another slot does not open), and opens it with whichever configured key
//! sealed it. Keys rotate: add a new key first in
//! the list, run [`SecretBox::reseal_all`], then drop the old one.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use std::sync::Arc;

use inbox_core::ports::{SealedSecret, SecretSlot, Store, TenantSecretSlot};
use inbox_core::Secret;

/// The nonce's length (XChaCha20: 24 bytes, random per seal).
const NONCE: usize = 24;

/// Why a key list or a sealed secret was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// The key list is malformed (the message says where; never a key).
    #[error("secret keys: {0}")]
    BadKeys(String),
    /// Sealed under a key id this box does not have.
    #[error("secret sealed with unknown key {0:?}")]
    UnknownKey(String),
    /// The bytes do not open under their key and slot (tampered, or moved
    /// from another slot).
    #[error("a sealed secret does not open (tampered, or from another slot)")]
    Corrupt,
    /// The store failed.
    #[error("store: {0}")]
    Store(String),
}

/// The keys secrets are sealed with: the first seals, all open. `Debug`
/// shows the key ids only.
#[derive(Clone)]
pub struct SecretBox {
    keys: Arc<Vec<(String, XChaCha20Poly1305)>>,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<&str> = self.keys.iter().map(|(id, _)| id.as_str()).collect();
        f.debug_struct("SecretBox").field("keys", &ids).finish()
    }
}

impl SecretBox {
    /// Keys from `id:hex,id:hex` (each key 32 bytes as 64 hex digits; the
    /// first seals). What `INBOX_SECRET_KEYS` holds.
    ///
    /// ```
    /// use inbox_http::secrets::SecretBox;
    /// let keys = format!("k2:{},k1:{}", "ab".repeat(32), "cd".repeat(32));
    /// let b = SecretBox::from_list(&keys).unwrap();
    /// assert_eq!(format!("{b:?}"), r#"SecretBox { keys: ["k2", "k1"] }"#);
    /// assert!(SecretBox::from_list("k1:00").is_err());
    /// ```
    pub fn from_list(list: &str) -> Result<Self, SecretError> {
        let mut keys = Vec::new();
        for (i, item) in list
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .enumerate()
        {
            let (id, hex_key) = item
                .split_once(':')
                .ok_or_else(|| SecretError::BadKeys(format!("item {i}: not id:hex")))?;
            let bytes = hex::decode(hex_key.trim())
                .ok()
                .filter(|b| b.len() == 32)
                .ok_or_else(|| SecretError::BadKeys(format!("key {id:?}: not 64 hex digits")))?;
            if id.is_empty() || keys.iter().any(|(k, _)| k == id) {
                return Err(SecretError::BadKeys(format!(
                    "key id {id:?} empty or repeated"
                )));
            }
            let cipher = XChaCha20Poly1305::new_from_slice(&bytes)
                .map_err(|_| SecretError::BadKeys(format!("key {id:?}: bad length")))?;
            keys.push((id.to_string(), cipher));
        }
        if keys.is_empty() {
            return Err(SecretError::BadKeys("no key".into()));
        }
        Ok(Self {
            keys: Arc::new(keys),
        })
    }

    /// A box with one random key, id `ephemeral`: for a server whose
    /// store is in memory (what it seals is gone with it anyway).
    pub fn ephemeral() -> Self {
        let key: [u8; 32] = rand::random();
        let cipher = XChaCha20Poly1305::new(&key.into());
        Self {
            keys: Arc::new(vec![("ephemeral".to_string(), cipher)]),
        }
    }

    /// The id of the key that seals.
    pub fn current(&self) -> &str {
        self.keys.first().map_or("", |(id, _)| id.as_str())
    }

    /// The slot as associated data: each part with its length, so that no
    /// two slots read the same (ids may hold `/`).
    fn aad(slot: &SecretSlot) -> Vec<u8> {
        let (t, c, n) = (slot.tenant.as_str(), slot.channel.as_str(), &slot.name);
        format!("inbox.v1:{}:{t}:{}:{c}:{}:{n}", t.len(), c.len(), n.len()).into_bytes()
    }

    /// Seals `secret` for `slot` under the current key.
    pub fn seal(&self, slot: &SecretSlot, secret: &Secret) -> Result<SealedSecret, SecretError> {
        self.seal_with(&Self::aad(slot), secret)
    }

    /// Opens a secret sealed for `slot`.
    pub fn open(&self, slot: &SecretSlot, sealed: &SealedSecret) -> Result<Secret, SecretError> {
        self.open_with(&Self::aad(slot), sealed)
    }

    /// A tenant slot as associated data, apart from every number's slot
    /// (its own label, each part with its length).
    fn tenant_aad(slot: &TenantSecretSlot) -> Vec<u8> {
        let (t, n) = (slot.tenant.as_str(), &slot.name);
        format!("inbox.v1.tenant:{}:{t}:{}:{n}", t.len(), n.len()).into_bytes()
    }

    /// Seals a tenant-wide secret (a connector's credential) for its slot.
    pub fn seal_tenant(
        &self,
        slot: &TenantSecretSlot,
        secret: &Secret,
    ) -> Result<SealedSecret, SecretError> {
        self.seal_with(&Self::tenant_aad(slot), secret)
    }

    /// Opens a tenant-wide secret sealed for `slot`.
    pub fn open_tenant(
        &self,
        slot: &TenantSecretSlot,
        sealed: &SealedSecret,
    ) -> Result<Secret, SecretError> {
        self.open_with(&Self::tenant_aad(slot), sealed)
    }

    fn seal_with(&self, aad: &[u8], secret: &Secret) -> Result<SealedSecret, SecretError> {
        let (id, cipher) = self
            .keys
            .first()
            .ok_or(SecretError::BadKeys("no key".into()))?;
        let nonce: [u8; NONCE] = rand::random();
        let payload = Payload {
            msg: secret.expose().as_bytes(),
            aad,
        };
        let mut sealed = nonce.to_vec();
        sealed.extend(
            cipher
                .encrypt(XNonce::from_slice(&nonce), payload)
                .map_err(|_| SecretError::Corrupt)?,
        );
        Ok(SealedSecret {
            key_id: id.clone(),
            sealed,
        })
    }

    fn open_with(&self, aad: &[u8], sealed: &SealedSecret) -> Result<Secret, SecretError> {
        let (_, cipher) = self
            .keys
            .iter()
            .find(|(id, _)| id == &sealed.key_id)
            .ok_or_else(|| SecretError::UnknownKey(sealed.key_id.clone()))?;
        if sealed.sealed.len() < NONCE {
            return Err(SecretError::Corrupt);
        }
        let (nonce, body) = sealed.sealed.split_at(NONCE);
        let plain = cipher
            .decrypt(XNonce::from_slice(nonce), Payload { msg: body, aad })
            .map_err(|_| SecretError::Corrupt)?;
        String::from_utf8(plain)
            .map(Secret::new)
            .map_err(|_| SecretError::Corrupt)
    }

    /// Reads and opens a tenant-wide secret.
    pub async fn get_tenant(
        &self,
        store: &dyn Store,
        slot: &TenantSecretSlot,
    ) -> Result<Option<Secret>, SecretError> {
        let sealed = store
            .tenant_secret(slot)
            .await
            .map_err(|e| SecretError::Store(e.to_string()))?;
        sealed.map(|s| self.open_tenant(slot, &s)).transpose()
    }

    /// Reads, opens and stores a slot's secret.
    pub async fn get(
        &self,
        store: &dyn Store,
        slot: &SecretSlot,
    ) -> Result<Option<Secret>, SecretError> {
        let sealed = store
            .channel_secret(slot)
            .await
            .map_err(|e| SecretError::Store(e.to_string()))?;
        sealed.map(|s| self.open(slot, &s)).transpose()
    }

    /// Re-seals under the current key every stored secret sealed under
    /// another: the step between adding a key and dropping the old one.
    /// Returns how many were re-sealed (one that does not open is logged
    /// and skipped).
    pub async fn reseal_all(&self, store: &dyn Store) -> Result<usize, SecretError> {
        let numbers = self.reseal_numbers(store).await?;
        Ok(numbers + self.reseal_tenants(store).await?)
    }

    async fn reseal_tenants(&self, store: &dyn Store) -> Result<usize, SecretError> {
        let mut after: Option<TenantSecretSlot> = None;
        let mut count = 0;
        loop {
            let page = store
                .sealed_tenant_secrets(after.as_ref(), 200)
                .await
                .map_err(|e| SecretError::Store(e.to_string()))?;
            let Some((last, _)) = page.last() else {
                return Ok(count);
            };
            after = Some(last.clone());
            for (slot, sealed) in page.iter().filter(|(_, s)| s.key_id != self.current()) {
                let plain = match self.open_tenant(slot, sealed) {
                    Ok(p) => p,
                    Err(e) => {
                        tracing::error!(tenant = %slot.tenant, name = %slot.name, error = %e, "secret left as it is");
                        continue;
                    }
                };
                let fresh = self.seal_tenant(slot, &plain)?;
                store
                    .put_tenant_secret(slot, Some(&fresh))
                    .await
                    .map_err(|e| SecretError::Store(e.to_string()))?;
                count += 1;
            }
        }
    }

    async fn reseal_numbers(&self, store: &dyn Store) -> Result<usize, SecretError> {
        let mut after: Option<SecretSlot> = None;
        let mut count = 0;
        loop {
            let page = store
                .sealed_secrets(after.as_ref(), 200)
                .await
                .map_err(|e| SecretError::Store(e.to_string()))?;
            let Some((last, _)) = page.last() else {
                return Ok(count);
            };
            after = Some(last.clone());
            for (slot, sealed) in page.iter().filter(|(_, s)| s.key_id != self.current()) {
                // One that does not open is logged and left: it must not
                // keep every other secret from the new key.
                let plain = match self.open(slot, sealed) {
                    Ok(p) => p,
                    Err(e) => {
                        tracing::error!(tenant = %slot.tenant, channel = %slot.channel, name = %slot.name, error = %e, "secret left as it is");
                        continue;
                    }
                };
                let fresh = self.seal(slot, &plain)?;
                store
                    .put_channel_secret(slot, Some(&fresh))
                    .await
                    .map_err(|e| SecretError::Store(e.to_string()))?;
                count += 1;
            }
        }
    }
}

/// The access tokens of numbers added at run time, opened from the store
/// for the Graph client ([`inbox_whatsapp::TokenSource`]): a send for such
/// a number goes with its own token.
#[derive(Clone)]
pub struct StoredTokens {
    store: Arc<dyn Store>,
    secrets: SecretBox,
}

impl std::fmt::Debug for StoredTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredTokens")
            .field("secrets", &self.secrets)
            .finish_non_exhaustive()
    }
}

impl StoredTokens {
    /// Tokens from `store`, opened with `secrets`.
    pub fn new(store: Arc<dyn Store>, secrets: SecretBox) -> Self {
        Self { store, secrets }
    }
}

#[async_trait::async_trait]
impl inbox_whatsapp::TokenSource for StoredTokens {
    async fn token(&self, phone_number_id: &str) -> Option<Secret> {
        let channel = match self.store.channel_by_phone_number_id(phone_number_id).await {
            Ok(c) => c?,
            Err(e) => {
                tracing::warn!(error = %e, "access token lookup");
                return None;
            }
        };
        let slot = SecretSlot {
            tenant: channel.tenant,
            channel: channel.id,
            name: "access_token".into(),
        };
        match self.secrets.get(&*self.store, &slot).await {
            Ok(token) => token,
            Err(e) => {
                tracing::error!(error = %e, "a number's access token does not open");
                None
            }
        }
    }
}

/// The credentials of tenants' connectors, opened from the store's sealed
/// tenant secrets for `inbox-connectors`.
#[derive(Clone)]
pub struct StoredConnectorSecrets {
    store: Arc<dyn Store>,
    secrets: Option<SecretBox>,
}

impl std::fmt::Debug for StoredConnectorSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredConnectorSecrets")
            .field("secrets", &self.secrets)
            .finish_non_exhaustive()
    }
}

impl StoredConnectorSecrets {
    /// Credentials from `store`, opened with `secrets` (none: the server
    /// has no keys, and every connector says its credentials cannot be
    /// read).
    pub fn new(store: Arc<dyn Store>, secrets: Option<SecretBox>) -> Self {
        Self { store, secrets }
    }
}

#[async_trait::async_trait]
impl inbox_connectors::ConnectorSecrets for StoredConnectorSecrets {
    async fn secret(
        &self,
        tenant: &inbox_core::TenantId,
        name: &str,
    ) -> Result<Option<Secret>, String> {
        let Some(secrets) = &self.secrets else {
            return Err(NO_KEYS.into());
        };
        let slot = TenantSecretSlot {
            tenant: tenant.clone(),
            name: name.to_string(),
        };
        secrets
            .get_tenant(&*self.store, &slot)
            .await
            .map_err(|e| e.to_string())
    }
}

/// What is said when the server was started without sealing keys.
pub const NO_KEYS: &str =
    "this server has no secret keys (INBOX_SECRET_KEYS), so credentials cannot be stored";

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn slot(t: &str, c: &str, n: &str) -> SecretSlot {
        SecretSlot {
            tenant: inbox_core::TenantId::new(t).unwrap(),
            channel: inbox_core::ChannelId::new(c).unwrap(),
            name: n.into(),
        }
    }

    #[test]
    fn a_sealed_secret_opens_in_its_own_slot_only() {
        let b = SecretBox::from_list(&format!("k1:{}", "11".repeat(32))).unwrap();
        let here = slot("a/b", "c", "app_secret");
        let sealed = b.seal(&here, &Secret::new("s3cret")).unwrap();
        assert_eq!(b.open(&here, &sealed).unwrap().expose(), "s3cret");
        // Ids may hold `/`: the slots a/b + c and a + b/c are not the same.
        for other in [
            slot("a", "b/c", "app_secret"),
            slot("a/b", "c", "access_token"),
        ] {
            assert_eq!(b.open(&other, &sealed), Err(SecretError::Corrupt));
        }
        let mut tampered = sealed.clone();
        let last = tampered.sealed.len() - 1;
        tampered.sealed[last] ^= 1;
        assert_eq!(b.open(&here, &tampered), Err(SecretError::Corrupt));
        assert!(!format!("{sealed:?}").contains("s3cret"));
    }

    #[test]
    fn a_tenant_secret_opens_in_its_own_tenant_slot_only() {
        let b = SecretBox::from_list(&format!("k1:{}", "11".repeat(32))).unwrap();
        let tenant = |t: &str, n: &str| TenantSecretSlot {
            tenant: inbox_core::TenantId::new(t).unwrap(),
            name: n.into(),
        };
        let here = tenant("acme", "hubspot.token");
        let sealed = b.seal_tenant(&here, &Secret::new("pat-1")).unwrap();
        assert_eq!(b.open_tenant(&here, &sealed).unwrap().expose(), "pat-1");
        for other in [
            tenant("globex", "hubspot.token"),
            tenant("acme", "shopify.token"),
        ] {
            assert_eq!(b.open_tenant(&other, &sealed), Err(SecretError::Corrupt));
        }
        // Nor as a number's secret of a look-alike slot.
        assert_eq!(
            b.open(&slot("acme", "hubspot", "token"), &sealed),
            Err(SecretError::Corrupt)
        );
    }
}
