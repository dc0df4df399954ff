//! The [`Outreach`] contract: broadcasts version-checked, each recipient
//! once, claims exclusive until settled or lapsed, states forward only,
//! segments exactly as the core selects, tenants apart.

use crate::ids::BroadcastId;
use crate::model::{
    Broadcast, BroadcastState, Recipient, RecipientCounts, RecipientState, Segment, TemplateFill,
};
use crate::ports::RecipientOutcome;
use crate::testing::conformance::support::*;

fn broadcast(tenant: &str, id: &str, state: BroadcastState, minute: i64) -> Broadcast {
    Broadcast {
        tenant: t(tenant),
        id: BroadcastId::new(id).unwrap(),
        name: format!("{id} offer"),
        channel: ChannelId::new("sales").unwrap(),
        template: TemplateFill::new("promo", "en"),
        segment: Segment::default(),
        created_by: AgentId::new("sam").unwrap(),
        schedule: Some(at(minute)),
        rate_per_second: 20,
        state,
        selected: 0,
        cursor: None,
        paced_until: None,
        created_at: at(0),
        finished_at: None,
        version: 0,
    }
}

fn pending(contact: &str) -> Recipient {
    Recipient {
        contact: ContactId::new(contact).unwrap(),
        state: RecipientState::Pending,
        message: None,
        reason: None,
    }
}

/// A new broadcast is stored at version 1 (a second with its id is a
/// duplicate); a change is stored only on the version read; due
/// broadcasts come from every tenant, scheduled ones once their time
/// came, oldest first; another tenant's broadcast is not found.
pub(crate) async fn broadcasts_are_version_checked_and_due_across_tenants<S: Store + ?Sized>(
    store: Arc<S>,
) {
    setup_tenants(&*store).await;
    let b = broadcast("acme", "b1", BroadcastState::Scheduled, 10);
    store.put_broadcast(&b, None).await.unwrap();
    let dup = store.put_broadcast(&b, None).await.unwrap_err();
    assert!(matches!(dup, Error::Duplicate { .. }), "{dup}");
    let stored = store.broadcast(&t("acme"), &b.id).await.unwrap();
    assert_eq!(stored.version, 1);
    let mut started = stored.clone();
    started.state = BroadcastState::Sending;
    store.put_broadcast(&started, Some(1)).await.unwrap();
    let stale = store.put_broadcast(&started, Some(1)).await.unwrap_err();
    assert_eq!(stale.code(), "conflict");
    assert_eq!(store.broadcast(&t("acme"), &b.id).await.unwrap().version, 2);
    let later = broadcast("globex", "b2", BroadcastState::Scheduled, 30);
    store.put_broadcast(&later, None).await.unwrap();
    let draft = broadcast("globex", "b3", BroadcastState::Draft, 0);
    store.put_broadcast(&draft, None).await.unwrap();
    let due = |minute| {
        let store = store.clone();
        async move {
            let found = store.due_broadcasts(at(minute), 10).await.unwrap();
            found
                .into_iter()
                .map(|b| b.id.to_string())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(due(5).await, ["b1"], "sending: due whatever its schedule");
    assert_eq!(due(30).await, ["b1", "b2"]);
    assert_eq!(
        store
            .broadcast(&t("globex"), &b.id)
            .await
            .unwrap_err()
            .code(),
        "not_found"
    );
    let mine: Vec<String> = store
        .broadcasts(&t("globex"))
        .await
        .unwrap()
        .into_iter()
        .map(|b| b.id.to_string())
        .collect();
    assert_eq!(mine.len(), 2);
    assert!(!mine.contains(&"b1".to_string()));
}

/// Each contact is a recipient once; claims are exclusive until settled
/// or lapsed; a settled recipient never moves again and a stale token
/// changes nothing; counts and listing follow.
pub(crate) async fn recipients_are_claimed_once_and_move_forward_only<S: Store + ?Sized>(
    store: Arc<S>,
) {
    setup_tenants(&*store).await;
    let b = broadcast("acme", "b1", BroadcastState::Sending, 0);
    store.put_broadcast(&b, None).await.unwrap();
    let (acme, id) = (t("acme"), b.id.clone());
    let first = [pending("k1"), pending("k2"), pending("k3")];
    assert_eq!(store.add_recipients(&acme, &id, &first).await.unwrap(), 3);
    let mut skipped = pending("k4");
    skipped.state = RecipientState::Skipped;
    skipped.reason = Some("opted_out".into());
    let again = [pending("k2"), skipped];
    assert_eq!(
        store.add_recipients(&acme, &id, &again).await.unwrap(),
        1,
        "k2 once"
    );
    let claims = store
        .claim_recipients(&acme, &id, at(1), at(2), 2)
        .await
        .unwrap();
    let claimed: Vec<&str> = claims.iter().map(|c| c.contact.as_str()).collect();
    assert_eq!(claimed, ["k1", "k2"]);
    let other = store
        .claim_recipients(&acme, &id, at(1), at(2), 5)
        .await
        .unwrap();
    assert_eq!(
        other.iter().map(|c| c.contact.as_str()).collect::<Vec<_>>(),
        ["k3"],
        "exclusive"
    );
    let queued = RecipientOutcome::Queued(MessageId::new("m1").unwrap());
    store.settle_recipient(&claims[0], &queued).await.unwrap();
    let twice = store
        .settle_recipient(&claims[0], &queued)
        .await
        .unwrap_err();
    assert_eq!(twice.code(), "conflict");
    // k2's claim lapses: handed out again; the old token no longer settles.
    let retaken = store
        .claim_recipients(&acme, &id, at(3), at(4), 5)
        .await
        .unwrap();
    let names: Vec<&str> = retaken.iter().map(|c| c.contact.as_str()).collect();
    assert_eq!(names, ["k2", "k3"]);
    let skip = RecipientOutcome::Skipped("opted_out".into());
    assert_eq!(
        store
            .settle_recipient(&claims[1], &skip)
            .await
            .unwrap_err()
            .code(),
        "conflict"
    );
    store.settle_recipient(&retaken[0], &skip).await.unwrap();
    let counts = store.recipient_counts(&acme, &id).await.unwrap();
    assert_eq!(
        counts,
        RecipientCounts {
            pending: 1,
            queued: 1,
            skipped: 2
        }
    );
    let listed = store
        .recipients(&acme, &id, Some(&ContactId::new("k1").unwrap()), 2)
        .await
        .unwrap();
    let rows: Vec<(&str, RecipientState)> = listed
        .iter()
        .map(|r| (r.contact.as_str(), r.state))
        .collect();
    assert_eq!(
        rows,
        [
            ("k2", RecipientState::Skipped),
            ("k3", RecipientState::Pending)
        ]
    );
    let k1 = store.recipients(&acme, &id, None, 1).await.unwrap();
    assert_eq!(k1[0].message.as_ref().map(|m| m.as_str()), Some("m1"));
    assert_eq!(
        store
            .recipient_counts(&t("globex"), &id)
            .await
            .unwrap_err()
            .code(),
        "not_found"
    );
}

/// A segment selects exactly the contacts [`Segment::matches`] does, in id
/// order, a page at a time, within the tenant.
pub(crate) async fn segments_select_contacts_in_id_order<S: Store + ?Sized>(store: Arc<S>) {
    setup_tenants(&*store).await;
    let mut rows = Vec::new();
    for (i, tags, plan) in [
        (1, vec!["vip"], "gold"),
        (2, vec!["vip", "es"], "gold"),
        (3, vec!["es"], "gold"),
        (4, vec!["vip"], "free"),
        (5, vec![], "gold"),
    ] {
        let mut c = contact("acme", &format!("k{i}"), &format!("3460000000{i}"));
        c.tags = tags.into_iter().map(String::from).collect();
        c.attributes.insert("plan".into(), plan.into());
        rows.push(c);
    }
    let mut other = contact("globex", "k9", "34600000009");
    other.tags = vec!["vip".into()];
    for c in rows.iter().chain([&other]) {
        store
            .commit(Changeset {
                contact: Some(insert(c.clone())),
                ..Changeset::new(c.tenant.clone())
            })
            .await
            .unwrap();
    }
    let select = |segment: Segment, after: Option<&str>, limit: u32| {
        let store = store.clone();
        let after = after.map(|a| ContactId::new(a).unwrap());
        async move {
            let found = store
                .segment_contacts(&t("acme"), &segment, after.as_ref(), limit)
                .await
                .unwrap();
            found
                .into_iter()
                .map(|c| c.id.to_string())
                .collect::<Vec<_>>()
        }
    };
    let vip_gold = Segment {
        tags_all: vec!["vip".into()],
        attributes: [("plan".to_string(), "gold".to_string())].into(),
        ..Segment::default()
    };
    assert_eq!(select(vip_gold, None, 10).await, ["k1", "k2"]);
    let any = Segment {
        tags_any: vec!["es".into(), "vip".into()],
        ..Segment::default()
    };
    assert_eq!(select(any.clone(), None, 2).await, ["k1", "k2"]);
    assert_eq!(select(any, Some("k2"), 2).await, ["k3", "k4"]);
    assert_eq!(select(Segment::default(), Some("k4"), 10).await, ["k5"]);
}
