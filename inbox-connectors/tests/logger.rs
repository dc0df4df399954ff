#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The CRM logger: what each policy writes, retries of transient failures,
//! dead letters of the rest, old events passed over, tenants kept apart.

use async_trait::async_trait;
use chrono::TimeDelta;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use inbox_connectors::{
    log_subscription, Connector, ConnectorError, ConnectorKind, ConnectorLookup, CrmLogger,
    Customer, LogEntry, LogPolicy, LogReport, Logged,
};
use inbox_core::model::ConversationStatus;
use inbox_core::ports::{ContextCard, Conversations, Store, SubscriptionKey, SubscriptionLog};
use inbox_core::settings::{CrmLog, HubSpotSettings};
use inbox_core::testing::Fixture;
use inbox_core::TenantId;
use inbox_store_memory::MemoryStore;

/// A CRM that records what it is asked to write and answers as planned
/// (then `Written` for everything after the plan).
#[derive(Default)]
struct Crm {
    written: Mutex<Vec<LogEntry>>,
    plan: Mutex<VecDeque<Result<Logged, ConnectorError>>>,
}

#[async_trait]
impl Connector for Crm {
    fn kind(&self) -> ConnectorKind {
        ConnectorKind::HubSpot
    }
    async fn cards(&self, _: &Customer) -> Result<Vec<ContextCard>, ConnectorError> {
        Ok(Vec::new())
    }
    async fn log(&self, entry: &LogEntry) -> Result<Logged, ConnectorError> {
        let next = self.plan.lock().unwrap().pop_front();
        let answer = next.unwrap_or(Ok(Logged::Written {
            record: "501".into(),
        }));
        if answer.is_ok() {
            self.written.lock().unwrap().push(entry.clone());
        }
        answer
    }
    async fn check(&self) -> Result<(), ConnectorError> {
        Ok(())
    }
}

/// Acme has the CRM; every other tenant has none.
struct Lookup(Arc<Crm>);

#[async_trait]
impl ConnectorLookup for Lookup {
    async fn connector(
        &self,
        tenant: &TenantId,
        _: ConnectorKind,
    ) -> Result<Option<Arc<dyn Connector>>, ConnectorError> {
        Ok((tenant.as_str() == "acme").then(|| self.0.clone() as Arc<dyn Connector>))
    }
}

struct Setup {
    f: Fixture,
    crm: Arc<Crm>,
    logger: CrmLogger,
    store: Arc<MemoryStore>,
}

async fn setup(log: CrmLog) -> Setup {
    let store = Arc::new(MemoryStore::new());
    let f = Fixture::new(store.clone() as Arc<dyn Store>).await.unwrap();
    f.edit_settings(|doc| {
        doc.connectors.hubspot = Some(HubSpotSettings {
            log,
            ..Default::default()
        })
    })
    .await
    .unwrap();
    let crm = Arc::new(Crm::default());
    let policy = LogPolicy {
        max_attempts: 3,
        base_delay: Duration::from_secs(30),
        max_delay: Duration::from_secs(600),
        max_age: Duration::from_secs(24 * 3600),
    };
    let logger = CrmLogger::new(
        Arc::new(Lookup(crm.clone())),
        store.clone(),
        store.clone(),
        f.clock.clone(),
        policy,
    );
    Setup {
        f,
        crm,
        logger,
        store,
    }
}

fn written(s: &Setup) -> Vec<LogEntry> {
    s.crm.written.lock().unwrap().clone()
}

/// Maria writes, Ana answers and resolves: the conversation's id.
async fn a_resolved_conversation(s: &Setup) -> inbox_core::ConversationId {
    let f = &s.f;
    let (c, _) = f
        .customer_says("1001", "w1", "34600111222", "where is my order?")
        .await
        .unwrap();
    let ana = f.actor("ana");
    let v = f
        .claim_and_reply(&ana, &c, "It ships tomorrow", "k1")
        .await
        .unwrap();
    f.inbox
        .note(&ana, &c, v, "customer sounded upset", "n1")
        .await
        .unwrap();
    let v = f.version(&c).await.unwrap();
    f.inbox
        .set_status(&ana, &c, v, ConversationStatus::Resolved)
        .await
        .unwrap();
    c
}

#[tokio::test]
async fn a_resolution_writes_the_transcript_without_internal_notes() {
    let s = setup(CrmLog::Resolved).await;
    let c = a_resolved_conversation(&s).await;
    let report = s.logger.pump(500).await.unwrap();
    assert_eq!(report.written, 1, "{report:?}");
    let entries = written(&s);
    assert_eq!(entries.len(), 1);
    let e = &entries[0];
    assert_eq!(e.conversation, c.to_string());
    assert_eq!(e.customer.phone.as_deref(), Some("+34600111222"));
    assert_eq!(e.title, "WhatsApp conversation resolved by ana");
    assert!(
        e.body.contains("Customer") && e.body.contains("where is my order?"),
        "{}",
        e.body
    );
    assert!(
        e.body.contains("Agent ana: It ships tomorrow"),
        "{}",
        e.body
    );
    assert!(
        !e.body.contains("upset"),
        "notes stay in the inbox: {}",
        e.body
    );
    assert!(e.body.contains(&format!("(inbox conversation {c})")));
    // Nothing new: nothing written again.
    assert_eq!(s.logger.pump(500).await.unwrap().written, 0);
    assert_eq!(written(&s).len(), 1);
}

#[tokio::test]
async fn each_message_writes_the_customers_and_the_replies() {
    let s = setup(CrmLog::EachMessage).await;
    a_resolved_conversation(&s).await;
    let report = s.logger.pump(500).await.unwrap();
    assert_eq!(report.written, 2, "{report:?}");
    let titles: Vec<String> = written(&s).into_iter().map(|e| e.title).collect();
    assert_eq!(
        titles,
        ["WhatsApp message received", "WhatsApp message sent"]
    );
}

#[tokio::test]
async fn transient_failures_are_retried_later_and_the_rest_given_up() {
    let s = setup(CrmLog::Resolved).await;
    let unavailable = ConnectorError::Unavailable {
        connector: ConnectorKind::HubSpot,
        reason: "it answered 503".into(),
    };
    s.crm
        .plan
        .lock()
        .unwrap()
        .push_back(Err(unavailable.clone()));
    a_resolved_conversation(&s).await;
    let report = s.logger.pump(500).await.unwrap();
    assert_eq!((report.written, report.retrying), (0, 1), "{report:?}");
    // Not due yet.
    assert_eq!(s.logger.pump(500).await.unwrap(), LogReport::default());
    s.f.advance(TimeDelta::seconds(31));
    assert_eq!(s.logger.pump(500).await.unwrap().written, 1);
    assert_eq!(written(&s).len(), 1);

    // A refused request is not retried: a dead letter that says why.
    let refused = ConnectorError::Rejected {
        connector: ConnectorKind::HubSpot,
        what: "note",
        status: 400,
        message: "Property values were not valid".into(),
    };
    s.crm.plan.lock().unwrap().push_back(Err(refused));
    let (c2, _) =
        s.f.customer_says("1001", "w9", "34600999000", "hi")
            .await
            .unwrap();
    let sam = s.f.actor("sam");
    let v = s.f.version(&c2).await.unwrap();
    s.f.inbox
        .set_status(&sam, &c2, v, ConversationStatus::Resolved)
        .await
        .unwrap();
    assert_eq!(s.logger.pump(500).await.unwrap().dead, 1);
    let id = log_subscription(ConnectorKind::HubSpot);
    let acme = TenantId::new("acme").unwrap();
    let dead = s
        .store
        .subscription_dead_letters(SubscriptionKey::of(&acme, &id))
        .await
        .unwrap();
    assert_eq!(dead.len(), 1);
    assert!(dead[0]
        .last_error
        .contains("Property values were not valid"));
}

#[tokio::test]
async fn old_events_and_other_tenants_are_passed_over() {
    let s = setup(CrmLog::Resolved).await;
    a_resolved_conversation(&s).await;
    // A day and more later the logger first runs: that resolution is not
    // poured onto the CRM.
    s.f.advance(TimeDelta::hours(25));
    assert_eq!(s.logger.pump(500).await.unwrap().written, 0);
    // Globex has no connector: its customers are never written.
    let (g, _) =
        s.f.customer_says("2001", "g1", "1555001", "hello")
            .await
            .unwrap();
    let gus = s.f.actor("gus");
    let globex = TenantId::new("globex").unwrap();
    let v = s.store.conversation(&globex, &g).await.unwrap().version;
    s.f.inbox
        .set_status(&gus, &g, v, ConversationStatus::Resolved)
        .await
        .unwrap();
    assert_eq!(s.logger.pump(500).await.unwrap().written, 0);
    assert!(written(&s).is_empty());
}

#[tokio::test]
async fn a_disabled_or_silent_connector_writes_nothing() {
    for (log, enabled) in [(CrmLog::Off, true), (CrmLog::Resolved, false)] {
        let s = setup(log).await;
        s.f.edit_settings(|doc| doc.connectors.hubspot.as_mut().unwrap().enabled = enabled)
            .await
            .unwrap();
        a_resolved_conversation(&s).await;
        let report = s.logger.pump(500).await.unwrap();
        assert_eq!(report, LogReport::default(), "{log:?} {enabled}");
        assert!(written(&s).is_empty());
    }
}
