//! Message templates as agents use them: the ones they may send once a
//! customer's 24-hour window has closed.

use super::{Actor, Inbox};
use crate::error::Result;
use crate::model::{TemplateDefinition, TemplateStatus};

impl Inbox {
    /// The templates the acting agent may send: the tenant's (its
    /// settings' `templates` section, synced from Meta or written by
    /// hand) that Meta has approved or that carry no status (declared by
    /// hand), in the settings' order. Any active agent of the tenant may
    /// list them.
    ///
    /// ```
    /// # async fn demo(inbox: inbox_core::Inbox, ana: inbox_core::Actor) -> inbox_core::Result<()> {
    /// for t in inbox.templates(&ana).await? {
    ///     println!("{} ({})", t.name, t.language);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn templates(&self, actor: &Actor) -> Result<Vec<TemplateDefinition>> {
        self.load_agent(actor).await?;
        let policy = self.policy(&actor.tenant).await?;
        Ok(policy
            .document
            .templates
            .iter()
            .filter(|t| matches!(t.status, None | Some(TemplateStatus::Approved)))
            .cloned()
            .collect())
    }
}
