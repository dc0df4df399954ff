//! The reads an application makes through `Inbox` instead of the store:
//! the clock, agents, contacts, a conversation's state and where a resend
//! came from, with the same permission rules as every other read.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::TimeDelta;
use std::sync::Arc;

use inbox_core::ports::{Store, TransportError};
use inbox_core::testing::Fixture;
use inbox_core::{Actor, AgentId, Assignee, ContactId, Error, Reply, TeamId, View, ViewQuery};
use inbox_store_memory::MemoryStore;

/// The code of an error that must be one.
fn code<T: std::fmt::Debug>(r: Result<T, Error>) -> &'static str {
    r.unwrap_err().code()
}

async fn fixture() -> Fixture {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    Fixture::new(store).await.unwrap()
}

#[tokio::test]
async fn the_clock_is_the_inboxs() {
    let f = fixture().await;
    assert_eq!(f.inbox.now(), Fixture::start());
    f.advance(TimeDelta::minutes(5));
    assert_eq!(f.inbox.now(), Fixture::start() + TimeDelta::minutes(5));
    assert_eq!(f.inbox.clock().now(), f.inbox.now());
}

#[tokio::test]
async fn agents_see_themselves_and_their_tenants_agents_only() {
    let f = fixture().await;
    let ana = f.actor("ana");
    let me = f.inbox.me(&ana).await.unwrap();
    assert_eq!((me.id.as_str(), me.name.as_str()), ("ana", "Ana"));
    let mut names: Vec<String> = Vec::new();
    for a in f.inbox.agents(&ana).await.unwrap() {
        names.push(a.id.to_string());
    }
    names.sort();
    assert_eq!(names, ["ada", "ana", "ben", "cy", "sam"]);
    assert_eq!(f.inbox.agents(&f.actor("gus")).await.unwrap().len(), 1);

    // A deactivated agent is refused, as for every action.
    let mut ben = f.inbox.me(&f.actor("ben")).await.unwrap();
    ben.active = false;
    f.inbox.provision_agent(&ben).await.unwrap();
    assert_eq!(code(f.inbox.me(&f.actor("ben")).await), "forbidden");
    assert_eq!(code(f.inbox.agents(&f.actor("ben")).await), "forbidden");
    let unknown = Actor::new(f.acme(), AgentId::new("nobody").unwrap());
    assert_eq!(code(f.inbox.me(&unknown).await), "not_found");
}

#[tokio::test]
async fn contacts_by_id_within_the_tenant() {
    let f = fixture().await;
    for (number, wamid, customer) in [("1001", "w7", "3460007"), ("2001", "g7", "1555007")] {
        let said = f.customer_says(number, wamid, customer, "where is my order?");
        said.await.unwrap();
    }
    let all = ViewQuery::new(View::All);
    let page = f.inbox.list(&f.actor("ana"), &all).await.unwrap();
    let ids: Vec<ContactId> = page.items.iter().map(|c| c.contact.clone()).collect();
    assert_eq!(ids.len(), 1);
    let contacts = f.inbox.contacts(&f.actor("ana"), &ids).await.unwrap();
    assert_eq!(contacts.len(), 1);
    assert_eq!(contacts[0].identity.wa_id.as_deref(), Some("3460007"));
    // Another tenant's agent does not find them.
    let theirs = f.inbox.contacts(&f.actor("gus"), &ids).await.unwrap();
    assert!(theirs.is_empty(), "{theirs:?}");
}

#[tokio::test]
async fn a_conversations_state_only_for_who_may_see_it() {
    let f = fixture().await;
    let (c, _) = f
        .customer_says("1001", "w1", "3460001", "hola")
        .await
        .unwrap();
    let (ana, cy, sam) = (f.actor("ana"), f.actor("cy"), f.actor("sam"));
    let state = f.inbox.conversation_state(&cy, &c).await.unwrap();
    assert_eq!(state.id, c);

    // Sent to the sales queue: Cy (support) no longer sees it.
    let v = state.version;
    let sales = Assignee::Team(TeamId::new("sales").unwrap());
    f.inbox
        .transfer(&sam, &c, v, sales, "for sales")
        .await
        .unwrap();
    let state = f.inbox.conversation_state(&ana, &c).await.unwrap();
    assert!(state.version > v);
    assert_eq!(code(f.inbox.conversation_state(&cy, &c).await), "forbidden");
    assert_eq!(
        code(f.inbox.conversation_state(&f.actor("gus"), &c).await),
        "not_found"
    );
}

#[tokio::test]
async fn a_resend_tells_where_it_came_from() {
    let f = fixture().await;
    let ana = f.actor("ana");
    let (c, _) = f
        .customer_says("1001", "w1", "3460001", "hola")
        .await
        .unwrap();
    let v = f
        .inbox
        .claim(&ana, &c, 1)
        .await
        .unwrap()
        .conversation
        .version;
    let replied = f.inbox.reply(&ana, &c, v, Reply::text("hi", "k1")).await;
    let replied = replied.unwrap();
    let original = replied.message.unwrap();
    f.transport.fail_next(TransportError::InDoubt {
        code: None,
        message: "timed out after the request was sent".into(),
    });
    assert_eq!(f.inbox.dispatch(10).await.unwrap().in_doubt, 1);
    // A reply is no resend.
    assert_eq!(f.inbox.resent_from(&ana, &original).await.unwrap(), None);
    let v = replied.conversation.version;
    let resent = f.inbox.resend(&ana, &c, v, &original.id, "k2").await;
    let copy = resent.unwrap().message.unwrap();
    let from = f.inbox.resent_from(&ana, &copy).await.unwrap();
    assert_eq!(from, Some(original.id));
}
