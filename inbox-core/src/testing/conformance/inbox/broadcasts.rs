//! Broadcasts made and steered by supervisors; their recipients selected
//! from the segment once each, opted-out customers skipped.

use crate::ids::BroadcastId;
use crate::inbox::{NewBroadcast, Steer};
use crate::model::{BroadcastState, Segment, TemplateCategory, TemplateDefinition, TemplateFill};
use crate::testing::conformance::support::*;

async fn with_templates(f: &Fixture) {
    f.edit_settings(|s| {
        for (name, category) in [
            ("promo", Some(TemplateCategory::Marketing)),
            ("by_hand", None),
        ] {
            let mut t = TemplateDefinition::new(name, "en");
            t.category = category;
            s.templates.push(t);
        }
    })
    .await
    .unwrap();
}

fn new(id: &str, template: &str) -> NewBroadcast {
    NewBroadcast {
        id: BroadcastId::new(id).unwrap(),
        name: "Spring offer".into(),
        channel: ChannelId::new("sales").unwrap(),
        template: TemplateFill::new(template, "en"),
        segment: Segment {
            tags_all: vec!["vip".into()],
            ..Segment::default()
        },
        schedule: None,
        rate_per_second: 20,
    }
}

/// Supervisors make broadcasts of approved templates of known category
/// (agents may not); a draft is started, paused, resumed and cancelled on
/// the version seen, and a finished one moves no more; selection adds
/// each vip once, skipping those who stopped marketing.
pub(crate) async fn broadcasts_are_made_steered_and_select_their_recipients<
    S: Store + AsDynStore + ?Sized,
>(
    store: Arc<S>,
) {
    let f = fixture(store).await;
    with_templates(&f).await;
    let sam = f.actor("sam");
    let refused = f
        .inbox
        .create_broadcast(&f.actor("ana"), new("b0", "promo"))
        .await;
    assert_eq!(refused.unwrap_err().code(), "forbidden");
    let unknown = f.inbox.create_broadcast(&sam, new("b0", "by_hand")).await;
    assert!(
        unknown.unwrap_err().to_string().contains("category"),
        "unknown category refused"
    );
    let missing = f.inbox.create_broadcast(&sam, new("b0", "nope")).await;
    assert_eq!(missing.unwrap_err().code(), "invalid_input");
    let b = f
        .inbox
        .create_broadcast(&sam, new("b1", "promo"))
        .await
        .unwrap();
    assert_eq!((b.state, b.version), (BroadcastState::Draft, 1));
    // Three vips, one of whom stopped marketing, and a customer without the tag.
    f.edit_settings(|s| s.consent.stop_keywords = vec!["STOP".into()])
        .await
        .unwrap();
    for (i, wa) in ["34655500091", "34655500092", "34655500093", "34655500094"]
        .iter()
        .enumerate()
    {
        let c = says(&f, "1001", &format!("v{i}"), wa, "hola").await;
        if i < 3 {
            let k = stored(&f, &c).await.contact;
            let v = f.store.contact(&f.acme(), &k).await.unwrap().version;
            let tag = crate::ContactUpdate {
                add_tags: vec!["vip".into()],
                ..Default::default()
            };
            f.inbox.update_contact(&sam, &k, v, tag).await.unwrap();
        }
        if i == 2 {
            says(&f, "1001", "stop", wa, "STOP").await;
        }
    }
    let started = f
        .inbox
        .steer_broadcast(&sam, &b.id, 1, Steer::Start)
        .await
        .unwrap();
    assert_eq!(started.state, BroadcastState::Selecting);
    let stale = f.inbox.steer_broadcast(&sam, &b.id, 1, Steer::Pause).await;
    assert_eq!(stale.unwrap_err().code(), "conflict");
    f.inbox.run_broadcasts(10).await.unwrap();
    let selected = f.store.broadcast(&f.acme(), &b.id).await.unwrap();
    assert_eq!(
        (selected.state, selected.selected),
        (BroadcastState::Sending, 3)
    );
    let counts = f.store.recipient_counts(&f.acme(), &b.id).await.unwrap();
    assert_eq!(
        (counts.pending + counts.queued, counts.skipped),
        (2, 1),
        "{counts:?}"
    );
    let v = selected.version;
    let paused = f
        .inbox
        .steer_broadcast(&sam, &b.id, v, Steer::Pause)
        .await
        .unwrap();
    let resumed = f
        .inbox
        .steer_broadcast(&sam, &b.id, paused.version, Steer::Resume)
        .await
        .unwrap();
    assert_eq!(resumed.state, BroadcastState::Sending);
    let cancelled = f
        .inbox
        .steer_broadcast(&sam, &b.id, resumed.version, Steer::Cancel)
        .await
        .unwrap();
    assert_eq!(cancelled.state, BroadcastState::Cancelled);
    let again = f
        .inbox
        .steer_broadcast(&sam, &b.id, cancelled.version, Steer::Resume)
        .await;
    assert_eq!(again.unwrap_err().code(), "invalid_state");
}

/// A broadcast to 120 imported customers at 50 a second: each queued at
/// most once through the outbox (a worker that dies holding recipients
/// only delays them until its lease lapses), never to those who stopped
/// marketing (by the import, or by a keyword between selection and
/// sending), no more per second than its rate; it ends done; a reply
/// opens an ordinary conversation for the team.
pub(crate) async fn broadcast_sends_each_recipient_once_at_its_rate<
    S: Store + AsDynStore + ?Sized,
>(
    store: Arc<S>,
) {
    let f = fixture(store).await;
    with_templates(&f).await;
    f.edit_settings(|s| s.consent.stop_keywords = vec!["STOP".into()])
        .await
        .unwrap();
    let sam = f.actor("sam");
    let rows: Vec<crate::ImportRow> = (0..120u32)
        .map(|i| crate::ImportRow {
            line: i + 2,
            wa_id: Some(format!("346550{i:05}")),
            tags: vec!["vip".into()],
            consent: Some(i % 12 != 0),
            ..crate::ImportRow::default()
        })
        .collect();
    let report = f.inbox.import_contacts(&sam, &rows).await.unwrap();
    assert_eq!(report.created, 120);
    let b = f
        .inbox
        .create_broadcast(&sam, new("spring", "promo"))
        .await
        .unwrap();
    let b = f
        .inbox
        .steer_broadcast(&sam, &b.id, b.version, Steer::Start)
        .await
        .unwrap();
    f.inbox.run_broadcasts(10).await.unwrap();
    // A customer stops marketing after being selected.
    says(&f, "1001", "late-stop", "34655000001", "STOP").await;
    // A worker takes 20 recipients and dies with them.
    let now = f.clock.now();
    let lost = f
        .store
        .claim_recipients(&f.acme(), &b.id, now, now + TimeDelta::seconds(60), 20)
        .await
        .unwrap();
    assert_eq!(lost.len(), 20);
    let mut per_run = Vec::new();
    for _ in 0..80 {
        let before = f
            .store
            .recipient_counts(&f.acme(), &b.id)
            .await
            .unwrap()
            .queued;
        f.inbox.run_broadcasts(10).await.unwrap();
        let after = f
            .store
            .recipient_counts(&f.acme(), &b.id)
            .await
            .unwrap()
            .queued;
        per_run.push(after - before);
        f.advance(TimeDelta::seconds(1));
        if f.store.broadcast(&f.acme(), &b.id).await.unwrap().state == BroadcastState::Done {
            break;
        }
    }
    assert!(per_run.iter().all(|n| *n <= 50), "{per_run:?}");
    let done = f.store.broadcast(&f.acme(), &b.id).await.unwrap();
    assert_eq!(done.state, BroadcastState::Done, "{per_run:?}");
    let counts = f.store.recipient_counts(&f.acme(), &b.id).await.unwrap();
    assert_eq!(
        (counts.queued, counts.skipped, counts.pending),
        (109, 11, 0),
        "{counts:?}"
    );
    while f.inbox.dispatch(200).await.unwrap().total() > 0 {}
    let sent: Vec<String> = f
        .transport
        .sent()
        .iter()
        .filter(|s| s.request.content.is_template())
        .filter_map(|s| s.request.to.wa_id.clone())
        .collect();
    let unique: std::collections::BTreeSet<&String> = sent.iter().collect();
    assert_eq!((sent.len(), unique.len()), (109, 109), "each once");
    for i in (0..120u32).filter(|i| i % 12 == 0) {
        assert!(
            !unique.contains(&format!("346550{i:05}")),
            "opted out by the import: {i}"
        );
    }
    assert!(
        !unique.contains(&"34655000001".to_string()),
        "stopped after selection"
    );
    // The figures: sent, one delivered and read, one failed, one reply.
    let delivered = f.transport.sent()[0].external_id.clone();
    let failed = f.transport.sent()[1].external_id.clone();
    for (ext, status, error) in [
        (delivered, DeliveryStatus::Read, None),
        (failed, DeliveryStatus::Failed, Some(131_049)),
    ] {
        let report = InboundEvent::Status(InboundStatus {
            pricing: None,
            phone_number_id: "1001".into(),
            external_id: ext,
            our_message_id: None,
            recipient: None,
            status,
            timestamp: f.clock.now(),
            error: error.map(|code| ProviderError {
                code: Some(code),
                title: "x".into(),
                details: None,
            }),
        });
        f.inbox.ingest(report).await.unwrap();
    }
    f.advance(TimeDelta::seconds(1));
    // The conversations wait for the customer, nobody's; a reply opens one.
    let c = says(&f, "1001", "answer", "34655000002", "Tell me more").await;
    let conv = stored(&f, &c).await;
    assert!(conv.status.is_active(), "{:?}", conv.status);
    assert!(matches!(
        conv.started.as_ref().map(|s| &s.by),
        Some(crate::model::StartedBy::Broadcast(id)) if *id == b.id
    ));
    assert!(conv.surveys.is_empty(), "never surveyed");
    // Reports leave out the conversations nobody answered: of the 109
    // the broadcast started only the answered one (and the STOP one, the
    // customer's own) count.
    let query = crate::metrics::MetricsQuery {
        from: Fixture::start(),
        to: f.clock.now() + TimeDelta::hours(1),
        channel: None,
        team: None,
        agent: None,
        tag: None,
        now: f.clock.now(),
        missed_after: std::time::Duration::from_secs(3600),
        time_zone: None,
    };
    let report = f.inbox.metrics(&sam, query).await.unwrap();
    assert_eq!(report.opened, 2, "{report:?}");
    let figures = f.inbox.broadcast_figures(&sam, &b.id).await.unwrap();
    assert_eq!(
        (
            figures.queued,
            figures.sent,
            figures.delivered,
            figures.read
        ),
        (109, 108, 1, 1),
        "{figures:?}"
    );
    assert_eq!(figures.failed.get("131049"), Some(&1));
    assert_eq!(figures.replied, 1);
    assert_eq!(figures.skipped.values().sum::<u32>(), 11);
    let refused = f.inbox.broadcast_figures(&f.actor("ana"), &b.id).await;
    assert_eq!(refused.unwrap_err().code(), "forbidden");
}

/// A broadcast's values name the recipient (`{{contact.name}}`): each
/// gets their own; one the inbox has no name for is skipped (an empty
/// value), not sent a hole.
pub(crate) async fn broadcast_values_are_filled_per_recipient<S: Store + AsDynStore + ?Sized>(
    store: Arc<S>,
) {
    use crate::model::TemplateComponent;
    let f = fixture(store).await;
    f.edit_settings(|s| {
        let mut hello =
            TemplateDefinition::new("hello_offer", "en").with(TemplateComponent::Body, 1);
        hello.category = Some(TemplateCategory::Marketing);
        s.templates.push(hello);
    })
    .await
    .unwrap();
    let sam = f.actor("sam");
    let rows = vec![
        crate::ImportRow {
            line: 2,
            wa_id: Some("34655600001".into()),
            name: Some("Marta".into()),
            tags: vec!["vip".into()],
            consent: Some(true),
            ..Default::default()
        },
        crate::ImportRow {
            line: 3,
            wa_id: Some("34655600002".into()),
            tags: vec!["vip".into()],
            consent: Some(true),
            ..Default::default()
        },
    ];
    f.inbox.import_contacts(&sam, &rows).await.unwrap();
    let mut b = new("named", "hello_offer");
    b.template.body = vec!["{{ contact.name }}".into()];
    let b = f.inbox.create_broadcast(&sam, b).await.unwrap();
    f.inbox
        .steer_broadcast(&sam, &b.id, b.version, Steer::Start)
        .await
        .unwrap();
    for _ in 0..3 {
        f.inbox.run_broadcasts(10).await.unwrap();
        f.advance(TimeDelta::seconds(1));
    }
    let figures = f.inbox.broadcast_figures(&sam, &b.id).await.unwrap();
    assert_eq!(
        (figures.queued, figures.skipped.values().sum::<u32>()),
        (1, 1),
        "{figures:?}"
    );
    while f.inbox.dispatch(10).await.unwrap().total() > 0 {}
    let sent = f.transport.sent();
    assert_eq!(sent.len(), 1);
    let body = serde_json::to_string(&sent[0].request.content).unwrap();
    assert!(body.contains("Marta") && !body.contains("{{"), "{body}");
}
