//! The example server as an HTTP server: read and header timeouts, body
//! limits, security headers on every answer, `Secure` cookies over TLS or
//! behind a proxy that says so, and live streams that end with their
//! session.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use axum::http::StatusCode;
use chrono::TimeDelta;
use futures_util::StreamExt;
use serde_json::json;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use common::{app, app_with, read_until, sign_in_request};
use inbox_examples::server::launch::{Delivery, Running};
use inbox_http::Settings;

/// Long enough never to be reached by a working server.
const GENEROUS: Duration = Duration::from_secs(20);

async fn launch(settings: Settings) -> Running {
    common::launch(Delivery::Record, Duration::from_secs(3600), settings).await
}

/// Sends `raw` to the server over a new connection; what it sent back
/// until it closed the connection.
async fn exchange(running: &Running, raw: &[u8]) -> String {
    let mut conn = TcpStream::connect(running.url.trim_start_matches("http://"))
        .await
        .unwrap();
    conn.write_all(raw).await.unwrap();
    until_closed(&mut conn).await
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

/// What a server with [`quick`] timeouts sends back to `raw` until it
/// closes the connection.
async fn answer_to(raw: &[u8]) -> String {
    let running = launch(quick()).await;
    let seen = exchange(&running, raw).await;
    running.shutdown().await;
    seen
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
    exchange(&running, b"GET /api/me HTTP/1.1\r\nHost: x\r\nX-Slow: ").await;
    // The server still answers others.
    let res = reqwest::get(format!("{}/api/me", running.url))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    running.shutdown().await;
}

#[tokio::test]
async fn an_idle_connection_is_closed() {
    let seen = answer_to(b"GET /api/openapi.json HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert!(seen.starts_with("HTTP/1.1 200"), "{seen:.80}");
}

#[tokio::test]
async fn a_body_that_never_arrives_times_out() {
    let seen = answer_to(
        b"POST /api/session HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"agent\":",
    )
    .await;
    assert!(seen.starts_with("HTTP/1.1 408"), "{seen}");
    assert!(seen.contains(r#""code":"timeout""#), "{seen}");
}

#[tokio::test]
async fn live_events_outlast_the_timeouts() {
    // Short timeouts, but long enough for a sign-in (a deliberately slow
    // password check) on a loaded machine.
    let running = launch(Settings {
        header_timeout: Duration::from_millis(500),
        request_timeout: Duration::from_millis(1500),
        ..Settings::default()
    })
    .await;
    let http = reqwest::Client::new();
    let signed = common::sign_in_over_http(&http, &running.url, "sam", "sam").await;
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
    tokio::time::sleep(Duration::from_millis(2000)).await;
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
        let (_, _, h) = app.get_anonymous(path).await;
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
    let mut req = sign_in_request("ana", "ana");
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
    let proxied = || Settings {
        behind_proxy: true,
        ..Settings::default()
    };
    let cookie = session_cookie(proxied(), Some("https")).await;
    assert!(cookie.contains("; Secure"), "{cookie}");
    let cookie = session_cookie(proxied(), Some("http")).await;
    assert!(!cookie.contains("Secure"), "{cookie}");
    let tls = Settings {
        secure_cookies: true,
        ..Settings::default()
    };
    let cookie = session_cookie(tls, None).await;
    assert!(cookie.contains("; Secure"), "{cookie}");
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
    let mut body = app.events(&ana).await;
    assert_eq!(app.sign_out(&ana).await, StatusCode::NO_CONTENT);
    app.customer_says("wamid.1", "34600111222", "hola").await;
    let seen = to_end(&mut body).await;
    assert!(!seen.contains("message_received"), "{seen}");
}

#[tokio::test]
async fn a_live_stream_ends_when_its_session_expires() {
    let app = app().await;
    let ana = app.sign_in("ana", "ana").await;
    let mut body = app.events(&ana).await;
    app.customer_says("wamid.1", "34600111222", "hola").await;
    let mut seen = String::new();
    read_until(&mut body, &mut seen, "event: message_received", GENEROUS).await;
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
    let mut body = app.events(&ana).await;
    app.clock.advance(TimeDelta::hours(12));
    to_end(&mut body).await;
}
