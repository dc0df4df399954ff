//! The webhook endpoint end to end: signed bodies ingested into an inbox on
//! the memory store, acknowledged only once stored.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::Utc;
use std::collections::HashMap;
use std::sync::Arc;

use inbox_core::ports::Store;
use inbox_core::testing::Fixture;
use inbox_core::{View, ViewQuery};
use inbox_store_memory::MemoryStore;
use inbox_whatsapp::{
    sign, AppSecrets, Secret, SignatureProblem, Webhook, WebhookConfig, WhatsAppError,
};

const SECRET: &str = "app-secret-1";

fn text_body(pnid: &str, wamid: &str, from: &str, text: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "object": "whatsapp_business_account",
        "entry": [{ "id": "waba", "changes": [{ "field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": { "display_phone_number": "1", "phone_number_id": pnid },
            "contacts": [{ "profile": { "name": "Marta" }, "wa_id": from }],
            "messages": [{ "from": from, "id": wamid, "timestamp": "1772442000", "type": "text", "text": { "body": text } }]
        }}]}]
    }))
    .unwrap()
}

fn headers(sig: Option<&str>) -> http::HeaderMap {
    let mut h = http::HeaderMap::new();
    if let Some(s) = sig {
        h.insert("x-hub-signature-256", s.parse().unwrap());
    }
    h
}

async fn fixture() -> Fixture {
    Fixture::new(Arc::new(MemoryStore::new()) as Arc<dyn Store>)
        .await
        .unwrap()
}

#[tokio::test]
async fn signed_post_is_stored_once_and_acknowledged() {
    let f = fixture().await;
    let hook = Webhook::new(WebhookConfig::new("verify", SECRET));
    let body = text_body("1001", "wamid.A", "34611000001", "hola");
    let sig = sign(&Secret::new(SECRET), &body);
    for round in 0..3 {
        let r = hook
            .handle(
                &f.inbox,
                "POST",
                None,
                &headers(Some(&sig)),
                &body,
                Utc::now(),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        let summary: serde_json::Value = serde_json::from_str(&r.body).unwrap();
        if round == 0 {
            assert_eq!(summary["stored"], 1);
        } else {
            assert_eq!(summary["duplicates"], 1);
        }
    }
    let all = f
        .inbox
        .list(&f.actor("sam"), &ViewQuery::new(View::All))
        .await
        .unwrap();
    assert_eq!(all.items.len(), 1);
    assert_eq!(
        f.store
            .messages(&f.acme(), &all.items[0].id)
            .await
            .unwrap()
            .len(),
        1
    );
}

/// A POST with statuses around a customer message: every item is applied,
/// the statuses of a message in their order (a late "delivered" after
/// "read" changes nothing), and the summary counts each.
#[tokio::test]
async fn statuses_and_messages_of_one_post_are_applied_in_order() {
    let f = fixture().await;
    let hook = Webhook::new(WebhookConfig::new("verify", SECRET));
    let (c, _) = f
        .customer_says("1001", "wamid.in.1", "34611000001", "hola")
        .await
        .unwrap();
    f.claim_and_reply(&f.actor("ana"), &c, "hello", "k1")
        .await
        .unwrap();
    let reply = f
        .store
        .messages(&f.acme(), &c)
        .await
        .unwrap()
        .into_iter()
        .find(|m| m.direction == inbox_core::model::Direction::Outbound)
        .unwrap();
    // Seconds after the fixture's start (2026-03-02 09:00 UTC).
    let status = |s: &str, id: &str, ts: u64| {
        serde_json::json!({
            "id": id, "status": s, "timestamp": (1_772_442_000 + ts).to_string(), "recipient_id": "34611000001",
            "biz_opaque_callback_data": reply.id.as_str()
        })
    };
    let metadata = serde_json::json!({ "display_phone_number": "1", "phone_number_id": "1001" });
    let body = serde_json::to_vec(&serde_json::json!({
        "object": "whatsapp_business_account",
        "entry": [{ "id": "waba", "changes": [
            { "field": "messages", "value": {
                "messaging_product": "whatsapp", "metadata": metadata,
                "statuses": [status("sent", "wamid.R", 1), status("read", "wamid.R", 3)]
            }},
            { "field": "messages", "value": {
                "messaging_product": "whatsapp", "metadata": metadata,
                "contacts": [{ "profile": { "name": "Marta" }, "wa_id": "34611000001" }],
                "messages": [{ "from": "34611000001", "id": "wamid.in.2", "timestamp": "1772442000", "type": "text", "text": { "body": "thanks" } }]
            }},
            { "field": "messages", "value": {
                "messaging_product": "whatsapp", "metadata": metadata,
                "statuses": [status("delivered", "wamid.R", 2), status("read", "wamid.other", 4)]
            }}
        ]}]
    }))
    .unwrap();
    let sig = sign(&Secret::new(SECRET), &body);
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
    let f = fixture().await;
    let hook = Webhook::new(WebhookConfig::new("verify", SECRET));
    let body = text_body("1001", "wamid.B", "34611000001", "hola");
    let good = sign(&Secret::new(SECRET), &body);
    let mut changed = body.clone();
    let pos = changed.iter().position(|b| *b == b'h').unwrap();
    changed[pos] = b'H';
    let cases: Vec<(&str, Option<String>, &[u8], SignatureProblem)> = vec![
        (
            "wrong secret",
            Some(sign(&Secret::new("other"), &body)),
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
        let r = hook
            .handle(
                &f.inbox,
                "POST",
                None,
                &headers(sig.as_deref()),
                b,
                Utc::now(),
            )
            .await;
        assert_eq!(r.status, 401, "{what}");
    }
    assert!(f
        .store
        .events_since(&f.acme(), 0, 10)
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn size_limit_unknown_numbers_and_bad_bodies() {
    let f = fixture().await;
    let mut config = WebhookConfig::new("verify", SECRET);
    config.max_body_bytes = 256;
    let hook = Webhook::new(config);
    let big = vec![b' '; 300];
    let r = hook
        .handle(
            &f.inbox,
            "POST",
            None,
            &headers(Some(&sign(&Secret::new(SECRET), &big))),
            &big,
            Utc::now(),
        )
        .await;
    assert_eq!(r.status, 413);

    let hook = Webhook::new(WebhookConfig::new("verify", SECRET));
    // A number no tenant has: kept as a dead letter (to replay once the
    // number is provisioned) and acknowledged.
    let body = text_body("9999", "wamid.C", "34611000001", "hola");
    let sig = sign(&Secret::new(SECRET), &body);
    let r = hook
        .handle(
            &f.inbox,
            "POST",
            None,
            &headers(Some(&sig)),
            &body,
            Utc::now(),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let summary: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(
        (
            summary["stored"].as_u64(),
            summary["dead_lettered"].as_u64()
        ),
        (Some(0), Some(1))
    );
    // Not JSON / not a webhook.
    for (body, status) in [
        (b"{oops".to_vec(), 400),
        (br#"{"object":"page","entry":[]}"#.to_vec(), 400),
    ] {
        let sig = sign(&Secret::new(SECRET), &body);
        assert_eq!(
            hook.handle(
                &f.inbox,
                "POST",
                None,
                &headers(Some(&sig)),
                &body,
                Utc::now()
            )
            .await
            .status,
            status
        );
    }
    assert_eq!(
        hook.handle(&f.inbox, "PUT", None, &headers(None), b"", Utc::now())
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
    assert!(hook
        .receive(
            &f.inbox,
            Some(&sign(&Secret::new("sales-app"), &body)),
            &body,
            Utc::now()
        )
        .await
        .is_err());
    let summary = hook
        .receive(
            &f.inbox,
            Some(&sign(&Secret::new("support-app"), &body)),
            &body,
            Utc::now(),
        )
        .await
        .unwrap();
    assert_eq!(summary.stored, 1);
    let unknown = text_body("7777", "wamid.E", "34611000001", "hola");
    let err = hook
        .receive(
            &f.inbox,
            Some(&sign(&Secret::new("support-app"), &unknown)),
            &unknown,
            Utc::now(),
        )
        .await
        .unwrap_err();
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
            .header("x-hub-signature-256", sign(&Secret::new(SECRET), &body))
            .body(Body::from(body.clone()))
            .unwrap();
        let resp = app.clone().oneshot(post).await.unwrap();
        assert_eq!(resp.status(), 200);
        let unsigned = http::Request::post("/whatsapp")
            .body(Body::from(body))
            .unwrap();
        assert_eq!(app.oneshot(unsigned).await.unwrap().status(), 401);
        assert_eq!(
            f.inbox
                .list(&f.actor("sam"), &ViewQuery::new(View::All))
                .await
                .unwrap()
                .items
                .len(),
            1
        );
    }
}
