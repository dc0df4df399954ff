//! Deciding separated from doing: the one path that finishes and commits a
//! change of a conversation.
//!
//! Every command that changes a conversation (ingest, agent actions,
//! rerouting, queue drains, timers) reads what it needs and *decides*: it
//! returns a [`Decision`] (the conversation as it wants it, the events that
//! say why, the rows it adds). [`Inbox::apply`] then does what every change
//! needs, the same way for all: runs the automation rules in the same
//! commit, applies the SLA, numbers the version, places the events, derives
//! the timers, commits once, publishes, and drains what the change made
//! room for. A command that loses a race asks [`Retry`] whether to decide
//! again; there is one retry policy.

use chrono::{DateTime, Utc};

use super::{Inbox, InboxConfig};
use crate::error::{Conflict, Entity, Error, Result};
use crate::event::{Event, EventActor, EventKind};
use crate::ids::TeamId;
use crate::model::{Contact, Content, Conversation, Message};
use crate::ports::{Changeset, OutboxEntry, Write};
use crate::routing::{RoutingCursor, TriggerKind};
use crate::timer::{timer_changes, TimerChange};

/// How many rounds a commit may lose to routing-cursor races: a burst of
/// conversations assigned in one team all race for its cursor and each
/// round one wins, so allow a round per contender.
const MAX_CURSOR_RACES: u32 = 256;

/// What a command decided to change in one conversation.
pub(crate) struct Decision<'a> {
    /// Who the conversation's events are by.
    pub actor: EventActor,
    /// The conversation as stored when the command read it (`None`: the
    /// decision opens a new one).
    pub before: Option<Conversation>,
    /// The conversation as the command wants it; [`Inbox::apply`] sets
    /// its version and update time.
    pub after: Conversation,
    /// The conversation's events, in order.
    pub events: Vec<EventKind>,
    /// The automation rules to run in the same commit (`None`: none).
    pub rules: Option<Rules<'a>>,
    /// When the SLA is applied.
    pub sla: SlaStep,
    /// The rows the command adds beside the conversation.
    pub rows: Rows,
}

impl<'a> Decision<'a> {
    /// A decision by `actor` to move `before` to `after`, saying why with
    /// `events`; the SLA applies, no rules run.
    pub fn new(actor: EventActor, before: Conversation, after: Conversation) -> Self {
        Self {
            actor,
            before: Some(before),
            after,
            events: Vec::new(),
            rules: None,
            sla: SlaStep::Always,
            rows: Rows::default(),
        }
    }

    /// Runs the rules the decision's events trigger, plus `extra`.
    pub fn with_rules(mut self, extra: &[TriggerKind]) -> Self {
        let mut triggers: Vec<TriggerKind> = self
            .events
            .iter()
            .filter_map(TriggerKind::from_event)
            .collect();
        triggers.extend_from_slice(extra);
        self.rules = Some(Rules {
            triggers,
            contact: None,
            content: None,
        });
        self
    }
}

/// The automation rules a decision runs.
pub(crate) struct Rules<'a> {
    /// What happened.
    pub triggers: Vec<TriggerKind>,
    /// The contact, when the command has it at hand (else it is read).
    pub contact: Option<Contact>,
    /// The customer's message, for conditions on it.
    pub content: Option<&'a Content>,
}

/// When a decision's SLA is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SlaStep {
    /// Always.
    Always,
    /// Only when the automation rules did something (a timer that changed
    /// nothing the SLA measures).
    IfAutomated,
}

/// Rows a decision adds beside its conversation.
#[derive(Default)]
pub(crate) struct Rows {
    /// The contact, created or updated.
    pub contact: Option<Write<Contact>>,
    /// Events that come before the conversation's (the contact's).
    pub leading: Vec<Event>,
    /// New messages and notes.
    pub messages: Vec<Message>,
    /// Their outbox entries.
    pub outbox: Vec<OutboxEntry>,
    /// Round-robin cursors and fences to store.
    pub cursors: Vec<RoutingCursor>,
    /// Timer changes beyond those the conversation's state asks for.
    pub timers: Vec<TimerChange>,
}

/// A decision made ready to commit.
pub(crate) struct Finished {
    /// What the store is asked to write.
    pub changes: Changeset,
    before: Option<Conversation>,
    after: Conversation,
    no_room: Vec<TeamId>,
    empty: bool,
}

impl Finished {
    /// Whether the decision changes nothing worth a commit: no event, no
    /// message, no timer (only fields nobody watches).
    pub fn is_empty(&self) -> bool {
        self.empty
    }
}

/// What [`Inbox::apply`] committed.
pub(crate) struct Applied {
    /// The conversation as committed.
    pub conversation: Conversation,
    /// The events as committed, with their sequence numbers.
    pub events: Vec<Event>,
}

impl Inbox {
    /// Finishes `decision` ([`Inbox::finish`]) and commits it
    /// ([`Inbox::commit_finished`]).
    pub(crate) async fn apply(&self, decision: Decision<'_>) -> Result<Applied> {
        let finished = self.finish(decision, self.now()).await?;
        self.commit_finished(finished).await
    }

    /// Commits a finished decision, publishes its events and drains what
    /// the change made room for in the queues (the drain's own failures
    /// are logged: the change is committed).
    pub(crate) async fn commit_finished(&self, f: Finished) -> Result<Applied> {
        let Finished {
            changes,
            before,
            after,
            no_room,
            ..
        } = f;
        let applied = self.commit_quietly(changes, after).await?;
        let after = &applied.conversation;
        self.after_change(before.as_ref(), after, &no_room, after.updated_at)
            .await;
        Ok(applied)
    }

    /// Finishes and commits an automatic assignment (a queue drain or a
    /// reroute) and publishes its events, without draining further: the
    /// drain that made it goes on by itself.
    pub(crate) async fn apply_assignment(&self, decision: Decision<'_>) -> Result<Applied> {
        let finished = self.finish(decision, self.now()).await?;
        self.commit_quietly(finished.changes, finished.after).await
    }

    /// Commits `changes` (which leave the conversation as `after`) and
    /// publishes their events.
    async fn commit_quietly(&self, changes: Changeset, after: Conversation) -> Result<Applied> {
        let committed = self.ports.store.commit(changes).await?;
        self.publish(&committed.events).await;
        Ok(Applied {
            conversation: after,
            events: committed.events,
        })
    }

    /// Turns a decision into the changeset to commit: runs its rules, applies
    /// the SLA, numbers the version, places the events and derives the
    /// timers.
    pub(crate) async fn finish(&self, d: Decision<'_>, now: DateTime<Utc>) -> Result<Finished> {
        let Decision {
            actor,
            before,
            mut after,
            mut events,
            rules,
            sla,
            mut rows,
        } = d;
        let mut automated = match rules {
            Some(r) => {
                self.run_rules(&mut after, r.contact.as_ref(), r.content, &r.triggers, now)
                    .await?
            }
            None => Default::default(),
        };
        super::bots::note_human(&mut after, now);
        let policy = self.policy(&after.tenant).await?;
        let csat = &policy.document.csat;
        events.extend(super::csat::on_resolve(
            csat,
            before.as_ref(),
            &mut after,
            now,
        ));
        if sla == SlaStep::Always || !automated.events.is_empty() {
            events.extend(policy.sla.apply(before.as_ref(), &mut after, now));
        }
        // (after the SLA: its due times may bring a handoff forward)
        super::bots::plan_handoff(&policy, &mut after, now);
        let mut timers = timer_changes(before.as_ref(), &after, &policy.timers());
        timers.append(&mut rows.timers);
        let empty = events.is_empty()
            && automated.events.is_empty()
            && rows.messages.is_empty()
            && timers.is_empty();
        after.version = before.as_ref().map_or(1, |b| b.version + 1);
        after.updated_at = now;
        let mut placed = std::mem::take(&mut rows.leading);
        placed.extend(events.into_iter().map(|k| {
            Event::new(after.tenant.clone(), now, actor.clone(), k).on(&after.id, after.version)
        }));
        placed.extend(automated.events_on(&after, now));
        crate::event::Scope::stamp(&mut placed, &after);
        rows.messages.append(&mut automated.messages);
        rows.outbox.append(&mut automated.outbox);
        rows.cursors.append(&mut automated.cursors);
        let changes = Changeset {
            contact: rows.contact,
            conversation: Some(Write {
                value: after.clone(),
                expected_version: before.as_ref().map(|b| b.version),
            }),
            messages: rows.messages,
            outbox: rows.outbox,
            events: placed,
            timers,
            cursors: rows.cursors,
            ..Changeset::new(after.tenant.clone())
        };
        Ok(Finished {
            changes,
            before,
            after,
            no_room: automated.no_room,
            empty,
        })
    }
}

/// The one retry policy for commits that lost a race or hit a transient
/// store failure. Retrying is safe: every commit is version-checked, and
/// the command decides again on what it reads anew.
#[derive(Debug, Default)]
pub(crate) struct Retry {
    attempts: u32,
    cursor_races: u32,
}

impl Retry {
    /// `Ok(())` to decide again after `error`; `Err(error)` to give up: a
    /// conflict or a transient failure is retried up to
    /// [`InboxConfig::commit_attempts`] tries in all, and a race for a
    /// routing cursor up to [`MAX_CURSOR_RACES`] rounds more.
    pub fn again(&mut self, error: Error, config: &InboxConfig) -> Result<()> {
        match &error {
            Error::Conflict(c) if on_cursor(c) && self.cursor_races < MAX_CURSOR_RACES => {
                self.cursor_races += 1;
                Ok(())
            }
            Error::Conflict(_) => self.count(error, config),
            e if e.is_retryable() => self.count(error, config),
            _ => Err(error),
        }
    }

    /// Counts a try that lost a race the caller recognised (a concurrent
    /// insert of the same contact): `Ok(())` while tries remain.
    pub fn race(&mut self, error: Error, config: &InboxConfig) -> Result<()> {
        self.count(error, config)
    }

    fn count(&mut self, error: Error, config: &InboxConfig) -> Result<()> {
        self.attempts += 1;
        if self.attempts < config.commit_attempts {
            Ok(())
        } else {
            Err(error)
        }
    }
}

/// Whether a conflict is on a routing cursor (or fence) rather than on the
/// conversation.
fn on_cursor(c: &Conflict) -> bool {
    c.entity == Entity::RoutingCursor
}
