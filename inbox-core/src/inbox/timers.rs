//! Firing due timers.

use chrono::{DateTime, Utc};

use super::commit::{Decision, SlaStep};
use super::Inbox;
use crate::error::{Error, Result};
use crate::event::{EventActor, EventKind};
use crate::model::{Conversation, ConversationStatus, Priority};
use crate::routing::TriggerKind;
use crate::sla::{BreachAction, SlaState, SlaTarget, SlaTargetKind, SlaTargetState};
use crate::timer::{desired_timers, Timer, TimerChange, TimerKind};

fn active_target(sla: &mut SlaState, kind: SlaTargetKind) -> Option<&mut SlaTarget> {
    sla.targets
        .iter_mut()
        .rev()
        .find(|t| t.kind == kind && t.state == SlaTargetState::Active)
}

/// What one tick did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TickReport {
    /// Snoozed conversations woken up.
    pub woken: u32,
    /// Window-closing warnings fired.
    pub window_warnings: u32,
    /// Follow-up reminders fired.
    pub follow_ups: u32,
    /// Conversations resolved after inactivity.
    pub auto_resolved: u32,
    /// SLA warnings fired.
    pub sla_warnings: u32,
    /// SLA breaches fired (with their breach actions).
    pub sla_breaches: u32,
    /// Time-triggered automation rules run (`no_agent_reply` ...).
    pub automations: u32,
    /// Bot turns taken, and planned handoffs made.
    pub bot_turns: u32,
    /// Satisfaction surveys sent or skipped.
    pub surveys: u32,
    /// Timers found stale (the state moved on) and cleared.
    pub cleared: u32,
    /// [Deferred](crate::timer::TimerKind::is_deferred) timers that came due
    /// before the time the state now asks for, re-armed for that time.
    pub rearmed: u32,
    /// Conversations given to agents from team queues (not a timer: see
    /// [`Inbox::drain_queues`]; not counted in [`TickReport::total`]).
    pub from_queue: u32,
}

impl TickReport {
    /// Timers handled.
    pub fn total(&self) -> u32 {
        self.woken
            + self.window_warnings
            + self.follow_ups
            + self.auto_resolved
            + self.sla_warnings
            + self.sla_breaches
            + self.automations
            + self.bot_turns
            + self.surveys
            + self.cleared
            + self.rearmed
    }
}

impl Inbox {
    /// Fires every timer due at `now` (up to `limit`): wakes snoozed
    /// conversations, warns about customer windows closing on conversations
    /// still waiting for an answer. Finding the due timers costs in
    /// proportion to how many are due. Idempotent: each timer fires in a
    /// version-checked commit that also clears it, so the same tick twice
    /// (or two instances ticking at once) fires nothing twice.
    ///
    /// Then drains the team queues (up to `limit` assignments) of every
    /// tenant with settings (all of them are loaded from the store on the
    /// first tick): what waits goes to agents whose shift started or who
    /// have room for a reason no event announced (one queue listing per
    /// team that drains by itself).
    pub async fn tick(&self, now: DateTime<Utc>, limit: u32) -> Result<TickReport> {
        let due = self.ports.store.due_timers(now, limit).await?;
        let mut report = TickReport::default();
        for timer in due {
            let fired = match timer.kind {
                // (boxed: a bot's turn is a large future)
                TimerKind::BotTurn => Box::pin(self.bot_turn(&timer, now)).await,
                TimerKind::SurveySend => Box::pin(self.survey_send(&timer, now)).await,
                TimerKind::BotHandoff => Box::pin(self.planned_handoff(&timer, now)).await,
                _ => self.fire(&timer, now).await,
            };
            match fired {
                Ok(Fired::Rearmed) => report.rearmed += 1,
                Ok(Fired::Did(kind)) => match kind {
                    TimerKind::SnoozeWake => report.woken += 1,
                    TimerKind::WindowWarning => report.window_warnings += 1,
                    TimerKind::FollowUp => report.follow_ups += 1,
                    TimerKind::InactivityResolve => report.auto_resolved += 1,
                    TimerKind::SlaWarning(_) => report.sla_warnings += 1,
                    TimerKind::SlaBreach(_) => report.sla_breaches += 1,
                    TimerKind::Automation => report.automations += 1,
                    TimerKind::BotTurn => report.bot_turns += 1,
                    TimerKind::SurveySend => report.surveys += 1,
                    TimerKind::BotHandoff => report.bot_turns += 1,
                },
                Ok(Fired::Cleared) => report.cleared += 1,
                // Another instance fired it first.
                Err(Error::Conflict(_)) => {}
                // The store failing: stop, the next tick goes on.
                Err(e) if e.is_retryable() => return Err(e),
                // This timer's tenant or conversation cannot be worked on
                // (settings that no longer compile ...): the others still
                // fire, and this one is tried again on the next tick.
                Err(e) => {
                    tracing::error!(tenant = %timer.tenant, conversation = %timer.conversation, error = %e, "timer not fired");
                }
            }
        }
        report.from_queue = self.drain_all(now, limit).await?;
        Ok(report)
    }

    /// Fires one timer: does what it is for, clears it when the state no
    /// longer asks for it, or re-arms it when the state asks for it later.
    /// A conflict is not retried: another instance changed the
    /// conversation (or fired the timer) first, and the next tick sees
    /// what is left.
    pub(super) async fn fire(&self, timer: &Timer, now: DateTime<Utc>) -> Result<Fired> {
        let store = &self.ports.store;
        let current = match store.conversation(&timer.tenant, &timer.conversation).await {
            Ok(c) => c,
            Err(Error::NotFound { .. }) => return Ok(Fired::Cleared),
            Err(e) => return Err(e),
        };
        let policy = self.policy(&timer.tenant).await?;
        let wanted = desired_timers(&current, &policy.timers());
        let applies = wanted.get(&timer.kind).is_some_and(|due| *due <= now);
        // A deferred timer that came due before the time now wanted.
        let rearm_at = wanted.get(&timer.kind).copied().filter(|due| *due > now);
        let mut next = current.clone();
        let kinds = if applies {
            self.timer_effect(timer.kind, &current, &mut next, now, &policy.sla)
        } else {
            Vec::new()
        };
        // A stale timer (the state no longer asks for it) is just cleared;
        // one that is wanted later (deferred) is re-armed for then.
        let stale_clear = match (applies, rearm_at) {
            (true, _) => Vec::new(),
            (false, Some(due_at)) => vec![TimerChange::Set(Timer {
                due_at,
                ..timer.clone()
            })],
            (false, None) => vec![TimerChange::Clear {
                conversation: current.id.clone(),
                kind: timer.kind,
            }],
        };
        let mut decision = Decision::new(EventActor::System, current, next);
        decision.events = kinds;
        // Automation rules react to what the timer did (SLA warnings and
        // breaches, tags, releases) and run their own time triggers.
        let own = applies && timer.kind == TimerKind::Automation;
        decision = decision.with_rules(if own { &[TriggerKind::Timer] } else { &[] });
        // Waking resumes paused SLA targets; resolving meets them.
        let moves_sla = matches!(
            timer.kind,
            TimerKind::SnoozeWake | TimerKind::InactivityResolve
        );
        if !(applies && moves_sla) {
            decision.sla = SlaStep::IfAutomated;
        }
        decision.rows.timers = stale_clear;
        let finished = self.finish(decision, now).await?;
        if finished.is_empty() {
            return Ok(Fired::Cleared);
        }
        self.commit_finished(finished).await?;
        Ok(match (applies, rearm_at) {
            (true, _) => Fired::Did(timer.kind),
            (false, Some(_)) => Fired::Rearmed,
            (false, None) => Fired::Cleared,
        })
    }

    /// What a due timer of `kind` does to `next` (a copy of `current`)
    /// under the tenant's SLA settings `sla`, and the events that say so.
    fn timer_effect(
        &self,
        kind: TimerKind,
        current: &Conversation,
        next: &mut Conversation,
        now: DateTime<Utc>,
        sla: &crate::sla::SlaSettings,
    ) -> Vec<EventKind> {
        let mut kinds = Vec::new();
        match kind {
            // The rules run when the decision is applied; bot turns are
            // taken apart (they ask the bot first).
            TimerKind::Automation
            | TimerKind::BotTurn
            | TimerKind::SurveySend
            | TimerKind::BotHandoff => {}
            TimerKind::SnoozeWake => {
                next.status = ConversationStatus::Open;
                next.snoozed_until = None;
                kinds.push(EventKind::StatusChanged {
                    from: ConversationStatus::Snoozed,
                    to: ConversationStatus::Open,
                    snoozed_until: None,
                });
            }
            TimerKind::WindowWarning => {
                if let Some(closes_at) = current.window_expires_at {
                    next.window_warned_for = Some(closes_at);
                    kinds.push(EventKind::WindowClosing { closes_at });
                }
            }
            TimerKind::FollowUp => {
                if let Some(replied) = current.last_agent_reply_at {
                    next.follow_up_for = Some(replied);
                    kinds.push(EventKind::FollowUpDue {
                        owner: current.assignee.clone(),
                        last_reply_at: replied,
                    });
                }
            }
            TimerKind::InactivityResolve => {
                next.status = ConversationStatus::Resolved;
                next.resolved_at = Some(now);
                next.waiting_since = None;
                kinds.push(EventKind::StatusChanged {
                    from: current.status,
                    to: ConversationStatus::Resolved,
                    snoozed_until: None,
                });
            }
            TimerKind::SlaWarning(target) => {
                if let Some(t) = next.sla.as_mut().and_then(|s| active_target(s, target)) {
                    t.warned = true;
                    kinds.push(EventKind::SlaWarning {
                        target: target.as_str().to_string(),
                        due_at: t.due_at,
                    });
                }
            }
            TimerKind::SlaBreach(target) => {
                let policy = sla.policy_for(current);
                let on_breach = policy.map(|p| p.on_breach.clone()).unwrap_or_default();
                kinds = breach(next, target, on_breach);
            }
        }
        kinds
    }
}

/// Marks the active `target` of `next` breached and takes the policy's
/// breach actions; returns the events (the breach first).
fn breach(
    next: &mut Conversation,
    target: SlaTargetKind,
    on_breach: Vec<BreachAction>,
) -> Vec<EventKind> {
    let mut kinds = Vec::new();
    let Some(t) = next.sla.as_mut().and_then(|s| active_target(s, target)) else {
        return kinds;
    };
    t.state = SlaTargetState::Breached { at: t.due_at };
    t.warned = true;
    let due_at = t.due_at;
    let mut actions = Vec::new();
    for action in on_breach {
        match action {
            BreachAction::RaisePriority => {
                let from = next.priority;
                let to = match from {
                    Priority::Low => Priority::Normal,
                    Priority::Normal => Priority::High,
                    Priority::High | Priority::Urgent => Priority::Urgent,
                };
                if to != from {
                    next.priority = to;
                    kinds.push(EventKind::PriorityChanged { from, to });
                }
                actions.push("raise_priority".to_string());
            }
            BreachAction::NotifySupervisor => actions.push("notify_supervisor".to_string()),
            BreachAction::ReturnToQueue => {
                if let Some(owner) = next.assignee.take() {
                    kinds.push(EventKind::Released {
                        agent: owner,
                        reason: format!("SLA {} breached", target.as_str()),
                    });
                }
                actions.push("return_to_queue".to_string());
            }
            BreachAction::Tag(tag) => {
                if let Ok(tag) = super::normalize_tag(&tag) {
                    if !next.tags.contains(&tag) {
                        next.tags.push(tag.clone());
                        next.tags.sort();
                        kinds.push(EventKind::Tagged {
                            added: vec![tag.clone()],
                            removed: vec![],
                        });
                    }
                    actions.push(format!("tag:{tag}"));
                }
            }
        }
    }
    kinds.insert(
        0,
        EventKind::SlaBreached {
            target: target.as_str().to_string(),
            due_at,
            actions,
        },
    );
    kinds
}

/// What firing one timer did.
pub(super) enum Fired {
    /// What the timer is for.
    Did(TimerKind),
    /// Nothing yet: the state asks for it later; re-armed for then.
    Rearmed,
    /// Nothing: the state no longer asks for it; cleared.
    Cleared,
}
