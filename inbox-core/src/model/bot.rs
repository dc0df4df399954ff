//! A bot's seat in a conversation: which bot answers it, how far it got,
//! and — once people took over — when and why.
//!
//! A bot is an [`Agent`](super::Agent) with [`bot`](super::Agent::bot)
//! set (and [`service`](super::Agent::service): never offered work by
//! routing, never signs in). It owns a conversation the way a person
//! does, as its [`assignee`](super::Conversation::assignee); the seat keeps
//! what only a bot needs. The seat stays after a handoff, so the bot's
//! late replies can be recognised (and cancelled) and reports can tell
//! what the bot did.
//!
//! ```
//! use chrono::{TimeZone, Utc};
//! use inbox_core::model::{BotSeat, HandoffReason};
//! use inbox_core::AgentId;
//! let now = Utc.timestamp_opt(1_700_000_000, 0).unwrap();
//! let mut seat = BotSeat::new(AgentId::new("faq").unwrap(), now);
//! assert!(seat.answering());
//! seat.hand_off(now, HandoffReason::CustomerAsked, None);
//! assert!(!seat.answering());
//! assert_eq!(seat.handed_off.as_ref().unwrap().reason.as_str(), "customer_asked");
//! ```

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::AgentId;

/// The bot answering a conversation, or that answered it before people
/// took over ([`Conversation::bot`](super::Conversation::bot)).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BotSeat {
    /// The bot (an agent with [`bot`](super::Agent::bot) set).
    pub agent: AgentId,
    /// When it took the conversation.
    pub since: DateTime<Utc>,
    /// Customer messages it answered since then.
    #[serde(default)]
    pub exchanges: u32,
    /// A customer message waits for the bot's turn since then (one turn
    /// answers a burst of messages).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub turn_due: Option<DateTime<Utc>>,
    /// Turns taken (each turn's replies have idempotency keys made of it).
    #[serde(default)]
    pub turn: u64,
    /// Consecutive turns that failed (reset by one that did not).
    #[serde(default)]
    pub failures: u32,
    /// Set once people took over: the bot no longer answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handed_off: Option<Handoff>,
    /// When people will take over even if nobody asks (business hours
    /// begin, an SLA target comes close), per the tenant's handoff rules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub planned: Option<PlannedHandoff>,
}

/// A handoff that will happen at a time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PlannedHandoff {
    /// When.
    pub at: DateTime<Utc>,
    /// Why ([`HandoffReason::Opening`] or [`HandoffReason::SlaRisk`]).
    pub reason: HandoffReason,
}

impl BotSeat {
    /// A bot taking a conversation at `now`, nothing answered yet.
    pub fn new(agent: AgentId, now: DateTime<Utc>) -> Self {
        Self {
            agent,
            since: now,
            exchanges: 0,
            turn_due: None,
            turn: 0,
            failures: 0,
            handed_off: None,
            planned: None,
        }
    }

    /// Whether the bot still answers (nobody took over). Whether it also
    /// owns the conversation is [`Conversation::bot_owns`](super::Conversation::bot_owns).
    pub fn answering(&self) -> bool {
        self.handed_off.is_none()
    }

    /// Ends the bot's part: people take over at `at` for `reason` (`by`
    /// the agent who took it over, if one did). No turn is due any more.
    /// A second handoff changes nothing: the first one's reason stands.
    pub fn hand_off(&mut self, at: DateTime<Utc>, reason: HandoffReason, by: Option<AgentId>) {
        if self.handed_off.is_some() {
            return;
        }
        self.turn_due = None;
        self.planned = None;
        self.handed_off = Some(Handoff {
            at,
            reason,
            by,
            human_at: None,
        });
    }
}

/// When and why a bot handed a conversation to people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Handoff {
    /// When.
    pub at: DateTime<Utc>,
    /// Why.
    pub reason: HandoffReason,
    /// The agent who took it over, when one did ([`HandoffReason::TakenOver`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<AgentId>,
    /// When a person first took it after the handoff (claimed, was
    /// assigned it, or replied): the time to a human is measured to this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub human_at: Option<DateTime<Utc>>,
}

/// Why a bot handed a conversation to people.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum HandoffReason {
    /// The customer asked for a person (a keyword or the handoff button).
    CustomerAsked,
    /// The bot asked to hand over.
    BotAsked,
    /// The bot's turns failed.
    BotFailed,
    /// The bot answered something the inbox refused.
    BadAnswer,
    /// The bot did not answer in time.
    Timeout,
    /// The bot could not be reached.
    Unavailable,
    /// Too many exchanges without a resolution.
    MaxExchanges,
    /// A tag that goes to people (a VIP customer, say).
    Tag,
    /// Business hours began.
    Opening,
    /// An SLA target was about to be missed.
    SlaRisk,
    /// An agent took the conversation over.
    TakenOver,
}

impl HandoffReason {
    /// Every reason, in declaration order.
    pub const ALL: [HandoffReason; 11] = [
        HandoffReason::CustomerAsked,
        HandoffReason::BotAsked,
        HandoffReason::BotFailed,
        HandoffReason::BadAnswer,
        HandoffReason::Timeout,
        HandoffReason::Unavailable,
        HandoffReason::MaxExchanges,
        HandoffReason::Tag,
        HandoffReason::Opening,
        HandoffReason::SlaRisk,
        HandoffReason::TakenOver,
    ];

    /// The snake-case name (as in JSON).
    pub fn as_str(&self) -> &'static str {
        match self {
            HandoffReason::CustomerAsked => "customer_asked",
            HandoffReason::BotAsked => "bot_asked",
            HandoffReason::BotFailed => "bot_failed",
            HandoffReason::BadAnswer => "bad_answer",
            HandoffReason::Timeout => "timeout",
            HandoffReason::Unavailable => "unavailable",
            HandoffReason::MaxExchanges => "max_exchanges",
            HandoffReason::Tag => "tag",
            HandoffReason::Opening => "opening",
            HandoffReason::SlaRisk => "sla_risk",
            HandoffReason::TakenOver => "taken_over",
        }
    }
}

impl std::fmt::Display for HandoffReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(s: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_700_000_000 + s, 0).unwrap()
    }

    #[test]
    fn reason_names_are_their_json() {
        for r in HandoffReason::ALL {
            assert_eq!(
                serde_json::to_value(&r).unwrap(),
                serde_json::Value::String(r.as_str().into())
            );
        }
    }

    #[test]
    fn the_first_handoff_stands_and_ends_the_turn() {
        let mut seat = BotSeat::new(AgentId::new("faq").unwrap(), t(0));
        seat.turn_due = Some(t(1));
        seat.hand_off(t(2), HandoffReason::MaxExchanges, None);
        seat.hand_off(t(3), HandoffReason::TakenOver, AgentId::new("ana").ok());
        let h = seat.handed_off.as_ref().unwrap();
        assert_eq!(
            (h.at, &h.reason, &h.by),
            (t(2), &HandoffReason::MaxExchanges, &None)
        );
        assert_eq!(seat.turn_due, None);
    }

    #[test]
    fn a_seat_written_with_its_fields_only_reads_back() {
        let json = serde_json::json!({"agent": "faq", "since": t(0)});
        let seat: BotSeat = serde_json::from_value(json).unwrap();
        assert_eq!(seat, BotSeat::new(AgentId::new("faq").unwrap(), t(0)));
    }
}
