//! Messages that are not a customer writing live to this inbox: what the
//! business sent from another app on the number (coexistence echoes) and
//! passive copies from threads another app controls (`standby`).
//!
//! Deciding what each does to its conversation is here; storing goes the
//! way of every inbound message ([`Inbox::ingest_arrival`]).

use chrono::{DateTime, Utc};

use crate::calendar::Calendar;
use crate::event::{EventActor, EventKind};
use crate::ids::MessageId;
use crate::inbound::InboundMessage;
use crate::model::{
    Author, Contact, Conversation, DeliveryState, DeliveryStatus, Direction, Message, Origin,
    ResponseTime, ThreadControl,
};

use super::commit::SlaStep;
#[cfg(doc)]
use super::Inbox;

/// What the app that answers on a thread another app controls is called
/// when nothing named it yet.
pub const UNNAMED_APP: &str = "another_app";

/// How a message reached the inbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Arrival<'a> {
    /// The customer wrote to the inbox: routed, answered, measured.
    Customer,
    /// The business wrote to the customer from another app on the number
    /// (the WhatsApp Business app): an outbound message that answers a
    /// waiting customer like a reply, and never opens or extends the
    /// customer service window.
    Echo(&'a str),
    /// A passive copy from a thread another app controls: the customer's
    /// (`None`) or the controlling app's answer (`Some(app)`). Never
    /// routed, answered or counted as waiting.
    Standby(Option<&'a str>),
}

/// A message and how it arrived, with what deciding on it needs.
pub(crate) struct Arrived<'a, 'b> {
    /// The message.
    pub msg: &'a InboundMessage,
    /// How it arrived.
    pub arrival: Arrival<'b>,
    /// For an echo answering a waiting customer: how long they waited.
    pub response: Option<ResponseTime>,
    /// The customer's message is a keyword of the tenant's `consent`
    /// settings: it stops (`true`) or resumes marketing messages.
    pub consent: Option<bool>,
    /// The customer's message hands the bot-owned conversation it continues
    /// to people (why, and the tenant's fallback team).
    /// The customer's message answers (or comments on) the survey of the
    /// conversation it continues.
    pub survey: Option<super::csat::SurveyReply>,
    /// The customer's message hands the bot-owned conversation it continues
    /// to people (why, and the tenant's fallback team).
    pub handoff: Option<(
        crate::model::HandoffReason,
        Option<crate::settings::HandoffFallback>,
    )>,
}

impl<'a, 'b> Arrived<'a, 'b> {
    /// `msg` as it arrived, continuing `latest` (if any) whose calendar is
    /// `calendar`, at `now`.
    pub fn new(
        msg: &'a InboundMessage,
        arrival: Arrival<'b>,
        latest: Option<(&Conversation, &Calendar)>,
        now: DateTime<Utc>,
    ) -> Self {
        let response = match (arrival, latest) {
            (Arrival::Echo(_), Some((c, calendar))) if !super::ingest::is_quiet(&msg.content) => {
                let at = msg.timestamp.min(now);
                c.waiting_since
                    .filter(|since| *since <= at)
                    .map(|since| ResponseTime {
                        secs: (at - since).num_seconds(),
                        business_secs: calendar.business_time_between(since, at).num_seconds(),
                        first: c.first_response_at.is_none(),
                    })
            }
            _ => None,
        };
        Self {
            msg,
            arrival,
            response,
            consent: None,
            survey: None,
            handoff: None,
        }
    }
}

impl Arrival<'_> {
    /// Who the conversation's events are by.
    pub fn actor(&self, contact: &Contact) -> EventActor {
        match self {
            Arrival::Customer | Arrival::Standby(None) => EventActor::Customer(contact.id.clone()),
            Arrival::Echo(_) | Arrival::Standby(Some(_)) => EventActor::System,
        }
    }

    /// When the SLA is applied: echoes answer (the SLA sees the response),
    /// passive copies change nothing it measures.
    pub fn sla(&self) -> SlaStep {
        match self {
            Arrival::Customer | Arrival::Echo(_) => SlaStep::Always,
            Arrival::Standby(_) => SlaStep::IfAutomated,
        }
    }

    /// What is kept when this is not a live customer message.
    pub fn kept(&self) -> Option<Kept<'_>> {
        match *self {
            Arrival::Customer => None,
            Arrival::Echo(app) => Some(Kept::Echo(app)),
            Arrival::Standby(by) => Some(Kept::Standby(by)),
        }
    }
}

/// A message kept as a copy: an echo or a standby copy (see [`Arrival`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kept<'a> {
    /// See [`Arrival::Echo`].
    Echo(&'a str),
    /// See [`Arrival::Standby`].
    Standby(Option<&'a str>),
}

impl Kept<'_> {
    /// Stores the copy in `c` as message `id`: the message and the events
    /// that say so.
    pub fn keep(
        &self,
        arrived: &Arrived<'_, '_>,
        id: MessageId,
        contact: &Contact,
        c: &mut Conversation,
        now: DateTime<Utc>,
    ) -> (Message, Vec<EventKind>) {
        let msg = arrived.msg;
        let sent_at = msg.timestamp.min(now);
        c.message_count += 1;
        c.last_activity_at = c.last_activity_at.max(sent_at);
        let mut events = Vec::new();
        let (direction, author, origin) = match *self {
            Kept::Echo(app) => {
                if !super::ingest::is_quiet(&msg.content) {
                    answered(c, sent_at);
                }
                (Direction::Outbound, Author::App(app.into()), Origin::Live)
            }
            Kept::Standby(by) => {
                events.extend(seen_elsewhere(c, by, sent_at));
                match by {
                    None => {
                        // The customer wrote to the number: the window is
                        // theirs whoever answers.
                        extend_window(c, sent_at);
                        let author = Author::Customer(contact.id.clone());
                        (Direction::Inbound, author, Origin::Standby)
                    }
                    Some(app) => {
                        let app = c.controlled_elsewhere().unwrap_or(app).to_string();
                        (Direction::Outbound, Author::App(app), Origin::Standby)
                    }
                }
            }
        };
        let message = Message {
            tenant: c.tenant.clone(),
            id: id.clone(),
            conversation: c.id.clone(),
            channel: c.channel.clone(),
            direction,
            author,
            content: msg.content.clone(),
            external_id: Some(msg.external_id.clone()),
            idempotency_key: None,
            context: msg.context.clone(),
            mentions: Vec::new(),
            sent_at,
            created_at: now,
            delivery: (direction == Direction::Outbound).then(|| DeliveryState {
                status: DeliveryStatus::Sent,
                ..DeliveryState::pending(sent_at)
            }),
            response: arrived.response,
            origin,
        };
        let content = msg.content.kind().to_string();
        events.push(match *self {
            Kept::Echo(app) => EventKind::MessageEchoed {
                message: id,
                content,
                app: app.to_string(),
            },
            Kept::Standby(_) => EventKind::StandbyKept {
                message: id,
                content,
                by_business: direction == Direction::Outbound,
            },
        });
        (message, events)
    }
}

/// The business answered at `at` from another app: the customer no longer
/// waits; the response counts as the conversation's first if none came
/// before.
pub(super) fn answered(c: &mut Conversation, at: DateTime<Utc>) {
    c.last_agent_reply_at = Some(c.last_agent_reply_at.map_or(at, |t| t.max(at)));
    c.first_response_at.get_or_insert(at);
    if c.waiting_since.is_some_and(|since| since <= at) {
        c.waiting_since = None;
    }
}

/// The customer wrote at `at`: the customer service window runs 24 hours
/// from it.
pub(super) fn extend_window(c: &mut Conversation, at: DateTime<Utc>) {
    c.last_customer_message_at = Some(c.last_customer_message_at.map_or(at, |t| t.max(at)));
    let closes = at + super::ingest::CUSTOMER_WINDOW;
    c.window_expires_at = Some(c.window_expires_at.map_or(closes, |t| t.max(closes)));
}

/// A standby copy shows another app controls the thread: recorded when
/// the conversation thought the inbox did.
fn seen_elsewhere(c: &mut Conversation, app: Option<&str>, at: DateTime<Utc>) -> Option<EventKind> {
    // Known already, or older than what the inbox learned since (a late
    // copy from before a take or a handover).
    if c.controlled_elsewhere().is_some() || c.thread.as_ref().is_some_and(|t| t.since > at) {
        return None;
    }
    let owner = app.unwrap_or(UNNAMED_APP);
    c.thread = Some(ThreadControl {
        previous: None,
        ..ThreadControl::elsewhere(owner, at, None)
    });
    Some(EventKind::ThreadControlChanged {
        owner: Some(owner.to_string()),
        previous: None,
        how: "seen_on_standby".into(),
        metadata: None,
    })
}

/// A customer's message reached the inbox live while it thought another
/// app controlled the thread (WhatsApp released it, or it came back
/// without a handover): the inbox has it again. The change, if any.
pub(super) fn seen_here(c: &mut Conversation, at: DateTime<Utc>) -> Option<EventKind> {
    let previous = c.controlled_elsewhere()?.to_string();
    if c.thread.as_ref().is_some_and(|t| t.since > at) {
        return None;
    }
    c.thread = Some(ThreadControl::ours_since(Some(previous.clone()), at, None));
    Some(EventKind::ThreadControlChanged {
        owner: None,
        previous: Some(previous),
        how: "seen_live".into(),
        metadata: None,
    })
}
