//! Connectors over HTTP: credentials stored sealed through the admin API
//! and never shown again, one tenant's connector invisible to another, the
//! context answered from a (mock) HubSpot, checks saying why they fail.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use tower::ServiceExt;
use wiremock::matchers::{header, method, path, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

use inbox_connectors::{CallPolicy, ConnectorOptions, Endpoints};
use inbox_core::ports::TenantSecretSlot;
use inbox_core::settings::HubSpotSettings;
use inbox_core::testing::Fixture;
use inbox_core::{ContactId, TenantId};
use inbox_http::secrets::SecretBox;
use inbox_http::{router, Accounts, AppState};
use inbox_store_memory::MemoryStore;

use common::Header;

const TOKEN: &str = "pat-na1-11111111-2222-3333-4444-555555555555";

struct Setup {
    f: Fixture,
    app: axum::Router,
    state: AppState,
    hubspot: MockServer,
    contact: ContactId,
}

async fn setup() -> Setup {
    let f = Fixture::new(Arc::new(MemoryStore::new())).await.unwrap();
    let (c, _) = f
        .customer_says("1001", "w1", "34600111222", "where is my order?")
        .await
        .unwrap();
    let contact = f.store.conversation(&f.acme(), &c).await.unwrap().contact;
    let hubspot = MockServer::start().await;
    let options = ConnectorOptions {
        endpoints: Endpoints::all_at(hubspot.uri().parse().unwrap()),
        policy: CallPolicy {
            timeout: Duration::from_millis(500),
            attempts: 2,
            base_backoff: Duration::from_millis(5),
            max_wait: Duration::from_secs(1),
            per_second: 1000,
        },
        ..Default::default()
    };
    let keys = SecretBox::from_list(&format!("k1:{}", "42".repeat(32))).unwrap();
    let state = AppState::builder(f.inbox.clone(), Accounts::new(f.acme()))
        .identity(Arc::new(Header))
        .secrets(keys)
        .connectors(options)
        .build();
    Setup {
        app: router(state.clone()),
        state,
        f,
        hubspot,
        contact,
    }
}

async fn send(
    s: &Setup,
    who: &str,
    verb: &str,
    uri: &str,
    body: Option<Value>,
) -> (StatusCode, String) {
    let request = Request::builder()
        .method(verb)
        .uri(uri)
        .header("x-agent", who)
        .header("content-type", "application/json")
        .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
        .unwrap();
    let answer = s.app.clone().oneshot(request).await.unwrap();
    let status = answer.status();
    let bytes = axum::body::to_bytes(answer.into_body(), 1 << 20)
        .await
        .unwrap();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

fn hubspot_of(list: &str) -> Value {
    let all: Vec<Value> = serde_json::from_str(list).unwrap();
    all.into_iter().find(|c| c["id"] == "hubspot").unwrap()
}

/// HubSpot as documented: the contact search finds Maria, with no owner,
/// company or deals.
async fn hubspot_knows_maria(s: &Setup) {
    Mock::given(method("POST"))
        .and(path("/crm/v3/objects/contacts/search"))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"total": 1, "results": [{
            "id": "501",
            "properties": {"hs_object_id": "501", "firstname": "Maria", "lastname": "Lopez",
                "lifecyclestage": "customer", "phone": "+34600111222",
                "lastmodifieddate": "2026-11-30T09:00:00.000Z"},
            "createdAt": "2026-01-10T09:00:00.000Z", "updatedAt": "2026-11-30T09:00:00.000Z",
            "archived": false}]})),
        )
        .mount(&s.hubspot)
        .await;
    Mock::given(method("GET"))
        .and(path_regex(r"^/crm/v4/objects/contacts/501/associations/.*"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"results": []})))
        .mount(&s.hubspot)
        .await;
}

#[tokio::test]
async fn credentials_are_stored_sealed_and_never_shown() {
    let s = setup().await;
    let (status, list) = send(&s, "acme/ada", "GET", "/api/connectors", None).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let h = hubspot_of(&list);
    assert_eq!(
        (
            h["configured"].as_bool(),
            h["credentials"][0]["set"].as_bool()
        ),
        (Some(false), Some(false))
    );

    let form = json!({"credentials": {"token": TOKEN}});
    let (status, body) = send(
        &s,
        "acme/ada",
        "PUT",
        "/api/connectors/hubspot/credentials",
        Some(form),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(!body.contains(TOKEN), "{body}");
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["credentials"][0]["set"],
        true
    );
    // At rest: sealed, not the token.
    let slot = TenantSecretSlot {
        tenant: s.f.acme(),
        name: "hubspot.token".into(),
    };
    let sealed = s.f.store.tenant_secret(&slot).await.unwrap().unwrap();
    let bytes = String::from_utf8_lossy(&sealed.sealed).into_owned();
    assert!(!bytes.contains("pat-na1"), "stored in the clear");
    // Nothing shows it: the list, the state's Debug.
    let (_, list) = send(&s, "acme/sam", "GET", "/api/connectors", None).await;
    assert!(!list.contains(TOKEN));
    assert!(!format!("{:?} {:?}", s.state, s.state.connectors).contains(TOKEN));

    // A credential it does not take, or an empty one: 400, nothing stored.
    for bad in [
        json!({"credentials": {"password": "x"}}),
        json!({"credentials": {"token": " "}}),
    ] {
        let (status, body) = send(
            &s,
            "acme/ada",
            "PUT",
            "/api/connectors/hubspot/credentials",
            Some(bad),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    }
    let (status, _) = send(
        &s,
        "acme/ada",
        "PUT",
        "/api/connectors/salesforce/credentials",
        Some(json!({"credentials": {}})),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Removed with null.
    let form = json!({"credentials": {"token": null}});
    let (_, body) = send(
        &s,
        "acme/ada",
        "PUT",
        "/api/connectors/hubspot/credentials",
        Some(form),
    )
    .await;
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["credentials"][0]["set"],
        false
    );
    assert!(s.f.store.tenant_secret(&slot).await.unwrap().is_none());
}

#[tokio::test]
async fn one_tenants_connector_is_invisible_to_another() {
    let s = setup().await;
    s.f.edit_settings(|d| d.connectors.hubspot = Some(HubSpotSettings::default()))
        .await
        .unwrap();
    let form = json!({"credentials": {"token": TOKEN}});
    send(
        &s,
        "acme/ada",
        "PUT",
        "/api/connectors/hubspot/credentials",
        Some(form),
    )
    .await;
    hubspot_knows_maria(&s).await;

    let (_, theirs) = send(&s, "globex/gus", "GET", "/api/connectors", None).await;
    let h = hubspot_of(&theirs);
    assert_eq!(h["configured"], false);
    assert_eq!(h["credentials"][0]["set"], false);
    // Acme's contact is not globex's to look up.
    let uri = format!("/api/contacts/{}/context", s.contact);
    let (status, _) = send(&s, "globex/gus", "GET", &uri, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Globex's own customer: no connector, no card, no call.
    let (gc, _) =
        s.f.customer_says("2001", "g1", "1555001", "hello")
            .await
            .unwrap();
    let globex = TenantId::new("globex").unwrap();
    let gcontact = s.f.store.conversation(&globex, &gc).await.unwrap().contact;
    let (status, body) = send(
        &s,
        "globex/gus",
        "GET",
        &format!("/api/contacts/{gcontact}/context"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        json!({"state": "cards", "value": []})
    );
    let searched = s.hubspot.received_requests().await.unwrap().len();
    assert_eq!(
        searched, 0,
        "globex's customer was looked up in acme's HubSpot"
    );

    // Acme's agent sees HubSpot's card, stamped with its source and time.
    let (status, body) = send(&s, "acme/ana", "GET", &uri, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let view: Value = serde_json::from_str(&body).unwrap();
    let card = &view["value"][0];
    assert_eq!(card["source"], "HubSpot", "{body}");
    assert!(card["title"].as_str().unwrap().contains("Maria"), "{body}");
    assert!(card["fetched_at"].is_string(), "{body}");
    assert!(!body.contains(TOKEN));
}

#[tokio::test]
async fn a_check_says_why_a_connector_fails() {
    let s = setup().await;
    s.f.edit_settings(|d| d.connectors.hubspot = Some(HubSpotSettings::default()))
        .await
        .unwrap();
    // No credentials yet.
    let (status, body) = send(
        &s,
        "acme/ada",
        "POST",
        "/api/connectors/hubspot/check",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["ok"], false);
    assert!(
        v["problem"].as_str().unwrap().contains("no token"),
        "{body}"
    );

    let form = json!({"credentials": {"token": TOKEN}});
    send(
        &s,
        "acme/ada",
        "PUT",
        "/api/connectors/hubspot/credentials",
        Some(form),
    )
    .await;
    Mock::given(method("GET"))
        .and(path("/crm/v3/objects/contacts"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "status": "error", "message": "Authentication credentials not found.",
            "category": "INVALID_AUTHENTICATION"})))
        .up_to_n_times(1)
        .mount(&s.hubspot)
        .await;
    let (_, body) = send(
        &s,
        "acme/ada",
        "POST",
        "/api/connectors/hubspot/check",
        None,
    )
    .await;
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["ok"], false);
    assert!(
        v["problem"]
            .as_str()
            .unwrap()
            .contains("refused the credentials"),
        "{body}"
    );
    assert!(!body.contains(TOKEN));
    // The token reached HubSpot as its bearer.
    let asked = &s.hubspot.received_requests().await.unwrap()[0];
    assert_eq!(
        asked
            .headers
            .get("authorization")
            .unwrap()
            .to_str()
            .unwrap(),
        format!("Bearer {TOKEN}")
    );

    Mock::given(method("GET"))
        .and(path("/crm/v3/objects/contacts"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"results": []})))
        .mount(&s.hubspot)
        .await;
    let (_, body) = send(
        &s,
        "acme/ada",
        "POST",
        "/api/connectors/hubspot/check",
        None,
    )
    .await;
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        json!({"ok": true, "problem": null})
    );
}

#[tokio::test]
async fn connector_credentials_are_resealed_under_a_new_key() {
    let s = setup().await;
    let form = json!({"credentials": {"token": TOKEN}});
    let (status, _) = send(
        &s,
        "acme/ada",
        "PUT",
        "/api/connectors/hubspot/credentials",
        Some(form),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let slot = TenantSecretSlot {
        tenant: s.f.acme(),
        name: "hubspot.token".into(),
    };
    // A new key first, the old one still opening: everything is resealed.
    let both =
        SecretBox::from_list(&format!("k2:{},k1:{}", "17".repeat(32), "42".repeat(32))).unwrap();
    assert_eq!(both.reseal_all(&*s.f.store).await.unwrap(), 1);
    let sealed = s.f.store.tenant_secret(&slot).await.unwrap().unwrap();
    assert_eq!(sealed.key_id, "k2");
    // The old key can go: the new one alone opens it.
    let new_only = SecretBox::from_list(&format!("k2:{}", "17".repeat(32))).unwrap();
    let opened = new_only
        .get_tenant(&*s.f.store, &slot)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(opened.expose(), TOKEN);
    // Nothing left to reseal.
    assert_eq!(both.reseal_all(&*s.f.store).await.unwrap(), 0);
}
