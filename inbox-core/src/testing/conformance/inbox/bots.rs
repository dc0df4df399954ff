//! Bots as participants: a bot owns a conversation, answers through the
//! outbox, hands over to people, and people always win.

use std::sync::Mutex;

use crate::model::HandoffReason;
use crate::ports::{Bot, BotAction, BotAnswer, BotError, BotTurn};
use crate::settings::TenantSettings;
use crate::testing::conformance::support::*;

/// The tenant's settings for these tests: the FAQ bot `faq` (and the HTTP
/// bot `ai`) first on every new conversation; `extra` YAML merged in.
const SETTINGS: &str = r#"
bots:
  list:
    faq:
      kind: faq
      name: Helper
      answers:
        - { id: hours, match: { any: ["opening hours", horario] }, reply: "We are open 9-18." }
        - { id: track, match: { any: [parcel] }, reply: "Let me find someone.", then_handoff: true }
      otherwise: { reply: "Sorry, I did not get that." }
    ai: { kind: http, name: Assistant, url: "http://127.0.0.1:9/turn", secret: ai, timeout: 5s }
  handoff:
    keywords: { en: [agent, human], es: [agente] }
    tags: [vip]
    fallback: { team: support }
routing:
  rules:
    - { name: bot first, on: [conversation_opened], then: [ { route_to_bot: faq } ] }
"#;

async fn bot_fixture<S: Store + AsDynStore + ?Sized>(
    store: Arc<S>,
    edit: impl FnOnce(&mut TenantSettings),
) -> Fixture {
    let f = fixture(store).await;
    for (id, name) in [("faq", "Helper"), ("ai", "Assistant")] {
        let mut bot = Agent::new(f.acme(), AgentId::new(id).unwrap(), name, Role::Agent);
        bot.service = true;
        bot.bot = true;
        bot.presence = Presence::Online;
        f.inbox.provision_agent(&bot).await.unwrap();
    }
    let mut doc = TenantSettings::from_yaml(SETTINGS).unwrap();
    edit(&mut doc);
    f.edit_settings(|s| {
        s.bots = doc.bots;
        s.routing.rules = doc.routing.rules;
        s.routing.calendars = doc.routing.calendars;
        s.sla = doc.sla;
    })
    .await
    .unwrap();
    f
}

fn faq() -> AgentId {
    AgentId::new("faq").unwrap()
}

fn handed_off(events: &[Event]) -> Vec<HandoffReason> {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::HandedOff { reason, .. } => Some(reason.clone()),
            _ => None,
        })
        .collect()
}

async fn dispatch_all(f: &Fixture) -> crate::inbox::DispatchReport {
    let mut report = crate::inbox::DispatchReport::default();
    for _ in 0..5 {
        let pass = f.inbox.dispatch(20).await.unwrap();
        report.sent += pass.sent;
        report.cancelled += pass.cancelled;
    }
    report
}

/// A `route_to_bot` rule gives a new conversation to the bot, which
/// answers through the outbox as itself; its answer does not count as the
/// team's first response and the customer still waits for a person.
pub(crate) async fn route_to_bot_owns_and_replies_through_the_outbox<
    S: Store + AsDynStore + ?Sized,
>(
    store: Arc<S>,
) {
    let f = bot_fixture(store, |_| {}).await;
    let c = says(
        &f,
        "1001",
        "b1",
        "34655500061",
        "What are your opening hours?",
    )
    .await;
    let conv = stored(&f, &c).await;
    assert_eq!(conv.assignee, Some(faq()));
    let seat = conv.bot_owns().expect("the bot owns it").clone();
    assert_eq!(seat.turn_due, Some(f.clock.now()));
    assert_eq!(f.inbox.run_bots(10).await.unwrap(), 1);
    assert_eq!(
        f.inbox.run_bots(10).await.unwrap(),
        0,
        "one turn per message"
    );
    let conv = stored(&f, &c).await;
    let seat = conv.bot.clone().unwrap();
    assert_eq!((seat.exchanges, seat.turn, seat.turn_due), (1, 1, None));
    assert_eq!(
        conv.first_response_at, None,
        "a bot's answer is not the team's response"
    );
    assert!(conv.waiting_since.is_some());
    let out: Vec<Message> = messages_of(&f, &c)
        .await
        .into_iter()
        .filter(|m| m.direction == Direction::Outbound)
        .collect();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].author, Author::Agent(faq()));
    assert_eq!(out[0].content, Content::text("We are open 9-18."));
    assert_eq!(dispatch_all(&f).await.sent, 1);
    let by_bot = events_of(&f, &c)
        .await
        .into_iter()
        .filter(|e| e.actor == EventActor::Agent(faq()))
        .map(|e| e.kind.name())
        .collect::<Vec<_>>();
    assert!(
        by_bot.contains(&"reply_queued") && by_bot.contains(&"bot_answered"),
        "{by_bot:?}"
    );
    let engaged = events_of(&f, &c).await;
    assert!(engaged.iter().any(
        |e| matches!(&e.kind, EventKind::BotEngaged { rule: Some(r), .. } if r == "bot first")
    ));
}

/// "agent please" (a keyword of any language) hands over in the same
/// commit as the message: the bot lets go, a note says why, the tenant's
/// fallback team gets it, and the bot says nothing more.
pub(crate) async fn handoff_keyword_routes_to_people_with_note<S: Store + AsDynStore + ?Sized>(
    store: Arc<S>,
) {
    let f = bot_fixture(store, |_| {}).await;
    let wa = "34655500062";
    let c = says(&f, "1001", "b1", wa, "horario?").await;
    f.inbox.run_bots(10).await.unwrap();
    says(&f, "1001", "b2", wa, "quiero un AGENTE").await;
    let conv = stored(&f, &c).await;
    assert_eq!(conv.assignee, None);
    assert_eq!(conv.team.as_ref().map(|t| t.as_str()), Some("support"));
    let handoff = conv.bot.as_ref().unwrap().handed_off.clone().unwrap();
    assert_eq!(handoff.reason, HandoffReason::CustomerAsked);
    assert_eq!(
        handed_off(&events_of(&f, &c).await),
        [HandoffReason::CustomerAsked]
    );
    let notes: Vec<Message> = messages_of(&f, &c)
        .await
        .into_iter()
        .filter(|m| m.direction == Direction::Note)
        .collect();
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0].author, Author::Agent(faq()));
    f.advance(TimeDelta::minutes(1));
    says(&f, "1001", "b3", wa, "hello?").await;
    assert_eq!(f.inbox.run_bots(10).await.unwrap(), 0, "the bot is silent");
    // The handoff button, and a VIP tag, hand over too.
    let c2 = says(&f, "1001", "b4", "34655500063", "hi").await;
    let tap = f.inbound(
        "1001",
        "b5",
        "34655500063",
        Content::Interactive {
            reply: crate::model::InteractiveReply::ButtonReply {
                id: "inbox:handoff".into(),
                title: "Talk to a person".into(),
            },
        },
    );
    f.inbox.ingest(InboundEvent::Message(tap)).await.unwrap();
    assert_eq!(
        handed_off(&events_of(&f, &c2).await),
        [HandoffReason::CustomerAsked]
    );
    // A time in the person's time: the time to a human is measured.
    f.advance(TimeDelta::minutes(3));
    claim_now(&f, &f.actor("cy"), &c2).await;
    let h = stored(&f, &c2).await.bot.unwrap().handed_off.unwrap();
    assert_eq!(h.human_at, Some(h.at + TimeDelta::minutes(3)));
    // The bot report, counted by the store: two engaged, both handed
    // over by the customer, one taken by a person three minutes later.
    let query = crate::metrics::BotQuery {
        from: Fixture::start(),
        to: f.clock.now() + TimeDelta::hours(1),
    };
    let report = f.inbox.bot_report(&f.actor("sam"), query).await.unwrap();
    let t = &report.total;
    assert_eq!(
        (t.engaged, t.handed_off, t.resolved_by_bot, t.open),
        (2, 2, 0, 0)
    );
    assert_eq!(t.reasons["customer_asked"], 2);
    assert_eq!(t.handoff_rate, Some(1.0));
    assert_eq!(
        (t.time_to_human.count, t.time_to_human.median_secs),
        (1, Some(180))
    );
    let early = crate::metrics::BotQuery {
        from: Fixture::start() - TimeDelta::hours(2),
        to: Fixture::start(),
    };
    assert_eq!(
        f.inbox
            .bot_report(&f.actor("sam"), early)
            .await
            .unwrap()
            .total
            .engaged,
        0
    );
    let refused = f.inbox.bot_report(&f.actor("ana"), query).await;
    assert_eq!(refused.unwrap_err().code(), "forbidden");
}

/// An agent claiming a bot's conversation takes it over at once: the
/// bot's replies still in the outbox are cancelled, and it never answers
/// again while a person owns it; an agent may hand it back to the bot.
pub(crate) async fn take_over_stops_the_bot_and_cancels_its_queued_replies<
    S: Store + AsDynStore + ?Sized,
>(
    store: Arc<S>,
) {
    let f = bot_fixture(store, |_| {}).await;
    let wa = "34655500064";
    let c = says(&f, "1001", "b1", wa, "opening hours").await;
    f.inbox.run_bots(10).await.unwrap();
    let v = f.version(&c).await.unwrap();
    let claimed = f.inbox.claim(&f.actor("ana"), &c, v).await.unwrap();
    assert_eq!(
        claimed.conversation.assignee.as_ref().map(|a| a.as_str()),
        Some("ana")
    );
    let h = claimed
        .conversation
        .bot
        .clone()
        .unwrap()
        .handed_off
        .unwrap();
    assert_eq!(
        (h.reason, h.by.as_ref().map(|a| a.as_str())),
        (HandoffReason::TakenOver, Some("ana"))
    );
    let report = dispatch_all(&f).await;
    assert_eq!((report.sent, report.cancelled), (0, 1));
    f.advance(TimeDelta::seconds(5));
    says(&f, "1001", "b2", wa, "opening hours again").await;
    assert_eq!(f.inbox.run_bots(10).await.unwrap(), 0);
    // Handed back: the bot answers the waiting customer.
    let v = f.version(&c).await.unwrap();
    f.inbox
        .hand_to_bot(&f.actor("ana"), &c, v, &faq())
        .await
        .unwrap();
    assert!(stored(&f, &c).await.bot_owns().is_some());
    assert_eq!(f.inbox.run_bots(10).await.unwrap(), 1);
    // Taken and handed back once more with nothing new from the customer:
    // the bot keeps it and waits (no turn, no handover with an empty
    // question to a fallback team).
    f.advance(TimeDelta::seconds(30));
    let v = f.version(&c).await.unwrap();
    f.inbox.claim(&f.actor("ana"), &c, v).await.unwrap();
    let v = f.version(&c).await.unwrap();
    f.inbox
        .hand_to_bot(&f.actor("ana"), &c, v, &faq())
        .await
        .unwrap();
    f.advance(TimeDelta::seconds(30));
    assert_eq!(f.inbox.run_bots(10).await.unwrap(), 0);
    let conv = stored(&f, &c).await;
    assert!(conv.bot_owns().is_some(), "{:?}", conv.bot);
    assert_eq!(conv.team, None);
    // A person replying takes it over as well.
    f.advance(TimeDelta::minutes(1));
    reply_now(&f, &f.actor("sam"), &c, "I am here", "s1").await;
    let conv = stored(&f, &c).await;
    assert_eq!(conv.assignee.as_ref().map(|a| a.as_str()), Some("sam"));
    assert_eq!(
        handed_off(&events_of(&f, &c).await),
        [
            HandoffReason::TakenOver,
            HandoffReason::TakenOver,
            HandoffReason::TakenOver
        ]
    );
}

/// A bot is never silent: no answer that fits hands over (after the
/// `otherwise` reply once), an unreachable bot hands over, too many
/// exchanges hand over, and an answer the inbox refuses hands over.
pub(crate) async fn bot_failures_and_bad_answers_hand_over<S: Store + AsDynStore + ?Sized>(
    store: Arc<S>,
) {
    let f = bot_fixture(store, |s| s.bots.handoff.max_exchanges = 2).await;
    let wa = "34655500065";
    let c = says(&f, "1001", "b1", wa, "blah").await;
    f.inbox.run_bots(10).await.unwrap();
    f.advance(TimeDelta::seconds(5));
    says(&f, "1001", "b2", wa, "more blah").await;
    f.inbox.run_bots(10).await.unwrap();
    let h = stored(&f, &c).await.bot.unwrap().handed_off.unwrap();
    assert_eq!(
        h.reason,
        HandoffReason::BotAsked,
        "the second miss hands over"
    );
    // Too many exchanges.
    let wa = "34655500066";
    let c = says(&f, "1001", "b3", wa, "opening hours").await;
    f.inbox.run_bots(10).await.unwrap();
    f.advance(TimeDelta::seconds(5));
    says(&f, "1001", "b4", wa, "opening hours?").await;
    f.inbox.run_bots(10).await.unwrap();
    let h = stored(&f, &c).await.bot.unwrap().handed_off.unwrap();
    assert_eq!(h.reason, HandoffReason::MaxExchanges);
    // An HTTP bot with no adapter set is unavailable: handed over.
    let wa = "34655500067";
    let c = says(&f, "1001", "b5", wa, "hi").await;
    let v = claim_now(&f, &f.actor("sam"), &c).await;
    f.inbox
        .hand_to_bot(&f.actor("sam"), &c, v, &AgentId::new("ai").unwrap())
        .await
        .unwrap();
    f.inbox.run_bots(10).await.unwrap();
    let h = stored(&f, &c).await.bot.unwrap().handed_off.unwrap();
    assert_eq!(h.reason, HandoffReason::Unavailable);
    // A bad answer (free-form text outside the window, through the port).
    f.inbox.set_bot(Arc::new(Scripted::answering(BotAnswer {
        actions: vec![BotAction::Reply {
            content: Content::text(""),
        }],
    })));
    let wa = "34655500068";
    let c = says(&f, "1001", "b6", wa, "hi").await;
    let v = claim_now(&f, &f.actor("sam"), &c).await;
    f.inbox
        .hand_to_bot(&f.actor("sam"), &c, v, &AgentId::new("ai").unwrap())
        .await
        .unwrap();
    f.inbox.run_bots(10).await.unwrap();
    let conv = stored(&f, &c).await;
    assert_eq!(
        conv.bot.unwrap().handed_off.unwrap().reason,
        HandoffReason::BadAnswer
    );
    assert_eq!(
        conv.message_count, 2,
        "the message and the handoff note; nothing sent"
    );
}

/// The bot sees the conversation's messages, never its notes; its tags,
/// attributes and resolution are its own audited actions.
pub(crate) async fn bot_turn_never_sees_notes_and_acts_as_itself<S: Store + AsDynStore + ?Sized>(
    store: Arc<S>,
) {
    let f = bot_fixture(store, |s| {
        s.routing.rules.clear();
    })
    .await;
    let scripted = Arc::new(Scripted::answering(BotAnswer {
        actions: vec![
            BotAction::Reply {
                content: Content::text("Done, thanks!"),
            },
            BotAction::Tag {
                add: vec!["Bot-Handled".into()],
                remove: vec![],
            },
            BotAction::SetAttributes {
                attributes: [("plan".to_string(), "gold".to_string())].into(),
            },
            BotAction::Resolve,
        ],
    }));
    f.inbox.set_bot(scripted.clone());
    let c = says(&f, "1001", "b1", "34655500069", "cancel my order").await;
    let v = claim_now(&f, &f.actor("sam"), &c).await;
    let sam = f.actor("sam");
    f.inbox
        .note(&sam, &c, v, "secret: VIP discount code 1234", "n1")
        .await
        .unwrap();
    let v = f.version(&c).await.unwrap();
    f.inbox
        .hand_to_bot(&sam, &c, v, &AgentId::new("ai").unwrap())
        .await
        .unwrap();
    assert_eq!(f.inbox.run_bots(10).await.unwrap(), 1);
    let turns = scripted.turns.lock().unwrap().clone();
    assert_eq!(turns.len(), 1);
    let seen: Vec<&str> = turns[0]
        .messages
        .iter()
        .filter_map(|m| m.content.text_body())
        .collect();
    assert_eq!(seen, ["cancel my order"], "never the note");
    let conv = stored(&f, &c).await;
    assert_eq!(conv.status, ConversationStatus::Resolved);
    assert_eq!(conv.tags, ["bot-handled"]);
    let contact = f.store.contact(&f.acme(), &conv.contact).await.unwrap();
    assert_eq!(
        contact.attributes.get("plan").map(String::as_str),
        Some("gold")
    );
    let ai = EventActor::Agent(AgentId::new("ai").unwrap());
    let kinds: Vec<&str> = events(&f)
        .await
        .iter()
        .filter(|e| e.actor == ai)
        .map(|e| e.kind.name())
        .collect();
    for k in [
        "reply_queued",
        "tagged",
        "contact_updated",
        "status_changed",
        "bot_answered",
    ] {
        assert!(kinds.contains(&k), "{k} missing from {kinds:?}");
    }
}

/// An answer computed while a person took the conversation over is
/// dropped: the person's claim stands and nothing the bot said is queued.
pub(crate) async fn stale_bot_answer_is_dropped_after_take_over<S: Store + AsDynStore + ?Sized>(
    store: Arc<S>,
) {
    let f = bot_fixture(store, |s| s.routing.rules.clear()).await;
    let c = says(&f, "1001", "b1", "34655500070", "hi").await;
    let v = claim_now(&f, &f.actor("sam"), &c).await;
    f.inbox
        .hand_to_bot(&f.actor("sam"), &c, v, &AgentId::new("ai").unwrap())
        .await
        .unwrap();
    let bot = Scripted::answering(BotAnswer {
        actions: vec![BotAction::Reply {
            content: Content::text("late answer"),
        }],
    });
    *bot.during.lock().unwrap() = Some((f.inbox.clone(), f.actor("ana"), c.clone()));
    f.inbox.set_bot(Arc::new(bot));
    assert_eq!(f.inbox.run_bots(10).await.unwrap(), 0);
    let conv = stored(&f, &c).await;
    assert_eq!(conv.assignee.as_ref().map(|a| a.as_str()), Some("ana"));
    let out = messages_of(&f, &c)
        .await
        .into_iter()
        .filter(|m| m.direction == Direction::Outbound)
        .count();
    assert_eq!(out, 0);
}

/// "Bot only after hours": outside the office calendar the bot answers;
/// at the next opening people take over (reason `opening`), routed to the
/// fallback team; a customer during office hours goes straight to people.
pub(crate) async fn the_bot_hands_over_when_business_hours_begin<S: Store + AsDynStore + ?Sized>(
    store: Arc<S>,
) {
    let f = bot_fixture(store, |s| {
        let doc = TenantSettings::from_yaml(
            r#"
routing:
  calendars: { office: { zone: UTC, weekdays: ["10:00-18:00"] } }
  rules:
    - name: bot after hours
      on: [conversation_opened]
      when: { business_hours: { state: closed, calendar: office } }
      then: [ { route_to_bot: faq } ]
"#,
        )
        .unwrap();
        s.routing.calendars = doc.routing.calendars;
        s.routing.rules = doc.routing.rules;
        s.bots.handoff.at_opening = Some("office".into());
    })
    .await;
    // Monday 09:00 UTC: closed until 10:00.
    let c = says(&f, "1001", "h1", "34655500071", "opening hours?").await;
    let seat = stored(&f, &c).await.bot.unwrap();
    let planned = seat.planned.clone().unwrap();
    assert_eq!(
        (planned.at, planned.reason),
        (
            Fixture::start() + TimeDelta::hours(1),
            HandoffReason::Opening
        )
    );
    f.inbox.run_bots(10).await.unwrap();
    tick(&f, Fixture::start() + TimeDelta::minutes(59)).await;
    assert!(
        stored(&f, &c).await.bot_owns().is_some(),
        "not before the opening"
    );
    f.advance(TimeDelta::hours(1));
    tick(&f, f.clock.now()).await;
    let conv = stored(&f, &c).await;
    assert_eq!(
        conv.bot.unwrap().handed_off.unwrap().reason,
        HandoffReason::Opening
    );
    assert_eq!(conv.assignee, None);
    assert_eq!(conv.team.as_ref().map(|t| t.as_str()), Some("support"));
    // 10:30: open, no bot.
    f.advance(TimeDelta::minutes(30));
    let d = says(&f, "1001", "h2", "34655500072", "hello").await;
    assert_eq!(stored(&f, &d).await.bot, None);
}

/// An SLA about to be missed hands over: with a 10-minute first-response
/// target and a 2-minute margin, people take a bot's conversation at 8
/// minutes (reason `sla_risk`) if nobody asked before.
pub(crate) async fn the_bot_hands_over_before_an_sla_is_missed<S: Store + AsDynStore + ?Sized>(
    store: Arc<S>,
) {
    let f = bot_fixture(store, |s| {
        s.bots.handoff.sla_margin = Some(crate::routing::Dur(std::time::Duration::from_secs(120)));
        s.sla = TenantSettings::from_yaml(
            "sla: { policies: [ { id: std, first_response_secs: 600 } ] }",
        )
        .unwrap()
        .sla;
    })
    .await;
    let c = says(&f, "1001", "s1", "34655500073", "opening hours?").await;
    let planned = stored(&f, &c).await.bot.unwrap().planned.unwrap();
    assert_eq!(
        (planned.at, planned.reason),
        (
            Fixture::start() + TimeDelta::minutes(8),
            HandoffReason::SlaRisk
        )
    );
    f.inbox.run_bots(10).await.unwrap();
    tick(&f, Fixture::start() + TimeDelta::minutes(7)).await;
    assert!(stored(&f, &c).await.bot_owns().is_some(), "not before");
    f.advance(TimeDelta::minutes(8));
    tick(&f, f.clock.now()).await;
    let conv = stored(&f, &c).await;
    assert_eq!(
        conv.bot.unwrap().handed_off.unwrap().reason,
        HandoffReason::SlaRisk
    );
    assert_eq!(conv.team.as_ref().map(|t| t.as_str()), Some("support"));
}

/// A scripted bot: answers as told (or fails), records the turns it was
/// given, and may have a person claim the conversation while it thinks.
struct Scripted {
    answer: std::result::Result<BotAnswer, BotError>,
    turns: Mutex<Vec<BotTurn>>,
    during: Mutex<Option<(crate::Inbox, crate::Actor, ConversationId)>>,
}

impl Scripted {
    fn answering(answer: BotAnswer) -> Self {
        Self {
            answer: Ok(answer),
            turns: Mutex::new(Vec::new()),
            during: Mutex::new(None),
        }
    }
}

#[async_trait::async_trait]
impl Bot for Scripted {
    async fn turn(&self, turn: &BotTurn) -> std::result::Result<BotAnswer, BotError> {
        self.turns.lock().unwrap().push(turn.clone());
        let during = self.during.lock().unwrap().take();
        if let Some((inbox, actor, c)) = during {
            let v = inbox
                .ports()
                .store
                .conversation(&actor.tenant, &c)
                .await
                .unwrap()
                .version;
            inbox.claim(&actor, &c, v).await.unwrap();
        }
        self.answer.clone()
    }
}
