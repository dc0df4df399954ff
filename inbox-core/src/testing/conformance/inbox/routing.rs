//! Routing through the inbox: the rules running inside ingest, actions and
//! ticks, round robin across races and restarts, queues that drain when
//! capacity frees.

use crate::routing::Routing;
use crate::testing::conformance::support::*;

/// Puts every sales agent online with unlimited capacity (ana, ben, sam).
async fn sales_online(f: &Fixture) {
    for a in ["ana", "ben", "sam"] {
        edit_agent(f, a, |a| a.capacity = 0).await;
        online(f, a).await;
    }
}

/// A fixture with `acme`'s routing set from `rules` (YAML).
async fn routed<S: Store + AsDynStore + ?Sized>(store: Arc<S>, rules: &str) -> Fixture {
    let f = fixture(store).await;
    set_rules(&f, rules).await;
    f
}

/// Sets `acme`'s routing from its YAML.
async fn set_rules(f: &Fixture, yaml: &str) {
    f.set_routing(&Routing::from_yaml(yaml).unwrap())
        .await
        .unwrap();
}

/// How many active conversations each agent of `acme` owns.
async fn agent_loads(f: &Fixture) -> BTreeMap<AgentId, u32> {
    let tenant = LoadScope::Tenant;
    f.store.agent_loads(&f.acme(), &tenant).await.unwrap()
}

/// An agent of `acme` comes online through the store, not the inbox (so no
/// queue drains).
async fn online_through_the_store(f: &Fixture, agent: &str) {
    let presence = Some((id(agent), Presence::Online));
    let online = Changeset {
        presence,
        ..Changeset::new(f.acme())
    };
    f.store.commit(online).await.unwrap();
}

/// Asserts that the last assignment of a conversation gave a reason
/// starting with `prefix`.
async fn assert_reason_starts(f: &Fixture, c: &ConversationId, prefix: &str) {
    let reason = last_reason(f, c).await;
    assert!(reason.starts_with(prefix), "{reason}");
}

/// Asserts who owns each conversation (`None`: nobody).
async fn assert_owners(f: &Fixture, owners: &[(&ConversationId, Option<&str>)]) {
    for (c, owner) in owners {
        let expected: Option<AgentId> = owner.map(id);
        assert_eq!(owner_of(f, c).await, expected, "{c}");
    }
}

/// Sam assigns a conversation to `agent`.
async fn assign_to(f: &Fixture, c: &ConversationId, agent: &str) {
    let v = f.version(c).await.unwrap();
    let sam = f.actor("sam");
    let assigned = f
        .inbox
        .assign(&sam, c, v, Assignee::Agent(id(agent)), "test");
    assigned.await.unwrap();
}

/// The conversations of `acme` that `filter` selects, in `sort` order (up
/// to `limit`).
async fn listed(
    f: &Fixture,
    filter: ConversationFilter,
    sort: SortOrder,
    limit: u32,
) -> Vec<Conversation> {
    let query = ConversationQuery {
        filter,
        sort,
        after: None,
        limit,
    };
    f.store
        .list_conversations(&f.acme(), &query)
        .await
        .unwrap()
        .items
}

fn round_robin() -> Routing {
    Routing::from_yaml(
        "teams:\n  sales: { strategy: round_robin }\nrules:\n  - name: sales line\n    when: { channel: sales }\n    then: [ { route_to_team: sales }, { assign: {} } ]\n",
    )
    .unwrap()
}

/// Round robin through real ingests: fair when customers write at once
/// (cursor races are retried), and it resumes where it stopped after a
/// restart (a new `Inbox` on the same store).
pub(crate) async fn round_robin_is_fair_under_races_and_survives_restarts<
    S: Store + AsDynStore + ?Sized,
>(
    store: Arc<S>,
) {
    let store = store.as_dyn();
    let f = Fixture::new(store.clone()).await.unwrap();
    f.set_routing(&round_robin()).await.unwrap();
    sales_online(&f).await;
    let ingests = (0..12).map(|i| {
        let event = f.text("1001", &format!("w{i}"), &format!("34611{i:04}"), "hello");
        f.inbox.ingest(event)
    });
    for r in join_all(ingests).await {
        r.unwrap();
    }
    let loads = agent_loads(&f).await;
    let counts: Vec<u32> = ["ana", "ben", "sam"]
        .iter()
        .map(|a| loads.get(&id::<AgentId>(a)).copied().unwrap_or(0))
        .collect();
    assert_eq!(counts, [4, 4, 4], "{loads:?}");
    // The sales cursor holds the round-robin position (other teams of the
    // agents only have fences: a version, no position).
    let cursors = f.store.routing_cursors(&f.acme()).await.unwrap();
    let sales = cursors.iter().find(|c| c.team.as_str() == "sales").unwrap();
    assert!(cursors
        .iter()
        .all(|c| c.team == sales.team || c.last.is_none()));
    let last = sales.last.clone().unwrap();

    // "Restart": another Inbox over the same store (which reads the
    // routing from the stored settings) picks the next agent.
    let again = Fixture::instance(store, InboxConfig::default(), "r2");
    let c = says(&again, "1001", "x1", "34699999999", "hello").await;
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
pub(crate) async fn ingest_routes_with_an_explanation<S: Store + AsDynStore + ?Sized>(
    store: Arc<S>,
) {
    let rules = r#"
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
"#;
    let f = routed(store, rules).await;
    sales_online(&f).await;
    // ben already has two open conversations.
    for i in 0..2 {
        let c = says(&f, "1002", &format!("b{i}"), &format!("3462{i}"), "help").await;
        assign_to(&f, &c, "ben").await;
    }
    // ... and sam one.
    let c = says(&f, "1002", "s0", "34630", "help").await;
    assign_to(&f, &c, "sam").await;

    let c = says(&f, "1001", "v1", "34650000", "I am a VIP, help").await;
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
pub(crate) async fn returning_customers_stick_to_their_agent<S: Store + AsDynStore + ?Sized>(
    store: Arc<S>,
) {
    let f = fixture(store).await;
    f.edit_settings(|s| s.reopen = crate::inbox::ReopenPolicy::NewConversation)
        .await
        .unwrap();
    set_rules(
        &f,
        "teams:\n  sales: { strategy: sticky, fallback: least_loaded }\nrules:\n  - name: sales\n    then: [ { route_to_team: sales }, { assign: {} } ]\n",
    ).await;
    sales_online(&f).await;
    let c1 = says(&f, "1001", "w1", "3467", "hi").await;
    let owner = owner_of(&f, &c1).await.unwrap();
    resolve(&f, owner_name(&owner), &c1).await;
    // Someone else gets busier meanwhile; the customer comes back.
    f.advance(TimeDelta::hours(2));
    let c2 = says(&f, "1001", "w2", "3467", "me again").await;
    assert_ne!(c1, c2);
    assert_eq!(owner_of(&f, &c2).await.as_ref(), Some(&owner));
    // The agent goes away: the next new conversation falls back.
    resolve(&f, owner_name(&owner), &c2).await;
    f.inbox
        .set_presence(&f.actor(owner_name(&owner)), Presence::Away)
        .await
        .unwrap();
    f.advance(TimeDelta::hours(2));
    let c3 = says(&f, "1001", "w3", "3467", "third time").await;
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
pub(crate) async fn offline_agents_conversations_follow_the_policy<
    S: Store + AsDynStore + ?Sized,
>(
    store: Arc<S>,
) {
    let rules = "teams:\n  sales: { strategy: least_loaded, when_offline: reassign }\n  support: { when_offline: return_to_queue }\nrules:\n  - name: route\n    when: { channel: sales }\n    then: [ { route_to_team: sales }, { assign_agent: ana } ]\n";
    let f = routed(store, rules).await;
    // ben online with room for one more.
    for (a, cap) in [("ana", 0), ("ben", 1)] {
        edit_agent(&f, a, |a| a.capacity = cap).await;
        online(&f, a).await;
    }
    let mut sales = Vec::new();
    for i in 0..3 {
        let c = says(&f, "1001", &format!("w{i}"), &format!("3468{i}"), "hi").await;
        sales.push(c);
    }
    // A support conversation owned by sam (in sales and support).
    let s = says(&f, "1002", "s1", "34690", "broken").await;
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
pub(crate) async fn automation_timers_fire_through_tick<S: Store + AsDynStore + ?Sized>(
    store: Arc<S>,
) {
    let rules = r#"
rules:
  - name: nudge
    on: [ { no_agent_reply: { after: 15m } } ]
    then: [ { set_priority: high }, { add_tags: waiting } ]
  - name: escalate
    on: [tag_added]
    when: { tag: waiting }
    then: [ { route_to_team: support } ]
"#;
    let f = routed(store, rules).await;
    let t0 = Fixture::start();
    let c = says(&f, "1001", "w1", "3469", "hello?").await;
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
pub(crate) async fn queued_conversations_go_to_agents_coming_online<
    S: Store + AsDynStore + ?Sized,
>(
    store: Arc<S>,
) {
    let rules = "teams:\n  sales: { strategy: least_loaded }\nrules:\n  - name: sales\n    when: { channel: sales }\n    then: [ { route_to_team: sales }, { assign: {} } ]\n";
    let f = routed(store, rules).await;
    for a in ["ana", "ben"] {
        set_capacity(&f, a, 1, None).await;
    }
    online(&f, "ana").await;
    let mut convs = Vec::new();
    for i in 0..3 {
        f.advance(TimeDelta::minutes(1));
        let c = says(&f, "1001", &format!("q{i}"), &format!("3469{i}"), "hi").await;
        convs.push(c);
    }
    let owner = |c: &ConversationId| {
        let f = &f;
        let c = c.clone();
        async move { owner_of(f, &c).await }
    };
    assert_eq!(owner(&convs[0]).await, Some(id("ana")));
    assert_eq!(owner(&convs[1]).await, None);
    assert_eq!(owner(&convs[2]).await, None);
    // ben comes online with room for one: the longest waiting goes to him.
    online(&f, "ben").await;
    assert_eq!(owner(&convs[1]).await, Some(id("ben")));
    assert_eq!(owner(&convs[2]).await, None);
    let events = f
        .store
        .conversation_events(&f.acme(), &convs[1], 0)
        .await
        .unwrap();
    assert!(
        events.iter().any(|e| matches!(&e.kind,
        EventKind::Assigned { reason, .. } if reason.starts_with("queue: waited 1 min, ben came online 0/1 → team sales → least loaded: ben 0/1"))),
        "{events:#?}"
    );
    // Nobody has room: a direct call assigns nothing.
    assert_eq!(
        f.inbox
            .assign_queued(&f.acme(), &id("sales"), 50)
            .await
            .unwrap(),
        0
    );
}

/// Sales routes new conversations to team sales with `least_loaded`
/// (`shift` gives ana a shift calendar: 10:00-18:00 UTC on weekdays).
fn queue_routing(ana_shift: bool) -> Routing {
    let calendars = if ana_shift {
        "calendars:\n  early: { zone: UTC, weekdays: [\"10:00-18:00\"] }\n"
    } else {
        ""
    };
    Routing::from_yaml(&format!(
        "{calendars}teams:\n  sales: {{ strategy: least_loaded }}\nrules:\n  - name: sales line\n    when: {{ channel: sales }}\n    then: [ {{ route_to_team: sales }}, {{ assign: {{}} }} ]\n"
    ))
    .unwrap()
}

/// Sets an agent's capacity (and shift) through the inbox, as an admin
/// screen would.
async fn set_capacity(f: &Fixture, agent: &str, capacity: u32, shift: Option<&str>) {
    let mut a: Agent = f.store.agent(&f.acme(), &id(agent)).await.unwrap();
    a.capacity = capacity;
    a.shift = shift.map(str::to_string);
    f.inbox.provision_agent(&a).await.unwrap();
}

/// A fixture whose sales team is ana and ben (online, capacity 1 each) and
/// sam (offline); routing as [`queue_routing`].
async fn queue_fixture<S: Store + AsDynStore + ?Sized>(store: Arc<S>) -> Fixture {
    let f = fixture(store).await;
    f.set_routing(&queue_routing(false)).await.unwrap();
    for a in ["ana", "ben"] {
        set_capacity(&f, a, 1, None).await;
        online(&f, a).await;
    }
    f
}

/// A fixture whose sales team is ana (online, capacity 1, on a shift from
/// 10:00), ben and sam (offline); routing as [`queue_routing`].
async fn early_shift_fixture<S: Store + AsDynStore + ?Sized>(store: Arc<S>) -> Fixture {
    let f = fixture(store).await;
    f.set_routing(&queue_routing(true)).await.unwrap();
    set_capacity(&f, "ana", 1, Some("early")).await;
    online(&f, "ana").await;
    f
}

/// A new customer on the sales line, one minute after the previous one.
async fn arrives(f: &Fixture, n: u32) -> ConversationId {
    f.advance(TimeDelta::minutes(1));
    f.customer_says("1001", &format!("q{n}"), &format!("3465{n:04}"), "hello")
        .await
        .unwrap()
        .0
}

/// The reason of the last assignment of a conversation.
async fn last_reason(f: &Fixture, c: &ConversationId) -> String {
    let events = f.store.conversation_events(&f.acme(), c, 0).await.unwrap();
    events
        .iter()
        .rev()
        .find_map(|e| match &e.kind {
            EventKind::Assigned { reason, .. } => Some(reason.clone()),
            _ => None,
        })
        .unwrap_or_default()
}

async fn resolve(f: &Fixture, who: &'static str, c: &ConversationId) {
    let v = f.version(c).await.unwrap();
    f.inbox
        .set_status(&f.actor(who), c, v, ConversationStatus::Resolved)
        .await
        .unwrap();
}

/// Asserts that no agent of `acme` owns more than their capacity; the
/// loads read.
async fn assert_within_capacity(f: &Fixture, capacities: &[(&str, u32)]) -> BTreeMap<AgentId, u32> {
    let loads = agent_loads(f).await;
    for (a, cap) in capacities {
        let load = loads.get(&id::<AgentId>(a)).copied().unwrap_or(0);
        assert!(load <= *cap, "{a} has {load} open, capacity {cap}");
    }
    loads
}

/// Capacity freed by resolving goes to the conversation waiting longest,
/// with a reason that says so; one that arrives while older ones wait is
/// queued behind them.
pub(crate) async fn freed_capacity_goes_to_the_longest_waiting<S: Store + AsDynStore + ?Sized>(
    store: Arc<S>,
) {
    let f = queue_fixture(store).await;
    let c1 = arrives(&f, 1).await;
    let c2 = arrives(&f, 2).await;
    let c3 = arrives(&f, 3).await;
    let c4 = arrives(&f, 4).await;
    assert_owners(
        &f,
        &[
            (&c1, Some("ana")),
            (&c2, Some("ben")),
            (&c3, None),
            (&c4, None),
        ],
    )
    .await;
    // 09:17: ana resolves; c3 (waiting since 09:03) goes to her, not c4.
    f.advance(TimeDelta::minutes(13));
    resolve(&f, "ana", &c1).await;
    assert_owners(&f, &[(&c3, Some("ana")), (&c4, None)]).await;
    assert_eq!(
        last_reason(&f, &c3).await,
        "queue: waited 14 min, ana freed capacity 0/1 → team sales → least loaded: ana 0/1 (ben 1/1 full, sam offline)"
    );
    // Everyone is full again; c5 arrives and waits behind c4.
    let c5 = arrives(&f, 5).await;
    assert_eq!(owner_of(&f, &c5).await, None);
    resolve(&f, "ben", &c2).await;
    assert_owners(&f, &[(&c4, Some("ben")), (&c5, None)]).await;
    let reason = "queue: waited 14 min, ben freed capacity 0/1 → team sales";
    assert_reason_starts(&f, &c4, reason).await;
    assert_within_capacity(&f, &[("ana", 1), ("ben", 1)]).await;
}

/// A brand-new conversation never takes a free agent while an older one
/// waits for them: here ana's shift starts at 10:00 and a customer writes
/// at 10:00 before any tick ran; the one waiting since 09:01 gets her.
pub(crate) async fn a_newcomer_never_jumps_the_queue<S: Store + AsDynStore + ?Sized>(
    store: Arc<S>,
) {
    let f = early_shift_fixture(store).await;
    let old = arrives(&f, 1).await;
    assert_eq!(owner_of(&f, &old).await, None);
    assert!(last_reason(&f, &old).await.contains("ana off shift"));
    f.clock.set(Fixture::start() + TimeDelta::hours(1));
    let new = arrives(&f, 2).await;
    assert_owners(&f, &[(&old, Some("ana")), (&new, None)]).await;
    let reason = "queue: waited 1 h, first in line → team sales → least loaded: ana 0/1";
    assert_reason_starts(&f, &old, reason).await;
    assert!(
        last_reason(&f, &new).await.contains("queued behind"),
        "{}",
        last_reason(&f, &new).await
    );
}

/// Releasing, transferring away, raising a capacity and reassigning away
/// each hand the freed place to the conversation waiting longest.
pub(crate) async fn release_transfer_and_capacity_changes_drain_the_queue<
    S: Store + AsDynStore + ?Sized,
>(
    store: Arc<S>,
) {
    let f = queue_fixture(store).await;
    let c1 = arrives(&f, 1).await;
    let c2 = arrives(&f, 2).await;
    let waiting: Vec<ConversationId> = {
        let mut v = Vec::new();
        for n in 3..7 {
            v.push(arrives(&f, n).await);
        }
        v
    };
    // ana answers c1 (nobody waits on it any more), then lets it go: it
    // joins the queue behind the customers still waiting, and her place
    // goes to the first of them.
    let ana = f.actor("ana");
    let v = f.version(&c1).await.unwrap();
    let v = f
        .inbox
        .reply(&ana, &c1, v, crate::inbox::Reply::text("on it", "r1"))
        .await
        .unwrap()
        .conversation
        .version;
    f.inbox.release(&ana, &c1, v, "busy").await.unwrap();
    assert_owners(&f, &[(&waiting[0], Some("ana")), (&c1, None)]).await;
    assert!(last_reason(&f, &waiting[0])
        .await
        .contains("ana freed capacity 0/1"));
    // ben hands c2 to the support team: his place goes to the next.
    let v = f.version(&c2).await.unwrap();
    f.inbox
        .transfer(
            &f.actor("ben"),
            &c2,
            v,
            Assignee::Team(id("support")),
            "billing question",
        )
        .await
        .unwrap();
    assert_eq!(owner_of(&f, &waiting[1]).await, Some(id("ben")));
    assert!(last_reason(&f, &waiting[1])
        .await
        .contains("ben freed capacity 0/1"));
    // ana may take two now: the next one goes to her.
    set_capacity(&f, "ana", 2, None).await;
    assert_eq!(owner_of(&f, &waiting[2]).await, Some(id("ana")));
    assert!(
        last_reason(&f, &waiting[2])
            .await
            .contains("ana's capacity raised 1/2"),
        "{}",
        last_reason(&f, &waiting[2]).await
    );
    // A supervisor moves ben's conversation to sam: ben's place frees.
    let v = f.version(&waiting[1]).await.unwrap();
    f.inbox
        .assign(
            &f.actor("sam"),
            &waiting[1],
            v,
            Assignee::Agent(id("sam")),
            "escalated",
        )
        .await
        .unwrap();
    assert_eq!(owner_of(&f, &waiting[3]).await, Some(id("ben")));
    // The released c1 still waits (its customer is not waiting on us).
    assert_eq!(owner_of(&f, &c1).await, None);
    assert_within_capacity(&f, &[("ana", 2), ("ben", 1)]).await;
}

/// The tick drains queues with no event to set it off: when a shift
/// starts, and when presence changed somewhere that did not go through
/// the inbox.
pub(crate) async fn the_tick_drains_queues_when_shifts_start<S: Store + AsDynStore + ?Sized>(
    store: Arc<S>,
) {
    let f = early_shift_fixture(store).await;
    set_capacity(&f, "ben", 1, None).await;
    let c1 = arrives(&f, 1).await;
    let c2 = arrives(&f, 2).await;
    assert_eq!(owner_of(&f, &c1).await, None);
    let half_past = Fixture::start() + TimeDelta::minutes(30);
    f.clock.set(half_past);
    assert_eq!(f.inbox.tick(half_past, 100).await.unwrap().from_queue, 0);
    // 10:00: ana's shift starts; the tick gives her the first in line.
    let ten = Fixture::start() + TimeDelta::hours(1);
    f.clock.set(ten);
    let report = f.inbox.tick(ten, 100).await.unwrap();
    assert_eq!(report.from_queue, 1);
    assert_owners(&f, &[(&c1, Some("ana")), (&c2, None)]).await;
    assert_eq!(
        last_reason(&f, &c1).await,
        "queue: waited 59 min, periodic check → team sales → least loaded: ana 0/1 (ben offline, sam offline)"
    );
    // ben comes online through another system (the store directly): the
    // next tick notices.
    online_through_the_store(&f, "ben").await;
    let report = f.inbox.tick(ten, 100).await.unwrap();
    assert_eq!(report.from_queue, 1);
    assert_eq!(owner_of(&f, &c2).await, Some(id("ben")));
    // Nothing more to do.
    assert_eq!(f.inbox.tick(ten, 100).await.unwrap().from_queue, 0);
}

/// Two placements planned from the same look at the loads cannot both
/// take an agent's last place: the second commit is refused (a conflict,
/// so the drain that made it reads the loads again). And two instances
/// draining one queue at once never exceed a capacity or assign a
/// conversation twice.
pub(crate) async fn concurrent_drains_never_exceed_capacity<S: Store + AsDynStore + ?Sized>(
    store: Arc<S>,
) {
    let store = store.as_dyn();
    let f = Fixture::new(store.clone()).await.unwrap();
    f.set_routing(&queue_routing(false)).await.unwrap();
    for a in ["ana", "ben"] {
        set_capacity(&f, a, 1, None).await;
    }
    let mut waiting = Vec::new();
    for n in 0..8 {
        waiting.push(arrives(&f, n).await);
    }
    // ana comes online through the store (no drain runs).
    online_through_the_store(&f, "ana").await;
    let plan = |c: &ConversationId| {
        let f = &f;
        let c = c.clone();
        async move {
            let current = f.store.conversation(&f.acme(), &c).await.unwrap();
            f.inbox
                .plan_placement(&current, &id("sales"))
                .await
                .unwrap()
                .expect("ana has room")
        }
    };
    let first = plan(&waiting[0]).await;
    let second = plan(&waiting[1]).await;
    f.store.commit(first).await.unwrap();
    let err = f.store.commit(second).await.unwrap_err();
    assert!(matches!(err, Error::Conflict(_)), "{err:?}");
    assert_eq!(agent_loads(&f).await.get(&id::<AgentId>("ana")), Some(&1));

    // Now for real: ben and sam come online (sam with room for three) and
    // two instances drain at once, several times.
    set_capacity(&f, "sam", 3, None).await;
    for a in ["ben", "sam"] {
        online_through_the_store(&f, a).await;
    }
    let other = Fixture::instance(store, InboxConfig::default(), "i2");
    let tenant = f.acme();
    let drains = [&f.inbox, &other.inbox, &f.inbox, &other.inbox].map(|inbox| {
        let tenant = tenant.clone();
        async move { inbox.assign_queued(&tenant, &id("sales"), 50).await }
    });
    let mut assigned = 0;
    for r in join_all(drains).await {
        assigned += r.unwrap();
    }
    let loads = assert_within_capacity(&f, &[("ana", 1), ("ben", 1), ("sam", 3)]).await;
    assert_eq!(assigned, 4, "{loads:?}");
    assert_eq!(loads.values().sum::<u32>(), 5, "{loads:?}");
    for c in &waiting {
        let events = f.store.conversation_events(&f.acme(), c, 0).await.unwrap();
        let to_agents = events
            .iter()
            .filter(|e| matches!(&e.kind, EventKind::Assigned { to, .. } if to.agent.is_some()))
            .count();
        assert!(to_agents <= 1, "{c} assigned {to_agents} times");
    }
}

/// Random days of arrivals, resolutions, releases, transfers, presence
/// and capacity changes and ticks: after every step no agent was given
/// more than their capacity, nobody with room is left idle while a
/// conversation waits, and no conversation was assigned while one that
/// waited longer was left waiting.
pub(crate) async fn queues_stay_fair_over_random_days<S: Store + AsDynStore + ?Sized>(
    store: Arc<S>,
) {
    queue_property(store.as_dyn(), 0x5eed_0021, 90).await;
}

/// The open conversations `who` owns, oldest activity first.
async fn owned_by(f: &Fixture, who: &str) -> Vec<Conversation> {
    let filter = ConversationFilter {
        assignee: AssigneeFilter::Agent(id(who)),
        statuses: vec![ConversationStatus::Open],
        ..ConversationFilter::default()
    };
    listed(f, filter, SortOrder::OldestActivity, 10).await
}

/// The queue invariants over `steps` random steps from `seed` (also run
/// with many seeds by the memory store's tests).
pub async fn queue_property(store: Arc<dyn Store>, seed: u64, steps: u32) {
    use crate::query::{AssigneeFilter, ConversationFilter, SortOrder};
    let f = Fixture::new(store).await.unwrap();
    f.set_routing(&queue_routing(false)).await.unwrap();
    let agents = ["ana", "ben"];
    let mut caps: BTreeMap<&str, u32> = BTreeMap::new();
    for a in agents {
        set_capacity(&f, a, 1, None).await;
        caps.insert(a, 1);
    }
    let mut rng = crate::testing::Seeded::new(seed);
    let mut seq = f
        .store
        .events_since(&f.acme(), 0, 10_000)
        .await
        .unwrap()
        .last()
        .map_or(0, |e| e.seq);
    let mut arrivals = 0;
    for step in 0..steps {
        let who = agents[rng.below(2) as usize];
        let actor = f.actor(who);
        let loads_before = agent_loads(&f).await;
        let op = rng.below(10);
        let what = match op {
            0..=3 => {
                arrivals += 1;
                f.advance(TimeDelta::seconds(30 + rng.below(120) as i64));
                f.customer_says(
                    "1001",
                    &format!("p{arrivals}"),
                    &format!("3466{arrivals:05}"),
                    "hi",
                )
                .await
                .unwrap();
                "arrive"
            }
            4 | 5 => {
                if let Some(c) = owned_by(&f, who).await.first() {
                    f.inbox
                        .set_status(&actor, &c.id, c.version, ConversationStatus::Resolved)
                        .await
                        .unwrap();
                }
                "resolve"
            }
            6 => {
                if let Some(c) = owned_by(&f, who).await.first() {
                    if rng.below(2) == 0 {
                        f.inbox.release(&actor, &c.id, c.version, "").await.unwrap();
                    } else {
                        f.inbox
                            .transfer(
                                &actor,
                                &c.id,
                                c.version,
                                Assignee::Team(id("support")),
                                "for support",
                            )
                            .await
                            .unwrap();
                    }
                }
                "release or transfer"
            }
            7 => {
                let p = [Presence::Online, Presence::Away, Presence::Online][rng.below(3) as usize];
                f.inbox.set_presence(&actor, p).await.unwrap();
                "presence"
            }
            8 => {
                let cap = 1 + rng.below(3) as u32;
                set_capacity(&f, who, cap, None).await;
                caps.insert(who, cap);
                "capacity"
            }
            _ => {
                f.advance(TimeDelta::minutes(1));
                let now = crate::ports::Clock::now(f.clock.as_ref());
                f.inbox.tick(now, 100).await.unwrap();
                "tick"
            }
        };
        let at = format!("step {step} ({what}, {who})");
        // Capacity: whoever was given work is within capacity.
        let loads = agent_loads(&f).await;
        for a in agents {
            let before = loads_before.get(&id::<AgentId>(a)).copied().unwrap_or(0);
            let after = loads.get(&id::<AgentId>(a)).copied().unwrap_or(0);
            assert!(
                after <= before || after <= caps[a],
                "{at}: {a} went from {before} to {after}, capacity {}",
                caps[a]
            );
        }
        // Waiting: nobody with room is idle while the queue is not empty.
        let queued = ConversationFilter {
            assignee: AssigneeFilter::Unassigned,
            team: Some(id("sales")),
            statuses: vec![ConversationStatus::Open, ConversationStatus::Pending],
            ..ConversationFilter::default()
        };
        let waiting = listed(&f, queued, SortOrder::WaitingLongest, 500).await;
        if !waiting.is_empty() {
            for a in f.store.agents(&f.acme()).await.unwrap() {
                if !agents.contains(&a.id.as_str()) {
                    continue;
                }
                let load = loads.get(&a.id).copied().unwrap_or(0);
                assert!(
                    a.presence != Presence::Online || load >= a.capacity,
                    "{at}: {} is online at {load}/{} while {} wait",
                    a.id,
                    a.capacity,
                    waiting.len()
                );
            }
        }
        // Order: what was assigned in this step waited longer than what
        // still waits.
        let events = f.store.events_since(&f.acme(), seq, 10_000).await.unwrap();
        seq = events.last().map_or(seq, |e| e.seq);
        for e in &events {
            let EventKind::Assigned { to, .. } = &e.kind else {
                continue;
            };
            if to.agent.is_none() || !matches!(e.actor, EventActor::Automation(_)) {
                continue;
            }
            let c = f
                .store
                .conversation(&f.acme(), e.conversation.as_ref().unwrap())
                .await
                .unwrap();
            let key = SortOrder::WaitingLongest.key(&c);
            if let Some(w) = waiting.first() {
                assert!(
                    key <= SortOrder::WaitingLongest.key(w),
                    "{at}: {} was assigned while {} waited longer",
                    c.id,
                    w.id
                );
            }
        }
    }
}

/// A conversation returned to a queue that drains goes to the next agent
/// with room: released by its owner (not straight back to them), returned
/// by the offline policy, or returned by an SLA breach.
pub(crate) async fn conversations_returned_to_the_queue_go_to_someone_else<
    S: Store + AsDynStore + ?Sized,
>(
    store: Arc<S>,
) {
    let mut settings = Fixture::first_response_sla(600);
    settings.sla.policies[0].on_breach = vec![crate::sla::BreachAction::ReturnToQueue];
    let f = Fixture::with_settings(store.as_dyn(), settings)
        .await
        .unwrap();
    set_rules(
        &f,
        "teams:\n  sales: { strategy: least_loaded, when_offline: return_to_queue }\nrules:\n  - name: sales line\n    when: { channel: sales }\n    then: [ { route_to_team: sales }, { assign: {} } ]\n",
    ).await;
    set_capacity(&f, "ana", 1, None).await;
    set_capacity(&f, "ben", 3, None).await;
    online(&f, "ana").await;
    let c1 = arrives(&f, 1).await;
    assert_eq!(owner_of(&f, &c1).await, Some(id("ana")));
    online(&f, "ben").await;
    // ana lets c1 go: ben takes it, although ana has the fewest open now.
    f.advance(TimeDelta::minutes(2));
    let v = f.version(&c1).await.unwrap();
    f.inbox
        .release(&f.actor("ana"), &c1, v, "not my area")
        .await
        .unwrap();
    assert_eq!(owner_of(&f, &c1).await, Some(id("ben")));
    assert_eq!(
        last_reason(&f, &c1).await,
        "queue: waited 2 min, ana freed capacity 0/1, not back to ana → team sales → least loaded: ben 0/3 (sam offline)"
    );
    // ben answers c1 in time. c2 goes to ana, who does not: at the breach
    // it returns to the queue and ben takes it.
    f.claim_and_reply(&f.actor("ben"), &c1, "hello, ben here", "b1")
        .await
        .unwrap();
    let c2 = arrives(&f, 2).await;
    assert_eq!(owner_of(&f, &c2).await, Some(id("ana")));
    let due = crate::ports::Clock::now(f.clock.as_ref()) + TimeDelta::minutes(10);
    f.clock.set(due);
    let report = f.inbox.tick(due, 100).await.unwrap();
    assert_eq!(report.sla_breaches, 1);
    assert_eq!(owner_of(&f, &c2).await, Some(id("ben")));
    let reason = "queue: waited 10 min, ana freed capacity 0/1, not back to ana → team sales";
    assert_reason_starts(&f, &c2, reason).await;
    // ben goes offline: his two return to the queue, and ana (room for
    // one) takes the one whose customer waits (c1 was answered).
    f.inbox
        .set_presence(&f.actor("ben"), Presence::Offline)
        .await
        .unwrap();
    assert_owners(&f, &[(&c2, Some("ana")), (&c1, None)]).await;
    let reason = "queue: waited 10 min, first in line → team sales → least loaded: ana 0/1";
    assert_reason_starts(&f, &c2, reason).await;
}

/// The team's strategy chooses among the agents with room: with skills,
/// a conversation nobody free can take is passed over (not a wall for
/// those behind it); with round robin the position moves on as usual.
pub(crate) async fn drains_follow_skills_and_round_robin<S: Store + AsDynStore + ?Sized>(
    store: Arc<S>,
) {
    let rules = r#"
teams:
  support: { strategy: skills, fallback: manual }
  sales: { strategy: round_robin }
rules:
  - name: invoices
    when: { all: [ { channel: support }, { text: { contains: [invoice] } } ] }
    then: [ { add_tags: billing }, { route_to_team: support }, { assign: {} } ]
  - name: support line
    when: { channel: support }
    then: [ { route_to_team: support }, { assign: {} } ]
  - name: sales line
    then: [ { route_to_team: sales }, { assign: {} } ]
"#;
    let f = routed(store, rules).await;
    let mut cy: Agent = f.store.agent(&f.acme(), &id("cy")).await.unwrap();
    cy.capacity = 1;
    cy.skills = vec!["billing".into()];
    f.inbox.provision_agent(&cy).await.unwrap();
    online(&f, "cy").await;
    // Nobody has a skill for "hello": it waits for a claim.
    f.advance(TimeDelta::minutes(1));
    let hello = says(&f, "1002", "s1", "34670001", "hello").await;
    assert_eq!(owner_of(&f, &hello).await, None);
    // An invoice question behind it goes to cy, through the queue.
    f.advance(TimeDelta::minutes(1));
    let invoice = says(&f, "1002", "s2", "34670002", "my invoice is wrong").await;
    assert_owners(&f, &[(&invoice, Some("cy")), (&hello, None)]).await;
    let reason = "queue: waited 0 s, first in line → team support → skills [billing]: cy 0/1";
    assert_reason_starts(&f, &invoice, reason).await;

    // Round robin: ana, ben, then the queue; ana frees her place and,
    // being next after ben, takes the one waiting.
    for a in ["ana", "ben"] {
        set_capacity(&f, a, 1, None).await;
        online(&f, a).await;
    }
    let c1 = arrives(&f, 1).await;
    let c2 = arrives(&f, 2).await;
    let c3 = arrives(&f, 3).await;
    assert_owners(&f, &[(&c1, Some("ana")), (&c2, Some("ben")), (&c3, None)]).await;
    resolve(&f, "ana", &c1).await;
    assert_eq!(owner_of(&f, &c3).await, Some(id("ana")));
    assert!(last_reason(&f, &c3)
        .await
        .contains("ana freed capacity 0/1 → team sales → round robin: ana 0/1 (after ben"));
    let cursors = f.store.routing_cursors(&f.acme()).await.unwrap();
    let sales = cursors.iter().find(|c| c.team.as_str() == "sales").unwrap();
    assert_eq!(sales.last, Some(id("ana")));
}

/// A queue drain and a rule assigning a new conversation, both planned
/// from the same look at the loads, never both give the same agent a
/// conversation past capacity: the rule's automatic assignment stores the
/// agent's team fences too, so the drain that planned before it commits
/// is refused and looks again.
pub(crate) async fn a_drain_and_a_rule_assignment_never_overfill_an_agent<
    S: Store + AsDynStore + ?Sized,
>(
    store: Arc<S>,
) {
    let rules = "teams:\n  sales: { strategy: least_loaded }\n  support: { strategy: least_loaded }\nrules:\n  - name: sales line\n    when: { channel: sales }\n    then: [ { route_to_team: sales }, { assign: {} } ]\n  - name: support line\n    when: { channel: support }\n    then: [ { route_to_team: support }, { assign: {} } ]\n";
    // ana works both lines, one conversation at a time.
    let f = routed(store, rules).await;
    let mut ana: Agent = f.store.agent(&f.acme(), &id("ana")).await.unwrap();
    ana.capacity = 1;
    ana.teams = vec![id("sales"), id("support")];
    f.inbox.provision_agent(&ana).await.unwrap();
    for a in ["ben", "cy", "sam", "ada"] {
        let mut other: Agent = f.store.agent(&f.acme(), &id(a)).await.unwrap();
        other.teams.clear();
        f.inbox.provision_agent(&other).await.unwrap();
    }
    // A sales customer waits: ana is offline.
    let waiting = arrives(&f, 1).await;
    assert_eq!(owner_of(&f, &waiting).await, None);
    // ana comes online through the store (no drain runs), and a drain
    // plans to give her the waiting conversation.
    online_through_the_store(&f, "ana").await;
    let current = f.store.conversation(&f.acme(), &waiting).await.unwrap();
    let drain = f
        .inbox
        .plan_placement(&current, &id("sales"))
        .await
        .unwrap()
        .expect("ana has room");
    // Meanwhile a support customer writes: the rule gives them to ana.
    f.advance(TimeDelta::minutes(1));
    let support = says(&f, "1002", "s1", "34651110000", "help").await;
    assert_eq!(owner_of(&f, &support).await, Some(id("ana")));
    // The drain planned before that must not commit.
    let err = f.store.commit(drain).await.unwrap_err();
    assert!(matches!(err, Error::Conflict(_)), "{err:?}");
    assert_within_capacity(&f, &[("ana", 1)]).await;
    assert_eq!(owner_of(&f, &waiting).await, None, "still waiting");
}
