//! Listing a WhatsApp Business Account's templates and syncing them into a
//! tenant's settings, against a local mock server.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use serde_json::{json, Value};
use wiremock::matchers::{method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, ResponseTemplate};

use inbox_core::model::{TemplateCategory, TemplateComponent, TemplateDefinition, TemplateStatus};
use inbox_core::ports::{HistoryQuery, TransportError};
use inbox_core::routing::Dur;
use inbox_core::{Conflict, Entity, Error};
use inbox_whatsapp::templates::{sync_templates, TemplateSync};
use inbox_whatsapp::{GraphClient, GraphConfig, RetryPolicy, WhatsAppError};

const TOKEN: &str = "EAAG-template-token";
const LIST: &str = "/v23.0/waba-1/message_templates";
const FIELDS: &str = "name,language,category,status,components";

fn client(server: &MockServer) -> GraphClient {
    let mut config = GraphConfig::new(TOKEN).base_url(server.uri());
    config.retry = RetryPolicy {
        max_attempts: 2,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(5),
        retry_timeouts: false,
    };
    GraphClient::new(config).unwrap()
}

/// A template as Meta lists it.
fn template(name: &str, language: &str, status: &str, category: &str, components: Value) -> Value {
    json!({ "id": format!("id-{name}-{language}"), "name": name, "language": language,
            "status": status, "category": category, "components": components })
}

/// Serves `pages` of templates: the first for the list's own query, page
/// `i` for the cursor `P{i}`, each page but the last linking to the next
/// (with the token in the link, as Meta's links carry it).
async fn serve(server: &MockServer, pages: Vec<Vec<Value>>) {
    let last = pages.len() - 1;
    for (i, data) in pages.into_iter().enumerate() {
        let mut body = json!({ "data": data, "paging": { "cursors": { "before": "B", "after": format!("P{}", i + 1) } } });
        if i < last {
            body["paging"]["next"] = json!(format!(
                "{}{LIST}?access_token={TOKEN}&fields={FIELDS}&limit=100&after=P{}",
                server.uri(),
                i + 1
            ));
        }
        let mock = Mock::given(method("GET"))
            .and(path(LIST))
            .and(query_param("fields", FIELDS))
            .and(query_param("limit", "100"));
        let mock = if i == 0 {
            mock.and(query_param_is_missing("after"))
        } else {
            mock.and(query_param("after", format!("P{i}")))
        };
        mock.respond_with(ResponseTemplate::new(200).set_body_json(body))
            .expect(1)
            .mount(server)
            .await;
    }
}

/// The text of the [`WhatsAppError::UnexpectedResponse`] `result` must be.
fn unexpected<T: std::fmt::Debug>(result: Result<T, WhatsAppError>) -> String {
    match result {
        Err(WhatsAppError::UnexpectedResponse(text)) => {
            assert!(!text.contains(TOKEN), "{text}");
            text
        }
        other => panic!("expected an unexpected response, got {other:?}"),
    }
}

fn body(text: &str) -> Value {
    json!({ "type": "BODY", "text": text })
}

/// Templates covering every way a component takes parameters.
fn catalogue() -> Vec<Vec<Value>> {
    vec![
        vec![
            template(
                "order_update",
                "en_US",
                "APPROVED",
                "UTILITY",
                json!([
                    { "type": "HEADER", "format": "IMAGE", "example": { "header_handle": ["4::aW"] } },
                    body("Hi {{1}}, order {{2}} ships {{3}}. Thanks {{1}}!"),
                    { "type": "FOOTER", "text": "Reply STOP to opt out" },
                    { "type": "BUTTONS", "buttons": [
                        { "type": "PHONE_NUMBER", "text": "Call", "phone_number": "16467043595" },
                        { "type": "URL", "text": "Track", "url": "https://example.com/track/{{1}}", "example": ["https://example.com/track/A1"] },
                        { "type": "URL", "text": "Help", "url": "https://example.com/help" },
                        { "type": "QUICK_REPLY", "text": "Stop" }
                    ]}
                ]),
            ),
            template(
                "welcome",
                "es",
                "PENDING",
                "MARKETING",
                json!([
                    { "type": "HEADER", "format": "TEXT", "text": "Hola {{first_name}}" },
                    body("{{first_name}}, tu código es {{code}}"),
                    { "type": "BUTTONS", "buttons": [
                        { "type": "QUICK_REPLY", "text": "Ver" },
                        { "type": "COPY_CODE", "example": "SAVE10" }
                    ]}
                ]),
            ),
        ],
        vec![
            template(
                "delivery",
                "en_US",
                "PAUSED",
                "UTILITY",
                json!([{ "type": "HEADER", "format": "LOCATION" }, body("Your order is near")]),
            ),
            template(
                "login_code",
                "en_US",
                "REJECTED",
                "AUTHENTICATION",
                json!([
                    { "type": "BODY", "text": "*{{1}}* is your verification code.", "add_security_recommendation": true },
                    { "type": "FOOTER", "text": "This code expires in 10 minutes.", "code_expiration_minutes": 10 },
                    { "type": "BUTTONS", "buttons": [{ "type": "OTP", "otp_type": "COPY_CODE", "text": "Copy code" }] }
                ]),
            ),
            template(
                "legacy",
                "en",
                "SOMETHING_NEW",
                "ALERT_UPDATE",
                json!([body("Hello")]),
            ),
        ],
    ]
}

fn find<'a>(list: &'a [TemplateDefinition], name: &str) -> &'a TemplateDefinition {
    list.iter().find(|t| t.name == name).unwrap()
}

#[tokio::test]
async fn every_page_is_read_and_each_component_counted() {
    let server = MockServer::start().await;
    serve(&server, catalogue()).await;
    let list = client(&server).templates("waba-1").await.unwrap();
    let names: Vec<&str> = list.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "order_update",
            "welcome",
            "delivery",
            "login_code",
            "legacy"
        ]
    );
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 2);
    let auth = requests[0].headers.get("authorization").unwrap();
    assert_eq!(auth.to_str().unwrap(), format!("Bearer {TOKEN}"));

    let order = find(&list, "order_update");
    assert_eq!(order.category, Some(TemplateCategory::Utility));
    assert_eq!(order.status, Some(TemplateStatus::Approved));
    assert_eq!(order.components.len(), 4);
    assert_eq!(order.components[3]["buttons"][1]["text"], "Track");
    // The image header takes its image; {{1}} twice in the body is one.
    assert_eq!(order.expected(TemplateComponent::Header), 1);
    assert_eq!(order.expected(TemplateComponent::Body), 3);
    // Only the URL button with a placeholder, at its position.
    let buttons: Vec<usize> = (0..4)
        .map(|index| order.expected(TemplateComponent::Button { index }))
        .collect();
    assert_eq!(buttons, [0, 1, 0, 0]);
    assert_eq!(order.parameters.len(), 3);

    let welcome = find(&list, "welcome");
    assert_eq!(welcome.category, Some(TemplateCategory::Marketing));
    assert_eq!(welcome.status, Some(TemplateStatus::Pending));
    // Named parameters, each once.
    assert_eq!(welcome.expected(TemplateComponent::Header), 1);
    assert_eq!(welcome.expected(TemplateComponent::Body), 2);
    assert_eq!(welcome.expected(TemplateComponent::Button { index: 0 }), 0);
    assert_eq!(welcome.expected(TemplateComponent::Button { index: 1 }), 1);

    let delivery = find(&list, "delivery");
    assert_eq!(delivery.status, Some(TemplateStatus::Paused));
    assert_eq!(delivery.expected(TemplateComponent::Header), 1);
    assert_eq!(delivery.expected(TemplateComponent::Body), 0);

    let login = find(&list, "login_code");
    assert_eq!(login.category, Some(TemplateCategory::Authentication));
    assert_eq!(login.status, Some(TemplateStatus::Rejected));
    assert_eq!(login.expected(TemplateComponent::Body), 1);
    assert_eq!(login.expected(TemplateComponent::Button { index: 0 }), 1);

    let legacy = find(&list, "legacy");
    assert_eq!(
        legacy.category,
        Some(TemplateCategory::Other("ALERT_UPDATE".into()))
    );
    assert_eq!(
        legacy.status,
        Some(TemplateStatus::Other("SOMETHING_NEW".into()))
    );
    assert!(legacy.parameters.is_empty());
}

#[tokio::test]
async fn a_next_link_off_the_configured_api_is_not_sent_the_token() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(LIST))
        .and(query_param("after", "P1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "data": [template("second", "en", "APPROVED", "UTILITY", json!([]))]
        })))
        .expect(1)
        .mount(&server)
        .await;
    let elsewhere = |cursors: Value| {
        json!({
            "data": [template("first", "en", "APPROVED", "UTILITY", json!([]))],
            "paging": { "next": "https://graph.example.net/v23.0/waba-1/message_templates?after=P1", "cursors": cursors }
        })
    };
    Mock::given(method("GET"))
        .and(path(LIST))
        .and(query_param_is_missing("after"))
        .respond_with(ResponseTemplate::new(200).set_body_json(elsewhere(json!({"after": "P1"}))))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    // The page after the cursor, asked of the configured API.
    let list = client(&server).templates("waba-1").await.unwrap();
    let names: Vec<&str> = list.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["first", "second"]);

    // Without a cursor, it is an error rather than a partial list.
    Mock::given(method("GET"))
        .and(path(LIST))
        .and(query_param_is_missing("after"))
        .respond_with(ResponseTemplate::new(200).set_body_json(elsewhere(json!({}))))
        .mount(&server)
        .await;
    unexpected(client(&server).templates("waba-1").await);
}

#[tokio::test]
async fn a_list_longer_than_the_bound_is_an_error_not_a_partial_list() {
    let server = MockServer::start().await;
    let again = format!("{}{LIST}?fields={FIELDS}&limit=100&after=X", server.uri());
    Mock::given(method("GET"))
        .and(path(LIST))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "data": [], "paging": { "next": again }
        })))
        .expect(GraphClient::TEMPLATE_PAGES as u64)
        .mount(&server)
        .await;
    let text = unexpected(client(&server).templates("waba-1").await);
    assert!(text.contains("more than 50 pages"), "{text}");
}

#[tokio::test]
async fn meta_refusals_are_typed_errors_without_the_token() {
    let server = MockServer::start().await;
    let meta_error = |status: u16, code: i64, kind: &str, message: &str| {
        ResponseTemplate::new(status).set_body_json(json!({ "error": {
            "message": message, "type": kind, "code": code, "fbtrace_id": "A1"
        }}))
    };
    for (waba, answer) in [
        (
            "expired",
            meta_error(
                401,
                190,
                "OAuthException",
                "Error validating access token: Session has expired.",
            ),
        ),
        (
            "nobody",
            meta_error(
                400,
                100,
                "GraphMethodException",
                "Unsupported get request. Object with ID 'nobody' does not exist.",
            ),
        ),
        (
            "garbled",
            ResponseTemplate::new(200).set_body_string("<html>"),
        ),
    ] {
        Mock::given(method("GET"))
            .and(path(format!("/v23.0/{waba}/message_templates")))
            .respond_with(answer)
            .expect(1)
            .mount(&server)
            .await;
    }
    let c = client(&server);
    // (account, Meta's code, whether the token was refused)
    for (waba, code, unauthorized) in [("expired", 190, true), ("nobody", 100, false)] {
        let err = c.templates(waba).await.unwrap_err();
        let WhatsAppError::Transport(e) = &err else {
            panic!("{err:?}")
        };
        assert_eq!(e.code(), Some(code), "{err:?}");
        assert_eq!(
            matches!(e, TransportError::Unauthorized { .. }),
            unauthorized,
            "{err:?}"
        );
        assert!(!e.is_retryable(), "{err:?}");
        let text = format!("{err} {err:?} {c:?}");
        assert!(!text.contains(TOKEN), "{text}");
    }
    unexpected(c.templates("garbled").await);
}

#[tokio::test]
async fn a_sync_stores_a_version_only_when_the_list_changed() {
    let f = common::fixture().await;
    let acme = f.acme();
    let admin = f.actor("ada");
    let history = || async {
        f.inbox
            .settings_history(
                &admin,
                HistoryQuery {
                    before: None,
                    limit: 200,
                },
            )
            .await
            .unwrap()
    };

    // (The fixture's provisioning made the versions before v0.)
    let v0 = f.store.settings(&acme).await.unwrap().unwrap().version;
    let provisioned = history().await.len();

    // First sync: every template is new; the next version, section
    // "templates".
    let server = MockServer::start().await;
    serve(&server, catalogue()).await;
    let sync = sync_templates(&f.inbox, &acme, &client(&server), "waba-1")
        .await
        .unwrap();
    assert_eq!(sync.version, v0 + 1);
    assert!(sync.stored);
    assert_eq!(
        sync.added,
        [
            "delivery@en_US",
            "legacy@en",
            "login_code@en_US",
            "order_update@en_US",
            "welcome@es"
        ]
    );
    assert!(sync.changed.is_empty() && sync.removed.is_empty());
    let changes = history().await;
    assert_eq!(changes.len(), provisioned + 1);
    assert_eq!(changes[0].version, v0 + 1);
    assert_eq!(changes[0].by, None);
    let sections: Vec<&str> = changes[0]
        .sections
        .iter()
        .map(|s| s.section.as_str())
        .collect();
    assert_eq!(sections, ["templates"]);
    let stored = f.store.settings(&acme).await.unwrap().unwrap();
    let names: Vec<&str> = stored
        .document
        .templates
        .iter()
        .map(|t| t.name.as_str())
        .collect();
    assert_eq!(
        names,
        [
            "delivery",
            "legacy",
            "login_code",
            "order_update",
            "welcome"
        ]
    );
    let policy = f.inbox.policy(&acme).await.unwrap();
    assert_eq!(policy.document.templates, stored.document.templates);

    // The same list (in another order): nothing stored, no new version.
    let server = MockServer::start().await;
    let mut pages = catalogue();
    pages.reverse();
    serve(&server, pages).await;
    let sync = sync_templates(&f.inbox, &acme, &client(&server), "waba-1")
        .await
        .unwrap();
    assert_eq!(
        sync,
        TemplateSync {
            version: v0 + 1,
            ..TemplateSync::default()
        }
    );
    assert_eq!(history().await.len(), provisioned + 1);

    // One template gone, another approved: the next version says so.
    let server = MockServer::start().await;
    let mut pages = catalogue();
    pages[1].retain(|t| t["name"] != "legacy");
    pages[0][1]["status"] = json!("APPROVED");
    serve(&server, pages).await;
    let sync = sync_templates(&f.inbox, &acme, &client(&server), "waba-1")
        .await
        .unwrap();
    assert_eq!(sync.version, v0 + 2);
    assert!(sync.stored);
    assert!(sync.added.is_empty());
    assert_eq!(sync.changed, ["welcome@es"]);
    assert_eq!(sync.removed, ["legacy@en"]);
    let changes = history().await;
    assert_eq!(changes.len(), provisioned + 2);
    assert_eq!(changes[0].sections[0].section, "templates");
    let stored = f.store.settings(&acme).await.unwrap().unwrap();
    assert_eq!(stored.version, v0 + 2);
    assert_eq!(stored.document.templates.len(), 4);
}

#[tokio::test]
async fn a_sync_keeps_the_other_sections_and_reports_graph_errors() {
    let f = common::fixture().await;
    let acme = f.acme();
    let edited = f
        .edit_settings(|doc| {
            doc.timers.follow_up_after = Some(Dur(Duration::from_secs(86_400)));
            doc.templates = vec![TemplateDefinition::new("by_hand", "en")];
        })
        .await
        .unwrap()
        .version;

    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({ "error": {
            "message": "Invalid OAuth access token.", "type": "OAuthException", "code": 190
        }})))
        .mount(&server)
        .await;
    let err = sync_templates(&f.inbox, &acme, &client(&server), "waba-1")
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            WhatsAppError::Transport(TransportError::Unauthorized { .. })
        ),
        "{err:?}"
    );
    let kept = f.store.settings(&acme).await.unwrap().unwrap().version;
    assert_eq!(kept, edited);

    let server = MockServer::start().await;
    serve(
        &server,
        vec![vec![template(
            "hello",
            "en_US",
            "APPROVED",
            "UTILITY",
            json!([body("Hi")]),
        )]],
    )
    .await;
    let sync = sync_templates(&f.inbox, &acme, &client(&server), "waba-1")
        .await
        .unwrap();
    assert_eq!(
        (sync.version, sync.added.clone(), sync.removed.clone()),
        (
            edited + 1,
            vec!["hello@en_US".to_string()],
            vec!["by_hand@en".to_string()]
        )
    );
    let stored = f.store.settings(&acme).await.unwrap().unwrap();
    assert_eq!(
        stored.document.timers.follow_up_after,
        Some(Dur(Duration::from_secs(86_400)))
    );
}

#[tokio::test]
async fn a_sync_tries_a_conflicting_write_once_more_then_reports_it() {
    let (faulty, f) = common::faulty_fixture().await;
    let acme = f.acme();
    let before = f.store.settings(&acme).await.unwrap();
    let puts = faulty.calls().get("put_settings").copied().unwrap_or(0);
    // Every write of the settings meets a change made in between.
    faulty.refuse("put_settings", || {
        Error::Conflict(Box::new(Conflict::on(Entity::Settings, "acme", 0, 1)))
    });
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "data": [template("hello", "en_US", "APPROVED", "UTILITY", json!([body("Hi")]))]
        })))
        .expect(1)
        .mount(&server)
        .await;
    let err = sync_templates(&f.inbox, &acme, &client(&server), "waba-1")
        .await
        .unwrap_err();
    let WhatsAppError::Inbox(e) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(e.as_conflict().map(|c| c.entity), Some(Entity::Settings));
    // Read and written twice; Meta's list fetched once.
    assert_eq!(faulty.calls().get("put_settings"), Some(&(puts + 2)));
    assert_eq!(f.store.settings(&acme).await.unwrap(), before);
}
