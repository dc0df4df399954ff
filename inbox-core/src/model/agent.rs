use serde::{Deserialize, Serialize};

use crate::ids::{AgentId, TeamId, TenantId};

/// An agent's role, which decides what the core lets them do
/// (see [`crate::permissions`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Works conversations of their teams.
    Agent,
    /// Sees every conversation of the tenant, assigns others, overrides.
    Supervisor,
    /// Everything a supervisor does, plus the tenant's settings.
    Admin,
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Role::Agent => "agent",
            Role::Supervisor => "supervisor",
            Role::Admin => "admin",
        })
    }
}

/// Whether an agent is available for work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Presence {
    /// Available.
    Online,
    /// Signed in but not taking new work.
    Away,
    /// Gone.
    #[default]
    Offline,
}

impl std::fmt::Display for Presence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Presence::Online => "online",
            Presence::Away => "away",
            Presence::Offline => "offline",
        })
    }
}

/// A member of a tenant's team.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Agent {
    /// The tenant the agent works for.
    pub tenant: TenantId,
    /// The agent's id, chosen by the embedder; also the `@handle` used in
    /// mentions.
    pub id: AgentId,
    /// Display name.
    pub name: String,
    /// What the agent may do.
    pub role: Role,
    /// The teams (queues) the agent works.
    pub teams: Vec<TeamId>,
    /// Skills, for skill-based routing.
    pub skills: Vec<String>,
    /// Maximum open conversations assigned at once; `0` means unlimited.
    pub capacity: u32,
    /// Current presence.
    pub presence: Presence,
    /// Deactivated agents keep their history but cannot act.
    pub active: bool,
    /// The agent's shift: the name of a calendar of the tenant's routing
    /// configuration. Outside it, automatic assignment skips the agent.
    /// `None`: no shift (available whenever online).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shift: Option<String>,
    /// A service account: the agent an API key acts as (its id is the
    /// key's id, its role the key's), not a person. Routing never offers
    /// it conversations, nobody can assign it one, it cannot sign in with
    /// a password and it is left out of the team's live snapshot. Made by
    /// [`Inbox::create_api_key`](crate::Inbox::create_api_key), deactivated
    /// when the key is revoked.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub service: bool,
    /// A bot: an automated participant that answers the conversations it
    /// owns (always a [`service`](Self::service) agent too). Its replies
    /// go through the outbox like anyone's; it never sees notes.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub bot: bool,
}

impl Agent {
    /// Creates an active, offline agent with no teams and unlimited capacity.
    ///
    /// ```
    /// use inbox_core::{model::{Agent, Role}, AgentId, TenantId};
    /// let ana = Agent::new(TenantId::new("acme").unwrap(), AgentId::new("ana").unwrap(), "Ana", Role::Agent);
    /// assert!(ana.active);
    /// ```
    pub fn new(tenant: TenantId, id: AgentId, name: impl Into<String>, role: Role) -> Self {
        Self {
            tenant,
            id,
            name: name.into(),
            role,
            teams: Vec::new(),
            skills: Vec::new(),
            capacity: 0,
            presence: Presence::Offline,
            active: true,
            shift: None,
            service: false,
            bot: false,
        }
    }

    /// Adds the agent to a team (builder style).
    pub fn in_team(mut self, team: TeamId) -> Self {
        if !self.teams.contains(&team) {
            self.teams.push(team);
        }
        self
    }

    /// Sets the capacity (builder style).
    pub fn with_capacity(mut self, capacity: u32) -> Self {
        self.capacity = capacity;
        self
    }

    /// Sets the skills (builder style).
    pub fn with_skills<I: IntoIterator<Item = S>, S: Into<String>>(mut self, skills: I) -> Self {
        self.skills = skills.into_iter().map(Into::into).collect();
        self
    }

    /// Whether the agent belongs to `team`.
    pub fn is_in_team(&self, team: &TeamId) -> bool {
        self.teams.contains(team)
    }
}

/// A queue of agents (sales, support, accounts ...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Team {
    /// The tenant.
    pub tenant: TenantId,
    /// The team's id, chosen by the embedder.
    pub id: TeamId,
    /// Display name.
    pub name: String,
}

impl Team {
    /// Creates a team.
    ///
    /// ```
    /// use inbox_core::{model::Team, TeamId, TenantId};
    /// let t = Team::new(TenantId::new("acme").unwrap(), TeamId::new("sales").unwrap(), "Sales");
    /// assert_eq!(t.name, "Sales");
    /// ```
    pub fn new(tenant: TenantId, id: TeamId, name: impl Into<String>) -> Self {
        Self {
            tenant,
            id,
            name: name.into(),
        }
    }
}
