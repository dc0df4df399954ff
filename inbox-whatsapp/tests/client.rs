//! The Graph API client against a local mock server.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wiremock::matchers::{body_partial_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use inbox_core::model::Content;
use inbox_core::ports::{OutboundRequest, Transport, TransportError};
use inbox_whatsapp::{GraphClient, GraphConfig, RetryPolicy, WhatsAppError};

const TOKEN: &str = "EAAG-test-token";

/// A client of `base_url` with a `timeout_ms` timeout that makes 3
/// attempts, waiting from `delays_ms.0` up to `delays_ms.1` between them,
/// and retries timed-out sends if `retry_timeouts`.
fn config(
    base_url: &str,
    timeout_ms: u64,
    delays_ms: (u64, u64),
    retry_timeouts: bool,
) -> GraphConfig {
    let mut config = GraphConfig::new(TOKEN).base_url(base_url);
    config.retry = RetryPolicy {
        max_attempts: 3,
        base_delay: Duration::from_millis(delays_ms.0),
        max_delay: Duration::from_millis(delays_ms.1),
        retry_timeouts,
    };
    config.timeout = Duration::from_millis(timeout_ms);
    config
}

/// The usual client: 500 ms timeout, 5 to 20 ms between attempts.
fn client(server: &MockServer) -> GraphClient {
    GraphClient::new(config(&server.uri(), 500, (5, 20), false)).unwrap()
}

/// A text to 16505551234, our message msg-42.
fn request(text: &str) -> OutboundRequest {
    common::request(Content::text(text), "16505551234", "msg-42", None)
}

/// A mock server that answers every POST with `answer`, expecting
/// `expect` requests when given.
async fn posts(answer: impl Respond + 'static, expect: Option<u64>) -> MockServer {
    let server = MockServer::start().await;
    let mock = Mock::given(method("POST")).respond_with(answer);
    match expect {
        Some(n) => mock.expect(n).mount(&server).await,
        None => mock.mount(&server).await,
    }
    server
}

fn meta_error(code: i64) -> serde_json::Value {
    json!({ "error": { "message": format!("error {code}"), "type": "OAuthException", "code": code, "fbtrace_id": "AbC" } })
}

/// Meta's error `code` with HTTP `status`.
fn meta_says(status: u16, code: i64) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(meta_error(code))
}

/// A success that comes after two seconds: later than any client's
/// timeout here.
fn slow_ok() -> ResponseTemplate {
    ok_response("wamid.slow").set_delay(Duration::from_secs(2))
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

/// Tokens for numbers added at run time: 106540352242922 has its own.
struct Tokens;

#[async_trait::async_trait]
impl inbox_whatsapp::TokenSource for Tokens {
    async fn token(&self, phone_number_id: &str) -> Option<inbox_core::Secret> {
        (phone_number_id == "106540352242922").then(|| "EAAG-its-own".into())
    }
}

#[tokio::test]
async fn a_number_without_a_configured_token_sends_with_its_sources() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(header("authorization", "Bearer EAAG-its-own"))
        .respond_with(ok_response("wamid.OWN"))
        .expect(1)
        .mount(&server)
        .await;
    let client = client(&server).with_token_source(Arc::new(Tokens));
    let receipt = client.send(&request("Hello!")).await.unwrap();
    assert_eq!(receipt.external_id, "wamid.OWN");
    // A number the configuration names keeps its configured token.
    let mut config = config(&server.uri(), 500, (5, 20), false);
    config
        .tokens
        .insert("106540352242922".into(), "EAAG-configured".into());
    let server2 = MockServer::start().await;
    Mock::given(method("POST"))
        .and(header("authorization", "Bearer EAAG-configured"))
        .respond_with(ok_response("wamid.CONF"))
        .expect(1)
        .mount(&server2)
        .await;
    let configured = GraphClient::new(config.base_url(server2.uri()))
        .unwrap()
        .with_token_source(Arc::new(Tokens));
    assert_eq!(
        configured.send(&request("Hi")).await.unwrap().external_id,
        "wamid.CONF"
    );
}

#[tokio::test]
async fn rate_limited_then_success_after_retry() {
    let server = posts(
        sequence(vec![meta_says(400, 130429), ok_response("wamid.2")]),
        Some(2),
    )
    .await;
    let receipt = client(&server).send(&request("hi")).await.unwrap();
    assert_eq!(receipt.external_id, "wamid.2");
}

#[tokio::test]
async fn window_closed_is_not_retried() {
    let server = posts(meta_says(400, 131047), Some(1)).await;
    let err = client(&server).send(&request("hi")).await.unwrap_err();
    assert_eq!(err, TransportError::WindowClosed { code: Some(131047) });
}

#[tokio::test]
async fn expired_token_is_unauthorized_and_never_shows_the_token() {
    let server = posts(meta_says(401, 190), Some(1)).await;
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
    let server = posts(
        ResponseTemplate::new(503).set_body_string("unavailable"),
        Some(3),
    )
    .await;
    let err = client(&server).send(&request("hi")).await.unwrap_err();
    assert!(matches!(err, TransportError::Transient { .. }), "{err:?}");
    // And a 500 followed by success is a success.
    let server = posts(
        sequence(vec![meta_says(500, 2), ok_response("wamid.3")]),
        Some(2),
    )
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
async fn a_send_that_times_out_is_in_doubt_and_reaches_meta_once() {
    let server = posts(slow_ok(), None).await;
    // Default: Meta may have accepted the send whose answer timed out, so
    // it is in doubt (never resent by the dispatcher) and not retried.
    let err = client(&server).send(&request("hi")).await.unwrap_err();
    assert!(matches!(err, TransportError::InDoubt { .. }), "{err:?}");
    assert!(!err.is_retryable());
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn with_retry_timeouts_a_timed_out_send_is_retried_and_stays_in_doubt() {
    let server = posts(slow_ok(), None).await;
    let err = opted_in(&server).send(&request("hi")).await.unwrap_err();
    assert!(matches!(err, TransportError::InDoubt { .. }), "{err:?}");
    assert_eq!(server.received_requests().await.unwrap().len(), 3);
    // A definite refusal after a timed-out attempt does not clear the doubt:
    // the first attempt may have been delivered.
    let server = posts(sequence(vec![slow_ok(), meta_says(400, 131026)]), None).await;
    let err = opted_in(&server).send(&request("hi")).await.unwrap_err();
    assert!(matches!(err, TransportError::InDoubt { .. }), "{err:?}");
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
}

/// A client that retries timed-out sends (`retry_timeouts`).
fn opted_in(server: &MockServer) -> GraphClient {
    GraphClient::new(config(&server.uri(), 200, (1, 5), true)).unwrap()
}

#[tokio::test]
async fn a_success_without_a_message_id_is_in_doubt_and_never_resent() {
    let bodies = [
        ResponseTemplate::new(200)
            .set_body_json(json!({ "messaging_product": "whatsapp", "messages": [] })),
        ResponseTemplate::new(200).set_body_json(json!({ "messaging_product": "whatsapp" })),
        ResponseTemplate::new(200).set_body_string("<html>ok</html>"),
        ResponseTemplate::new(200),
        ResponseTemplate::new(201).set_body_json(json!({ "messages": [{ "id": 7 }] })),
    ];
    for body in bodies {
        let server = posts(body, None).await;
        // Not even with retry_timeouts: Meta did answer with a success.
        let err = opted_in(&server).send(&request("hi")).await.unwrap_err();
        assert!(matches!(err, TransportError::InDoubt { .. }), "{err:?}");
        assert_eq!(server.received_requests().await.unwrap().len(), 1);
    }
}

/// A stand-in that reads each request whole, counts it, answers `reply`
/// (possibly nothing, or a truncated answer) and closes the connection.
async fn raw_stand_in(reply: &'static [u8]) -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let uri = format!("http://{}", listener.local_addr().unwrap());
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let seen = seen.clone();
            tokio::spawn(async move {
                if read_request(&mut socket).await {
                    seen.fetch_add(1, Ordering::SeqCst);
                    let _ = socket.write_all(reply).await;
                }
                let _ = socket.shutdown().await;
            });
        }
    });
    (uri, count)
}

/// Reads one HTTP/1.1 request (headers and a Content-Length body).
async fn read_request(socket: &mut tokio::net::TcpStream) -> bool {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let Ok(n) = socket.read(&mut chunk).await else {
            return false;
        };
        if n == 0 {
            return false;
        }
        buf.extend_from_slice(&chunk[..n]);
        let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        if buf.len() >= end + 4 + length {
            return true;
        }
    }
}

fn raw_client(uri: &str) -> GraphClient {
    GraphClient::new(config(uri, 5_000, (1, 5), false)).unwrap()
}

#[tokio::test]
async fn a_connection_lost_before_the_answer_is_in_doubt_and_not_resent() {
    let (uri, count) = raw_stand_in(b"").await;
    let err = raw_client(&uri).send(&request("hi")).await.unwrap_err();
    assert!(matches!(err, TransportError::InDoubt { .. }), "{err:?}");
    assert_eq!(count.load(Ordering::SeqCst), 1);
    assert!(!format!("{err} {err:?}").contains(TOKEN));
}

#[tokio::test]
async fn a_success_whose_body_cannot_be_read_is_in_doubt() {
    let (uri, count) = raw_stand_in(
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 200\r\n\r\n{\"messages\":[{\"id\":\"wam",
    )
    .await;
    let err = raw_client(&uri).send(&request("hi")).await.unwrap_err();
    assert!(matches!(err, TransportError::InDoubt { .. }), "{err:?}");
    assert_eq!(count.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_refused_connection_is_transient_and_retried() {
    // A port nothing listens on: the request is never written.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let err = raw_client(&format!("http://127.0.0.1:{port}"))
        .send(&request("hi"))
        .await
        .unwrap_err();
    assert!(matches!(err, TransportError::Transient { .. }), "{err:?}");
    assert!(err.is_retryable());
    assert!(err.to_string().contains("after 3 attempts"), "{err}");
}

#[tokio::test]
async fn a_connect_timeout_is_transient_and_retried() {
    // Accepts TCP connections but never answers the TLS handshake: the
    // connection is never made, so no request was written.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let seen = accepted.clone();
    tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            seen.fetch_add(1, Ordering::SeqCst);
            open.push(socket);
        }
    });
    let mut config = config(&format!("https://{addr}"), 10_000, (1, 5), false);
    config.connect_timeout = Duration::from_millis(100);
    let err = GraphClient::new(config)
        .unwrap()
        .send(&request("hi"))
        .await
        .unwrap_err();
    assert!(matches!(err, TransportError::Transient { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("connecting timed out"), "{text}");
    assert!(text.contains("after 3 attempts"), "{text}");
    assert_eq!(accepted.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn idempotent_calls_retry_timeouts_and_report_them_transient() {
    let slow_success = ResponseTemplate::new(200)
        .set_body_json(json!({ "success": true }))
        .set_delay(Duration::from_secs(2));
    let server = posts(slow_success, None).await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(2)))
        .mount(&server)
        .await;
    let c = opted_out(&server);
    // Marking read twice is harmless: a timeout is retried.
    let err = c
        .mark_read("106540352242922", "wamid.in", false)
        .await
        .unwrap_err();
    assert!(matches!(err, TransportError::Transient { .. }), "{err:?}");
    let err = c.media_info(None, "1003383421387256").await.unwrap_err();
    assert!(
        matches!(
            err,
            WhatsAppError::Transport(TransportError::Transient { .. })
        ),
        "{err:?}"
    );
    assert_eq!(server.received_requests().await.unwrap().len(), 6);
}

/// A client with a short timeout that does not retry timed-out sends.
fn opted_out(server: &MockServer) -> GraphClient {
    GraphClient::new(config(&server.uri(), 200, (1, 5), false)).unwrap()
}

/// The URL of a page of WABA waba-1's templates on `server`.
fn templates_page(server: &MockServer, query: &str) -> String {
    format!("{}/v23.0/waba-1/message_templates?{query}", server.uri())
}

#[tokio::test]
async fn a_timeout_on_a_url_carrying_a_token_never_shows_it() {
    // Meta's paging links carry the access token in the query string.
    let server = MockServer::start().await;
    let next = templates_page(&server, &format!("access_token={TOKEN}&after=C"));
    Mock::given(method("GET"))
        .and(query_param("after", "C"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(2)))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "data": [], "paging": { "next": next }
        })))
        .mount(&server)
        .await;
    let err = opted_out(&server)
        .approved_templates("waba-1")
        .await
        .unwrap_err();
    let text = format!("{err} {err:?}");
    assert!(text.contains("timed out"), "{text}");
    assert!(!text.contains(TOKEN), "{text}");
}

/// Status, Retry-After, Meta's code, the error's text begins with, requests
/// made.
type StatusCase = (u16, Option<&'static str>, Option<i64>, &'static str, usize);

#[tokio::test]
async fn http_statuses_decide_for_codes_meta_does_not_document() {
    let cases: &[StatusCase] = &[
        // Longer than the client's max_delay: left to the dispatcher.
        (429, Some("7"), Some(987_654), "rate limited", 1),
        (429, None, Some(987_654), "rate limited", 3),
        (429, Some("0"), Some(17), "rate limited", 3),
        (429, None, Some(32), "rate limited", 3),
        (500, None, Some(131_057), "transient", 3),
        (503, None, Some(987_654), "transient", 3),
        (503, None, None, "transient", 3),
        (401, None, Some(104), "unauthorized", 1),
        (403, None, Some(987_654), "unauthorized", 1),
        (400, None, Some(987_654), "rejected", 1),
        (500, None, Some(131_045), "rejected", 1),
        (400, None, Some(131_048), "rate limited", 3),
        (400, None, Some(131_049), "rejected", 1),
        (403, None, Some(368), "rejected", 1),
    ];
    for &(status, retry_after, code, expected, requests) in cases {
        let server = MockServer::start().await;
        let mut answer = ResponseTemplate::new(status);
        if let Some(code) = code {
            answer = answer.set_body_json(meta_error(code));
        }
        if let Some(v) = retry_after {
            answer = answer.insert_header("retry-after", v);
        }
        Mock::given(method("POST"))
            .respond_with(answer)
            .mount(&server)
            .await;
        let err = client(&server).send(&request("hi")).await.unwrap_err();
        let case = format!("HTTP {status} code {code:?}: {err:?}");
        assert!(err.to_string().starts_with(expected), "{case}");
        assert_eq!(err.code(), code, "{case}");
        assert_eq!(
            server.received_requests().await.unwrap().len(),
            requests,
            "{case}"
        );
        if status == 429 && retry_after == Some("7") {
            assert_eq!(
                err,
                TransportError::RateLimited {
                    code,
                    retry_after: Some(Duration::from_secs(7))
                }
            );
        }
    }
}

#[tokio::test]
async fn permanent_rejections_are_not_retried() {
    for code in [131026, 131051, 131053, 131008, 131009, 132001] {
        let server = posts(meta_says(400, code), Some(1)).await;
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
        .respond_with(meta_says(404, 100))
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
    let next = templates_page(&server, "after=CURSOR");
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
    let server = posts(ok_response("wamid.x"), None).await;
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

#[tokio::test]
async fn a_coexistence_number_is_held_to_its_own_rate() {
    let server = posts(ok_response("wamid.x"), None).await;
    let mut config = GraphConfig::new(TOKEN).base_url(server.uri());
    config.messages_per_second = 1000;
    config.coexistence_messages_per_second = 5;
    let c = GraphClient::new(config).unwrap();
    let mut shared = request("hi");
    shared.channel.coexistence = true;
    // Its bucket holds 5: the 6th to 10th sends wait for it to refill.
    // Asserted only as "not all at once".
    let start = std::time::Instant::now();
    for _ in 0..10 {
        c.send(&shared).await.unwrap();
    }
    assert!(
        start.elapsed() >= Duration::from_millis(500),
        "{:?}",
        start.elapsed()
    );
    assert!(GraphClient::new(GraphConfig {
        coexistence_messages_per_second: 0,
        ..GraphConfig::new(TOKEN)
    })
    .is_err());
}
