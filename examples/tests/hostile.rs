//! Every route of the example server with hostile input: huge, negative
//! and malformed numbers, bad dates, overlong and strange ids, broken JSON,
//! wrong content types, oversized bodies, unknown routes and methods. No
//! input reaches a panic or a 5xx, and every error is JSON `{code,
//! message}`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderValue, Method, Request, StatusCode};
use serde_json::{json, Map, Value};
use std::net::SocketAddr;
use tower::ServiceExt;

use common::{app, assert_json_error, App, CLIENT};

/// Sends a request and checks the answer: no 5xx, errors as JSON. Returns
/// the status and (unless it is an event stream) the body.
async fn probe(app: &App, what: &str, mut req: Request<Body>) -> (StatusCode, Value) {
    req.extensions_mut()
        .insert(ConnectInfo(CLIENT.parse::<SocketAddr>().unwrap()));
    let res = app.router.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let stream = res
        .headers()
        .get("content-type")
        .is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"));
    if stream {
        return (status, Value::Null);
    }
    let content_type = res.headers().get("content-type").cloned();
    let bytes = axum::body::to_bytes(res.into_body(), 8 << 20)
        .await
        .unwrap();
    assert!(
        !status.is_server_error(),
        "{what}: {status} {}",
        String::from_utf8_lossy(&bytes)
    );
    let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    if status.is_client_error() {
        assert!(
            content_type.is_some_and(|v| v.as_bytes().starts_with(b"application/json")),
            "{what}: {status} is not JSON: {}",
            String::from_utf8_lossy(&bytes)
        );
        assert_json_error(what, status, &body);
    }
    (status, body)
}

fn request(
    method: &Method,
    uri: &str,
    token: Option<&str>,
    key: Option<&str>,
) -> axum::http::request::Builder {
    let mut b = Request::builder().method(method.clone()).uri(uri);
    if let Some(t) = token {
        b = b.header("authorization", format!("Bearer {t}"));
    }
    if let Some(k) = key {
        b = b.header("idempotency-key", k);
    }
    b
}

/// A request without a body.
fn bodiless(method: &Method, uri: &str, token: Option<&str>) -> Request<Body> {
    request(method, uri, token, None)
        .body(Body::empty())
        .unwrap()
}

/// A request carrying `body` as JSON.
fn with_json(
    method: &Method,
    uri: &str,
    token: Option<&str>,
    key: Option<&str>,
    body: impl Into<Body>,
) -> Request<Body> {
    request(method, uri, token, key)
        .header("content-type", "application/json")
        .body(body.into())
        .unwrap()
}

const HOSTILE_IDS: &[&str] = &[
    "x",
    "%00",
    "%FF%FE",
    "%C0%AF",
    "..%2F..%2Fetc%2Fpasswd",
    "%E2%80%AE%E2%80%AD",
    "a%20",
    "%20",
    "-1",
    "99999999999999999999999999999",
    "%F0%9F%92%A9",
];

fn hostile_values() -> Vec<Value> {
    vec![
        json!(-1),
        json!(-9_223_372_036_854_775_807_i64),
        json!(9_000_000_000_000_u64),
        json!(u64::MAX),
        json!(1e300),
        serde_json::from_str("18446744073709551616").unwrap(),
        json!(0.5),
        json!(""),
        json!(" "),
        json!("x".repeat(100_000)),
        json!("\u{0}\u{202e}\u{feff}"),
        json!("2026-13-45T25:61:00Z"),
        json!("+262143-12-31T23:59:59Z"),
        json!("-262143-01-01T00:00:00Z"),
        json!("1970-01-01T00:00:00Z"),
        json!(null),
        json!(true),
        json!([]),
        json!({}),
        json!(vec!["x"; 1000]),
    ]
}

const HOSTILE_QUERY: &[&str] = &[
    "9000000000000",
    "9000000000000000000000000",
    "18446744073709551615",
    "-1",
    "-9223372036854775808",
    "0",
    "1e309",
    "NaN",
    "",
    "%FF%FE",
    "%00",
    "null",
    "2026-13-45T00:00:00Z",
    "%2B262143-12-31T23:59:59Z",
    "-262143-01-01T00:00:00Z",
    "0000-00-00",
    "mine,unassigned",
    "a,,b",
];

/// A documented operation.
struct Op {
    method: Method,
    /// The path, `{id}` for the conversation or contact.
    path: String,
    /// Query parameters: (name, required).
    query: Vec<(String, bool)>,
    /// The JSON body's properties (none: no body).
    props: Vec<String>,
}

/// The operations of the OpenAPI description.
fn operations(doc: &Value) -> Vec<Op> {
    let schemas = &doc["components"]["schemas"];
    let mut out = Vec::new();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            let query = op["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|p| p["in"] == "query")
                .map(|p| {
                    let name = p["name"].as_str().unwrap().to_string();
                    (name, p["required"].as_bool().unwrap_or(false))
                })
                .collect();
            let schema = &op["requestBody"]["content"]["application/json"]["schema"];
            let schema = match schema["$ref"].as_str() {
                Some(r) => &schemas[r.trim_start_matches("#/components/schemas/")],
                None => schema,
            };
            let props = schema["properties"]
                .as_object()
                .map(|m| m.keys().cloned().collect())
                .unwrap_or_default();
            out.push(Op {
                method: method.to_uppercase().parse().unwrap(),
                path: path.clone(),
                query,
                props,
            });
        }
    }
    out
}

/// A value for a required query parameter that passes.
fn fine(param: &str) -> &'static str {
    match param {
        "from" => "2026-03-01T00:00:00Z",
        "to" => "2026-03-03T00:00:00Z",
        _ => "x",
    }
}

/// The walk's state: the server, a real conversation, fresh keys.
struct Walk {
    app: App,
    conv: String,
    sam: String,
    keys: usize,
    sent: usize,
}

impl Walk {
    fn key(&mut self) -> String {
        self.keys += 1;
        format!("h{}", self.keys)
    }

    async fn send(&mut self, what: &str, req: Request<Body>) {
        self.sent += 1;
        probe(&self.app, what, req).await;
    }

    async fn version(&self) -> u64 {
        let path = format!("/api/conversations/{}", self.conv);
        let (_, d) = self.app.get(&path, &self.sam).await;
        d["conversation"]["version"].as_u64().unwrap_or(1)
    }

    /// Strange ids in the path.
    async fn ids(&mut self, op: &Op, token: Option<&str>) {
        let ids = HOSTILE_IDS
            .iter()
            .map(|s| s.to_string())
            .chain([format!("c{}", "a".repeat(10_000)), self.conv.clone()]);
        for id in ids {
            let uri = op.path.replace("{id}", &id);
            let body = json!({"version": 1, "text": "x", "state": "viewing"}).to_string();
            let req = with_json(&op.method, &uri, token, Some(&self.key()), body);
            self.send(&format!("{} {uri:.200}", op.method), req).await;
        }
    }

    /// Hostile query parameters, one at a time, the required others fine;
    /// then garbage for a query string.
    async fn query(&mut self, op: &Op, token: Option<&str>) {
        let uri = op.path.replace("{id}", &self.conv);
        for (param, _) in &op.query {
            let values = HOSTILE_QUERY
                .iter()
                .map(|s| s.to_string())
                .chain(["x".repeat(10_000)]);
            for v in values {
                let mut q: Vec<String> = op
                    .query
                    .iter()
                    .filter(|(p, required)| *required && p != param)
                    .map(|(p, _)| format!("{p}={}", fine(p)))
                    .collect();
                q.push(format!("{param}={v}"));
                let uri = format!("{uri}?{}", q.join("&"));
                let req = bodiless(&op.method, &uri, token);
                self.send(&format!("{} {uri:.200}", op.method), req).await;
            }
        }
        for q in ["%", "a=%ZZ", "&&&=&", "from=1&from=2", "[]=x"] {
            let uri = format!("{uri}?{q}");
            let req = bodiless(&op.method, &uri, token);
            self.send(&format!("{} {uri}", op.method), req).await;
        }
    }

    /// Broken bodies, then one hostile field at a time with the current
    /// version (so the action gets past the version check).
    async fn bodies(&mut self, op: &Op, token: Option<&str>) {
        let uri = op.path.replace("{id}", &self.conv);
        let broken = [
            "".to_string(),
            "{".to_string(),
            "[]".to_string(),
            "null".to_string(),
            "\"x\"".to_string(),
            "{\"version\":".to_string(),
            "[".repeat(5_000),
            "{\"version\": 1} trailing".to_string(),
            "\u{0}".to_string(),
        ];
        for raw in broken {
            let req = with_json(&op.method, &uri, token, Some(&self.key()), raw.clone());
            self.send(&format!("{} {uri} {raw:.40}", op.method), req)
                .await;
        }
        let mut forms: Vec<(String, Value)> = Vec::new();
        for prop in &op.props {
            forms.extend(hostile_values().into_iter().map(|v| (prop.clone(), v)));
        }
        // Snoozed until the end of time, and before it began.
        for until in ["+262143-12-31T23:59:59Z", "-262143-01-01T00:00:00Z"] {
            forms.push(("until".into(), json!(until)));
        }
        for (prop, v) in forms {
            let mut body = Map::new();
            body.insert("version".into(), json!(self.version().await));
            body.insert("text".into(), json!("hi"));
            body.insert("status".into(), json!("snoozed"));
            body.insert(prop.clone(), v.clone());
            let body = Value::Object(body).to_string();
            let req = with_json(&op.method, &uri, token, Some(&self.key()), body);
            let what = format!("{} {uri} {prop}={:.60}", op.method, v.to_string());
            self.send(&what, req).await;
        }
    }
}

#[tokio::test]
async fn every_route_survives_hostile_input() {
    let app = app().await;
    app.customer_says("wamid.1", "34600111222", "hola").await;
    app.customer_says("wamid.2", "34600333444", "buenas").await;
    let sam = app.sign_in("sam", "sam").await;
    let ana = app.sign_in("ana", "ana").await;
    let conv = app.unassigned(&sam).await[0].0.clone();
    let req = bodiless(&Method::GET, "/api/openapi.json", None);
    let (_, doc) = probe(&app, "openapi", req).await;
    let ops = operations(&doc);
    assert!(ops.len() >= 26, "{}", ops.len());
    let params: usize = ops.iter().map(|op| op.query.len()).sum();
    assert!(
        params >= 20,
        "only {params} query parameters are documented"
    );
    let mut walk = Walk {
        app,
        conv,
        sam: sam.clone(),
        keys: 0,
        sent: 0,
    };
    for op in &ops {
        for token in [Some(sam.as_str()), Some(ana.as_str()), None] {
            walk.ids(op, token).await;
            walk.query(op, token).await;
            if token.is_some() && !op.props.is_empty() {
                walk.bodies(op, token).await;
            }
        }
    }
    assert!(walk.sent > 2_000, "{} requests", walk.sent);
}

#[tokio::test]
async fn axum_s_own_refusals_are_json_too() {
    let app = app().await;
    let sam = app.sign_in("sam", "sam").await;
    app.customer_says("wamid.1", "34600111222", "hola").await;
    let conv = app.unassigned(&sam).await[0].0.clone();
    let claim = format!("/api/conversations/{conv}/claim");
    let metrics = "/api/metrics?from=2026-03-01T00:00:00Z&to=2026-03-03T00:00:00Z";
    let notes = format!("/api/conversations/{conv}/notes");
    let huge_note = json!({"version": 1, "text": "x".repeat(3 << 20)}).to_string();
    let huge_sign_in = json!({"agent": "ana", "password": "x".repeat(3 << 20)}).to_string();
    let huge_webhook = format!("{{\"x\":\"{}\"}}", "x".repeat(16 << 20));
    let cases: Vec<(&str, Request<Body>, StatusCode)> = vec![
        (
            "unknown API route",
            bodiless(&Method::GET, "/api/nope", Some(&sam)),
            StatusCode::NOT_FOUND,
        ),
        (
            "unknown method",
            bodiless(&Method::PATCH, "/api/me", Some(&sam)),
            StatusCode::METHOD_NOT_ALLOWED,
        ),
        (
            "GET on an action",
            bodiless(&Method::GET, &claim, Some(&sam)),
            StatusCode::METHOD_NOT_ALLOWED,
        ),
        (
            "no content type",
            request(&Method::POST, &claim, Some(&sam), Some("k1"))
                .body(Body::from(r#"{"version":1}"#))
                .unwrap(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        (
            "text/plain",
            request(&Method::POST, "/api/session", None, None)
                .header("content-type", "text/plain")
                .body(Body::from(r#"{"agent":"ana","password":"ana"}"#))
                .unwrap(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        (
            "bad JSON",
            with_json(&Method::POST, &claim, Some(&sam), Some("k2"), "{"),
            StatusCode::BAD_REQUEST,
        ),
        (
            "a version that is not a number",
            with_json(
                &Method::POST,
                &claim,
                Some(&sam),
                Some("k3"),
                r#"{"version":"one"}"#,
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "a query that does not parse",
            bodiless(
                &Method::GET,
                "/api/metrics?from=yesterday&to=today",
                Some(&sam),
            ),
            StatusCode::BAD_REQUEST,
        ),
        (
            "a huge missed_after_secs",
            bodiless(
                &Method::GET,
                &format!("{metrics}&missed_after_secs=9000000000000"),
                Some(&sam),
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "an unknown time zone",
            bodiless(
                &Method::GET,
                &format!("{metrics}&time_zone=Mars/Olympus_Mons"),
                Some(&sam),
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "a huge page",
            bodiless(
                &Method::GET,
                "/api/conversations?limit=4294967295",
                Some(&sam),
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "an oversized body",
            with_json(&Method::POST, &notes, Some(&sam), Some("k4"), huge_note),
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
        (
            "an oversized sign-in",
            with_json(&Method::POST, "/api/session", None, None, huge_sign_in),
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
        (
            "an oversized webhook",
            with_json(
                &Method::POST,
                "/webhooks/whatsapp/main",
                None,
                None,
                huge_webhook,
            ),
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
        (
            "a key that is not text",
            request(&Method::POST, &claim, Some(&sam), None)
                .header("content-type", "application/json")
                .header(
                    "idempotency-key",
                    HeaderValue::from_bytes(b"\xff\xfe").unwrap(),
                )
                .body(Body::from(r#"{"version":1}"#))
                .unwrap(),
            StatusCode::BAD_REQUEST,
        ),
    ];
    for (what, req, expected) in cases {
        let (status, body) = probe(&app, what, req).await;
        assert_eq!(status, expected, "{what}: {body}");
    }
}
