//! Property tests of the inbox's invariants on the memory store.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::TimeDelta;
use proptest::prelude::*;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use inbox_core::model::{ConversationStatus, Direction};
use inbox_core::ports::Store;
use inbox_core::testing::Fixture;
use inbox_core::{AgentId, Assignee, ConversationId, EventKind, IngestOutcome, Reply, TeamId};
use inbox_store_memory::MemoryStore;

fn run<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime")
        .block_on(f)
}

async fn fixture() -> Fixture {
    Fixture::new(Arc::new(MemoryStore::new()) as Arc<dyn Store>)
        .await
        .expect("fixture")
}

const AGENTS: [&str; 5] = ["ana", "ben", "cy", "sam", "ada"];

#[derive(Debug, Clone)]
enum Op {
    Claim {
        agent: usize,
        conv: usize,
        stale: bool,
    },
    AssignTo {
        by: usize,
        conv: usize,
        to: usize,
        stale: bool,
    },
    AssignTeam {
        by: usize,
        conv: usize,
        team: bool,
    },
    Release {
        by: usize,
        conv: usize,
    },
    Transfer {
        by: usize,
        conv: usize,
        to: usize,
    },
    Resolve {
        by: usize,
        conv: usize,
    },
    CustomerWrites {
        conv: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let a = 0..AGENTS.len();
    let c = 0..3usize;
    prop_oneof![
        (a.clone(), c.clone(), any::<bool>()).prop_map(|(agent, conv, stale)| Op::Claim {
            agent,
            conv,
            stale
        }),
        (a.clone(), c.clone(), a.clone(), any::<bool>()).prop_map(|(by, conv, to, stale)| {
            Op::AssignTo {
                by,
                conv,
                to,
                stale,
            }
        }),
        (a.clone(), c.clone(), any::<bool>()).prop_map(|(by, conv, team)| Op::AssignTeam {
            by,
            conv,
            team
        }),
        (a.clone(), c.clone()).prop_map(|(by, conv)| Op::Release { by, conv }),
        (a.clone(), c.clone(), a.clone()).prop_map(|(by, conv, to)| Op::Transfer { by, conv, to }),
        (a, c.clone()).prop_map(|(by, conv)| Op::Resolve { by, conv }),
        c.prop_map(|conv| Op::CustomerWrites { conv }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// At most one owner: whatever agents do, in whatever order and on
    /// whatever version, replaying the recorded ownership events gives the
    /// stored owner, and no claim ever succeeds while someone owns the
    /// conversation.
    #[test]
    fn at_most_one_owner(ops in prop::collection::vec(op(), 1..40)) {
        run(async {
            let f = fixture().await;
            let mut convs = Vec::new();
            for i in 0..3 {
                let (c, _) = f.customer_says("1001", &format!("w{i}"), &format!("3460000000{i}"), "hi").await.unwrap();
                convs.push(c);
            }
            let mut writes = 3;
            for op in ops {
                let version = |c: &ConversationId| {
                    let f = &f;
                    let c = c.clone();
                    async move { f.version(&c).await.unwrap() }
                };
                // Results are allowed to fail (forbidden, conflict ...);
                // the invariant is checked on what was stored.
                match op {
                    Op::Claim { agent, conv, stale } => {
                        let v = version(&convs[conv]).await;
                        let _ = f.inbox.claim(&f.actor(AGENTS[agent]), &convs[conv], if stale { v.saturating_sub(1) } else { v }).await;
                    }
                    Op::AssignTo { by, conv, to, stale } => {
                        let v = version(&convs[conv]).await;
                        let target = Assignee::Agent(AgentId::new(AGENTS[to]).unwrap());
                        let _ = f.inbox.assign(&f.actor(AGENTS[by]), &convs[conv], if stale { v.saturating_sub(1) } else { v }, target, "prop").await;
                    }
                    Op::AssignTeam { by, conv, team } => {
                        let v = version(&convs[conv]).await;
                        let t = TeamId::new(if team { "sales" } else { "support" }).unwrap();
                        let _ = f.inbox.assign(&f.actor(AGENTS[by]), &convs[conv], v, Assignee::Team(t), "prop").await;
                    }
                    Op::Release { by, conv } => {
                        let v = version(&convs[conv]).await;
                        let _ = f.inbox.release(&f.actor(AGENTS[by]), &convs[conv], v, "prop").await;
                    }
                    Op::Transfer { by, conv, to } => {
                        let v = version(&convs[conv]).await;
                        let target = Assignee::Agent(AgentId::new(AGENTS[to]).unwrap());
                        let _ = f.inbox.transfer(&f.actor(AGENTS[by]), &convs[conv], v, target, "handing over").await;
                    }
                    Op::Resolve { by, conv } => {
                        let v = version(&convs[conv]).await;
                        let _ = f.inbox.set_status(&f.actor(AGENTS[by]), &convs[conv], v, ConversationStatus::Resolved).await;
                    }
                    Op::CustomerWrites { conv } => {
                        writes += 1;
                        let _ = f.inbox.ingest(f.text("1001", &format!("w{writes}"), &format!("3460000000{conv}"), "again")).await;
                    }
                }
            }
            for c in &convs {
                let stored = f.store.conversation(&f.acme(), c).await.unwrap();
                let mut owner: Option<AgentId> = None;
                for e in f.store.conversation_events(&f.acme(), c, 0).await.unwrap() {
                    match e.kind {
                        EventKind::Claimed { agent, .. } => {
                            prop_assert!(owner.is_none(), "claimed while owned by {owner:?}");
                            owner = Some(agent);
                        }
                        EventKind::Assigned { to, .. } | EventKind::Transferred { to, .. } => owner = to.agent,
                        EventKind::Released { agent, .. } => {
                            prop_assert_eq!(owner.as_ref(), Some(&agent));
                            owner = None;
                        }
                        _ => {}
                    }
                }
                prop_assert_eq!(owner, stored.assignee);
            }
            Ok(())
        })?;
    }

    /// Notes never reach the transport: whatever mix of notes and replies,
    /// the transport sends exactly the replies, once each.
    #[test]
    fn notes_never_reach_the_transport(kinds in prop::collection::vec(any::<bool>(), 1..25)) {
        run(async {
            let f = fixture().await;
            let (c, _) = f.customer_says("1001", "w1", "34600000001", "hi").await.unwrap();
            let mut replies = BTreeSet::new();
            for (i, is_note) in kinds.iter().enumerate() {
                let v = f.version(&c).await.unwrap();
                let body = format!("text {i}");
                if *is_note {
                    f.inbox.note(&f.actor("ana"), &c, v, &body, &format!("n{i}")).await.unwrap();
                } else {
                    f.inbox.reply(&f.actor("ana"), &c, v, Reply::text(body.clone(), format!("r{i}"))).await.unwrap();
                    replies.insert(body);
                }
                if i % 3 == 0 {
                    f.inbox.dispatch(5).await.unwrap();
                }
            }
            while f.inbox.dispatch(100).await.unwrap().total() > 0 {}
            let sent: Vec<String> = f.transport.sent().iter().map(|s| s.request.content.text_body().unwrap_or_default().to_string()).collect();
            prop_assert_eq!(sent.len(), replies.len());
            prop_assert_eq!(sent.into_iter().collect::<BTreeSet<_>>(), replies);
            let notes = f.store.messages(&f.acme(), &c).await.unwrap().into_iter().filter(|m| m.direction == Direction::Note).count();
            prop_assert_eq!(notes, kinds.iter().filter(|k| **k).count());
            Ok(())
        })?;
    }

    /// The same inbound event delivered N times, interleaved with others in
    /// any order, stores one message per external id.
    #[test]
    fn the_same_inbound_event_n_times_stores_one_message(
        deliveries in prop::collection::vec(0..6usize, 1..60)
    ) {
        run(async {
            let f = fixture().await;
            let mut firsts: HashMap<usize, inbox_core::MessageId> = HashMap::new();
            for msg in &deliveries {
                // Message `msg` always comes from the same customer.
                let customer = msg % 3;
                f.advance(TimeDelta::seconds(1));
                let out = f.inbox.ingest(f.text("1001", &format!("wamid.{msg}"), &format!("3460000000{customer}"), "hello")).await.unwrap();
                match out {
                    IngestOutcome::Stored { message, .. } => {
                        prop_assert!(firsts.insert(*msg, message.id).is_none(), "stored twice");
                    }
                    IngestOutcome::Duplicate { message } => prop_assert_eq!(Some(&message), firsts.get(msg)),
                    other => prop_assert!(false, "{other:?}"),
                }
            }
            let distinct: BTreeSet<usize> = deliveries.iter().copied().collect();
            let mut stored = 0;
            let page = f.inbox.list(&f.actor("sam"), &inbox_core::ViewQuery::new(inbox_core::View::All)).await.unwrap();
            for c in &page.items {
                stored += f.store.messages(&f.acme(), &c.id).await.unwrap().len();
            }
            prop_assert_eq!(stored, distinct.len());
            Ok(())
        })?;
    }
}
