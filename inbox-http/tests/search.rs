//! `GET /api/search`: case and accents aside, over messages, tags and the
//! contact, resolved conversations when `status` names them, and what to
//! highlight by conversation.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use axum::http::StatusCode;
use serde_json::{json, Value};

use common::{call, World};
use inbox_core::model::ConversationStatus;

/// Sam's search for `query` (the query string after `?`).
async fn search(w: &World, query: &str) -> Value {
    let path = format!("/api/search?{query}");
    let (status, page) = call(&w.app, "GET", &path, &[("x-agent", "acme/sam")], None).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    page
}

#[tokio::test]
async fn search_answers_what_matched_to_highlight() {
    let w = World::new().await;
    let c = w.conversation.to_string();
    let f = &w.f;
    f.customer_says(
        "1001",
        "wamid.acme.2",
        "34611112222",
        "¿Dónde está mi pedido?",
    )
    .await
    .unwrap();
    let sam = f.actor("sam");
    let v = f.version(&w.conversation).await.unwrap();
    f.inbox
        .tag(&sam, &w.conversation, v, &["devolução"], &[])
        .await
        .unwrap();

    let page = search(&w, "q=DONDE").await;
    assert_eq!(page["items"][0]["id"], json!(c));
    assert_eq!(
        page["highlights"][&c],
        json!([{"field": "message", "words": ["Dónde"]}])
    );
    assert_eq!(
        page["matched"][&c]["content"]["body"],
        "¿Dónde está mi pedido?"
    );
    let page = search(&w, "q=devolucao").await;
    assert_eq!(
        page["highlights"][&c],
        json!([{"field": "tag", "words": ["devolução"]}])
    );
    assert!(page["matched"].get(&c).is_none(), "{page}");
    let page = search(&w, "q=%2B34%20611").await;
    assert_eq!(
        page["highlights"][&c],
        json!([{"field": "number", "words": ["34611"]}])
    );

    // Resolved: found when the statuses name it, as the web inbox asks.
    let v = f.version(&w.conversation).await.unwrap();
    f.inbox
        .set_status(&sam, &w.conversation, v, ConversationStatus::Resolved)
        .await
        .unwrap();
    assert_eq!(search(&w, "q=donde").await["items"], json!([]));
    let page = search(&w, "q=donde&status=open,pending,snoozed,resolved").await;
    assert_eq!(page["items"][0]["id"], json!(c));
    assert_eq!(page["highlights"][&c][0]["words"], json!(["Dónde"]));
}

#[tokio::test]
async fn the_openapi_description_carries_the_highlights() {
    let w = World::new().await;
    let (status, doc) = call(&w.app, "GET", "/api/openapi.json", &[], None).await;
    assert_eq!(status, StatusCode::OK);
    let schemas = &doc["components"]["schemas"];
    let page = &schemas["ConversationPage"]["properties"];
    assert!(page.get("highlights").is_some(), "{page}");
    let field = &schemas["SearchField"];
    let fields = field.to_string();
    for name in [
        "message",
        "contact_name",
        "number",
        "user_id",
        "tag",
        "attribute",
    ] {
        assert!(fields.contains(name), "{field}");
    }
    assert!(schemas["SearchMatch"]["properties"].get("words").is_some());
}
