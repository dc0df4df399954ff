//! Sign-in and sessions: passwords checked against Argon2 hashes (the
//! store's, else [`Accounts`]'), sessions kept in the store (they survive
//! restarts and are shared by every instance), API keys as bearer tokens.

use argon2::password_hash::{self, PasswordHash, PasswordHasher, SaltString};
use argon2::Argon2;
use chrono::TimeDelta;
use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use tokio::sync::watch;

use inbox_core::{Actor, AgentId, TenantId};

/// The session cookie's name.
pub const COOKIE: &str = "inbox_session";

/// Hashes a password (Argon2id, random salt): the PHC string
/// [`Accounts::with_agent`] takes.
pub fn hash_password(password: &str) -> Result<String, String> {
    let salt = SaltString::encode_b64(&rand::random::<[u8; 16]>()).map_err(|e| e.to_string())?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

/// Memory for password checks: kept by a check thread and reused from one
/// check to the next, so the process does not allocate (and its allocator
/// hold on to) 19 MiB per check.
#[derive(Debug, Default)]
pub struct HashMemory(Vec<argon2::Block>);

/// Whether `password` matches `hash` (a PHC string), computed in `memory`.
/// What [`argon2::PasswordVerifier::verify_password`] does, without allocating the
/// Argon2 blocks anew; the comparison is constant-time
/// ([`password_hash::Output`]'s equality).
pub fn verify(password: &[u8], hash: &PasswordHash<'_>, memory: &mut HashMemory) -> bool {
    let (Some(salt), Some(expected)) = (&hash.salt, &hash.hash) else {
        return false;
    };
    let (Ok(params), Ok(algorithm)) = (
        argon2::Params::try_from(hash),
        argon2::Algorithm::try_from(hash.algorithm),
    ) else {
        return false;
    };
    let Ok(version) = hash.version.map(argon2::Version::try_from).transpose() else {
        return false;
    };
    let mut salt_buf = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_buf) else {
        return false;
    };
    let blocks = params.block_count();
    if memory.0.len() < blocks {
        memory.0.resize(blocks, argon2::Block::default());
    }
    let mut out = [0u8; 64];
    let Some(out) = out.get_mut(..expected.len()) else {
        return false;
    };
    let argon = Argon2::new(algorithm, version.unwrap_or_default(), params);
    argon
        .hash_password_into_with_memory(password, salt, &mut *out, &mut memory.0[..blocks])
        .is_ok()
        && password_hash::Output::new(out).is_ok_and(|o| &o == expected)
}

/// A password hash that is not an Argon2 PHC string (`$argon2id$...`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an Argon2 PHC string")]
pub struct BadPasswordHash;

/// Who may sign in with a password: one tenant's agents and their password
/// hashes (Argon2 PHC strings, as [`hash_password`] makes them). The
/// agents must be provisioned in the inbox too.
#[derive(Clone)]
pub struct Accounts {
    tenant: TenantId,
    hashes: HashMap<AgentId, String>,
}

impl std::fmt::Debug for Accounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // No hashes.
        f.debug_struct("Accounts")
            .field("tenant", &self.tenant)
            .field("agents", &self.hashes.len())
            .finish()
    }
}

impl Accounts {
    /// No one yet, of `tenant`.
    pub fn new(tenant: TenantId) -> Self {
        Self {
            tenant,
            hashes: HashMap::new(),
        }
    }

    /// With `agent`, whose password hashes to `password_hash` (replacing
    /// an earlier hash of theirs). Refused unless the hash is an Argon2
    /// PHC string.
    pub fn with_agent(
        mut self,
        agent: AgentId,
        password_hash: impl Into<String>,
    ) -> Result<Self, BadPasswordHash> {
        let hash = password_hash.into();
        PasswordHash::new(&hash).map_err(|_| BadPasswordHash)?;
        self.hashes.insert(agent, hash);
        Ok(self)
    }

    /// The tenant whose agents these are.
    pub fn tenant(&self) -> &TenantId {
        &self.tenant
    }
}

/// A dummy Argon2 hash (of a random password nobody knows), checked when
/// an agent has none, so that timing does not tell who exists.
const NOBODY: &str = "$argon2id$v=19$m=19456,t=2,p=1$WYemYPNJRdpHQnm/+6/w8g$Rg4HvpUvLX6H8oI4Jo/Dha8BOqNoTQmfY3TQAEEBA8c";

/// The prefix of an API key (`ik_<id>_<secret>`), told apart from a
/// session token.
pub const API_KEY_PREFIX: &str = "ik_";

/// Password sign-in and the sessions it opens, kept in the store (the
/// [`Access`](inbox_core::ports::Access) port): they survive restarts and
/// every instance on the same store accepts them; they expire; an admin
/// can revoke them. API keys (`ik_...`) are accepted as bearer tokens too.
/// Passwords are the store's, falling back to [`Accounts`] (a
/// configuration file's hashes) for agents without one there.
pub struct Auth {
    tenant: TenantId,
    inbox: inbox_core::Inbox,
    hashes: HashMap<AgentId, String>,
    ttl: TimeDelta,
    /// This instance's live streams by the digest of their session token:
    /// ended at once when the session is signed out here.
    streams: Mutex<HashMap<String, watch::Sender<()>>>,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // No hashes, no tokens.
        f.debug_struct("Auth")
            .field("tenant", &self.tenant)
            .field("agents", &self.hashes.len())
            .finish_non_exhaustive()
    }
}

impl Auth {
    /// Sign-in for the agents of `inbox` (passwords in its store, else in
    /// `accounts`); sessions last `ttl` from sign-in.
    pub fn new(accounts: Accounts, ttl: TimeDelta, inbox: inbox_core::Inbox) -> Self {
        Self {
            tenant: accounts.tenant,
            inbox,
            hashes: accounts.hashes,
            ttl,
            streams: Mutex::new(HashMap::new()),
        }
    }

    /// The tenant whose agents sign in here when a sign-in names none.
    pub fn tenant(&self) -> &TenantId {
        &self.tenant
    }

    /// The password hash of an agent: the store's, else the configured
    /// one; `None` when neither has one.
    pub async fn hash_of(&self, tenant: &TenantId, agent: &AgentId) -> Option<String> {
        match self.inbox.password_hash(tenant, agent).await {
            Ok(Some(h)) => return Some(h.expose().to_string()),
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(error = %e, "password lookup");
                return None;
            }
        }
        // The configuration's hash only for an agent who may sign in (the
        // store says none for a deactivated one or a service account).
        let store = &self.inbox.ports().store;
        let may = store
            .agent(tenant, agent)
            .await
            .is_ok_and(|a| a.active && !a.service);
        (may && tenant == &self.tenant)
            .then(|| self.hashes.get(agent).cloned())
            .flatten()
    }

    /// Checks a password against `hash` (`None`: the agent has none: the
    /// same work is done against a dummy hash and refused). Slow and
    /// memory-hungry on purpose (Argon2id, 19 MiB with the default
    /// parameters): run it through the
    /// [`HashGate`](super::throttle::HashGate), which lends its `memory`.
    pub fn check_password(hash: Option<&str>, password: &str, memory: &mut HashMemory) -> bool {
        let Ok(parsed) = PasswordHash::new(hash.unwrap_or(NOBODY)) else {
            return false;
        };
        verify(password.as_bytes(), &parsed, memory) && hash.is_some()
    }

    /// Opens a session for `agent` of `tenant` in the store; returns its
    /// token (32 random bytes as hex: only its digest is stored).
    pub async fn open_session(
        &self,
        tenant: &TenantId,
        agent: &AgentId,
        user_agent: Option<&str>,
    ) -> inbox_core::Result<String> {
        let token = hex::encode(rand::random::<[u8; 32]>());
        let secret = inbox_core::Secret::new(token.clone());
        let ttl = self.ttl.to_std().unwrap_or_default();
        self.inbox
            .open_session(tenant, agent, &secret, ttl, user_agent)
            .await?;
        Ok(token)
    }

    /// The actor of a session token or API key, if it is live; a store
    /// that cannot say is [`Refusal::Unavailable`](crate::identity::Refusal).
    pub async fn actor(&self, token: &str) -> Result<Actor, crate::identity::Refusal> {
        use crate::identity::Refusal;
        let found = if token.starts_with(API_KEY_PREFIX) {
            self.inbox.api_key_actor(token).await
        } else {
            self.inbox.session_actor(token).await
        };
        found.map_err(|e| match e {
            inbox_core::Error::Unavailable { .. } | inbox_core::Error::Backend { .. } => {
                Refusal::Unavailable(e.to_string())
            }
            _ => Refusal::Unauthenticated,
        })
    }

    /// A session's end on this instance: the receiver's `changed()` fails
    /// once it is signed out here (or the server stops its streams). Kept
    /// by the token's digest, and only while a stream listens.
    pub fn ended(&self, token: &str) -> watch::Receiver<()> {
        let key = inbox_core::ports::TokenHash::of(token).to_hex();
        let mut streams = self.lock();
        streams.retain(|_, tx| tx.receiver_count() > 0);
        streams
            .entry(key)
            .or_insert_with(|| watch::channel(()).0)
            .subscribe()
    }

    /// Ends a session (in the store: on every instance) and its streams
    /// here.
    pub async fn sign_out(&self, token: &str) {
        if let Err(e) = self.inbox.sign_out(token).await {
            tracing::warn!(error = %e, "sign out");
        }
        let key = inbox_core::ports::TokenHash::of(token).to_hex();
        self.lock().remove(&key);
    }

    /// Ends every live stream of this instance (the server is stopping);
    /// sessions stay.
    pub fn end_streams(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, watch::Sender<()>>> {
        self.streams.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The session token of a request: the `inbox_session` cookie, or an
/// `Authorization: Bearer` header (for API clients).
pub fn token(headers: &axum::http::HeaderMap) -> Option<String> {
    if let Some(bearer) = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    {
        return Some(bearer.trim().to_string());
    }
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|kv| {
            let (k, v) = kv.trim().split_once('=')?;
            (k == COOKIE).then(|| v.to_string())
        })
}

#[async_trait::async_trait]
impl crate::identity::Identity for Auth {
    /// The agent of the request's session (cookie or bearer token) or API
    /// key (bearer), if it is live.
    async fn identify(
        &self,
        request: &axum::http::request::Parts,
    ) -> Result<Actor, crate::identity::Refusal> {
        let Some(token) = token(&request.headers) else {
            return Err(crate::identity::Refusal::Unauthenticated);
        };
        self.actor(&token).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::PasswordVerifier;

    #[test]
    fn hashes_verify_and_tokens_are_read_from_cookies_or_bearer() {
        let hash = hash_password("s3cret").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        let parsed = PasswordHash::new(&hash).unwrap();
        assert!(Argon2::default()
            .verify_password(b"s3cret", &parsed)
            .is_ok());
        assert!(Argon2::default()
            .verify_password(b"other", &parsed)
            .is_err());
        // The same answers with lent memory, used again and again.
        let mut memory = HashMemory::default();
        for _ in 0..2 {
            assert!(verify(b"s3cret", &parsed, &mut memory));
            assert!(!verify(b"other", &parsed, &mut memory));
        }
        let other = PasswordHash::new(
            "$argon2id$v=19$m=8,t=1,p=1$c29tZXNhbHRzb21lc2FsdA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        )
        .unwrap();
        assert!(!verify(b"s3cret", &other, &mut memory));

        let mut h = axum::http::HeaderMap::new();
        h.insert("cookie", "a=1; inbox_session=abc; b=2".parse().unwrap());
        assert_eq!(token(&h).as_deref(), Some("abc"));
        h.insert("authorization", "Bearer xyz".parse().unwrap());
        assert_eq!(token(&h).as_deref(), Some("xyz"));
    }
}
