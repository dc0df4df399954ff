//! Past chats imported from the WhatsApp Business app (coexistence
//! onboarding): stored once, as history, in an imported conversation that
//! nothing routes, waits on, reopens or reports; the number keeps the
//! import's progress.

use crate::inbound::{HistoryChunk, HistoryMessage, HistoryThread, InboundHistory};
use crate::inbox::MEDIA_PLACEHOLDER;
use crate::metrics::MetricsQuery;
use crate::routing::Routing;
use crate::testing::conformance::support::*;

const MARTA: &str = "34600000020";

/// A past message of Marta's chat, `minutes_ago` before the start.
fn past(
    f: &Fixture,
    id: &str,
    minutes_ago: i64,
    by_business: bool,
    content: Content,
) -> HistoryMessage {
    let mut message = f.inbound("1001", id, MARTA, content);
    message.timestamp = Fixture::start() - TimeDelta::minutes(minutes_ago);
    message.profile_name = None;
    HistoryMessage {
        message,
        from_business: by_business,
        status: by_business.then_some(DeliveryStatus::Read),
    }
}

fn text(body: &str) -> Content {
    Content::text(body)
}

/// Chunk `(phase, order)` at `progress` with Marta's `messages`.
fn chunk(phase: u8, order: u32, progress: u8, messages: Vec<HistoryMessage>) -> InboundEvent {
    InboundEvent::History(InboundHistory {
        phone_number_id: "1001".into(),
        chunk: Some(HistoryChunk {
            phase,
            chunk_order: order,
            progress,
        }),
        threads: vec![HistoryThread {
            customer: ContactIdentity::wa(MARTA),
            messages,
        }],
        declined: None,
        timestamp: Fixture::start(),
    })
}

fn stored_count(outcome: IngestOutcome) -> u32 {
    match outcome {
        IngestOutcome::History { stored } => stored,
        other => panic!("{other:?}"),
    }
}

/// A chunk is stored as history in Marta's imported conversation: no
/// routing (every conversation would be assigned), nobody waits, no SLA,
/// no window, no `message_received`; delivered again it stores nothing;
/// an older chunk arriving later goes before it; a placeholder's photo
/// fills it in; the number counts chunks and messages up to 100 %; a
/// message she writes now opens a conversation of its own, routed; the
/// report leaves the imported one out.
pub(crate) async fn history_is_imported_once_and_changes_nothing_live<
    S: Store + AsDynStore + ?Sized,
>(
    store: Arc<S>,
) {
    let f = Fixture::with_settings(store.as_dyn(), Fixture::first_response_sla(1800))
        .await
        .unwrap();
    let rules = "teams:\n  sales: { strategy: round_robin }\nrules:\n  - name: sales line\n    then: [ { route_to_team: sales }, { assign: {} } ]\n";
    f.set_routing(&Routing::from_yaml(rules).unwrap())
        .await
        .unwrap();
    online(&f, "ana").await;
    let recent = vec![
        past(&f, "wamid.h.2", 60, false, text("Is it in stock?")),
        past(&f, "wamid.h.3", 50, true, text("Yes, two left")),
        past(
            &f,
            "wamid.h.4",
            40,
            false,
            Content::Unsupported {
                raw_type: MEDIA_PLACEHOLDER.into(),
            },
        ),
    ];
    assert_eq!(
        stored_count(
            f.inbox
                .ingest(chunk(0, 1, 30, recent.clone()))
                .await
                .unwrap()
        ),
        3
    );
    let id = ConversationId::new(format!("imported:sales:{}", contact_id(&f).await)).unwrap();
    let c = stored(&f, &id).await;
    assert!(c.imported);
    assert_eq!(c.status, ConversationStatus::Resolved);
    assert_eq!(
        (c.assignee.clone(), c.waiting_since, c.sla.clone()),
        (None, None, None)
    );
    assert_eq!(c.window_expires_at, None, "history opens no window");
    assert_eq!(c.message_count, 3);
    let messages = messages_of(&f, &id).await;
    assert!(messages.iter().all(|m| m.origin == Origin::History));
    assert_eq!(messages[1].author, Author::business_app());
    let kinds: Vec<&str> = events_of(&f, &id)
        .await
        .iter()
        .map(|e| e.kind.name())
        .collect();
    assert!(kinds.contains(&"history_imported"), "{kinds:?}");
    assert!(
        !kinds
            .iter()
            .any(|k| ["message_received", "assigned", "conversation_opened"].contains(k)),
        "{kinds:?}"
    );
    // Again: nothing new. An older chunk, late: before the others.
    assert_eq!(
        stored_count(f.inbox.ingest(chunk(0, 1, 30, recent)).await.unwrap()),
        0
    );
    let older = vec![past(
        &f,
        "wamid.h.1",
        60 * 24 * 30,
        false,
        text("Hi, do you ship to Porto?"),
    )];
    assert_eq!(
        stored_count(f.inbox.ingest(chunk(1, 1, 100, older)).await.unwrap()),
        1
    );
    let c = stored(&f, &id).await;
    assert_eq!(c.created_at, Fixture::start() - TimeDelta::days(30));
    assert_eq!(
        c.resolved_at,
        Some(Fixture::start() - TimeDelta::minutes(40))
    );
    let detail = f.inbox.conversation(&f.actor("ana"), &id).await.unwrap();
    let order: Vec<_> = detail
        .messages
        .iter()
        .map(|m| m.external_id.clone().unwrap())
        .collect();
    assert_eq!(order, ["wamid.h.1", "wamid.h.2", "wamid.h.3", "wamid.h.4"]);
    // The placeholder's photo.
    let photo = Content::Media {
        kind: MediaKind::Image,
        media: MediaRef {
            id: Some("media.7".into()),
            link: None,
            mime_type: Some("image/jpeg".into()),
            sha256: None,
            filename: None,
        },
        caption: Some("the box".into()),
    };
    let mut filled = chunk(
        0,
        0,
        0,
        vec![past(&f, "wamid.h.4", 40, false, photo.clone())],
    );
    if let InboundEvent::History(h) = &mut filled {
        h.chunk = None;
    }
    f.inbox.ingest(filled).await.unwrap();
    let messages = messages_of(&f, &id).await;
    let h4 = messages
        .iter()
        .find(|m| m.external_id.as_deref() == Some("wamid.h.4"))
        .unwrap();
    assert_eq!(h4.content, photo);
    // For reference: notes, yes; claiming or answering, no.
    let ana = f.actor("ana");
    let c = stored(&f, &id).await;
    let refused = f.inbox.claim(&ana, &id, c.version).await.unwrap_err();
    assert_eq!(refused.code(), "invalid_state", "{refused}");
    let noted = f
        .inbox
        .note(&ana, &id, c.version, "she is a regular", "n1")
        .await;
    assert!(noted.is_ok(), "{noted:?}");
    let detail = f.inbox.conversation(&ana, &id).await.unwrap();
    assert!(!detail.may.reply.allowed && !detail.may.claim && detail.may.note);
    // The number's progress.
    let sales = f.store.channel(&f.acme(), &id_of("sales")).await.unwrap();
    let import = sales.history.unwrap();
    assert_eq!(
        (import.progress, import.chunks.len(), import.messages),
        (100, 2, 4)
    );
    assert!(import.is_complete());
    // Marta writes now: a conversation of its own, routed, waiting.
    let live = ingested(
        &f,
        InboundEvent::Message(f.inbound("1001", "wamid.live", MARTA, text("Hola!"))),
    )
    .await;
    assert_ne!(live, id);
    let live = stored(&f, &live).await;
    assert!(live.assignee.is_some() && live.waiting_since.is_some());
    assert_eq!(stored(&f, &id).await.status, ConversationStatus::Resolved);
    // The report counts the live conversation only.
    let query = MetricsQuery {
        from: Fixture::start() - TimeDelta::days(60),
        to: Fixture::start() + TimeDelta::days(1),
        channel: None,
        team: None,
        agent: None,
        tag: None,
        now: Fixture::start(),
        missed_after: Duration::from_secs(3600),
        time_zone: None,
    };
    let report = f.inbox.metrics(&f.actor("sam"), query).await.unwrap();
    assert_eq!(report.opened, 1);
    // Nor are the business's past messages the inbox's sends to price.
    let range = crate::pricing::CostQuery {
        from: Fixture::start() - TimeDelta::days(60),
        to: Fixture::start() + TimeDelta::days(1),
    };
    let costs = f.inbox.costs(&f.actor("sam"), range).await.unwrap();
    let t = &costs.total;
    assert_eq!(
        (t.billed, t.free, t.other, costs.unpriced),
        (0, 0, 0, 0),
        "{costs:?}"
    );
    // Another customer's live conversation, resolved before their history
    // arrives: when they write again, that one reopens, not the import.
    let other = "34600000021";
    let hi = f.inbound("1001", "wamid.o.1", other, text("hi"));
    let theirs = ingested(&f, InboundEvent::Message(hi)).await;
    let v = stored(&f, &theirs).await.version;
    (f.inbox
        .set_status(&f.actor("sam"), &theirs, v, ConversationStatus::Resolved))
    .await
    .unwrap();
    let mut old = past(&f, "wamid.o.0", 60 * 24 * 10, false, text("last month"));
    old.message.from = ContactIdentity::wa(other);
    let mut history = chunk(1, 2, 100, vec![old]);
    if let InboundEvent::History(h) = &mut history {
        h.threads[0].customer = ContactIdentity::wa(other);
    }
    assert_eq!(stored_count(f.inbox.ingest(history).await.unwrap()), 1);
    f.advance(TimeDelta::hours(1));
    let again = f.inbound("1001", "wamid.o.2", other, text("me again"));
    let reopened = ingested(&f, InboundEvent::Message(again)).await;
    assert_eq!(reopened, theirs, "the live conversation reopens");
}

/// The business declines to share its history: the number records it.
pub(crate) async fn a_declined_history_is_recorded_on_the_number<S: Store + AsDynStore + ?Sized>(
    store: Arc<S>,
) {
    let f = fixture(store).await;
    let declined = InboundHistory {
        phone_number_id: "1001".into(),
        chunk: None,
        threads: Vec::new(),
        declined: Some(ProviderError {
            code: Some(2_593_109),
            title: "History sharing declined".into(),
            details: None,
        }),
        timestamp: Fixture::start(),
    };
    let outcome = f
        .inbox
        .ingest(InboundEvent::History(declined))
        .await
        .unwrap();
    assert_eq!(outcome, IngestOutcome::History { stored: 0 });
    let sales = f.store.channel(&f.acme(), &id_of("sales")).await.unwrap();
    let import = sales.history.unwrap();
    assert!(import.declined && import.is_complete());
    assert_eq!(import.updated_at, Some(Fixture::start()));
}

async fn contact_id(f: &Fixture) -> ContactId {
    f.store
        .find_contact(&f.acme(), &ContactIdentity::wa(MARTA))
        .await
        .unwrap()
        .unwrap()
        .id
}

fn id_of(s: &str) -> ChannelId {
    id(s)
}
