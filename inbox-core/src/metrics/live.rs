//! The live snapshot: what the team faces right now.
//!
//! Definitions every store must give exactly:
//!
//! - the population is the tenant's **active** conversations (open,
//!   pending, snoozed), narrowed by number and team;
//! - `waiting`: the customer's oldest unanswered message is set
//!   ([`Conversation::waiting_since`]); `waiting_longest` is the one waiting
//!   since the earliest instant (ties: the lower id);
//! - `sla_at_risk`: with a running SLA target whose warning time has come
//!   and whose due time has not;
//! - `sla_breached`: with a target that was breached, or a running target
//!   past its due time that the timer has not marked yet (a conversation
//!   stays counted until it is resolved);
//! - `in_doubt`: outbound messages in doubt (pending, with
//!   [`DeliveryState::in_doubt_since`](crate::model::DeliveryState::in_doubt_since)
//!   set: they may not have reached the customer) in the tenant's
//!   conversations on the number and in the team when narrowed, whatever
//!   the conversation's status ([`LiveSnapshot::count_in_doubt`]);
//! - `agents`: the tenant's active agents (in the team, when narrowed), by
//!   id, with their load: all their active conversations, whatever the
//!   filters, since that is what capacity limits.
//!
//! ```
//! use chrono::{TimeZone, Utc};
//! use inbox_core::metrics::{LiveQuery, LiveSnapshot};
//! let now = Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap();
//! let s = LiveSnapshot::compute(&LiveQuery::at(now), [], []);
//! assert_eq!((s.active, s.unassigned, s.waiting_longest), (0, 0, None));
//! ```

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::ids::{AgentId, ChannelId, ConversationId, TeamId};
use crate::model::{Agent, Conversation, ConversationStatus, Message, Presence};
use crate::sla::SlaTargetState;

/// What a live snapshot covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LiveQuery {
    /// On this number only.
    #[serde(default)]
    pub channel: Option<ChannelId>,
    /// In this team only (conversations in its queue or owned within it,
    /// and its agents).
    #[serde(default)]
    pub team: Option<TeamId>,
    /// Now (the inbox fills it from its clock).
    pub now: DateTime<Utc>,
}

impl LiveQuery {
    /// The whole tenant at `now`.
    pub fn at(now: DateTime<Utc>) -> Self {
        Self {
            channel: None,
            team: None,
            now,
        }
    }

    /// Whether an active conversation is in the population.
    pub fn includes(&self, c: &Conversation) -> bool {
        c.status.is_active()
            && self.channel.as_ref().is_none_or(|x| &c.channel == x)
            && self
                .team
                .as_ref()
                .is_none_or(|x| c.team.as_ref() == Some(x))
    }
}

/// The conversation whose customer has waited longest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Waiting {
    /// The conversation.
    pub conversation: ConversationId,
    /// Waiting since (their oldest unanswered message).
    pub since: DateTime<Utc>,
}

/// An agent's load against their capacity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AgentLoad {
    /// The agent.
    pub agent: AgentId,
    /// Online, away or offline.
    pub presence: Presence,
    /// Active conversations they own.
    pub load: u32,
    /// Their capacity (0: unlimited).
    pub capacity: u32,
}

impl AgentLoad {
    /// Whether they are at or over capacity.
    pub fn is_full(&self) -> bool {
        self.capacity != 0 && self.load >= self.capacity
    }
}

/// What the team faces now (see the [module docs](self) for exact
/// definitions).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LiveSnapshot {
    /// When it was taken.
    pub at: DateTime<Utc>,
    /// Active conversations.
    pub active: u64,
    /// Of those, open.
    pub open: u64,
    /// Of those, pending on the customer.
    pub pending: u64,
    /// Of those, snoozed.
    pub snoozed: u64,
    /// Active without an owner.
    pub unassigned: u64,
    /// Active with the customer waiting for an answer.
    pub waiting: u64,
    /// The longest wait.
    pub waiting_longest: Option<Waiting>,
    /// Active with an SLA target about to be missed.
    pub sla_at_risk: u64,
    /// Active with an SLA target missed.
    pub sla_breached: u64,
    /// Outbound messages in doubt (they may not have reached the
    /// customer), in any conversation on the number and team.
    #[serde(default)]
    pub in_doubt: u64,
    /// Agents and their loads, by id.
    pub agents: Vec<AgentLoad>,
}

impl LiveSnapshot {
    /// An empty snapshot at `at`.
    pub fn empty(at: DateTime<Utc>) -> Self {
        Self {
            at,
            active: 0,
            open: 0,
            pending: 0,
            snoozed: 0,
            unassigned: 0,
            waiting: 0,
            waiting_longest: None,
            sla_at_risk: 0,
            sla_breached: 0,
            in_doubt: 0,
            agents: Vec::new(),
        }
    }

    /// Computes a snapshot over a tenant's conversations and agents in
    /// memory (the reference implementation; the memory store uses it).
    pub fn compute<'a>(
        query: &LiveQuery,
        conversations: impl IntoIterator<Item = &'a Conversation>,
        agents: impl IntoIterator<Item = &'a Agent>,
    ) -> Self {
        let now = query.now;
        let mut s = Self::empty(now);
        let mut loads: BTreeMap<&AgentId, u32> = BTreeMap::new();
        for c in conversations {
            if !c.status.is_active() {
                continue;
            }
            if let Some(a) = &c.assignee {
                *loads.entry(a).or_default() += 1;
            }
            if !query.includes(c) {
                continue;
            }
            s.active += 1;
            match c.status {
                ConversationStatus::Open => s.open += 1,
                ConversationStatus::Pending => s.pending += 1,
                ConversationStatus::Snoozed => s.snoozed += 1,
                ConversationStatus::Resolved => {}
            }
            if c.assignee.is_none() {
                s.unassigned += 1;
            }
            if let Some(since) = c.waiting_since {
                s.waiting += 1;
                let longer = s
                    .waiting_longest
                    .as_ref()
                    .is_none_or(|w| (since, &c.id) < (w.since, &w.conversation));
                if longer {
                    s.waiting_longest = Some(Waiting {
                        conversation: c.id.clone(),
                        since,
                    });
                }
            }
            let targets = c.sla.iter().flat_map(|x| &x.targets);
            let mut at_risk = false;
            let mut breached = false;
            for t in targets {
                match t.state {
                    SlaTargetState::Active if t.due_at <= now => breached = true,
                    SlaTargetState::Active if t.warn_at <= now => at_risk = true,
                    SlaTargetState::Breached { .. } => breached = true,
                    _ => {}
                }
            }
            s.sla_at_risk += u64::from(at_risk);
            s.sla_breached += u64::from(breached);
        }
        let mut agents: Vec<AgentLoad> = agents
            .into_iter()
            .filter(|a| a.active && !a.service)
            .filter(|a| query.team.as_ref().is_none_or(|t| a.is_in_team(t)))
            .map(|a| AgentLoad {
                agent: a.id.clone(),
                presence: a.presence,
                load: loads.get(&a.id).copied().unwrap_or(0),
                capacity: a.capacity,
            })
            .collect();
        agents.sort_by(|a, b| a.agent.cmp(&b.agent));
        s.agents = agents;
        s
    }

    /// The `in_doubt` count over a tenant's messages, each with its
    /// conversation (the reference implementation; the memory store uses
    /// it).
    pub fn count_in_doubt<'a>(
        query: &LiveQuery,
        messages: impl IntoIterator<Item = (&'a Message, &'a Conversation)>,
    ) -> u64 {
        let narrowed = |c: &Conversation| {
            query.channel.as_ref().is_none_or(|x| &c.channel == x)
                && query
                    .team
                    .as_ref()
                    .is_none_or(|x| c.team.as_ref() == Some(x))
        };
        messages
            .into_iter()
            .filter(|(m, c)| m.is_in_doubt() && narrowed(c))
            .count() as u64
    }

    /// Agents at or over capacity.
    pub fn full_agents(&self) -> impl Iterator<Item = &AgentLoad> {
        self.agents.iter().filter(|a| a.is_full())
    }
}
