//! Customer-satisfaction surveys: one per resolution of a conversation,
//! sent inside the customer service window after it was resolved, answered
//! with a tap (and maybe a comment).
//!
//! A conversation keeps its surveys ([`Conversation::surveys`](super::Conversation::surveys)),
//! the last one for its current resolution; reports read them all.
//!
//! ```
//! use chrono::{TimeZone, Utc};
//! use inbox_core::model::{CsatScale, SurveyState};
//! let at = Utc.timestamp_opt(1_700_000_000, 0).unwrap();
//! let s = SurveyState::scheduled(0, at, at, None, None, false);
//! assert!(s.is_waiting());
//! assert!(CsatScale::Faces.is_positive(3) && !CsatScale::Five.is_positive(3));
//! assert_eq!(CsatScale::Faces.on_five(2), 3);
//! ```

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{AgentId, MessageId, TeamId};

/// Most surveys a conversation keeps (the oldest go first).
pub const MAX_SURVEYS_KEPT: usize = 50;

/// How customers answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum CsatScale {
    /// Three faces (buttons): 1 bad, 2 OK, 3 great.
    #[default]
    Faces,
    /// A 1–5 scale (a list).
    Five,
}

impl CsatScale {
    /// The highest score.
    pub fn max(self) -> u8 {
        match self {
            CsatScale::Faces => 3,
            CsatScale::Five => 5,
        }
    }

    /// Whether a score counts as satisfied: the top face, or 4–5.
    pub fn is_positive(self, score: u8) -> bool {
        match self {
            CsatScale::Faces => score == 3,
            CsatScale::Five => score >= 4,
        }
    }

    /// The score on a 1–5 scale, so that both scales average together
    /// (faces are 1, 3 and 5).
    pub fn on_five(self, score: u8) -> u8 {
        match self {
            CsatScale::Faces => score.saturating_mul(2).saturating_sub(1),
            CsatScale::Five => score,
        }
    }
}

/// Why a survey was not sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum SurveySkip {
    /// No person replied since the conversation was (re)opened.
    NoAgentReply,
    /// The customer service window closed (or would close too soon).
    WindowClosed,
    /// The customer stopped marketing messages (or surveys).
    OptedOut,
    /// The customer wrote again before it was sent.
    CustomerWroteFirst,
}

impl SurveySkip {
    /// The snake-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            SurveySkip::NoAgentReply => "no_agent_reply",
            SurveySkip::WindowClosed => "window_closed",
            SurveySkip::OptedOut => "opted_out",
            SurveySkip::CustomerWroteFirst => "customer_wrote_first",
        }
    }
}

/// A survey answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CsatAnswer {
    /// The score (1 to the scale's highest).
    pub score: u8,
    /// The scale it was given on.
    pub scale: CsatScale,
    /// When.
    pub at: DateTime<Utc>,
    /// What the customer added, if they did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// The customer's message that is the comment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment_message: Option<MessageId>,
}

/// A survey's message, queued.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SurveySent {
    /// The message.
    pub message: MessageId,
    /// When it was queued.
    pub at: DateTime<Utc>,
}

/// The survey of one resolution of a conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SurveyState {
    /// The resolution it is for (the conversation's `reopen_count` then).
    pub resolution: u32,
    /// When the conversation was resolved.
    pub resolved_at: DateTime<Utc>,
    /// When it is to be sent.
    pub due_at: DateTime<Utc>,
    /// Who owned the conversation when it was resolved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<AgentId>,
    /// Its team then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<TeamId>,
    /// Whether a bot resolved it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub by_bot: bool,
    /// The survey message and when it was queued.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent: Option<SurveySent>,
    /// The answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer: Option<CsatAnswer>,
    /// A text from the customer until then is their comment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment_until: Option<DateTime<Utc>>,
    /// Why it was not sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skipped: Option<SurveySkip>,
}

impl SurveyState {
    /// A survey to send at `due_at`.
    pub fn scheduled(
        resolution: u32,
        resolved_at: DateTime<Utc>,
        due_at: DateTime<Utc>,
        agent: Option<AgentId>,
        team: Option<TeamId>,
        by_bot: bool,
    ) -> Self {
        Self {
            resolution,
            resolved_at,
            due_at,
            agent,
            team,
            by_bot,
            sent: None,
            answer: None,
            comment_until: None,
            skipped: None,
        }
    }

    /// Neither sent nor skipped yet.
    pub fn is_waiting(&self) -> bool {
        self.sent.is_none() && self.skipped.is_none()
    }
}
