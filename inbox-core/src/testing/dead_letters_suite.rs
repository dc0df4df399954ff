//! Conformance tests for dead letters ([`DeadLetters`]) and for the inbound
//! checks that decide what becomes one: every store must keep refused items
//! once each, scoped, newest first, and must never be handed an item it
//! cannot hold.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use futures_util::future::join_all;
use std::collections::BTreeSet;
use std::sync::Arc;

use super::{id, Fixture};
use crate::error::Error;
use crate::ids::ChannelId;
use crate::inbound::{InboundEvent, InboundRefusal, InboundStatus, IngestOutcome};
use crate::inbox::RefusedItem;
use crate::model::{Channel, ContactIdentity, Content, DeliveryStatus, ProviderError};
use crate::ports::{
    AsDynStore, DeadLetter, DeadLetterQuery, DeadLetterScope, InboundDecoder, ReplayOutcome, Store,
};

fn at(minutes: i64) -> DateTime<Utc> {
    Fixture::start() + TimeDelta::minutes(minutes)
}

fn too_old() -> InboundRefusal {
    InboundRefusal::TimestampTooOld {
        timestamp: -99_999_999_999,
    }
}

fn letter(n: &str, tenant: Option<&str>, pnid: Option<&str>, raw: &str, minute: i64) -> DeadLetter {
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

fn scope(tenant: &str, numbers: &[&str]) -> DeadLetterScope {
    DeadLetterScope {
        tenant: id(tenant),
        numbers: numbers.iter().map(|n| n.to_string()).collect(),
    }
}

fn ids(letters: &[DeadLetter]) -> Vec<&str> {
    letters.iter().map(|l| l.id.as_str()).collect()
}

/// A redelivered item with the same reason is recorded once, also when
/// many deliveries race; another reason, number or item is another letter.
pub async fn dead_letters_are_recorded_once_per_item_and_reason<S: Store + ?Sized>(store: Arc<S>) {
    let first = letter("dl-1", Some("acme"), Some("1001"), r#"{"m":1}"#, 0);
    let put = store.put_dead_letter(first.clone()).await.unwrap();
    assert!(put.created);
    assert_eq!(put.letter, first);
    // The same item and reason again, later, under another id.
    let again = store
        .put_dead_letter(letter("dl-2", Some("acme"), Some("1001"), r#"{"m":1}"#, 5))
        .await
        .unwrap();
    assert!(!again.created);
    assert_eq!(again.letter, first);
    // Another reason, another number, another item: new letters.
    let mut other_reason = letter("dl-3", Some("acme"), Some("1001"), r#"{"m":1}"#, 1);
    other_reason.reason = InboundRefusal::ControlCharacter {
        field: "content.body".into(),
    };
    let other_number = letter("dl-4", None, Some("9999"), r#"{"m":1}"#, 1);
    let other_item = letter("dl-5", Some("acme"), Some("1001"), r#"{"m":2}"#, 1);
    let no_number = letter("dl-6", None, None, r#"{"m":1}"#, 1);
    for l in [other_reason, other_number, other_item, no_number] {
        let put = store.put_dead_letter(l.clone()).await.unwrap();
        assert!(put.created, "{}", l.id);
        assert_eq!(put.letter, l);
    }
    // Concurrent deliveries of one new item: one letter.
    let puts = join_all((0..8).map(|i| {
        let store = store.clone();
        async move {
            store
                .put_dead_letter(letter(
                    &format!("race-{i}"),
                    Some("acme"),
                    Some("1001"),
                    r#"{"m":"race"}"#,
                    2,
                ))
                .await
                .unwrap()
        }
    }))
    .await;
    assert_eq!(puts.iter().filter(|p| p.created).count(), 1);
    let winners: BTreeSet<&str> = puts.iter().map(|p| p.letter.id.as_str()).collect();
    assert_eq!(winners.len(), 1);
    let page = store
        .dead_letters(
            &scope("acme", &["1001", "1002", "9999"]),
            &DeadLetterQuery::default(),
        )
        .await
        .unwrap();
    assert_eq!(page.items.len(), 5, "{:?}", ids(&page.items));
}

/// A tenant sees its letters and the tenantless ones of its numbers, newest
/// first (ties by id), page by page; nothing of another tenant, not even by
/// id.
pub async fn dead_letters_are_scoped_and_listed_newest_first<S: Store + ?Sized>(store: Arc<S>) {
    let letters = [
        letter("a-1", Some("acme"), Some("1001"), "1", 0),
        letter("a-2", Some("acme"), Some("1002"), "2", 3),
        letter("a-3", Some("acme"), Some("1001"), "3", 3),
        letter("o-1", None, Some("1002"), "4", 2),
        letter("o-2", None, Some("8888"), "5", 9),
        letter("o-3", None, None, "6", 9),
        letter("g-1", Some("globex"), Some("2001"), "7", 9),
    ];
    for l in &letters {
        assert!(store.put_dead_letter(l.clone()).await.unwrap().created);
    }
    let acme = scope("acme", &["1001", "1002"]);
    let all = store
        .dead_letters(&acme, &DeadLetterQuery::default())
        .await
        .unwrap();
    assert_eq!(ids(&all.items), ["a-2", "a-3", "o-1", "a-1"]);
    assert_eq!(all.next, None);
    // Page by page.
    let mut query = DeadLetterQuery {
        limit: 3,
        ..DeadLetterQuery::default()
    };
    let first = store.dead_letters(&acme, &query).await.unwrap();
    assert_eq!(ids(&first.items), ["a-2", "a-3", "o-1"]);
    query.after = first.next.clone();
    assert!(query.after.is_some());
    let second = store.dead_letters(&acme, &query).await.unwrap();
    assert_eq!(ids(&second.items), ["a-1"]);
    assert_eq!(second.next, None);
    // Exactly full pages say there is no more.
    let exact = store
        .dead_letters(
            &acme,
            &DeadLetterQuery {
                limit: 4,
                ..DeadLetterQuery::default()
            },
        )
        .await
        .unwrap();
    assert_eq!((exact.items.len(), exact.next), (4, None));
    // One by id; another tenant's or a foreign orphan's is not found.
    assert_eq!(
        store.dead_letter(&acme, &id("o-1")).await.unwrap(),
        letters[3]
    );
    for other in ["g-1", "o-2", "o-3", "nope"] {
        let err = store.dead_letter(&acme, &id(other)).await.unwrap_err();
        assert!(matches!(err, Error::NotFound { .. }), "{other}: {err}");
    }
    let globex = store
        .dead_letters(&scope("globex", &["2001"]), &DeadLetterQuery::default())
        .await
        .unwrap();
    assert_eq!(ids(&globex.items), ["g-1"]);
}

/// An update records a replay (tenant, reason, replayed_at, last replay)
/// and nothing else: the item, its arrival and the reason it is
/// deduplicated by stay; pending-only listings skip replayed letters.
pub async fn dead_letter_updates_keep_the_item<S: Store + ?Sized>(store: Arc<S>) {
    // Large, with escaped NULs and non-ASCII text, as a webhook item may be.
    let raw = format!(
        r#"{{"text":"nul \u0000 ñ 😀","pad":"{}"}}"#,
        "x".repeat(200_000)
    );
    let orphan = letter("u-1", None, Some("3001"), &raw, 0);
    let waiting = letter("u-2", None, Some("3001"), "other", 1);
    store.put_dead_letter(orphan.clone()).await.unwrap();
    store.put_dead_letter(waiting.clone()).await.unwrap();
    let acme = scope("acme", &["3001"]);
    assert_eq!(store.dead_letter(&acme, &id("u-1")).await.unwrap(), orphan);

    let mut replayed = orphan.clone();
    replayed.tenant = Some(id("acme"));
    replayed.channel = Some(id("sales"));
    replayed.reason = InboundRefusal::UnknownChannel {
        phone_number_id: "3001".into(),
    };
    replayed.replayed_at = Some(at(30));
    replayed.last_replay = Some(crate::ports::DeadLetterReplay {
        at: at(30),
        by: id("ada"),
        outcome: ReplayOutcome::Ingested {
            stored: vec![id("m-1")],
            duplicates: vec![],
            statuses: 0,
        },
    });
    let mut attempt = replayed.clone();
    attempt.raw = "tampered".into();
    attempt.received_at = at(99);
    attempt.source = "other".into();
    store.update_dead_letter(&attempt).await.unwrap();
    // Now the tenant's own: visible by tenant even without its numbers.
    let by_tenant = scope("acme", &[]);
    assert_eq!(
        store.dead_letter(&by_tenant, &id("u-1")).await.unwrap(),
        replayed
    );
    // The item is still deduplicated by the reason it was first kept for.
    let again = store
        .put_dead_letter(letter("u-3", None, Some("3001"), &raw, 40))
        .await
        .unwrap();
    assert!(!again.created);
    assert_eq!(again.letter.id.as_str(), "u-1");
    let pending = store
        .dead_letters(
            &acme,
            &DeadLetterQuery {
                pending_only: true,
                ..DeadLetterQuery::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(ids(&pending.items), ["u-2"]);
    let mut unknown = waiting.clone();
    unknown.id = id("u-404");
    assert!(matches!(
        store.update_dead_letter(&unknown).await.unwrap_err(),
        Error::NotFound { .. }
    ));
}

/// Through the inbox, every item a store could not hold as it is, or whose
/// timestamp WhatsApp cannot have sent, is refused with invalid input (never
/// a store failure) and changes nothing; the valid message after them is
/// stored, and the bad timestamps never reach the conversation's window or
/// waiting time.
pub async fn ingest_refuses_items_no_store_can_hold<S: Store + AsDynStore + ?Sized>(store: Arc<S>) {
    let f = Fixture::new(store.as_dyn()).await.unwrap();
    let now = f.inbox.ports().clock.now();
    let msg = |ext: &str, content: Content| f.inbound("1001", ext, "34611000001", content);
    let mut bad = Vec::new();
    bad.push(("long id", msg(&"x".repeat(600), Content::text("hi"))));
    bad.push(("nul text", msg("wamid.nul", Content::text("a\u{0}b"))));
    let mut m = msg("wamid.name", Content::text("hi"));
    m.profile_name = Some("Ma\u{0}rta".into());
    bad.push(("nul profile name", m));
    let mut m = msg("wamid.ref", Content::text("hi"));
    m.context.referral = Some(serde_json::json!({ "source\u{0}": "ad" }));
    bad.push(("nul key", m));
    let mut m = msg("wamid.sender", Content::text("hi"));
    m.from = ContactIdentity::wa("346\u{7}11");
    bad.push(("control character in wa_id", m));
    let mut m = msg("wamid.old", Content::text("hi"));
    m.timestamp = Utc.timestamp_opt(-99_999_999_999, 0).unwrap();
    bad.push(("year -1199", m));
    let mut m = msg("wamid.future", Content::text("hi"));
    m.timestamp = now + TimeDelta::days(2);
    bad.push(("two days ahead", m));
    let mut m = msg("wamid.pnid", Content::text("hi"));
    m.phone_number_id = "10\u{0}01".into();
    bad.push(("nul phone number id", m));
    for (what, m) in bad {
        let err = f.inbox.ingest(InboundEvent::Message(m)).await.unwrap_err();
        assert!(matches!(err, Error::InvalidInput { .. }), "{what}: {err:?}");
    }
    let status = |ext: &str| InboundStatus {
        phone_number_id: "1001".into(),
        external_id: ext.into(),
        our_message_id: None,
        recipient: None,
        status: DeliveryStatus::Failed,
        timestamp: now,
        error: None,
    };
    let mut nul_error = status("wamid.s1");
    nul_error.error = Some(ProviderError {
        code: Some(1),
        title: "bad\u{0}".into(),
        details: None,
    });
    let mut ahead = status("wamid.s2");
    ahead.timestamp = now + TimeDelta::days(2);
    for outcome in f.inbox.ingest_statuses(vec![nul_error, ahead]).await {
        assert!(
            matches!(outcome, Err(Error::InvalidInput { .. })),
            "{outcome:?}"
        );
    }
    assert!(f
        .store
        .events_since(&f.acme(), 0, 10)
        .await
        .unwrap()
        .is_empty());
    // A day of skew is accepted (and counted from now).
    let mut skewed = msg("wamid.ok", Content::text("hola"));
    skewed.timestamp = now + TimeDelta::hours(23);
    let IngestOutcome::Stored { conversation, .. } =
        f.inbox.ingest(InboundEvent::Message(skewed)).await.unwrap()
    else {
        panic!("not stored")
    };
    let c = f
        .store
        .conversation(&f.acme(), &conversation)
        .await
        .unwrap();
    assert_eq!(c.message_count, 1);
    assert_eq!(c.waiting_since, Some(now));
    assert_eq!(c.window_expires_at, Some(now + TimeDelta::hours(24)));
}

/// Decodes a raw item written as the JSON of an [`InboundEvent`].
struct JsonEvents;

impl InboundDecoder for JsonEvents {
    fn source(&self) -> &str {
        "test"
    }

    fn decode(
        &self,
        raw: &str,
        _received_at: DateTime<Utc>,
    ) -> Result<Vec<InboundEvent>, InboundRefusal> {
        serde_json::from_str(raw)
            .map(|e| vec![e])
            .map_err(InboundRefusal::malformed)
    }
}

/// Through the inbox: a refused item is kept once, belongs to the tenant of
/// its number (or, while no tenant has it, to whoever gets the number), is
/// listed and replayed by admins only, stays waiting with the new reason
/// while still refused, and is stored once its cause is gone.
pub async fn dead_letters_are_replayed_by_admins<S: Store + AsDynStore + ?Sized>(store: Arc<S>) {
    let f = Fixture::new(store.as_dyn()).await.unwrap();
    let ada = f.actor("ada");
    let now = f.inbox.ports().clock.now();
    let unknown_number = InboundEvent::Message(f.inbound(
        "3001",
        "wamid.early",
        "34611000009",
        Content::text("hello?"),
    ));
    let item = |event: &InboundEvent, reason: InboundRefusal| RefusedItem {
        source: "test".into(),
        phone_number_id: Some(event.phone_number_id().to_string()),
        raw: serde_json::to_string(event).unwrap(),
        reason,
        received_at: now,
    };
    let early = item(
        &unknown_number,
        InboundRefusal::UnknownChannel {
            phone_number_id: "3001".into(),
        },
    );
    let first = f.inbox.record_dead_letter(early.clone()).await.unwrap();
    assert!(first.created);
    assert_eq!(first.letter.tenant, None);
    // Redelivered: the same letter.
    let again = f.inbox.record_dead_letter(early).await.unwrap();
    assert_eq!((again.created, &again.letter.id), (false, &first.letter.id));
    let mut old = f.inbound("1001", "wamid.old", "34611000001", Content::text("hi"));
    old.timestamp = Utc.timestamp_opt(-99_999_999_999, 0).unwrap();
    let old = InboundEvent::Message(old);
    let still_bad = f
        .inbox
        .record_dead_letter(item(&old, too_old()))
        .await
        .unwrap()
        .letter;
    assert_eq!(still_bad.tenant, Some(f.acme()));
    assert_eq!(still_bad.channel, Some(f.channel("sales")));

    // Admins only; another tenant's admin does not see acme's.
    let q = DeadLetterQuery::default();
    for who in ["sam", "ana"] {
        let err = f.inbox.dead_letters(&f.actor(who), &q).await.unwrap_err();
        assert!(matches!(err, Error::Forbidden { .. }), "{who}: {err}");
    }
    let gus = f.actor("gus");
    assert!(f
        .inbox
        .dead_letters(&gus, &q)
        .await
        .unwrap()
        .items
        .is_empty());
    assert!(matches!(
        f.inbox
            .replay_dead_letter(&gus, &still_bad.id, &JsonEvents)
            .await
            .unwrap_err(),
        Error::NotFound { .. }
    ));
    // Before acme has number 3001 its admin sees only the letter of 1001.
    let listed = f.inbox.dead_letters(&ada, &q).await.unwrap();
    assert_eq!(ids(&listed.items), [still_bad.id.as_str()]);

    // Still refused: kept, waiting, with the reason of the replay.
    let replayed = f
        .inbox
        .replay_dead_letter(&ada, &still_bad.id, &JsonEvents)
        .await
        .unwrap();
    assert!(replayed.is_pending());
    assert_eq!(replayed.reason.code(), "timestamp_too_old");
    assert!(matches!(
        replayed.last_replay.as_ref().unwrap().outcome,
        ReplayOutcome::Refused { .. }
    ));

    // Acme gets number 3001: the early item is now its admin's to replay.
    f.inbox
        .provision_channel(&Channel::new(
            f.acme(),
            ChannelId::new("new-line").unwrap(),
            "3001",
            "+34 600 3001",
        ))
        .await
        .unwrap();
    let listed = f.inbox.dead_letters(&ada, &q).await.unwrap();
    assert_eq!(listed.items.len(), 2);
    let done = f
        .inbox
        .replay_dead_letter(&ada, &first.letter.id, &JsonEvents)
        .await
        .unwrap();
    assert_eq!(done.replayed_at, Some(now));
    assert_eq!(done.tenant, Some(f.acme()));
    assert_eq!(done.channel, Some(ChannelId::new("new-line").unwrap()));
    let ReplayOutcome::Ingested { stored, .. } = &done.last_replay.as_ref().unwrap().outcome else {
        panic!("{done:?}")
    };
    let message = f.store.message(&f.acme(), &stored[0]).await.unwrap();
    assert_eq!(message.external_id.as_deref(), Some("wamid.early"));
    assert_eq!(
        f.inbox.dead_letter(&ada, &first.letter.id).await.unwrap(),
        done
    );
    // Replayed once: a second replay is refused, nothing is stored twice.
    assert!(matches!(
        f.inbox
            .replay_dead_letter(&ada, &first.letter.id, &JsonEvents)
            .await
            .unwrap_err(),
        Error::InvalidState(_)
    ));
    let pending = f
        .inbox
        .dead_letters(
            &ada,
            &DeadLetterQuery {
                pending_only: true,
                ..q
            },
        )
        .await
        .unwrap();
    assert_eq!(ids(&pending.items), [still_bad.id.as_str()]);
}
