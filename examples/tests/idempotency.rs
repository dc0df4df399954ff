//! `Idempotency-Key`: a key is bound to the request it first came with
//! (agent, method, path, body). The same request again gets the first
//! answer; a different request under the same key is refused with 422
//! `idempotency_key_reused` and does nothing, also after a restart; a
//! replayed answer is only given to an agent who may still see the
//! conversation.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use axum::http::StatusCode;
use serde_json::{json, Value};

use common::{app, App};
use inbox_examples::server::config::ServerConfig;
use inbox_examples::server::AppState;

/// Two customers write in; the two conversations' (id, version).
async fn two_conversations(app: &App, token: &str) -> [(String, u64); 2] {
    app.customer_says("wamid.1", "34600111222", "hola").await;
    app.customer_says("wamid.2", "34600333444", "buenas").await;
    let mut all = app.unassigned(token).await;
    all.sort();
    [all[0].clone(), all[1].clone()]
}

fn path(id: &str, what: &str) -> String {
    format!("/api/conversations/{id}/{what}")
}

fn assert_reused(what: &str, status: StatusCode, body: &Value) {
    assert_eq!(
        (status, body["code"].as_str()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("idempotency_key_reused")
        ),
        "{what}: {body}"
    );
}

#[tokio::test]
async fn a_key_reused_for_another_request_is_refused_and_does_nothing() {
    let app = app().await;
    let ana = app.sign_in("ana", "ana").await;
    let [(a, va), (b, vb)] = two_conversations(&app, &ana).await;

    let (s, first) = app
        .act(&path(&a, "claim"), &ana, "k1", json!({"version": va}))
        .await;
    assert_eq!(s, StatusCode::OK, "{first}");
    // The same request again: the first answer.
    let (s, again) = app
        .act(&path(&a, "claim"), &ana, "k1", json!({"version": va}))
        .await;
    assert_eq!((s, &again), (StatusCode::OK, &first));

    // Another conversation, another action, another body: refused.
    let (s, body) = app
        .act(&path(&b, "claim"), &ana, "k1", json!({"version": vb}))
        .await;
    assert_reused("another conversation", s, &body);
    let (s, body) = app
        .act(
            &path(&a, "notes"),
            &ana,
            "k1",
            json!({"version": va, "text": "dropped?"}),
        )
        .await;
    assert_reused("another action", s, &body);
    let (s, body) = app
        .act(&path(&a, "claim"), &ana, "k1", json!({"version": va + 1}))
        .await;
    assert_reused("another body", s, &body);

    // Nothing was done under the reused key: b is still unassigned, a has
    // no note.
    let unassigned: Vec<String> = app
        .unassigned(&ana)
        .await
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    assert_eq!(unassigned, vec![b.clone()]);
    let (_, detail) = app.get(&format!("/api/conversations/{a}"), &ana).await;
    assert!(!detail.to_string().contains("dropped?"), "{detail}");

    // Another agent's key of the same name is theirs.
    let ben = app.sign_in("ben", "ben").await;
    let (s, body) = app
        .act(&path(&b, "claim"), &ben, "k1", json!({"version": vb}))
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn replies_and_notes_keep_their_binding_across_a_restart() {
    let app = app().await;
    let ana = app.sign_in("ana", "ana").await;
    let [(a, va), (b, _)] = two_conversations(&app, &ana).await;
    let (s, claimed) = app
        .act(&path(&a, "claim"), &ana, "c1", json!({"version": va}))
        .await;
    assert_eq!(s, StatusCode::OK, "{claimed}");
    let v = claimed["conversation"]["version"].as_u64().unwrap();
    let reply = json!({"version": v, "text": "¡Hola!"});
    let (s, first) = app.act(&path(&a, "reply"), &ana, "r1", reply.clone()).await;
    assert_eq!(s, StatusCode::OK, "{first}");
    let v = first["conversation"]["version"].as_u64().unwrap();
    let (s, noted) = app
        .act(
            &path(&a, "notes"),
            &ana,
            "n1",
            json!({"version": v, "text": "VIP"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{noted}");

    // A restart: the server's memory of answers is gone, the store is not.
    let config = ServerConfig::parse(common::CONFIG).unwrap();
    let state = AppState::new(app.inbox.clone(), &config).unwrap();
    let restarted = App::from_state(state, config, app.transport.clone(), app.clock.clone());
    let ana = restarted.sign_in("ana", "ana").await;

    // The same reply again sends nothing new.
    let (s, again) = restarted
        .act(&path(&a, "reply"), &ana, "r1", reply.clone())
        .await;
    assert_eq!(s, StatusCode::OK, "{again}");
    assert_eq!(again["message"]["id"], first["message"]["id"]);
    // Another text, another action or another conversation under the same
    // key: refused, nothing sent or noted.
    for (what, p, body) in [
        (
            "another text",
            path(&a, "reply"),
            json!({"version": v + 1, "text": "Otra cosa"}),
        ),
        (
            "a note",
            path(&a, "notes"),
            json!({"version": v + 1, "text": "¡Hola!"}),
        ),
        (
            "another conversation",
            path(&b, "reply"),
            json!({"version": 1, "text": "¡Hola!"}),
        ),
    ] {
        let (s, body) = restarted.act(&p, &ana, "r1", body).await;
        assert_reused(what, s, &body);
    }
    let (s, body) = restarted
        .act(
            &path(&a, "reply"),
            &ana,
            "n1",
            json!({"version": v + 1, "text": "VIP"}),
        )
        .await;
    assert_reused("a note's key for a reply", s, &body);

    restarted.inbox.dispatch(10).await.unwrap();
    assert_eq!(restarted.transport.sent().len(), 1, "one reply went out");
    let (_, detail) = restarted
        .get(&format!("/api/conversations/{a}"), &ana)
        .await;
    let texts: Vec<String> = detail["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"]["body"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(texts, ["hola", "¡Hola!", "VIP"], "{detail}");
}

#[tokio::test]
async fn two_agents_may_pick_the_same_key() {
    let app = app().await;
    let ana = app.sign_in("ana", "ana").await;
    let ben = app.sign_in("ben", "ben").await;
    let [(a, va), _] = two_conversations(&app, &ana).await;
    let (s, body) = app
        .act(
            &path(&a, "notes"),
            &ana,
            "1",
            json!({"version": va, "text": "from ana"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let v = body["conversation"]["version"].as_u64().unwrap();
    let (s, body) = app
        .act(
            &path(&a, "notes"),
            &ben,
            "1",
            json!({"version": v, "text": "from ben"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["message"]["content"]["body"], "from ben", "{body}");
}

#[tokio::test]
async fn a_replayed_answer_is_only_given_to_who_may_still_see_it() {
    let app = app().await;
    let ana = app.sign_in("ana", "ana").await;
    let sam = app.sign_in("sam", "sam").await;
    let [(a, va), _] = two_conversations(&app, &ana).await;
    let claim = json!({"version": va});
    let (s, claimed) = app.act(&path(&a, "claim"), &ana, "k1", claim.clone()).await;
    assert_eq!(s, StatusCode::OK, "{claimed}");
    let v = claimed["conversation"]["version"].as_u64().unwrap();
    let note_body = json!({"version": v, "text": "secret"});
    let (s, note) = app
        .act(&path(&a, "notes"), &ana, "n1", note_body.clone())
        .await;
    assert_eq!(s, StatusCode::OK, "{note}");
    let v = note["conversation"]["version"].as_u64().unwrap();
    // The supervisor moves it to support, a team ana is not in.
    let (s, moved) = app
        .act(
            &path(&a, "transfer"),
            &sam,
            "t1",
            json!({"version": v, "team": "support", "note": "a support case"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{moved}");
    assert_eq!(
        app.get(&format!("/api/conversations/{a}"), &ana).await.0,
        StatusCode::FORBIDDEN
    );
    // Her retries no longer show her the conversation.
    let (s, body) = app.act(&path(&a, "claim"), &ana, "k1", claim).await;
    assert_eq!(
        (s, body["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("forbidden")),
        "{body}"
    );
    let (s, body) = app.act(&path(&a, "notes"), &ana, "n1", note_body).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{body}");
}
