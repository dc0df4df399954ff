//! `Idempotency-Key`: a key is bound to the request it first came with
//! (agent, method, path, body). The same request again gets the first
//! answer; a different request under the same key is refused with 422
//! `idempotency_key_reused` and does nothing, also after a restart; a
//! replayed answer is only given to an agent who may still see the
//! conversation.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use axum::http::StatusCode;
use serde_json::json;

use common::{app, assert_error, assert_reused, conversation_path, version, App};

/// A server where two customers have written in: the server, ana's token
/// and the two conversations' (id, version).
async fn ana_and_two_conversations() -> (App, String, [(String, u64); 2]) {
    let app = app().await;
    let ana = app.sign_in("ana", "ana").await;
    app.customer_says("wamid.1", "34600111222", "hola").await;
    app.customer_says("wamid.2", "34600333444", "buenas").await;
    let mut all = app.unassigned(&ana).await;
    all.sort();
    let two = [all[0].clone(), all[1].clone()];
    (app, ana, two)
}

#[tokio::test]
async fn a_key_reused_for_another_request_is_refused_and_does_nothing() {
    let (app, ana, [(a, va), (b, vb)]) = ana_and_two_conversations().await;

    let (s, first) = app.claim(&ana, &a, "k1", va).await;
    assert_eq!(s, StatusCode::OK, "{first}");
    // The same request again: the first answer.
    let (s, again) = app.claim(&ana, &a, "k1", va).await;
    assert_eq!((s, &again), (StatusCode::OK, &first));

    // Another conversation, another action, another body: refused.
    let (s, body) = app.claim(&ana, &b, "k1", vb).await;
    assert_reused("another conversation", s, &body);
    let (s, body) = app.note(&ana, &a, "k1", va, "dropped?").await;
    assert_reused("another action", s, &body);
    let (s, body) = app.claim(&ana, &a, "k1", va + 1).await;
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
    let (s, body) = app.claim(&ben, &b, "k1", vb).await;
    assert_eq!(s, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn replies_and_notes_keep_their_binding_across_a_restart() {
    let (app, ana, [(a, va), (b, _)]) = ana_and_two_conversations().await;
    let (s, claimed) = app.claim(&ana, &a, "c1", va).await;
    assert_eq!(s, StatusCode::OK, "{claimed}");
    let replied_at = version(&claimed);
    let (s, first) = app.reply(&ana, &a, "r1", replied_at, "¡Hola!").await;
    assert_eq!(s, StatusCode::OK, "{first}");
    let v = version(&first);
    let (s, noted) = app.note(&ana, &a, "n1", v, "VIP").await;
    assert_eq!(s, StatusCode::OK, "{noted}");

    // A restart: the server's memory of answers is gone, the store is not.
    let restarted = app.restarted();
    let ana = restarted.sign_in("ana", "ana").await;

    // The same reply again sends nothing new.
    let (s, again) = restarted.reply(&ana, &a, "r1", replied_at, "¡Hola!").await;
    assert_eq!(s, StatusCode::OK, "{again}");
    assert_eq!(again["message"]["id"], first["message"]["id"]);
    // Another text, another action or another conversation under the same
    // key: refused, nothing sent or noted.
    for (what, p, version, text) in [
        (
            "another text",
            conversation_path(&a, "reply"),
            v + 1,
            "Otra cosa",
        ),
        ("a note", conversation_path(&a, "notes"), v + 1, "¡Hola!"),
        (
            "another conversation",
            conversation_path(&b, "reply"),
            1,
            "¡Hola!",
        ),
    ] {
        let body = json!({"version": version, "text": text});
        let (s, body) = restarted.act(&p, &ana, "r1", body).await;
        assert_reused(what, s, &body);
    }
    let (s, body) = restarted.reply(&ana, &a, "n1", v + 1, "VIP").await;
    assert_reused("a note's key for a reply", s, &body);

    assert_eq!(restarted.dispatched().await, 1, "one reply went out");
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
    let (app, ana, [(a, va), _]) = ana_and_two_conversations().await;
    let ben = app.sign_in("ben", "ben").await;
    let (s, body) = app.note(&ana, &a, "1", va, "from ana").await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let (s, body) = app.note(&ben, &a, "1", version(&body), "from ben").await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["message"]["content"]["body"], "from ben", "{body}");
}

#[tokio::test]
async fn a_replayed_answer_is_only_given_to_who_may_still_see_it() {
    let (app, ana, [(a, va), _]) = ana_and_two_conversations().await;
    let sam = app.sign_in("sam", "sam").await;
    let (s, claimed) = app.claim(&ana, &a, "k1", va).await;
    assert_eq!(s, StatusCode::OK, "{claimed}");
    let noted_at = version(&claimed);
    let (s, note) = app.note(&ana, &a, "n1", noted_at, "secret").await;
    assert_eq!(s, StatusCode::OK, "{note}");
    // The supervisor moves it to support, a team ana is not in.
    let transfer = json!({"version": version(&note), "team": "support", "note": "a support case"});
    let (s, moved) = app
        .act(&conversation_path(&a, "transfer"), &sam, "t1", transfer)
        .await;
    assert_eq!(s, StatusCode::OK, "{moved}");
    assert_eq!(
        app.get(&format!("/api/conversations/{a}"), &ana).await.0,
        StatusCode::FORBIDDEN
    );
    // Her retries no longer show her the conversation.
    let (s, body) = app.claim(&ana, &a, "k1", va).await;
    assert_error((s, &body), StatusCode::FORBIDDEN, "forbidden");
    let (s, body) = app.note(&ana, &a, "n1", noted_at, "secret").await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{body}");
}
