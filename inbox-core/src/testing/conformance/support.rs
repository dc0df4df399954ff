//! What the suites share: a prelude of the types they use, and builders of
//! the data they store (two tenants with their channels, contacts,
//! conversations, messages, events and dead letters at fixed times).

pub(crate) use chrono::{DateTime, TimeDelta, TimeZone, Utc};
pub(crate) use futures_util::future::join_all;
pub(crate) use std::collections::{BTreeMap, BTreeSet, HashSet};
pub(crate) use std::sync::Arc;
pub(crate) use std::time::Duration;

pub(crate) use crate::error::{Change, Entity, Error, Unique};
pub(crate) use crate::event::{Event, EventActor, EventKind, Scope};
pub(crate) use crate::ids::*;
pub(crate) use crate::inbound::{InboundEvent, InboundRefusal, InboundStatus, IngestOutcome};
pub(crate) use crate::inbox::{Actor, Assignee, InboxConfig, ReopenPolicy, Reply, View, ViewQuery};
pub(crate) use crate::model::*;
pub(crate) use crate::ports::*;
pub(crate) use crate::query::{
    page_in_memory, AssigneeFilter, ConversationFilter, ConversationQuery, SortOrder, VisibleTo,
};
pub(crate) use crate::testing::{id, FaultyStore, Fixture};

pub(crate) fn t(s: &str) -> TenantId {
    TenantId::new(s).unwrap()
}

pub(crate) fn at(minutes: i64) -> DateTime<Utc> {
    Fixture::start() + TimeDelta::minutes(minutes)
}

pub(crate) async fn setup_tenants<S: Store + ?Sized>(store: &S) {
    for name in ["acme", "globex"] {
        store
            .upsert_tenant(&Tenant::new(t(name), name))
            .await
            .unwrap();
    }
    for (tenant, ch, pnid) in [
        ("acme", "sales", "1001"),
        ("acme", "support", "1002"),
        ("globex", "main", "2001"),
    ] {
        store
            .upsert_channel(&Channel::new(
                t(tenant),
                ChannelId::new(ch).unwrap(),
                pnid,
                pnid,
            ))
            .await
            .unwrap();
    }
}

pub(crate) fn contact(tenant: &str, id: &str, wa: &str) -> Contact {
    let id = ContactId::new(id).unwrap();
    Contact::new(t(tenant), id, ContactIdentity::wa(wa), at(0))
}

pub(crate) fn conversation(tenant: &str, id: &str, channel: &str, contact: &str) -> Conversation {
    let mut c = Conversation::new(
        t(tenant),
        ConversationId::new(id).unwrap(),
        ChannelId::new(channel).unwrap(),
        ContactId::new(contact).unwrap(),
        at(0),
    );
    c.version = 1;
    c
}

pub(crate) fn inbound(c: &Conversation, id: &str, ext: &str) -> Message {
    Message {
        tenant: c.tenant.clone(),
        id: MessageId::new(id).unwrap(),
        conversation: c.id.clone(),
        channel: c.channel.clone(),
        direction: Direction::Inbound,
        author: Author::Customer(c.contact.clone()),
        content: Content::text(format!("hello {id}")),
        external_id: Some(ext.to_string()),
        idempotency_key: None,
        context: ReplyContext::default(),
        mentions: vec![],
        sent_at: at(0),
        created_at: at(0),
        delivery: None,
        response: None,
        origin: Default::default(),
    }
}

pub(crate) fn outbound(c: &Conversation, id: &str, key: &str) -> Message {
    Message {
        direction: Direction::Outbound,
        author: Author::Agent(AgentId::new("ana").unwrap()),
        external_id: None,
        idempotency_key: Some(key.to_string()),
        delivery: Some(DeliveryState::pending(at(0))),
        ..inbound(c, id, "unused")
    }
}

pub(crate) fn ev(c: &Conversation, kind: EventKind) -> Event {
    Event::new(c.tenant.clone(), at(0), EventActor::System, kind).on(&c.id, c.version)
}

pub(crate) fn received(c: &Conversation, m: &str) -> Event {
    ev(
        c,
        EventKind::MessageReceived {
            message: MessageId::new(m).unwrap(),
            content: "text".into(),
        },
    )
}

/// Creates contact `k1` and conversation `c1` in `acme` on `sales`, with
/// one inbound message `m1` (external id `wamid.1`).
pub(crate) async fn seed<S: Store + ?Sized>(store: &S) -> Conversation {
    setup_tenants(store).await;
    let c = conversation("acme", "c1", "sales", "k1");
    store
        .commit(Changeset {
            contact: Some(insert(contact("acme", "k1", "34600000001"))),
            conversation: Some(insert(c.clone())),
            messages: vec![inbound(&c, "m1", "wamid.1")],
            events: vec![received(&c, "m1")],
            ..Changeset::new(t("acme"))
        })
        .await
        .unwrap();
    c
}

/// The conversation a customer's text opens or continues.
pub(crate) async fn says(
    f: &Fixture,
    pnid: &str,
    external_id: &str,
    wa_id: &str,
    body: &str,
) -> ConversationId {
    let said = f.customer_says(pnid, external_id, wa_id, body).await;
    said.unwrap().0
}

/// A fixture in which a customer (`wa_id`) wrote `body` to `acme`'s sales
/// number (external id `w1`), and the conversation it opened.
pub(crate) async fn opened<S: Store + AsDynStore + ?Sized>(
    store: Arc<S>,
    wa_id: &str,
    body: &str,
) -> (Fixture, ConversationId) {
    let f = fixture(store).await;
    let c = says(&f, "1001", "w1", wa_id, body).await;
    (f, c)
}

/// The conversation customer number `n` (`{wa_prefix}{n}`, external id
/// `w{n}`) opens or continues on `acme`'s sales number.
pub(crate) async fn nth_says(f: &Fixture, n: usize, wa_prefix: &str, body: &str) -> ConversationId {
    says(
        f,
        "1001",
        &format!("w{n}"),
        &format!("{wa_prefix}{n}"),
        body,
    )
    .await
}

/// The conversation an inbound event of `acme` was stored in; panics if
/// it was not stored.
pub(crate) async fn ingested(f: &Fixture, event: InboundEvent) -> ConversationId {
    match f.inbox.ingest(event).await.unwrap() {
        IngestOutcome::Stored { conversation, .. } => conversation,
        other => panic!("{other:?}"),
    }
}

/// A conversation of `acme` as stored.
pub(crate) async fn stored(f: &Fixture, c: &ConversationId) -> Conversation {
    f.store.conversation(&f.acme(), c).await.unwrap()
}

/// The messages of a conversation of `acme`, oldest first.
pub(crate) async fn messages_of(f: &Fixture, c: &ConversationId) -> Vec<Message> {
    f.store.messages(&f.acme(), c).await.unwrap()
}

/// The events of a conversation of `acme`, oldest first.
pub(crate) async fn events_of(f: &Fixture, c: &ConversationId) -> Vec<Event> {
    f.store.conversation_events(&f.acme(), c, 0).await.unwrap()
}

/// How many events of a conversation of `acme` are of the kind `is` picks.
pub(crate) async fn count_events(
    f: &Fixture,
    c: &ConversationId,
    is: impl Fn(&EventKind) -> bool,
) -> usize {
    events_of(f, c).await.iter().filter(|e| is(&e.kind)).count()
}

/// The code of the error an action was refused with; panics if it was not.
pub(crate) fn refused<T: std::fmt::Debug>(result: Result<T, Error>) -> &'static str {
    result.unwrap_err().code()
}

/// An agent of `acme` as an assignee.
pub(crate) fn agent(name: &str) -> Assignee {
    Assignee::Agent(id(name))
}

/// A team of `acme` as an assignee.
pub(crate) fn team(name: &str) -> Assignee {
    Assignee::Team(id(name))
}

/// `h` hours after the fixture's start.
pub(crate) fn hours(h: i64) -> DateTime<Utc> {
    Fixture::start() + TimeDelta::hours(h)
}

/// What a tick at `now` (up to 100 timers) did.
pub(crate) async fn tick(f: &Fixture, now: DateTime<Utc>) -> crate::inbox::TickReport {
    f.inbox.tick(now, 100).await.unwrap()
}

/// Every item of a paged listing, following its cursors from the first
/// page: `page` fetches the page after a cursor and returns its items and
/// the next cursor.
pub(crate) async fn every_page<T, F, Fut>(mut page: F) -> Vec<T>
where
    F: FnMut(Option<crate::query::Cursor>) -> Fut,
    Fut: std::future::Future<Output = (Vec<T>, Option<crate::query::Cursor>)>,
{
    let (mut seen, mut after) = (Vec::new(), None);
    loop {
        let (items, next) = page(after).await;
        seen.extend(items);
        match next {
            Some(n) => after = Some(n),
            None => return seen,
        }
    }
}

/// `actor` claims a conversation on its current version; the version
/// after.
pub(crate) async fn claim_now(f: &Fixture, actor: &Actor, c: &ConversationId) -> u64 {
    let v = f.version(c).await.unwrap();
    let claimed = f.inbox.claim(actor, c, v).await.unwrap();
    claimed.conversation.version
}

/// `actor` replies `body` (idempotency key `key`) on a conversation's
/// current version.
pub(crate) async fn reply_now(
    f: &Fixture,
    actor: &Actor,
    c: &ConversationId,
    body: &str,
    key: &str,
) {
    let v = f.version(c).await.unwrap();
    f.inbox.reply(actor, c, v, reply(body, key)).await.unwrap();
}

/// `actor` sets a conversation's status on its current version.
pub(crate) async fn set_status_now(
    f: &Fixture,
    actor: &Actor,
    c: &ConversationId,
    status: ConversationStatus,
) {
    let v = f.version(c).await.unwrap();
    f.inbox.set_status(actor, c, v, status).await.unwrap();
}

/// Puts an agent of `acme` online.
pub(crate) async fn online(f: &Fixture, agent: &'static str) {
    let actor = f.actor(agent);
    f.inbox
        .set_presence(&actor, Presence::Online)
        .await
        .unwrap();
}

/// Changes an agent of `acme` as `edit` says, through the inbox.
pub(crate) async fn edit_agent(f: &Fixture, agent: &str, edit: impl FnOnce(&mut Agent)) {
    let id = AgentId::new(agent).unwrap();
    let mut a = f.store.agent(&f.acme(), &id).await.unwrap();
    edit(&mut a);
    f.inbox.provision_agent(&a).await.unwrap();
}

/// Who owns a conversation of `acme`.
pub(crate) async fn owner_of(f: &Fixture, c: &ConversationId) -> Option<AgentId> {
    f.store.conversation(&f.acme(), c).await.unwrap().assignee
}

/// The events of `acme`, oldest first.
pub(crate) async fn events(f: &Fixture) -> Vec<Event> {
    f.store.events_since(&f.acme(), 0, 10_000).await.unwrap()
}

/// The message of `agent`'s text reply to a conversation seen at
/// `version`.
pub(crate) async fn replied(
    f: &Fixture,
    agent: &'static str,
    c: &ConversationId,
    version: u64,
    body: &str,
    key: &str,
) -> Message {
    let out = f
        .inbox
        .reply(&f.actor(agent), c, version, reply(body, key))
        .await;
    out.unwrap().message.unwrap()
}

/// What is already stored, if `err` is a duplicate of `what`; panics
/// otherwise.
pub(crate) fn expect_duplicate(err: &Error, what: Unique) -> &str {
    match err {
        Error::Duplicate { what: w, existing } if *w == what => existing,
        other => panic!("expected a duplicate {what}, got {other}"),
    }
}

/// A write that a changeset of its own can carry.
pub(crate) trait Alone {
    /// A changeset of `tenant` with this write and nothing else.
    fn alone_in(self, tenant: TenantId) -> Changeset;
}

/// Implements [`Alone`] for the writes of the named changeset fields.
macro_rules! alone {
    ($($field:ident: $type:ty),*) => {$(
        impl Alone for Write<$type> {
            fn alone_in(self, tenant: TenantId) -> Changeset {
                Changeset { $field: Some(self), ..Changeset::new(tenant) }
            }
        }
    )*};
}

alone!(conversation: Conversation, contact: Contact);

/// Commits a write alone, in `tenant`.
pub(crate) async fn commit_alone<S: Store + ?Sized>(
    store: &S,
    tenant: TenantId,
    write: impl Alone,
) -> Result<Committed, Error> {
    store.commit(write.alone_in(tenant)).await
}

/// An insert of `value`.
pub(crate) fn insert<T>(value: T) -> Write<T> {
    Write {
        value,
        expected_version: None,
    }
}

pub(crate) fn bump(c: &Conversation) -> Conversation {
    let mut n = c.clone();
    n.version += 1;
    n
}

pub(crate) fn update(c: &Conversation) -> Write<Conversation> {
    Write {
        value: bump(c),
        expected_version: Some(c.version),
    }
}

pub(crate) async fn fixture<S: Store + AsDynStore + ?Sized>(store: Arc<S>) -> Fixture {
    Fixture::new(store.as_dyn()).await.unwrap()
}

pub(crate) fn reply(body: &str, key: &str) -> Reply {
    Reply::text(body, key)
}

pub(crate) async fn seed_reply<S: Store + ?Sized>(store: &S) -> (Conversation, MessageId) {
    let c = seed(store).await;
    let c2 = bump(&c);
    let r = outbound(&c2, "r1", "key-1");
    store
        .commit(Changeset {
            conversation: Some(update(&c)),
            outbox: vec![OutboxEntry {
                tenant: t("acme"),
                message: r.id.clone(),
                not_before: at(0),
                attempts: 0,
            }],
            messages: vec![r.clone()],
            ..Changeset::new(t("acme"))
        })
        .await
        .unwrap();
    (c2, r.id)
}

pub(crate) fn delivery(status: DeliveryStatus, minute: i64, ext: Option<&str>) -> MessageMutation {
    MessageMutation::Delivery {
        update: DeliveryUpdate {
            pricing: None,
            status,
            at: at(minute),
            error: None,
        },
        external_id: ext.map(str::to_string),
    }
}

pub(crate) fn too_old() -> InboundRefusal {
    InboundRefusal::TimestampTooOld {
        timestamp: -99_999_999_999,
    }
}

pub(crate) fn letter(
    n: &str,
    tenant: Option<&str>,
    pnid: Option<&str>,
    raw: &str,
    minute: i64,
) -> DeadLetter {
    DeadLetter {
        id: id(n),
        tenant: tenant.map(id),
        channel: tenant.map(|_| id("sales")),
        phone_number_id: pnid.map(str::to_string),
        source: "test".into(),
        raw: raw.to_string(),
        reason: too_old(),
        received_at: at(minute),
        replayed_at: None,
        last_replay: None,
    }
}

pub(crate) fn ids(letters: &[DeadLetter]) -> Vec<&str> {
    letters.iter().map(|l| l.id.as_str()).collect()
}
