//! Bots at work: a bot's turn, its handoff to people, and people taking
//! over.
//!
//! A customer message to a conversation a bot owns sets the seat's
//! [`turn_due`](crate::model::BotSeat::turn_due); its timer
//! ([`TimerKind::BotTurn`]) makes [`Inbox::tick`] (or the faster
//! [`Inbox::run_bots`]) ask the bot, outside any commit, then commit its
//! answer as the bot's own actions, version-checked: an answer computed
//! while a person took over, or that another worker already committed, is
//! dropped. Every path ends in a reply, a handoff, or a retry that itself
//! ends in a handoff: never silence.

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};

use super::commit::Decision;
use super::timers::Fired;
use super::{Actor, Inbox};
use crate::error::{Error, Result};
use crate::event::{EventActor, EventKind};
use crate::ids::{AgentId, ConversationId, TeamId, TenantId};
use crate::model::{
    Author, BotSeat, Contact, Conversation, ConversationStatus, DeliveryState, Direction,
    HandoffReason, Message,
};
use crate::ports::{
    Bot, BotAction, BotAnswer, BotContact, BotError, BotMessage, BotSpeaker, BotTurn, OutboxEntry,
    Write, MAX_BOT_ACTIONS, MAX_BOT_ATTRIBUTES, MAX_BOT_REPLIES, MAX_BOT_SUMMARY_CHARS,
};
use crate::settings::{BotSpec, HandoffFallback, TenantPolicy};
use crate::timer::{Timer, TimerKind};

/// How long after a failed turn the bot is asked again (when the tenant
/// allows more than one failure).
const RETRY_AFTER: TimeDelta = TimeDelta::seconds(30);

/// How many times a turn's answer is committed again after losing a race
/// that left the turn still due.
const COMMIT_ATTEMPTS: u32 = 3;

/// The bot slot of the inbox: the port answering the tenant's HTTP bots.
pub(super) type BotSlot = std::sync::RwLock<Option<Arc<dyn Bot>>>;

impl Inbox {
    /// Sets the bot adapter that answers the tenants' `http` bots (the FAQ
    /// bots are answered by the core). Without one, an HTTP bot's turn
    /// fails as unavailable and the conversation goes to people.
    pub fn set_bot(&self, bot: Arc<dyn Bot>) {
        *self.bot.write().unwrap_or_else(|e| e.into_inner()) = Some(bot);
    }

    /// The tenant's bots (id and settings), for an agent to pick one.
    pub async fn bots(&self, actor: &Actor) -> Result<Vec<(String, BotSpec)>> {
        self.load_agent(actor).await?;
        let policy = self.policy(&actor.tenant).await?;
        let list = &policy.document.bots.list;
        Ok(list.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
    }

    /// Takes the bot turns that are due now (up to `limit`), without
    /// waiting for the next [`Inbox::tick`]; returns how many were taken.
    /// Call it after ingesting messages so bots answer within moments.
    pub async fn run_bots(&self, limit: u32) -> Result<u32> {
        let now = self.now();
        let due = self.ports.store.due_timers(now, limit).await?;
        let mut taken = 0;
        for timer in due.iter().filter(|t| t.kind == TimerKind::BotTurn) {
            match self.bot_turn(timer, now).await {
                Ok(Fired::Did(_)) => taken += 1,
                Ok(_) | Err(Error::Conflict(_)) => {}
                Err(e) if e.is_retryable() => return Err(e),
                Err(e) => {
                    tracing::error!(conversation = %timer.conversation, error = %e, "bot turn not taken")
                }
            }
        }
        Ok(taken)
    }

    /// Takes the turn `timer` asks for, or clears the timer when the state
    /// no longer asks for it.
    pub(super) async fn bot_turn(&self, timer: &Timer, now: DateTime<Utc>) -> Result<Fired> {
        let store = &self.ports.store;
        let c = match store.conversation(&timer.tenant, &timer.conversation).await {
            Ok(c) => c,
            Err(Error::NotFound { .. }) => return Ok(Fired::Cleared),
            Err(e) => return Err(e),
        };
        let due = c.bot_owns().and_then(|s| s.turn_due);
        let Some(seat) = c.bot_owns().filter(|_| due.is_some_and(|d| d <= now)) else {
            return self.fire(timer, now).await;
        };
        let policy = self.policy(&c.tenant).await?;
        let spec = policy.document.bots.list.get(seat.agent.as_str());
        let turn = self.turn_input(&c, seat, spec, now).await?;
        let answer = self.ask(spec, &turn).await;
        self.commit_turn(&c.tenant, &c.id, &seat.agent, turn.turn, answer, &policy)
            .await
    }

    /// What the bot is shown: the latest messages (never notes), the
    /// contact, the customer context when asked for.
    async fn turn_input(
        &self,
        c: &Conversation,
        seat: &BotSeat,
        spec: Option<&BotSpec>,
        now: DateTime<Utc>,
    ) -> Result<BotTurn> {
        let store = &self.ports.store;
        let history = spec.map_or(10, BotSpec::history);
        let all = store.messages(&c.tenant, &c.id).await?;
        let shown: Vec<&Message> = all
            .iter()
            .filter(|m| m.direction != Direction::Note)
            .collect();
        let from = shown.len().saturating_sub(history);
        let messages = shown[from..]
            .iter()
            .map(|m| BotMessage {
                id: m.id.clone(),
                from: speaker(m, &seat.agent),
                content: m.content.clone(),
                at: m.sent_at,
            })
            .collect();
        let contact = store.contact(&c.tenant, &c.contact).await?;
        let (deadline, wants_context) = match spec {
            Some(BotSpec::Http(h)) => (now + crate::error::chrono_duration(h.timeout.0), h.context),
            _ => (now, false),
        };
        let provider = self
            .context
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let context = match (wants_context, provider) {
            (true, Some(p)) => p.cards(&c.tenant, &contact).await.unwrap_or_default(),
            _ => Vec::new(),
        };
        Ok(BotTurn {
            tenant: c.tenant.clone(),
            bot: seat.agent.clone(),
            conversation: c.id.clone(),
            turn: seat.turn,
            key: format!("{}:{}", c.id, seat.turn),
            channel: c.channel.clone(),
            contact: BotContact {
                name: contact
                    .display_name
                    .clone()
                    .or(contact.profile_name.clone()),
                tags: contact.tags.clone(),
                attributes: contact.attributes.clone(),
            },
            messages,
            window_expires_at: c.window_expires_at,
            exchanges: seat.exchanges,
            context,
            deadline,
        })
    }

    /// Asks the bot: the FAQ bot in the core, any other through the port.
    async fn ask(
        &self,
        spec: Option<&BotSpec>,
        turn: &BotTurn,
    ) -> std::result::Result<BotAnswer, BotError> {
        match spec {
            None => Err(BotError::Unavailable(format!(
                "bot {:?} is not in the tenant's bots settings",
                turn.bot.as_str()
            ))),
            Some(BotSpec::Faq(faq)) => Ok(crate::bots::faq_answer(faq, turn)),
            Some(BotSpec::Http(_)) => {
                let port = self.bot.read().unwrap_or_else(|e| e.into_inner()).clone();
                let Some(port) = port else {
                    return Err(BotError::Unavailable("no bot adapter is set".into()));
                };
                let answer = port.turn(turn).await;
                // The adapter bounds its own latency; an answer long after
                // the deadline is a timeout all the same.
                if self.now() > turn.deadline + TimeDelta::seconds(1) {
                    return Err(BotError::Timeout);
                }
                answer
            }
        }
    }

    /// Commits a turn's answer (or failure) as the bot's actions, if the
    /// bot still owns the conversation and the turn is still the one asked.
    async fn commit_turn(
        &self,
        tenant: &TenantId,
        id: &ConversationId,
        bot: &AgentId,
        turn: u64,
        answer: std::result::Result<BotAnswer, BotError>,
        policy: &TenantPolicy,
    ) -> Result<Fired> {
        let mut attempts = 0;
        loop {
            attempts += 1;
            let current = self.ports.store.conversation(tenant, id).await?;
            let still = current
                .bot_owns()
                .is_some_and(|s| &s.agent == bot && s.turn == turn && s.turn_due.is_some());
            if !still {
                // Taken over, or another worker answered: drop this answer.
                return Ok(Fired::Cleared);
            }
            let decision = self.turn_decision(current, &answer, policy).await?;
            match self.apply(decision).await {
                Ok(_) => return Ok(Fired::Did(TimerKind::BotTurn)),
                Err(Error::Conflict(_)) if attempts < COMMIT_ATTEMPTS => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// The decision a turn's answer makes on `current`.
    async fn turn_decision(
        &self,
        current: Conversation,
        answer: &std::result::Result<BotAnswer, BotError>,
        policy: &TenantPolicy,
    ) -> Result<Decision<'static>> {
        let now = self.now();
        let bot = current
            .bot
            .as_ref()
            .map(|s| s.agent.clone())
            .ok_or_else(|| Error::InvalidState("the conversation has no bot".into()))?;
        let mut t = TurnWork::new(current.clone(), bot.clone(), now);
        match answer {
            Ok(a) => match check_answer(a, &current, policy, now) {
                Ok(()) => self.act_on(&mut t, a, policy).await?,
                Err(why) => {
                    let reason = HandoffReason::BadAnswer;
                    self.hand_over(&mut t, reason, Some(why), None, policy)?;
                }
            },
            Err(e) => self.failed(&mut t, e, policy)?,
        }
        let mut decision = Decision::new(EventActor::Agent(bot), current, t.next);
        decision.events = t.events;
        decision.rows.messages = t.messages;
        decision.rows.outbox = t.outbox;
        decision.rows.contact = t.contact;
        decision.rows.leading = t.leading;
        Ok(decision.with_rules(&[]))
    }

    /// Carries out a checked answer's actions, then counts the exchange.
    async fn act_on(&self, t: &mut TurnWork, a: &BotAnswer, policy: &TenantPolicy) -> Result<()> {
        let turn = t.next.bot.as_ref().map_or(0, |s| s.turn);
        let mut names = Vec::new();
        for (i, action) in a.actions.iter().enumerate() {
            names.push(action.name().to_string());
            match action {
                BotAction::Reply { content } => {
                    let key = format!("bot:{}:{turn}:{i}", t.next.id);
                    self.bot_reply(t, content.clone(), key)?;
                }
                BotAction::Tag { add, remove } => t.tag(add, remove)?,
                BotAction::SetAttributes { attributes } => {
                    self.set_attributes(t, attributes).await?
                }
                BotAction::Resolve => t.resolve(),
                BotAction::Handoff { reason, summary } => {
                    let detail = Some(reason.clone());
                    self.hand_over(
                        t,
                        HandoffReason::BotAsked,
                        detail,
                        summary.as_deref(),
                        policy,
                    )?;
                }
            }
        }
        let max = policy.document.bots.handoff.max_exchanges;
        let bot = t.bot.clone();
        let mut too_many = false;
        if let Some(seat) = t.next.bot.as_mut() {
            seat.exchanges += 1;
            seat.turn += 1;
            seat.failures = 0;
            seat.turn_due = None;
            too_many = seat.answering() && max > 0 && seat.exchanges >= max;
        }
        t.events.push(EventKind::BotAnswered {
            bot,
            turn,
            actions: names,
        });
        if too_many && t.next.status != ConversationStatus::Resolved {
            self.hand_over(t, HandoffReason::MaxExchanges, None, None, policy)?;
        }
        Ok(())
    }

    /// A failed turn: asked again shortly, or handed over once the tenant's
    /// `max_failures` is reached.
    fn failed(&self, t: &mut TurnWork, e: &BotError, policy: &TenantPolicy) -> Result<()> {
        let max = policy.document.bots.handoff.max_failures.max(1);
        let (turn, failures) = match t.next.bot.as_mut() {
            Some(seat) => {
                seat.failures += 1;
                seat.turn_due = Some(t.now + RETRY_AFTER);
                (seat.turn, seat.failures)
            }
            None => (0, max),
        };
        t.events.push(EventKind::BotFailed {
            bot: t.bot.clone(),
            turn,
            error: e.to_string(),
        });
        if failures >= max {
            let reason = match e {
                BotError::Timeout => HandoffReason::Timeout,
                BotError::Unavailable(_) => HandoffReason::Unavailable,
                BotError::BadAnswer(_) => HandoffReason::BadAnswer,
            };
            self.hand_over(t, reason, Some(e.to_string()), None, policy)?;
        }
        Ok(())
    }

    /// Queues a bot's reply through the outbox. It does not answer the
    /// customer's wait for a person: `waiting_since` and the first
    /// response stay for the first human reply.
    fn bot_reply(
        &self,
        t: &mut TurnWork,
        content: crate::model::Content,
        key: String,
    ) -> Result<()> {
        let id: crate::ids::MessageId = self.new_id("message")?;
        let author = Author::Agent(t.bot.clone());
        let mut m = super::written(
            &mut t.next,
            id.clone(),
            author,
            Direction::Outbound,
            content,
            t.now,
        );
        m.idempotency_key = Some(key);
        m.delivery = Some(DeliveryState::pending(t.now));
        t.next.last_agent_reply_at = Some(t.now);
        t.outbox.push(OutboxEntry {
            tenant: t.next.tenant.clone(),
            message: id.clone(),
            not_before: t.now,
            attempts: 0,
        });
        t.events.push(EventKind::ReplyQueued {
            message: id,
            content: m.content.kind().to_string(),
        });
        t.messages.push(m);
        Ok(())
    }

    /// Sets attributes of the conversation's contact, in the same commit.
    async fn set_attributes(
        &self,
        t: &mut TurnWork,
        attributes: &std::collections::BTreeMap<String, String>,
    ) -> Result<()> {
        let mut contact: Contact = match t.contact.take() {
            Some(w) => w.value,
            None => {
                self.ports
                    .store
                    .contact(&t.next.tenant, &t.next.contact)
                    .await?
            }
        };
        let expected = t.contact_version.unwrap_or(contact.version);
        t.contact_version = Some(expected);
        let mut changed = Vec::new();
        for (k, v) in attributes {
            if contact.attributes.get(k) != Some(v) {
                contact.attributes.insert(k.clone(), v.clone());
                changed.push(k.clone());
            }
        }
        if !changed.is_empty() {
            contact.version = expected + 1;
            let kind = EventKind::ContactUpdated {
                contact: contact.id.clone(),
                what: format!("attributes {}", changed.join(", ")),
            };
            t.leading
                .push(self.agent_event(&t.next.tenant, &t.bot, kind));
        }
        t.contact = Some(Write {
            value: contact,
            expected_version: Some(expected),
        });
        Ok(())
    }

    /// Hands the conversation to people: the seat is handed off, the bot
    /// lets go, a note tells people what the bot knew, the `handed_off`
    /// rules run (and, when they route it nowhere, the tenant's fallback
    /// team queue takes it).
    fn hand_over(
        &self,
        t: &mut TurnWork,
        reason: HandoffReason,
        detail: Option<String>,
        summary: Option<&str>,
        policy: &TenantPolicy,
    ) -> Result<()> {
        let fallback = policy.document.bots.handoff.fallback.as_ref();
        let (events, note) =
            self.handoff_parts(&mut t.next, reason, detail, summary, fallback, t.now)?;
        t.events.extend(events);
        t.messages.extend(note);
        Ok(())
    }

    /// What a handoff of `c` changes (see [`Inbox::hand_over`]): its
    /// events and the note. Nothing when no bot answers it.
    pub(super) fn handoff_parts(
        &self,
        c: &mut Conversation,
        reason: HandoffReason,
        detail: Option<String>,
        summary: Option<&str>,
        fallback: Option<&HandoffFallback>,
        now: DateTime<Utc>,
    ) -> Result<(Vec<EventKind>, Option<Message>)> {
        let Some(seat) = c.bot.as_mut().filter(|s| s.answering()) else {
            return Ok((Vec::new(), None));
        };
        seat.hand_off(now, reason.clone(), None);
        let bot = seat.agent.clone();
        let mut events = Vec::new();
        if c.is_owned_by(&bot) {
            c.assignee = None;
            events.push(EventKind::Released {
                agent: bot.clone(),
                reason: format!("handed over to people: {reason}"),
            });
        }
        if c.team.is_none() {
            c.team = fallback.and_then(|f| TeamId::new(f.team.clone()).ok());
        }
        events.push(EventKind::HandedOff {
            bot: bot.clone(),
            reason: reason.clone(),
            detail: detail.clone(),
        });
        let text = match (summary.map(str::trim).filter(|s| !s.is_empty()), &detail) {
            (Some(s), _) => s.to_string(),
            (None, Some(d)) => format!("Handed over to people ({reason}): {d}"),
            (None, None) => format!("Handed over to people ({reason})."),
        };
        let id = self.new_id("message")?;
        let content = crate::model::Content::text(text);
        let note = super::written(c, id, Author::Agent(bot), Direction::Note, content, now);
        Ok((events, Some(note)))
    }

    /// Hands a bot's conversation to people at the time planned for it
    /// (business hours began, an SLA target came close), or clears the
    /// timer when the state no longer asks for it.
    pub(super) async fn planned_handoff(&self, timer: &Timer, now: DateTime<Utc>) -> Result<Fired> {
        let store = &self.ports.store;
        let c = match store.conversation(&timer.tenant, &timer.conversation).await {
            Ok(c) => c,
            Err(Error::NotFound { .. }) => return Ok(Fired::Cleared),
            Err(e) => return Err(e),
        };
        let due = c
            .bot_owns()
            .and_then(|s| s.planned.clone().map(|p| (s.agent.clone(), p)))
            .filter(|(_, p)| p.at <= now && c.status.is_active());
        let Some((bot, plan)) = due else {
            return self.fire(timer, now).await;
        };
        let policy = self.policy(&c.tenant).await?;
        let mut t = TurnWork::new(c.clone(), bot.clone(), now);
        self.hand_over(&mut t, plan.reason, None, None, &policy)?;
        let mut decision = Decision::new(EventActor::Agent(bot), c, t.next);
        decision.events = t.events;
        decision.rows.messages = t.messages;
        self.apply(decision.with_rules(&[])).await?;
        Ok(Fired::Did(TimerKind::BotHandoff))
    }

    /// Gives a conversation to a bot of the tenant's `bots` settings: its
    /// owner does (or a supervisor). The bot answers at once if the
    /// customer wrote after the last reply (a person's or a bot's);
    /// otherwise it waits for the customer's next message.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] when `bot` is not a bot of the tenant's
    /// settings; the refusals of any ownership change.
    pub async fn hand_to_bot(
        &self,
        actor: &Actor,
        id: &ConversationId,
        seen_version: u64,
        bot: &AgentId,
    ) -> Result<super::ActionOutcome> {
        let policy = self.policy(&actor.tenant).await?;
        let known = policy.document.bots.list.contains_key(bot.as_str());
        let bot = bot.clone();
        let target = super::Target::strict(id, seen_version, "hand to bot");
        self.act(actor, target, move |d| {
            if !known {
                let why = format!("no bot {:?} in the tenant's bots settings", bot.as_str());
                return Err(Error::invalid("bot", why));
            }
            crate::permissions::require_ownership_change(d.agent, &d.conversation)?;
            let c = &mut d.conversation;
            if !c.status.is_active() {
                return Err(Error::InvalidState(
                    "a resolved conversation cannot go to a bot".into(),
                ));
            }
            if c.bot_owns().is_some_and(|s| s.agent == bot) {
                return Ok(());
            }
            let from = super::actions::ownership_of(c);
            let mut seat = BotSeat::new(bot.clone(), d.now);
            seat.turn_due = unanswered(c).then_some(d.now);
            // Turns keep counting: their replies' keys stay unique.
            seat.turn = c.bot.as_ref().map_or(0, |s| s.turn);
            c.bot = Some(seat);
            c.assignee = Some(bot.clone());
            let to = super::actions::ownership_of(c);
            d.emit(EventKind::BotEngaged {
                bot: bot.clone(),
                rule: None,
            });
            d.emit(EventKind::Assigned {
                from,
                to,
                reason: format!("handed to bot {bot}"),
                warning: None,
            });
            Ok(())
        })
        .await
    }
}

/// Whether the customer wrote after the last reply to them, a bot's
/// included (`waiting_since` waits for a person, so a bot's answer leaves
/// it set): what a bot given the conversation has to answer.
fn unanswered(c: &Conversation) -> bool {
    c.last_customer_message_at
        .is_some_and(|wrote| c.last_agent_reply_at.is_none_or(|replied| wrote > replied))
}

/// People always win: a person taking a conversation a bot owns ends the
/// bot's part (its queued replies are then cancelled at dispatch). Returns
/// the event that says so, if a bot owned it.
pub(super) fn take_over(
    c: &mut Conversation,
    by: &AgentId,
    now: DateTime<Utc>,
) -> Option<EventKind> {
    let seat = c
        .bot
        .as_mut()
        .filter(|s| s.answering() && c.assignee.as_ref() == Some(&s.agent))?;
    if &seat.agent == by {
        return None;
    }
    seat.hand_off(now, HandoffReason::TakenOver, Some(by.clone()));
    Some(EventKind::HandedOff {
        bot: seat.agent.clone(),
        reason: HandoffReason::TakenOver,
        detail: Some(format!("taken over by {by}")),
    })
}

/// Plans when a bot's conversation goes to people even if nobody asks:
/// at the next opening of the tenant's `at_opening` calendar (when it is
/// closed now), or `sla_margin` before the earliest SLA target due.
pub(super) fn plan_handoff(policy: &TenantPolicy, c: &mut Conversation, now: DateTime<Utc>) {
    if c.bot_owns().is_none() {
        return;
    }
    let spec = &policy.document.bots.handoff;
    let opening = spec
        .at_opening
        .as_deref()
        .and_then(|name| policy.routing.calendar(name))
        .filter(|cal| !cal.is_open(now))
        .and_then(|cal| cal.next_open(now))
        .map(|at| (at, HandoffReason::Opening));
    let sla_due = c.sla.as_ref().and_then(|s| {
        s.targets
            .iter()
            .filter(|t| t.state == crate::sla::SlaTargetState::Active)
            .map(|t| t.due_at)
            .min()
    });
    let margin = spec.sla_margin.map(|m| crate::error::chrono_duration(m.0));
    let risk = sla_due
        .zip(margin)
        .map(|(due, m)| (due - m, HandoffReason::SlaRisk));
    let planned = [opening, risk]
        .into_iter()
        .flatten()
        .min_by_key(|(at, _)| *at)
        .map(|(at, reason)| crate::model::PlannedHandoff { at, reason });
    if let Some(seat) = c.bot.as_mut() {
        seat.planned = planned;
    }
}

/// Records when a person first took a conversation a bot handed over (the
/// time to a human is measured to it).
pub(super) fn note_human(c: &mut Conversation, now: DateTime<Utc>) {
    let owner = c.assignee.clone();
    let Some(seat) = c.bot.as_mut() else { return };
    let Some(h) = seat.handed_off.as_mut() else {
        return;
    };
    if h.human_at.is_none() && owner.is_some_and(|o| o != seat.agent) {
        h.human_at = Some(now);
    }
}

/// Who wrote `m`, as the bot `bot` sees it.
fn speaker(m: &Message, bot: &AgentId) -> BotSpeaker {
    match &m.author {
        Author::Customer(_) => BotSpeaker::Customer,
        Author::Agent(a) if a == bot => BotSpeaker::Bot,
        Author::Agent(_) => BotSpeaker::Agent,
        _ if m.direction == Direction::Inbound => BotSpeaker::Customer,
        _ => BotSpeaker::Automation,
    }
}

/// Why an answer cannot be carried out, if it cannot: too many actions or
/// replies, content WhatsApp or the tenant refuses, free-form text outside
/// the customer service window, a summary too long, bad tags or
/// attributes. One refused action refuses the whole answer.
fn check_answer(
    a: &BotAnswer,
    c: &Conversation,
    policy: &TenantPolicy,
    now: DateTime<Utc>,
) -> std::result::Result<(), String> {
    if a.actions.len() > MAX_BOT_ACTIONS {
        return Err(format!(
            "{} actions; at most {MAX_BOT_ACTIONS}",
            a.actions.len()
        ));
    }
    let replies = a
        .actions
        .iter()
        .filter(|x| matches!(x, BotAction::Reply { .. }))
        .count();
    if replies > MAX_BOT_REPLIES {
        return Err(format!("{replies} replies; at most {MAX_BOT_REPLIES}"));
    }
    for (i, action) in a.actions.iter().enumerate() {
        check_action(action, c, policy, now)
            .map_err(|e| format!("actions[{i}] ({}): {e}", action.name()))?;
    }
    Ok(())
}

fn check_action(
    action: &BotAction,
    c: &Conversation,
    policy: &TenantPolicy,
    now: DateTime<Utc>,
) -> std::result::Result<(), String> {
    match action {
        BotAction::Reply { content } => {
            content.validate_outbound().map_err(|e| e.to_string())?;
            policy
                .document
                .check_template(content)
                .map_err(|e| e.to_string())?;
            if !content.is_template() && !c.window_open(now) {
                return Err(
                    "the customer service window is closed: only a template can be sent".into(),
                );
            }
        }
        BotAction::Handoff {
            summary: Some(s), ..
        } if s.chars().count() > MAX_BOT_SUMMARY_CHARS => {
            return Err(format!(
                "the summary is over {MAX_BOT_SUMMARY_CHARS} characters"
            ));
        }
        BotAction::Tag { add, remove } => {
            for tag in add.iter().chain(remove) {
                super::actions::normalize_tag(tag).map_err(|e| e.to_string())?;
            }
        }
        BotAction::SetAttributes { attributes } => {
            if attributes.len() > MAX_BOT_ATTRIBUTES {
                return Err(format!("at most {MAX_BOT_ATTRIBUTES} attributes"));
            }
            let bad = attributes.iter().find(|(k, v)| {
                k.trim().is_empty() || k.chars().count() > 64 || v.chars().count() > 1000
            });
            if let Some((k, _)) = bad {
                return Err(format!(
                    "attribute {k:?}: names are 1-64 characters, values at most 1000"
                ));
            }
        }
        _ => {}
    }
    Ok(())
}

/// A turn's answer being worked into a decision.
struct TurnWork {
    bot: AgentId,
    now: DateTime<Utc>,
    next: Conversation,
    events: Vec<EventKind>,
    messages: Vec<Message>,
    outbox: Vec<OutboxEntry>,
    contact: Option<Write<Contact>>,
    contact_version: Option<u64>,
    leading: Vec<crate::event::Event>,
}

impl TurnWork {
    fn new(next: Conversation, bot: AgentId, now: DateTime<Utc>) -> Self {
        Self {
            bot,
            now,
            next,
            events: Vec::new(),
            messages: Vec::new(),
            outbox: Vec::new(),
            contact: None,
            contact_version: None,
            leading: Vec::new(),
        }
    }

    fn tag(&mut self, add: &[String], remove: &[String]) -> Result<()> {
        let c = &mut self.next;
        let mut added = Vec::new();
        for t in add {
            let t = super::actions::normalize_tag(t)?;
            if !c.tags.contains(&t) && !added.contains(&t) {
                added.push(t);
            }
        }
        let mut removed = Vec::new();
        for t in remove {
            let t = super::actions::normalize_tag(t)?;
            if c.tags.contains(&t) && !removed.contains(&t) {
                removed.push(t);
            }
        }
        if added.is_empty() && removed.is_empty() {
            return Ok(());
        }
        c.tags.retain(|t| !removed.contains(t));
        c.tags.extend(added.iter().cloned());
        c.tags.sort();
        self.events.push(EventKind::Tagged { added, removed });
        Ok(())
    }

    fn resolve(&mut self) {
        let c = &mut self.next;
        if c.status == ConversationStatus::Resolved {
            return;
        }
        let from = c.status;
        c.status = ConversationStatus::Resolved;
        c.resolved_at = Some(self.now);
        c.snoozed_until = None;
        c.waiting_since = None;
        self.events.push(EventKind::StatusChanged {
            from,
            to: ConversationStatus::Resolved,
            snoozed_until: None,
        });
    }
}

/// Whether a customer's message to a bot-owned conversation hands it to
/// people, and why: the handoff button (or a template's quick reply with
/// its payload), a keyword of any language, or a tag that goes to people
/// on the conversation or the contact.
pub(super) fn customer_handoff(
    spec: &crate::settings::HandoffSpec,
    c: &Conversation,
    contact: Option<&Contact>,
    content: &crate::model::Content,
) -> Option<HandoffReason> {
    use crate::model::{Content, InteractiveReply};
    let pressed = match content {
        Content::Interactive {
            reply: InteractiveReply::ButtonReply { id, .. } | InteractiveReply::ListReply { id, .. },
        } => id == &spec.button,
        Content::Button { payload, .. } => payload.as_deref() == Some(spec.button.as_str()),
        _ => false,
    };
    let asked = content
        .text_body()
        .is_some_and(|t| spec.asks_for_a_person(t));
    if pressed || asked {
        return Some(HandoffReason::CustomerAsked);
    }
    let tags = c
        .tags
        .iter()
        .chain(contact.into_iter().flat_map(|k| &k.tags));
    let tagged = tags
        .into_iter()
        .any(|t| spec.tags.iter().any(|s| s.eq_ignore_ascii_case(t)));
    tagged.then_some(HandoffReason::Tag)
}

impl Inbox {
    /// The bot report of conversations bots took in the query's range (see
    /// [`crate::metrics::BotReport`]). Supervisors and admins.
    ///
    /// # Errors
    ///
    /// [`Error::Forbidden`] for an agent; [`Error::InvalidInput`] when the
    /// range ends before it starts.
    pub async fn bot_report(
        &self,
        actor: &Actor,
        query: crate::metrics::BotQuery,
    ) -> Result<crate::metrics::BotReport> {
        self.agent_allowed(actor, crate::permissions::Action::ViewAll)
            .await?;
        if query.to < query.from {
            return Err(Error::invalid("to", "the range ends before it starts"));
        }
        let rows = self.ports.store.bot_rows(&actor.tenant, &query).await?;
        Ok(crate::metrics::BotReport::compute(&rows))
    }
}
