//! Reports (`Reports::metrics`) over random ranges and filters on a large
//! PostgreSQL data set.
//!
//! Seeds (once per size; database `inbox_bench_reports_<N>`) the `list`
//! bench's data set (`inbox_benches::seed`) with its conversations opened
//! over a year instead of 1 ms apart (a month's report then reads a
//! twelfth of them, as in a real inbox), N conversations and 10 × N
//! messages, then asks `--queries` reports of seeded random ranges (an
//! hour to the whole year, their lengths spread evenly on a log scale) and
//! filters (none, a number, a team, an agent, a tag, a team and an
//! agent), each answer timed.
//!
//! ```text
//! cargo run --release -p inbox-benches --bin reports -- --database-url URL \
//!     [--conversations 1000000] [--queries 60] [--each]
//! ```
//!
//! `--each` prints every query as it is answered (its filter, range,
//! conversations counted and time), to find the slow ones.
//!
//! The last line: `reports conversations=<N> p50_ms=<X> p99_ms=<Y>` over
//! every query.

use std::time::{Duration, Instant};

use inbox_benches::{exit_on_error, flags, ms, number, percentile, seed};
use inbox_core::metrics::MetricsQuery;
use inbox_core::ports::Reports;
use inbox_core::testing::Seeded;
use inbox_core::{AgentId, ChannelId, TeamId, TenantId};
use inbox_store_postgres::PgStore;

/// A year, in microseconds: the span the conversations are opened over.
const YEAR_US: i64 = 365 * 86_400 * 1_000_000;

struct Args {
    url: String,
    conversations: i64,
    queries: usize,
    /// Print each query: filter, range, conversations counted, time.
    each: bool,
}

fn parse() -> Result<Args, String> {
    let mut a = Args {
        url: std::env::var("DATABASE_URL").unwrap_or_default(),
        conversations: 1_000_000,
        queries: 60,
        each: false,
    };
    flags(|k, v| {
        match k {
            "--database-url" => a.url = v()?,
            "--conversations" => a.conversations = number(k, v()?)?,
            "--queries" => a.queries = number(k, v()?)?,
            "--each" => a.each = true,
            other => return Err(format!("unknown argument {other}")),
        }
        Ok(())
    })?;
    if a.url.is_empty() {
        return Err("needs --database-url (or DATABASE_URL)".into());
    }
    Ok(a)
}

/// Seeds the data set unless it is there.
async fn seed(store: &PgStore, n: i64) -> Result<(), String> {
    let mut steps = seed::conversation_steps(n, YEAR_US / n);
    steps.push(seed::message_step(n, 10 * n));
    steps.extend(seed::finish_steps());
    steps.push("VACUUM ANALYZE".into());
    seed::seed_once(store, n, steps).await
}

/// The filters a report may carry, by name.
const FILTERS: [&str; 6] = ["none", "number", "team", "agent", "tag", "team and agent"];

/// A random query: its filter's name and the query.
fn random_query(dice: &mut Seeded, n: i64) -> Result<(&'static str, MetricsQuery), String> {
    let start = chrono::DateTime::from_timestamp_micros(seed::START_US).ok_or("bad start")?;
    let at = |us: i64| start + chrono::TimeDelta::microseconds(us);
    // An hour to the year, evenly on a log scale.
    let hour = 3_600_000_000f64;
    let ratio = (YEAR_US as f64 / hour).ln();
    let length = (hour * (ratio * dice.below(1000) as f64 / 999.0).exp()) as i64;
    let from = dice.below((YEAR_US - length).max(1) as u64) as i64;
    let kind = FILTERS[dice.below(FILTERS.len() as u64) as usize];
    let team = || TeamId::new(format!("team{}", dice_free(from, seed::TEAMS)));
    let agent = || AgentId::new(format!("agent{}", dice_free(from, seed::AGENTS)));
    let e = |e: inbox_core::Error| e.to_string();
    let mut q = MetricsQuery {
        from: at(from),
        to: at(from + length),
        channel: None,
        team: None,
        agent: None,
        tag: None,
        now: at(seed::now_us(n, YEAR_US / n) - seed::START_US),
        missed_after: Duration::from_secs(1800),
        // Days and hours in a manager's zone, not UTC.
        time_zone: Some(chrono_tz::Tz::Europe__Madrid),
    };
    match kind {
        "number" => q.channel = Some(ChannelId::new("main").map_err(e)?),
        "team" => q.team = Some(team().map_err(e)?),
        "agent" => q.agent = Some(agent().map_err(e)?),
        "tag" => q.tag = Some("vip".into()),
        "team and agent" => {
            q.team = Some(team().map_err(e)?);
            q.agent = Some(agent().map_err(e)?);
        }
        _ => {}
    }
    Ok((kind, q))
}

/// A number below `n` picked from `seed` (teams and agents of a query).
fn dice_free(seed: i64, n: i64) -> i64 {
    (seed / 7919).rem_euclid(n)
}

async fn run() -> Result<(), String> {
    let args = parse()?;
    let n = args.conversations;
    let name = format!("inbox_bench_reports_{n}");
    let url = inbox_benches::kept_database(&args.url, &name).await?;
    let store = PgStore::connect(&url, 8).await.map_err(|e| e.to_string())?;
    store.migrate().await.map_err(|e| e.to_string())?;
    seed(&store, n).await?;
    let tenant = TenantId::new("bench").map_err(|e| e.to_string())?;
    // The rollups of a fresh seed are built once, before the timed reports.
    let t = Instant::now();
    store
        .refresh_reports(&tenant)
        .await
        .map_err(|e| e.to_string())?;
    eprintln!("report rollups up to date in {:.1?}", t.elapsed());
    // A first refresh of a fresh seed builds every rollup and deletes the
    // million marks it read: autovacuum clears those dead rows on a
    // server with it on (this machine has it off), or every report's
    // check for marks scans them (about 3.5 ms a report at 1,000,000).
    sqlx::query("VACUUM ANALYZE inbox_report_dirty")
        .execute(store.pool())
        .await
        .map_err(|e| e.to_string())?;
    let mut dice = Seeded::new(0x2545_F491_4F6C_DD1D);
    let mut all = Vec::new();
    let mut by_filter: Vec<(&str, Vec<Duration>)> = FILTERS.iter().map(|f| (*f, vec![])).collect();
    let mut opened = 0u64;
    for _ in 0..args.queries {
        let (kind, q) = random_query(&mut dice, n)?;
        let t = Instant::now();
        let report = store
            .metrics(&tenant, &q)
            .await
            .map_err(|e| e.to_string())?;
        let took = t.elapsed();
        opened = opened.max(report.opened);
        if args.each {
            let hours = (q.to - q.from).num_minutes() as f64 / 60.0;
            eprintln!(
                "query {kind}: {hours:.1} h from {}, {} conversations, {:.1} ms",
                q.from.format("%Y-%m-%d %H:%M"),
                report.opened,
                ms(took)
            );
        }
        all.push(took);
        if let Some((_, v)) = by_filter.iter_mut().find(|(f, _)| *f == kind) {
            v.push(took);
        }
    }
    println!("| filter | queries | p50 | p99 |");
    println!("|---|---|---|---|");
    for (kind, mut times) in by_filter {
        times.sort();
        let (p50, p99) = (ms(percentile(&times, 50.0)), ms(percentile(&times, 99.0)));
        println!("| {kind} | {} | {p50:.1} ms | {p99:.1} ms |", times.len());
    }
    all.sort();
    eprintln!("largest report counted {opened} conversations");
    let (p50, p99) = (ms(percentile(&all, 50.0)), ms(percentile(&all, 99.0)));
    println!("reports conversations={n} p50_ms={p50:.1} p99_ms={p99:.1}");
    Ok(())
}

#[tokio::main]
async fn main() {
    exit_on_error("reports", run().await);
}
