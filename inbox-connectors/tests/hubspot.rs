//! The HubSpot connector against a mock of HubSpot's documented API: cards,
//! logging, the credentials check, rate limits, timeouts and outages, and
//! the connector driven through `Connectors` with a tenant's settings.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod hubspot {
    pub mod fixtures;
}

use chrono::{TimeZone, Utc};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use wiremock::matchers::{body_partial_json, query_param, query_param_is_missing};
use wiremock::{MockServer, ResponseTemplate};

use hubspot::fixtures::*;
use inbox_connectors::hubspot::DAILY_LIMIT_WAIT;
use inbox_connectors::{
    CallPolicy, Connector, ConnectorError, ConnectorKind, ConnectorOptions, Connectors, Customer,
    Endpoints, LogEntry, Logged, StaticConnectorSecrets,
};
use inbox_core::model::{Contact, ContactIdentity};
use inbox_core::ports::{ManualClock, SettingsPut, Store};
use inbox_core::settings::{HubSpotSettings, TenantSettings};
use inbox_core::{ContactId, Secret, TenantId};
use inbox_store_memory::MemoryStore;

fn ana() -> Customer {
    Customer {
        phone: Some("+34600111222".into()),
        email: None,
        name: Some("Ana García".into()),
    }
}

/// The contact found by phone: the most recently modified of two.
async fn mount_found_by_phone(mock: &MockServer) {
    let old = contact(
        "52",
        "2023-02-01T00:00:00.000Z",
        json!({"firstname": "Ana"}),
    );
    let recent = contact(
        "51",
        "2024-05-01T10:00:00.000Z",
        json!({"firstname": "Ana", "lastname": "García", "email": "ana@acme.es",
               "phone": "+34600111222", "mobilephone": null,
               "lifecyclestage": "customer", "hubspot_owner_id": "41629779"}),
    );
    call("POST", SEARCH)
        .and(body_partial_json(json!({"filterGroups": phone_groups()})))
        .respond_with(found(vec![old, recent]))
        .expect(1)
        .mount(mock)
        .await;
}

#[tokio::test]
async fn a_contact_found_by_phone_shows_owner_company_and_open_deals() {
    let mock = MockServer::start().await;
    mount_found_by_phone(&mock).await;
    call("GET", "/crm/v3/owners/41629779")
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "41629779", "email": "marta@acme.es", "type": "PERSON",
            "firstName": "Marta", "lastName": "López", "userId": 9586504,
            "userIdIncludingInactive": 9586504, "createdAt": "2019-12-25T13:01:35.228Z",
            "updatedAt": "2023-08-22T13:40:26.790Z", "archived": false})))
        .mount(&mock)
        .await;
    call("GET", "/crm/v4/objects/contacts/51/associations/companies")
        .respond_with(associations(&[(7001, 279), (7002, 1)], None))
        .mount(&mock)
        .await;
    call("GET", "/crm/v3/objects/companies/7002")
        .and(query_param("properties", "name"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "7002", "properties": {"name": "Acme S.L.", "hs_object_id": "7002"},
            "createdAt": "2022-01-01T00:00:00.000Z", "updatedAt": "2024-01-01T00:00:00.000Z",
            "archived": false})))
        .mount(&mock)
        .await;
    // Two pages of deal associations.
    call("GET", "/crm/v4/objects/contacts/51/associations/deals")
        .and(query_param_is_missing("after"))
        .respond_with(associations(&[(9001, 4), (9002, 4)], Some("OTAwMg")))
        .expect(1)
        .mount(&mock)
        .await;
    call("GET", "/crm/v4/objects/contacts/51/associations/deals")
        .and(query_param("after", "OTAwMg"))
        .respond_with(associations(&[(9003, 4)], None))
        .expect(1)
        .mount(&mock)
        .await;
    call("POST", "/crm/v3/objects/deals/batch/read")
        .and(body_partial_json(json!({
            "inputs": [{"id": "9001"}, {"id": "9002"}, {"id": "9003"}],
            "properties": ["dealname", "dealstage", "pipeline", "amount",
                           "deal_currency_code", "closedate", "hs_is_closed"],
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "status": "COMPLETE",
            "results": [
                deal("9001", "Renewal 2024", "appointmentscheduled", false, "2024-07-01T00:00:00.000Z"),
                deal("9002", "Won last year", "closedwon", true, "2023-07-01T00:00:00.000Z"),
                deal("9003", "Upsell", "12345", false, "2024-06-15T00:00:00.000Z"),
            ],
            "startedAt": "2024-05-01T10:00:00.000Z", "completedAt": "2024-05-01T10:00:00.100Z"})))
        .mount(&mock)
        .await;
    call("GET", "/crm/v3/pipelines/deals")
        .respond_with(pipelines())
        .expect(1)
        .mount(&mock)
        .await;

    let hubspot = hubspot(&mock, with_portal());
    let cards = hubspot.cards(&ana()).await.unwrap();

    let titles: Vec<&str> = cards.iter().map(|c| c.title.as_str()).collect();
    assert_eq!(
        titles,
        [
            "Ana García — Customer",
            "Deal: Upsell",
            "Deal: Renewal 2024"
        ]
    );
    let person = &cards[0];
    let fields: Vec<(&str, &str)> = person
        .fields
        .iter()
        .map(|(l, v)| (l.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        fields,
        [
            ("Lifecycle stage", "Customer"),
            ("Owner", "Marta López"),
            ("Company", "Acme S.L."),
            ("Email", "ana@acme.es"),
            ("Phone", "+34600111222"),
            ("Open deals", "2"),
        ]
    );
    assert_eq!(
        person.url.as_deref(),
        Some("https://app.hubspot.com/contacts/4431/record/0-1/51")
    );
    let upsell = &cards[1];
    assert_eq!(
        upsell.fields,
        [
            ("Stage".to_string(), "Negotiation".to_string()),
            ("Amount".into(), "1500 EUR".into()),
            ("Close date".into(), "2024-06-15".into()),
        ]
    );
    assert_eq!(
        upsell.url.as_deref(),
        Some("https://app.hubspot.com/contacts/4431/record/0-3/9003")
    );
    assert_eq!(cards[2].fields[0].1, "Appointment Scheduled");
    assert!(cards.iter().all(|c| c.problem.is_none()));

    // The search asked for the properties shown, the most recent first.
    let searches: Vec<Value> = requests_to(&mock, SEARCH).await;
    assert_eq!(
        searches[0]["sorts"],
        json!([{"propertyName": "lastmodifieddate", "direction": "DESCENDING"}])
    );
    let props = searches[0]["properties"].as_array().unwrap();
    for p in [
        "lifecyclestage",
        "hubspot_owner_id",
        "email",
        "phone",
        "mobilephone",
    ] {
        assert!(props.contains(&json!(p)), "{p} not asked for");
    }
}

/// The JSON bodies of the requests received at `to`.
async fn requests_to(mock: &MockServer, to: &str) -> Vec<Value> {
    mock.received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.url.path() == to)
        .map(|r| serde_json::from_slice(&r.body).unwrap_or(Value::Null))
        .collect()
}

#[tokio::test]
async fn a_contact_is_found_by_email_when_the_phone_matches_nothing() {
    let mock = MockServer::start().await;
    call("POST", SEARCH)
        .and(body_partial_json(json!({"filterGroups": phone_groups()})))
        .respond_with(found(vec![]))
        .expect(1)
        .mount(&mock)
        .await;
    let luis = contact(
        "60",
        "2024-03-01T00:00:00.000Z",
        json!({"firstname": "Luis", "lastname": "Pérez", "email": "luis@globex.com"}),
    );
    call("POST", SEARCH)
        .and(body_partial_json(json!({"filterGroups": [{"filters": [
            {"propertyName": "email", "operator": "EQ", "value": "luis@globex.com"}]}]})))
        .respond_with(found(vec![luis]))
        .expect(1)
        .mount(&mock)
        .await;
    for to in ["companies", "deals"] {
        call(
            "GET",
            &format!("/crm/v4/objects/contacts/60/associations/{to}"),
        )
        .respond_with(no_associations())
        .mount(&mock)
        .await;
    }
    let customer = Customer {
        phone: Some("+34600111222".into()),
        email: Some("Luis@Globex.com".into()),
        name: None,
    };
    let cards = hubspot(&mock, HubSpotSettings::default())
        .cards(&customer)
        .await
        .unwrap();
    assert_eq!(cards.len(), 1);
    assert_eq!(cards[0].title, "Luis Pérez");
    assert_eq!(
        cards[0].fields,
        [("Email".to_string(), "luis@globex.com".to_string())]
    );
    assert_eq!(cards[0].url, None, "no portal id, no link");
}

#[tokio::test]
async fn no_contact_is_one_card_saying_so() {
    let mock = MockServer::start().await;
    call("POST", SEARCH)
        .respond_with(found(vec![]))
        .expect(1)
        .mount(&mock)
        .await;
    let cards = hubspot(&mock, with_portal()).cards(&ana()).await.unwrap();
    assert_eq!(cards.len(), 1);
    assert_eq!(cards[0].title, "No HubSpot contact for +34600111222");
    assert!(cards[0].fields.is_empty() && cards[0].problem.is_none());
}

#[tokio::test]
async fn a_refused_token_is_an_auth_error_that_never_shows_the_token() {
    let mock = MockServer::start().await;
    call("POST", SEARCH)
        .respond_with(unauthorized())
        .expect(1)
        .mount(&mock)
        .await;
    let hubspot = hubspot(&mock, with_portal());
    let err = hubspot.cards(&ana()).await.unwrap_err();
    assert_eq!(
        err,
        ConnectorError::Auth {
            connector: ConnectorKind::HubSpot,
            status: 401
        }
    );
    for text in [err.to_string(), format!("{err:?}"), format!("{hubspot:?}")] {
        assert!(!text.contains(TOKEN) && !text.contains("pat-na1"), "{text}");
    }
}

#[tokio::test]
async fn a_rate_limit_with_headers_is_waited_out_then_answered() {
    let mock = MockServer::start().await;
    call("POST", SEARCH)
        .respond_with(rate_limited("SECONDLY", 20, 249_000))
        .up_to_n_times(1)
        .expect(1)
        .mount(&mock)
        .await;
    call("POST", SEARCH)
        .respond_with(found(vec![]))
        .expect(1)
        .mount(&mock)
        .await;
    let cards = hubspot(&mock, with_portal()).cards(&ana()).await.unwrap();
    assert_eq!(cards[0].title, "No HubSpot contact for +34600111222");
}

#[tokio::test]
async fn a_spent_daily_quota_is_not_retried() {
    let mock = MockServer::start().await;
    call("POST", SEARCH)
        .respond_with(rate_limited("DAILY", 10_000, 0))
        .expect(1)
        .mount(&mock)
        .await;
    let err = hubspot(&mock, with_portal())
        .cards(&ana())
        .await
        .unwrap_err();
    assert_eq!(
        err,
        ConnectorError::RateLimited {
            connector: ConnectorKind::HubSpot,
            retry_after: Some(DAILY_LIMIT_WAIT)
        }
    );
}

#[tokio::test]
async fn a_slow_hubspot_times_out_after_the_policy_attempts() {
    let mock = MockServer::start().await;
    let policy = CallPolicy {
        timeout: Duration::from_millis(100),
        ..policy()
    };
    call("POST", SEARCH)
        .respond_with(found(vec![]).set_delay(Duration::from_millis(400)))
        .expect(3)
        .mount(&mock)
        .await;
    let err = hubspot_with(&mock, with_portal(), policy)
        .cards(&ana())
        .await
        .unwrap_err();
    assert_eq!(
        err,
        ConnectorError::Timeout {
            connector: ConnectorKind::HubSpot,
            after: Duration::from_millis(100)
        }
    );
}

#[tokio::test]
async fn an_outage_is_retried() {
    let mock = MockServer::start().await;
    call("POST", SEARCH)
        .respond_with(ResponseTemplate::new(500).set_body_json(json!({
            "status": "error", "message": "internal error",
            "correlationId": "0ab3e7a1-1a2b-4c3d-8e9f-001122334455", "category": "INTERNAL_ERROR"})))
        .up_to_n_times(1)
        .expect(1)
        .mount(&mock)
        .await;
    call("POST", SEARCH)
        .respond_with(found(vec![]))
        .expect(1)
        .mount(&mock)
        .await;
    let cards = hubspot(&mock, with_portal()).cards(&ana()).await.unwrap();
    assert_eq!(cards.len(), 1);
}

fn entry(customer: Customer) -> LogEntry {
    LogEntry {
        customer,
        conversation: "conv-42".into(),
        title: "WhatsApp conversation resolved by Marta".into(),
        body: "[10:02] Customer: Where is my order?\n[10:03] Marta: On its way!".into(),
        at: Utc.with_ymd_and_hms(2024, 5, 1, 10, 3, 0).unwrap(),
    }
}

/// The communication HubSpot is asked to create for `contact`.
fn communication_for(contact: &str) -> Value {
    json!({
        "properties": {
            "hs_communication_channel_type": "WHATS_APP",
            "hs_communication_logged_from": "CRM",
            "hs_timestamp": "2024-05-01T10:03:00.000Z",
        },
        "associations": [{"to": {"id": contact}, "types": [
            {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 81}]}],
    })
}

fn created(id: &str) -> ResponseTemplate {
    ResponseTemplate::new(201).set_body_json(json!({
        "id": id, "properties": {"hs_object_id": id},
        "createdAt": "2024-05-01T10:03:01.000Z", "updatedAt": "2024-05-01T10:03:01.000Z",
        "archived": false}))
}

#[tokio::test]
async fn log_writes_a_whatsapp_communication_on_the_contact() {
    let mock = MockServer::start().await;
    mount_found_by_phone(&mock).await;
    call("POST", "/crm/v3/objects/communications")
        .and(body_partial_json(communication_for("51")))
        .respond_with(created("88001"))
        .expect(1)
        .mount(&mock)
        .await;
    let logged = hubspot(&mock, with_portal())
        .log(&entry(ana()))
        .await
        .unwrap();
    assert_eq!(
        logged,
        Logged::Written {
            record: "51".into()
        }
    );
    let sent = requests_to(&mock, "/crm/v3/objects/communications").await;
    let body = sent[0]["properties"]["hs_communication_body"]
        .as_str()
        .unwrap();
    assert!(body.contains("Conversation conv-42"), "{body}");
    assert!(
        body.contains("Where is my order?<br>[10:03] Marta: On its way!"),
        "{body}"
    );
}

#[tokio::test]
async fn a_write_that_may_have_happened_is_not_sent_again() {
    // A 500 or a timeout after HubSpot received the communication: it may
    // exist, so this call does not write it again (the logger tries later,
    // at least once); a 429 was surely not carried out and is retried.
    for (first, retried) in [
        (ResponseTemplate::new(500), false),
        (
            created("88001").set_delay(Duration::from_millis(600)),
            false,
        ),
        (rate_limited("SECONDLY", 5, 100), true),
    ] {
        let mock = MockServer::start().await;
        mount_found_by_phone(&mock).await;
        call("POST", "/crm/v3/objects/communications")
            .respond_with(first)
            .up_to_n_times(1)
            .mount(&mock)
            .await;
        call("POST", "/crm/v3/objects/communications")
            .respond_with(created("88002"))
            .mount(&mock)
            .await;
        let logged = hubspot(&mock, with_portal()).log(&entry(ana())).await;
        let sent = requests_to(&mock, "/crm/v3/objects/communications").await;
        assert_eq!(
            (sent.len(), logged.is_ok()),
            (1 + usize::from(retried), retried),
            "{logged:?}"
        );
        if let Err(e) = logged {
            assert!(e.is_transient(), "{e:?}");
        }
    }
}

#[tokio::test]
async fn log_creates_the_contact_when_the_policy_says_so_once() {
    let mock = MockServer::start().await;
    call("POST", SEARCH)
        .respond_with(found(vec![]))
        .expect(2)
        .mount(&mock)
        .await;
    call("POST", "/crm/v3/objects/contacts")
        .and(body_partial_json(json!({"properties": {
            "phone": "+34600111222", "firstname": "Ana", "lastname": "García"}})))
        .respond_with(created("77"))
        .expect(1)
        .mount(&mock)
        .await;
    call("POST", "/crm/v3/objects/communications")
        .and(body_partial_json(communication_for("77")))
        .respond_with(created("88002"))
        .expect(2)
        .mount(&mock)
        .await;
    let settings = HubSpotSettings {
        create_contacts: true,
        ..with_portal()
    };
    let hubspot = hubspot(&mock, settings);
    for _ in 0..2 {
        // The second time HubSpot's search does not see the new contact
        // yet: the connector remembers it rather than creating another.
        let logged = hubspot.log(&entry(ana())).await.unwrap();
        assert_eq!(
            logged,
            Logged::Written {
                record: "77".into()
            }
        );
    }
}

#[tokio::test]
async fn log_creates_no_contact_unless_the_policy_says_so() {
    let mock = MockServer::start().await;
    call("POST", SEARCH)
        .respond_with(found(vec![]))
        .expect(1)
        .mount(&mock)
        .await;
    for to in ["/crm/v3/objects/contacts", "/crm/v3/objects/communications"] {
        call("POST", to)
            .respond_with(created("1"))
            .expect(0)
            .mount(&mock)
            .await;
    }
    let logged = hubspot(&mock, with_portal())
        .log(&entry(ana()))
        .await
        .unwrap();
    assert_eq!(logged, Logged::NoRecord);
}

#[tokio::test]
async fn check_makes_one_cheap_call_and_says_when_refused() {
    let mock = MockServer::start().await;
    call("GET", "/crm/v3/objects/contacts")
        .and(query_param("limit", "1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "results": [contact("51", "2024-05-01T10:00:00.000Z", json!({}))],
            "paging": {"next": {"after": "52", "link": "?after=52"}}})))
        .expect(1)
        .mount(&mock)
        .await;
    hubspot(&mock, with_portal()).check().await.unwrap();

    let refused = MockServer::start().await;
    call("GET", "/crm/v3/objects/contacts")
        .respond_with(unauthorized())
        .expect(1)
        .mount(&refused)
        .await;
    let err = hubspot(&refused, with_portal()).check().await.unwrap_err();
    assert!(
        matches!(err, ConnectorError::Auth { status: 401, .. }),
        "{err:?}"
    );
}

async fn store_settings(store: &MemoryStore, tenant: &TenantId, yaml: &str) {
    use inbox_core::ports::Settings;
    let document = TenantSettings::from_yaml(yaml).unwrap();
    store
        .put_settings(SettingsPut {
            tenant,
            expected: 0,
            document: &document,
            sections: &[],
            at: Utc.with_ymd_and_hms(2024, 5, 1, 9, 0, 0).unwrap(),
            by: None,
            directory: None,
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn connectors_show_a_tenants_hubspot_cards_and_none_to_another_tenant() {
    let mock = MockServer::start().await;
    call("POST", SEARCH)
        .and(body_partial_json(json!({"filterGroups": phone_groups()})))
        .respond_with(found(vec![contact(
            "51",
            "2024-05-01T10:00:00.000Z",
            json!({"firstname": "Ana", "lifecyclestage": "lead"}),
        )]))
        .expect(1)
        .mount(&mock)
        .await;
    for to in ["companies", "deals"] {
        call(
            "GET",
            &format!("/crm/v4/objects/contacts/51/associations/{to}"),
        )
        .respond_with(no_associations())
        .mount(&mock)
        .await;
    }
    let (acme, globex) = (
        TenantId::new("acme").unwrap(),
        TenantId::new("globex").unwrap(),
    );
    let store = Arc::new(MemoryStore::new());
    store_settings(&store, &acme, "connectors: {hubspot: {portal_id: 4431}}").await;
    store_settings(&store, &globex, "connectors: {}").await;
    let secrets =
        StaticConnectorSecrets::new().with(acme.clone(), "hubspot.token", Secret::new(TOKEN));
    let t0 = Utc.with_ymd_and_hms(2024, 5, 1, 10, 0, 0).unwrap();
    let options = ConnectorOptions {
        endpoints: Endpoints::all_at(mock.uri().parse().unwrap()),
        policy: policy(),
        ..Default::default()
    };
    let connectors = Connectors::new(
        store.clone() as Arc<dyn Store>,
        Arc::new(secrets),
        Arc::new(ManualClock::new(t0)),
        options,
    );
    let contact_of = |tenant: &TenantId| {
        Contact::new(
            tenant.clone(),
            ContactId::new("c1").unwrap(),
            ContactIdentity::wa("34600111222"),
            t0,
        )
    };

    let cards = connectors.context(&acme, &contact_of(&acme)).await;
    assert_eq!(cards.len(), 1, "{cards:?}");
    assert_eq!(cards[0].title, "Ana — Lead");
    assert_eq!(cards[0].source, "HubSpot");
    assert_eq!(cards[0].fetched_at, Some(t0));
    assert_eq!(
        cards[0].url.as_deref(),
        Some("https://app.hubspot.com/contacts/4431/record/0-1/51")
    );

    assert!(connectors
        .context(&globex, &contact_of(&globex))
        .await
        .is_empty());
}

#[tokio::test]
async fn a_scope_not_granted_leaves_its_part_out_and_says_so_for_deals() {
    let mock = MockServer::start().await;
    mount_found_by_phone(&mock).await;
    // HubSpot's 403 for a missing scope, and a deactivated owner.
    let missing_scope = ResponseTemplate::new(403).set_body_json(json!({
        "status": "error",
        "message": "This app hasn't been granted all required scopes to make this call. Read more about required scopes here: https://developers.hubspot.com/scopes.",
        "correlationId": "8c1b2f0e-3a4d-4e5f-9a6b-7c8d9e0f1a2b",
        "errors": [{"message": "One or more of the following scopes are required.",
                    "context": {"requiredGranularScopes": ["crm.objects.deals.read"]}}],
        "category": "MISSING_SCOPES"}));
    call("GET", "/crm/v4/objects/contacts/51/associations/deals")
        .respond_with(missing_scope)
        .mount(&mock)
        .await;
    call("GET", "/crm/v3/owners/41629779")
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({
            "status": "error", "message": "Owner not found",
            "correlationId": "1e2d3c4b-5a69-4788-9a0b-1c2d3e4f5a6b", "category": "OBJECT_NOT_FOUND"})))
        .mount(&mock)
        .await;
    call("GET", "/crm/v4/objects/contacts/51/associations/companies")
        .respond_with(no_associations())
        .mount(&mock)
        .await;

    let cards = hubspot(&mock, with_portal()).cards(&ana()).await.unwrap();
    assert_eq!(cards.len(), 2, "{cards:?}");
    let labels: Vec<&str> = cards[0].fields.iter().map(|(l, _)| l.as_str()).collect();
    assert_eq!(labels, ["Lifecycle stage", "Email", "Phone"]);
    assert_eq!(cards[1].title, "HubSpot deals");
    let problem = cards[1].problem.as_deref().unwrap();
    assert!(
        problem.contains("lacks the scope crm.objects.deals.read"),
        "{problem}"
    );
}
