//! Two server instances on one PostgreSQL database, each with its own
//! pool, event bus and router: a setting changed through one decides the
//! next message on the other, an agent connected to one sees live events
//! caused through the other, unread counts marked through one are read on
//! the other, and a session opened through one works on the other until it
//! is signed out anywhere.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
#[path = "../../inbox-store-postgres/tests/common/mod.rs"]
mod pg;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use futures_util::StreamExt;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use tower::ServiceExt;

use inbox_core::ports::Store;
use inbox_core::testing::Fixture;
use inbox_core::{Inbox, InboxConfig, Ports};
use inbox_http::identity::AnyOf;
use inbox_http::{router, Accounts, AppState};
use inbox_store_postgres::{PgEventBus, PgStore};

/// An instance on `url`: its own pool and bus, following settings changes.
async fn instance(url: &str, prefix: &'static str) -> (Fixture, Router) {
    let store = PgStore::connect(url, 4).await.unwrap();
    let bus = Arc::new(PgEventBus::connect(store.clone()).await.unwrap());
    let mut f = Fixture::instance(
        Arc::new(store) as Arc<dyn Store>,
        InboxConfig::default(),
        prefix,
    );
    f.inbox = Inbox::new(
        Ports {
            bus,
            ..f.inbox.ports().clone()
        },
        InboxConfig::default(),
    );
    let follower = f.inbox.clone();
    tokio::spawn(async move { follower.follow_settings().await });
    let state = AppState::builder(f.inbox.clone(), Accounts::new(f.acme())).build();
    let identity = AnyOf(vec![Arc::new(common::Header), state.auth.clone()]);
    let state = AppState {
        identity: Arc::new(identity),
        ..state
    };
    (f, router(state))
}

async fn call(
    app: &Router,
    method: &str,
    path: &str,
    who: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let key = uuid::Uuid::new_v4().to_string();
    let headers = [("x-agent", who), ("idempotency-key", key.as_str())];
    common::call(
        app,
        method,
        path,
        &headers,
        body.map(|b| b.to_string().into_bytes()),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_share_settings_and_live_events() {
    let Some(url) = pg::fresh_database().await else {
        return;
    };
    let store = Arc::new(PgStore::connect(&url, 2).await.unwrap());
    Fixture::new(store as Arc<dyn Store>).await.unwrap();
    let (a, app_a) = instance(&url, "a").await;
    let (b, app_b) = instance(&url, "b").await;

    // Sam follows live events on B.
    let req = Request::get("/api/events")
        .header("x-agent", "acme/sam")
        .body(Body::empty())
        .unwrap();
    let res = app_b.clone().oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let mut stream = res.into_body().into_data_stream();

    // Ada changes the routing through A.
    let (_, settings) = call(&app_a, "GET", "/api/settings", "acme/ada", None).await;
    let version = settings["version"].as_u64().unwrap();
    let yaml =
        "routing:\n  rules:\n    - name: all to support\n      then: [{route_to_team: support}]\n";
    let (status, stored) = call(
        &app_a,
        "PUT",
        "/api/settings",
        "acme/ada",
        Some(json!({"version": version, "yaml": yaml})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{stored}");
    let new_version = stored["version"].as_u64().unwrap();

    // B applies it within a second (10 s allowed on a loaded machine): its
    // dry run runs the new version, and the next message it takes in goes
    // to support.
    let sample = json!({"sample": {"channel": "sales", "from": "34600000009", "text": "hi"}});
    let mut seen = 0;
    for _ in 0..100 {
        let (_, x) = call(
            &app_b,
            "POST",
            "/api/settings/explain",
            "acme/sam",
            Some(sample.clone()),
        )
        .await;
        seen = x["settings_version"].as_u64().unwrap_or(0);
        if seen == new_version {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(seen, new_version, "B never ran the new settings");
    let (c, _) = b
        .customer_says("1001", "wamid.b.1", "34600000001", "hola")
        .await
        .unwrap();
    let on_b = b.store.conversation(&b.acme(), &c).await.unwrap();
    assert_eq!(on_b.team.map(|t| t.to_string()).as_deref(), Some("support"));

    // Sam claims it through A; their stream on B shows the claim.
    let claim = json!({"version": on_b.version});
    let (status, out) = call(
        &app_a,
        "POST",
        &format!("/api/conversations/{c}/claim"),
        "acme/sam",
        Some(claim),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{out}");
    let mut text = String::new();
    let found = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(chunk) = stream.next().await {
            text.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
            if text.contains("event: claimed") && text.contains(c.as_str()) {
                return true;
            }
        }
        false
    })
    .await
    .unwrap_or(false);
    assert!(
        found,
        "B's stream never showed the claim made through A:\n{text}"
    );
    assert!(
        text.contains("event: settings_changed") || text.contains("event: message_received"),
        "{text}"
    );

    // Unread counts live in the database: what sam marks read through A
    // is read on B.
    let unread = || async {
        let (status, page) = call(&app_b, "GET", "/api/conversations", "acme/sam", None).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        page["unread"].clone()
    };
    assert_eq!(unread().await, json!({ c.as_str(): 1 }));
    let path = format!("/api/conversations/{c}/read");
    let (status, read) = call(&app_a, "POST", &path, "acme/sam", None).await;
    assert_eq!(status, StatusCode::OK, "{read}");
    assert_eq!(read, json!({"unread": 0, "seen": 1}));
    assert_eq!(unread().await, json!({}));

    // A session opened through A (password sign-in) works on B; signed out
    // through B, A refuses it too.
    let phc = inbox_http::auth::hash_password("s3cret-pass").unwrap();
    a.inbox
        .provision_password(
            &a.acme(),
            &inbox_core::AgentId::new("ben").unwrap(),
            Some(&phc),
        )
        .await
        .unwrap();
    let form = json!({"agent": "ben", "password": "s3cret-pass"}).to_string();
    let (status, signed) =
        common::call(&app_a, "POST", "/api/session", &[], Some(form.into_bytes())).await;
    assert_eq!(status, StatusCode::OK, "{signed}");
    let bearer = format!("Bearer {}", signed["token"].as_str().unwrap());
    let as_ben = [("authorization", bearer.as_str())];
    let (status, me) = common::call(&app_b, "GET", "/api/me", &as_ben, None).await;
    assert_eq!(
        (status, me["id"].as_str()),
        (StatusCode::OK, Some("ben")),
        "{me}"
    );
    let (status, _) = common::call(&app_b, "DELETE", "/api/session", &as_ben, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = common::call(&app_a, "GET", "/api/me", &as_ben, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    drop(a);
}
