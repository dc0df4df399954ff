//! A local stand-in for the Graph API's send endpoint: it records every
//! request that reaches it (our message id from `biz_opaque_callback_data`,
//! the recipient, the text) and answers with a fresh message id, after a
//! configurable delay (longer than the client's timeout: Meta slow to
//! answer).

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;

/// One request that reached the stand-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// Our message id (`biz_opaque_callback_data`).
    pub our_id: String,
    /// The recipient (`to`, or `recipient` for a user id).
    pub to: String,
    /// The text body, for text messages.
    pub text: String,
    /// The id the stand-in answered (or would have answered) with.
    pub wamid: String,
    /// When it arrived (for rates over time).
    pub at: std::time::Instant,
}

#[derive(Debug)]
struct Shared {
    received: Mutex<Vec<Received>>,
    count: watch::Sender<usize>,
    answer_after: Duration,
}

/// The running stand-in; stops when dropped.
#[derive(Debug)]
pub struct GraphStandIn {
    url: String,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl GraphStandIn {
    /// Starts a stand-in on a free local port that answers each request
    /// after `answer_after`.
    pub async fn start(answer_after: Duration) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let shared = Arc::new(Shared {
            received: Mutex::new(Vec::new()),
            count: watch::channel(0).0,
            answer_after,
        });
        let app = Router::new()
            .route("/{version}/{pnid}/messages", post(send))
            .with_state(shared.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { url, shared, task })
    }

    /// The base URL to give the Graph client.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Every request so far, in arrival order.
    pub fn received(&self) -> Vec<Received> {
        self.shared
            .received
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Waits until at least `n` requests have arrived.
    pub async fn wait_for(&self, n: usize) {
        let mut count = self.shared.count.subscribe();
        let _ = count.wait_for(|c| *c >= n).await;
    }
}

impl Drop for GraphStandIn {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn send(State(shared): State<Arc<Shared>>, Json(body): Json<Value>) -> Json<Value> {
    let field = |k: &str| body.get(k).and_then(Value::as_str).unwrap_or_default();
    let to = match field("to") {
        "" => field("recipient"),
        to => to,
    }
    .to_string();
    let received = {
        let mut all = shared.received.lock().unwrap_or_else(|e| e.into_inner());
        let r = Received {
            our_id: field("biz_opaque_callback_data").to_string(),
            text: body
                .pointer("/text/body")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            wamid: format!("wamid.standin.{}", all.len() + 1),
            to: to.clone(),
            at: std::time::Instant::now(),
        };
        all.push(r.clone());
        r
    };
    shared.count.send_modify(|c| *c += 1);
    tokio::time::sleep(shared.answer_after).await;
    Json(json!({
        "messaging_product": "whatsapp",
        "contacts": [{ "input": to, "wa_id": to }],
        "messages": [{ "id": received.wamid }],
    }))
}
