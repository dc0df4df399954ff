//! Service-level agreements: first response, next response and resolution
//! targets, measured in business hours or wall-clock time, paused while the
//! conversation waits on the customer, with a warning before and actions at
//! the breach.
//!
//! Pure: [`SlaSettings::apply`] takes the conversation before and after a
//! change and the current instant, and returns the new SLA state and the
//! events to record; the [`Inbox`](crate::Inbox) calls it on every commit,
//! and timers ([`crate::timer`]) fire the warnings and breaches.

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::calendar::Calendar;
use crate::event::EventKind;
use crate::ids::{ChannelId, TeamId};
use crate::model::{Conversation, ConversationStatus, Priority};

/// Which target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum SlaTargetKind {
    /// The first agent reply after the customer first wrote.
    FirstResponse,
    /// The next agent reply after each later customer message.
    NextResponse,
    /// Resolution of the conversation.
    Resolution,
}

impl SlaTargetKind {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            SlaTargetKind::FirstResponse => "first_response",
            SlaTargetKind::NextResponse => "next_response",
            SlaTargetKind::Resolution => "resolution",
        }
    }
}

/// Where a target stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum SlaTargetState {
    /// Running: due at `due_at`.
    Active,
    /// Paused while waiting on the customer (pending or snoozed), with this
    /// much (business) time left.
    Paused {
        /// Seconds left when paused.
        remaining_secs: i64,
    },
    /// Met at this instant.
    Met {
        /// When.
        at: DateTime<Utc>,
    },
    /// Breached at its due time.
    Breached {
        /// When.
        at: DateTime<Utc>,
    },
}

/// One target of a conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SlaTarget {
    /// Which target.
    pub kind: SlaTargetKind,
    /// When the clock started.
    pub started_at: DateTime<Utc>,
    /// When it is due (while active).
    pub due_at: DateTime<Utc>,
    /// When the warning fires (while active).
    pub warn_at: DateTime<Utc>,
    /// Whether the warning has fired.
    pub warned: bool,
    /// State.
    pub state: SlaTargetState,
}

/// A conversation's SLA: the policy that applies and its targets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SlaState {
    /// The policy's id.
    pub policy: String,
    /// Targets, current and finished.
    pub targets: Vec<SlaTarget>,
}

impl SlaState {
    /// The current target of a kind (the latest started).
    pub fn target(&self, kind: SlaTargetKind) -> Option<&SlaTarget> {
        self.targets.iter().rev().find(|t| t.kind == kind)
    }

    /// Active targets.
    pub fn active(&self) -> impl Iterator<Item = &SlaTarget> {
        self.targets
            .iter()
            .filter(|t| t.state == SlaTargetState::Active)
    }
}

/// What happens at a breach.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", content = "value", rename_all = "snake_case")]
pub enum BreachAction {
    /// Raise the priority one step.
    RaisePriority,
    /// Tell the supervisors (an escalation event).
    NotifySupervisor,
    /// Take it from its owner back to the team queue.
    ReturnToQueue,
    /// Add a tag.
    Tag(String),
}

/// When a policy applies (all given conditions must hold).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct SlaConditions {
    /// At least this priority.
    pub min_priority: Option<Priority>,
    /// Carrying this tag.
    pub tag: Option<String>,
    /// On this channel.
    pub channel: Option<ChannelId>,
    /// In this team.
    pub team: Option<TeamId>,
}

impl SlaConditions {
    fn matches(&self, c: &Conversation) -> bool {
        self.min_priority.is_none_or(|p| c.priority >= p)
            && self.tag.as_ref().is_none_or(|t| c.tags.contains(t))
            && self.channel.as_ref().is_none_or(|ch| &c.channel == ch)
            && self
                .team
                .as_ref()
                .is_none_or(|t| c.team.as_ref() == Some(t))
    }
}

/// An SLA policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SlaPolicy {
    /// Stable id.
    pub id: String,
    /// When it applies.
    #[serde(default)]
    pub applies: SlaConditions,
    /// First response target, in seconds.
    pub first_response_secs: Option<i64>,
    /// Next response target, in seconds.
    pub next_response_secs: Option<i64>,
    /// Resolution target, in seconds.
    pub resolution_secs: Option<i64>,
    /// Measure in business hours (the calendar) instead of wall-clock.
    #[serde(default)]
    pub business_hours: bool,
    /// Warn at this share of the target (e.g. 80).
    pub warn_at_percent: u8,
    /// What to do at a breach.
    #[serde(default)]
    pub on_breach: Vec<BreachAction>,
}

/// The SLA settings of a tenant: policies (the first that applies wins)
/// and the business-hours calendar, overridable per team and channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SlaSettings {
    /// Policies in order.
    pub policies: Vec<SlaPolicy>,
    /// The tenant's calendar.
    pub calendar: Calendar,
    /// Team calendars.
    #[serde(default)]
    pub team_calendars: std::collections::BTreeMap<TeamId, Calendar>,
    /// Channel calendars (after team ones).
    #[serde(default)]
    pub channel_calendars: std::collections::BTreeMap<ChannelId, Calendar>,
}

impl Default for SlaSettings {
    fn default() -> Self {
        Self {
            policies: Vec::new(),
            calendar: Calendar::always(),
            team_calendars: Default::default(),
            channel_calendars: Default::default(),
        }
    }
}

impl SlaSettings {
    /// The calendar for a conversation: its team's, else its channel's,
    /// else the tenant's.
    pub fn calendar_for(&self, c: &Conversation) -> &Calendar {
        c.team
            .as_ref()
            .and_then(|t| self.team_calendars.get(t))
            .or_else(|| self.channel_calendars.get(&c.channel))
            .unwrap_or(&self.calendar)
    }

    /// The policy that applies to a conversation.
    pub fn policy_for(&self, c: &Conversation) -> Option<&SlaPolicy> {
        self.policies.iter().find(|p| p.applies.matches(c))
    }

    fn clock<'a>(&'a self, policy: &SlaPolicy, c: &Conversation) -> Clockwork<'a> {
        if policy.business_hours {
            Clockwork::Business(self.calendar_for(c))
        } else {
            Clockwork::Wall
        }
    }

    /// Records the business-hours durations reports use, on the
    /// conversation's calendar: the first response time once it has one,
    /// the resolution time whenever it is (re)resolved. [`SlaSettings::apply`]
    /// calls it on every change.
    pub fn record_business_durations(&self, c: &mut Conversation) {
        let calendar = self.calendar_for(c);
        if let (Some(at), None) = (c.first_response_at, c.first_response_business_secs) {
            c.first_response_business_secs = Some(
                calendar
                    .business_time_between(c.created_at, at)
                    .num_seconds(),
            );
        }
        match (c.status, c.resolved_at) {
            (ConversationStatus::Resolved, Some(at)) => {
                c.resolution_business_secs = Some(
                    calendar
                        .business_time_between(c.created_at, at)
                        .num_seconds(),
                );
            }
            _ => c.resolution_business_secs = None,
        }
    }

    /// Updates `after.sla` for the change from `before` (`None`: a new
    /// conversation) at `now`, returning the events (targets met).
    /// Warnings and breaches are fired by timers, not here.
    pub fn apply(
        &self,
        before: Option<&Conversation>,
        after: &mut Conversation,
        now: DateTime<Utc>,
    ) -> Vec<EventKind> {
        self.record_business_durations(after);
        let mut events = Vec::new();
        let Some(policy) = self.policy_for(after).cloned() else {
            return events;
        };
        let clock = self.clock(&policy, after);
        let mut sla = after.sla.clone().unwrap_or_else(|| SlaState {
            policy: policy.id.clone(),
            targets: Vec::new(),
        });
        let was_waiting = before.is_some_and(|b| b.waiting_since.is_some());
        let paused_now = matches!(
            after.status,
            ConversationStatus::Pending | ConversationStatus::Snoozed
        );
        let paused_before = before.is_some_and(|b| {
            matches!(
                b.status,
                ConversationStatus::Pending | ConversationStatus::Snoozed
            )
        });

        // Resolution: starts with the conversation, met when resolved.
        if let Some(secs) = policy.resolution_secs {
            let open_target = sla.targets.iter().any(|t| {
                t.kind == SlaTargetKind::Resolution
                    && matches!(
                        t.state,
                        SlaTargetState::Active | SlaTargetState::Paused { .. }
                    )
            });
            if !open_target
                && after.status.is_active()
                && before.is_none_or(|b| !b.status.is_active() || b.sla.is_none())
            {
                sla.targets.push(new_target(
                    SlaTargetKind::Resolution,
                    now,
                    secs,
                    policy.warn_at_percent,
                    &clock,
                ));
            }
        }
        // Responses: a customer now waiting starts one; an answer meets it.
        if let Some(since) = after.waiting_since {
            if !was_waiting {
                let first = after.last_agent_reply_at.is_none();
                let (kind, secs) = if first {
                    (SlaTargetKind::FirstResponse, policy.first_response_secs)
                } else {
                    (SlaTargetKind::NextResponse, policy.next_response_secs)
                };
                if let Some(secs) = secs {
                    sla.targets.push(new_target(
                        kind,
                        since.max(after.created_at).min(now),
                        secs,
                        policy.warn_at_percent,
                        &clock,
                    ));
                }
            }
        } else if was_waiting {
            for t in sla
                .targets
                .iter_mut()
                .filter(|t| t.kind != SlaTargetKind::Resolution)
            {
                if matches!(
                    t.state,
                    SlaTargetState::Active | SlaTargetState::Paused { .. }
                ) {
                    t.state = SlaTargetState::Met { at: now };
                    events.push(EventKind::SlaMet {
                        target: t.kind.as_str().to_string(),
                        due_at: t.due_at,
                    });
                }
            }
        }
        if after.status == ConversationStatus::Resolved {
            for t in sla.targets.iter_mut() {
                if matches!(
                    t.state,
                    SlaTargetState::Active | SlaTargetState::Paused { .. }
                ) {
                    let met = t.kind == SlaTargetKind::Resolution;
                    t.state = SlaTargetState::Met { at: now };
                    if met {
                        events.push(EventKind::SlaMet {
                            target: t.kind.as_str().to_string(),
                            due_at: t.due_at,
                        });
                    }
                }
            }
        }
        // Pause while waiting on the customer; resume with the time left.
        for t in sla.targets.iter_mut() {
            match t.state {
                SlaTargetState::Active if paused_now && !paused_before => {
                    let left = clock.between(now, t.due_at).num_seconds().max(0);
                    t.state = SlaTargetState::Paused {
                        remaining_secs: left,
                    };
                }
                SlaTargetState::Paused { remaining_secs } if !paused_now => {
                    t.due_at = clock.add(now, TimeDelta::seconds(remaining_secs));
                    let warn_left =
                        remaining_secs * i64::from(100 - policy.warn_at_percent.min(100)) / 100;
                    t.warn_at =
                        clock.add(now, TimeDelta::seconds((remaining_secs - warn_left).max(0)));
                    t.state = SlaTargetState::Active;
                }
                _ => {}
            }
        }
        after.sla = Some(sla);
        events
    }
}

fn new_target(
    kind: SlaTargetKind,
    start: DateTime<Utc>,
    secs: i64,
    warn_percent: u8,
    clock: &Clockwork<'_>,
) -> SlaTarget {
    let warn_secs = secs * i64::from(warn_percent.min(100)) / 100;
    SlaTarget {
        kind,
        started_at: start,
        due_at: clock.add(start, TimeDelta::seconds(secs)),
        warn_at: clock.add(start, TimeDelta::seconds(warn_secs)),
        warned: false,
        state: SlaTargetState::Active,
    }
}

enum Clockwork<'a> {
    Wall,
    Business(&'a Calendar),
}

impl Clockwork<'_> {
    fn add(&self, t: DateTime<Utc>, d: TimeDelta) -> DateTime<Utc> {
        match self {
            Clockwork::Wall => t + d,
            // A calendar that never opens: the target never comes due.
            Clockwork::Business(c) => c.add_business(t, d).unwrap_or(DateTime::<Utc>::MAX_UTC),
        }
    }

    fn between(&self, a: DateTime<Utc>, b: DateTime<Utc>) -> TimeDelta {
        match self {
            Clockwork::Wall => (b - a).max(TimeDelta::zero()),
            Clockwork::Business(c) => c.business_time_between(a, b),
        }
    }
}
