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

/// `POST /api/contacts/import`: a CSV list is imported with a report by
/// line (unreadable values and refused rows alike); the same file again
/// changes nothing; an unknown column refuses the file; agents may not.
#[tokio::test]
async fn a_csv_list_is_imported_with_a_report_by_line() {
    let w = World::new().await;
    let file = "phone,name,tags,consent,consent_at,attr.plan\n\
                +34 600 222 111,\"Ruiz, Marta\",vip;gold,yes,2026-03-01T10:00:00Z,pro\n\
                12ab,Bad,,,,\n\
                34600222333,Luis,,maybe,,\n\
                34600222111,Again,,,,\n";
    let import = |who: &'static str, body: &str| {
        let case = Case::new("post", "/contacts/import", Some(Value::String(body.into())));
        let w = &w;
        async move {
            let (status, text) = w.send(who, &case).await;
            (
                status,
                serde_json::from_str::<Value>(&text).unwrap_or(Value::Null),
            )
        }
    };
    let (status, report) = import("acme/sam", file).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(
        (&report["rows"], &report["created"], &report["refused"]),
        (&json!(4), &json!(1), &json!(3)),
        "{report}"
    );
    let lines: Vec<(u64, &str)> = report["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["line"].as_u64().unwrap(), p["field"].as_str().unwrap()))
        .collect();
    assert_eq!(lines, [(3, "phone"), (4, "consent"), (5, "phone")]);
    let (_, again) = import("acme/sam", file).await;
    assert_eq!(
        (&again["created"], &again["unchanged"]),
        (&json!(0), &json!(1)),
        "{again}"
    );
    let (status, err) = import("acme/sam", "phone,colour\n1,2\n").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    assert!(err["message"].as_str().unwrap().contains("colour"), "{err}");
    let (status, _) = import("acme/ana", file).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}
