//! The [`DeadLetters`] contract: refused items kept once each, scoped,
//! newest first.

use crate::testing::conformance::support::*;

fn scope(tenant: &str, numbers: &[&str]) -> DeadLetterScope {
    DeadLetterScope {
        tenant: id(tenant),
        numbers: numbers.iter().map(|n| n.to_string()).collect(),
    }
}

/// A redelivered item with the same reason is recorded once, also when
/// many deliveries race; another reason, number or item is another letter.
pub(crate) async fn dead_letters_are_recorded_once_per_item_and_reason<S: Store + ?Sized>(
    store: Arc<S>,
) {
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
pub(crate) async fn dead_letters_are_scoped_and_listed_newest_first<S: Store + ?Sized>(
    store: Arc<S>,
) {
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
pub(crate) async fn dead_letter_updates_keep_the_item<S: Store + ?Sized>(store: Arc<S>) {
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
