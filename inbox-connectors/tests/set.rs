#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! A tenant's connectors as the inbox's customer context: a slow provider
//! never holds a view past its deadline (its answer shows on the next),
//! answers and failures are kept for a while, one provider down leaves the
//! others on screen, and changed credentials apply once forgotten.

#[path = "shopify/answers.rs"]
#[allow(dead_code)]
mod answers;
#[path = "hubspot/fixtures.rs"]
#[allow(dead_code)]
mod fixtures;

use chrono::{TimeDelta, TimeZone, Utc};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use inbox_connectors::{
    CallPolicy, ConnectorOptions, Connectors, Endpoints, StaticConnectorSecrets,
};
use inbox_core::model::{Contact, ContactIdentity};
use inbox_core::ports::{Clock, ContextCard, ManualClock, SettingsPut, Store};
use inbox_core::settings::TenantSettings;
use inbox_core::{ContactId, Secret, TenantId};
use inbox_store_memory::MemoryStore;

use fixtures::{call, contact, found, no_associations, SEARCH, TOKEN};

struct Setup {
    mock: MockServer,
    connectors: Connectors,
    clock: Arc<ManualClock>,
    acme: TenantId,
}

fn maria(tenant: &TenantId) -> Contact {
    let t0 = Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap();
    Contact::new(
        tenant.clone(),
        ContactId::new("c1").unwrap(),
        ContactIdentity::wa("34600111222"),
        t0,
    )
}

async fn setup(yaml: &str, secrets: StaticConnectorSecrets) -> Setup {
    let mock = MockServer::start().await;
    let acme = TenantId::new("acme").unwrap();
    let store = Arc::new(MemoryStore::new());
    let t0 = Utc.with_ymd_and_hms(2026, 12, 7, 10, 0, 0).unwrap();
    let document = TenantSettings::from_yaml(yaml).unwrap();
    inbox_core::ports::Settings::put_settings(
        &*store,
        SettingsPut {
            tenant: &acme,
            expected: 0,
            document: &document,
            sections: &[],
            at: t0,
            by: None,
            directory: None,
        },
    )
    .await
    .unwrap();
    let clock = Arc::new(ManualClock::new(t0));
    let options = ConnectorOptions {
        endpoints: Endpoints::all_at(mock.uri().parse().unwrap()),
        policy: CallPolicy {
            timeout: Duration::from_secs(2),
            attempts: 1,
            base_backoff: Duration::from_millis(5),
            max_wait: Duration::from_secs(1),
            per_second: 1000,
        },
        view_deadline: Duration::from_millis(150),
        ..Default::default()
    };
    let connectors = Connectors::new(
        store as Arc<dyn Store>,
        Arc::new(secrets),
        clock.clone(),
        options,
    );
    Setup {
        mock,
        connectors,
        clock,
        acme,
    }
}

fn hubspot_secrets() -> StaticConnectorSecrets {
    let acme = TenantId::new("acme").unwrap();
    StaticConnectorSecrets::new().with(acme, "hubspot.token", Secret::new(TOKEN))
}

/// HubSpot finds Maria after `delay`.
async fn hubspot_finds_maria(mock: &MockServer, delay: Duration) {
    call("POST", SEARCH)
        .respond_with(
            found(vec![contact(
                "51",
                "2026-12-01T10:00:00.000Z",
                json!({"firstname": "Maria", "lifecyclestage": "customer"}),
            )])
            .set_delay(delay),
        )
        .mount(mock)
        .await;
    for to in ["companies", "deals"] {
        call(
            "GET",
            &format!("/crm/v4/objects/contacts/51/associations/{to}"),
        )
        .respond_with(no_associations())
        .mount(mock)
        .await;
    }
}

async fn searches(mock: &MockServer) -> usize {
    let all = mock.received_requests().await.unwrap();
    all.iter().filter(|r| r.url.path() == SEARCH).count()
}

fn titles(cards: &[ContextCard]) -> Vec<String> {
    cards
        .iter()
        .map(|c| format!("{}: {}", c.source, c.problem.as_deref().unwrap_or(&c.title)))
        .collect()
}

/// Asks until the answer has no pending card (the provider's answer
/// arrived in the cache), at most ~5 s.
async fn settled(s: &Setup, contact: &Contact) -> Vec<ContextCard> {
    for _ in 0..100 {
        let cards = s.connectors.context(&s.acme, contact).await;
        if cards.iter().all(|c| !c.extra.contains_key("pending")) {
            return cards;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the provider's answer never arrived");
}

#[tokio::test]
async fn a_slow_provider_never_holds_the_view_and_shows_on_the_next() {
    let s = setup("connectors: {hubspot: {}}", hubspot_secrets()).await;
    hubspot_finds_maria(&s.mock, Duration::from_millis(1500)).await;
    let m = maria(&s.acme);
    let first = s.connectors.context(&s.acme, &m).await;
    assert_eq!(
        titles(&first),
        ["HubSpot: HubSpot is slow to answer; its answer shows here when it arrives"],
        "{first:?}"
    );
    assert_eq!(
        first[0].extra.get("pending").map(String::as_str),
        Some("true")
    );
    // Views meanwhile do not ask again: one search in flight.
    s.connectors.context(&s.acme, &m).await;
    let later = settled(&s, &m).await;
    assert_eq!(titles(&later), ["HubSpot: Maria — Customer"]);
    assert_eq!(searches(&s.mock).await, 1);
}

#[tokio::test]
async fn answers_are_kept_while_fresh_then_a_slow_refresh_shows_the_last_one() {
    let s = setup("connectors: {hubspot: {}}", hubspot_secrets()).await;
    hubspot_finds_maria(&s.mock, Duration::ZERO).await;
    let m = maria(&s.acme);
    let t0 = s.clock.now();
    // (However loaded the machine, the first answer is waited for.)
    assert_eq!(
        titles(&s.connectors.context(&s.acme, &m).await),
        ["HubSpot: Maria — Customer"]
    );
    s.clock.advance(TimeDelta::seconds(59));
    s.connectors.context(&s.acme, &m).await;
    assert_eq!(searches(&s.mock).await, 1, "asked again while fresh");

    // A minute on HubSpot has become slow: the last answer, with its time,
    // and a word that it is being refreshed.
    s.mock.reset().await;
    hubspot_finds_maria(&s.mock, Duration::from_millis(1500)).await;
    s.clock.advance(TimeDelta::seconds(2));
    let stale = s.connectors.context(&s.acme, &m).await;
    assert_eq!(
        titles(&stale),
        [
            "HubSpot: Maria — Customer",
            "HubSpot: HubSpot is slow to refresh; its answer shows here when it arrives"
        ]
    );
    assert_eq!(stale[0].fetched_at, Some(t0));
    let fresh = settled(&s, &m).await;
    assert_eq!(fresh[0].fetched_at, Some(s.clock.now()));
}

#[tokio::test]
async fn one_provider_down_leaves_the_others_and_its_failure_is_kept_briefly() {
    let yaml = "connectors: {hubspot: {}, shopify: {shop: acme.myshopify.com, orders: 1}}";
    let acme = TenantId::new("acme").unwrap();
    let secrets = hubspot_secrets().with(acme, "shopify.token", Secret::new("shpat_test"));
    let s = setup(yaml, secrets).await;
    Mock::given(method("POST"))
        .and(path(SEARCH))
        .respond_with(ResponseTemplate::new(503))
        .mount(&s.mock)
        .await;
    Mock::given(method("POST"))
        .and(path("/admin/api/2025-10/graphql.json"))
        .respond_with(answers::customers(vec![answers::ana(answers::page(
            vec![],
            None,
        ))]))
        .mount(&s.mock)
        .await;
    let m = maria(&s.acme);
    let cards = s.connectors.context(&s.acme, &m).await;
    assert_eq!(
        titles(&cards),
        [
            "HubSpot: HubSpot is unavailable: it answered 503",
            "Shopify: Ana López"
        ]
    );
    // Within the failure's 15 s HubSpot is not asked again; after, it is.
    s.clock.advance(TimeDelta::seconds(10));
    s.connectors.context(&s.acme, &m).await;
    assert_eq!(searches(&s.mock).await, 1);
    s.clock.advance(TimeDelta::seconds(6));
    s.connectors.context(&s.acme, &m).await;
    assert_eq!(searches(&s.mock).await, 2);
}

#[tokio::test]
async fn missing_credentials_say_so_and_other_tenants_see_nothing() {
    let s = setup(
        "connectors: {hubspot: {}, zoho: {enabled: false}}",
        StaticConnectorSecrets::new(),
    )
    .await;
    let cards = s.connectors.context(&s.acme, &maria(&s.acme)).await;
    assert_eq!(
        titles(&cards),
        ["HubSpot: HubSpot is not set up: no token (the private app's access token (pat-...))"]
    );
    let globex = TenantId::new("globex").unwrap();
    assert!(s
        .connectors
        .context(&globex, &maria(&globex))
        .await
        .is_empty());
    assert!(s.mock.received_requests().await.unwrap().is_empty());
}
