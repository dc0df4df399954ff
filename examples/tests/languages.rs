//! The web inbox in English and Spanish, in headless Chromium: an agent
//! switches to Español from the header and the list, the conversation's
//! buttons and the composer speak Spanish at once, without a reload and
//! without losing the reply she was half-way through; the choice outlives
//! a reload and signing out; the pages pass the accessibility check in
//! Spanish; a browser set to Spanish starts in Spanish. Screenshots
//! `inbox-es.png` and `conversation-es.png` go to `target/screenshots/`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod web;

use fantoccini::Client;
use std::time::Duration;

use inbox_examples::server::simulator::SimContent;
use web::*;

async fn choose_language(c: &Client, css: &str, lang: &str) {
    wait_for(c, css, |_| true)
        .await
        .select_by_value(lang)
        .await
        .unwrap();
}

/// The attribute `attr` of `css`, once it is `want`.
async fn until_attr(c: &Client, css: &str, attr: &str, want: &str) {
    until_js(
        c,
        &format!(
            "const e = document.querySelector({css:?}); return !!e && e.getAttribute({attr:?}) === {want:?};"
        ),
        &format!("{css} [{attr}={want:?}]"),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_switches_to_spanish_and_keeps_what_she_typed() {
    let Some(path) = chromedriver_or_skip() else {
        return;
    };
    let server = simulated_server(Duration::from_secs(3)).await;
    let meta = server.meta.clone().unwrap();
    let driver = start_driver(&path).await;
    let ana = browser(&driver).await;
    sign_in(&ana, &server.url, "ana").await;
    meta.customer_writes(
        "34600100001",
        "Marta Ruiz",
        SimContent::Text("Hola, ¿tenéis la talla 42?".into()),
    )
    .await
    .unwrap();

    // English by default (the browser is en-US).
    wait_for(&ana, "[data-testid=view-unassigned]", |t| {
        t.starts_with("Unassigned")
    })
    .await;
    assert_eq!(js(&ana, "return document.documentElement.lang").await, "en");
    let marta = row_id(&ana, "Marta").await;
    click(&ana, &format!("[data-id=\"{marta}\"]")).await;
    wait_for(&ana, "[data-testid=claim]", |t| t == "Claim").await;
    wait_for(&ana, "[data-testid=messages]", |t| t.contains("talla 42")).await;

    // Half-way through a reply and a handoff note, Ana switches.
    type_into(&ana, "[data-testid=composer]", "Buenos días, Mar").await;
    type_into(&ana, "[data-testid=transfer-note]", "para Ben").await;
    choose_language(&ana, "[data-testid=language]", "es").await;

    // The list, the conversation and the composer in Spanish at once.
    wait_for(&ana, "[data-testid=view-unassigned]", |t| {
        t.starts_with("Sin asignar")
    })
    .await;
    assert_eq!(js(&ana, "return document.documentElement.lang").await, "es");
    wait_for(&ana, "[data-testid=view-mine]", |t| {
        t.starts_with("Mis conversaciones")
    })
    .await;
    wait_for(&ana, "[data-testid=view-all]", |t| t.starts_with("Todas")).await;
    wait_for(&ana, "[data-testid=conversation]", |t| {
        t.contains("abierta")
    })
    .await;
    until_attr(
        &ana,
        "[data-testid=search]",
        "placeholder",
        "Buscar mensajes, nombres, números",
    )
    .await;
    wait_for(&ana, "[data-testid=claim]", |t| t == "Asignarme").await;
    wait_for(&ana, "[data-testid=transfer]", |t| t == "Traspasar").await;
    wait_for(&ana, "[data-testid=resolve]", |t| t == "Resolver").await;
    wait_for(&ana, "[data-testid=snooze]", |t| t == "Posponer 1 h").await;
    wait_for(&ana, "[data-testid=status]", |t| t == "abierta").await;
    wait_for(&ana, "[data-testid=owner-warning]", |t| t.is_empty()).await;
    wait_for(&ana, "[data-testid=day]", |t| t == "Hoy").await;
    wait_for(&ana, "[data-testid=mode-reply]", |t| t == "Responder").await;
    wait_for(&ana, "[data-testid=mode-note]", |t| t == "Nota interna").await;
    wait_for(&ana, "[data-testid=send-reply]", |t| {
        t == "Enviar respuesta"
    })
    .await;
    until_attr(
        &ana,
        "[data-testid=composer]",
        "placeholder",
        "Responde al cliente",
    )
    .await;
    until_attr(&ana, "[data-testid=bell]", "aria-label", "Notificaciones").await;
    wait_for(&ana, "[data-testid=me]", |t| t == "Ana (agente)").await;

    // What she typed is still there, and she goes on typing.
    assert_eq!(
        value_of(&ana, "[data-testid=composer]").await,
        "Buenos días, Mar"
    );
    assert_eq!(
        value_of(&ana, "[data-testid=transfer-note]").await,
        "para Ben"
    );
    type_into(&ana, "[data-testid=composer]", "ta").await;
    assert_eq!(
        value_of(&ana, "[data-testid=composer]").await,
        "Buenos días, Marta"
    );
    let png = screenshot(&ana, "conversation-es.png").await;
    eprintln!("screenshot: {}", png.display());

    // A note in Spanish mode, then the reply.
    click(&ana, "[data-testid=mode-note]").await;
    wait_for(&ana, "[data-testid=send-note]", |t| t == "Añadir nota").await;
    click(&ana, "[data-testid=mode-reply]").await;
    click(&ana, "[data-testid=send-reply]").await;
    until_received(&meta, "Buenos días, Marta", &ana).await;

    // The keyboard's help.
    ana.execute(
        "document.activeElement && document.activeElement.blur();
         document.dispatchEvent(new KeyboardEvent('keydown', { key: '?', bubbles: true }));",
        vec![],
    )
    .await
    .unwrap();
    wait_for(&ana, "[data-testid=shortcuts]", |t| {
        t.contains("Atajos de teclado") && t.contains("conversación siguiente")
    })
    .await;
    ana.execute(
        "document.dispatchEvent(new KeyboardEvent('keydown', { key: 'Escape', bubbles: true }));",
        vec![],
    )
    .await
    .unwrap();

    // The choice outlives a reload.
    ana.refresh().await.unwrap();
    wait_for(&ana, "[data-testid=view-unassigned]", |t| {
        t.starts_with("Sin asignar")
    })
    .await;
    assert_eq!(js(&ana, "return document.documentElement.lang").await, "es");
    assert_eq!(value_of(&ana, "[data-testid=language]").await, "es");
    wait_for(&ana, "[data-testid=messages]", |t| {
        t.contains("Buenos días, Marta")
    })
    .await;
    // Replying made it hers: it is under "Mis conversaciones".
    click(&ana, "[data-testid=view-mine]").await;
    wait_for(&ana, "[data-testid=conversation]", |t| {
        t.contains("Marta") && t.contains("abierta")
    })
    .await;
    let png = screenshot(&ana, "inbox-es.png").await;
    eprintln!("screenshot: {}", png.display());
    // A refusal worked out in the page.
    click(&ana, "[data-testid=transfer]").await;
    wait_for(&ana, "[data-testid=banner]", |t| {
        t.starts_with("Escribe una nota de traspaso")
    })
    .await;

    // The accessibility check, in Spanish: the inbox and the notifications.
    if let Some(mut problems) = accessibility_problems(&ana).await {
        click(&ana, "[data-testid=bell]").await;
        wait_for(&ana, "[data-testid=notices]", |t| {
            t.contains("Marcar todas como leídas")
        })
        .await;
        let found = accessibility_problems(&ana).await.unwrap();
        problems.extend(found.into_iter().map(|p| format!("notifications: {p}")));
        assert!(
            problems.is_empty(),
            "accessibility problems in Spanish:\n{}",
            problems.join("\n")
        );
        click(&ana, "[data-testid=bell]").await;
    }

    // Signed out, the sign-in form is in Spanish too, and so is the
    // server's refusal of a wrong password.
    click(&ana, "#signout").await;
    wait_for(&ana, "[data-testid=signin-submit]", |t| {
        t == "Iniciar sesión"
    })
    .await;
    type_into(&ana, "[data-testid=signin-agent]", "ana").await;
    type_into(&ana, "[data-testid=signin-password]", "not her password").await;
    click(&ana, "[data-testid=signin-submit]").await;
    wait_for(&ana, "[data-testid=banner]", |t| {
        t == "Agente desconocido o contraseña incorrecta."
    })
    .await;

    // And back to English, from the sign-in form.
    choose_language(&ana, "[data-testid=signin-language]", "en").await;
    wait_for(&ana, "[data-testid=signin-submit]", |t| t == "Sign in").await;
    assert_eq!(js(&ana, "return document.documentElement.lang").await, "en");
    ana.close().await.unwrap();
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_in_spanish_starts_in_spanish() {
    let Some(path) = chromedriver_or_skip() else {
        return;
    };
    let server = simulated_server(Duration::from_secs(3)).await;
    let driver = start_driver(&path).await;
    let sam = browser_in(&driver, "es-ES").await;
    sam.goto(&server.url).await.unwrap();
    let language = js(&sam, "return navigator.language").await;
    assert!(
        language.as_str().unwrap_or("").starts_with("es"),
        "the browser says {language}"
    );
    wait_for(&sam, "[data-testid=signin-submit]", |t| {
        t == "Iniciar sesión"
    })
    .await;
    assert_eq!(js(&sam, "return document.documentElement.lang").await, "es");
    if let Some(problems) = accessibility_problems(&sam).await {
        assert!(
            problems.is_empty(),
            "sign-in, in Spanish:\n{}",
            problems.join("\n")
        );
    }
    sign_in(&sam, &server.url, "sam").await;
    wait_for(&sam, "[data-testid=tab-dashboard]", |t| t == "Panel").await;
    click(&sam, "[data-testid=tab-dashboard]").await;
    wait_for(&sam, "[data-testid=card-open]", |t| {
        t.contains("Abiertas ahora")
    })
    .await;
    click(&sam, "[data-testid=tab-admin]").await;
    wait_for(&sam, "[data-testid=admin]", |t| {
        t.contains("Miembros del equipo")
    })
    .await;
    wait_for(&sam, "[data-testid=agents-table]", |t| {
        t.contains("supervisor")
    })
    .await;
    if let Some(problems) = accessibility_problems(&sam).await {
        assert!(
            problems.is_empty(),
            "settings, in Spanish:\n{}",
            problems.join("\n")
        );
    }
    // The operator's page follows the same choice.
    sam.goto(&format!("{}/platform", server.url)).await.unwrap();
    wait_for(&sam, "[data-testid=op-submit]", |t| t == "Abrir").await;
    assert_eq!(js(&sam, "return document.documentElement.lang").await, "es");
    if let Some(problems) = accessibility_problems(&sam).await {
        assert!(
            problems.is_empty(),
            "operator, in Spanish:\n{}",
            problems.join("\n")
        );
    }
    sam.close().await.unwrap();
    server.shutdown().await;
}
