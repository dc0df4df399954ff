//! Draining team queues: when capacity frees, the conversations waiting
//! longest get it first.
//!
//! A team whose strategy is automatic (not `manual`) has a queue that
//! drains by itself: its conversations waiting unassigned go to agents with
//! room, longest waiting first, with the team's strategy choosing among the
//! agents (skills and shifts respected; sticky decides who gets a
//! conversation, never which conversation goes first). The inbox drains
//! right after every commit that makes room or fills a queue (resolve,
//! release, transfer or reassignment away, a capacity raised, an agent
//! coming online, a conversation returned to a queue) and on every
//! [`Inbox::tick`], which catches what no event announces (a shift
//! starting, presence changed elsewhere).
//!
//! Each placement reads the loads afresh and commits with the cursors of
//! the chosen agent's teams moved one version on, so a placement made from
//! loads that changed meanwhile is refused and tried again: two instances
//! draining at once never exceed a capacity, and the conversation's own
//! version keeps it from being assigned twice.

use chrono::{DateTime, Utc};
use std::collections::VecDeque;

use super::automation::{assignment, fences, waiting_in};
use super::commit::{Decision, Retry};
use super::Inbox;
use crate::error::{Error, Result};
use crate::event::EventActor;
use crate::ids::{AgentId, ConversationId, TeamId, TenantId};
use crate::model::{Conversation, ConversationStatus};
use crate::query::{Cursor, SortOrder};
use crate::routing::{queue_reason, DrainCause, Roster, Routing};

/// Conversations read from a queue at once.
const PAGE: u32 = 50;
/// Most conversations one drain looks at (those nobody can take now, for
/// want of a skill, are passed over).
const MAX_EXAMINED: u32 = 1_000;
/// Most assignments a drain set off by one change makes (the tick goes on
/// with the rest).
const AFTER_CHANGE_LIMIT: u32 = 100;

/// Whether `c` waits in `team`'s queue.
fn waits_in(c: &Conversation, team: &TeamId) -> bool {
    c.assignee.is_none()
        && c.team.as_ref() == Some(team)
        && matches!(
            c.status,
            ConversationStatus::Open | ConversationStatus::Pending
        )
}

/// One team's queue as a drain walks it.
struct Line {
    team: TeamId,
    items: VecDeque<Conversation>,
    /// Where the next page starts.
    next: Option<Cursor>,
    /// A page was read (with no `next`, the queue is walked).
    read: bool,
}

/// What trying to place one conversation did.
enum Placed {
    Assigned,
    /// It no longer waits, or nobody can take this one.
    Skipped,
    /// Nobody in the team has room.
    TeamFull,
}

/// A conversation its owner just let go (released, or returned by a
/// policy), not to be handed straight back to them while someone else has
/// room.
type NotBack = (ConversationId, AgentId);

/// What a drain hands out and why.
#[derive(Clone, Copy)]
struct Drain<'a> {
    cause: &'a DrainCause,
    not_back: Option<&'a NotBack>,
    now: DateTime<Utc>,
}

/// The team queue a conversation waits in, with the routing that says how
/// its team assigns, during a drain.
#[derive(Clone, Copy)]
struct Queue<'a> {
    routing: &'a Routing,
    team: &'a TeamId,
    drain: Drain<'a>,
}

/// What placing a conversation would take.
enum Plan {
    Commit(Box<Decision<'static>>),
    /// Someone has room, but the strategy found nobody for this one.
    NoPick,
    TeamFull,
}

impl Inbox {
    /// Hands the conversations waiting in the queues of `teams` to agents
    /// with room: longest waiting first across those teams, each to the
    /// agent its team's strategy picks, until nobody has room or `limit`
    /// were assigned. Returns how many were. Manual teams are left alone.
    ///
    /// Every assignment says why: `queue: waited 14 min, ana freed
    /// capacity 4/5 → team sales → least loaded: ana 4/5 (ben 5/5 full)`,
    /// the middle part from `cause`. The inbox calls this itself when
    /// capacity frees and on every tick; call it when something it does
    /// not see made room.
    pub async fn drain_queues(
        &self,
        tenant: &TenantId,
        teams: &[TeamId],
        cause: &DrainCause,
        limit: u32,
    ) -> Result<u32> {
        let drain = Drain {
            cause,
            not_back: None,
            now: self.now(),
        };
        self.drain_at(tenant, teams, drain, limit).await
    }

    /// [`Inbox::drain_queues`], as `drain` says.
    async fn drain_at(
        &self,
        tenant: &TenantId,
        teams: &[TeamId],
        drain: Drain<'_>,
        limit: u32,
    ) -> Result<u32> {
        let routing = self.routing_for(tenant).await?;
        let mut lines: Vec<Line> = Vec::new();
        for team in teams {
            if routing.drains(team) && !lines.iter().any(|l| &l.team == team) {
                lines.push(Line {
                    team: team.clone(),
                    items: VecDeque::new(),
                    next: None,
                    read: false,
                });
            }
        }
        let (mut assigned, mut examined) = (0, 0);
        while assigned < limit && examined < MAX_EXAMINED {
            for line in &mut lines {
                self.refill(tenant, line).await?;
            }
            lines.retain(|l| !l.items.is_empty());
            let first = (0..lines.len()).min_by_key(|&i| {
                lines[i]
                    .items
                    .front()
                    .map(|c| SortOrder::WaitingLongest.key(c))
            });
            let Some(i) = first else { break };
            let Some(c) = lines[i].items.pop_front() else {
                break;
            };
            examined += 1;
            let queue = Queue {
                routing: &routing,
                team: &lines[i].team,
                drain,
            };
            match self.place(queue, &c).await? {
                Placed::Assigned => assigned += 1,
                Placed::Skipped => {}
                Placed::TeamFull => {
                    lines.remove(i);
                }
            }
        }
        Ok(assigned)
    }

    /// Reads the next page of a queue once the last one is used up.
    async fn refill(&self, tenant: &TenantId, line: &mut Line) -> Result<()> {
        if !line.items.is_empty() || (line.read && line.next.is_none()) {
            return Ok(());
        }
        let page = self
            .ports
            .store
            .list_conversations(tenant, &waiting_in(&line.team, PAGE, line.next.take()))
            .await?;
        line.read = true;
        line.items = page.items.into();
        line.next = page.next;
        Ok(())
    }

    /// Places one waiting conversation, reading the loads again after every
    /// lost race.
    async fn place(&self, queue: Queue<'_>, seen: &Conversation) -> Result<Placed> {
        let mut current = seen.clone();
        let mut retry = Retry::default();
        loop {
            if !waits_in(&current, queue.team) {
                return Ok(Placed::Skipped);
            }
            let decision = match self.plan(queue, &current).await? {
                Plan::Commit(d) => *d,
                Plan::NoPick => return Ok(Placed::Skipped),
                Plan::TeamFull => return Ok(Placed::TeamFull),
            };
            match self.apply_assignment(decision).await {
                Ok(_) => return Ok(Placed::Assigned),
                // The conversation or the loads moved: look again.
                Err(e) => retry.again(e, &self.config)?,
            }
            current = match self.ports.store.conversation(&seen.tenant, &seen.id).await {
                Ok(c) => c,
                Err(Error::NotFound { .. }) => return Ok(Placed::Skipped),
                Err(e) => return Err(e),
            };
        }
    }

    /// What giving `current` to the agent its team's strategy picks now
    /// would commit.
    async fn plan(&self, queue: Queue<'_>, current: &Conversation) -> Result<Plan> {
        let Queue {
            routing,
            team,
            drain,
        } = queue;
        let now = drain.now;
        let roster = self.roster(&current.tenant, Some(&current.contact)).await?;
        if !routing.has_room(team, &roster, now) {
            return Ok(Plan::TeamFull);
        }
        let who = drain
            .cause
            .agent()
            .and_then(|a| roster.agents.iter().find(|x| &x.id == a))
            .map(|a| (a, roster.loads.get(&a.id).copied().unwrap_or(0)));
        let mut cause = drain.cause.describe(who);
        // Someone else than the owner who just let it go, if anyone has
        // room; else the owner after all (nobody stays idle while it waits).
        let mut pick = None;
        if let Some((_, owner)) = drain.not_back.filter(|(c, _)| c == &current.id) {
            let others = Roster {
                agents: roster
                    .agents
                    .iter()
                    .filter(|a| &a.id != owner)
                    .cloned()
                    .collect(),
                ..roster.clone()
            };
            pick = Some(routing.pick_in_team(current, team, &others, now))
                .filter(|p| p.agent.is_some());
            if pick.is_some() {
                cause.push_str(", not back to ");
                cause.push_str(owner.as_str());
            }
        }
        let pick = pick.unwrap_or_else(|| routing.pick_in_team(current, team, &roster, now));
        let Some(agent) = pick.agent.clone() else {
            return Ok(Plan::NoPick);
        };
        let reason = queue_reason(
            current.waiting_since.map(|t| now - t),
            &cause,
            team,
            &pick.explanation,
        );
        let mut next = current.clone();
        next.assignee = Some(agent.clone());
        let cursors = fences(&roster, &agent, pick.cursor);
        Ok(Plan::Commit(Box::new(assignment(
            current,
            next,
            reason,
            EventActor::Automation("queue".into()),
            cursors,
        ))))
    }

    /// The commit a drain would make to place `current` now (`None`:
    /// nobody to give it to), for the conformance suite to race two of
    /// them.
    #[cfg(feature = "testing")]
    pub(crate) async fn plan_placement(
        &self,
        current: &Conversation,
        team: &TeamId,
    ) -> Result<Option<crate::ports::Changeset>> {
        let routing = self.routing_for(&current.tenant).await?;
        let drain = Drain {
            cause: &DrainCause::Requested,
            not_back: None,
            now: self.now(),
        };
        let now = drain.now;
        let queue = Queue {
            routing: &routing,
            team,
            drain,
        };
        let plan = self.plan(queue, current).await?;
        Ok(match plan {
            Plan::Commit(d) => Some(self.finish(*d, now).await?.changes),
            Plan::NoPick | Plan::TeamFull => None,
        })
    }

    /// Drains what a committed change of one conversation (from `before`
    /// to `after`) made room for: the teams of an owner it freed, and the
    /// queue it joined (unless assigning it there just found nobody:
    /// `no_room`); a conversation its owner let go into the queue goes to
    /// someone else if anyone else has room. Failures are logged, not returned:
    /// the change itself is committed, and the tick drains later.
    pub(crate) async fn after_change(
        &self,
        before: Option<&Conversation>,
        after: &Conversation,
        no_room: &[TeamId],
        now: DateTime<Utc>,
    ) {
        let routing = match self.routing_for(&after.tenant).await {
            Ok(r) if r.has_queue_teams() => r,
            Ok(_) => return,
            Err(e) => {
                tracing::warn!(error = %e, "settings unreadable: the tick drains later");
                return;
            }
        };
        let freed = before
            .filter(|b| b.status.is_active())
            .and_then(|b| b.assignee.clone())
            .filter(|owner| !(after.assignee.as_ref() == Some(owner) && after.status.is_active()));
        let mut joined = after.team.clone().filter(|t| {
            waits_in(after, t)
                && routing.drains(t)
                && !no_room.contains(t)
                && !before.is_some_and(|b| waits_in(b, t))
        });
        let not_back: Option<NotBack> = freed
            .clone()
            .filter(|_| joined.is_some())
            .map(|owner| (after.id.clone(), owner));
        let tenant = &after.tenant;
        if let Some(owner) = freed {
            match self.ports.store.agent(tenant, &owner).await {
                Ok(agent) => {
                    let cause = DrainCause::Freed(owner);
                    let drain = Drain {
                        cause: &cause,
                        not_back: not_back.as_ref(),
                        now,
                    };
                    self.drain_logged(tenant, &agent.teams, drain).await;
                    joined = joined.filter(|t| !agent.teams.contains(t));
                }
                Err(Error::NotFound { .. }) => {}
                Err(e) => tracing::warn!(error = %e, "queue drain: reading the agent failed"),
            }
        }
        if let Some(team) = joined {
            let drain = Drain {
                cause: &DrainCause::FirstInLine,
                not_back: not_back.as_ref(),
                now,
            };
            self.drain_logged(tenant, &[team], drain).await;
        }
    }

    /// Drains after a change that is already committed: failures are
    /// logged (the tick drains later).
    pub(crate) async fn drain_quietly(
        &self,
        tenant: &TenantId,
        teams: &[TeamId],
        cause: &DrainCause,
        now: DateTime<Utc>,
    ) {
        let drain = Drain {
            cause,
            not_back: None,
            now,
        };
        self.drain_logged(tenant, teams, drain).await;
    }

    /// [`Inbox::drain_at`], logging a failure. (Boxed: a drain decides and
    /// commits whole assignments, a large future every commit would
    /// otherwise carry, and move, for the few that drain.)
    async fn drain_logged(&self, tenant: &TenantId, teams: &[TeamId], drain: Drain<'_>) {
        if let Err(e) = Box::pin(self.drain_at(tenant, teams, drain, AFTER_CHANGE_LIMIT)).await {
            tracing::warn!(error = %e, tenant = %tenant, "queue drain failed; the tick retries");
        }
    }

    /// The tick's drain: every queue that drains by itself, of every tenant
    /// with settings, up to `limit` assignments.
    pub(crate) async fn drain_all(&self, now: DateTime<Utc>, limit: u32) -> Result<u32> {
        let mut assigned = 0;
        for (tenant, policy) in self.configured_tenants(now).await? {
            let teams = policy.routing.queue_teams();
            if teams.is_empty() || assigned >= limit {
                continue;
            }
            let drain = Drain {
                cause: &DrainCause::Tick,
                not_back: None,
                now,
            };
            assigned += self
                .drain_at(&tenant, &teams, drain, limit - assigned)
                .await?;
        }
        Ok(assigned)
    }
}
