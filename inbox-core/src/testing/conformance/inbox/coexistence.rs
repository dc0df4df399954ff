//! Numbers shared with other apps: the business's own WhatsApp Business
//! app (coexistence echoes) and apps that control threads (Meta's AI
//! agent: standby copies, handovers, thread control on claim and resolve).

use crate::inbound::{InboundEcho, InboundHandover, StandbyCopy};
use crate::ports::{ThreadAction, TransportError};
use crate::routing::Routing;
use crate::testing::conformance::support::*;

/// Every new sales conversation is assigned (ana, ben and sam online).
async fn routed<S: Store + AsDynStore + ?Sized>(store: Arc<S>) -> Fixture {
    let f = fixture(store).await;
    let rules = "teams:\n  sales: { strategy: round_robin }\nrules:\n  - name: sales line\n    when: { channel: sales }\n    then: [ { route_to_team: sales }, { assign: {} } ]\n";
    f.set_routing(&Routing::from_yaml(rules).unwrap())
        .await
        .unwrap();
    for a in ["ana", "ben", "sam"] {
        edit_agent(&f, a, |a| a.capacity = 0).await;
        online(&f, a).await;
    }
    f
}

/// What the business sent `wa` from its phone app, now.
fn echo(f: &Fixture, ext: &str, wa: &str, content: Content) -> InboundEcho {
    let mut message = f.inbound("1001", ext, wa, content);
    message.profile_name = None;
    InboundEcho {
        message,
        app: crate::model::Author::BUSINESS_APP.into(),
    }
}

/// A handover of `wa`'s thread on the sales number, now.
fn handover(f: &Fixture, wa: &str, to_us: bool, metadata: Option<&str>) -> InboundHandover {
    InboundHandover {
        phone_number_id: "1001".into(),
        customer: ContactIdentity::wa(wa),
        to_us,
        previous_owner: (to_us).then(|| "ai_agent".into()),
        new_owner: (!to_us).then(|| "ai_agent".into()),
        metadata: metadata.map(Into::into),
        timestamp: crate::ports::Clock::now(f.clock.as_ref()),
    }
}

fn kinds(events: &[Event]) -> Vec<&'static str> {
    events.iter().map(|e| e.kind.name()).collect()
}

/// A message the business sent from its WhatsApp Business app is stored
/// once however often it is delivered, as an outbound message by the app;
/// it answers the waiting customer (first response, SLA met) and never
/// opens or extends the customer service window. Its edit is kept too.
pub(crate) async fn echoes_answer_once_and_never_extend_the_window<
    S: Store + AsDynStore + ?Sized,
>(
    store: Arc<S>,
) {
    let f = Fixture::with_settings(store.as_dyn(), Fixture::first_response_sla(600))
        .await
        .unwrap();
    let c = says(&f, "1001", "w1", "34600000001", "¿Tenéis talla 42?").await;
    let window = stored(&f, &c).await.window_expires_at;
    assert!(window.is_some());
    f.advance(TimeDelta::minutes(5));
    let sent = echo(
        &f,
        "wamid.app1",
        "34600000001",
        Content::text("Sí, en azul"),
    );
    let first = f.inbox.ingest(InboundEvent::Echo(sent.clone())).await;
    let IngestOutcome::Stored {
        message,
        conversation,
        opened: false,
        reopened: false,
    } = first.unwrap()
    else {
        panic!("not stored in the open conversation")
    };
    assert_eq!(conversation, c);
    assert_eq!(message.direction, Direction::Outbound);
    assert_eq!(message.author, crate::model::Author::business_app());
    assert_eq!(
        message.response.map(|r| (r.secs, r.first)),
        Some((300, true))
    );
    let again = f.inbox.ingest(InboundEvent::Echo(sent)).await.unwrap();
    assert_eq!(
        again,
        IngestOutcome::Duplicate {
            message: message.id.clone()
        }
    );
    let after = stored(&f, &c).await;
    assert_eq!(
        after.window_expires_at, window,
        "echoes never extend the window"
    );
    assert_eq!(after.waiting_since, None, "answered");
    assert_eq!(
        after.first_response_at,
        Some(Fixture::start() + TimeDelta::minutes(5))
    );
    let first = after
        .sla
        .as_ref()
        .and_then(|s| s.target(crate::sla::SlaTargetKind::FirstResponse))
        .map(|t| t.state);
    assert_eq!(
        first,
        Some(crate::sla::SlaTargetState::Met {
            at: Fixture::start() + TimeDelta::minutes(5)
        })
    );
    assert_eq!(after.assignee, None, "an echo routes nothing");
    // The business edits it from the phone: kept, changing nothing else.
    f.advance(TimeDelta::minutes(1));
    let edit = Content::Edit {
        target: "wamid.app1".into(),
        content: Box::new(Content::text("Sí, en azul y negro")),
    };
    f.inbox
        .ingest(InboundEvent::Echo(echo(
            &f,
            "wamid.app2",
            "34600000001",
            edit,
        )))
        .await
        .unwrap();
    let messages = messages_of(&f, &c).await;
    assert_eq!(messages.len(), 3);
    assert!(messages[1..]
        .iter()
        .all(|m| m.direction == Direction::Outbound));
    let later = stored(&f, &c).await;
    assert_eq!(later.window_expires_at, window);
    let echoed = count_events(&f, &c, |k| matches!(k, EventKind::MessageEchoed { .. })).await;
    assert_eq!(echoed, 2);
}

/// Passive copies from a thread another app controls are kept and shown,
/// never routed, answered or counted as waiting; they show that another
/// app controls the thread.
pub(crate) async fn standby_copies_are_kept_and_never_routed<S: Store + AsDynStore + ?Sized>(
    store: Arc<S>,
) {
    let f = routed(store).await;
    let customer = f.inbound("1001", "wamid.s1", "34600000002", Content::text("hola"));
    let out = f
        .inbox
        .ingest(InboundEvent::Standby(StandbyCopy::Customer(customer)))
        .await
        .unwrap();
    let IngestOutcome::Stored {
        conversation: c,
        message,
        ..
    } = out
    else {
        panic!("{out:?}")
    };
    assert_eq!(message.origin, crate::model::Origin::Standby);
    f.advance(TimeDelta::seconds(20));
    let mut answer = echo(
        &f,
        "wamid.s2",
        "34600000002",
        Content::text("¡Hola! Soy el asistente"),
    );
    answer.app = crate::UNNAMED_APP.into();
    ingested(&f, InboundEvent::Standby(StandbyCopy::Business(answer))).await;
    let conversation = stored(&f, &c).await;
    assert_eq!(conversation.assignee, None, "never routed");
    assert_eq!(conversation.team, None, "never routed");
    assert_eq!(
        conversation.waiting_since, None,
        "nobody waits for the inbox"
    );
    assert_eq!(
        conversation.controlled_elsewhere(),
        Some(crate::UNNAMED_APP)
    );
    assert!(
        conversation.window_expires_at.is_some(),
        "the customer wrote to the number"
    );
    let messages = messages_of(&f, &c).await;
    let origins: Vec<_> = messages.iter().map(|m| (m.direction, m.origin)).collect();
    assert_eq!(
        origins,
        [
            (Direction::Inbound, crate::model::Origin::Standby),
            (Direction::Outbound, crate::model::Origin::Standby)
        ]
    );
    let all = kinds(&events_of(&f, &c).await);
    assert!(all.contains(&"standby_kept"), "{all:?}");
    assert!(all.contains(&"thread_control_changed"), "{all:?}");
    for never in ["message_received", "rule_fired", "assigned", "sla_started"] {
        assert!(!all.contains(&never), "{never} in {all:?}");
    }
    assert!(f.transport.sent().is_empty(), "nothing answered");
}

/// Meta's AI agent holds a thread: claiming the conversation takes control
/// (WhatsApp's `take`), resolving it passes control back to the AI agent;
/// each change is on the timeline. A take WhatsApp refuses (2494191)
/// leaves the claim made, the thread where it was, and says why.
pub(crate) async fn a_claim_takes_the_thread_and_a_resolve_passes_it_back<
    S: Store + AsDynStore + ?Sized,
>(
    store: Arc<S>,
) {
    let f = fixture(store).await;
    let wa = "34600000003";
    let customer = f.inbound(
        "1001",
        "wamid.t1",
        wa,
        Content::text("quiero hablar con alguien"),
    );
    let c = ingested(&f, InboundEvent::Standby(StandbyCopy::Customer(customer))).await;
    let taken = f
        .inbox
        .ingest(InboundEvent::Handover(handover(&f, wa, false, None)))
        .await;
    assert_eq!(
        taken.unwrap(),
        IngestOutcome::Handover {
            conversation: Some(c.clone()),
            changed: true
        }
    );
    assert_eq!(
        stored(&f, &c).await.controlled_elsewhere(),
        Some("ai_agent")
    );
    // A take on a stale version is refused before WhatsApp is asked.
    let stale = f.inbox.take_thread(&f.actor("ben"), &c, 1).await;
    assert_eq!(refused(stale), "conflict");
    assert!(f.transport.thread_calls().is_empty());
    // WhatsApp refuses the take: the claim stands, the thread stays.
    f.transport.fail_next_thread_call(TransportError::Rejected {
        code: Some(2494191),
        message: "take not permitted".into(),
    });
    let ben = f.actor("ben");
    let v = f.version(&c).await.unwrap();
    let claimed = f.inbox.claim(&ben, &c, v).await.unwrap();
    assert!(
        claimed
            .warnings
            .iter()
            .any(|w| w.contains("escalation partner")),
        "{:?}",
        claimed.warnings
    );
    assert_eq!(
        claimed.conversation.controlled_elsewhere(),
        Some("ai_agent")
    );
    let failed = |k: &EventKind| matches!(k, EventKind::ThreadControlFailed { .. });
    assert_eq!(count_events(&f, &c, failed).await, 1);
    let v = claimed.conversation.version;
    f.inbox.release(&ben, &c, v, "try again").await.unwrap();
    // Now WhatsApp lets the inbox take it.
    let ana = f.actor("ana");
    claim_now(&f, &ana, &c).await;
    let calls = f.transport.thread_calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].action, ThreadAction::Take);
    assert_eq!(calls[0].customer.wa_id.as_deref(), Some(wa));
    let now_ours = stored(&f, &c).await;
    assert_eq!(now_ours.assignee, Some(id("ana")));
    let thread = now_ours.thread.clone().unwrap();
    assert!(thread.ours());
    assert_eq!(thread.previous.as_deref(), Some("ai_agent"));
    reply_now(&f, &ana, &c, "Hola, soy Ana", "r1").await;
    set_status_now(&f, &ana, &c, ConversationStatus::Resolved).await;
    let calls = f.transport.thread_calls();
    assert_eq!(calls.len(), 2);
    assert_eq!(
        calls[1].action,
        ThreadAction::Pass {
            target_role: "ai_agent".into()
        }
    );
    assert!(calls[1]
        .metadata
        .as_deref()
        .is_some_and(|m| m.contains("ana")));
    let resolved = stored(&f, &c).await;
    assert_eq!(resolved.status, ConversationStatus::Resolved);
    assert_eq!(resolved.controlled_elsewhere(), Some("ai_agent"));
    let changes: Vec<String> = events_of(&f, &c)
        .await
        .into_iter()
        .filter_map(|e| match e.kind {
            EventKind::ThreadControlChanged { how, owner, .. } => {
                Some(format!("{how}:{}", owner.unwrap_or_else(|| "inbox".into())))
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        changes,
        [
            "seen_on_standby:another_app",
            "taken:ai_agent",
            "taken:inbox",
            "passed:ai_agent"
        ]
    );
    // The customer's next message reaches the inbox live (the AI agent
    // let the thread go without a handover): the inbox has it again.
    f.advance(TimeDelta::minutes(1));
    let back = says(&f, "1001", "wamid.t9", wa, "¿Seguís ahí?").await;
    assert_eq!(back, c);
    let thread = stored(&f, &c).await.thread.unwrap();
    assert!(thread.ours());
    assert_eq!(thread.previous.as_deref(), Some("ai_agent"));
}

/// Meta's AI agent passes a customer to the inbox: the conversation waits
/// for an answer and is routed like a new message, with the AI agent's
/// summary on the timeline; a tenant that asks first claims without
/// taking the thread.
pub(crate) async fn control_passed_to_the_inbox_is_routed<S: Store + AsDynStore + ?Sized>(
    store: Arc<S>,
) {
    let f = routed(store).await;
    let wa = "34600000004";
    let customer = f.inbound("1001", "wamid.p1", wa, Content::text("mi pedido no llega"));
    let c = ingested(&f, InboundEvent::Standby(StandbyCopy::Customer(customer))).await;
    assert_eq!(stored(&f, &c).await.assignee, None);
    f.advance(TimeDelta::minutes(2));
    let summary = "Pedido 1234 retrasado; el cliente quiere una persona";
    let passed = handover(&f, wa, true, Some(summary));
    let out = f
        .inbox
        .ingest(InboundEvent::Handover(passed.clone()))
        .await
        .unwrap();
    assert_eq!(
        out,
        IngestOutcome::Handover {
            conversation: Some(c.clone()),
            changed: true
        }
    );
    let now = stored(&f, &c).await;
    assert!(now.assignee.is_some(), "routed like a new message");
    assert_eq!(
        now.waiting_since,
        Some(Fixture::start() + TimeDelta::minutes(2))
    );
    let thread = now.thread.clone().unwrap();
    assert!(thread.ours());
    assert_eq!(thread.metadata.as_deref(), Some(summary));
    // The same handover again (Meta retries), or an older one: nothing new.
    let before = events_of(&f, &c).await.len();
    let again = f
        .inbox
        .ingest(InboundEvent::Handover(passed.clone()))
        .await
        .unwrap();
    assert_eq!(
        again,
        IngestOutcome::Handover {
            conversation: None,
            changed: false
        }
    );
    f.advance(TimeDelta::minutes(1));
    let mut older = passed;
    older.timestamp -= TimeDelta::minutes(1);
    let again = f.inbox.ingest(InboundEvent::Handover(older)).await.unwrap();
    assert_eq!(
        again,
        IngestOutcome::Handover {
            conversation: None,
            changed: false
        }
    );
    assert_eq!(events_of(&f, &c).await.len(), before);
    // Someone never heard from, control taken away: nothing stored.
    let stranger = handover(&f, "34699999999", false, None);
    let out = f
        .inbox
        .ingest(InboundEvent::Handover(stranger))
        .await
        .unwrap();
    assert_eq!(
        out,
        IngestOutcome::Handover {
            conversation: None,
            changed: false
        }
    );
}

/// A contact of the WhatsApp Business app names the customer for the team
/// (a new customer is created so their first message shows the name); a
/// rename follows unless someone on the team named them otherwise;
/// removing it from the app forgets the app's name only.
pub(crate) async fn app_contacts_name_customers_for_the_team<S: Store + AsDynStore + ?Sized>(
    store: Arc<S>,
) {
    let f = fixture(store).await;
    let sync = |wa: &str, name: Option<&str>, removed: bool| {
        InboundEvent::AppContact(crate::inbound::InboundAppContact {
            phone_number_id: "1001".into(),
            contact: ContactIdentity::wa(wa),
            name: name.map(Into::into),
            removed,
            timestamp: crate::ports::Clock::now(f.clock.as_ref()),
        })
    };
    let out = f
        .inbox
        .ingest(sync("34600000020", Some("Marta (tienda Sol)"), false))
        .await
        .unwrap();
    let IngestOutcome::AppContact {
        contact: Some(k),
        changed: true,
    } = out
    else {
        panic!("{out:?}")
    };
    let c = says(&f, "1001", "w1", "34600000020", "hola").await;
    assert_eq!(
        stored(&f, &c).await.contact,
        k,
        "her first message finds her"
    );
    let contact = || async { f.store.contact(&f.acme(), &k).await.unwrap() };
    assert_eq!(
        contact().await.display_name.as_deref(),
        Some("Marta (tienda Sol)")
    );
    // Renamed on the phone: the team's name follows; the same again changes
    // nothing.
    f.inbox
        .ingest(sync("34600000020", Some("Marta Sol"), false))
        .await
        .unwrap();
    assert_eq!(contact().await.display_name.as_deref(), Some("Marta Sol"));
    let again = f
        .inbox
        .ingest(sync("34600000020", Some("Marta Sol"), false))
        .await
        .unwrap();
    assert_eq!(
        again,
        IngestOutcome::AppContact {
            contact: Some(k.clone()),
            changed: false
        }
    );
    // The team names her: the app's next rename no longer does.
    let ana = f.actor("ana");
    let v = contact().await.version;
    let update = crate::inbox::ContactUpdate {
        display_name: Some("Marta — cliente VIP".into()),
        ..Default::default()
    };
    f.inbox.update_contact(&ana, &k, v, update).await.unwrap();
    f.inbox
        .ingest(sync("34600000020", Some("Marta S."), false))
        .await
        .unwrap();
    let now = contact().await;
    assert_eq!(now.display_name.as_deref(), Some("Marta — cliente VIP"));
    assert_eq!(now.app_name.as_deref(), Some("Marta S."));
    // Removed from the app: the app's name is forgotten, nothing else.
    f.inbox
        .ingest(sync("34600000020", None, true))
        .await
        .unwrap();
    let now = contact().await;
    assert_eq!(
        (now.app_name, now.display_name.as_deref()),
        (None, Some("Marta — cliente VIP"))
    );
    // An older report delivered late changes nothing.
    let mut late = sync("34600000020", Some("Marta (old)"), false);
    if let InboundEvent::AppContact(a) = &mut late {
        a.timestamp -= TimeDelta::hours(1);
    }
    f.inbox.ingest(late).await.unwrap();
    assert_eq!(contact().await.app_name, None);
    // A removal of someone never heard from stores nothing.
    let out = f
        .inbox
        .ingest(sync("34699999999", None, true))
        .await
        .unwrap();
    assert_eq!(
        out,
        IngestOutcome::AppContact {
            contact: None,
            changed: false
        }
    );
}
