//! The example server as an HTTP server: read and header timeouts, body
//! limits, security headers on every answer, `Secure` cookies over TLS or
//! behind a proxy that says so, and live streams that end with their
//! session.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::TimeDelta;
use futures_util::StreamExt;
use serde_json::json;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tower::ServiceExt;

use common::{app, app_with, post};
use inbox_examples::server::config::ServerConfig;
use inbox_examples::server::launch::{Delivery, Launch, Running};
use inbox_examples::server::settings::Settings;

/// Long enough never to be reached by a working server.
const GENEROUS: Duration = Duration::from_secs(20);

async fn launch(settings: Settings) -> Running {
    Launch {
        config: ServerConfig::parse(common::CONFIG).unwrap(),
        listen: "127.0.0.1:0".parse().unwrap(),
        database_url: None,
        delivery: Delivery::Record,
        tick: Duration::from_secs(3600),
        settings,
    }
    .start()
    .await
    .unwrap()
}

async fn connect(running: &Running) -> TcpStream {
    TcpStream::connect(running.url.trim_start_matches("http://"))
        .await
        .unwrap()
}

/// Reads until the server closes the connection; what it sent.
async fn until_closed(conn: &mut TcpStream) -> String {
    let mut got = Vec::new();
    let read = tokio::time::timeout(GENEROUS, async {
        let mut buf = [0u8; 4096];
        loop {
            match conn.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(
        read.is_ok(),
        "the connection was still open after {GENEROUS:?}: {}",
        String::from_utf8_lossy(&got)
    );
    String::from_utf8_lossy(&got).into_owned()
}

fn quick() -> Settings {
    Settings {
        header_timeout: Duration::from_millis(200),
        request_timeout: Duration::from_millis(300),
        ..Settings::default()
    }
}

#[tokio::test]
async fn a_half_sent_header_is_cut_off() {
    let running = launch(quick()).await;
    let mut conn = connect(&running).await;
    conn.write_all(b"GET /api/me HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        .await
        .unwrap();
    until_closed(&mut conn).await;
    // The server still answers others.
    let res = reqwest::get(format!("{}/api/me", running.url))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    running.shutdown().await;
}

#[tokio::test]
async fn an_idle_connection_is_closed() {
    let running = launch(quick()).await;
    let mut conn = connect(&running).await;
    conn.write_all(b"GET /api/openapi.json HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let seen = until_closed(&mut conn).await;
    assert!(seen.starts_with("HTTP/1.1 200"), "{seen:.80}");
    running.shutdown().await;
}

#[tokio::test]
async fn a_body_that_never_arrives_times_out() {
    let running = launch(quick()).await;
    let mut conn = connect(&running).await;
    conn.write_all(
        b"POST /api/session HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"agent\":",
    )
    .await
    .unwrap();
    let seen = until_closed(&mut conn).await;
    assert!(seen.starts_with("HTTP/1.1 408"), "{seen}");
    assert!(seen.contains(r#""code":"timeout""#), "{seen}");
    running.shutdown().await;
}

#[tokio::test]
async fn live_events_outlast_the_timeouts() {
    let running = launch(quick()).await;
    let http = reqwest::Client::new();
    let signed: serde_json::Value = http
        .post(format!("{}/api/session", running.url))
        .json(&json!({"agent": "sam", "password": "sam"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = signed["token"].as_str().unwrap();
    let res = http
        .get(format!("{}/api/events", running.url))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let mut res = res;
    // Longer than both timeouts.
    tokio::time::sleep(Duration::from_millis(800)).await;
    http.post(format!("{}/api/presence", running.url))
        .bearer_auth(token)
        .json(&json!({"presence": "online"}))
        .send()
        .await
        .unwrap();
    let mut seen = String::new();
    while !seen.contains("presence_changed") {
        let chunk = tokio::time::timeout(GENEROUS, res.chunk())
            .await
            .expect("an event")
            .unwrap()
            .expect("the stream is open");
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    running.shutdown().await;
}

#[tokio::test]
async fn every_answer_carries_the_security_headers() {
    let app = app().await;
    for path in [
        "/",
        "/app.js",
        "/style.css",
        "/api/me",
        "/api/openapi.json",
        "/api/nope",
        "/nope",
        "/webhooks/whatsapp/main?hub.mode=subscribe&hub.verify_token=demo-verify-token&hub.challenge=42",
    ] {
        let (_, _, h) = app
            .call(Request::get(path).body(Body::empty()).unwrap())
            .await;
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("default-src 'self'"), "{path}: {csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert_eq!(h["x-frame-options"], "DENY", "{path}");
        assert_eq!(h["referrer-policy"], "no-referrer", "{path}");
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
    }
}

async fn session_cookie(settings: Settings, forwarded_proto: Option<&str>) -> String {
    let app = app_with(settings).await;
    let mut req = post(
        "/api/session",
        None,
        None,
        json!({"agent": "ana", "password": "ana"}),
    );
    if let Some(p) = forwarded_proto {
        req.headers_mut()
            .insert("x-forwarded-proto", p.parse().unwrap());
    }
    let (s, b, h) = app.call(req).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    h["set-cookie"].to_str().unwrap().to_string()
}

#[tokio::test]
async fn cookies_are_secure_over_tls_or_behind_a_proxy_that_says_so() {
    let plain = session_cookie(Settings::default(), None).await;
    assert!(!plain.contains("Secure"), "{plain}");
    // Anyone can send the header: it counts only from a trusted proxy.
    let claimed = session_cookie(Settings::default(), Some("https")).await;
    assert!(!claimed.contains("Secure"), "{claimed}");
    let proxied = Settings {
        behind_proxy: true,
        ..Settings::default()
    };
    let cookie = session_cookie(proxied, Some("https")).await;
    assert!(cookie.contains("; Secure"), "{cookie}");
    let proxied = Settings {
        behind_proxy: true,
        ..Settings::default()
    };
    let cookie = session_cookie(proxied, Some("http")).await;
    assert!(!cookie.contains("Secure"), "{cookie}");
    let tls = Settings {
        secure_cookies: true,
        ..Settings::default()
    };
    let cookie = session_cookie(tls, None).await;
    assert!(cookie.contains("; Secure"), "{cookie}");
}

/// Opens `/api/events` as `token`; the body stream.
async fn events(app: &common::App, token: &str) -> axum::body::BodyDataStream {
    let req = Request::get("/api/events")
        .header("cookie", format!("inbox_session={token}"))
        .body(Body::empty())
        .unwrap();
    let res = app.router.clone().oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    res.into_body().into_data_stream()
}

/// Reads a stream to its end; what it carried.
async fn to_end(body: &mut axum::body::BodyDataStream) -> String {
    let mut seen = String::new();
    let ended = tokio::time::timeout(GENEROUS, async {
        while let Some(chunk) = body.next().await {
            seen.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
        }
    })
    .await;
    assert!(ended.is_ok(), "the stream is still open: {seen}");
    seen
}

#[tokio::test]
async fn a_live_stream_ends_at_sign_out() {
    let app = app().await;
    let ana = app.sign_in("ana", "ana").await;
    let mut body = events(&app, &ana).await;
    let req = Request::delete("/api/session")
        .header("authorization", format!("Bearer {ana}"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(app.call(req).await.0, StatusCode::NO_CONTENT);
    app.customer_says("wamid.1", "34600111222", "hola").await;
    let seen = to_end(&mut body).await;
    assert!(!seen.contains("message_received"), "{seen}");
}

#[tokio::test]
async fn a_live_stream_ends_when_its_session_expires() {
    let app = app().await;
    let ana = app.sign_in("ana", "ana").await;
    let mut body = events(&app, &ana).await;
    app.customer_says("wamid.1", "34600111222", "hola").await;
    let mut seen = String::new();
    while !seen.contains("event: message_received") {
        let chunk = tokio::time::timeout(GENEROUS, body.next())
            .await
            .expect("an event")
            .unwrap()
            .unwrap();
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    // Twelve hours later the session is over: the next event is not sent.
    app.clock.advance(TimeDelta::hours(12));
    app.customer_says("wamid.2", "34600333444", "¿hola?").await;
    let rest = to_end(&mut body).await;
    assert!(!rest.contains("message_received"), "{rest}");
}

#[tokio::test]
async fn a_quiet_live_stream_ends_when_its_session_expires() {
    let app = app_with(Settings {
        live_check: Duration::from_millis(20),
        ..Settings::default()
    })
    .await;
    let ana = app.sign_in("ana", "ana").await;
    let mut body = events(&app, &ana).await;
    app.clock.advance(TimeDelta::hours(12));
    to_end(&mut body).await;
}
