//! Provisioning and settings: tenants, channels, teams, agents.

use super::{Actor, Inbox};
use crate::error::{Entity, Error, Result};
use crate::ids::{AgentId, TenantId};
use crate::model::{Agent, Channel, Presence, Team, Tenant};
use crate::permissions::{self, Action};
use crate::ports::DirectoryWrite;
use crate::routing::DrainCause;

/// Whether a capacity went up (`0` is unlimited).
fn capacity_raised(from: u32, to: u32) -> bool {
    from != 0 && (to == 0 || to > from)
}

pub(super) fn check_name(field: &str, name: &str) -> Result<()> {
    if name.trim().is_empty() {
        return Err(Error::invalid(field, "must not be empty"));
    }
    if name.chars().count() > 200 {
        return Err(Error::invalid(field, "longer than 200 characters"));
    }
    Ok(())
}

impl Inbox {
    /// Creates or updates a tenant. System level: for the embedder's own
    /// provisioning code, not for agents.
    pub async fn provision_tenant(&self, tenant: &Tenant) -> Result<()> {
        check_name("tenant.name", &tenant.name)?;
        self.ports.store.upsert_tenant(tenant).await
    }

    /// Creates or updates a channel (system level). The phone number id must
    /// not belong to another channel. Recorded in the tenant's settings
    /// history (section `channels.<id>`, before and after) as the next
    /// settings version, and published as a settings change.
    pub async fn provision_channel(&self, channel: &Channel) -> Result<()> {
        self.write_channel(channel, None).await
    }

    async fn write_channel(&self, channel: &Channel, by: Option<&AgentId>) -> Result<()> {
        check_graph_id("channel.phone_number_id", &channel.phone_number_id)?;
        if let Some(waba) = &channel.waba_id {
            check_graph_id("channel.waba_id", waba)?;
        }
        check_name("channel.name", &channel.name)?;
        // (what Meta said of the number and its history import stay as
        // stored: the store keeps them, see `Directory::upsert_channel`)
        self.store_directory(DirectoryWrite::Channel(channel), by)
            .await
    }

    /// Creates or updates a team (system level). Recorded in the tenant's
    /// settings history as [`Inbox::provision_channel`] is (`teams.<id>`).
    pub async fn provision_team(&self, team: &Team) -> Result<()> {
        self.write_team(team, None).await
    }

    async fn write_team(&self, team: &Team, by: Option<&AgentId>) -> Result<()> {
        check_name("team.name", &team.name)?;
        self.store_directory(DirectoryWrite::Team(team), by).await
    }

    /// Creates or updates an agent (system level). Their teams must exist.
    /// An agent who can take work afterwards (active and online) is offered
    /// what waits in their teams' queues, longest waiting first (a capacity
    /// raised, a team added). Recorded in the tenant's settings history as
    /// [`Inbox::provision_channel`] is (`agents.<id>`).
    pub async fn provision_agent(&self, agent: &Agent) -> Result<()> {
        self.write_agent(agent, None).await
    }

    async fn write_agent(&self, agent: &Agent, by: Option<&AgentId>) -> Result<()> {
        check_name("agent.name", &agent.name)?;
        for t in &agent.teams {
            self.ports.store.team(&agent.tenant, t).await?;
        }
        let drain = agent.active
            && agent.presence == Presence::Online
            && !agent.teams.is_empty()
            && self.routing_for(&agent.tenant).await?.has_queue_teams();
        let before = if drain {
            match self.ports.store.agent(&agent.tenant, &agent.id).await {
                Ok(a) => Some(a),
                Err(Error::NotFound { .. }) => None,
                Err(e) => return Err(e),
            }
        } else {
            None
        };
        self.store_directory(DirectoryWrite::Agent(agent), by)
            .await?;
        if drain {
            let raised = before
                .as_ref()
                .is_some_and(|b| capacity_raised(b.capacity, agent.capacity));
            let cause = if raised {
                DrainCause::CapacityRaised(agent.id.clone())
            } else {
                DrainCause::AgentUpdated(agent.id.clone())
            };
            self.drain_quietly(&agent.tenant, &agent.teams, &cause, self.now())
                .await;
        }
        Ok(())
    }

    /// The acting agent's own record (role, teams, presence, capacity).
    /// Refused for a deactivated agent, as every action of theirs is.
    pub async fn me(&self, actor: &Actor) -> Result<Agent> {
        self.load_agent(actor).await
    }

    /// The agents of the actor's tenant (names, roles, presence, capacity),
    /// for choosing whom to assign or transfer to. Any agent may see them.
    pub async fn agents(&self, actor: &Actor) -> Result<Vec<Agent>> {
        self.agent_allowed(actor, Action::View).await?;
        self.ports.store.agents(&actor.tenant).await
    }

    /// The teams of the actor's tenant (ids and names). Any agent may see
    /// them.
    pub async fn teams(&self, actor: &Actor) -> Result<Vec<Team>> {
        self.agent_allowed(actor, Action::View).await?;
        self.ports.store.teams(&actor.tenant).await
    }

    /// The numbers of the actor's tenant (ids, display numbers, names).
    /// Any agent may see them.
    pub async fn channels(&self, actor: &Actor) -> Result<Vec<Channel>> {
        self.agent_allowed(actor, Action::View).await?;
        self.ports.store.channels(&actor.tenant).await
    }

    async fn require_settings(&self, actor: &Actor, tenant: &TenantId) -> Result<AgentId> {
        let me = self.load_agent(actor).await?;
        if &actor.tenant != tenant {
            return Err(Error::not_found(Entity::Tenant, tenant));
        }
        permissions::require(&me, Action::ManageSettings)?;
        Ok(me.id)
    }

    /// Creates or updates an agent of the actor's tenant (admins only),
    /// recorded in the settings history as theirs.
    pub async fn save_agent(&self, actor: &Actor, agent: &Agent) -> Result<()> {
        let by = self.require_settings(actor, &agent.tenant).await?;
        self.write_agent(agent, Some(&by)).await
    }

    /// Creates or updates a team of the actor's tenant (admins only),
    /// recorded in the settings history as theirs.
    pub async fn save_team(&self, actor: &Actor, team: &Team) -> Result<()> {
        let by = self.require_settings(actor, &team.tenant).await?;
        self.write_team(team, Some(&by)).await
    }

    /// Creates or updates a channel of the actor's tenant (admins only),
    /// recorded in the settings history as theirs.
    /// The number's WhatsApp Business Account is the platform operator's
    /// to set ([`Inbox::provision_channel`]): it decides which account's
    /// webhooks (template, account and quality news) reach the tenant.
    pub async fn save_channel(&self, actor: &Actor, channel: &Channel) -> Result<()> {
        let by = self.require_settings(actor, &channel.tenant).await?;
        let stored = match self.ports.store.channel(&channel.tenant, &channel.id).await {
            Ok(c) => c.waba_id,
            Err(Error::NotFound { .. }) => None,
            Err(e) => return Err(e),
        };
        if channel.waba_id != stored {
            return Err(Error::invalid(
                "channel.waba_id",
                "only the platform operator may set a number's WhatsApp Business Account",
            ));
        }
        self.write_channel(channel, Some(&by)).await
    }
}

/// An id of Meta's (a phone number's, an account's) as it goes into a
/// Graph API path: 1 to 64 ASCII letters, digits, `-` or `_`, so that it
/// cannot point the request elsewhere (`../`, `?`, `/`).
fn check_graph_id(field: &str, id: &str) -> Result<()> {
    if id.is_empty() {
        return Err(Error::invalid(field, "must not be empty"));
    }
    let fine = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    if id.len() > 64 || !id.chars().all(fine) {
        return Err(Error::invalid(
            field,
            "must be Meta's id: 1 to 64 letters, digits, '-' or '_'",
        ));
    }
    Ok(())
}
