//! Roles × operations over every route: what an agent (ana, who owns the
//! conversation), a supervisor (sam) and an admin (ada) of acme may do.
//! "Refused" is 403 `forbidden`; "allowed" is anything else but a server
//! error (a later check, such as the version, may still refuse it). Each
//! request runs on a fresh world, so one does not change the next. The
//! table names every route of `API_ROUTES` (checked).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use axum::http::StatusCode;

use common::{assert_every_route, cases, World};

/// The roles refused a route: (agent, supervisor, admin).
fn refused(method: &str, template: &str) -> (bool, bool, bool) {
    const AGENT: (bool, bool, bool) = (true, false, false);
    const AGENT_AND_SUPERVISOR: (bool, bool, bool) = (true, true, false);
    const NOBODY: (bool, bool, bool) = (false, false, false);
    const SUPERVISOR: (bool, bool, bool) = (false, true, false);
    match (method, template) {
        // Ana owns the conversation: she may hand it over and set its
        // priority (assigning others' conversations is a supervisor's, as
        // the core's permission suite shows).
        ("get", "/metrics")
        | ("get", "/costs")
        | ("get", "/csat")
        | ("get", "/bots/report")
        | ("get", "/live") => AGENT,
        ("get", "/settings")
        | ("get", "/settings/history")
        | ("get", "/settings/versions/{version}")
        | ("post", "/settings/explain") => AGENT,
        ("put", "/settings")
        | ("put", "/teams/{id}")
        | ("put", "/agents/{id}")
        | ("post", "/templates/sync") => AGENT_AND_SUPERVISOR,
        ("get", "/dead-letters") | ("post", "/dead-letters/{letter}/replay") => {
            AGENT_AND_SUPERVISOR
        }
        // Ana's own session, sessions and password: hers and an admin's,
        // not a supervisor's.
        ("delete", "/sessions/{session}")
        | ("delete", "/agents/{id}/sessions")
        | ("put", "/agents/{id}/password") => SUPERVISOR,
        ("get", "/keys") | ("post", "/keys") | ("delete", "/keys/{key}") => AGENT_AND_SUPERVISOR,
        ("post", "/contacts/import") => AGENT,
        // Which connectors are set up: supervisors and admins; storing and
        // checking credentials: admins.
        ("get", "/connectors") => AGENT,
        ("put", "/connectors/{connector}/credentials")
        | ("post", "/connectors/{connector}/check") => AGENT_AND_SUPERVISOR,
        ("get", "/broadcasts")
        | ("post", "/broadcasts")
        | ("get", "/broadcasts/{id}")
        | ("get", "/broadcasts/{id}/figures")
        | ("post", "/broadcasts/{id}/steer") => AGENT,
        // Anyone who may reply may start a conversation (here: with the
        // contact of ana's conversation, so the template is added to it).
        ("post", "/conversations") | ("get", "/templates/{name}/{language}") => NOBODY,
        _ => NOBODY,
    }
}

#[tokio::test]
async fn each_role_may_do_what_the_matrix_says_on_every_route() {
    let probe = World::new().await;
    let version = probe.version("acme/ada").await;
    let cases = cases(version);
    assert_every_route(cases.iter().map(|c| c.route()));
    let mut wrong = Vec::new();
    for case in &cases {
        let template = case.template.split('?').next().unwrap();
        let (a, s, ad) = refused(case.method, template);
        for (who, refuse) in [("acme/ana", a), ("acme/sam", s), ("acme/ada", ad)] {
            let w = World::new().await;
            let (status, text) = w.send(who, case).await;
            if template.starts_with("/platform/") {
                // The operator's routes are no agent's, whatever the role.
                if status.is_success() || status.is_server_error() {
                    wrong.push(format!("{} {template} as {who}: {status}", case.method));
                }
                continue;
            }
            let forbidden = status == StatusCode::FORBIDDEN;
            if forbidden != refuse || status.is_server_error() {
                wrong.push(format!(
                    "{} {template} as {who}: {status} {text}",
                    case.method
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "not as the matrix says:\n{}",
        wrong.join("\n")
    );
}
