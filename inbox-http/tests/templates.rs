//! Templates over HTTP: what agents are offered (their tenant's sendable
//! ones) and `POST /api/templates/sync`, which reads Meta's list (a local
//! mock of the Graph API) for the accounts of the tenant's numbers, each
//! with its number's token, and stores it as the admin's settings change.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use axum::http::StatusCode;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use common::{Case, Header, World};
use inbox_core::model::Channel;
use inbox_http::{router, Accounts, AppState};
use inbox_whatsapp::{GraphClient, GraphConfig, RetryPolicy, Secret};

const ACME_TOKEN: &str = "acme-number-token-EAAG";

/// Acme's `sales` number in account `waba-acme`, globex's number in
/// `waba-globex`; the app syncs through a client on `server` that knows
/// acme's number's token (the default token is another).
async fn world(server: Option<&MockServer>) -> World {
    let mut w = World::new().await;
    for (tenant, channel, waba) in [
        (w.f.acme(), "sales", "waba-acme"),
        (
            inbox_core::TenantId::new("globex").unwrap(),
            "main",
            "waba-globex",
        ),
    ] {
        let store = &w.f.store;
        let found = store.channels(&tenant).await.unwrap();
        let c = found
            .iter()
            .find(|c| c.id.as_str() == channel)
            .or(found.first())
            .unwrap();
        let c = Channel {
            waba_id: Some(waba.into()),
            ..c.clone()
        };
        w.f.inbox.provision_channel(&c).await.unwrap();
    }
    let mut builder =
        AppState::builder(w.f.inbox.clone(), Accounts::new(w.f.acme())).identity(Arc::new(Header));
    if let Some(server) = server {
        let mut config = GraphConfig::new("default-token").base_url(server.uri());
        config.tokens.insert("1001".into(), Secret::new(ACME_TOKEN));
        config.retry = RetryPolicy {
            max_attempts: 1,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(1),
            retry_timeouts: false,
        };
        builder = builder.graph(GraphClient::new(config).unwrap());
    }
    w.app = router(builder.build());
    w
}

/// Meta's list for acme's account.
fn meta_list() -> Value {
    json!({"data": [
        {"name": "order_update", "language": "en_US", "status": "APPROVED", "category": "UTILITY",
         "components": [{"type": "BODY", "text": "Hi {{1}}, order {{2}} ships today"}]},
        {"name": "promo", "language": "en_US", "status": "PAUSED", "category": "MARKETING",
         "components": [{"type": "BODY", "text": "Sale!"}]}
    ], "paging": {"cursors": {}}})
}

async fn acme_account(server: &MockServer) {
    Mock::given(method("GET"))
        .and(path("/v23.0/waba-acme/message_templates"))
        .and(header(
            "authorization",
            format!("Bearer {ACME_TOKEN}").as_str(),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(meta_list()))
        .mount(server)
        .await;
}

async fn send(
    w: &World,
    who: &str,
    method: &'static str,
    path: &'static str,
) -> (StatusCode, Value) {
    let (status, text) = w.send(who, &Case::new(method, path, None)).await;
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

#[tokio::test]
async fn an_admin_syncs_the_accounts_templates_and_agents_are_offered_the_sendable_ones() {
    let server = MockServer::start().await;
    acme_account(&server).await;
    let w = world(Some(&server)).await;
    let (status, sync) = send(&w, "acme/ada", "post", "/templates/sync").await;
    assert_eq!(status, StatusCode::OK, "{sync}");
    assert_eq!(sync["stored"], true);
    assert_eq!(sync["accounts"], json!(["waba-acme"]));
    assert_eq!(sync["added"], json!(["order_update@en_US", "promo@en_US"]));
    // The template written by hand before is not in Meta's list.
    assert_eq!(sync["removed"], json!(["acme_offer@en_US"]));

    let (status, offered) = send(&w, "acme/ana", "get", "/templates").await;
    assert_eq!(status, StatusCode::OK);
    let offered = offered.as_array().unwrap();
    assert_eq!(
        offered.len(),
        1,
        "a paused template is not offered: {offered:?}"
    );
    assert_eq!(offered[0]["name"], "order_update");
    assert_eq!(offered[0]["text"], "Hi {{1}}, order {{2}} ships today");
    assert_eq!(offered[0]["category"], "UTILITY");
    assert_eq!(
        offered[0]["parameters"],
        json!([{"component": "body", "count": 2}])
    );

    // In the history, as ada's change of the templates section.
    let (_, history) = send(&w, "acme/ada", "get", "/settings/history").await;
    let latest = &history.as_array().unwrap()[0];
    assert_eq!(latest["by"], "ada", "{latest}");
    assert_eq!(latest["version"], sync["version"]);
    assert!(latest.to_string().contains("templates"), "{latest}");

    // Again: nothing new, no new version.
    let (status, again) = send(&w, "acme/ada", "post", "/templates/sync").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (again["stored"].clone(), again["version"].clone()),
        (json!(false), sync["version"].clone())
    );
    assert_eq!(again["added"], json!([]));
}

#[tokio::test]
async fn only_admins_sync_and_meta_is_not_asked_for_the_others() {
    let server = MockServer::start().await;
    acme_account(&server).await;
    let w = world(Some(&server)).await;
    for who in ["acme/ana", "acme/sam"] {
        let (status, body) = send(&w, who, "post", "/templates/sync").await;
        assert_eq!(
            (status, body["code"].clone()),
            (StatusCode::FORBIDDEN, json!("forbidden")),
            "{who}"
        );
    }
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_sync_reads_only_the_callers_accounts() {
    let server = MockServer::start().await;
    acme_account(&server).await;
    Mock::given(method("GET"))
        .and(path("/v23.0/waba-globex/message_templates"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": [
            {"name": "globex_hello", "language": "en_US", "status": "APPROVED", "category": "UTILITY",
             "components": [{"type": "BODY", "text": "Hello from Globex"}]}
        ]})))
        .mount(&server)
        .await;
    let w = world(Some(&server)).await;
    let (status, sync) = send(&w, "globex/gus", "post", "/templates/sync").await;
    assert_eq!(status, StatusCode::OK, "{sync}");
    assert_eq!(sync["accounts"], json!(["waba-globex"]));
    let asked: Vec<String> = (server.received_requests().await.unwrap().iter())
        .map(|r| r.url.path().to_string())
        .collect();
    assert_eq!(asked, ["/v23.0/waba-globex/message_templates"]);
    let (_, offered) = send(&w, "globex/gus", "get", "/templates").await;
    assert!(!offered.to_string().contains("acme"), "{offered}");
    let (_, acme) = send(&w, "acme/ana", "get", "/templates").await;
    assert_eq!(
        acme[0]["name"], "acme_offer",
        "acme's list is untouched: {acme}"
    );
}

#[tokio::test]
async fn a_refused_token_is_a_502_that_names_no_token_and_changes_nothing() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v23.0/waba-acme/message_templates"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({"error": {
            "message": "Error validating access token", "type": "OAuthException", "code": 190
        }})))
        .mount(&server)
        .await;
    let w = world(Some(&server)).await;
    let before = w.version("acme/ada").await;
    let (status, body) = send(&w, "acme/ada", "post", "/templates/sync").await;
    assert_eq!(
        (status, body["code"].clone()),
        (StatusCode::BAD_GATEWAY, json!("graph_unauthorized")),
        "{body}"
    );
    assert!(!body.to_string().contains(ACME_TOKEN), "{body}");
    assert_eq!(w.version("acme/ada").await, before);
}

#[tokio::test]
async fn without_an_account_or_a_graph_client_the_sync_says_what_is_missing() {
    // No client in this deployment: 503, after the account is found.
    let w = world(None).await;
    let (status, body) = send(&w, "acme/ada", "post", "/templates/sync").await;
    assert_eq!(
        (status, body["code"].clone()),
        (StatusCode::SERVICE_UNAVAILABLE, json!("unavailable")),
        "{body}"
    );

    // No number names its account: 422 naming the field.
    let server = MockServer::start().await;
    let w = world(Some(&server)).await;
    for c in w.f.store.channels(&w.f.acme()).await.unwrap() {
        w.f.inbox
            .provision_channel(&Channel { waba_id: None, ..c })
            .await
            .unwrap();
    }
    let (status, body) = send(&w, "acme/ada", "post", "/templates/sync").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body.to_string().contains("waba_id"), "{body}");
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn an_account_id_that_would_leave_the_graph_path_is_refused() {
    let w = world(None).await;
    let c = w.f.store.channels(&w.f.acme()).await.unwrap().remove(0);
    for bad in ["../me", "waba?x=1", "a/b", ""] {
        let err = (w.f.inbox)
            .provision_channel(&Channel {
                waba_id: Some(bad.into()),
                ..c.clone()
            })
            .await
            .unwrap_err();
        assert_eq!(err.code(), "invalid_input", "{bad:?}");
        assert!(err.to_string().contains("waba_id"), "{err}");
    }
}
