//! A number shared with other apps, in headless Chromium: the owner's
//! answers from the WhatsApp Business app on the phone appear in the
//! conversation as such; while Meta's AI agent holds a thread the agent
//! sees who is handling it and the copies; the AI agent hands the customer
//! over with its summary; the agent hands the thread back and takes it
//! over again, each change on the timeline and through the Graph API; a
//! missed call shows and makes the customer wait for a call back.
//! Screenshots `thread-handover.png` and `thread-elsewhere.png` go to
//! `target/screenshots/`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[macro_use]
mod web;

use inbox_examples::server::simulator::SimContent;
use web::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_owners_phone_answers_show_as_such_and_answer_the_customer() {
    desk_or_skip!("ana" => server, meta, ana);
    meta.customer_writes(
        "34600100001",
        "Marta Ruiz",
        SimContent::Text("¿Abrís el sábado?".into()),
    )
    .await
    .unwrap();
    let marta = row_id(&ana, "Marta").await;
    click(&ana, &format!("[data-id=\"{marta}\"]")).await;
    wait_for(&ana, "[data-testid=msg-inbound]", |t| t.contains("sábado")).await;
    meta.owner_replies_from_phone("34600100001", "Sí, de 10 a 14")
        .await
        .unwrap();
    let by = wait_for(&ana, "[data-testid=msg-outbound] .by", |t| {
        t == "From the WhatsApp Business app"
    })
    .await;
    assert_eq!(by.text().await.unwrap(), "From the WhatsApp Business app");
    // She no longer waits (the echo was stored before it was shown).
    let detail = server
        .inbox
        .conversation_state(
            &demo_actor("ana"),
            &inbox_core::ConversationId::new(&marta).unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(detail.waiting_since, None, "answered from the phone");
    assert!(meta.received().is_empty(), "the inbox sent nothing");
    // The owner saves her in the phone's contacts: the team sees the name.
    meta.owner_saves_contact("34600100001", "Marta (tienda Sol)")
        .await
        .unwrap();
    wait_for(&ana, "[data-testid=contact-app-name]", |t| {
        t == "Marta (tienda Sol)"
    })
    .await;
    wait_for(&ana, "[data-testid=contact-display-name]", |_| true).await;
    until_js(
        &ana,
        "return document.querySelector('[data-testid=contact-display-name]').value === 'Marta (tienda Sol)'",
        "the team's name for her",
    )
    .await;
    ana.close().await.unwrap();
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ai_agent_hands_a_customer_over_and_the_agent_hands_the_thread_back() {
    desk_or_skip!("ana" => server, meta, ana);
    meta.ai_agent_conversation(
        "34600100002",
        "Noa Gil",
        "Mi pedido 8812 no llega",
        "Lo siento, Noa. ¿Te paso con una persona?",
    )
    .await
    .unwrap();
    let noa = row_id(&ana, "Noa").await;
    click(&ana, &format!("[data-id=\"{noa}\"]")).await;
    wait_for(&ana, "[data-testid=thread-banner]", |t| {
        t.starts_with("Handled by another app")
    })
    .await;
    wait_for(&ana, "[data-testid=standby]", |t| {
        t.starts_with("Seen while")
    })
    .await;
    screenshot(&ana, "thread-elsewhere.png").await;
    // The AI agent passes her over with its summary.
    meta.ai_agent_hands_over("34600100002", "Order 8812 is late; Noa wants a person")
        .await
        .unwrap();
    wait_for(&ana, "[data-testid=thread-summary]", |t| {
        t.contains("Order 8812")
    })
    .await;
    wait_for(&ana, "[data-testid=thread-banner]", |t| {
        t.contains("Meta's AI agent had it before")
    })
    .await;
    until_js(
        &ana,
        "return [...document.querySelectorAll('[data-testid=event-thread-control-changed]')]
           .some((e) => e.textContent.includes(\"Handed to the team by Meta's AI agent\"))",
        "the handover on the timeline",
    )
    .await;
    screenshot(&ana, "thread-handover.png").await;
    // Done: the thread goes back to the AI agent through the Graph API.
    click(&ana, "[data-testid=hand-back]").await;
    wait_for(&ana, "[data-testid=take-thread]", |t| t == "Take over").await;
    let calls = meta.thread_calls();
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(calls[0]["action"], "pass");
    assert_eq!(calls[0]["to"], "34600100002");
    assert_eq!(calls[0]["control_pass"]["target_role"], "ai_agent");
    // Taking it over when WhatsApp does not permit it says why.
    meta.refuse_takes(true);
    click(&ana, "[data-testid=take-thread]").await;
    wait_for(&ana, "[data-testid=banner]", |t| {
        t.contains("escalation partner")
    })
    .await;
    meta.refuse_takes(false);
    click(&ana, "[data-testid=take-thread]").await;
    wait_for(&ana, "[data-testid=hand-back]", |t| {
        t.contains("Meta's AI agent")
    })
    .await;
    assert_eq!(meta.thread_calls().len(), 2);
    if let Some(problems) = accessibility_problems(&ana).await {
        assert!(problems.is_empty(), "{problems:#?}");
    }
    ana.close().await.unwrap();
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missed_call_shows_and_waits_for_a_call_back() {
    desk_or_skip!("ana" => server, meta, ana);
    meta.customer_calls("34600100003", "Iker Sanz", None)
        .await
        .unwrap();
    let iker = row_id(&ana, "Iker").await;
    click(&ana, &format!("[data-id=\"{iker}\"]")).await;
    wait_for(&ana, "[data-testid=call]", |t| t.contains("Incoming call")).await;
    until_js(
        &ana,
        "return [...document.querySelectorAll('[data-testid=call]')].some((e) => e.textContent.includes('Missed call'))",
        "the missed call",
    )
    .await;
    let waiting = server
        .inbox
        .conversation_state(
            &demo_actor("ana"),
            &inbox_core::ConversationId::new(&iker).unwrap(),
        )
        .await
        .unwrap()
        .waiting_since;
    assert!(waiting.is_some(), "he waits for a call back");
    screenshot(&ana, "missed-call.png").await;
    // He calls again and someone on the phone answers: 3:12 on the timeline.
    meta.customer_calls("34600100003", "Iker Sanz", Some(192))
        .await
        .unwrap();
    until_js(
        &ana,
        "return [...document.querySelectorAll('[data-testid=call]')].some((e) => e.textContent.includes('Call · 3:12'))",
        "the answered call",
    )
    .await;
    ana.close().await.unwrap();
    server.shutdown().await;
}

/// The owner shares the app's past chats: the admin sees the import
/// done, and the chat is there, resolved, marked as imported, in the
/// order it was written, answering nobody.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_chats_from_the_app_are_imported_for_reference() {
    desk_or_skip!("ada" => server, meta, ada);
    let lines = [
        (false, "¿Tenéis la talla 38?", 20),
        (true, "Sí, en azul y en negro", 20),
        (false, "Genial, paso el sábado", 19),
    ];
    meta.shares_history("34600100004", &lines, 100)
        .await
        .unwrap();
    click(&ada, "[data-testid=tab-admin]").await;
    wait_for(&ada, "[data-testid=signals-table]", |t| {
        t.contains("Chat history from the WhatsApp Business app imported: 3 messages")
    })
    .await;
    click(&ada, "[data-testid=tab-inbox]").await;
    click(&ada, "[data-testid=view-all]").await;
    click(&ada, "[data-testid=status-filter] option[value='resolved']").await;
    let past = row_id(&ada, "34600100004").await;
    click(&ada, &format!("[data-id=\"{past}\"]")).await;
    wait_for(&ada, "[data-testid=imported-banner]", |t| {
        t.starts_with("Past chat imported")
    })
    .await;
    until_js(
        &ada,
        "const m = [...document.querySelectorAll('[data-testid^=msg-]')].map((e) => e.textContent);
         return m.length === 3 && m[0].includes('talla 38') && m[1].includes('azul') && m[2].includes('sábado')",
        "the past chat in order",
    )
    .await;
    screenshot(&ada, "imported-history.png").await;
    let state = server
        .inbox
        .conversation_state(
            &demo_actor("ada"),
            &inbox_core::ConversationId::new(&past).unwrap(),
        )
        .await
        .unwrap();
    assert!(state.imported && state.waiting_since.is_none() && state.assignee.is_none());
    ada.close().await.unwrap();
    server.shutdown().await;
}

fn demo_actor(agent: &str) -> inbox_core::Actor {
    inbox_core::Actor::new(
        inbox_core::TenantId::new("demo").unwrap(),
        inbox_core::AgentId::new(agent).unwrap(),
    )
}
