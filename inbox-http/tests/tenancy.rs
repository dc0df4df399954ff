//! Tenants never see each other's anything, across every route: globex's
//! admin, acting on acme's ids (a conversation, a message, a contact, a
//! dead letter), gets 404; a route about their own tenant answers with
//! nothing of acme's in it. The table must name every route of
//! `API_ROUTES`, so a new route cannot be left out.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use async_trait::async_trait;
use axum::body::Body;
use axum::http::request::Parts;
use axum::http::{Method, Request, StatusCode};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::sync::Arc;
use tower::ServiceExt;

use inbox_core::inbound::InboundRefusal;
use inbox_core::ports::DeadLetter;
use inbox_core::testing::Fixture;
use inbox_core::{Actor, AgentId, DeadLetterId, TenantId};
use inbox_http::identity::{Identity, Refusal};
use inbox_http::{router, Accounts, AppState, API_ROUTES};
use inbox_store_memory::MemoryStore;

/// `X-Agent: tenant/agent` (the test's sign-in).
struct Header;

#[async_trait]
impl Identity for Header {
    async fn identify(&self, request: &Parts) -> Result<Actor, Refusal> {
        let v = request.headers.get("x-agent").and_then(|v| v.to_str().ok());
        let (t, a) = v
            .and_then(|v| v.split_once('/'))
            .ok_or(Refusal::Unauthenticated)?;
        Ok(Actor::new(
            TenantId::new(t).unwrap(),
            AgentId::new(a).unwrap(),
        ))
    }
}

/// What a route must answer globex's admin.
enum Expect {
    /// 404: the id is acme's.
    NotFound,
    /// 2xx with nothing of acme's in the answer.
    Own,
    /// Not a tenant's data (sign-in, the description, the event stream's
    /// headers): only that it does not fail.
    Answers,
}

#[tokio::test]
async fn another_tenants_ids_are_not_found_on_any_route() {
    let f = Fixture::new(Arc::new(MemoryStore::new())).await.unwrap();
    let (c, _) = f
        .customer_says("1001", "wamid.acme.1", "34611112222", "secreto de acme")
        .await
        .unwrap();
    let ana = f.actor("ana");
    f.inbox.claim(&ana, &c, 1).await.unwrap();
    let out = f
        .inbox
        .reply(&ana, &c, 2, inbox_core::Reply::text("hola", "k1"))
        .await
        .unwrap();
    let m = out.message.unwrap().id;
    let contact = f.store.conversation(&f.acme(), &c).await.unwrap().contact;
    let letter = DeadLetterId::new("dl-acme-1").unwrap();
    f.store
        .put_dead_letter(DeadLetter {
            id: letter.clone(),
            tenant: Some(f.acme()),
            channel: Some(f.channel("sales")),
            phone_number_id: Some("1001".into()),
            source: "test".into(),
            raw: "{\"acme\": true}".into(),
            reason: InboundRefusal::malformed("unreadable"),
            received_at: Fixture::start(),
            replayed_at: None,
            last_replay: None,
        })
        .await
        .unwrap();
    let state = AppState::builder(f.inbox.clone(), Accounts::new(f.acme()))
        .identity(Arc::new(Header))
        .build();
    let app = router(state);
    let globex_version = f.inbox.settings(&f.actor("gus")).await.unwrap().version;
    // What acme's data looks like in an answer.
    let acme_marks = [
        "acme".to_string(),
        c.to_string(),
        m.to_string(),
        contact.to_string(),
        "34611112222".into(),
        "secreto".into(),
        "Ana".into(),
    ];

    let v = json!({"version": 3});
    let table: Vec<(&str, &str, Option<Value>, Expect)> = vec![
        (
            "post",
            "/session",
            Some(json!({"agent": "gus", "password": "x"})),
            Expect::Answers,
        ),
        ("delete", "/session", None, Expect::Answers),
        ("get", "/me", None, Expect::Own),
        ("get", "/agents", None, Expect::Own),
        (
            "post",
            "/presence",
            Some(json!({"presence": "online"})),
            Expect::Own,
        ),
        ("get", "/conversations", None, Expect::Own),
        ("get", "/conversations/{id}", None, Expect::NotFound),
        (
            "post",
            "/conversations/{id}/claim",
            Some(v.clone()),
            Expect::NotFound,
        ),
        (
            "post",
            "/conversations/{id}/assign",
            Some(json!({"version": 3, "agent": "gus", "note": "x"})),
            Expect::NotFound,
        ),
        (
            "post",
            "/conversations/{id}/transfer",
            Some(json!({"version": 3, "agent": "gus", "note": "x"})),
            Expect::NotFound,
        ),
        (
            "post",
            "/conversations/{id}/release",
            Some(json!({"version": 3, "reason": "x"})),
            Expect::NotFound,
        ),
        (
            "post",
            "/conversations/{id}/reply",
            Some(json!({"version": 3, "text": "x"})),
            Expect::NotFound,
        ),
        (
            "post",
            "/conversations/{id}/messages/{message_id}/resend",
            Some(v.clone()),
            Expect::NotFound,
        ),
        (
            "post",
            "/conversations/{id}/notes",
            Some(json!({"version": 3, "text": "x"})),
            Expect::NotFound,
        ),
        (
            "post",
            "/conversations/{id}/tags",
            Some(json!({"version": 3, "add": ["x"]})),
            Expect::NotFound,
        ),
        (
            "post",
            "/conversations/{id}/status",
            Some(json!({"version": 3, "status": "resolved"})),
            Expect::NotFound,
        ),
        (
            "post",
            "/conversations/{id}/priority",
            Some(json!({"version": 3, "priority": "high"})),
            Expect::NotFound,
        ),
        ("put", "/conversations/{id}/lease", None, Expect::NotFound),
        (
            "delete",
            "/conversations/{id}/lease",
            None,
            Expect::NotFound,
        ),
        (
            "post",
            "/conversations/{id}/viewing",
            Some(json!({"state": "viewing"})),
            Expect::NotFound,
        ),
        (
            "get",
            "/conversations/{id}/canned/{shortcut}",
            None,
            Expect::NotFound,
        ),
        ("get", "/search?q=secreto", None, Expect::Own),
        ("get", "/contacts/{contact}", None, Expect::NotFound),
        (
            "get",
            "/metrics?from=2020-01-01T00:00:00Z&to=2100-01-01T00:00:00Z",
            None,
            Expect::Own,
        ),
        ("get", "/live", None, Expect::Own),
        ("get", "/events", None, Expect::Answers),
        ("get", "/templates", None, Expect::Answers),
        ("get", "/canned", None, Expect::Own),
        ("get", "/settings", None, Expect::Own),
        (
            "put",
            "/settings",
            Some(json!({"version": globex_version, "yaml": "timers: {max_snooze: 2d}"})),
            Expect::Own,
        ),
        ("get", "/settings/history", None, Expect::Own),
        ("get", "/settings/versions/{version}", None, Expect::Own),
        (
            "post",
            "/settings/explain",
            Some(json!({"conversation": c.to_string()})),
            Expect::NotFound,
        ),
        ("get", "/teams", None, Expect::Own),
        ("get", "/channels", None, Expect::Own),
        (
            "put",
            "/teams/{id}",
            Some(json!({"name": "Globex sales"})),
            Expect::Own,
        ),
        (
            "put",
            "/agents/{id}",
            Some(json!({"name": "Gus two", "role": "agent"})),
            Expect::Own,
        ),
        ("get", "/dead-letters", None, Expect::Own),
        (
            "post",
            "/dead-letters/{letter}/replay",
            None,
            Expect::NotFound,
        ),
        ("get", "/openapi.json", None, Expect::Answers),
    ];

    let covered: BTreeSet<(String, String)> = table
        .iter()
        .map(|(m, p, _, _)| {
            (
                m.to_string(),
                p.split('?')
                    .next()
                    .unwrap()
                    .replace("{contact}", "{id}")
                    .replace("{letter}", "{id}"),
            )
        })
        .collect();
    let routes: BTreeSet<(String, String)> = API_ROUTES
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    assert_eq!(covered, routes, "every route has a line in the table");

    for (method, template, body, expect) in table {
        let path = template
            .replace("{message_id}", m.as_str())
            .replace("{shortcut}", "hi")
            .replace("{contact}", contact.as_str())
            .replace("{letter}", letter.as_str())
            .replace("{version}", "1")
            .replace("/teams/{id}", "/teams/sales")
            .replace("/agents/{id}", "/agents/ana")
            .replace("{id}", c.as_str());
        let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let mut req = Request::builder()
            .method(method.clone())
            .uri(format!("/api{path}"))
            .header("x-agent", "globex/gus")
            .header("idempotency-key", format!("k-{method}-{path}"));
        let body = match body {
            Some(b) => {
                req = req.header("content-type", "application/json");
                Body::from(b.to_string())
            }
            None => Body::empty(),
        };
        let res = app.clone().oneshot(req.body(body).unwrap()).await.unwrap();
        let status = res.status();
        if path == "/events" {
            assert_eq!(status, StatusCode::OK, "{method} {path}");
            continue;
        }
        let bytes = axum::body::to_bytes(res.into_body(), 1 << 22)
            .await
            .unwrap();
        let text = String::from_utf8_lossy(&bytes).to_string();
        let what = format!("{method} {path}: {status} {text}");
        match expect {
            Expect::NotFound => {
                assert_eq!(status, StatusCode::NOT_FOUND, "{what}");
                let body: Value = serde_json::from_str(&text).unwrap();
                assert!(
                    body["code"]
                        .as_str()
                        .is_some_and(|c| c.contains("not_found")),
                    "{what}"
                );
            }
            Expect::Own => {
                assert!(status.is_success(), "{what}");
                for mark in &acme_marks {
                    assert!(!text.contains(mark.as_str()), "{what}: shows {mark}");
                }
            }
            Expect::Answers => assert!(!status.is_server_error(), "{what}"),
        }
    }
    // Acme's records are as they were.
    let acme_ana = f
        .store
        .agent(&f.acme(), &AgentId::new("ana").unwrap())
        .await
        .unwrap();
    assert_eq!(acme_ana.name, "Ana");
    let stored = f.store.conversation(&f.acme(), &c).await.unwrap();
    assert_eq!(
        (stored.version, stored.assignee.map(|a| a.to_string())),
        (3, Some("ana".into()))
    );
}
