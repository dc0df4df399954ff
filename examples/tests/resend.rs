//! Sending again a reply that may not have been delivered (in doubt) or
//! that failed: `POST /api/conversations/{id}/messages/{message}/resend`,
//! with the seen version and an `Idempotency-Key` bound to the request
//! like every action.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use axum::http::StatusCode;
use serde_json::{json, Value};

use common::{
    app, assert_error, assert_json_error, assert_reused, conversation_path, strings, version, App,
};
use inbox_core::ports::TransportError;

fn resend_path(id: &str, message: &str) -> String {
    conversation_path(id, &format!("messages/{message}/resend"))
}

/// Asks to send `message` again under `key`, having seen `version`.
async fn resend(
    app: &App,
    token: &str,
    id: &str,
    message: &str,
    key: &str,
    version: u64,
) -> (StatusCode, Value) {
    app.act(
        &resend_path(id, message),
        token,
        key,
        json!({"version": version}),
    )
    .await
}

/// A customer writes, ana claims and replies `text`; the reply is sent
/// with `failure` as the transport's answer. Returns (conversation,
/// reply id, version).
async fn a_reply_that(
    app: &App,
    ana: &str,
    failure: Option<TransportError>,
) -> (String, String, u64) {
    app.customer_says("wamid.1", "34600111222", "¿Me llega?")
        .await;
    let (id, v) = app.unassigned(ana).await[0].clone();
    let (s, claimed) = app.claim(ana, &id, "c1", v).await;
    assert_eq!(s, StatusCode::OK, "{claimed}");
    let (s, replied) = app
        .reply(ana, &id, "r1", version(&claimed), "Sí, te llega")
        .await;
    assert_eq!(s, StatusCode::OK, "{replied}");
    if let Some(e) = failure {
        app.transport.fail_next(e);
    }
    app.inbox.dispatch(10).await.unwrap();
    let message = replied["message"]["id"].as_str().unwrap().to_string();
    let (_, detail) = app.get(&format!("/api/conversations/{id}"), ana).await;
    let v = version(&detail);
    (id, message, v)
}

/// Ana's reply in doubt, sent again under the key `k`: ana's token, the
/// conversation, the reply, the version the resend saw and its outcome.
async fn resent_under_k(app: &App) -> (String, String, String, u64, Value) {
    let ana = app.sign_in("ana", "ana").await;
    let (id, original, v) = a_reply_that(app, &ana, Some(in_doubt())).await;
    let (s, first) = resend(app, &ana, &id, &original, "k", v).await;
    assert_eq!(s, StatusCode::OK, "{first}");
    (ana, id, original, v, first)
}

fn in_doubt() -> TransportError {
    TransportError::InDoubt {
        code: None,
        message: "no answer within 20 s".into(),
    }
}

/// The message of the conversation with this id, as the API shows it.
async fn shown(app: &App, token: &str, id: &str, message: &str) -> Value {
    let (s, detail) = app.get(&format!("/api/conversations/{id}"), token).await;
    assert_eq!(s, StatusCode::OK, "{detail}");
    detail["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == message)
        .cloned()
        .unwrap_or_else(|| panic!("{message} not in {detail}"))
}

#[tokio::test]
async fn a_reply_in_doubt_is_sent_again_once() {
    let app = app().await;
    let ana = app.sign_in("ana", "ana").await;
    let (id, original, v) = a_reply_that(&app, &ana, Some(in_doubt())).await;
    assert!(app.transport.sent().is_empty());
    // The API tells a front end it is in doubt (pending, with a time).
    let m = shown(&app, &ana, &id, &original).await;
    assert_eq!(m["delivery"]["status"], "pending", "{m}");
    assert!(m["delivery"]["in_doubt_since"].is_string(), "{m}");

    let body = json!({"version": v});
    let (s, first) = app
        .act(&resend_path(&id, &original), &ana, "again-1", body.clone())
        .await;
    assert_eq!(s, StatusCode::OK, "{first}");
    let copy = first["message"]["id"].as_str().unwrap().to_string();
    assert_ne!(copy, original);
    assert_eq!(first["message"]["content"]["body"], "Sí, te llega");
    assert_eq!(first["message"]["delivery"]["status"], "pending");
    let kinds = strings(&first["events"], |e| &e["kind"]["type"]);
    assert_eq!(kinds, ["message_resent", "reply_queued"], "{first}");
    assert_eq!(first["events"][0]["kind"]["original"], original.as_str());
    assert_eq!(first["events"][0]["actor"]["id"], "ana");

    // The same request again: the first answer, nothing new queued.
    let (s, again) = app
        .act(&resend_path(&id, &original), &ana, "again-1", body)
        .await;
    assert_eq!((s, &again), (StatusCode::OK, &first));
    let sent = app.dispatched().await;
    assert_eq!(
        sent,
        1,
        "one new message went out: {:?}",
        app.transport.sent()
    );
    // The copy has its own delivery; the original keeps its doubt.
    let m = shown(&app, &ana, &id, &copy).await;
    assert_eq!(m["delivery"]["status"], "accepted", "{m}");
    let m = shown(&app, &ana, &id, &original).await;
    assert!(m["delivery"]["in_doubt_since"].is_string(), "{m}");
    // The timeline says who sent it again.
    let (_, detail) = app.get(&format!("/api/conversations/{id}"), &ana).await;
    assert!(
        detail["timeline"].as_array().unwrap().iter().any(|e| {
            e["kind"]["type"] == "message_resent"
                && e["kind"]["message"] == copy.as_str()
                && e["actor"]["id"] == "ana"
        }),
        "{detail}"
    );
}

#[tokio::test]
async fn a_failed_reply_may_be_sent_again() {
    let app = app().await;
    let ana = app.sign_in("ana", "ana").await;
    let refused = TransportError::Rejected {
        code: Some(131026),
        message: "Message undeliverable".into(),
    };
    let (id, original, v) = a_reply_that(&app, &ana, Some(refused)).await;
    let m = shown(&app, &ana, &id, &original).await;
    assert_eq!(m["delivery"]["status"], "failed", "{m}");
    assert!(m["delivery"]["error"]["title"].is_string(), "{m}");
    assert!(m["delivery"]["in_doubt_since"].is_null(), "{m}");
    let (s, out) = resend(&app, &ana, &id, &original, "again", v).await;
    assert_eq!(s, StatusCode::OK, "{out}");
    assert_eq!(app.dispatched().await, 1);
}

#[tokio::test]
async fn what_was_sent_is_not_sent_again() {
    let app = app().await;
    let ana = app.sign_in("ana", "ana").await;
    let (id, sent, v) = a_reply_that(&app, &ana, None).await;
    let (s, body) = resend(&app, &ana, &id, &sent, "again", v).await;
    assert_json_error("resend of a sent message", s, &body);
    assert_error((s, &body), StatusCode::CONFLICT, "invalid_state");
    // An unknown message, a customer's message, a malformed id.
    let (s, body) = resend(&app, &ana, &id, "nope", "again-2", v).await;
    assert_json_error("unknown message", s, &body);
    assert_eq!(s, StatusCode::NOT_FOUND, "{body}");
    let (_, detail) = app.get(&format!("/api/conversations/{id}"), &ana).await;
    let inbound = detail["messages"][0]["id"].as_str().unwrap().to_string();
    let (s, body) = resend(&app, &ana, &id, &inbound, "again-3", v).await;
    assert_json_error("a customer's message", s, &body);
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (s, body) = resend(&app, &ana, &id, "%20", "again-4", v).await;
    assert_json_error("a blank id", s, &body);
    assert!(s.is_client_error(), "{s} {body}");
    // Without a key or a version.
    let (s, body) = app
        .post(&resend_path(&id, &sent), &ana, json!({"version": v}))
        .await;
    assert_json_error("no key", s, &body);
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, body) = app
        .act(&resend_path(&id, &sent), &ana, "again-5", json!({}))
        .await;
    assert_json_error("no version", s, &body);
    assert!(s.is_client_error(), "{s} {body}");
    assert_eq!(app.dispatched().await, 1, "only the first reply");
}

#[tokio::test]
async fn a_resend_key_is_bound_to_its_request() {
    let app = app().await;
    let (ana, id, original, _, first) = resent_under_k(&app).await;
    let v2 = version(&first);
    // The key of the resend for a reply, a note, another body: refused.
    for (what, p, body) in [
        (
            "a reply",
            conversation_path(&id, "reply"),
            json!({"version": v2, "text": "Sí, te llega"}),
        ),
        (
            "a note",
            conversation_path(&id, "notes"),
            json!({"version": v2, "text": "x"}),
        ),
        (
            "another version",
            resend_path(&id, &original),
            json!({"version": v2}),
        ),
    ] {
        let (s, body) = app.act(&p, &ana, "k", body).await;
        assert_reused(what, s, &body);
    }
    // Another agent's key of the same name is theirs, but a message is sent
    // again at most once: sam (a supervisor) is told it already was.
    let sam = app.sign_in("sam", "sam").await;
    let (s, theirs) = resend(&app, &sam, &id, &original, "k", v2).await;
    assert_error((s, &theirs), StatusCode::CONFLICT, "invalid_state");
    assert_eq!(app.dispatched().await, 1);
}

#[tokio::test]
async fn a_resend_keeps_its_binding_across_a_restart() {
    let app = app().await;
    let (_, id, original, v, first) = resent_under_k(&app).await;
    let v2 = version(&first);

    // A restart: the server's memory of answers is gone, the store is not.
    let restarted = app.restarted();
    let ana = restarted.sign_in("ana", "ana").await;

    // (Each key is tried first after the restart, so the store's record
    // is what answers, not the server's memory.)
    // The key used for a reply of the same text: refused.
    let (s, body) = restarted.reply(&ana, &id, "k", v2, "Sí, te llega").await;
    assert_reused("a reply under a resend key", s, &body);
    // The same resend: the same message, nothing new.
    let (s, again) = resend(&restarted, &ana, &id, &original, "k", v).await;
    assert_eq!(s, StatusCode::OK, "{again}");
    assert_eq!(again["message"]["id"], first["message"]["id"]);
    // A reply's key for a resend of the same text: refused.
    let (s, body) = resend(&restarted, &ana, &id, &original, "r1", v2).await;
    assert_reused("a resend under a reply's key", s, &body);
    assert_eq!(restarted.dispatched().await, 1);
}

#[tokio::test]
async fn the_api_description_has_the_resend() {
    let app = app().await;
    let (s, doc) = app.get("/api/openapi.json", "").await;
    assert_eq!(s, StatusCode::OK);
    let op = &doc["paths"]["/api/conversations/{id}/messages/{message_id}/resend"]["post"];
    let paths: Vec<&String> = doc["paths"].as_object().unwrap().keys().collect();
    assert!(op.is_object(), "{paths:?}");
    let params = strings(&op["parameters"], |p| &p["name"]);
    assert_eq!(params, ["id", "message_id", "Idempotency-Key"], "{op}");
    assert!(op["responses"]["409"].is_object(), "{op}");
}
