//! The settings each tenant runs, and the one way they change.
//!
//! A tenant's settings are a document in the store ([`Settings`] port).
//! Each instance keeps the compiled form of the tenants it has met, loaded
//! from the store the first time it needs one, replaced at once by its own
//! changes, and by other instances' changes when [`Inbox::follow_settings`]
//! runs (their [`EventKind::SettingsChanged`] events on the bus). Every
//! change is checked as a whole against the tenant's directory, stored
//! only on the version it was made on, recorded in the settings history
//! with the sections it changed, and published.
//!
//! What a change does to work under way: rules, team policies, reply and
//! reopen policies apply from the next message or action. SLA targets
//! already started keep the due times they were given (they are part of
//! the conversation); targets started after the change use the new
//! policies. Timers already scheduled keep their due times too; the
//! timer policies apply to the timers a later change of the conversation
//! schedules.
//!
//! [`Settings`]: crate::ports::Settings

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use super::{Actor, Inbox};
use crate::error::{Entity, Result};
use crate::event::{Event, EventActor, EventKind};
use crate::ids::{AgentId, TenantId};
use crate::permissions::Action;
use crate::ports::{
    BusItem, DirectoryWrite, HistoryQuery, SectionChange, SettingsChange, SettingsPut,
    StoredSettings,
};
use crate::settings::{Known, TenantPolicy, TenantSettings};

/// The most settings changes [`Inbox::settings_history`] returns at once.
pub const MAX_HISTORY_PAGE: u32 = 200;

/// How often the tick compares the stored settings versions with what the
/// instance runs: the safety net for a change whose event was lost.
pub const SETTINGS_RECHECK: chrono::TimeDelta = chrono::TimeDelta::seconds(10);

/// The compiled settings of the tenants an instance has met.
#[derive(Debug, Default)]
pub(crate) struct PolicyCache {
    tenants: RwLock<HashMap<TenantId, Loaded>>,
    /// When every tenant's stored version was last compared with what
    /// runs (`None`: never, or the last comparison failed).
    checked_at: std::sync::Mutex<Option<DateTime<Utc>>>,
}

/// One tenant's compiled settings and the version they came from (0: the
/// tenant has none stored).
#[derive(Debug, Clone)]
struct Loaded {
    version: u64,
    policy: Arc<TenantPolicy>,
}

impl PolicyCache {
    fn get(&self, tenant: &TenantId) -> Option<Loaded> {
        let map = self.tenants.read().unwrap_or_else(|e| e.into_inner());
        map.get(tenant).cloned()
    }

    /// Keeps `loaded` unless a newer version is already kept.
    fn offer(&self, tenant: &TenantId, loaded: Loaded) -> Arc<TenantPolicy> {
        let mut map = self.tenants.write().unwrap_or_else(|e| e.into_inner());
        match map.get(tenant) {
            Some(kept) if kept.version > loaded.version => kept.policy.clone(),
            _ => {
                let policy = loaded.policy.clone();
                map.insert(tenant.clone(), loaded);
                policy
            }
        }
    }

    /// Runs what version `from` ran as version `to` too, when `from` is
    /// what is kept (a change that left the document as it was).
    fn advance(&self, tenant: &TenantId, from: u64, to: u64) {
        let mut map = self.tenants.write().unwrap_or_else(|e| e.into_inner());
        if let Some(kept) = map.get_mut(tenant).filter(|k| k.version == from) {
            kept.version = to;
        }
    }

    fn forget(&self, tenant: &TenantId) {
        let mut map = self.tenants.write().unwrap_or_else(|e| e.into_inner());
        map.remove(tenant);
    }

    /// Whether the versions are due for a comparison at `now`.
    fn recheck_due(&self, now: DateTime<Utc>) -> bool {
        let checked = self.checked_at.lock().unwrap_or_else(|e| e.into_inner());
        checked.is_none_or(|at| now - at >= SETTINGS_RECHECK || now < at)
    }

    fn checked(&self, at: Option<DateTime<Utc>>) {
        *self.checked_at.lock().unwrap_or_else(|e| e.into_inner()) = at;
    }

    fn tenants(&self) -> Vec<(TenantId, Arc<TenantPolicy>)> {
        let map = self.tenants.read().unwrap_or_else(|e| e.into_inner());
        map.iter()
            .map(|(t, l)| (t.clone(), l.policy.clone()))
            .collect()
    }
}

/// The sections of `after` that differ from `before` (from the empty
/// document's, what a tenant without settings runs, when there is no
/// `before`), each with both values.
fn changed_sections(
    before: Option<&TenantSettings>,
    after: &TenantSettings,
) -> Result<Vec<SectionChange>> {
    let object = |doc: &TenantSettings| match serde_json::to_value(doc) {
        Ok(serde_json::Value::Object(map)) => Ok(map),
        Ok(_) => Ok(serde_json::Map::new()),
        Err(e) => Err(crate::Error::invalid_settings("(document)", e.to_string())),
    };
    let before = object(before.unwrap_or(&TenantSettings::default()))?;
    let mut after = object(after)?;
    // A section written only when set (`pricing`) and now left out.
    for section in before.keys() {
        if !after.contains_key(section) {
            after.insert(section.clone(), serde_json::Value::Null);
        }
    }
    Ok(after
        .into_iter()
        .filter_map(|(section, after)| {
            let before = before.get(&section).cloned().unwrap_or_default();
            (before != after).then_some(SectionChange {
                section,
                before,
                after,
            })
        })
        .collect())
}

/// The refusal of a settings version that was never stored.
fn no_version(asked: u64, latest: u64) -> crate::Error {
    crate::Error::invalid(
        "version",
        format!("no settings version {asked}: the latest is {latest}"),
    )
}

/// A directory record as stored, for the history.
#[derive(serde::Serialize)]
#[serde(untagged)]
enum Record {
    Agent(crate::model::Agent),
    Team(crate::model::Team),
    Channel(crate::model::Channel),
}

/// The value of a directory record in the section of `write`.
fn record_value(
    write: DirectoryWrite<'_>,
    record: &impl serde::Serialize,
) -> Result<serde_json::Value> {
    let mut value = serde_json::to_value(record)
        .map_err(|e| crate::Error::invalid(write.section(), e.to_string()))?;
    // What Meta said of a number, and how far its history import has
    // come, are news, not configuration: not part of the settings history.
    if let (DirectoryWrite::Channel(_), Some(fields)) = (write, value.as_object_mut()) {
        fields.remove("signals");
        fields.remove("history");
    }
    Ok(value)
}

/// The value a directory write records as its section's `after`.
fn directory_value(write: DirectoryWrite<'_>) -> Result<serde_json::Value> {
    match write {
        DirectoryWrite::Agent(a) => record_value(write, a),
        DirectoryWrite::Team(t) => record_value(write, t),
        DirectoryWrite::Channel(c) => record_value(write, c),
    }
}

/// What a stored document runs: its compiled form, or (logged) the empty
/// document's when it no longer compiles, so that the tenant's messages
/// are still taken in and its timers still fire.
fn runnable(tenant: &TenantId, version: u64, document: &TenantSettings) -> TenantPolicy {
    document.compile_stored().unwrap_or_else(|e| {
        tracing::error!(%tenant, version, error = %e, "stored settings do not compile: running the empty document");
        TenantPolicy::default()
    })
}

impl Inbox {
    /// The settings `tenant` runs, compiled: its stored document's, or the
    /// empty document's (no rules, no SLA, default policies) when it has
    /// none. Read from the store the first time this instance needs them.
    pub async fn policy(&self, tenant: &TenantId) -> Result<Arc<TenantPolicy>> {
        match self.policies.get(tenant) {
            Some(loaded) => Ok(loaded.policy),
            None => self.reload_settings(tenant).await,
        }
    }

    /// Reads `tenant`'s settings from the store again and runs them (what
    /// [`Inbox::follow_settings`] does when another instance changed them).
    pub async fn reload_settings(&self, tenant: &TenantId) -> Result<Arc<TenantPolicy>> {
        let loaded = match self.ports.store.settings(tenant).await? {
            None => Loaded {
                version: 0,
                policy: Arc::default(),
            },
            Some(stored) => Loaded {
                version: stored.version,
                policy: Arc::new(runnable(tenant, stored.version, &stored.document)),
            },
        };
        Ok(self.policies.offer(tenant, loaded))
    }

    /// Loads the settings of every tenant that has some (an instance
    /// starting); returns how many. A tenant whose stored document no
    /// longer compiles (checks tightened since it was stored) is logged
    /// and runs the empty document until it is fixed, never stopping the
    /// others.
    ///
    /// Only the tenants whose stored version is not the one this instance
    /// runs are read again (one read of every version first), so calling
    /// it again is cheap: the tick does every [`SETTINGS_RECHECK`], a
    /// safety net for a change whose event never arrived.
    pub async fn load_settings(&self) -> Result<usize> {
        let versions = self.ports.store.settings_versions().await?;
        for (tenant, version) in &versions {
            if self
                .policies
                .get(tenant)
                .is_none_or(|l| l.version < *version)
            {
                self.reload_settings(tenant).await?;
            }
        }
        self.policies.checked(Some(self.now()));
        Ok(versions.len())
    }

    /// The version of `tenant`'s settings this instance runs (0: none
    /// stored), loading them if it has not yet.
    pub(super) async fn running_version(&self, tenant: &TenantId) -> Result<u64> {
        self.policy(tenant).await?;
        Ok(self.policies.get(tenant).map_or(0, |l| l.version))
    }

    /// The tenants with settings stored, with what they run, their stored
    /// versions compared with what runs every [`SETTINGS_RECHECK`].
    pub(crate) async fn configured_tenants(
        &self,
        now: DateTime<Utc>,
    ) -> Result<Vec<(TenantId, Arc<TenantPolicy>)>> {
        if self.policies.recheck_due(now) {
            self.load_settings().await?;
        }
        Ok(self.policies.tenants())
    }

    /// Applies the settings changes other instances make, for as long as
    /// the bus runs: subscribes to every tenant's events, loads every
    /// tenant's settings (what changed before the subscription), then
    /// reloads a tenant on each [`EventKind::SettingsChanged`] of a version
    /// it does not run yet, and every tenant when the bus lagged (events
    /// may be lost). Returns (logged) when the bus closes its stream, which
    /// it does only when it shuts down. Spawn it once per instance:
    ///
    /// ```no_run
    /// # async fn demo(inbox: inbox_core::Inbox) {
    /// let follower = inbox.clone();
    /// // tokio::spawn(async move { follower.follow_settings().await });
    /// # follower.follow_settings().await;
    /// # }
    /// ```
    pub async fn follow_settings(&self) {
        let mut events = self.ports.bus.subscribe_all();
        self.after_reload(self.load_settings().await.map(|_| ()), None);
        while let Some(item) = events.next().await {
            match item {
                BusItem::Event(e) => {
                    if let EventKind::SettingsChanged { version, .. } = &e.kind {
                        let run = self.policies.get(&e.tenant).map_or(0, |l| l.version);
                        if *version > run {
                            let reloaded = self.reload_settings(&e.tenant).await;
                            self.after_reload(reloaded.map(|_| ()), Some(&e.tenant));
                        }
                    }
                }
                // Events may be lost: compare every stored version.
                BusItem::Lagged(_) => {
                    self.after_reload(self.load_settings().await.map(|_| ()), None);
                }
            }
        }
        tracing::warn!("the event bus closed: settings changed elsewhere are no longer followed");
    }

    /// After a reload that failed: forget the tenant's settings, so the
    /// next use reads them from the store again.
    fn after_reload(&self, result: Result<()>, tenant: Option<&TenantId>) {
        if let Err(e) = result {
            tracing::warn!(tenant = ?tenant, error = %e, "settings reload failed");
            match tenant {
                Some(t) => self.policies.forget(t),
                None => self.policies.checked(None),
            }
        }
    }

    /// The acting agent's tenant's settings as stored (version 0 and the
    /// empty document when none are). Supervisors and admins.
    pub async fn settings(&self, actor: &Actor) -> Result<StoredSettings> {
        self.agent_allowed(actor, Action::ViewSettings).await?;
        let stored = self.ports.store.settings(&actor.tenant).await?;
        Ok(stored.unwrap_or_else(|| StoredSettings {
            tenant: actor.tenant.clone(),
            version: 0,
            document: TenantSettings::default(),
            updated_at: DateTime::<Utc>::UNIX_EPOCH,
            updated_by: None,
        }))
    }

    /// The changes to the acting agent's tenant's settings, newest first:
    /// who, when, which sections, before and after; at most
    /// [`MAX_HISTORY_PAGE`] at a time. Supervisors and admins.
    pub async fn settings_history(
        &self,
        actor: &Actor,
        query: HistoryQuery,
    ) -> Result<Vec<SettingsChange>> {
        self.agent_allowed(actor, Action::ViewSettings).await?;
        let query = HistoryQuery {
            limit: query.limit.min(MAX_HISTORY_PAGE),
            ..query
        };
        self.ports
            .store
            .settings_history(&actor.tenant, query)
            .await
    }

    /// The acting agent's tenant's settings document as it was at
    /// `version` (0: before any was stored), rebuilt from the one stored
    /// now and the history of the changes since. Supervisors and admins.
    pub async fn settings_at(&self, actor: &Actor, version: u64) -> Result<TenantSettings> {
        self.agent_allowed(actor, Action::ViewSettings).await?;
        self.document_at(&actor.tenant, version).await
    }

    /// [`Inbox::settings_at`] without the permission check.
    pub(super) async fn document_at(
        &self,
        tenant: &TenantId,
        version: u64,
    ) -> Result<TenantSettings> {
        let store = &self.ports.store;
        let Some(stored) = store.settings(tenant).await? else {
            return match version {
                0 => Ok(TenantSettings::default()),
                _ => Err(no_version(version, 0)),
            };
        };
        if version > stored.version {
            return Err(no_version(version, stored.version));
        }
        let mut doc = match serde_json::to_value(&stored.document) {
            Ok(serde_json::Value::Object(map)) => map,
            _ => serde_json::Map::new(),
        };
        let mut before = None;
        'pages: loop {
            let query = HistoryQuery {
                before,
                limit: MAX_HISTORY_PAGE,
            };
            let page = store.settings_history(tenant, query).await?;
            for change in &page {
                if change.version <= version {
                    break 'pages;
                }
                for s in change.sections.iter().filter(|s| !s.is_directory()) {
                    match &s.before {
                        serde_json::Value::Null => doc.remove(&s.section),
                        value => doc.insert(s.section.clone(), value.clone()),
                    };
                }
            }
            match page.last() {
                Some(last) if page.len() == MAX_HISTORY_PAGE as usize => {
                    before = Some(last.version)
                }
                _ => break,
            }
        }
        TenantSettings::from_value(&serde_json::Value::Object(doc))
    }

    /// Replaces the acting agent's tenant's settings with `document`, made
    /// on version `expected` (0: none stored yet). Admins only. The whole
    /// document is checked first and refused with
    /// [`Error::InvalidSettings`](crate::Error::InvalidSettings) naming
    /// every bad field; a stale `expected` is refused with a conflict;
    /// nothing is stored then. A document equal to the stored one changes
    /// nothing (same version). The change applies on this instance before
    /// this returns, and on others as soon as they hear of it.
    pub async fn update_settings(
        &self,
        actor: &Actor,
        expected: u64,
        document: TenantSettings,
    ) -> Result<StoredSettings> {
        let agent = self.agent_allowed(actor, Action::ManageSettings).await?;
        self.store_settings(&actor.tenant, expected, document, Some(&agent.id))
            .await
    }

    /// Whether the acting agent may change the tenant's settings
    /// ([`Action::ManageSettings`]): the agent, or the refusal. For callers
    /// with slow work to do before [`Inbox::update_settings`] (fetching
    /// templates from Meta), so that a refusal comes first.
    pub async fn may_manage_settings(&self, actor: &Actor) -> Result<crate::model::Agent> {
        self.agent_allowed(actor, Action::ManageSettings).await
    }

    /// Stores a tenant's settings on behalf of the embedder (provisioning,
    /// an import of an exported document): checked, versioned, recorded
    /// and published as by [`Inbox::update_settings`], with no agent as
    /// author.
    pub async fn import_settings(
        &self,
        tenant: &TenantId,
        expected: u64,
        document: TenantSettings,
    ) -> Result<StoredSettings> {
        self.store_settings(tenant, expected, document, None).await
    }

    async fn store_settings(
        &self,
        tenant: &TenantId,
        expected: u64,
        document: TenantSettings,
        by: Option<&AgentId>,
    ) -> Result<StoredSettings> {
        let policy = document.compile(&self.known(tenant).await?)?;
        let store = &self.ports.store;
        let current = store.settings(tenant).await?;
        let sections = changed_sections(current.as_ref().map(|c| &c.document), &document)?;
        if let Some(current) = current.filter(|c| c.version == expected && sections.is_empty()) {
            return Ok(current);
        }
        let now = self.now();
        let stored = store
            .put_settings(SettingsPut {
                tenant,
                expected,
                document: &document,
                sections: &sections,
                at: now,
                by,
                directory: None,
            })
            .await?;
        self.policies.offer(
            tenant,
            Loaded {
                version: stored.version,
                policy: Arc::new(policy),
            },
        );
        let sections = sections.into_iter().map(|s| s.section).collect();
        self.announce(&stored, sections).await;
        Ok(stored)
    }

    /// Records a directory write (an agent, team or channel provisioned)
    /// as the tenant's next settings version, the document unchanged, the
    /// record's value before and after as its one section; retried on a
    /// version taken by a concurrent change. Nothing is recorded when the
    /// record is already as written.
    pub(super) async fn store_directory(
        &self,
        write: DirectoryWrite<'_>,
        by: Option<&AgentId>,
    ) -> Result<()> {
        let tenant = write.tenant();
        let after = directory_value(write)?;
        let mut conflict = None;
        for _ in 0..self.config.commit_attempts.max(1) {
            let before = self.directory_before(write).await?;
            if before == after {
                return Ok(());
            }
            let current = self.ports.store.settings(tenant).await?;
            let (expected, document) =
                current.map_or((0, TenantSettings::default()), |c| (c.version, c.document));
            let sections = [SectionChange {
                section: write.section(),
                before,
                after: after.clone(),
            }];
            let now = self.now();
            let put = SettingsPut {
                tenant,
                expected,
                document: &document,
                sections: &sections,
                at: now,
                by,
                directory: Some(write),
            };
            match self.ports.store.put_settings(put).await {
                Ok(stored) => {
                    self.policies.advance(tenant, expected, stored.version);
                    self.announce(&stored, vec![write.section()]).await;
                    return Ok(());
                }
                Err(crate::Error::Conflict(c)) if c.entity == Entity::Settings => {
                    conflict = Some(c);
                }
                Err(e) => return Err(e),
            }
        }
        Err(conflict.map_or_else(
            || crate::Error::invalid("commit_attempts", "must be at least 1"),
            crate::Error::Conflict,
        ))
    }

    /// Publishes a stored change as [`EventKind::SettingsChanged`], by its
    /// author (or the system).
    async fn announce(&self, stored: &StoredSettings, sections: Vec<String>) {
        let actor = stored
            .updated_by
            .clone()
            .map_or(EventActor::System, EventActor::Agent);
        let kind = EventKind::SettingsChanged {
            version: stored.version,
            sections,
        };
        let event = Event::new(stored.tenant.clone(), stored.updated_at, actor, kind);
        self.publish(&[event]).await;
    }

    /// The stored value of the record `write` replaces (null when new).
    async fn directory_before(&self, write: DirectoryWrite<'_>) -> Result<serde_json::Value> {
        let store = &self.ports.store;
        let found = match write {
            DirectoryWrite::Agent(a) => store.agent(&a.tenant, &a.id).await.map(Record::Agent),
            DirectoryWrite::Team(t) => store.team(&t.tenant, &t.id).await.map(Record::Team),
            DirectoryWrite::Channel(c) => {
                store.channel(&c.tenant, &c.id).await.map(Record::Channel)
            }
        };
        match found {
            Ok(record) => record_value(write, &record),
            Err(crate::Error::NotFound { .. }) => Ok(serde_json::Value::Null),
            Err(e) => Err(e),
        }
    }

    /// A copy of this inbox that runs `policy` for `tenant` (and reads
    /// other tenants' settings from the store as usual): for dry runs.
    pub(super) fn with_policy(&self, tenant: &TenantId, policy: Arc<TenantPolicy>) -> Inbox {
        let cache = PolicyCache::default();
        cache.offer(
            tenant,
            Loaded {
                version: u64::MAX,
                policy,
            },
        );
        Inbox {
            policies: Arc::new(cache),
            ..self.clone()
        }
    }

    /// The names a tenant's settings may refer to.
    pub(super) async fn known(&self, tenant: &TenantId) -> Result<Known> {
        let store = &self.ports.store;
        let teams = store.teams(tenant).await?;
        let agents = store.agents(tenant).await?;
        let channels = store.channels(tenant).await?;
        Ok(Known::default()
            .with_teams(teams.into_iter().map(|t| t.id.to_string()))
            .with_bots(agents.iter().filter(|a| a.bot).map(|a| a.id.to_string()))
            .with_agents(agents.into_iter().map(|a| a.id.to_string()))
            .with_channels(channels.into_iter().map(|c| c.id.to_string())))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn only_changed_sections_are_recorded_with_both_values() {
        let before = TenantSettings::from_yaml("timers: {follow_up_after: 1d}").unwrap();
        let after =
            TenantSettings::from_yaml("timers: {follow_up_after: 2d}\nreopen: {kind: reopen}")
                .unwrap();
        let sections = changed_sections(Some(&before), &after).unwrap();
        let names: Vec<_> = sections.iter().map(|s| s.section.as_str()).collect();
        assert_eq!(names, ["reopen", "timers"]);
        assert_eq!(
            sections[1].before["follow_up_after"],
            serde_json::json!("1day")
        );
        assert_eq!(
            sections[1].after["follow_up_after"],
            serde_json::json!("2days")
        );
        let first = changed_sections(None, &after).unwrap();
        assert_eq!(first.len(), 2, "from the defaults: {first:?}");
        assert_eq!(
            first[0].before,
            serde_json::json!({"kind": "reopen_within", "within_secs": 604800})
        );
        assert!(changed_sections(Some(&after), &after).unwrap().is_empty());
    }
}
