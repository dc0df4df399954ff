#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! What deliveries carry besides the event when a tenant's `subscriptions`
//! settings ask for it (`include_message_text`, `include_contact`), against
//! a local receiver: nothing by default, per tenant, read from the store at
//! delivery time (retries and replays too), settings read once per pump.

use chrono::TimeDelta;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use inbox_core::model::{Content, MediaKind, MediaRef};
use inbox_core::ports::{Clock, Store, SubscriptionLog};
use inbox_core::settings::SubscriptionsSection;
use inbox_core::testing::{FaultyStore, Fixture};
use inbox_core::{ContactUpdate, ConversationId, InboundEvent, Secret, TenantId};
use inbox_store_memory::MemoryStore;
use inbox_subscriptions::{verify, RetryPolicy, Subscription, SubscriptionDispatcher};

fn policy() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 3,
        base_delay: Duration::from_secs(10),
        max_delay: Duration::from_secs(60),
        timeout: Duration::from_secs(5),
    }
}

/// A receiver answering `status` to the first `n` deliveries (all when
/// `None`), then 200.
async fn receiver(first: Option<(u16, u64)>) -> MockServer {
    let server = MockServer::start().await;
    if let Some((status, n)) = first {
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(status))
            .up_to_n_times(n)
            .mount(&server)
            .await;
    }
    for hook in ["/acme", "/globex"] {
        Mock::given(method("POST"))
            .and(path(hook))
            .respond_with(ResponseTemplate::new(200))
            .mount(&server)
            .await;
    }
    server
}

/// Subscription `id` of `tenant` to `server`'s `/<tenant>`, for `events`
/// (all when empty).
fn subscription(id: &str, tenant: &str, server: &MockServer, events: &[&str]) -> Subscription {
    Subscription {
        id: id.into(),
        tenant: TenantId::new(tenant).unwrap(),
        url: format!("{}/{tenant}", server.uri()).parse().unwrap(),
        secret: Secret::new("whsec_test"),
        events: events.iter().map(|e| e.to_string()).collect(),
    }
}

/// A dispatcher reading `store` and keeping its state in `log`, with
/// `subs`.
fn dispatcher(
    f: &Fixture,
    store: Arc<dyn Store>,
    log: Arc<dyn SubscriptionLog>,
    subs: Vec<Subscription>,
) -> SubscriptionDispatcher {
    let mut d = SubscriptionDispatcher::new(store, log, f.clock.clone(), policy()).unwrap();
    for s in subs {
        d.subscribe(s, 0).unwrap();
    }
    d
}

/// A fixture over a new memory store, and the store (also the log).
async fn fixture() -> (Fixture, Arc<MemoryStore>) {
    let store = Arc::new(MemoryStore::new());
    let f = Fixture::new(store.clone() as Arc<dyn Store>).await.unwrap();
    (f, store)
}

/// Turns acme's options on or off.
async fn acme_includes(f: &Fixture, message_text: bool, contact: bool) {
    f.edit_settings(|doc| {
        doc.subscriptions = SubscriptionsSection {
            include_message_text: message_text,
            include_contact: contact,
        }
    })
    .await
    .unwrap();
}

/// The deliveries received, as JSON, in order, with the raw requests.
async fn bodies(server: &MockServer) -> Vec<Value> {
    server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect()
}

/// The deliveries of events of type `kind`.
fn of_type<'a>(bodies: &'a [Value], kind: &str) -> Vec<&'a Value> {
    bodies
        .iter()
        .filter(|b| b["event"]["kind"]["type"] == kind)
        .collect()
}

/// A customer of acme (number 1001) writes `content`.
async fn customer_sends(f: &Fixture, external_id: &str, wa_id: &str, content: Content) {
    let inbound = f.inbound("1001", external_id, wa_id, content);
    f.inbox
        .ingest(InboundEvent::Message(inbound))
        .await
        .unwrap();
}

/// Ana names the conversation's contact and gives it an e-mail attribute.
async fn ana_names_contact(f: &Fixture, conversation: &ConversationId) {
    let c = f.store.conversation(&f.acme(), conversation).await.unwrap();
    let contact = f.store.contact(&f.acme(), &c.contact).await.unwrap();
    let update = ContactUpdate {
        display_name: Some("Lucía Pérez".into()),
        attributes: BTreeMap::from([("email".to_string(), "lucia@example.com".to_string())]),
        ..Default::default()
    };
    f.inbox
        .update_contact(&f.actor("ana"), &contact.id, contact.version, update)
        .await
        .unwrap();
}

#[tokio::test]
async fn off_by_default_bodies_are_unchanged() {
    let server = receiver(None).await;
    let (f, store) = fixture().await;
    let subs = vec![subscription("crm", "acme", &server, &[])];
    let d = dispatcher(&f, store.clone(), store.clone(), subs);
    let (conversation, _) = f
        .customer_says("1001", "w1", "3460001", "hola")
        .await
        .unwrap();
    f.inbox
        .note(&f.actor("ana"), &conversation, 1, "call back", "n1")
        .await
        .unwrap();
    assert_eq!(d.pump(100).await.unwrap().delivered, 4);

    // Byte for byte the body deliveries had before the options existed.
    let events = f.store.events_since(&f.acme(), 0, 100).await.unwrap();
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), events.len());
    for (r, e) in requests.iter().zip(&events) {
        let before = serde_json::to_vec(&json!({
            "subscription": "crm",
            "delivery": format!("crm:{}", e.seq),
            "attempt": 1,
            "event": e,
        }))
        .unwrap();
        assert_eq!(r.body, before, "{}", String::from_utf8_lossy(&r.body));
        let body: Value = serde_json::from_slice(&r.body).unwrap();
        assert!(body.get("message").is_none() && body.get("contact").is_none());
    }
}

#[tokio::test]
async fn on_for_one_tenant_its_deliveries_carry_text_and_contact() {
    let server = receiver(None).await;
    let (f, store) = fixture().await;
    acme_includes(&f, true, true).await;
    let subs = vec![
        subscription("crm", "acme", &server, &[]),
        subscription("erp", "globex", &server, &[]),
    ];
    let d = dispatcher(&f, store.clone(), store, subs);
    let (conversation, received) = f
        .customer_says("1001", "w1", "3460001", "hola")
        .await
        .unwrap();
    f.customer_says("2001", "g1", "1555001", "hello")
        .await
        .unwrap();
    ana_names_contact(&f, &conversation).await;
    f.claim_and_reply(&f.actor("ana"), &conversation, "¿En qué te ayudo?", "r1")
        .await
        .unwrap();
    f.inbox.dispatch(10).await.unwrap();
    d.pump(100).await.unwrap();

    let requests = server.received_requests().await.unwrap();
    let all = bodies(&server).await;
    let acme: Vec<Value> = all
        .iter()
        .filter(|b| b["subscription"] == "crm")
        .cloned()
        .collect();
    let contact_id = acme[0]["event"]["kind"]["contact"].clone();
    let contact = json!({
        "id": contact_id,
        "name": "Lucía Pérez",
        "phone": "+3460001",
        "wa_id": "3460001",
        "email": "lucia@example.com",
    });
    let inbound = json!({
        "id": received.as_str(),
        "direction": "inbound",
        "author": {"kind": "customer", "id": contact_id},
        "type": "text",
        "text": "hola",
    });
    let got = of_type(&acme, "message_received");
    assert_eq!(got[0]["message"], inbound);
    assert_eq!(got[0]["contact"], contact);
    // The reply, queued then sent: the same message on both.
    let reply_queued = of_type(&acme, "reply_queued");
    let reply = &reply_queued[0]["message"];
    assert_eq!(reply["direction"], "outbound");
    assert_eq!(reply["author"], json!({"kind": "agent", "id": "ana"}));
    assert_eq!(reply["text"], "¿En qué te ayudo?");
    let sent = of_type(&acme, "delivery_changed");
    assert_eq!(sent.len(), 1, "{acme:#?}");
    assert_eq!(&sent[0]["message"], reply);
    // About the conversation but no message: the contact only.
    let claimed = of_type(&acme, "claimed");
    assert_eq!(claimed[0]["contact"], contact);
    assert!(claimed[0].get("message").is_none());
    // About no conversation: neither.
    for b in of_type(&acme, "contact_created")
        .into_iter()
        .chain(of_type(&acme, "contact_updated"))
    {
        assert!(b.get("message").is_none() && b.get("contact").is_none());
    }
    // Globex has the options off.
    let globex: Vec<&Value> = all.iter().filter(|b| b["subscription"] == "erp").collect();
    assert_eq!(globex.len(), 3);
    for b in globex {
        assert!(b.get("message").is_none() && b.get("contact").is_none());
    }
    // The signature covers the whole body, extra fields included.
    for r in &requests {
        let header = r
            .headers
            .get("x-inbox-signature")
            .unwrap()
            .to_str()
            .unwrap();
        verify(
            &Secret::new("whsec_test"),
            header,
            &r.body,
            f.clock.now(),
            300,
        )
        .unwrap();
    }
}

#[tokio::test]
async fn each_option_adds_only_its_field() {
    let server = receiver(None).await;
    let (f, store) = fixture().await;
    acme_includes(&f, true, false).await;
    let subs = vec![subscription("crm", "acme", &server, &["message_received"])];
    let d = dispatcher(&f, store.clone(), store, subs);
    f.customer_says("1001", "w1", "3460001", "hola")
        .await
        .unwrap();
    d.pump(100).await.unwrap();
    acme_includes(&f, false, true).await;
    f.customer_says("1001", "w2", "3460001", "¿hola?")
        .await
        .unwrap();
    d.pump(100).await.unwrap();
    let got = bodies(&server).await;
    assert_eq!(got[0]["message"]["text"], "hola");
    assert!(got[0].get("contact").is_none());
    assert!(got[1].get("message").is_none());
    // No name given by the team or the app: the profile name.
    assert_eq!(got[1]["contact"]["name"], "Customer 3460001");
}

#[tokio::test]
async fn media_carry_their_caption_other_kinds_their_type() {
    let server = receiver(None).await;
    let (f, store) = fixture().await;
    acme_includes(&f, true, false).await;
    let subs = vec![subscription("crm", "acme", &server, &["message_received"])];
    let d = dispatcher(&f, store.clone(), store, subs);
    let image = |caption: Option<&str>| Content::Media {
        kind: MediaKind::Image,
        media: MediaRef {
            id: Some("media-1".into()),
            mime_type: Some("image/jpeg".into()),
            ..Default::default()
        },
        caption: caption.map(str::to_string),
    };
    customer_sends(&f, "w1", "3460001", image(Some("my receipt"))).await;
    customer_sends(&f, "w2", "3460001", image(None)).await;
    let pin = Content::Location {
        latitude: 40.4,
        longitude: -3.7,
        name: Some("Sol".into()),
        address: None,
    };
    customer_sends(&f, "w3", "3460001", pin).await;
    d.pump(100).await.unwrap();
    let got: Vec<Value> = bodies(&server)
        .await
        .into_iter()
        .map(|b| b["message"].clone())
        .collect();
    assert_eq!(got.len(), 3);
    assert_eq!(
        (&got[0]["type"], &got[0]["text"]),
        (&json!("image"), &json!("my receipt"))
    );
    assert_eq!(got[1]["type"], "image");
    assert_eq!(got[2]["type"], "location");
    for m in &got[1..] {
        assert!(m.get("text").is_none(), "{m}");
    }
}

#[tokio::test]
async fn notes_carry_their_text() {
    let server = receiver(None).await;
    let (f, store) = fixture().await;
    acme_includes(&f, true, true).await;
    let subs = vec![subscription("crm", "acme", &server, &["note_added"])];
    let d = dispatcher(&f, store.clone(), store, subs);
    let (conversation, _) = f
        .customer_says("1001", "w1", "3460001", "hola")
        .await
        .unwrap();
    let note = f
        .inbox
        .note(
            &f.actor("ana"),
            &conversation,
            1,
            "VIP: call back @ben",
            "n1",
        )
        .await
        .unwrap()
        .message
        .unwrap();
    d.pump(100).await.unwrap();
    let got = bodies(&server).await;
    assert_eq!(got.len(), 1);
    assert_eq!(
        got[0]["message"],
        json!({
            "id": note.id.as_str(),
            "direction": "note",
            "author": {"kind": "agent", "id": "ana"},
            "type": "text",
            "text": "VIP: call back @ben",
        })
    );
    assert_eq!(got[0]["contact"]["wa_id"], "3460001");
}

/// The `message` and `contact` of every delivery received.
async fn extras_received(server: &MockServer) -> Vec<(Value, Value, Value)> {
    bodies(server)
        .await
        .into_iter()
        .map(|b| {
            (
                b["attempt"].clone(),
                b["message"].clone(),
                b["contact"].clone(),
            )
        })
        .collect()
}

#[tokio::test]
async fn retries_carry_the_same_fields() {
    let server = receiver(Some((503, 1))).await;
    let (f, store) = fixture().await;
    acme_includes(&f, true, true).await;
    let subs = vec![subscription("crm", "acme", &server, &["message_received"])];
    let d = dispatcher(&f, store.clone(), store, subs);
    f.customer_says("1001", "w1", "3460001", "hola")
        .await
        .unwrap();
    assert_eq!(d.pump(100).await.unwrap().retrying, 1);
    f.advance(TimeDelta::seconds(10));
    assert_eq!(d.pump(100).await.unwrap().delivered, 1);
    let got = extras_received(&server).await;
    assert_eq!(got.len(), 2);
    assert_eq!((&got[0].0, &got[1].0), (&json!(1), &json!(2)));
    assert_eq!(got[0].1["text"], "hola");
    assert_eq!(got[0].2["wa_id"], "3460001");
    assert_eq!((&got[0].1, &got[0].2), (&got[1].1, &got[1].2));
}

#[tokio::test]
async fn replays_carry_the_same_fields() {
    let server = receiver(Some((410, 1))).await;
    let (f, store) = fixture().await;
    acme_includes(&f, true, true).await;
    let subs = vec![subscription("crm", "acme", &server, &["message_received"])];
    let d = dispatcher(&f, store.clone(), store, subs);
    f.customer_says("1001", "w1", "3460001", "hola")
        .await
        .unwrap();
    assert_eq!(d.pump(100).await.unwrap().dead, 1);
    let seq = d.dead_letters("crm").await.unwrap()[0].event.seq;
    assert!(d.replay("crm", seq).await.unwrap());
    let got = extras_received(&server).await;
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].1["text"], "hola");
    assert_eq!((&got[0].1, &got[0].2), (&got[1].1, &got[1].2));
}

#[tokio::test]
async fn a_settings_change_applies_on_the_next_pump() {
    let server = receiver(None).await;
    let (f, store) = fixture().await;
    let subs = vec![subscription("crm", "acme", &server, &["message_received"])];
    let d = dispatcher(&f, store.clone(), store, subs);
    f.customer_says("1001", "w1", "3460001", "one")
        .await
        .unwrap();
    d.pump(100).await.unwrap();
    acme_includes(&f, true, true).await;
    f.customer_says("1001", "w2", "3460001", "two")
        .await
        .unwrap();
    d.pump(100).await.unwrap();
    acme_includes(&f, false, false).await;
    f.customer_says("1001", "w3", "3460001", "three")
        .await
        .unwrap();
    d.pump(100).await.unwrap();
    let got = bodies(&server).await;
    assert_eq!(got.len(), 3);
    assert!(got[0].get("message").is_none() && got[0].get("contact").is_none());
    assert_eq!(got[1]["message"]["text"], "two");
    assert_eq!(got[1]["contact"]["phone"], "+3460001");
    assert!(got[2].get("message").is_none() && got[2].get("contact").is_none());
}

#[tokio::test]
async fn settings_are_read_once_per_tenant_per_pump() {
    let server = receiver(None).await;
    let (f, memory) = fixture().await;
    acme_includes(&f, true, true).await;
    let faulty = Arc::new(FaultyStore::new(memory.clone()));
    let subs = vec![
        subscription("crm", "acme", &server, &[]),
        subscription("helpdesk", "acme", &server, &[]),
        subscription("erp", "globex", &server, &[]),
    ];
    let d = dispatcher(&f, faulty.clone(), memory, subs);
    let reads = || faulty.calls().get("settings").copied().unwrap_or(0);
    for (i, wa_id) in ["3460001", "3460002", "3460003"].iter().enumerate() {
        f.customer_says("1001", &format!("w{i}"), wa_id, "hola")
            .await
            .unwrap();
    }
    f.customer_says("2001", "g1", "1555001", "hello")
        .await
        .unwrap();
    let report = d.pump(100).await.unwrap();
    assert_eq!(report.delivered, 2 * 9 + 3, "{report:?}");
    assert_eq!(reads(), 2, "acme and globex, once each");
    // Nothing to deliver: nothing read.
    d.pump(100).await.unwrap();
    assert_eq!(reads(), 2);
    f.customer_says("1001", "w9", "3460001", "again")
        .await
        .unwrap();
    d.pump(100).await.unwrap();
    assert_eq!(reads(), 3);
}

#[tokio::test]
async fn a_store_failure_is_retried_a_missing_message_left_out() {
    let server = receiver(None).await;
    let (f, memory) = fixture().await;
    acme_includes(&f, true, true).await;
    let faulty = Arc::new(FaultyStore::new(memory.clone()));
    faulty.refuse("message", || {
        inbox_core::Error::unavailable("db restarting")
    });
    let subs = || vec![subscription("crm", "acme", &server, &["message_received"])];
    let d = dispatcher(&f, faulty.clone(), memory.clone(), subs());
    f.customer_says("1001", "w1", "3460001", "hola")
        .await
        .unwrap();
    let first = d.pump(100).await.unwrap();
    assert_eq!((first.retrying, first.delivered), (1, 0), "{first:?}");
    assert!(server.received_requests().await.unwrap().is_empty());
    // The store is back: the retry carries the message.
    let d = dispatcher(&f, memory.clone(), memory.clone(), subs());
    f.advance(TimeDelta::seconds(10));
    assert_eq!(d.pump(100).await.unwrap().delivered, 1);
    assert_eq!(bodies(&server).await[0]["message"]["text"], "hola");

    // A message the store no longer has: delivered without it.
    faulty.refuse("message", || {
        inbox_core::Error::not_found(inbox_core::Entity::Message, "gone")
    });
    let d = dispatcher(&f, faulty, memory, subs());
    f.customer_says("1001", "w2", "3460001", "adiós")
        .await
        .unwrap();
    assert_eq!(d.pump(100).await.unwrap().delivered, 1);
    let got = bodies(&server).await;
    assert!(got[1].get("message").is_none(), "{}", got[1]);
    assert_eq!(got[1]["contact"]["wa_id"], "3460001");
}
