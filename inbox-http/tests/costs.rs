//! `GET /api/costs` and `GET /api/conversations/{id}/price`: status codes,
//! roles, and another tenant's messages never counted.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use axum::http::StatusCode;
use serde_json::{json, Value};

use common::{call, World};
use inbox_core::inbound::{InboundEvent, InboundStatus, IngestOutcome};
use inbox_core::model::{DeliveryStatus, Pricing};

const RANGE: &str = "from=2020-01-01T00:00:00Z&to=2100-01-01T00:00:00Z";

/// A world whose tenant has a rate card and whose reply WhatsApp priced as
/// a marketing message; globex has a priced reply of its own.
async fn priced_world() -> World {
    let w = World::new().await;
    let card = "pricing:\n  currency: EUR\n  rates:\n    marketing: {default: '0.0509', markets: {ES: '0.0615'}}\n";
    let card = inbox_core::settings::TenantSettings::from_yaml(card)
        .unwrap()
        .pricing;
    w.f.edit_settings(|s| s.pricing = card).await.unwrap();
    priced(&w, "1001", w.message.as_str()).await;
    // Globex: a customer writes, gus answers, WhatsApp prices it.
    let (g, _) =
        w.f.customer_says("2001", "wamid.globex.1", "34622223333", "hola")
            .await
            .unwrap();
    let gus = w.f.actor("gus");
    w.f.inbox.claim(&gus, &g, 1).await.unwrap();
    let reply = inbox_core::Reply::text("hi", "g1");
    let out = w.f.inbox.reply(&gus, &g, 2, reply).await.unwrap();
    priced(&w, "2001", out.message.unwrap().id.as_str()).await;
    w
}

/// A status saying our message `id` on number `pnid` cost a marketing
/// message.
async fn priced(w: &World, pnid: &str, id: &str) {
    let status = InboundEvent::Status(InboundStatus {
        pricing: Some(Pricing {
            model: Some("PMP".into()),
            category: Some("marketing".into()),
            kind: Some("regular".into()),
            billable: None,
        }),
        phone_number_id: pnid.into(),
        external_id: format!("wamid.{id}"),
        our_message_id: Some(id.into()),
        recipient: None,
        status: DeliveryStatus::Sent,
        timestamp: inbox_core::ports::Clock::now(w.f.clock.as_ref()),
        error: None,
    });
    let out = w.f.inbox.ingest(status).await.unwrap();
    assert!(
        matches!(out, IngestOutcome::StatusApplied { .. }),
        "{out:?}"
    );
}

async fn get(w: &World, who: &str, path: &str) -> (StatusCode, Value) {
    let headers: Vec<(&str, &str)> = if who.is_empty() {
        vec![]
    } else {
        vec![("x-agent", who)]
    };
    call(&w.app, "GET", path, &headers, None).await
}

#[tokio::test]
async fn costs_are_for_supervisors_and_admins_of_the_tenant_only() {
    let w = priced_world().await;
    let path = format!("/api/costs?{RANGE}");
    let (status, body) = get(&w, "acme/sam", &path).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["currency"], "EUR");
    assert_eq!(body["total"]["billed"], 1);
    assert_eq!(body["total"]["cost"], "0.0615");
    assert_eq!(
        body["by_agent"],
        json!([{"key": "ana", "billed": 1, "free": 0, "other": 0, "unrated": 0, "cost": "0.0615"}])
    );
    assert_eq!(body["by_market"][0]["key"], "ES");
    // Globex counts its own message only, and has no rate card.
    let (status, body) = get(&w, "globex/gus", &path).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        (body["total"]["billed"].clone(), body["currency"].clone()),
        (json!(1), Value::Null)
    );
    assert_eq!(body["by_agent"][0]["key"], "gus");
    // An agent is refused; nobody signed in is not let in; a backwards
    // range is refused, an unreadable one is a bad request.
    assert_eq!(get(&w, "acme/ana", &path).await.0, StatusCode::FORBIDDEN);
    assert_eq!(get(&w, "", &path).await.0, StatusCode::UNAUTHORIZED);
    let backwards = "/api/costs?from=2100-01-01T00:00:00Z&to=2020-01-01T00:00:00Z";
    let (status, body) = get(&w, "acme/ada", backwards).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["code"], "invalid_input");
    assert_eq!(
        get(&w, "acme/ada", "/api/costs?from=yesterday").await.0,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn the_price_of_a_send_is_estimated_for_whoever_sees_the_conversation() {
    let w = priced_world().await;
    let offer = inbox_core::model::TemplateDefinition {
        category: Some(inbox_core::model::TemplateCategory::Marketing),
        ..inbox_core::model::TemplateDefinition::new("acme_promo", "es")
    };
    w.f.edit_settings(|s| s.templates.push(offer))
        .await
        .unwrap();
    let c = w.conversation.as_str();
    let (status, body) = get(&w, "acme/ana", &format!("/api/conversations/{c}/price")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        (body["billed"].clone(), body["reason"].clone()),
        (json!(false), json!("inside_window"))
    );
    let path = format!("/api/conversations/{c}/price?template=acme_promo&language=es");
    let (status, body) = get(&w, "acme/ana", &path).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({"billed": true, "category": "marketing", "reason": "category", "market": "ES", "rate": "0.0615", "currency": "EUR"})
    );
    // A template the tenant never declared a category for: cannot tell.
    let path = format!("/api/conversations/{c}/price?template=acme_offer&language=en_US");
    let (_, body) = get(&w, "acme/ana", &path).await;
    assert_eq!(
        (body["billed"].clone(), body["reason"].clone()),
        (Value::Null, json!("unknown_category"))
    );
    // Another tenant's conversation is not found.
    let (status, _) = get(&w, "globex/gus", &format!("/api/conversations/{c}/price")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
