//! One routing decision with 100 rules and 50 agents.
//!
//! ```sh
//! cargo bench -p inbox-benches --bench routing
//! ```
//!
//! The conversation is opened by a text message; 99 rules do not match
//! (keywords, regular expressions, channels, contact tags and attributes,
//! business hours), the last routes to a 50-agent team and picks the least
//! loaded agent, with the explanation. A second case picks by round robin,
//! a third evaluates the rules without any match, a fourth is the last
//! rule alone (the cost of picking and explaining).

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use chrono::{TimeZone, Utc};
use criterion::{criterion_main, Criterion};
use std::hint::black_box;

use inbox_core::calendar::Calendar;
use inbox_core::model::{Agent, Contact, ContactIdentity, Content, Conversation, Presence, Role};
use inbox_core::routing::{Roster, Routing, RunInput, TriggerKind};
use inbox_core::*;

fn rules(strategy: &str, last_matches: bool) -> Routing {
    rules_n(strategy, last_matches, 99)
}

fn rules_n(strategy: &str, last_matches: bool, before: usize) -> Routing {
    let mut yaml = format!(
        "calendars:\n  office: {{ zone: Europe/Madrid, weekdays: [\"09:00-18:00\"] }}\nteams:\n  t49: {{ strategy: {strategy} }}\nrules:\n"
    );
    for i in 0..before {
        let when = match i % 6 {
            0 => format!("{{ text: {{ contains: [refund{i}, \"money back {i}\", reembolso{i}] }} }}"),
            1 => format!("{{ regex: {{ pattern: 'order #{i}\\d{{4}}' }} }}"),
            2 => format!("{{ channel: [line{i}, other{i}] }}"),
            3 => format!("{{ contact_tag: [tag{i}] }}"),
            4 => format!("{{ contact_attribute: {{ key: tier, one_of: [level{i}] }} }}"),
            _ => format!(
                "{{ all: [ {{ business_hours: {{ state: closed, calendar: office }} }}, {{ message_type: [image, video] }}, {{ priority_at_least: urgent }} ] }} # {i}"
            ),
        };
        yaml.push_str(&format!(
            "  - name: r{i}\n    on: [conversation_opened, message_received]\n    when: {when}\n    then: [ {{ route_to_team: t{} }}, {{ assign: {{}} }} ]\n",
            i % 49
        ));
    }
    let last = if last_matches {
        "{ channel: sales }"
    } else {
        "{ channel: nowhere }"
    };
    yaml.push_str(&format!(
        "  - name: default\n    when: {last}\n    then: [ {{ route_to_team: t49 }}, {{ set_priority: high }}, {{ assign: {{}} }} ]\n"
    ));
    Routing::from_yaml(&yaml).unwrap()
}

fn setup() -> (Conversation, Contact, Roster) {
    let t = TenantId::new("acme").unwrap();
    let now = Utc.with_ymd_and_hms(2026, 3, 2, 10, 0, 0).unwrap();
    let mut c = Conversation::new(
        t.clone(),
        ConversationId::new("c1").unwrap(),
        ChannelId::new("sales").unwrap(),
        ContactId::new("k1").unwrap(),
        now,
    );
    c.window_expires_at = Some(now + chrono::TimeDelta::hours(24));
    let contact = Contact {
        tenant: t.clone(),
        id: ContactId::new("k1").unwrap(),
        identity: ContactIdentity::wa("34600000001"),
        profile_name: Some("Marta".into()),
        username: None,
        marketing: None,
        app_name: None,
        app_name_at: None,
        display_name: None,
        tags: vec!["newsletter".into()],
        attributes: [("tier".to_string(), "silver".to_string())].into(),
        created_at: now,
        merged_into: None,
        version: 1,
    };
    let mut roster = Roster::default();
    for i in 0..50 {
        let mut a = Agent::new(
            t.clone(),
            AgentId::new(format!("agent{i:02}")).unwrap(),
            "A",
            Role::Agent,
        )
        .in_team(TeamId::new("t49").unwrap())
        .with_capacity(8);
        a.presence = if i % 5 == 0 {
            Presence::Away
        } else {
            Presence::Online
        };
        roster.loads.insert(a.id.clone(), (i * 7 % 8) as u32);
        roster.agents.push(a);
    }
    (c, contact, roster)
}

fn bench(c: &mut Criterion) {
    let (conv, contact, roster) = setup();
    let message = Content::text("Hola, quería saber el estado de mi pedido, gracias");
    let calendar = Calendar::always();
    let now = conv.created_at;
    let triggers = [
        TriggerKind::ConversationOpened,
        TriggerKind::MessageReceived,
    ];
    let input = RunInput {
        triggers: &triggers,
        contact: Some(&contact),
        message: Some(&message),
        now,
        calendar: &calendar,
        roster: Some(&roster),
    };
    let mut g = c.benchmark_group("routing");
    for (name, routing) in [
        (
            "100 rules, 50 agents, least loaded",
            rules("least_loaded", true),
        ),
        (
            "100 rules, 50 agents, round robin",
            rules("round_robin", true),
        ),
        ("100 rules, no match", rules("least_loaded", false)),
        (
            "1 rule, 50 agents, least loaded",
            rules_n("least_loaded", true, 0),
        ),
    ] {
        g.bench_function(name, |b| {
            b.iter_batched_ref(
                || conv.clone(),
                |c| black_box(routing.run(c, &input)),
                criterion::BatchSize::SmallInput,
            )
        });
    }
    g.finish();
}

/// Runs the benchmarks: what `criterion_group!(benches, bench)` writes, with
/// the doc comment criterion 0.7's macro leaves out.
pub fn benches() {
    bench(&mut Criterion::default().configure_from_args());
}

criterion_main!(benches);
