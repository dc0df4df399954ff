//! Inbound events: customer messages, delivery statuses and customers'
//! choices about marketing messages.

use chrono::{DateTime, TimeDelta, Utc};

use super::commit::{Decision, Retry, Rows, Rules};
use super::{Inbox, ReopenPolicy};
use crate::error::{Error, Result, Unique};
use crate::event::{Event, EventActor, EventKind};
use crate::ids::{ContactId, ConversationId, MessageId, TenantId};
use crate::inbound::{
    InboundEvent, InboundMessage, InboundPreference, InboundStatus, IngestOutcome,
};
use crate::model::{
    Author, CallOutcome, Channel, Contact, Content, Conversation, ConversationStatus,
    DeliveryStatus, DeliveryUpdate, Direction, InteractiveReply, MarketingChoice, Message,
    SystemChange,
};
use crate::ports::{
    Changeset, IngestRequest, MessageMutation, MessageTarget, MessageUpdate, MessageUpdated, Write,
};
use crate::routing::TriggerKind;
use crate::StandbyCopy;

pub(crate) use super::copies::{Arrival, Arrived};

/// The 24-hour customer service window.
pub const CUSTOMER_WINDOW: TimeDelta = TimeDelta::hours(24);

/// Content that is stored without reopening a resolved conversation or making
/// the customer "wait" for an answer: reactions, edits, deletions, system
/// notices, calls (but a missed call: the customer waits for a call
/// back) and call permissions refused or granted by WhatsApp itself.
pub(super) fn is_quiet(content: &Content) -> bool {
    match content {
        Content::Call { outcome, .. } => !outcome.wants_call_back(),
        // A refusal to be called, or WhatsApp's grant when the customer
        // calls back, asks nothing of the team.
        Content::Interactive {
            reply:
                InteractiveReply::CallPermission {
                    accepted,
                    automatic,
                    ..
                },
        } => !accepted || *automatic,
        other => matches!(
            other,
            Content::Reaction { .. }
                | Content::Edit { .. }
                | Content::Revoke { .. }
                | Content::System { .. }
        ),
    }
}

impl Inbox {
    /// Ingests one inbound event. Idempotent: the same message delivered any
    /// number of times is stored once ([`IngestOutcome::Duplicate`] after the
    /// first), and a status never moves a message backwards.
    ///
    /// Acknowledge a webhook to the provider only after this returned `Ok`
    /// for every event in it: then nothing acknowledged is ever lost.
    pub async fn ingest(&self, event: InboundEvent) -> Result<IngestOutcome> {
        match event {
            InboundEvent::Message(m) => self.ingest_message(m).await,
            InboundEvent::Status(s) => self.ingest_status(s).await,
            InboundEvent::Preference(p) => self.ingest_preference(p).await,
            InboundEvent::Echo(e) => self.ingest_arrival(e.message, Arrival::Echo(&e.app)).await,
            InboundEvent::Standby(StandbyCopy::Customer(m)) => {
                self.ingest_arrival(m, Arrival::Standby(None)).await
            }
            InboundEvent::Standby(StandbyCopy::Business(e)) => {
                self.ingest_arrival(e.message, Arrival::Standby(Some(&e.app)))
                    .await
            }
            InboundEvent::Handover(h) => self.ingest_handover(h).await,
            InboundEvent::AppContact(a) => self.ingest_app_contact(a).await,
            InboundEvent::Account(a) => self.ingest_account_signal(a).await,
            InboundEvent::History(h) => self.ingest_history(h).await,
        }
    }

    /// Records a customer's choice about marketing messages on their
    /// contact (stopped, or resumed, and when), with a `contact_updated`
    /// event. A report older than the choice kept, a choice the inbox does
    /// not act on, or a customer this tenant has never heard from changes
    /// nothing. Checked like a message ([`InboundPreference::check`]).
    pub async fn ingest_preference(&self, p: InboundPreference) -> Result<IngestOutcome> {
        p.check(self.now())?;
        let channel = self.channel_for(&p.phone_number_id).await?;
        let tenant = &channel.tenant;
        let mut retry = Retry::default();
        loop {
            let Some(current) = self.ports.store.find_contact(tenant, &p.from).await? else {
                return Ok(IngestOutcome::Preference {
                    contact: None,
                    changed: false,
                });
            };
            let contact = Some(current.id.clone());
            // WhatsApp's times are whole seconds: of two choices in one
            // second, the one delivered last wins.
            let stale = |stopped: bool| {
                current.marketing.as_ref().is_some_and(|m| {
                    m.at > p.timestamp || (m.at == p.timestamp && m.stopped == stopped)
                })
            };
            let Some(stopped) = p.stops_marketing().filter(|s| !stale(*s)) else {
                return Ok(IngestOutcome::Preference {
                    contact,
                    changed: false,
                });
            };
            let mut next = current.clone();
            next.marketing = Some(MarketingChoice {
                stopped,
                at: p.timestamp,
                detail: p.detail.clone(),
                source: crate::model::ConsentSource::WhatsApp,
                opted_in: !stopped,
            });
            next.version = current.version + 1;
            let what = if stopped {
                "stopped marketing messages"
            } else {
                "resumed marketing messages"
            };
            let event = Event::new(
                tenant.clone(),
                self.now(),
                EventActor::Customer(current.id.clone()),
                EventKind::ContactUpdated {
                    contact: current.id.clone(),
                    what: what.into(),
                },
            );
            let changes = Changeset {
                contact: Some(Write {
                    value: next,
                    expected_version: Some(current.version),
                }),
                events: vec![event],
                ..Changeset::new(tenant.clone())
            };
            match self.ports.store.commit(changes).await {
                Ok(committed) => {
                    self.publish(&committed.events).await;
                    return Ok(IngestOutcome::Preference {
                        contact,
                        changed: true,
                    });
                }
                Err(e) => retry.again(e, &self.config)?,
            }
        }
    }

    pub(super) async fn channel_for(&self, phone_number_id: &str) -> Result<Channel> {
        self.ports
            .store
            .channel_by_phone_number_id(phone_number_id)
            .await?
            .ok_or_else(|| Error::UnknownChannel {
                phone_number_id: phone_number_id.to_string(),
            })
    }

    /// Ingests a customer message: finds or creates the contact, opens or
    /// reopens the conversation, stores the message, all in one commit.
    ///
    /// A message that no store could keep as it is, or whose timestamp
    /// WhatsApp cannot have sent ([`InboundMessage::check`] against the
    /// inbox's clock), is refused with [`Error::InvalidInput`] and nothing is
    /// stored.
    pub async fn ingest_message(&self, msg: InboundMessage) -> Result<IngestOutcome> {
        self.ingest_arrival(msg, Arrival::Customer).await
    }

    /// Ingests a message that arrived as `arrival` says (see
    /// [`Arrival`]), as [`Inbox::ingest_message`] does a customer's.
    pub(super) async fn ingest_arrival(
        &self,
        msg: InboundMessage,
        arrival: Arrival<'_>,
    ) -> Result<IngestOutcome> {
        msg.check(self.now())?;
        let channel = self.channel_for(&msg.phone_number_id).await?;
        let mut retry = Retry::default();
        loop {
            // (boxed: deciding reads a lot; its future stays off the stack)
            let plan = match Box::pin(self.prepare_ingest(&channel, &msg, arrival)).await? {
                Ok(plan) => plan,
                Err(existing) => return Ok(IngestOutcome::Duplicate { message: existing }),
            };
            let outcome = IngestOutcome::Stored {
                message: Box::new(plan.message),
                conversation: plan.decision.after.id.clone(),
                opened: plan.opened,
                reopened: plan.reopened,
            };
            match self.apply(plan.decision).await {
                Ok(_) => return Ok(outcome),
                Err(Error::Duplicate {
                    what: Unique::Message,
                    existing,
                }) => {
                    return Ok(IngestOutcome::Duplicate {
                        message: MessageId::new(existing)?,
                    })
                }
                // Raced with another ingest for the same contact: read
                // again and retry (ingest is idempotent).
                Err(e @ Error::Duplicate { .. }) => retry.race(e, &self.config)?,
                Err(e) => retry.again(e, &self.config)?,
            }
        }
    }

    /// Reads what deciding on `msg` needs and decides (see
    /// [`Inbox::plan_ingest`]), or finds the message already stored
    /// (`Err` with its id).
    pub(crate) async fn prepare_ingest<'a>(
        &self,
        channel: &Channel,
        msg: &'a InboundMessage,
        arrival: Arrival<'_>,
    ) -> Result<std::result::Result<IngestPlan<'a>, MessageId>> {
        let context = self
            .ports
            .store
            .ingest_context(IngestRequest {
                tenant: &channel.tenant,
                channel: &channel.id,
                identity: &msg.from,
                external_id: &msg.external_id,
            })
            .await?;
        if let Some(existing) = context.existing {
            return Ok(Err(existing.id));
        }
        let policy = self.policy(&channel.tenant).await?;
        let now = self.now();
        // Copies (echoes, standby) always continue the latest conversation:
        // they reopen nothing and open a new one only when there is none.
        // A conversation imported from the app's history is continued by
        // nothing.
        let live = arrival == Arrival::Customer;
        // A stop or resume keyword is the customer's choice, not a request
        // to the team: it reopens nothing and makes nobody wait.
        let consent = live
            .then(|| policy.document.consent.choice_in(&msg.content))
            .flatten();
        // A tap on the survey (or the comment after it) belongs to the
        // conversation surveyed, and reopens nothing.
        let survey = context.latest.as_ref().filter(|_| live).and_then(|c| {
            let csat = &policy.document.csat;
            super::csat::reply_to_survey(csat, c, context.contact.as_ref(), &msg.content, now)
        });
        let latest = context.latest.filter(|c| !c.imported).filter(|c| {
            c.status.is_active()
                || is_quiet(&msg.content)
                || consent.is_some()
                || survey.is_some()
                || !live
                || c.awaits_first_answer()
                || reopens(policy.reopen(), c, now)
        });
        let with_calendar = latest.as_ref().map(|c| (c, policy.sla.calendar_for(c)));
        let bots = &policy.document.bots.handoff;
        let handoff = latest
            .as_ref()
            .filter(|c| live && consent.is_none() && c.bot_owns().is_some())
            .and_then(|c| {
                super::bots::customer_handoff(bots, c, context.contact.as_ref(), &msg.content)
            })
            .map(|reason| (reason, bots.fallback.clone()));
        let arrived = Arrived {
            consent,
            survey,
            handoff,
            ..Arrived::new(msg, arrival, with_calendar, now)
        };
        Ok(Ok(self.plan_ingest(
            channel,
            arrived,
            context.contact,
            latest,
        )?))
    }

    /// Decides what one customer message changes: the contact (created, or
    /// its identity and name updated), the conversation (`latest` continued
    /// or reopened, else opened), the message itself, and the rules it
    /// triggers.
    fn plan_ingest<'a>(
        &self,
        channel: &Channel,
        arrived: Arrived<'a, '_>,
        found: Option<Contact>,
        latest: Option<Conversation>,
    ) -> Result<IngestPlan<'a>> {
        let msg = arrived.msg;
        let now = self.now();
        let (contact, contact_write, leading) =
            self.contact_for(&channel.tenant, msg, found, now)?;
        let (contact, contact_write, leading) = match arrived.consent {
            Some(stopped) => {
                super::consent::keyword_choice(stopped, msg, contact, contact_write, leading, now)
            }
            None => (contact, contact_write, leading),
        };
        let live = arrived.arrival == Arrival::Customer;
        let quiet = is_quiet(&msg.content)
            || !live
            || arrived.consent.is_some()
            || arrived.survey.is_some();
        // A conversation of another contact (the identity moved) is not ours.
        let latest = latest.filter(|c| c.contact == contact.id);
        let (before, mut conversation, mut events) = match latest {
            Some(c) => (Some(c.clone()), c, Vec::new()),
            _ => {
                let (c, opened) = self.new_conversation(channel, &contact, now)?;
                (None, c, vec![opened])
            }
        };
        let opened = before.is_none();
        // The first answer to a conversation the business started opens
        // it for the team (as a new one: `conversation_opened` rules run).
        let answers_start = !quiet && !opened && conversation.awaits_first_answer();
        if answers_start {
            super::outbound::answered(&mut conversation, &mut events);
        }
        let reopened =
            !quiet && !opened && !answers_start && reopen(&mut conversation, &mut events);
        if reopened {
            super::csat::wrote_first(&mut conversation, &mut events);
        }
        let message = match arrived.arrival.kept() {
            None => {
                events.extend(super::copies::seen_here(
                    &mut conversation,
                    msg.timestamp.min(now),
                ));
                self.received(channel, &contact, msg, quiet, &mut conversation, now)?
            }
            Some(kept) => {
                let id = self.new_id("message")?;
                let (message, event) = kept.keep(&arrived, id, &contact, &mut conversation, now);
                events.extend(event);
                message
            }
        };
        let (prompts, outbox): (Vec<_>, Vec<_>) = match &arrived.survey {
            Some(reply) => {
                self.record_survey_reply(&mut conversation, reply, &message.id, &mut events, now)?
            }
            None => Vec::new(),
        }
        .into_iter()
        .unzip();
        let notes = match quiet {
            true => None,
            false => self.bot_step(
                arrived.handoff.as_ref(),
                &mut conversation,
                &mut events,
                now,
            )?,
        };
        let mut triggers: Vec<TriggerKind> =
            events.iter().filter_map(TriggerKind::from_event).collect();
        if answers_start {
            triggers.push(TriggerKind::ConversationOpened);
        }
        if !quiet {
            triggers.push(TriggerKind::MessageReceived);
        }
        if live {
            events.push(match &msg.content {
                Content::Edit { target, .. } | Content::Revoke { target } => {
                    EventKind::MessageRevised {
                        message: message.id.clone(),
                        target: target.clone(),
                    }
                }
                other => EventKind::MessageReceived {
                    message: message.id.clone(),
                    content: other.kind().to_string(),
                },
            });
        }
        let decision = Decision {
            actor: arrived.arrival.actor(&contact),
            before,
            after: conversation,
            events,
            // Copies run no rules: nothing routes, answers or tags them.
            rules: live.then_some(Rules {
                triggers,
                contact: Some(contact),
                content: Some(&msg.content),
            }),
            sla: arrived.arrival.sla(),
            rows: Rows {
                contact: contact_write,
                leading,
                messages: std::iter::once(message.clone())
                    .chain(notes)
                    .chain(prompts)
                    .collect(),
                outbox,
                ..Rows::default()
            },
        };
        Ok(IngestPlan {
            decision,
            message,
            opened,
            reopened,
        })
    }

    /// What a customer's message does to the bot that owns the
    /// conversation, if one does: hands over (the note it leaves is
    /// returned) or makes the bot's turn due.
    #[inline(never)]
    fn bot_step(
        &self,
        handoff: Option<&(
            crate::model::HandoffReason,
            Option<crate::settings::HandoffFallback>,
        )>,
        conversation: &mut Conversation,
        events: &mut Vec<EventKind>,
        now: DateTime<Utc>,
    ) -> Result<Option<crate::model::Message>> {
        if conversation.bot_owns().is_none() {
            return Ok(None);
        }
        let Some((reason, fallback)) = handoff else {
            if let Some(seat) = conversation.bot.as_mut() {
                seat.turn_due.get_or_insert(now);
            }
            return Ok(None);
        };
        let (more, note) = self.handoff_parts(
            conversation,
            reason.clone(),
            None,
            None,
            fallback.as_ref(),
            now,
        )?;
        events.extend(more);
        Ok(note)
    }

    /// A new conversation of `contact` on `channel`, and the event that
    /// says it was opened.
    pub(super) fn new_conversation(
        &self,
        channel: &Channel,
        contact: &Contact,
        now: DateTime<Utc>,
    ) -> Result<(Conversation, EventKind)> {
        let id: ConversationId = self.new_id("conversation")?;
        let c = Conversation::new(
            channel.tenant.clone(),
            id,
            channel.id.clone(),
            contact.id.clone(),
            now,
        );
        let opened = EventKind::ConversationOpened {
            channel: channel.id.clone(),
            contact: contact.id.clone(),
            by_business: false,
        };
        Ok((c, opened))
    }

    /// The message's contact: found (its identity and profile name brought
    /// up to date) or created; with the write and the events, if any.
    pub(super) fn contact_for(
        &self,
        tenant: &TenantId,
        msg: &InboundMessage,
        found: Option<Contact>,
        now: DateTime<Utc>,
    ) -> Result<(Contact, Option<Write<Contact>>, Vec<Event>)> {
        let Some(existing) = found else {
            let id: ContactId = self.new_id("contact")?;
            let mut identity = msg.from.clone();
            apply_identity_change(&msg.content, &mut identity);
            let mut contact = Contact::new(tenant.clone(), id.clone(), identity, now);
            contact.profile_name = msg.profile_name.clone();
            contact.username = msg.username.clone().filter(|u| !u.trim().is_empty());
            let event = Event::new(
                tenant.clone(),
                now,
                EventActor::Customer(id.clone()),
                EventKind::ContactCreated { contact: id },
            );
            let write = Write {
                value: contact.clone(),
                expected_version: None,
            };
            return Ok((contact, Some(write), vec![event]));
        };
        let mut next = existing.clone();
        let what = update_contact(&mut next, msg);
        if what.is_empty() {
            return Ok((existing, None, Vec::new()));
        }
        next.version = existing.version + 1;
        let event = Event::new(
            tenant.clone(),
            now,
            EventActor::Customer(next.id.clone()),
            EventKind::ContactUpdated {
                contact: next.id.clone(),
                what: what.join(", "),
            },
        );
        let write = Write {
            value: next.clone(),
            expected_version: Some(existing.version),
        };
        Ok((next, Some(write), vec![event]))
    }

    /// The customer's message, stored in `c`: counted, its time noted, the
    /// customer service window extended and the customer waiting.
    fn received(
        &self,
        channel: &Channel,
        contact: &Contact,
        msg: &InboundMessage,
        quiet: bool,
        c: &mut Conversation,
        now: DateTime<Utc>,
    ) -> Result<Message> {
        // Provider time, but never in our future (clock skew).
        let sent_at = msg.timestamp.min(now);
        c.message_count += 1;
        c.last_activity_at = c.last_activity_at.max(sent_at);
        // (a call is not a message: it opens no customer service window)
        if !matches!(msg.content, Content::System { .. } | Content::Call { .. }) {
            super::copies::extend_window(c, sent_at);
        }
        if !quiet && c.waiting_since.is_none() {
            c.waiting_since = Some(sent_at);
        }
        let (by_business, answers) = call_effect(&msg.content);
        if answers {
            super::copies::answered(c, sent_at);
        }
        Ok(Message {
            tenant: c.tenant.clone(),
            id: self.new_id("message")?,
            conversation: c.id.clone(),
            channel: channel.id.clone(),
            direction: if by_business {
                Direction::Outbound
            } else {
                Direction::Inbound
            },
            author: if by_business {
                Author::System
            } else {
                Author::Customer(contact.id.clone())
            },
            content: msg.content.clone(),
            external_id: Some(msg.external_id.clone()),
            idempotency_key: None,
            context: msg.context.clone(),
            mentions: Vec::new(),
            sent_at,
            created_at: now,
            delivery: None,
            response: None,
            origin: crate::model::Origin::Live,
        })
    }

    /// Applies a delivery status report to the outbound message it concerns,
    /// found by our id (`biz_opaque_callback_data`) or by the provider id.
    pub async fn ingest_status(&self, status: InboundStatus) -> Result<IngestOutcome> {
        let mut results = self.ingest_statuses(vec![status]).await;
        results.pop().unwrap_or_else(|| Err(missing_result()))
    }

    /// Applies several delivery status reports (those of one webhook, say)
    /// as [`Inbox::ingest_status`] would one after another, in order, and
    /// returns each one's outcome at its position. A tenant's reports go to
    /// the store together ([`Messages::update_messages`]), so the
    /// sent, delivered and read reports of one message can be one lookup
    /// and one write instead of three; a report that fails (an empty id, an
    /// unknown number, a timestamp out of range: [`InboundStatus::check`])
    /// fails alone.
    ///
    /// [`Messages::update_messages`]: crate::ports::Messages::update_messages
    pub async fn ingest_statuses(
        &self,
        statuses: Vec<InboundStatus>,
    ) -> Vec<Result<IngestOutcome>> {
        let mut results: Vec<Option<Result<IngestOutcome>>> =
            statuses.iter().map(|_| None).collect();
        // The reports of each tenant, in order, with their positions.
        let mut groups: Vec<TenantReports> = Vec::new();
        let now = self.now();
        for (i, status) in statuses.into_iter().enumerate() {
            if let Err(refused) = status.check(now) {
                results[i] = Some(Err(refused.into()));
                continue;
            }
            let channel = match self.channel_for(&status.phone_number_id).await {
                Ok(c) => c,
                Err(e) => {
                    results[i] = Some(Err(e));
                    continue;
                }
            };
            let report = MessageUpdate {
                target: MessageTarget::Status {
                    channel: channel.id.clone(),
                    our_id: status
                        .our_message_id
                        .as_deref()
                        .and_then(|s| MessageId::new(s).ok()),
                    external_id: status.external_id.clone(),
                },
                mutation: MessageMutation::Delivery {
                    update: DeliveryUpdate {
                        pricing: status.pricing.clone(),
                        status: status.status,
                        at: status.timestamp,
                        error: status.error.clone(),
                    },
                    external_id: Some(status.external_id.clone()),
                },
            };
            let refused = (status.status == DeliveryStatus::Failed
                && super::consent::refuses_marketing(status.error.as_ref()))
            .then_some(status.timestamp);
            let position = (i, status.status, status.external_id, refused);
            match groups.iter_mut().find(|g| g.tenant == channel.tenant) {
                Some(g) => {
                    g.positions.push(position);
                    g.reports.push(report);
                }
                None => groups.push(TenantReports {
                    tenant: channel.tenant,
                    positions: vec![position],
                    reports: vec![report],
                }),
            }
        }
        for group in groups {
            let updated = self
                .ports
                .store
                .update_messages(&group.tenant, &group.reports)
                .await;
            let mut events = Vec::new();
            let mut refusals = Vec::new();
            let mut outcomes = updated.into_iter();
            for (i, status, external_id, refused) in group.positions {
                let outcome = match outcomes.next() {
                    None => Err(missing_result()),
                    Some(Err(e)) => Err(e),
                    Some(Ok(None)) => Ok(IngestOutcome::UnknownMessage { external_id }),
                    Some(Ok(Some(MessageUpdated {
                        message,
                        event: Some(event),
                    }))) => {
                        events.push(event);
                        refusals.extend(refused.map(|at| (i, message.clone(), at)));
                        Ok(IngestOutcome::StatusApplied { message, status })
                    }
                    Some(Ok(Some(MessageUpdated {
                        message,
                        event: None,
                    }))) => {
                        // (again after a failure to record it: harmless)
                        refusals.extend(refused.map(|at| (i, message.clone(), at)));
                        Ok(IngestOutcome::StatusIgnored { message })
                    }
                };
                results[i] = Some(outcome);
            }
            self.publish(&events).await;
            for (i, message, at) in refusals {
                let recorded = self
                    .record_marketing_refused(&group.tenant, &message, at)
                    .await;
                if let Err(e) = recorded {
                    results[i] = Some(Err(e));
                }
            }
        }
        results
            .into_iter()
            .map(|r| r.unwrap_or_else(|| Err(missing_result())))
            .collect()
    }
}

/// Applies a WhatsApp system notice (number or user id change) to an
/// identity; returns whether it changed.
fn apply_identity_change(content: &Content, identity: &mut crate::model::ContactIdentity) -> bool {
    let Content::System { change, .. } = content else {
        return false;
    };
    let (slot, new) = match change {
        SystemChange::NumberChanged {
            new_wa_id: Some(new),
        } => (&mut identity.wa_id, new),
        SystemChange::UserIdChanged {
            new_user_id: Some(new),
        } => (&mut identity.user_id, new),
        _ => return false,
    };
    if slot.as_ref() == Some(new) || new.trim().is_empty() {
        return false;
    }
    *slot = Some(new.clone());
    true
}

/// A store that answered fewer status reports than it was given (a
/// broken [`Messages::update_messages`]).
///
/// [`Messages::update_messages`]: crate::ports::Messages::update_messages
fn missing_result() -> Error {
    Error::Backend {
        message: "the store returned no result for a status report".into(),
        source: None,
    }
}

/// A tenant's status reports, in order, and where each one's outcome goes
/// (its position among the reports given, the status it reports and the
/// provider's message id).
struct TenantReports {
    tenant: TenantId,
    /// Each report's position, status, provider id, and the time of a
    /// failure that says the customer stopped marketing messages.
    positions: Vec<(usize, DeliveryStatus, String, Option<DateTime<Utc>>)>,
    reports: Vec<MessageUpdate>,
}

/// What one customer message changes, and what to tell the caller.
pub(crate) struct IngestPlan<'a> {
    pub(crate) decision: Decision<'a>,
    pub(crate) message: Message,
    pub(crate) opened: bool,
    pub(crate) reopened: bool,
}

/// Brings a known contact's identity and profile name up to date with a
/// message of theirs; returns what changed.
fn update_contact(next: &mut Contact, msg: &InboundMessage) -> Vec<&'static str> {
    let mut what = Vec::new();
    if next.identity.wa_id.is_none() && msg.from.wa_id.is_some() {
        next.identity.wa_id = msg.from.wa_id.clone();
        what.push("wa_id linked");
    }
    if next.identity.user_id.is_none() && msg.from.user_id.is_some() {
        next.identity.user_id = msg.from.user_id.clone();
        what.push("user_id linked");
    }
    if msg.from.parent_user_id.is_some() && next.identity.parent_user_id != msg.from.parent_user_id
    {
        next.identity.parent_user_id = msg.from.parent_user_id.clone();
        what.push("parent user_id linked");
    }
    if apply_identity_change(&msg.content, &mut next.identity) {
        what.push("identity changed by WhatsApp");
    }
    if let Some(name) = &msg.profile_name {
        if !name.trim().is_empty() && next.profile_name.as_ref() != Some(name) {
            next.profile_name = Some(name.clone());
            what.push("profile name");
        }
    }
    if let Some(name) = &msg.username {
        if !name.trim().is_empty() && next.username.as_ref() != Some(name) {
            next.username = Some(name.clone());
            what.push("username");
        }
    }
    what
}

/// What a call message does: whether the business made the call (it is
/// then outbound, by the system), and whether it answers the customer
/// (the business called back, answered or not, or someone answered the
/// customer's call).
fn call_effect(content: &Content) -> (bool, bool) {
    match content {
        Content::Call {
            from_customer: false,
            outcome,
            ..
        } => (
            true,
            matches!(outcome, CallOutcome::Answered | CallOutcome::NotAnswered),
        ),
        Content::Call { outcome, .. } => (false, *outcome == CallOutcome::Answered),
        _ => (false, false),
    }
}

/// Opens a continued conversation that was not open: a pending one goes
/// back to the team, a snoozed or resolved one is reopened (`true`).
pub(super) fn reopen(c: &mut Conversation, events: &mut Vec<EventKind>) -> bool {
    let before = c.status;
    if before == ConversationStatus::Open {
        return false;
    }
    c.status = ConversationStatus::Open;
    c.snoozed_until = None;
    if before == ConversationStatus::Pending {
        // The customer answered: back to the team.
        events.push(EventKind::StatusChanged {
            from: before,
            to: ConversationStatus::Open,
            snoozed_until: None,
        });
        false
    } else {
        c.reopen_count += 1;
        events.push(EventKind::ConversationReopened { from: before });
        true
    }
}

/// Whether a customer writing to `resolved` at `now` reopens it.
fn reopens(policy: ReopenPolicy, resolved: &Conversation, now: DateTime<Utc>) -> bool {
    match policy {
        ReopenPolicy::Reopen => true,
        ReopenPolicy::NewConversation => false,
        ReopenPolicy::ReopenWithin(secs) => {
            let since = resolved.resolved_at.unwrap_or(resolved.updated_at);
            now.signed_duration_since(since).num_seconds() < secs as i64
        }
    }
}
