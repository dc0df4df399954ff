//! Who may act: password hashes, sessions and API keys, kept by the
//! [`Access`](crate::ports::Access) port, so that every instance over one
//! store shares them and they survive restarts.
//!
//! **Sessions.** The HTTP layer checks a password (Argon2, against
//! [`Inbox::password_hash`]) and opens a session with a token it made:
//! [`Inbox::open_session`] stores the token's SHA-256, never the token.
//! [`Inbox::session_actor`] finds the actor of a presented token while the
//! session is open (by the inbox's clock: its expiry is decided here, not by
//! the store) and its agent active; an admin (or the agent) ends sessions.
//! Changing a password through [`Inbox::set_password`] ends the agent's
//! other sessions.
//!
//! **API keys** are service accounts. [`Inbox::create_api_key`] provisions
//! an agent with the key's id and role, marked [`Agent::service`], so every
//! permission check and every event reads the key as it reads a person
//! (`load_agent`, the role matrix, `EventActor::Agent`), while routing,
//! assignment, password sign-in and the live snapshot leave it out. The key
//! (`ik_<id>_<secret>`) is returned once; the store keeps the SHA-256 of the
//! secret, compared in constant time by [`Inbox::api_key_actor`]. Revoking
//! a key marks it revoked and deactivates its agent: refused at once.
//!
//! **Randomness.** The core has none (no IO, no RNG: ids come from the
//! [`IdGenerator`](crate::ports::IdGenerator) port, which need not be
//! unpredictable). Session tokens and API key secrets are therefore given
//! by the caller, who draws them from a secure random source (the HTTP
//! layer: 32 random bytes as 64 hex digits); the core refuses ones shorter
//! than [`MIN_SECRET_LEN`]. An API key's public id is derived from its
//! secret (`key_` and the first 12 hex digits of a SHA-256 of it, domain
//! separated from the stored hash), so it needs no randomness of its own
//! and tells nothing about the secret.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::{Actor, Inbox};
use crate::error::{chrono_duration, Entity, Error, Result, Unique};
use crate::ids::{AgentId, ApiKeyId, TenantId};
use crate::model::{Agent, Presence, Role};
use crate::permissions::{self, Action};
use crate::ports::{ApiKeyRecord, DirectoryWrite, SessionRecord, TokenHash};
use crate::Secret;

/// The fewest characters a session token or an API key's secret may have:
/// 32 (128 bits as hex). Give 32 random bytes as 64 hex digits.
pub const MIN_SECRET_LEN: usize = 32;

/// The most characters a session token or an API key's secret may have.
const MAX_SECRET_LEN: usize = 256;

/// How stale a session's `last_seen_at` or a key's `last_used_at` may get
/// before a use writes it again: uses within a minute write nothing.
pub const TOUCH_EVERY: Duration = Duration::from_secs(60);

/// How every API key begins: `ik_<id>_<secret>`.
pub const API_KEY_PREFIX: &str = "ik_";

/// The most characters of a client's `User-Agent` kept with its session.
const MAX_USER_AGENT: usize = 200;

/// An API key just made: its record, and the key itself, which is shown
/// this once and never stored.
#[derive(Debug, Clone)]
pub struct NewApiKey {
    /// The key as stored.
    pub record: ApiKeyRecord,
    /// The key to hand over: `ik_<id>_<secret>`.
    pub key: Secret,
}

/// Refuses a token or secret that cannot be unguessable or cannot travel
/// in a header.
fn check_secret(field: &str, secret: &Secret) -> Result<()> {
    let s = secret.expose();
    if s.len() < MIN_SECRET_LEN || s.len() > MAX_SECRET_LEN {
        return Err(Error::invalid(
            field,
            format!("must be {MIN_SECRET_LEN} to {MAX_SECRET_LEN} random characters"),
        ));
    }
    if !s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        return Err(Error::invalid(
            field,
            "may hold only ASCII letters, digits and '-'",
        ));
    }
    Ok(())
}

/// Refuses what is not a PHC string (`$argon2id$v=19$...`).
fn check_phc(phc: &str) -> Result<()> {
    let printable = phc.bytes().all(|b| b.is_ascii_graphic());
    if !phc.starts_with('$') || !printable || phc.len() > 512 {
        return Err(Error::invalid(
            "password_hash",
            "must be a PHC string ($argon2id$...), at most 512 characters",
        ));
    }
    Ok(())
}

/// What a client said it is, kept short and printable.
fn clean_user_agent(user_agent: Option<&str>) -> Option<String> {
    let kept: String = user_agent?
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_USER_AGENT)
        .collect();
    Some(kept.trim().to_string()).filter(|s| !s.is_empty())
}

/// An API key's id, from its secret.
fn key_id(secret: &Secret) -> Result<ApiKeyId> {
    let digest = TokenHash::of(&format!("inbox api key id\0{}", secret.expose())).to_hex();
    ApiKeyId::new(format!("key_{}", &digest[..12]))
}

/// The id and secret of a presented key, if it has the form of one.
fn parse_key(presented: &str) -> Option<(ApiKeyId, &str)> {
    let (id, secret) = presented.strip_prefix(API_KEY_PREFIX)?.rsplit_once('_')?;
    Some((ApiKeyId::new(id).ok()?, secret))
}

/// Whether a last use recorded at `last` is stale at `now`.
fn stale(last: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
    last.is_none_or(|l| now - l >= chrono_duration(TOUCH_EVERY))
}

impl Inbox {
    /// An agent's password hash (a PHC string), for checking a password at
    /// sign-in. `None` when there is none to check: no such agent in the
    /// tenant, deactivated, a service account, or no password set (answer
    /// all alike).
    pub async fn password_hash(
        &self,
        tenant: &TenantId,
        agent: &AgentId,
    ) -> Result<Option<Secret>> {
        match self.ports.store.agent(tenant, agent).await {
            Ok(a) if a.active && !a.service => {}
            Ok(_) | Err(Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(e),
        }
        self.ports.store.password_hash(tenant, agent).await
    }

    /// Sets (or with `None` removes) an agent's password hash, system
    /// level: for the embedder's provisioning. Sessions are left as they
    /// are (provisioning that runs at every start signs nobody out).
    pub async fn provision_password(
        &self,
        tenant: &TenantId,
        agent: &AgentId,
        phc: Option<&str>,
    ) -> Result<()> {
        let target = self.ports.store.agent(tenant, agent).await?;
        self.store_password(&target, phc).await
    }

    /// Sets (or with `None` removes) `agent`'s password hash, made by the
    /// caller (Argon2, as a PHC string): admins for anyone of their
    /// tenant, every agent for themselves. Ends the agent's sessions but
    /// `keep` (the token of the session making the change, so the agent
    /// stays signed in there); returns how many ended.
    pub async fn set_password(
        &self,
        actor: &Actor,
        agent: &AgentId,
        phc: Option<&str>,
        keep: Option<&str>,
    ) -> Result<u64> {
        let target = self.access_target(actor, agent).await?;
        self.store_password(&target, phc).await?;
        let keep = keep.map(TokenHash::of);
        (self.ports.store)
            .revoke_agent_sessions(&actor.tenant, agent, keep.as_ref())
            .await
    }

    async fn store_password(&self, target: &Agent, phc: Option<&str>) -> Result<()> {
        if target.service {
            return Err(Error::invalid(
                "agent",
                format!("{} is a service account: it has no password", target.id),
            ));
        }
        if let Some(phc) = phc {
            check_phc(phc)?;
        }
        (self.ports.store)
            .set_password_hash(&target.tenant, &target.id, phc)
            .await
    }

    /// Whether the acting agent may manage `agent`'s sessions and password
    /// (their own, or anyone's of the tenant with
    /// [`Action::ManageAccess`]): the agent, or the refusal. For callers
    /// with costly work to do first (hashing a new password).
    pub async fn may_manage_access(&self, actor: &Actor, agent: &AgentId) -> Result<Agent> {
        self.access_target(actor, agent).await
    }

    async fn access_target(&self, actor: &Actor, agent: &AgentId) -> Result<Agent> {
        let me = self.load_agent(actor).await?;
        if &me.id == agent {
            return Ok(me);
        }
        permissions::require(&me, Action::ManageAccess)?;
        self.ports.store.agent(&actor.tenant, agent).await
    }

    /// Opens a session of `agent` (who must exist, be active and not be a
    /// service account) for `ttl`, under `token`: unguessable, made by the
    /// caller from a secure random source (see the module's
    /// documentation), at least [`MIN_SECRET_LEN`] characters. Only its
    /// SHA-256 is stored. `user_agent` is kept for the list of sessions.
    pub async fn open_session(
        &self,
        tenant: &TenantId,
        agent: &AgentId,
        token: &Secret,
        ttl: Duration,
        user_agent: Option<&str>,
    ) -> Result<SessionRecord> {
        check_secret("token", token)?;
        if ttl.is_zero() {
            return Err(Error::invalid("ttl", "must be more than zero"));
        }
        let a = self.ports.store.agent(tenant, agent).await?;
        if !a.active || a.service {
            return Err(Error::invalid(
                "agent",
                format!("{agent} may not sign in (deactivated or a service account)"),
            ));
        }
        let now = self.now();
        let session = SessionRecord {
            tenant: tenant.clone(),
            agent: agent.clone(),
            token_hash: TokenHash::of(token.expose()),
            created_at: now,
            expires_at: now + chrono_duration(ttl),
            last_seen_at: None,
            user_agent: clean_user_agent(user_agent),
        };
        self.ports.store.create_session(&session).await?;
        Ok(session)
    }

    /// The actor of a presented session token: [`Error::Unauthenticated`]
    /// unless the session is stored, not expired by the inbox's clock, and
    /// its agent active. Records the use (at most once a minute).
    pub async fn session_actor(&self, token: &str) -> Result<Actor> {
        let hash = TokenHash::of(token);
        let now = self.now();
        let session = (self.ports.store.session(&hash).await?)
            .filter(|s| s.is_live(now))
            .ok_or(Error::Unauthenticated)?;
        let actor = Actor::new(session.tenant.clone(), session.agent.clone());
        self.require_able(&actor).await?;
        if stale(session.last_seen_at, now) {
            let touched = (self.ports.store)
                .touch_session(&session.tenant, &hash, now)
                .await;
            if let Err(e) = touched {
                tracing::warn!(error = %e, "recording a session's use failed");
            }
        }
        Ok(actor)
    }

    /// Fails with [`Error::Unauthenticated`] unless the actor's agent
    /// exists and is active.
    async fn require_able(&self, actor: &Actor) -> Result<()> {
        match self.ports.store.agent(&actor.tenant, &actor.agent).await {
            Ok(a) if a.active => Ok(()),
            Ok(_) | Err(Error::NotFound { .. }) => Err(Error::Unauthenticated),
            Err(e) => Err(e),
        }
    }

    /// Ends the session of a presented token (nothing if there is none).
    /// When it was the agent's last live session (no other browser or
    /// device is signed in), their presence becomes
    /// [`Presence::Offline`] through [`Inbox::set_presence`], with what
    /// the teams' offline policies do then; that part is best effort (the
    /// session is ended either way; a failure is logged).
    pub async fn sign_out(&self, token: &str) -> Result<()> {
        let hash = TokenHash::of(token);
        if let Some(s) = self.ports.store.session(&hash).await? {
            self.ports.store.revoke_session(&s.tenant, &hash).await?;
            self.offline_unless_signed_in(&s).await;
        }
        Ok(())
    }

    /// Sets the agent of an ended session offline, unless they still have
    /// a live session; failures are logged.
    async fn offline_unless_signed_in(&self, ended: &SessionRecord) {
        let actor = Actor::new(ended.tenant.clone(), ended.agent.clone());
        let result = match self.still_signed_in(ended).await {
            Ok(true) => return,
            Ok(false) => self.set_presence(&actor, Presence::Offline).await.map(drop),
            Err(e) => Err(e),
        };
        if let Err(e) = result {
            tracing::warn!(agent = %actor.agent, error = %e, "could not set a signed-out agent offline");
        }
    }

    /// Whether the agent of an ended session has another live one.
    async fn still_signed_in(&self, ended: &SessionRecord) -> Result<bool> {
        let now = self.now();
        let sessions = (self.ports.store)
            .sessions(&ended.tenant, Some(&ended.agent))
            .await?;
        Ok(sessions
            .iter()
            .any(|s| s.token_hash != ended.token_hash && s.is_live(now)))
    }

    /// The sessions of the actor's tenant, newest first, expired ones
    /// included (see [`SessionRecord::is_live`]): `agent`'s only when
    /// given. Every agent may list their own; the rest needs
    /// [`Action::ManageAccess`].
    pub async fn sessions(
        &self,
        actor: &Actor,
        agent: Option<&AgentId>,
    ) -> Result<Vec<SessionRecord>> {
        let me = self.load_agent(actor).await?;
        if agent != Some(&me.id) {
            permissions::require(&me, Action::ManageAccess)?;
        }
        self.ports.store.sessions(&actor.tenant, agent).await
    }

    /// Ends one session, named by its id ([`SessionRecord::token_hash`]):
    /// one's own, or anyone's of the tenant with
    /// [`Action::ManageAccess`]. Another tenant's is not found.
    pub async fn revoke_session(&self, actor: &Actor, session: &TokenHash) -> Result<()> {
        let me = self.load_agent(actor).await?;
        let not_found = || Error::not_found(Entity::Session, session.to_hex());
        let found = (self.ports.store.session(session).await?)
            .filter(|s| s.tenant == actor.tenant)
            .ok_or_else(not_found)?;
        if found.agent != me.id {
            permissions::require(&me, Action::ManageAccess)?;
        }
        match self
            .ports
            .store
            .revoke_session(&actor.tenant, session)
            .await?
        {
            true => Ok(()),
            false => Err(not_found()),
        }
    }

    /// Ends every session of `agent` (one's own, or anyone's of the
    /// tenant with [`Action::ManageAccess`]): how many.
    pub async fn revoke_sessions(&self, actor: &Actor, agent: &AgentId) -> Result<u64> {
        self.access_target(actor, agent).await?;
        (self.ports.store)
            .revoke_agent_sessions(&actor.tenant, agent, None)
            .await
    }

    /// Deletes every tenant's sessions expired by now (system level, for a
    /// periodic clean-up): how many. Expired sessions are refused anyway.
    pub async fn purge_sessions(&self) -> Result<u64> {
        self.ports.store.purge_sessions(self.now()).await
    }

    /// Makes an API key of the actor's tenant (admins:
    /// [`Action::ManageAccess`]) named `name`, acting with `role`, whose
    /// secret is `secret`: unguessable, made by the caller from a secure
    /// random source, at least [`MIN_SECRET_LEN`] ASCII letters, digits or
    /// `-`. Provisions its service agent (see the module's documentation),
    /// recorded in the settings history as the actor's. The key is in the
    /// result, once.
    pub async fn create_api_key(
        &self,
        actor: &Actor,
        name: &str,
        role: Role,
        secret: &Secret,
    ) -> Result<NewApiKey> {
        let me = self.load_agent(actor).await?;
        permissions::require(&me, Action::ManageAccess)?;
        self.make_api_key(&actor.tenant, name, role, secret, Some(&me.id))
            .await
    }

    /// [`Inbox::create_api_key`] at system level, for the embedder's
    /// provisioning (`created_by` is `None`).
    pub async fn provision_api_key(
        &self,
        tenant: &TenantId,
        name: &str,
        role: Role,
        secret: &Secret,
    ) -> Result<NewApiKey> {
        self.ports.store.tenant(tenant).await?;
        self.make_api_key(tenant, name, role, secret, None).await
    }

    async fn make_api_key(
        &self,
        tenant: &TenantId,
        name: &str,
        role: Role,
        secret: &Secret,
        by: Option<&AgentId>,
    ) -> Result<NewApiKey> {
        check_secret("secret", secret)?;
        super::directory::check_name("name", name)?;
        let id = key_id(secret)?;
        self.require_new_key(tenant, &id).await?;
        let mut agent = Agent::new(tenant.clone(), id.agent(), name, role);
        agent.service = true;
        let record = ApiKeyRecord {
            tenant: tenant.clone(),
            id: id.clone(),
            name: agent.name.clone(),
            role,
            key_hash: TokenHash::of(secret.expose()),
            created_at: self.now(),
            created_by: by.cloned(),
            last_used_at: None,
            revoked_at: None,
        };
        self.store_key(agent, &record, by).await?;
        let key = Secret::new(format!("{API_KEY_PREFIX}{id}_{}", secret.expose()));
        Ok(NewApiKey { record, key })
    }

    /// Fails with [`Error::Duplicate`] if a key or an agent of the tenant
    /// has this id already.
    async fn require_new_key(&self, tenant: &TenantId, id: &ApiKeyId) -> Result<()> {
        let duplicate = || Error::Duplicate {
            what: Unique::ApiKey,
            existing: id.to_string(),
        };
        if self.ports.store.api_key(id).await?.is_some() {
            return Err(duplicate());
        }
        match self.ports.store.agent(tenant, &id.agent()).await {
            Ok(_) => Err(duplicate()),
            Err(Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Provisions a key's service agent, then stores the key; if the key
    /// cannot be stored, the agent is deactivated again.
    async fn store_key(
        &self,
        mut agent: Agent,
        record: &ApiKeyRecord,
        by: Option<&AgentId>,
    ) -> Result<()> {
        self.store_directory(DirectoryWrite::Agent(&agent), by)
            .await?;
        let Err(e) = self.ports.store.create_api_key(record).await else {
            return Ok(());
        };
        agent.active = false;
        let undone = self
            .store_directory(DirectoryWrite::Agent(&agent), by)
            .await;
        if let Err(u) = undone {
            tracing::warn!(error = %u, key = %record.id, "deactivating the agent of a key not stored failed");
        }
        Err(e)
    }

    /// The API keys of the actor's tenant, by id, revoked ones included
    /// (admins: [`Action::ManageAccess`]).
    pub async fn api_keys(&self, actor: &Actor) -> Result<Vec<ApiKeyRecord>> {
        self.agent_allowed(actor, Action::ManageAccess).await?;
        self.ports.store.api_keys(&actor.tenant).await
    }

    /// Revokes an API key of the actor's tenant (admins:
    /// [`Action::ManageAccess`]): refused from now on, its service agent
    /// deactivated. Another tenant's key is not found; revoking twice keeps
    /// the first time.
    pub async fn revoke_api_key(&self, actor: &Actor, id: &ApiKeyId) -> Result<ApiKeyRecord> {
        let me = self.agent_allowed(actor, Action::ManageAccess).await?;
        let record = (self.ports.store)
            .revoke_api_key(&actor.tenant, id, self.now())
            .await?;
        let agent = self.ports.store.agent(&actor.tenant, &id.agent()).await?;
        if agent.active {
            let agent = Agent {
                active: false,
                ..agent
            };
            self.store_directory(DirectoryWrite::Agent(&agent), Some(&me.id))
                .await?;
        }
        Ok(record)
    }

    /// The actor of a presented API key (`ik_<id>_<secret>`): its service
    /// agent. [`Error::Unauthenticated`] unless the key has that form, is
    /// stored, its secret matches (compared in constant time), it is not
    /// revoked and its agent is active. Records the use (at most once a
    /// minute).
    pub async fn api_key_actor(&self, presented: &str) -> Result<Actor> {
        let (id, secret) = parse_key(presented).ok_or(Error::Unauthenticated)?;
        let record = (self.ports.store.api_key(&id).await?).ok_or(Error::Unauthenticated)?;
        if !TokenHash::of(secret).matches(&record.key_hash) || record.revoked_at.is_some() {
            return Err(Error::Unauthenticated);
        }
        let actor = Actor::new(record.tenant.clone(), id.agent());
        self.require_able(&actor).await?;
        let now = self.now();
        if stale(record.last_used_at, now) {
            let touched = self
                .ports
                .store
                .touch_api_key(&record.tenant, &id, now)
                .await;
            if let Err(e) = touched {
                tracing::warn!(error = %e, key = %id, "recording a key's use failed");
            }
        }
        Ok(actor)
    }
}
