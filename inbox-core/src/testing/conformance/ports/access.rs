//! The [`Access`] contract: password hashes of the tenant's agents,
//! sessions by token hash (expired ones returned, the caller decides),
//! API keys by id, revoked once; tenants apart.

use crate::testing::conformance::support::*;
use crate::Secret;

fn a(s: &str) -> AgentId {
    AgentId::new(s).unwrap()
}

fn key_id(s: &str) -> ApiKeyId {
    ApiKeyId::new(s).unwrap()
}

/// Two tenants, `ana` and `ben` in acme, `gus` in globex.
async fn setup<S: Store + ?Sized>(store: &S) {
    setup_tenants(store).await;
    for (tenant, agent) in [("acme", "ana"), ("acme", "ben"), ("globex", "gus")] {
        store
            .upsert_agent(&Agent::new(t(tenant), a(agent), agent, Role::Agent))
            .await
            .unwrap();
    }
}

fn session(tenant: &str, agent: &str, token: &str, minute: i64) -> SessionRecord {
    SessionRecord {
        tenant: t(tenant),
        agent: a(agent),
        token_hash: TokenHash::of(token),
        created_at: at(minute),
        expires_at: at(minute + 60),
        last_seen_at: None,
        user_agent: Some("Firefox".into()),
    }
}

fn api_key(tenant: &str, id: &str, secret: &str) -> ApiKeyRecord {
    ApiKeyRecord {
        tenant: t(tenant),
        id: key_id(id),
        name: format!("{id} of {tenant}"),
        role: Role::Supervisor,
        key_hash: TokenHash::of(secret),
        created_at: at(1),
        created_by: Some(a("ana")),
        last_used_at: None,
        revoked_at: None,
    }
}

fn expect_not_found(err: Error, entity: Entity) {
    match err {
        Error::NotFound { entity: e, .. } if e == entity => {}
        other => panic!("expected {entity} not found, got {other:?}"),
    }
}

/// Set, read back exactly, replaced, removed; only for an agent of the
/// tenant.
pub(crate) async fn password_hashes_are_kept_per_agent<S: Store + ?Sized>(store: Arc<S>) {
    setup(&*store).await;
    let (acme, ana) = (t("acme"), a("ana"));
    assert_eq!(store.password_hash(&acme, &ana).await.unwrap(), None);
    let phc = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA";
    store
        .set_password_hash(&acme, &ana, Some(phc))
        .await
        .unwrap();
    let read = store.password_hash(&acme, &ana).await.unwrap();
    assert_eq!(read.as_ref().map(Secret::expose), Some(phc));
    assert_eq!(store.password_hash(&acme, &a("ben")).await.unwrap(), None);
    store
        .set_password_hash(&acme, &ana, Some("$other"))
        .await
        .unwrap();
    let read = store.password_hash(&acme, &ana).await.unwrap();
    assert_eq!(read.as_ref().map(Secret::expose), Some("$other"));
    store.set_password_hash(&acme, &ana, None).await.unwrap();
    assert_eq!(store.password_hash(&acme, &ana).await.unwrap(), None);
    // Another tenant's agent, or none at all: not found, nothing written.
    for (tenant, agent) in [("acme", "gus"), ("globex", "ana"), ("acme", "nobody")] {
        let err = (store.set_password_hash(&t(tenant), &a(agent), Some("$x")))
            .await
            .unwrap_err();
        expect_not_found(err, Entity::Agent);
        let err = store
            .password_hash(&t(tenant), &a(agent))
            .await
            .unwrap_err();
        expect_not_found(err, Entity::Agent);
    }
    assert_eq!(
        store.password_hash(&t("globex"), &a("gus")).await.unwrap(),
        None
    );
}

/// Found by hash in any tenant, expired ones too, exactly as stored;
/// one per hash; listed newest first; touched; revoked one, all of an
/// agent's but one, or purged by expiry; tenants apart.
pub(crate) async fn sessions_are_found_listed_and_revoked<S: Store + ?Sized>(store: Arc<S>) {
    setup(&*store).await;
    let acme = t("acme");
    let s1 = session("acme", "ana", "t1", 0);
    let s2 = session("acme", "ana", "t2", 10);
    let s3 = session("acme", "ben", "t3", 20);
    let g1 = session("globex", "gus", "g1", 30);
    for s in [&s1, &s2, &s3, &g1] {
        store.create_session(s).await.unwrap();
    }
    let again = store.create_session(&s1).await.unwrap_err();
    assert!(
        matches!(
            again,
            Error::Duplicate {
                what: Unique::Session,
                ..
            }
        ),
        "{again:?}"
    );
    let stranger = store
        .create_session(&session("acme", "gus", "t9", 0))
        .await
        .unwrap_err();
    expect_not_found(stranger, Entity::Agent);
    assert_eq!(store.session(&TokenHash::of("t9")).await.unwrap(), None);
    // Found by hash whatever the tenant; the store does not judge expiry.
    assert_eq!(
        store.session(&s1.token_hash).await.unwrap(),
        Some(s1.clone())
    );
    assert_eq!(
        store.session(&g1.token_hash).await.unwrap(),
        Some(g1.clone())
    );
    // Listed newest first, one agent's or the tenant's.
    let all = store.sessions(&acme, None).await.unwrap();
    assert_eq!(all, vec![s3.clone(), s2.clone(), s1.clone()]);
    let anas = store.sessions(&acme, Some(&a("ana"))).await.unwrap();
    assert_eq!(anas, vec![s2.clone(), s1.clone()]);
    assert_eq!(
        store.sessions(&t("globex"), None).await.unwrap(),
        vec![g1.clone()]
    );
    // Touched in its tenant only.
    store
        .touch_session(&acme, &s1.token_hash, at(5))
        .await
        .unwrap();
    store
        .touch_session(&acme, &g1.token_hash, at(5))
        .await
        .unwrap();
    let touched = store.session(&s1.token_hash).await.unwrap().unwrap();
    assert_eq!(touched.last_seen_at, Some(at(5)));
    assert_eq!(
        store.session(&g1.token_hash).await.unwrap(),
        Some(g1.clone())
    );
    // Revoked in its tenant only.
    assert!(!store.revoke_session(&acme, &g1.token_hash).await.unwrap());
    assert!(store.session(&g1.token_hash).await.unwrap().is_some());
    assert!(store.revoke_session(&acme, &s3.token_hash).await.unwrap());
    assert!(!store.revoke_session(&acme, &s3.token_hash).await.unwrap());
    assert_eq!(store.session(&s3.token_hash).await.unwrap(), None);
    // All of an agent's but one; another tenant's agent of that name keeps theirs.
    let s4 = session("acme", "ana", "t4", 40);
    store.create_session(&s4).await.unwrap();
    let ended = store
        .revoke_agent_sessions(&acme, &a("ana"), Some(&s2.token_hash))
        .await
        .unwrap();
    assert_eq!(ended, 2);
    assert_eq!(store.sessions(&acme, None).await.unwrap(), vec![s2.clone()]);
    let none = store
        .revoke_agent_sessions(&t("globex"), &a("ana"), None)
        .await
        .unwrap();
    assert_eq!(none, 0);
    // Purged by expiry, every tenant's, at or before the instant.
    assert_eq!(store.purge_sessions(at(69)).await.unwrap(), 0);
    assert_eq!(store.purge_sessions(at(70)).await.unwrap(), 1);
    assert_eq!(store.session(&s2.token_hash).await.unwrap(), None);
    assert_eq!(store.purge_sessions(at(100)).await.unwrap(), 1);
    assert_eq!(store.session(&g1.token_hash).await.unwrap(), None);
}

/// Found by id in any tenant, exactly as stored; one per id across
/// tenants; listed by id; revoked once (the first time kept); touched;
/// another tenant's key not found.
pub(crate) async fn api_keys_are_found_listed_and_revoked_once<S: Store + ?Sized>(store: Arc<S>) {
    setup(&*store).await;
    let acme = t("acme");
    let k2 = api_key("acme", "key_000000000002", "s2");
    let k1 = api_key("acme", "key_000000000001", "s1");
    let g1 = api_key("globex", "key_000000000009", "s9");
    for k in [&k2, &k1, &g1] {
        store.create_api_key(k).await.unwrap();
    }
    let twin = api_key("globex", "key_000000000001", "other");
    let err = store.create_api_key(&twin).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Duplicate {
                what: Unique::ApiKey,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(store.api_key(&k1.id).await.unwrap(), Some(k1.clone()));
    assert_eq!(store.api_key(&g1.id).await.unwrap(), Some(g1.clone()));
    assert_eq!(store.api_key(&key_id("key_nope")).await.unwrap(), None);
    assert_eq!(
        store.api_keys(&acme).await.unwrap(),
        vec![k1.clone(), k2.clone()]
    );
    assert_eq!(
        store.api_keys(&t("globex")).await.unwrap(),
        vec![g1.clone()]
    );
    // Another tenant's key is not found, and stays as it was.
    let err = store
        .revoke_api_key(&acme, &g1.id, at(2))
        .await
        .unwrap_err();
    expect_not_found(err, Entity::ApiKey);
    let err = store.touch_api_key(&acme, &g1.id, at(2)).await.unwrap_err();
    expect_not_found(err, Entity::ApiKey);
    assert_eq!(store.api_key(&g1.id).await.unwrap(), Some(g1.clone()));
    // Touched; revoked once.
    store.touch_api_key(&acme, &k1.id, at(3)).await.unwrap();
    let revoked = store.revoke_api_key(&acme, &k1.id, at(4)).await.unwrap();
    assert_eq!(
        (revoked.last_used_at, revoked.revoked_at),
        (Some(at(3)), Some(at(4)))
    );
    let again = store.revoke_api_key(&acme, &k1.id, at(9)).await.unwrap();
    assert_eq!(again.revoked_at, Some(at(4)));
    assert_eq!(store.api_key(&k1.id).await.unwrap(), Some(revoked));
    assert!(k1
        .key_hash
        .matches(&store.api_key(&k1.id).await.unwrap().unwrap().key_hash));
}
