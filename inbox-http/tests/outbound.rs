//! `POST /api/conversations`: conversations the business starts with a
//! template, and `GET /api/templates/{name}/{language}`, the values a
//! template takes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use axum::http::StatusCode;
use serde_json::{json, Value};

use common::{call, World};
use inbox_core::model::{TemplateCategory, TemplateComponent, TemplateDefinition};

/// Acme's world with `order_update` (utility, one body value) and `promo`
/// (marketing), and `STOP` as the word that stops marketing messages.
async fn world() -> World {
    let w = World::new().await;
    w.f.edit_settings(|s| {
        let mut order =
            TemplateDefinition::new("order_update", "en_US").with(TemplateComponent::Body, 1);
        order.category = Some(TemplateCategory::Utility);
        order.components = vec![json!({"type": "BODY", "text": "Hi, order {{1}} ships today"})];
        s.templates.push(order);
        let mut promo = TemplateDefinition::new("promo", "en_US");
        promo.category = Some(TemplateCategory::Marketing);
        s.templates.push(promo);
        s.consent.stop_keywords = vec!["STOP".into()];
    })
    .await
    .unwrap();
    w
}

/// `POST /api/conversations` as `who` under `key`.
async fn start(w: &World, who: &str, key: &str, body: Value) -> (StatusCode, Value) {
    let headers = [("x-agent", who), ("idempotency-key", key)];
    let body = Some(body.to_string().into_bytes());
    call(&w.app, "POST", "/api/conversations", &headers, body).await
}

/// A start of `order_update` for order `A-17` to `to` (`wa_id`,
/// `contact_id` ...).
fn order_update(to: Value) -> Value {
    let mut body = json!({"channel": "sales", "template": {"name": "order_update", "language": "en_US", "body": ["A-17"]}});
    for (k, v) in to.as_object().unwrap() {
        body[k] = v.clone();
    }
    body
}

#[tokio::test]
async fn a_start_opens_a_pending_conversation_owned_by_the_agent_with_the_template_queued() {
    let w = world().await;
    let (status, form) = call(
        &w.app,
        "GET",
        "/api/templates/order_update/en_US",
        &[("x-agent", "acme/ana")],
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{form}");
    assert_eq!(form["name"], "order_update");
    assert_eq!(form["text"], "Hi, order {{1}} ships today");
    assert_eq!(form["slots"][0]["field"], "body[0]");
    assert_eq!(form["slots"][0]["kind"], "text");

    let body = order_update(json!({"wa_id": "+34 655 000 001"}));
    let (status, out) = start(&w, "acme/ana", "s1", body).await;
    assert_eq!(status, StatusCode::CREATED, "{out}");
    let c = &out["conversation"];
    assert_eq!(c["status"], "pending");
    assert_eq!(c["assignee"], "ana");
    assert_eq!(c["started"]["by"], json!({"kind": "agent", "id": "ana"}));
    assert_eq!(c["window_expires_at"], Value::Null);
    let m = &out["message"];
    assert_eq!(m["content"]["type"], "template");
    assert_eq!(m["content"]["name"], "order_update");
    assert_eq!(m["delivery"]["status"], "pending");
    let kinds: Vec<&str> = out["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"]["type"].as_str().unwrap_or_default())
        .collect();
    assert!(kinds.contains(&"conversation_opened"), "{kinds:?}");
    assert!(kinds.contains(&"reply_queued"), "{kinds:?}");
    // The conversation is there for ana.
    let path = format!("/api/conversations/{}", c["id"].as_str().unwrap());
    let (status, _) = call(&w.app, "GET", &path, &[("x-agent", "acme/ana")], None).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn a_bad_fill_or_an_unknown_template_is_422_naming_the_field() {
    let w = world().await;
    let to = json!({"wa_id": "34655000002"});
    for (i, (template, field)) in [
        (json!({"name": "order_update", "language": "en_US"}), "body"),
        (
            json!({"name": "order_update", "language": "en_US", "body": [" "]}),
            "body[0]",
        ),
        (
            json!({"name": "welcome", "language": "en_US"}),
            "template.name",
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let mut body = order_update(to.clone());
        body["template"] = template;
        let (status, err) = start(&w, "acme/ana", &format!("bad{i}"), body).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
        assert_eq!(err["code"], "invalid_content", "{err}");
        assert_eq!(err["details"]["field"], field, "{err}");
    }
    // Whom to write to: exactly one of contact_id, wa_id and user_id.
    let (status, err) = start(&w, "acme/ana", "nobody", order_update(json!({}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{err}");
    let (status, err) = start(
        &w,
        "acme/ana",
        "bad-number",
        order_update(json!({"wa_id": "call me"})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    assert!(err["message"].as_str().unwrap().contains("wa_id"), "{err}");
}

#[tokio::test]
async fn a_marketing_template_to_a_customer_who_stopped_them_is_403() {
    let w = world().await;
    w.f.customer_says("1001", "wamid.acme.stop", "34611112222", "STOP")
        .await
        .unwrap();
    let body = json!({"channel": "sales", "contact_id": w.contact.as_str(), "template": {"name": "promo", "language": "en_US"}});
    let (status, err) = start(&w, "acme/ana", "promo", body).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{err}");
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("stopped marketing"),
        "{err}"
    );
    // A utility template still goes.
    let body = order_update(json!({"contact_id": w.contact.as_str()}));
    let (status, out) = start(&w, "acme/ana", "utility", body).await;
    assert_eq!(status, StatusCode::OK, "{out}");
}

#[tokio::test]
async fn the_same_key_twice_gets_the_first_answer() {
    let w = world().await;
    let body = order_update(json!({"wa_id": "34655000003"}));
    let (status, first) = start(&w, "acme/ana", "once", body.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    let (status, again) = start(&w, "acme/ana", "once", body.clone()).await;
    assert_eq!((status, &again), (StatusCode::CREATED, &first));
    let mut other = body;
    other["template"]["body"] = json!(["B-2"]);
    let (status, err) = start(&w, "acme/ana", "once", other).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    assert_eq!(err["code"], "idempotency_key_reused");
    let c = inbox_core::ConversationId::new(first["conversation"]["id"].as_str().unwrap()).unwrap();
    let messages = w.f.store.messages(&w.f.acme(), &c).await.unwrap();
    assert_eq!(messages.len(), 1);
}

#[tokio::test]
async fn a_second_start_to_a_contact_with_an_active_conversation_reuses_it() {
    let w = world().await;
    let body = order_update(json!({"wa_id": "34655000004"}));
    let (status, first) = start(&w, "acme/ana", "first", body).await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    let contact = first["conversation"]["contact"].as_str().unwrap();
    let body = order_update(json!({"contact_id": contact}));
    let (status, second) = start(&w, "acme/ana", "second", body).await;
    assert_eq!(status, StatusCode::OK, "{second}");
    assert_eq!(second["conversation"]["id"], first["conversation"]["id"]);
    assert_eq!(second["conversation"]["message_count"], 2);
    // The customer's own conversation is reused too.
    let body = order_update(json!({"contact_id": w.contact.as_str()}));
    let (status, third) = start(&w, "acme/ana", "third", body).await;
    assert_eq!(status, StatusCode::OK, "{third}");
    assert_eq!(third["conversation"]["id"], w.conversation.as_str());
}

/// `POST /api/broadcasts`, `GET /api/broadcasts[/{id}]`,
/// `POST /api/broadcasts/{id}/steer`: a supervisor makes a broadcast of the
/// marketing template to the vip segment, starts it on the version seen
/// (a stale version is 409, an unknown action 400), the worker selects and
/// sends, and the counts say so; a fill mistake names its field (422).
#[tokio::test]
async fn a_broadcast_is_made_started_and_counted() {
    let w = world().await;
    let sam = [("x-agent", "acme/sam")];
    let k = w.f.store.contact(&w.f.acme(), &w.contact).await.unwrap();
    let tag = inbox_core::ContactUpdate {
        add_tags: vec!["vip".into()],
        ..Default::default()
    };
    w.f.inbox
        .update_contact(&w.f.actor("sam"), &w.contact, k.version, tag)
        .await
        .unwrap();
    let form = json!({"id": "spring", "name": "Spring", "channel": "sales",
        "template": {"name": "promo", "language": "en_US"}, "segment": {"tags_all": ["vip"]}, "rate_per_second": 5});
    let body = |v: &Value| Some(v.to_string().into_bytes());
    let (status, made) = call(&w.app, "POST", "/api/broadcasts", &sam, body(&form)).await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    assert_eq!(
        (&made["state"], &made["version"]),
        (&json!("draft"), &json!(1))
    );
    let mut bad = form.clone();
    bad["id"] = json!("autumn");
    bad["template"] = json!({"name": "order_update", "language": "en_US", "body": [""]});
    let (status, err) = call(&w.app, "POST", "/api/broadcasts", &sam, body(&bad)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    assert!(err.to_string().contains("body[0]"), "{err}");
    let steer = |v: u64, action: &str| json!({"version": v, "action": action});
    let path = "/api/broadcasts/spring/steer";
    let (status, _) = call(&w.app, "POST", path, &sam, body(&steer(1, "launch"))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, started) = call(&w.app, "POST", path, &sam, body(&steer(1, "start"))).await;
    assert_eq!(
        (status, &started["state"]),
        (StatusCode::OK, &json!("selecting")),
        "{started}"
    );
    let (status, _) = call(&w.app, "POST", path, &sam, body(&steer(1, "pause"))).await;
    assert_eq!(status, StatusCode::CONFLICT);
    for _ in 0..3 {
        w.f.inbox.run_broadcasts(10).await.unwrap();
        w.f.advance(chrono::TimeDelta::seconds(1));
    }
    let (status, seen) = call(&w.app, "GET", "/api/broadcasts/spring", &sam, None).await;
    assert_eq!(status, StatusCode::OK, "{seen}");
    let counts = &seen["recipients"];
    assert_eq!(
        counts["queued"].as_u64().unwrap() + counts["skipped"].as_u64().unwrap(),
        1,
        "{seen}"
    );
    let figures = "/api/broadcasts/spring/figures";
    let (status, figures) = call(&w.app, "GET", figures, &sam, None).await;
    assert_eq!(status, StatusCode::OK, "{figures}");
    assert_eq!(
        figures["queued"].as_u64().unwrap(),
        counts["queued"].as_u64().unwrap()
    );
    let (_, list) = call(&w.app, "GET", "/api/broadcasts", &sam, None).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
}
