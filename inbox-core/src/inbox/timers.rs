//! Firing due timers.

use chrono::{DateTime, Utc};

use super::Inbox;
use crate::error::{Error, Result};
use crate::event::{Event, EventActor, EventKind};
use crate::model::ConversationStatus;
use crate::model::Priority;
use crate::ports::{Changeset, Write};
use crate::routing::TriggerKind;
use crate::sla::{BreachAction, SlaState, SlaTarget, SlaTargetKind, SlaTargetState};
use crate::timer::{desired_timers, timer_changes, Timer, TimerKind};

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
    /// tenant given routing of its own with [`Inbox::set_routing`]: what
    /// waits goes to agents whose shift started or who have room for a
    /// reason no event announced (one queue listing per team that drains
    /// by itself). Tenants on the default routing: call
    /// [`Inbox::drain_queues`] from your ticker.
    pub async fn tick(&self, now: DateTime<Utc>, limit: u32) -> Result<TickReport> {
        let due = self.ports.store.due_timers(now, limit).await?;
        let mut report = TickReport::default();
        for timer in due {
            match self.fire(&timer, now).await {
                Ok(Fired::Rearmed) => report.rearmed += 1,
                Ok(Fired::Did(kind)) => match kind {
                    TimerKind::SnoozeWake => report.woken += 1,
                    TimerKind::WindowWarning => report.window_warnings += 1,
                    TimerKind::FollowUp => report.follow_ups += 1,
                    TimerKind::InactivityResolve => report.auto_resolved += 1,
                    TimerKind::SlaWarning(_) => report.sla_warnings += 1,
                    TimerKind::SlaBreach(_) => report.sla_breaches += 1,
                    TimerKind::Automation => report.automations += 1,
                },
                Ok(Fired::Cleared) => report.cleared += 1,
                // Another instance fired it first.
                Err(Error::Conflict(_)) => {}
                Err(e) => return Err(e),
            }
        }
        report.from_queue = self.drain_all(now, limit).await?;
        Ok(report)
    }

    /// Fires one timer: does what it is for, clears it when the state no
    /// longer asks for it, or re-arms it when the state asks for it later.
    async fn fire(&self, timer: &Timer, now: DateTime<Utc>) -> Result<Fired> {
        let store = &self.ports.store;
        let current = match store.conversation(&timer.tenant, &timer.conversation).await {
            Ok(c) => c,
            Err(Error::NotFound { .. }) => return Ok(Fired::Cleared),
            Err(e) => return Err(e),
        };
        let wanted = desired_timers(&current, &self.config.timers);
        let applies = wanted.get(&timer.kind).is_some_and(|due| *due <= now);
        // A deferred timer that came due before the time now wanted.
        let rearm_at = wanted.get(&timer.kind).copied().filter(|due| *due > now);
        let mut next = current.clone();
        let mut kinds = Vec::new();
        if applies {
            match timer.kind {
                // The rules run below.
                TimerKind::Automation => {}
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
                    let policy = self
                        .config
                        .sla_for(&current.tenant)
                        .policy_for(&current)
                        .cloned();
                    if let Some(t) = next.sla.as_mut().and_then(|s| active_target(s, target)) {
                        t.state = SlaTargetState::Breached { at: t.due_at };
                        t.warned = true;
                        let due_at = t.due_at;
                        let mut actions = Vec::new();
                        for action in policy.map(|p| p.on_breach).unwrap_or_default() {
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
                                BreachAction::NotifySupervisor => {
                                    actions.push("notify_supervisor".to_string())
                                }
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
                    }
                }
            }
        }
        // Automation rules react to what the timer did (SLA warnings and
        // breaches, tags, releases) and run their own time triggers.
        let mut triggers: Vec<TriggerKind> =
            kinds.iter().filter_map(TriggerKind::from_event).collect();
        if applies && timer.kind == TimerKind::Automation {
            triggers.push(TriggerKind::Timer);
        }
        let mut automated = self
            .run_rules(&mut next, None, None, &triggers, now)
            .await?;
        let no_room = std::mem::take(&mut automated.no_room);
        if (applies
            && matches!(
                timer.kind,
                TimerKind::SnoozeWake | TimerKind::InactivityResolve
            ))
            || !automated.events.is_empty()
        {
            // Waking resumes paused SLA targets; resolving meets them.
            kinds.extend(self.config.sla_for(&current.tenant).apply(
                Some(&current),
                &mut next,
                now,
            ));
        }
        let timers = timer_changes(Some(&current), &next, &self.config.timers);
        // A stale timer (the state no longer asks for it) is just cleared;
        // one that is wanted later (deferred) is re-armed for then.
        let stale_clear = match (applies, rearm_at) {
            (true, _) => Vec::new(),
            (false, Some(due_at)) => vec![crate::timer::TimerChange::Set(Timer {
                due_at,
                ..timer.clone()
            })],
            (false, None) => vec![crate::timer::TimerChange::Clear {
                conversation: current.id.clone(),
                kind: timer.kind,
            }],
        };
        if kinds.is_empty()
            && timers.is_empty()
            && stale_clear.is_empty()
            && automated.events.is_empty()
        {
            return Ok(Fired::Cleared);
        }
        next.version = current.version + 1;
        next.updated_at = now;
        let mut events: Vec<Event> = kinds
            .into_iter()
            .map(|k| {
                Event::new(current.tenant.clone(), now, EventActor::System, k)
                    .on(&next.id, next.version)
            })
            .collect();
        events.extend(automated.events_on(&next, now));
        crate::event::Scope::stamp(&mut events, &next);
        let after = next.clone();
        let changes = Changeset {
            messages: automated.messages,
            outbox: automated.outbox,
            cursors: automated.cursors,
            conversation: Some(Write {
                value: next,
                expected_version: Some(current.version),
            }),
            events,
            timers: timers.into_iter().chain(stale_clear).collect(),
            ..Changeset::new(current.tenant.clone())
        };
        let committed = store.commit(changes).await?;
        self.publish(&committed.events).await;
        // A resolve or a return to the queue makes room.
        self.after_change(Some(&current), &after, &no_room, now)
            .await;
        Ok(match (applies, rearm_at) {
            (true, _) => Fired::Did(timer.kind),
            (false, Some(_)) => Fired::Rearmed,
            (false, None) => Fired::Cleared,
        })
    }
}

/// What firing one timer did.
enum Fired {
    /// What the timer is for.
    Did(TimerKind),
    /// Nothing yet: the state asks for it later; re-armed for then.
    Rearmed,
    /// Nothing: the state no longer asks for it; cleared.
    Cleared,
}
