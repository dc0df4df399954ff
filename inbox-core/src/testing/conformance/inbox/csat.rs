//! Satisfaction surveys: sent after a resolution inside the window, once
//! per resolution, answered quietly, skipped with a reason, reported.

use crate::metrics::CsatQuery;
use crate::model::{CsatScale, InteractiveReply, SurveySkip};
use crate::testing::conformance::support::*;
use crate::ReopenPolicy;

async fn csat_fixture<S: Store + AsDynStore + ?Sized>(store: Arc<S>) -> Fixture {
    let f = fixture(store).await;
    f.edit_settings(|s| {
        s.csat = crate::settings::TenantSettings::from_yaml(
            "csat: { enabled: true, after: 2m, comment: { ask: true, wait: 15m } }",
        )
        .unwrap()
        .csat;
    })
    .await
    .unwrap();
    f
}

/// A customer writes, ana answers and resolves: the conversation is ready
/// for its survey.
async fn served(f: &Fixture, wa: &str, key: &str) -> ConversationId {
    let c = says(f, "1001", &format!("{key}-in"), wa, "my order is late").await;
    claim_now(f, &f.actor("ana"), &c).await;
    reply_now(f, &f.actor("ana"), &c, "It ships today", key).await;
    set_status_now(f, &f.actor("ana"), &c, ConversationStatus::Resolved).await;
    c
}

fn tap(f: &Fixture, ext: &str, wa: &str, id: &str) -> InboundEvent {
    let reply = InteractiveReply::ButtonReply {
        id: id.into(),
        title: "x".into(),
    };
    InboundEvent::Message(f.inbound("1001", ext, wa, Content::Interactive { reply }))
}

fn survey_messages(messages: &[Message]) -> Vec<&Message> {
    messages
        .iter()
        .filter(|m| m.author == Author::Automation("csat".into()))
        .collect()
}

/// Two minutes after the resolution the survey goes (three faces, through
/// the outbox); the customer's tap is kept with the survey, with the agent
/// and team, and reopens nothing; their next text is the comment; a
/// second tap changes nothing; the report counts it on both stores.
pub(crate) async fn survey_sent_after_resolve_and_answered_quietly<
    S: Store + AsDynStore + ?Sized,
>(
    store: Arc<S>,
) {
    let f = csat_fixture(store).await;
    let wa = "34655500081";
    let c = served(&f, wa, "r1").await;
    let s = stored(&f, &c).await.surveys[0].clone();
    assert_eq!(
        (s.resolution, s.agent.as_ref().map(|a| a.as_str())),
        (0, Some("ana"))
    );
    assert!(s.is_waiting());
    tick(&f, f.clock.now() + TimeDelta::minutes(1)).await;
    assert!(
        stored(&f, &c).await.surveys[0].sent.is_none(),
        "not before it is due"
    );
    f.advance(TimeDelta::minutes(2));
    assert_eq!(tick(&f, f.clock.now()).await.surveys, 1);
    let messages = messages_of(&f, &c).await;
    let sent = survey_messages(&messages);
    assert_eq!(sent.len(), 1);
    let Content::Buttons { buttons, .. } = &sent[0].content else {
        panic!("{:?}", sent[0].content)
    };
    assert_eq!(
        buttons.iter().map(|b| b.id.as_str()).collect::<Vec<_>>(),
        ["csat:0:1", "csat:0:2", "csat:0:3"]
    );
    f.advance(TimeDelta::minutes(1));
    f.inbox.ingest(tap(&f, "t1", wa, "csat:0:3")).await.unwrap();
    let conv = stored(&f, &c).await;
    assert_eq!(conv.status, ConversationStatus::Resolved, "not reopened");
    assert_eq!(conv.waiting_since, None);
    let answer = conv.surveys[0].answer.clone().unwrap();
    assert_eq!((answer.score, answer.scale), (3, CsatScale::Faces));
    assert_eq!(
        survey_messages(&messages_of(&f, &c).await).len(),
        2,
        "the comment prompt"
    );
    says(&f, "1001", "t2", wa, "  Very quick, thanks ").await;
    let conv = stored(&f, &c).await;
    assert_eq!(conv.status, ConversationStatus::Resolved);
    let answer = conv.surveys[0].answer.clone().unwrap();
    assert_eq!(answer.comment.as_deref(), Some("Very quick, thanks"));
    let said = messages_of(&f, &c)
        .await
        .into_iter()
        .find(|m| answer.comment_message.as_ref() == Some(&m.id));
    assert!(
        said.is_some_and(|m| m.direction == Direction::Inbound),
        "the comment's message"
    );
    f.inbox.ingest(tap(&f, "t3", wa, "csat:0:1")).await.unwrap();
    assert_eq!(
        stored(&f, &c).await.surveys[0]
            .answer
            .as_ref()
            .unwrap()
            .score,
        3
    );
    let kinds: Vec<&str> = events_of(&f, &c)
        .await
        .iter()
        .map(|e| e.kind.name())
        .collect();
    assert!(!kinds.contains(&"conversation_reopened"), "{kinds:?}");
    let query = CsatQuery {
        from: Fixture::start(),
        to: f.clock.now() + TimeDelta::hours(1),
    };
    let report = f.inbox.csat_report(&f.actor("sam"), query).await.unwrap();
    assert_eq!((report.total.sent, report.total.answered), (1, 1));
    assert_eq!(report.total.positive_share, Some(1.0));
    assert_eq!(report.agents["ana"].average, Some(5.0));
    let refused = f.inbox.csat_report(&f.actor("ana"), query).await;
    assert_eq!(refused.unwrap_err().code(), "forbidden");
}

/// Never outside the window: ana answers a day later and resolves; the
/// window closes before the survey is due, so it is skipped, not sent.
pub(crate) async fn survey_skipped_when_the_window_closed<S: Store + AsDynStore + ?Sized>(
    store: Arc<S>,
) {
    let f = csat_fixture(store).await;
    let wa = "34655500082";
    let c = says(&f, "1001", "w1", wa, "hello?").await;
    claim_now(&f, &f.actor("ana"), &c).await;
    f.advance(TimeDelta::hours(23) + TimeDelta::minutes(55));
    reply_now(&f, &f.actor("ana"), &c, "Sorry for the wait", "w2").await;
    set_status_now(&f, &f.actor("ana"), &c, ConversationStatus::Resolved).await;
    f.advance(TimeDelta::minutes(2));
    tick(&f, f.clock.now()).await;
    let conv = stored(&f, &c).await;
    assert_eq!(conv.surveys[0].skipped, Some(SurveySkip::WindowClosed));
    assert!(survey_messages(&messages_of(&f, &c).await).is_empty());
}

/// The customer writes again before the survey goes: the conversation is
/// reopened (or a new one opened, per the tenant), never surveyed.
pub(crate) async fn survey_skipped_when_the_customer_wrote_first<S: Store + AsDynStore + ?Sized>(
    store: Arc<S>,
) {
    let f = csat_fixture(store).await;
    let wa = "34655500083";
    let c = served(&f, wa, "f1").await;
    f.advance(TimeDelta::minutes(1));
    says(&f, "1001", "f2", wa, "one more thing").await;
    let conv = stored(&f, &c).await;
    assert!(conv.status.is_active());
    assert_eq!(
        conv.surveys[0].skipped,
        Some(SurveySkip::CustomerWroteFirst)
    );
    f.advance(TimeDelta::minutes(5));
    tick(&f, f.clock.now()).await;
    assert!(survey_messages(&messages_of(&f, &c).await).is_empty());
    // A tenant that opens a new conversation instead.
    f.edit_settings(|s| s.reopen = ReopenPolicy::NewConversation)
        .await
        .unwrap();
    let wa = "34655500084";
    let c = served(&f, wa, "g1").await;
    f.advance(TimeDelta::minutes(1));
    let other = says(&f, "1001", "g2", wa, "new question").await;
    assert_ne!(other, c);
    f.advance(TimeDelta::minutes(5));
    tick(&f, f.clock.now()).await;
    let conv = stored(&f, &c).await;
    assert_eq!(
        conv.surveys[0].skipped,
        Some(SurveySkip::CustomerWroteFirst)
    );
    assert!(survey_messages(&messages_of(&f, &c).await).is_empty());
}

/// No survey when no person replied (counted as skipped), nor to a
/// customer who stopped marketing messages; one survey per resolution.
pub(crate) async fn no_survey_without_a_reply_or_to_the_opted_out<
    S: Store + AsDynStore + ?Sized,
>(
    store: Arc<S>,
) {
    let f = csat_fixture(store).await;
    let c = says(&f, "1001", "n1", "34655500085", "hi").await;
    set_status_now(&f, &f.actor("sam"), &c, ConversationStatus::Resolved).await;
    assert_eq!(
        stored(&f, &c).await.surveys[0].skipped,
        Some(SurveySkip::NoAgentReply)
    );
    // Opted out (WhatsApp's stop): skipped when due.
    f.edit_settings(|s| s.consent.stop_keywords = vec!["STOP".into()])
        .await
        .unwrap();
    let wa = "34655500086";
    let c = served(&f, wa, "o1").await;
    says(&f, "1001", "o2", wa, "STOP").await;
    f.advance(TimeDelta::minutes(3));
    tick(&f, f.clock.now()).await;
    assert_eq!(
        stored(&f, &c).await.surveys[0].skipped,
        Some(SurveySkip::OptedOut)
    );
    // Reopened by an agent and resolved again: a second survey, its own.
    let v = f.version(&c).await.unwrap();
    f.inbox
        .set_status(&f.actor("ana"), &c, v, ConversationStatus::Open)
        .await
        .unwrap();
    set_status_now(&f, &f.actor("ana"), &c, ConversationStatus::Resolved).await;
    let conv = stored(&f, &c).await;
    assert_eq!(conv.surveys.len(), 2);
    assert_eq!(conv.surveys[1].resolution, 1);
}
