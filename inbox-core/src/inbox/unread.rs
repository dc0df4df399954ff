//! Unread counts per agent: each agent's read marker of a conversation
//! (the [`ReadMarkers`](crate::ports::ReadMarkers) port) against the
//! conversation's message count.
//!
//! An agent's marker is the [`Conversation::message_count`] they had seen:
//! it moves when they open the conversation ([`Inbox::mark_read`]) and
//! after each message of their own (a reply, a message sent again, a note,
//! a handoff note), so their own messages never count as unread for them;
//! everyone else's do, customers', colleagues' and automation's alike. It
//! never moves back.

use std::collections::HashMap;

use super::{Actor, Inbox};
use crate::error::Result;
use crate::ids::ConversationId;
use crate::model::Conversation;
use crate::permissions::{self, Action};

impl Inbox {
    /// Marks a conversation read by the acting agent: their marker moves
    /// to the conversation's message count now (never back, should a
    /// later count be stored already); returns the marker. The agent must
    /// be able to see the conversation, as with [`Inbox::conversation`]
    /// (another tenant's id is [`Error::NotFound`](crate::Error::NotFound)).
    /// Reading a conversation ([`Inbox::conversation`]) does not mark it:
    /// a front end calls this when it actually shows it.
    ///
    /// ```no_run
    /// # async fn demo(inbox: inbox_core::Inbox, ana: inbox_core::Actor, id: inbox_core::ConversationId) -> inbox_core::Result<()> {
    /// use inbox_core::{View, ViewQuery};
    /// let seen = inbox.mark_read(&ana, &id).await?;
    /// let page = inbox.list(&ana, &ViewQuery::new(View::Mine)).await?;
    /// let unread = inbox.unread(&ana, &page.items).await?;
    /// println!("read up to message {seen}; {:?} unread since", unread.get(&id));
    /// # Ok(()) }
    /// ```
    pub async fn mark_read(&self, actor: &Actor, id: &ConversationId) -> Result<u32> {
        let conversation = self.conversation_state(actor, id).await?;
        let store = &self.ports.store;
        (store.mark_read(&actor.tenant, &actor.agent, id, conversation.message_count)).await
    }

    /// How many messages of each of `conversations` (as listed or searched
    /// by the same agent) the acting agent has not read: the message count
    /// minus their marker (all of them if they never read it). One store
    /// read for the whole page. Every conversation the agent may see has an
    /// entry, 0 included; another tenant's, or one the agent may not see,
    /// has none.
    pub async fn unread(
        &self,
        actor: &Actor,
        conversations: &[Conversation],
    ) -> Result<HashMap<ConversationId, u32>> {
        let agent = self.agent_allowed(actor, Action::View).await?;
        let seen: Vec<&Conversation> = conversations
            .iter()
            .filter(|c| permissions::can_view(&agent, c))
            .collect();
        if seen.is_empty() {
            return Ok(HashMap::new());
        }
        let ids: Vec<ConversationId> = seen.iter().map(|c| c.id.clone()).collect();
        let markers = (self.ports.store)
            .read_markers(&actor.tenant, &actor.agent, &ids)
            .await?;
        Ok(seen
            .into_iter()
            .map(|c| {
                let marker = markers.get(&c.id).copied().unwrap_or(0);
                (c.id.clone(), c.message_count.saturating_sub(marker))
            })
            .collect())
    }

    /// After a message of the agent's own was committed in `conversation`
    /// (as the commit left it): their marker moves to its message count.
    /// The message is committed already, so a failure is only logged (it
    /// shows as unread to its author until they open the conversation).
    pub(super) async fn read_own(&self, actor: &Actor, conversation: &Conversation) {
        let store = &self.ports.store;
        let (tenant, agent, id) = (&actor.tenant, &actor.agent, &conversation.id);
        let seen = conversation.message_count;
        if let Err(e) = store.mark_read(tenant, agent, id, seen).await {
            tracing::warn!(conversation = %id, error = %e, "could not move the author's read marker");
        }
    }
}
