//! [`Settings`] in memory.

use async_trait::async_trait;
use std::collections::{BTreeMap, HashMap};
use std::sync::PoisonError;

use inbox_core::error::{Conflict, Entity, Error, Result};
use inbox_core::ids::TenantId;
use inbox_core::ports::{HistoryQuery, Settings, SettingsChange, SettingsPut, StoredSettings};

use crate::MemoryStore;

/// Each tenant's last version and its history (by version).
#[derive(Debug, Default)]
pub(crate) struct SettingsState {
    stored: HashMap<TenantId, StoredSettings>,
    history: HashMap<TenantId, BTreeMap<u64, SettingsChange>>,
}

#[async_trait]
impl Settings for MemoryStore {
    async fn settings(&self, tenant: &TenantId) -> Result<Option<StoredSettings>> {
        let s = self.settings.read().unwrap_or_else(PoisonError::into_inner);
        Ok(s.stored.get(tenant).cloned())
    }

    async fn put_settings(&self, put: SettingsPut<'_>) -> Result<StoredSettings> {
        let mut s = self
            .settings
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let current = s.stored.get(put.tenant).map_or(0, |v| v.version);
        if current != put.expected {
            let c = Conflict::on(Entity::Settings, put.tenant, put.expected, current);
            return Err(Error::Conflict(Box::new(c)));
        }
        if let Some(write) = put.directory {
            self.write_directory(write)?;
        }
        let stored = StoredSettings {
            tenant: put.tenant.clone(),
            version: current + 1,
            document: put.document.clone(),
            updated_at: put.at,
            updated_by: put.by.cloned(),
        };
        let change = SettingsChange {
            version: stored.version,
            at: put.at,
            by: put.by.cloned(),
            sections: put.sections.to_vec(),
        };
        s.history
            .entry(put.tenant.clone())
            .or_default()
            .insert(change.version, change);
        s.stored.insert(put.tenant.clone(), stored.clone());
        Ok(stored)
    }

    async fn settings_history(
        &self,
        tenant: &TenantId,
        query: HistoryQuery,
    ) -> Result<Vec<SettingsChange>> {
        let s = self.settings.read().unwrap_or_else(PoisonError::into_inner);
        let Some(history) = s.history.get(tenant) else {
            return Ok(Vec::new());
        };
        Ok(history
            .range(..query.before.unwrap_or(u64::MAX))
            .rev()
            .take(query.limit as usize)
            .map(|(_, c)| c.clone())
            .collect())
    }

    async fn settings_versions(&self) -> Result<Vec<(TenantId, u64)>> {
        let s = self.settings.read().unwrap_or_else(PoisonError::into_inner);
        let mut versions: Vec<_> = s
            .stored
            .iter()
            .map(|(t, v)| (t.clone(), v.version))
            .collect();
        versions.sort();
        Ok(versions)
    }
}
