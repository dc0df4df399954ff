//! The demo configuration hosts two tenants on one server: each signs in
//! to its own workspace (the same agent ids and passwords are different
//! people), sees only its own conversations, and has its own numbers'
//! webhooks; the file is checked tenant by tenant, naming the path.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::json;

use inbox_examples::server::config::ServerConfig;

fn sign_in_to(tenant: &str, agent: &str) -> Request<Body> {
    let body = json!({"tenant": tenant, "agent": agent, "password": agent}).to_string();
    Request::post("/api/session")
        .header("content-type", "application/json")
        .body(Body::from(body))
        .unwrap()
}

#[tokio::test]
async fn the_demo_hosts_two_tenants_apart() {
    let app = common::app().await;
    let demo_ana = app.sign_in("ana", "ana").await;
    let (status, body, _) = app.call(sign_in_to("travel", "ana")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["agent"]["name"], "Ana (Travel)");
    let travel_ana = body["token"].as_str().unwrap().to_string();
    let (status, _, _) = app.call(sign_in_to("nowhere", "ana")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // A customer of demo's first number is demo's only.
    assert_eq!(
        app.customer_says("wamid.t.1", "34600000001", "hola").await,
        StatusCode::OK
    );
    assert_eq!(app.unassigned(&demo_ana).await.len(), 1);
    assert!(app.unassigned(&travel_ana).await.is_empty());
    let (_, me, _) = {
        let req = Request::get("/api/me")
            .header("authorization", format!("Bearer {travel_ana}"))
            .body(Body::empty())
            .unwrap();
        app.call(req).await
    };
    assert_eq!(me["name"], "Ana (Travel)");

    // Each number has its webhook: demo's second, and travel's own.
    for (path, token) in [
        ("/webhooks/whatsapp/sales", "demo-sales-verify-token"),
        ("/webhooks/whatsapp/travel/main", "travel-verify-token"),
    ] {
        let uri = format!("{path}?hub.mode=subscribe&hub.verify_token={token}&hub.challenge=5");
        let (status, body, _) = app.get_anonymous(&uri).await;
        assert_eq!((status, body), (StatusCode::OK, json!(5)), "{path}");
        let wrong =
            format!("{path}?hub.mode=subscribe&hub.verify_token=demo-verify-token&hub.challenge=5");
        assert_eq!(
            app.get_anonymous(&wrong).await.0,
            StatusCode::FORBIDDEN,
            "{path}"
        );
    }
}

#[test]
fn each_tenant_of_the_file_is_checked_by_its_path() {
    let demo = include_str!("../server/demo.yaml");
    assert_eq!(ServerConfig::parse(demo).unwrap().more_tenants.len(), 1);
    let twice = demo.replace("      id: travel", "      id: demo");
    let err = ServerConfig::parse(&twice).unwrap_err().to_string();
    assert!(err.contains("more_tenants[0].tenant.id"), "{err}");
    let unknown = demo.replace(
        "      name: Demo Travel",
        "      name: Demo Travel\n      plan: gold",
    );
    let err = ServerConfig::parse(&unknown).unwrap_err().to_string();
    assert!(
        err.contains("more_tenants[0].tenant") && err.contains("plan"),
        "{err}"
    );
    let bad_team = demo.replace("        teams: [bookings]", "        teams: [bokings]");
    let err = ServerConfig::parse(&bad_team).unwrap_err().to_string();
    assert!(err.contains("more_tenants[0].agents[ana].teams"), "{err}");
}
