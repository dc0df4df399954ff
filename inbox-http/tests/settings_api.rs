//! The settings and directory routes: every operation by role (agent,
//! supervisor, admin), the admin's flow (a mistake named at its field, the
//! fix, a stale edit, the dry run, the history, a past version), and
//! another tenant's ids answering 404.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use axum::Router;
use serde_json::{json, Value};
use std::sync::Arc;
use tower::ServiceExt;

use inbox_core::testing::Fixture;
use inbox_http::{router, Accounts, AppState};
use inbox_store_memory::MemoryStore;

/// An id of any kind from a literal.
fn id<T: TryFrom<String, Error = inbox_core::Error>>(s: &str) -> T {
    T::try_from(s.to_string()).unwrap()
}

struct Api {
    app: Router,
    state: AppState,
    f: Fixture,
}

impl Api {
    async fn new() -> Self {
        let f = Fixture::new(Arc::new(MemoryStore::new())).await.unwrap();
        let state = AppState::builder(f.inbox.clone(), Accounts::new(f.acme())).build();
        Self {
            app: router(state.clone()),
            state,
            f,
        }
    }

    /// A session of `agent` (of acme).
    async fn token(&self, agent: &str) -> String {
        let acme = self.f.acme();
        self.state
            .auth
            .open_session(&acme, &id(agent), None)
            .await
            .unwrap()
    }

    async fn call(
        &self,
        who: &str,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let bearer = format!("Bearer {}", self.token(who).await);
        let body = body.map(|b| b.to_string().into_bytes());
        common::call(
            &self.app,
            method.as_str(),
            path,
            &[("authorization", &bearer)],
            body,
        )
        .await
    }

    async fn get(&self, who: &str, path: &str) -> (StatusCode, Value) {
        self.call(who, Method::GET, path, None).await
    }

    async fn put(&self, who: &str, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(who, Method::PUT, path, Some(body)).await
    }

    async fn post(&self, who: &str, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(who, Method::POST, path, Some(body)).await
    }

    async fn version(&self) -> u64 {
        let (_, s) = self.get("ada", "/api/settings").await;
        s["version"].as_u64().unwrap()
    }
}

const SALES_RULE: &str =
    "routing:\n  rules:\n    - name: sales line\n      when: {channel: sales}\n      then: [{route_to_team: sales}]\n";

/// Every settings and directory operation, by role: the status each role
/// gets (agent, supervisor, admin).
#[tokio::test]
async fn each_role_gets_what_the_matrix_says() {
    let api = Api::new().await;
    let v = api.version().await;
    let ok = StatusCode::OK;
    let no = StatusCode::FORBIDDEN;
    type Op = (Method, &'static str, Option<Value>);
    let ops: Vec<(&str, Op, [StatusCode; 3])> = vec![
        (
            "read settings",
            (Method::GET, "/api/settings", None),
            [no, ok, ok],
        ),
        (
            "history",
            (Method::GET, "/api/settings/history", None),
            [no, ok, ok],
        ),
        (
            "past version",
            (Method::GET, "/api/settings/versions/0", None),
            [no, ok, ok],
        ),
        (
            "dry run",
            (
                Method::POST,
                "/api/settings/explain",
                Some(json!({"sample": {"channel": "sales", "from": "34600000001", "text": "hi"}})),
            ),
            [no, ok, ok],
        ),
        ("teams", (Method::GET, "/api/teams", None), [ok, ok, ok]),
        ("canned", (Method::GET, "/api/canned", None), [ok, ok, ok]),
        (
            "change settings",
            (
                Method::PUT,
                "/api/settings",
                Some(json!({"version": v, "yaml": SALES_RULE})),
            ),
            [no, no, ok],
        ),
    ];
    for (name, (method, path, body), expected) in ops {
        for (who, want) in ["ana", "sam", "ada"].into_iter().zip(expected) {
            let (status, answer) = api.call(who, method.clone(), path, body.clone()).await;
            assert_eq!(status, want, "{name} as {who}: {answer}");
            if status == no {
                assert_eq!(answer["code"], "forbidden", "{name} as {who}");
            }
        }
    }
    // Directory writes (each a new record, so each role's attempt is new).
    for (who, want) in [("ana", no), ("sam", no), ("ada", ok)] {
        let team = format!("/api/teams/t-{who}");
        let (status, _) = api
            .call(who, Method::PUT, &team, Some(json!({"name": "T"})))
            .await;
        assert_eq!(status, want, "put team as {who}");
        let agent = format!("/api/agents/new-{who}");
        let (status, _) = api
            .call(
                who,
                Method::PUT,
                &agent,
                Some(json!({"name": "New", "role": "agent"})),
            )
            .await;
        let want = if want == ok {
            StatusCode::CREATED
        } else {
            want
        };
        assert_eq!(status, want, "put agent as {who}");
    }
    // Nothing but the admin's changes was stored.
    let (_, history) = api.get("ada", "/api/settings/history?limit=3").await;
    let sections: Vec<&str> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["sections"][0]["section"].as_str().unwrap())
        .collect();
    assert_eq!(sections, ["agents.new-ada", "teams.t-ada", "routing"]);
}

/// An admin edits a rule with a mistake (named at its field, nothing
/// stored), then correctly; a stale edit is refused; the dry run explains
/// the next message; the history and the past version show the change.
#[tokio::test]
async fn an_admin_edits_routing_and_tries_it() {
    let api = Api::new().await;
    let v0 = api.version().await;
    let typo = SALES_RULE.replace("route_to_team: sales", "route_to_team: slaes");
    let (status, err) = api
        .put("ada", "/api/settings", json!({"version": v0, "yaml": typo}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    assert_eq!(err["code"], "invalid_settings");
    let problem = &err["details"]["problems"][0];
    assert_eq!(problem["path"], "routing.rules[0].then[0].route_to_team");
    assert!(
        problem["reason"]
            .as_str()
            .unwrap()
            .contains(r#"did you mean "sales"?"#),
        "{err}"
    );
    assert_eq!(api.version().await, v0);

    // YAML that is not a settings document at all: the same answer shape.
    let (status, err) = api
        .put(
            "ada",
            "/api/settings",
            json!({"version": v0, "yaml": "routing: [1"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    let (status, err) = api
        .put("ada", "/api/settings", json!({"version": v0}))
        .await;
    assert_eq!(
        (status, err["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_input"))
    );

    let (status, stored) = api
        .put(
            "ada",
            "/api/settings",
            json!({"version": v0, "yaml": SALES_RULE}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{stored}");
    assert_eq!(stored["version"], v0 + 1);
    assert_eq!(stored["updated_by"], "ada");
    assert!(stored["yaml"]
        .as_str()
        .unwrap()
        .contains("route_to_team: sales"));
    let (status, err) = api
        .put("ada", "/api/settings", json!({"version": v0, "yaml": "{}"}))
        .await;
    assert_eq!(
        (status, err["code"].as_str()),
        (StatusCode::CONFLICT, Some("conflict"))
    );

    // Who would get a message to the sales number? Under the new rule,
    // sales; under the version before, nobody in particular.
    let sample =
        json!({"channel": "sales", "from": "34600000001", "name": "Marta", "text": "hola"});
    let (status, x) = api
        .post("sam", "/api/settings/explain", json!({"sample": sample}))
        .await;
    assert_eq!(status, StatusCode::OK, "{x}");
    assert_eq!(
        (x["settings_version"].as_u64(), &x["conversation"]["team"]),
        (Some(v0 + 1), &json!("sales"))
    );
    let (_, before) = api
        .post(
            "sam",
            "/api/settings/explain",
            json!({"sample": sample, "settings": {"version": v0}}),
        )
        .await;
    assert_eq!(before["conversation"]["team"], Value::Null, "{before}");
    let draft = json!({"yaml": "routing:\n  rules:\n    - name: all\n      then: [{route_to_team: support}]\n"});
    let (_, drafted) = api
        .post(
            "sam",
            "/api/settings/explain",
            json!({"sample": sample, "settings": draft}),
        )
        .await;
    assert_eq!(
        (
            drafted["settings_version"].clone(),
            drafted["conversation"]["team"].clone()
        ),
        (Value::Null, json!("support"))
    );
    // Nothing of the dry runs was stored: the first real message opens a
    // conversation routed by the stored rule.
    let (c, _) = api
        .f
        .customer_says("1001", "w1", "34600000001", "hola")
        .await
        .unwrap();
    let stored = api.f.store.conversation(&api.f.acme(), &c).await.unwrap();
    assert_eq!(stored.team, Some(id("sales")));

    let (_, history) = api.get("sam", "/api/settings/history?limit=1").await;
    assert_eq!(history[0]["version"], v0 + 1);
    assert_eq!(history[0]["sections"][0]["section"], "routing");
    let (status, past) = api
        .get("sam", &format!("/api/settings/versions/{v0}"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(past["document"]["routing"]["rules"], json!([]), "{past}");
    let (status, _) = api
        .get("sam", &format!("/api/settings/versions/{}", v0 + 5))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = api.get("sam", "/api/settings/versions/minus-one").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

/// Another tenant's numbers and conversations are not found from here;
/// an agent's team must be one of this tenant's.
#[tokio::test]
async fn another_tenants_ids_answer_404() {
    let api = Api::new().await;
    let (theirs, _) = api
        .f
        .customer_says("2001", "g1", "15550001", "hi")
        .await
        .unwrap();
    let (status, err) = api
        .post(
            "ada",
            "/api/settings/explain",
            json!({"sample": {"channel": "main", "from": "1555", "text": "x"}}),
        )
        .await;
    assert_eq!(
        (status, err["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found")),
        "{err}"
    );
    let (status, _) = api
        .post(
            "ada",
            "/api/settings/explain",
            json!({"conversation": theirs.as_str()}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = api
        .get(
            "ada",
            &format!("/api/conversations/{}/canned/hi", theirs.as_str()),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, err) = api
        .put(
            "ada",
            "/api/agents/zed",
            json!({"name": "Zed", "role": "agent", "teams": ["globex-team"]}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{err}");
    let (_, teams) = api.get("ana", "/api/teams").await;
    let ids: Vec<&str> = teams
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["sales", "support"]);
}

/// An admin's edit of an existing agent keeps their presence; a new agent
/// starts offline; bad forms are refused with 4xx, never stored.
#[tokio::test]
async fn agents_are_written_whole_and_checked() {
    let api = Api::new().await;
    let ana = api.f.actor("ana");
    api.f
        .inbox
        .set_presence(&ana, inbox_core::model::Presence::Online)
        .await
        .unwrap();
    let form = json!({"name": "Ana María", "role": "supervisor", "teams": ["sales", "support"], "capacity": 5});
    let (status, agent) = api.put("ada", "/api/agents/ana", form).await;
    assert_eq!(status, StatusCode::OK, "{agent}");
    assert_eq!(
        (agent["presence"].as_str(), agent["role"].as_str()),
        (Some("online"), Some("supervisor"))
    );
    let (status, err) = api
        .put(
            "ada",
            "/api/agents/bo",
            json!({"name": "Bo", "role": "boss"}),
        )
        .await;
    assert!(status.is_client_error(), "{status} {err}");
    let (status, err) = api
        .put(
            "ada",
            "/api/agents/bo",
            json!({"name": "", "role": "agent"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    let (status, _) = api
        .put(
            "ada",
            "/api/agents/bo",
            json!({"name": "Bo", "role": "agent", "colour": "red"}),
        )
        .await;
    assert!(status.is_client_error());
    let (_, agents) = api.get("ada", "/api/agents").await;
    assert!(
        agents.as_array().unwrap().iter().all(|a| a["id"] != "bo"),
        "{agents}"
    );
}

/// An admin makes an API key: shown once, used as a bearer token with its
/// role, listed without its secret, refused once revoked; an agent makes
/// none. Sessions are listed and ended.
#[tokio::test]
async fn api_keys_and_sessions_are_managed_by_admins() {
    let api = Api::new().await;
    let (status, made) = api
        .post(
            "ada",
            "/api/keys",
            json!({"name": "CRM sync", "role": "supervisor"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let key = made["key"].as_str().unwrap().to_string();
    assert!(key.starts_with("ik_"), "{key}");
    let (status, _) = api
        .post("ana", "/api/keys", json!({"name": "mine", "role": "admin"}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let with_key = |path: &str| {
        Request::get(path)
            .header("authorization", format!("Bearer {key}"))
            .body(Body::empty())
            .unwrap()
    };
    let res = api
        .app
        .clone()
        .oneshot(with_key("/api/settings"))
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "a supervisor's key reads settings"
    );
    let res = api
        .app
        .clone()
        .oneshot(with_key("/api/dead-letters"))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN, "but is no admin");

    let (_, keys) = api.get("ada", "/api/keys").await;
    let listed = keys.to_string();
    assert!(
        listed.contains("CRM sync") && !listed.contains(&key[key.len() - 20..]),
        "{listed}"
    );
    let id = made["record"]["id"].as_str().unwrap();
    let (status, revoked) = api
        .call("ada", Method::DELETE, &format!("/api/keys/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{revoked}");
    let res = api
        .app
        .clone()
        .oneshot(with_key("/api/settings"))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);

    // Ben's sessions: his to list; an admin signs him out everywhere.
    let ben = api.token("ben").await;
    let (_, mine) = api.get("ben", "/api/sessions").await;
    assert!(mine.as_array().unwrap().len() >= 2, "{mine}");
    let (status, ended) = api
        .call("ada", Method::DELETE, "/api/agents/ben/sessions", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(ended["ended"].as_u64().unwrap() >= 2, "{ended}");
    let req = Request::get("/api/me")
        .header("authorization", format!("Bearer {ben}"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(
        api.app.clone().oneshot(req).await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
}

/// Changing one's own password takes the current one; another agent's is
/// an admin's; who may is decided before any hashing.
#[tokio::test]
async fn passwords_are_changed_with_the_current_one_or_by_an_admin() {
    let api = Api::new().await;
    let acme = api.f.acme();
    let phc = inbox_http::auth::hash_password("the old password").unwrap();
    api.f
        .inbox
        .provision_password(&acme, &id("ana"), Some(&phc))
        .await
        .unwrap();
    let new = json!({"password": "a brand new password"});
    let (status, err) = api
        .put("ana", "/api/agents/ana/password", new.clone())
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    let wrong = json!({"password": "a brand new password", "current": "not it at all"});
    let (status, _) = api.put("ana", "/api/agents/ana/password", wrong).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = api
        .put("sam", "/api/agents/ana/password", new.clone())
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let right = json!({"password": "a brand new password", "current": "the old password"});
    let (status, body) = api.put("ana", "/api/agents/ana/password", right).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = api.put("ada", "/api/agents/ben/password", new).await;
    assert_eq!(status, StatusCode::OK);
    let short = json!({"password": "short", "current": "x"});
    assert_eq!(
        api.put("ana", "/api/agents/ana/password", short).await.0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
}

/// A key made again with the same `Idempotency-Key` (an answer lost on the
/// way) is the same key, not a second one; another request under that
/// `Idempotency-Key` is refused and makes nothing.
#[tokio::test]
async fn a_repeated_key_request_makes_one_key() {
    let api = Api::new().await;
    let bearer = format!("Bearer {}", api.token("ada").await);
    let make = |idem: &'static str, name: &'static str| {
        let (app, bearer) = (api.app.clone(), bearer.clone());
        async move {
            let body = json!({"name": name, "role": "agent"})
                .to_string()
                .into_bytes();
            let headers = [
                ("authorization", bearer.as_str()),
                ("idempotency-key", idem),
            ];
            common::call(&app, "POST", "/api/keys", &headers, Some(body)).await
        }
    };
    let (status, first) = make("make-crm-key", "CRM").await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    let (status, again) = make("make-crm-key", "CRM").await;
    assert_eq!((status, &again), (StatusCode::CREATED, &first));
    let (status, other) = make("make-crm-key", "Billing").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{other}");
    assert_eq!(other["code"], "idempotency_key_reused");
    let (_, keys) = api.get("ada", "/api/keys").await;
    assert_eq!(keys.as_array().unwrap().len(), 1, "{keys}");
    // Without the header, each request makes its own key.
    let (app, headers) = (&api.app, [("authorization", bearer.as_str())]);
    for _ in 0..2 {
        let body = json!({"name": "Other", "role": "agent"})
            .to_string()
            .into_bytes();
        let (status, _) = common::call(app, "POST", "/api/keys", &headers, Some(body)).await;
        assert_eq!(status, StatusCode::CREATED);
    }
    let (_, keys) = api.get("ada", "/api/keys").await;
    assert_eq!(keys.as_array().unwrap().len(), 3, "{keys}");
}
