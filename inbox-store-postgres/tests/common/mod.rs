//! Per-test PostgreSQL databases.
//!
//! Each test gets a fresh database `inbox_t_<time>_<uuid>` created from the
//! server named by `DATABASE_URL`, with the migrations applied. Without
//! `DATABASE_URL` the tests are skipped with a message on standard error,
//! except under CI (`CI` set), where they fail: there they must run.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{ConnectOptions, Connection};
use std::io::Write;
use std::str::FromStr;
use std::sync::{Arc, Once};

use inbox_store_postgres::PgStore;

static SKIP_NOTICE: Once = Once::new();
static CLEANUP: Once = Once::new();

/// The server URL, or `None` (after saying why) when the tests must skip.
pub fn database_url() -> Option<String> {
    match std::env::var("DATABASE_URL") {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ => {
            if std::env::var_os("CI").is_some() {
                panic!("DATABASE_URL is not set: under CI the PostgreSQL tests must run, not skip");
            }
            SKIP_NOTICE.call_once(|| {
                // Written to the real stderr, past the test harness's capture,
                // so a skip is never silent.
                let _ = writeln!(
                    std::io::stderr(),
                    "SKIPPED: inbox-store-postgres tests need a PostgreSQL server: set DATABASE_URL \
                     (e.g. postgres://postgres@127.0.0.1:5432/postgres)"
                );
            });
            None
        }
    }
}

async fn admin(url: &str) -> PgConnection {
    let opts = PgConnectOptions::from_str(url)
        .expect("DATABASE_URL parses")
        .disable_statement_logging();
    PgConnection::connect_with(&opts)
        .await
        .unwrap_or_else(|e| panic!("cannot reach the PostgreSQL server of DATABASE_URL: {e}"))
}

/// Creates a fresh, migrated database and returns its URL.
pub async fn fresh_database() -> Option<String> {
    let db_url = empty_database().await?;
    let store = PgStore::connect(&db_url, 2).await.unwrap();
    store.migrate().await.unwrap();
    store.pool().close().await;
    Some(db_url)
}

/// Creates a fresh database without the migrations and returns its URL.
pub async fn empty_database() -> Option<String> {
    let url = database_url()?;
    let mut conn = admin(&url).await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    // Databases of earlier runs older than an hour are dropped once per process.
    let mut stale: Vec<String> = Vec::new();
    CLEANUP.call_once(|| stale.push(String::new()));
    if !stale.is_empty() {
        let names: Vec<(String,)> =
            sqlx::query_as("SELECT datname FROM pg_database WHERE datname LIKE 'inbox_t_%'")
                .fetch_all(&mut conn)
                .await
                .unwrap_or_default();
        for (name,) in names {
            let ts: u64 = name
                .split('_')
                .nth(2)
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            if ts + 3600 < now {
                let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                    .execute(&mut conn)
                    .await;
            }
        }
    }
    let name = format!("inbox_t_{now}_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(&format!("CREATE DATABASE \"{name}\""))
        .execute(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("CREATE DATABASE failed: {e}"));
    let _ = conn.close().await;
    let opts = PgConnectOptions::from_str(&url).unwrap().database(&name);
    Some(opts.to_url_lossy().to_string())
}

/// A fresh store on a fresh database (pool of `max` connections).
pub async fn fresh_store_with(max: u32) -> Option<Arc<PgStore>> {
    let url = fresh_database().await?;
    Some(Arc::new(PgStore::connect(&url, max).await.unwrap()))
}

/// A fresh store with a pool of 8 connections.
pub async fn fresh_store() -> Option<Arc<PgStore>> {
    fresh_store_with(8).await
}

/// `n` customer messages on number 1001 ingested at once (so that group
/// commit batches them): external ids `wamid.{tag}.{i}`, senders
/// `{sender}{i:02}`.
pub async fn ingest_at_once(
    f: &inbox_core::testing::Fixture,
    tag: &str,
    sender: &str,
    n: usize,
) -> Vec<inbox_core::Result<inbox_core::IngestOutcome>> {
    futures::future::join_all((0..n).map(|i| {
        let event = f.text(
            "1001",
            &format!("wamid.{tag}.{i}"),
            &format!("{sender}{i:02}"),
            "hello",
        );
        f.inbox.ingest(event)
    }))
    .await
}
