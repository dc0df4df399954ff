//! HubSpot's answers as its documentation shows them, and the connector
//! under test pointed at a local mock.
//!
//! Shapes: search <https://developers.hubspot.com/docs/api/crm/search>,
//! objects and batch read <https://developers.hubspot.com/docs/api/crm/understanding-the-crm>,
//! associations v4 <https://developers.hubspot.com/docs/api-reference/crm-associations-v4/guide>,
//! owners <https://developers.hubspot.com/docs/api-reference/crm-crm-owners-v3/guide>,
//! pipelines <https://developers.hubspot.com/docs/api-reference/crm-pipelines-v3/guide>,
//! errors and rate limits <https://developers.hubspot.com/docs/api/usage-details>.

use serde_json::{json, Value};
use std::time::Duration;
use wiremock::matchers::{header, method, path};
use wiremock::{MockBuilder, MockServer, ResponseTemplate};

use inbox_connectors::{Api, CallPolicy, ConnectorKind, HubSpot};
use inbox_core::settings::HubSpotSettings;
use inbox_core::Secret;

/// A private app token (the shape HubSpot issues).
pub const TOKEN: &str = "pat-na1-0b7c1e2d-3f4a-4b5c-8d9e-0f1a2b3c4d5e";

/// Tiny timings: tests never wait long.
pub fn policy() -> CallPolicy {
    CallPolicy {
        timeout: Duration::from_millis(300),
        attempts: 3,
        base_backoff: Duration::from_millis(5),
        max_wait: Duration::from_secs(1),
        per_second: 1000,
    }
}

/// The connector under test, at the mock.
pub fn hubspot(mock: &MockServer, settings: HubSpotSettings) -> HubSpot {
    hubspot_with(mock, settings, policy())
}

/// The same with another policy.
pub fn hubspot_with(mock: &MockServer, settings: HubSpotSettings, policy: CallPolicy) -> HubSpot {
    let api = Api::new(ConnectorKind::HubSpot, reqwest::Client::new(), policy);
    HubSpot::new(
        settings,
        Secret::new(TOKEN),
        api,
        mock.uri().parse().unwrap(),
    )
}

/// Settings with a portal id (links on cards).
pub fn with_portal() -> HubSpotSettings {
    HubSpotSettings {
        portal_id: Some(4431),
        ..Default::default()
    }
}

/// A request to `path` with the private app's token.
pub fn call(verb: &str, to: &str) -> MockBuilder {
    wiremock::Mock::given(method(verb))
        .and(path(to.to_string()))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
}

/// The contact search, as sent.
pub const SEARCH: &str = "/crm/v3/objects/contacts/search";

/// The filter groups the connector sends for +34600111222.
pub fn phone_groups() -> Value {
    let forms = json!(["+34600111222", "34600111222", "0034600111222"]);
    json!([
        {"filters": [{"propertyName": "phone", "operator": "IN", "values": forms}]},
        {"filters": [{"propertyName": "mobilephone", "operator": "IN", "values": forms}]},
    ])
}

/// A contact as search returns it.
pub fn contact(id: &str, updated: &str, props: Value) -> Value {
    let mut properties = json!({
        "hs_object_id": id,
        "createdate": "2023-01-10T09:00:00.000Z",
        "lastmodifieddate": updated,
    });
    for (k, v) in props.as_object().unwrap() {
        properties[k] = v.clone();
    }
    json!({
        "id": id,
        "properties": properties,
        "createdAt": "2023-01-10T09:00:00.000Z",
        "updatedAt": updated,
        "archived": false,
    })
}

/// A search answer.
pub fn found(results: Vec<Value>) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({"total": results.len(), "results": results}))
}

/// HubSpot's 401 for a token it does not know.
pub fn unauthorized() -> ResponseTemplate {
    ResponseTemplate::new(401).set_body_json(json!({
        "status": "error",
        "message": "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview",
        "correlationId": "a43683b0-5717-4ceb-80b4-104d02915d8c",
        "category": "INVALID_AUTHENTICATION",
    }))
}

/// HubSpot's 429, with its rate-limit headers (`interval_ms` is the
/// window: HubSpot's is 10000; tests give a few milliseconds).
pub fn rate_limited(policy: &str, interval_ms: u64, daily_remaining: u64) -> ResponseTemplate {
    let message = match policy {
        "DAILY" => "You have reached your daily limit.",
        _ => "You have reached your secondly limit.",
    };
    ResponseTemplate::new(429)
        .insert_header("X-HubSpot-RateLimit-Daily", "250000")
        .insert_header(
            "X-HubSpot-RateLimit-Daily-Remaining",
            daily_remaining.to_string(),
        )
        .insert_header(
            "X-HubSpot-RateLimit-Interval-Milliseconds",
            interval_ms.to_string(),
        )
        .insert_header("X-HubSpot-RateLimit-Max", "100")
        .insert_header("X-HubSpot-RateLimit-Remaining", "0")
        .set_body_json(json!({
            "status": "error",
            "message": message,
            "errorType": "RATE_LIMIT",
            "correlationId": "c033cdaa-2c40-4a64-ae48-b4cec88dad24",
            "policyName": policy,
            "requestId": "3d3e35b7-0dae-4b9f-a6e3-9c230cbcf8dd",
        }))
}

/// An association page (v4): these ids, HubSpot-defined type `type_id`,
/// and the cursor of the next page.
pub fn associations(ids: &[(u64, i64)], next: Option<&str>) -> ResponseTemplate {
    let results: Vec<Value> = ids
        .iter()
        .map(|(id, type_id)| {
            let label = if *type_id == 1 {
                json!("Primary")
            } else {
                Value::Null
            };
            json!({"toObjectId": id, "associationTypes": [
                {"category": "HUBSPOT_DEFINED", "typeId": type_id, "label": label}
            ]})
        })
        .collect();
    let mut body = json!({ "results": results });
    if let Some(after) = next {
        body["paging"] = json!({"next": {"after": after, "link": format!("?after={after}")}});
    }
    ResponseTemplate::new(200).set_body_json(body)
}

/// No associations.
pub fn no_associations() -> ResponseTemplate {
    associations(&[], None)
}

/// A deal as batch read returns it.
pub fn deal(id: &str, name: &str, stage: &str, closed: bool, close: &str) -> Value {
    json!({
        "id": id,
        "properties": {
            "dealname": name,
            "dealstage": stage,
            "pipeline": "default",
            "amount": "1500",
            "deal_currency_code": "EUR",
            "closedate": close,
            "hs_is_closed": closed.to_string(),
            "hs_object_id": id,
        },
        "createdAt": "2024-01-01T00:00:00.000Z",
        "updatedAt": "2024-04-01T00:00:00.000Z",
        "archived": false,
    })
}

/// The deal pipelines: the default one and a custom one.
pub fn pipelines() -> ResponseTemplate {
    let stage = |id: &str, label: &str, closed: bool| {
        json!({"id": id, "label": label, "displayOrder": 0,
            "metadata": {"isClosed": closed.to_string(), "probability": "0.2"},
            "createdAt": "2024-01-01T00:00:00.000Z", "updatedAt": "2024-01-01T00:00:00.000Z",
            "archived": false})
    };
    ResponseTemplate::new(200).set_body_json(json!({"results": [
        {"id": "default", "label": "Sales Pipeline", "displayOrder": 0, "archived": false,
         "stages": [stage("appointmentscheduled", "Appointment Scheduled", false),
                    stage("closedwon", "Closed Won", true)]},
        {"id": "renewals", "label": "Renewals", "displayOrder": 1, "archived": false,
         "stages": [stage("12345", "Negotiation", false)]},
    ]}))
}
