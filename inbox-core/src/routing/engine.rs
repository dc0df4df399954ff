//! Running rules on a conversation: a pure function of the conversation, the
//! triggers, the time and the roster.

use chrono::{DateTime, Utc};
use std::cell::OnceCell;
use std::collections::BTreeMap;

use super::compile::{delta, Act, Routing, Rule};
use super::condition::Facts;
use super::spec::{Strategy, Trigger};
use super::strategy::{Availability, Pick, Picker, Roster, RoutingCursor};
use crate::calendar::Calendar;
use crate::event::{EventKind, Ownership};
use crate::ids::{AgentId, TeamId};
use crate::model::{Contact, Content, Conversation, ConversationStatus};

pub use super::spec::TriggerKind;

impl TriggerKind {
    /// The triggers an event stands for (what agent actions and timers
    /// cause).
    pub fn from_event(kind: &EventKind) -> Option<Self> {
        Some(match kind {
            EventKind::MessageReceived { .. } => TriggerKind::MessageReceived,
            // (one the business opened waits for the customer's answer:
            // that is when it is opened for the team)
            EventKind::ConversationOpened {
                by_business: false, ..
            } => TriggerKind::ConversationOpened,
            EventKind::ConversationReopened { .. } => TriggerKind::ConversationReopened,
            EventKind::StatusChanged { .. } => TriggerKind::StatusChanged,
            EventKind::Tagged { added, .. } if !added.is_empty() => TriggerKind::TagAdded,
            EventKind::Claimed { .. }
            | EventKind::Assigned { .. }
            | EventKind::Transferred { .. }
            | EventKind::Released { .. } => TriggerKind::AssignmentChanged,
            EventKind::HandedOff { .. } => TriggerKind::HandedOff,
            EventKind::SlaWarning { .. } => TriggerKind::SlaWarning,
            EventKind::SlaBreached { .. } => TriggerKind::SlaBreached,
            _ => return None,
        })
    }

    pub(crate) fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

/// What a run looks at besides the conversation.
#[derive(Debug, Clone, Copy)]
pub struct RunInput<'a> {
    /// What happened, in order.
    pub triggers: &'a [TriggerKind],
    /// The conversation's contact.
    pub contact: Option<&'a Contact>,
    /// The customer message that triggered the run, if any.
    pub message: Option<&'a Content>,
    /// Now.
    pub now: DateTime<Utc>,
    /// The business-hours calendar for conditions that name none (the
    /// routing's `business_hours` calendar wins over this one).
    pub calendar: &'a Calendar,
    /// The agents, when known. A run that needs them and lacks them returns
    /// [`RunOutcome::needs_roster`]; run again with them.
    pub roster: Option<&'a Roster>,
}

/// One thing a run does besides editing the conversation.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Record an event (actor: the rule).
    Event {
        /// The rule.
        rule: String,
        /// The event.
        kind: EventKind,
    },
    /// Add an internal note.
    Note {
        /// The rule.
        rule: String,
        /// The note's text.
        text: String,
    },
    /// Send a message to the customer.
    Reply {
        /// The rule.
        rule: String,
        /// What to send.
        content: Content,
    },
}

/// The result of [`Routing::run`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RunOutcome {
    /// Events, notes and replies, in order.
    pub effects: Vec<Effect>,
    /// Round-robin cursors to store with the change.
    pub cursors: Vec<RoutingCursor>,
    /// The rules that fired, in order.
    pub fired: Vec<String>,
    /// The run stopped because a rule needs the roster and none was given;
    /// nothing else in this outcome is meaningful.
    pub needs_roster: bool,
    /// The run stopped because an assignment needs to know who waits in
    /// this team's queue and the roster's [`Roster::queues`] lacks it; add
    /// it and run again. Nothing else in this outcome is meaningful.
    pub needs_queue: Option<TeamId>,
    /// Teams where an assignment found nobody available: the conversation
    /// waits in their queue, and draining them now would find nobody
    /// either.
    pub no_room: Vec<TeamId>,
}

impl RunOutcome {
    /// Whether the run changed or produced anything.
    pub fn is_empty(&self) -> bool {
        self.effects.is_empty()
    }
}

struct Run<'a, 'b> {
    routing: &'a Routing,
    input: &'a RunInput<'b>,
    extra: BTreeMap<AgentId, u32>,
    /// Round-robin cursors this run moved (what the change must store).
    cursors: BTreeMap<TeamId, RoutingCursor>,
    out: RunOutcome,
    derived: Vec<TriggerKind>,
    /// A move to a team queue not yet recorded: recorded together with the
    /// assignment that follows it in the same rule, or when the rule ends.
    route: Option<(Ownership, String)>,
    /// A team queue the run must see before it can go on.
    needs_queue: Option<TeamId>,
    /// Teams where an assignment found nobody available.
    no_room: Vec<TeamId>,
}

fn ownership(c: &Conversation) -> Ownership {
    Ownership {
        agent: c.assignee.clone(),
        team: c.team.clone(),
    }
}

impl Routing {
    /// Runs the rules for `input.triggers` on `conversation`, editing it in
    /// place, and returns what else to record. Pure and deterministic.
    ///
    /// ```
    /// use chrono::{TimeZone, Utc};
    /// use inbox_core::calendar::Calendar;
    /// use inbox_core::model::{Conversation, Priority};
    /// use inbox_core::routing::{Routing, RunInput, TriggerKind};
    /// use inbox_core::*;
    /// let routing = Routing::from_yaml("rules:\n  - name: urgent words\n    on: [message_received]\n    when: { text: { contains: [urgente, urgent] } }\n    then: [ { set_priority: urgent } ]\n").unwrap();
    /// let now = Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap();
    /// let mut c = Conversation::new(TenantId::new("t")?, ConversationId::new("c")?,
    ///     ChannelId::new("ch")?, ContactId::new("k")?, now);
    /// let msg = model::Content::text("¡Es URGENTE!");
    /// let out = routing.run(&mut c, &RunInput {
    ///     triggers: &[TriggerKind::MessageReceived], contact: None, message: Some(&msg),
    ///     now, calendar: &Calendar::always(), roster: None,
    /// });
    /// assert_eq!(c.priority, Priority::Urgent);
    /// assert_eq!(out.fired, ["urgent words"]);
    /// # Ok::<(), inbox_core::Error>(())
    /// ```
    pub fn run(&self, conversation: &mut Conversation, input: &RunInput<'_>) -> RunOutcome {
        if self.rules.is_empty() || input.triggers.is_empty() {
            return RunOutcome::default();
        }
        let mut run = Run {
            routing: self,
            input,
            extra: BTreeMap::new(),
            cursors: BTreeMap::new(),
            out: RunOutcome {
                effects: Vec::with_capacity(8),
                ..RunOutcome::default()
            },
            derived: Vec::new(),
            route: None,
            needs_queue: None,
            no_room: Vec::new(),
        };
        let folded: [OnceCell<Option<String>>; 4] = Default::default();
        let open = std::cell::RefCell::new(Vec::new());
        let hits = OnceCell::new();
        // Per rule: whether it fired, and its condition's verdict (valid
        // until a rule fires: its actions may change what conditions see).
        let mut state: Vec<RuleState> = vec![RuleState::Unknown; self.rules.len()];
        let calendar = self
            .business_hours
            .as_ref()
            .and_then(|n| self.calendars.get(n))
            .unwrap_or(input.calendar);
        let mut pending = TriggerSet::of(input.triggers);
        let mut rounds = 0;
        while !pending.is_empty() && rounds < self.max_cascade {
            rounds += 1;
            for trigger in std::mem::take(&mut pending).iter() {
                for (i, rule) in self.rules.iter().enumerate() {
                    if !rule.enabled
                        || rule.mask & trigger.bit() == 0
                        || state[i] == RuleState::Fired
                    {
                        continue;
                    }
                    let label = if trigger == TriggerKind::Timer {
                        match listens(rule, trigger, conversation, input.now) {
                            Some(l) => l,
                            None => continue,
                        }
                    } else {
                        trigger.name()
                    };
                    if let Some(cd) = rule.cooldown {
                        if conversation
                            .rule_fired
                            .get(&rule.name)
                            .is_some_and(|last| input.now < *last + cd)
                        {
                            continue;
                        }
                    }
                    let matches = match state[i] {
                        RuleState::Matches => true,
                        RuleState::Fails => false,
                        _ => {
                            let v = rule.cond.as_ref().is_none_or(|c| {
                                c.eval(&Facts {
                                    conversation,
                                    contact: input.contact,
                                    message: input.message,
                                    now: input.now,
                                    calendar,
                                    calendars: &self.calendars,
                                    folded: &folded,
                                    open: &open,
                                    sets: &self.text,
                                    hits: &hits,
                                })
                            });
                            state[i] = if v {
                                RuleState::Matches
                            } else {
                                RuleState::Fails
                            };
                            v
                        }
                    };
                    if !matches {
                        continue;
                    }
                    if input.roster.is_none()
                        && rule.actions.iter().any(|a| needs_roster(a, conversation))
                    {
                        return RunOutcome {
                            needs_roster: true,
                            ..RunOutcome::default()
                        };
                    }
                    state[i] = RuleState::Fired;
                    run.fire(rule, label, conversation);
                    if let Some(team) = run.needs_queue.take() {
                        return RunOutcome {
                            needs_queue: Some(team),
                            ..RunOutcome::default()
                        };
                    }
                    for &j in &self.stateful {
                        if state[j] != RuleState::Fired {
                            state[j] = RuleState::Unknown;
                        }
                    }
                    if !rule.continue_after {
                        break;
                    }
                }
            }
            pending = TriggerSet::of(&std::mem::take(&mut run.derived));
        }
        if !pending.is_empty() {
            run.out.effects.push(Effect::Event {
                rule: run.out.fired.last().cloned().unwrap_or_default(),
                kind: EventKind::AutomationStopped {
                    rules: run.out.fired.clone(),
                    rounds,
                    dropped: pending.iter().map(|t| t.name().to_string()).collect(),
                },
            });
        }
        let mut out = run.out;
        out.cursors = run.cursors.into_values().collect();
        out.no_room = run.no_room;
        conversation.automation_due = self.next_due(conversation);
        out
    }

    /// When the next time-triggered rule is due for this conversation
    /// (stored as [`Conversation::automation_due`], which sets its timer).
    pub fn next_due(&self, c: &Conversation) -> Option<DateTime<Utc>> {
        if !self.timed {
            return None;
        }
        let mut best: Option<DateTime<Utc>> = None;
        for rule in self.rules.iter().filter(|r| r.enabled && r.timed()) {
            for t in &rule.on {
                if let Some(due) = timed_due(rule, t, c) {
                    best = Some(best.map_or(due, |b| b.min(due)));
                }
            }
        }
        best
    }

    /// Whether `team`'s queue drains by itself: its strategy is automatic
    /// (not manual), so a conversation waiting in it goes to the next agent
    /// with room.
    pub fn drains(&self, team: &TeamId) -> bool {
        self.team_policy(team).strategy != Strategy::Manual
    }

    /// Whether some team's queue drains by itself (cheap; lets callers skip
    /// work).
    pub fn has_queue_teams(&self) -> bool {
        self.teams.values().any(|p| p.strategy != Strategy::Manual)
    }

    /// The teams whose queues drain by themselves (see [`Routing::drains`]).
    pub fn queue_teams(&self) -> Vec<TeamId> {
        self.teams
            .iter()
            .filter(|(_, p)| p.strategy != Strategy::Manual)
            .map(|(t, _)| t.clone())
            .collect()
    }

    /// Whether some agent of `team` can take a conversation at `now`
    /// (active, online, on shift, under capacity).
    pub fn has_room(&self, team: &TeamId, roster: &Roster, now: DateTime<Utc>) -> bool {
        roster.agents.iter().any(|a| {
            a.is_in_team(team)
                && super::strategy::availability(
                    a,
                    roster.loads.get(&a.id).copied().unwrap_or(0),
                    now,
                    &self.calendars,
                ) == Availability::Available
        })
    }

    /// Picks an agent for `conversation` in `team` with the team's policy
    /// (used when an agent goes offline and their conversations are
    /// reassigned, and when a queue drains).
    pub fn pick_in_team(
        &self,
        conversation: &Conversation,
        team: &TeamId,
        roster: &Roster,
        now: DateTime<Utc>,
    ) -> Pick {
        let policy = self.team_policy(team);
        let strategy = match policy.strategy {
            // Reassignment needs somebody: a manual team falls back.
            Strategy::Manual => policy.fallback.unwrap_or(Strategy::LeastLoaded),
            s => s,
        };
        let (extra, no_moves) = (BTreeMap::new(), BTreeMap::new());
        let picker = Picker {
            roster,
            moved: &no_moves,
            extra: &extra,
            now,
            calendars: &self.calendars,
        };
        picker.pick(
            team,
            strategy,
            policy.fallback.unwrap_or(Strategy::LeastLoaded),
            &[],
            &conversation.tags,
        )
    }
}

/// What a rule's condition gave in this run, or whether it fired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RuleState {
    Unknown,
    Matches,
    Fails,
    Fired,
}

/// Triggers still to handle: each at most once, in first-seen order.
#[derive(Debug, Default)]
struct TriggerSet {
    seen: u16,
    order: Vec<TriggerKind>,
}

impl TriggerSet {
    fn of(triggers: &[TriggerKind]) -> Self {
        let mut s = Self::default();
        for t in triggers {
            if s.seen & t.bit() == 0 {
                s.seen |= t.bit();
                s.order.push(*t);
            }
        }
        s
    }

    fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    fn iter(&self) -> impl Iterator<Item = TriggerKind> + '_ {
        self.order.iter().copied()
    }
}

fn needs_roster(a: &Act, c: &Conversation) -> bool {
    match a {
        // Moving a conversation between queues needs the agents only to
        // know whether its owner stays.
        Act::RouteToTeam(_) => c.assignee.is_some(),
        other => other.needs_roster(),
    }
}

/// When a time trigger of `rule` is due on `c`, if it has not fired for the
/// current wait.
fn timed_due(rule: &Rule, t: &Trigger, c: &Conversation) -> Option<DateTime<Utc>> {
    if !c.status.is_active() || c.status == ConversationStatus::Snoozed {
        return None;
    }
    let (anchor, after) = match t {
        Trigger::NoAgentReply { after } => (c.waiting_since?, after),
        Trigger::NoCustomerReply { after } => {
            if c.waiting_since.is_some() {
                return None;
            }
            (c.last_agent_reply_at?, after)
        }
        _ => return None,
    };
    if c.rule_fired.get(&rule.name).is_some_and(|f| *f >= anchor) {
        return None;
    }
    Some(anchor + delta(after.0))
}

/// Whether `rule` runs for `trigger` now; the trigger's name if so.
fn listens(
    rule: &Rule,
    trigger: TriggerKind,
    c: &Conversation,
    now: DateTime<Utc>,
) -> Option<&'static str> {
    if rule.mask & trigger.bit() == 0 {
        return None;
    }
    if trigger != TriggerKind::Timer {
        return Some(trigger.name());
    }
    rule.on.iter().find_map(|t| {
        if TriggerKind::of(t) != trigger {
            return None;
        }
        match t {
            Trigger::NoAgentReply { .. } => timed_due(rule, t, c)
                .filter(|d| *d <= now)
                .map(|_| "no_agent_reply"),
            Trigger::NoCustomerReply { .. } => timed_due(rule, t, c)
                .filter(|d| *d <= now)
                .map(|_| "no_customer_reply"),
            _ => Some(trigger.name()),
        }
    })
}

impl Run<'_, '_> {
    fn event(&mut self, rule: &str, kind: EventKind) {
        self.out.effects.push(Effect::Event {
            rule: rule.to_string(),
            kind,
        });
    }

    fn fire(&mut self, rule: &Rule, trigger: &str, c: &mut Conversation) {
        let now = self.input.now;
        if rule.cooldown.is_some() || rule.timed() {
            c.rule_fired.insert(rule.name.clone(), now);
        }
        self.out.fired.push(rule.name.clone());
        let at = self.out.effects.len();
        self.event(
            &rule.name,
            EventKind::RuleFired {
                rule: rule.name.clone(),
                trigger: trigger.to_string(),
                outcome: Vec::new(),
            },
        );
        let mut said = Vec::new();
        for act in &rule.actions {
            if let Some(s) = self.act(rule, act, c) {
                said.push(s);
            }
            if self.needs_queue.is_some() {
                // The run starts again once the queue is known.
                return;
            }
        }
        self.flush_route(&rule.name, c);
        if let Some(Effect::Event {
            kind: EventKind::RuleFired { outcome, .. },
            ..
        }) = self.out.effects.get_mut(at)
        {
            *outcome = said;
        }
    }

    fn picker(&self) -> Option<Picker<'_>> {
        Some(Picker {
            roster: self.input.roster?,
            moved: &self.cursors,
            extra: &self.extra,
            now: self.input.now,
            calendars: &self.routing.calendars,
        })
    }

    fn act(&mut self, rule: &Rule, act: &Act, c: &mut Conversation) -> Option<String> {
        let name = rule.name.as_str();
        let now = self.input.now;
        match act {
            Act::RouteToTeam(team) => self.route_to_team(team, c),
            Act::AssignAgent(agent) => self.assign_agent(name, agent, c),
            Act::RouteToBot(bot) => self.route_to_bot(name, bot, c),
            Act::Assign {
                team,
                strategy,
                skills,
            } => self.assign_in_team(name, team.as_ref(), *strategy, skills, c),
            Act::AddTags(tags) => self.add_tags(name, tags, c),
            Act::RemoveTags(tags) => self.remove_tags(name, tags, c),
            Act::SetPriority(p) => {
                if c.priority == *p {
                    return None;
                }
                let from = c.priority;
                c.priority = *p;
                self.event(name, EventKind::PriorityChanged { from, to: *p });
                Some(format!("priority {p}"))
            }
            Act::AutoReply { text, template } => {
                self.auto_reply(name, text.as_deref(), template.as_ref(), c)
            }
            Act::Note(text) => {
                self.out.effects.push(Effect::Note {
                    rule: name.to_string(),
                    text: text.clone(),
                });
                Some("note".into())
            }
            Act::SetStatus(to) => self.status(name, c, *to, None),
            Act::Snooze(d) => self.status(name, c, ConversationStatus::Snoozed, Some(now + *d)),
            Act::Emit { name: ev, data } => {
                self.event(
                    name,
                    EventKind::Integration {
                        name: ev.clone(),
                        data: data.clone(),
                    },
                );
                Some(format!("emitted {ev}"))
            }
        }
    }

    /// `route_to_team`: moves the conversation to `team` (its owner stays
    /// if they are in it).
    fn route_to_team(&mut self, team: &TeamId, c: &mut Conversation) -> Option<String> {
        if c.team.as_ref() == Some(team) {
            return Some(format!("already in team {team}"));
        }
        let from = match self.route.take() {
            Some((from, _)) => from,
            None => ownership(c),
        };
        c.team = Some(team.clone());
        let owner_stays = c.bot_owns().is_some()
            || match (&c.assignee, self.input.roster) {
                (Some(a), Some(r)) => r.agents.iter().any(|x| &x.id == a && x.is_in_team(team)),
                _ => false,
            };
        if !owner_stays {
            c.assignee = None;
        }
        let text = format!("team {team}");
        self.route = Some((from, text.clone()));
        Some(text)
    }

    /// `route_to_bot`: gives the conversation to a bot, unless a person
    /// (or another bot) owns it, another app controls the thread, or a bot
    /// already handed it over since it was last resolved.
    fn route_to_bot(&mut self, name: &str, bot: &AgentId, c: &mut Conversation) -> Option<String> {
        let now = self.input.now;
        if let Some(owner) = &c.assignee {
            if c.bot_owns().is_some_and(|s| &s.agent == bot) {
                return Some(format!("already with bot {bot}"));
            }
            return Some(format!("{owner} owns it; the bot stays out"));
        }
        if c.imported || c.controlled_elsewhere().is_some() {
            return Some("the inbox does not answer this thread; the bot stays out".into());
        }
        let handed = c.bot.as_ref().and_then(|s| s.handed_off.as_ref());
        if handed.is_some_and(|h| c.resolved_at.is_none_or(|r| r < h.at)) {
            return Some("handed over to people; the bot stays out".into());
        }
        let from = ownership(c);
        let mut seat = crate::model::BotSeat::new(bot.clone(), now);
        seat.turn_due = c.waiting_since.map(|_| now);
        // Turns keep counting: their replies' keys stay unique.
        seat.turn = c.bot.as_ref().map_or(0, |s| s.turn);
        c.bot = Some(seat);
        c.assignee = Some(bot.clone());
        self.event(
            name,
            EventKind::BotEngaged {
                bot: bot.clone(),
                rule: Some(name.to_string()),
            },
        );
        let text = format!("bot {bot}");
        self.assigned(name, from, c, text.clone());
        Some(text)
    }

    /// `assign_agent`: gives the conversation to one named agent, if
    /// available.
    fn assign_agent(
        &mut self,
        name: &str,
        agent: &AgentId,
        c: &mut Conversation,
    ) -> Option<String> {
        if let Some(seat) = c.bot_owns() {
            return Some(format!("bot {} answers it; left with the bot", seat.agent));
        }
        let picker = self.picker()?;
        let Some(a) = picker.roster.agents.iter().find(|x| &x.id == agent) else {
            return Some(format!("agent {agent} does not exist; left in the queue"));
        };
        let state = picker.availability_of(a);
        if state != Availability::Available {
            return Some(format!(
                "{agent} is not available ({state:?}); left in the queue"
            ));
        }
        if c.assignee.as_ref() == Some(agent) {
            return Some(format!("{agent} already owns it"));
        }
        let load = picker.load(agent);
        let capacity = a.capacity;
        let teams = a.teams.clone();
        let from = ownership(c);
        c.assignee = Some(agent.clone());
        if !c.team.as_ref().is_some_and(|t| teams.contains(t)) {
            c.team = teams.first().cloned();
        }
        let text = if capacity == 0 {
            format!("{agent} {load}/∞")
        } else {
            format!("{agent} {load}/{capacity}")
        };
        self.assigned(name, from, c, text.clone());
        *self.extra.entry(agent.clone()).or_default() += 1;
        Some(text)
    }

    /// `assign`: picks an agent of the team with its strategy (an owner
    /// still there is kept; nobody jumps the team's queue).
    fn assign_in_team(
        &mut self,
        name: &str,
        team: Option<&TeamId>,
        strategy: Option<Strategy>,
        skills: &[String],
        c: &mut Conversation,
    ) -> Option<String> {
        let now = self.input.now;
        let Some(team) = team.cloned().or_else(|| c.team.clone()) else {
            return Some("no team to assign from; left unassigned".into());
        };
        let policy = self.routing.team_policy(&team);
        let strategy = strategy.unwrap_or(policy.strategy);
        let fallback = policy.fallback.unwrap_or(Strategy::LeastLoaded);
        if let Some(seat) = c.bot_owns() {
            return Some(format!("bot {} answers it; left with the bot", seat.agent));
        }
        let roster = self.input.roster?;
        // Keep an owner who is still here.
        if let Some(owner) = &c.assignee {
            let keep = roster
                .agents
                .iter()
                .find(|a| &a.id == owner)
                .is_some_and(|a| {
                    a.is_in_team(&team)
                        && matches!(
                            super::strategy::availability(a, 0, now, &self.routing.calendars),
                            Availability::Available
                        )
                });
            if keep {
                return Some(format!("kept owner {owner}"));
            }
        }
        let pick = Picker {
            roster,
            moved: &self.cursors,
            extra: &self.extra,
            now,
            calendars: &self.routing.calendars,
        }
        .pick(&team, strategy, fallback, skills, &c.tags);
        let mut text = pick.explanation;
        text.insert_str(0, " → ");
        text.insert_str(0, team.as_str());
        text.insert_str(0, "team ");
        let mut agent = pick.agent;
        if agent.is_none() {
            self.no_room.push(team.clone());
        } else if policy.strategy != Strategy::Manual {
            // The team's queue drains: nobody jumps it.
            if let Some(queues) = &roster.queues {
                let Some(queue) = queues.get(&team) else {
                    self.needs_queue = Some(team);
                    return None;
                };
                if let Some(ahead) = queue.iter().find(|w| w.is_ahead_of(c)) {
                    agent = None;
                    text.push_str(" → queued behind a conversation waiting ");
                    match ahead.waiting_since {
                        Some(t) => text.push_str(&super::waited_text(now - t)),
                        None => text.push_str("longer"),
                    }
                }
            }
        }
        if agent.is_some() {
            if let Some(cursor) = pick.cursor {
                self.cursors.insert(team.clone(), cursor);
            }
        }
        let routed = self.route.take();
        let from_route = routed.as_ref().map(|(f, _)| f.clone());
        match agent {
            Some(agent) => {
                let from = from_route.unwrap_or_else(|| ownership(c));
                c.team = Some(team);
                c.assignee = Some(agent.clone());
                *self.extra.entry(agent).or_default() += 1;
                self.assigned_with(name, from, c, text.clone());
            }
            None => {
                if routed.is_some() || c.team.as_ref() != Some(&team) || c.assignee.is_some() {
                    let from = from_route.unwrap_or_else(|| ownership(c));
                    c.team = Some(team);
                    c.assignee = None;
                    self.assigned_with(name, from, c, text.clone());
                }
            }
        }
        Some(text)
    }

    /// `add_tags`.
    fn add_tags(&mut self, name: &str, tags: &[String], c: &mut Conversation) -> Option<String> {
        let added: Vec<String> = tags
            .iter()
            .filter(|t| !c.tags.contains(t))
            .cloned()
            .collect();
        if added.is_empty() {
            return None;
        }
        c.tags.extend(added.iter().cloned());
        c.tags.sort();
        self.event(
            name,
            EventKind::Tagged {
                added: added.clone(),
                removed: Vec::new(),
            },
        );
        self.derived.push(TriggerKind::TagAdded);
        Some(format!("tagged {}", added.join(", ")))
    }

    /// `remove_tags`.
    fn remove_tags(&mut self, name: &str, tags: &[String], c: &mut Conversation) -> Option<String> {
        let removed: Vec<String> = tags
            .iter()
            .filter(|t| c.tags.contains(t))
            .cloned()
            .collect();
        if removed.is_empty() {
            return None;
        }
        c.tags.retain(|t| !removed.contains(t));
        self.event(
            name,
            EventKind::Tagged {
                added: Vec::new(),
                removed: removed.clone(),
            },
        );
        Some(format!("untagged {}", removed.join(", ")))
    }

    /// `auto_reply`: text while the customer window is open, else the
    /// template, if any.
    fn auto_reply(
        &mut self,
        name: &str,
        text: Option<&str>,
        template: Option<&Content>,
        c: &Conversation,
    ) -> Option<String> {
        let now = self.input.now;
        if c.status == ConversationStatus::Resolved {
            return Some("resolved: no auto-reply".into());
        }
        let open = c.window_open(now);
        let content = match (text, template) {
            (Some(t), _) if open => Content::text(t),
            (_, Some(tpl)) => tpl.clone(),
            (Some(_), None) => return Some("window closed and no template: nothing sent".into()),
            (None, None) => return None,
        };
        let what = format!("auto-reply ({})", content.kind());
        self.out.effects.push(Effect::Reply {
            rule: name.to_string(),
            content,
        });
        Some(what)
    }

    fn assigned(&mut self, rule: &str, from: Ownership, c: &Conversation, text: String) {
        let (from, text) = match self.route.take() {
            Some((f, r)) => (f, format!("{r} → {text}")),
            None => (from, text),
        };
        self.assigned_with(rule, from, c, text);
    }

    fn flush_route(&mut self, rule: &str, c: &Conversation) {
        if let Some((from, text)) = self.route.take() {
            self.assigned_with(rule, from, c, text);
        }
    }

    fn assigned_with(&mut self, rule: &str, from: Ownership, c: &Conversation, text: String) {
        let to = ownership(c);
        if from == to {
            return;
        }
        self.event(
            rule,
            EventKind::Assigned {
                from,
                to,
                reason: format!("rule {rule:?} → {text}"),
                warning: None,
            },
        );
        self.derived.push(TriggerKind::AssignmentChanged);
    }

    fn status(
        &mut self,
        rule: &str,
        c: &mut Conversation,
        to: ConversationStatus,
        until: Option<DateTime<Utc>>,
    ) -> Option<String> {
        let from = c.status;
        if from == to && c.snoozed_until == until {
            return None;
        }
        if from == ConversationStatus::Resolved && to != ConversationStatus::Resolved {
            c.reopen_count += 1;
        }
        c.status = to;
        c.snoozed_until = until;
        if to == ConversationStatus::Resolved {
            c.resolved_at = Some(self.input.now);
            c.waiting_since = None;
        }
        self.event(
            rule,
            EventKind::StatusChanged {
                from,
                to,
                snoozed_until: until,
            },
        );
        self.derived.push(TriggerKind::StatusChanged);
        Some(match until {
            Some(u) => format!("snoozed until {}", u.to_rfc3339()),
            None => format!("status {to}"),
        })
    }
}
