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

/// Reads a connector's credentials: the first of its
/// [credential sets](ConnectorKind::credential_sets) fully stored.
pub(crate) async fn credentials(
    secrets: &dyn ConnectorSecrets,
    tenant: &TenantId,
    kind: ConnectorKind,
) -> Result<BTreeMap<&'static str, Secret>, ConnectorError> {
    let mut found = BTreeMap::new();
    for (name, _) in kind.credentials() {
        let secret = secrets
            .secret(tenant, &kind.secret_name(name))
            .await
            .map_err(|reason| ConnectorError::Credentials {
                connector: kind,
                reason,
            })?;
        if let Some(secret) = secret {
            found.insert(*name, secret);
        }
    }
    let complete = kind
        .credential_sets()
        .iter()
        .find(|set| set.iter().all(|n| found.contains_key(n)));
    match complete {
        Some(set) => {
            found.retain(|n, _| set.contains(n));
            Ok(found)
        }
        None => Err(ConnectorError::NotConfigured {
            connector: kind,
            what: missing(kind, &found),
        }),
    }
}

/// What is missing, said for each set: `no token (…)`, or
/// `no token, or client_id and client_secret`.
fn missing(kind: ConnectorKind, found: &BTreeMap<&'static str, Secret>) -> String {
    let describe = |name: &str| {
        kind.credentials()
            .iter()
            .find(|(n, _)| *n == name)
            .map_or(String::new(), |(_, what)| {
                what.trim_end_matches(", or:").to_string()
            })
    };
    let sets: Vec<String> = kind
        .credential_sets()
        .iter()
        .map(|set| {
            let lacking: Vec<&str> = set
                .iter()
                .copied()
                .filter(|n| !found.contains_key(n))
                .collect();
            match lacking.as_slice() {
                [one] => format!("{one} ({})", describe(one)),
                many => many.join(" and "),
            }
        })
        .collect();
    format!("no {}", sets.join(", or "))
}
