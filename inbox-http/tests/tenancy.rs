//! Tenants never see each other's anything, across every route: globex's
//! admin, acting on acme's ids (a conversation, a message, a contact, a
//! dead letter), gets 404; a route about their own tenant answers with
//! nothing of acme's in it. The table names every route of `API_ROUTES`
//! (checked), so a new route cannot be left out.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use axum::http::StatusCode;
use serde_json::Value;

use common::{assert_every_route, cases, World};
use inbox_core::AgentId;

/// What a route must answer globex's admin.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Expect {
    /// 404: the id is acme's.
    NotFound,
    /// 2xx with nothing of acme's in the answer.
    Own,
    /// Not a tenant's data (sign-in, the description, the event stream's
    /// headers): only that it does not fail.
    Answers,
    /// The platform operator's: refused (401, or 404 without an operator).
    Refused,
}

fn expect(method: &str, template: &str) -> Expect {
    let of_acme = ["{id}", "{contact}", "{letter}", "{session}", "{key}"];
    match template {
        // A start names acme's contact (and number); the template is
        // acme's.
        "/conversations" if method == "post" => Expect::NotFound,
        // A broadcast from acme's number.
        "/broadcasts" if method == "post" => Expect::NotFound,
        "/templates/{name}/{language}" => Expect::NotFound,
        // The operator's routes: not an agent's, whoever they are.
        t if t.starts_with("/platform/") => Expect::Refused,
        "/session" | "/events" | "/openapi.json" => Expect::Answers,
        // Globex's numbers name no account to read (422); a sync reads
        // only the caller's own accounts (tests/templates.rs).
        "/templates/sync" => Expect::Answers,
        // Ids of directory records are per tenant: globex's own.
        "/teams/{id}" | "/agents/{id}" => Expect::Own,
        // By then globex has an agent `ana` of its own (the line for
        // `PUT /agents/{id}` made her): hers, not acme's.
        "/agents/{id}/sessions" | "/agents/{id}/password" => Expect::Own,
        "/settings/explain" | "/media/{message_id}" => Expect::NotFound,
        t if of_acme.iter().any(|id| t.contains(id)) => Expect::NotFound,
        _ => Expect::Own,
    }
}

#[tokio::test]
async fn another_tenants_ids_are_not_found_on_any_route() {
    let w = World::new().await;
    let gus = "globex/gus";
    let cases = cases(w.version(gus).await);
    assert_every_route(cases.iter().map(|c| c.route()));
    let acme_marks = [
        "acme".to_string(),
        w.conversation.to_string(),
        w.message.to_string(),
        w.contact.to_string(),
        "34611112222".into(),
        "secreto".into(),
        "Ana".into(),
    ];
    for case in &cases {
        let (status, text) = w.send(gus, case).await;
        let what = format!("{} {}: {status} {text}", case.method, w.path(case));
        match expect(case.method, case.template) {
            Expect::NotFound => {
                assert_eq!(status, StatusCode::NOT_FOUND, "{what}");
                let body: Value = serde_json::from_str(&text).unwrap();
                assert!(
                    body["code"]
                        .as_str()
                        .is_some_and(|c| c.contains("not_found")),
                    "{what}"
                );
            }
            Expect::Own => {
                assert!(status.is_success(), "{what}");
                for mark in &acme_marks {
                    assert!(!text.contains(mark.as_str()), "{what}: shows {mark}");
                }
            }
            Expect::Answers => assert!(!status.is_server_error(), "{what}"),
            Expect::Refused => assert!(
                [StatusCode::UNAUTHORIZED, StatusCode::NOT_FOUND].contains(&status),
                "{what}"
            ),
        }
    }
    // Acme's records are as they were.
    let f = &w.f;
    let acme_ana = f
        .store
        .agent(&f.acme(), &AgentId::new("ana").unwrap())
        .await
        .unwrap();
    assert_eq!(acme_ana.name, "Ana");
    let stored = f
        .store
        .conversation(&f.acme(), &w.conversation)
        .await
        .unwrap();
    assert_eq!(
        (stored.version, stored.assignee.map(|a| a.to_string())),
        (3, Some("ana".into()))
    );
}
