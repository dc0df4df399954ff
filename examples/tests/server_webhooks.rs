//! The example server's webhooks through its real router, in process: each
//! route speaks only for its own number, and items the inbox refuses are
//! kept as dead letters an admin lists and replays over the API.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use serde_json::{json, Value};
use std::sync::Arc;
use tower::ServiceExt;

use inbox_core::ports::ManualClock;
use inbox_core::{Inbox, View, ViewQuery};
use inbox_examples::server::{app_state, config::ServerConfig};
use inbox_http::router;
use inbox_store_memory::MemoryStore;

use common::assert_error;

/// The demo configuration with a second number, `support`, with its own app
/// secret.
fn config() -> ServerConfig {
    let demo = include_str!("../server/demo.yaml");
    let support = "channels:
  - id: support
    phone_number_id: \"100000000000002\"
    display_number: \"+1 555 0200\"
    verify_token: support-verify-token
    app_secret: support-app-secret
";
    ServerConfig::parse(&demo.replacen("channels:\n", support, 1)).unwrap()
}

struct App {
    router: Router,
    inbox: Inbox,
    clock: Arc<ManualClock>,
}

async fn app() -> App {
    let config = config();
    let clock = Arc::new(common::monday_morning());
    let store = Arc::new(MemoryStore::new());
    let (inbox, _) = common::provisioned(&config, store, clock.clone()).await;
    let state = app_state(inbox.clone(), &config, Default::default()).unwrap();
    App {
        router: router(state),
        inbox,
        clock,
    }
}

impl App {
    async fn call(&self, req: Request<Body>) -> (StatusCode, Value) {
        let res = self.router.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let bytes = axum::body::to_bytes(res.into_body(), 1 << 20)
            .await
            .unwrap();
        let body = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
        (status, body)
    }

    /// Posts `body` to a channel's webhook route, signed with `secret`.
    async fn webhook(&self, channel: &str, secret: &str, body: &[u8]) -> (StatusCode, Value) {
        let signature = inbox_whatsapp::sign(&inbox_core::Secret::new(secret), body);
        let req = Request::post(format!("/webhooks/whatsapp/{channel}"))
            .header("content-type", "application/json")
            .header(inbox_whatsapp::SIGNATURE_HEADER, signature)
            .body(Body::from(body.to_vec()))
            .unwrap();
        self.call(req).await
    }

    async fn stored(&self) -> usize {
        let sam = inbox_core::Actor::new(
            inbox_core::TenantId::new("demo").unwrap(),
            inbox_core::AgentId::new("sam").unwrap(),
        );
        let page = self
            .inbox
            .list(&sam, &ViewQuery::new(View::All))
            .await
            .unwrap();
        let mut n = 0;
        for c in page.items {
            n += self
                .inbox
                .ports()
                .store
                .messages(&c.tenant, &c.id)
                .await
                .unwrap()
                .len();
        }
        n
    }

    fn now_secs(&self) -> i64 {
        self.inbox.ports().clock.now().timestamp()
    }
}

fn text_webhook(pnid: &str, messages: Vec<Value>) -> Vec<u8> {
    json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": "1", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550100", "phone_number_id": pnid},
            "contacts": [{"profile": {"name": "Marta"}, "wa_id": "34600111222"}],
            "messages": messages
        }}]}]
    })
    .to_string()
    .into_bytes()
}

fn text(id: &str, ts: Value, body: &str) -> Value {
    json!({"from": "34600111222", "id": id, "timestamp": ts, "type": "text", "text": {"body": body}})
}

#[tokio::test]
async fn each_route_speaks_only_for_its_own_number() {
    let app = app().await;
    let ts = json!(app.now_secs().to_string());
    // A body for the support number, posted to main's route and signed with
    // main's app secret: refused, nothing stored.
    let for_support = text_webhook("100000000000002", vec![text("wamid.s", ts.clone(), "hi")]);
    let (s, b) = app.webhook("main", "demo-app-secret", &for_support).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{b}");
    assert_eq!(app.stored().await, 0);
    // On its own route, with its own secret, it is stored.
    let (s, b) = app
        .webhook("support", "support-app-secret", &for_support)
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    // main's own body on main's route is stored.
    let for_main = text_webhook("100000000000001", vec![text("wamid.m", ts, "hola")]);
    let (s, b) = app.webhook("main", "demo-app-secret", &for_main).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(app.stored().await, 2);
}

impl App {
    /// Signs in; returns the session token.
    async fn sign_in(&self, agent: &str) -> String {
        let (status, body) = self.call(common::sign_in_request(agent, agent)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["token"].as_str().unwrap().to_string()
    }

    async fn authed(&self, method: &str, path: &str, token: &str) -> (StatusCode, Value) {
        let req = Request::builder()
            .method(method)
            .uri(path)
            .header("authorization", format!("Bearer {token}"))
            .body(Body::empty())
            .unwrap();
        self.call(req).await
    }

    /// How many dead letters wait for a replay, as `token` sees them.
    async fn pending(&self, token: &str) -> usize {
        let (_, pending) = self
            .authed("GET", "/api/dead-letters?pending=true", token)
            .await;
        pending["items"].as_array().unwrap().len()
    }
}

/// The replay path of the dead letter among `items` refused for `code`.
fn replay_path(items: &[Value], code: &str) -> String {
    let letter = items.iter().find(|l| l["reason"]["code"] == code).unwrap();
    format!(
        "/api/dead-letters/{}/replay",
        letter["id"].as_str().unwrap()
    )
}

#[tokio::test]
async fn refused_items_are_dead_letters_an_admin_replays() {
    let app = app().await;
    let now = app.now_secs();
    let body = text_webhook(
        "100000000000001",
        vec![
            text("wamid.ok.1", json!(now.to_string()), "first"),
            text(&"x".repeat(600), json!(now.to_string()), "long id"),
            text("wamid.nul", json!(now.to_string()), "nul \u{0} here"),
            text("wamid.old", json!("-99999999999"), "year -1199"),
            text(
                "wamid.ahead",
                json!((now + 2 * 86_400).to_string()),
                "ahead",
            ),
            text("wamid.ok.2", json!(now.to_string()), "second"),
        ],
    );
    let (s, summary) = app.webhook("main", "demo-app-secret", &body).await;
    assert_eq!(s, StatusCode::OK, "{summary}");
    assert_eq!(
        (
            summary["stored"].as_u64(),
            summary["dead_lettered"].as_u64()
        ),
        (Some(2), Some(4)),
        "{summary}"
    );
    assert_eq!(app.stored().await, 2);
    // Redelivered: nothing new.
    let (s, _) = app.webhook("main", "demo-app-secret", &body).await;
    assert_eq!(s, StatusCode::OK);

    // Agents and supervisors may not see them: JSON errors.
    for who in ["ana", "sam"] {
        let token = app.sign_in(who).await;
        let (s, err) = app.authed("GET", "/api/dead-letters", &token).await;
        assert_error((s, &err), StatusCode::FORBIDDEN, "forbidden");
        assert!(err["message"].is_string(), "{err}");
    }
    let ada = app.sign_in("ada").await;
    let (s, page) = app.authed("GET", "/api/dead-letters", &ada).await;
    assert_eq!(s, StatusCode::OK, "{page}");
    let items = page["items"].as_array().unwrap();
    let mut codes: Vec<&str> = items
        .iter()
        .map(|l| l["reason"]["code"].as_str().unwrap())
        .collect();
    codes.sort();
    assert_eq!(
        codes,
        [
            "control_character",
            "invalid_external_id",
            "timestamp_in_future",
            "timestamp_too_old"
        ]
    );
    let (_, two) = app.authed("GET", "/api/dead-letters?limit=2", &ada).await;
    assert_eq!(two["items"].as_array().unwrap().len(), 2);
    let after = two["next"].as_str().unwrap();
    let (_, rest) = app
        .authed(
            "GET",
            &format!("/api/dead-letters?limit=2&after={after}"),
            &ada,
        )
        .await;
    assert_eq!(rest["items"].as_array().unwrap().len(), 2, "{rest}");
    let (s, err) = app.authed("GET", "/api/dead-letters?limit=0", &ada).await;
    assert_error((s, &err), StatusCode::UNPROCESSABLE_ENTITY, "invalid_input");

    // Replaying one still refused keeps it waiting, with its reason.
    let path = replay_path(items, "timestamp_too_old");
    let (s, letter) = app.authed("POST", &path, &ada).await;
    assert_eq!(s, StatusCode::OK, "{letter}");
    assert_eq!(letter["replayed_at"], Value::Null);
    assert_eq!(letter["last_replay"]["outcome"]["result"], "refused");
    assert_eq!(app.stored().await, 2);
    let (s, err) = app
        .authed("POST", "/api/dead-letters/nope/replay", &ada)
        .await;
    assert_error((s, &err), StatusCode::NOT_FOUND, "not_found");
    assert_eq!(app.pending(&ada).await, 4);

    // Two days later the one that was ahead of the clock is stored.
    app.clock.advance(chrono::TimeDelta::days(2));
    let ada = app.sign_in("ada").await;
    let path = replay_path(items, "timestamp_in_future");
    let (s, letter) = app.authed("POST", &path, &ada).await;
    assert_eq!(s, StatusCode::OK, "{letter}");
    assert!(letter["replayed_at"].is_string(), "{letter}");
    assert_eq!(letter["last_replay"]["outcome"]["result"], "ingested");
    assert_eq!(app.stored().await, 3);
    let (s, err) = app.authed("POST", &path, &ada).await;
    assert_error((s, &err), StatusCode::CONFLICT, "invalid_state");
    assert_eq!(app.pending(&ada).await, 3);
}
