//! What the route tests share: a world with one tenant's conversation,
//! reply, contact and dead letter; a test identity (`X-Agent:
//! tenant/agent`); one request per route of `API_ROUTES`.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use async_trait::async_trait;
use axum::body::Body;
use axum::http::request::Parts;
use axum::http::{Method, Request, StatusCode};
use axum::Router;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::sync::Arc;
use tower::ServiceExt;

use inbox_core::inbound::InboundRefusal;
use inbox_core::model::Role;
use inbox_core::ports::{DeadLetter, TokenHash};
use inbox_core::testing::Fixture;
use inbox_core::{
    Actor, AgentId, ContactId, ConversationId, DeadLetterId, MessageId, Secret, TenantId,
};
use inbox_http::identity::{Identity, Refusal};
use inbox_http::{router, Accounts, AppState, API_ROUTES};
use inbox_store_memory::MemoryStore;

/// `X-Agent: tenant/agent` (the tests' sign-in).
pub struct Header;

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

/// Acme's records the requests name.
pub struct World {
    pub f: Fixture,
    pub app: Router,
    /// A conversation, claimed by ana and replied to (version 3).
    pub conversation: ConversationId,
    /// Ana's reply in it.
    pub message: MessageId,
    /// Its contact.
    pub contact: ContactId,
    /// A dead letter of acme's.
    pub letter: DeadLetterId,
    /// The id of a session of ana's.
    pub session: String,
    /// An API key of acme's.
    pub key: String,
}

impl World {
    pub async fn new() -> Self {
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
        let message = out.message.unwrap().id;
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
        let token = "a".repeat(64);
        let ttl = std::time::Duration::from_secs(3600);
        let secret = Secret::new(token.clone());
        f.inbox
            .open_session(&f.acme(), &ana.agent, &secret, ttl, None)
            .await
            .unwrap();
        let session = TokenHash::of(&token).to_hex();
        let key_secret = Secret::new("b".repeat(64));
        let made = f
            .inbox
            .provision_api_key(&f.acme(), "CRM", Role::Agent, &key_secret)
            .await
            .unwrap();
        let key = made.record.id.to_string();
        f.edit_settings(|s| {
            (s.templates).push(inbox_core::model::TemplateDefinition::new(
                "acme_offer",
                "en_US",
            ))
        })
        .await
        .unwrap();
        let keys = format!("k1:{}", "5a".repeat(32));
        let state = AppState::builder(f.inbox.clone(), Accounts::new(f.acme()))
            .identity(Arc::new(Header))
            .secrets(inbox_http::secrets::SecretBox::from_list(&keys).unwrap())
            .build();
        Self {
            app: router(state),
            f,
            conversation: c,
            message,
            contact,
            letter,
            session,
            key,
        }
    }

    /// The settings version `who` (tenant/agent) sees.
    pub async fn version(&self, who: &str) -> u64 {
        let (status, body) = self.send(who, &Case::new("get", "/settings", None)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        serde_json::from_str::<Value>(&body).unwrap()["version"]
            .as_u64()
            .unwrap()
    }

    /// The path of a case, with acme's ids in it.
    pub fn path(&self, case: &Case) -> String {
        case.template
            .replace("{message_id}", self.message.as_str())
            .replace("{shortcut}", "hi")
            .replace("{name}/{language}", "acme_offer/en_US")
            .replace("{contact}", self.contact.as_str())
            .replace("{connector}", "hubspot")
            .replace("{letter}", self.letter.as_str())
            .replace("{session}", &self.session)
            .replace("{key}", &self.key)
            .replace("/agents/{id}/", "/agents/ana/")
            .replace("{version}", "1")
            .replace("/platform/tenants/{id}", "/platform/tenants/acme")
            .replace("{channel}", "sales")
            .replace("/teams/{id}", "/teams/sales")
            .replace("/agents/{id}", "/agents/ana")
            .replace("{id}", self.conversation.as_str())
    }

    /// Sends a case as `who` (`tenant/agent`): the status and the body
    /// (not read for the event stream).
    pub async fn send(&self, who: &str, case: &Case) -> (StatusCode, String) {
        let path = self.path(case);
        let method = Method::from_bytes(case.method.to_uppercase().as_bytes()).unwrap();
        let mut req = Request::builder()
            .method(method.clone())
            .uri(format!("/api{path}"))
            .header("x-agent", who)
            .header("idempotency-key", format!("k-{who}-{method}-{path}"));
        let body = match &case.body {
            // A text body is sent as it is (a CSV file).
            Some(Value::String(text)) => {
                req = req.header("content-type", "text/csv");
                Body::from(text.clone())
            }
            Some(b) => {
                req = req.header("content-type", "application/json");
                let b = b.to_string().replace("{id}", self.conversation.as_str());
                Body::from(b.replace("{contact}", self.contact.as_str()))
            }
            None => Body::empty(),
        };
        let res = self
            .app
            .clone()
            .oneshot(req.body(body).unwrap())
            .await
            .unwrap();
        let status = res.status();
        if path == "/events" {
            return (status, String::new());
        }
        let bytes = axum::body::to_bytes(res.into_body(), 1 << 22)
            .await
            .unwrap();
        (status, String::from_utf8_lossy(&bytes).to_string())
    }
}

/// One request of a route.
#[derive(Debug, Clone)]
pub struct Case {
    pub method: &'static str,
    pub template: &'static str,
    pub body: Option<Value>,
}

impl Case {
    pub fn new(method: &'static str, template: &'static str, body: Option<Value>) -> Self {
        Self {
            method,
            template,
            body,
        }
    }

    /// The route it exercises, as `API_ROUTES` names it.
    pub fn route(&self) -> (String, String) {
        let path = self.template.split('?').next().unwrap();
        let path = ["{contact}", "{connector}", "{letter}", "{session}", "{key}"]
            .iter()
            .fold(path.to_string(), |p, id| p.replace(id, "{id}"));
        (self.method.to_string(), path)
    }
}

/// One request per route; `settings_version` is the version a settings
/// change is made on.
pub fn cases(settings_version: u64) -> Vec<Case> {
    let v = json!({"version": 3});
    let c = |m, t, b| Case::new(m, t, b);
    vec![
        c(
            "post",
            "/session",
            Some(json!({"agent": "gus", "password": "x"})),
        ),
        c("delete", "/session", None),
        c("get", "/me", None),
        c("get", "/agents", None),
        c("post", "/presence", Some(json!({"presence": "online"}))),
        c("get", "/conversations", None),
        c(
            "post",
            "/conversations",
            Some(
                json!({"channel": "sales", "contact_id": "{contact}", "template": {"name": "acme_offer", "language": "en_US"}}),
            ),
        ),
        c("get", "/counts?status=open,resolved", None),
        c("get", "/conversations/{id}", None),
        c("post", "/conversations/{id}/read", None),
        c("post", "/conversations/{id}/claim", Some(v.clone())),
        c(
            "post",
            "/conversations/{id}/bot",
            Some(json!({"version": 3, "bot": "faq"})),
        ),
        c("get", "/bots", None),
        c("get", "/broadcasts", None),
        c(
            "post",
            "/broadcasts",
            Some(
                json!({"id": "b1", "name": "Spring", "channel": "sales", "template": {"name": "promo", "language": "en"}}),
            ),
        ),
        c("get", "/broadcasts/{id}", None),
        c("get", "/broadcasts/{id}/figures", None),
        c(
            "post",
            "/broadcasts/{id}/steer",
            Some(json!({"version": 1, "action": "start"})),
        ),
        c(
            "post",
            "/contacts/import",
            Some(json!("phone,name\n34600111999,Eva\n")),
        ),
        c(
            "post",
            "/conversations/{id}/thread",
            Some(json!({"version": 3, "action": "take"})),
        ),
        c(
            "post",
            "/conversations/{id}/attachments?version=3&filename=a.pdf",
            Some(json!({"not": "a file WhatsApp takes"})),
        ),
        c(
            "post",
            "/conversations/{id}/assign",
            Some(json!({"version": 3, "agent": "ben", "note": "x"})),
        ),
        c(
            "post",
            "/conversations/{id}/transfer",
            Some(json!({"version": 3, "agent": "ben", "note": "x"})),
        ),
        c(
            "post",
            "/conversations/{id}/release",
            Some(json!({"version": 3, "reason": "x"})),
        ),
        c(
            "post",
            "/conversations/{id}/reply",
            Some(json!({"version": 3, "text": "x"})),
        ),
        c(
            "post",
            "/conversations/{id}/messages/{message_id}/resend",
            Some(v.clone()),
        ),
        c(
            "post",
            "/conversations/{id}/notes",
            Some(json!({"version": 3, "text": "x"})),
        ),
        c(
            "post",
            "/conversations/{id}/tags",
            Some(json!({"version": 3, "add": ["x"]})),
        ),
        c(
            "post",
            "/conversations/{id}/status",
            Some(json!({"version": 3, "status": "resolved"})),
        ),
        c(
            "post",
            "/conversations/{id}/priority",
            Some(json!({"version": 3, "priority": "high"})),
        ),
        c("put", "/conversations/{id}/lease", None),
        c("delete", "/conversations/{id}/lease", None),
        c(
            "post",
            "/conversations/{id}/viewing",
            Some(json!({"state": "viewing"})),
        ),
        c("get", "/conversations/{id}/canned/{shortcut}", None),
        c(
            "get",
            "/conversations/{id}/price?template=acme_offer&language=en_US",
            None,
        ),
        c("get", "/search?q=secreto", None),
        c("get", "/contacts/{contact}", None),
        c("get", "/contacts/{contact}/context", None),
        c("get", "/connectors", None),
        c(
            "put",
            "/connectors/{connector}/credentials",
            Some(json!({"credentials": {"token": "pat-na1-test"}})),
        ),
        c("post", "/connectors/{connector}/check", None),
        c("get", "/media/{message_id}", None),
        c(
            "put",
            "/contacts/{contact}",
            Some(json!({"version": 1, "add_tags": ["vip"], "attributes": {"crm_id": "C-1"}})),
        ),
        c(
            "get",
            "/metrics?from=2020-01-01T00:00:00Z&to=2100-01-01T00:00:00Z",
            None,
        ),
        c(
            "get",
            "/costs?from=2020-01-01T00:00:00Z&to=2100-01-01T00:00:00Z",
            None,
        ),
        c(
            "get",
            "/csat?from=2020-01-01T00:00:00Z&to=2100-01-01T00:00:00Z",
            None,
        ),
        c(
            "get",
            "/bots/report?from=2020-01-01T00:00:00Z&to=2100-01-01T00:00:00Z",
            None,
        ),
        c("get", "/live", None),
        c("get", "/events", None),
        c("get", "/templates", None),
        c("get", "/templates/{name}/{language}", None),
        c("post", "/templates/sync", None),
        c("get", "/canned", None),
        c("get", "/settings", None),
        c(
            "put",
            "/settings",
            Some(json!({"version": settings_version, "yaml": "timers: {max_snooze: 2d}"})),
        ),
        c("get", "/settings/history", None),
        c("get", "/settings/versions/{version}", None),
        c(
            "post",
            "/settings/explain",
            Some(json!({"conversation": "{id}"})),
        ),
        c("get", "/teams", None),
        c("get", "/channels", None),
        c("put", "/teams/{id}", Some(json!({"name": "Sales team"}))),
        c(
            "put",
            "/agents/{id}",
            Some(json!({"name": "Zoe", "role": "agent", "teams": ["sales"], "capacity": 3})),
        ),
        c("get", "/dead-letters", None),
        c("post", "/dead-letters/{letter}/replay", None),
        c("get", "/openapi.json", None),
        c("get", "/platform/tenants", None),
        c("put", "/platform/tenants/{id}", Some(json!({"name": "X"}))),
        c("get", "/platform/tenants/{id}/numbers", None),
        c(
            "put",
            "/platform/tenants/{id}/numbers/{channel}",
            Some(json!({"phone_number_id": "9", "display_number": "9"})),
        ),
        c("post", "/platform/secrets/reseal", None),
        c("get", "/sessions", None),
        c("delete", "/sessions/{session}", None),
        c("delete", "/agents/{id}/sessions", None),
        c(
            "put",
            "/agents/{id}/password",
            Some(json!({"password": "a new password 123"})),
        ),
        c("get", "/keys", None),
        c(
            "post",
            "/keys",
            Some(json!({"name": "ERP", "role": "agent"})),
        ),
        c("delete", "/keys/{key}", None),
    ]
}

/// Fails unless `names` are exactly the routes of `API_ROUTES`.
pub fn assert_every_route(names: impl IntoIterator<Item = (String, String)>) {
    let covered: BTreeSet<(String, String)> = names.into_iter().collect();
    let routes: BTreeSet<(String, String)> = API_ROUTES
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    assert_eq!(covered, routes, "every route has a line in the table");
}

/// Sends a request with `headers` (and a JSON `body`): the status and the
/// answer as JSON (a string when it is not JSON).
pub async fn call(
    app: &Router,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<Vec<u8>>,
) -> (StatusCode, Value) {
    let mut req = Request::builder().method(method).uri(path);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let body = match body {
        Some(b) => {
            req = req.header("content-type", "application/json");
            Body::from(b)
        }
        None => Body::empty(),
    };
    let res = app.clone().oneshot(req.body(body).unwrap()).await.unwrap();
    let status = res.status();
    let bytes = axum::body::to_bytes(res.into_body(), 1 << 22)
        .await
        .unwrap();
    let value = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
    (status, value)
}
