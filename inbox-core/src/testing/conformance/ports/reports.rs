//! The [`Reports`] contract: agents' loads, the last assignee and the
//! round-robin cursors routing keeps.

use crate::routing::RoutingCursor;
use crate::testing::conformance::support::*;

/// Load counts active conversations assigned to the agent; loads are read
/// for the whole tenant or for some agents only.
pub(crate) async fn agent_load_counts_active_assigned_conversations<S: Store + ?Sized>(
    store: Arc<S>,
) {
    setup_tenants(&*store).await;
    let acme = t("acme");
    let agent = |a: &str| AgentId::new(a).unwrap();
    let (ana, ben, cy) = (agent("ana"), agent("ben"), agent("cy"));
    let assigned = [
        (&ana, ConversationStatus::Open),
        (&ana, ConversationStatus::Pending),
        (&ana, ConversationStatus::Snoozed),
        (&ana, ConversationStatus::Resolved),
        (&cy, ConversationStatus::Open),
    ];
    for (i, (who, status)) in assigned.into_iter().enumerate() {
        let mut c = conversation("acme", &format!("c{i}"), "sales", &format!("k{i}"));
        c.assignee = Some(who.clone());
        c.status = status;
        commit_alone(&*store, acme.clone(), insert(c))
            .await
            .unwrap();
    }
    assert_eq!(store.agent_load(&acme, &ana).await.unwrap(), 3);
    assert_eq!(store.agent_load(&acme, &ben).await.unwrap(), 0);
    assert_eq!(store.agent_load(&t("globex"), &ana).await.unwrap(), 0);
    let loads = |scope: LoadScope| {
        let (store, acme) = (store.clone(), acme.clone());
        async move {
            let loads = store.agent_loads(&acme, &scope).await.unwrap();
            loads
                .into_iter()
                .filter(|(_, n)| *n > 0)
                .collect::<Vec<_>>()
        }
    };
    let all = loads(LoadScope::Tenant).await;
    assert_eq!(all, [(ana.clone(), 3), (cy.clone(), 1)]);
    let some = loads(LoadScope::Agents(vec![ben.clone(), ana.clone()])).await;
    assert_eq!(some, [(ana.clone(), 3)], "only the agents asked for");
    assert!(loads(LoadScope::Agents(vec![])).await.is_empty());
}

/// Agent loads count active assigned conversations per agent; the last
/// assignee of a contact is the owner of their most recently active
/// conversation that had one; round-robin cursors are compare-and-set,
/// per tenant.
pub(crate) async fn routing_state_is_stored<S: Store + AsDynStore + ?Sized>(store: Arc<S>) {
    let f = fixture(store).await;
    let acme = f.acme();
    let c1 = says(&f, "1001", "w1", "3460001", "hi").await;
    let c2 = says(&f, "1002", "w2", "3460001", "hi again").await;
    let c3 = says(&f, "1001", "w3", "3460002", "hello").await;
    let sam = f.actor("sam");
    for (c, who) in [(&c1, "ana"), (&c2, "ben"), (&c3, "ana")] {
        let v = f.version(c).await.unwrap();
        f.inbox
            .assign(&sam, c, v, Assignee::Agent(id(who)), "test")
            .await
            .unwrap();
    }
    let v = f.version(&c3).await.unwrap();
    f.inbox
        .set_status(&f.actor("ana"), &c3, v, ConversationStatus::Resolved)
        .await
        .unwrap();
    let loads = f
        .store
        .agent_loads(&acme, &LoadScope::Tenant)
        .await
        .unwrap();
    assert_eq!(loads.get(&id::<AgentId>("ana")), Some(&1));
    assert_eq!(loads.get(&id::<AgentId>("ben")), Some(&1));
    assert_eq!(loads.get(&id::<AgentId>("cy")).copied().unwrap_or(0), 0);
    assert!(f
        .store
        .agent_loads(&id("globex"), &LoadScope::Tenant)
        .await
        .unwrap()
        .is_empty());

    // The contact of c1 and c2: c2 (ben) is the most recent.
    let k = f.store.conversation(&acme, &c2).await.unwrap().contact;
    f.advance(TimeDelta::minutes(5));
    assert_eq!(
        f.store.last_assignee(&acme, &k).await.unwrap(),
        Some(id("ben"))
    );
    // A note on c1 makes it the most recently active.
    let v = f.version(&c1).await.unwrap();
    f.inbox
        .note(&f.actor("ana"), &c1, v, "following up", "n1")
        .await
        .unwrap();
    assert_eq!(
        f.store.last_assignee(&acme, &k).await.unwrap(),
        Some(id("ana"))
    );
    // Resolved conversations count too.
    let k3 = f.store.conversation(&acme, &c3).await.unwrap().contact;
    assert_eq!(
        f.store.last_assignee(&acme, &k3).await.unwrap(),
        Some(id("ana"))
    );
    assert_eq!(
        f.store.last_assignee(&id("globex"), &k3).await.unwrap(),
        None
    );

    // Cursors: insert at 1, then only from the stored version.
    let cursor = |last: &str, version| RoutingCursor {
        team: id("sales"),
        last: Some(id(last)),
        version,
    };
    let commit = |c: RoutingCursor, tenant: &str| {
        f.store.commit(Changeset {
            cursors: vec![c],
            ..Changeset::new(id(tenant))
        })
    };
    commit(cursor("ana", 1), "acme").await.unwrap();
    let err = commit(cursor("ben", 1), "acme").await.unwrap_err();
    assert!(matches!(err, Error::Conflict(_)), "{err:?}");
    let err = commit(cursor("ben", 3), "acme").await.unwrap_err();
    assert!(matches!(err, Error::Conflict(_)), "{err:?}");
    commit(cursor("ben", 2), "acme").await.unwrap();
    assert_eq!(
        f.store.routing_cursors(&acme).await.unwrap(),
        vec![cursor("ben", 2)]
    );
    // Another tenant has its own.
    assert!(f
        .store
        .routing_cursors(&id("globex"))
        .await
        .unwrap()
        .is_empty());
    commit(cursor("gus", 1), "globex").await.unwrap();
    assert_eq!(f.store.routing_cursors(&acme).await.unwrap()[0].version, 2);
}
