//! The bot report: what bots did with the conversations they took in a
//! time range.
//!
//! Definitions every store gives exactly (stores return [`BotRow`]s, the
//! core counts):
//!
//! - the population is every conversation whose (latest) bot seat began
//!   (`since`) in `[from, to)`;
//! - `resolved_by_bot`: resolved while the bot still answered it;
//!   `handed_off`: people took over (by a handoff or a take-over), by
//!   reason; `open`: neither yet;
//! - `handoff_rate = handed_off / engaged`;
//! - time to a human: from the handoff to when a person first took the
//!   conversation (claimed, was assigned or replied), whole seconds, over
//!   the handoffs a person took.
//!
//! ```
//! use chrono::{TimeDelta, TimeZone, Utc};
//! use inbox_core::metrics::{BotOutcome, BotReport, BotRow};
//! let at = Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap();
//! let row = |outcome, human: Option<i64>| BotRow {
//!     bot: "faq".into(), channel: "main".into(), since: at, outcome,
//!     to_human_secs: human,
//! };
//! let r = BotReport::compute(&[
//!     row(BotOutcome::Resolved, None),
//!     row(BotOutcome::HandedOff("customer_asked".into()), Some(60)),
//!     row(BotOutcome::Open, None),
//! ]);
//! assert_eq!((r.total.engaged, r.total.resolved_by_bot, r.total.handed_off), (3, 1, 1));
//! assert_eq!(r.total.reasons["customer_asked"], 1);
//! assert_eq!(r.total.time_to_human.median_secs, Some(60));
//! ```

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::Distribution;
use crate::model::{Conversation, ConversationStatus};

/// The range of a bot report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BotQuery {
    /// From (inclusive).
    pub from: DateTime<Utc>,
    /// To (exclusive).
    pub to: DateTime<Utc>,
}

/// What became of a bot's conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum BotOutcome {
    /// The bot resolved it.
    Resolved,
    /// People took over, for this reason.
    HandedOff(String),
    /// The bot still has it.
    Open,
}

/// One bot seat, as reports read it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BotRow {
    /// The bot.
    pub bot: String,
    /// The number.
    pub channel: String,
    /// When the bot took it.
    pub since: DateTime<Utc>,
    /// What became of it.
    pub outcome: BotOutcome,
    /// Seconds from the handoff to a person taking it.
    pub to_human_secs: Option<i64>,
}

impl BotRow {
    /// `c`'s bot seat in `query`'s range: the reference a store's answer
    /// must equal.
    pub fn of(c: &Conversation, query: &BotQuery) -> Option<BotRow> {
        let seat = c.bot.as_ref()?;
        if seat.since < query.from || seat.since >= query.to {
            return None;
        }
        let outcome = match &seat.handed_off {
            Some(h) => BotOutcome::HandedOff(h.reason.as_str().to_string()),
            None if c.status == ConversationStatus::Resolved => BotOutcome::Resolved,
            None => BotOutcome::Open,
        };
        let to_human_secs = seat
            .handed_off
            .as_ref()
            .and_then(|h| h.human_at.map(|at| (at - h.at).num_seconds()));
        Some(BotRow {
            bot: seat.agent.to_string(),
            channel: c.channel.to_string(),
            since: seat.since,
            outcome,
            to_human_secs,
        })
    }
}

/// Figures of a group of bot conversations.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BotFigures {
    /// Conversations bots took.
    pub engaged: u64,
    /// Resolved by the bot.
    pub resolved_by_bot: u64,
    /// Handed to people.
    pub handed_off: u64,
    /// Still with the bot.
    pub open: u64,
    /// Handed off over engaged.
    pub handoff_rate: Option<f64>,
    /// Handoffs by reason.
    pub reasons: BTreeMap<String, u64>,
    /// From a handoff to a person taking the conversation.
    pub time_to_human: Distribution,
    #[serde(skip)]
    waits: Vec<i64>,
}

impl BotFigures {
    fn add(&mut self, row: &BotRow) {
        self.engaged += 1;
        match &row.outcome {
            BotOutcome::Resolved => self.resolved_by_bot += 1,
            BotOutcome::Open => self.open += 1,
            BotOutcome::HandedOff(reason) => {
                self.handed_off += 1;
                *self.reasons.entry(reason.clone()).or_default() += 1;
            }
        }
        self.waits.extend(row.to_human_secs);
    }

    fn finish(&mut self) {
        self.handoff_rate =
            (self.engaged > 0).then(|| self.handed_off as f64 / self.engaged as f64);
        self.time_to_human = Distribution::of(std::mem::take(&mut self.waits));
    }
}

/// The bot report.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BotReport {
    /// Every bot.
    pub total: BotFigures,
    /// By bot.
    pub bots: BTreeMap<String, BotFigures>,
}

impl BotReport {
    /// The report of `rows`.
    pub fn compute(rows: &[BotRow]) -> Self {
        let mut r = BotReport::default();
        for row in rows {
            r.total.add(row);
            r.bots.entry(row.bot.clone()).or_default().add(row);
        }
        r.total.finish();
        r.bots.values_mut().for_each(BotFigures::finish);
        r
    }
}
