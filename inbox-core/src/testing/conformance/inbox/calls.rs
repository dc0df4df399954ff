//! Calls through the inbox: a missed call makes the customer wait and is
//! routed like a message; answered calls are on the timeline without
//! making anyone wait; each call event is stored once.

use crate::model::CallOutcome;
use crate::routing::Routing;
use crate::testing::conformance::support::*;

/// A call event of `wa`'s call `call` on the sales number, now.
fn call(f: &Fixture, call: &str, event: &str, wa: &str, outcome: CallOutcome) -> InboundEvent {
    let content = Content::Call {
        call_id: call.into(),
        from_customer: true,
        duration_secs: (outcome == CallOutcome::Answered).then_some(192),
        outcome,
    };
    InboundEvent::Message(f.inbound("1001", &format!("{call}:{event}"), wa, content))
}

/// A customer's missed call opens a conversation that is routed and
/// waits for a call back (the SLA runs), delivered twice it is stored
/// once, and it opens no customer service window; an answered call is
/// on the timeline and changes nothing else.
pub(crate) async fn a_missed_call_waits_for_a_call_back_like_a_message<
    S: Store + AsDynStore + ?Sized,
>(
    store: Arc<S>,
) {
    let f = Fixture::with_settings(store.as_dyn(), Fixture::first_response_sla(1800))
        .await
        .unwrap();
    let rules = "teams:\n  sales: { strategy: round_robin }\nrules:\n  - name: calls\n    on: [message_received]\n    when: { message_type: [call] }\n    then: [ { add_tags: call-back } ]\n  - name: sales line\n    then: [ { route_to_team: sales }, { assign: {} } ]\n";
    f.set_routing(&Routing::from_yaml(rules).unwrap())
        .await
        .unwrap();
    online(&f, "ana").await;
    let wa = "34600000010";
    f.inbox
        .ingest(call(&f, "wacid.1", "connect", wa, CallOutcome::Ringing))
        .await
        .unwrap();
    let missed = call(&f, "wacid.1", "terminate", wa, CallOutcome::Missed);
    let c = ingested(&f, missed.clone()).await;
    assert!(matches!(
        f.inbox.ingest(missed).await.unwrap(),
        IngestOutcome::Duplicate { .. }
    ));
    let conversation = stored(&f, &c).await;
    assert_eq!(conversation.waiting_since, Some(Fixture::start()));
    assert!(conversation.assignee.is_some(), "routed");
    assert_eq!(conversation.tags, ["call-back"]);
    assert!(conversation.sla.is_some(), "the SLA runs for the call back");
    assert_eq!(
        conversation.window_expires_at, None,
        "a call opens no window"
    );
    assert_eq!(messages_of(&f, &c).await.len(), 2);
    // The business calls back ten minutes later and the customer answers:
    // they no longer wait, and the call back met the SLA.
    f.advance(TimeDelta::minutes(10));
    let back = Content::Call {
        call_id: "wacid.2".into(),
        from_customer: false,
        outcome: CallOutcome::Answered,
        duration_secs: Some(192),
    };
    let back = InboundEvent::Message(f.inbound("1001", "wacid.2:terminate", wa, back));
    assert_eq!(ingested(&f, back).await, c);
    let after = stored(&f, &c).await;
    assert_eq!(after.waiting_since, None);
    assert_eq!(
        after.first_response_at,
        Some(Fixture::start() + TimeDelta::minutes(10))
    );
    let met = after
        .sla
        .as_ref()
        .and_then(|s| s.target(crate::sla::SlaTargetKind::FirstResponse))
        .map(|t| t.state);
    assert_eq!(
        met,
        Some(crate::sla::SlaTargetState::Met {
            at: Fixture::start() + TimeDelta::minutes(10)
        })
    );
    let last = messages_of(&f, &c).await.pop().unwrap();
    assert_eq!(last.direction, Direction::Outbound);
    assert!(matches!(
        last.content,
        Content::Call {
            outcome: CallOutcome::Answered,
            duration_secs: Some(192),
            ..
        }
    ));
    // The customer calls again and someone answers on the phone: if they
    // were waiting (a missed call), they are answered.
    f.advance(TimeDelta::minutes(30));
    let missed = call(&f, "wacid.3", "terminate", wa, CallOutcome::Missed);
    ingested(&f, missed).await;
    assert!(stored(&f, &c).await.waiting_since.is_some());
    let answered = call(&f, "wacid.4", "terminate", wa, CallOutcome::Answered);
    assert_eq!(ingested(&f, answered).await, c);
    assert_eq!(stored(&f, &c).await.waiting_since, None);
}
