//! The sealed secrets of numbers and tenants, and suspended tenants.

use crate::testing::conformance::support::*;

fn slot(tenant: &str, channel: &str, name: &str) -> SecretSlot {
    SecretSlot {
        tenant: t(tenant),
        channel: id(channel),
        name: name.into(),
    }
}

fn sealed(key: &str, bytes: &[u8]) -> SealedSecret {
    SealedSecret {
        key_id: key.into(),
        sealed: bytes.to_vec(),
    }
}

/// A secret reads back exactly as put, is replaced, and removed; only a
/// number of the tenant has secrets.
pub(crate) async fn channel_secrets_are_stored_replaced_and_removed<S: Store + ?Sized>(
    store: Arc<S>,
) {
    setup_tenants(&*store).await;
    let token = slot("acme", "sales", "access_token");
    assert_eq!(store.channel_secret(&token).await.unwrap(), None);
    let first = sealed("k1", &[0, 1, 2, 255]);
    store
        .put_channel_secret(&token, Some(&first))
        .await
        .unwrap();
    assert_eq!(store.channel_secret(&token).await.unwrap(), Some(first));
    let second = sealed("k2", b"other bytes");
    store
        .put_channel_secret(&token, Some(&second))
        .await
        .unwrap();
    assert_eq!(
        store.channel_secret(&token).await.unwrap(),
        Some(second.clone())
    );
    // Another name of the same number is apart.
    assert_eq!(
        store
            .channel_secret(&slot("acme", "sales", "app_secret"))
            .await
            .unwrap(),
        None
    );
    // Another tenant's number (globex has `main`), or none at all.
    for missing in [
        slot("acme", "main", "access_token"),
        slot("acme", "nope", "x"),
    ] {
        let err = store
            .put_channel_secret(&missing, Some(&second))
            .await
            .unwrap_err();
        assert_eq!(err.code(), "not_found", "{missing:?}");
        assert_eq!(store.channel_secret(&missing).await.unwrap(), None);
    }
    store.put_channel_secret(&token, None).await.unwrap();
    assert_eq!(store.channel_secret(&token).await.unwrap(), None);
    assert!(!format!("{second:?}").contains("other"));
}

/// Every stored secret of every tenant, in slot order, a page at a time.
pub(crate) async fn sealed_secrets_are_listed_in_slot_order<S: Store + ?Sized>(store: Arc<S>) {
    setup_tenants(&*store).await;
    let slots = [
        slot("acme", "sales", "access_token"),
        slot("acme", "sales", "app_secret"),
        slot("acme", "support", "access_token"),
        slot("globex", "main", "verify_token"),
    ];
    for (i, s) in slots.iter().rev().enumerate() {
        store
            .put_channel_secret(s, Some(&sealed("k1", &[i as u8])))
            .await
            .unwrap();
    }
    let first = store.sealed_secrets(None, 3).await.unwrap();
    let listed: Vec<&SecretSlot> = first.iter().map(|(s, _)| s).collect();
    assert_eq!(listed, slots.iter().take(3).collect::<Vec<_>>());
    let rest = store.sealed_secrets(Some(&first[2].0), 3).await.unwrap();
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0].0, slots[3]);
    assert!(store
        .sealed_secrets(Some(&rest[0].0), 3)
        .await
        .unwrap()
        .is_empty());
}

/// A tenant's suspension is stored and read back, and lifted.
pub(crate) async fn tenants_are_suspended_and_restored<S: Store + ?Sized>(store: Arc<S>) {
    setup_tenants(&*store).await;
    let acme = store.tenant(&t("acme")).await.unwrap();
    assert!(!acme.suspended);
    let suspended = Tenant {
        suspended: true,
        ..acme.clone()
    };
    store.upsert_tenant(&suspended).await.unwrap();
    assert_eq!(store.tenant(&t("acme")).await.unwrap(), suspended);
    assert!(!store.tenant(&t("globex")).await.unwrap().suspended);
    let all = store.tenants().await.unwrap();
    let listed: Vec<(&str, bool)> = all.iter().map(|t| (t.id.as_str(), t.suspended)).collect();
    assert_eq!(listed, [("acme", true), ("globex", false)]);
    store.upsert_tenant(&acme).await.unwrap();
    assert_eq!(store.tenant(&t("acme")).await.unwrap(), acme);
}

fn tenant_slot(tenant: &str, name: &str) -> TenantSecretSlot {
    TenantSecretSlot {
        tenant: t(tenant),
        name: name.into(),
    }
}

/// A tenant-wide secret reads back as put, is replaced and removed, is its
/// tenant's only, and needs the tenant to exist.
pub(crate) async fn tenant_secrets_are_stored_scoped_and_removed<S: Store + ?Sized>(store: Arc<S>) {
    setup_tenants(&*store).await;
    let token = tenant_slot("acme", "hubspot.token");
    assert_eq!(store.tenant_secret(&token).await.unwrap(), None);
    let first = sealed("k1", &[9, 8, 7]);
    store.put_tenant_secret(&token, Some(&first)).await.unwrap();
    let second = sealed("k2", b"replaced");
    store
        .put_tenant_secret(&token, Some(&second))
        .await
        .unwrap();
    assert_eq!(
        store.tenant_secret(&token).await.unwrap(),
        Some(second.clone())
    );
    store
        .put_tenant_secret(&tenant_slot("acme", "shopify.token"), Some(&first))
        .await
        .unwrap();
    // Another tenant sees none of them, by slot or by name.
    let theirs = tenant_slot("globex", "hubspot.token");
    assert_eq!(store.tenant_secret(&theirs).await.unwrap(), None);
    assert!(store
        .tenant_secret_names(&t("globex"))
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        store.tenant_secret_names(&t("acme")).await.unwrap(),
        ["hubspot.token", "shopify.token"]
    );
    // A tenant that does not exist has no secrets to keep.
    let nobody = tenant_slot("nobody", "hubspot.token");
    for put in [Some(&first), None] {
        let err = store.put_tenant_secret(&nobody, put).await.unwrap_err();
        assert_eq!(err.code(), "not_found", "{put:?}");
    }
    store.put_tenant_secret(&token, None).await.unwrap();
    assert_eq!(store.tenant_secret(&token).await.unwrap(), None);
    assert_eq!(
        store.tenant_secret_names(&t("acme")).await.unwrap(),
        ["shopify.token"]
    );
    // Removing what is not there is fine.
    store.put_tenant_secret(&token, None).await.unwrap();
    // Numbers' secrets are apart.
    assert!(store.sealed_secrets(None, 10).await.unwrap().is_empty());
}

/// Every tenant-wide secret of every tenant, in slot order, a page at a time.
pub(crate) async fn sealed_tenant_secrets_are_listed_in_slot_order<S: Store + ?Sized>(
    store: Arc<S>,
) {
    setup_tenants(&*store).await;
    let slots = [
        tenant_slot("acme", "hubspot.token"),
        tenant_slot("acme", "zoho.refresh_token"),
        tenant_slot("globex", "shopify.token"),
    ];
    for (i, s) in slots.iter().rev().enumerate() {
        store
            .put_tenant_secret(s, Some(&sealed("k1", &[i as u8])))
            .await
            .unwrap();
    }
    let first = store.sealed_tenant_secrets(None, 2).await.unwrap();
    let listed: Vec<&TenantSecretSlot> = first.iter().map(|(s, _)| s).collect();
    assert_eq!(listed, slots.iter().take(2).collect::<Vec<_>>());
    assert_eq!(first[0].1, sealed("k1", &[2]));
    let rest = store
        .sealed_tenant_secrets(Some(&first[1].0), 2)
        .await
        .unwrap();
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0].0, slots[2]);
    assert!(store
        .sealed_tenant_secrets(Some(&rest[0].0), 2)
        .await
        .unwrap()
        .is_empty());
}
