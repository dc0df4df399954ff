//! The platform operator: tenants created and suspended, numbers added at
//! run time with their secrets sealed (never answered, never in the store
//! in the clear), their webhooks working at once from the stored secrets,
//! and the keys rotated.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::call;

use axum::http::StatusCode;
use axum::Router;
use serde_json::{json, Value};
use std::sync::Arc;

use inbox_core::ports::SecretSlot;
use inbox_core::testing::Fixture;
use inbox_core::{ChannelId, Secret, TenantId};
use inbox_http::api::platform::OperatorToken;
use inbox_http::secrets::SecretBox;
use inbox_http::{router, Accounts, AppState};
use inbox_store_memory::MemoryStore;

const TOKEN: &str = "operator-token-0123456789";

fn keys(list: &[(&str, u8)]) -> SecretBox {
    let text: Vec<String> = list
        .iter()
        .map(|(id, b)| format!("{id}:{}", hex::encode([*b; 32])))
        .collect();
    SecretBox::from_list(&text.join(",")).unwrap()
}

fn app_with(f: &Fixture, secrets: SecretBox) -> Router {
    let state = AppState::builder(f.inbox.clone(), Accounts::new(f.acme()))
        .identity(Arc::new(common::Header))
        .operator(OperatorToken::new(&Secret::new(TOKEN)).unwrap(), secrets)
        .build();
    router(state)
}

const OP: (&str, &str) = ("authorization", "Bearer operator-token-0123456789");

async fn op(app: &Router, method: &str, path: &str, body: Option<Value>) -> (StatusCode, Value) {
    call(
        app,
        method,
        path,
        &[OP],
        body.map(|b| b.to_string().into_bytes()),
    )
    .await
}

fn customer_message(pnid: &str, wamid: &str) -> Vec<u8> {
    json!({"object": "whatsapp_business_account", "entry": [{"id": "waba", "changes": [{"field": "messages", "value": {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550000", "phone_number_id": pnid},
        "contacts": [{"profile": {"name": "Nora"}, "wa_id": "15551234567"}],
        "messages": [{"from": "15551234567", "id": wamid, "timestamp": "1772442000", "type": "text", "text": {"body": "hello initech"}}]
    }}]}]})
    .to_string()
    .into_bytes()
}

#[tokio::test]
async fn an_operator_provisions_a_tenant_and_its_number_at_run_time() {
    let f = Fixture::new(Arc::new(MemoryStore::new())).await.unwrap();
    let app = app_with(&f, keys(&[("k1", 1)]));

    // Only the operator.
    let path = "/api/platform/tenants";
    assert_eq!(
        call(&app, "GET", path, &[], None).await.0,
        StatusCode::UNAUTHORIZED
    );
    let wrong = ("authorization", "Bearer operator-token-0123456780");
    assert_eq!(
        call(&app, "GET", path, &[wrong], None).await.0,
        StatusCode::UNAUTHORIZED
    );
    let as_admin = ("x-agent", "acme/ada");
    assert_eq!(
        call(&app, "GET", path, &[as_admin], None).await.0,
        StatusCode::UNAUTHORIZED
    );
    let plain = router(AppState::builder(f.inbox.clone(), Accounts::new(f.acme())).build());
    assert_eq!(
        call(&plain, "GET", path, &[OP], None).await.0,
        StatusCode::UNAUTHORIZED
    );

    // A tenant, then its number with its secrets.
    let (status, t) = op(
        &app,
        "PUT",
        "/api/platform/tenants/initech",
        Some(json!({"name": "Initech"})),
    )
    .await;
    assert_eq!(
        (status, t["suspended"].as_bool()),
        (StatusCode::CREATED, Some(false)),
        "{t}"
    );
    let (_, all) = op(&app, "GET", path, None).await;
    let ids: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["acme", "globex", "initech"]);
    let number = json!({"phone_number_id": "3001", "display_number": "+1 555 3001", "name": "Main",
        "access_token": "EAAG-initech-token", "app_secret": "initech-app-secret", "verify_token": "initech-verify"});
    let (status, n) = op(
        &app,
        "PUT",
        "/api/platform/tenants/initech/numbers/main",
        Some(number),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{n}");
    assert_eq!(
        n["secrets"],
        json!(["access_token", "app_secret", "verify_token"])
    );
    assert_eq!(n["webhook_path"], "/webhooks/whatsapp/initech/main");
    let (_, listed) = op(&app, "GET", "/api/platform/tenants/initech/numbers", None).await;
    let shown = format!("{n} {listed}");
    for secret in ["EAAG-initech-token", "initech-app-secret", "initech-verify"] {
        assert!(!shown.contains(secret), "{shown}");
    }
    // Stored sealed: not in the clear, and not openable from another slot.
    let slot = |name: &str| SecretSlot {
        tenant: TenantId::new("initech").unwrap(),
        channel: ChannelId::new("main").unwrap(),
        name: name.into(),
    };
    let sealed = f
        .store
        .channel_secret(&slot("access_token"))
        .await
        .unwrap()
        .unwrap();
    assert!(!String::from_utf8_lossy(&sealed.sealed).contains("EAAG"));
    let b = keys(&[("k1", 1)]);
    assert_eq!(
        b.open(&slot("access_token"), &sealed).unwrap().expose(),
        "EAAG-initech-token"
    );
    assert!(b.open(&slot("app_secret"), &sealed).is_err());
    // Another tenant cannot take the number.
    let taken = json!({"phone_number_id": "3001", "display_number": "x"});
    let (status, err) = op(
        &app,
        "PUT",
        "/api/platform/tenants/globex/numbers/second",
        Some(taken),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{err}");
    let (status, _) = op(
        &app,
        "PUT",
        "/api/platform/tenants/nobody/numbers/x",
        Some(json!({"phone_number_id": "9", "display_number": "9"})),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Its webhook works at once, from the stored secrets, bound to it.
    let hook = "/webhooks/whatsapp/initech/main";
    let challenge =
        format!("{hook}?hub.mode=subscribe&hub.verify_token=initech-verify&hub.challenge=77");
    assert_eq!(
        call(&app, "GET", &challenge, &[], None).await,
        (StatusCode::OK, json!(77))
    );
    let bad = format!("{hook}?hub.mode=subscribe&hub.verify_token=nope&hub.challenge=77");
    assert_eq!(
        call(&app, "GET", &bad, &[], None).await.0,
        StatusCode::FORBIDDEN
    );
    let body = customer_message("3001", "wamid.initech.1");
    let sig = inbox_whatsapp::sign(&Secret::new("initech-app-secret"), &body);
    let (status, _) = call(
        &app,
        "POST",
        hook,
        &[("x-hub-signature-256", &sig)],
        Some(body.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let forged = inbox_whatsapp::sign(&Secret::new("acme-app-secret"), &body);
    let (status, _) = call(
        &app,
        "POST",
        hook,
        &[("x-hub-signature-256", &forged)],
        Some(body),
    )
    .await;
    assert!(status.is_client_error(), "{status}");
    let other = customer_message("1001", "wamid.acme.x");
    let sig = inbox_whatsapp::sign(&Secret::new("initech-app-secret"), &other);
    let (status, _) = call(
        &app,
        "POST",
        hook,
        &[("x-hub-signature-256", &sig)],
        Some(other),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "another number's body on this route"
    );
    assert_eq!(
        call(
            &app,
            "GET",
            "/webhooks/whatsapp/initech/nope?hub.mode=subscribe",
            &[],
            None
        )
        .await
        .0,
        StatusCode::NOT_FOUND
    );
    let initech = TenantId::new("initech").unwrap();
    let contact = inbox_core::model::ContactIdentity::wa("15551234567");
    assert!(f
        .store
        .find_contact(&initech, &contact)
        .await
        .unwrap()
        .is_some());

    // Sends for the number go with its own token (the Graph client asks
    // the store); another number has none here.
    use inbox_whatsapp::TokenSource;
    let store: Arc<dyn inbox_core::ports::Store> = f.store.clone();
    let tokens = inbox_http::secrets::StoredTokens::new(store, keys(&[("k1", 1)]));
    assert_eq!(
        tokens.token("3001").await.unwrap().expose(),
        "EAAG-initech-token"
    );
    assert!(tokens.token("1001").await.is_none());
    assert!(tokens.token("9999").await.is_none());
    assert!(!format!("{tokens:?}").contains("EAAG"));

    // Rotation: a new key first; re-sealed; the old key can go.
    let rotated = app_with(&f, keys(&[("k2", 2), ("k1", 1)]));
    let (status, r) = op(&rotated, "POST", "/api/platform/secrets/reseal", None).await;
    assert_eq!(
        (status, r["resealed"].as_u64(), r["key"].as_str()),
        (StatusCode::OK, Some(3), Some("k2"))
    );
    let only_new = app_with(&f, keys(&[("k2", 2)]));
    assert_eq!(
        call(&only_new, "GET", &challenge, &[], None).await.0,
        StatusCode::OK
    );
    let (_, again) = op(&only_new, "POST", "/api/platform/secrets/reseal", None).await;
    assert_eq!(again["resealed"], 0);
}

#[tokio::test]
async fn a_suspended_tenants_agents_are_refused_and_its_messages_kept() {
    let f = Fixture::new(Arc::new(MemoryStore::new())).await.unwrap();
    let app = app_with(&f, keys(&[("k1", 1)]));
    let ada = ("x-agent", "acme/ada");
    assert_eq!(
        call(&app, "GET", "/api/me", &[ada], None).await.0,
        StatusCode::OK
    );
    let (status, _) = op(
        &app,
        "PUT",
        "/api/platform/tenants/acme",
        Some(json!({"name": "Acme", "suspended": true})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, err) = call(&app, "GET", "/api/me", &[ada], None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{err}");
    // Renamed without a word on suspension: still suspended.
    let (_, t) = op(
        &app,
        "PUT",
        "/api/platform/tenants/acme",
        Some(json!({"name": "Acme Corp"})),
    )
    .await;
    assert_eq!(t["suspended"], true, "{t}");
    assert!(err["message"].as_str().unwrap().contains("suspended"));
    // globex is not touched; acme's customers still reach it.
    assert_eq!(
        call(&app, "GET", "/api/me", &[("x-agent", "globex/gus")], None)
            .await
            .0,
        StatusCode::OK
    );
    let (c, _) = f
        .customer_says("1001", "wamid.s.1", "34600000001", "hola")
        .await
        .unwrap();
    assert!(f.store.conversation(&f.acme(), &c).await.is_ok());
    op(
        &app,
        "PUT",
        "/api/platform/tenants/acme",
        Some(json!({"name": "Acme", "suspended": false})),
    )
    .await;
    assert_eq!(
        call(&app, "GET", "/api/me", &[ada], None).await.0,
        StatusCode::OK
    );
}
