use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{AgentId, ChannelId, ContactId, ConversationId, TeamId, TenantId};

/// Where a conversation is in its lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ConversationStatus {
    /// Needs the team's attention.
    Open,
    /// Waiting on the customer.
    Pending,
    /// Put aside until a time (see [`Conversation::snoozed_until`]).
    Snoozed,
    /// Done. A new customer message reopens it (or opens a new one, per
    /// the tenant's `reopen` setting: [`crate::ReopenPolicy`]).
    Resolved,
}

impl ConversationStatus {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            ConversationStatus::Open => "open",
            ConversationStatus::Pending => "pending",
            ConversationStatus::Snoozed => "snoozed",
            ConversationStatus::Resolved => "resolved",
        }
    }

    /// Every status but resolved counts as active: at most one active
    /// conversation exists per (channel, contact).
    pub fn is_active(self) -> bool {
        self != ConversationStatus::Resolved
    }
}

display_as_str!(ConversationStatus);

/// How urgent a conversation is.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord, Default,
)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    /// Low.
    Low,
    /// Normal (default).
    #[default]
    Normal,
    /// High.
    High,
    /// Urgent.
    Urgent,
}

impl std::fmt::Display for Priority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Priority::Low => "low",
            Priority::Normal => "normal",
            Priority::High => "high",
            Priority::Urgent => "urgent",
        })
    }
}

/// How a conversation the business started began.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Started {
    /// Who started it.
    pub by: StartedBy,
    /// When.
    pub at: DateTime<Utc>,
}

/// Who started a conversation the business opened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
#[non_exhaustive]
pub enum StartedBy {
    /// An agent, from the inbox.
    Agent(AgentId),
    /// An API key (its service account), from another system.
    Api(AgentId),
    /// A broadcast: the conversation stays resolved, and nobody's, until
    /// the customer answers.
    Broadcast(crate::ids::BroadcastId),
}

/// A thread between a contact and a channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Conversation {
    /// The tenant.
    pub tenant: TenantId,
    /// The conversation's id.
    pub id: ConversationId,
    /// The number the customer wrote to.
    pub channel: ChannelId,
    /// The customer.
    pub contact: ContactId,
    /// Lifecycle status.
    pub status: ConversationStatus,
    /// The agent who owns it, if any.
    pub assignee: Option<AgentId>,
    /// The team queue it is in, if any.
    pub team: Option<TeamId>,
    /// Tags (lower-case, unique, sorted).
    pub tags: Vec<String>,
    /// Priority.
    pub priority: Priority,
    /// When a snoozed conversation wakes up.
    pub snoozed_until: Option<DateTime<Utc>>,
    /// When it was opened.
    pub created_at: DateTime<Utc>,
    /// Last change of any kind.
    pub updated_at: DateTime<Utc>,
    /// Last message or note (the inbox sort key).
    pub last_activity_at: DateTime<Utc>,
    /// When the customer last wrote.
    pub last_customer_message_at: Option<DateTime<Utc>>,
    /// When an agent (or automation) last replied.
    pub last_agent_reply_at: Option<DateTime<Utc>>,
    /// The oldest customer message not yet answered by an agent: the
    /// customer has been waiting since then. `None` when answered.
    pub waiting_since: Option<DateTime<Utc>>,
    /// When the 24-hour customer service window closes (24 h after the
    /// customer's last message). `None` if the customer never wrote.
    pub window_expires_at: Option<DateTime<Utc>>,
    /// When it was last resolved.
    pub resolved_at: Option<DateTime<Utc>>,
    /// How many times it was reopened.
    pub reopen_count: u32,
    /// Messages in the conversation (inbound, outbound and notes).
    pub message_count: u32,
    /// The window expiry the team was last warned about (so the warning
    /// fires once per window).
    #[serde(default)]
    pub window_warned_for: Option<DateTime<Utc>>,
    /// The agent reply the follow-up reminder was sent for (so it fires
    /// once per reply the customer leaves unanswered).
    #[serde(default)]
    pub follow_up_for: Option<DateTime<Utc>>,
    /// The SLA policy in force and its targets (due times, met, breached).
    #[serde(default)]
    pub sla: Option<crate::sla::SlaState>,
    /// When an agent first replied (automatic replies do not count): the
    /// first response time is measured to this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_response_at: Option<DateTime<Utc>>,
    /// The first response time in business hours (seconds of the
    /// conversation's calendar between opening and the first agent reply),
    /// recorded with the reply for reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_response_business_secs: Option<i64>,
    /// The resolution time in business hours (opening to the last
    /// resolution), recorded when the conversation is resolved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolution_business_secs: Option<i64>,
    /// When automation rules last fired on this conversation, by rule name
    /// (kept for rules with a cooldown or a time trigger).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub rule_fired: std::collections::BTreeMap<String, DateTime<Utc>>,
    /// When the next time-triggered automation rule is due (`no agent reply
    /// for 15 minutes` ...), as computed by the routing rules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub automation_due: Option<DateTime<Utc>>,
    /// Who controls the thread on WhatsApp when several apps share the
    /// number (`None`: nobody ever said otherwise, so this inbox does).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thread: Option<super::ThreadControl>,
    /// Imported from the chat history of the WhatsApp Business app
    /// (coexistence onboarding): past messages kept for reference, left
    /// out of reports and never reopened by a new message.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub imported: bool,
    /// The bot answering it, or that answered it before people took over
    /// (`None`: no bot ever did).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bot: Option<super::BotSeat>,
    /// When a person last replied (bots' and automatic replies do not
    /// count): surveys are sent only after a person answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub human_replied_at: Option<DateTime<Utc>>,
    /// Its satisfaction surveys, one per resolution, oldest first (at most
    /// [`MAX_SURVEYS_KEPT`](super::MAX_SURVEYS_KEPT)).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub surveys: Vec<super::SurveyState>,
    /// Who started it and when, if the business did (a template sent
    /// first: [`Inbox::start_conversation`](crate::Inbox::start_conversation));
    /// `None` when the customer wrote first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started: Option<Started>,
    /// Optimistic-concurrency version; every change increments it.
    pub version: u64,
}

impl Conversation {
    /// A new open, unassigned conversation at version 0 (not yet stored).
    pub fn new(
        tenant: TenantId,
        id: ConversationId,
        channel: ChannelId,
        contact: ContactId,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            tenant,
            id,
            channel,
            contact,
            status: ConversationStatus::Open,
            assignee: None,
            team: None,
            tags: Vec::new(),
            priority: Priority::Normal,
            snoozed_until: None,
            created_at: now,
            updated_at: now,
            last_activity_at: now,
            last_customer_message_at: None,
            last_agent_reply_at: None,
            waiting_since: None,
            window_expires_at: None,
            resolved_at: None,
            reopen_count: 0,
            message_count: 0,
            window_warned_for: None,
            follow_up_for: None,
            sla: None,
            first_response_at: None,
            first_response_business_secs: None,
            resolution_business_secs: None,
            rule_fired: Default::default(),
            automation_due: None,
            thread: None,
            imported: false,
            bot: None,
            human_replied_at: None,
            surveys: Vec::new(),
            started: None,
            version: 0,
        }
    }

    /// The other app controlling this conversation's thread, if another
    /// app does (Meta's AI agent, say): the inbox then keeps what arrives
    /// as passive copies and does not answer.
    pub fn controlled_elsewhere(&self) -> Option<&str> {
        self.thread.as_ref().and_then(|t| t.other_app())
    }

    /// Whether the customer window is open at `now`, i.e. a free-form message
    /// may be sent.
    ///
    /// ```
    /// use chrono::{Duration, TimeZone, Utc};
    /// use inbox_core::{model::Conversation, *};
    /// let now = Utc.timestamp_opt(1_700_000_000, 0).unwrap();
    /// let mut c = Conversation::new(
    ///     TenantId::new("t").unwrap(), ConversationId::new("c").unwrap(),
    ///     ChannelId::new("ch").unwrap(), ContactId::new("k").unwrap(), now);
    /// assert!(!c.window_open(now)); // the customer never wrote
    /// c.window_expires_at = Some(now + Duration::hours(1));
    /// assert!(c.window_open(now));
    /// assert!(!c.window_open(now + Duration::hours(2)));
    /// ```
    pub fn window_open(&self, now: DateTime<Utc>) -> bool {
        self.window_expires_at.is_some_and(|at| now < at)
    }

    /// Whether the business started it and the customer has not written
    /// in it yet: their first message opens it for the team as a new
    /// conversation would (rules on `conversation_opened` run).
    pub fn awaits_first_answer(&self) -> bool {
        self.started.is_some() && self.last_customer_message_at.is_none()
    }

    /// Whether a broadcast started it and the customer never answered:
    /// not the team's work, left out of reports.
    pub fn unanswered_broadcast(&self) -> bool {
        self.awaits_first_answer()
            && self
                .started
                .as_ref()
                .is_some_and(|s| matches!(s.by, StartedBy::Broadcast(_)))
    }

    /// Whether `agent` owns the conversation.
    pub fn is_owned_by(&self, agent: &AgentId) -> bool {
        self.assignee.as_ref() == Some(agent)
    }

    /// The bot that owns the conversation and answers it, if one does:
    /// its seat has not been handed off and it is the assignee.
    pub fn bot_owns(&self) -> Option<&super::BotSeat> {
        self.bot
            .as_ref()
            .filter(|seat| seat.answering() && self.is_owned_by(&seat.agent))
    }
}
