//! The Zoho CRM connector against a local mock shaped as Zoho documents
//! its API (v7): OAuth refresh, search by phone and e-mail with 204 and
//! pagination, a contact's deals, notes, the current user, rate limits
//! and timeouts; and through `Connectors`, per tenant.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "zoho/support.rs"]
mod support;

use chrono::{TimeDelta, TimeZone, Utc};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use wiremock::matchers::{body_partial_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use inbox_connectors::{
    CallPolicy, Connector, ConnectorError, ConnectorOptions, Connectors, Customer, Endpoints,
    LogEntry, Logged, StaticConnectorSecrets,
};
use inbox_core::model::{Contact, ContactIdentity};
use inbox_core::ports::{Clock, Settings, SettingsPut};
use inbox_core::settings::{CrmLog, TenantSettings};
use inbox_core::{ContactId, Secret, TenantId};
use inbox_store_memory::MemoryStore;

use support::*;

fn labels(card: &inbox_core::ports::ContextCard) -> Vec<(&str, &str)> {
    card.fields
        .iter()
        .map(|(l, v)| (l.as_str(), v.as_str()))
        .collect()
}

#[tokio::test]
async fn the_refresh_is_a_form_body_and_no_secret_is_in_any_url() {
    let mock = MockServer::start().await;
    refresh("1000.tok-1").expect(1).mount(&mock).await;
    search("Leads", "phone", PHONE, 1, "1000.tok-1")
        .respond_with(found(
            vec![lead(LEAD_ID, "Ana García", "2024-01-01T10:00:00+01:00")],
            1,
            false,
        ))
        .expect(1)
        .mount(&mock)
        .await;
    let zoho = zoho(&mock, clock());

    zoho.cards(&by_phone()).await.unwrap();

    for req in mock.received_requests().await.unwrap() {
        let url = req.url.as_str();
        for secret in [CLIENT_SECRET, REFRESH_TOKEN, CLIENT_ID, "1000.tok-1"] {
            assert!(!url.contains(secret), "{url}");
        }
        let auth = req
            .headers
            .get("authorization")
            .map(|v| v.to_str().unwrap());
        assert!(!auth.unwrap_or_default().contains(CLIENT_SECRET));
    }
}

#[tokio::test]
async fn a_lead_found_by_phone_is_shown_with_its_status_owner_and_company() {
    let mock = MockServer::start().await;
    refresh("1000.tok-1").mount(&mock).await;
    search("Leads", "phone", PHONE, 1, "1000.tok-1")
        .respond_with(found(
            vec![lead(LEAD_ID, "Ana García", "2024-01-01T10:00:00+01:00")],
            1,
            false,
        ))
        .expect(1)
        .mount(&mock)
        .await;
    // Contacts is not asked once a lead is found.
    search("Contacts", "phone", PHONE, 1, "1000.tok-1")
        .respond_with(nothing())
        .expect(0)
        .mount(&mock)
        .await;

    let cards = zoho(&mock, clock()).cards(&by_phone()).await.unwrap();

    assert_eq!(cards.len(), 1);
    let card = &cards[0];
    assert_eq!(card.title, "Ana García — Contacted");
    assert_eq!(
        labels(card),
        vec![
            ("Type", "Lead"),
            ("Status", "Contacted"),
            ("Owner", "Patricia Boyle"),
            ("Company", "Zylker"),
            ("Email", EMAIL),
            ("Phone", PHONE),
        ]
    );
    assert_eq!(card.url, None);
    assert_eq!(card.extra["record_id"], LEAD_ID);
    assert_eq!(card.extra["module"], "Leads");
    assert_eq!(card.problem, None);
}

#[tokio::test]
async fn a_contact_is_found_when_leads_has_nothing_and_shows_its_open_deals() {
    let mock = MockServer::start().await;
    refresh("1000.tok-1").mount(&mock).await;
    search("Leads", "phone", PHONE, 1, "1000.tok-1")
        .respond_with(nothing())
        .expect(1)
        .mount(&mock)
        .await;
    search("Contacts", "phone", PHONE, 1, "1000.tok-1")
        .respond_with(found(vec![contact()], 1, false))
        .expect(1)
        .mount(&mock)
        .await;
    // Related records: `fields` is mandatory.
    // https://www.zoho.com/crm/developer/docs/api/v7/get-related-records.html
    Mock::given(method("GET"))
        .and(path(format!("/crm/v7/Contacts/{CONTACT_ID}/Deals")))
        .and(query_param("fields", "Deal_Name,Stage,Modified_Time"))
        .and(header("authorization", "Zoho-oauthtoken 1000.tok-1"))
        .respond_with(found(
            vec![
                json!({"id": "1", "Deal_Name": "Renewal", "Stage": "Negotiation/Review", "Modified_Time": "2024-03-01T10:00:00+01:00"}),
                json!({"id": "2", "Deal_Name": "First order", "Stage": "Closed Won", "Modified_Time": "2023-03-01T10:00:00+01:00"}),
            ],
            1,
            false,
        ))
        .expect(1)
        .mount(&mock)
        .await;

    let cards = zoho(&mock, clock()).cards(&by_phone()).await.unwrap();

    let card = &cards[0];
    assert_eq!(card.title, "Luis Pérez — Negotiation/Review");
    assert_eq!(
        labels(card),
        vec![
            ("Type", "Contact"),
            ("Stage", "Negotiation/Review"),
            ("Owner", "Ana Owner"),
            ("Account", "Zylker Inc"),
            ("Phone", PHONE),
        ]
    );
    assert_eq!(card.extra["record_id"], CONTACT_ID);
}

#[tokio::test]
async fn a_contact_whose_deals_cannot_be_read_is_shown_without_a_stage() {
    let mock = MockServer::start().await;
    refresh("1000.tok-1").mount(&mock).await;
    search("Leads", "phone", PHONE, 1, "1000.tok-1")
        .respond_with(nothing())
        .mount(&mock)
        .await;
    search("Contacts", "phone", PHONE, 1, "1000.tok-1")
        .respond_with(found(vec![contact()], 1, false))
        .mount(&mock)
        .await;
    Mock::given(path(format!("/crm/v7/Contacts/{CONTACT_ID}/Deals")))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "code": "INVALID_DATA", "details": {}, "message": "the related list is not available", "status": "error"
        })))
        .mount(&mock)
        .await;

    let cards = zoho(&mock, clock()).cards(&by_phone()).await.unwrap();

    assert_eq!(cards[0].title, "Luis Pérez");
    assert!(!labels(&cards[0]).iter().any(|(l, _)| *l == "Stage"));
}

#[tokio::test]
async fn a_lead_is_found_by_email_when_no_number_matches() {
    let mock = MockServer::start().await;
    refresh("1000.tok-1").mount(&mock).await;
    for module in ["Leads", "Contacts"] {
        search(module, "phone", PHONE, 1, "1000.tok-1")
            .respond_with(nothing())
            .expect(1)
            .mount(&mock)
            .await;
    }
    search("Leads", "email", EMAIL, 1, "1000.tok-1")
        .respond_with(found(
            vec![lead(LEAD_ID, "Ana García", "2024-01-01T10:00:00+01:00")],
            1,
            false,
        ))
        .expect(1)
        .mount(&mock)
        .await;
    let customer = Customer {
        phone: Some(PHONE.into()),
        email: Some(EMAIL.into()),
        name: None,
    };

    let cards = zoho(&mock, clock()).cards(&customer).await.unwrap();

    assert_eq!(cards[0].title, "Ana García — Contacted");
    assert_eq!(cards[0].extra["matched_by"], "email");
}

#[tokio::test]
async fn search_pages_are_followed_and_the_most_recently_modified_match_is_shown() {
    let mock = MockServer::start().await;
    refresh("1000.tok-1").mount(&mock).await;
    search("Leads", "phone", PHONE, 1, "1000.tok-1")
        .respond_with(found(
            vec![
                lead(
                    "3652397000000000001",
                    "Old Lead",
                    "2020-01-01T10:00:00+01:00",
                ),
                lead(
                    "3652397000000000002",
                    "Older Lead",
                    "2019-01-01T10:00:00+01:00",
                ),
            ],
            1,
            true,
        ))
        .expect(1)
        .mount(&mock)
        .await;
    search("Leads", "phone", PHONE, 2, "1000.tok-1")
        .respond_with(found(
            vec![lead(
                "3652397000000000003",
                "New Lead",
                "2024-05-01T08:00:00-05:00",
            )],
            2,
            false,
        ))
        .expect(1)
        .mount(&mock)
        .await;

    let cards = zoho(&mock, clock()).cards(&by_phone()).await.unwrap();

    assert_eq!(cards[0].title, "New Lead — Contacted");
    assert_eq!(cards[0].extra["record_id"], "3652397000000000003");
}

#[tokio::test]
async fn nobody_found_is_one_card_that_says_so() {
    let mock = MockServer::start().await;
    refresh("1000.tok-1").mount(&mock).await;
    for module in ["Leads", "Contacts"] {
        search(module, "phone", PHONE, 1, "1000.tok-1")
            .respond_with(nothing())
            .expect(1)
            .mount(&mock)
            .await;
    }

    let cards = zoho(&mock, clock()).cards(&by_phone()).await.unwrap();

    assert_eq!(cards.len(), 1);
    assert_eq!(
        cards[0].title,
        "No Zoho CRM lead or contact for +34600111222"
    );
    assert!(cards[0].fields.is_empty() && cards[0].problem.is_none());
}

#[tokio::test]
async fn the_access_token_is_reused_while_valid_and_refreshed_after_it_expires() {
    let mock = MockServer::start().await;
    refresh("1000.tok-1").mount(&mock).await;
    search("Leads", "phone", PHONE, 1, "1000.tok-1")
        .respond_with(found(
            vec![lead(LEAD_ID, "Ana García", "2024-01-01T10:00:00+01:00")],
            1,
            false,
        ))
        .mount(&mock)
        .await;
    let clock = clock();
    let zoho = zoho(&mock, clock.clone());

    zoho.cards(&by_phone()).await.unwrap();
    clock.advance(TimeDelta::minutes(50));
    zoho.cards(&by_phone()).await.unwrap();
    assert_eq!(refreshes(&mock).await, 1);

    clock.advance(TimeDelta::minutes(10));
    zoho.cards(&by_phone()).await.unwrap();
    assert_eq!(refreshes(&mock).await, 2);
}

#[tokio::test]
async fn concurrent_calls_share_one_refresh() {
    let mock = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth/v2/token"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"access_token": "1000.tok-1", "expires_in": 3600, "api_domain": "https://www.zohoapis.eu", "token_type": "Bearer"}))
                .set_delay(Duration::from_millis(30)),
        )
        .expect(1)
        .mount(&mock)
        .await;
    search("Leads", "phone", PHONE, 1, "1000.tok-1")
        .respond_with(found(
            vec![lead(LEAD_ID, "Ana García", "2024-01-01T10:00:00+01:00")],
            1,
            false,
        ))
        .expect(3)
        .mount(&mock)
        .await;
    let zoho = zoho(&mock, clock());

    let customer = by_phone();
    let (a, b, c) = tokio::join!(
        zoho.cards(&customer),
        zoho.cards(&customer),
        zoho.cards(&customer)
    );
    for cards in [a, b, c] {
        assert_eq!(cards.unwrap()[0].extra["record_id"], LEAD_ID);
    }
}

#[tokio::test]
async fn a_refused_refresh_is_an_auth_error_that_shows_no_secret() {
    let mock = MockServer::start().await;
    // Zoho refuses a grant with a 200 (zoho/zcrm-csharp-sdk#7).
    Mock::given(method("POST"))
        .and(path("/oauth/v2/token"))
        .and(is_refresh_form)
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"error": "invalid_code"})))
        .expect(1)
        .mount(&mock)
        .await;
    Mock::given(path("/crm/v7/Leads/search"))
        .respond_with(nothing())
        .expect(0)
        .mount(&mock)
        .await;
    let zoho = zoho(&mock, clock());

    let err = zoho.cards(&by_phone()).await.unwrap_err();

    assert_eq!(
        err,
        ConnectorError::Auth {
            connector: inbox_connectors::ConnectorKind::Zoho,
            status: 0
        }
    );
    let shown = format!("{err} {err:?} {zoho:?}");
    for secret in [CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN, "127.0.0.1"] {
        assert!(!shown.contains(secret), "{shown}");
    }
}

#[tokio::test]
async fn a_401_invalid_token_makes_one_refresh_and_one_retry() {
    let mock = MockServer::start().await;
    refresh("1000.tok-1")
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&mock)
        .await;
    refresh("1000.tok-2").mount(&mock).await;
    search("Leads", "phone", PHONE, 1, "1000.tok-1")
        .respond_with(invalid_token())
        .expect(1)
        .mount(&mock)
        .await;
    search("Leads", "phone", PHONE, 1, "1000.tok-2")
        .respond_with(found(
            vec![lead(LEAD_ID, "Ana García", "2024-01-01T10:00:00+01:00")],
            1,
            false,
        ))
        .expect(1)
        .mount(&mock)
        .await;

    let cards = zoho(&mock, clock()).cards(&by_phone()).await.unwrap();

    assert_eq!(cards[0].extra["record_id"], LEAD_ID);
    assert_eq!(refreshes(&mock).await, 2);
}

#[tokio::test]
async fn a_token_refused_twice_is_an_auth_error_after_one_retry() {
    let mock = MockServer::start().await;
    refresh("1000.tok-1").mount(&mock).await;
    Mock::given(path("/crm/v7/users"))
        .respond_with(invalid_token())
        .expect(2)
        .mount(&mock)
        .await;

    let err = zoho(&mock, clock()).check().await.unwrap_err();

    assert!(
        matches!(err, ConnectorError::Auth { status: 401, .. }),
        "{err}"
    );
    assert_eq!(refreshes(&mock).await, 2);
}

#[tokio::test]
async fn a_scope_the_token_lacks_is_said_and_not_renewed() {
    // Zoho's 401 for a scope the refresh token was not made for: renewing
    // gives the same scopes, so it is said as a setting to fix.
    let mock = MockServer::start().await;
    refresh("1000.tok-1").mount(&mock).await;
    Mock::given(path("/crm/v7/users"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "code": "OAUTH_SCOPE_MISMATCH", "details": {},
            "message": "invalid oauth scope to access this URL", "status": "error"})))
        .expect(1)
        .mount(&mock)
        .await;

    let err = zoho(&mock, clock()).check().await.unwrap_err();

    assert!(
        matches!(err, ConnectorError::NotConfigured { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("OAUTH_SCOPE_MISMATCH"), "{err}");
    assert_eq!(refreshes(&mock).await, 1);
}

#[tokio::test]
async fn a_429_is_retried_then_answered() {
    let mock = MockServer::start().await;
    refresh("1000.tok-1").mount(&mock).await;
    // Zoho's answer past its concurrency limits.
    // https://www.zoho.com/crm/developer/docs/api/v7/api-limits.html
    search("Leads", "phone", PHONE, 1, "1000.tok-1")
        .respond_with(ResponseTemplate::new(429).set_body_json(json!({
            "code": "TOO_MANY_REQUESTS", "details": {},
            "message": "too many requests. please try again after some time", "status": "error"
        })))
        .up_to_n_times(1)
        .with_priority(1)
        .expect(1)
        .mount(&mock)
        .await;
    search("Leads", "phone", PHONE, 1, "1000.tok-1")
        .respond_with(found(
            vec![lead(LEAD_ID, "Ana García", "2024-01-01T10:00:00+01:00")],
            1,
            false,
        ))
        .expect(1)
        .mount(&mock)
        .await;

    let cards = zoho(&mock, clock()).cards(&by_phone()).await.unwrap();

    assert_eq!(cards[0].extra["record_id"], LEAD_ID);
}

#[tokio::test]
async fn a_slow_zoho_is_a_timeout() {
    let mock = MockServer::start().await;
    refresh("1000.tok-1").mount(&mock).await;
    search("Leads", "phone", PHONE, 1, "1000.tok-1")
        .respond_with(nothing().set_delay(Duration::from_millis(400)))
        .mount(&mock)
        .await;
    let quick = CallPolicy {
        timeout: Duration::from_millis(50),
        attempts: 2,
        ..policy()
    };
    let zoho = zoho_with(&mock, clock(), quick, settings());

    let err = zoho.cards(&by_phone()).await.unwrap_err();

    assert!(matches!(err, ConnectorError::Timeout { .. }), "{err}");
}

fn entry(customer: Customer) -> LogEntry {
    LogEntry {
        customer,
        conversation: "conv-42".into(),
        title: "WhatsApp conversation resolved by Ana".into(),
        body: "[10:02] Customer: hola\n[10:03] Ana: ¡hola!".into(),
        at: Utc.with_ymd_and_hms(2026, 3, 1, 10, 5, 0).unwrap(),
    }
}

#[tokio::test]
async fn log_writes_a_note_on_the_record_found() {
    let mock = MockServer::start().await;
    refresh("1000.tok-1").mount(&mock).await;
    search("Leads", "phone", PHONE, 1, "1000.tok-1")
        .respond_with(found(
            vec![lead(LEAD_ID, "Ana García", "2024-01-01T10:00:00+01:00")],
            1,
            false,
        ))
        .mount(&mock)
        .await;
    // https://www.zoho.com/crm/developer/docs/api/v7/create-notes.html
    Mock::given(method("POST"))
        .and(path("/crm/v7/Notes"))
        .and(header("authorization", "Zoho-oauthtoken 1000.tok-1"))
        .and(body_partial_json(json!({"data": [{
            "Note_Title": "WhatsApp conversation resolved by Ana",
            "Parent_Id": {"module": {"api_name": "Leads"}, "id": LEAD_ID}
        }]})))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"data": [{
            "code": "SUCCESS",
            "details": {"Modified_Time": "2023-12-18T18:48:25+05:30", "id": "2423488000000776006",
                        "Created_Time": "2023-12-18T18:48:25+05:30"},
            "message": "record added", "status": "success"
        }]})))
        .expect(1)
        .mount(&mock)
        .await;

    let logged = zoho(&mock, clock()).log(&entry(by_phone())).await.unwrap();

    assert_eq!(
        logged,
        Logged::Written {
            record: LEAD_ID.into()
        }
    );
    let requests = mock.received_requests().await.unwrap();
    let note = requests
        .iter()
        .find(|r| r.url.path() == "/crm/v7/Notes")
        .unwrap();
    let body: serde_json::Value = serde_json::from_slice(&note.body).unwrap();
    let content = body["data"][0]["Note_Content"].as_str().unwrap();
    assert!(
        content.starts_with("[10:02] Customer: hola\n[10:03] Ana: ¡hola!"),
        "{content}"
    );
    assert!(content.contains("conv-42"), "{content}");
}

#[tokio::test]
async fn log_without_a_record_writes_nothing() {
    let mock = MockServer::start().await;
    refresh("1000.tok-1").mount(&mock).await;
    for module in ["Leads", "Contacts"] {
        search(module, "phone", PHONE, 1, "1000.tok-1")
            .respond_with(nothing())
            .mount(&mock)
            .await;
    }
    Mock::given(path("/crm/v7/Notes"))
        .respond_with(ResponseTemplate::new(201))
        .expect(0)
        .mount(&mock)
        .await;

    let logged = zoho(&mock, clock()).log(&entry(by_phone())).await.unwrap();

    assert_eq!(logged, Logged::NoRecord);
}

#[tokio::test]
async fn log_is_refused_when_the_settings_turn_it_off() {
    let mock = MockServer::start().await;
    let off = inbox_core::settings::ZohoSettings {
        log: CrmLog::Off,
        ..settings()
    };
    let zoho = zoho_with(&mock, clock(), policy(), off);

    let err = zoho.log(&entry(by_phone())).await.unwrap_err();

    assert!(matches!(err, ConnectorError::NotConfigured { .. }), "{err}");
    assert!(mock.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn check_asks_for_the_current_user() {
    let mock = MockServer::start().await;
    refresh("1000.tok-1").expect(1).mount(&mock).await;
    // https://www.zoho.com/crm/developer/docs/api/v7/get-users.html
    Mock::given(method("GET"))
        .and(path("/crm/v7/users"))
        .and(query_param("type", "CurrentUser"))
        .and(header("authorization", "Zoho-oauthtoken 1000.tok-1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "users": [{"id": "4150868000000225013", "full_name": "Patricia Boyle",
                       "email": "p.boyle@zylker.com", "status": "active"}],
            "info": {"per_page": 200, "count": 1, "page": 1, "more_records": false}
        })))
        .expect(1)
        .mount(&mock)
        .await;

    zoho(&mock, clock()).check().await.unwrap();
}

#[tokio::test]
async fn through_connectors_the_tenant_gets_zoho_cards_and_another_tenant_nothing() {
    let mock = MockServer::start().await;
    refresh("1000.tok-1").mount(&mock).await;
    // The default modules: Contacts, then Leads.
    search("Contacts", "phone", PHONE, 1, "1000.tok-1")
        .respond_with(nothing())
        .mount(&mock)
        .await;
    search("Leads", "phone", PHONE, 1, "1000.tok-1")
        .respond_with(found(
            vec![lead(LEAD_ID, "Ana García", "2024-01-01T10:00:00+01:00")],
            1,
            false,
        ))
        .expect(1)
        .mount(&mock)
        .await;
    let acme = TenantId::new("acme").unwrap();
    let other = TenantId::new("other").unwrap();
    let store = Arc::new(MemoryStore::new());
    let clock = clock();
    let document = TenantSettings::from_yaml("connectors: {zoho: {data_center: eu}}").unwrap();
    store
        .put_settings(SettingsPut {
            tenant: &acme,
            expected: 0,
            document: &document,
            sections: &[],
            at: clock.now(),
            by: None,
            directory: None,
        })
        .await
        .unwrap();
    let mut secrets = StaticConnectorSecrets::new();
    for (name, value) in [
        ("zoho.client_id", CLIENT_ID),
        ("zoho.client_secret", CLIENT_SECRET),
        ("zoho.refresh_token", REFRESH_TOKEN),
    ] {
        secrets = secrets.with(acme.clone(), name, Secret::new(value));
    }
    let options = ConnectorOptions {
        endpoints: Endpoints::all_at(mock.uri().parse().unwrap()),
        policy: policy(),
        ..Default::default()
    };
    let connectors = Connectors::new(store, Arc::new(secrets), clock.clone(), options);
    let identity = ContactIdentity {
        wa_id: Some("34600111222".into()),
        ..Default::default()
    };
    let ana = Contact::new(
        acme.clone(),
        ContactId::new("c1").unwrap(),
        identity.clone(),
        clock.now(),
    );
    let stranger = Contact::new(
        other.clone(),
        ContactId::new("c2").unwrap(),
        identity,
        clock.now(),
    );

    let cards = connectors.context(&acme, &ana).await;
    let none = connectors.context(&other, &stranger).await;

    assert_eq!(cards.len(), 1, "{cards:?}");
    assert_eq!(cards[0].source, "Zoho CRM");
    assert_eq!(cards[0].title, "Ana García — Contacted");
    assert_eq!(cards[0].fetched_at, Some(clock.now()));
    assert!(none.is_empty(), "{none:?}");
}
