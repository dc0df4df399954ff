//! Both search strategies of the PostgreSQL store (fetch the few matches by
//! key; walk conversations probing each) give the reference results: the
//! search conformance tests again, with the probe limit forcing the walk.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;

use inbox_core::ports::Store;
use inbox_store_postgres::PgStore;

async fn walking_store() -> Option<Arc<dyn Store>> {
    let url = common::fresh_database().await?;
    let store = PgStore::connect(&url, 4)
        .await
        .unwrap()
        .with_search_probe_limit(0);
    Some(Arc::new(store))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_by_walking_finds_words_names_and_numbers_within_visibility() {
    let Some(store) = walking_store().await else {
        return;
    };
    inbox_core::testing::conformance::search_finds_words_names_and_numbers_within_visibility(store)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_by_walking_pages_and_never_interprets_operators() {
    let Some(store) = walking_store().await else {
        return;
    };
    inbox_core::testing::conformance::search_pages_and_never_interprets_operators(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_by_walking_ignores_case_and_accents() {
    let Some(store) = walking_store().await else {
        return;
    };
    inbox_core::testing::conformance::search_ignores_case_and_accents(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_by_walking_covers_tags_attributes_user_ids_and_resolved() {
    let Some(store) = walking_store().await else {
        return;
    };
    inbox_core::testing::conformance::search_covers_tags_attributes_user_ids_and_resolved(store)
        .await;
}
