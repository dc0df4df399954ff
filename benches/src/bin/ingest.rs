//! Ingest load: N signed webhook bodies (a realistic mix with redeliveries
//! and status updates) through verify, decode and `Inbox` ingest, at a given
//! concurrency; and, in the same run, a raw baseline on the same database:
//! one plain INSERT of an equivalent message row per transaction, same
//! concurrency.
//!
//! ```text
//! cargo run --release -p inbox-benches --bin ingest -- --store memory|postgres \
//!     [--database-url URL] [--messages N] [--concurrency C] \
//!     [--committers K] [--max-batch B] [--readers R] [--setup-sql SQL] \
//!     [--unknown-statuses] [--custom-plans] [--rounds R] [--connections N]
//! ```
//!
//! `--rounds R` (default 1) alternates the two phases: the webhooks are cut
//! into R slices, and each slice's baseline rows (as many) are inserted
//! right after that slice is ingested, both from a settled server; the
//! rates are over the summed times. Both phases then see the same moments
//! of a machine whose speed drifts, so the ratio varies less between runs.
//! The baseline then runs on the store's pool (PostgreSQL store) instead of
//! a pool of its own.
//!
//! Before the measured phase the outbound messages the status webhooks
//! report on are stored, so every status is applied (`seed_outbound`);
//! `--unknown-statuses` leaves them out (the statuses then name unknown
//! messages and only their lookup is measured, the mix before 2026-11-25).
//!
//! `--committers`, `--max-batch` and `--readers` set the PostgreSQL store's
//! [`GroupCommit`] (its defaults otherwise); `--custom-plans` keeps its
//! statements planned per execution (`GroupCommit::generic_plans` off). `--setup-sql` runs SQL on the
//! fresh ingest database after the migrations, for experiments (for
//! example `--setup-sql "DROP INDEX inbox_conversations_oldest"`); the
//! recorded figures are measured without it.
//!
//! Before each measured phase the server is settled
//! ([`inbox_benches::settle`]): an `ANALYZE` and a `CHECKPOINT` before the
//! ingest (with statistics, the store's group commit uses generic plans,
//! as in a running deployment; see `PgStore::uses_generic_plans`); a
//! `VACUUM ANALYZE` of what the ingest left and a `CHECKPOINT` before the
//! baseline; and no autovacuum worker running. So neither phase pays for
//! the other.
//!
//! On Linux it also prints the machine's busy and idle CPU time per
//! webhook during the ingest (from `/proc/stat`; everything running on the
//! machine, PostgreSQL included): a second measure beside throughput.
//!
//! Two builds can be compared at the same moments of a machine whose speed
//! drifts by running them at once, each on its own database:
//! `--start-file PATH` waits, once everything is seeded and settled, until
//! `PATH` exists (so two runs start their measured phase together), and
//! `--seconds S` stops taking webhooks after `S` seconds (so neither runs
//! alone at the end); the rate is then over the webhooks done, and the
//! baseline is skipped (reported as 0). `benches/ab.sh` drives such a
//! comparison. The recorded figures are single runs without these flags.
//! `--connections N` sizes the PostgreSQL store's pool (default: the
//! senders, between 4 and 64); two runs at once must fit their pools, and
//! each store's group-commit connections, in the server's
//! `max_connections`.
//!
//! The last line of output is
//! `ingest store=<s> messages=<N> msgs_per_s=<X> baseline_rows_per_s=<Y> ratio=<X/Y>`.

use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use inbox_benches::{
    exit_on_error, flags, fresh_database, inbox_on, is_status_body, number, settle_and_say,
    webhook_body, PHONE_NUMBER_ID,
};
use inbox_core::model::{Agent, Channel, Role, Team, Tenant};
use inbox_core::ports::Store;
use inbox_core::{AgentId, ChannelId, Inbox, TeamId, TenantId};
use inbox_store_memory::MemoryStore;
use inbox_store_postgres::{GroupCommit, PgStore};
use inbox_whatsapp::{sign, IngestSummary, Secret, Webhook, WebhookConfig};
use sqlx::PgPool;

struct Args {
    store: String,
    url: Option<String>,
    messages: usize,
    concurrency: usize,
    group_commit: GroupCommit,
    setup_sql: Option<String>,
    unknown_statuses: bool,
    rounds: usize,
    start_file: Option<String>,
    seconds: Option<f64>,
    connections: Option<u32>,
}

fn parse() -> Result<Args, String> {
    let mut a = Args {
        store: "memory".into(),
        url: std::env::var("DATABASE_URL").ok(),
        messages: 20_000,
        concurrency: 32,
        group_commit: GroupCommit::default(),
        setup_sql: None,
        unknown_statuses: false,
        rounds: 1,
        start_file: None,
        seconds: None,
        connections: None,
    };
    flags(|k, v| {
        match k {
            "--store" => a.store = v()?,
            "--database-url" => a.url = Some(v()?),
            "--messages" => a.messages = number(k, v()?)?,
            "--concurrency" => a.concurrency = number(k, v()?)?,
            "--committers" => a.group_commit.committers = number(k, v()?)?,
            "--max-batch" => a.group_commit.max_batch = number(k, v()?)?,
            "--readers" => a.group_commit.readers = number(k, v()?)?,
            "--setup-sql" => a.setup_sql = Some(v()?),
            "--custom-plans" => a.group_commit.generic_plans = false,
            "--unknown-statuses" => a.unknown_statuses = true,
            "--rounds" => a.rounds = number(k, v()?)?,
            "--start-file" => a.start_file = Some(v()?),
            "--connections" => {
                let n: u32 = number(k, v()?)?;
                if n == 0 {
                    return Err("--connections must be at least 1".into());
                }
                a.connections = Some(n)
            }
            "--seconds" => {
                let secs: f64 = number(k, v()?)?;
                if !(secs.is_finite() && secs > 0.0) {
                    return Err("--seconds must be a positive number".into());
                }
                a.seconds = Some(secs)
            }
            other => return Err(format!("unknown argument {other}")),
        }
        Ok(())
    })?;
    if !matches!(a.store.as_str(), "memory" | "postgres") {
        return Err("--store must be memory or postgres".into());
    }
    if a.store == "postgres" && a.url.is_none() {
        return Err("--store postgres needs --database-url (or DATABASE_URL)".into());
    }
    a.concurrency = a.concurrency.max(1);
    a.rounds = a.rounds.clamp(1, a.messages.max(1));
    if a.seconds.is_some() && a.rounds > 1 {
        return Err("--seconds and --rounds do not go together".into());
    }
    Ok(a)
}

/// The bench's tenant: number [`PHONE_NUMBER_ID`] and a support team of
/// ten agents.
async fn provision(inbox: &Inbox) -> inbox_core::Result<()> {
    let t = TenantId::new("bench")?;
    let support = TeamId::new("support")?;
    let number = Channel::new(
        t.clone(),
        ChannelId::new("main")?,
        PHONE_NUMBER_ID,
        "+1 555 0100",
    );
    let team = Team::new(t.clone(), support.clone(), "Support");
    inbox
        .provision_tenant(&Tenant::new(t.clone(), "Bench"))
        .await?;
    inbox.provision_channel(&number).await?;
    inbox.provision_team(&team).await?;
    for i in 0..10 {
        let id = AgentId::new(format!("agent{i}"))?;
        let a =
            Agent::new(t.clone(), id, format!("Agent {i}"), Role::Agent).in_team(support.clone());
        inbox.provision_agent(&a).await?;
    }
    Ok(())
}

/// Stores, before the measured phase, the outbound messages the run's
/// status webhooks report on (as the dispatcher leaves them: accepted by
/// the provider, its id recorded), each in its recipient's conversation,
/// so every status is applied (sent, delivered, read: three updates, three
/// events) as in production. The recipients are the customers who only
/// ever receive statuses in the mix (`i % 20 >= 15`, so `i % 5000` too),
/// so the measured inbound traffic is the same as without them. Returns
/// how many it stored.
async fn seed_outbound(
    inbox: &Inbox,
    hook: &Webhook,
    store: &dyn Store,
    secret: &Secret,
    messages: usize,
    start: u64,
) -> Result<usize, String> {
    use inbox_benches::{accepted_reply, open_conversation};
    use inbox_core::ports::Changeset;
    use std::collections::BTreeMap;
    let tenant = TenantId::new("bench").map_err(|e| e.to_string())?;
    let agent = AgentId::new("agent0").map_err(|e| e.to_string())?;
    let mut by_recipient: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
    for i in (0..messages as u64).filter(|i| is_status_body(*i)) {
        by_recipient.entry(i % 5_000).or_default().push(i);
    }
    let now = Utc::now();
    let mut stored = 0;
    for (k, ids) in by_recipient {
        // The recipient's conversation: opened by a message of theirs.
        let conversation = open_conversation(inbox, hook, secret, k, start).await?;
        let mut changes = Changeset::new(tenant.clone());
        for i in ids {
            changes
                .messages
                .push(accepted_reply(&tenant, i, &conversation, &agent, now)?);
            stored += 1;
        }
        store.commit(changes).await.map_err(|e| e.to_string())?;
    }
    Ok(stored)
}

/// The machine's busy and idle time so far, in clock ticks of 10 ms (the
/// first line of Linux's `/proc/stat`; idle includes waiting for IO).
/// `None` elsewhere. CPU time per webhook is a second measure beside
/// throughput, for comparing runs on a machine whose speed varies.
fn machine_cpu() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let ticks: Vec<u64> = stat
        .lines()
        .next()?
        .split_whitespace()
        .skip(1)
        // user nice system idle iowait irq softirq steal (guest time is
        // counted in user already)
        .take(8)
        .map(|t| t.parse().ok())
        .collect::<Option<_>>()?;
    let idle = ticks.get(3)? + ticks.get(4)?;
    Some((ticks.iter().sum::<u64>() - idle, idle))
}

/// Body `i` of the run: every 10th is a redelivery of an earlier one.
fn body_index(i: usize) -> u64 {
    if i % 10 == 9 {
        (i / 2) as u64
    } else {
        i as u64
    }
}

/// A pool for the baseline: as many connections as senders, at most 64.
async fn baseline_pool(url: &str, concurrency: usize) -> Result<PgPool, String> {
    sqlx::postgres::PgPoolOptions::new()
        .max_connections((concurrency as u32).min(64))
        .connect(url)
        .await
        .map_err(|e| e.to_string())
}

/// The baseline's table, empty, and the message document its rows carry.
async fn baseline_table(pool: &PgPool) -> Result<Arc<serde_json::Value>, String> {
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS bench_baseline (tenant_id text NOT NULL, message_id text NOT NULL, \
         conversation_id text NOT NULL, channel_id text NOT NULL, external_id text, data jsonb NOT NULL, \
         PRIMARY KEY (tenant_id, message_id))",
    )
    .execute(pool)
    .await
    .map_err(|e| e.to_string())?;
    sqlx::query("TRUNCATE bench_baseline")
        .execute(pool)
        .await
        .map_err(|e| e.to_string())?;
    let data: serde_json::Value =
        serde_json::from_slice(&webhook_body(0, inbox_benches::FIXED_TIME))
            .map_err(|e| e.to_string())?;
    Ok(Arc::new(
        data["entry"][0]["changes"][0]["value"]["messages"][0].clone(),
    ))
}

/// Rows `range` of the baseline, one `INSERT` transaction each, by
/// `concurrency` senders; returns how long they took.
async fn baseline_range(
    pool: &PgPool,
    range: Range<usize>,
    concurrency: usize,
    data: &Arc<serde_json::Value>,
) -> Result<Duration, String> {
    let next = Arc::new(AtomicUsize::new(range.start));
    let end = range.end;
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let pool = pool.clone();
        let next = next.clone();
        let data = data.clone();
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= end {
                    return Ok::<(), String>(());
                }
                sqlx::query(
                    "INSERT INTO bench_baseline (tenant_id, message_id, conversation_id, channel_id, external_id, data) \
                     VALUES ('bench', $1, $2, 'main', $3, $4)",
                )
                .bind(format!("msg_{i}"))
                .bind(format!("conv_{}", i % 5000))
                .bind(format!("wamid.{i}"))
                .bind(&*data)
                .execute(&pool)
                .await
                .map_err(|e| e.to_string())?;
            }
        }));
    }
    for t in tasks {
        t.await.map_err(|e| e.to_string())??;
    }
    Ok(start.elapsed())
}

/// Webhooks `range` of `bodies`, by `concurrency` senders; returns what
/// they did, how long they took and the machine's CPU time meanwhile.
async fn ingest_range(
    inbox: &Inbox,
    hook: &Arc<Webhook>,
    bodies: &Arc<Vec<(String, Vec<u8>)>>,
    range: Range<usize>,
    concurrency: usize,
    seconds: Option<f64>,
) -> Result<(IngestSummary, Duration, Option<(u64, u64)>, usize), String> {
    let next = Arc::new(AtomicUsize::new(range.start));
    let done = Arc::new(AtomicUsize::new(0));
    let end = range.end;
    let cpu_before = machine_cpu();
    let start = Instant::now();
    let deadline = seconds.map(|s| start + Duration::from_secs_f64(s));
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (inbox, hook, bodies, next, done) = (
            inbox.clone(),
            hook.clone(),
            bodies.clone(),
            next.clone(),
            done.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut totals = IngestSummary::default();
            loop {
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    return Ok::<_, String>(totals);
                }
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some((sig, body)) = bodies.get(i).filter(|_| i < end) else {
                    return Ok::<_, String>(totals);
                };
                // Meta retries what was not acknowledged; so does the bench.
                let mut tries = 0;
                let s = loop {
                    tries += 1;
                    match hook.receive(&inbox, Some(sig), body, Utc::now()).await {
                        Ok(s) => break s,
                        Err(e) if tries < 5 => eprintln!("retrying webhook {i}: {e}"),
                        Err(e) => return Err(format!("webhook {i}: {e}")),
                    }
                };
                add(&mut totals, &s);
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    let mut totals = IngestSummary::default();
    for t in tasks {
        add(&mut totals, &t.await.map_err(|e| e.to_string())??);
    }
    let elapsed = start.elapsed();
    let cpu = match (cpu_before, machine_cpu()) {
        (Some((b0, i0)), Some((b1, i1))) => Some((b1.saturating_sub(b0), i1.saturating_sub(i0))),
        _ => None,
    };
    Ok((totals, elapsed, cpu, done.load(Ordering::Relaxed)))
}

fn add(totals: &mut IngestSummary, s: &IngestSummary) {
    totals.stored += s.stored;
    totals.duplicates += s.duplicates;
    totals.statuses += s.statuses;
    totals.statuses_ignored += s.statuses_ignored;
}

/// Slice `r` of `rounds` of `0..n`.
fn slice(n: usize, rounds: usize, r: usize) -> Range<usize> {
    n * r / rounds..n * (r + 1) / rounds
}

#[tokio::main]
async fn main() {
    exit_on_error("ingest", run().await);
}

/// The store the run ingests into, and its database when it has one.
struct Target {
    store: Arc<dyn Store>,
    /// The PostgreSQL store, for its counters.
    pg: Option<PgStore>,
    /// The database's URL (PostgreSQL store).
    url: Option<String>,
}

/// A PostgreSQL store on a fresh database (with the run's group-commit
/// settings, pool size and `--setup-sql`), or a memory store.
async fn open_store(args: &Args) -> Result<Target, String> {
    if args.store != "postgres" {
        let store = Arc::new(MemoryStore::new());
        return Ok(Target {
            store,
            pg: None,
            url: None,
        });
    }
    let server = args.url.as_deref().unwrap_or_default();
    let url = fresh_database(server, "inbox_bench_ingest").await?;
    let connections = args
        .connections
        .unwrap_or((args.concurrency as u32).clamp(4, 64));
    let pg = PgStore::connect(&url, connections)
        .await
        .map_err(|e| e.to_string())?
        .with_group_commit(args.group_commit);
    if let Some(sql) = &args.setup_sql {
        sqlx::raw_sql(sql)
            .execute(pg.pool())
            .await
            .map_err(|e| format!("--setup-sql: {e}"))?;
    }
    Ok(Target {
        store: Arc::new(pg.clone()),
        pg: Some(pg),
        url: Some(url),
    })
}

/// The run's bodies, each with its signature. Their timestamps advance a
/// second every 20 bodies and end now, as for live traffic (the inbox
/// refuses a timestamp more than a day ahead of its clock, which a long
/// run starting now would reach); returns the first timestamp too.
fn signed_bodies(messages: usize, secret: &Secret) -> Result<(Bodies, u64), String> {
    let now = u64::try_from(Utc::now().timestamp()).map_err(|e| e.to_string())?;
    let start = now.saturating_sub(messages as u64 / 20 + 1);
    let bodies = (0..messages)
        .map(|i| {
            let b = webhook_body(body_index(i), start);
            (sign(secret, &b), b)
        })
        .collect();
    Ok((Arc::new(bodies), start))
}

/// Signed webhook bodies: (signature, body).
type Bodies = Arc<Vec<(String, Vec<u8>)>>;

/// Settles the server before the ingest and says which plans group commit
/// uses.
async fn settle_before_ingest(target: &Target) {
    let Some(url) = &target.url else { return };
    settle_and_say(url, false).await;
    if let Some(pg) = &target.pg {
        let plans = if pg.check_statistics().await {
            "generic (the tables have statistics)"
        } else {
            "custom (no statistics yet)"
        };
        eprintln!("group commit plans: {plans}");
    }
}

/// Waits until the file of `--start-file` exists.
async fn wait_for_start(args: &Args) {
    if let Some(path) = &args.start_file {
        eprintln!("waiting for {path}");
        while !std::path::Path::new(path).exists() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

/// What the measured phase did.
#[derive(Default)]
struct Measured {
    totals: IngestSummary,
    /// The webhooks taken (all, unless `--seconds` stopped the run).
    processed: usize,
    elapsed: Duration,
    /// Machine CPU time (busy, idle) during the ingest, where known.
    cpu: Option<(u64, u64)>,
    /// The baseline's time, when it ran slice by slice (`--rounds`).
    base_elapsed: Duration,
}

/// The baseline run slice by slice with the ingest (`--rounds`): its
/// database's URL, pool and row document.
type Interleaved = (String, PgPool, Arc<serde_json::Value>);

/// With rounds, the baseline of each slice runs right after the ingest of
/// that slice, on the store's own pool (as many connections as the
/// baseline's own pool would have; two pools would exceed PostgreSQL's 100
/// connections).
async fn interleaved_baseline(
    args: &Args,
    target: &Target,
    baseline_url: Option<&String>,
) -> Result<Option<Interleaved>, String> {
    let Some(u) = baseline_url.filter(|_| args.rounds > 1) else {
        return Ok(None);
    };
    let pool = match &target.pg {
        Some(pg) => pg.pool().clone(),
        None => baseline_pool(u, args.concurrency).await?,
    };
    let data = baseline_table(&pool).await?;
    Ok(Some((u.clone(), pool, data)))
}

/// The measured phase: every slice of the webhooks (one unless
/// `--rounds`), each from a settled server, each followed by its slice of
/// the baseline when interleaved.
async fn measure(
    args: &Args,
    target: &Target,
    (inbox, hook, bodies): (&Inbox, &Arc<Webhook>, &Bodies),
    interleaved: Option<&Interleaved>,
) -> Result<Measured, String> {
    let mut m = Measured {
        cpu: Some((0, 0)),
        ..Measured::default()
    };
    for r in 0..args.rounds {
        if let Some(url) = target.url.as_ref().filter(|_| r > 0) {
            settle_and_say(url, false).await;
        }
        let range = slice(args.messages, args.rounds, r);
        let c = args.concurrency;
        let (s, t, cpu, n) =
            ingest_range(inbox, hook, bodies, range.clone(), c, args.seconds).await?;
        m.processed += n;
        add(&mut m.totals, &s);
        m.elapsed += t;
        m.cpu = m.cpu.zip(cpu).map(|((b, i), (db, di))| (b + db, i + di));
        if let Some((u, pool, data)) = interleaved {
            settle_and_say(u, true).await;
            m.base_elapsed += baseline_range(pool, range, c, data).await?;
        }
    }
    Ok(m)
}

/// Prints what the ingest did and the machine's CPU time per webhook.
fn report(m: &Measured) {
    let t = &m.totals;
    eprintln!(
        "done in {:.2?}: {} webhooks, {} stored, {} duplicates, {} statuses applied ({} ignored: unknown messages, or nothing to change)",
        m.elapsed, m.processed, t.stored, t.duplicates, t.statuses, t.statuses_ignored
    );
    if let Some((busy, idle)) = m.cpu {
        let per = |ticks: u64| ticks as f64 * 10_000.0 / m.processed.max(1) as f64;
        eprintln!(
            "machine CPU during the ingest (/proc/stat, all cores, everything running): {:.0} µs busy and {:.0} µs idle per webhook",
            per(busy),
            per(idle)
        );
    }
}

/// Prints the PostgreSQL store's batching counters and closes it: its
/// connections go before the baseline opens as many again (PostgreSQL
/// allows 100 by default).
async fn report_and_close(pg: &PgStore) {
    let (single, fast, fallback, batched) = pg.group_commit_stats().snapshot();
    eprintln!("group commit: {single} single, {fast} fast batches, {fallback} fallback batches, {batched} changesets in batches");
    let (queries, lookups) = pg.read_batch_stats().snapshot();
    eprintln!("batched reads: {lookups} lookups in {queries} queries");
    let (batches, batched, redone) = pg.mutation_batch_stats().snapshot();
    eprintln!("batched status updates: {batched} in {batches} transactions ({redone} redone one at a time)");
    pg.close().await;
}

/// The baseline's rate in rows a second: from the interleaved slices, or
/// a run of its own after the ingest; 0 without a database or with
/// `--seconds`.
async fn baseline_rate(
    args: &Args,
    baseline_url: Option<&String>,
    interleaved: Option<Interleaved>,
    base_elapsed: Duration,
) -> Result<f64, String> {
    if args.seconds.is_some() {
        return Ok(0.0);
    }
    if let Some((_, pool, _)) = interleaved {
        pool.close().await;
        return Ok(args.messages as f64 / base_elapsed.as_secs_f64());
    }
    let Some(u) = baseline_url else {
        return Ok(0.0);
    };
    settle_and_say(u, true).await;
    eprintln!(
        "baseline: {} single-row INSERT transactions...",
        args.messages
    );
    let pool = baseline_pool(u, args.concurrency).await?;
    let data = baseline_table(&pool).await?;
    let t = baseline_range(&pool, 0..args.messages, args.concurrency, &data).await?;
    pool.close().await;
    Ok(args.messages as f64 / t.as_secs_f64())
}

async fn run() -> Result<(), String> {
    let args = parse()?;
    let secret = Secret::new("bench-app-secret");
    let target = open_store(&args).await?;
    let inbox = inbox_on(target.store.clone());
    provision(&inbox).await.map_err(|e| e.to_string())?;
    let (bodies, start) = signed_bodies(args.messages, &secret)?;
    let hook = Arc::new(Webhook::new(WebhookConfig::new("verify", secret.clone())));
    if !args.unknown_statuses {
        let store = &*target.store;
        let n = seed_outbound(&inbox, &hook, store, &secret, args.messages, start).await?;
        eprintln!("seeded {n} outbound messages for the status webhooks to report on");
    }
    settle_before_ingest(&target).await;
    // The baseline's database: the ingest's, or (memory store) a fresh one
    // on the server given, if one is.
    let baseline_url = match (&target.url, args.url.as_deref()) {
        (Some(u), _) => Some(u.clone()),
        (None, Some(u)) => Some(fresh_database(u, "inbox_bench_baseline").await?),
        (None, None) => None,
    };
    wait_for_start(&args).await;
    let rounds = if args.rounds > 1 {
        format!(", in {} rounds alternating with the baseline", args.rounds)
    } else {
        String::new()
    };
    eprintln!(
        "ingesting {} webhooks ({} store, concurrency {}{rounds})...",
        args.messages, args.store, args.concurrency
    );
    let interleaved = interleaved_baseline(&args, &target, baseline_url.as_ref()).await?;
    let phase = (&inbox, &hook, &bodies);
    let measured = measure(&args, &target, phase, interleaved.as_ref()).await?;
    let rate = measured.processed as f64 / measured.elapsed.as_secs_f64();
    report(&measured);
    if let Some(pg) = &target.pg {
        report_and_close(pg).await;
    }
    let base = baseline_rate(
        &args,
        baseline_url.as_ref(),
        interleaved,
        measured.base_elapsed,
    )
    .await?;
    let ratio = if base > 0.0 { rate / base } else { 0.0 };
    println!(
        "ingest store={} messages={} msgs_per_s={:.0} baseline_rows_per_s={:.0} ratio={:.2}",
        args.store, measured.processed, rate, base, ratio
    );
    Ok(())
}
