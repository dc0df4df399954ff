//! A broadcast of 10,000 recipients on PostgreSQL to a local Graph API
//! stand-in, with the worker killed in the middle and started again.
//!
//! ```text
//! broadcast [--recipients N] [--opted-out N] [--late-stops N] [--rate R]
//!           [--crash-after N] [--database-url URL]
//! ```
//!
//! The store is a fresh database on the server of `--database-url` (or
//! `DATABASE_URL`); sends go through the real `GraphClient` to the
//! stand-in, which records each request's recipient and arrival time.
//! `N` customers are imported with consent, `--opted-out` more without it
//! (the import says no), all tagged `vip`; a marketing template goes to the
//! `vip` segment at `--rate` messages per second. `--late-stops` of the
//! customers selected last send STOP once the broadcast is sending. When
//! `--crash-after` sends have arrived, the worker's task is aborted (its
//! claims and any send under way are left as a crash leaves them) and a
//! new worker starts on the same database.
//!
//! Printed: messages per second over time (1-second buckets: median, p95,
//! max), duration, recipients sent twice, sends to customers who stopped
//! marketing, messages in doubt after the crash. The run fails (exit 1)
//! on a recipient sent twice or a send to a customer who stopped.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use inbox_benches::fresh_database;
use inbox_core::model::{
    Agent, Channel, Role, Segment, TemplateCategory, TemplateDefinition, TemplateFill, Tenant,
};
use inbox_core::ports::Store;
use inbox_core::*;
use inbox_faults::GraphStandIn;
use inbox_store_postgres::{PgEventBus, PgStore};
use inbox_whatsapp::{GraphClient, GraphConfig};

const PNID: &str = "106540352200001";

struct Args {
    recipients: u32,
    opted_out: u32,
    late_stops: u32,
    rate: u32,
    crash_after: usize,
    url: String,
}

fn args() -> Result<Args, String> {
    let mut a = Args {
        recipients: 10_000,
        opted_out: 500,
        late_stops: 100,
        rate: 100,
        crash_after: 5_000,
        url: std::env::var("DATABASE_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into()),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        let number = |v: String| v.parse::<u32>().map_err(|e| format!("{flag}: {e}"));
        match flag.as_str() {
            "--recipients" => a.recipients = number(value()?)?,
            "--opted-out" => a.opted_out = number(value()?)?,
            "--late-stops" => a.late_stops = number(value()?)?,
            "--rate" => a.rate = number(value()?)?,
            "--crash-after" => a.crash_after = number(value()?)? as usize,
            "--database-url" => a.url = value()?,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(a)
}

fn id<T: TryFrom<String, Error = Error>>(s: &str) -> Result<T, Error> {
    T::try_from(s.to_string())
}

fn wa(i: u32) -> String {
    format!("3466{i:08}")
}

/// The tenant, its number, a supervisor and the marketing template.
async fn provision(inbox: &Inbox) -> Result<Actor, Error> {
    let t: TenantId = id("acme")?;
    inbox
        .provision_tenant(&Tenant::new(t.clone(), "Acme"))
        .await?;
    inbox
        .provision_channel(&Channel::new(
            t.clone(),
            id("main")?,
            PNID,
            "+34 600 000 000",
        ))
        .await?;
    inbox
        .provision_agent(&Agent::new(t.clone(), id("sam")?, "Sam", Role::Supervisor))
        .await?;
    let stored = inbox.ports().store.settings(&t).await?;
    let (version, mut doc) = stored.map_or((0, Default::default()), |s| (s.version, s.document));
    let mut promo = TemplateDefinition::new("spring_offer", "en");
    promo.category = Some(TemplateCategory::Marketing);
    doc.templates.push(promo);
    doc.consent.stop_keywords = vec!["STOP".into()];
    inbox.import_settings(&t, version, doc).await?;
    Ok(Actor::new(t, id("sam")?))
}

/// The customers: `n` with consent, `opted_out` without.
async fn import(inbox: &Inbox, sam: &Actor, n: u32, opted_out: u32) -> Result<(), Error> {
    let rows: Vec<ImportRow> = (0..n + opted_out)
        .map(|i| ImportRow {
            line: i + 2,
            wa_id: Some(wa(i)),
            tags: vec!["vip".into()],
            consent: Some(i < n),
            ..ImportRow::default()
        })
        .collect();
    for chunk in rows.chunks(MAX_IMPORT_ROWS) {
        let report = inbox.import_contacts(sam, chunk).await?;
        if report.refused > 0 {
            return Err(Error::invalid(
                "import",
                format!("{:?}", report.problems.first()),
            ));
        }
    }
    Ok(())
}

/// A worker: broadcasts and the outbox, every 100 ms, until aborted.
fn worker(inbox: Inbox) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            if let Err(e) = inbox.run_broadcasts(10).await {
                eprintln!("broadcasts: {e}");
            }
            for _ in 0..20 {
                match inbox.dispatch(200).await {
                    Ok(r) if r.total() > 0 => {}
                    Ok(_) => break,
                    Err(e) => {
                        eprintln!("dispatch: {e}");
                        break;
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
}

#[tokio::main]
async fn main() {
    if let Err(e) = run().await {
        eprintln!("broadcast: {e}");
        std::process::exit(1);
    }
}

async fn run() -> Result<(), String> {
    let a = args()?;
    let url = fresh_database(&a.url, "inbox_bench_broadcast").await?;
    let store = PgStore::connect(&url, 16)
        .await
        .map_err(|e| e.to_string())?;
    let bus = PgEventBus::connect(store.clone())
        .await
        .map_err(|e| e.to_string())?;
    let standin = GraphStandIn::start(Duration::ZERO)
        .await
        .map_err(|e| e.to_string())?;
    let mut graph = GraphConfig::new("bench-token").base_url(standin.url().to_string());
    graph.messages_per_second = 10_000;
    let client = Arc::new(GraphClient::new(graph).map_err(|e| e.to_string())?);
    let store: Arc<dyn Store> = Arc::new(store);
    // Short outbox leases: what the killed worker held is taken again (or
    // marked in doubt) within seconds, not a minute.
    let mut config = InboxConfig::default();
    config.outbox.lease = Duration::from_secs(5);
    config.outbox.attempt_lease = Duration::from_secs(5);
    let inbox = Inbox::new(
        inbox_runtime::ports(store.clone(), Arc::new(bus), client),
        config,
    );
    let sam = provision(&inbox).await.map_err(|e| e.to_string())?;
    let t0 = Instant::now();
    import(&inbox, &sam, a.recipients, a.opted_out)
        .await
        .map_err(|e| e.to_string())?;
    println!(
        "imported {} customers in {:.1} s",
        a.recipients + a.opted_out,
        t0.elapsed().as_secs_f64()
    );
    let new = NewBroadcast {
        id: id("spring").map_err(|e| e.to_string())?,
        name: "Spring offer".into(),
        channel: id("main").map_err(|e| e.to_string())?,
        template: TemplateFill::new("spring_offer", "en"),
        segment: Segment {
            tags_all: vec!["vip".into()],
            ..Segment::default()
        },
        schedule: None,
        rate_per_second: a.rate,
    };
    let b = inbox
        .create_broadcast(&sam, new)
        .await
        .map_err(|e| e.to_string())?;
    inbox
        .steer_broadcast(&sam, &b.id, b.version, Steer::Start)
        .await
        .map_err(|e| e.to_string())?;
    let started = Instant::now();
    let first = worker(inbox.clone());
    // Customers selected last stop marketing while it sends.
    let late: Vec<String> = (a.recipients - a.late_stops..a.recipients)
        .map(wa)
        .collect();
    standin.wait_for(1).await;
    for (i, number) in late.iter().enumerate() {
        let msg = InboundMessage {
            phone_number_id: PNID.into(),
            external_id: format!("wamid.stop.{i}"),
            from: inbox_core::model::ContactIdentity::wa(number.clone()),
            profile_name: None,
            username: None,
            timestamp: inbox.now(),
            content: inbox_core::model::Content::text("STOP"),
            context: Default::default(),
        };
        inbox
            .ingest(InboundEvent::Message(msg))
            .await
            .map_err(|e| e.to_string())?;
    }
    standin.wait_for(a.crash_after).await;
    first.abort();
    let _ = first.await;
    println!(
        "worker killed after {} sends ({:.1} s); a new one starts",
        standin.received().len(),
        started.elapsed().as_secs_f64()
    );
    let second = worker(inbox.clone());
    // Done, and the outbox quiet for longer than its leases.
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let b = store
            .broadcast(&sam.tenant, &b.id)
            .await
            .map_err(|e| e.to_string())?;
        if b.state == inbox_core::model::BroadcastState::Done {
            let n = standin.received().len();
            tokio::time::sleep(Duration::from_secs(8)).await;
            if standin.received().len() == n {
                break;
            }
        }
    }
    second.abort();
    report(&a, &standin, &late, started, &store, &sam, &b.id).await
}

async fn report(
    a: &Args,
    standin: &GraphStandIn,
    late: &[String],
    started: Instant,
    store: &Arc<dyn Store>,
    sam: &Actor,
    broadcast: &BroadcastId,
) -> Result<(), String> {
    let received = standin.received();
    let mut seen = HashSet::new();
    let twice = received
        .iter()
        .filter(|r| !seen.insert(r.to.clone()))
        .count();
    let opted_out: HashSet<String> = (a.recipients..a.recipients + a.opted_out).map(wa).collect();
    let late: HashSet<&String> = late.iter().collect();
    let to_opted_out = received
        .iter()
        .filter(|r| opted_out.contains(&r.to))
        .count();
    let to_late = received.iter().filter(|r| late.contains(&r.to)).count();
    let first = received.first().map(|r| r.at).unwrap_or(started);
    let mut buckets: BTreeMap<u64, u32> = BTreeMap::new();
    for r in &received {
        *buckets.entry((r.at - first).as_secs()).or_default() += 1;
    }
    let mut per_second: Vec<u32> = buckets.values().copied().collect();
    let full: Vec<u32> = per_second.iter().copied().filter(|n| *n > 0).collect();
    per_second.sort_unstable();
    let pick = |p: f64| {
        per_second
            .get(((per_second.len() as f64 * p).ceil() as usize).max(1) - 1)
            .copied()
            .unwrap_or(0)
    };
    let counts = store
        .recipient_counts(&sam.tenant, broadcast)
        .await
        .map_err(|e| e.to_string())?;
    let duration = received
        .last()
        .map(|r| (r.at - first).as_secs_f64())
        .unwrap_or(0.0);
    println!(
        "recipients: {} queued, {} skipped, {} pending",
        counts.queued, counts.skipped, counts.pending
    );
    println!("sends: {} in {duration:.1} s; per second: median {}, p95 {}, max {} (rate {}; {} one-second buckets)",
        received.len(), pick(0.5), pick(0.95), per_second.last().copied().unwrap_or(0), a.rate, full.len());
    println!("sent twice: {twice}; to customers opted out by the import: {to_opted_out}; to customers who stopped while it sent: {to_late}");
    println!(
        "in doubt after the crash (queued, never resent): {}",
        counts.queued as usize - received.len().min(counts.queued as usize)
    );
    // Over 5-second windows the rate is read without the 1-second
    // buckets' aliasing (a batch that lands just either side of a bucket).
    let counts_by_second: Vec<u32> = buckets.values().copied().collect();
    let five = counts_by_second
        .windows(5)
        .map(|w| w.iter().sum::<u32>() as f64 / 5.0)
        .fold(0.0, f64::max);
    println!("highest rate over any 5 seconds: {five:.1} per second");
    let series: Vec<String> = buckets.values().map(u32::to_string).collect();
    println!("sends per second, in order: {}", series.join(" "));
    if twice > 0 || to_opted_out > 0 || to_late > 0 {
        return Err(
            "a recipient was sent twice, or a customer who stopped marketing was sent it".into(),
        );
    }
    Ok(())
}
