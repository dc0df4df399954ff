//! The live snapshot's latency on a large PostgreSQL data set.
//!
//! Seeds (once per size; later runs reuse the database
//! `inbox_bench_snapshot_<N>`) the `list` bench's conversations
//! (`inbox_benches::seed`: half of them active, SLA targets around the
//! instant read), then measures `Reports::live_snapshot` for the whole
//! tenant, one team and one number, and `Reports::agent_loads`, and checks
//! the snapshot's counts against a plain count of the conversations.
//!
//! ```text
//! cargo run --release -p inbox-benches --bin snapshot -- --database-url URL \
//!     [--conversations 1000000] [--samples 300]
//! ```
//!
//! The last line: `snapshot active=<N> p50_ms=<X> p99_ms=<Y>` (the whole
//! tenant).

use std::time::{Duration, Instant};

use inbox_benches::{exit_on_error, flags, ms, number, percentile, seed};
use inbox_core::metrics::LiveQuery;
use inbox_core::ports::{Conversations, LoadScope, Reports};
use inbox_core::{ChannelId, ConversationId, TeamId, TenantId};
use inbox_store_postgres::PgStore;

struct Args {
    url: String,
    conversations: i64,
    samples: usize,
}

fn parse() -> Result<Args, String> {
    let mut a = Args {
        url: std::env::var("DATABASE_URL").unwrap_or_default(),
        conversations: 1_000_000,
        samples: 300,
    };
    flags(|k, v| {
        match k {
            "--database-url" => a.url = v()?,
            "--conversations" => a.conversations = number(k, v()?)?,
            "--samples" => a.samples = number(k, v()?)?,
            other => return Err(format!("unknown argument {other}")),
        }
        Ok(())
    })?;
    if a.url.is_empty() {
        return Err("needs --database-url (or DATABASE_URL)".into());
    }
    Ok(a)
}

/// Seeds the conversations unless they are there.
async fn seed(store: &PgStore, n: i64) -> Result<(), String> {
    let mut steps = seed::conversation_steps(n, seed::LIST_GAP_US);
    steps.extend(seed::finish_steps());
    steps.push("VACUUM ANALYZE".into());
    seed::seed_once(store, n, steps).await
}

/// `samples` timings of `read` after 5 to warm up, sorted.
async fn timed<T, F, Fut>(samples: usize, mut read: F) -> Result<(Vec<Duration>, T), String>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = inbox_core::Result<T>>,
{
    for _ in 0..5 {
        read().await.map_err(|e| e.to_string())?;
    }
    let mut times = Vec::with_capacity(samples);
    let mut last = None;
    for _ in 0..samples {
        let t = Instant::now();
        last = Some(read().await.map_err(|e| e.to_string())?);
        times.push(t.elapsed());
    }
    times.sort();
    Ok((times, last.ok_or("no samples")?))
}

fn row(name: &str, active: u64, sorted: &[Duration]) -> (f64, f64) {
    let (p50, p99) = (ms(percentile(sorted, 50.0)), ms(percentile(sorted, 99.0)));
    println!("| {name} | {active} | {p50:.2} ms | {p99:.2} ms |");
    (p50, p99)
}

async fn run() -> Result<(), String> {
    let args = parse()?;
    let n = args.conversations;
    let url = inbox_benches::kept_database(&args.url, &format!("inbox_bench_snapshot_{n}")).await?;
    let store = PgStore::connect(&url, 8).await.map_err(|e| e.to_string())?;
    store.migrate().await.map_err(|e| e.to_string())?;
    seed(&store, n).await?;
    let tenant = TenantId::new("bench").map_err(|e| e.to_string())?;
    // The seeded documents read as the core's conversations.
    for i in 1..=16 {
        let id = ConversationId::new(format!("c{i:09}")).map_err(|e| e.to_string())?;
        let read = store.conversation(&tenant, &id).await;
        read.map_err(|e| format!("seeded conversation {id}: {e}"))?;
    }
    let now = chrono::DateTime::from_timestamp_micros(seed::now_us(n, seed::LIST_GAP_US))
        .ok_or("bad now")?;
    let whole = LiveQuery::at(now);
    let team = LiveQuery {
        team: Some(TeamId::new("team3").map_err(|e| e.to_string())?),
        ..whole.clone()
    };
    let number = LiveQuery {
        channel: Some(ChannelId::new("main").map_err(|e| e.to_string())?),
        ..whole.clone()
    };
    println!("| read | active | p50 | p99 |");
    println!("|---|---|---|---|");
    let (times, s) = timed(args.samples, || store.live_snapshot(&tenant, &whole)).await?;
    let (p50, p99) = row("snapshot, whole tenant", s.active, &times);
    let (times, t) = timed(args.samples, || store.live_snapshot(&tenant, &team)).await?;
    row("snapshot, one team", t.active, &times);
    let (times, c) = timed(args.samples, || store.live_snapshot(&tenant, &number)).await?;
    row("snapshot, one number", c.active, &times);
    let loads = || store.agent_loads(&tenant, &LoadScope::Tenant);
    let (times, l) = timed(args.samples, loads).await?;
    row("agent loads, whole tenant", l.len() as u64, &times);
    let counted: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM inbox_conversations WHERE tenant_id = 'bench' AND status <> 'resolved'",
    )
    .fetch_one(store.pool())
    .await
    .map_err(|e| e.to_string())?;
    eprintln!(
        "check: {counted} active by count, snapshot {} (open {}, pending {}, snoozed {}, unassigned {}, waiting {}, at risk {}, breached {})",
        s.active, s.open, s.pending, s.snoozed, s.unassigned, s.waiting, s.sla_at_risk, s.sla_breached
    );
    if counted as u64 != s.active || c.active != s.active {
        return Err(format!(
            "the snapshot counts {} active, the table {counted}",
            s.active
        ));
    }
    println!(
        "snapshot active={} p50_ms={p50:.2} p99_ms={p99:.2}",
        s.active
    );
    Ok(())
}

#[tokio::main]
async fn main() {
    exit_on_error("snapshot", run().await);
}
