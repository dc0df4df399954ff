//! The media proxy, `GET /api/media/{message_id}`, on a local mock of the
//! Graph API: files fetched with the number's token, kept and served from
//! the media store afterwards, with headers that keep them from acting as
//! pages; sizes and types bounded; another tenant's message not found;
//! Meta's failures a 502 that never shows a token.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use tower::ServiceExt;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use common::{Header, World};
use inbox_core::inbound::{InboundEvent, IngestOutcome};
use inbox_core::model::{Content, MediaKind, MediaRef};
use inbox_core::ports::{MediaKey, MediaStore};
use inbox_core::MessageId;
use inbox_http::{router, Accounts, AppState, Settings};
use inbox_media::ObjectMediaStore;
use inbox_whatsapp::{GraphClient, GraphConfig, RetryPolicy, Secret};

const ACME_TOKEN: &str = "acme-number-token-EAAG";
const PNG: &[u8] = b"\x89PNG\r\n\x1a\nnot really an image";

/// The world, a media store in memory and the app over both (and a Graph
/// client on `server`, with acme's number's token, when given).
struct Media {
    w: World,
    state: AppState,
    kept: Arc<dyn MediaStore>,
}

async fn media_world(server: Option<&MockServer>, settings: Settings) -> Media {
    let mut w = World::new().await;
    let kept: Arc<dyn MediaStore> = Arc::new(ObjectMediaStore::new(Arc::new(
        object_store::memory::InMemory::new(),
    )));
    let mut builder = AppState::builder(w.f.inbox.clone(), Accounts::new(w.f.acme()))
        .identity(Arc::new(Header))
        .settings(settings)
        .media_store(kept.clone());
    if let Some(server) = server {
        let mut config = GraphConfig::new("default-token").base_url(server.uri());
        config.tokens.insert("1001".into(), Secret::new(ACME_TOKEN));
        config.retry = RetryPolicy {
            max_attempts: 1,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(1),
            retry_timeouts: false,
        };
        builder = builder.graph(GraphClient::new(config).unwrap());
    }
    let state = builder.build();
    w.app = router(state.clone());
    Media { w, state, kept }
}

impl Media {
    /// A customer's media message in ana's conversation (number 1001).
    async fn customer_sends(
        &self,
        kind: MediaKind,
        media_id: &str,
        mime: &str,
        filename: Option<&str>,
    ) -> MessageId {
        let content = Content::Media {
            kind,
            media: MediaRef {
                id: Some(media_id.into()),
                mime_type: Some(mime.into()),
                filename: filename.map(Into::into),
                ..MediaRef::default()
            },
            caption: None,
        };
        let f = &self.w.f;
        let inbound = f.inbound("1001", &format!("wamid.{media_id}"), "34611112222", content);
        match f
            .inbox
            .ingest(InboundEvent::Message(inbound))
            .await
            .unwrap()
        {
            IngestOutcome::Stored { message, .. } => message.id,
            other => panic!("not stored: {other:?}"),
        }
    }

    /// `GET /api/media/{id}` as `who`: status, headers, body.
    async fn get(&self, who: &str, id: &MessageId) -> (StatusCode, HeaderMap, Vec<u8>) {
        let req = Request::get(format!("/api/media/{id}"))
            .header("x-agent", who)
            .body(Body::empty())
            .unwrap();
        let res = self.w.app.clone().oneshot(req).await.unwrap();
        let (parts, body) = res.into_parts();
        let bytes = axum::body::to_bytes(body, 1 << 22).await.unwrap().to_vec();
        for (name, value) in &parts.headers {
            assert!(
                !value.to_str().unwrap_or_default().contains("EAAG"),
                "{name} shows a token"
            );
        }
        assert!(
            !String::from_utf8_lossy(&bytes).contains("EAAG"),
            "the body shows a token"
        );
        (parts.status, parts.headers, bytes)
    }

    async fn is_kept(&self, id: &MessageId) -> bool {
        let key = MediaKey::for_message(id);
        self.kept
            .media(&self.w.f.acme(), &key)
            .await
            .unwrap()
            .is_some()
    }
}

/// Meta's media lookup of `media_id` (with acme's token, `times` times)
/// pointing at a download URL on the mock answering `bytes` (as often,
/// unless the declared size is refused before).
async fn meta_has(
    server: &MockServer,
    media_id: &str,
    mime: &str,
    bytes: &[u8],
    declared: Option<usize>,
    times: u64,
) {
    let auth = format!("Bearer {ACME_TOKEN}");
    let mut info = json!({
        "id": media_id, "url": format!("{}/download/{media_id}", server.uri()),
        "mime_type": mime, "sha256": "00",
    });
    if let Some(size) = declared {
        info["file_size"] = json!(size);
    }
    Mock::given(method("GET"))
        .and(path(format!("/v23.0/{media_id}")))
        .and(header("authorization", auth.as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(info))
        .expect(times)
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/download/{media_id}")))
        .and(header("authorization", auth.as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(bytes.to_vec()))
        .expect(if declared.is_some_and(|d| d > 32) {
            0
        } else {
            times
        })
        .mount(server)
        .await;
}

fn text(h: &HeaderMap, name: &str) -> String {
    h.get(name)
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default()
}

fn json_of(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).unwrap()
}

#[tokio::test]
async fn an_image_is_fetched_with_the_numbers_token_kept_and_then_served_from_the_store() {
    let server = MockServer::start().await;
    meta_has(&server, "img1", "image/png", PNG, Some(PNG.len()), 1).await;
    let m = media_world(Some(&server), Settings::default()).await;
    let id = m
        .customer_sends(MediaKind::Image, "img1", "image/png", None)
        .await;
    for _ in 0..2 {
        let (status, h, body) = m.get("acme/ana", &id).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, PNG);
        assert_eq!(text(&h, "content-type"), "image/png");
        assert_eq!(text(&h, "content-disposition"), "inline");
        assert_eq!(text(&h, "x-content-type-options"), "nosniff");
        assert_eq!(text(&h, "cache-control"), "private, max-age=86400");
        assert!(!text(&h, "content-security-policy").contains("sandbox"));
    }
    assert!(m.is_kept(&id).await);
    // Meta was asked once: the second answer came from the store.
    server.verify().await;
}

#[tokio::test]
async fn a_voice_note_plays_in_place_and_a_document_downloads_under_its_name() {
    let server = MockServer::start().await;
    meta_has(
        &server,
        "voice1",
        "audio/ogg; codecs=opus",
        b"OggS",
        None,
        1,
    )
    .await;
    meta_has(&server, "doc1", "application/pdf", b"%PDF-1.4", None, 1).await;
    let m = media_world(Some(&server), Settings::default()).await;
    let voice = m
        .customer_sends(MediaKind::Voice, "voice1", "audio/ogg; codecs=opus", None)
        .await;
    let (status, h, _) = m.get("acme/ana", &voice).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (text(&h, "content-type"), text(&h, "content-disposition")),
        ("audio/ogg".into(), "inline".into())
    );
    let doc = m
        .customer_sends(
            MediaKind::Document,
            "doc1",
            "application/pdf",
            Some("Factura marzo.pdf"),
        )
        .await;
    let (status, h, body) = m.get("acme/ana", &doc).await;
    assert_eq!((status, body), (StatusCode::OK, b"%PDF-1.4".to_vec()));
    assert_eq!(text(&h, "content-type"), "application/pdf");
    assert_eq!(
        text(&h, "content-disposition"),
        "attachment; filename=\"Factura marzo.pdf\"; filename*=UTF-8''Factura%20marzo.pdf"
    );
    assert_eq!(
        text(&h, "content-security-policy"),
        "sandbox; default-src 'none'"
    );
}

#[tokio::test]
async fn a_type_not_allowed_is_served_as_an_attachment_in_a_sandbox() {
    let server = MockServer::start().await;
    let page = b"<script>alert(1)</script>";
    meta_has(&server, "html1", "text/html", page, None, 1).await;
    let m = media_world(Some(&server), Settings::default()).await;
    let id = m
        .customer_sends(
            MediaKind::Document,
            "html1",
            "text/html",
            Some("../../evil.html"),
        )
        .await;
    let (status, h, body) = m.get("acme/ana", &id).await;
    assert_eq!((status, body), (StatusCode::OK, page.to_vec()));
    assert_eq!(text(&h, "content-type"), "application/octet-stream");
    assert!(text(&h, "content-disposition").starts_with("attachment; filename=\"evil.html\""));
    assert_eq!(
        text(&h, "content-security-policy"),
        "sandbox; default-src 'none'"
    );
    assert_eq!(text(&h, "x-content-type-options"), "nosniff");
}

#[tokio::test]
async fn a_file_over_the_limit_is_refused_and_nothing_is_kept() {
    let server = MockServer::start().await;
    let big = vec![0u8; 64];
    // One declares its size (refused before the download), the other does
    // not and is measured.
    meta_has(&server, "big1", "image/png", &big, Some(big.len()), 1).await;
    meta_has(&server, "big2", "image/png", &big, None, 1).await;
    let mut settings = Settings::default();
    settings.media.max_media_bytes = 32;
    let m = media_world(Some(&server), settings).await;
    for media_id in ["big1", "big2"] {
        let id = m
            .customer_sends(MediaKind::Image, media_id, "image/png", None)
            .await;
        let (status, _, body) = m.get("acme/ana", &id).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        let body = json_of(&body);
        assert_eq!(body["code"], "media_too_large");
        assert_eq!(body["details"], json!({"size": 64, "limit": 32}));
        assert!(!m.is_kept(&id).await);
    }
}

#[tokio::test]
async fn another_tenants_message_and_a_message_without_a_file_are_not_found() {
    let server = MockServer::start().await;
    meta_has(&server, "img2", "image/png", PNG, None, 0).await;
    let m = media_world(Some(&server), Settings::default()).await;
    let id = m
        .customer_sends(MediaKind::Image, "img2", "image/png", None)
        .await;
    let (status, _, body) = m.get("globex/gus", &id).await;
    assert_eq!(
        (status, json_of(&body)["code"].clone()),
        (StatusCode::NOT_FOUND, json!("not_found"))
    );
    let (status, _, body) = m.get("acme/ana", &m.w.message).await;
    assert_eq!(
        (status, json_of(&body)["code"].clone()),
        (StatusCode::NOT_FOUND, json!("not_media"))
    );
    let unknown = MessageId::new("no-such-message").unwrap();
    let (status, _, _) = m.get("acme/ana", &unknown).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(!m.is_kept(&id).await);
    server.verify().await;
}

#[tokio::test]
async fn meta_refusing_or_failing_is_a_502_that_never_shows_the_token() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v23.0/gone"))
        .respond_with(ResponseTemplate::new(401).set_body_json(
            json!({"error": {"message": "Invalid OAuth access token", "type": "OAuthException", "code": 190}}),
        ))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v23.0/broken"))
        .respond_with(ResponseTemplate::new(500).set_body_string("oops"))
        .mount(&server)
        .await;
    let m = media_world(Some(&server), Settings::default()).await;
    for (media_id, code) in [
        ("gone", "graph_unauthorized"),
        ("broken", "graph_unavailable"),
    ] {
        let id = m
            .customer_sends(MediaKind::Image, media_id, "image/png", None)
            .await;
        let (status, _, body) = m.get("acme/ana", &id).await;
        assert_eq!(status, StatusCode::BAD_GATEWAY, "{media_id}");
        assert_eq!(json_of(&body)["code"], code, "{media_id}");
        assert!(!m.is_kept(&id).await);
    }
}

#[tokio::test]
async fn without_a_graph_client_only_kept_files_are_served() {
    let m = media_world(None, Settings::default()).await;
    let id = m
        .customer_sends(MediaKind::Image, "img3", "image/png", None)
        .await;
    let (status, _, body) = m.get("acme/ana", &id).await;
    assert_eq!(
        (status, json_of(&body)["code"].clone()),
        (StatusCode::SERVICE_UNAVAILABLE, json!("media_unavailable"))
    );
    let object = inbox_core::ports::MediaObject {
        bytes: PNG.to_vec(),
        content_type: "image/png".into(),
    };
    m.kept
        .put_media(&m.w.f.acme(), &MediaKey::for_message(&id), object)
        .await
        .unwrap();
    let (status, _, body) = m.get("acme/ana", &id).await;
    assert_eq!((status, body), (StatusCode::OK, PNG.to_vec()));
}

#[tokio::test]
async fn a_prefetch_keeps_a_new_messages_file_once_and_views_need_no_meta() {
    let server = MockServer::start().await;
    meta_has(&server, "img4", "image/png", PNG, None, 1).await;
    let m = media_world(Some(&server), Settings::default()).await;
    let id = m
        .customer_sends(MediaKind::Image, "img4", "image/png", None)
        .await;
    let acme = m.w.f.acme();
    assert!(inbox_http::media::prefetch(&m.state, &acme, &id)
        .await
        .unwrap());
    assert!(
        !inbox_http::media::prefetch(&m.state, &acme, &id)
            .await
            .unwrap(),
        "already kept"
    );
    assert!(
        !inbox_http::media::prefetch(&m.state, &acme, &m.w.message)
            .await
            .unwrap(),
        "no file"
    );
    let (status, _, body) = m.get("acme/ana", &id).await;
    assert_eq!((status, body), (StatusCode::OK, PNG.to_vec()));
    server.verify().await;
}

// ------------------------------------------------------ agents' files

const PDF: &[u8] = b"%PDF-1.7 a small invoice";

impl Media {
    /// `POST /api/conversations/{id}/attachments?{query}` as ana with `key`:
    /// status and answer.
    async fn attach(
        &self,
        query: &str,
        content_type: &str,
        body: &[u8],
        key: &str,
    ) -> (StatusCode, Value) {
        let path = format!(
            "/api/conversations/{}/attachments?{query}",
            self.w.conversation
        );
        let req = Request::post(path)
            .header("x-agent", "acme/ana")
            .header("idempotency-key", key)
            .header("content-type", content_type)
            .body(Body::from(body.to_vec()))
            .unwrap();
        let res = self.w.app.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let bytes = axum::body::to_bytes(res.into_body(), 1 << 22)
            .await
            .unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains("EAAG"), "the answer shows a token: {text}");
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    /// The messages of ana's conversation.
    async fn messages(&self) -> usize {
        let f = &self.w.f;
        f.store
            .messages(&f.acme(), &self.w.conversation)
            .await
            .unwrap()
            .len()
    }
}

/// Meta's media upload for number 1001 with acme's token, answering
/// `media_id`, expected `times` times.
async fn meta_takes_uploads(server: &MockServer, media_id: &str, times: u64) {
    Mock::given(method("POST"))
        .and(path("/v23.0/1001/media"))
        .and(header(
            "authorization",
            format!("Bearer {ACME_TOKEN}").as_str(),
        ))
        .and(wiremock::matchers::body_string_contains(
            "filename=\"Factura marzo.pdf\"",
        ))
        .and(wiremock::matchers::body_string_contains("application/pdf"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "id": media_id })))
        .expect(times)
        .mount(server)
        .await;
}

#[tokio::test]
async fn an_agents_document_is_uploaded_with_the_numbers_token_then_sent_and_kept() {
    let server = MockServer::start().await;
    meta_takes_uploads(&server, "up-1", 1).await;
    let m = media_world(Some(&server), Settings::default()).await;
    let before = m.messages().await;
    let query = "version=3&filename=..%2FFactura%20marzo.pdf&caption=Su%20factura";
    let (status, out) = m.attach(query, "application/pdf", PDF, "att-1").await;
    assert_eq!(status, StatusCode::OK, "{out}");
    let message = &out["message"];
    assert_eq!(message["content"]["type"], "media");
    assert_eq!(message["content"]["kind"], "document");
    assert_eq!(message["content"]["caption"], "Su factura");
    let media = &message["content"]["media"];
    assert_eq!(media["id"], "up-1");
    assert_eq!(media["filename"], "Factura marzo.pdf");
    assert_eq!(media["mime_type"], "application/pdf");
    assert_eq!(media["sha256"].as_str().unwrap().len(), 64);
    assert_eq!(message["delivery"]["status"], "pending", "{message}");
    // The same request again: the same message, nothing uploaded again.
    let (again, replay) = m.attach(query, "application/pdf", PDF, "att-1").await;
    assert_eq!(
        (again, &replay["message"]["id"]),
        (StatusCode::OK, &message["id"])
    );
    assert_eq!(m.messages().await, before + 1);
    // Another file under the key is refused.
    let (reused, err) = m
        .attach(query, "application/pdf", b"%PDF other", "att-1")
        .await;
    assert_eq!(
        (reused, err["code"].as_str()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("idempotency_key_reused")
        )
    );
    // The conversation shows it from this server, without asking Meta.
    let id = MessageId::new(message["id"].as_str().unwrap()).unwrap();
    let (status, h, body) = m.get("acme/ana", &id).await;
    assert_eq!((status, body), (StatusCode::OK, PDF.to_vec()));
    assert!(text(&h, "content-disposition").contains("Factura marzo.pdf"));
    server.verify().await;
}

#[tokio::test]
async fn a_file_the_reply_would_be_refused_for_is_never_uploaded() {
    let server = MockServer::start().await;
    meta_takes_uploads(&server, "never", 0).await;
    let m = media_world(Some(&server), Settings::default()).await;
    let before = m.messages().await;
    let cases: [(&str, &str, Vec<u8>, StatusCode, &str); 6] = [
        (
            "version=3",
            "text/html",
            b"<script>".to_vec(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (
            "version=3&kind=image",
            "application/pdf",
            PDF.to_vec(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (
            "version=3",
            "image/png",
            vec![0; (5 << 20) + 1],
            StatusCode::PAYLOAD_TOO_LARGE,
            "media_too_large",
        ),
        (
            "version=3&caption=hola",
            "audio/ogg",
            b"OggS".to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_content",
        ),
        (
            "version=3",
            "application/pdf",
            Vec::new(),
            StatusCode::BAD_REQUEST,
            "invalid_input",
        ),
        (
            "filename=x.pdf",
            "application/pdf",
            PDF.to_vec(),
            StatusCode::BAD_REQUEST,
            "invalid_input",
        ),
    ];
    for (i, (query, content_type, body, want, code)) in cases.iter().enumerate() {
        let (status, err) = m
            .attach(query, content_type, body, &format!("bad-{i}"))
            .await;
        assert_eq!(
            (status, err["code"].as_str()),
            (*want, Some(*code)),
            "{query} {content_type}: {err}"
        );
        assert!(!err["message"].as_str().unwrap_or_default().is_empty());
    }
    // Past this server's limit: refused before the body is read whole.
    let small = Settings {
        media: inbox_http::media::MediaLimits {
            max_upload_bytes: 1000,
            ..Default::default()
        },
        ..Settings::default()
    };
    let tight = media_world(Some(&server), small).await;
    let (status, err) = tight
        .attach("version=3", "application/pdf", &[b'%'; 2000], "big")
        .await;
    assert_eq!(
        (status, err["code"].as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, Some("media_too_large"))
    );
    // The window closed a day after the customer wrote: nothing uploaded.
    m.w.f.advance(chrono::TimeDelta::hours(25));
    let query = "version=3&filename=Factura%20marzo.pdf";
    let (status, err) = m.attach(query, "application/pdf", PDF, "late").await;
    assert_eq!(
        (status, err["code"].as_str()),
        (StatusCode::CONFLICT, Some("window_closed")),
        "{err}"
    );
    assert_eq!(m.messages().await, before);
    server.verify().await;
}

#[tokio::test]
async fn meta_refusing_an_upload_is_a_502_and_nothing_is_sent() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v23.0/1001/media"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "error": {"message": "Invalid OAuth access token.", "type": "OAuthException", "code": 190}
        })))
        .mount(&server)
        .await;
    let m = media_world(Some(&server), Settings::default()).await;
    let before = m.messages().await;
    let query = "version=3&filename=Factura%20marzo.pdf";
    let (status, err) = m.attach(query, "application/pdf", PDF, "k").await;
    assert_eq!(
        (status, err["code"].as_str()),
        (StatusCode::BAD_GATEWAY, Some("graph_unauthorized")),
        "{err}"
    );
    assert_eq!(m.messages().await, before);
    // Without a Graph client: 503, nothing sent.
    let none = media_world(None, Settings::default()).await;
    let (status, err) = none.attach(query, "application/pdf", PDF, "k").await;
    assert_eq!(
        (status, err["code"].as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, Some("media_unavailable"))
    );
}
