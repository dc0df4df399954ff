//! The HTTP path (issue 28, goal 4): signed webhooks of the ingest mix
//! `POST`ed over loopback to the real example server (its binary, on
//! PostgreSQL) at rising rates; the figure is the highest rate held with
//! the acknowledgement's p99 within 250 ms, and its ratio to the
//! in-process ingest bench (`ingest --store postgres`) run in the same
//! run on the same server.
//!
//! ```text
//! cargo build --release -p inbox-examples --example server
//! cargo build --release -p inbox-benches --bin http --bin ingest
//! target/release/http [--database-url URL] [--rates 1000,2000,3000,3500,4000,5000,6000,8000,10000,12000] \
//!     [--step-seconds 10] [--connections 512] [--ingest-messages 50000] \
//!     [--server target/release/examples/server] [--ingest target/release/ingest] [--keep-database]
//! ```
//!
//! Each step posts `rate × step-seconds` webhooks on an open loop:
//! webhook `j` of the step is due at `j / rate` from the step's start and
//! is sent then by the first of `--connections` keep-alive connections
//! free, so its latency (due to answered) counts any wait for a
//! connection. A step is held when every answer is `200`, the p99 is at
//! most 250 ms and the webhooks were answered at 95% of the rate or more.
//! The server is settled (`ANALYZE`, `CHECKPOINT`) between steps; the
//! run stops at the first step not held.
//!
//! The mix is the ingest bench's (every 10th a redelivery, a quarter
//! status batches of three), and as there the outbound messages the
//! statuses report on are stored first (through an inbox in this process
//! on the server's database), so every status is applied. The server
//! provisions the bench's tenant and number from a configuration file the
//! bench writes.
//!
//! The last line is
//! `http events_per_s=<X> ack_p99_ms=<Y> in_process_per_s=<Z> ratio=<X/Z>`
//! (webhooks a second, as the ingest bench's `msgs_per_s`).

use std::io::BufRead;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use inbox_benches::loopback::Poster;
use inbox_benches::{
    exit_on_error, flags, fresh_database, inbox_on, is_status_body, ms, number, percentile,
    settle_and_say, webhook_body, PHONE_NUMBER_ID,
};
use inbox_core::{AgentId, Inbox, TenantId};
use inbox_store_postgres::PgStore;
use inbox_whatsapp::{sign, Secret, Webhook, WebhookConfig};

/// The number's app secret.
const APP_SECRET: &str = "http-bench-secret";
/// The agents' password hash (the demo configuration's, of "ana").
const HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$WYemYPNJRdpHQnm/+6/w8g$Rg4HvpUvLX6H8oI4Jo/Dha8BOqNoTQmfY3TQAEEBA8c";
/// The acknowledgement's p99 a held rate keeps.
const P99_GOAL: Duration = Duration::from_millis(250);

struct Args {
    url: Option<String>,
    server: std::path::PathBuf,
    ingest: std::path::PathBuf,
    rates: Vec<u64>,
    step_seconds: u64,
    connections: usize,
    ingest_messages: u64,
    keep: bool,
}

fn sibling(path: &str) -> std::path::PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(|d| d.join(path)))
        .unwrap_or_else(|| path.into())
}

fn parse() -> Result<Args, String> {
    let mut a = Args {
        url: std::env::var("DATABASE_URL").ok(),
        server: sibling("examples/server"),
        ingest: sibling("ingest"),
        // Up to past the in-process rate's 0.8 on a quiet machine.
        rates: vec![1000, 2000, 3000, 3500, 4000, 5000, 6000, 8000, 10000, 12000],
        step_seconds: 10,
        connections: 512,
        ingest_messages: 50_000,
        keep: false,
    };
    flags(|k, v| {
        match k {
            "--database-url" => a.url = Some(v()?),
            "--server" => a.server = v()?.into(),
            "--ingest" => a.ingest = v()?.into(),
            "--rates" => {
                a.rates = v()?
                    .split(',')
                    .map(|r| number(k, r.trim().to_string()))
                    .collect::<Result<_, _>>()?
            }
            "--step-seconds" => a.step_seconds = number(k, v()?)?,
            "--connections" => a.connections = number(k, v()?)?,
            "--ingest-messages" => a.ingest_messages = number(k, v()?)?,
            "--keep-database" => a.keep = true,
            other => return Err(format!("unknown argument {other}")),
        }
        Ok(())
    })?;
    if a.rates.is_empty() || a.rates.contains(&0) || a.step_seconds == 0 || a.connections == 0 {
        return Err("--rates, --step-seconds and --connections must be positive".into());
    }
    a.url
        .as_ref()
        .ok_or("--database-url (or DATABASE_URL) is needed")?;
    Ok(a)
}

#[tokio::main]
async fn main() {
    exit_on_error("http", run().await);
}

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// Body `i` of the run: every 10th is a redelivery of an earlier one (as
/// in the ingest bench).
fn body_index(i: u64) -> u64 {
    if i % 10 == 9 {
        i / 2
    } else {
        i
    }
}

/// The in-process ingest bench on the same server: its `msgs_per_s`.
fn in_process(a: &Args, url: &str) -> Result<f64, String> {
    let out = std::process::Command::new(&a.ingest)
        .args([
            "--store",
            "postgres",
            "--messages",
            &a.ingest_messages.to_string(),
            "--concurrency",
            "256",
            "--database-url",
            url,
        ])
        .stderr(std::process::Stdio::inherit())
        .output()
        .map_err(|e| format!("{}: {e}", a.ingest.display()))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    print!("{stdout}");
    let last = stdout.lines().last().unwrap_or_default();
    last.split_whitespace()
        .find_map(|kv| kv.strip_prefix("msgs_per_s="))
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| format!("the ingest bench said: {last}"))
}

/// The example server's configuration: the bench's tenant, its number and
/// a team of ten agents (as the ingest bench provisions).
fn config() -> String {
    let mut yaml = format!(
        "tenant: {{ id: bench, name: Bench }}\nchannels:\n  - id: main\n    phone_number_id: \"{PHONE_NUMBER_ID}\"\n    display_number: \"+1 555 0100\"\n    verify_token: verify\n    app_secret: {APP_SECRET}\nteams:\n  - {{ id: support, name: Support }}\nagents:\n"
    );
    for i in 0..10 {
        yaml.push_str(&format!(
            "  - {{ id: agent{i}, name: Agent {i}, role: agent, teams: [support], password_hash: \"{HASH}\" }}\n"
        ));
    }
    yaml
}

/// The example server on `db`, listening on a free loopback port: the
/// process and its `host:port`.
fn start_server(a: &Args, db: &str) -> Result<(std::process::Child, String), String> {
    let path = std::env::temp_dir().join(format!("http-bench-{}.yaml", std::process::id()));
    std::fs::write(&path, config()).map_err(err)?;
    let mut child = std::process::Command::new(&a.server)
        .arg("--config")
        .arg(&path)
        .args(["--listen", "127.0.0.1:0", "--database-url", db])
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("{}: {e}", a.server.display()))?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut lines = std::io::BufReader::new(stdout).lines();
    let addr = loop {
        let line = lines
            .next()
            .ok_or("the server stopped before listening")?
            .map_err(err)?;
        if let Some(rest) = line.strip_prefix("inbox on http://") {
            break rest.split('/').next().unwrap_or_default().to_string();
        }
    };
    // Keep reading what it prints, so it never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Ok((child, addr))
}

/// Stores the outbound messages the status webhooks among the first
/// `bodies` report on, each in its recipient's conversation (opened by a
/// message of theirs), through an inbox on the server's database.
async fn seed(db: &str, bodies: u64, start: u64) -> Result<usize, String> {
    use inbox_benches::{accepted_reply, open_conversation};
    use inbox_core::ports::{Changeset, Conversations};
    use std::collections::BTreeMap;
    let pg = PgStore::connect(db, 8).await.map_err(err)?;
    let inbox: Inbox = inbox_on(Arc::new(pg.clone()));
    let secret = Secret::new(APP_SECRET);
    let hook = Webhook::new(WebhookConfig::for_numbers(
        "verify",
        APP_SECRET,
        [PHONE_NUMBER_ID],
    ));
    let tenant = TenantId::new("bench").map_err(err)?;
    let agent = AgentId::new("agent0").map_err(err)?;
    let mut by_recipient: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
    for i in (0..bodies).map(body_index).filter(|i| is_status_body(*i)) {
        by_recipient.entry(i % 5_000).or_default().push(i);
    }
    let now = Utc::now();
    let mut stored = 0;
    for (k, mut ids) in by_recipient {
        ids.sort_unstable();
        ids.dedup();
        let conversation = open_conversation(&inbox, &hook, &secret, k, start).await?;
        let mut changes = Changeset::new(tenant.clone());
        for i in ids {
            changes
                .messages
                .push(accepted_reply(&tenant, i, &conversation, &agent, now)?);
            stored += 1;
        }
        pg.commit(changes).await.map_err(err)?;
    }
    pg.pool().close().await;
    Ok(stored)
}

/// One step's outcome.
struct Step {
    rate: u64,
    answered: usize,
    failed: usize,
    /// Webhooks answered a second (over the step, first due to last
    /// answer).
    achieved: f64,
    p50: Duration,
    p99: Duration,
    max: Duration,
}

impl Step {
    fn held(&self) -> bool {
        self.failed == 0 && self.p99 <= P99_GOAL && self.achieved >= 0.95 * self.rate as f64
    }
}

/// Posts webhooks `first..first + rate × seconds` on an open loop at
/// `rate` a second.
async fn step(
    addr: &str,
    bodies: &Arc<Vec<(String, Vec<u8>)>>,
    first: usize,
    rate: u64,
    seconds: u64,
    connections: usize,
) -> Result<Step, String> {
    let n = (rate * seconds) as usize;
    let next = Arc::new(AtomicUsize::new(0));
    let began = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..connections.min(n) {
        let (bodies, next, addr) = (bodies.clone(), next.clone(), addr.to_string());
        tasks.push(tokio::spawn(async move {
            let mut poster = Poster::new(&addr);
            let mut out: Vec<(Duration, bool, Instant)> = Vec::new();
            loop {
                let k = next.fetch_add(1, Ordering::Relaxed);
                if k >= n {
                    return out;
                }
                let Some((sig, body)) = bodies.get(first + k) else {
                    return out;
                };
                let due = began + Duration::from_secs_f64(k as f64 / rate as f64);
                tokio::time::sleep_until(due.into()).await;
                let headers = [("X-Hub-Signature-256", sig.as_str())];
                let ok = matches!(
                    poster.post("/webhooks/whatsapp/main", &headers, body).await,
                    Ok(200)
                );
                let at = Instant::now();
                out.push((at - due, ok, at));
            }
        }));
    }
    let mut latencies = Vec::with_capacity(n);
    let (mut failed, mut last) = (0, began);
    for t in tasks {
        for (latency, ok, at) in t.await.map_err(err)? {
            latencies.push(latency);
            failed += usize::from(!ok);
            last = last.max(at);
        }
    }
    latencies.sort();
    Ok(Step {
        rate,
        answered: latencies.len(),
        failed,
        achieved: latencies.len() as f64 / (last - began).as_secs_f64().max(1e-9),
        p50: percentile(&latencies, 50.0),
        p99: percentile(&latencies, 99.0),
        max: percentile(&latencies, 100.0),
    })
}

async fn run() -> Result<(), String> {
    let a = parse()?;
    let url = a.url.clone().unwrap_or_default();
    eprintln!("in-process ingest bench: {}", a.ingest.display());
    let in_process = in_process(&a, &url)?;

    let db = fresh_database(&url, "inbox_bench_http").await?;
    let total: u64 = a.rates.iter().map(|r| r * a.step_seconds).sum();
    let now = u64::try_from(Utc::now().timestamp()).map_err(err)?;
    let start = now.saturating_sub(total / 20 + 1);
    let (mut server, addr) = start_server(&a, &db)?;
    let result = async {
        let seeded = seed(&db, total, start).await?;
        let secret = Secret::new(APP_SECRET);
        let bodies: Arc<Vec<(String, Vec<u8>)>> = Arc::new(
            (0..total)
                .map(|i| {
                    let b = webhook_body(body_index(i), start);
                    (sign(&secret, &b), b)
                })
                .collect(),
        );
        eprintln!("server on {addr}; {seeded} outbound messages stored for the statuses; {total} webhooks");
        let mut first = 0usize;
        let mut best: Option<Step> = None;
        for &rate in &a.rates {
            settle_and_say(&db, false).await;
            let s = step(&addr, &bodies, first, rate, a.step_seconds, a.connections).await?;
            first += (rate * a.step_seconds) as usize;
            println!(
                "rate {rate}/s: {} answered ({} not 200) at {:.0}/s; ack p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms: {}",
                s.answered,
                s.failed,
                s.achieved,
                ms(s.p50),
                ms(s.p99),
                ms(s.max),
                if s.held() { "held" } else { "not held" }
            );
            if !s.held() {
                break;
            }
            best = Some(s);
        }
        Ok::<_, String>(best)
    }
    .await;
    let _ = server.kill();
    let _ = server.wait();
    if !a.keep {
        inbox_benches::drop_database(&url, &db).await;
    }
    let best = result?;
    let (x, y) = best.map(|s| (s.achieved, ms(s.p99))).unwrap_or((0.0, 0.0));
    println!(
        "http events_per_s={x:.0} ack_p99_ms={y:.1} in_process_per_s={in_process:.0} ratio={:.2}",
        x / in_process.max(1e-9)
    );
    Ok(())
}
