//! Conformance tests for what routing needs from a store: agent loads, the
//! contact's last owner, round-robin cursors kept across restarts and
//! races, and the rules running inside ingest, actions and ticks.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::TimeDelta;
use futures_util::future::join_all;
use std::collections::BTreeMap;
use std::sync::Arc;

use super::{id, Fixture};
use crate::error::Error;
use crate::event::{EventActor, EventKind};
use crate::ids::*;
use crate::inbox::{Assignee, InboxConfig};
use crate::model::{Agent, ConversationStatus, Presence};
use crate::ports::*;
use crate::routing::{Routing, RoutingCursor};

async fn fixture<S: Store + AsDynStore + ?Sized>(store: Arc<S>) -> Fixture {
    Fixture::new(store.as_dyn()).await.unwrap()
}

/// Puts every sales agent online with unlimited capacity (ana, ben, sam).
async fn sales_online(f: &Fixture) {
    for a in ["ana", "ben", "sam"] {
        let mut agent = f.store.agent(&f.acme(), &id(a)).await.unwrap();
        agent.capacity = 0;
        f.inbox.provision_agent(&agent).await.unwrap();
        f.inbox
            .set_presence(&f.actor(a), Presence::Online)
            .await
            .unwrap();
    }
}

fn round_robin() -> Routing {
    Routing::from_yaml(
        "teams:\n  sales: { strategy: round_robin }\nrules:\n  - name: sales line\n    when: { channel: sales }\n    then: [ { route_to_team: sales }, { assign: {} } ]\n",
    )
    .unwrap()
}

/// Agent loads count active assigned conversations per agent; the last
/// assignee of a contact is the owner of their most recently active
/// conversation that had one; round-robin cursors are compare-and-set,
/// per tenant.
pub async fn routing_state_is_stored<S: Store + AsDynStore + ?Sized>(store: Arc<S>) {
    let f = fixture(store).await;
    let acme = f.acme();
    let (c1, _) = f
        .customer_says("1001", "w1", "3460001", "hi")
        .await
        .unwrap();
    let (c2, _) = f
        .customer_says("1002", "w2", "3460001", "hi again")
        .await
        .unwrap();
    let (c3, _) = f
        .customer_says("1001", "w3", "3460002", "hello")
        .await
        .unwrap();
    let sam = f.actor("sam");
    for (c, who) in [(&c1, "ana"), (&c2, "ben"), (&c3, "ana")] {
        let v = f.version(c).await.unwrap();
        f.inbox
            .assign(&sam, c, v, Assignee::Agent(id(who)), "test")
            .await
            .unwrap();
    }
    let v = f.version(&c3).await.unwrap();
    f.inbox
        .set_status(&f.actor("ana"), &c3, v, ConversationStatus::Resolved)
        .await
        .unwrap();
    let loads = f.store.agent_loads(&acme).await.unwrap();
    assert_eq!(loads.get(&id::<AgentId>("ana")), Some(&1));
    assert_eq!(loads.get(&id::<AgentId>("ben")), Some(&1));
    assert_eq!(loads.get(&id::<AgentId>("cy")).copied().unwrap_or(0), 0);
    assert!(f.store.agent_loads(&id("globex")).await.unwrap().is_empty());

    // The contact of c1 and c2: c2 (ben) is the most recent.
    let k = f.store.conversation(&acme, &c2).await.unwrap().contact;
    f.advance(TimeDelta::minutes(5));
    assert_eq!(
        f.store.last_assignee(&acme, &k).await.unwrap(),
        Some(id("ben"))
    );
    // A note on c1 makes it the most recently active.
    let v = f.version(&c1).await.unwrap();
    f.inbox
        .note(&f.actor("ana"), &c1, v, "following up", "n1")
        .await
        .unwrap();
    assert_eq!(
        f.store.last_assignee(&acme, &k).await.unwrap(),
        Some(id("ana"))
    );
    // Resolved conversations count too.
    let k3 = f.store.conversation(&acme, &c3).await.unwrap().contact;
    assert_eq!(
        f.store.last_assignee(&acme, &k3).await.unwrap(),
        Some(id("ana"))
    );
    assert_eq!(
        f.store.last_assignee(&id("globex"), &k3).await.unwrap(),
        None
    );

    // Cursors: insert at 1, then only from the stored version.
    let cursor = |last: &str, version| RoutingCursor {
        team: id("sales"),
        last: Some(id(last)),
        version,
    };
    let commit = |c: RoutingCursor, tenant: &str| {
        f.store.commit(Changeset {
            cursors: vec![c],
            ..Changeset::new(id(tenant))
        })
    };
    commit(cursor("ana", 1), "acme").await.unwrap();
    let err = commit(cursor("ben", 1), "acme").await.unwrap_err();
    assert!(matches!(err, Error::Conflict(_)), "{err:?}");
    let err = commit(cursor("ben", 3), "acme").await.unwrap_err();
    assert!(matches!(err, Error::Conflict(_)), "{err:?}");
    commit(cursor("ben", 2), "acme").await.unwrap();
    assert_eq!(
        f.store.routing_cursors(&acme).await.unwrap(),
        vec![cursor("ben", 2)]
    );
    // Another tenant has its own.
    assert!(f
        .store
        .routing_cursors(&id("globex"))
        .await
        .unwrap()
        .is_empty());
    commit(cursor("gus", 1), "globex").await.unwrap();
    assert_eq!(f.store.routing_cursors(&acme).await.unwrap()[0].version, 2);
}

/// Round robin through real ingests: fair when customers write at once
/// (cursor races are retried), and it resumes where it stopped after a
/// restart (a new `Inbox` on the same store).
pub async fn round_robin_is_fair_under_races_and_survives_restarts<
    S: Store + AsDynStore + ?Sized,
>(
    store: Arc<S>,
) {
    let store = store.as_dyn();
    let f = Fixture::new(store.clone()).await.unwrap();
    f.inbox.set_routing(&f.acme(), round_robin());
    sales_online(&f).await;
    let ingests = (0..12).map(|i| {
        let event = f.text("1001", &format!("w{i}"), &format!("34611{i:04}"), "hello");
        f.inbox.ingest(event)
    });
    for r in join_all(ingests).await {
        r.unwrap();
    }
    let loads = f.store.agent_loads(&f.acme()).await.unwrap();
    let counts: Vec<u32> = ["ana", "ben", "sam"]
        .iter()
        .map(|a| loads.get(&id::<AgentId>(a)).copied().unwrap_or(0))
        .collect();
    assert_eq!(counts, [4, 4, 4], "{loads:?}");
    let cursor = f.store.routing_cursors(&f.acme()).await.unwrap();
    assert_eq!(cursor.len(), 1);
    let last = cursor[0].last.clone().unwrap();

    // "Restart": another Inbox over the same store picks the next agent.
    let again = Fixture::instance(store, InboxConfig::default(), "r2");
    again.inbox.set_routing(&f.acme(), round_robin());
    let (c, _) = again
        .customer_says("1001", "x1", "34699999999", "hello")
        .await
        .unwrap();
    let owner = again
        .store
        .conversation(&f.acme(), &c)
        .await
        .unwrap()
        .assignee
        .unwrap();
    let order = ["ana", "ben", "sam"];
    let expected = order[(order.iter().position(|a| *a == last.as_str()).unwrap() + 1) % 3];
    assert_eq!(owner.as_str(), expected);
}

/// Rules run inside ingest: the conversation is routed, prioritised and
/// acknowledged in the same commit as the message, and its history says
/// why it went where it did.
pub async fn ingest_routes_with_an_explanation<S: Store + AsDynStore + ?Sized>(store: Arc<S>) {
    let f = fixture(store).await;
    f.inbox.set_routing(
        &f.acme(),
        Routing::from_yaml(
            r#"
teams:
  sales: { strategy: least_loaded }
rules:
  - name: vip
    when: { text: { contains: [vip] } }
    then:
      - route_to_team: sales
      - set_priority: high
      - assign: {}
      - note: "VIP customer: answer within the hour"
  - name: everyone else
    then: [ { route_to_team: support } ]
  - name: ack
    on: [message_received]
    when: { channel: sales }
    cooldown: 1h
    then: [ { auto_reply: { text: "Thanks, we got your message." } } ]
"#,
        )
        .unwrap(),
    );
    sales_online(&f).await;
    let sam = f.actor("sam");
    // ben already has two open conversations.
    for i in 0..2 {
        let (c, _) = f
            .customer_says("1002", &format!("b{i}"), &format!("3462{i}"), "help")
            .await
            .unwrap();
        let v = f.version(&c).await.unwrap();
        f.inbox
            .assign(&sam, &c, v, Assignee::Agent(id("ben")), "test")
            .await
            .unwrap();
    }
    // ... and sam one.
    let (c, _) = f
        .customer_says("1002", "s0", "34630", "help")
        .await
        .unwrap();
    let v = f.version(&c).await.unwrap();
    f.inbox
        .assign(&sam, &c, v, Assignee::Agent(id("sam")), "test")
        .await
        .unwrap();

    let (c, _) = f
        .customer_says("1001", "v1", "34650000", "I am a VIP, help")
        .await
        .unwrap();
    let conv = f.store.conversation(&f.acme(), &c).await.unwrap();
    assert_eq!(conv.assignee, Some(id("ana")));
    assert_eq!(conv.team, Some(id("sales")));
    assert_eq!(conv.priority, crate::model::Priority::High);
    assert_eq!(conv.version, 1, "one commit");
    let events = f.store.conversation_events(&f.acme(), &c, 0).await.unwrap();
    let reason = events
        .iter()
        .find_map(|e| match (&e.actor, &e.kind) {
            (EventActor::Automation(rule), EventKind::Assigned { reason, .. }) if rule == "vip" => {
                Some(reason.clone())
            }
            _ => None,
        })
        .expect("an assignment by the rule");
    assert_eq!(
        reason,
        "rule \"vip\" → team sales → least loaded: ana 0/∞ (ben 2/∞, sam 1/∞)"
    );
    let messages = f.store.messages(&f.acme(), &c).await.unwrap();
    let kinds: Vec<_> = messages.iter().map(|m| m.direction).collect();
    use crate::model::Direction::*;
    assert_eq!(kinds, [Inbound, Note, Outbound], "{messages:#?}");
    // The acknowledgement goes out through the outbox, once per hour.
    f.inbox.dispatch(10).await.unwrap();
    f.customer_says("1001", "v2", "34650000", "hello?")
        .await
        .unwrap();
    f.inbox.dispatch(10).await.unwrap();
    assert_eq!(f.transport.sent().len(), 1);
    f.advance(TimeDelta::minutes(61));
    f.customer_says("1001", "v3", "34650000", "anyone?")
        .await
        .unwrap();
    f.inbox.dispatch(10).await.unwrap();
    assert_eq!(f.transport.sent().len(), 2);
    // The note never reached the transport.
    assert!(f
        .transport
        .sent()
        .iter()
        .all(|s| !format!("{:?}", s.request).contains("VIP customer")));
}

/// Sticky assignment: a returning customer goes to the agent who served them
/// last, or to the least loaded one when that agent is away.
pub async fn returning_customers_stick_to_their_agent<S: Store + AsDynStore + ?Sized>(
    store: Arc<S>,
) {
    let f = Fixture::with_config(
        store.as_dyn(),
        InboxConfig {
            reopen: crate::inbox::ReopenPolicy::NewConversation,
            ..InboxConfig::default()
        },
    )
    .await
    .unwrap();
    f.inbox.set_routing(
        &f.acme(),
        Routing::from_yaml(
            "teams:\n  sales: { strategy: sticky, fallback: least_loaded }\nrules:\n  - name: sales\n    then: [ { route_to_team: sales }, { assign: {} } ]\n",
        )
        .unwrap(),
    );
    sales_online(&f).await;
    let (c1, _) = f.customer_says("1001", "w1", "3467", "hi").await.unwrap();
    let first = f.store.conversation(&f.acme(), &c1).await.unwrap();
    let owner = first.assignee.clone().unwrap();
    f.inbox
        .set_status(
            &f.actor(owner_name(&owner)),
            &c1,
            first.version,
            ConversationStatus::Resolved,
        )
        .await
        .unwrap();
    // Someone else gets busier meanwhile; the customer comes back.
    f.advance(TimeDelta::hours(2));
    let (c2, _) = f
        .customer_says("1001", "w2", "3467", "me again")
        .await
        .unwrap();
    assert_ne!(c1, c2);
    let second = f.store.conversation(&f.acme(), &c2).await.unwrap();
    assert_eq!(second.assignee.as_ref(), Some(&owner));
    // The agent goes away: the next new conversation falls back.
    f.inbox
        .set_status(
            &f.actor(owner_name(&owner)),
            &c2,
            second.version,
            ConversationStatus::Resolved,
        )
        .await
        .unwrap();
    f.inbox
        .set_presence(&f.actor(owner_name(&owner)), Presence::Away)
        .await
        .unwrap();
    f.advance(TimeDelta::hours(2));
    let (c3, _) = f
        .customer_says("1001", "w3", "3467", "third time")
        .await
        .unwrap();
    let third = f.store.conversation(&f.acme(), &c3).await.unwrap();
    assert!(third.assignee.is_some());
    assert_ne!(third.assignee.as_ref(), Some(&owner));
}

fn owner_name(a: &AgentId) -> &'static str {
    match a.as_str() {
        "ana" => "ana",
        "ben" => "ben",
        "sam" => "sam",
        other => panic!("unexpected owner {other}"),
    }
}

/// When an agent goes offline, their open conversations follow the team's
/// policy: reassigned within capacity, else back to the queue.
pub async fn offline_agents_conversations_follow_the_policy<S: Store + AsDynStore + ?Sized>(
    store: Arc<S>,
) {
    let f = fixture(store).await;
    f.inbox.set_routing(
        &f.acme(),
        Routing::from_yaml(
            "teams:\n  sales: { strategy: least_loaded, when_offline: reassign }\n  support: { when_offline: return_to_queue }\nrules:\n  - name: route\n    when: { channel: sales }\n    then: [ { route_to_team: sales }, { assign_agent: ana } ]\n",
        )
        .unwrap(),
    );
    // ben online with room for one more.
    for (a, cap) in [("ana", 0), ("ben", 1)] {
        let mut agent: Agent = f.store.agent(&f.acme(), &id(a)).await.unwrap();
        agent.capacity = cap;
        f.inbox.provision_agent(&agent).await.unwrap();
        f.inbox
            .set_presence(&f.actor(a), Presence::Online)
            .await
            .unwrap();
    }
    let mut sales = Vec::new();
    for i in 0..3 {
        let (c, _) = f
            .customer_says("1001", &format!("w{i}"), &format!("3468{i}"), "hi")
            .await
            .unwrap();
        sales.push(c);
    }
    // A support conversation owned by sam (in sales and support).
    let (s, _) = f
        .customer_says("1002", "s1", "34690", "broken")
        .await
        .unwrap();
    let sam = f.actor("sam");
    f.inbox.set_presence(&sam, Presence::Away).await.unwrap();
    let v = f.version(&s).await.unwrap();
    f.inbox
        .assign(&sam, &s, v, Assignee::Team(id("support")), "support")
        .await
        .unwrap();
    let v = f.version(&s).await.unwrap();
    f.inbox.claim(&sam, &s, v).await.unwrap();
    for c in &sales {
        let conv = f.store.conversation(&f.acme(), c).await.unwrap();
        assert_eq!(conv.assignee, Some(id("ana")));
    }

    f.inbox
        .set_presence(&f.actor("ana"), Presence::Offline)
        .await
        .unwrap();
    let mut owners: BTreeMap<String, u32> = BTreeMap::new();
    for c in &sales {
        let conv = f.store.conversation(&f.acme(), c).await.unwrap();
        let who = conv.assignee.map_or("queue".to_string(), |a| a.to_string());
        *owners.entry(who).or_default() += 1;
    }
    // ben had room for one; the rest wait in the sales queue.
    assert_eq!(owners.get("ben"), Some(&1), "{owners:?}");
    assert_eq!(owners.get("queue"), Some(&2), "{owners:?}");
    assert!(!owners.contains_key("ana"));
    f.inbox.set_presence(&sam, Presence::Offline).await.unwrap();
    let support = f.store.conversation(&f.acme(), &s).await.unwrap();
    assert_eq!(support.assignee, None);
    assert_eq!(support.team, Some(id("support")));
    let events = f.store.conversation_events(&f.acme(), &s, 0).await.unwrap();
    assert!(events.iter().any(|e| matches!(&e.kind,
        EventKind::Assigned { reason, .. } if reason.contains("sam went offline"))));
}

/// Time-triggered rules fire through `tick`, once per wait; SLA breaches
/// trigger rules too.
pub async fn automation_timers_fire_through_tick<S: Store + AsDynStore + ?Sized>(store: Arc<S>) {
    let f = fixture(store).await;
    f.inbox.set_routing(
        &f.acme(),
        Routing::from_yaml(
            r#"
rules:
  - name: nudge
    on: [ { no_agent_reply: { after: 15m } } ]
    then: [ { set_priority: high }, { add_tags: waiting } ]
  - name: escalate
    on: [tag_added]
    when: { tag: waiting }
    then: [ { route_to_team: support } ]
"#,
        )
        .unwrap(),
    );
    let t0 = Fixture::start();
    let (c, _) = f
        .customer_says("1001", "w1", "3469", "hello?")
        .await
        .unwrap();
    let conv = f.store.conversation(&f.acme(), &c).await.unwrap();
    assert_eq!(conv.automation_due, Some(t0 + TimeDelta::minutes(15)));
    assert_eq!(
        f.inbox
            .tick(t0 + TimeDelta::minutes(14), 100)
            .await
            .unwrap()
            .automations,
        0
    );
    f.clock.set(t0 + TimeDelta::minutes(15));
    let report = f
        .inbox
        .tick(t0 + TimeDelta::minutes(15), 100)
        .await
        .unwrap();
    assert_eq!(report.automations, 1);
    let conv = f.store.conversation(&f.acme(), &c).await.unwrap();
    assert_eq!(conv.priority, crate::model::Priority::High);
    assert_eq!(conv.tags, ["waiting"]);
    // The cascade ran the second rule in the same commit.
    assert_eq!(conv.team, Some(id("support")));
    assert_eq!(conv.automation_due, None);
    f.clock.set(t0 + TimeDelta::hours(2));
    assert_eq!(
        f.inbox
            .tick(t0 + TimeDelta::hours(2), 100)
            .await
            .unwrap()
            .total(),
        0
    );
}

/// Conversations waiting in a queue go to agents as they come online,
/// within capacity, those waiting longest first.
pub async fn queued_conversations_go_to_agents_coming_online<S: Store + AsDynStore + ?Sized>(
    store: Arc<S>,
) {
    let f = fixture(store).await;
    f.inbox.set_routing(
        &f.acme(),
        Routing::from_yaml(
            "teams:\n  sales: { strategy: least_loaded }\nrules:\n  - name: sales\n    when: { channel: sales }\n    then: [ { route_to_team: sales }, { assign: {} } ]\n",
        )
        .unwrap(),
    );
    for (a, cap) in [("ana", 1), ("ben", 1)] {
        let mut agent: Agent = f.store.agent(&f.acme(), &id(a)).await.unwrap();
        agent.capacity = cap;
        f.inbox.provision_agent(&agent).await.unwrap();
    }
    f.inbox
        .set_presence(&f.actor("ana"), Presence::Online)
        .await
        .unwrap();
    let mut convs = Vec::new();
    for i in 0..3 {
        f.advance(TimeDelta::minutes(1));
        let (c, _) = f
            .customer_says("1001", &format!("q{i}"), &format!("3469{i}"), "hi")
            .await
            .unwrap();
        convs.push(c);
    }
    let owner = |c: &ConversationId| {
        let f = &f;
        let c = c.clone();
        async move { f.store.conversation(&f.acme(), &c).await.unwrap().assignee }
    };
    assert_eq!(owner(&convs[0]).await, Some(id("ana")));
    assert_eq!(owner(&convs[1]).await, None);
    assert_eq!(owner(&convs[2]).await, None);
    // ben comes online with room for one: the longest waiting goes to him.
    f.inbox
        .set_presence(&f.actor("ben"), Presence::Online)
        .await
        .unwrap();
    assert_eq!(owner(&convs[1]).await, Some(id("ben")));
    assert_eq!(owner(&convs[2]).await, None);
    let events = f
        .store
        .conversation_events(&f.acme(), &convs[1], 0)
        .await
        .unwrap();
    assert!(events.iter().any(|e| matches!(&e.kind,
        EventKind::Assigned { reason, .. } if reason.starts_with("from the queue → team sales → least loaded: ben 0/1"))));
    // Nobody has room: a direct call assigns nothing.
    assert_eq!(
        f.inbox
            .assign_queued(&f.acme(), &id("sales"), 50)
            .await
            .unwrap(),
        0
    );
}
