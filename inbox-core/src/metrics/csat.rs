//! The satisfaction report: surveys of conversations resolved in a time
//! range, by agent, team, number and day.
//!
//! Definitions every store gives exactly (stores return the surveys,
//! [`SurveyRow`]s, the core counts):
//!
//! - the population is every survey whose conversation was resolved
//!   (`resolved_at`) in `[from, to)`;
//! - `sent`: surveys queued to the customer; `answered`: those with an
//!   answer; `response_rate = answered / sent`;
//! - `positive_share`: answers at the top face, or 4–5 on the five-point
//!   scale, over answers; `average`: the mean score on a 1–5 scale (faces
//!   count 1, 3 and 5);
//! - `skipped`: surveys not sent, by reason (no person replied, window
//!   closed, opted out, the customer wrote first);
//! - a survey counts for the agent and team that had the conversation when
//!   it was resolved; days are UTC.
//!
//! ```
//! use chrono::{TimeZone, Utc};
//! use inbox_core::metrics::{CsatReport, SurveyRow};
//! use inbox_core::model::{CsatAnswer, CsatScale};
//! let at = Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap();
//! let row = |score: Option<u8>| SurveyRow {
//!     channel: "main".into(), agent: Some("ana".into()), team: None, by_bot: false,
//!     resolved_at: at, sent: true, skipped: None,
//!     answer: score.map(|score| CsatAnswer { score, scale: CsatScale::Faces, at, comment: None, comment_message: None }),
//! };
//! let r = CsatReport::compute(&[row(Some(3)), row(Some(1)), row(None)]);
//! assert_eq!((r.total.sent, r.total.answered), (3, 2));
//! assert_eq!(r.total.positive_share, Some(0.5));
//! assert_eq!(r.total.average, Some(3.0));
//! ```

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::model::{Conversation, CsatAnswer, SurveySkip};

/// The range of a satisfaction report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CsatQuery {
    /// From (inclusive).
    pub from: DateTime<Utc>,
    /// To (exclusive).
    pub to: DateTime<Utc>,
}

/// One survey, as reports read it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SurveyRow {
    /// The number.
    pub channel: String,
    /// The agent who had the conversation.
    pub agent: Option<String>,
    /// The team.
    pub team: Option<String>,
    /// Whether a bot resolved it.
    pub by_bot: bool,
    /// When the conversation was resolved.
    pub resolved_at: DateTime<Utc>,
    /// Whether the survey was sent.
    pub sent: bool,
    /// Why it was not.
    pub skipped: Option<SurveySkip>,
    /// The answer.
    pub answer: Option<CsatAnswer>,
}

impl SurveyRow {
    /// The surveys of `c` in `query`'s range: the reference a store's
    /// answer must equal.
    pub fn of(c: &Conversation, query: &CsatQuery) -> Vec<SurveyRow> {
        c.surveys
            .iter()
            .filter(|s| s.resolved_at >= query.from && s.resolved_at < query.to)
            .map(|s| SurveyRow {
                channel: c.channel.to_string(),
                agent: s.agent.as_ref().map(ToString::to_string),
                team: s.team.as_ref().map(ToString::to_string),
                by_bot: s.by_bot,
                resolved_at: s.resolved_at,
                sent: s.sent.is_some(),
                skipped: s.skipped,
                answer: s.answer.clone(),
            })
            .collect()
    }
}

/// Satisfaction figures of a group of surveys.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CsatFigures {
    /// Surveys sent.
    pub sent: u64,
    /// Surveys answered.
    pub answered: u64,
    /// Answered over sent.
    pub response_rate: Option<f64>,
    /// Satisfied answers over answers.
    pub positive_share: Option<f64>,
    /// Mean score on a 1–5 scale.
    pub average: Option<f64>,
    /// Surveys not sent, by reason.
    pub skipped: BTreeMap<String, u64>,
    positive: u64,
    points: u64,
}

impl CsatFigures {
    fn add(&mut self, row: &SurveyRow) {
        if let Some(reason) = row.skipped {
            *self.skipped.entry(reason.as_str().to_string()).or_default() += 1;
        }
        if row.sent {
            self.sent += 1;
        }
        if let Some(a) = &row.answer {
            self.answered += 1;
            self.points += u64::from(a.scale.on_five(a.score));
            if a.scale.is_positive(a.score) {
                self.positive += 1;
            }
        }
    }

    fn finish(&mut self) {
        let ratio = |a: u64, b: u64| (b > 0).then(|| a as f64 / b as f64);
        self.response_rate = ratio(self.answered, self.sent);
        self.positive_share = ratio(self.positive, self.answered);
        self.average = ratio(self.points, self.answered);
    }
}

/// The satisfaction report.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CsatReport {
    /// Every survey.
    pub total: CsatFigures,
    /// By agent (surveys of conversations a person had).
    pub agents: BTreeMap<String, CsatFigures>,
    /// By team.
    pub teams: BTreeMap<String, CsatFigures>,
    /// By number.
    pub channels: BTreeMap<String, CsatFigures>,
    /// By day (UTC, `YYYY-MM-DD`).
    pub days: BTreeMap<String, CsatFigures>,
    /// Conversations bots resolved.
    pub bots: CsatFigures,
}

impl CsatReport {
    /// The report of `rows`.
    pub fn compute(rows: &[SurveyRow]) -> Self {
        let mut r = CsatReport::default();
        for row in rows {
            r.total.add(row);
            if let Some(a) = &row.agent {
                r.agents.entry(a.clone()).or_default().add(row);
            }
            if let Some(t) = &row.team {
                r.teams.entry(t.clone()).or_default().add(row);
            }
            r.channels.entry(row.channel.clone()).or_default().add(row);
            let day = row.resolved_at.format("%Y-%m-%d").to_string();
            r.days.entry(day).or_default().add(row);
            if row.by_bot {
                r.bots.add(row);
            }
        }
        r.total.finish();
        r.bots.finish();
        for map in [&mut r.agents, &mut r.teams, &mut r.channels, &mut r.days] {
            map.values_mut().for_each(CsatFigures::finish);
        }
        r
    }
}
