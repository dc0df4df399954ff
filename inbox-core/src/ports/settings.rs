//! Tenant settings as stored: one versioned document per tenant and the
//! history of every change to it.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::ids::{AgentId, TenantId};
use crate::model::{Agent, Channel, Team};
use crate::settings::TenantSettings;

/// A tenant's settings document as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredSettings {
    /// The tenant.
    pub tenant: TenantId,
    /// Its version: 1 for the first document stored, one more per change.
    pub version: u64,
    /// The document.
    pub document: TenantSettings,
    /// When this version was stored.
    pub updated_at: DateTime<Utc>,
    /// Who stored it (`None`: provisioning or an import by the embedder).
    pub updated_by: Option<AgentId>,
}

/// One change in a tenant's settings history: who, when, which sections
/// and what they were before and after.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SettingsChange {
    /// The version the change made.
    pub version: u64,
    /// When.
    pub at: DateTime<Utc>,
    /// Who (`None`: provisioning or an import by the embedder).
    pub by: Option<AgentId>,
    /// The sections it changed, each with its value before and after.
    pub sections: Vec<SectionChange>,
}

/// One changed section of a settings document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SectionChange {
    /// The section's name (`routing`, `sla`, `timers` ...).
    pub section: String,
    /// Its value before (for the first version, the empty document's:
    /// what the tenant ran until then).
    pub before: serde_json::Value,
    /// Its value after.
    pub after: serde_json::Value,
}

impl SectionChange {
    /// Whether this is a directory record's change (`agents.<id>`,
    /// `teams.<id>`, `channels.<id>`: see [`DirectoryWrite`]) rather than a
    /// section of the settings document.
    ///
    /// ```
    /// use inbox_core::ports::SectionChange;
    /// let change = |s: &str| SectionChange { section: s.into(), before: Default::default(), after: Default::default() };
    /// assert!(change("agents.ana").is_directory());
    /// assert!(!change("routing").is_directory());
    /// ```
    pub fn is_directory(&self) -> bool {
        ["agents.", "teams.", "channels."]
            .iter()
            .any(|p| self.section.starts_with(p))
    }
}

/// Which part of a tenant's settings history to read: the changes below
/// version `before` (all when `None`), newest first, at most `limit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistoryQuery {
    /// Only changes with a version below this one.
    pub before: Option<u64>,
    /// At most this many.
    pub limit: u32,
}

/// A new version of a tenant's settings to store, if the stored version is
/// still `expected`.
#[derive(Debug, Clone, Copy)]
pub struct SettingsPut<'a> {
    /// The tenant.
    pub tenant: &'a TenantId,
    /// The version the change was made on: 0 when none is stored yet.
    pub expected: u64,
    /// The new document (already checked by the core).
    pub document: &'a TenantSettings,
    /// What changed, for the history.
    pub sections: &'a [SectionChange],
    /// When.
    pub at: DateTime<Utc>,
    /// Who.
    pub by: Option<&'a AgentId>,
    /// A directory record written with this version, in the same
    /// transaction (provisioning goes through the settings history).
    pub directory: Option<DirectoryWrite<'a>>,
}

/// A record of the directory created or replaced with a settings version:
/// an agent, a team or a channel of the tenant.
#[derive(Debug, Clone, Copy)]
pub enum DirectoryWrite<'a> {
    /// Upserted as [`Directory::upsert_agent`](super::Directory::upsert_agent).
    Agent(&'a Agent),
    /// Upserted as [`Directory::upsert_team`](super::Directory::upsert_team).
    Team(&'a Team),
    /// Upserted as [`Directory::upsert_channel`](super::Directory::upsert_channel)
    /// (its phone number id must be no other channel's).
    Channel(&'a Channel),
}

impl DirectoryWrite<'_> {
    /// The history section this write is recorded under:
    /// `agents.<id>`, `teams.<id>` or `channels.<id>`.
    ///
    /// ```
    /// use inbox_core::model::Team;
    /// use inbox_core::ports::DirectoryWrite;
    /// use inbox_core::{TeamId, TenantId};
    /// let team = Team::new(TenantId::new("acme").unwrap(), TeamId::new("sales").unwrap(), "Sales");
    /// assert_eq!(DirectoryWrite::Team(&team).section(), "teams.sales");
    /// ```
    pub fn section(&self) -> String {
        match self {
            Self::Agent(a) => format!("agents.{}", a.id),
            Self::Team(t) => format!("teams.{}", t.id),
            Self::Channel(c) => format!("channels.{}", c.id),
        }
    }

    /// The tenant whose record it is.
    pub fn tenant(&self) -> &TenantId {
        match self {
            Self::Agent(a) => &a.tenant,
            Self::Team(t) => &t.tenant,
            Self::Channel(c) => &c.tenant,
        }
    }
}

/// Where tenants' settings are kept. Every [`Store`](super::Store) is one
/// too.
///
/// # Contract
///
/// - [`Settings::put_settings`] stores version `expected + 1` only if the
///   stored version is `expected` (0: none stored), and records the change
///   in the history in the same transaction; otherwise it stores nothing
///   and returns [`Error::Conflict`](crate::Error::Conflict) on
///   [`Entity::Settings`](crate::error::Entity::Settings) with the version
///   seen and the version stored. Of concurrent puts on one version, one
///   succeeds.
/// - A put with a [`DirectoryWrite`] upserts that record in the same
///   transaction, with the checks of the matching
///   [`Directory`](super::Directory) upsert (the tenant exists; a channel's
///   phone number id is no other channel's): when the record is refused,
///   no version and no history are stored either.
/// - [`Settings::settings`] returns the last version stored, the document
///   exactly as it was put; `None` for a tenant with none.
/// - [`Settings::settings_history`] lists a tenant's changes newest first,
///   those with a version below the query's `before` when given, at most
///   its `limit`.
/// - Tenancy: one tenant's settings and history are never another's.
/// - [`Settings::settings_versions`] lists every tenant with settings
///   stored and the version stored (an instance loads them all when it
///   starts, and compares them with what it runs now and then).
#[async_trait]
pub trait Settings: Send + Sync {
    /// The tenant's settings, or `None` if none were ever stored.
    async fn settings(&self, tenant: &TenantId) -> Result<Option<StoredSettings>>;

    /// Stores a new version (see the contract).
    async fn put_settings(&self, put: SettingsPut<'_>) -> Result<StoredSettings>;

    /// The tenant's changes, newest first (see the contract).
    async fn settings_history(
        &self,
        tenant: &TenantId,
        query: HistoryQuery,
    ) -> Result<Vec<SettingsChange>>;

    /// Every tenant with settings stored, with the version stored, by
    /// tenant id.
    async fn settings_versions(&self) -> Result<Vec<(TenantId, u64)>>;
}
