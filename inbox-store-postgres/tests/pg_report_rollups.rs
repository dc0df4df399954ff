//! Report rollups built again from the rows (after a bulk import, or when
//! lost) give the same reports as the ones moved conversation by
//! conversation; a report after rollups went missing is not silently
//! wrong once they are rebuilt.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use chrono::TimeDelta;
use std::sync::Arc;

use inbox_core::metrics::{MetricsQuery, MetricsReport};
use inbox_core::ports::Store;
use inbox_core::testing::Fixture;
use inbox_core::{AgentId, ChannelId, TeamId};
use inbox_store_postgres::PgStore;

/// Reports over the days with each filter the API offers.
fn queries() -> Vec<MetricsQuery> {
    let start = Fixture::start();
    let whole = MetricsQuery::over(
        start - TimeDelta::days(1),
        start + TimeDelta::days(40),
        start,
    );
    let hours = MetricsQuery::over(
        start + TimeDelta::hours(3),
        start + TimeDelta::hours(30),
        start,
    );
    let mut out = vec![whole.clone(), hours];
    for i in 0..4 {
        let mut q = whole.clone();
        match i {
            0 => q.channel = Some(ChannelId::new("support").unwrap()),
            1 => q.team = Some(TeamId::new("sales").unwrap()),
            2 => q.agent = Some(AgentId::new("ana").unwrap()),
            _ => q.tag = Some("vip".into()),
        }
        out.push(q);
    }
    out
}

async fn reports(f: &Fixture) -> Vec<MetricsReport> {
    let sam = f.actor("sam");
    let mut out = Vec::new();
    for q in queries() {
        out.push(f.inbox.metrics(&sam, q).await.unwrap());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollups_built_again_give_the_same_reports() {
    let Some(url) = common::fresh_database().await else {
        return;
    };
    let store = Arc::new(PgStore::connect(&url, 4).await.unwrap());
    let f = Fixture::new(store.clone() as Arc<dyn Store>).await.unwrap();
    let (ana, ben) = (f.actor("ana"), f.actor("ben"));
    // Customers over five weeks (into April), answered, noted, tagged.
    for i in 0..12i64 {
        f.clock.set(Fixture::start() + TimeDelta::hours(i * 70));
        let number = ["1001", "1002"][i as usize % 2];
        let who = format!("3460000{i:04}");
        let (c, _) = f
            .customer_says(number, &format!("wamid.{i}"), &who, "hola")
            .await
            .unwrap();
        let agent = if i % 3 == 0 { &ben } else { &ana };
        f.clock
            .set(Fixture::start() + TimeDelta::hours(i * 70) + TimeDelta::minutes(i * 7));
        if i % 4 != 3 {
            f.claim_and_reply(agent, &c, "hi", &format!("r{i}"))
                .await
                .unwrap();
        }
        let v = f.version(&c).await.unwrap();
        f.inbox
            .note(agent, &c, v, "fyi", &format!("n{i}"))
            .await
            .unwrap();
        if i % 2 == 0 {
            let v = f.version(&c).await.unwrap();
            f.inbox.tag(agent, &c, v, &["vip"], &[]).await.unwrap();
        }
    }
    let moved = reports(&f).await;
    assert_eq!(moved[0].opened, 12);
    assert!(
        moved[0].agents.iter().any(|a| a.notes > 0),
        "{:?}",
        moved[0]
    );

    // Lost rollups: rebuilt from the rows, the reports are the same.
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    for table in ["inbox_report_rollups", "inbox_report_contributions"] {
        sqlx::query(&format!("DELETE FROM {table}"))
            .execute(&pool)
            .await
            .unwrap();
    }
    store.rebuild_reports(&f.acme()).await.unwrap();
    assert_eq!(reports(&f).await, moved);

    // Every conversation marked (as after an upgrade): moved again, the
    // same.
    sqlx::query(
        "INSERT INTO inbox_report_dirty (tenant_id, conversation_id) \
         SELECT tenant_id, conversation_id FROM inbox_conversations",
    )
    .execute(&pool)
    .await
    .unwrap();
    store.refresh_reports(&f.acme()).await.unwrap();
    assert_eq!(reports(&f).await, moved);
}
