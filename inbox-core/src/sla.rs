//! Service-level agreements: first response, next response and resolution
//! targets, measured in business hours or wall-clock time, paused while the
//! conversation waits on the customer, with a warning before and actions at
//! the breach.
//!
//! Pure: [`SlaSettings::apply`] takes the conversation before and after a
//! change and the current instant, and returns the new SLA state and the
//! events to record; the [`Inbox`](crate::Inbox) calls it on every commit,
//! and timers ([`crate::timer`]) fire the warnings and breaches.
//!
//! A target's clock runs only while the conversation is open: pending or
//! snoozed, it pauses ([`SlaTargetState::Paused`]), keeping the (business)
//! time left before its warning and its due time. On resuming, both are
//! placed that much time later, so the warning comes when the policy's
//! share of the *whole* target has run in total, before and after any
//! number of pauses (a 60-minute target warning at 80 %, paused after 20
//! minutes, warns 28 minutes after the resume and is due after 40). A
//! warning whose share had run before the pause is due at the resume; one
//! that already fired does not fire again.

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
    /// Paused while waiting on the customer (pending or snoozed). The
    /// target's clock stands still: on resuming, the due time and the
    /// warning are placed this much (business) time after the resume, so
    /// both come when the time elapsed before and after the pause, in
    /// total, reaches the target and its warning share.
    Paused {
        /// (Business) seconds that were left before the due time.
        remaining_secs: i64,
        /// (Business) seconds that were left before the warning (zero if
        /// it was already due). `None` on a target paused by a version
        /// that did not record it: its warning is then placed from the
        /// policy's target length, the warning share of it less the time
        /// already run.
        #[serde(default)]
        warn_remaining_secs: Option<i64>,
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

fn eighty() -> u8 {
    80
}

/// An SLA policy. In a settings document a field it does not have is
/// refused (a misspelt target must not silently mean "no target").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
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
    /// Warn at this share of the target (default 80), counting only the
    /// time the target ran (not its pauses).
    #[serde(default = "eighty")]
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
                    &policy,
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
                        &policy,
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
            if paused_now && !paused_before {
                pause(t, now, &clock);
            } else if !paused_now {
                resume(t, now, &clock, &policy);
            }
        }
        after.sla = Some(sla);
        events
    }
}

/// Pauses a running target at `now`, keeping the (business) time left
/// before its due time and before its warning.
fn pause(t: &mut SlaTarget, now: DateTime<Utc>, clock: &Clockwork<'_>) {
    if t.state == SlaTargetState::Active {
        let left = |at| clock.between(now, at).num_seconds().max(0);
        t.state = SlaTargetState::Paused {
            remaining_secs: left(t.due_at),
            warn_remaining_secs: Some(left(t.warn_at)),
        };
    }
}

/// Resumes a paused target at `now`: due and warning come after the time
/// that was left before each, so the warning fires when its share of the
/// whole target has elapsed in total, counting the time before the pause
/// (at once if that share had already elapsed; a warning that already
/// fired stays fired).
fn resume(t: &mut SlaTarget, now: DateTime<Utc>, clock: &Clockwork<'_>, policy: &SlaPolicy) {
    if let SlaTargetState::Paused {
        remaining_secs,
        warn_remaining_secs,
    } = t.state
    {
        let warn_left = warn_remaining_secs
            .unwrap_or_else(|| policy.warn_left_when_unrecorded(t.kind, remaining_secs))
            .clamp(0, remaining_secs.max(0));
        t.due_at = clock.add(now, TimeDelta::seconds(remaining_secs));
        t.warn_at = clock.add(now, TimeDelta::seconds(warn_left));
        t.state = SlaTargetState::Active;
    }
}

impl SlaPolicy {
    /// The length of the policy's target of a kind, in seconds.
    fn target_secs(&self, kind: SlaTargetKind) -> Option<i64> {
        match kind {
            SlaTargetKind::FirstResponse => self.first_response_secs,
            SlaTargetKind::NextResponse => self.next_response_secs,
            SlaTargetKind::Resolution => self.resolution_secs,
        }
    }

    /// The seconds into a target of `secs` at which the warning fires.
    fn warn_after_secs(&self, secs: i64) -> i64 {
        secs * i64::from(self.warn_at_percent.min(100)) / 100
    }

    /// The time left before the warning of a target paused without it
    /// recorded, with `remaining_secs` left before its due time: the
    /// warning share of the policy's target length less the time already
    /// run (length less `remaining_secs`). Without a length for the kind
    /// (the policy changed since), the warning share of what is left.
    fn warn_left_when_unrecorded(&self, kind: SlaTargetKind, remaining_secs: i64) -> i64 {
        match self.target_secs(kind) {
            Some(secs) => remaining_secs - (secs - self.warn_after_secs(secs)),
            None => self.warn_after_secs(remaining_secs),
        }
    }
}

fn new_target(
    kind: SlaTargetKind,
    start: DateTime<Utc>,
    secs: i64,
    policy: &SlaPolicy,
    clock: &Clockwork<'_>,
) -> SlaTarget {
    let warn_secs = policy.warn_after_secs(secs);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{ContactId, ConversationId, TenantId};
    use chrono::TimeZone;
    use proptest::prelude::*;

    fn utc(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, min, 0).unwrap()
    }

    fn min(n: i64) -> TimeDelta {
        TimeDelta::minutes(n)
    }

    const KINDS: [SlaTargetKind; 3] = [
        SlaTargetKind::FirstResponse,
        SlaTargetKind::NextResponse,
        SlaTargetKind::Resolution,
    ];

    /// One target of `kind`, `secs` long, warning at `percent`, measured on
    /// `calendar` (wall-clock without one).
    fn settings(
        kind: SlaTargetKind,
        secs: i64,
        percent: u8,
        calendar: Option<Calendar>,
    ) -> SlaSettings {
        let of = |k| (k == kind).then_some(secs);
        SlaSettings {
            policies: vec![SlaPolicy {
                id: "p".into(),
                applies: SlaConditions::default(),
                first_response_secs: of(SlaTargetKind::FirstResponse),
                next_response_secs: of(SlaTargetKind::NextResponse),
                resolution_secs: of(SlaTargetKind::Resolution),
                business_hours: calendar.is_some(),
                warn_at_percent: percent,
                on_breach: vec![],
            }],
            calendar: calendar.unwrap_or_else(Calendar::always),
            ..SlaSettings::default()
        }
    }

    /// A conversation whose customer is waiting since `start` (after an
    /// earlier answer for a next-response target), with its SLA started.
    fn started(s: &SlaSettings, kind: SlaTargetKind, start: DateTime<Utc>) -> Conversation {
        let mut c = Conversation::new(
            TenantId::new("t").unwrap(),
            ConversationId::new("c").unwrap(),
            ChannelId::new("ch").unwrap(),
            ContactId::new("k").unwrap(),
            start - min(60),
        );
        c.waiting_since = Some(start);
        if kind == SlaTargetKind::NextResponse {
            c.last_agent_reply_at = Some(start - min(30));
        }
        if kind == SlaTargetKind::Resolution {
            c.created_at = start;
        }
        s.apply(None, &mut c, start);
        c
    }

    fn set_status(
        s: &SlaSettings,
        c: &mut Conversation,
        to: ConversationStatus,
        at: DateTime<Utc>,
    ) {
        let before = c.clone();
        c.status = to;
        s.apply(Some(&before), c, at);
    }

    /// Runs a target from `start` through `(pause, resume)` pairs.
    fn run(
        s: &SlaSettings,
        kind: SlaTargetKind,
        start: DateTime<Utc>,
        pauses: &[(DateTime<Utc>, DateTime<Utc>)],
    ) -> SlaTarget {
        let mut c = started(s, kind, start);
        for &(pause, resume) in pauses {
            set_status(s, &mut c, ConversationStatus::Pending, pause);
            set_status(s, &mut c, ConversationStatus::Open, resume);
        }
        c.sla.unwrap().target(kind).unwrap().clone()
    }

    #[test]
    fn the_issue_example_for_every_kind() {
        let t0 = utc(2026, 3, 2, 9, 0);
        for kind in KINDS {
            let s = settings(kind, 3600, 80, None);
            let resume = t0 + min(300);
            let t = run(&s, kind, t0, &[(t0 + min(20), resume)]);
            assert_eq!(t.started_at, t0, "{kind:?}");
            assert_eq!(t.warn_at, resume + min(28), "{kind:?}");
            assert_eq!(t.due_at, resume + min(40), "{kind:?}");
        }
    }

    #[test]
    fn in_business_hours_the_pause_and_the_closed_hours_do_not_count() {
        // Madrid, 09:00-13:00 and 15:00-18:00 on weekdays (UTC+1 in March).
        let cal = Calendar::weekdays("Europe/Madrid", &["09:00-13:00", "15:00-18:00"]).unwrap();
        for kind in KINDS {
            let s = settings(kind, 3600, 80, Some(cal.clone()));
            // Friday 6 March, 12:30 Madrid: 20 business minutes to 12:50.
            let start = utc(2026, 3, 6, 11, 30);
            // Paused over the lunch break and the weekend, resumed on
            // Monday at 12:50 Madrid, while open: 10 minutes before lunch,
            // then 18 (warning) and 30 (due) from 15:00.
            let resume = utc(2026, 3, 9, 11, 50);
            let t = run(&s, kind, start, &[(start + min(20), resume)]);
            assert_eq!(t.warn_at, utc(2026, 3, 9, 14, 18), "{kind:?}");
            assert_eq!(t.due_at, utc(2026, 3, 9, 14, 30), "{kind:?}");
            // Resumed on Saturday while closed: all of it on Monday.
            let t = run(
                &s,
                kind,
                start,
                &[(start + min(20), utc(2026, 3, 7, 10, 0))],
            );
            assert_eq!(t.warn_at, utc(2026, 3, 9, 8, 28), "{kind:?}");
            assert_eq!(t.due_at, utc(2026, 3, 9, 8, 40), "{kind:?}");
        }
    }

    #[test]
    fn a_warning_share_used_up_before_the_pause_is_due_at_the_resume() {
        let t0 = utc(2026, 3, 2, 9, 0);
        let s = settings(SlaTargetKind::FirstResponse, 3600, 80, None);
        let resume = t0 + min(120);
        let t = run(
            &s,
            SlaTargetKind::FirstResponse,
            t0,
            &[(t0 + min(50), resume)],
        );
        assert_eq!((t.warn_at, t.due_at), (resume, resume + min(10)));
        // Past the due time too: both at the resume.
        let t = run(
            &s,
            SlaTargetKind::FirstResponse,
            t0,
            &[(t0 + min(70), resume)],
        );
        assert_eq!((t.warn_at, t.due_at), (resume, resume));
    }

    #[test]
    fn a_paused_target_records_both_times_left() {
        let t0 = utc(2026, 3, 2, 9, 0);
        let s = settings(SlaTargetKind::Resolution, 3600, 80, None);
        let mut c = started(&s, SlaTargetKind::Resolution, t0);
        set_status(&s, &mut c, ConversationStatus::Snoozed, t0 + min(20));
        let state = c.sla.as_ref().unwrap().targets[0].state;
        assert_eq!(
            state,
            SlaTargetState::Paused {
                remaining_secs: 40 * 60,
                warn_remaining_secs: Some(28 * 60),
            }
        );
        // Snoozed to pending: still paused, nothing recomputed.
        set_status(&s, &mut c, ConversationStatus::Pending, t0 + min(90));
        assert_eq!(c.sla.as_ref().unwrap().targets[0].state, state);
    }

    /// A target paused by an earlier version (no time left before the
    /// warning recorded) takes its warning from the policy's length.
    #[test]
    fn a_target_paused_before_the_warning_was_recorded_uses_the_policy() {
        let t0 = utc(2026, 3, 2, 9, 0);
        let s = settings(SlaTargetKind::Resolution, 3600, 80, None);
        let mut c = started(&s, SlaTargetKind::Resolution, t0);
        let mut stored = serde_json::to_value(c.sla.as_ref().unwrap()).unwrap();
        stored["targets"][0]["state"] =
            serde_json::json!({"state": "paused", "remaining_secs": 2400});
        c.sla = Some(serde_json::from_value(stored).unwrap());
        c.status = ConversationStatus::Pending;
        let resume = t0 + min(300);
        set_status(&s, &mut c, ConversationStatus::Open, resume);
        let t = c.sla.unwrap().targets[0].clone();
        assert_eq!((t.warn_at, t.due_at), (resume + min(28), resume + min(40)));
        // A policy without that target any more: the share of what is left.
        let other = settings(SlaTargetKind::FirstResponse, 3600, 80, None);
        assert_eq!(
            other.policies[0].warn_left_when_unrecorded(SlaTargetKind::Resolution, 2400),
            1920
        );
    }

    fn zone() -> impl Strategy<Value = Option<&'static str>> {
        prop::sample::select(vec![
            None,
            Some("Europe/Madrid"),
            Some("America/New_York"),
            Some("Asia/Kolkata"),
            Some("UTC"),
        ])
    }

    proptest! {
        /// However the (business) time before the warning is split by
        /// pauses, the warning comes at the earliest instant after the last
        /// resume when the time run in total reaches its share of the
        /// target, and the due time when it reaches the whole.
        #[test]
        fn warning_and_due_come_when_the_total_reaches_their_share(
            zone in zone(),
            kind in prop::sample::select(KINDS.to_vec()),
            start_min in 0i64..(60 * 24 * 60),
            target_min in 1i64..(3 * 24 * 60),
            percent in 1u8..=100,
            // (minutes running, then minutes paused), wall clock.
            splits in prop::collection::vec((0i64..(2 * 24 * 60), 1i64..(4 * 24 * 60)), 0..4),
        ) {
            let cal = zone.map(|z| {
                Calendar::weekdays(z, &["08:30-12:00", "13:00-18:15"])
                    .unwrap()
                    .with_day(chrono::Weekday::Sat, &["22:00-02:00"])
                    .unwrap()
            });
            let s = settings(kind, target_min * 60, percent, cal.clone());
            let measure = cal.unwrap_or_else(Calendar::always);
            let start = utc(2026, 1, 1, 0, 0) + min(start_min);
            let mut pauses = Vec::new();
            let (mut run_from, mut used) = (start, TimeDelta::zero());
            for (running, paused) in splits {
                let pause = run_from + min(running);
                used += measure.business_time_between(run_from, pause);
                run_from = pause + min(paused);
                pauses.push((pause, run_from));
            }
            let t = run(&s, kind, start, &pauses);
            let whole = TimeDelta::minutes(target_min);
            let share = TimeDelta::seconds(whole.num_seconds() * i64::from(percent) / 100);
            for (at, goal) in [(t.warn_at, share), (t.due_at, whole)] {
                if used >= goal {
                    prop_assert_eq!(at, run_from);
                } else {
                    prop_assert_eq!(used + measure.business_time_between(run_from, at), goal);
                    prop_assert_eq!(Some(at), measure.add_business(run_from, goal - used));
                }
            }
        }
    }
}
