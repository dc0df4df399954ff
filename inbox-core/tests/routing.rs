#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The routing engine on its own: rules as data, conditions, strategies,
//! explanations, loop protection. Pure and deterministic.

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use inbox_core::calendar::Calendar;
use inbox_core::model::{
    Agent, Contact, ContactIdentity, Content, Conversation, Presence, Priority, Role,
};
use inbox_core::routing::{Effect, Roster, Routing, RunInput, RunOutcome, TriggerKind, Waiting};
use inbox_core::*;
use proptest::prelude::*;
use std::collections::BTreeMap;

fn t0() -> DateTime<Utc> {
    // Monday 2 March 2026, 09:00 UTC.
    Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap()
}

fn tenant() -> TenantId {
    TenantId::new("acme").unwrap()
}

fn conv(id: &str) -> Conversation {
    let mut c = Conversation::new(
        tenant(),
        ConversationId::new(id).unwrap(),
        ChannelId::new("sales-line").unwrap(),
        ContactId::new(format!("k-{id}")).unwrap(),
        t0(),
    );
    c.window_expires_at = Some(t0() + TimeDelta::hours(24));
    c.waiting_since = Some(t0());
    c.last_customer_message_at = Some(t0());
    c
}

fn contact(tags: &[&str]) -> Contact {
    Contact {
        tenant: tenant(),
        id: ContactId::new("k-1").unwrap(),
        identity: ContactIdentity {
            wa_id: Some("15550001".into()),
            user_id: None,
            parent_user_id: None,
        },
        profile_name: Some("Maria".into()),
        username: None,
        marketing: None,
        app_name: None,
        app_name_at: None,
        display_name: None,
        tags: tags.iter().map(|s| s.to_string()).collect(),
        attributes: BTreeMap::from([("tier".to_string(), "Gold".to_string())]),
        created_at: t0(),
        merged_into: None,
        version: 1,
    }
}

fn agent(id: &str, team: &str, cap: u32, presence: Presence) -> Agent {
    let mut a = Agent::new(tenant(), AgentId::new(id).unwrap(), id, Role::Agent)
        .in_team(TeamId::new(team).unwrap())
        .with_capacity(cap);
    a.presence = presence;
    a
}

fn roster(agents: Vec<Agent>, loads: &[(&str, u32)]) -> Roster {
    Roster {
        agents,
        loads: loads
            .iter()
            .map(|(a, n)| (AgentId::new(*a).unwrap(), *n))
            .collect(),
        ..Roster::default()
    }
}

/// One run of a rule set, built up: on `opened()` at `t0()` with no
/// contact, message or roster unless set.
struct Run<'a> {
    routing: &'a Routing,
    triggers: Vec<TriggerKind>,
    contact: Option<&'a Contact>,
    text: Option<&'a str>,
    roster: Option<&'a Roster>,
    now: DateTime<Utc>,
}

impl<'a> Run<'a> {
    fn of(routing: &'a Routing) -> Self {
        Run {
            routing,
            triggers: opened().to_vec(),
            contact: None,
            text: None,
            roster: None,
            now: t0(),
        }
    }

    fn on(self, triggers: &[TriggerKind]) -> Self {
        Run {
            triggers: triggers.to_vec(),
            ..self
        }
    }

    fn contact(self, contact: &'a Contact) -> Self {
        Run {
            contact: Some(contact),
            ..self
        }
    }

    fn text(self, text: &'a str) -> Self {
        Run {
            text: Some(text),
            ..self
        }
    }

    fn roster(self, roster: &'a Roster) -> Self {
        Run {
            roster: Some(roster),
            ..self
        }
    }

    fn at(self, now: DateTime<Utc>) -> Self {
        Run { now, ..self }
    }

    /// Runs the rules on `c`.
    fn go(self, c: &mut Conversation) -> RunOutcome {
        let content = self.text.map(Content::text);
        self.routing.run(
            c,
            &RunInput {
                triggers: &self.triggers,
                contact: self.contact,
                message: content.as_ref(),
                now: self.now,
                calendar: &Calendar::always(),
                roster: self.roster,
            },
        )
    }
}

fn opened() -> [TriggerKind; 2] {
    [
        TriggerKind::ConversationOpened,
        TriggerKind::MessageReceived,
    ]
}

fn reasons(out: &RunOutcome) -> Vec<String> {
    out.effects
        .iter()
        .filter_map(|e| match e {
            Effect::Event {
                kind: EventKind::Assigned { reason, .. },
                ..
            } => Some(reason.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn assignment_explains_itself() {
    let routing = Routing::from_yaml(
        r#"
teams:
  sales: { strategy: least_loaded }
rules:
  - name: vip
    when: { contact_tag: VIP }
    then:
      - route_to_team: sales
      - set_priority: high
      - assign: {}
"#,
    )
    .unwrap();
    let r = roster(
        vec![
            agent("ana", "sales", 5, Presence::Online),
            agent("ben", "sales", 5, Presence::Online),
            agent("cy", "sales", 5, Presence::Offline),
        ],
        &[("ana", 2), ("ben", 3)],
    );
    let mut c = conv("c1");
    let k = contact(&["vip"]);
    let out = Run::of(&routing)
        .contact(&k)
        .text("hola")
        .roster(&r)
        .go(&mut c);
    assert_eq!(out.fired, ["vip"]);
    assert_eq!(c.assignee.as_ref().unwrap().as_str(), "ana");
    assert_eq!(c.team.as_ref().unwrap().as_str(), "sales");
    assert_eq!(c.priority, Priority::High);
    assert_eq!(
        reasons(&out),
        ["rule \"vip\" → team sales → least loaded: ana 2/5 (ben 3/5, cy offline)"]
    );
    // The rule's own event lists what it did.
    let Effect::Event {
        kind: EventKind::RuleFired {
            trigger, outcome, ..
        },
        ..
    } = &out.effects[0]
    else {
        panic!("{:?}", out.effects[0]);
    };
    assert_eq!(trigger, "conversation_opened");
    assert_eq!(outcome.len(), 3, "{outcome:?}");

    // Not VIP: nothing happens.
    let mut c = conv("c2");
    let out = Run::of(&routing)
        .contact(&contact(&[]))
        .text("hola")
        .roster(&r)
        .go(&mut c);
    assert!(out.is_empty());
    assert!(c.assignee.is_none());
}

#[test]
fn a_run_that_assigns_asks_for_the_roster_first() {
    let routing =
        Routing::from_yaml("rules:\n  - name: all\n    then: [ { assign: { team: sales, strategy: least_loaded } } ]\n")
            .unwrap();
    let mut c = conv("c1");
    let before = c.clone();
    let out = Run::of(&routing).go(&mut c);
    assert!(out.needs_roster);
    assert_eq!(c.assignee, before.assignee);
}

#[test]
fn errors_name_the_rule_and_the_field() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "rules:\n  - name: vip\n    then: [ { assign: { strategy: fastest } } ]\n",
            "rule \"vip\"",
            "then[0].assign.strategy",
        ),
        (
            "rules:\n  - name: vip\n    when: { contact_tagz: vip }\n    then: []\n",
            "rule \"vip\"",
            "when",
        ),
        (
            "rules:\n  - name: words\n    when: { regex: { pattern: 'refund(' } }\n    then: []\n",
            "rule \"words\"",
            "when.regex.pattern",
        ),
        (
            "rules:\n  - name: a\n    then: []\n  - name: a\n    then: []\n",
            "rule \"a\"",
            "name",
        ),
        (
            "rules:\n  - name: hours\n    when: { all: [ { business_hours: { state: open, calendar: night } } ] }\n    then: []\n",
            "rule \"hours\"",
            "when.all[0].business_hours.calendar",
        ),
        (
            "rules:\n  - name: types\n    when: { message_type: [text, hologram] }\n    then: []\n",
            "rule \"types\"",
            "when.message_type",
        ),
        (
            "rules:\n  - name: ack\n    then: [ { auto_reply: {} } ]\n",
            "rule \"ack\"",
            "then[0].auto_reply",
        ),
        (
            "rules:\n  - name: wait\n    on: [ { no_agent_reply: { after: soon } } ]\n    then: []\n",
            "rule \"wait\"",
            "on[0]",
        ),
        (
            "teams:\n  sales: { strategy: sticky, fallback: sticky }\n",
            "teams.sales.fallback",
            "",
        ),
        ("rules: [ { name: x, then: [] ", "(document)", "line"),
    ];
    for (text, a, b) in cases {
        let err = Routing::from_yaml(text).unwrap_err();
        assert_eq!(err.code(), "invalid_rules");
        let msg = err.to_string();
        assert!(msg.contains(a) && msg.contains(b), "{text:?} gave {msg}");
    }
    // JSON errors carry the line.
    let err = Routing::from_json(
        "{\n \"rules\": [\n  {\"name\": \"x\", \"then\": [{\"set_priority\": \"extreme\"}]}\n ]\n}",
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("rule \"x\"")
            && err.contains("then[0].set_priority")
            && err.contains("line 3"),
        "{err}"
    );
}

#[test]
fn rule_order_stop_and_continue() {
    let yaml = |first_continues: bool| {
        format!(
            r#"
rules:
  - name: first
    on: [message_received]
    continue: {first_continues}
    then: [ {{ add_tags: first }} ]
  - name: second
    on: [message_received]
    then: [ {{ add_tags: second }} ]
  - name: third
    on: [message_received]
    then: [ {{ add_tags: third }} ]
"#
        )
    };
    // When `first` continues, `second` runs; it does not continue, so
    // `third` does not run.
    let expected: [(bool, &[&str]); 2] = [(false, &["first"]), (true, &["first", "second"])];
    for (first_continues, fired) in expected {
        let routing = Routing::from_yaml(&yaml(first_continues)).unwrap();
        let mut c = conv("c1");
        let out = Run::of(&routing)
            .on(&[TriggerKind::MessageReceived])
            .text("x")
            .go(&mut c);
        assert_eq!(out.fired, fired, "continue: {first_continues}");
        assert_eq!(c.tags, fired, "continue: {first_continues}");
    }
}

#[test]
fn stopping_is_per_trigger() {
    let routing = Routing::from_yaml(
        r#"
rules:
  - name: route
    on: [conversation_opened]
    then: [ { route_to_team: support } ]
  - name: urgent
    on: [message_received]
    when: { text: { contains: [urgent, urgente] } }
    then: [ { set_priority: urgent } ]
"#,
    )
    .unwrap();
    let mut c = conv("c1");
    let out = Run::of(&routing).text("Es URGENTE").go(&mut c);
    assert_eq!(out.fired, ["route", "urgent"]);
    assert_eq!(c.priority, Priority::Urgent);
}

#[test]
fn text_conditions_fold_case_and_accents_and_respect_words() {
    let routing = Routing::from_yaml(
        r#"
rules:
  - name: refund
    on: [message_received]
    when: { text: { contains: [reembolso, "money back"] } }
    then: [ { add_tags: refund } ]
  - name: order number
    on: [message_received]
    continue: true
    when: { regex: { pattern: '#\d{5}\b' } }
    then: [ { add_tags: has-order } ]
"#,
    )
    .unwrap();
    let check = |text: &str, want: &[&str]| {
        let mut c = conv("c1");
        Run::of(&routing)
            .on(&[TriggerKind::MessageReceived])
            .text(text)
            .go(&mut c);
        assert_eq!(c.tags, want, "{text:?}");
    };
    check("Quiero un REEMBOLSÓ por favor", &["refund"]);
    check("I want my Money Back.", &["refund"]);
    check("reembolsos", &[]);
    check("order #12345 (SELECT * FROM x; .*)", &["has-order"]);
    check("order #1234", &[]);
}

#[test]
fn conditions_on_contact_customer_hours_and_time() {
    let routing = Routing::from_yaml(
        r#"
calendars:
  office: { zone: Europe/Madrid, weekdays: ["09:00-18:00"] }
business_hours: office
rules:
  - name: gold after hours
    when:
      all:
        - contact_attribute: { key: tier, one_of: [gold, platinum] }
        - business_hours: closed
        - customer: new
        - not: { assigned: true }
        - since_agent_reply: { more_than: 1m }
    then: [ { add_tags: gold-night } ]
"#,
    )
    .unwrap();
    let k = contact(&[]);
    // 09:00 UTC is 10:00 in Madrid: open.
    let mut c = conv("c1");
    Run::of(&routing)
        .contact(&k)
        .at(t0() + TimeDelta::minutes(5))
        .go(&mut c);
    assert!(c.tags.is_empty());
    // 20:00 UTC is 21:00 in Madrid: closed.
    let night = t0() + TimeDelta::hours(11);
    let mut c = conv("c1");
    Run::of(&routing).contact(&k).at(night).go(&mut c);
    assert_eq!(c.tags, ["gold-night"]);
    // A returning customer (contact older than the conversation) does not match.
    let mut old = k.clone();
    old.created_at = t0() - TimeDelta::days(30);
    let mut c = conv("c1");
    Run::of(&routing).contact(&old).at(night).go(&mut c);
    assert!(c.tags.is_empty());
}

#[test]
fn cascades_follow_effects_but_each_rule_fires_once() {
    // Two rules that would feed each other forever.
    let routing = Routing::from_yaml(
        r#"
rules:
  - name: ping
    on: [tag_added]
    continue: true
    then: [ { add_tags: ping }, { remove_tags: pong } ]
  - name: pong
    on: [tag_added]
    then: [ { add_tags: pong }, { remove_tags: ping } ]
"#,
    )
    .unwrap();
    let mut c = conv("c1");
    let out = Run::of(&routing).on(&[TriggerKind::TagAdded]).go(&mut c);
    assert_eq!(out.fired, ["ping", "pong"]);
    assert_eq!(c.tags, ["pong"]);
}

#[test]
fn the_cascade_limit_stops_long_chains_and_says_so() {
    // r1 adds a, which triggers r2, which adds b ... six links, limit 4.
    let mut yaml = String::from("max_cascade: 4\nrules:\n");
    for i in 1..=6 {
        yaml.push_str(&format!(
            "  - name: r{i}\n    on: [tag_added]\n    when: {{ not: {{ tag: t{i} }} }}\n    then: [ {{ add_tags: t{i} }} ]\n"
        ));
    }
    let routing = Routing::from_yaml(&yaml).unwrap();
    let mut c = conv("c1");
    let out = Run::of(&routing).on(&[TriggerKind::TagAdded]).go(&mut c);
    assert_eq!(out.fired, ["r1", "r2", "r3", "r4"]);
    let stopped = out.effects.iter().find_map(|e| match e {
        Effect::Event {
            kind: EventKind::AutomationStopped {
                rounds, dropped, ..
            },
            ..
        } => Some((*rounds, dropped.clone())),
        _ => None,
    });
    assert_eq!(stopped, Some((4, vec!["tag_added".to_string()])));
}

#[test]
fn cooldown_sends_the_acknowledgement_once_per_period() {
    let routing = Routing::from_yaml(
        r#"
rules:
  - name: ack
    on: [message_received]
    cooldown: 12h
    then: [ { auto_reply: { text: "Thanks! An agent will answer soon." } } ]
"#,
    )
    .unwrap();
    let mut c = conv("c1");
    let replies = |out: &RunOutcome| {
        out.effects
            .iter()
            .filter(|e| matches!(e, Effect::Reply { .. }))
            .count()
    };
    let t = [TriggerKind::MessageReceived];
    let replies_at = |c: &mut Conversation, hours: i64| {
        let at = t0() + TimeDelta::hours(hours);
        replies(&Run::of(&routing).on(&t).text("hi").at(at).go(c))
    };
    assert_eq!(replies_at(&mut c, 0), 1);
    assert_eq!(replies_at(&mut c, 1), 0);
    c.window_expires_at = Some(t0() + TimeDelta::hours(36));
    assert_eq!(replies_at(&mut c, 13), 1);
}

#[test]
fn auto_reply_uses_the_template_when_the_window_is_closed() {
    let routing = Routing::from_yaml(
        r#"
rules:
  - name: back
    on: [status_changed]
    then:
      - auto_reply:
          text: "We are back!"
          template: { name: back_online, language: en, params: [Maria] }
"#,
    )
    .unwrap();
    let mut c = conv("c1");
    c.window_expires_at = Some(t0() - TimeDelta::hours(1));
    let out = Run::of(&routing)
        .on(&[TriggerKind::StatusChanged])
        .go(&mut c);
    let content = out.effects.iter().find_map(|e| match e {
        Effect::Reply { content, .. } => Some(content.clone()),
        _ => None,
    });
    assert!(
        matches!(content, Some(Content::Template { ref name, .. }) if name == "back_online"),
        "{content:?}"
    );
}

#[test]
fn time_triggers_fire_once_per_wait() {
    let routing = Routing::from_yaml(
        r#"
rules:
  - name: nudge
    on: [ { no_agent_reply: { after: 15m } } ]
    then: [ { set_priority: high }, { note: "Waiting 15 minutes" } ]
"#,
    )
    .unwrap();
    let mut c = conv("c1");
    assert_eq!(routing.next_due(&c), Some(t0() + TimeDelta::minutes(15)));
    let timer = [TriggerKind::Timer];
    let fired_at = |c: &mut Conversation, minutes: i64| {
        let at = t0() + TimeDelta::minutes(minutes);
        Run::of(&routing).on(&timer).at(at).go(c).fired
    };
    assert!(fired_at(&mut c, 10).is_empty());
    assert_eq!(fired_at(&mut c, 15), ["nudge"]);
    assert_eq!(c.automation_due, None, "fired for this wait");
    assert!(fired_at(&mut c, 40).is_empty());
    // A new wait (the agent answered, the customer wrote again) re-arms it.
    c.waiting_since = Some(t0() + TimeDelta::hours(1));
    assert_eq!(routing.next_due(&c), Some(t0() + TimeDelta::minutes(75)));
}

fn names(agents: &[&str]) -> Vec<Agent> {
    agents
        .iter()
        .map(|a| agent(a, "sales", 0, Presence::Online))
        .collect()
}

#[test]
fn round_robin_is_fair_and_skips_the_unavailable() {
    let routing = Routing::from_yaml(
        "teams:\n  sales: { strategy: round_robin }\nrules:\n  - name: all\n    then: [ { route_to_team: sales }, { assign: {} } ]\n",
    )
    .unwrap();
    let mut r = roster(names(&["a1", "a2", "a3", "a4", "a5", "a6", "a7"]), &[]);
    r.agents[2].presence = Presence::Away;
    let mut counts: BTreeMap<String, u32> = BTreeMap::new();
    for i in 0..600 {
        let mut c = conv(&format!("c{i}"));
        let out = Run::of(&routing).roster(&r).go(&mut c);
        for cur in out.cursors {
            r.cursors.insert(cur.team.clone(), cur);
        }
        *counts.entry(c.assignee.unwrap().to_string()).or_default() += 1;
    }
    assert!(!counts.contains_key("a3"));
    assert_eq!(counts.values().copied().collect::<Vec<_>>(), [100; 6]);
}

#[test]
fn sticky_prefers_the_last_agent_and_explains_the_fallback() {
    let routing = Routing::from_yaml(
        "teams:\n  sales: { strategy: sticky, fallback: least_loaded }\nrules:\n  - name: all\n    then: [ { route_to_team: sales }, { assign: {} } ]\n",
    )
    .unwrap();
    let mut r = roster(
        vec![
            agent("ana", "sales", 5, Presence::Online),
            agent("ben", "sales", 5, Presence::Online),
        ],
        &[("ana", 1), ("ben", 4)],
    );
    r.last_agent = Some(AgentId::new("ben").unwrap());
    let (who, why) = assign(&routing, &r, "c1");
    assert_eq!(who.as_deref(), Some("ben"));
    let sticky = "sticky: ben served this contact before (ben 4/5)";
    assert!(why[0].ends_with(sticky), "{why:?}");

    r.agents[1].presence = Presence::Offline;
    let (who, why) = assign(&routing, &r, "c2");
    assert_eq!(who.as_deref(), Some("ana"));
    let fallback = "sticky: ben offline → least loaded: ana 1/5";
    assert!(why[0].contains(fallback), "{why:?}");
}

/// Runs `routing` with roster `r` on a new conversation `id`; returns its
/// assignee and the reasons given.
fn assign(routing: &Routing, r: &Roster, id: &str) -> (Option<String>, Vec<String>) {
    let mut c = conv(id);
    let out = Run::of(routing).roster(r).go(&mut c);
    (c.assignee.map(|a| a.to_string()), reasons(&out))
}

#[test]
fn an_assignment_never_jumps_a_queue_that_drains() {
    let routing = Routing::from_yaml(
        "teams:\n  sales: { strategy: round_robin }\nrules:\n  - name: all\n    then: [ { route_to_team: sales }, { assign: {} } ]\n",
    )
    .unwrap();
    let mut r = roster(names(&["ana", "ben"]), &[]);
    let sales = TeamId::new("sales").unwrap();
    // Queues tracked but this one not looked at yet: the run asks for it.
    r.queues = Some(BTreeMap::new());
    let mut c = conv("c5");
    let out = Run::of(&routing).roster(&r).go(&mut c);
    assert_eq!(out.needs_queue.as_ref(), Some(&sales));
    assert!(out.effects.is_empty() && out.cursors.is_empty());

    // Someone waited since 08:46: the newcomer queues behind them, and the
    // round-robin position does not move.
    let mut older = conv("c1");
    older.waiting_since = Some(t0() - TimeDelta::minutes(14));
    r.queues = Some(BTreeMap::from([(sales.clone(), vec![Waiting::of(&older)])]));
    let mut c = conv("c5");
    let out = Run::of(&routing).roster(&r).go(&mut c);
    assert_eq!(c.assignee, None);
    assert_eq!(c.team.as_ref(), Some(&sales));
    assert!(out.cursors.is_empty(), "{:?}", out.cursors);
    assert!(out.no_room.is_empty());
    assert_eq!(
        reasons(&out),
        ["rule \"all\" → team sales → round robin: ana 0/∞ (first; ben 0/∞) → queued behind a conversation waiting 14 min"]
    );

    // The queue's first is this very conversation, or waited less: assign.
    let mut later = conv("c9");
    later.waiting_since = Some(t0() + TimeDelta::minutes(1));
    for (first, mut c) in [(&older, older.clone()), (&later, conv("c5"))] {
        r.queues = Some(BTreeMap::from([(sales.clone(), vec![Waiting::of(first)])]));
        Run::of(&routing).roster(&r).go(&mut c);
        assert_eq!(
            c.assignee.as_ref().map(AgentId::as_str),
            Some("ana"),
            "{}",
            c.id
        );
    }

    // Nobody available: the team is reported, no queue is needed.
    for a in &mut r.agents {
        a.presence = Presence::Away;
    }
    r.queues = Some(BTreeMap::new());
    let mut c = conv("c6");
    let out = Run::of(&routing).roster(&r).go(&mut c);
    assert_eq!(out.needs_queue, None);
    assert_eq!(out.no_room, std::slice::from_ref(&sales));

    // A manual team's queue waits for claims: a rule that assigns with a
    // strategy of its own does not look at it.
    let manual = Routing::from_yaml(
        "rules:\n  - name: all\n    then: [ { route_to_team: sales }, { assign: { strategy: least_loaded } } ]\n",
    )
    .unwrap();
    let r = Roster {
        queues: Some(BTreeMap::new()),
        ..roster(names(&["ana"]), &[])
    };
    let mut c = conv("c7");
    let out = Run::of(&manual).roster(&r).go(&mut c);
    assert_eq!(out.needs_queue, None);
    assert_eq!(c.assignee.as_ref().map(AgentId::as_str), Some("ana"));
}

#[test]
fn queue_helpers_say_who_drains_and_who_has_room() {
    let routing = Routing::from_yaml(
        "teams:\n  sales: { strategy: least_loaded }\n  bots: { strategy: manual }\nrules: []\n",
    )
    .unwrap();
    let sales = TeamId::new("sales").unwrap();
    let support = TeamId::new("support").unwrap();
    assert!(routing.drains(&sales));
    assert!(!routing.drains(&TeamId::new("bots").unwrap()));
    assert!(!routing.drains(&support));
    assert!(routing.has_queue_teams());
    assert_eq!(routing.queue_teams(), std::slice::from_ref(&sales));
    let r = roster(
        vec![
            agent("ana", "sales", 1, Presence::Online),
            agent("ben", "sales", 2, Presence::Away),
        ],
        &[("ana", 1)],
    );
    assert!(!routing.has_room(&sales, &r, t0()));
    let r = roster(r.agents.clone(), &[]);
    assert!(routing.has_room(&sales, &r, t0()));
    assert!(!routing.has_room(&support, &r, t0()));
}

#[test]
fn skills_pick_agents_who_have_them() {
    let routing = Routing::from_yaml(
        r#"
teams:
  support: { strategy: skills }
rules:
  - name: all
    then: [ { route_to_team: support }, { assign: {} } ]
"#,
    )
    .unwrap();
    let mut r = roster(
        vec![
            agent("ana", "support", 0, Presence::Online),
            agent("ben", "support", 0, Presence::Online).with_skills(["german", "billing"]),
        ],
        &[("ben", 7)],
    );
    let mut c = conv("c1");
    c.tags = vec!["german".into()];
    Run::of(&routing).roster(&r).go(&mut c);
    assert_eq!(c.assignee.as_ref().unwrap().as_str(), "ben");
    // Nobody with the skill available: least loaded fallback.
    r.agents[1].presence = Presence::Away;
    let mut c = conv("c2");
    c.tags = vec!["german".into()];
    Run::of(&routing).roster(&r).go(&mut c);
    assert_eq!(c.assignee.as_ref().unwrap().as_str(), "ana");
}

#[test]
fn shifts_come_from_named_calendars() {
    let routing = Routing::from_yaml(
        r#"
calendars:
  early: { zone: UTC, weekdays: ["06:00-14:00"] }
  late: { zone: UTC, weekdays: ["14:00-22:00"] }
teams:
  sales: { strategy: least_loaded }
rules:
  - name: all
    then: [ { route_to_team: sales }, { assign: {} } ]
"#,
    )
    .unwrap();
    let mut early = agent("ana", "sales", 0, Presence::Online);
    early.shift = Some("early".into());
    let mut late = agent("ben", "sales", 0, Presence::Online);
    late.shift = Some("late".into());
    let r = roster(vec![early, late], &[]);
    let mut c = conv("c1");
    Run::of(&routing).roster(&r).go(&mut c);
    assert_eq!(c.assignee.as_ref().unwrap().as_str(), "ana");
    let mut c = conv("c2");
    let out = Run::of(&routing)
        .roster(&r)
        .at(t0() + TimeDelta::hours(7))
        .go(&mut c);
    assert_eq!(c.assignee.as_ref().unwrap().as_str(), "ben");
    assert!(
        reasons(&out)[0].contains("ana off shift"),
        "{:?}",
        reasons(&out)
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Automatic assignment never exceeds capacity and never picks an agent
    /// who is away, offline, inactive or off shift, whatever the strategy.
    #[test]
    fn automatic_assignment_respects_availability_and_capacity(
        agents in proptest::collection::vec((0u8..3, 0u32..4, 0u32..5, any::<bool>(), any::<bool>(), any::<bool>()), 1..8),
        strategy in 0usize..4,
        conversations in 1usize..40,
        hour in 0i64..24,
    ) {
        let strategy = ["round_robin", "least_loaded", "sticky", "skills"][strategy];
        let routing = Routing::from_yaml(&format!(
            "calendars:\n  day: {{ zone: UTC, weekdays: [\"08:00-16:00\"] }}\nteams:\n  sales: {{ strategy: {strategy} }}\nrules:\n  - name: all\n    then: [ {{ route_to_team: sales }}, {{ assign: {{}} }} ]\n"
        )).unwrap();
        let mut list = Vec::new();
        let mut loads = BTreeMap::new();
        for (i, (presence, cap, load, active, shifted, skilled)) in agents.iter().enumerate() {
            let presence = [Presence::Online, Presence::Away, Presence::Offline][*presence as usize];
            let mut a = agent(&format!("a{i}"), "sales", *cap, presence);
            a.active = *active;
            if *shifted { a.shift = Some("day".into()); }
            if *skilled { a.skills = vec!["vip".into()]; }
            loads.insert(a.id.clone(), *load);
            list.push(a);
        }
        let mut r = Roster { agents: list.clone(), loads, last_agent: Some(AgentId::new("a0").unwrap()), cursors: BTreeMap::new(), queues: None };
        let now = t0() + TimeDelta::hours(hour);
        for i in 0..conversations {
            let mut c = conv(&format!("c{i}"));
            c.tags = vec!["vip".into()];
            let out = Run::of(&routing).roster(&r).at(now).go(&mut c);
            for cur in out.cursors { r.cursors.insert(cur.team.clone(), cur); }
            if let Some(who) = &c.assignee {
                let a = list.iter().find(|a| &a.id == who).unwrap();
                let load = r.loads.get(who).copied().unwrap_or(0);
                prop_assert!(a.active && a.presence == Presence::Online);
                prop_assert!(a.capacity == 0 || load < a.capacity, "{who} at {load}/{}", a.capacity);
                if a.shift.is_some() {
                    let h = (9 + hour) % 24;
                    prop_assert!((8..16).contains(&h), "{who} off shift at {h}:00");
                }
                *r.loads.entry(who.clone()).or_default() += 1;
            }
        }
    }

    /// Whatever rules feed each other, a run ends, and no rule fires twice.
    #[test]
    fn automation_always_terminates(
        links in proptest::collection::vec((0usize..5, 0usize..5, any::<bool>()), 1..12),
        max in 1u32..8,
    ) {
        let mut yaml = format!("max_cascade: {max}\nrules:\n");
        for (i, (add, remove, cont)) in links.iter().enumerate() {
            yaml.push_str(&format!(
                "  - name: r{i}\n    on: [tag_added, status_changed]\n    continue: {cont}\n    then: [ {{ add_tags: t{add} }}, {{ remove_tags: t{remove} }}, {{ set_status: pending }}, {{ set_status: open }} ]\n"
            ));
        }
        let routing = Routing::from_yaml(&yaml).unwrap();
        let mut c = conv("c1");
        let out = Run::of(&routing).on(&[TriggerKind::TagAdded]).go(&mut c);
        let mut seen = std::collections::BTreeSet::new();
        for f in &out.fired {
            prop_assert!(seen.insert(f.clone()), "{f} fired twice");
        }
        prop_assert!(out.fired.len() <= links.len());
    }
}
