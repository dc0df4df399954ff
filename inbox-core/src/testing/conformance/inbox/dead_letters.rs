//! Dead letters through the inbox: the inbound checks that decide what
//! becomes one (a store is never handed an item it cannot hold) and
//! replays by admins.

use crate::inbox::RefusedItem;
use crate::testing::conformance::support::*;

/// Through the inbox, every item a store could not hold as it is, or whose
/// timestamp WhatsApp cannot have sent, is refused with invalid input (never
/// a store failure) and changes nothing; the valid message after them is
/// stored, and the bad timestamps never reach the conversation's window or
/// waiting time.
pub(crate) async fn ingest_refuses_items_no_store_can_hold<S: Store + AsDynStore + ?Sized>(
    store: Arc<S>,
) {
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
        pricing: None,
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
    assert!(events(&f).await.is_empty());
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
pub(crate) async fn dead_letters_are_replayed_by_admins<S: Store + AsDynStore + ?Sized>(
    store: Arc<S>,
) {
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
