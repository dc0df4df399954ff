//! Unread counts per agent through the inbox: what a conversation's
//! messages leave unread for each agent, opened with `mark_read`, never
//! counting the agent's own replies and notes, never moving back, scoped
//! by tenant and visibility.

use crate::testing::conformance::support::*;

/// What `who` has not read of conversation `c` (as stored now).
async fn unread_of(f: &Fixture, who: &'static str, c: &ConversationId) -> u32 {
    let conversation = stored(f, c).await;
    let counts = f.inbox.unread(&f.actor(who), &[conversation]).await;
    counts.unwrap()[c]
}

/// (ana's, ben's) unread counts of `c`.
async fn both(f: &Fixture, c: &ConversationId) -> (u32, u32) {
    (unread_of(f, "ana", c).await, unread_of(f, "ben", c).await)
}

/// A customer's message is unread for every agent until each opens it;
/// an agent's own notes, replies and handoff notes are never unread for
/// them, and are for everyone else.
pub(crate) async fn unread_counts_are_per_agent_and_skip_ones_own<
    S: Store + AsDynStore + ?Sized,
>(
    store: Arc<S>,
) {
    let (f, c) = opened(store, "34611000001", "hola").await;
    let (ana, ben) = (f.actor("ana"), f.actor("ben"));
    assert_eq!(both(&f, &c).await, (1, 1), "never opened: all of it");
    assert_eq!(f.inbox.mark_read(&ana, &c).await.unwrap(), 1);
    assert_eq!(both(&f, &c).await, (0, 1));
    let v = f.version(&c).await.unwrap();
    f.inbox.note(&ana, &c, v, "VIP", "n1").await.unwrap();
    assert_eq!(both(&f, &c).await, (0, 2), "ana's note is ben's to read");
    let v = claim_now(&f, &ana, &c).await;
    f.inbox.reply(&ana, &c, v, reply("hi", "r1")).await.unwrap();
    assert_eq!(both(&f, &c).await, (0, 3));
    // The same reply again (replayed) writes nothing and counts nothing.
    f.inbox.reply(&ana, &c, v, reply("hi", "r1")).await.unwrap();
    assert_eq!(both(&f, &c).await, (0, 3));
    let v = f.version(&c).await.unwrap();
    f.inbox.note(&ben, &c, v, "on it", "n2").await.unwrap();
    assert_eq!(both(&f, &c).await, (1, 0), "ben's note: read by him");
    says(&f, "1001", "w2", "34611000001", "gracias").await;
    assert_eq!(both(&f, &c).await, (2, 1));
    let v = f.version(&c).await.unwrap();
    let to_ben = f.inbox.transfer(&ana, &c, v, agent("ben"), "yours now");
    to_ben.await.unwrap();
    assert_eq!(both(&f, &c).await, (0, 2), "ana's handoff note");
    assert_eq!(stored(&f, &c).await.message_count, 6);
    // A page at once: every conversation the agent sees has an entry.
    let other = says(&f, "1001", "w3", "34611000002", "hello").await;
    let page = f
        .inbox
        .list(&ben, &ViewQuery::new(View::All))
        .await
        .unwrap();
    let counts = f.inbox.unread(&ben, &page.items).await.unwrap();
    let expected = [(c.clone(), 2), (other, 1)];
    assert_eq!(counts, expected.into_iter().collect());
}

/// A marker never moves back: a stale mark (an older tab) changes
/// nothing, and a count never goes below zero.
pub(crate) async fn read_markers_never_go_back<S: Store + AsDynStore + ?Sized>(store: Arc<S>) {
    let (f, c) = opened(store, "34611000003", "uno").await;
    let ana = f.actor("ana");
    assert_eq!(f.inbox.mark_read(&ana, &c).await.unwrap(), 1);
    says(&f, "1001", "w2", "34611000003", "dos").await;
    says(&f, "1001", "w3", "34611000003", "tres").await;
    assert_eq!(unread_of(&f, "ana", &c).await, 2);
    assert_eq!(f.inbox.mark_read(&ana, &c).await.unwrap(), 3);
    let store = &f.store;
    let (acme, ana_id) = (f.acme(), ana.agent.clone());
    assert_eq!(store.mark_read(&acme, &ana_id, &c, 1).await.unwrap(), 3);
    assert_eq!(unread_of(&f, "ana", &c).await, 0);
    // A marker ahead of the count (as stored by another instance that saw
    // more) reads as nothing unread.
    store.mark_read(&acme, &ana_id, &c, 10).await.unwrap();
    assert_eq!(unread_of(&f, "ana", &c).await, 0);
    assert_eq!(f.inbox.mark_read(&ana, &c).await.unwrap(), 10);
}

/// Another tenant can neither mark nor read acme's conversations; an
/// agent who may not see a conversation cannot mark it and gets no count
/// for it.
pub(crate) async fn unread_is_scoped_by_tenant_and_visibility<S: Store + AsDynStore + ?Sized>(
    store: Arc<S>,
) {
    let (f, c) = opened(store, "34611000004", "hola").await;
    let (gus, cy, sam) = (f.actor("gus"), f.actor("cy"), f.actor("sam"));
    assert_eq!(refused(f.inbox.mark_read(&gus, &c).await), "not_found");
    let conversation = stored(&f, &c).await;
    let theirs = f.inbox.unread(&gus, std::slice::from_ref(&conversation));
    assert!(theirs.await.unwrap().is_empty());
    let v = f.version(&c).await.unwrap();
    f.inbox
        .assign(&sam, &c, v, team("sales"), "route")
        .await
        .unwrap();
    let routed = stored(&f, &c).await;
    assert_eq!(refused(f.inbox.mark_read(&cy, &c).await), "forbidden");
    let hidden = f.inbox.unread(&cy, std::slice::from_ref(&routed));
    assert!(hidden.await.unwrap().is_empty(), "cy is not in sales");
    assert_eq!(unread_of(&f, "sam", &c).await, 1);
    assert_eq!(unread_of(&f, "ana", &c).await, 1, "nobody marked anything");
    let none = ConversationId::new("no-such").unwrap();
    assert_eq!(refused(f.inbox.mark_read(&sam, &none).await), "not_found");
}
