//! Running routing and automation rules inside the inbox's commits.

use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use std::sync::Arc;

use super::Inbox;
use crate::error::{Error, Result};
use crate::event::{Event, EventActor, EventKind};
use crate::ids::{AgentId, ContactId, MessageId, TeamId, TenantId};
use crate::model::ConversationStatus;
use crate::model::{
    Author, Contact, Content, Conversation, DeliveryState, Direction, Message, ReplyContext,
};
use crate::ports::{Changeset, OutboxEntry, Write};
use crate::query::{AssigneeFilter, ConversationFilter, ConversationQuery, SortOrder};
use crate::routing::{
    Effect, OfflinePolicy, Roster, Routing, RoutingCursor, RunInput, TriggerKind,
};
use crate::timer::timer_changes;

/// Routing configurations: one per tenant, and a default.
#[derive(Debug, Default)]
pub(crate) struct RoutingTable {
    default: Arc<Routing>,
    tenants: BTreeMap<TenantId, Arc<Routing>>,
}

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
    /// Sets the routing rules and team policies of one tenant (replacing
    /// what it had). Takes effect for the next message or action.
    pub fn set_routing(&self, tenant: &TenantId, routing: Routing) {
        let mut table = self.routing.write().unwrap_or_else(|e| e.into_inner());
        table.tenants.insert(tenant.clone(), Arc::new(routing));
    }

    /// Sets the routing of tenants without their own.
    pub fn set_default_routing(&self, routing: Routing) {
        let mut table = self.routing.write().unwrap_or_else(|e| e.into_inner());
        table.default = Arc::new(routing);
    }

    /// The routing a tenant runs.
    pub fn routing_for(&self, tenant: &TenantId) -> Arc<Routing> {
        let table = self.routing.read().unwrap_or_else(|e| e.into_inner());
        table
            .tenants
            .get(tenant)
            .cloned()
            .unwrap_or_else(|| table.default.clone())
    }

    /// Everything assignment needs to know about a tenant's agents.
    pub async fn roster(&self, tenant: &TenantId, contact: Option<&ContactId>) -> Result<Roster> {
        let store = &self.ports.store;
        let agents = store.agents(tenant).await?;
        let loads = store.agent_loads(tenant).await?;
        let last_agent = match contact {
            Some(k) => store.last_assignee(tenant, k).await?,
            None => None,
        };
        let cursors = store
            .routing_cursors(tenant)
            .await?
            .into_iter()
            .map(|c| (c.team.clone(), c))
            .collect();
        Ok(Roster {
            agents,
            loads,
            last_agent,
            cursors,
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
        let routing = self.routing_for(&conversation.tenant);
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
        let config = self.config.clone();
        let calendar = config
            .sla_for(&conversation.tenant)
            .calendar_for(conversation);
        let mut input = RunInput {
            triggers: &listening,
            contact,
            message,
            now,
            calendar,
            roster: None,
        };
        // A run that turns out to need the agents starts again from the
        // draft as it was; only rule sets that can assign need the copy.
        let before = routing.uses_roster().then(|| conversation.clone());
        let mut outcome = routing.run(conversation, &input);
        let roster;
        if let (true, Some(before)) = (outcome.needs_roster, before) {
            *conversation = before;
            roster = self
                .roster(&conversation.tenant, Some(&conversation.contact))
                .await?;
            input.roster = Some(&roster);
            outcome = routing.run(conversation, &input);
        }
        let mut done = Automated {
            cursors: outcome.cursors,
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

    fn automation_message(
        &self,
        c: &mut Conversation,
        id: MessageId,
        rule: &str,
        direction: Direction,
        content: Content,
        now: DateTime<Utc>,
    ) -> Message {
        c.message_count += 1;
        c.last_activity_at = c.last_activity_at.max(now);
        Message {
            tenant: c.tenant.clone(),
            id,
            conversation: c.id.clone(),
            channel: c.channel.clone(),
            direction,
            author: Author::Automation(rule.to_string()),
            content,
            external_id: None,
            idempotency_key: None,
            context: ReplyContext::default(),
            mentions: Vec::new(),
            sent_at: now,
            created_at: now,
            delivery: None,
            response: None,
        }
    }

    /// Applies the team policies to the open conversations of an agent who
    /// went offline: they stay, go back to the queue, or go to another
    /// agent, per the policy of each conversation's team. Called by
    /// [`Inbox::set_presence`]; call it yourself when presence changes
    /// elsewhere (a session timing out).
    pub async fn handle_agent_offline(
        &self,
        tenant: &TenantId,
        agent: &AgentId,
    ) -> Result<OfflineReport> {
        let routing = self.routing_for(tenant);
        let mut report = OfflineReport::default();
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
                    Some(false) => report.returned += 1,
                    None => report.kept += 1,
                }
            }
            match page.next {
                Some(n) => after = Some(n),
                None => break,
            }
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
                false,
                &format!("{agent} went offline"),
            )
            .await?;
        Ok(match outcome {
            Rerouted::Moved { to_agent } => Some(to_agent),
            Rerouted::Unchanged | Rerouted::NobodyAvailable => None,
        })
    }

    /// Hands the conversations waiting unassigned in a team's queue (those
    /// waiting longest first, up to `limit`) to available agents with the
    /// team's strategy, until nobody is available. Returns how many were
    /// assigned. Manual teams are left alone. [`Inbox::set_presence`] calls
    /// it for an agent's teams when they come online; call it when capacity
    /// frees up elsewhere (a ticker, after resolving).
    pub async fn assign_queued(&self, tenant: &TenantId, team: &TeamId, limit: u32) -> Result<u32> {
        let routing = self.routing_for(tenant);
        if routing.team_policy(team).strategy == crate::routing::Strategy::Manual {
            return Ok(0);
        }
        let page = self
            .ports
            .store
            .list_conversations(
                tenant,
                &ConversationQuery {
                    filter: ConversationFilter {
                        assignee: AssigneeFilter::Unassigned,
                        team: Some(team.clone()),
                        statuses: vec![ConversationStatus::Open, ConversationStatus::Pending],
                        ..ConversationFilter::default()
                    },
                    sort: SortOrder::WaitingLongest,
                    after: None,
                    limit: limit.clamp(1, ConversationQuery::MAX_LIMIT),
                },
            )
            .await?;
        let mut assigned = 0;
        for c in &page.items {
            let outcome = self
                .reroute(
                    tenant,
                    c,
                    |c| {
                        c.assignee.is_none()
                            && c.team.as_ref() == Some(team)
                            && c.status.is_active()
                    },
                    Some(&routing),
                    true,
                    "from the queue",
                )
                .await?;
            match outcome {
                Rerouted::Moved { .. } => assigned += 1,
                Rerouted::Unchanged => {}
                Rerouted::NobodyAvailable => break,
            }
        }
        Ok(assigned)
    }

    /// Takes a conversation's owner away and, with `routing`, picks a new
    /// one in its team; commits with an explanation. `still` re-checks the
    /// conversation on every attempt; `need_agent` leaves it alone when
    /// nobody is available.
    async fn reroute(
        &self,
        tenant: &TenantId,
        seen: &Conversation,
        still: impl Fn(&Conversation) -> bool,
        routing: Option<&Routing>,
        need_agent: bool,
        why: &str,
    ) -> Result<Rerouted> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let current = if attempt == 1 {
                seen.clone()
            } else {
                self.ports.store.conversation(tenant, &seen.id).await?
            };
            if !still(&current) {
                return Ok(Rerouted::Unchanged);
            }
            let now = self.now();
            let mut next = current.clone();
            let from = crate::event::Ownership {
                agent: current.assignee.clone(),
                team: current.team.clone(),
            };
            next.assignee = None;
            let mut cursor = None;
            let mut reason = format!("{why} → back to the queue");
            if let (Some(routing), Some(team)) = (routing, &current.team) {
                let roster = self.roster(tenant, Some(&current.contact)).await?;
                let pick = routing.pick_in_team(&current, team, &roster, now);
                reason = format!("{why} → team {team} → {}", pick.explanation);
                next.assignee = pick.agent;
                cursor = pick.cursor;
            }
            if need_agent && next.assignee.is_none() {
                return Ok(Rerouted::NobodyAvailable);
            }
            let to = crate::event::Ownership {
                agent: next.assignee.clone(),
                team: next.team.clone(),
            };
            let to_agent = to.agent.is_some();
            let mut kinds = vec![EventKind::Assigned {
                from,
                to,
                reason,
                warning: None,
            }];
            kinds.extend(
                self.config
                    .sla_for(tenant)
                    .apply(Some(&current), &mut next, now),
            );
            next.version = current.version + 1;
            next.updated_at = now;
            let events = kinds
                .into_iter()
                .map(|k| {
                    Event::new(
                        tenant.clone(),
                        now,
                        EventActor::Automation("assignment policy".into()),
                        k,
                    )
                    .on(&next.id, next.version)
                })
                .collect();
            let timers = timer_changes(Some(&current), &next, &self.config.timers);
            let changes = Changeset {
                conversation: Some(Write {
                    value: next,
                    expected_version: Some(current.version),
                }),
                events,
                timers,
                cursors: cursor.into_iter().collect(),
                ..Changeset::new(tenant.clone())
            };
            match self.ports.store.commit(changes).await {
                Ok(committed) => {
                    self.publish(&committed.events).await;
                    return Ok(Rerouted::Moved { to_agent });
                }
                Err(Error::Conflict(_)) if attempt < self.config.commit_attempts + 64 => continue,
                Err(e) if e.is_retryable() && attempt < self.config.commit_attempts => continue,
                Err(e) => return Err(e),
            }
        }
    }
}

/// What [`Inbox::reroute`] did.
enum Rerouted {
    /// Committed; to an agent or to the queue.
    Moved { to_agent: bool },
    /// The conversation no longer qualified.
    Unchanged,
    /// Nobody was available and an agent was required.
    NobodyAvailable,
}
