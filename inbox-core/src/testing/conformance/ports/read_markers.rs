//! The [`ReadMarkers`] contract: a marker per tenant, agent and
//! conversation, moving forward only; read a page at a time.

use crate::testing::conformance::support::*;

fn a(s: &str) -> AgentId {
    AgentId::new(s).unwrap()
}

fn c(s: &str) -> ConversationId {
    ConversationId::new(s).unwrap()
}

/// Acme's `c1` and `c2`, globex's own `c1` (same id), and agents `ana` and
/// `ben` in both tenants.
async fn setup<S: Store + ?Sized>(store: &S) {
    seed(store).await;
    for (tenant, channel, conv, contact_id, wa) in [
        ("acme", "support", "c2", "k2", "34600000002"),
        ("globex", "main", "c1", "k1", "34600000001"),
    ] {
        let conv = conversation(tenant, conv, channel, contact_id);
        store
            .commit(Changeset {
                contact: Some(insert(contact(tenant, contact_id, wa))),
                conversation: Some(insert(conv)),
                ..Changeset::new(t(tenant))
            })
            .await
            .unwrap();
    }
    for tenant in ["acme", "globex"] {
        for agent in ["ana", "ben"] {
            let record = Agent::new(t(tenant), a(agent), agent, Role::Agent);
            store.upsert_agent(&record).await.unwrap();
        }
    }
}

async fn markers<S: Store + ?Sized>(
    store: &S,
    tenant: &str,
    agent: &str,
    ids: &[&str],
) -> BTreeMap<String, u32> {
    let ids: Vec<ConversationId> = ids.iter().map(|i| c(i)).collect();
    let found = store.read_markers(&t(tenant), &a(agent), &ids).await;
    let found = found.unwrap().into_iter();
    found.map(|(id, seen)| (id.to_string(), seen)).collect()
}

/// A marker is stored and moves forward; a lower one is ignored (two tabs
/// racing) and the call answers the marker as stored.
pub(crate) async fn read_markers_move_forward_only<S: Store + ?Sized>(store: Arc<S>) {
    setup(&*store).await;
    let (acme, ana, c1) = (t("acme"), a("ana"), c("c1"));
    assert!(markers(&*store, "acme", "ana", &["c1"]).await.is_empty());
    assert_eq!(store.mark_read(&acme, &ana, &c1, 3).await.unwrap(), 3);
    assert_eq!(store.mark_read(&acme, &ana, &c1, 1).await.unwrap(), 3);
    assert_eq!(store.mark_read(&acme, &ana, &c1, 3).await.unwrap(), 3);
    assert_eq!(
        markers(&*store, "acme", "ana", &["c1"]).await,
        BTreeMap::from([("c1".to_string(), 3)])
    );
    assert_eq!(store.mark_read(&acme, &ana, &c1, 7).await.unwrap(), 7);
    // Racing writers: the highest stays.
    let writes = (0..8u32).map(|seen| {
        let (store, acme, ana, c1) = (store.clone(), acme.clone(), ana.clone(), c1.clone());
        async move { store.mark_read(&acme, &ana, &c1, seen * 2).await.unwrap() }
    });
    join_all(writes).await;
    let after = markers(&*store, "acme", "ana", &["c1"]).await;
    assert_eq!(after, BTreeMap::from([("c1".to_string(), 14)]));
    assert_eq!(store.mark_read(&acme, &ana, &c1, 0).await.unwrap(), 14);
}

/// Markers are per agent, and a page's markers come in one read with only
/// the ids asked for (those never read left out).
pub(crate) async fn read_markers_are_per_agent_and_read_by_page<S: Store + ?Sized>(store: Arc<S>) {
    setup(&*store).await;
    let acme = t("acme");
    store
        .mark_read(&acme, &a("ana"), &c("c1"), 2)
        .await
        .unwrap();
    store
        .mark_read(&acme, &a("ana"), &c("c2"), 5)
        .await
        .unwrap();
    store
        .mark_read(&acme, &a("ben"), &c("c2"), 1)
        .await
        .unwrap();
    let both = markers(&*store, "acme", "ana", &["c1", "c2"]).await;
    let expected = [("c1".to_string(), 2), ("c2".to_string(), 5)];
    assert_eq!(both, BTreeMap::from(expected));
    assert_eq!(
        markers(&*store, "acme", "ana", &["c2"]).await,
        BTreeMap::from([("c2".to_string(), 5)]),
        "only the ids asked for"
    );
    assert_eq!(
        markers(&*store, "acme", "ben", &["c1", "c2", "c9"]).await,
        BTreeMap::from([("c2".to_string(), 1)]),
        "ben's own, none where he never read (or no such conversation)"
    );
    assert!(markers(&*store, "acme", "ana", &[]).await.is_empty());
    assert!(markers(&*store, "acme", "cy", &["c1"]).await.is_empty());
}

/// Another tenant's agent and conversation of the same ids have markers of
/// their own; a marker needs the tenant's own agent and conversation.
pub(crate) async fn read_markers_are_scoped_by_tenant<S: Store + ?Sized>(store: Arc<S>) {
    setup(&*store).await;
    let (acme, globex) = (t("acme"), t("globex"));
    store
        .mark_read(&acme, &a("ana"), &c("c1"), 4)
        .await
        .unwrap();
    assert!(markers(&*store, "globex", "ana", &["c1"]).await.is_empty());
    store
        .mark_read(&globex, &a("ana"), &c("c1"), 1)
        .await
        .unwrap();
    assert_eq!(
        markers(&*store, "globex", "ana", &["c1"]).await,
        BTreeMap::from([("c1".to_string(), 1)])
    );
    assert_eq!(
        markers(&*store, "acme", "ana", &["c1"]).await,
        BTreeMap::from([("c1".to_string(), 4)])
    );
    // Globex has no c2 (acme's), acme no agent gus.
    let not_found = [
        (globex.clone(), a("ana"), c("c2"), Entity::Conversation),
        (acme.clone(), a("gus"), c("c1"), Entity::Agent),
        (acme.clone(), a("ana"), c("c9"), Entity::Conversation),
    ];
    for (tenant, agent, conv, entity) in not_found {
        let err = store
            .mark_read(&tenant, &agent, &conv, 9)
            .await
            .unwrap_err();
        match err {
            Error::NotFound { entity: e, .. } if e == entity => {}
            other => panic!("{tenant}/{agent}/{conv}: expected {entity} not found, got {other:?}"),
        }
    }
    let nowhere = store.mark_read(&t("nope"), &a("ana"), &c("c1"), 9).await;
    assert_eq!(refused(nowhere), "not_found", "no such tenant");
    assert!(markers(&*store, "globex", "ana", &["c2"]).await.is_empty());
    assert!(markers(&*store, "nope", "ana", &["c1"]).await.is_empty());
}
