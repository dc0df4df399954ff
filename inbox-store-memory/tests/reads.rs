//! The reads an application makes through `Inbox` instead of the store:
//! the clock, agents, contacts, a conversation's state and where a resend
//! came from, with the same permission rules as every other read.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::TimeDelta;
use std::sync::Arc;

use inbox_core::model::{Direction, Message};
use inbox_core::ports::{Store, TransportError};
use inbox_core::testing::Fixture;
use inbox_core::{AgentId, Assignee, ContactId, Error, TeamId};
use inbox_store_memory::MemoryStore;

async fn fixture() -> Fixture {
    Fixture::new(Arc::new(MemoryStore::new()) as Arc<dyn Store>)
        .await
        .unwrap()
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
    let names: Vec<String> = f
        .inbox
        .agents(&ana)
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.id.to_string())
        .collect();
    assert_eq!(names.len(), 5, "{names:?}");
    assert!(!names.contains(&"gus".to_string()), "{names:?}");
    let gus = f.inbox.agents(&f.actor("gus")).await.unwrap();
    assert_eq!(gus.len(), 1);

    // A deactivated agent is refused, as for every action.
    let mut ben = f.inbox.me(&f.actor("ben")).await.unwrap();
    ben.active = false;
    f.inbox.provision_agent(&ben).await.unwrap();
    for refused in [
        f.inbox.me(&f.actor("ben")).await.map(|_| ()),
        f.inbox.agents(&f.actor("ben")).await.map(|_| ()),
    ] {
        assert!(
            matches!(refused, Err(Error::Forbidden { .. })),
            "{refused:?}"
        );
    }
    let unknown = inbox_core::Actor::new(f.acme(), AgentId::new("nobody").unwrap());
    assert!(matches!(
        f.inbox.me(&unknown).await,
        Err(Error::NotFound { .. })
    ));
}

#[tokio::test]
async fn contacts_by_id_within_the_tenant() {
    let f = fixture().await;
    f.customer_says("1001", "w1", "3460001", "hola")
        .await
        .unwrap();
    f.customer_says("2001", "g1", "1555001", "hello")
        .await
        .unwrap();
    let page = f
        .inbox
        .list(
            &f.actor("ana"),
            &inbox_core::ViewQuery::new(inbox_core::View::All),
        )
        .await
        .unwrap();
    let ids: Vec<ContactId> = page.items.iter().map(|c| c.contact.clone()).collect();
    assert_eq!(ids.len(), 1);
    let contacts = f.inbox.contacts(&f.actor("ana"), &ids).await.unwrap();
    assert_eq!(contacts.len(), 1);
    assert_eq!(contacts[0].identity.wa_id.as_deref(), Some("3460001"));
    // Another tenant's agent does not find them.
    assert!(f
        .inbox
        .contacts(&f.actor("gus"), &ids)
        .await
        .unwrap()
        .is_empty());
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
    f.inbox
        .transfer(
            &sam,
            &c,
            v,
            Assignee::Team(TeamId::new("sales").unwrap()),
            "for sales",
        )
        .await
        .unwrap();
    let state = f.inbox.conversation_state(&ana, &c).await.unwrap();
    assert!(state.version > v);
    assert!(matches!(
        f.inbox.conversation_state(&cy, &c).await,
        Err(Error::Forbidden { .. })
    ));
    assert!(matches!(
        f.inbox.conversation_state(&f.actor("gus"), &c).await,
        Err(Error::NotFound { .. })
    ));
}

#[tokio::test]
async fn a_resend_tells_where_it_came_from() {
    let f = fixture().await;
    let ana = f.actor("ana");
    let (c, _) = f
        .customer_says("1001", "w1", "3460001", "hola")
        .await
        .unwrap();
    let v = f.claim_and_reply(&ana, &c, "hi", "k1").await.unwrap();
    f.transport.fail_next(TransportError::InDoubt {
        code: None,
        message: "timed out after the request was sent".into(),
    });
    assert_eq!(f.inbox.dispatch(10).await.unwrap().in_doubt, 1);
    let original = outbound(&f, &c).await.remove(0);
    assert_eq!(f.inbox.resent_from(&ana, &original).await.unwrap(), None);
    let copy = f
        .inbox
        .resend(&ana, &c, v, &original.id, "k2")
        .await
        .unwrap()
        .message
        .unwrap();
    assert_eq!(
        f.inbox.resent_from(&ana, &copy).await.unwrap(),
        Some(original.id)
    );
}

async fn outbound(f: &Fixture, c: &inbox_core::ConversationId) -> Vec<Message> {
    let detail = f.inbox.conversation(&f.actor("ana"), c).await.unwrap();
    detail
        .messages
        .into_iter()
        .filter(|m| m.direction == Direction::Outbound)
        .collect()
}
