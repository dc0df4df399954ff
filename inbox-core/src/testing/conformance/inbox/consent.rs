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
