//! A day of traffic through routing, with a fake clock: fairness of round
//! robin and capacity under least loaded, through the real `Inbox`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use chrono::TimeDelta;
use std::collections::BTreeMap;
use std::sync::Arc;

use common::{conversation, fixture, says};
use inbox_core::model::{Agent, ConversationStatus, Presence, Role};
use inbox_core::ports::{LoadScope, Store};
use inbox_core::routing::Routing;
use inbox_core::testing::Fixture;
use inbox_core::{Actor, AgentId, TeamId};
use inbox_store_memory::MemoryStore;

/// Deterministic pseudo-random numbers (xorshift), so the day is the same
/// every run.
struct Seeded(u64);

impl Seeded {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

async fn team_of(f: &Fixture, capacities: &[u32]) -> Vec<AgentId> {
    let sales = TeamId::new("sales").unwrap();
    // The fixture's own sales agents leave the team for this test.
    for a in ["ana", "ben", "sam"] {
        let mut agent = f
            .store
            .agent(&f.acme(), &AgentId::new(a).unwrap())
            .await
            .unwrap();
        agent.teams.retain(|t| t != &sales);
        f.inbox.provision_agent(&agent).await.unwrap();
    }
    let mut ids = Vec::new();
    for (i, cap) in capacities.iter().enumerate() {
        let id = AgentId::new(format!("agent{i}")).unwrap();
        let a = Agent::new(f.acme(), id.clone(), format!("Agent {i}"), Role::Agent)
            .in_team(sales.clone())
            .with_capacity(*cap);
        f.inbox.provision_agent(&a).await.unwrap();
        f.inbox
            .set_presence(&Actor::new(f.acme(), id.clone()), Presence::Online)
            .await
            .unwrap();
        ids.push(id);
    }
    ids
}

/// A fixture whose sales team is new agents of `capacities` (all online),
/// routed by `strategy`; returns the agents too.
async fn team_routed_by(strategy: &str, capacities: &[u32]) -> (Fixture, Vec<AgentId>) {
    let f = fixture().await;
    f.set_routing(&routing(strategy)).await.unwrap();
    let agents = team_of(&f, capacities).await;
    (f, agents)
}

fn routing(strategy: &str) -> Routing {
    Routing::from_yaml(&format!(
        "teams:\n  sales: {{ strategy: {strategy} }}\nrules:\n  - name: sales\n    then: [ {{ route_to_team: sales }}, {{ assign: {{}} }} ]\n"
    ))
    .unwrap()
}

#[tokio::test]
async fn round_robin_over_1000_conversations_and_7_agents_is_fair() {
    let (f, agents) = team_routed_by("round_robin", &[0; 7]).await;
    let mut owners: BTreeMap<AgentId, u32> = BTreeMap::new();
    for i in 0..1000 {
        // A day: one new customer every 86 seconds.
        f.advance(TimeDelta::seconds(86));
        let c = says(&f, &format!("w{i}"), &format!("3460{i:06}"), "hola").await;
        let owner = conversation(&f, &c).await.assignee.unwrap();
        *owners.entry(owner).or_default() += 1;
    }
    assert_eq!(owners.len(), agents.len());
    let max = owners.values().max().unwrap();
    let min = owners.values().min().unwrap();
    assert!(max - min <= 1, "{owners:?}");
}

#[tokio::test]
async fn least_loaded_never_exceeds_capacity_over_a_day() {
    let capacities = [2, 3, 4, 5, 6];
    let (f, agents) = team_routed_by("least_loaded", &capacities).await;
    let mut rng = Seeded(0x5eed_1234_abcd);
    let mut queued = 0;
    for i in 0..600 {
        f.advance(TimeDelta::seconds(144));
        let c = says(&f, &format!("w{i}"), &format!("3461{i:06}"), "hi").await;
        if conversation(&f, &c).await.assignee.is_none() {
            queued += 1;
        }
        // Agents resolve some of their conversations, and sometimes step
        // away and come back.
        let loads = f
            .store
            .agent_loads(&f.acme(), &LoadScope::Tenant)
            .await
            .unwrap();
        for (a, cap) in agents.iter().zip(capacities) {
            let load = loads.get(a).copied().unwrap_or(0);
            assert!(load <= cap, "{a} has {load} open, capacity {cap}");
        }
        let who = &agents[(rng.next() % agents.len() as u64) as usize];
        let actor = Actor::new(f.acme(), who.clone());
        match rng.next() % 10 {
            0..=5 => {
                let mine = f
                    .inbox
                    .list(&actor, &inbox_core::ViewQuery::new(inbox_core::View::Mine))
                    .await
                    .unwrap();
                if let Some(c) = mine.items.first() {
                    f.inbox
                        .set_status(&actor, &c.id, c.version, ConversationStatus::Resolved)
                        .await
                        .unwrap();
                }
            }
            6 => {
                f.inbox.set_presence(&actor, Presence::Away).await.unwrap();
            }
            _ => {
                f.inbox
                    .set_presence(&actor, Presence::Online)
                    .await
                    .unwrap();
            }
        }
    }
    // The day was busy enough that some customers waited in the queue.
    assert!(queued > 0);
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]

    /// The queue invariants of the routing suite (capacity never exceeded,
    /// nobody idle while a conversation waits, longest waiting first) over
    /// many random days.
    #[test]
    fn queues_stay_fair_whatever_the_day(seed in proptest::prelude::any::<u64>()) {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        rt.block_on(inbox_core::testing::conformance::queue_property(
            Arc::new(MemoryStore::new()) as Arc<dyn Store>,
            seed,
            150,
        ));
    }
}
