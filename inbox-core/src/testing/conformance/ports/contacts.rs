//! The [`Contacts`] contract: one contact per identity, contacts read
//! together.

use crate::testing::conformance::support::*;

/// At most one contact per wa_id and per user_id in a tenant.
pub(crate) async fn commit_enforces_unique_contact_identity<S: Store + ?Sized>(store: Arc<S>) {
    seed(&*store).await;
    let acme = t("acme");
    let err = commit_alone(
        &*store,
        acme.clone(),
        insert(contact("acme", "k2", "34600000001")),
    )
    .await
    .unwrap_err();
    assert_eq!(expect_duplicate(&err, Unique::Contact), "k1");
    // By BSUID as well.
    let mut a = contact("acme", "k3", "34600000003");
    a.identity.user_id = Some("US.1".into());
    commit_alone(&*store, acme.clone(), insert(a))
        .await
        .unwrap();
    let mut b = contact("acme", "k4", "34600000004");
    b.identity.user_id = Some("US.1".into());
    let err = commit_alone(&*store, acme.clone(), insert(b))
        .await
        .unwrap_err();
    expect_duplicate(&err, Unique::Contact);
    assert_eq!(
        store
            .find_contact(&acme, &ContactIdentity::user("US.1"))
            .await
            .unwrap()
            .map(|k| k.id.to_string()),
        Some("k3".into())
    );
    // The same number in another tenant is another contact.
    commit_alone(
        &*store,
        t("globex"),
        insert(contact("globex", "k1", "34600000001")),
    )
    .await
    .unwrap();
}

/// `Contacts::contacts` reads a page's contacts at once: each once, in the
/// order asked, unknown ids and other tenants' contacts left out.
pub(crate) async fn contacts_are_read_together<S: Store + AsDynStore + ?Sized>(store: Arc<S>) {
    let f = Fixture::new(store.as_dyn()).await.unwrap();
    let acme = f.acme();
    let mut ids = Vec::new();
    for (ext, wa) in [("w1", "34600201"), ("w2", "34600202"), ("w3", "34600203")] {
        let conv = says(&f, "1001", ext, wa, "hola").await;
        ids.push(f.store.conversation(&acme, &conv).await.unwrap().contact);
    }
    let gconv = says(&f, "2001", "g1", "15550001", "hi").await;
    let globex = crate::ids::TenantId::new("globex").unwrap();
    let theirs = f.store.conversation(&globex, &gconv).await.unwrap().contact;
    let unknown = crate::ids::ContactId::new("ct_nobody").unwrap();

    let asked = vec![
        ids[2].clone(),
        unknown.clone(),
        ids[0].clone(),
        ids[2].clone(),
        theirs.clone(),
    ];
    let got = f.store.contacts(&acme, &asked).await.unwrap();
    let got_ids: Vec<_> = got.iter().map(|c| c.id.clone()).collect();
    assert_eq!(got_ids, vec![ids[2].clone(), ids[0].clone()]);
    for c in &got {
        assert_eq!(c, &f.store.contact(&acme, &c.id).await.unwrap());
    }
    assert!(f.store.contacts(&acme, &[]).await.unwrap().is_empty());
    let mine = f
        .store
        .contacts(&globex, &[theirs.clone(), ids[1].clone()])
        .await
        .unwrap();
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0].id, theirs);
}

/// A merge checks both expected versions and refuses two active
/// conversations on one channel, writing nothing then; otherwise it moves
/// the conversations of `from` to `into` (each a version up), stores both
/// contacts (`into` taking `from`'s identity) and numbers its events.
pub(crate) async fn contacts_merge_atomically_on_the_versions_read<S: Store + ?Sized>(
    store: Arc<S>,
) {
    let c1 = seed(&*store).await;
    let acme = t("acme");
    let mut k2 = contact("acme", "k2", "unused");
    k2.identity = ContactIdentity::user("US.2");
    let c2 = conversation("acme", "c2", "support", "k2");
    let k3 = contact("acme", "k3", "34600000003");
    let c3 = conversation("acme", "c3", "sales", "k3");
    for (k, c) in [(&k2, &c2), (&k3, &c3)] {
        store
            .commit(Changeset {
                contact: Some(insert(k.clone())),
                conversation: Some(insert(c.clone())),
                ..Changeset::new(acme.clone())
            })
            .await
            .unwrap();
    }
    let k1 = store.contact(&acme, &c1.contact).await.unwrap();
    let merge = |from: &Contact, from_seen: u64, into_seen: u64| {
        let mut gone = from.clone();
        gone.identity = ContactIdentity::default();
        gone.merged_into = Some(k1.id.clone());
        gone.version = from_seen + 1;
        let mut kept = k1.clone();
        kept.identity.user_id = from.identity.user_id.clone();
        kept.version = into_seen + 1;
        let event = Event::new(
            acme.clone(),
            at(2),
            EventActor::System,
            EventKind::ContactsMerged {
                from: from.id.clone(),
                into: k1.id.clone(),
                conversations: 1,
            },
        );
        ContactMerge {
            from: Write {
                value: gone,
                expected_version: Some(from_seen),
            },
            into: Write {
                value: kept,
                expected_version: Some(into_seen),
            },
            events: vec![event],
        }
    };
    let before = store.events_since(&acme, 0, 100).await.unwrap().len() as u64;
    // A version that moved: a conflict, nothing written.
    let err = store
        .merge_contacts(&acme, &merge(&k2, 1, 7))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "conflict", "{err}");
    // Both active on sales: refused, nothing written.
    let err = store
        .merge_contacts(&acme, &merge(&k3, 1, 1))
        .await
        .unwrap_err();
    expect_duplicate(&err, Unique::ActiveConversation);
    for (k, c) in [(&k2, &c2), (&k3, &c3)] {
        assert_eq!(&store.contact(&acme, &k.id).await.unwrap(), k);
        assert_eq!(&store.conversation(&acme, &c.id).await.unwrap(), c);
    }
    assert_eq!(store.contact(&acme, &k1.id).await.unwrap(), k1);
    // k2 into k1: c2 moves, k1 answers to k2's user id.
    let committed = store
        .merge_contacts(&acme, &merge(&k2, 1, 1))
        .await
        .unwrap();
    let seqs: Vec<u64> = committed.events.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, [before + 1]);
    let gone = store.contact(&acme, &k2.id).await.unwrap();
    assert_eq!((gone.merged_into.as_ref(), gone.version), (Some(&k1.id), 2));
    assert_eq!(store.contact(&acme, &k1.id).await.unwrap().version, 2);
    let moved = store.conversation(&acme, &c2.id).await.unwrap();
    assert_eq!((&moved.contact, moved.version), (&k1.id, 2));
    let found = store
        .find_contact(&acme, &ContactIdentity::user("US.2"))
        .await
        .unwrap();
    assert_eq!(found.map(|k| k.id), Some(k1.id.clone()));
    let latest = store
        .latest_conversation(&acme, &c2.channel, &k1.id)
        .await
        .unwrap();
    assert_eq!(latest.map(|c| c.id), Some(c2.id));
}
