use serde::{Deserialize, Serialize};

use crate::ids::TenantId;

/// One business served by the deployment. A Business Solution Provider serves
/// many; nothing is ever shared between tenants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tenant {
    /// The tenant's id, chosen by the embedder.
    pub id: TenantId,
    /// Display name of the business.
    pub name: String,
    /// Suspended by the platform operator: its agents and API keys are
    /// refused (the HTTP layer checks); its customers' messages are still
    /// taken in and kept.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub suspended: bool,
}

impl Tenant {
    /// Creates a tenant.
    ///
    /// ```
    /// use inbox_core::{model::Tenant, TenantId};
    /// let t = Tenant::new(TenantId::new("acme").unwrap(), "Acme Ltd");
    /// assert_eq!(t.name, "Acme Ltd");
    /// ```
    pub fn new(id: TenantId, name: impl Into<String>) -> Self {
        Self {
            id,
            name: name.into(),
            suspended: false,
        }
    }
}
