//! End to end in headless Chromium: two agents in two browser sessions work
//! a simulated customer's conversation; a reply the fake Graph API answers
//! too late is shown as "may not have been delivered" and sent again, a
//! refused one as not delivered; a customer's answer to the satisfaction
//! survey shows on the conversation and on the dashboard's cards (with the
//! bots'); writes screenshots of the inbox, the dashboard and those
//! replies to `target/screenshots/`.
//!
//! Needs Debian's `chromium` and `chromium-driver` (`.ci/run` installs
//! them). Without `chromedriver` the test says it is skipped; with `CI` set
//! it fails instead.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod web;

use fantoccini::Locator;
use std::time::{Duration, Instant};

use inbox_examples::server::config::ServerConfig;
use inbox_examples::server::launch::{Delivery, Launch};
use inbox_examples::server::simulator::{LateSend, SimContent};
use web::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_agents_in_two_browsers() {
    let Some(path) = chromedriver_or_skip() else {
        return;
    };
    let server = simulated_server(Duration::from_secs(3)).await;
    let meta = server.meta.clone().unwrap();
    let driver = start_driver(&path).await;
    let ana = browser(&driver).await;
    let ben = browser(&driver).await;
    sign_in(&ana, &server.url, "ana").await;
    sign_in(&ben, &server.url, "ben").await;

    // A customer writes; both see it arrive without reloading.
    meta.customer_writes(
        "34600100001",
        "Marta Ruiz",
        SimContent::Text("Hola, ¿tenéis la talla 42?".into()),
    )
    .await
    .unwrap();
    for c in [&ana, &ben] {
        wait_for(c, "[data-testid=conversation]", |t| {
            t.contains("Marta Ruiz")
        })
        .await;
        wait_for(c, "[data-testid=unread]", |t| t == "1 new").await;
    }
    click(&ana, "[data-testid=conversation]").await;
    click(&ben, "[data-testid=conversation]").await;
    wait_for(&ben, "[data-testid=messages]", |t| t.contains("talla 42")).await;

    // Ana sees Ben looking; Ana claims; Ben's claim is refused, naming Ana.
    wait_for(&ana, "[data-testid=viewers]", |t| {
        t.contains("Ben is viewing")
    })
    .await;
    click(&ana, "[data-testid=claim]").await;
    wait_for(&ana, "[data-testid=owner]", |t| t == "Ana").await;
    click(&ben, "[data-testid=claim]").await;
    wait_for(&ben, "[data-testid=banner]", |t| {
        t.contains("Ana got there first")
    })
    .await;

    // Ana replies: the customer gets it, and the ticks come back.
    type_into(
        &ana,
        "[data-testid=composer]",
        "¡Sí! Te la guardo hasta mañana.",
    )
    .await;
    click(&ana, "[data-testid=send-reply]").await;
    until_received(&meta, "¡Sí! Te la guardo hasta mañana.", &ana).await;
    wait_for(&ana, "[data-testid=ticks-read]", |_| true).await;

    // A note stays inside.
    click(&ana, "[data-testid=mode-note]").await;
    type_into(
        &ana,
        "[data-testid=composer]",
        "Clienta habitual, trato VIP",
    )
    .await;
    click(&ana, "[data-testid=send-note]").await;
    wait_for(&ana, "[data-testid=msg-note]", |t| t.contains("trato VIP")).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    let received = meta.received();
    assert_eq!(received.len(), 1, "{received:?}");
    assert!(!format!("{received:?}").contains("VIP"));

    // Screenshots for people: the inbox, and a supervisor's dashboard.
    meta.customer_writes(
        "447700900003",
        "Olivia Brown",
        SimContent::Text("Where is my order #48213?".into()),
    )
    .await
    .unwrap();
    wait_for(&ana, "[data-testid=conversations]", |t| {
        t.contains("Olivia")
    })
    .await;
    let inbox_png = screenshot(&ana, "inbox.png").await;
    let sam = browser(&driver).await;
    sign_in(&sam, &server.url, "sam").await;
    click(&sam, "[data-testid=tab-dashboard]").await;
    wait_for(&sam, "[data-testid=card-open]", |t| t.contains('2')).await;
    let dashboard_png = screenshot(&sam, "dashboard.png").await;
    eprintln!(
        "screenshots: {} {}",
        inbox_png.display(),
        dashboard_png.display()
    );

    for c in [ana, ben, sam] {
        c.close().await.unwrap();
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_that_may_not_have_been_delivered_is_sent_again() {
    let Some(path) = chromedriver_or_skip() else {
        return;
    };
    // The inbox waits a second for the fake Graph API, which answers the
    // first reply later than that and loses it.
    let server = simulated_server(Duration::from_secs(1)).await;
    let meta = server.meta.clone().unwrap();
    meta.answer_late_next(LateSend::Lost);
    let driver = start_driver(&path).await;
    let ana = browser(&driver).await;
    sign_in(&ana, &server.url, "ana").await;
    meta.customer_writes(
        "34600100005",
        "Lucía Fernández",
        SimContent::Text("¿Me enviáis la factura del pedido 51877?".into()),
    )
    .await
    .unwrap();
    click(&ana, "[data-testid=conversation]").await;
    click(&ana, "[data-testid=claim]").await;
    wait_for(&ana, "[data-testid=owner]", |t| t == "Ana").await;
    let reply = "Claro, te la envío ahora mismo.";
    type_into(&ana, "[data-testid=composer]", reply).await;
    click(&ana, "[data-testid=send-reply]").await;

    // The send times out: Ana is told, calmly, and may send it again.
    let note = wait_for(&ana, "[data-testid=in-doubt]", |t| {
        t.contains("May not have been delivered")
    })
    .await;
    assert!(note
        .text()
        .await
        .unwrap()
        .contains("not confirmed it since"));
    wait_for(&ana, "[data-testid=ticks-in-doubt]", |_| true).await;
    assert!(meta.received().is_empty(), "{:?}", meta.received());
    // A draft she is typing survives the live updates that follow.
    type_into(&ana, "[data-testid=composer]", "Un momento").await;
    click(&ana, "[data-testid=view-mine]").await;
    wait_for(&ana, "[data-testid=conversations]", |t| t.contains("Lucía")).await;
    let in_doubt_png = screenshot(&ana, "in-doubt.png").await;
    // The supervisor's dashboard counts it.
    let sam = browser(&driver).await;
    sign_in(&sam, &server.url, "sam").await;
    click(&sam, "[data-testid=tab-dashboard]").await;
    wait_for(&sam, "[data-testid=card-in-doubt]", |t| t.starts_with('1')).await;
    // And what the week's messages cost, from the demo's rate card.
    wait_for(&sam, "[data-testid=card-costs]", |t| {
        t.contains(" EUR") && t.contains("Billed in the last 7 days")
    })
    .await;
    screenshot(&sam, "dashboard-costs.png").await;

    click(&ana, "[data-testid=resend]").await;
    until_received(&meta, reply, &ana).await;
    wait_for(&ana, "[data-testid=event-message-resent]", |t| {
        t.contains("Ana sent a message again")
    })
    .await;
    wait_for(&ana, "[data-testid=ticks-read]", |_| true).await;
    // The original keeps its note, now saying who sent it again, and no
    // second button.
    wait_for(&ana, "[data-testid=in-doubt]", |t| {
        t.contains("May not have been delivered") && t.contains("sent again by Ana at")
    })
    .await;
    assert!(ana
        .find_all(Locator::Css("[data-testid=resend]"))
        .await
        .unwrap()
        .is_empty());
    assert_eq!(value_of(&ana, "[data-testid=composer]").await, "Un momento");
    assert_eq!(meta.received().len(), 1, "{:?}", meta.received());
    let sent_again_png = screenshot(&ana, "sent-again.png").await;

    // A reply WhatsApp refuses (its window closed: shrunk here to nothing
    // on the fake's side only) shows why and "Send again"; sent again, it
    // is refused again, and says so in turn.
    meta.set_window(chrono::TimeDelta::zero());
    type_into(&ana, "[data-testid=composer]", " y otra cosa").await;
    click(&ana, "[data-testid=send-reply]").await;
    wait_for(&ana, "[data-testid=not-delivered]", |t| {
        t.contains("Not delivered") && t.contains("24 hours")
    })
    .await;
    let not_delivered_png = screenshot(&ana, "not-delivered.png").await;
    click(&ana, "[data-testid=resend]").await;
    wait_for(&ana, "[data-testid=messages]", |t| {
        t.matches("Not delivered").count() == 2 && t.contains("sent again by Ana")
    })
    .await;
    assert_eq!(meta.refused(), 2);
    assert_eq!(meta.received().len(), 1, "{:?}", meta.received());
    eprintln!("{}", not_delivered_png.display());

    // Sent again, it no longer counts as in doubt on the dashboard.
    sam.refresh().await.unwrap();
    click(&sam, "[data-testid=tab-dashboard]").await;
    wait_for(&sam, "[data-testid=card-in-doubt]", |t| t.starts_with('0')).await;
    eprintln!(
        "screenshots: {} {}",
        in_doubt_png.display(),
        sent_again_png.display()
    );
    for c in [ana, sam] {
        c.close().await.unwrap();
    }
    server.shutdown().await;
}

/// An admin adds a team and an agent, writes a routing rule with a mistake
/// (the problem shown at its field, nothing saved), fixes it, asks who
/// would get an urgent message (the dry run), and the next customer who
/// writes "urgent" is routed by the new rule; a supervisor reads the
/// settings but has no Save.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_sets_up_routing_and_tries_it() {
    let Some(path) = chromedriver_or_skip() else {
        return;
    };
    let server = simulated_server(Duration::from_secs(3)).await;
    let meta = server.meta.clone().unwrap();
    let driver = start_driver(&path).await;
    let ada = browser(&driver).await;
    sign_in(&ada, &server.url, "ada").await;
    click(&ada, "[data-testid=tab-admin]").await;
    wait_for(&ada, "[data-testid=agents-table]", |t| t.contains("Ana")).await;

    // A team and an agent in it.
    type_into(&ada, "[data-testid=team-id]", "vip").await;
    type_into(&ada, "[data-testid=team-name]", "VIP customers").await;
    click(&ada, "[data-testid=team-save]").await;
    wait_for(&ada, "[data-testid=teams-list]", |t| {
        t.contains("VIP customers (vip)")
    })
    .await;
    type_into(&ada, "[data-testid=agent-id]", "lucia").await;
    type_into(&ada, "[data-testid=agent-name]", "Lucía").await;
    type_into(&ada, "[data-testid=agent-teams]", "vip").await;
    type_into(&ada, "[data-testid=agent-password]", "lucia-first-day").await;
    click(&ada, "[data-testid=agent-save]").await;
    wait_for(&ada, "[data-testid=agents-table]", |t| t.contains("Lucía")).await;
    // She signs in with the password the admin gave her.
    let lucia = browser(&driver).await;
    sign_in_with(&lucia, &server.url, "lucia", "lucia-first-day").await;
    wait_for(&lucia, "[data-testid=me]", |t| t.contains("Lucía")).await;
    lucia.close().await.unwrap();

    // A rule with a typo in the team: refused, the problem named at its
    // line, nothing stored.
    let rule = |team: &str| {
        format!(
            "routing:\n  rules:\n    - name: urgent to vip\n      when: {{text: {{contains: urgent}}}}\n      then: [{{route_to_team: {team}}}]\n"
        )
    };
    replace_text(&ada, "[data-testid=settings-yaml]", &rule("vipp")).await;
    click(&ada, "[data-testid=settings-save]").await;
    let problem = wait_for(&ada, "[data-testid=settings-problem]", |t| !t.is_empty()).await;
    let text = problem.text().await.unwrap();
    assert!(
        text.contains("line 5")
            && text.contains("routing.rules[0].then[0].route_to_team")
            && text.contains(r#"did you mean "vip"?"#),
        "{text}"
    );
    screenshot(&ada, "settings-problem.png").await;
    let stored = server
        .inbox
        .ports()
        .store
        .settings(&inbox_core::TenantId::new("demo").unwrap())
        .await
        .unwrap();
    // (the demo's own rules, its bot's, stay as they were)
    assert!(stored.is_none_or(|s| !s
        .document
        .routing
        .rules
        .iter()
        .any(|r| r.name == "urgent to vip")));

    // Fixed and saved; the history shows it.
    replace_text(&ada, "[data-testid=settings-yaml]", &rule("vip")).await;
    click(&ada, "[data-testid=settings-save]").await;
    wait_for(&ada, "[data-testid=banner]", |t| {
        t.contains("Saved as version")
    })
    .await;
    wait_for(&ada, "[data-testid=history]", |t| t.contains("routing")).await;

    // Who would get an urgent message? The VIP team, by the new rule.
    type_into(&ada, "[data-testid=explain-text]", "This is urgent, please").await;
    click(&ada, "[data-testid=explain-run]").await;
    wait_for(&ada, "[data-testid=explain-team]", |t| t == "vip").await;
    wait_for(&ada, "[data-testid=explain-steps]", |t| {
        t.contains("urgent to vip")
    })
    .await;
    let admin_png = screenshot(&ada, "settings.png").await;
    eprintln!("screenshot: {}", admin_png.display());

    // The next customer writing "urgent" goes to the VIP team.
    meta.customer_writes(
        "34600100077",
        "Irene",
        SimContent::Text("URGENT: wrong address".into()),
    )
    .await
    .unwrap();
    let admin = inbox_core::Actor::new(
        inbox_core::TenantId::new("demo").unwrap(),
        inbox_core::AgentId::new("ada").unwrap(),
    );
    let query = inbox_core::ViewQuery::new(inbox_core::View::All);
    let started = Instant::now();
    let team = loop {
        let hits = server
            .inbox
            .search(&admin, "wrong address", &query)
            .await
            .unwrap();
        if let Some(hit) = hits.items.first() {
            break hit.conversation.team.clone();
        }
        assert!(started.elapsed() < WAIT, "the message never arrived");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(team.map(|t| t.to_string()).as_deref(), Some("vip"));

    // The YAML saved above had no templates: the sync brings Meta's back
    // (the simulator's fake Graph API lists the demo's two), and agents
    // are offered them.
    click(&ada, "[data-testid=templates-sync]").await;
    wait_for(&ada, "[data-testid=templates-synced]", |t| {
        t.contains("added delivery_slot@en_US, order_update@en_US, seguimiento@es_ES")
    })
    .await;
    wait_for(&ada, "[data-testid=templates-table]", |t| {
        t.contains("order_update") && t.contains("APPROVED") && t.contains("UTILITY")
    })
    .await;
    ada.execute(
        "document.querySelector('[data-testid=templates-table]').scrollIntoView()",
        vec![],
    )
    .await
    .unwrap();
    screenshot(&ada, "templates.png").await;
    let offered = server.inbox.templates(&admin).await.unwrap();
    assert_eq!(offered.len(), 3, "{offered:?}");

    // Meta pauses one for its quality: it leaves the picker, the admin is
    // told (the bell), and the settings say what WhatsApp said.
    meta.pauses_template("200000000000001", "order_update", "en_US")
        .await
        .unwrap();
    wait_for(&ada, "[data-testid=notices-count]", |t| t == "1").await;
    wait_for(&ada, "[data-testid=signals-table]", |t| {
        t.contains("Template order_update (en_US) is PAUSED — FIRST_PAUSE")
    })
    .await;
    wait_for(&ada, "[data-testid=templates-table]", |t| {
        t.contains("PAUSED")
    })
    .await;
    ada.execute(
        "document.querySelector('[data-testid=signals-table]').scrollIntoView()",
        vec![],
    )
    .await
    .unwrap();
    screenshot(&ada, "whatsapp-says.png").await;
    let offered = server.inbox.templates(&admin).await.unwrap();
    assert_eq!(offered.len(), 2, "paused: not offered {offered:?}");

    // An API key for an integration: shown once, then listed; revoked.
    type_into(&ada, "[data-testid=key-name]", "CRM sync").await;
    click(&ada, "[data-testid=key-create]").await;
    let key = wait_for(&ada, "[data-testid=new-key-value]", |t| {
        t.starts_with("ik_")
    })
    .await;
    let key = key.text().await.unwrap();
    wait_for(&ada, "[data-testid=keys]", |t| {
        t.contains("CRM sync") && !t.contains(&key)
    })
    .await;
    screenshot(&ada, "access.png").await;
    click(&ada, "[data-testid=key-revoke]").await;
    wait_for(&ada, "[data-testid=keys]", |t| t.contains("revoked")).await;

    // A supervisor reads the settings; only admins change them.
    let sam = browser(&driver).await;
    sign_in(&sam, &server.url, "sam").await;
    click(&sam, "[data-testid=tab-admin]").await;
    wait_for(&sam, "[data-testid=settings-yaml]", |_| true).await;
    let yaml = value_of(&sam, "[data-testid=settings-yaml]").await;
    assert!(yaml.contains("urgent to vip"), "{yaml}");
    let save = sam
        .find(Locator::Css("[data-testid=settings-save]"))
        .await
        .unwrap();
    assert!(!save.is_displayed().await.unwrap());

    for c in [ada, sam] {
        c.close().await.unwrap();
    }
    server.shutdown().await;
}

/// The platform operator's page: the token opens it; a tenant is added,
/// then a number of it with its secrets, which show as set and never as
/// text; a tenant is suspended.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_adds_a_tenant_and_its_number() {
    let Some(path) = chromedriver_or_skip() else {
        return;
    };
    let token = "operator-token-for-the-browser";
    let keys = format!("k1:{}", "5a".repeat(32));
    let operator = inbox_http::settings::OperatorAccess {
        token: inbox_http::api::platform::OperatorToken::new(&token.into()).unwrap(),
        secrets: inbox_http::secrets::SecretBox::from_list(&keys).unwrap(),
    };
    let server = Launch {
        config: ServerConfig::parse(include_str!("../server/demo.yaml")).unwrap(),
        listen: "127.0.0.1:0".parse().unwrap(),
        database_url: None,
        delivery: Delivery::Record,
        tick: Duration::from_millis(200),
        settings: inbox_http::Settings {
            operator: Some(operator),
            ..Default::default()
        },
    }
    .start()
    .await
    .unwrap();
    let driver = start_driver(&path).await;
    let op = browser(&driver).await;
    op.goto(&format!("{}/platform", server.url)).await.unwrap();
    type_into(&op, "[data-testid=op-token]", "not the token").await;
    click(&op, "[data-testid=op-submit]").await;
    wait_for(&op, "[data-testid=banner]", |t| {
        t.contains("not the operator token")
    })
    .await;
    replace_text(&op, "[data-testid=op-token]", token).await;
    click(&op, "[data-testid=op-submit]").await;
    wait_for(&op, "[data-testid=tenants]", |t| t.contains("travel")).await;

    type_into(&op, "[data-testid=tenant-id]", "initech").await;
    type_into(&op, "[data-testid=tenant-name]", "Initech").await;
    click(&op, "[data-testid=tenant-save]").await;
    wait_for(&op, "[data-testid=tenants]", |t| t.contains("Initech")).await;
    type_into(&op, "[data-testid=number-id]", "main").await;
    type_into(&op, "[data-testid=number-display]", "+1 555 3001").await;
    type_into(&op, "[data-testid=number-pnid]", "300000000000001").await;
    type_into(&op, "[data-testid=number-waba]", "400000000000001").await;
    type_into(&op, "[data-testid=number-token]", "EAAG-browser-token").await;
    type_into(&op, "[data-testid=number-app-secret]", "browser-app-secret").await;
    type_into(&op, "[data-testid=number-verify]", "browser-verify").await;
    click(&op, "[data-testid=number-save]").await;
    wait_for(&op, "[data-testid=numbers]", |t| {
        t.contains("access_token, app_secret, verify_token")
            && t.contains("400000000000001")
            && t.contains("/webhooks/whatsapp/initech/main")
    })
    .await;
    let page = page_text(&op).await;
    for secret in ["EAAG-browser-token", "browser-app-secret", "browser-verify"] {
        assert!(!page.contains(secret), "{page}");
    }
    click(&op, "[data-testid=suspend-initech]").await;
    wait_for(&op, "[data-testid=tenants]", |t| t.contains("suspended")).await;
    let png = screenshot(&op, "platform.png").await;
    eprintln!("screenshot: {}", png.display());
    op.close().await.unwrap();
    server.shutdown().await;
}

/// A supervisor or admin of the demo workspace.
fn demo(agent: &str) -> inbox_core::Actor {
    inbox_core::Actor::new(
        inbox_core::TenantId::new("demo").unwrap(),
        inbox_core::AgentId::new(agent).unwrap(),
    )
}

/// A simulated customer who is satisfied with their first survey and
/// comments when asked (the simulator's answers are drawn from the
/// customer and the survey), and what they comment.
fn satisfied_customer() -> (String, &'static str) {
    use inbox_examples::server::simulator::survey_answer;
    (0..1000)
        .map(|i| format!("3460020{i:04}"))
        .find_map(|wa| match survey_answer(&wa, "csat:0:1", 3) {
            (2, Some(comment)) => Some((wa, comment)),
            _ => None,
        })
        .expect("a satisfied customer who comments")
}

/// The demo's bot takes a conversation and hands it to people when the
/// customer asks; Sam takes it (what the bot card counts) and resolves it
/// without a word (no survey: nobody replied).
async fn a_bot_hands_over(server: &inbox_examples::server::launch::Running) {
    let meta = server.meta.clone().unwrap();
    let wa = "34600100005";
    let says =
        |text: &str| meta.customer_writes(wa, "Lucía Fernández", SimContent::Text(text.into()));
    says("What are your opening hours?").await.unwrap();
    until_received_by(&meta, wa).await;
    says("I want to talk to a person").await.unwrap();
    let query = inbox_core::ViewQuery::new(inbox_core::View::All);
    let started = Instant::now();
    let c = loop {
        let page = server.inbox.list(&demo("sam"), &query).await.unwrap();
        let handed = page
            .items
            .into_iter()
            .find(|c| c.bot.as_ref().is_some_and(|b| b.handed_off.is_some()));
        if let Some(c) = handed {
            break c;
        }
        assert!(started.elapsed() < WAIT, "the bot never handed over");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let taken = (server.inbox.claim(&demo("sam"), &c.id, c.version))
        .await
        .unwrap();
    let resolved = inbox_core::model::ConversationStatus::Resolved;
    (server.inbox)
        .set_status(&demo("sam"), &c.id, taken.conversation.version, resolved)
        .await
        .unwrap();
}

/// Waits until the fake Graph API has accepted a message to `wa`.
async fn until_received_by(meta: &inbox_examples::server::simulator::FakeMeta, wa: &str) {
    let started = Instant::now();
    while !meta.received().iter().any(|r| r.to == wa) {
        assert!(started.elapsed() < WAIT, "nothing reached {wa}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The text of the first element matching `css` in `c`'s page, "" without one.
const TEXT_OF: &str =
    "const e = document.querySelector(arguments[0]); return e ? e.textContent : '';";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_shows_csat() {
    let Some(path) = chromedriver_or_skip() else {
        return;
    };
    let server = simulated_server(Duration::from_secs(3)).await;
    let meta = server.meta.clone().unwrap();
    // The demo asks a minute after the resolution; here a second (the
    // server runs on the real clock).
    let stored = (server.inbox.ports().store.settings(&demo("ada").tenant))
        .await
        .unwrap()
        .unwrap();
    let mut doc = stored.document.clone();
    assert!(doc.csat.enabled, "the demo surveys its customers");
    doc.csat.after = inbox_core::routing::Dur(Duration::from_secs(1));
    (server.inbox)
        .update_settings(&demo("ada"), stored.version, doc)
        .await
        .unwrap();
    let driver = start_driver(&path).await;
    let (ana, sam) = (browser(&driver).await, browser(&driver).await);
    sign_in(&ana, &server.url, "ana").await;
    sign_in(&sam, &server.url, "sam").await;

    // Nothing surveyed yet, no bot at work: the cards say so.
    click(&sam, "[data-testid=tab-dashboard]").await;
    wait_for(&sam, "[data-testid=csat-empty]", |t| {
        t == "No surveys in this period."
    })
    .await;
    wait_for(&sam, "[data-testid=bots-empty]", |t| {
        t == "No conversations with bots in this period."
    })
    .await;
    screenshot(&sam, "dashboard-csat-empty.png").await;

    // Ana answers a customer and resolves the conversation.
    let (wa, comment) = satisfied_customer();
    meta.customer_writes(
        &wa,
        "Rosa Vidal",
        SimContent::Text("¿Me ayudáis con el pedido 51877?".into()),
    )
    .await
    .unwrap();
    let rosa = row_id(&ana, "Rosa Vidal").await;
    click(&ana, &format!("[data-id=\"{rosa}\"]")).await;
    click(&ana, "[data-testid=claim]").await;
    wait_for(&ana, "[data-testid=owner]", |t| t == "Ana").await;
    type_into(&ana, "[data-testid=composer]", "Claro, ya está en camino.").await;
    click(&ana, "[data-testid=send-reply]").await;
    until_received(&meta, "Claro, ya está en camino.", &ana).await;
    click(&ana, "[data-testid=resolve]").await;

    // A second later the survey goes; the customer taps the top face and,
    // asked, adds a comment: the conversation says so, still resolved.
    let chip = "CSAT 😀 3/3";
    until_js(
        &ana,
        &format!(
            "const chip = document.querySelector('[data-testid=csat]');
             const choice = document.querySelector('.msg.survey [data-testid=survey-choice]');
             const tap = [...document.querySelectorAll('[data-testid=msg-inbound]')].some((m) => m.textContent.includes('Rated 3/3 · 😀 Great'));
             const said = document.querySelector('[data-testid=survey-comment]');
             return !!chip && chip.textContent === '{chip}' && chip.title === 'Comment: {comment}'
               && !!choice && choice.textContent === '✓ 😀 Great' && tap
               && !!said && said.parentElement.textContent.includes('{comment}')"
        ),
        "the answered survey on the conversation",
    )
    .await;
    let by = js(
        &ana,
        "return document.querySelector('.msg.survey .by').textContent",
    )
    .await;
    assert_eq!(by, "Satisfaction survey");
    let status = ana
        .execute(TEXT_OF, vec!["[data-testid=status]".into()])
        .await
        .unwrap();
    assert_eq!(status, "resolved", "a survey's answer reopens nothing");
    let png = screenshot(&ana, "csat-conversation.png").await;
    eprintln!("screenshot: {}", png.display());
    let mut problems = accessibility_problems(&ana).await.unwrap_or_default();

    // The bot card counts a bot's conversation handed to people; resolved
    // without a reply, it is not surveyed.
    a_bot_hands_over(&server).await;

    // The supervisor's dashboard follows live: all satisfied, one answer,
    // one survey not sent.
    until_js(
        &sam,
        "const text = (id) => { const e = document.querySelector(`[data-testid=${id}] .value`); return e ? e.textContent : ''; };
         return text('csat-positive') === '100%' && text('csat-answered') === '1' && text('csat-average') === '5.0/5'
           && text('csat-response-rate') === '100%' && text('bots-engaged') === '1' && text('bots-handoff-rate') === '100% (1)'
           && !!document.querySelector('[data-testid=csat-skipped]')",
        "the CSAT card at 100% with 1 answered and 1 not sent, and the bot card",
    )
    .await;
    let agents = sam
        .execute(TEXT_OF, vec!["[data-testid=csat-agents] tbody".into()])
        .await
        .unwrap();
    assert_eq!(agents, "Ana11100%5.0/5Sam00——");
    let skipped = sam
        .execute(TEXT_OF, vec!["[data-testid=csat-skipped]".into()])
        .await
        .unwrap();
    assert_eq!(skipped, "Not sent: no person replied (1).");
    let reasons = sam
        .execute(TEXT_OF, vec!["[data-testid=bots-reasons]".into()])
        .await
        .unwrap();
    assert_eq!(reasons, "the customer asked for a person (1)");
    let png = screenshot(&sam, "dashboard-csat.png").await;
    eprintln!("screenshot: {}", png.display());
    problems.extend(accessibility_problems(&sam).await.unwrap_or_default());
    assert!(
        problems.is_empty(),
        "accessibility problems:\n{}",
        problems.join("\n")
    );
    for c in [ana, sam] {
        c.close().await.unwrap();
    }
    server.shutdown().await;
}
