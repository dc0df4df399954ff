//! Where connectors' credentials come from: the tenant's sealed secrets
//! (opened by the embedder, e.g. `inbox-http`'s secret box) or a fixed set.

use async_trait::async_trait;
use std::collections::BTreeMap;

use inbox_core::{Secret, TenantId};

use crate::{ConnectorError, ConnectorKind};

/// The credentials of a tenant's connectors, opened. `secret(tenant,
/// "hubspot.token")`: see [`ConnectorKind::secret_name`].
#[async_trait]
pub trait ConnectorSecrets: Send + Sync {
    /// The secret `name` of `tenant` (`None`: none stored).
    async fn secret(&self, tenant: &TenantId, name: &str) -> Result<Option<Secret>, String>;
}

/// Credentials given by the embedder (from its configuration or vault).
/// Its `Debug` shows the names, never the values.
///
/// ```
/// use inbox_connectors::StaticConnectorSecrets;
/// use inbox_core::{Secret, TenantId};
/// let acme = TenantId::new("acme").unwrap();
/// let s = StaticConnectorSecrets::new().with(acme, "hubspot.token", Secret::new("pat-na1-123"));
/// assert!(!format!("{s:?}").contains("pat-na1"));
/// ```
#[derive(Clone, Default)]
pub struct StaticConnectorSecrets {
    secrets: BTreeMap<(TenantId, String), Secret>,
}

impl StaticConnectorSecrets {
    /// None.
    pub fn new() -> Self {
        Self::default()
    }

    /// These and `tenant`'s secret `name`.
    pub fn with(mut self, tenant: TenantId, name: impl Into<String>, secret: Secret) -> Self {
        self.secrets.insert((tenant, name.into()), secret);
        self
    }
}

impl std::fmt::Debug for StaticConnectorSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<String> = self
            .secrets
            .keys()
            .map(|(t, n)| format!("{t}/{n}"))
            .collect();
        f.debug_struct("StaticConnectorSecrets")
            .field("names", &names)
            .finish()
    }
}

#[async_trait]
impl ConnectorSecrets for StaticConnectorSecrets {
    async fn secret(&self, tenant: &TenantId, name: &str) -> Result<Option<Secret>, String> {
        Ok(self
            .secrets
            .get(&(tenant.clone(), name.to_string()))
            .cloned())
    }
}

/// Reads a connector's credentials, each required.
pub(crate) async fn credentials(
    secrets: &dyn ConnectorSecrets,
    tenant: &TenantId,
    kind: ConnectorKind,
) -> Result<BTreeMap<&'static str, Secret>, ConnectorError> {
    let mut found = BTreeMap::new();
    for (name, what) in kind.credentials() {
        let secret = secrets
            .secret(tenant, &kind.secret_name(name))
            .await
            .map_err(|reason| ConnectorError::Credentials {
                connector: kind,
                reason,
            })?
            .ok_or_else(|| ConnectorError::NotConfigured {
                connector: kind,
                what: format!("no {name} ({what})"),
            })?;
        found.insert(*name, secret);
    }
    Ok(found)
}
