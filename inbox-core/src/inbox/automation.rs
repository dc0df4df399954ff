//! Running routing and automation rules inside the inbox's commits.

use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use std::sync::Arc;

use super::commit::{Decision, Retry};
use super::Inbox;
use crate::error::{Error, Result};
use crate::event::Ownership;
use crate::event::{Event, EventActor, EventKind};
use crate::ids::{AgentId, ContactId, MessageId, TeamId, TenantId};
use crate::model::ConversationStatus;
use crate::model::{Author, Contact, Content, Conversation, DeliveryState, Direction, Message};
use crate::ports::{LoadScope, OutboxEntry};
use crate::query::{AssigneeFilter, ConversationFilter, ConversationQuery, Cursor, SortOrder};
use crate::routing::{
    DrainCause, Effect, OfflinePolicy, Roster, Routing, RoutingCursor, RunInput, RunOutcome,
    TriggerKind, Waiting,
};

/// How many team queues one rules run may look at before it stops looking
/// at queues.
const MAX_QUEUE_LOOKUPS: u32 = 16;

/// What a rules run adds to a commit.
#[derive(Debug, Default)]
pub(crate) struct Automated {
    /// Events with the rule as actor (not yet numbered or placed on the
    /// conversation).
    pub events: Vec<(EventActor, EventKind)>,
    /// Notes and automatic replies.
    pub messages: Vec<Message>,
    /// Outbox entries of the automatic replies.
    pub outbox: Vec<OutboxEntry>,
    /// Round-robin cursors to store.
    pub cursors: Vec<RoutingCursor>,
    /// Teams where an assignment found nobody available (no point
    /// draining them right after the commit).
    pub no_room: Vec<TeamId>,
}

impl Automated {
    /// The events, placed on the conversation at `version`.
    pub fn events_on(&self, c: &Conversation, now: DateTime<Utc>) -> Vec<Event> {
        self.events
            .iter()
            .map(|(actor, kind)| {
                Event::new(c.tenant.clone(), now, actor.clone(), kind.clone()).on(&c.id, c.version)
            })
            .collect()
    }
}

/// What an agent going offline did to their conversations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OfflineReport {
    /// Conversations left with the agent.
    pub kept: u32,
    /// Conversations returned to their team queue.
    pub returned: u32,
    /// Conversations given to another agent.
    pub reassigned: u32,
}

impl Inbox {
    /// The routing and automation rules a tenant runs (from its
    /// settings: see [`Inbox::policy`]).
    pub async fn routing_for(&self, tenant: &TenantId) -> Result<Arc<Routing>> {
        Ok(self.policy(tenant).await?.routing.clone())
    }

    /// Everything assignment needs to know about a tenant's agents (queues
    /// not looked at: [`Roster::queues`] is `None`).
    ///
    /// The cursors are read first: an assignment committed with them (a
    /// queue drain stores the cursors of its agent's teams) is refused if
    /// another one moved them since, so the loads it read after them are
    /// still the loads when it commits.
    pub async fn roster(&self, tenant: &TenantId, contact: Option<&ContactId>) -> Result<Roster> {
        let store = &self.ports.store;
        let cursors = store
            .routing_cursors(tenant)
            .await?
            .into_iter()
            .map(|c| (c.team.clone(), c))
            .collect();
        let agents = store.agents(tenant).await?;
        let loads = store.agent_loads(tenant, &LoadScope::Tenant).await?;
        let last_agent = match contact {
            Some(k) => store.last_assignee(tenant, k).await?,
            None => None,
        };
        Ok(Roster {
            agents,
            loads,
            last_agent,
            cursors,
            queues: None,
        })
    }

    /// Runs the tenant's rules for `triggers` on a draft conversation and
    /// turns their effects into what to commit; always refreshes the
    /// conversation's automation due time.
    pub(crate) async fn run_rules(
        &self,
        conversation: &mut Conversation,
        contact: Option<&Contact>,
        message: Option<&Content>,
        triggers: &[TriggerKind],
        now: DateTime<Utc>,
    ) -> Result<Automated> {
        let policy = self.policy(&conversation.tenant).await?;
        let routing = policy.routing.clone();
        let listening: Vec<TriggerKind> = triggers
            .iter()
            .copied()
            .filter(|t| routing.listens(*t))
            .collect();
        if listening.is_empty() {
            conversation.automation_due = routing.next_due(conversation);
            return Ok(Automated::default());
        }
        // Conditions may look at the contact.
        let loaded;
        let contact = match contact {
            Some(k) => Some(k),
            None => {
                loaded = match self
                    .ports
                    .store
                    .contact(&conversation.tenant, &conversation.contact)
                    .await
                {
                    Ok(k) => Some(k),
                    Err(Error::NotFound { .. }) => None,
                    Err(e) => return Err(e),
                };
                loaded.as_ref()
            }
        };
        let calendar = policy.sla.calendar_for(conversation);
        let input = RunInput {
            triggers: &listening,
            contact,
            message,
            now,
            calendar,
            roster: None,
        };
        // A run that turns out to need the agents (or a team's queue)
        // starts again from the draft as it was; only rule sets that can
        // assign need the copy.
        let before = routing.uses_roster().then(|| conversation.clone());
        let mut outcome = routing.run(conversation, &input);
        if let Some(before) = before {
            outcome = self
                .rerun(&routing, conversation, &before, input, outcome)
                .await?;
        }
        let mut done = Automated {
            cursors: outcome.cursors,
            no_room: outcome.no_room,
            ..Automated::default()
        };
        for effect in outcome.effects {
            match effect {
                Effect::Event { rule, kind } => {
                    done.events.push((EventActor::Automation(rule), kind));
                }
                Effect::Note { rule, text } => {
                    let id: MessageId = self.new_id("message")?;
                    let note = self.automation_message(
                        conversation,
                        id.clone(),
                        &rule,
                        Direction::Note,
                        Content::text(text),
                        now,
                    );
                    done.events.push((
                        EventActor::Automation(rule),
                        EventKind::NoteAdded {
                            message: id,
                            mentions: Vec::new(),
                        },
                    ));
                    done.messages.push(note);
                }
                Effect::Reply { rule, content } => {
                    let id: MessageId = self.new_id("message")?;
                    let kind = content.kind().to_string();
                    let mut reply = self.automation_message(
                        conversation,
                        id.clone(),
                        &rule,
                        Direction::Outbound,
                        content,
                        now,
                    );
                    reply.delivery = Some(DeliveryState::pending(now));
                    done.outbox.push(OutboxEntry {
                        tenant: conversation.tenant.clone(),
                        message: id.clone(),
                        not_before: now,
                        attempts: 0,
                    });
                    done.events.push((
                        EventActor::Automation(rule),
                        EventKind::ReplyQueued {
                            message: id,
                            content: kind,
                        },
                    ));
                    done.messages.push(reply);
                }
            }
        }
        Ok(done)
    }

    /// Runs the rules again, from the draft as it was (`before`), while a
    /// run asks for the roster or a team's queue, giving it what it asked
    /// for.
    async fn rerun(
        &self,
        routing: &Routing,
        conversation: &mut Conversation,
        before: &Conversation,
        input: RunInput<'_>,
        mut outcome: RunOutcome,
    ) -> Result<RunOutcome> {
        let mut roster: Option<Roster> = None;
        let mut reruns = 0;
        while outcome.needs_roster || outcome.needs_queue.is_some() {
            reruns += 1;
            *conversation = before.clone();
            let mut r = match roster.take() {
                Some(r) => r,
                None => {
                    let mut r = self
                        .roster(&conversation.tenant, Some(&conversation.contact))
                        .await?;
                    r.queues = Some(BTreeMap::new());
                    r
                }
            };
            if let Some(team) = outcome.needs_queue.take() {
                let waiting = self.queue_head(&conversation.tenant, &team).await?;
                r.queues
                    .get_or_insert_with(BTreeMap::new)
                    .insert(team, waiting);
            }
            if reruns > MAX_QUEUE_LOOKUPS {
                // Never expected (each team is looked at once): assign
                // without looking at queues rather than not at all.
                r.queues = None;
            }
            let r = roster.insert(r);
            outcome = routing.run(
                conversation,
                &RunInput {
                    roster: Some(r),
                    ..input
                },
            );
        }
        // An agent chosen from the loads read: the commit carries the
        // fences of the agent's teams, so a queue drain or another rule
        // that read the same loads cannot also fill the agent's last place.
        if let (Some(r), Some(agent)) = (&roster, &conversation.assignee) {
            if before.assignee.as_ref() != Some(agent) {
                let picked = std::mem::take(&mut outcome.cursors);
                outcome.cursors = fences(r, agent, picked);
            }
        }
        Ok(outcome)
    }

    fn automation_message(
        &self,
        c: &mut Conversation,
        id: MessageId,
        rule: &str,
        direction: Direction,
        content: Content,
        now: DateTime<Utc>,
    ) -> Message {
        let author = Author::Automation(rule.to_string());
        super::written(c, id, author, direction, content, now)
    }

    /// Applies the team policies to the open conversations of an agent who
    /// went offline: they stay, go back to the queue, or go to another
    /// agent, per the policy of each conversation's team. Conversations
    /// returned to a queue that drains by itself then go to agents with
    /// room, longest waiting first. Called by [`Inbox::set_presence`]; call
    /// it yourself when presence changes elsewhere (a session timing out).
    pub async fn handle_agent_offline(
        &self,
        tenant: &TenantId,
        agent: &AgentId,
    ) -> Result<OfflineReport> {
        let routing = self.routing_for(tenant).await?;
        let mut report = OfflineReport::default();
        let mut returned_to: Vec<TeamId> = Vec::new();
        let mut after = None;
        loop {
            let page = self
                .ports
                .store
                .list_conversations(
                    tenant,
                    &ConversationQuery {
                        filter: ConversationFilter {
                            assignee: AssigneeFilter::Agent(agent.clone()),
                            statuses: vec![
                                ConversationStatus::Open,
                                ConversationStatus::Pending,
                                ConversationStatus::Snoozed,
                            ],
                            ..ConversationFilter::default()
                        },
                        sort: SortOrder::OldestActivity,
                        after: after.take(),
                        limit: 200,
                    },
                )
                .await?;
            for c in &page.items {
                let team = c.team.clone();
                let policy = team
                    .as_ref()
                    .map(|t| routing.team_policy(t).when_offline)
                    .unwrap_or_default();
                if policy == OfflinePolicy::Stay {
                    report.kept += 1;
                    continue;
                }
                match self.offline_one(tenant, c, agent, policy, &routing).await? {
                    Some(true) => report.reassigned += 1,
                    Some(false) => {
                        report.returned += 1;
                        if let Some(t) = team.filter(|t| !returned_to.contains(t)) {
                            returned_to.push(t);
                        }
                    }
                    None => report.kept += 1,
                }
            }
            match page.next {
                Some(n) => after = Some(n),
                None => break,
            }
        }
        if !returned_to.is_empty() {
            let now = self.now();
            self.drain_quietly(tenant, &returned_to, &DrainCause::FirstInLine, now)
                .await;
        }
        Ok(report)
    }

    /// Moves one conversation off an offline agent; `Some(true)` when it
    /// went to another agent, `Some(false)` when to the queue, `None` when
    /// it changed meanwhile and was left alone.
    async fn offline_one(
        &self,
        tenant: &TenantId,
        seen: &Conversation,
        agent: &AgentId,
        policy: OfflinePolicy,
        routing: &Routing,
    ) -> Result<Option<bool>> {
        let reassign = policy == OfflinePolicy::Reassign;
        let outcome = self
            .reroute(
                tenant,
                seen,
                |c| c.assignee.as_ref() == Some(agent) && c.status.is_active(),
                reassign.then_some(routing),
                &format!("{agent} went offline"),
            )
            .await?;
        Ok(outcome)
    }

    /// Hands the conversations waiting unassigned in a team's queue (those
    /// waiting longest first, up to `limit`) to available agents with the
    /// team's strategy, until nobody is available. Returns how many were
    /// assigned. Manual teams are left alone.
    ///
    /// The inbox already does this whenever capacity frees (a conversation
    /// resolved, released or handed on, a capacity raised, an agent coming
    /// online) and on every [`Inbox::tick`]; call it when something else
    /// made room. See [`Inbox::drain_queues`].
    pub async fn assign_queued(&self, tenant: &TenantId, team: &TeamId, limit: u32) -> Result<u32> {
        self.drain_queues(
            tenant,
            std::slice::from_ref(team),
            &DrainCause::Requested,
            limit,
        )
        .await
    }

    /// The first conversations waiting in a team's queue, longest waiting
    /// first (what a rules run needs to know so that nobody jumps it).
    pub(crate) async fn queue_head(
        &self,
        tenant: &TenantId,
        team: &TeamId,
    ) -> Result<Vec<Waiting>> {
        let page = self
            .ports
            .store
            .list_conversations(tenant, &waiting_in(team, 2, None))
            .await?;
        Ok(page.items.iter().map(Waiting::of).collect())
    }

    /// Takes a conversation's owner away and, with `routing`, picks a new
    /// one in its team; commits with an explanation. `still` re-checks the
    /// conversation on every attempt. `Some(true)`: it went to an agent;
    /// `Some(false)`: to the queue; `None`: it no longer qualified.
    async fn reroute(
        &self,
        tenant: &TenantId,
        seen: &Conversation,
        still: impl Fn(&Conversation) -> bool,
        routing: Option<&Routing>,
        why: &str,
    ) -> Result<Option<bool>> {
        let mut retry = Retry::default();
        let mut current = seen.clone();
        loop {
            if !still(&current) {
                return Ok(None);
            }
            let now = self.now();
            let mut next = current.clone();
            next.assignee = None;
            let mut reason = format!("{why} → back to the queue");
            let mut cursors = Vec::new();
            if let (Some(routing), Some(team)) = (routing, &current.team) {
                let roster = self.roster(tenant, Some(&current.contact)).await?;
                let pick = routing.pick_in_team(&current, team, &roster, now);
                reason = format!("{why} → team {team} → {}", pick.explanation);
                if let Some(agent) = &pick.agent {
                    cursors = fences(&roster, agent, pick.cursor.clone());
                }
                next.assignee = pick.agent;
            }
            let to_agent = next.assignee.is_some();
            let actor = EventActor::Automation("assignment policy".into());
            let decision = assignment(&current, next, reason, actor, cursors);
            match self.apply_assignment(decision).await {
                Ok(_) => return Ok(Some(to_agent)),
                Err(e) => retry.again(e, &self.config)?,
            }
            current = self.ports.store.conversation(tenant, &seen.id).await?;
        }
    }
}

/// The decision that moves `current` to the owner (or queue) of `next`,
/// with an `assigned` event giving `reason` and `cursors` to store. An
/// automatic assignment: no rules run, and it does not drain the queues
/// itself.
pub(crate) fn assignment(
    current: &Conversation,
    next: Conversation,
    reason: String,
    actor: EventActor,
    cursors: Vec<RoutingCursor>,
) -> Decision<'static> {
    let mut d = Decision::new(actor, current.clone(), next);
    d.events.push(EventKind::Assigned {
        from: Ownership {
            agent: current.assignee.clone(),
            team: current.team.clone(),
        },
        to: Ownership {
            agent: d.after.assignee.clone(),
            team: d.after.team.clone(),
        },
        reason,
        warning: None,
    });
    d.rows.cursors = cursors;
    d
}

/// The listing of a team's queue: unassigned, open or pending, longest
/// waiting first.
pub(crate) fn waiting_in(team: &TeamId, limit: u32, after: Option<Cursor>) -> ConversationQuery {
    ConversationQuery {
        filter: ConversationFilter {
            assignee: AssigneeFilter::Unassigned,
            team: Some(team.clone()),
            statuses: vec![ConversationStatus::Open, ConversationStatus::Pending],
            ..ConversationFilter::default()
        },
        sort: SortOrder::WaitingLongest,
        after,
        limit: limit.clamp(1, ConversationQuery::MAX_LIMIT),
    }
}

/// The cursors an automatic assignment to `agent` stores: one for each of
/// the agent's teams, moved one version on (the round-robin position only
/// where `picked` moved it). Two assignments to agents who share a team
/// therefore cannot both commit from the same look at the loads: the
/// second is refused with a conflict and looks again, so no capacity is
/// exceeded however many instances assign at once.
pub(crate) fn fences(
    roster: &Roster,
    agent: &AgentId,
    picked: impl IntoIterator<Item = RoutingCursor>,
) -> Vec<RoutingCursor> {
    let teams = roster
        .agents
        .iter()
        .find(|a| &a.id == agent)
        .map(|a| a.teams.clone())
        .unwrap_or_default();
    let mut out: Vec<RoutingCursor> = picked.into_iter().collect();
    for team in teams {
        if out.iter().any(|c| c.team == team) {
            continue;
        }
        let stored = roster.cursors.get(&team);
        out.push(RoutingCursor {
            last: stored.and_then(|c| c.last.clone()),
            version: stored.map_or(0, |c| c.version) + 1,
            team,
        });
    }
    out
}
