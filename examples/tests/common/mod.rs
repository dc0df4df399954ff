//! What the example server's tests share: the real router in process on
//! the memory store, with a manual clock and a recording transport.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use axum::body::{Body, BodyDataStream};
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Request, StatusCode};
use axum::Router;
use chrono::{TimeZone, Utc};
use futures_util::StreamExt;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tower::ServiceExt;

use inbox_core::ports::{ManualClock, Store};
use inbox_core::testing::RecordingTransport;
use inbox_core::{Inbox, InboxConfig, Ports};
use inbox_examples::server::launch::{Delivery, Launch, Running};
use inbox_examples::server::{app_state, config::ServerConfig};
use inbox_http::{router, AppState, Settings};
use inbox_runtime::UuidIds;
use inbox_store_memory::{MemoryEventBus, MemoryStore};

/// The demo configuration (ana, ben: agents; sam: supervisor; ada: admin;
/// each one's password is their name).
pub const CONFIG: &str = include_str!("../../server/demo.yaml");

/// The client address requests come from unless a test says otherwise.
pub const CLIENT: &str = "192.0.2.10:40000";

/// An answer's status and JSON body.
pub type Answer = (StatusCode, Value);

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
    let clock = Arc::new(monday_morning());
    let store = Arc::new(MemoryStore::new());
    let (inbox, transport) = provisioned(&config, store, clock.clone()).await;
    (inbox, transport, clock)
}

/// A manual clock at 09:00 UTC on Monday 2 March 2026.
pub fn monday_morning() -> ManualClock {
    ManualClock::new(Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap())
}

/// An inbox on `store` and `clock` with a recording transport, provisioned
/// with `config`'s tenant, numbers, teams and agents.
pub async fn provisioned(
    config: &ServerConfig,
    store: Arc<dyn Store>,
    clock: Arc<ManualClock>,
) -> (Inbox, Arc<RecordingTransport>) {
    let transport = Arc::new(RecordingTransport::new());
    let inbox = Inbox::new(
        Ports {
            store,
            transport: transport.clone(),
            bus: Arc::new(MemoryEventBus::new(256)),
            clock,
            ids: Arc::new(UuidIds),
        },
        InboxConfig::default(),
    );
    config.provision(&inbox).await.unwrap();
    (inbox, transport)
}

/// A server with the default settings.
pub async fn app() -> App {
    app_with(Settings::default()).await
}

/// A server with these settings.
pub async fn app_with(settings: Settings) -> App {
    let (inbox, transport, clock) = inbox().await;
    let config = ServerConfig::parse(CONFIG).unwrap();
    let state = app_state(inbox.clone(), &config, settings).unwrap();
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
            router: router(state.clone()),
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

    /// A restarted server on the same inbox: its memory (of answers,
    /// sessions) is gone, the store is not.
    pub fn restarted(&self) -> App {
        let config = ServerConfig::parse(CONFIG).unwrap();
        let state = app_state(self.inbox.clone(), &config, Settings::default()).unwrap();
        App::from_state(state, config, self.transport.clone(), self.clock.clone())
    }

    /// Signs in; returns the session token.
    pub async fn sign_in(&self, agent: &str, password: &str) -> String {
        let (status, body, headers) = self.call(sign_in_request(agent, password)).await;
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
        let mut req = sign_in_request(agent, password);
        req.extensions_mut()
            .insert(ConnectInfo(peer.parse::<SocketAddr>().unwrap()));
        self.call(req).await
    }

    /// Claims conversation `id` as `token` under `key`, having seen
    /// version `seen`.
    pub async fn claim(&self, token: &str, id: &str, key: &str, seen: u64) -> Answer {
        let body = json!({"version": seen});
        self.act(&conversation_path(id, "claim"), token, key, body)
            .await
    }

    /// Replies `text` on conversation `id` as `token` under `key`.
    pub async fn reply(&self, token: &str, id: &str, key: &str, seen: u64, text: &str) -> Answer {
        let body = json!({"version": seen, "text": text});
        self.act(&conversation_path(id, "reply"), token, key, body)
            .await
    }

    /// Notes `text` on conversation `id` as `token` under `key`.
    pub async fn note(&self, token: &str, id: &str, key: &str, seen: u64, text: &str) -> Answer {
        let body = json!({"version": seen, "text": text});
        self.act(&conversation_path(id, "notes"), token, key, body)
            .await
    }

    /// Sends up to ten messages of the outbox; how many the transport has
    /// taken in all.
    pub async fn dispatched(&self) -> usize {
        self.inbox.dispatch(10).await.unwrap();
        self.transport.sent().len()
    }

    /// Signs out the session `token`; the status.
    pub async fn sign_out(&self, token: &str) -> StatusCode {
        let req = Request::delete("/api/session")
            .header("authorization", format!("Bearer {token}"))
            .body(Body::empty())
            .unwrap();
        self.call(req).await.0
    }

    /// A GET without a session: the status, body and headers.
    pub async fn get_anonymous(&self, path: &str) -> (StatusCode, Value, HeaderMap) {
        self.call(Request::get(path).body(Body::empty()).unwrap())
            .await
    }

    /// Opens `/api/events` as `token`; the body stream.
    pub async fn events(&self, token: &str) -> BodyDataStream {
        let req = Request::get("/api/events")
            .header("cookie", format!("inbox_session={token}"))
            .body(Body::empty())
            .unwrap();
        let res = self.router.clone().oneshot(req).await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let kind = res.headers().get("content-type").unwrap();
        assert_eq!(kind, "text/event-stream");
        res.into_body().into_data_stream()
    }

    /// A JSON POST as `token` without an idempotency key.
    pub async fn post(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        let (s, b, _) = self.call(post(path, Some(token), None, body)).await;
        (s, b)
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

/// The demo server on a free local port with the memory store, sending
/// its outbox every `tick`.
pub async fn launch(delivery: Delivery, tick: Duration, settings: Settings) -> Running {
    Launch {
        config: ServerConfig::parse(CONFIG).unwrap(),
        listen: "127.0.0.1:0".parse().unwrap(),
        database_url: None,
        delivery,
        tick,
        settings,
    }
    .start()
    .await
    .unwrap()
}

/// Signs in over HTTP at the server `url`; the answer's body.
pub async fn sign_in_over_http(
    http: &reqwest::Client,
    url: &str,
    agent: &str,
    password: &str,
) -> Value {
    let req = http.post(format!("{url}/api/session"));
    json_answer(req.json(&json!({"agent": agent, "password": password}))).await
}

/// Sends a request over HTTP; the answer's JSON body.
pub async fn json_answer(req: reqwest::RequestBuilder) -> Value {
    req.send().await.unwrap().json().await.unwrap()
}

/// The path of an action (`claim`, `reply`, …) on conversation `id`.
pub fn conversation_path(id: &str, action: &str) -> String {
    format!("/api/conversations/{id}/{action}")
}

/// The strings `pick` takes from each item of the JSON array `list`.
pub fn strings<'a>(list: &'a Value, pick: impl Fn(&'a Value) -> &'a Value) -> Vec<&'a str> {
    let items = list.as_array().unwrap().iter();
    items.map(|item| pick(item).as_str().unwrap()).collect()
}

/// The conversation's version after an action's outcome.
pub fn version(outcome: &Value) -> u64 {
    outcome["conversation"]["version"].as_u64().unwrap()
}

/// The sign-in request of `agent` with `password`.
pub fn sign_in_request(agent: &str, password: &str) -> Request<Body> {
    post(
        "/api/session",
        None,
        None,
        json!({"agent": agent, "password": password}),
    )
}

/// Reads a live stream into `seen` until it holds `what`, waiting at most
/// `within` for each chunk; all it carried so far.
pub async fn read_until(
    body: &mut BodyDataStream,
    seen: &mut String,
    what: &str,
    within: Duration,
) -> String {
    while !seen.contains(what) {
        let chunk = tokio::time::timeout(within, body.next())
            .await
            .unwrap_or_else(|_| panic!("an event within {within:?}"))
            .unwrap()
            .unwrap();
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    seen.clone()
}

/// Asserts an answer is the error `code` with `status`.
#[track_caller]
pub fn assert_error(answer: (StatusCode, &Value), status: StatusCode, code: &str) {
    let (s, body) = answer;
    assert_eq!((s, body["code"].as_str()), (status, Some(code)), "{body}");
}

/// Asserts `what` was refused for reusing an idempotency key.
#[track_caller]
pub fn assert_reused(what: &str, status: StatusCode, body: &Value) {
    assert_eq!(
        (status, body["code"].as_str()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("idempotency_key_reused")
        ),
        "{what}: {body}"
    );
}

/// Asserts an error answer is JSON `{code, message}`.
pub fn assert_json_error(what: &str, status: StatusCode, body: &Value) {
    assert!(
        body["code"].is_string() && body["message"].is_string(),
        "{what}: {status} without a JSON {{code, message}} body: {body}"
    );
}
