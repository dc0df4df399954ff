//! Reply leases ("Ana is replying") and who is looking at a conversation.

use chrono::{DateTime, Utc};

use super::{Actor, Inbox};
use crate::error::{chrono_duration, Error, Result};
use crate::event::{EventKind, Scope, ViewerState};
use crate::ids::ConversationId;
use crate::model::Conversation;
use crate::permissions::{self, Action};
use crate::ports::{Lease, LeaseKey, LeaseRequest};

impl Inbox {
    /// Takes (or renews, while composing) the conversation's reply lease for
    /// [`InboxConfig::lease_ttl`](crate::InboxConfig::lease_ttl). If another
    /// agent holds an unexpired lease, fails with [`Error::LeaseHeld`]
    /// naming them and until when. Publishes "replying" to live viewers.
    pub async fn acquire_reply_lease(&self, actor: &Actor, id: &ConversationId) -> Result<Lease> {
        let agent = self.load_agent(actor).await?;
        let conversation = self.ports.store.conversation(&actor.tenant, id).await?;
        permissions::require_view(&agent, &conversation)?;
        permissions::require(&agent, Action::Reply)?;
        let now = self.now();
        let until = now + chrono_duration(self.config.lease_ttl);
        let lease = self
            .ports
            .store
            .acquire_lease(LeaseRequest {
                key: LeaseKey::of(&actor.tenant, id),
                agent: &agent.id,
                now,
                until,
            })
            .await?;
        if lease.holder != agent.id {
            return Err(Error::LeaseHeld {
                conversation: id.clone(),
                holder: lease.holder,
                until: lease.until,
            });
        }
        self.live(
            actor,
            id,
            Some(&conversation),
            EventKind::ReplyLease {
                agent: agent.id.clone(),
                until: lease.until,
            },
        )
        .await;
        Ok(lease)
    }

    /// Gives up the acting agent's reply lease (when they send or discard
    /// their draft). Returns whether they held it; a conversation they do
    /// not hold one on must be one they can see (another tenant's is not
    /// found).
    pub async fn release_reply_lease(&self, actor: &Actor, id: &ConversationId) -> Result<bool> {
        let agent = self.load_agent(actor).await?;
        let released = self
            .ports
            .store
            .release_lease(LeaseKey::of(&actor.tenant, id), &agent.id)
            .await?;
        if released {
            self.live(
                actor,
                id,
                None,
                EventKind::ReplyLeaseReleased {
                    agent: agent.id.clone(),
                },
            )
            .await;
        } else {
            self.conversation_state(actor, id).await?;
        }
        Ok(released)
    }

    /// The reply lease in force, if any.
    pub async fn reply_lease(&self, actor: &Actor, id: &ConversationId) -> Result<Option<Lease>> {
        let agent = self.load_agent(actor).await?;
        let conversation = self.ports.store.conversation(&actor.tenant, id).await?;
        permissions::require_view(&agent, &conversation)?;
        self.ports
            .store
            .lease(LeaseKey::of(&actor.tenant, id), self.now())
            .await
    }

    /// Fails with [`Error::LeaseHeld`] if another agent holds the reply
    /// lease (used before sending a reply).
    pub(super) async fn check_lease(&self, actor: &Actor, id: &ConversationId) -> Result<()> {
        match self
            .ports
            .store
            .lease(LeaseKey::of(&actor.tenant, id), self.now())
            .await?
        {
            Some(l) if l.holder != actor.agent => Err(Error::LeaseHeld {
                conversation: id.clone(),
                holder: l.holder,
                until: l.until,
            }),
            _ => Ok(()),
        }
    }

    /// Tells the other agents that the acting agent is viewing, typing in,
    /// or has left a conversation (live only; it lapses after `ttl` unless
    /// repeated). Returns when it lapses.
    pub async fn set_conversation_presence(
        &self,
        actor: &Actor,
        id: &ConversationId,
        state: ViewerState,
        ttl: std::time::Duration,
    ) -> Result<DateTime<Utc>> {
        let agent = self.load_agent(actor).await?;
        let conversation = self.ports.store.conversation(&actor.tenant, id).await?;
        permissions::require_view(&agent, &conversation)?;
        let expires_at = self.now() + chrono_duration(ttl);
        self.live(
            actor,
            id,
            Some(&conversation),
            EventKind::ConversationPresence {
                agent: agent.id.clone(),
                state,
                expires_at,
            },
        )
        .await;
        Ok(expires_at)
    }

    /// Publishes a live-only event of conversation `id`, with the scope of
    /// `conversation` when the caller has it at hand (else a subscription
    /// finds it: see [`Inbox::subscribe`]).
    async fn live(
        &self,
        actor: &Actor,
        id: &ConversationId,
        conversation: Option<&Conversation>,
        kind: EventKind,
    ) {
        let mut e = self.agent_event(&actor.tenant, &actor.agent, kind);
        e.conversation = Some(id.clone());
        e.scope = conversation.map(Scope::of);
        self.publish(&[e]).await;
    }
}
