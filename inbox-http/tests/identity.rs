//! A pluggable identity: the embedder's own (here, a gateway's header)
//! decides who a request comes from, alone or beside the built-in
//! sessions; its refusals answer 401 or 403; the inbox still checks the
//! agent and their role.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use async_trait::async_trait;
use axum::body::Body;
use axum::http::request::Parts;
use axum::http::{Request, StatusCode};
use serde_json::Value;
use std::sync::Arc;
use tower::ServiceExt;

use inbox_core::testing::Fixture;
use inbox_core::{Actor, AgentId, TenantId};
use inbox_http::identity::{AnyOf, Identity, Refusal};
use inbox_http::{router, Accounts, AppState};
use inbox_store_memory::MemoryStore;

/// Trusts `X-Agent: tenant/agent`, refuses tenant `banned` outright.
struct Gateway;

#[async_trait]
impl Identity for Gateway {
    async fn identify(&self, request: &Parts) -> Result<Actor, Refusal> {
        let value = request
            .headers
            .get("x-agent")
            .ok_or(Refusal::Unauthenticated)?;
        let (tenant, agent) = value
            .to_str()
            .ok()
            .and_then(|v| v.split_once('/'))
            .ok_or(Refusal::Unauthenticated)?;
        if tenant == "banned" {
            return Err(Refusal::Forbidden("this workspace is suspended".into()));
        }
        let tenant = TenantId::new(tenant).map_err(|_| Refusal::Unauthenticated)?;
        let agent = AgentId::new(agent).map_err(|_| Refusal::Unauthenticated)?;
        Ok(Actor::new(tenant, agent))
    }
}

async fn get(app: &axum::Router, path: &str, headers: &[(&str, String)]) -> (StatusCode, Value) {
    let mut req = Request::get(path);
    for (k, v) in headers {
        req = req.header(*k, v);
    }
    let res = app
        .clone()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = res.status();
    let bytes = axum::body::to_bytes(res.into_body(), 1 << 20)
        .await
        .unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn the_embedders_identity_decides_who_asks() {
    let f = Fixture::new(Arc::new(MemoryStore::new())).await.unwrap();
    let state = AppState::builder(f.inbox.clone(), Accounts::new(f.acme()))
        .identity(Arc::new(Gateway))
        .build();
    let app = router(state.clone());
    let as_ = |who: &str| vec![("x-agent", who.to_string())];

    let (status, me) = get(&app, "/api/me", &as_("acme/sam")).await;
    assert_eq!((status, me["id"].as_str()), (StatusCode::OK, Some("sam")));
    // Another tenant's agent sees their own tenant only.
    let (status, me) = get(&app, "/api/me", &as_("globex/gus")).await;
    assert_eq!((status, me["id"].as_str()), (StatusCode::OK, Some("gus")));
    let (_, teams) = get(&app, "/api/teams", &as_("globex/gus")).await;
    assert_eq!(teams, Value::Array(vec![]));
    // The inbox still checks roles and agents.
    let (status, _) = get(&app, "/api/settings", &as_("acme/ana")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = get(&app, "/api/me", &as_("acme/nobody")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Refusals: none given, refused outright.
    let (status, body) = get(&app, "/api/me", &[]).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("unauthenticated"))
    );
    let (status, body) = get(&app, "/api/me", &as_("banned/x")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(body["message"].as_str().unwrap().contains("suspended"));
    // The built-in sessions are not accepted unless kept beside it.
    let token = state
        .auth
        .open_session(&f.acme(), &AgentId::new("ada").unwrap(), None)
        .await
        .unwrap();
    let bearer = vec![("authorization", format!("Bearer {token}"))];
    assert_eq!(
        get(&app, "/api/me", &bearer).await.0,
        StatusCode::UNAUTHORIZED
    );

    let both = AppState::builder(f.inbox.clone(), Accounts::new(f.acme()));
    let both = both.build();
    let any = AnyOf(vec![Arc::new(Gateway), both.auth.clone()]);
    let state = AppState {
        identity: Arc::new(any),
        ..both
    };
    let app = router(state.clone());
    let token = state
        .auth
        .open_session(&f.acme(), &AgentId::new("ada").unwrap(), None)
        .await
        .unwrap();
    let bearer = vec![("authorization", format!("Bearer {token}"))];
    let (status, me) = get(&app, "/api/me", &bearer).await;
    assert_eq!((status, me["id"].as_str()), (StatusCode::OK, Some("ada")));
    let (status, me) = get(&app, "/api/me", &as_("acme/ben")).await;
    assert_eq!((status, me["id"].as_str()), (StatusCode::OK, Some("ben")));
    // A forbidden answer is final: the session beside it is not asked.
    let mut both = bearer.clone();
    both.extend(as_("banned/x"));
    assert_eq!(get(&app, "/api/me", &both).await.0, StatusCode::FORBIDDEN);
}
