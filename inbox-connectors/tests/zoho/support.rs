//! Fixtures for the Zoho CRM tests: a connector aimed at a local mock, and
//! mocks shaped as Zoho documents its answers (sources cited at each).

use chrono::{TimeZone, Utc};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use url::Url;
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockBuilder, MockServer, Request, ResponseTemplate};

use inbox_connectors::{Api, CallPolicy, ConnectorKind, Customer, Zoho, ZohoCredentials};
use inbox_core::ports::ManualClock;
use inbox_core::settings::{ZohoModule, ZohoSettings};
use inbox_core::Secret;

pub const CLIENT_ID: &str = "1000.CLIENTIDXYZ";
pub const CLIENT_SECRET: &str = "s3cr3t-client-value";
pub const REFRESH_TOKEN: &str = "1000.refresh-r3fr3sh-value";
pub const PHONE: &str = "+34600111222";
pub const EMAIL: &str = "ana@example.com";
pub const LEAD_ID: &str = "3652397000000415002";
pub const CONTACT_ID: &str = "3652397000000624001";

/// Small waits: a test never sleeps long.
pub fn policy() -> CallPolicy {
    CallPolicy {
        timeout: Duration::from_millis(300),
        attempts: 3,
        base_backoff: Duration::from_millis(5),
        max_wait: Duration::from_secs(1),
        per_second: 1000,
    }
}

pub fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(
        Utc.timestamp_opt(1_700_000_000, 0).unwrap(),
    ))
}

pub fn credentials() -> ZohoCredentials {
    ZohoCredentials {
        client_id: Secret::new(CLIENT_ID),
        client_secret: Secret::new(CLIENT_SECRET),
        refresh_token: Secret::new(REFRESH_TOKEN),
    }
}

pub fn settings() -> ZohoSettings {
    ZohoSettings {
        modules: vec![ZohoModule::Leads, ZohoModule::Contacts],
        ..Default::default()
    }
}

/// The connector with both Zoho servers at the mock.
pub fn zoho_with(
    mock: &MockServer,
    clock: Arc<ManualClock>,
    policy: CallPolicy,
    settings: ZohoSettings,
) -> Zoho {
    let api = Api::new(ConnectorKind::Zoho, reqwest::Client::new(), policy);
    let at: Url = mock.uri().parse().unwrap();
    Zoho::new(settings, credentials(), api, at.clone(), at, clock)
}

pub fn zoho(mock: &MockServer, clock: Arc<ManualClock>) -> Zoho {
    zoho_with(mock, clock, policy(), settings())
}

pub fn by_phone() -> Customer {
    Customer {
        phone: Some(PHONE.into()),
        ..Default::default()
    }
}

/// Whether a request is the documented refresh: a POST form body with
/// the four parameters, and nothing in the URL's query.
/// <https://www.zoho.com/crm/developer/docs/api/v7/refresh.html>
pub fn is_refresh_form(req: &Request) -> bool {
    let form: Vec<(String, String)> = url::form_urlencoded::parse(&req.body)
        .into_owned()
        .collect();
    let has = |k: &str, v: &str| form.iter().any(|(fk, fv)| fk == k && fv == v);
    let content_type = req
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    req.url.query().is_none()
        && content_type.starts_with("application/x-www-form-urlencoded")
        && has("grant_type", "refresh_token")
        && has("client_id", CLIENT_ID)
        && has("client_secret", CLIENT_SECRET)
        && has("refresh_token", REFRESH_TOKEN)
        && form.len() == 4
}

/// The refresh, answered with `token` as Zoho answers it.
pub fn refresh(token: &str) -> Mock {
    Mock::given(method("POST"))
        .and(path("/oauth/v2/token"))
        .and(is_refresh_form)
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": token,
            "expires_in": 3600,
            "api_domain": "https://www.zohoapis.eu",
            "token_type": "Bearer"
        })))
}

/// How many refreshes the mock received.
pub async fn refreshes(mock: &MockServer) -> usize {
    let requests = mock.received_requests().await.unwrap_or_default();
    requests
        .iter()
        .filter(|r| r.url.path() == "/oauth/v2/token")
        .count()
}

/// `GET /crm/v7/{module}/search?{by}={value}&page={page}` with the token.
/// <https://www.zoho.com/crm/developer/docs/api/v7/search-records.html>
pub fn search(module: &str, by: &str, value: &str, page: u32, token: &str) -> MockBuilder {
    Mock::given(method("GET"))
        .and(path(format!("/crm/v7/{module}/search")))
        .and(query_param(by, value))
        .and(query_param("page", page.to_string()))
        .and(query_param("per_page", "200"))
        .and(header("authorization", format!("Zoho-oauthtoken {token}")))
}

/// A page of search results as documented.
pub fn found(records: Vec<Value>, page: u32, more: bool) -> ResponseTemplate {
    let count = records.len();
    ResponseTemplate::new(200).set_body_json(json!({
        "data": records,
        "info": {"per_page": 200, "count": count, "page": page, "more_records": more}
    }))
}

/// Zoho's answer when nothing matches: 204, no body.
pub fn nothing() -> ResponseTemplate {
    ResponseTemplate::new(204)
}

/// A lead as the search documents it (fields trimmed to those read, and
/// a few others).
pub fn lead(id: &str, name: &str, modified: &str) -> Value {
    json!({
        "id": id,
        "Owner": {"name": "Patricia Boyle", "id": "3652397000000186017"},
        "Company": "Zylker",
        "Email": EMAIL,
        "$currency_symbol": "Rs.",
        "Full_Name": name,
        "First_Name": name.split(' ').next(),
        "Last_Name": name.split(' ').nth(1),
        "Lead_Status": "Contacted",
        "Lead_Source": "Twitter",
        "Phone": PHONE,
        "Mobile": null,
        "Modified_Time": modified,
        "Tag": []
    })
}

/// A contact: its account is a lookup.
pub fn contact() -> Value {
    json!({
        "id": CONTACT_ID,
        "Owner": {"name": "Ana Owner", "id": "3652397000000186017"},
        "Account_Name": {"name": "Zylker Inc", "id": "3652397000000624111"},
        "Email": null,
        "Full_Name": "Luis Pérez",
        "First_Name": "Luis",
        "Last_Name": "Pérez",
        "Phone": null,
        "Mobile": PHONE,
        "Modified_Time": "2024-02-19T18:30:23-11:00"
    })
}

/// Zoho's 401 for a token it no longer accepts (as logged by an
/// integration: solspace/craft-freeform#1372).
pub fn invalid_token() -> ResponseTemplate {
    ResponseTemplate::new(401).set_body_json(json!({
        "code": "INVALID_TOKEN", "details": {}, "message": "invalid oauth token", "status": "error"
    }))
}
