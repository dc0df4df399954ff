//! Unread counts over HTTP: each agent's own, kept on the server (lists
//! and searches carry them, `POST /api/conversations/{id}/read` clears
//! them, reading a conversation does not), the agent's own notes never
//! unread for them; and signing out sets an agent offline unless another
//! of their sessions is still live.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use axum::http::StatusCode;
use serde_json::{json, Value};
use std::time::Duration;

use common::{call, World};
use inbox_core::model::Presence;
use inbox_core::{AgentId, Secret};

/// `GET path` as `who` (`tenant/agent`): the answer.
async fn get(w: &World, who: &str, path: &str) -> Value {
    let (status, body) = call(&w.app, "GET", path, &[("x-agent", who)], None).await;
    assert_eq!(status, StatusCode::OK, "{path}: {body}");
    body
}

/// The `unread` map of a page of `GET /api/conversations` as `who`.
async fn unread(w: &World, who: &str) -> Value {
    get(w, who, "/api/conversations").await["unread"].clone()
}

/// `POST /api/conversations/{id}/read` as `who`.
async fn read(w: &World, who: &str) -> (StatusCode, Value) {
    let path = format!("/api/conversations/{}/read", w.conversation);
    call(&w.app, "POST", &path, &[("x-agent", who)], None).await
}

#[tokio::test]
async fn unread_counts_are_each_agents_own_and_cleared_by_read() {
    let w = World::new().await;
    let c = w.conversation.to_string();
    // The customer's message and ana's reply: ben has read neither; ana
    // wrote the reply, which read the conversation for her.
    assert_eq!(unread(&w, "acme/ben").await, json!({ &c: 2 }));
    assert_eq!(unread(&w, "acme/ana").await, json!({}));
    // Reading the conversation does not mark it read ...
    get(&w, "acme/ben", &format!("/api/conversations/{c}")).await;
    assert_eq!(unread(&w, "acme/ben").await, json!({ &c: 2 }));
    // ... the UI's POST does, for ben only.
    let (status, body) = read(&w, "acme/ben").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({"unread": 0, "seen": 2}));
    assert_eq!(unread(&w, "acme/ben").await, json!({}));
    assert_eq!(unread(&w, "acme/sam").await, json!({ &c: 2 }));
    // The customer writes again: unread for both.
    w.f.customer_says("1001", "wamid.acme.2", "34611112222", "otra vez")
        .await
        .unwrap();
    assert_eq!(unread(&w, "acme/ben").await, json!({ &c: 1 }));
    assert_eq!(unread(&w, "acme/ana").await, json!({ &c: 1 }));
    // Ana's note: never unread for her (and she has seen what came before
    // it), one more for ben. Searches carry the counts too.
    let version = w.f.version(&w.conversation).await.unwrap();
    let note = json!({"version": version, "text": "VIP, careful"}).to_string();
    let headers = [("x-agent", "acme/ana"), ("idempotency-key", "note-1")];
    let path = format!("/api/conversations/{c}/notes");
    let (status, body) = call(&w.app, "POST", &path, &headers, Some(note.into_bytes())).await;
    assert!(status.is_success(), "{body}");
    assert_eq!(unread(&w, "acme/ana").await, json!({}));
    assert_eq!(unread(&w, "acme/ben").await, json!({ &c: 2 }));
    let found = get(&w, "acme/ben", "/api/search?q=secreto").await;
    assert_eq!(found["unread"], json!({ &c: 2 }));
    // Read again, twice (two tabs): the same answer, nothing moves back.
    for _ in 0..2 {
        assert_eq!(
            read(&w, "acme/ben").await.1,
            json!({"unread": 0, "seen": 4})
        );
    }
    assert_eq!(unread(&w, "acme/ben").await, json!({}));
}

#[tokio::test]
async fn another_tenant_can_neither_mark_nor_count() {
    let w = World::new().await;
    let (status, body) = read(&w, "globex/gus").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(unread(&w, "globex/gus").await, json!({}));
    // Acme's counts are untouched.
    let c = w.conversation.to_string();
    assert_eq!(unread(&w, "acme/ben").await, json!({ &c: 2 }));
}

/// Opens another session of ana's (the world has one, token `a` × 64);
/// its token.
async fn another_session(w: &World) -> String {
    let token = "c".repeat(64);
    let ana = AgentId::new("ana").unwrap();
    let ttl = Duration::from_secs(3600);
    (w.f.inbox
        .open_session(&w.f.acme(), &ana, &Secret::new(token.clone()), ttl, None))
    .await
    .unwrap();
    token
}

async fn sign_out(w: &World, token: &str) {
    let bearer = format!("Bearer {token}");
    let headers = [("authorization", bearer.as_str())];
    let (status, body) = call(&w.app, "DELETE", "/api/session", &headers, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
}

async fn presence(w: &World) -> Presence {
    let ana = AgentId::new("ana").unwrap();
    w.f.store.agent(&w.f.acme(), &ana).await.unwrap().presence
}

#[tokio::test]
async fn signing_out_of_the_last_session_sets_the_agent_offline() {
    let w = World::new().await;
    let ana = w.f.actor("ana");
    w.f.inbox
        .set_presence(&ana, Presence::Online)
        .await
        .unwrap();
    let phone = another_session(&w).await;
    sign_out(&w, &"a".repeat(64)).await;
    assert_eq!(presence(&w).await, Presence::Online, "still on her phone");
    sign_out(&w, &phone).await;
    assert_eq!(presence(&w).await, Presence::Offline);
    // A sign-out without a session (already ended) changes nothing.
    w.f.inbox.set_presence(&ana, Presence::Away).await.unwrap();
    sign_out(&w, &phone).await;
    assert_eq!(presence(&w).await, Presence::Away);
}
