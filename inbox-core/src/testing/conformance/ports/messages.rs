//! The [`Messages`] contract: updates to stored messages, in order, never
//! backwards, never lost.

use crate::testing::conformance::support::*;

/// Status updates move a message forward only; duplicates and late ones
/// change nothing and record no event; the provider id is recorded once.
pub(crate) async fn delivery_updates_only_move_forward<S: Store + ?Sized>(store: Arc<S>) {
    let (_, r) = seed_reply(&*store).await;
    let acme = t("acme");
    let report = async |status, minute, ext| {
        let update = delivery(status, minute, ext);
        store.update_message(&acme, &r, &update).await.unwrap()
    };
    let e = report(DeliveryStatus::Accepted, 1, Some("wamid.out.1")).await;
    assert!(matches!(
        e.as_ref().map(|e| &e.kind),
        Some(EventKind::DeliveryChanged {
            status: DeliveryStatus::Accepted,
            ..
        })
    ));
    assert!(e.unwrap().seq > 0);
    let m = store.message(&acme, &r).await.unwrap();
    assert_eq!(m.external_id.as_deref(), Some("wamid.out.1"));
    let found = by_external_id(&*store, &acme, &m.channel, "wamid.out.1").await;
    assert_eq!(found, Some(r.clone()));
    assert!(report(DeliveryStatus::Read, 3, None).await.is_some());
    // A late report and a duplicate record nothing.
    for (status, minute) in [(DeliveryStatus::Delivered, 2), (DeliveryStatus::Read, 3)] {
        assert!(report(status, minute, None).await.is_none(), "{status:?}");
    }
    let m = store.message(&acme, &r).await.unwrap();
    assert_eq!(m.delivery.unwrap().status, DeliveryStatus::Read);
    // The provider id is not replaced.
    report(DeliveryStatus::Played, 4, Some("other")).await;
    assert_eq!(
        store
            .message(&acme, &r)
            .await
            .unwrap()
            .external_id
            .as_deref(),
        Some("wamid.out.1")
    );
    // Unknown messages and other tenants are not found.
    assert_eq!(
        store
            .update_message(&t("globex"), &r, &delivery(DeliveryStatus::Read, 5, None))
            .await
            .unwrap_err()
            .code(),
        "not_found"
    );
    // Inbound messages have no delivery state: nothing changes.
    assert!(store
        .update_message(
            &acme,
            &MessageId::new("m1").unwrap(),
            &delivery(DeliveryStatus::Read, 5, None)
        )
        .await
        .unwrap()
        .is_none());
}

/// Concurrent status reports never lose the highest status.
pub(crate) async fn concurrent_delivery_updates_keep_the_highest<S: Store + ?Sized>(store: Arc<S>) {
    let (_, r) = seed_reply(&*store).await;
    let acme = t("acme");
    let statuses = [
        DeliveryStatus::Sent,
        DeliveryStatus::Read,
        DeliveryStatus::Delivered,
        DeliveryStatus::Sent,
        DeliveryStatus::Accepted,
        DeliveryStatus::Delivered,
    ];
    let results = join_all(statuses.iter().enumerate().map(|(i, s)| {
        let store = store.clone();
        let acme = acme.clone();
        let r = r.clone();
        let m = delivery(*s, i as i64, Some("wamid.x"));
        async move { store.update_message(&acme, &r, &m).await }
    }))
    .await;
    assert!(results.iter().all(|r| r.is_ok()));
    let m = store.message(&acme, &r).await.unwrap();
    assert_eq!(m.delivery.unwrap().status, DeliveryStatus::Read);
    // Recorded events show a strictly increasing path.
    let ranks: Vec<DeliveryStatus> = store
        .events_since(&acme, 0, 100)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|e| match e.kind {
            EventKind::DeliveryChanged { status, .. } => Some(status),
            _ => None,
        })
        .collect();
    assert!(ranks.windows(2).all(|w| w[0] < w[1]), "{ranks:?}");
}

/// Updates of one call apply in order, each on its own: by id (a missing
/// one is not found) or by status report (our id on the channel, outbound
/// only, else the provider id, which an earlier update may just have
/// recorded; none is `None`); a provider id another message has fails that
/// update alone; events are numbered in update order and carry their
/// conversation's scope.
pub(crate) async fn message_updates_apply_in_order_by_id_and_by_status<S: Store + ?Sized>(
    store: Arc<S>,
) {
    let (c2, r1) = seed_reply(&*store).await;
    let acme = t("acme");
    let r2 = outbound(&bump(&c2), "r2", "key-2");
    store
        .commit(Changeset {
            conversation: Some(update(&c2)),
            messages: vec![r2.clone()],
            ..Changeset::new(acme.clone())
        })
        .await
        .unwrap();
    let last = store.events_since(&acme, 0, 100).await.unwrap().len() as u64;
    let status = |channel: &str, ours: Option<&str>, ext: &str| MessageTarget::Status {
        channel: ChannelId::new(channel).unwrap(),
        our_id: ours.map(|o| MessageId::new(o).unwrap()),
        external_id: ext.into(),
    };
    let by_id = |m: &str| MessageTarget::Id(MessageId::new(m).unwrap());
    let updates: Vec<MessageUpdate> = [
        (
            status("sales", Some("r1"), "wamid.out.1"),
            DeliveryStatus::Sent,
            Some("wamid.out.1"),
        ),
        (
            status("sales", None, "wamid.out.1"),
            DeliveryStatus::Delivered,
            None,
        ),
        (
            status("sales", None, "wamid.nobody"),
            DeliveryStatus::Read,
            None,
        ),
        (
            status("support", Some("r1"), "wamid.out.1"),
            DeliveryStatus::Read,
            None,
        ),
        (
            status("sales", Some("m1"), "wamid.none"),
            DeliveryStatus::Read,
            None,
        ),
        (by_id("nope"), DeliveryStatus::Read, None),
        (by_id("r2"), DeliveryStatus::Sent, Some("wamid.out.1")),
        (by_id("r1"), DeliveryStatus::Read, None),
        (by_id("r1"), DeliveryStatus::Delivered, None),
    ]
    .into_iter()
    .enumerate()
    .map(|(i, (target, s, ext))| MessageUpdate {
        target,
        mutation: delivery(s, i as i64 + 1, ext),
    })
    .collect();
    let results = store.update_messages(&acme, &updates).await;
    assert_eq!(results.len(), updates.len());
    let moved = |i: usize| match &results[i] {
        Ok(Some(MessageUpdated {
            message,
            event: Some(e),
        })) => match &e.kind {
            EventKind::DeliveryChanged { status, .. } => (message.to_string(), *status, e.seq),
            other => panic!("update {i}: {other:?}"),
        },
        other => panic!("update {i}: {other:?}"),
    };
    assert_eq!(moved(0), ("r1".into(), DeliveryStatus::Sent, last + 1));
    assert_eq!(moved(1), ("r1".into(), DeliveryStatus::Delivered, last + 2));
    for i in [2, 3, 4] {
        assert!(
            matches!(results[i], Ok(None)),
            "update {i}: {:?}",
            results[i]
        );
    }
    assert_eq!(results[5].as_ref().unwrap_err().code(), "not_found");
    expect_duplicate(results[6].as_ref().unwrap_err(), Unique::Message);
    assert_eq!(moved(7), ("r1".into(), DeliveryStatus::Read, last + 3));
    assert!(
        matches!(&results[8], Ok(Some(MessageUpdated { message, event: None })) if message == &r1),
        "backwards: {:?}",
        results[8]
    );
    // Each event says who may see it, as its conversation stands (what
    // live subscribers decide from, reading nothing); so does the log.
    let scope = Scope::of(&store.conversation(&acme, &c2.id).await.unwrap());
    let logged = store.events_since(&acme, last, 100).await.unwrap();
    assert_eq!(logged.len(), 3);
    for (i, e) in [0, 1, 7].into_iter().zip(&logged) {
        let Ok(Some(MessageUpdated {
            event: Some(ev), ..
        })) = &results[i]
        else {
            panic!("update {i}: {:?}", results[i])
        };
        assert_eq!(ev.scope.as_ref(), Some(&scope), "update {i}");
        assert_eq!(e.scope.as_ref(), Some(&scope), "event {}", e.seq);
    }
    let stored = store.message(&acme, &r2.id).await.unwrap();
    assert_eq!(stored, r2, "the failed update wrote nothing");
    // Another tenant: not found by id, no message for a report.
    let theirs = store
        .update_messages(
            &t("globex"),
            &[
                MessageUpdate {
                    target: by_id("r1"),
                    mutation: delivery(DeliveryStatus::Read, 9, None),
                },
                MessageUpdate {
                    target: status("sales", Some("r1"), "wamid.out.1"),
                    mutation: delivery(DeliveryStatus::Read, 9, None),
                },
            ],
        )
        .await;
    assert_eq!(theirs[0].as_ref().unwrap_err().code(), "not_found");
    assert!(matches!(theirs[1], Ok(None)), "{:?}", theirs[1]);
    assert!(store.update_messages(&acme, &[]).await.is_empty());
}

/// The id of the message of `tenant` stored with a provider id on a
/// channel, if any.
pub(crate) async fn by_external_id<S: Store + ?Sized>(
    store: &S,
    tenant: &TenantId,
    channel: &ChannelId,
    external_id: &str,
) -> Option<MessageId> {
    let found = store.message_by_external_id(tenant, channel, external_id);
    found.await.unwrap().map(|m| m.id)
}

/// A message still waiting in the outbox can be cancelled, once, with an
/// event; a cancelled message is final (no status report, provider id or
/// second cancellation changes it); a message already accepted by the
/// provider cannot be cancelled.
pub(crate) async fn cancelled_is_final_and_only_for_unsent<S: Store + ?Sized>(store: Arc<S>) {
    let (c, r) = seed_reply(&*store).await;
    let acme = t("acme");
    let cancel = |reason: &str| MessageMutation::Cancelled {
        at: at(1),
        reason: reason.into(),
    };
    let first = cancel("taken over by ana");
    let e = store.update_message(&acme, &r, &first).await.unwrap();
    let e = e.expect("an event");
    assert!(matches!(
        &e.kind,
        EventKind::DeliveryChanged { status: DeliveryStatus::Cancelled, error: Some(err), .. }
            if err.title == "taken over by ana"
    ));
    assert!(e.seq > 0);
    for later in [
        cancel("again"),
        delivery(DeliveryStatus::Accepted, 2, Some("wamid.late")),
        delivery(DeliveryStatus::Failed, 2, None),
    ] {
        let again = store.update_message(&acme, &r, &later).await.unwrap();
        assert_eq!(again, None, "{later:?}");
    }
    let m = store.message(&acme, &r).await.unwrap();
    let d = m.delivery.unwrap();
    assert_eq!((d.status, m.external_id), (DeliveryStatus::Cancelled, None));
    assert_eq!(d.error.unwrap().title, "taken over by ana");
    // Once the provider has it, it can no longer be cancelled.
    let c2 = bump(&c);
    let sent = outbound(&c2, "r2", "key-2");
    store
        .commit(Changeset {
            conversation: Some(update(&c)),
            messages: vec![sent.clone()],
            ..Changeset::new(acme.clone())
        })
        .await
        .unwrap();
    let accepted = delivery(DeliveryStatus::Accepted, 2, Some("wamid.r2"));
    store
        .update_message(&acme, &sent.id, &accepted)
        .await
        .unwrap();
    let late = cancel("too late");
    let refused = store.update_message(&acme, &sent.id, &late).await;
    assert_eq!(refused.unwrap(), None);
    let m = store.message(&acme, &sent.id).await.unwrap();
    assert_eq!(m.delivery.unwrap().status, DeliveryStatus::Accepted);
}
