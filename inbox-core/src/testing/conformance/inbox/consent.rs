//! Consent by keyword: a customer who sends only "STOP" (or the tenant's
//! other words) stops marketing messages, "START" resumes them; the
//! message is kept for the team but reopens nothing and makes nobody wait.

use crate::model::ConsentSource;
use crate::testing::conformance::support::*;

/// The keywords of the tenant's `consent` settings stop and resume
/// marketing messages on the contact (source `keyword`; a resume is an
/// opt-in), in the message's commit, with a `contact_updated` event; the
/// message reopens no resolved conversation and makes nobody wait; a
/// sentence with the word in it is an ordinary message; a redelivered
/// keyword changes nothing; a choice WhatsApp reported later stands.
pub(crate) async fn stop_and_start_keywords_record_consent<S: Store + AsDynStore + ?Sized>(
    store: Arc<S>,
) {
    let f = fixture(store).await;
    f.edit_settings(|s| {
        s.consent = crate::settings::ConsentSection {
            stop_keywords: vec!["STOP".into(), "BAJA".into()],
            start_keywords: vec!["START".into()],
        };
    })
    .await
    .unwrap();
    let wa = "34655500031";
    let c = says(&f, "1001", "k1", wa, "hola").await;
    let k = stored(&f, &c).await.contact;
    let v = stored(&f, &c).await.version;
    (f.inbox
        .set_status(&f.actor("sam"), &c, v, ConversationStatus::Resolved))
    .await
    .unwrap();
    f.advance(TimeDelta::minutes(5));
    let baja = says(&f, "1001", "k2", wa, "  Bája ").await;
    assert_eq!(baja, c, "kept with the conversation");
    let conversation = stored(&f, &c).await;
    assert_eq!(
        conversation.status,
        ConversationStatus::Resolved,
        "not reopened"
    );
    assert_eq!(conversation.waiting_since, None);
    let contact = f.store.contact(&f.acme(), &k).await.unwrap();
    let choice = contact.marketing.clone().unwrap();
    assert!(!contact.accepts_marketing());
    assert_eq!(
        (choice.source, choice.opted_in),
        (ConsentSource::Keyword, false)
    );
    assert_eq!(choice.at, Fixture::start() + TimeDelta::minutes(5));
    let updates = |events: &[Event]| {
        events
            .iter()
            .filter(|e| matches!(&e.kind, EventKind::ContactUpdated { what, .. } if what.contains("keyword")))
            .count()
    };
    assert_eq!(updates(&events(&f).await), 1);
    // Delivered again: stored once, nothing new.
    let again = f.inbound("1001", "k2", wa, Content::text("  Bája "));
    let out = f.inbox.ingest(InboundEvent::Message(again)).await.unwrap();
    assert!(matches!(out, IngestOutcome::Duplicate { .. }), "{out:?}");
    // A sentence is a message like any other: it reopens and waits.
    f.advance(TimeDelta::minutes(5));
    says(&f, "1001", "k3", wa, "please stop the delivery").await;
    let conversation = stored(&f, &c).await;
    assert!(conversation.status.is_active() && conversation.waiting_since.is_some());
    assert!(!f
        .store
        .contact(&f.acme(), &k)
        .await
        .unwrap()
        .accepts_marketing());
    // START: an explicit opt-in, and nobody waits any longer for it.
    f.advance(TimeDelta::minutes(5));
    says(&f, "1001", "k4", wa, "start").await;
    let contact = f.store.contact(&f.acme(), &k).await.unwrap();
    let choice = contact.marketing.clone().unwrap();
    assert!(contact.accepts_marketing() && choice.opted_in);
    assert_eq!(updates(&events(&f).await), 2);
    // A customer never heard from, whose first word is STOP: their
    // contact is created with the choice.
    says(&f, "1001", "k5", "34655500032", "STOP").await;
    let new = (f
        .store
        .find_contact(&f.acme(), &ContactIdentity::wa("34655500032")))
    .await
    .unwrap()
    .unwrap();
    assert!(!new.accepts_marketing());
}

/// WhatsApp refuses a marketing message because the customer stopped
/// them (131050): whether it says so when the send is made or later in a
/// failed status, the contact is recorded as stopped (source
/// `send_refused`), once however often it is reported.
pub(crate) async fn a_refused_marketing_send_records_the_stop<S: Store + AsDynStore + ?Sized>(
    store: Arc<S>,
) {
    let f = fixture(store).await;
    let contact_of = |c: ConversationId| {
        let (store, tenant) = (f.store.clone(), f.acme());
        async move {
            let k = store.conversation(&tenant, &c).await.unwrap().contact;
            store.contact(&tenant, &k).await.unwrap()
        }
    };
    // Refused when sent.
    let c = says(&f, "1001", "r1", "34655500041", "hola").await;
    let v = claim_now(&f, &f.actor("ana"), &c).await;
    replied(&f, "ana", &c, v, "an offer", "k1").await;
    f.transport.fail_next(TransportError::Rejected {
        code: Some(131_050),
        message: "the user stopped marketing messages".into(),
    });
    assert_eq!(f.inbox.dispatch(10).await.unwrap().failed, 1);
    let k = contact_of(c.clone()).await;
    let choice = k.marketing.clone().unwrap();
    assert!(!k.accepts_marketing());
    assert_eq!(choice.source, ConsentSource::SendRefused);
    // Refused later, in a status report, delivered twice.
    let c2 = says(&f, "1001", "r2", "34655500042", "hola").await;
    let v = claim_now(&f, &f.actor("ana"), &c2).await;
    let r = replied(&f, "ana", &c2, v, "another offer", "k2").await;
    assert_eq!(f.inbox.dispatch(10).await.unwrap().sent, 1);
    let failed = InboundEvent::Status(InboundStatus {
        pricing: None,
        phone_number_id: "1001".into(),
        external_id: f
            .store
            .message(&f.acme(), &r.id)
            .await
            .unwrap()
            .external_id
            .unwrap(),
        our_message_id: Some(r.id.to_string()),
        recipient: Some("34655500042".into()),
        status: DeliveryStatus::Failed,
        timestamp: f.clock.now(),
        error: Some(ProviderError {
            code: Some(131_050),
            title: "Unable to deliver the message".into(),
            details: None,
        }),
    });
    f.inbox.ingest(failed.clone()).await.unwrap();
    f.inbox.ingest(failed).await.unwrap();
    let k = contact_of(c2).await;
    assert_eq!(
        k.marketing.as_ref().map(|m| m.source),
        Some(ConsentSource::SendRefused)
    );
    let updates = events(&f)
        .await
        .iter()
        .filter(|e| matches!(&e.kind, EventKind::ContactUpdated { contact, what } if *contact == k.id && what.contains("refused")))
        .count();
    assert_eq!(updates, 1, "recorded once");
}

/// The last guard: a marketing template (or one whose category is not
/// known) is never handed to WhatsApp for a customer who stopped
/// marketing messages, even when the stop arrives after it was queued;
/// it is cancelled, said with an event, and the dispatcher counts it.
/// Utility templates and ordinary replies to the same customer go out.
pub(crate) async fn marketing_never_dispatched_to_opted_out<S: Store + AsDynStore + ?Sized>(
    store: Arc<S>,
) {
    use crate::model::{TemplateCategory, TemplateDefinition};
    let f = fixture(store).await;
    f.edit_settings(|s| {
        s.consent.stop_keywords = vec!["STOP".into()];
        for (name, category) in [
            ("promo", Some(TemplateCategory::Marketing)),
            ("order_update", Some(TemplateCategory::Utility)),
            ("by_hand", None),
        ] {
            let mut t = TemplateDefinition::new(name, "en");
            t.category = category;
            s.templates.push(t);
        }
    })
    .await
    .unwrap();
    let wa = "34655500051";
    let c = says(&f, "1001", "m1", wa, "hola").await;
    let template = |name: &str, key: &str| crate::Reply {
        content: Content::Template {
            name: name.into(),
            language: "en".into(),
            components: serde_json::Value::Null,
        },
        idempotency_key: key.into(),
        reply_to: None,
    };
    let v = claim_now(&f, &f.actor("ana"), &c).await;
    let ana = f.actor("ana");
    let promo = f.inbox.reply(&ana, &c, v, template("promo", "p1"));
    let promo = promo.await.unwrap().message.unwrap();
    // The customer stops marketing before the dispatcher runs.
    says(&f, "1001", "m2", wa, "STOP").await;
    for (name, key) in [("by_hand", "p2"), ("order_update", "u1")] {
        let v = f.version(&c).await.unwrap();
        f.inbox
            .reply(&f.actor("ana"), &c, v, template(name, key))
            .await
            .unwrap();
    }
    reply_now(&f, &f.actor("ana"), &c, "Your order ships today", "t1").await;
    let mut report = crate::inbox::DispatchReport::default();
    for _ in 0..6 {
        let pass = f.inbox.dispatch(10).await.unwrap();
        report.sent += pass.sent;
        report.cancelled += pass.cancelled;
    }
    assert_eq!((report.sent, report.cancelled), (2, 2), "{report:?}");
    let sent: Vec<String> = f
        .transport
        .sent()
        .iter()
        .map(|s| s.request.content.kind().to_string())
        .collect();
    assert_eq!(
        sent,
        ["template", "text"],
        "only the utility template and the text went out"
    );
    let stored = f.store.message(&f.acme(), &promo.id).await.unwrap();
    let d = stored.delivery.unwrap();
    assert_eq!(d.status, DeliveryStatus::Cancelled);
    assert!(d.error.unwrap().title.starts_with("opted_out"));
    assert_eq!(stored.external_id, None);
    let cancelled = events(&f)
        .await
        .iter()
        .filter(|e| {
            matches!(
                &e.kind,
                EventKind::DeliveryChanged {
                    status: DeliveryStatus::Cancelled,
                    ..
                }
            )
        })
        .count();
    assert_eq!(cancelled, 2);
    // Cancelled is final: a stray status report for it changes nothing.
    let late = crate::ports::MessageMutation::Delivery {
        update: crate::model::DeliveryUpdate {
            status: DeliveryStatus::Sent,
            at: f.clock.now(),
            error: None,
            pricing: None,
        },
        external_id: None,
    };
    let after = f
        .store
        .update_message(&f.acme(), &promo.id, &late)
        .await
        .unwrap();
    assert_eq!(after, None);
}
