//! The router nested under a path of an embedder's app, on the memory
//! store: sign-in, the API, the OpenAPI description and a number's webhook
//! all answer below the embedder's prefix, the embedder's own routes stay
//! theirs.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::sync::Arc;
use tower::ServiceExt;

use inbox_core::model::{Agent, Channel, Role, Tenant};
use inbox_core::testing::RecordingTransport;
use inbox_core::{AgentId, ChannelId, Inbox, InboxConfig, TenantId};
use inbox_http::auth::{hash_password, Accounts, BadPasswordHash};
use inbox_http::{router, AppState, API_ROUTES};
use inbox_store_memory::{MemoryEventBus, MemoryStore};
use inbox_whatsapp::{Webhook, WebhookConfig};

async fn embedder_app() -> Router {
    let inbox = Inbox::new(
        inbox_runtime::ports(
            Arc::new(MemoryStore::new()),
            Arc::new(MemoryEventBus::new(64)),
            Arc::new(RecordingTransport::new()),
        ),
        InboxConfig::default(),
    );
    let tenant = TenantId::new("acme").unwrap();
    inbox
        .provision_tenant(&Tenant::new(tenant.clone(), "Acme"))
        .await
        .unwrap();
    let main = ChannelId::new("main").unwrap();
    inbox
        .provision_channel(&Channel::new(
            tenant.clone(),
            main.clone(),
            "1000001",
            "+1 555 0100",
        ))
        .await
        .unwrap();
    let ana = AgentId::new("ana").unwrap();
    inbox
        .provision_agent(&Agent::new(tenant.clone(), ana.clone(), "Ana", Role::Agent))
        .await
        .unwrap();
    let mut doc = inbox_core::settings::TenantSettings::default();
    doc.templates
        .push(inbox_core::model::TemplateDefinition::new("hello", "en_US"));
    let version = inbox.ports().store.settings(&tenant).await.unwrap();
    let version = version.map_or(0, |s| s.version);
    inbox.import_settings(&tenant, version, doc).await.unwrap();
    let accounts = Accounts::new(tenant)
        .with_agent(ana, hash_password("s3cret").unwrap())
        .unwrap();
    let state = AppState::builder(inbox, accounts)
        .webhook(
            main,
            Webhook::new(WebhookConfig::for_numbers(
                "verify-me",
                "app-secret",
                ["1000001"],
            )),
        )
        .build();
    Router::new()
        .route("/health", get(|| async { "ok" }))
        .nest("/inbox", router(state))
}

async fn call(app: &Router, req: Request<Body>) -> (StatusCode, Value, axum::http::HeaderMap) {
    let res = app.clone().oneshot(req).await.unwrap();
    let (status, headers) = (res.status(), res.headers().clone());
    let bytes = axum::body::to_bytes(res.into_body(), 1 << 20)
        .await
        .unwrap();
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
    (status, body, headers)
}

fn get_as(path: &str, token: &str) -> Request<Body> {
    Request::get(path)
        .header("authorization", format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap()
}

fn sign_in(password: &str) -> Request<Body> {
    Request::post("/inbox/api/session")
        .header("content-type", "application/json")
        .body(Body::from(
            json!({"agent": "ana", "password": password}).to_string(),
        ))
        .unwrap()
}

#[tokio::test]
async fn the_whole_api_answers_below_the_embedders_prefix() {
    let app = embedder_app().await;

    let (status, body, _) = call(&app, sign_in("wrong")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["code"], "bad_credentials");

    let (status, body, headers) = call(&app, sign_in("s3cret")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let cookie = headers.get("set-cookie").unwrap().to_str().unwrap();
    assert!(cookie.starts_with("inbox_session=") && cookie.contains("HttpOnly"));
    let token = body["token"].as_str().unwrap().to_string();

    let (status, me, headers) = call(&app, get_as("/inbox/api/me", &token)).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["id"], "ana");
    assert!(headers.contains_key("content-security-policy"));

    let (status, templates, _) = call(&app, get_as("/inbox/api/templates", &token)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(templates[0]["name"], "hello");

    let (status, body, _) = call(&app, get_as("/inbox/api/me", "not-a-session")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");

    // Every route of the API is described, below `/api` as served at the root.
    let (status, doc, _) = call(&app, get_as("/inbox/api/openapi.json", &token)).await;
    assert_eq!(status, StatusCode::OK);
    let paths: BTreeSet<&str> = doc["paths"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let routed: BTreeSet<String> = API_ROUTES.iter().map(|(_, p)| format!("/api{p}")).collect();
    assert_eq!(paths, routed.iter().map(String::as_str).collect());

    // The number's webhook: Meta's subscription handshake.
    let handshake = Request::get(
        "/inbox/webhooks/whatsapp/main?hub.mode=subscribe&hub.verify_token=verify-me&hub.challenge=42",
    )
    .body(Body::empty())
    .unwrap();
    let (status, body, _) = call(&app, handshake).await;
    assert_eq!((status, body), (StatusCode::OK, json!(42)));

    // A path below the prefix that no route takes is answered like any
    // other error of the inbox: JSON, with the security headers.
    for path in ["/inbox/api/nope", "/inbox/nope"] {
        let (status, body, headers) = call(&app, get_as(path, &token)).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (StatusCode::NOT_FOUND, Some("not_found")),
            "{path}: {body}"
        );
        assert!(headers.contains_key("content-security-policy"), "{path}");
    }

    // The embedder's own route is untouched.
    let health = Request::get("/health").body(Body::empty()).unwrap();
    assert_eq!(call(&app, health).await.0, StatusCode::OK);
}

#[test]
fn accounts_take_only_argon2_hashes() {
    let tenant = TenantId::new("acme").unwrap();
    let ana = AgentId::new("ana").unwrap();
    let refused = Accounts::new(tenant.clone()).with_agent(ana.clone(), "plain-text");
    assert_eq!(refused.err(), Some(BadPasswordHash));
    let accounts = Accounts::new(tenant)
        .with_agent(ana, hash_password("pw").unwrap())
        .unwrap();
    // Debug shows no hash.
    let shown = format!("{accounts:?}");
    assert!(
        shown.contains("agents: 1") && !shown.contains("argon2"),
        "{shown}"
    );
}
