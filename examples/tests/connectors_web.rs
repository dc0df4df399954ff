//! The customer's CRM and shop records in the web inbox, with HubSpot and
//! Shopify played by a local mock answering as their APIs do: an admin
//! stores the connectors' tokens in Settings → Connectors (never shown
//! again) and checks them; an agent sees one section per connector beside
//! the conversation and puts an order's status into her reply; a shop
//! that fails is a warning line in its own section while HubSpot's cards
//! stay, and one too slow for the view is asked again and drawn when its
//! answer is in. Screenshots go to `target/screenshots/`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod web;

use fantoccini::Client;
use serde_json::{json, Value};
use std::time::Duration;
use wiremock::matchers::{body_string_contains, header, method, path, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

use inbox_connectors::{CallPolicy, ConnectorOptions, Endpoints};
use inbox_core::settings::{HubSpotSettings, ShopifySettings};
use inbox_core::{Actor, AgentId, TenantId};
use inbox_examples::server::config::ServerConfig;
use inbox_examples::server::launch::{Delivery, Launch, Running};
use inbox_examples::server::simulator::SimContent;
use web::*;

const HUBSPOT_TOKEN: &str = "pat-na1-0b7c1e2d-3f4a-4b5c-8d9e-0f1a2b3c4d5e";
const SHOPIFY_TOKEN: &str = "shpat_0123456789abcdef0123456789abcdef";
const GRAPHQL: &str = "/admin/api/2025-10/graphql.json";
const MARTA: &str = "34600100001";

/// The demo server with connectors whose providers are all at `mock`; a
/// view waits `deadline` for them.
async fn server_at(mock: &MockServer, deadline: Duration) -> Running {
    let settings = inbox_http::Settings {
        connectors: Some(ConnectorOptions {
            endpoints: Endpoints::all_at(mock.uri().parse().unwrap()),
            policy: CallPolicy {
                timeout: Duration::from_secs(4),
                attempts: 2,
                base_backoff: Duration::from_millis(5),
                max_wait: Duration::from_secs(1),
                per_second: 1000,
            },
            view_deadline: deadline,
            ..Default::default()
        }),
        secrets: Some(inbox_http::secrets::SecretBox::ephemeral()),
        ..Default::default()
    };
    let server = Launch {
        config: ServerConfig::parse(include_str!("../server/demo.yaml")).unwrap(),
        listen: "127.0.0.1:0".parse().unwrap(),
        database_url: None,
        delivery: Delivery::Simulate {
            rate: 0,
            status_delay: Duration::from_millis(150),
            graph_timeout: Duration::from_secs(3),
            late: Default::default(),
        },
        tick: Duration::from_millis(200),
        settings,
    }
    .start()
    .await
    .unwrap();
    // The tenant's settings document names both connectors.
    let ada = Actor::new(TenantId::new("demo").unwrap(), AgentId::new("ada").unwrap());
    let current = server.inbox.settings(&ada).await.unwrap();
    let mut doc = current.document.clone();
    doc.connectors.hubspot = Some(HubSpotSettings {
        portal_id: Some(4431),
        ..Default::default()
    });
    doc.connectors.shopify = Some(ShopifySettings {
        shop: "acme-store.myshopify.com".into(),
        orders: 3,
        ..Default::default()
    });
    server
        .inbox
        .update_settings(&ada, current.version, doc)
        .await
        .unwrap();
    server
}

/// Stores both tokens through the API, as Ada.
async fn store_tokens(server: &Running) {
    let http = reqwest::Client::new();
    let session: Value = http
        .post(format!("{}/api/session", server.url))
        .json(&json!({"agent": "ada", "password": "ada"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let bearer = session["token"].as_str().unwrap();
    for (id, token) in [("hubspot", HUBSPOT_TOKEN), ("shopify", SHOPIFY_TOKEN)] {
        let answer = http
            .put(format!("{}/api/connectors/{id}/credentials", server.url))
            .bearer_auth(bearer)
            .json(&json!({"credentials": {"token": token}}))
            .send()
            .await
            .unwrap();
        assert!(answer.status().is_success(), "{id}: {}", answer.status());
    }
}

/// HubSpot with the private app's token.
fn hubspot(verb: &str, to: &str) -> wiremock::MockBuilder {
    Mock::given(method(verb))
        .and(path(to.to_string()))
        .and(header(
            "authorization",
            format!("Bearer {HUBSPOT_TOKEN}").as_str(),
        ))
}

/// HubSpot as documented: Marta is a customer (her owner, her company,
/// one open deal); the token check answers.
async fn hubspot_knows_marta(mock: &MockServer) {
    hubspot("POST", "/crm/v3/objects/contacts/search")
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"total": 1, "results": [{
            "id": "51",
            "properties": {"hs_object_id": "51", "firstname": "Marta", "lastname": "Ruiz",
                "email": "marta@example.com", "phone": "+34600100001", "mobilephone": null,
                "lifecyclestage": "customer", "hubspot_owner_id": "41629779",
                "createdate": "2023-01-10T09:00:00.000Z", "lastmodifieddate": "2026-11-30T09:00:00.000Z"},
            "createdAt": "2023-01-10T09:00:00.000Z", "updatedAt": "2026-11-30T09:00:00.000Z",
            "archived": false}]})))
        .mount(mock)
        .await;
    hubspot("GET", "/crm/v3/owners/41629779")
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "41629779", "email": "lucia@acme.es", "type": "PERSON",
            "firstName": "Lucía", "lastName": "Gómez", "userId": 9586504,
            "createdAt": "2019-12-25T13:01:35.228Z", "updatedAt": "2023-08-22T13:40:26.790Z",
            "archived": false})))
        .mount(mock)
        .await;
    hubspot("GET", "/crm/v4/objects/contacts/51/associations/companies")
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"results": [
            {"toObjectId": 7002, "associationTypes": [
                {"category": "HUBSPOT_DEFINED", "typeId": 1, "label": "Primary"}]}]})))
        .mount(mock)
        .await;
    hubspot("GET", "/crm/v3/objects/companies/7002")
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "7002", "properties": {"name": "Ruiz Interiores S.L.", "hs_object_id": "7002"},
            "createdAt": "2022-01-01T00:00:00.000Z", "updatedAt": "2024-01-01T00:00:00.000Z",
            "archived": false})))
        .mount(mock)
        .await;
    hubspot("GET", "/crm/v4/objects/contacts/51/associations/deals")
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"results": [
            {"toObjectId": 9001, "associationTypes": [
                {"category": "HUBSPOT_DEFINED", "typeId": 4, "label": null}]}]})))
        .mount(mock)
        .await;
    hubspot("POST", "/crm/v3/objects/deals/batch/read")
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "status": "COMPLETE",
            "results": [{"id": "9001", "properties": {
                "dealname": "Spring restock", "dealstage": "appointmentscheduled",
                "pipeline": "default", "amount": "1500", "deal_currency_code": "EUR",
                "closedate": "2026-12-20T00:00:00.000Z", "hs_is_closed": "false",
                "hs_object_id": "9001"},
                "createdAt": "2026-01-01T00:00:00.000Z", "updatedAt": "2026-11-01T00:00:00.000Z",
                "archived": false}],
            "startedAt": "2026-12-01T10:00:00.000Z", "completedAt": "2026-12-01T10:00:00.100Z"})))
        .mount(mock)
        .await;
    let stage = |id: &str, label: &str, closed: bool| {
        json!({"id": id, "label": label, "displayOrder": 0,
            "metadata": {"isClosed": closed.to_string(), "probability": "0.2"},
            "createdAt": "2024-01-01T00:00:00.000Z", "updatedAt": "2024-01-01T00:00:00.000Z",
            "archived": false})
    };
    hubspot("GET", "/crm/v3/pipelines/deals")
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"results": [
            {"id": "default", "label": "Sales Pipeline", "displayOrder": 0, "archived": false,
             "stages": [stage("appointmentscheduled", "Appointment Scheduled", false),
                        stage("closedwon", "Closed Won", true)]}]})))
        .mount(mock)
        .await;
    hubspot("GET", "/crm/v3/objects/contacts")
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"results": []})))
        .mount(mock)
        .await;
}

/// A POST to the shop's GraphQL endpoint with the custom app's token,
/// whose document contains `part`.
fn shopify(part: &str) -> wiremock::MockBuilder {
    Mock::given(method("POST"))
        .and(path(GRAPHQL))
        .and(header("X-Shopify-Access-Token", SHOPIFY_TOKEN))
        .and(body_string_contains(part))
}

/// A GraphQL answer with `data` (and the cost Shopify adds to each).
fn graphql_ok(data: Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({"data": data, "extensions": {"cost": {
        "requestedQueryCost": 52, "actualQueryCost": 12,
        "throttleStatus": {"maximumAvailable": 2000.0, "currentlyAvailable": 1988, "restoreRate": 100.0}}}}))
}

/// An order `#<number>` placed on `day` of December 2026.
fn order(
    number: u32,
    day: u32,
    financial: &str,
    fulfillment: &str,
    tracking: Option<&str>,
) -> Value {
    let fulfillments = match tracking {
        Some(n) => json!([{"trackingInfo": [{"company": "UPS", "number": n,
            "url": format!("https://www.ups.com/track?tracknum={n}")}]}]),
        None => json!([]),
    };
    json!({
        "id": format!("gid://shopify/Order/{}", 450789000 + number),
        "legacyResourceId": (450789000 + number).to_string(),
        "name": format!("#{number}"),
        "processedAt": format!("2026-12-{day:02}T10:15:00Z"),
        "cancelledAt": null,
        "displayFinancialStatus": financial,
        "displayFulfillmentStatus": fulfillment,
        "totalPriceSet": {
            "shopMoney": {"amount": "129.90", "currencyCode": "EUR"},
            "presentmentMoney": {"amount": "129.90", "currencyCode": "EUR"}
        },
        "fulfillments": fulfillments
    })
}

/// The shop knows Marta with two orders (one shipped), after `delay`;
/// the token check answers.
async fn shop_knows_marta(mock: &MockServer, delay: Duration) {
    let marta = json!({
        "id": "gid://shopify/Customer/207119551",
        "legacyResourceId": "207119551",
        "displayName": "Marta Ruiz",
        "numberOfOrders": "2",
        "amountSpent": {"amount": "259.80", "currencyCode": "EUR"},
        "defaultEmailAddress": {"emailAddress": "marta@example.com"},
        "defaultPhoneNumber": {"phoneNumber": "+34600100001"},
        "orders": {
            "nodes": [
                order(1005, 5, "PAID", "FULFILLED", Some("1Z999AA10123456784")),
                order(1004, 2, "PAID", "UNFULFILLED", None),
            ],
            "pageInfo": {"hasNextPage": false, "endCursor": null}
        }
    });
    shopify("customers(")
        .respond_with(graphql_ok(json!({"customers": {"nodes": [marta]}})).set_delay(delay))
        .mount(mock)
        .await;
    shopify("shop { name }")
        .respond_with(graphql_ok(json!({"shop": {"name": "Acme Store"}})))
        .mount(mock)
        .await;
}

/// Marta writes; `page` (Ana) opens her conversation and claims it.
async fn marta_writes_and_ana_opens(server: &Running, page: &Client) {
    let meta = server.meta.clone().unwrap();
    meta.customer_writes(
        MARTA,
        "Marta Ruiz",
        SimContent::Text("Where is my order?".into()),
    )
    .await
    .unwrap();
    let id = row_id(page, "Marta").await;
    click(page, &format!("[data-id=\"{id}\"]")).await;
    click(page, "[data-testid=claim]").await;
    wait_for(page, "[data-testid=owner]", |t| t == "Ana").await;
}

/// Scrolls the contact panel to the customer's records.
async fn show_records(page: &Client) {
    js(
        page,
        "document.querySelector('[data-testid=crm]').scrollIntoView({ block: 'start' }); return true;",
    )
    .await;
}

/// axe-core's serious findings, none expected.
async fn accessible(page: &Client, what: &str) {
    if let Some(problems) = accessibility_problems(page).await {
        assert!(
            problems.is_empty(),
            "{what}: accessibility problems:\n{}",
            problems.join("\n")
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_stores_and_checks_the_tokens_never_seeing_them_again() {
    let Some(chromedriver) = chromedriver_or_skip() else {
        return;
    };
    let mock = MockServer::start().await;
    hubspot_knows_marta(&mock).await;
    shop_knows_marta(&mock, Duration::ZERO).await;
    let server = server_at(&mock, Duration::from_secs(2)).await;
    let driver = start_driver(&chromedriver).await;
    let ada = browser(&driver).await;
    sign_in(&ada, &server.url, "ada").await;
    click(&ada, "[data-testid=tab-admin]").await;
    wait_for(&ada, "[data-testid=connector-hubspot]", |t| {
        t.contains("HubSpot") && t.contains("in the settings, on")
    })
    .await;
    wait_for(&ada, "[data-testid=connector-zoho]", |t| {
        t.contains("not in the settings") && t.contains("refresh_token")
    })
    .await;
    wait_for(&ada, "[data-testid=credential-state-hubspot-token]", |t| {
        t == "not set"
    })
    .await;
    let kind = js(
        &ada,
        "const i = document.querySelector('[data-testid=credential-hubspot-token]');
         return `${i.type} ${i.autocomplete}`;",
    )
    .await;
    assert_eq!(kind, "password off");

    for (id, token) in [("hubspot", HUBSPOT_TOKEN), ("shopify", SHOPIFY_TOKEN)] {
        type_into(&ada, &format!("[data-testid=credential-{id}-token]"), token).await;
        click(&ada, &format!("[data-testid=connector-save-{id}]")).await;
        wait_for(
            &ada,
            &format!("[data-testid=credential-state-{id}-token]"),
            |t| t == "set",
        )
        .await;
        assert_eq!(
            value_of(&ada, &format!("[data-testid=credential-{id}-token]")).await,
            "",
            "{id}: the input is emptied once stored"
        );
    }
    // A live redraw later, the tokens are still nowhere on the page.
    let html = ada.source().await.unwrap();
    let typed = js(
        &ada,
        "return [...document.querySelectorAll('input, textarea')].map((i) => i.value).join(' ');",
    )
    .await;
    for token in [HUBSPOT_TOKEN, SHOPIFY_TOKEN] {
        assert!(!html.contains(token), "the page shows a token");
        assert!(
            !typed.as_str().unwrap().contains(token),
            "an input holds a token"
        );
    }

    for id in ["hubspot", "shopify"] {
        click(&ada, &format!("[data-testid=connector-check-{id}]")).await;
        wait_for(&ada, &format!("[data-testid=connector-result-{id}]"), |t| {
            t.starts_with("OK:")
        })
        .await;
    }
    // HubSpot was asked with the token typed (so it was stored as typed).
    let asked = mock.received_requests().await.unwrap();
    assert!(asked
        .iter()
        .any(|r| r.url.path() == "/crm/v3/objects/contacts"
            && r.headers.get("authorization").and_then(|v| v.to_str().ok())
                == Some(format!("Bearer {HUBSPOT_TOKEN}").as_str())));
    js(
        &ada,
        "document.getElementById('banner').classList.add('hidden');
         document.querySelector('[data-testid=connectors]').closest('section').scrollIntoView({ block: 'start' });
         return true;",
    )
    .await;
    let png = screenshot(&ada, "connectors-settings.png").await;
    eprintln!("screenshot: {}", png.display());
    accessible(&ada, "Settings → Connectors").await;

    // The supervisor sees the same list, read-only.
    let sam = browser(&driver).await;
    sign_in(&sam, &server.url, "sam").await;
    click(&sam, "[data-testid=tab-admin]").await;
    wait_for(&sam, "[data-testid=credential-state-shopify-token]", |t| {
        t == "set"
    })
    .await;
    wait_for(&sam, "[data-testid=connectors-read-only]", |_| true).await;
    let controls = js(
        &sam,
        "return document.querySelectorAll('[data-testid=connectors] input, [data-testid=connectors] button').length;",
    )
    .await;
    assert_eq!(controls, 0, "a supervisor gets no inputs or buttons");
    sam.close().await.unwrap();

    // Removed, the check says what is missing.
    click(&ada, "[data-testid=credential-remove-shopify-token]").await;
    wait_for(&ada, "[data-testid=credential-state-shopify-token]", |t| {
        t == "not set"
    })
    .await;
    click(&ada, "[data-testid=connector-check-shopify]").await;
    wait_for(&ada, "[data-testid=connector-result-shopify]", |t| {
        t.starts_with("Not working:")
    })
    .await;
    ada.close().await.unwrap();
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_sees_each_connector_and_inserts_an_order_status() {
    let Some(chromedriver) = chromedriver_or_skip() else {
        return;
    };
    let mock = MockServer::start().await;
    hubspot_knows_marta(&mock).await;
    shop_knows_marta(&mock, Duration::ZERO).await;
    let server = server_at(&mock, Duration::from_secs(2)).await;
    store_tokens(&server).await;
    let driver = start_driver(&chromedriver).await;
    let ana = browser(&driver).await;
    sign_in(&ana, &server.url, "ana").await;
    marta_writes_and_ana_opens(&server, &ana).await;

    // (The panel may be redrawn live at any moment: everything checked is
    // read in one go, never from an element kept across a redraw.)
    wait_for(&ana, "[data-testid=crm-section-hubspot]", |t| {
        t.contains("Marta Ruiz — Customer")
            && t.contains("Lifecycle stage")
            && t.contains("Deal: Spring restock")
            && t.contains("fetched")
            && t.contains("ago")
            && t.contains("Lucía Gómez")
            && t.contains("Ruiz Interiores S.L.")
    })
    .await;
    let link = js(
        &ana,
        "const a = document.querySelector('[data-testid=crm-section-hubspot] a');
         return `${a.getAttribute('href')} ${a.rel} ${a.target}`;",
    )
    .await;
    assert_eq!(
        link,
        "https://app.hubspot.com/contacts/4431/record/0-1/51 noopener noreferrer _blank"
    );
    wait_for(&ana, "[data-testid=crm-section-shopify]", |t| {
        t.contains("#1005") && t.contains("#1004") && t.contains("Insert order status")
    })
    .await;
    let problems = js(
        &ana,
        "return document.querySelectorAll('[data-testid=crm-problem]').length;",
    )
    .await;
    assert_eq!(problems, 0);

    // What Ana typed stays; the first order's status follows it.
    type_into(&ana, "[data-testid=composer]", "Hi Marta, let me check.").await;
    click(&ana, "[data-testid=crm-snippet]").await;
    let text = value_of(&ana, "[data-testid=composer]").await;
    assert!(
        text.starts_with("Hi Marta, let me check. Your order #1005")
            && text.contains("has been shipped"),
        "{text}"
    );
    let focused = js(&ana, "return document.activeElement.dataset.testid;").await;
    assert_eq!(focused, "composer");
    js(
        &ana,
        "document.querySelector('[data-testid=crm-section-shopify]').scrollIntoView({ block: 'start' }); return true;",
    )
    .await;
    let png = screenshot(&ana, "connectors-panel.png").await;
    eprintln!("screenshot: {}", png.display());
    accessible(&ana, "the records in the contact panel").await;
    // Sent as a reply, it reaches Marta as it reads.
    click(&ana, "[data-testid=send-reply]").await;
    until_received(server.meta.as_ref().unwrap(), &text, &ana).await;
    ana.close().await.unwrap();
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_shop_is_a_line_in_its_section_and_hubspot_stays() {
    let Some(chromedriver) = chromedriver_or_skip() else {
        return;
    };
    let mock = MockServer::start().await;
    hubspot_knows_marta(&mock).await;
    Mock::given(method("POST"))
        .and(path_regex(r"^/admin/api/.*/graphql\.json$"))
        .respond_with(ResponseTemplate::new(500).set_body_string("Internal Server Error"))
        .mount(&mock)
        .await;
    let server = server_at(&mock, Duration::from_secs(2)).await;
    store_tokens(&server).await;
    let driver = start_driver(&chromedriver).await;
    let ana = browser(&driver).await;
    sign_in(&ana, &server.url, "ana").await;
    marta_writes_and_ana_opens(&server, &ana).await;

    let line = wait_for(
        &ana,
        "[data-testid=crm-section-shopify] [data-testid=crm-problem]",
        |t| t.contains("Shopify:"),
    )
    .await;
    assert_eq!(line.attr("role").await.unwrap().as_deref(), Some("status"));
    wait_for(&ana, "[data-testid=crm-section-hubspot]", |t| {
        t.contains("Marta Ruiz — Customer") && t.contains("Lifecycle stage")
    })
    .await;
    let shown = js(
        &ana,
        "return document.querySelectorAll('[data-testid=crm-section-shopify] [data-testid=crm-card], [data-testid=crm-section-hubspot] [data-testid=crm-problem]').length;",
    )
    .await;
    assert_eq!(shown, 0, "no Shopify card, no HubSpot problem");
    show_records(&ana).await;
    let png = screenshot(&ana, "connectors-problem.png").await;
    eprintln!("screenshot: {}", png.display());
    ana.close().await.unwrap();
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_shop_is_asked_again_and_drawn_when_it_answers() {
    let Some(chromedriver) = chromedriver_or_skip() else {
        return;
    };
    let mock = MockServer::start().await;
    hubspot_knows_marta(&mock).await;
    shop_knows_marta(&mock, Duration::from_millis(2500)).await;
    let server = server_at(&mock, Duration::from_secs(1)).await;
    store_tokens(&server).await;
    let driver = start_driver(&chromedriver).await;
    let ana = browser(&driver).await;
    sign_in(&ana, &server.url, "ana").await;
    let meta = server.meta.clone().unwrap();
    meta.customer_writes(
        MARTA,
        "Marta Ruiz",
        SimContent::Text("Where is my order?".into()),
    )
    .await
    .unwrap();
    let id = row_id(&ana, "Marta").await;
    click(&ana, &format!("[data-id=\"{id}\"]")).await;

    // First the view without the shop (it was slow), saying so.
    wait_for(
        &ana,
        "[data-testid=crm-section-shopify] [data-testid=crm-problem]",
        |t| t.contains("Shopify is slow to answer") && t.contains("Asking again"),
    )
    .await;
    wait_for(&ana, "[data-testid=crm-section-hubspot]", |t| {
        t.contains("Lifecycle stage")
    })
    .await;
    // Meanwhile Ana types a tag in the panel: the redraw keeps it.
    type_into(&ana, "[data-testid=contact-tag-input]", "vip").await;
    // Asked again, the orders are drawn in its place.
    wait_for(&ana, "[data-testid=crm-section-shopify]", |t| {
        t.contains("#1005") && !t.contains("slow to answer")
    })
    .await;
    assert_eq!(
        value_of(&ana, "[data-testid=contact-tag-input]").await,
        "vip"
    );
    let asked = js(
        &ana,
        "return performance.getEntriesByType('resource').filter((e) => /\\/api\\/contacts\\/[^/]+\\/context$/.test(e.name)).length;",
    )
    .await;
    assert_eq!(asked, 1, "the context is asked for again once");
    ana.close().await.unwrap();
    server.shutdown().await;
}
