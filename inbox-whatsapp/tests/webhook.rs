//! The webhook endpoint end to end: signed bodies ingested into an inbox on
//! the memory store, acknowledged only once stored.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use chrono::Utc;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;

use common::{
    all_conversations, answered, change, counts, envelope, fixture, messages_change, reply_in,
    signed, stored_messages, text_body, text_message, to_bytes,
};
use inbox_core::testing::Fixture;
use inbox_whatsapp::{
    sign, AppSecrets, Secret, SignatureProblem, Webhook, WebhookConfig, WebhookResponse,
    WhatsAppError,
};

const SECRET: &str = "app-secret-1";

/// Posts `body` to `hook` as Meta does, with signature `sig` if any.
async fn post(f: &Fixture, hook: &Webhook, sig: Option<&str>, body: &[u8]) -> WebhookResponse {
    hook.handle(&f.inbox, "POST", None, &signed(sig), body, Utc::now())
        .await
}

/// The webhook of the tests: verify token "verify", app secret [`SECRET`].
fn default_hook() -> Webhook {
    Webhook::new(WebhookConfig::new("verify", SECRET))
}

/// `body` signed with `secret`.
fn sig(secret: &str, body: &[u8]) -> String {
    sign(&Secret::new(secret), body)
}

#[tokio::test]
async fn signed_post_is_stored_once_and_acknowledged() {
    let (f, hook) = (fixture().await, default_hook());
    let body = text_body("1001", "wamid.A", "34611000001", "hola");
    let sig = sig(SECRET, &body);
    for round in 0..3 {
        let r = post(&f, &hook, Some(&sig), &body).await;
        assert_eq!(r.status, 200, "{}", r.body);
        let summary: serde_json::Value = serde_json::from_str(&r.body).unwrap();
        if round == 0 {
            assert_eq!(summary["stored"], 1);
        } else {
            assert_eq!(summary["duplicates"], 1);
        }
    }
    let all = all_conversations(&f).await;
    assert_eq!(all.len(), 1);
    assert_eq!(stored_messages(&f).await.len(), 1);
}

/// A POST with statuses around a customer message: every item is applied,
/// the statuses of a message in their order (a late "delivered" after
/// "read" changes nothing), and the summary counts each.
#[tokio::test]
async fn statuses_and_messages_of_one_post_are_applied_in_order() {
    let (f, hook) = (fixture().await, default_hook());
    let c = answered(&f).await;
    let reply = reply_in(&f, &c).await;
    // Seconds after the fixture's start (2026-03-02 09:00 UTC).
    let status = |s: &str, id: &str, ts: u64| {
        json!({
            "id": id, "status": s, "timestamp": (1_772_442_000 + ts).to_string(), "recipient_id": "34611000001",
            "biz_opaque_callback_data": reply.id.as_str()
        })
    };
    let statuses = |list: [Value; 2]| change("1001", json!({ "statuses": list }));
    let thanks = text_message("wamid.in.2", "34611000001", json!("1772442000"), "thanks");
    let body = to_bytes(&envelope(vec![
        statuses([status("sent", "wamid.R", 1), status("read", "wamid.R", 3)]),
        messages_change("1001", "34611000001", vec![thanks]),
        statuses([
            status("delivered", "wamid.R", 2),
            status("read", "wamid.other", 4),
        ]),
    ]));
    let sig = sig(SECRET, &body);
    let summary = hook
        .receive(&f.inbox, Some(&sig), &body, Utc::now())
        .await
        .unwrap();
    assert_eq!(
        (summary.stored, summary.statuses, summary.statuses_ignored),
        (1, 2, 2),
        "{summary:?}"
    );
    let m = f.store.message(&f.acme(), &reply.id).await.unwrap();
    assert_eq!(m.external_id.as_deref(), Some("wamid.R"));
    assert_eq!(
        m.delivery.unwrap().status,
        inbox_core::model::DeliveryStatus::Read
    );
    assert_eq!(f.store.messages(&f.acme(), &c).await.unwrap().len(), 3);
}

#[tokio::test]
async fn bad_signatures_store_nothing() {
    let (f, hook) = (fixture().await, default_hook());
    let body = text_body("1001", "wamid.B", "34611000001", "hola");
    let good = sig(SECRET, &body);
    let mut changed = body.clone();
    let pos = changed.iter().position(|b| *b == b'h').unwrap();
    changed[pos] = b'H';
    let cases: Vec<(&str, Option<String>, &[u8], SignatureProblem)> = vec![
        (
            "wrong secret",
            Some(sig("other", &body)),
            &body,
            SignatureProblem::Mismatch,
        ),
        ("missing header", None, &body, SignatureProblem::Missing),
        (
            "malformed header",
            Some("sha256=xyz".into()),
            &body,
            SignatureProblem::Malformed,
        ),
        (
            "sha1 header",
            Some(good.replace("sha256", "sha1")),
            &body,
            SignatureProblem::Malformed,
        ),
        (
            "body changed by one byte",
            Some(good.clone()),
            &changed,
            SignatureProblem::Mismatch,
        ),
    ];
    for (what, sig, b, problem) in cases {
        let err = hook
            .receive(&f.inbox, sig.as_deref(), b, Utc::now())
            .await
            .unwrap_err();
        assert!(
            matches!(&err, WhatsAppError::Signature(p) if *p == problem),
            "{what}: {err}"
        );
        assert_eq!(
            post(&f, &hook, sig.as_deref(), b).await.status,
            401,
            "{what}"
        );
    }
    let events = f.store.events_since(&f.acme(), 0, 10).await.unwrap();
    assert!(events.is_empty());
}

#[tokio::test]
async fn size_limit_unknown_numbers_and_bad_bodies() {
    let f = fixture().await;
    let mut config = WebhookConfig::new("verify", SECRET);
    config.max_body_bytes = 256;
    let hook = Webhook::new(config);
    let big = vec![b' '; 300];
    assert_eq!(
        post(&f, &hook, Some(&sig(SECRET, &big)), &big).await.status,
        413
    );

    let hook = default_hook();
    // A number no tenant has: kept as a dead letter (to replay once the
    // number is provisioned) and acknowledged.
    let body = text_body("9999", "wamid.C", "34611000001", "hola");
    let r = post(&f, &hook, Some(&sig(SECRET, &body)), &body).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let summary: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(
        counts(&summary, ["stored", "dead_lettered"]),
        (Some(0), Some(1))
    );
    // Not JSON / not a webhook.
    for (body, status) in [
        (b"{oops".to_vec(), 400),
        (br#"{"object":"page","entry":[]}"#.to_vec(), 400),
    ] {
        let sig = sig(SECRET, &body);
        assert_eq!(post(&f, &hook, Some(&sig), &body).await.status, status);
    }
    assert_eq!(
        hook.handle(&f.inbox, "PUT", None, &signed(None), b"", Utc::now())
            .await
            .status,
        405
    );
}

#[tokio::test]
async fn per_number_secrets() {
    let f = fixture().await;
    let mut secrets: HashMap<String, Secret> = HashMap::new();
    secrets.insert("1001".into(), Secret::new("sales-app"));
    secrets.insert("1002".into(), Secret::new("support-app"));
    let hook = Webhook::new(WebhookConfig {
        secrets: Arc::new(secrets) as Arc<dyn AppSecrets>,
        ..WebhookConfig::new("verify", "unused")
    });
    let body = text_body("1002", "wamid.D", "34611000001", "hola");
    let receive = |secret: &str, body: &[u8]| {
        let sig = sig(secret, body);
        let body = body.to_vec();
        let (hook, f) = (&hook, &f);
        async move { hook.receive(&f.inbox, Some(&sig), &body, Utc::now()).await }
    };
    assert!(receive("sales-app", &body).await.is_err());
    assert_eq!(receive("support-app", &body).await.unwrap().stored, 1);
    let unknown = text_body("7777", "wamid.E", "34611000001", "hola");
    let err = receive("support-app", &unknown).await.unwrap_err();
    assert!(
        matches!(err, WhatsAppError::NumberNotAllowed(ref n) if n == "7777"),
        "{err}"
    );
    assert_eq!(err.http_status(), 403);
}

#[test]
fn handshake() {
    let hook = Webhook::new(WebhookConfig::new("s3cret-token", SECRET));
    let ok = hook.handshake(Some(
        "hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=s3cret-token",
    ));
    assert_eq!((ok.status, ok.body.as_str()), (200, "1158201444"));
    for bad in [
        None,
        Some("hub.mode=subscribe&hub.challenge=1&hub.verify_token=wrong"),
        Some("hub.mode=unsubscribe&hub.challenge=1&hub.verify_token=s3cret-token"),
        Some("hub.mode=subscribe&hub.verify_token=s3cret-token"),
    ] {
        assert_eq!(hook.handshake(bad).status, 403, "{bad:?}");
    }
    assert!(!format!("{hook:?}").contains("s3cret-token"));
}

#[cfg(feature = "axum")]
mod axum_router {
    use super::*;
    use axum::body::Body;
    use tower::ServiceExt;

    #[tokio::test]
    async fn router_handshake_and_signed_post() {
        let f = fixture().await;
        let app = inbox_whatsapp::axum::webhook_router(
            "/whatsapp",
            Webhook::new(WebhookConfig::new("tok", SECRET)),
            f.inbox.clone(),
        );
        let get = http::Request::get(
            "/whatsapp?hub.mode=subscribe&hub.verify_token=tok&hub.challenge=abc",
        )
        .body(Body::empty())
        .unwrap();
        let resp = app.clone().oneshot(get).await.unwrap();
        assert_eq!(resp.status(), 200);
        let body = text_body("1001", "wamid.R", "34611000001", "via axum");
        let post = http::Request::post("/whatsapp")
            .header("x-hub-signature-256", sig(SECRET, &body))
            .body(Body::from(body.clone()))
            .unwrap();
        let resp = app.clone().oneshot(post).await.unwrap();
        assert_eq!(resp.status(), 200);
        let unsigned = http::Request::post("/whatsapp")
            .body(Body::from(body))
            .unwrap();
        assert_eq!(app.oneshot(unsigned).await.unwrap().status(), 401);
        assert_eq!(all_conversations(&f).await.len(), 1);
    }
}

#[tokio::test]
async fn echoes_and_handovers_reach_the_conversation_through_the_webhook() {
    let f = fixture().await;
    let hook = default_hook();
    let first = text_body("1001", "wamid.w1", "34611000001", "¿Abrís el sábado?");
    let answer = post(&f, &hook, Some(&sig(SECRET, &first)), &first).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let echo = to_bytes(&envelope(vec![
        json!({ "field": "smb_message_echoes", "value": {
        "messaging_product": "whatsapp",
        "metadata": { "display_phone_number": "34600100100", "phone_number_id": "1001" },
        "message_echoes": [{ "from": "34600100100", "to": "34611000001", "id": "wamid.e1",
            "timestamp": "1772442060", "type": "text", "text": { "body": "Sí, de 10 a 14" } }] } }),
    ]));
    let answer = post(&f, &hook, Some(&sig(SECRET, &echo)), &echo).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let summary: serde_json::Value = serde_json::from_str(&answer.body).unwrap();
    assert_eq!(summary["stored"], 1, "{summary}");
    let messages = stored_messages(&f).await;
    let sent = messages
        .iter()
        .find(|m| m.external_id.as_deref() == Some("wamid.e1"))
        .unwrap();
    assert_eq!(sent.direction, inbox_core::model::Direction::Outbound);
    let handover = to_bytes(&envelope(vec![
        json!({ "field": "messaging_handovers", "value": {
        "messaging_product": "whatsapp",
        "sender": { "phone_number": "34611000001" },
        "recipient": { "display_phone_number": "34600100100", "phone_number_id": "1001" },
        "type": "control_taken", "timestamp": "1772442100",
        "control_taken": { "previous_owner_role": "escalation", "new_owner_role": "ai_agent" } } }),
    ]));
    let answer = post(&f, &hook, Some(&sig(SECRET, &handover)), &handover).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let summary: serde_json::Value = serde_json::from_str(&answer.body).unwrap();
    assert_eq!(summary["handovers"], 1, "{summary}");
    let conversations = all_conversations(&f).await;
    assert_eq!(conversations[0].controlled_elsewhere(), Some("ai_agent"));
}
