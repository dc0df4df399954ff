#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Deliveries against a local HTTP server: signatures a receiver can
//! verify, retries on 5xx, dead letters after the limit, replay.

use chrono::TimeDelta;
use std::sync::Arc;
use std::time::Duration;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use inbox_core::ports::{Clock, Store, SubscriptionLog};
use inbox_core::testing::Fixture;
use inbox_core::{Secret, TenantId};
use inbox_store_memory::MemoryStore;
use inbox_subscriptions::{
    verify, RetryPolicy, Subscription, SubscriptionDispatcher, SIGNATURE_HEADER,
};

fn policy() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 3,
        base_delay: Duration::from_secs(10),
        max_delay: Duration::from_secs(60),
        timeout: Duration::from_secs(5),
    }
}

/// Mounts answers on `server`, in order: each `(status, Some(n))` for the
/// next `n` requests, and a final `(status, None)` for all after.
async fn answers(server: &MockServer, plan: &[(u16, Option<u64>)]) {
    for (status, times) in plan {
        let mock = Mock::given(method("POST")).respond_with(ResponseTemplate::new(*status));
        match times {
            Some(n) => mock.up_to_n_times(*n).mount(server).await,
            None => mock.mount(server).await,
        }
    }
}

/// A dispatcher with subscription `crm` to `server`, its state in `log`.
fn dispatcher(
    f: &Fixture,
    log: Arc<dyn SubscriptionLog>,
    server: &MockServer,
    events: Vec<String>,
) -> SubscriptionDispatcher {
    let mut d =
        SubscriptionDispatcher::new(f.store.clone(), log, f.clock.clone(), policy()).unwrap();
    d.subscribe(
        Subscription {
            id: "crm".into(),
            tenant: TenantId::new("acme").unwrap(),
            url: format!("{}/hooks", server.uri()).parse().unwrap(),
            secret: Secret::new("whsec_test"),
            events,
        },
        0,
    )
    .unwrap();
    d
}

/// A customer of `acme` (or of globex, by number) writes `body`.
async fn says(f: &Fixture, pnid: &str, external_id: &str, wa_id: &str, body: &str) {
    let said = f.customer_says(pnid, external_id, wa_id, body).await;
    said.unwrap();
}

async fn setup(server: &MockServer, events: Vec<String>) -> (Fixture, SubscriptionDispatcher) {
    let store = Arc::new(MemoryStore::new());
    let f = Fixture::new(store.clone() as Arc<dyn Store>).await.unwrap();
    let d = dispatcher(&f, store, server, events);
    (f, d)
}

/// A server answering as `plan` says (see [`answers`]), subscription
/// `crm` to it for received messages, and one customer message: the
/// server, the fixture and the dispatcher.
async fn one_message_to(
    plan: &[(u16, Option<u64>)],
) -> (MockServer, Fixture, SubscriptionDispatcher) {
    let server = MockServer::start().await;
    answers(&server, plan).await;
    let (f, d) = setup(&server, vec!["message_received".into()]).await;
    says(&f, "1001", "w1", "3460001", "hola").await;
    (server, f, d)
}

#[tokio::test]
async fn deliveries_are_signed_and_verifiable() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/hooks"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&server)
        .await;
    let (f, d) = setup(&server, vec![]).await;
    says(&f, "1001", "w1", "3460001", "hola").await;
    // Another tenant's events never reach acme's subscriber.
    says(&f, "2001", "g1", "1555001", "hello").await;
    let report = d.pump(100).await.unwrap();
    assert_eq!(report.read, 3, "contact, conversation, message: {report:?}");
    assert_eq!(report.delivered, 3);
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 3);
    for r in &requests {
        let header = r.headers.get(SIGNATURE_HEADER).unwrap().to_str().unwrap();
        verify(
            &Secret::new("whsec_test"),
            header,
            &r.body,
            f.clock.now(),
            300,
        )
        .unwrap();
        // A wrong secret or a changed body does not verify.
        assert!(verify(&Secret::new("other"), header, &r.body, f.clock.now(), 300).is_err());
        assert!(verify(
            &Secret::new("whsec_test"),
            header,
            b"{}",
            f.clock.now(),
            300
        )
        .is_err());
        // An old delivery replayed later does not verify.
        let later = f.clock.now() + TimeDelta::minutes(10);
        assert!(verify(&Secret::new("whsec_test"), header, &r.body, later, 300).is_err());
        let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(body["event"]["tenant"], "acme");
        let delivery = r.headers.get("x-inbox-delivery").unwrap().to_str().unwrap();
        assert_eq!(delivery, format!("crm:{}", body["event"]["seq"]));
    }
    // Nothing new: nothing sent again.
    assert_eq!(d.pump(100).await.unwrap().read, 0);
    assert_eq!(server.received_requests().await.unwrap().len(), 3);
    assert_eq!(d.position("crm").await.unwrap(), 3);
}

#[tokio::test]
async fn server_errors_are_retried_with_backoff() {
    let (server, f, d) = one_message_to(&[(503, Some(2)), (200, None)]).await;
    let first = d.pump(100).await.unwrap();
    assert_eq!((first.delivered, first.retrying), (0, 1));
    // Not due yet (10 s backoff).
    f.advance(TimeDelta::seconds(5));
    assert_eq!(d.pump(100).await.unwrap().retrying, 0);
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
    f.advance(TimeDelta::seconds(5));
    assert_eq!(
        d.pump(100).await.unwrap().retrying,
        1,
        "second failure, 20 s backoff"
    );
    f.advance(TimeDelta::seconds(20));
    assert_eq!(d.pump(100).await.unwrap().delivered, 1);
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 3);
    // The same delivery id on every attempt; the attempt number moves.
    let ids: Vec<_> = requests
        .iter()
        .map(|r| {
            r.headers
                .get("x-inbox-delivery")
                .unwrap()
                .to_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert!(ids.windows(2).all(|w| w[0] == w[1]));
    let attempts: Vec<u64> = requests
        .iter()
        .map(|r| {
            serde_json::from_slice::<serde_json::Value>(&r.body).unwrap()["attempt"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(attempts, [1, 2, 3]);
    assert!(d.dead_letters("crm").await.unwrap().is_empty());
}

#[tokio::test]
async fn dead_letters_after_the_limit_and_replay() {
    let (server, f, d) = one_message_to(&[(500, Some(3)), (200, None)]).await;
    d.pump(100).await.unwrap();
    f.advance(TimeDelta::seconds(10));
    d.pump(100).await.unwrap();
    f.advance(TimeDelta::seconds(20));
    let last = d.pump(100).await.unwrap();
    assert_eq!(last.dead, 1);
    let dead = d.dead_letters("crm").await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].attempts, 3);
    assert_eq!(dead[0].last_error, "HTTP 500");
    assert_eq!(dead[0].event.kind.name(), "message_received");
    // Given up: later pumps do not try again by themselves.
    f.advance(TimeDelta::hours(1));
    d.pump(100).await.unwrap();
    assert_eq!(server.received_requests().await.unwrap().len(), 3);
    // The receiver is fixed: replay delivers it.
    assert!(d.replay("crm", dead[0].event.seq).await.unwrap());
    assert!(d.dead_letters("crm").await.unwrap().is_empty());
    assert_eq!(server.received_requests().await.unwrap().len(), 4);
    assert!(
        d.replay("crm", dead[0].event.seq).await.is_err(),
        "already replayed"
    );
}

#[tokio::test]
async fn client_errors_are_not_retried() {
    let (_server, _f, d) = one_message_to(&[(410, None)]).await;
    let report = d.pump(100).await.unwrap();
    assert_eq!((report.dead, report.retrying), (1, 0));
    assert_eq!(
        d.dead_letters("crm").await.unwrap()[0].last_error,
        "HTTP 410"
    );
    // A replay that fails again keeps it, counting the attempt.
    let seq = d.dead_letters("crm").await.unwrap()[0].event.seq;
    assert!(!d.replay("crm", seq).await.unwrap());
    assert_eq!(d.dead_letters("crm").await.unwrap()[0].attempts, 2);
}

#[tokio::test]
async fn unreachable_receivers_are_retried_and_secrets_stay_hidden() {
    // A port nobody listens on.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let store = Arc::new(MemoryStore::new());
    let f = Fixture::new(store.clone() as Arc<dyn Store>).await.unwrap();
    let mut d =
        SubscriptionDispatcher::new(f.store.clone(), store, f.clock.clone(), policy()).unwrap();
    let sub = Subscription {
        id: "crm".into(),
        tenant: TenantId::new("acme").unwrap(),
        url: format!("http://127.0.0.1:{port}/hooks").parse().unwrap(),
        secret: Secret::new("whsec_hidden"),
        events: vec![],
    };
    assert!(!format!("{sub:?}").contains("whsec_hidden"));
    d.subscribe(sub.clone(), 0).unwrap();
    assert!(d.subscribe(sub, 0).is_err(), "duplicate id");
    says(&f, "1001", "w1", "3460001", "hola").await;
    let report = d.pump(100).await.unwrap();
    assert_eq!(report.retrying, 3);
    assert!(!format!("{d:?}").contains("whsec_hidden"));
}

#[tokio::test]
async fn a_restart_loses_no_retry_dead_letter_or_position() {
    let server = MockServer::start().await;
    // The first message's delivery fails for good, the second's once.
    answers(&server, &[(410, Some(1)), (503, Some(1)), (200, None)]).await;
    let store = Arc::new(MemoryStore::new());
    let f = Fixture::new(store.clone() as Arc<dyn Store>).await.unwrap();
    let events = vec!["message_received".to_string()];
    let d = dispatcher(&f, store.clone(), &server, events.clone());
    says(&f, "1001", "w1", "3460001", "hola").await;
    says(&f, "1001", "w2", "3460002", "hello").await;
    let first = d.pump(100).await.unwrap();
    assert_eq!((first.dead, first.retrying), (1, 1), "{first:?}");
    let position = d.position("crm").await.unwrap();
    drop(d);

    // A new process over the same store: the retry goes out when due, the
    // dead letter is still there, nothing already handled is sent again.
    let d = dispatcher(&f, store, &server, events);
    assert_eq!(d.position("crm").await.unwrap(), position);
    assert_eq!(d.pump(100).await.unwrap(), Default::default());
    f.advance(TimeDelta::seconds(10));
    let again = d.pump(100).await.unwrap();
    assert_eq!((again.read, again.delivered), (0, 1), "{again:?}");
    let dead = d.dead_letters("crm").await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].last_error, "HTTP 410");
    assert!(d.replay("crm", dead[0].event.seq).await.unwrap());
    assert_eq!(server.received_requests().await.unwrap().len(), 4);
    assert!(matches!(
        d.dead_letters("nope").await,
        Err(inbox_subscriptions::SubscriptionError::UnknownSubscription(
            _
        ))
    ));
}
