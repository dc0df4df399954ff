//! Who may act, as stored: agents' password hashes, signed-in sessions and
//! API keys.
//!
//! Secrets are never stored: a session is kept under the SHA-256 of its
//! token ([`TokenHash`]), an API key under the SHA-256 of its secret part,
//! a password as the PHC string of its Argon2 hash (made and checked by the
//! HTTP layer; the core only keeps it). No record prints a hash or a
//! secret in its `Debug`.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::{Error, Result};
use crate::ids::{AgentId, ApiKeyId, TenantId};
use crate::model::Role;
use crate::Secret;

/// The SHA-256 of a secret: what is stored of a session token or of an API
/// key's secret part, never the secret itself.
///
/// Its `Debug` shows nothing of it. Stores look sessions up by it (equality
/// on the hash of an unguessable token tells nothing useful); an API key's
/// secret is checked with [`TokenHash::matches`], in constant time.
///
/// ```
/// use inbox_core::ports::TokenHash;
/// let h = TokenHash::of("a-token");
/// assert!(h.matches(&TokenHash::of("a-token")));
/// assert!(!h.matches(&TokenHash::of("another")));
/// assert_eq!(format!("{h:?}"), "TokenHash(..)");
/// assert_eq!(TokenHash::from_hex(&h.to_hex()).unwrap(), h);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TokenHash([u8; 32]);

impl TokenHash {
    /// The SHA-256 of `secret` (its UTF-8 bytes).
    pub fn of(secret: &str) -> Self {
        Self(Sha256::digest(secret.as_bytes()).into())
    }

    /// A hash as stored (32 bytes).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The 32 bytes, for storing.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Whether two hashes are equal, compared in constant time.
    pub fn matches(&self, other: &TokenHash) -> bool {
        self.0[..].ct_eq(&other.0[..]).into()
    }

    /// The hash as 64 lowercase hex digits: how a session is named to an
    /// admin (it cannot be turned back into the token, nor used as one).
    pub fn to_hex(&self) -> String {
        let mut s = String::with_capacity(64);
        for b in self.0 {
            s.push(char::from(HEX[usize::from(b >> 4)]));
            s.push(char::from(HEX[usize::from(b & 0xf)]));
        }
        s
    }

    /// Reads [`TokenHash::to_hex`]'s form back; anything else is
    /// [`Error::InvalidInput`].
    pub fn from_hex(hex: &str) -> Result<Self> {
        let bad = || Error::invalid("session", "not a session id (64 hex digits)");
        let bytes = hex.as_bytes();
        if bytes.len() != 64 {
            return Err(bad());
        }
        let mut out = [0u8; 32];
        for (i, pair) in bytes.chunks(2).enumerate() {
            let digit = |c: u8| char::from(c).to_digit(16).ok_or_else(bad);
            out[i] = (digit(pair[0])? << 4 | digit(pair[1])?) as u8;
        }
        Ok(Self(out))
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

impl std::fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenHash(..)")
    }
}

/// Serialised as [`TokenHash::to_hex`].
impl Serialize for TokenHash {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_hex())
    }
}

/// A signed-in session of an agent, as stored.
///
/// Its `Debug` leaves the hash out; serialised (for an admin's list), the
/// hash is the session's `id` ([`TokenHash::to_hex`]).
#[derive(Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SessionRecord {
    /// The agent's tenant.
    pub tenant: TenantId,
    /// The agent signed in.
    pub agent: AgentId,
    /// The SHA-256 of the session's token (the token is never stored).
    #[serde(rename = "id")]
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub token_hash: TokenHash,
    /// When it was opened.
    pub created_at: DateTime<Utc>,
    /// When it ends, whatever happens before.
    pub expires_at: DateTime<Utc>,
    /// When it was last used (updated at most about once a minute).
    pub last_seen_at: Option<DateTime<Utc>>,
    /// The browser or client that opened it, as it said (`User-Agent`).
    pub user_agent: Option<String>,
}

impl SessionRecord {
    /// Whether the session is still open at `now` (it expires at
    /// `expires_at`, exclusive).
    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        now < self.expires_at
    }
}

impl std::fmt::Debug for SessionRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionRecord")
            .field("tenant", &self.tenant)
            .field("agent", &self.agent)
            .field("created_at", &self.created_at)
            .field("expires_at", &self.expires_at)
            .field("last_seen_at", &self.last_seen_at)
            .field("user_agent", &self.user_agent)
            .finish_non_exhaustive()
    }
}

/// An API key for an integration, as stored: a service account of a
/// tenant with a role.
///
/// The key itself (`ik_<id>_<secret>`) is shown once, when it is made; the
/// store keeps the SHA-256 of its secret part, which neither `Debug` nor
/// serialisation shows.
#[derive(Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApiKeyRecord {
    /// The tenant it acts in.
    pub tenant: TenantId,
    /// Its public id (`key_` and 12 hex digits), also its service agent's.
    pub id: ApiKeyId,
    /// What it is for, as its creator named it.
    pub name: String,
    /// What it may do.
    pub role: Role,
    /// The SHA-256 of its secret part.
    #[serde(skip)]
    pub key_hash: TokenHash,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// Who made it (`None`: the embedder's provisioning).
    pub created_by: Option<AgentId>,
    /// When it was last used (updated at most about once a minute).
    pub last_used_at: Option<DateTime<Utc>>,
    /// When it was revoked; a revoked key is refused.
    pub revoked_at: Option<DateTime<Utc>>,
}

impl std::fmt::Debug for ApiKeyRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiKeyRecord")
            .field("tenant", &self.tenant)
            .field("id", &self.id)
            .field("name", &self.name)
            .field("role", &self.role)
            .field("created_at", &self.created_at)
            .field("created_by", &self.created_by)
            .field("last_used_at", &self.last_used_at)
            .field("revoked_at", &self.revoked_at)
            .finish_non_exhaustive()
    }
}

/// Where passwords, sessions and API keys are kept. Every
/// [`Store`](super::Store) is one too.
///
/// # Contract
///
/// - **Passwords.** [`Access::set_password_hash`] stores an agent's
///   password hash (`None` removes it); [`Access::password_hash`] reads it
///   back exactly as set (`None` if none is). Both answer
///   [`Error::NotFound`](crate::Error::NotFound) on
///   [`Entity::Agent`](crate::error::Entity::Agent) for an agent that is
///   not the tenant's.
/// - **Sessions.** [`Access::create_session`] stores a session of an
///   agent of its tenant (`NotFound` on the agent otherwise;
///   [`Error::Duplicate`](crate::Error::Duplicate) on
///   [`Unique::Session`](crate::error::Unique::Session) if its hash is
///   stored already). [`Access::session`] finds one by its token's hash in
///   any tenant (a token comes without its tenant), **expired or not**:
///   the caller checks `expires_at` against its own clock. A revoked
///   session is gone: [`Access::revoke_session`] (one, `false` when the
///   tenant has no such session), [`Access::revoke_agent_sessions`] (all of
///   an agent's but the one excepted, counted) and
///   [`Access::purge_sessions`] (every tenant's that expired at or before
///   an instant, counted) delete them. [`Access::sessions`] lists a
///   tenant's (one agent's when given), expired ones included, newest
///   first (by `created_at`, then hash). [`Access::touch_session`] sets
///   `last_seen_at`.
/// - **API keys.** [`Access::create_api_key`] stores a key (`Duplicate` on
///   [`Unique::ApiKey`](crate::error::Unique::ApiKey) if its id is stored,
///   in any tenant). [`Access::api_key`] finds one by id in any tenant,
///   revoked or not (the caller checks). [`Access::api_keys`] lists a
///   tenant's by id. [`Access::revoke_api_key`] sets `revoked_at` once (a
///   second revocation keeps the first time) and returns the key;
///   [`Access::touch_api_key`] sets `last_used_at`. Both answer `NotFound`
///   on [`Entity::ApiKey`](crate::error::Entity::ApiKey) for a key that is
///   not the tenant's.
/// - **Tenancy.** Only the two lookups by secret ([`Access::session`],
///   [`Access::api_key`]) cross tenants; every other call sees only its
///   tenant's records, and another tenant's id is not found.
/// - Records come back exactly as written (times to the microsecond).
#[async_trait]
pub trait Access: Send + Sync {
    /// Sets (or with `None` removes) an agent's password hash, a PHC
    /// string.
    async fn set_password_hash(
        &self,
        tenant: &TenantId,
        agent: &AgentId,
        phc: Option<&str>,
    ) -> Result<()>;

    /// An agent's password hash, if one is set.
    async fn password_hash(&self, tenant: &TenantId, agent: &AgentId) -> Result<Option<Secret>>;

    /// Stores a new session.
    async fn create_session(&self, session: &SessionRecord) -> Result<()>;

    /// The session with this token hash, in whatever tenant, expired or
    /// not.
    async fn session(&self, token_hash: &TokenHash) -> Result<Option<SessionRecord>>;

    /// Sets a session's `last_seen_at` (nothing if the tenant has no such
    /// session).
    async fn touch_session(
        &self,
        tenant: &TenantId,
        token_hash: &TokenHash,
        at: DateTime<Utc>,
    ) -> Result<()>;

    /// Deletes one session of the tenant: whether there was one.
    async fn revoke_session(&self, tenant: &TenantId, token_hash: &TokenHash) -> Result<bool>;

    /// Deletes an agent's sessions, all but `except`: how many.
    async fn revoke_agent_sessions(
        &self,
        tenant: &TenantId,
        agent: &AgentId,
        except: Option<&TokenHash>,
    ) -> Result<u64>;

    /// The tenant's sessions (one agent's when given), newest first.
    async fn sessions(
        &self,
        tenant: &TenantId,
        agent: Option<&AgentId>,
    ) -> Result<Vec<SessionRecord>>;

    /// Deletes every tenant's sessions that expired at or before `before`:
    /// how many.
    async fn purge_sessions(&self, before: DateTime<Utc>) -> Result<u64>;

    /// Stores a new API key.
    async fn create_api_key(&self, key: &ApiKeyRecord) -> Result<()>;

    /// The API key with this id, in whatever tenant, revoked or not.
    async fn api_key(&self, id: &ApiKeyId) -> Result<Option<ApiKeyRecord>>;

    /// The tenant's API keys, by id.
    async fn api_keys(&self, tenant: &TenantId) -> Result<Vec<ApiKeyRecord>>;

    /// Marks a key of the tenant revoked at `at` (kept if it already was);
    /// returns it.
    async fn revoke_api_key(
        &self,
        tenant: &TenantId,
        id: &ApiKeyId,
        at: DateTime<Utc>,
    ) -> Result<ApiKeyRecord>;

    /// Sets a key's `last_used_at`.
    async fn touch_api_key(
        &self,
        tenant: &TenantId,
        id: &ApiKeyId,
        at: DateTime<Utc>,
    ) -> Result<()>;
}
