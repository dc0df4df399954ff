//! Inbox list latency on a large PostgreSQL data set.
//!
//! Seeds (once; later runs reuse the database) a tenant with N conversations
//! and M messages (two in three from customers, the rest agents' replies,
//! with response times, and notes), then measures `Inbox::list` for the views agents use all
//! day: mine, unassigned, a team, everything (as an agent with team
//! visibility, and as a supervisor), first pages and deep pages by cursor.
//!
//! ```text
//! cargo run --release -p inbox-benches --bin list -- --database-url URL \
//!     [--conversations 1000000] [--messages 10000000] [--queries 500]
//! ```

use std::sync::Arc;
use std::time::{Duration, Instant};

use inbox_benches::{exit_on_error, flags, inbox_on, ms, number, percentile};
use inbox_core::model::ConversationStatus;
use inbox_core::ports::Store;
use inbox_core::{Actor, AgentId, Inbox, SortOrder, TeamId, TenantId, View, ViewQuery};
use inbox_store_postgres::PgStore;

struct Args {
    url: String,
    conversations: i64,
    messages: i64,
    queries: usize,
}

fn parse() -> Result<Args, String> {
    let mut a = Args {
        url: std::env::var("DATABASE_URL").unwrap_or_default(),
        conversations: 1_000_000,
        messages: 10_000_000,
        queries: 500,
    };
    flags(|k, v| {
        match k {
            "--database-url" => a.url = v()?,
            "--conversations" => a.conversations = number(k, v()?)?,
            "--messages" => a.messages = number(k, v()?)?,
            "--queries" => a.queries = number(k, v()?)?,
            other => return Err(format!("unknown argument {other}")),
        }
        Ok(())
    })?;
    if a.url.is_empty() {
        return Err("needs --database-url (or DATABASE_URL)".into());
    }
    Ok(a)
}

/// Seeds the data set with set-based SQL (the rows are exactly what the
/// store writes: the JSON documents decode into the core's model, and the
/// search words of this ASCII text, lower-cased runs of letters and
/// digits, are the core's `inbox_core::search::document_words`). A data
/// set seeded before migration 25 is re-indexed once by `migrate`.
async fn seed(store: &PgStore, n: i64, m: i64) -> Result<(), String> {
    use inbox_benches::seed;
    let mut steps = seed::conversation_steps(n, seed::LIST_GAP_US);
    steps.push(seed::message_step(n, m));
    steps.extend(seed::finish_steps());
    steps.push("ANALYZE".to_string());
    seed::seed_once(store, n, steps).await
}

async fn measure(
    inbox: &Inbox,
    actor: &Actor,
    query: ViewQuery,
    n: usize,
    deep: bool,
) -> Result<Vec<Duration>, String> {
    let mut samples = Vec::with_capacity(n);
    let mut cursor = None;
    for _ in 0..n {
        let q = query
            .clone()
            .after(if deep { cursor.clone() } else { None });
        let t = Instant::now();
        let page = inbox.list(actor, &q).await.map_err(|e| e.to_string())?;
        samples.push(t.elapsed());
        cursor = page.next;
    }
    samples.sort();
    Ok(samples)
}

#[tokio::main]
async fn main() {
    exit_on_error("list", run().await);
}

/// Prints a table row of a view's or search's p50 and p99; returns the p99.
fn print_row(name: &str, sorted: &[Duration]) -> Duration {
    let (p50, p99) = (percentile(sorted, 50.0), percentile(sorted, 99.0));
    println!("| {name} | {:.2} ms | {:.2} ms |", ms(p50), ms(p99));
    p99
}

/// The agent (with team visibility) and the supervisor the queries run as.
struct Who {
    agent: Actor,
    supervisor: Actor,
}

/// Measures the views agents use all day; returns the worst p99.
async fn list_views(inbox: &Inbox, who: &Who, queries: usize) -> Result<Duration, String> {
    let team = TeamId::new("team7").map_err(|e| e.to_string())?;
    let active = [ConversationStatus::Open, ConversationStatus::Pending];
    let of = |view: View| ViewQuery::new(view).statuses(&active);
    let oldest = |view: View| of(view).sort(SortOrder::OldestActivity);
    let (agent, supervisor) = (&who.agent, &who.supervisor);
    let cases: Vec<(&str, &Actor, ViewQuery, bool)> = vec![
        ("mine (agent)", agent, of(View::Mine), false),
        (
            "unassigned (agent, team visibility)",
            agent,
            of(View::Unassigned),
            false,
        ),
        ("team (agent)", agent, of(View::Team(team)), false),
        ("all (agent, team visibility)", agent, of(View::All), false),
        ("all (supervisor)", supervisor, of(View::All), false),
        (
            "all (supervisor), deep pages by cursor",
            supervisor,
            of(View::All),
            true,
        ),
        (
            "all (supervisor), waiting longest",
            supervisor,
            of(View::All).sort(SortOrder::WaitingLongest),
            false,
        ),
        (
            "all (supervisor), oldest activity first",
            supervisor,
            oldest(View::All),
            false,
        ),
        (
            "all (supervisor), oldest activity first, deep pages by cursor",
            supervisor,
            oldest(View::All),
            true,
        ),
        (
            "mine (agent), oldest activity first",
            agent,
            oldest(View::Mine),
            false,
        ),
        (
            "vip tag (supervisor)",
            supervisor,
            of(View::All).tag("vip"),
            false,
        ),
    ];
    let mut worst_p99 = Duration::ZERO;
    println!("| view | p50 | p99 |");
    println!("|---|---|---|");
    for (name, actor, q, deep) in cases {
        // Warm up, then measure.
        measure(inbox, actor, q.clone(), 20, deep).await?;
        let s = measure(inbox, actor, q, queries, deep).await?;
        worst_p99 = worst_p99.max(print_row(name, &s));
    }
    Ok(worst_p99)
}

/// Measures searches for a rare word, a common word, a name and number
/// digits; returns the worst p99.
async fn searches(inbox: &Inbox, who: &Who, queries: usize) -> Result<Duration, String> {
    let (agent, supervisor) = (&who.agent, &who.supervisor);
    let searches: Vec<(&str, &Actor, &str)> = vec![
        (
            "search a rare word (supervisor)",
            supervisor,
            "portugal 4242",
        ),
        ("search a common word (supervisor)", supervisor, "order"),
        (
            "search a name (agent, team visibility)",
            agent,
            "sofia 1005",
        ),
        (
            "search by number digits (supervisor)",
            supervisor,
            "600012345",
        ),
    ];
    let mut worst = Duration::ZERO;
    for (name, actor, text) in searches {
        let q = ViewQuery::new(View::All);
        let mut samples = Vec::new();
        for i in 0..(queries / 5).max(20) {
            let t = Instant::now();
            inbox
                .search(actor, text, &q)
                .await
                .map_err(|e| e.to_string())?;
            if i >= 5 {
                samples.push(t.elapsed());
            }
        }
        samples.sort();
        worst = worst.max(print_row(name, &samples));
    }
    Ok(worst)
}

/// Seven runs of `query`, sorted by time; returns them with the last
/// run's result.
async fn seven<T, F: std::future::Future<Output = Result<T, String>>>(
    mut query: impl FnMut() -> F,
) -> Result<(Vec<Duration>, T), String> {
    let mut samples = Vec::new();
    let mut last = None;
    for _ in 0..7 {
        let t = Instant::now();
        last = Some(query().await?);
        samples.push(t.elapsed());
    }
    samples.sort();
    Ok((samples, last.ok_or("no run")?))
}

/// Prints a report's row: its name, the conversations it counted, p50
/// and p99.
fn print_report(name: &str, count: u64, sorted: &[Duration]) {
    let (p50, p99) = (percentile(sorted, 50.0), percentile(sorted, 99.0));
    println!(
        "| {name} | {count} | {:.1} ms | {:.1} ms |",
        ms(p50),
        ms(p99)
    );
}

/// Reports (`Reports::metrics`) over 1%, 10% and all of the conversations
/// (the seed opens them 1 ms apart, from 2025-06-15 15:06:40 UTC), and
/// the live snapshot of every active conversation.
async fn reports(store: &dyn Store, conversations: i64) -> Result<(), String> {
    println!("| report | conversations | p50 | p99 |");
    println!("|---|---|---|---|");
    let start = chrono::DateTime::from_timestamp(1_750_000_000, 0).ok_or("bad start")?;
    let span = |n: i64| start + chrono::TimeDelta::milliseconds(n);
    let tenant = TenantId::new("bench").map_err(|e| e.to_string())?;
    let reports: Vec<(&str, i64, Option<AgentId>)> = vec![
        ("1% of the range", conversations / 100, None),
        ("10% of the range", conversations / 10, None),
        ("whole range", conversations, None),
        (
            "whole range, one agent",
            conversations,
            Some(AgentId::new("agent7").map_err(|e| e.to_string())?),
        ),
    ];
    for (name, n, agent) in reports {
        let q = inbox_core::metrics::MetricsQuery {
            from: span(0),
            to: span(n + 1),
            channel: None,
            team: None,
            agent,
            tag: None,
            now: span(conversations * 2),
            missed_after: Duration::from_secs(1800),
            time_zone: None,
        };
        let metrics = || async { store.metrics(&tenant, &q).await.map_err(|e| e.to_string()) };
        let (samples, r) = seven(metrics).await?;
        print_report(name, r.opened, &samples);
    }
    // The live snapshot: every active conversation of the tenant.
    let q = inbox_core::metrics::LiveQuery::at(span(conversations * 2));
    let live = || async {
        store
            .live_snapshot(&tenant, &q)
            .await
            .map_err(|e| e.to_string())
    };
    let (samples, s) = seven(live).await?;
    print_report("live snapshot (active conversations)", s.active, &samples);
    Ok(())
}

async fn run() -> Result<(), String> {
    let args = parse()?;
    let url = inbox_benches::kept_database(&args.url, "inbox_bench_list").await?;
    let store = PgStore::connect(&url, 8).await.map_err(|e| e.to_string())?;
    store.migrate().await.map_err(|e| e.to_string())?;
    seed(&store, args.conversations, args.messages).await?;
    let inbox = inbox_on(Arc::new(store));
    let tenant = TenantId::new("bench").map_err(|e| e.to_string())?;
    let agent = AgentId::new("agent7").map_err(|e| e.to_string())?;
    let supervisor = AgentId::new("agent0").map_err(|e| e.to_string())?;
    let who = Who {
        agent: Actor::new(tenant.clone(), agent),
        supervisor: Actor::new(tenant, supervisor),
    };
    let worst_p99 = list_views(&inbox, &who, args.queries).await?;
    let worst_search = searches(&inbox, &who, args.queries).await?;
    println!(
        "search conversations={} messages={} page=50 worst_p99_ms={:.2}",
        args.conversations,
        args.messages,
        ms(worst_search)
    );
    reports(inbox.ports().store.as_ref(), args.conversations).await?;
    println!(
        "list conversations={} messages={} page=50 worst_p99_ms={:.2}",
        args.conversations,
        args.messages,
        ms(worst_p99)
    );
    Ok(())
}
