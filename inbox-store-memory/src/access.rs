//! [`Access`] in memory: password hashes, sessions by token hash, API keys
//! by id.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, HashMap};
use std::sync::{PoisonError, RwLockReadGuard, RwLockWriteGuard};

use inbox_core::error::{Entity, Error, Result, Unique};
use inbox_core::ids::{AgentId, ApiKeyId, TenantId};
use inbox_core::ports::{Access, ApiKeyRecord, SessionRecord, TokenHash};
use inbox_core::Secret;

use crate::MemoryStore;

/// Password hashes by agent, sessions by token hash, API keys by id.
#[derive(Default)]
pub(crate) struct AccessState {
    passwords: HashMap<(TenantId, AgentId), String>,
    sessions: HashMap<TokenHash, SessionRecord>,
    keys: BTreeMap<ApiKeyId, ApiKeyRecord>,
}

impl std::fmt::Debug for AccessState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Counts only: no hashes.
        f.debug_struct("AccessState")
            .field("passwords", &self.passwords.len())
            .field("sessions", &self.sessions.len())
            .field("keys", &self.keys.len())
            .finish()
    }
}

impl AccessState {
    /// The tenant's session with this hash.
    fn session_mut(&mut self, tenant: &TenantId, hash: &TokenHash) -> Option<&mut SessionRecord> {
        self.sessions.get_mut(hash).filter(|s| &s.tenant == tenant)
    }

    /// The tenant's key with this id, or not found.
    fn key_mut(&mut self, tenant: &TenantId, id: &ApiKeyId) -> Result<&mut ApiKeyRecord> {
        (self.keys.get_mut(id))
            .filter(|k| &k.tenant == tenant)
            .ok_or_else(|| Error::not_found(Entity::ApiKey, id))
    }
}

impl MemoryStore {
    fn access(&self) -> RwLockReadGuard<'_, AccessState> {
        self.access.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn access_mut(&self) -> RwLockWriteGuard<'_, AccessState> {
        self.access.write().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait]
impl Access for MemoryStore {
    async fn set_password_hash(
        &self,
        tenant: &TenantId,
        agent: &AgentId,
        phc: Option<&str>,
    ) -> Result<()> {
        self.require_agent(tenant, agent)?;
        let key = (tenant.clone(), agent.clone());
        let mut a = self.access_mut();
        match phc {
            Some(phc) => a.passwords.insert(key, phc.to_string()),
            None => a.passwords.remove(&key),
        };
        Ok(())
    }

    async fn password_hash(&self, tenant: &TenantId, agent: &AgentId) -> Result<Option<Secret>> {
        self.require_agent(tenant, agent)?;
        let key = (tenant.clone(), agent.clone());
        Ok(self.access().passwords.get(&key).map(Secret::new))
    }

    async fn create_session(&self, session: &SessionRecord) -> Result<()> {
        self.require_agent(&session.tenant, &session.agent)?;
        let mut a = self.access_mut();
        if a.sessions.contains_key(&session.token_hash) {
            return Err(Error::Duplicate {
                what: Unique::Session,
                existing: session.token_hash.to_hex(),
            });
        }
        a.sessions.insert(session.token_hash, session.clone());
        Ok(())
    }

    async fn session(&self, token_hash: &TokenHash) -> Result<Option<SessionRecord>> {
        Ok(self.access().sessions.get(token_hash).cloned())
    }

    async fn touch_session(
        &self,
        tenant: &TenantId,
        token_hash: &TokenHash,
        at: DateTime<Utc>,
    ) -> Result<()> {
        if let Some(s) = self.access_mut().session_mut(tenant, token_hash) {
            s.last_seen_at = Some(at);
        }
        Ok(())
    }

    async fn revoke_session(&self, tenant: &TenantId, token_hash: &TokenHash) -> Result<bool> {
        let mut a = self.access_mut();
        if a.session_mut(tenant, token_hash).is_none() {
            return Ok(false);
        }
        Ok(a.sessions.remove(token_hash).is_some())
    }

    async fn revoke_agent_sessions(
        &self,
        tenant: &TenantId,
        agent: &AgentId,
        except: Option<&TokenHash>,
    ) -> Result<u64> {
        let mut a = self.access_mut();
        let before = a.sessions.len();
        a.sessions
            .retain(|hash, s| &s.tenant != tenant || &s.agent != agent || Some(hash) == except);
        Ok((before - a.sessions.len()) as u64)
    }

    async fn sessions(
        &self,
        tenant: &TenantId,
        agent: Option<&AgentId>,
    ) -> Result<Vec<SessionRecord>> {
        let mut found: Vec<SessionRecord> = (self.access().sessions.values())
            .filter(|s| &s.tenant == tenant && agent.is_none_or(|a| a == &s.agent))
            .cloned()
            .collect();
        found.sort_by_key(|s| std::cmp::Reverse((s.created_at, s.token_hash)));
        Ok(found)
    }

    async fn purge_sessions(&self, before: DateTime<Utc>) -> Result<u64> {
        let mut a = self.access_mut();
        let count = a.sessions.len();
        a.sessions.retain(|_, s| s.expires_at > before);
        Ok((count - a.sessions.len()) as u64)
    }

    async fn create_api_key(&self, key: &ApiKeyRecord) -> Result<()> {
        let mut a = self.access_mut();
        if a.keys.contains_key(&key.id) {
            return Err(Error::Duplicate {
                what: Unique::ApiKey,
                existing: key.id.to_string(),
            });
        }
        a.keys.insert(key.id.clone(), key.clone());
        Ok(())
    }

    async fn api_key(&self, id: &ApiKeyId) -> Result<Option<ApiKeyRecord>> {
        Ok(self.access().keys.get(id).cloned())
    }

    async fn api_keys(&self, tenant: &TenantId) -> Result<Vec<ApiKeyRecord>> {
        Ok((self.access().keys.values())
            .filter(|k| &k.tenant == tenant)
            .cloned()
            .collect())
    }

    async fn revoke_api_key(
        &self,
        tenant: &TenantId,
        id: &ApiKeyId,
        at: DateTime<Utc>,
    ) -> Result<ApiKeyRecord> {
        let mut a = self.access_mut();
        let key = a.key_mut(tenant, id)?;
        key.revoked_at.get_or_insert(at);
        Ok(key.clone())
    }

    async fn touch_api_key(
        &self,
        tenant: &TenantId,
        id: &ApiKeyId,
        at: DateTime<Utc>,
    ) -> Result<()> {
        self.access_mut().key_mut(tenant, id)?.last_used_at = Some(at);
        Ok(())
    }
}
