//! A failing database never shows its error text to API clients: the
//! answer is JSON `{code, message}` with a request id, and the text goes to
//! the log under that id. Needs PostgreSQL (`DATABASE_URL`); without it the
//! test says it is skipped (with `CI` set it fails).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use axum::http::StatusCode;
use sqlx::Connection;
use std::io::Write;
use std::sync::Arc;

use common::{assert_json_error, App};
use inbox_core::ports::ManualClock;
use inbox_examples::server::app_state;
use inbox_examples::server::config::ServerConfig;
use inbox_store_postgres::PgStore;

fn database_url() -> Option<String> {
    match std::env::var("DATABASE_URL") {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ if std::env::var_os("CI").is_some() => {
            panic!("DATABASE_URL is not set: under CI this test must run")
        }
        _ => {
            // Past the harness's capture, so a skip is never silent.
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED: set DATABASE_URL to run the example server's database error test"
            );
            None
        }
    }
}

#[tokio::test]
async fn database_errors_stay_in_the_log() {
    let Some(url) = database_url() else { return };
    let name = format!(
        "inbox_ex_{}_{}",
        std::process::id(),
        chrono::Utc::now().timestamp_nanos_opt().unwrap()
    );
    let mut admin = sqlx::PgConnection::connect(&url).await.unwrap();
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .unwrap();
    let db_url = match url.rsplit_once('/') {
        Some((server, _)) => format!("{server}/{name}"),
        None => panic!("DATABASE_URL names no database: {url}"),
    };
    let store = PgStore::connect(&db_url, 2).await.unwrap();
    store.migrate().await.unwrap();

    let config = ServerConfig::parse(common::CONFIG).unwrap();
    let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
    let (inbox, transport) =
        common::provisioned(&config, Arc::new(store.clone()), clock.clone()).await;
    let state = app_state(inbox, &config, Default::default()).unwrap();
    let app = App::from_state(state, config, transport, clock);
    let sam = app.sign_in("sam", "sam").await;

    // The schema loses a table: every list now fails inside PostgreSQL.
    sqlx::query("DROP TABLE inbox_conversations CASCADE")
        .execute(store.pool())
        .await
        .unwrap();
    let (status, body) = app.get("/api/conversations", &sam).await;
    assert!(status.is_server_error(), "{status} {body}");
    assert_ne!(status, StatusCode::BAD_GATEWAY);
    assert_json_error("a failing store", status, &body);
    let text = body.to_string();
    for leak in [
        "relation",
        "inbox_conversations",
        "does not exist",
        "42P01",
        "sqlx",
        "PostgreSQL",
    ] {
        assert!(!text.contains(leak), "{leak:?} leaked: {text}");
    }
    let id = body["details"]["request_id"].as_str().unwrap();
    assert!(body["message"].as_str().unwrap().contains(id), "{body}");

    // FORCE ends the store's connections.
    sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)"))
        .execute(&mut admin)
        .await
        .unwrap();
}
