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
