//! Many tasks on several threads claiming and replying to the same
//! conversations at once.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use common::{fixture, says};
use inbox_core::model::Direction;
use inbox_core::testing::Fixture;
use inbox_core::{ConversationId, Error, Reply};

/// `n` conversations, each opened by a new customer whose number is
/// `prefix` and two digits.
async fn conversations(f: &Fixture, n: usize, prefix: &str) -> Vec<ConversationId> {
    let mut convs = Vec::new();
    for i in 0..n {
        convs.push(says(f, &format!("w{i}"), &format!("{prefix}{i:02}"), "hello").await);
    }
    convs
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_claims_and_replies_one_winner_no_lost_or_duplicated_message() {
    let f = Arc::new(fixture().await);
    let convs = conversations(&f, 20, "346100000").await;
    let agents = ["ana", "ben", "sam", "ada"];
    let mut tasks = Vec::new();
    for round in 0..3 {
        for agent in agents {
            for c in &convs {
                let f = f.clone();
                let c = c.clone();
                tasks.push(tokio::spawn(async move {
                    let actor = f.actor(agent);
                    let seen = f.version(&c).await.unwrap();
                    let claim = f.inbox.claim(&actor, &c, seen).await;
                    // Every agent also tries to answer, on what it saw last,
                    // with a key it may retry.
                    let seen = f.version(&c).await.unwrap();
                    let key = format!("{agent}-{c}-{round}");
                    let answer = || Reply::text(format!("answer from {agent}"), key.clone());
                    let reply = f.inbox.reply(&actor, &c, seen, answer()).await;
                    let retry = f.inbox.reply(&actor, &c, seen, answer()).await;
                    (agent, c, claim, reply, retry)
                }));
            }
        }
    }
    let mut winners: HashMap<ConversationId, HashSet<&str>> = HashMap::new();
    let mut accepted_replies = HashSet::new();
    for t in tasks {
        let (agent, c, claim, reply, retry) = t.await.unwrap();
        match claim {
            Ok(o) if !o.replayed => {
                winners.entry(c.clone()).or_default().insert(agent);
            }
            Ok(_) => {}
            Err(Error::AlreadyOwned { .. } | Error::Conflict(_)) => {}
            Err(e) => panic!("unexpected claim error: {e}"),
        }
        match (&reply, &retry) {
            (Ok(first), Ok(again)) => {
                let id = first.message.as_ref().unwrap().id.clone();
                assert_eq!(
                    again.message.as_ref().unwrap().id,
                    id,
                    "a retry returns the same reply"
                );
                accepted_replies.insert(id);
            }
            (Err(Error::Conflict(_) | Error::Forbidden { .. }), _) => {}
            other => panic!("unexpected reply outcome: {other:?}"),
        }
    }
    for c in &convs {
        let stored = f.store.conversation(&f.acme(), c).await.unwrap();
        let won = winners.get(c).cloned().unwrap_or_default();
        // The first claim or a claim-on-reply made the owner; never two
        // claims.
        assert!(won.len() <= 1, "{c}: {won:?}");
        let owner = stored.assignee.expect("someone owns it");
        if let Some(w) = won.iter().next() {
            assert_eq!(owner.as_str(), *w);
        }
    }
    // Every accepted reply is stored exactly once; nothing else is.
    let mut stored_replies = HashSet::new();
    for c in &convs {
        for m in f.store.messages(&f.acme(), c).await.unwrap() {
            if m.direction == Direction::Outbound {
                assert!(stored_replies.insert(m.id.clone()), "stored twice");
            }
        }
    }
    assert_eq!(stored_replies, accepted_replies);
    assert!(!accepted_replies.is_empty());
    // Delivered once each.
    while f.inbox.dispatch(50).await.unwrap().total() > 0 {}
    let sent: Vec<_> = f
        .transport
        .sent()
        .into_iter()
        .map(|s| s.request.message_id)
        .collect();
    assert_eq!(sent.len(), accepted_replies.len());
    assert_eq!(sent.into_iter().collect::<HashSet<_>>(), accepted_replies);
}

/// Many agents on several threads taking the reply lease and replying at
/// random: the lease never has two holders, and no two replies were sent
/// on the same view of the conversation (each reply saw the one before).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn leases_and_replies_never_collide() {
    use std::sync::Mutex;
    let f = Arc::new(fixture().await);
    let convs = conversations(&f, 4, "346200000").await;
    let holders: Arc<Vec<Mutex<Option<&'static str>>>> =
        Arc::new(convs.iter().map(|_| Mutex::new(None)).collect());
    let seen_versions: Arc<Mutex<Vec<(usize, u64)>>> = Arc::new(Mutex::new(Vec::new()));
    // The lease belongs to an agent, not to a task: one agent works one
    // conversation at a time (as in one browser tab), or one of their tasks
    // would release the lease another of theirs still relies on.
    let desks: Arc<Vec<tokio::sync::Mutex<()>>> = Arc::new(
        (0..4 * convs.len())
            .map(|_| tokio::sync::Mutex::new(()))
            .collect(),
    );
    let mut tasks = Vec::new();
    for (n, agent) in ["ana", "ben", "sam", "ada"].into_iter().enumerate() {
        for round in 0..25 {
            let (f, convs, holders, seen_versions, desks) = (
                f.clone(),
                convs.clone(),
                holders.clone(),
                seen_versions.clone(),
                desks.clone(),
            );
            tasks.push(tokio::spawn(async move {
                let i = (n * 7 + round * 3) % convs.len();
                let _desk = desks[n * convs.len() + i].lock().await;
                let c = &convs[i];
                let actor = f.actor(agent);
                match f.inbox.acquire_reply_lease(&actor, c).await {
                    Ok(_) => {
                        {
                            let mut h = holders[i].lock().unwrap();
                            assert!(
                                h.is_none() || *h == Some(agent),
                                "two holders: {h:?} and {agent}"
                            );
                            *h = Some(agent);
                        }
                        let seen = f.version(c).await.unwrap();
                        let key = format!("{agent}-{i}-{round}");
                        match f
                            .inbox
                            .reply(&actor, c, seen, Reply::text("answer", key))
                            .await
                        {
                            Ok(o) if !o.replayed => seen_versions.lock().unwrap().push((i, seen)),
                            Ok(_) => {}
                            Err(Error::Conflict(_)) => {}
                            Err(e) => panic!("{e}"),
                        }
                        *holders[i].lock().unwrap() = None;
                        f.inbox.release_reply_lease(&actor, c).await.unwrap();
                    }
                    Err(Error::LeaseHeld { holder, .. }) => assert_ne!(holder.as_str(), agent),
                    Err(e) => panic!("{e}"),
                }
            }));
        }
    }
    for t in tasks {
        t.await.unwrap();
    }
    let seen = seen_versions.lock().unwrap().clone();
    assert!(!seen.is_empty());
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(
        unique.len(),
        seen.len(),
        "two replies on the same view of a conversation"
    );
}
