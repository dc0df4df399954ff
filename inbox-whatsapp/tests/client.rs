//! The Graph API client against a local mock server.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use serde_json::json;
use wiremock::matchers::{body_partial_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use inbox_core::model::{Channel, ContactIdentity, Content};
use inbox_core::ports::{OutboundRequest, Transport, TransportError};
use inbox_core::{ChannelId, MessageId, TenantId};
use inbox_whatsapp::{GraphClient, GraphConfig, RetryPolicy, WhatsAppError};

const TOKEN: &str = "EAAG-test-token";

fn client(server: &MockServer) -> GraphClient {
    let mut config = GraphConfig::new(TOKEN).base_url(server.uri());
    config.retry = RetryPolicy {
        max_attempts: 3,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(20),
        retry_timeouts: false,
    };
    config.timeout = Duration::from_millis(500);
    GraphClient::new(config).unwrap()
}

fn request(text: &str) -> OutboundRequest {
    OutboundRequest {
        tenant: TenantId::new("t").unwrap(),
        channel: Channel::new(
            TenantId::new("t").unwrap(),
            ChannelId::new("c").unwrap(),
            "106540352242922",
            "+1",
        ),
        to: ContactIdentity::wa("16505551234"),
        message_id: MessageId::new("msg-42").unwrap(),
        content: Content::text(text),
        reply_to: None,
    }
}

fn meta_error(code: i64) -> serde_json::Value {
    json!({ "error": { "message": format!("error {code}"), "type": "OAuthException", "code": code, "fbtrace_id": "AbC" } })
}

fn ok_response(id: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "messaging_product": "whatsapp",
        "contacts": [{ "input": "16505551234", "wa_id": "16505551234" }],
        "messages": [{ "id": id }]
    }))
}

/// Answers with each template in turn, then the last one forever.
struct Sequence(std::sync::Mutex<Vec<ResponseTemplate>>);

impl Respond for Sequence {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        let mut v = self.0.lock().unwrap();
        if v.len() > 1 {
            v.remove(0)
        } else {
            v[0].clone()
        }
    }
}

fn sequence(v: Vec<ResponseTemplate>) -> Sequence {
    Sequence(std::sync::Mutex::new(v))
}

#[tokio::test]
async fn sends_with_bearer_token_and_our_id_as_callback_data() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v23.0/106540352242922/messages"))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .and(body_partial_json(json!({
            "messaging_product": "whatsapp",
            "to": "16505551234",
            "type": "text",
            "text": { "body": "Hello!" },
            "biz_opaque_callback_data": "msg-42"
        })))
        .respond_with(ok_response("wamid.ACCEPTED"))
        .expect(1)
        .mount(&server)
        .await;
    let receipt = client(&server).send(&request("Hello!")).await.unwrap();
    assert_eq!(receipt.external_id, "wamid.ACCEPTED");
}

#[tokio::test]
async fn rate_limited_then_success_after_retry() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(sequence(vec![
            ResponseTemplate::new(400).set_body_json(meta_error(130429)),
            ok_response("wamid.2"),
        ]))
        .expect(2)
        .mount(&server)
        .await;
    let receipt = client(&server).send(&request("hi")).await.unwrap();
    assert_eq!(receipt.external_id, "wamid.2");
}

#[tokio::test]
async fn window_closed_is_not_retried() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(400).set_body_json(meta_error(131047)))
        .expect(1)
        .mount(&server)
        .await;
    let err = client(&server).send(&request("hi")).await.unwrap_err();
    assert_eq!(err, TransportError::WindowClosed { code: Some(131047) });
}

#[tokio::test]
async fn expired_token_is_unauthorized_and_never_shows_the_token() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(401).set_body_json(meta_error(190)))
        .expect(1)
        .mount(&server)
        .await;
    let c = client(&server);
    let err = c.send(&request("hi")).await.unwrap_err();
    assert!(
        matches!(
            err,
            TransportError::Unauthorized {
                code: Some(190),
                ..
            }
        ),
        "{err:?}"
    );
    assert!(!format!("{err} {err:?} {c:?}").contains(TOKEN));
}

#[tokio::test]
async fn server_errors_are_retried_then_reported_transient() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503).set_body_string("unavailable"))
        .expect(3)
        .mount(&server)
        .await;
    let err = client(&server).send(&request("hi")).await.unwrap_err();
    assert!(matches!(err, TransportError::Transient { .. }), "{err:?}");
    // And a 500 followed by success is a success.
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(sequence(vec![
            ResponseTemplate::new(500).set_body_json(meta_error(2)),
            ok_response("wamid.3"),
        ]))
        .expect(2)
        .mount(&server)
        .await;
    assert_eq!(
        client(&server)
            .send(&request("hi"))
            .await
            .unwrap()
            .external_id,
        "wamid.3"
    );
}

#[tokio::test]
async fn timeouts_are_transient_and_retried_only_when_allowed() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ok_response("wamid.slow").set_delay(Duration::from_secs(2)))
        .mount(&server)
        .await;
    // Default: a timed-out send may have been accepted, so it is not retried.
    let err = client(&server).send(&request("hi")).await.unwrap_err();
    assert!(matches!(err, TransportError::Transient { .. }), "{err:?}");
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
    // With retry_timeouts the client tries again.
    let mut config = GraphConfig::new(TOKEN).base_url(server.uri());
    config.timeout = Duration::from_millis(200);
    config.retry = RetryPolicy {
        max_attempts: 3,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(5),
        retry_timeouts: true,
    };
    let err = GraphClient::new(config)
        .unwrap()
        .send(&request("hi"))
        .await
        .unwrap_err();
    assert!(matches!(err, TransportError::Transient { .. }));
    assert_eq!(server.received_requests().await.unwrap().len(), 4);
}

#[tokio::test]
async fn permanent_rejections_are_not_retried() {
    for code in [131026, 131051, 131053, 131008, 131009, 132001] {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(400).set_body_json(meta_error(code)))
            .expect(1)
            .mount(&server)
            .await;
        let err = client(&server).send(&request("hi")).await.unwrap_err();
        assert!(
            matches!(err, TransportError::Rejected { code: Some(c), .. } if c == code),
            "{code}: {err:?}"
        );
    }
}

#[tokio::test]
async fn media_lookup_and_download_flow() {
    let server = MockServer::start().await;
    let file_url = format!("{}/files/abc.jpg?token=sig", server.uri());
    Mock::given(method("GET"))
        .and(path("/v23.0/1003383421387256"))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "messaging_product": "whatsapp", "url": file_url, "mime_type": "image/jpeg",
            "sha256": "deadbeef", "file_size": "5", "id": "1003383421387256"
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/files/abc.jpg"))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(b"JPEG!".to_vec()))
        .expect(1)
        .mount(&server)
        .await;
    let file = client(&server)
        .download_media(None, "1003383421387256")
        .await
        .unwrap();
    assert_eq!(&file.bytes[..], b"JPEG!");
    assert_eq!(file.info.mime_type.as_deref(), Some("image/jpeg"));
    assert_eq!(file.info.file_size, Some(5));
}

#[tokio::test]
async fn media_upload_and_missing_media() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v23.0/106540352242922/media"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "id": "4490709327384033" })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v23.0/missing"))
        .respond_with(ResponseTemplate::new(404).set_body_json(meta_error(100)))
        .mount(&server)
        .await;
    let c = client(&server);
    let id = c
        .upload_media(
            "106540352242922",
            bytes::Bytes::from_static(b"%PDF"),
            "application/pdf",
            "a.pdf",
        )
        .await
        .unwrap();
    assert_eq!(id, "4490709327384033");
    let body = &server.received_requests().await.unwrap()[0].body;
    let text = String::from_utf8_lossy(body);
    assert!(text.contains("messaging_product") && text.contains("%PDF") && text.contains("a.pdf"));
    let err = c.media_info(None, "missing").await.unwrap_err();
    assert!(
        matches!(
            err,
            WhatsAppError::Transport(TransportError::Rejected {
                code: Some(100),
                ..
            })
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn mark_read_with_typing_indicator() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v23.0/106540352242922/messages"))
        .and(body_partial_json(json!({ "status": "read", "message_id": "wamid.in", "typing_indicator": { "type": "text" } })))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "success": true })))
        .expect(1)
        .mount(&server)
        .await;
    client(&server)
        .mark_read("106540352242922", "wamid.in", true)
        .await
        .unwrap();
}

#[tokio::test]
async fn approved_templates_across_pages() {
    let server = MockServer::start().await;
    let next = format!(
        "{}/v23.0/waba-1/message_templates?after=CURSOR",
        server.uri()
    );
    Mock::given(method("GET"))
        .and(path("/v23.0/waba-1/message_templates"))
        .and(query_param("after", "CURSOR"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "data": [{ "name": "order_update", "language": "es", "status": "APPROVED", "category": "UTILITY", "id": "2", "components": [] }]
        })))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v23.0/waba-1/message_templates"))
        .and(query_param("status", "APPROVED"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "data": [
                { "name": "follow_up", "language": "en_US", "status": "APPROVED", "category": "MARKETING", "id": "1",
                  "components": [{ "type": "BODY", "text": "Hi {{1}}" }] },
                { "name": "draft", "language": "en_US", "status": "PENDING", "id": "3" }
            ],
            "paging": { "cursors": { "after": "CURSOR" }, "next": next }
        })))
        .mount(&server)
        .await;
    let templates = client(&server).approved_templates("waba-1").await.unwrap();
    let names: Vec<&str> = templates.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["follow_up", "order_update"]);
    assert_eq!(templates[0].components[0]["type"], "BODY");
}

#[tokio::test]
async fn throughput_is_limited_per_number() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ok_response("wamid.x"))
        .mount(&server)
        .await;
    let mut config = GraphConfig::new(TOKEN).base_url(server.uri());
    config.messages_per_second = 5;
    let c = GraphClient::new(config).unwrap();
    // The bucket holds 5; the 6th to 10th sends wait for it to refill, so
    // ten sends take about a second. Asserted only as "not all at once".
    let start = std::time::Instant::now();
    for _ in 0..10 {
        c.send(&request("hi")).await.unwrap();
    }
    assert!(
        start.elapsed() >= Duration::from_millis(500),
        "{:?}",
        start.elapsed()
    );
    assert!(GraphClient::new(GraphConfig {
        messages_per_second: 0,
        ..GraphConfig::new(TOKEN)
    })
    .is_err());
}
