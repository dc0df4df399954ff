//! Sign-in and sessions: the agents of [`Accounts`], passwords checked
//! against their Argon2 hashes, sessions as random tokens held in memory
//! (a restart signs everybody out).

use argon2::password_hash::{self, PasswordHash, PasswordHasher, SaltString};
use argon2::Argon2;
use chrono::{DateTime, TimeDelta, Utc};
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

struct Session {
    agent: AgentId,
    expires: DateTime<Utc>,
    /// Dropped when the session ends: its live streams end with it.
    ended: watch::Sender<()>,
}

/// Who may sign in, and who has.
pub struct Auth {
    tenant: TenantId,
    clock: std::sync::Arc<dyn inbox_core::ports::Clock>,
    hashes: HashMap<AgentId, String>,
    sessions: Mutex<HashMap<String, Session>>,
    ttl: TimeDelta,
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
    /// Sign-in for `accounts`; sessions last `ttl` from sign-in, by
    /// `clock` (the inbox's).
    pub fn new(
        accounts: Accounts,
        ttl: TimeDelta,
        clock: std::sync::Arc<dyn inbox_core::ports::Clock>,
    ) -> Self {
        Self {
            tenant: accounts.tenant,
            clock,
            hashes: accounts.hashes,
            sessions: Mutex::new(HashMap::new()),
            ttl,
        }
    }

    /// The tenant whose agents sign in here.
    pub fn tenant(&self) -> &TenantId {
        &self.tenant
    }

    /// The configured agent of this name, if any.
    pub fn agent(&self, name: &str) -> Option<AgentId> {
        let id = AgentId::new(name).ok()?;
        self.hashes.contains_key(&id).then_some(id)
    }

    /// Checks a password: the agent, if it is theirs. Slow and
    /// memory-hungry on purpose (Argon2id, 19 MiB with the default
    /// parameters): run it through the
    /// [`HashGate`](super::throttle::HashGate), which lends its `memory`.
    /// Unknown agents and wrong passwords are refused alike, after the same
    /// work.
    pub fn check_password(
        &self,
        agent: &str,
        password: &str,
        memory: &mut HashMemory,
    ) -> Option<AgentId> {
        let known = AgentId::new(agent)
            .ok()
            .and_then(|id| self.hashes.get(&id).map(|h| (Some(id), h)));
        // Same work as a real check (against some agent's hash, refused
        // whatever it says), so timing does not tell who exists.
        let (id, hash) = known.or_else(|| self.hashes.values().next().map(|h| (None, h)))?;
        let parsed = PasswordHash::new(hash).ok()?;
        let ok = verify(password.as_bytes(), &parsed, memory);
        id.filter(|_| ok)
    }

    /// Opens a session for `agent`; returns its token.
    pub fn open_session(&self, agent: AgentId, now: DateTime<Utc>) -> String {
        let token = hex::encode(rand::random::<[u8; 32]>());
        let mut sessions = self.lock();
        // Expired sessions go, and their live streams with them.
        sessions.retain(|_, s| s.expires > now);
        sessions.insert(
            token.clone(),
            Session {
                agent,
                expires: now + self.ttl,
                ended: watch::channel(()).0,
            },
        );
        token
    }

    /// The agent a token belongs to, if the session is live.
    pub fn actor(&self, token: &str, now: DateTime<Utc>) -> Option<Actor> {
        let sessions = self.lock();
        let s = sessions.get(token).filter(|s| s.expires > now)?;
        Some(Actor::new(self.tenant.clone(), s.agent.clone()))
    }

    /// A live session's end: the receiver's `changed()` fails once the
    /// session is signed out (or the server stops its streams).
    pub fn ended(&self, token: &str, now: DateTime<Utc>) -> Option<watch::Receiver<()>> {
        let sessions = self.lock();
        let s = sessions.get(token).filter(|s| s.expires > now)?;
        Some(s.ended.subscribe())
    }

    /// Ends a session.
    pub fn sign_out(&self, token: &str) {
        self.lock().remove(token);
    }

    /// Ends every live stream (the server is stopping); sessions stay.
    pub fn end_streams(&self) {
        for s in self.lock().values_mut() {
            s.ended = watch::channel(()).0;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        self.sessions.lock().unwrap_or_else(PoisonError::into_inner)
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
    /// The agent of the request's session (cookie or bearer token), if it
    /// is live.
    async fn identify(
        &self,
        request: &axum::http::request::Parts,
    ) -> Result<Actor, crate::identity::Refusal> {
        let now = self.clock.now();
        token(&request.headers)
            .and_then(|t| self.actor(&t, now))
            .ok_or(crate::identity::Refusal::Unauthenticated)
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
