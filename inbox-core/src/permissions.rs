//! The role matrix, enforced by the core.
//!
//! | action                      | Agent                         | Supervisor | Admin |
//! |-----------------------------|-------------------------------|------------|-------|
//! | see a conversation          | own, their teams', unrouted   | all        | all   |
//! | claim                       | yes (visible ones)            | yes        | yes   |
//! | assign / transfer others'   | only conversations they own   | yes        | yes   |
//! | release                     | only conversations they own   | yes        | yes   |
//! | reply                       | yes (see [`crate::ReplyPolicy`]) | yes     | yes   |
//! | override assignee-only      | no                            | yes        | yes   |
//! | add notes, tag, prioritise  | yes                           | yes        | yes   |
//! | change status, snooze       | yes                           | yes        | yes   |
//! | see contacts                | yes                           | yes        | yes   |
//! | change settings             | no                            | no         | yes   |
//! | list and replay dead letters| no                            | no         | yes   |
//! | manage access (others' sessions and passwords, API keys) | no | no  | yes   |
//!
//! Every agent may list and end their own sessions and change their own
//! password ([`Inbox::set_password`](crate::Inbox::set_password)).
//!
//! Nothing is ever visible across tenants: an id from another tenant is
//! reported as not found.

use serde::{Deserialize, Serialize};

use crate::error::{Entity, Error};
use crate::event::Event;
use crate::ids::{AgentId, TeamId};
use crate::model::{Agent, Conversation, Role};

/// Something an agent may try to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Action {
    /// See a conversation and its history.
    View,
    /// See every conversation of the tenant, whatever its team.
    ViewAll,
    /// Assign a conversation to oneself.
    Claim,
    /// Assign, transfer or release conversations owned by others.
    AssignOthers,
    /// Send a reply to the customer.
    Reply,
    /// Reply to a conversation owned by someone else when the policy is
    /// assignee-only.
    OverrideAssignee,
    /// Add an internal note.
    AddNote,
    /// Add or remove tags, change priority.
    Tag,
    /// Change status, snooze, resolve.
    ChangeStatus,
    /// Read the tenant's settings document and its history.
    ViewSettings,
    /// Change the tenant's settings, agents, teams, channels.
    ManageSettings,
    /// Merge two contacts that are the same person.
    MergeContacts,
    /// List and replay dead letters (inbound items the inbox refused).
    ManageDeadLetters,
    /// Manage access: others' sessions and passwords, API keys.
    ManageAccess,
    /// Import contacts from a list.
    ImportContacts,
    /// Make, start, pause and cancel broadcasts.
    ManageBroadcasts,
}

impl Action {
    /// Every action, in the order they are declared: for role matrices,
    /// admin screens and tests that must cover them all.
    ///
    /// ```
    /// use inbox_core::permissions::Action;
    /// assert!(Action::ALL.contains(&Action::Reply));
    /// ```
    pub const ALL: [Action; 16] = [
        Action::View,
        Action::ViewAll,
        Action::Claim,
        Action::AssignOthers,
        Action::Reply,
        Action::OverrideAssignee,
        Action::AddNote,
        Action::Tag,
        Action::ChangeStatus,
        Action::ViewSettings,
        Action::ManageSettings,
        Action::MergeContacts,
        Action::ManageDeadLetters,
        Action::ManageAccess,
        Action::ImportContacts,
        Action::ManageBroadcasts,
    ];
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Action::View => "view the conversation",
            Action::ViewAll => "view all conversations",
            Action::Claim => "claim",
            Action::AssignOthers => "assign others' conversations",
            Action::Reply => "reply",
            Action::OverrideAssignee => "reply to a conversation owned by another agent",
            Action::AddNote => "add a note",
            Action::Tag => "tag",
            Action::ChangeStatus => "change the status",
            Action::ViewSettings => "read settings",
            Action::ManageSettings => "change settings",
            Action::MergeContacts => "merge contacts",
            Action::ManageDeadLetters => "list and replay dead letters",
            Action::ManageAccess => "manage sessions, passwords and API keys",
            Action::ImportContacts => "import contacts",
            Action::ManageBroadcasts => "manage broadcasts",
        })
    }
}

impl Role {
    /// Whether the role allows the action at all (before the relation to the
    /// conversation is considered).
    ///
    /// ```
    /// use inbox_core::{model::Role, permissions::Action};
    /// assert!(Role::Supervisor.allows(Action::AssignOthers));
    /// assert!(!Role::Agent.allows(Action::AssignOthers));
    /// assert!(!Role::Supervisor.allows(Action::ManageSettings));
    /// ```
    pub fn allows(self, action: Action) -> bool {
        match self {
            Role::Admin => true,
            Role::Supervisor => !matches!(
                action,
                Action::ManageSettings | Action::ManageDeadLetters | Action::ManageAccess
            ),
            Role::Agent => matches!(
                action,
                Action::View
                    | Action::Claim
                    | Action::Reply
                    | Action::AddNote
                    | Action::Tag
                    | Action::ChangeStatus
            ),
        }
    }
}

/// Fails with [`Error::Forbidden`] unless the agent's role allows `action`.
pub fn require(agent: &Agent, action: Action) -> Result<(), Error> {
    if !agent.active {
        return Err(Error::Forbidden {
            agent: agent.id.clone(),
            action,
            reason: "the agent is deactivated".into(),
        });
    }
    if agent.role.allows(action) {
        Ok(())
    } else {
        Err(Error::Forbidden {
            agent: agent.id.clone(),
            action,
            reason: format!("role {} does not allow it", agent.role),
        })
    }
}

/// Whether `agent` may see `conversation`: same tenant, and either a
/// supervisor/admin, the owner, a member of its team, or the conversation is
/// not routed to any team yet.
pub fn can_view(agent: &Agent, conversation: &Conversation) -> bool {
    agent.tenant == conversation.tenant
        && sees(
            agent,
            conversation.team.as_ref(),
            conversation.assignee.as_ref(),
        )
}

/// Whether `agent` may see `event`, decided from the event alone (no store
/// read): same tenant and an active agent; for an event of a conversation,
/// what [`can_view`] decides on the conversation as the event's change left
/// it (its [`Scope`](crate::event::Scope)). Tenant-wide events (no
/// conversation: contacts, presence) are seen by every active agent of the
/// tenant. An event of a conversation that carries no scope is not seen:
/// whoever delivers it must find its scope first (as
/// [`Inbox::subscribe`](crate::Inbox::subscribe) does).
pub fn can_see(agent: &Agent, event: &Event) -> bool {
    if agent.tenant != event.tenant {
        return false;
    }
    match (&event.conversation, &event.scope) {
        (_, Some(scope)) => sees(agent, scope.team.as_ref(), scope.owner.as_ref()),
        (None, None) => agent.active,
        (Some(_), None) => false,
    }
}

/// The rule of [`can_view`] and [`can_see`] within a tenant: an active
/// agent sees everything with [`Action::ViewAll`], what they own, their
/// teams' conversations and those not routed to a team yet.
fn sees(agent: &Agent, team: Option<&TeamId>, owner: Option<&AgentId>) -> bool {
    if !agent.active {
        return false;
    }
    if agent.role.allows(Action::ViewAll) || owner == Some(&agent.id) {
        return true;
    }
    team.is_none_or(|t| agent.is_in_team(t))
}

/// Fails unless `agent` may see `conversation`. A conversation of another
/// tenant is reported as not found.
pub fn require_view(agent: &Agent, conversation: &Conversation) -> Result<(), Error> {
    if agent.tenant != conversation.tenant {
        return Err(Error::not_found(Entity::Conversation, &conversation.id));
    }
    require(agent, Action::View)?;
    if can_view(agent, conversation) {
        Ok(())
    } else {
        Err(Error::Forbidden {
            agent: agent.id.clone(),
            action: Action::View,
            reason: "the conversation belongs to a team the agent is not in".into(),
        })
    }
}

/// Fails unless `agent` may change ownership of `conversation` owned by
/// someone else: owners may hand over their own conversations, supervisors
/// and admins anyone's.
pub fn require_ownership_change(agent: &Agent, conversation: &Conversation) -> Result<(), Error> {
    require_view(agent, conversation)?;
    if conversation.is_owned_by(&agent.id) {
        return Ok(());
    }
    require(agent, Action::AssignOthers)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{EventActor, EventKind, Scope};
    use crate::ids::*;
    use chrono::TimeZone;

    fn agent(role: Role, team: &str) -> Agent {
        Agent::new(
            TenantId::new("t").unwrap(),
            AgentId::new("a").unwrap(),
            "A",
            role,
        )
        .in_team(TeamId::new(team).unwrap())
    }

    fn conv(team: Option<&str>) -> Conversation {
        let mut c = Conversation::new(
            TenantId::new("t").unwrap(),
            ConversationId::new("c").unwrap(),
            ChannelId::new("ch").unwrap(),
            ContactId::new("k").unwrap(),
            chrono::Utc.timestamp_opt(0, 0).unwrap(),
        );
        c.team = team.map(|t| TeamId::new(t).unwrap());
        c
    }

    #[test]
    fn agents_see_their_teams_and_unrouted_only() {
        let a = agent(Role::Agent, "sales");
        assert!(can_view(&a, &conv(None)));
        assert!(can_view(&a, &conv(Some("sales"))));
        assert!(!can_view(&a, &conv(Some("support"))));
        assert!(can_view(
            &agent(Role::Supervisor, "x"),
            &conv(Some("support"))
        ));
    }

    #[test]
    fn other_tenants_are_not_found() {
        let mut a = agent(Role::Admin, "sales");
        a.tenant = TenantId::new("other").unwrap();
        let err = require_view(&a, &conv(None)).unwrap_err();
        assert_eq!(err.code(), "not_found");
    }

    #[test]
    fn the_role_matrix() {
        use Action::*;
        // `ALL` lists every action once, in declaration order, up to the last.
        for (i, action) in Action::ALL.into_iter().enumerate() {
            assert_eq!(action as usize, i, "{action}");
        }
        assert_eq!(Action::ALL.len(), ManageBroadcasts as usize + 1);
        let agent = [View, Claim, Reply, AddNote, Tag, ChangeStatus];
        for action in Action::ALL {
            assert_eq!(
                Role::Agent.allows(action),
                agent.contains(&action),
                "agent: {action}"
            );
            assert_eq!(
                Role::Supervisor.allows(action),
                !matches!(action, ManageSettings | ManageDeadLetters | ManageAccess),
                "supervisor: {action}"
            );
            assert!(Role::Admin.allows(action), "admin: {action}");
        }
        let sam = agent_with(Role::Supervisor);
        assert_eq!(
            require(&sam, ManageDeadLetters).unwrap_err().code(),
            "forbidden"
        );
        assert!(require(&agent_with(Role::Admin), ManageDeadLetters).is_ok());
        for role in [Role::Agent, Role::Supervisor] {
            let err = require(&agent_with(role), ManageAccess).unwrap_err();
            assert_eq!(err.code(), "forbidden", "{role}");
        }
        assert!(require(&agent_with(Role::Admin), ManageAccess).is_ok());
    }

    fn agent_with(role: Role) -> Agent {
        agent(role, "sales")
    }

    #[test]
    fn deactivated_agents_can_do_nothing() {
        let mut a = agent(Role::Admin, "sales");
        a.active = false;
        assert_eq!(require(&a, Action::View).unwrap_err().code(), "forbidden");
    }

    fn event_of(c: &Conversation) -> Event {
        Event::new(
            c.tenant.clone(),
            c.created_at,
            EventActor::System,
            EventKind::Tagged {
                added: vec!["vip".into()],
                removed: Vec::new(),
            },
        )
        .on(&c.id, c.version)
    }

    #[test]
    fn events_are_seen_by_their_scope_alone() {
        let (ana, cy) = (agent(Role::Agent, "sales"), agent(Role::Agent, "support"));
        let mut events = vec![event_of(&conv(Some("sales")))];
        // Not stamped: nobody can tell, so nobody sees it.
        assert!(!can_see(&ana, &events[0]));
        // A conversation's events are stamped, another's are not.
        let mut other = conv(Some("sales"));
        other.id = ConversationId::new("other").unwrap();
        events.push(event_of(&other));
        Scope::stamp(&mut events, &conv(Some("sales")));
        assert!(events[1].scope.is_none());
        assert!(can_see(&ana, &events[0]));
        assert!(!can_see(&cy, &events[0]));
        // Tenant-wide events reach every active agent of the tenant.
        let presence = Event::new(
            TenantId::new("t").unwrap(),
            chrono::Utc.timestamp_opt(0, 0).unwrap(),
            EventActor::System,
            EventKind::PresenceChanged {
                agent: AgentId::new("a").unwrap(),
                presence: crate::model::Presence::Online,
            },
        );
        assert!(can_see(&cy, &presence));
        let mut gone = cy.clone();
        gone.active = false;
        assert!(!can_see(&gone, &presence));
        gone.active = true;
        gone.tenant = TenantId::new("other").unwrap();
        assert!(!can_see(&gone, &presence));
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        const NAMES: [&str; 3] = ["x", "y", "z"];

        fn tenant(i: usize) -> TenantId {
            TenantId::new(["t", "u"][i]).unwrap()
        }

        fn an_agent() -> impl Strategy<Value = Agent> {
            let role = prop_oneof![Just(Role::Agent), Just(Role::Supervisor), Just(Role::Admin)];
            let teams = proptest::collection::vec(0..3usize, 0..3);
            (
                0..2usize,
                0..3usize,
                role,
                teams,
                proptest::bool::weighted(0.9),
            )
                .prop_map(|(t, id, role, teams, active)| {
                    let mut a = Agent::new(tenant(t), AgentId::new(NAMES[id]).unwrap(), "A", role);
                    for i in teams {
                        a = a.in_team(TeamId::new(NAMES[i]).unwrap());
                    }
                    a.active = active;
                    a
                })
        }

        fn a_conversation() -> impl Strategy<Value = Conversation> {
            let name = proptest::option::of(0..3usize);
            (0..2usize, name.clone(), name, 1..50u64).prop_map(|(t, team, owner, version)| {
                let mut c = conv(None);
                c.tenant = tenant(t);
                c.team = team.map(|i| TeamId::new(NAMES[i]).unwrap());
                c.assignee = owner.map(|i| AgentId::new(NAMES[i]).unwrap());
                c.version = version;
                c
            })
        }

        proptest! {
            /// Deciding from the event's scope is deciding from the
            /// conversation its change left, also once the event went
            /// through JSON (stored, or sent in a notification).
            #[test]
            fn can_see_agrees_with_can_view(agent in an_agent(), c in a_conversation()) {
                let mut events = vec![event_of(&c)];
                Scope::stamp(&mut events, &c);
                let json = serde_json::to_string(&events[0]).unwrap();
                let back: Event = serde_json::from_str(&json).unwrap();
                prop_assert_eq!(&back, &events[0]);
                prop_assert_eq!(can_see(&agent, &back), can_view(&agent, &c));
            }
        }
    }
}
