//! Live events for one agent: the tenant's events the agent may see,
//! decided from each event's [`Scope`] without reading the store.

use chrono::{DateTime, Utc};
use futures_util::{stream, StreamExt};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use super::{Actor, Inbox};
use crate::error::{chrono_duration, Error, Result};
use crate::event::{Event, Scope};
use crate::ids::ConversationId;
use crate::model::Agent;
use crate::permissions;
use crate::ports::{BusItem, EventStream};

/// How long a subscription goes on deciding with the agent as it loaded
/// them (role, teams) before it loads them again, at the next event. The
/// directory emits no events when an agent changes, so this bounds how
/// long a change of role or teams takes to reach a live stream.
pub const AGENT_REFRESH: Duration = Duration::from_secs(60);

/// How many conversations' scopes a subscription remembers (about 200
/// bytes each; only of conversations the agent may see); past that it
/// forgets one to learn another.
const REMEMBERED: usize = 4096;

impl Inbox {
    /// The live events of the actor's tenant that the actor may see
    /// ([`permissions::can_see`]), in the bus's order, from now on.
    /// [`BusItem::Lagged`] passes through: events were missed (catch up
    /// with [`Inbox::events_since`], or reload what is shown).
    ///
    /// The agent is loaded once, here; a deactivated agent cannot
    /// subscribe. Each event is decided from its own [`Scope`] (the
    /// visibility its conversation had after the change): no store read
    /// per event in the steady state, however many agents watch. The
    /// subscription reads the store only:
    ///
    /// - the agent again, when events were missed ([`BusItem::Lagged`]) and
    ///   at the first event once [`AGENT_REFRESH`] has passed since the last
    ///   load, so a change of role or teams applies within that time. The
    ///   stream ends once the agent is removed or deactivated; a failed
    ///   load keeps the agent as loaded until the next try.
    /// - a conversation, for an event of it that carries no scope when no
    ///   earlier event of that conversation told the subscription its
    ///   scope (it remembers the scopes of the conversations the agent may
    ///   see, and of those it read). Every event this inbox and the stores publish carries one
    ///   (a message's delivery events too: the store stamps them with the
    ///   conversation's scope as it applies them, see
    ///   [`Messages::update_messages`](crate::ports::Messages::update_messages));
    ///   this is for events published without one (by hand, or by an
    ///   older version sharing the bus). Every change of a conversation's visibility emits
    ///   scoped events, so what the subscription learnt stays true; it
    ///   forgets it all when events were missed. An event whose
    ///   conversation is gone is dropped; one whose conversation cannot be
    ///   read is replaced by `Lagged(1)`, never sent unchecked.
    pub async fn subscribe(&self, actor: &Actor) -> Result<EventStream> {
        let agent = self.load_agent(actor).await?;
        let live = self.ports.bus.subscribe(&actor.tenant);
        let watch = Watch {
            inbox: self.clone(),
            loaded_at: self.now(),
            agent,
            scopes: HashMap::new(),
        };
        Ok(Box::pin(stream::unfold(
            (live, watch),
            |(mut live, mut watch)| async move {
                loop {
                    match watch.admit(live.next().await?).await {
                        Admit::Send(item) => return Some((item, (live, watch))),
                        Admit::Skip => continue,
                        Admit::End => return None,
                    }
                }
            },
        )))
    }
}

/// One agent's subscription.
struct Watch {
    inbox: Inbox,
    agent: Agent,
    /// When the agent was last loaded (by the inbox's clock).
    loaded_at: DateTime<Utc>,
    /// The latest scope each conversation's events carried, with the
    /// conversation version it is from (`0`: from an unversioned,
    /// live-only event), for the conversations the agent may see and
    /// those it read: what an event without a scope takes. (Remembering
    /// every conversation of the tenant for every stream would cost each
    /// stream hundreds of kilobytes; every publisher stamps its events,
    /// so reads are rare.)
    scopes: HashMap<ConversationId, (u64, Scope)>,
}

/// What to do with an item of the bus.
enum Admit {
    /// Pass it on.
    Send(BusItem),
    /// The agent may not see it (or its conversation is gone).
    Skip,
    /// The agent was removed or deactivated.
    End,
}

/// Whether an event's scope is known.
enum Found {
    /// The event carries its scope (or needs none).
    Yes,
    /// Its conversation no longer exists.
    Gone,
    /// Its conversation could not be read.
    Unknown,
}

impl Watch {
    async fn admit(&mut self, item: BusItem) -> Admit {
        let mut event: Arc<Event> = match item {
            BusItem::Lagged(n) => {
                // Missed events may have moved conversations or the agent.
                self.scopes.clear();
                return match self.reload().await {
                    true => Admit::Send(BusItem::Lagged(n)),
                    false => Admit::End,
                };
            }
            BusItem::Event(e) => e,
        };
        let due = self.loaded_at + chrono_duration(AGENT_REFRESH);
        if self.inbox.now() >= due && !self.reload().await {
            return Admit::End;
        }
        match self.find_scope(&mut event).await {
            Found::Yes if permissions::can_see(&self.agent, &event) => {
                Admit::Send(BusItem::Event(event))
            }
            Found::Yes | Found::Gone => Admit::Skip,
            Found::Unknown => Admit::Send(BusItem::Lagged(1)),
        }
    }

    /// Loads the agent again; `false` once they were removed or
    /// deactivated.
    async fn reload(&mut self) -> bool {
        self.loaded_at = self.inbox.now();
        let (tenant, id) = (&self.agent.tenant, &self.agent.id);
        match self.inbox.ports.store.agent(tenant, id).await {
            Ok(agent) => {
                self.agent = agent;
                self.agent.active
            }
            Err(Error::NotFound { .. }) => false,
            Err(e) => {
                tracing::warn!(agent = %id, error = %e, "live events: the agent could not be loaded again; going on with them as loaded");
                true
            }
        }
    }

    /// Learns the scope an event carries, or gives it the one learnt for
    /// its conversation, or reads the conversation. The event is shared
    /// with the bus's other subscribers: it is copied only to give it a
    /// scope.
    async fn find_scope(&mut self, event: &mut Arc<Event>) -> Found {
        let Some(id) = &event.conversation else {
            return Found::Yes;
        };
        if let Some(scope) = &event.scope {
            let visible = permissions::can_see(&self.agent, event);
            self.learn(id, event.conversation_version, scope, visible);
            return Found::Yes;
        }
        if let Some((_, scope)) = self.scopes.get(id) {
            let scope = scope.clone();
            Arc::make_mut(event).scope = Some(scope);
            return Found::Yes;
        }
        let id = id.clone();
        match self
            .inbox
            .ports
            .store
            .conversation(&event.tenant, &id)
            .await
        {
            Ok(c) => {
                let scope = Scope::of(&c);
                // Remembered whoever may see it: a read is what the
                // memory saves (a later scoped event the agent may not
                // see forgets it again).
                self.learn(&id, Some(c.version), &scope, true);
                Arc::make_mut(event).scope = Some(scope);
                Found::Yes
            }
            Err(Error::NotFound { .. }) => Found::Gone,
            Err(e) => {
                tracing::warn!(conversation = %id, error = %e, "live events: cannot tell who may see an event; sent as lagged");
                Found::Unknown
            }
        }
    }

    /// Remembers a conversation's scope unless a later version's is
    /// known; forgets it when the agent may no longer see the
    /// conversation (`visible`: whether they may under `scope`).
    fn learn(&mut self, id: &ConversationId, version: Option<u64>, scope: &Scope, visible: bool) {
        let version = version.unwrap_or(0);
        if let Some((known, kept)) = self.scopes.get_mut(id) {
            if *known > version {
                return;
            }
            if !visible {
                self.scopes.remove(id);
                return;
            }
            if kept == scope {
                *known = version;
                return;
            }
        } else if !visible {
            return;
        } else if self.scopes.len() >= REMEMBERED {
            let forgotten = self.scopes.keys().next().cloned();
            if let Some(forgotten) = forgotten {
                self.scopes.remove(&forgotten);
            }
        }
        self.scopes.insert(id.clone(), (version, scope.clone()));
    }
}
