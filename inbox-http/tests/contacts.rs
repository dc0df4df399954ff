//! `PUT /api/contacts/{id}`: tags, attributes and the team's name for a
//! contact, on the version seen.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use axum::http::StatusCode;
use serde_json::{json, Value};

use common::{Case, World};

async fn put(w: &World, who: &str, body: Value) -> (StatusCode, Value) {
    let case = Case::new("put", "/contacts/{contact}", Some(body));
    let (status, text) = w.send(who, &case).await;
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

#[tokio::test]
async fn an_agent_keeps_a_contacts_profile_on_the_version_seen() {
    let w = World::new().await;
    let body = json!({"version": 1, "add_tags": ["VIP"], "attributes": {"crm_id": "C-17", "language": "es"}, "display_name": "Marta (tienda Bilbao)"});
    let (status, contact) = put(&w, "acme/ana", body).await;
    assert_eq!(status, StatusCode::OK, "{contact}");
    assert_eq!(contact["tags"], json!(["vip"]));
    assert_eq!(contact["attributes"]["crm_id"], "C-17");
    assert_eq!(contact["display_name"], "Marta (tienda Bilbao)");
    let version = contact["version"].as_u64().unwrap();

    // On the old version: refused, nothing changed.
    let (status, err) = put(
        &w,
        "acme/ana",
        json!({"version": 1, "remove_tags": ["vip"]}),
    )
    .await;
    assert_eq!(
        (status, err["code"].clone()),
        (StatusCode::CONFLICT, json!("conflict")),
        "{err}"
    );
    // An empty value removes an attribute.
    let (status, contact) = put(
        &w,
        "acme/ana",
        json!({"version": version, "attributes": {"language": ""}}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{contact}");
    assert!(contact["attributes"].get("language").is_none(), "{contact}");
    assert_eq!(contact["tags"], json!(["vip"]));
    // A field it does not know is named.
    let (status, err) = put(&w, "acme/ana", json!({"version": version, "colour": "red"})).await;
    assert!(status.is_client_error(), "{status}");
    assert!(err.to_string().contains("colour"), "{err}");
}
