//! Contacts through the inbox: merging two into one, editing on the version
//! seen.

use crate::inbox::ContactUpdate;
use crate::testing::conformance::support::*;

fn from_bsuid(f: &Fixture, pnid: &str, ext: &str, bsuid: &str, body: &str) -> InboundEvent {
    let mut m = f.inbound(pnid, ext, "unused", Content::text(body));
    m.from = ContactIdentity::user(bsuid);
    InboundEvent::Message(m)
}

/// A contact of `acme` as stored.
async fn stored_contact(f: &Fixture, k: &ContactId) -> Contact {
    f.store.contact(&f.acme(), k).await.unwrap()
}

/// The contact a conversation of `acme` is with.
async fn contact_of(f: &Fixture, c: &ConversationId) -> ContactId {
    stored(f, c).await.contact
}

/// An update that sets (or, with an empty value, removes) `attributes`.
fn with_attributes(attributes: &[(&str, &str)]) -> ContactUpdate {
    let pairs = attributes
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()));
    ContactUpdate {
        attributes: pairs.collect(),
        ..Default::default()
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
    let resolved = f
        .inbox
        .set_status(&sam, &c1, v, ConversationStatus::Resolved);
    resolved.await.unwrap();
    let c2 = ingested(
        &f,
        from_bsuid(&f, "1002", "w2", "ES.bsuid.7", "hello again"),
    )
    .await;
    let k1 = contact_of(&f, &c1).await;
    let k2 = contact_of(&f, &c2).await;
    assert_ne!(k1, k2);
    let k2v = stored_contact(&f, &k2).await.version;
    let vip = ContactUpdate {
        add_tags: vec!["vip".into()],
        ..Default::default()
    };
    let k2_now = f.inbox.update_contact(&sam, &k2, k2v, vip).await.unwrap();
    let k1v = stored_contact(&f, &k1).await.version;
    let merge = |agent: &'static str, (a, av): (&ContactId, u64), (b, bv): (&ContactId, u64)| {
        let (inbox, actor, a, b) = (f.inbox.clone(), f.actor(agent), a.clone(), b.clone());
        async move { inbox.merge_contacts(&actor, &a, av, &b, bv).await }
    };

    // Agents may not merge; stale versions are refused.
    let err = merge("ana", (&k1, k1v), (&k2, k2_now.version))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Forbidden { .. }), "{err:?}");
    let err = merge("sam", (&k1, k1v), (&k2, k2v)).await.unwrap_err();
    assert!(matches!(err, Error::Conflict(_)), "{err:?}");
    // Another tenant cannot see them.
    let err = merge("gus", (&k1, k1v), (&k2, k2_now.version))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");

    let c2_before = stored(&f, &c2).await;
    let merged = merge("sam", (&k1, k1v), (&k2, k2_now.version))
        .await
        .unwrap();
    assert_eq!(merged.identity.wa_id.as_deref(), Some("34600100"));
    assert_eq!(merged.identity.user_id.as_deref(), Some("ES.bsuid.7"));
    assert_eq!(merged.tags, ["vip"]);
    assert_eq!(stored_contact(&f, &k1).await, merged);
    let gone = stored_contact(&f, &k2).await;
    assert_eq!(gone.merged_into.as_ref(), Some(&k1));
    assert!(!gone.identity.is_known());
    let c2_after = stored(&f, &c2).await;
    assert_eq!(c2_after.contact, k1);
    assert_eq!(c2_after.version, c2_before.version + 1);
    let history = f.inbox.contact(&sam, &k1).await.unwrap();
    assert_eq!(history.conversations.len(), 2);
    let events = f.store.events_since(&acme, 0, 1000).await.unwrap();
    assert!(events.iter().any(|e| matches!(&e.kind,
        crate::EventKind::ContactsMerged { from, into, conversations: 1 } if from == &k2 && into == &k1)));
    // Both identities now lead to the survivor; the active conversation on
    // support continues.
    let again = ingested(
        &f,
        from_bsuid(&f, "1002", "w3", "ES.bsuid.7", "still there?"),
    )
    .await;
    assert_eq!(again, c2);
    let number = ContactIdentity::wa("34600100");
    let by_number = f.store.find_contact(&acme, &number).await.unwrap();
    assert_eq!(by_number.unwrap().id, k1);

    // Different numbers clash.
    let c3 = says(&f, "1001", "w4", "34600300", "hi").await;
    let k3 = contact_of(&f, &c3).await;
    let k3v = stored_contact(&f, &k3).await.version;
    let k1v = stored_contact(&f, &k1).await.version;
    let err = merge("sam", (&k1, k1v), (&k3, k3v)).await.unwrap_err();
    assert!(matches!(err, Error::InvalidState(_)), "{err:?}");

    // Both active on the sales number: refused, nothing changes.
    let c4 = ingested(&f, from_bsuid(&f, "1001", "w5", "ES.bsuid.9", "hey")).await;
    let k4 = contact_of(&f, &c4).await;
    let k4_before = stored_contact(&f, &k4).await;
    let k3_before = stored_contact(&f, &k3).await;
    let both = merge("sam", (&k3, k3_before.version), (&k4, k4_before.version));
    expect_duplicate(&both.await.unwrap_err(), Unique::ActiveConversation);
    assert_eq!(stored_contact(&f, &k4).await, k4_before);
    assert_eq!(stored_contact(&f, &k3).await, k3_before);
    assert_eq!(contact_of(&f, &c4).await, k4);
}

/// Contacts: tags, attributes and a display name, edited on the version
/// the agent saw; the history spans their conversations.
pub(crate) async fn contacts_are_edited_on_the_version_seen<S: Store + AsDynStore + ?Sized>(
    store: Arc<S>,
) {
    let (f, c) = opened(store, "34690400000", "hi").await;
    let contact = contact_of(&f, &c).await;
    let k = stored_contact(&f, &contact).await;
    let edit = |agent: &'static str, version: u64, update: ContactUpdate| {
        let (inbox, actor, contact) = (f.inbox.clone(), f.actor(agent), contact.clone());
        async move {
            inbox
                .update_contact(&actor, &contact, version, update)
                .await
        }
    };
    let update = ContactUpdate {
        add_tags: vec!["VIP".into()],
        display_name: Some("Marta Ruiz".into()),
        ..with_attributes(&[("crm_id", "A-1042"), ("language", "es")])
    };
    let edited = edit("ana", k.version, update.clone()).await.unwrap();
    assert_eq!(edited.tags, ["vip"]);
    let crm_id = edited.attributes.get("crm_id").map(String::as_str);
    assert_eq!(crm_id, Some("A-1042"));
    assert_eq!(edited.display_name.as_deref(), Some("Marta Ruiz"));
    assert_eq!(stored_contact(&f, &contact).await, edited);
    // A second edit on the old version is refused; nothing changes.
    let tag_x = ContactUpdate {
        add_tags: vec!["x".into()],
        ..Default::default()
    };
    assert_eq!(refused(edit("ben", k.version, tag_x).await), "conflict");
    // Removing an attribute with an empty value; bad names are refused.
    let remove = with_attributes(&[("language", "")]);
    let edited = edit("ben", edited.version, remove).await.unwrap();
    assert!(!edited.attributes.contains_key("language"));
    let bad = with_attributes(&[(" ", "x")]);
    assert_eq!(
        refused(edit("ben", edited.version, bad).await),
        "invalid_input"
    );
    // The customer's next message keeps the team's edits.
    let again = f.customer_says("1001", "w2", "34690400000", "hello again");
    again.await.unwrap();
    let k = stored_contact(&f, &contact).await;
    assert_eq!(k.tags, ["vip"]);
    let kept = "WhatsApp's name does not overwrite the team's";
    assert_eq!(k.display_name.as_deref(), Some("Marta Ruiz"), "{kept}");
    // Other tenants cannot edit it.
    assert_eq!(refused(edit("gus", k.version, update).await), "not_found");
    let events = f.store.events_since(&f.acme(), 0, 1000).await.unwrap();
    assert!(events.iter().any(
        |e| matches!(&e.kind, EventKind::ContactUpdated { what, .. } if what.contains("+tag vip"))
    ));
}
