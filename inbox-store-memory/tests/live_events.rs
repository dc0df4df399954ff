//! Live events: what the Inbox commits reaches the memory bus's subscribers
//! of the right tenant, in order.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use futures::StreamExt;
use std::sync::Arc;
use std::time::Duration;

use inbox_core::ports::{BusItem, Conversations, Directory, EventBus, ManualClock, SequentialIds};
use inbox_core::testing::{Fixture, RecordingTransport};
use inbox_core::{EventKind, Inbox, InboxConfig, Ports, TenantId};
use inbox_store_memory::{MemoryEventBus, MemoryStore};

#[tokio::test]
async fn inbox_changes_are_published_live_per_tenant() {
    let bus = Arc::new(MemoryEventBus::new(64));
    let store = Arc::new(MemoryStore::new());
    // Provision through a fixture, then run an inbox on the real bus.
    let f = Fixture::new(store.clone()).await.unwrap();
    let inbox = Inbox::new(
        Ports {
            store,
            transport: Arc::new(RecordingTransport::new()),
            bus: bus.clone(),
            clock: Arc::new(ManualClock::new(Fixture::start())),
            ids: Arc::new(SequentialIds::starting_at(1000)),
        },
        InboxConfig::default(),
    );
    let mut acme = inbox.ports().bus.subscribe(&TenantId::new("acme").unwrap());
    let mut globex = bus.subscribe(&TenantId::new("globex").unwrap());

    inbox
        .ingest(f.text("1001", "w1", "34600000001", "hi"))
        .await
        .unwrap();
    let mut kinds = Vec::new();
    let mut seqs = Vec::new();
    while kinds.len() < 3 {
        match tokio::time::timeout(Duration::from_secs(5), acme.next())
            .await
            .unwrap()
        {
            Some(BusItem::Event(e)) => {
                kinds.push(e.kind.name());
                seqs.push(e.seq);
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(
        kinds,
        ["contact_created", "conversation_opened", "message_received"]
    );
    assert_eq!(seqs, [1, 2, 3]);
    // A refused claim publishes a live-only collision notice.
    let conv = inbox
        .list(
            &f.actor("sam"),
            &inbox_core::ViewQuery::new(inbox_core::View::All),
        )
        .await
        .unwrap()
        .items
        .remove(0);
    inbox.claim(&f.actor("ana"), &conv.id, 1).await.unwrap();
    inbox.claim(&f.actor("ben"), &conv.id, 1).await.unwrap_err();
    let mut saw_collision = false;
    for _ in 0..2 {
        if let Some(BusItem::Event(e)) = tokio::time::timeout(Duration::from_secs(5), acme.next())
            .await
            .unwrap()
        {
            if let EventKind::CollisionPrevented { agent, .. } = &e.kind {
                assert_eq!(agent.as_str(), "ben");
                assert_eq!(e.seq, 0, "live only");
                saw_collision = true;
            }
        }
    }
    assert!(saw_collision);
    // Nothing of acme reached globex.
    assert!(
        tokio::time::timeout(Duration::from_millis(100), globex.next())
            .await
            .is_err()
    );
}

mod per_agent {
    //! `Inbox::subscribe`: each agent's live events, decided from the
    //! events' scopes without reading the store.

    use super::*;
    use futures::Stream;
    use inbox_core::event::{Event, EventActor};
    use inbox_core::model::{Agent, Presence, Role};
    use inbox_core::permissions::can_view;
    use inbox_core::ports::{EventStream, Messages, Store};
    use inbox_core::routing::Routing;
    use inbox_core::testing::FaultyStore;
    use inbox_core::{Actor, AgentId, ConversationId, IngestOutcome, MessageId, TeamId};
    use std::collections::BTreeMap;

    const ROUTING: &str = "teams:\n  sales: { strategy: round_robin }\nrules:\n  - name: quotes\n    when: { all: [ { channel: sales }, { text: { contains: quote } } ] }\n    then: [ { route_to_team: sales }, { assign: {} } ]\n  - name: sales line\n    when: { channel: sales }\n    then: [ { route_to_team: sales } ]\n  - name: help\n    when: { text: { contains: help } }\n    then: [ { route_to_team: support } ]\n";

    /// The fixture's store and clock, seen by two inboxes on one memory
    /// bus (as two instances of a server): `writer` ingests, `watcher`
    /// serves the agents' live streams. Each reaches the store through its
    /// own counting wrapper.
    struct Live {
        f: Fixture,
        memory: Arc<MemoryStore>,
        bus: Arc<MemoryEventBus>,
        writer: Inbox,
        watcher: Inbox,
        reads: Arc<FaultyStore>,
    }

    async fn live(capacity: usize) -> Live {
        let memory = Arc::new(MemoryStore::new());
        let f = Fixture::new(memory.clone()).await.unwrap();
        let bus = Arc::new(MemoryEventBus::new(capacity));
        let inbox = |store: Arc<dyn Store>, ids: u64| {
            Inbox::new(
                Ports {
                    store,
                    transport: Arc::new(RecordingTransport::new()),
                    bus: bus.clone(),
                    clock: f.clock.clone(),
                    ids: Arc::new(SequentialIds::starting_at(ids)),
                },
                InboxConfig::default(),
            )
        };
        let writer = inbox(Arc::new(FaultyStore::new(memory.clone())), 1000);
        f.set_routing(&Routing::from_yaml(ROUTING).unwrap())
            .await
            .unwrap();
        let reads = Arc::new(FaultyStore::new(memory.clone()));
        let watcher = inbox(reads.clone(), 900_000);
        Live {
            f,
            memory,
            bus,
            writer,
            watcher,
            reads,
        }
    }

    fn total(calls: &BTreeMap<String, u64>) -> u64 {
        calls.values().sum()
    }

    /// A live-only, tenant-wide event every agent sees: the end of a test's
    /// events.
    fn sentinel(f: &Fixture) -> Event {
        Event::new(
            f.acme(),
            Fixture::start(),
            EventActor::System,
            EventKind::PresenceChanged {
                agent: AgentId::new("nobody").unwrap(),
                presence: Presence::Away,
            },
        )
    }

    /// The sequence numbers of the events a stream yields before the
    /// sentinel (`0` for other live-only events, `u64::MAX` for `Lagged`).
    async fn until_sentinel(stream: &mut (impl Stream<Item = BusItem> + Unpin)) -> Vec<u64> {
        let mut seqs = Vec::new();
        loop {
            match tokio::time::timeout(Duration::from_secs(5), stream.next())
                .await
                .expect("the sentinel within 5 s")
            {
                Some(BusItem::Event(e))
                    if matches!(e.kind, EventKind::PresenceChanged { .. }) && e.seq == 0 =>
                {
                    return seqs
                }
                Some(BusItem::Event(e)) => seqs.push(e.seq),
                Some(BusItem::Lagged(_)) => seqs.push(u64::MAX),
                None => panic!("the stream ended"),
            }
        }
    }

    /// 50 agents of mixed roles and teams subscribe; 100 customer messages
    /// arrive on two numbers, routed to sales (some assigned), to support or
    /// to no team. Each agent receives exactly the events `can_view` lets
    /// them see, and deciding it reads nothing from the store: the only
    /// reads are the 50 agents loaded when subscribing.
    #[tokio::test]
    async fn fifty_agents_see_what_they_may_of_100_messages_with_no_store_read() {
        let l = live(1 << 16).await;
        let (f, acme) = (&l.f, l.f.acme());
        for j in 0..45 {
            let role = if j % 5 == 0 {
                Role::Supervisor
            } else {
                Role::Agent
            };
            let mut agent = Agent::new(
                acme.clone(),
                AgentId::new(format!("a{j}")).unwrap(),
                "A",
                role,
            );
            for (k, team) in ["sales", "support"].into_iter().enumerate() {
                if j % 4 == k || j % 4 == 2 {
                    agent = agent.in_team(TeamId::new(team).unwrap());
                }
            }
            f.inbox.provision_agent(&agent).await.unwrap();
        }
        for a in ["ana", "ben"] {
            let agent = f
                .store
                .agent(&acme, &AgentId::new(a).unwrap())
                .await
                .unwrap();
            f.inbox
                .provision_agent(&agent.with_capacity(0))
                .await
                .unwrap();
            f.inbox
                .set_presence(&f.actor(a), Presence::Online)
                .await
                .unwrap();
        }
        let agents = l.memory.agents(&acme).await.unwrap();
        assert_eq!(agents.len(), 50);
        let before = l
            .memory
            .events_since(&acme, 0, 100_000)
            .await
            .unwrap()
            .len() as u64;

        let mut streams: Vec<(Agent, EventStream)> = Vec::new();
        for a in &agents {
            let actor = Actor::new(acme.clone(), a.id.clone());
            streams.push((a.clone(), l.watcher.subscribe(&actor).await.unwrap()));
        }
        let setup = l.reads.calls();
        assert_eq!(
            total(&setup),
            50,
            "one agent read per subscription: {setup:?}"
        );

        for i in 0..100u64 {
            let (pnid, text) = match i % 4 {
                0 => ("1001", "a quote please"),
                1 => ("1001", "hola"),
                2 => ("1002", "help!"),
                _ => ("1002", "hi"),
            };
            // 36 customers write twice, to the same conversation.
            let wa = format!("346{:08}", i % 64);
            l.writer
                .ingest(f.text(pnid, &format!("w{i}"), &wa, text))
                .await
                .unwrap();
        }
        l.bus.publish(&[sentinel(f)]).await.unwrap();

        let events = l.memory.events_since(&acme, before, 100_000).await.unwrap();
        let mut conversations: BTreeMap<ConversationId, _> = BTreeMap::new();
        for e in &events {
            if let Some(id) = &e.conversation {
                let c = l.memory.conversation(&acme, id).await.unwrap();
                conversations.insert(id.clone(), c);
            }
        }
        let teams: Vec<_> = conversations
            .values()
            .map(|c| (c.team.clone(), c.assignee.is_some()))
            .collect();
        assert!(teams.iter().any(|(t, _)| t.is_none()));
        assert!(teams.iter().any(|(_, owned)| *owned));
        let mut filtered = 0;
        for (agent, stream) in &mut streams {
            // No event changes a conversation's team or owner after the
            // change that emitted it: the conversations as they are now
            // are those each change left.
            let expected: Vec<u64> = events
                .iter()
                .filter(|e| {
                    e.conversation
                        .as_ref()
                        .is_none_or(|id| can_view(agent, &conversations[id]))
                })
                .map(|e| e.seq)
                .collect();
            let got = until_sentinel(stream).await;
            assert_eq!(got, expected, "{}", agent.id);
            if got.len() < events.len() {
                filtered += 1;
            }
        }
        assert!(
            filtered >= 20,
            "only {filtered} agents had events filtered out"
        );
        assert_eq!(
            l.reads.calls(),
            setup,
            "store reads for visibility while 50 agents received the events of 100 messages"
        );
    }

    /// Events of a conversation published without a scope (by hand here;
    /// the inbox and the stores stamp every one): a subscription gives them
    /// the one the conversation's earlier events carried (for a
    /// conversation the agent may see), and reads the conversation once
    /// otherwise.
    #[tokio::test]
    async fn events_without_a_scope_take_their_conversations_last_one() {
        let l = live(1024).await;
        let f = &l.f;
        let mut ana = l.watcher.subscribe(&f.actor("ana")).await.unwrap();
        let mut cy = l.watcher.subscribe(&f.actor("cy")).await.unwrap();
        let setup = total(&l.reads.calls());
        let before = l
            .memory
            .events_since(&f.acme(), 0, 1000)
            .await
            .unwrap()
            .len() as u64;
        // Seen on the bus: routed to sales.
        let IngestOutcome::Stored {
            conversation: seen, ..
        } = l
            .writer
            .ingest(f.text("1001", "w1", "34600000001", "hola"))
            .await
            .unwrap()
        else {
            panic!("stored")
        };
        let written = l
            .memory
            .events_since(&f.acme(), before, 1000)
            .await
            .unwrap();
        // Not seen (committed by an inbox on another bus): sales too.
        let (unseen, _) = f
            .customer_says("1001", "w2", "34600000002", "hola")
            .await
            .unwrap();
        assert_ne!(seen, unseen);
        let report = |c: &ConversationId, n: &str| {
            let mut e = Event::new(
                f.acme(),
                Fixture::start(),
                EventActor::System,
                EventKind::DeliveryInDoubt {
                    message: MessageId::new(n).unwrap(),
                },
            );
            e.conversation = Some(c.clone());
            e
        };
        l.bus
            .publish(&[
                report(&seen, "m1"),
                report(&unseen, "m2"),
                report(&unseen, "m3"),
                sentinel(f),
            ])
            .await
            .unwrap();
        // ana (sales) sees all; cy (support) only the new contact.
        let mut expected: Vec<u64> = written.iter().map(|e| e.seq).collect();
        expected.extend([0, 0, 0]);
        assert_eq!(until_sentinel(&mut ana).await, expected);
        let contact = written
            .iter()
            .find(|e| matches!(e.kind, EventKind::ContactCreated { .. }))
            .unwrap();
        assert_eq!(until_sentinel(&mut cy).await, [contact.seq]);
        // One read of the unseen conversation per subscription; none by
        // ana for the one whose events she saw. A subscription remembers
        // the scopes its events carried only for conversations its agent
        // may see: cy, who may not see that one, reads it once.
        assert_eq!(total(&l.reads.calls()) - setup, 3, "{:?}", l.reads.calls());
    }

    /// Delivery reports carry their conversation's scope (the store stamps
    /// them as it applies them): subscriptions decide them without a store
    /// read, even for a conversation none of whose events they saw.
    #[tokio::test]
    async fn delivery_reports_reach_subscribers_with_no_store_read() {
        let l = live(1024).await;
        let f = &l.f;
        let acme = f.acme();
        // Committed by an inbox on another bus: the watcher never sees
        // this conversation's events. Ana (sales) owns it.
        let (c, _) = f
            .customer_says("1001", "w1", "34600000001", "hola")
            .await
            .unwrap();
        f.claim_and_reply(&f.actor("ana"), &c, "hello", "k1")
            .await
            .unwrap();
        let reply = l
            .memory
            .messages(&acme, &c)
            .await
            .unwrap()
            .into_iter()
            .find(|m| m.direction == inbox_core::model::Direction::Outbound)
            .unwrap();
        let mut ana = l.watcher.subscribe(&f.actor("ana")).await.unwrap();
        let mut cy = l.watcher.subscribe(&f.actor("cy")).await.unwrap();
        let reads = l.reads.calls();
        let before = l.memory.events_since(&acme, 0, 1000).await.unwrap().len() as u64;
        let status = |s| inbox_core::InboundStatus {
            pricing: None,
            phone_number_id: "1001".into(),
            external_id: "wamid.out.1".into(),
            our_message_id: Some(reply.id.to_string()),
            recipient: Some("34600000001".into()),
            status: s,
            timestamp: Fixture::start(),
            error: None,
        };
        use inbox_core::model::DeliveryStatus::{Delivered, Read, Sent};
        let out = l
            .writer
            .ingest_statuses(vec![status(Sent), status(Delivered), status(Read)])
            .await;
        assert!(
            out.iter()
                .all(|o| matches!(o, Ok(IngestOutcome::StatusApplied { .. }))),
            "{out:?}"
        );
        l.bus.publish(&[sentinel(f)]).await.unwrap();
        let reports = l.memory.events_since(&acme, before, 1000).await.unwrap();
        assert_eq!(reports.len(), 3);
        let scope = inbox_core::Scope::of(&l.memory.conversation(&acme, &c).await.unwrap());
        assert!(
            reports.iter().all(|e| e.scope.as_ref() == Some(&scope)),
            "{reports:?}"
        );
        let seqs: Vec<u64> = reports.iter().map(|e| e.seq).collect();
        assert_eq!(until_sentinel(&mut ana).await, seqs, "the owner sees them");
        assert_eq!(
            until_sentinel(&mut cy).await,
            Vec::<u64>::new(),
            "support does not"
        );
        assert_eq!(
            l.reads.calls(),
            reads,
            "store reads while two subscribers decided three delivery reports"
        );
    }

    /// Role and team changes reach a running subscription: after a lag
    /// (with `Lagged` passed on) and at the first event once
    /// `AGENT_REFRESH` has passed; a deactivated agent's stream ends.
    #[tokio::test]
    async fn a_subscription_loads_its_agent_again_after_a_lag_or_a_while() {
        let l = live(8).await;
        let f = &l.f;
        let acme = f.acme();
        let mut cy = l.watcher.subscribe(&f.actor("cy")).await.unwrap();
        // cy moves to sales; a burst the stream cannot hold follows.
        let moved = f
            .store
            .agent(&acme, &AgentId::new("cy").unwrap())
            .await
            .unwrap();
        let mut moved = Agent {
            teams: Vec::new(),
            ..moved
        };
        moved = moved.in_team(TeamId::new("sales").unwrap());
        f.inbox.provision_agent(&moved).await.unwrap();
        for i in 0..4 {
            l.writer
                .ingest(f.text("1001", &format!("w{i}"), &format!("3460000000{i}"), "hola"))
                .await
                .unwrap();
        }
        let reads = total(&l.reads.calls());
        assert!(matches!(cy.next().await, Some(BusItem::Lagged(_))));
        assert_eq!(total(&l.reads.calls()), reads + 1, "the agent, again");
        // Now in sales: the next sales conversation reaches cy.
        l.writer
            .ingest(f.text("1001", "w9", "34600000009", "hola"))
            .await
            .unwrap();
        let got = until_sentinel_after(&l, &mut cy).await;
        assert!(got.len() >= 3, "{got:?}");
        // Back to support only, seen once AGENT_REFRESH has passed.
        let mut back = Agent {
            teams: Vec::new(),
            ..moved.clone()
        };
        back = back.in_team(TeamId::new("support").unwrap());
        f.inbox.provision_agent(&back).await.unwrap();
        f.clock
            .advance(chrono::TimeDelta::from_std(inbox_core::AGENT_REFRESH).unwrap());
        l.writer
            .ingest(f.text("1001", "w10", "34600000010", "hola"))
            .await
            .unwrap();
        let got = until_sentinel_after(&l, &mut cy).await;
        assert_eq!(got.len(), 1, "the contact only: {got:?}");
        // Deactivated: the stream ends at the next refresh.
        f.inbox
            .provision_agent(&Agent {
                active: false,
                ..back
            })
            .await
            .unwrap();
        f.clock
            .advance(chrono::TimeDelta::from_std(inbox_core::AGENT_REFRESH).unwrap());
        l.bus.publish(&[sentinel(f)]).await.unwrap();
        let end = tokio::time::timeout(Duration::from_secs(5), cy.next())
            .await
            .unwrap();
        assert!(end.is_none(), "{end:?}");
    }

    /// Publishes the sentinel, then what the stream yields before it.
    async fn until_sentinel_after(l: &Live, stream: &mut EventStream) -> Vec<u64> {
        l.bus.publish(&[sentinel(&l.f)]).await.unwrap();
        until_sentinel(stream).await
    }
}
