//! A tenant's own sealed secrets (its connectors' credentials): admins
//! store and remove them, supervisors and admins see which are set, nobody
//! reads one back through the inbox. Sealing is the caller's (the HTTP
//! layer's secret box): the core and the store only see ciphertext.

use super::{Actor, Inbox};
use crate::error::{Error, Result};
use crate::permissions::Action;
use crate::ports::{SealedSecret, TenantSecretSlot};

/// The longest name of a tenant secret.
pub const MAX_SECRET_NAME: usize = 64;

impl Inbox {
    /// Stores (or with `None` removes) the actor's tenant's secret `name`
    /// (admins). Names are lowercase letters, digits, `.`, `_` and `-`
    /// (`hubspot.token`).
    ///
    /// ```
    /// # async fn demo(inbox: inbox_core::Inbox, admin: inbox_core::Actor, sealed: inbox_core::ports::SealedSecret) -> inbox_core::Result<()> {
    /// inbox.put_tenant_secret(&admin, "hubspot.token", Some(&sealed)).await?;
    /// assert_eq!(inbox.tenant_secret_names(&admin).await?, ["hubspot.token"]);
    /// # Ok(()) }
    /// ```
    pub async fn put_tenant_secret(
        &self,
        actor: &Actor,
        name: &str,
        secret: Option<&SealedSecret>,
    ) -> Result<()> {
        self.agent_allowed(actor, Action::ManageSettings).await?;
        check_name(name)?;
        let slot = TenantSecretSlot {
            tenant: actor.tenant.clone(),
            name: name.to_string(),
        };
        self.ports.store.put_tenant_secret(&slot, secret).await
    }

    /// The names of the actor's tenant's stored secrets (supervisors and
    /// admins), never their values.
    pub async fn tenant_secret_names(&self, actor: &Actor) -> Result<Vec<String>> {
        self.agent_allowed(actor, Action::ViewSettings).await?;
        self.ports.store.tenant_secret_names(&actor.tenant).await
    }
}

impl Inbox {
    /// Whether the actor may have the tenant's stored secrets used on their
    /// behalf (admins): for adapters that call out with them, such as
    /// checking a connector's credentials.
    pub async fn may_use_tenant_secrets(&self, actor: &Actor) -> Result<()> {
        self.agent_allowed(actor, Action::ManageSettings)
            .await
            .map(|_| ())
    }
}

fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= MAX_SECRET_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            "name",
            "1 to 64 lowercase letters, digits, '.', '_' or '-'",
        ))
    }
}
