//! What the example server's tests share: the real router in process on
//! the memory store, with a manual clock and a recording transport.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Request, StatusCode};
use axum::Router;
use chrono::{TimeZone, Utc};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::Arc;
use tower::ServiceExt;

use inbox_core::ports::ManualClock;
use inbox_core::testing::RecordingTransport;
use inbox_core::{Inbox, InboxConfig, Ports};
use inbox_examples::server::settings::Settings;
use inbox_examples::server::{config::ServerConfig, router, AppState};
use inbox_runtime::UuidIds;
use inbox_store_memory::{MemoryEventBus, MemoryStore};

/// The demo configuration (ana, ben: agents; sam: supervisor; ada: admin;
/// each one's password is their name).
pub const CONFIG: &str = include_str!("../../server/demo.yaml");

/// The client address requests come from unless a test says otherwise.
pub const CLIENT: &str = "192.0.2.10:40000";

/// A server in process.
pub struct App {
    pub router: Router,
    pub inbox: Inbox,
    pub transport: Arc<RecordingTransport>,
    pub clock: Arc<ManualClock>,
    pub state: AppState,
    pub config: Arc<ServerConfig>,
}

/// The inbox of a fresh server (memory store, manual clock at 09:00 on a
/// Monday).
pub async fn inbox() -> (Inbox, Arc<RecordingTransport>, Arc<ManualClock>) {
    let config = ServerConfig::parse(CONFIG).unwrap();
    let transport = Arc::new(RecordingTransport::new());
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap(),
    ));
    let inbox = Inbox::new(
        Ports {
            store: Arc::new(MemoryStore::new()),
            transport: transport.clone(),
            bus: Arc::new(MemoryEventBus::new(256)),
            clock: clock.clone(),
            ids: Arc::new(UuidIds),
        },
        InboxConfig::default(),
    );
    config.provision(&inbox).await.unwrap();
    (inbox, transport, clock)
}

/// A server with the default settings.
pub async fn app() -> App {
    app_with(Settings::default()).await
}

/// A server with these settings.
pub async fn app_with(settings: Settings) -> App {
    let (inbox, transport, clock) = inbox().await;
    let config = ServerConfig::parse(CONFIG).unwrap();
    let state = AppState::with_settings(inbox.clone(), &config, settings).unwrap();
    App::from_state(state, config, transport, clock)
}

impl App {
    /// Wraps a state (e.g. a restarted server on the same inbox).
    pub fn from_state(
        state: AppState,
        config: ServerConfig,
        transport: Arc<RecordingTransport>,
        clock: Arc<ManualClock>,
    ) -> Self {
        Self {
            router: router(state.clone(), &config),
            inbox: state.inbox.clone(),
            transport,
            clock,
            state,
            config: Arc::new(config),
        }
    }

    /// Sends a request (from [`CLIENT`] unless it names its own peer).
    pub async fn call(&self, mut req: Request<Body>) -> (StatusCode, Value, HeaderMap) {
        if req.extensions().get::<ConnectInfo<SocketAddr>>().is_none() {
            req.extensions_mut()
                .insert(ConnectInfo(CLIENT.parse::<SocketAddr>().unwrap()));
        }
        let res = self.router.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = axum::body::to_bytes(res.into_body(), 8 << 20)
            .await
            .unwrap();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()))
        };
        (status, body, headers)
    }

    /// Signs in; returns the session token.
    pub async fn sign_in(&self, agent: &str, password: &str) -> String {
        let (status, body, headers) = self
            .call(post(
                "/api/session",
                None,
                None,
                json!({"agent": agent, "password": password}),
            ))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let cookie = headers.get("set-cookie").unwrap().to_str().unwrap();
        assert!(cookie.contains("HttpOnly"), "{cookie}");
        body["token"].as_str().unwrap().to_string()
    }

    /// A sign-in attempt from `peer`: the status, body and headers.
    pub async fn try_sign_in(
        &self,
        agent: &str,
        password: &str,
        peer: &str,
    ) -> (StatusCode, Value, HeaderMap) {
        let mut req = post(
            "/api/session",
            None,
            None,
            json!({"agent": agent, "password": password}),
        );
        req.extensions_mut()
            .insert(ConnectInfo(peer.parse::<SocketAddr>().unwrap()));
        self.call(req).await
    }

    pub async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        let req = Request::get(path)
            .header("cookie", format!("inbox_session={token}"))
            .body(Body::empty())
            .unwrap();
        let (s, b, _) = self.call(req).await;
        (s, b)
    }

    pub async fn act(
        &self,
        path: &str,
        token: &str,
        key: &str,
        body: Value,
    ) -> (StatusCode, Value) {
        let (s, b, _) = self.call(post(path, Some(token), Some(key), body)).await;
        (s, b)
    }

    /// A customer message through the signed webhook.
    pub async fn customer_says(&self, wamid: &str, wa_id: &str, text: &str) -> StatusCode {
        let ts = self.inbox.ports().clock.now().timestamp();
        let body = json!({
            "object": "whatsapp_business_account",
            "entry": [{"id": "1", "changes": [{"field": "messages", "value": {
                "messaging_product": "whatsapp",
                "metadata": {"display_phone_number": "15550100", "phone_number_id": "100000000000001"},
                "contacts": [{"profile": {"name": "Marta"}, "wa_id": wa_id}],
                "messages": [{"from": wa_id, "id": wamid, "timestamp": ts.to_string(),
                              "type": "text", "text": {"body": text}}]
            }}]}]
        })
        .to_string();
        let signature =
            inbox_whatsapp::sign(&inbox_core::Secret::new("demo-app-secret"), body.as_bytes());
        let req = Request::post("/webhooks/whatsapp/main")
            .header("content-type", "application/json")
            .header(inbox_whatsapp::SIGNATURE_HEADER, signature)
            .body(Body::from(body))
            .unwrap();
        self.call(req).await.0
    }

    /// The unassigned conversations' (id, version), as `token` sees them.
    pub async fn unassigned(&self, token: &str) -> Vec<(String, u64)> {
        let (s, page) = self.get("/api/conversations?view=unassigned", token).await;
        assert_eq!(s, StatusCode::OK, "{page}");
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["id"].as_str().unwrap().to_string(),
                    c["version"].as_u64().unwrap(),
                )
            })
            .collect()
    }
}

/// A JSON POST, with a bearer token and an idempotency key if given.
pub fn post(path: &str, token: Option<&str>, key: Option<&str>, body: Value) -> Request<Body> {
    let mut req = Request::post(path).header("content-type", "application/json");
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    if let Some(k) = key {
        req = req.header("idempotency-key", k);
    }
    req.body(Body::from(body.to_string())).unwrap()
}

/// Asserts an error answer is JSON `{code, message}`.
pub fn assert_json_error(what: &str, status: StatusCode, body: &Value) {
    assert!(
        body["code"].is_string() && body["message"].is_string(),
        "{what}: {status} without a JSON {{code, message}} body: {body}"
    );
}
