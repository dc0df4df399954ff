//! Contacts through the inbox: merging two into one, editing on the version
//! seen.

use crate::testing::conformance::support::*;

fn from_bsuid(f: &Fixture, pnid: &str, ext: &str, bsuid: &str, body: &str) -> InboundEvent {
    let mut m = f.inbound(pnid, ext, "unused", Content::text(body));
    m.from = ContactIdentity::user(bsuid);
    InboundEvent::Message(m)
}

async fn stored(f: &Fixture, event: InboundEvent) -> crate::ids::ConversationId {
    match f.inbox.ingest(event).await.unwrap() {
        IngestOutcome::Stored { conversation, .. } => conversation,
        other => panic!("{other:?}"),
    }
}

/// Two contacts that are one person (one known by number, one by BSUID)
/// merge into one: identities, tags and conversations move, the merged one
/// points to the survivor, later messages from either identity land on the
/// survivor. Clashing identities, stale versions, a shared active channel,
/// agents without the role and other tenants are refused, changing nothing.
pub(crate) async fn contacts_merge_into_one<S: Store + AsDynStore + ?Sized>(store: Arc<S>) {
    let f = Fixture::new(store.as_dyn()).await.unwrap();
    let acme = f.acme();
    let sam = f.actor("sam");
    let c1 = says(&f, "1001", "w1", "34600100", "hola").await;
    let v = f.version(&c1).await.unwrap();
    f.inbox
        .set_status(&sam, &c1, v, ConversationStatus::Resolved)
        .await
        .unwrap();
    let c2 = stored(
        &f,
        from_bsuid(&f, "1002", "w2", "ES.bsuid.7", "hello again"),
    )
    .await;
    let k1 = f.store.conversation(&acme, &c1).await.unwrap().contact;
    let k2 = f.store.conversation(&acme, &c2).await.unwrap().contact;
    assert_ne!(k1, k2);
    let k2v = f.store.contact(&acme, &k2).await.unwrap().version;
    let k2_now = f
        .inbox
        .update_contact(
            &sam,
            &k2,
            k2v,
            crate::inbox::ContactUpdate {
                add_tags: vec!["vip".into()],
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let k1v = f.store.contact(&acme, &k1).await.unwrap().version;

    // Agents may not merge; stale versions are refused.
    let err = f
        .inbox
        .merge_contacts(&f.actor("ana"), &k1, k1v, &k2, k2_now.version)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Forbidden { .. }), "{err:?}");
    let err = f
        .inbox
        .merge_contacts(&sam, &k1, k1v, &k2, k2v)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Conflict(_)), "{err:?}");
    // Another tenant cannot see them.
    let err = f
        .inbox
        .merge_contacts(&f.actor("gus"), &k1, k1v, &k2, k2_now.version)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");

    let c2_before = f.store.conversation(&acme, &c2).await.unwrap();
    let merged = f
        .inbox
        .merge_contacts(&sam, &k1, k1v, &k2, k2_now.version)
        .await
        .unwrap();
    assert_eq!(merged.identity.wa_id.as_deref(), Some("34600100"));
    assert_eq!(merged.identity.user_id.as_deref(), Some("ES.bsuid.7"));
    assert_eq!(merged.tags, ["vip"]);
    let stored_k1 = f.store.contact(&acme, &k1).await.unwrap();
    assert_eq!(stored_k1, merged);
    let gone = f.store.contact(&acme, &k2).await.unwrap();
    assert_eq!(gone.merged_into.as_ref(), Some(&k1));
    assert!(!gone.identity.is_known());
    let c2_after = f.store.conversation(&acme, &c2).await.unwrap();
    assert_eq!(c2_after.contact, k1);
    assert_eq!(c2_after.version, c2_before.version + 1);
    let history = f.inbox.contact(&sam, &k1).await.unwrap();
    assert_eq!(history.conversations.len(), 2);
    let events = f.store.events_since(&acme, 0, 1000).await.unwrap();
    assert!(events.iter().any(|e| matches!(&e.kind,
        crate::EventKind::ContactsMerged { from, into, conversations: 1 } if from == &k2 && into == &k1)));
    // Both identities now lead to the survivor; the active conversation on
    // support continues.
    let again = stored(
        &f,
        from_bsuid(&f, "1002", "w3", "ES.bsuid.7", "still there?"),
    )
    .await;
    assert_eq!(again, c2);
    let by_number = f
        .store
        .find_contact(&acme, &ContactIdentity::wa("34600100"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_number.id, k1);

    // Different numbers clash.
    let c3 = says(&f, "1001", "w4", "34600300", "hi").await;
    let k3 = f.store.conversation(&acme, &c3).await.unwrap().contact;
    let k3v = f.store.contact(&acme, &k3).await.unwrap().version;
    let k1v = f.store.contact(&acme, &k1).await.unwrap().version;
    let err = f
        .inbox
        .merge_contacts(&sam, &k1, k1v, &k3, k3v)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidState(_)), "{err:?}");

    // Both active on the sales number: refused, nothing changes.
    let c4 = stored(&f, from_bsuid(&f, "1001", "w5", "ES.bsuid.9", "hey")).await;
    let k4 = f.store.conversation(&acme, &c4).await.unwrap().contact;
    let k4_before = f.store.contact(&acme, &k4).await.unwrap();
    let k3_before = f.store.contact(&acme, &k3).await.unwrap();
    let err = f
        .inbox
        .merge_contacts(&sam, &k3, k3_before.version, &k4, k4_before.version)
        .await
        .unwrap_err();
    expect_duplicate(&err, Unique::ActiveConversation);
    assert_eq!(f.store.contact(&acme, &k4).await.unwrap(), k4_before);
    assert_eq!(f.store.contact(&acme, &k3).await.unwrap(), k3_before);
    assert_eq!(f.store.conversation(&acme, &c4).await.unwrap().contact, k4);
}

/// Contacts: tags, attributes and a display name, edited on the version
/// the agent saw; the history spans their conversations.
pub(crate) async fn contacts_are_edited_on_the_version_seen<S: Store + AsDynStore + ?Sized>(
    store: Arc<S>,
) {
    let f = fixture(store).await;
    let c = says(&f, "1001", "w1", "34690400000", "hi").await;
    let contact = f.store.conversation(&f.acme(), &c).await.unwrap().contact;
    let k = f.store.contact(&f.acme(), &contact).await.unwrap();
    let mut attributes = std::collections::BTreeMap::new();
    attributes.insert("crm_id".to_string(), "A-1042".to_string());
    attributes.insert("language".to_string(), "es".to_string());
    let update = crate::inbox::ContactUpdate {
        add_tags: vec!["VIP".into()],
        attributes,
        display_name: Some("Marta Ruiz".into()),
        ..Default::default()
    };
    let edited = f
        .inbox
        .update_contact(&f.actor("ana"), &contact, k.version, update.clone())
        .await
        .unwrap();
    assert_eq!(edited.tags, ["vip"]);
    assert_eq!(
        edited.attributes.get("crm_id").map(String::as_str),
        Some("A-1042")
    );
    assert_eq!(edited.display_name.as_deref(), Some("Marta Ruiz"));
    assert_eq!(f.store.contact(&f.acme(), &contact).await.unwrap(), edited);
    // A second edit on the old version is refused; nothing changes.
    let err = f
        .inbox
        .update_contact(
            &f.actor("ben"),
            &contact,
            k.version,
            crate::inbox::ContactUpdate {
                add_tags: vec!["x".into()],
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), "conflict");
    // Removing an attribute with an empty value; bad names are refused.
    let mut remove = std::collections::BTreeMap::new();
    remove.insert("language".to_string(), String::new());
    let edited = f
        .inbox
        .update_contact(
            &f.actor("ben"),
            &contact,
            edited.version,
            crate::inbox::ContactUpdate {
                attributes: remove,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(!edited.attributes.contains_key("language"));
    let mut bad = std::collections::BTreeMap::new();
    bad.insert(" ".to_string(), "x".to_string());
    assert_eq!(
        f.inbox
            .update_contact(
                &f.actor("ben"),
                &contact,
                edited.version,
                crate::inbox::ContactUpdate {
                    attributes: bad,
                    ..Default::default()
                }
            )
            .await
            .unwrap_err()
            .code(),
        "invalid_input"
    );
    // The customer's next message keeps the team's edits.
    f.customer_says("1001", "w2", "34690400000", "hello again")
        .await
        .unwrap();
    let k = f.store.contact(&f.acme(), &contact).await.unwrap();
    assert_eq!(k.tags, ["vip"]);
    assert_eq!(
        k.display_name.as_deref(),
        Some("Marta Ruiz"),
        "WhatsApp's name does not overwrite the team's"
    );
    // Other tenants cannot edit it.
    assert_eq!(
        f.inbox
            .update_contact(&f.actor("gus"), &contact, k.version, update)
            .await
            .unwrap_err()
            .code(),
        "not_found"
    );
    let events = f.store.events_since(&f.acme(), 0, 1000).await.unwrap();
    assert!(events.iter().any(
        |e| matches!(&e.kind, EventKind::ContactUpdated { what, .. } if what.contains("+tag vip"))
    ));
}
