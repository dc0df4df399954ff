//! Timers: what is due when, for each conversation.
//!
//! The core derives a conversation's timers from its state
//! ([`desired_timers`]); every commit that changes a conversation also sets
//! and clears its timers (a [`TimerChange`] list in the changeset), so the
//! store holds the timers the state asks for, indexed by due time.
//! [`Inbox::tick`](crate::Inbox::tick) asks the store for what is due
//! (cost proportional to what is due, not to the open conversations) and
//! fires each in a version-checked commit that also clears it: the same
//! tick twice fires nothing twice.
//!
//! Timers that every customer message pushes later
//! ([`TimerKind::is_deferred`]: the window warning, the inactivity
//! resolve) are not moved later in the store: the stored timer stays at
//! its earlier time, and when it comes due early the tick finds the state
//! asks for a later time and re-arms it there instead of firing. That
//! saves a timer write on nearly every inbound message; a timer that must
//! come *earlier*, or appear, or go, is written at once as always. So for
//! these kinds the stored due time is never later than the wanted one, and
//! nothing ever fires late.

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::ids::{ConversationId, TenantId};
use crate::model::{Conversation, ConversationStatus};
use crate::sla::{SlaTargetKind, SlaTargetState};

/// What a timer does when it fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum TimerKind {
    /// Wake a snoozed conversation.
    SnoozeWake,
    /// Warn that the 24-hour window closes soon while the customer waits.
    WindowWarning,
    /// Remind the owner that the customer has not answered the last reply.
    FollowUp,
    /// Resolve a conversation left waiting on the customer.
    InactivityResolve,
    /// An SLA target reaches its warning threshold.
    SlaWarning(SlaTargetKind),
    /// An SLA target is breached.
    SlaBreach(SlaTargetKind),
    /// A time-triggered automation rule is due (see
    /// [`Conversation::automation_due`]).
    Automation,
    /// A customer message waits for the bot that owns the conversation
    /// ([`BotSeat::turn_due`](crate::model::BotSeat::turn_due)).
    BotTurn,
    /// A resolved conversation's satisfaction survey is due.
    SurveySend,
    /// A bot's conversation goes to people at a planned time
    /// ([`BotSeat::planned`](crate::model::BotSeat::planned)).
    BotHandoff,
}

impl TimerKind {
    /// Stable name (stored).
    pub fn as_str(self) -> &'static str {
        use SlaTargetKind::*;
        match self {
            TimerKind::SnoozeWake => "snooze_wake",
            TimerKind::WindowWarning => "window_warning",
            TimerKind::FollowUp => "follow_up",
            TimerKind::InactivityResolve => "inactivity_resolve",
            TimerKind::SlaWarning(FirstResponse) => "sla_warning_first_response",
            TimerKind::SlaWarning(NextResponse) => "sla_warning_next_response",
            TimerKind::SlaWarning(Resolution) => "sla_warning_resolution",
            TimerKind::SlaBreach(FirstResponse) => "sla_breach_first_response",
            TimerKind::SlaBreach(NextResponse) => "sla_breach_next_response",
            TimerKind::SlaBreach(Resolution) => "sla_breach_resolution",
            TimerKind::Automation => "automation",
            TimerKind::BotTurn => "bot_turn",
            TimerKind::SurveySend => "survey_send",
            TimerKind::BotHandoff => "bot_handoff",
        }
    }

    /// Whether a move of this timer to a *later* time is deferred: left
    /// out of the changeset, so the stored timer comes due at its earlier
    /// time and the tick re-arms it for the time the state then asks for
    /// (see the module docs). True for the kinds every customer message
    /// pushes later: [`WindowWarning`](TimerKind::WindowWarning) and
    /// [`InactivityResolve`](TimerKind::InactivityResolve).
    ///
    /// ```
    /// use inbox_core::timer::TimerKind;
    /// assert!(TimerKind::WindowWarning.is_deferred());
    /// assert!(!TimerKind::SnoozeWake.is_deferred());
    /// ```
    pub fn is_deferred(self) -> bool {
        matches!(
            self,
            TimerKind::WindowWarning | TimerKind::InactivityResolve
        )
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        use SlaTargetKind::*;
        Some(match s {
            "snooze_wake" => TimerKind::SnoozeWake,
            "window_warning" => TimerKind::WindowWarning,
            "follow_up" => TimerKind::FollowUp,
            "inactivity_resolve" => TimerKind::InactivityResolve,
            "sla_warning_first_response" => TimerKind::SlaWarning(FirstResponse),
            "sla_warning_next_response" => TimerKind::SlaWarning(NextResponse),
            "sla_warning_resolution" => TimerKind::SlaWarning(Resolution),
            "sla_breach_first_response" => TimerKind::SlaBreach(FirstResponse),
            "sla_breach_next_response" => TimerKind::SlaBreach(NextResponse),
            "sla_breach_resolution" => TimerKind::SlaBreach(Resolution),
            "automation" => TimerKind::Automation,
            "bot_turn" => TimerKind::BotTurn,
            "survey_send" => TimerKind::SurveySend,
            "bot_handoff" => TimerKind::BotHandoff,
            _ => return None,
        })
    }
}

/// A due time for one conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timer {
    /// The tenant.
    pub tenant: TenantId,
    /// The conversation.
    pub conversation: ConversationId,
    /// What it does.
    pub kind: TimerKind,
    /// When.
    pub due_at: DateTime<Utc>,
}

/// A change to a conversation's timers, committed with the conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimerChange {
    /// Set (insert or move) a timer.
    Set(Timer),
    /// Remove a timer if there is one.
    Clear {
        /// The conversation.
        conversation: ConversationId,
        /// Which timer.
        kind: TimerKind,
    },
}

/// Timer settings an embedder picks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimerPolicy {
    /// Warn this long before the customer window closes, while the customer
    /// is waiting for an answer (`None`: no warning).
    pub window_warning_before: Option<std::time::Duration>,
    /// Remind the owner when a conversation waiting on the customer
    /// (pending) has had no answer this long after the last reply.
    #[serde(default)]
    pub follow_up_after: Option<std::time::Duration>,
    /// Resolve a conversation waiting on the customer (pending) after this
    /// long without activity.
    #[serde(default)]
    pub auto_resolve_after: Option<std::time::Duration>,
}

impl Default for TimerPolicy {
    fn default() -> Self {
        Self {
            window_warning_before: Some(std::time::Duration::from_secs(3600)),
            follow_up_after: None,
            auto_resolve_after: None,
        }
    }
}

/// The timers a conversation's state asks for.
///
/// ```
/// use chrono::{TimeDelta, TimeZone, Utc};
/// use inbox_core::model::{Conversation, ConversationStatus};
/// use inbox_core::timer::{desired_timers, TimerKind, TimerPolicy};
/// use inbox_core::*;
/// let now = Utc.timestamp_opt(1_700_000_000, 0).unwrap();
/// let mut c = Conversation::new(TenantId::new("t").unwrap(), ConversationId::new("c").unwrap(),
///     ChannelId::new("ch").unwrap(), ContactId::new("k").unwrap(), now);
/// c.status = ConversationStatus::Snoozed;
/// c.snoozed_until = Some(now + TimeDelta::hours(2));
/// assert_eq!(desired_timers(&c, &TimerPolicy::default())[&TimerKind::SnoozeWake], now + TimeDelta::hours(2));
/// ```
pub fn desired_timers(
    c: &Conversation,
    policy: &TimerPolicy,
) -> BTreeMap<TimerKind, DateTime<Utc>> {
    let mut out = BTreeMap::new();
    if c.status == ConversationStatus::Snoozed {
        if let Some(until) = c.snoozed_until {
            out.insert(TimerKind::SnoozeWake, until);
        }
    }
    if let (Some(before), Some(closes), Some(_)) = (
        policy.window_warning_before,
        c.window_expires_at,
        c.waiting_since,
    ) {
        let active = c.status.is_active() && c.status != ConversationStatus::Pending;
        if active && c.window_warned_for != Some(closes) {
            let before = TimeDelta::from_std(before).unwrap_or(TimeDelta::zero());
            out.insert(TimerKind::WindowWarning, closes - before);
        }
    }
    if c.status == ConversationStatus::Pending {
        if let (Some(after), Some(replied)) = (policy.follow_up_after, c.last_agent_reply_at) {
            let unanswered = c.last_customer_message_at.is_none_or(|m| m < replied);
            if unanswered && c.follow_up_for != Some(replied) {
                out.insert(
                    TimerKind::FollowUp,
                    replied + TimeDelta::from_std(after).unwrap_or(TimeDelta::MAX),
                );
            }
        }
        if let Some(after) = policy.auto_resolve_after {
            out.insert(
                TimerKind::InactivityResolve,
                c.last_activity_at + TimeDelta::from_std(after).unwrap_or(TimeDelta::MAX),
            );
        }
    }
    if let Some(due) = c.automation_due {
        if c.status.is_active() {
            out.insert(TimerKind::Automation, due);
        }
    }
    if let Some(seat) = c.bot_owns().filter(|_| c.status.is_active()) {
        if let Some(due) = seat.turn_due {
            out.insert(TimerKind::BotTurn, due);
        }
        if let Some(p) = &seat.planned {
            out.insert(TimerKind::BotHandoff, p.at);
        }
    }
    if let Some(s) = c.surveys.last() {
        let current = s.resolution == c.reopen_count && s.is_waiting();
        if c.status == ConversationStatus::Resolved && current {
            out.insert(TimerKind::SurveySend, s.due_at);
        }
    }
    if let Some(sla) = &c.sla {
        for t in &sla.targets {
            if t.state == SlaTargetState::Active {
                if !t.warned {
                    out.insert(TimerKind::SlaWarning(t.kind), t.warn_at);
                }
                out.insert(TimerKind::SlaBreach(t.kind), t.due_at);
            }
        }
    }
    out
}

/// The timer changes that take a conversation from `before` to `after`.
///
/// A [deferred](TimerKind::is_deferred) timer that `after` wants later than
/// `before` did is left where it is (it re-arms when it comes due).
///
/// ```
/// use chrono::{TimeDelta, TimeZone, Utc};
/// use inbox_core::model::Conversation;
/// use inbox_core::timer::{timer_changes, TimerChange, TimerKind, TimerPolicy};
/// use inbox_core::*;
/// let t0 = Utc.timestamp_opt(1_700_000_000, 0).unwrap();
/// let mut c = Conversation::new(TenantId::new("t").unwrap(), ConversationId::new("c").unwrap(),
///     ChannelId::new("ch").unwrap(), ContactId::new("k").unwrap(), t0);
/// c.waiting_since = Some(t0);
/// c.window_expires_at = Some(t0 + TimeDelta::hours(24));
/// let policy = TimerPolicy::default();
/// // The first customer message arms the warning, an hour before the window closes.
/// let armed = timer_changes(None, &c, &policy);
/// assert!(matches!(&armed[..], [TimerChange::Set(t)]
///     if t.kind == TimerKind::WindowWarning && t.due_at == t0 + TimeDelta::hours(23)));
/// // A later message moves the window; the stored warning is left to re-arm.
/// let mut later = c.clone();
/// later.window_expires_at = Some(t0 + TimeDelta::hours(26));
/// assert!(timer_changes(Some(&c), &later, &policy).is_empty());
/// // Moving it earlier is written at once.
/// assert_eq!(timer_changes(Some(&later), &c, &policy).len(), 1);
/// ```
pub fn timer_changes(
    before: Option<&Conversation>,
    after: &Conversation,
    policy: &TimerPolicy,
) -> Vec<TimerChange> {
    let old = before
        .map(|c| desired_timers(c, policy))
        .unwrap_or_default();
    let new = desired_timers(after, policy);
    let mut changes = Vec::new();
    for (kind, due) in &new {
        let keep = match old.get(kind) {
            Some(was) => was == due || (kind.is_deferred() && was < due),
            None => false,
        };
        if !keep {
            changes.push(TimerChange::Set(Timer {
                tenant: after.tenant.clone(),
                conversation: after.id.clone(),
                kind: *kind,
                due_at: *due,
            }));
        }
    }
    for kind in old.keys() {
        if !new.contains_key(kind) {
            changes.push(TimerChange::Clear {
                conversation: after.id.clone(),
                kind: *kind,
            });
        }
    }
    changes
}
