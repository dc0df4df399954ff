//! The Shopify connector against a mock shop speaking the Admin GraphQL
//! API as documented (answers: `tests/shopify/answers.rs`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "shopify/answers.rs"]
mod answers;

use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use serde_json::json;
use wiremock::matchers::{body_partial_json, body_string_contains, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use inbox_connectors::{
    Api, CallPolicy, Connector, ConnectorError, ConnectorKind, ConnectorOptions, Connectors,
    Customer, Endpoints, LogEntry, Logged, Shopify, StaticConnectorSecrets,
};
use inbox_core::model::{Contact, ContactIdentity};
use inbox_core::ports::{ContextCard, ManualClock, Settings, SettingsPut, Store};
use inbox_core::settings::{ShopifySettings, TenantSettings};
use inbox_core::{ContactId, Secret, TenantId};
use inbox_store_memory::MemoryStore;

use answers::*;

const TOKEN: &str = "shpat_0123456789abcdef0123456789abcdef";
const GRAPHQL: &str = "/admin/api/2025-10/graphql.json";
const PHONE: &str = "+34600111222";

fn policy() -> CallPolicy {
    CallPolicy {
        timeout: Duration::from_millis(300),
        attempts: 3,
        base_backoff: Duration::from_millis(5),
        max_wait: Duration::from_secs(1),
        per_second: 1000,
    }
}

fn shopify_with(server: &MockServer, orders: u8, policy: CallPolicy) -> Shopify {
    let settings = ShopifySettings {
        shop: "acme.myshopify.com".into(),
        orders,
        ..Default::default()
    };
    let api = Api::new(ConnectorKind::Shopify, reqwest::Client::new(), policy);
    let base = server.uri().parse().unwrap();
    Shopify::new(settings, Secret::new(TOKEN), api, base, "2025-10".into())
}

fn shopify(server: &MockServer, orders: u8) -> Shopify {
    shopify_with(server, orders, policy())
}

fn by_phone() -> Customer {
    Customer {
        phone: Some(PHONE.into()),
        ..Default::default()
    }
}

/// A POST of the search document to the shop's GraphQL endpoint with the
/// token, searching `term` with `orders` orders on the first page.
fn search(term: &str, orders: usize) -> wiremock::MockBuilder {
    Mock::given(method("POST"))
        .and(path(GRAPHQL))
        .and(header("X-Shopify-Access-Token", TOKEN))
        .and(header("content-type", "application/json"))
        .and(body_string_contains("customers("))
        .and(body_partial_json(
            json!({"variables": {"query": term, "orders": orders}}),
        ))
}

/// A POST of the next-page document for Ana's orders.
fn next_page(first: usize, after: &str) -> wiremock::MockBuilder {
    Mock::given(method("POST"))
        .and(path(GRAPHQL))
        .and(header("X-Shopify-Access-Token", TOKEN))
        .and(body_string_contains("customer(id:"))
        .and(body_partial_json(
            json!({"variables": {"id": CUSTOMER_GID, "first": first, "after": after}}),
        ))
}

fn field<'a>(card: &'a ContextCard, label: &str) -> Option<&'a str> {
    card.fields
        .iter()
        .find(|(l, _)| l == label)
        .map(|(_, v)| v.as_str())
}

fn snippet(card: &ContextCard) -> &str {
    assert_eq!(card.snippets.len(), 1, "{card:?}");
    assert_eq!(card.snippets[0].label, "Insert order status");
    &card.snippets[0].text
}

fn orders_in_several_states() -> Vec<serde_json::Value> {
    let ups = "https://www.ups.com/track?tracknum=1Z999AA10123456784";
    vec![
        shipped(
            order(1005, 5, "PAID", "FULFILLED"),
            &[(Some("UPS"), "1Z999AA10123456784", Some(ups))],
        ),
        shipped(
            order(1004, 4, "PAID", "PARTIALLY_FULFILLED"),
            &[(Some("DHL Express"), "5550001", None)],
        ),
        order(1003, 3, "PAID", "UNFULFILLED"),
        cancelled(order(1002, 2, "REFUNDED", "UNFULFILLED")),
        order(1001, 1, "REFUNDED", "FULFILLED"),
    ]
}

#[tokio::test]
async fn a_customer_with_orders_in_several_states() {
    let server = MockServer::start().await;
    search("phone:+34600111222", 5)
        .respond_with(customers(vec![ana(page(orders_in_several_states(), None))]))
        .expect(1)
        .mount(&server)
        .await;
    let cards = shopify(&server, 5).cards(&by_phone()).await.unwrap();
    assert_eq!(cards.len(), 6, "{cards:#?}");

    let ana = &cards[0];
    assert_eq!(ana.title, "Ana López");
    let fields: Vec<(&str, &str)> = ana
        .fields
        .iter()
        .map(|(l, v)| (l.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        fields,
        [
            ("Orders", "7"),
            ("Total spent", "1234.50 EUR"),
            ("Email", "ana@example.com"),
            ("Phone", PHONE),
        ]
    );
    assert_eq!(
        ana.url.as_deref(),
        Some("https://admin.shopify.com/store/acme/customers/207119551")
    );
    assert!(ana.snippets.is_empty() && ana.problem.is_none());

    let shipped = &cards[1];
    assert_eq!(shipped.title, "Order #1005 — Fulfilled");
    assert_eq!(field(shipped, "Status"), Some("Paid"));
    assert_eq!(field(shipped, "Fulfillment"), Some("Fulfilled"));
    assert_eq!(field(shipped, "Total"), Some("129.90 EUR"));
    assert_eq!(field(shipped, "Placed"), Some("5 Dec 2026"));
    assert_eq!(field(shipped, "Tracking"), Some("UPS 1Z999AA10123456784"));
    assert_eq!(
        shipped.url.as_deref(),
        Some("https://admin.shopify.com/store/acme/orders/450790005")
    );
    assert_eq!(
        snippet(shipped),
        "Your order #1005 (placed 5 Dec 2026) has been shipped with UPS, tracking \
         1Z999AA10123456784: https://www.ups.com/track?tracknum=1Z999AA10123456784"
    );

    assert_eq!(cards[2].title, "Order #1004 — Partially fulfilled");
    assert_eq!(field(&cards[2], "Tracking"), Some("DHL Express 5550001"));
    assert_eq!(
        snippet(&cards[2]),
        "Part of your order #1004 (placed 4 Dec 2026) has been shipped and the rest will \
         follow. It was sent with DHL Express, tracking 5550001."
    );

    assert_eq!(cards[3].title, "Order #1003 — Unfulfilled");
    assert_eq!(field(&cards[3], "Tracking"), None);
    assert_eq!(
        snippet(&cards[3]),
        "Your order #1003 (placed 3 Dec 2026) has been received and is being prepared for shipping."
    );

    assert_eq!(cards[4].title, "Order #1002 — Cancelled");
    assert_eq!(field(&cards[4], "Cancelled"), Some("2 Dec 2026"));
    assert_eq!(
        snippet(&cards[4]),
        "Your order #1002 (placed 2 Dec 2026) was cancelled and refunded."
    );

    assert_eq!(cards[5].title, "Order #1001 — Refunded");
    assert_eq!(
        snippet(&cards[5]),
        "Your order #1001 (placed 1 Dec 2026) has been refunded."
    );
}

#[tokio::test]
async fn orders_are_read_across_two_pages() {
    let server = MockServer::start().await;
    let first: Vec<_> = (0..10)
        .map(|i| order(1020 - i, 20 - i, "PAID", "FULFILLED"))
        .collect();
    let second: Vec<_> = (10..12)
        .map(|i| order(1020 - i, 20 - i, "PAID", "UNFULFILLED"))
        .collect();
    search("phone:+34600111222", 10)
        .respond_with(customers(vec![ana(page(first, Some("cursor-10")))]))
        .expect(1)
        .mount(&server)
        .await;
    // The shop has more, but 12 are shown: the second page asks for 2 and
    // the connector stops there.
    next_page(2, "cursor-10")
        .respond_with(customer_orders(page(second, Some("cursor-12"))))
        .expect(1)
        .mount(&server)
        .await;
    let cards = shopify(&server, 12).cards(&by_phone()).await.unwrap();
    let titles: Vec<&str> = cards.iter().skip(1).map(|c| c.title.as_str()).collect();
    assert_eq!(titles.len(), 12);
    assert_eq!(titles[0], "Order #1020 — Fulfilled");
    assert_eq!(titles[9], "Order #1011 — Fulfilled");
    assert_eq!(titles[10], "Order #1010 — Unfulfilled");
    assert_eq!(titles[11], "Order #1009 — Unfulfilled");
}

#[tokio::test]
async fn nobody_has_the_number() {
    let server = MockServer::start().await;
    search("phone:+34600111222", 3)
        .respond_with(customers(vec![]))
        .expect(1)
        .mount(&server)
        .await;
    let cards = shopify(&server, 3).cards(&by_phone()).await.unwrap();
    assert_eq!(cards.len(), 1);
    assert_eq!(cards[0].title, "No Shopify customer for +34600111222");
    assert!(cards[0].fields.is_empty() && cards[0].problem.is_none());
}

#[tokio::test]
async fn found_by_email_when_the_number_finds_nobody() {
    let server = MockServer::start().await;
    search("phone:+34600111222", 3)
        .respond_with(customers(vec![]))
        .expect(1)
        .mount(&server)
        .await;
    search("email:ana@example.com", 3)
        .respond_with(customers(vec![ana(page(
            vec![order(1001, 1, "PAID", "UNFULFILLED")],
            None,
        ))]))
        .expect(1)
        .mount(&server)
        .await;
    let customer = Customer {
        email: Some("ana@example.com".into()),
        ..by_phone()
    };
    let cards = shopify(&server, 3).cards(&customer).await.unwrap();
    assert_eq!(cards.len(), 2);
    assert_eq!(cards[0].title, "Ana López");
    assert_eq!(cards[1].title, "Order #1001 — Unfulfilled");
}

#[tokio::test]
async fn a_refused_token_is_an_auth_error_without_the_token() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(GRAPHQL))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"
        })))
        .expect(1)
        .mount(&server)
        .await;
    let err = shopify(&server, 3).cards(&by_phone()).await.unwrap_err();
    assert_eq!(
        err,
        ConnectorError::Auth {
            connector: ConnectorKind::Shopify,
            status: 401
        }
    );
    assert!(!err.to_string().contains(TOKEN) && !format!("{err:?}").contains(TOKEN));
    let connector = shopify(&server, 3);
    assert!(!format!("{connector:?}").contains(TOKEN));
}

#[tokio::test]
async fn a_throttled_query_waits_as_its_cost_says_then_succeeds() {
    let server = MockServer::start().await;
    // 52 points needed, 42 left, 5000 a second: 2 ms.
    search("phone:+34600111222", 3)
        .respond_with(throttled(52, 42, 5000.0))
        .up_to_n_times(1)
        .with_priority(1)
        .expect(1)
        .mount(&server)
        .await;
    search("phone:+34600111222", 3)
        .respond_with(customers(vec![ana(page(vec![], None))]))
        .expect(1)
        .mount(&server)
        .await;
    let cards = shopify(&server, 3).cards(&by_phone()).await.unwrap();
    assert_eq!(cards.len(), 1);
    assert_eq!(cards[0].title, "Ana López");
}

#[tokio::test]
async fn a_throttle_longer_than_the_policy_allows_is_a_rate_limit_at_once() {
    let server = MockServer::start().await;
    // 752 points needed, 2 left, 50 a second: 15 s, over max_wait (1 s).
    search("phone:+34600111222", 3)
        .respond_with(throttled(752, 2, 50.0))
        .expect(1)
        .mount(&server)
        .await;
    let err = shopify(&server, 3).cards(&by_phone()).await.unwrap_err();
    assert_eq!(
        err,
        ConnectorError::RateLimited {
            connector: ConnectorKind::Shopify,
            retry_after: Some(Duration::from_secs(15)),
        }
    );
}

#[tokio::test]
async fn a_missing_scope_is_named() {
    let server = MockServer::start().await;
    search("phone:+34600111222", 3)
        .respond_with(access_denied("customers", "read_customers", json!(null)))
        .mount(&server)
        .await;
    let err = shopify(&server, 3).cards(&by_phone()).await.unwrap_err();
    assert!(
        matches!(err, ConnectorError::NotConfigured { .. }),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("read_customers access scope"),
        "{err}"
    );
    assert!(!err.is_transient());

    // Without read_orders the customer comes back and the orders do not.
    let server = MockServer::start().await;
    let partial = json!({"customers": {"nodes": [ana(json!(null))]}});
    search("phone:+34600111222", 3)
        .respond_with(access_denied("orders", "read_orders", partial))
        .mount(&server)
        .await;
    let err = shopify(&server, 3).cards(&by_phone()).await.unwrap_err();
    assert!(
        err.to_string().contains("read_orders access scope"),
        "{err}"
    );
}

#[tokio::test]
async fn a_slow_shop_is_a_timeout() {
    let server = MockServer::start().await;
    search("phone:+34600111222", 3)
        .respond_with(customers(vec![]).set_delay(Duration::from_millis(500)))
        .expect(2)
        .mount(&server)
        .await;
    let quick = CallPolicy {
        timeout: Duration::from_millis(100),
        attempts: 2,
        ..policy()
    };
    let err = shopify_with(&server, 3, quick)
        .cards(&by_phone())
        .await
        .unwrap_err();
    assert!(matches!(err, ConnectorError::Timeout { .. }), "{err:?}");
}

#[tokio::test]
async fn a_failing_shop_is_asked_again() {
    let server = MockServer::start().await;
    search("phone:+34600111222", 3)
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .with_priority(1)
        .expect(1)
        .mount(&server)
        .await;
    search("phone:+34600111222", 3)
        .respond_with(customers(vec![]))
        .expect(1)
        .mount(&server)
        .await;
    let cards = shopify(&server, 3).cards(&by_phone()).await.unwrap();
    assert_eq!(cards[0].title, "No Shopify customer for +34600111222");
}

#[tokio::test]
async fn frozen_missing_and_locked_shops_are_said_plainly() {
    for (status, says) in [
        (402, "frozen"),
        (404, "check connectors.shopify.shop"),
        (423, "locked"),
    ] {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path(GRAPHQL))
            .respond_with(
                ResponseTemplate::new(status).set_body_json(json!({"errors": "Not Found"})),
            )
            .expect(1)
            .mount(&server)
            .await;
        let err = shopify(&server, 3).cards(&by_phone()).await.unwrap_err();
        match &err {
            ConnectorError::Rejected { status: s, .. } => assert_eq!(*s, status),
            other => panic!("{status}: {other:?}"),
        }
        assert!(err.to_string().contains(says), "{err}");
    }
}

#[tokio::test]
async fn check_asks_the_shop_name_and_log_writes_nothing() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(GRAPHQL))
        .and(header("X-Shopify-Access-Token", TOKEN))
        .and(body_string_contains("shop { name }"))
        .respond_with(ok(json!({"shop": {"name": "Acme"}})))
        .expect(1)
        .mount(&server)
        .await;
    let shop = shopify(&server, 3);
    shop.check().await.unwrap();
    let entry = LogEntry {
        customer: by_phone(),
        conversation: "c1".into(),
        title: "WhatsApp conversation resolved by Ana".into(),
        body: "[10:02] Customer: hola".into(),
        at: Utc.with_ymd_and_hms(2026, 12, 3, 10, 5, 0).unwrap(),
    };
    assert_eq!(shop.log(&entry).await.unwrap(), Logged::NoRecord);
}

fn contact(tenant: &TenantId) -> Contact {
    let identity = ContactIdentity {
        wa_id: Some("34600111222".into()),
        ..Default::default()
    };
    let at = Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap();
    Contact::new(tenant.clone(), ContactId::new("ana").unwrap(), identity, at)
}

#[tokio::test]
async fn through_connectors_only_the_tenant_with_shopify_gets_cards() {
    let server = MockServer::start().await;
    search("phone:+34600111222", 3)
        .respond_with(customers(vec![ana(page(
            vec![order(1001, 1, "PAID", "FULFILLED")],
            None,
        ))]))
        .expect(1)
        .mount(&server)
        .await;
    let (acme, globex) = (
        TenantId::new("acme").unwrap(),
        TenantId::new("globex").unwrap(),
    );
    let store = Arc::new(MemoryStore::new());
    let doc = TenantSettings::from_yaml(
        "connectors:\n  shopify: {shop: acme.myshopify.com, orders: 3}\n",
    )
    .unwrap();
    let now = Utc.with_ymd_and_hms(2026, 12, 5, 12, 0, 0).unwrap();
    store
        .put_settings(SettingsPut {
            tenant: &acme,
            expected: 0,
            document: &doc,
            sections: &[],
            at: now,
            by: None,
            directory: None,
        })
        .await
        .unwrap();
    let secrets =
        StaticConnectorSecrets::new().with(acme.clone(), "shopify.token", Secret::new(TOKEN));
    let options = ConnectorOptions {
        endpoints: Endpoints::all_at(server.uri().parse().unwrap()),
        policy: policy(),
        ..Default::default()
    };
    let store: Arc<dyn Store> = store;
    let connectors = Connectors::new(
        store,
        Arc::new(secrets),
        Arc::new(ManualClock::new(now)),
        options,
    );

    let cards = connectors.context(&acme, &contact(&acme)).await;
    assert_eq!(cards.len(), 2, "{cards:#?}");
    assert!(cards
        .iter()
        .all(|c| c.source == "Shopify" && c.fetched_at == Some(now)));
    assert_eq!(cards[0].title, "Ana López");
    assert_eq!(cards[1].title, "Order #1001 — Fulfilled");
    assert_eq!(
        cards[1].url.as_deref(),
        Some("https://admin.shopify.com/store/acme/orders/450790001")
    );

    assert!(connectors
        .context(&globex, &contact(&globex))
        .await
        .is_empty());
}

/// A Dev Dashboard app: its client id and secret are exchanged for a token
/// (client credentials grant, a form body), kept until shortly before it
/// expires, renewed then or when the shop refuses it, and never sent in
/// a URL or shown in an error.
#[tokio::test]
async fn a_dev_dashboard_app_asks_for_tokens_and_renews_them() {
    use inbox_connectors::ShopifyAuth;
    use inbox_core::ports::Clock;
    let server = MockServer::start().await;
    let grant = || {
        Mock::given(method("POST"))
            .and(path("/admin/oauth/access_token"))
            .and(header("content-type", "application/x-www-form-urlencoded"))
            .and(body_string_contains("grant_type=client_credentials"))
            .and(body_string_contains("client_id=cid-1"))
            .and(body_string_contains("client_secret=csecret-1"))
    };
    grant()
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "shpat_granted_1", "scope": "read_customers,read_orders", "expires_in": 86399})))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    grant()
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "shpat_granted_2", "scope": "read_customers,read_orders", "expires_in": 86399})))
        .mount(&server)
        .await;
    for token in ["shpat_granted_1", "shpat_granted_2"] {
        Mock::given(method("POST"))
            .and(path(GRAPHQL))
            .and(header("X-Shopify-Access-Token", token))
            .respond_with(ok(json!({"shop": {"name": "Acme"}})))
            .mount(&server)
            .await;
    }
    let t0 = Utc.with_ymd_and_hms(2026, 12, 7, 10, 0, 0).unwrap();
    let clock = Arc::new(ManualClock::new(t0));
    let auth = ShopifyAuth::ClientCredentials {
        client_id: Secret::new("cid-1"),
        client_secret: Secret::new("csecret-1"),
    };
    let api = Api::new(ConnectorKind::Shopify, reqwest::Client::new(), policy());
    let settings = ShopifySettings {
        shop: "acme.myshopify.com".into(),
        ..Default::default()
    };
    let shop = Shopify::with_auth(
        settings,
        auth,
        api,
        server.uri().parse().unwrap(),
        "2025-10".into(),
        clock.clone(),
    );
    assert!(!format!("{shop:?}").contains("csecret-1"));
    shop.check().await.unwrap();
    shop.check().await.unwrap();
    let grants = |all: &[wiremock::Request]| {
        all.iter()
            .filter(|r| r.url.path() == "/admin/oauth/access_token")
            .count()
    };
    let all = server.received_requests().await.unwrap();
    assert_eq!(grants(&all), 1, "the token is kept");
    assert!(all.iter().all(|r| !r.url.as_str().contains("csecret")));
    // A day on, it is renewed before it expires.
    clock.advance(chrono::TimeDelta::hours(23) + chrono::TimeDelta::minutes(56));
    shop.check().await.unwrap();
    assert_eq!(grants(&server.received_requests().await.unwrap()), 2);
    assert!(clock.now() > t0);
}

#[tokio::test]
async fn a_refused_client_is_a_credentials_problem() {
    use inbox_connectors::ShopifyAuth;
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/admin/oauth/access_token"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "error": "invalid_client", "error_description": "Client credentials are invalid"})))
        .mount(&server)
        .await;
    let auth = ShopifyAuth::ClientCredentials {
        client_id: Secret::new("cid-1"),
        client_secret: Secret::new("csecret-1"),
    };
    let api = Api::new(ConnectorKind::Shopify, reqwest::Client::new(), policy());
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 12, 7, 10, 0, 0).unwrap(),
    ));
    let settings = ShopifySettings {
        shop: "acme.myshopify.com".into(),
        ..Default::default()
    };
    let shop = Shopify::with_auth(
        settings,
        auth,
        api,
        server.uri().parse().unwrap(),
        "2025-10".into(),
        clock,
    );
    let err = shop.check().await.unwrap_err();
    assert!(
        matches!(err, ConnectorError::Auth { status: 400, .. }),
        "{err:?}"
    );
    assert!(!format!("{err} {err:?}").contains("csecret-1"));
}
