//! The example server through its real router, in process: sign-in, the
//! WhatsApp webhook, the agent API (views, claims and collisions, replies,
//! notes, idempotency, errors, reports) and live events.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use futures_util::StreamExt;
use serde_json::json;
use std::collections::BTreeSet;
use std::time::Duration;
use tower::ServiceExt;

use common::{app, assert_error, read_until, sign_in_request, strings};
use inbox_examples::server::config::ServerConfig;
use inbox_http::API_ROUTES;

#[tokio::test]
async fn sign_in_and_sessions() {
    let app = app().await;
    for (agent, password) in [("ana", "nope"), ("nobody", "x")] {
        let (s, b, _) = app.call(sign_in_request(agent, password)).await;
        assert_error((s, &b), StatusCode::UNAUTHORIZED, "bad_credentials");
    }
    let (s, b) = app.get("/api/me", "forged").await;
    assert_error((s, &b), StatusCode::UNAUTHORIZED, "unauthenticated");

    let token = app.sign_in("ana", "ana").await;
    let (s, me) = app.get("/api/me", &token).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        (me["id"].as_str(), me["name"].as_str()),
        (Some("ana"), Some("Ana"))
    );
    let (_, agents) = app.get("/api/agents", &token).await;
    // (four people and the FAQ bot, a service agent who never signs in)
    assert_eq!(agents.as_array().unwrap().len(), 5);
    let (s, b, _) = app.call(sign_in_request("helper", "helper")).await;
    assert_error((s, &b), StatusCode::UNAUTHORIZED, "bad_credentials");
    // Signed out: the token no longer works.
    assert_eq!(app.sign_out(&token).await, StatusCode::NO_CONTENT);
    assert_eq!(app.get("/api/me", &token).await.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn webhook_handshake_and_signatures() {
    let app = app().await;
    let handshake = |token: &str| {
        format!(
            "/webhooks/whatsapp/main?hub.mode=subscribe&hub.verify_token={token}&hub.challenge=42"
        )
    };
    let (s, b, _) = app.get_anonymous(&handshake("demo-verify-token")).await;
    assert_eq!((s, b), (StatusCode::OK, json!(42)));
    let (s, _, _) = app.get_anonymous(&handshake("wrong")).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // An unsigned notification is refused and stores nothing.
    let req = Request::post("/webhooks/whatsapp/main")
        .header("content-type", "application/json")
        .body(Body::from("{}"))
        .unwrap();
    assert!(app.call(req).await.0.is_client_error());
    assert_eq!(
        app.customer_says("wamid.1", "34600111222", "Hola").await,
        StatusCode::OK
    );
    // The same webhook again stores nothing new.
    assert_eq!(
        app.customer_says("wamid.1", "34600111222", "Hola").await,
        StatusCode::OK
    );
    let token = app.sign_in("sam", "sam").await;
    let (_, page) = app.get("/api/conversations?view=unassigned", &token).await;
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{page}");
    let (_, detail) = app
        .get(
            &format!("/api/conversations/{}", items[0]["id"].as_str().unwrap()),
            &token,
        )
        .await;
    assert_eq!(detail["messages"].as_array().unwrap().len(), 1, "{detail}");
    assert_eq!(detail["contact"]["profile_name"], "Marta");
}

#[tokio::test]
async fn two_agents_one_conversation() {
    let app = app().await;
    app.customer_says("wamid.1", "34600111222", "¿Tenéis la talla M?")
        .await;
    let ana = app.sign_in("ana", "ana").await;
    let ben = app.sign_in("ben", "ben").await;
    let (_, page) = app.get("/api/conversations?view=unassigned", &ana).await;
    let conv = page["items"][0].clone();
    let id = conv["id"].as_str().unwrap().to_string();
    let version = conv["version"].as_u64().unwrap();
    let path = |what: &str| format!("/api/conversations/{id}/{what}");

    // Both saw the same version; ana is first.
    let (s, claimed) = app.claim(&ana, &id, "k1", version).await;
    assert_eq!(s, StatusCode::OK, "{claimed}");
    assert_eq!(claimed["conversation"]["assignee"], "ana");
    let (s, refused) = app.claim(&ben, &id, "k2", version).await;
    assert_eq!(s, StatusCode::CONFLICT, "{refused}");
    assert!(
        refused["message"].as_str().unwrap().contains("ana"),
        "the refusal names the owner: {refused}"
    );
    // Ben may still look (the live test checks that ana is told).
    let viewing = json!({"state": "viewing"});
    assert_eq!(
        app.post(&path("viewing"), &ben, viewing).await.0,
        StatusCode::OK
    );

    // Ana replies; the same request again (same key) sends nothing new.
    let version = common::version(&claimed);
    let reply = "¡Sí! Te la reservo.";
    let (s, first) = app.reply(&ana, &id, "r1", version, reply).await;
    assert_eq!(s, StatusCode::OK, "{first}");
    let (s, again) = app.reply(&ana, &id, "r1", version, reply).await;
    assert_eq!((s, &again), (StatusCode::OK, &first));
    // A note: stored, never sent.
    let version = common::version(&first);
    let (s, noted) = app.note(&ana, &id, "n1", version, "VIP, be nice").await;
    assert_eq!(s, StatusCode::OK, "{noted}");
    assert_eq!(app.dispatched().await, 1, "only the reply goes out");
    let sent = app.transport.sent();
    assert!(!format!("{sent:?}").contains("VIP, be nice"));
    let (_, detail) = app.get(path("").trim_end_matches('/'), &ana).await;
    let kinds = strings(&detail["messages"], |m| &m["direction"]);
    assert_eq!(kinds, ["inbound", "outbound", "note"]);

    // Errors are JSON with a stable code.
    let (s, b) = app.claim(&ben, &id, "", version).await;
    assert_error((s, &b), StatusCode::BAD_REQUEST, "invalid_input");
    let resolve = json!({"version": 1, "status": "resolved"});
    let (s, b) = app.act(&path("status"), &ana, "s1", resolve).await;
    assert_error((s, &b), StatusCode::CONFLICT, "conflict");
    let (s, b) = app.get("/api/conversations/nope", &ana).await;
    assert_error((s, &b), StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn reports_are_for_supervisors() {
    let app = app().await;
    app.customer_says("wamid.1", "34600111222", "hola").await;
    let ana = app.sign_in("ana", "ana").await;
    let sam = app.sign_in("sam", "sam").await;
    let range = "from=2026-03-01T00:00:00Z&to=2026-03-03T00:00:00Z";
    let (s, b) = app.get(&format!("/api/metrics?{range}"), &ana).await;
    assert_error((s, &b), StatusCode::FORBIDDEN, "forbidden");
    let (s, report) = app.get(&format!("/api/metrics?{range}"), &sam).await;
    assert_eq!(s, StatusCode::OK, "{report}");
    assert_eq!(report["opened"], 1);
    // Days and hours in the zone asked for (UTC for this tenant otherwise).
    let (s, india) = app
        .get(
            &format!("/api/metrics?{range}&time_zone=Asia/Kolkata"),
            &sam,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{india}");
    let hour = |r: &serde_json::Value| {
        let hours = r["by_hour"].as_object().unwrap();
        assert_eq!(hours.len(), 1, "{r}");
        hours.keys().next().unwrap().parse::<u32>().unwrap()
    };
    let shift = (hour(&india) + 24 - hour(&report)) % 24;
    assert!(shift == 5 || shift == 6, "{report} {india}");
    let (s, live) = app.get("/api/live", &sam).await;
    assert_eq!(s, StatusCode::OK, "{live}");
    assert_eq!(
        (live["active"].as_u64(), live["unassigned"].as_u64()),
        (Some(1), Some(1))
    );
    let (s, found) = app.get("/api/search?q=hola", &sam).await;
    assert_eq!(s, StatusCode::OK, "{found}");
    assert_eq!(found["items"].as_array().unwrap().len(), 1);
    // The view's parameters apply to a search too.
    let (s, found) = app
        .get("/api/search?q=hola&limit=5&view=unassigned", &sam)
        .await;
    assert_eq!(s, StatusCode::OK, "{found}");
    assert_eq!(found["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn live_events_reach_the_browser() {
    let app = app().await;
    let ana = app.sign_in("ana", "ana").await;
    let mut body = app.events(&ana).await;
    let mut seen = String::new();
    let within = Duration::from_secs(5);
    let mut until = async |what: &str| read_until(&mut body, &mut seen, what, within).await;
    app.customer_says("wamid.9", "34600999888", "¿Hay alguien?")
        .await;
    let seen = until("event: message_received").await;
    // Events carry ids, not content: the browser fetches what it shows
    // through the API, which checks what the agent may see.
    assert!(seen.contains("event: conversation_opened"), "{seen}");
    assert!(!seen.contains("¿Hay alguien?"), "{seen}");
    // Ben opens it: ana is told who is looking.
    let ben = app.sign_in("ben", "ben").await;
    let (_, page) = app.get("/api/conversations?view=unassigned", &ben).await;
    let id = page["items"][0]["id"].as_str().unwrap().to_string();
    let viewing = json!({"state": "viewing"});
    let (s, _) = app
        .post(&format!("/api/conversations/{id}/viewing"), &ben, viewing)
        .await;
    assert_eq!(s, StatusCode::OK);
    let seen = until("event: conversation_presence").await;
    assert!(seen.contains(r#""agent":"ben""#), "{seen}");
}

#[tokio::test]
async fn a_live_event_the_store_cannot_check_says_lagged() {
    use inbox_core::event::{Event, EventActor, EventKind};
    use inbox_core::testing::FaultyStore;
    use std::sync::Arc;

    let (inbox, transport, clock) = common::inbox().await;
    let faulty = Arc::new(FaultyStore::new(inbox.ports().store.clone()));
    let mut ports = inbox.ports().clone();
    ports.store = faulty.clone();
    let inbox = inbox_core::Inbox::new(ports, inbox_core::InboxConfig::default());
    let config = ServerConfig::parse(common::CONFIG).unwrap();
    let state =
        inbox_examples::server::app_state(inbox.clone(), &config, Default::default()).unwrap();
    let app = common::App::from_state(state, config, transport, clock);
    let ana = app.sign_in("ana", "ana").await;
    let mut body = app.events(&ana).await;

    // The store cannot say whether ana may see the event's conversation:
    // not sent, but she is told she missed something.
    faulty.set_down(true);
    let event = Event {
        conversation: Some(inbox_core::ConversationId::new("conv_1").unwrap()),
        ..Event::new(
            inbox_core::TenantId::new("demo").unwrap(),
            inbox.ports().clock.now(),
            EventActor::System,
            EventKind::DeliveryInDoubt {
                message: inbox_core::MessageId::new("msg_1").unwrap(),
            },
        )
    };
    inbox.ports().bus.publish(&[event]).await.unwrap();
    let chunk = tokio::time::timeout(Duration::from_secs(5), body.next())
        .await
        .expect("a lagged notice within 5 s")
        .unwrap()
        .unwrap();
    let seen = String::from_utf8_lossy(&chunk).to_string();
    assert!(seen.contains("event: lagged"), "{seen}");
    assert!(!seen.contains("delivery_in_doubt"), "{seen}");
}

#[test]
fn bad_configurations_name_the_field() {
    let e = ServerConfig::parse("tenant: { id: demo, name: Demo }\nchannels: []\nagents:\n  - { id: ana, name: Ana, role: boss, password_hash: x }\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("agents[0].role"), "{e}");
    let e = ServerConfig::parse("tenant: { id: demo, name: Demo }\nchannels: []\nagents:\n  - { id: ana, name: Ana, role: agent, teams: [nope], password_hash: x }\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("unknown team"), "{e}");
    let e = ServerConfig::parse("tenant: { id: demo, name: Demo }\nchannels: []\nagents:\n  - { id: ana, name: Ana, role: agent, password_hash: plain }\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("password_hash"), "{e}");
}

#[tokio::test]
async fn the_web_inbox_is_served() {
    let app = app().await;
    for (path, kind, needle) in [
        ("/", "text/html", "data-testid=\"signin\""),
        (
            "/live.js",
            "text/javascript",
            "EventSource(\"/api/events\")",
        ),
        ("/app.js", "text/javascript", "async function start()"),
        ("/style.css", "text/css", ".msg.note"),
    ] {
        let res = app
            .router
            .clone()
            .oneshot(Request::get(path).body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        let h = res.headers();
        assert!(
            h["content-type"].to_str().unwrap().starts_with(kind),
            "{path}"
        );
        assert!(h["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("default-src 'self'"));
        let body = axum::body::to_bytes(res.into_body(), 1 << 20)
            .await
            .unwrap();
        assert!(String::from_utf8_lossy(&body).contains(needle), "{path}");
    }
    let ana = app.sign_in("ana", "ana").await;
    let (s, templates) = app.get("/api/templates", &ana).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(templates[0]["name"], "delivery_slot");
    assert_eq!(
        templates[0]["parameters"],
        serde_json::json!([{"component": "body", "count": 2}])
    );
    // Lists carry the contacts, so rows show names.
    app.customer_says("wamid.1", "34600111222", "hola").await;
    let (_, page) = app.get("/api/conversations?view=unassigned", &ana).await;
    let contact = page["items"][0]["contact"].as_str().unwrap();
    assert_eq!(page["contacts"][contact]["profile_name"], "Marta");
}

#[tokio::test]
async fn the_api_describes_itself() {
    let app = app().await;
    let (s, doc, _) = app.get_anonymous("/api/openapi.json").await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["session_cookie"]["name"], "inbox_session");
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
    let paths = doc["paths"].as_object().unwrap();
    let mut documented = BTreeSet::new();
    for (path, ops) in paths {
        for (method, op) in ops.as_object().unwrap() {
            documented.insert((method.clone(), path.clone()));
            // Every documented operation is routed: unauthenticated it is
            // refused or answered, never "not found" / "method not allowed".
            let concrete = path.replace("{id}", "x").replace("{message_id}", "y");
            let req = Request::builder()
                .method(method.to_uppercase().as_str())
                .uri(&concrete)
                .header("content-type", "application/json")
                .body(Body::from("{}"))
                .unwrap();
            let (s, _, _) = app.call(req).await;
            assert!(
                s != StatusCode::NOT_FOUND && s != StatusCode::METHOD_NOT_ALLOWED,
                "{method} {path} is documented but answers {s}"
            );
            // Actions on a conversation declare the idempotency key (not
            // the notices and read markers, idempotent by themselves).
            if method == "post"
                && path.starts_with("/api/conversations/{id}/")
                && !path.ends_with("/viewing")
                && !path.ends_with("/read")
            {
                let params = op["parameters"].as_array().unwrap();
                assert!(
                    params
                        .iter()
                        .any(|p| p["name"] == "Idempotency-Key" && p["in"] == "header"),
                    "{method} {path}"
                );
            }
        }
    }
    // Every route of the router (method and path) is described, and
    // nothing else is.
    let routed: BTreeSet<(String, String)> = API_ROUTES
        .iter()
        .map(|(method, path)| (method.to_string(), format!("/api{path}")))
        .collect();
    assert_eq!(routed.len(), API_ROUTES.len(), "a route is declared twice");
    assert_eq!(
        documented.difference(&routed).collect::<Vec<_>>(),
        Vec::<&(String, String)>::new(),
        "documented but not in the router's list"
    );
    assert_eq!(
        routed.difference(&documented).collect::<Vec<_>>(),
        Vec::<&(String, String)>::new(),
        "routed but not documented"
    );
    // Query parameters are described as such, the optional ones as
    // optional.
    let params = doc["paths"]["/api/metrics"]["get"]["parameters"]
        .as_array()
        .unwrap();
    let param = |name: &str| params.iter().find(|p| p["name"] == name).unwrap();
    assert_eq!(
        (&param("from")["in"], &param("from")["required"]),
        (&json!("query"), &json!(true))
    );
    assert_eq!(param("channel")["in"], "query");
    assert_ne!(param("channel")["required"], true, "{}", param("channel"));
    let schemas = &doc["components"]["schemas"];
    assert!(schemas["ApiError"]["properties"]["code"].is_object());
    // The core's types are described field by field, not as bare objects.
    for (schema, field) in [
        ("ActionOutcome", "conversation"),
        ("Conversation", "window_expires_at"),
        ("Message", "delivery"),
        ("MetricsReport", "next_response"),
        ("LiveSnapshot", "sla_at_risk"),
        ("CostReport", "by_agent"),
        ("CostLine", "cost"),
        ("PriceEstimate", "reason"),
    ] {
        assert!(
            schemas[schema]["properties"][field].is_object(),
            "{schema}.{field}: {}",
            schemas[schema]
        );
    }
}

#[tokio::test]
async fn the_demo_bot_answers_what_it_knows_and_hands_over_when_asked() {
    let app = app().await;
    let sam = app.sign_in("sam", "sam").await;
    let (s, bots) = app.get("/api/bots", &sam).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        bots,
        json!([{"id": "helper", "name": "Helper", "kind": "faq"}])
    );
    // A question it knows: the bot owns the conversation and answers it,
    // in the customer's language.
    app.customer_says("wamid.b1", "34600111222", "¿Qué horario tenéis?")
        .await;
    assert_eq!(app.inbox.run_bots(10).await.unwrap(), 1);
    let (_, page) = app.get("/api/conversations?view=all", &sam).await;
    let id = page["items"][0]["id"].as_str().unwrap().to_string();
    let path = format!("/api/conversations/{id}");
    let (_, detail) = app.get(&path, &sam).await;
    let c = &detail["conversation"];
    assert_eq!(c["assignee"], "helper");
    assert_eq!(
        (c["bot"]["agent"].as_str(), c["bot"]["exchanges"].as_u64()),
        (Some("helper"), Some(1))
    );
    assert_eq!(app.dispatched().await, 1);
    let sent = format!("{:?}", app.transport.sent()[0].request);
    assert!(sent.contains("Abrimos de lunes a viernes"), "{sent}");
    // Anything else goes to people, as before the bot.
    app.customer_says("wamid.b2", "34600333444", "Hola").await;
    assert_eq!(app.unassigned(&sam).await.len(), 1);
    // Asking for a person hands over: to the support queue, with a note.
    app.customer_says("wamid.b3", "34600111222", "Quiero hablar con una persona")
        .await;
    let (_, detail) = app.get(&path, &sam).await;
    let c = &detail["conversation"];
    assert_eq!(c["bot"]["handed_off"]["reason"], "customer_asked");
    assert_eq!(
        (c["assignee"].as_str(), c["team"].as_str()),
        (None, Some("support"))
    );
    let notes = strings(&detail["messages"], |m| &m["direction"]);
    assert!(notes.contains(&"note"), "{notes:?}");
    assert_eq!(app.inbox.run_bots(10).await.unwrap(), 0, "the bot is done");
}
