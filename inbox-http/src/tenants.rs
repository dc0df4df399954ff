//! Suspended tenants at the door: every request of a suspended tenant's
//! agent or key is refused (403), whatever identity let it in. What the
//! store says is kept a few seconds per tenant (a suspension through
//! another instance applies within [`TenantGate::TTL`]; through this one,
//! at once).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use inbox_core::TenantId;

use crate::error::ApiError;
use crate::AppState;

/// Which tenants are suspended, as last read.
#[derive(Debug, Default)]
pub struct TenantGate(Mutex<HashMap<TenantId, (bool, Instant)>>);

impl TenantGate {
    /// How long a tenant's state is kept.
    pub const TTL: Duration = Duration::from_secs(5);

    /// Refuses a suspended tenant (403 `forbidden`).
    pub async fn admit(&self, state: &AppState, tenant: &TenantId) -> Result<(), ApiError> {
        if self.suspended(state, tenant).await? {
            return Err(ApiError::new(
                axum::http::StatusCode::FORBIDDEN,
                "forbidden",
                "this workspace is suspended; its administrators can ask the platform why",
            ));
        }
        Ok(())
    }

    async fn suspended(&self, state: &AppState, tenant: &TenantId) -> Result<bool, ApiError> {
        if let Some(&(s, at)) = self.lock().get(tenant) {
            if at.elapsed() < Self::TTL {
                return Ok(s);
            }
        }
        let suspended = match state.inbox.ports().store.tenant(tenant).await {
            Ok(t) => t.suspended,
            Err(inbox_core::Error::NotFound { .. }) => false,
            Err(e) => return Err(e.into()),
        };
        let mut cache = self.lock();
        if cache.len() > 10_000 {
            cache.clear();
        }
        cache.insert(tenant.clone(), (suspended, Instant::now()));
        Ok(suspended)
    }

    /// Forgets a tenant's state (it was just changed here).
    pub fn forget(&self, tenant: &TenantId) {
        self.lock().remove(tenant);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<TenantId, (bool, Instant)>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
