//! Password guessing against the example server: `--attempts` concurrent
//! sign-ins with wrong passwords, `--rounds` times; prints what they were
//! answered, how many passwords were checked a second and the server's
//! peak memory (VmHWM of /proc/<pid>/status).
//!
//! ```text
//! cargo run --example signin-load                     # a server in this process, default settings
//! cargo run --example signin-load -- --no-rate-limits # only the hash gate bounds the load
//! cargo run --example signin-load -- --unbounded      # no limits at all (the old behaviour)
//! cargo run --example signin-load -- --url http://127.0.0.1:8080 --pid <server pid>
//! ```
//!
//! In process, the figure includes this load client (a few MB); against
//! `--url`, `--pid` names the server process to read.

use std::time::{Duration, Instant};

use inbox_examples::server::config::ServerConfig;
use inbox_examples::server::launch::{Delivery, Launch, Running};
use inbox_http::settings::{quota, Settings};

struct Args {
    attempts: usize,
    rounds: usize,
    url: Option<String>,
    pid: Option<u32>,
    rate_limits: bool,
    bounded: bool,
}

fn parse() -> Result<Args, String> {
    let mut a = Args {
        attempts: 100,
        rounds: 3,
        url: None,
        pid: None,
        rate_limits: true,
        bounded: true,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let mut value = || it.next().ok_or(format!("{k} needs a value"));
        match k.as_str() {
            "--attempts" => a.attempts = value()?.parse().map_err(|e| format!("{k}: {e}"))?,
            "--rounds" => a.rounds = value()?.parse().map_err(|e| format!("{k}: {e}"))?,
            "--url" => a.url = Some(value()?),
            "--pid" => a.pid = Some(value()?.parse().map_err(|e| format!("{k}: {e}"))?),
            "--no-rate-limits" => a.rate_limits = false,
            "--unbounded" => (a.rate_limits, a.bounded) = (false, false),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(a)
}

/// The server's settings for this run.
fn settings(a: &Args) -> Settings {
    let mut s = Settings::default();
    if !a.rate_limits {
        let lots = u32::try_from(a.attempts * a.rounds * 10).unwrap_or(u32::MAX);
        s.sign_in.per_account = quota(lots, lots);
        s.sign_in.per_address = quota(lots, lots);
        s.sign_in.account_lockout.after_failures = u32::MAX;
        s.sign_in.address_lockout.after_failures = u32::MAX;
    }
    if !a.bounded {
        s.sign_in.concurrent_hashes = a.attempts;
        s.sign_in.waiting = a.attempts;
    }
    s
}

/// A process's peak resident memory, in kB.
fn peak_kb(pid: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

async fn start(a: &Args) -> Result<Running, String> {
    Launch {
        config: ServerConfig::parse(include_str!("server/demo.yaml")).map_err(|e| e.to_string())?,
        listen: "127.0.0.1:0".parse().map_err(|e| format!("{e}"))?,
        database_url: None,
        delivery: Delivery::Record,
        tick: Duration::from_secs(3600),
        settings: settings(a),
    }
    .start()
    .await
}

/// One round: `attempts` wrong passwords at once; the answers' statuses.
async fn round(http: &reqwest::Client, url: &str, attempts: usize, n: usize) -> Vec<u16> {
    let guesses = (0..attempts).map(|i| {
        let body = serde_json::json!({"agent": "ana", "password": format!("guess-{n}-{i}")});
        async move {
            match http
                .post(format!("{url}/api/session"))
                .json(&body)
                .send()
                .await
            {
                Ok(r) => r.status().as_u16(),
                Err(_) => 0,
            }
        }
    });
    futures_util::future::join_all(guesses).await
}

#[tokio::main]
async fn main() -> Result<(), String> {
    let a = parse()?;
    let running = match &a.url {
        Some(_) => None,
        None => Some(start(&a).await?),
    };
    let url = match (&a.url, &running) {
        (Some(u), _) => u.clone(),
        (None, Some(r)) => r.url.clone(),
        (None, None) => return Err("no server".into()),
    };
    let pid = a.pid.map_or("self".to_string(), |p| p.to_string());
    let before = peak_kb(&pid);
    let http = reqwest::Client::new();
    let started = Instant::now();
    let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
    for n in 0..a.rounds {
        for s in round(&http, &url, a.attempts, n).await {
            *statuses.entry(s).or_default() += 1;
        }
    }
    let took = started.elapsed();
    let checked = statuses.get(&401).copied().unwrap_or(0);
    println!(
        "{} rounds of {} concurrent wrong passwords in {:.2} s",
        a.rounds,
        a.attempts,
        took.as_secs_f64()
    );
    println!("answers by status: {statuses:?}");
    println!(
        "passwords checked: {checked} ({:.1} a second)",
        checked as f64 / took.as_secs_f64()
    );
    let mb = |kb: Option<u64>| kb.map_or("?".into(), |k| format!("{:.1} MB", k as f64 / 1024.0));
    println!(
        "peak memory (VmHWM of {pid}): {} before the load, {} after",
        mb(before),
        mb(peak_kb(&pid))
    );
    if let Some(r) = running {
        r.shutdown().await;
    }
    Ok(())
}
