//! Canned responses as agents use them: the ones an agent may insert, and
//! one filled in for a conversation.

use super::{Actor, Inbox};
use crate::error::{Error, Result};
use crate::ids::ConversationId;
use crate::permissions;
use crate::settings::{CannedOwner, CannedResponse, CannedValues};

impl Inbox {
    /// The canned responses the acting agent may insert, by shortcut: the
    /// tenant's, their teams' and their own. Where two share a shortcut,
    /// the most specific wins (the agent's own over a team's over the
    /// tenant's; between two teams, the first in the settings).
    pub async fn canned_responses(&self, actor: &Actor) -> Result<Vec<CannedResponse>> {
        let agent = self.load_agent(actor).await?;
        let policy = self.policy(&actor.tenant).await?;
        let rank = |owner: &CannedOwner| match owner {
            CannedOwner::Agent(a) if a.as_str() == agent.id.as_str() => Some(0),
            CannedOwner::Team(t) if agent.teams.iter().any(|m| m.as_str() == t) => Some(1),
            CannedOwner::Tenant => Some(2),
            _ => None,
        };
        let mut usable: Vec<(u8, &CannedResponse)> = policy
            .document
            .canned_responses
            .iter()
            .filter_map(|c| rank(&c.owner).map(|r| (r, c)))
            .collect();
        // Stable: equal shortcut and rank keep the settings' order.
        usable.sort_by(|a, b| a.1.shortcut.cmp(&b.1.shortcut).then(a.0.cmp(&b.0)));
        usable.dedup_by(|later, first| later.1.shortcut == first.1.shortcut);
        Ok(usable.into_iter().map(|(_, c)| c.clone()).collect())
    }

    /// The canned response `shortcut` (as [`Inbox::canned_responses`]
    /// finds it for the acting agent) filled in for conversation `id`:
    /// the contact's name and number, the agent's name, the conversation.
    /// Nothing is sent: the agent edits the text and replies with it.
    pub async fn render_canned(
        &self,
        actor: &Actor,
        id: &ConversationId,
        shortcut: &str,
    ) -> Result<String> {
        let agent = self.load_agent(actor).await?;
        let store = &self.ports.store;
        let conversation = store.conversation(&actor.tenant, id).await?;
        permissions::require_view(&agent, &conversation)?;
        let canned = self.canned_responses(actor).await?;
        let Some(canned) = canned.into_iter().find(|c| c.shortcut == shortcut) else {
            return Err(Error::invalid(
                "shortcut",
                format!("no canned response /{shortcut} for this agent"),
            ));
        };
        let contact = store.contact(&actor.tenant, &conversation.contact).await?;
        let values = CannedValues {
            contact_name: contact
                .display_name
                .or(contact.profile_name)
                .unwrap_or_default(),
            contact_phone: contact.identity.wa_id.unwrap_or_default(),
            agent_name: agent.name,
            conversation_id: conversation.id.to_string(),
        };
        Ok(canned.render(&values))
    }
}
