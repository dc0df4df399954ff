//! Sign-in and sessions: agents from the configuration file, passwords
//! checked against their Argon2 hashes, sessions as random tokens held in
//! memory (a restart signs everybody out).

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use chrono::{DateTime, TimeDelta, Utc};
use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use inbox_core::{Actor, AgentId, TenantId};

use super::config::ServerConfig;

/// The session cookie's name.
pub const COOKIE: &str = "inbox_session";

/// Hashes a password for the configuration file (Argon2id, random salt).
pub fn hash_password(password: &str) -> Result<String, String> {
    let salt = SaltString::encode_b64(&rand::random::<[u8; 16]>()).map_err(|e| e.to_string())?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

struct Session {
    agent: AgentId,
    expires: DateTime<Utc>,
}

/// Who may sign in, and who has.
pub struct Auth {
    tenant: TenantId,
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
    /// The agents of a configuration; sessions last `ttl` from sign-in.
    pub fn new(config: &ServerConfig, ttl: TimeDelta) -> Result<Self, inbox_core::Error> {
        let mut hashes = HashMap::new();
        for a in &config.agents {
            hashes.insert(AgentId::new(&a.id)?, a.password_hash.clone());
        }
        Ok(Self {
            tenant: config.tenant_id()?,
            hashes,
            sessions: Mutex::new(HashMap::new()),
            ttl,
        })
    }

    /// The tenant whose agents sign in here.
    pub fn tenant(&self) -> &TenantId {
        &self.tenant
    }

    /// Checks a password (slow on purpose: run it off the async threads);
    /// returns a new session token. Unknown agents and wrong passwords are
    /// refused alike.
    pub fn sign_in(&self, agent: &str, password: &str, now: DateTime<Utc>) -> Option<String> {
        let id = AgentId::new(agent).ok()?;
        let Some(hash) = self.hashes.get(&id) else {
            // Same work as a real check, so timing does not tell who exists.
            let _ = hash_password(password);
            return None;
        };
        let parsed = PasswordHash::new(hash).ok()?;
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .ok()?;
        let token = hex::encode(rand::random::<[u8; 32]>());
        let mut sessions = self.sessions.lock().unwrap_or_else(PoisonError::into_inner);
        sessions.retain(|_, s| s.expires > now);
        sessions.insert(
            token.clone(),
            Session {
                agent: id,
                expires: now + self.ttl,
            },
        );
        Some(token)
    }

    /// The agent a token belongs to, if the session is live.
    pub fn actor(&self, token: &str, now: DateTime<Utc>) -> Option<Actor> {
        let sessions = self.sessions.lock().unwrap_or_else(PoisonError::into_inner);
        let s = sessions.get(token).filter(|s| s.expires > now)?;
        Some(Actor::new(self.tenant.clone(), s.agent.clone()))
    }

    /// Ends a session.
    pub fn sign_out(&self, token: &str) {
        self.sessions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(token);
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

#[cfg(test)]
mod tests {
    use super::*;

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

        let mut h = axum::http::HeaderMap::new();
        h.insert("cookie", "a=1; inbox_session=abc; b=2".parse().unwrap());
        assert_eq!(token(&h).as_deref(), Some("abc"));
        h.insert("authorization", "Bearer xyz".parse().unwrap());
        assert_eq!(token(&h).as_deref(), Some("xyz"));
    }
}
