//! Domain events.
//!
//! Every change the core makes emits events. They are committed atomically
//! with the change, numbered with a gap-free per-tenant sequence by the store,
//! published on the [`EventBus`](crate::ports::EventBus) for live updates, and
//! kept for analytics and integrations ([`Conversations::events_since`](crate::ports::Conversations::events_since)).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{AgentId, ChannelId, ContactId, ConversationId, MessageId, TeamId, TenantId};
use crate::model::{
    Conversation, ConversationStatus, DeliveryStatus, Presence, Priority, ProviderError,
};

/// Who caused an event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum EventActor {
    /// The customer.
    Customer(ContactId),
    /// An agent.
    Agent(AgentId),
    /// A rule or bot.
    Automation(String),
    /// The system (provider callbacks, timers).
    System,
}

/// What an agent is doing in a conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ViewerState {
    /// Has it open.
    Viewing,
    /// Is typing.
    Typing,
    /// Closed it.
    Left,
}

/// Where a conversation's ownership points.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Ownership {
    /// The owning agent.
    pub agent: Option<AgentId>,
    /// The team queue.
    pub team: Option<TeamId>,
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum EventKind {
    /// A contact was seen for the first time.
    ContactCreated {
        /// The contact.
        contact: ContactId,
    },
    /// A contact's profile or identity changed.
    ContactUpdated {
        /// The contact.
        contact: ContactId,
        /// What changed.
        what: String,
    },
    /// Two contacts were merged: `from`'s conversations now belong to
    /// `into`.
    ContactsMerged {
        /// The contact merged away (kept as a pointer to `into`).
        from: ContactId,
        /// The contact that remains.
        into: ContactId,
        /// Conversations moved.
        conversations: u32,
    },
    /// A new conversation was opened.
    ConversationOpened {
        /// The number.
        channel: ChannelId,
        /// The customer.
        contact: ContactId,
        /// The business opened it (a template sent first), not the
        /// customer: no rules run then; they run when the customer first
        /// answers.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        by_business: bool,
    },
    /// A resolved or snoozed conversation was reopened by a customer message.
    ConversationReopened {
        /// The status it had.
        from: ConversationStatus,
    },
    /// A customer message was stored.
    MessageReceived {
        /// The message.
        message: MessageId,
        /// Its content kind (`text`, `image` ...).
        content: String,
    },
    /// A customer edited or deleted an earlier message.
    MessageRevised {
        /// The stored edit or revoke message.
        message: MessageId,
        /// External id of the message revised.
        target: String,
    },
    /// A message the business sent from another app on the number (the
    /// WhatsApp Business app) was stored as an outbound message; it
    /// answers a waiting customer like a reply.
    MessageEchoed {
        /// The stored message.
        message: MessageId,
        /// Its content kind.
        content: String,
        /// The app that sent it.
        app: String,
    },
    /// A passive copy from a thread another app controls was stored
    /// (WhatsApp's `standby`): never routed or answered.
    StandbyKept {
        /// The stored message.
        message: MessageId,
        /// Its content kind.
        content: String,
        /// Whether the controlling app wrote it (else the customer did).
        by_business: bool,
    },
    /// Control of the conversation's WhatsApp thread changed hands: a
    /// handover webhook, a passive copy showing another app in control,
    /// or this inbox taking, passing or releasing it.
    ThreadControlChanged {
        /// The app in control now (`None`: this inbox).
        owner: Option<String>,
        /// The app in control before (`None`: this inbox).
        previous: Option<String>,
        /// How: `passed`, `taken` (by another app, or this inbox's
        /// `take`), `released`, `seen_on_standby`.
        how: String,
        /// What came with it (the other app's summary, say).
        metadata: Option<String>,
    },
    /// This inbox asked WhatsApp to take, pass or release a thread and
    /// WhatsApp refused or did not answer; nothing changed.
    ThreadControlFailed {
        /// `take`, `pass` or `release`.
        action: String,
        /// Why, in words.
        reason: String,
    },
    /// A reply was committed and queued for delivery.
    ReplyQueued {
        /// The reply.
        message: MessageId,
        /// Its content kind.
        content: String,
    },
    /// An outbound message's delivery status moved forward.
    DeliveryChanged {
        /// The message.
        message: MessageId,
        /// New status.
        status: DeliveryStatus,
        /// The provider's error, for failures.
        error: Option<ProviderError>,
    },
    /// The message may or may not have reached the provider (a send
    /// attempt was interrupted, or its outcome is unknown); it is not sent
    /// again automatically. A status webhook carrying our id reconciles it
    /// ([`EventKind::DeliveryChanged`]); an agent may send it again
    /// ([`EventKind::MessageResent`]).
    DeliveryInDoubt {
        /// The message.
        message: MessageId,
    },
    /// An agent sent a message again that was in doubt or had failed: a
    /// new message with the same content was queued (its own
    /// [`EventKind::ReplyQueued`] follows).
    MessageResent {
        /// The message in doubt or failed.
        original: MessageId,
        /// The new message.
        message: MessageId,
    },
    /// An internal note was added.
    NoteAdded {
        /// The note.
        message: MessageId,
        /// Agents mentioned with `@id`.
        mentions: Vec<AgentId>,
    },
    /// An agent assigned the conversation to themselves.
    Claimed {
        /// The new owner.
        agent: AgentId,
        /// Where ownership pointed before.
        from: Ownership,
    },
    /// The conversation was assigned (to an agent or a team queue).
    Assigned {
        /// Where ownership pointed before.
        from: Ownership,
        /// Where it points now.
        to: Ownership,
        /// Why (free text, or the routing explanation).
        reason: String,
        /// A warning, e.g. the agent is over capacity.
        warning: Option<String>,
    },
    /// The owner handed the conversation over with a note.
    Transferred {
        /// Where ownership pointed before.
        from: Ownership,
        /// Where it points now.
        to: Ownership,
        /// The handoff note's message id.
        note: MessageId,
    },
    /// The owner (or a supervisor) returned the conversation to its queue.
    Released {
        /// The agent who owned it.
        agent: AgentId,
        /// Why.
        reason: String,
    },
    /// Tags were added or removed.
    Tagged {
        /// Added tags.
        added: Vec<String>,
        /// Removed tags.
        removed: Vec<String>,
    },
    /// Priority changed.
    PriorityChanged {
        /// Before.
        from: Priority,
        /// After.
        to: Priority,
    },
    /// Status changed (also emitted on resolve and snooze).
    StatusChanged {
        /// Before.
        from: ConversationStatus,
        /// After.
        to: ConversationStatus,
        /// For snoozes, until when.
        snoozed_until: Option<DateTime<Utc>>,
    },
    /// An agent's presence changed.
    PresenceChanged {
        /// The agent.
        agent: AgentId,
        /// New presence.
        presence: Presence,
    },
    /// The customer has not answered the last reply for the configured
    /// time: a reminder to follow up.
    FollowUpDue {
        /// Who owns the conversation (to remind).
        owner: Option<AgentId>,
        /// The reply left unanswered.
        last_reply_at: DateTime<Utc>,
    },
    /// An SLA target was met.
    SlaMet {
        /// `first_response`, `next_response` or `resolution`.
        target: String,
        /// When it was due.
        due_at: DateTime<Utc>,
    },
    /// An SLA target reached its warning threshold.
    SlaWarning {
        /// Which target.
        target: String,
        /// When it is due.
        due_at: DateTime<Utc>,
    },
    /// An SLA target was breached; the policy's breach actions were taken.
    SlaBreached {
        /// Which target.
        target: String,
        /// When it was due.
        due_at: DateTime<Utc>,
        /// The actions taken (`raise_priority`, `notify_supervisor`,
        /// `return_to_queue`, `tag:<name>`).
        actions: Vec<String>,
    },
    /// The customer window closes soon and the customer is still waiting for
    /// an answer.
    WindowClosing {
        /// When it closes.
        closes_at: DateTime<Utc>,
    },
    /// An agent took or renewed the reply lease ("Ana is replying"; live
    /// only).
    ReplyLease {
        /// The holder.
        agent: AgentId,
        /// When it lapses unless renewed.
        until: DateTime<Utc>,
    },
    /// An agent gave up the reply lease (live only).
    ReplyLeaseReleased {
        /// The former holder.
        agent: AgentId,
    },
    /// An agent is viewing or typing in a conversation, or left it (live
    /// only; lapses at `expires_at` unless repeated).
    ConversationPresence {
        /// The agent.
        agent: AgentId,
        /// What they are doing.
        state: ViewerState,
        /// When to consider it stale.
        expires_at: DateTime<Utc>,
    },
    /// An automation rule matched and ran its actions.
    RuleFired {
        /// The rule's name.
        rule: String,
        /// What triggered it (`conversation_opened`, `no_agent_reply` ...).
        trigger: String,
        /// What it did, in words (assignments carry their full
        /// explanation, e.g. `team sales → least loaded: ana 2/5 (ben 3/5,
        /// cy offline)`).
        outcome: Vec<String>,
    },
    /// Automation stopped following the effects of its own actions because
    /// the cascade reached its limit (loop protection).
    AutomationStopped {
        /// The rules that fired in this change.
        rules: Vec<String>,
        /// The rounds run (the configured `max_cascade`).
        rounds: u32,
        /// The triggers left unprocessed.
        dropped: Vec<String>,
    },
    /// An integration event emitted by a rule, for CRMs and helpdesks.
    Integration {
        /// The event's name (`crm.lead` ...).
        name: String,
        /// Its fields.
        data: std::collections::BTreeMap<String, String>,
    },
    /// The tenant's settings changed (live only: the settings history is
    /// the record). Every instance reloads them on it.
    SettingsChanged {
        /// The new version.
        version: u64,
        /// The sections that changed (`routing`, `sla` ...).
        sections: Vec<String>,
    },
    /// Past messages from the WhatsApp Business app were imported into
    /// this (imported) conversation.
    HistoryImported {
        /// How many.
        messages: u32,
    },
    /// Meta reported something about the tenant's WhatsApp account, a
    /// number or a template (a paused template, a flagged number …): for
    /// admins to see and, when `needs_attention`, act on.
    AccountSignal {
        /// The numbers it concerns.
        channels: Vec<ChannelId>,
        /// What Meta said.
        signal: crate::model::AccountSignal,
        /// Whether an admin should act on it
        /// ([`AccountSignal::needs_attention`](crate::model::AccountSignal::needs_attention)).
        needs_attention: bool,
    },
    /// A bot took the conversation (a `route_to_bot` rule, or an agent
    /// handed it to the bot).
    BotEngaged {
        /// The bot.
        bot: AgentId,
        /// The rule that routed it, if a rule did.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        rule: Option<String>,
    },
    /// A bot took its turn (its replies, tags and status changes are their
    /// own events, by the bot).
    BotAnswered {
        /// The bot.
        bot: AgentId,
        /// The turn's number.
        turn: u64,
        /// What it did, by action name (`reply`, `tag` …).
        actions: Vec<String>,
    },
    /// A bot's turn failed (a handoff follows when it fails again, or at
    /// once per the tenant's `bots.handoff.max_failures`).
    BotFailed {
        /// The bot.
        bot: AgentId,
        /// The turn's number.
        turn: u64,
        /// What went wrong.
        error: String,
    },
    /// A bot handed the conversation to people.
    HandedOff {
        /// The bot.
        bot: AgentId,
        /// Why.
        reason: crate::model::HandoffReason,
        /// What the bot said of it (its summary is also a note).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        detail: Option<String>,
    },
    /// A satisfaction survey will be sent at `due_at` (the conversation
    /// was resolved).
    SurveyScheduled {
        /// When.
        due_at: DateTime<Utc>,
    },
    /// A survey was not sent, and why.
    SurveySkipped {
        /// Why.
        reason: crate::model::SurveySkip,
    },
    /// The survey was queued to the customer.
    SurveySent {
        /// Its message.
        message: MessageId,
    },
    /// The customer answered the survey (or added their comment).
    SurveyAnswered {
        /// The score.
        score: u8,
        /// The scale.
        scale: crate::model::CsatScale,
        /// Their comment, when this is one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        comment: Option<String>,
    },
    /// A stale or colliding action was refused (live only, not stored).
    CollisionPrevented {
        /// Who was stopped.
        agent: AgentId,
        /// What they tried.
        action: String,
        /// Why (the conflict, in words).
        reason: String,
    },
}

impl EventKind {
    /// The event's type name, as in its JSON `type` field.
    pub fn name(&self) -> &'static str {
        match self {
            EventKind::ContactCreated { .. } => "contact_created",
            EventKind::ContactUpdated { .. } => "contact_updated",
            EventKind::ContactsMerged { .. } => "contacts_merged",
            EventKind::ConversationOpened { .. } => "conversation_opened",
            EventKind::ConversationReopened { .. } => "conversation_reopened",
            EventKind::MessageReceived { .. } => "message_received",
            EventKind::MessageRevised { .. } => "message_revised",
            EventKind::MessageEchoed { .. } => "message_echoed",
            EventKind::StandbyKept { .. } => "standby_kept",
            EventKind::ThreadControlChanged { .. } => "thread_control_changed",
            EventKind::ThreadControlFailed { .. } => "thread_control_failed",
            EventKind::ReplyQueued { .. } => "reply_queued",
            EventKind::DeliveryChanged { .. } => "delivery_changed",
            EventKind::DeliveryInDoubt { .. } => "delivery_in_doubt",
            EventKind::MessageResent { .. } => "message_resent",
            EventKind::NoteAdded { .. } => "note_added",
            EventKind::Claimed { .. } => "claimed",
            EventKind::Assigned { .. } => "assigned",
            EventKind::Transferred { .. } => "transferred",
            EventKind::Released { .. } => "released",
            EventKind::Tagged { .. } => "tagged",
            EventKind::PriorityChanged { .. } => "priority_changed",
            EventKind::StatusChanged { .. } => "status_changed",
            EventKind::PresenceChanged { .. } => "presence_changed",
            EventKind::CollisionPrevented { .. } => "collision_prevented",
            EventKind::SettingsChanged { .. } => "settings_changed",
            EventKind::WindowClosing { .. } => "window_closing",
            EventKind::SlaMet { .. } => "sla_met",
            EventKind::FollowUpDue { .. } => "follow_up_due",
            EventKind::SlaWarning { .. } => "sla_warning",
            EventKind::SlaBreached { .. } => "sla_breached",
            EventKind::ReplyLease { .. } => "reply_lease",
            EventKind::ReplyLeaseReleased { .. } => "reply_lease_released",
            EventKind::ConversationPresence { .. } => "conversation_presence",
            EventKind::RuleFired { .. } => "rule_fired",
            EventKind::AutomationStopped { .. } => "automation_stopped",
            EventKind::Integration { .. } => "integration",
            EventKind::AccountSignal { .. } => "account_signal",
            EventKind::HistoryImported { .. } => "history_imported",
            EventKind::BotEngaged { .. } => "bot_engaged",
            EventKind::BotAnswered { .. } => "bot_answered",
            EventKind::BotFailed { .. } => "bot_failed",
            EventKind::HandedOff { .. } => "handed_off",
            EventKind::SurveyScheduled { .. } => "survey_scheduled",
            EventKind::SurveySkipped { .. } => "survey_skipped",
            EventKind::SurveySent { .. } => "survey_sent",
            EventKind::SurveyAnswered { .. } => "survey_answered",
        }
    }
}

/// A domain event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Event {
    /// The tenant.
    pub tenant: TenantId,
    /// Per-tenant sequence number, assigned by the store on commit (gap-free,
    /// starting at 1). `0` for live-only events that are never stored.
    pub seq: u64,
    /// When it happened.
    pub at: DateTime<Utc>,
    /// Who caused it.
    pub actor: EventActor,
    /// The conversation it concerns, if any.
    pub conversation: Option<ConversationId>,
    /// The conversation version this event produced, if any.
    pub conversation_version: Option<u64>,
    /// What happened.
    pub kind: EventKind,
    /// Who may see it: for an event of a conversation, what
    /// [`can_view`](crate::permissions::can_view) consults, copied from the
    /// conversation as the change left it, so that deciding whether an
    /// agent sees the event ([`can_see`](crate::permissions::can_see))
    /// reads nothing. A message's delivery events carry the scope its
    /// conversation had when the store applied them. `None` for
    /// tenant-wide events (contacts, presence); an event of a conversation
    /// published without one takes its scope from the conversation's other
    /// events, or one read (see [`Inbox::subscribe`](crate::Inbox::subscribe)).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<Scope>,
}

/// Who may see an event of a conversation: the conversation's visibility
/// as the change that emitted the event left it. The tenant is the event's
/// own.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Scope {
    /// The number the conversation is on.
    pub channel: ChannelId,
    /// The team queue it is in, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<TeamId>,
    /// The agent who owns it, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<AgentId>,
}

impl Scope {
    /// The scope of `conversation` as it stands.
    pub fn of(conversation: &Conversation) -> Self {
        Self {
            channel: conversation.channel.clone(),
            team: conversation.team.clone(),
            owner: conversation.assignee.clone(),
        }
    }

    /// Stamps the events of `conversation` among `events` with its scope.
    /// Call it with the conversation as the change commits it, just before
    /// the commit: every event of the change then says who may see it
    /// afterwards. Events of no conversation or of another are left alone.
    pub fn stamp(events: &mut [Event], conversation: &Conversation) {
        let scope = Self::of(conversation);
        for e in events
            .iter_mut()
            .filter(|e| e.conversation.as_ref() == Some(&conversation.id))
        {
            e.scope = Some(scope.clone());
        }
    }
}

impl Event {
    /// A new, not yet sequenced event.
    pub fn new(tenant: TenantId, at: DateTime<Utc>, actor: EventActor, kind: EventKind) -> Self {
        Self {
            tenant,
            seq: 0,
            at,
            actor,
            conversation: None,
            conversation_version: None,
            kind,
            scope: None,
        }
    }

    /// Sets the conversation (builder style).
    pub fn on(mut self, conversation: &ConversationId, version: u64) -> Self {
        self.conversation = Some(conversation.clone());
        self.conversation_version = Some(version);
        self
    }
}
