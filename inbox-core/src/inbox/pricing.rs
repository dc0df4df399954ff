//! What messages cost: the cost report (supervisors and admins) and the
//! estimate of one send (anyone who may see the conversation).

use super::{Actor, Inbox};
use crate::error::Result;
use crate::ids::ConversationId;
use crate::model::Content;
use crate::permissions::Action;
use crate::pricing::{
    estimate, market_of, CostQuery, CostReport, EntryPoint, PriceEstimate, Sending,
};

impl Inbox {
    /// What the tenant's outbound messages sent in a range cost, by number,
    /// team, agent, category and market, from the counts the store gives
    /// and the tenant's rate card (counts only without one); supervisors
    /// and admins.
    pub async fn costs(&self, actor: &Actor, query: CostQuery) -> Result<CostReport> {
        self.agent_allowed(actor, Action::ViewAll).await?;
        query.validate()?;
        let tallies = self
            .ports
            .store
            .message_tallies(&actor.tenant, &query)
            .await?;
        let policy = self.policy(&actor.tenant).await?;
        Ok(CostReport::compute(
            &query,
            &tallies,
            policy.rate_card.as_ref(),
        ))
    }

    /// Whether sending `content` in a conversation now will be free or
    /// billed, and at what rate ([`crate::pricing::estimate`]): the
    /// template's category from the tenant's settings, the free entry
    /// point from the conversation's messages, the rate for the
    /// customer's market. Nothing is stored.
    pub async fn price_estimate(
        &self,
        actor: &Actor,
        id: &ConversationId,
        content: &Content,
    ) -> Result<PriceEstimate> {
        let conversation = self.conversation_state(actor, id).await?;
        let store = &self.ports.store;
        let contact = store.contact(&actor.tenant, &conversation.contact).await?;
        let messages = store.messages(&actor.tenant, id).await?;
        let policy = self.policy(&actor.tenant).await?;
        let sending = Sending::of(content, &policy.document.templates);
        let market = market_of(&contact.identity);
        Ok(estimate(
            &sending,
            &conversation,
            EntryPoint::find(&messages).as_ref(),
            policy.rate_card.as_ref(),
            market.as_deref(),
            self.now(),
        ))
    }
}
