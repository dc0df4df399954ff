//! Message templates as agents use them: the ones they may send once a
//! customer's 24-hour window has closed.

use super::{Actor, Inbox};
use crate::error::{Entity, Error, Result};
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
            .filter(|t| sendable(t))
            .cloned()
            .collect())
    }

    /// One template the acting agent may send (as [`Inbox::templates`]
    /// lists them), with what it takes to fill it
    /// ([`TemplateDefinition::slots`]); [`Error::NotFound`] for one the
    /// tenant does not have in `language`, or may not send.
    ///
    /// ```
    /// # async fn demo(inbox: inbox_core::Inbox, ana: inbox_core::Actor) -> inbox_core::Result<()> {
    /// let t = inbox.template(&ana, "order_update", "en_US").await?;
    /// for slot in t.slots() {
    ///     println!("{}: {:?}", slot.field, slot.kind);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn template(
        &self,
        actor: &Actor,
        name: &str,
        language: &str,
    ) -> Result<TemplateDefinition> {
        self.load_agent(actor).await?;
        let policy = self.policy(&actor.tenant).await?;
        let templates = &policy.document.templates;
        templates
            .iter()
            .find(|t| t.name == name && t.language == language && sendable(t))
            .cloned()
            .ok_or_else(|| Error::not_found(Entity::Template, format!("{name} ({language})")))
    }
}

/// Whether agents may send `t`: approved by Meta, or declared by hand.
fn sendable(t: &TemplateDefinition) -> bool {
    matches!(t.status, None | Some(TemplateStatus::Approved))
}
