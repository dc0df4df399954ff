//! Live fan-out (issue 28, goal 3): N agents of 50 teams hold real
//! server-sent-event streams (`GET /api/events`) open to the real HTTP
//! layer (`inbox_http::router`, served by `inbox_http::http::serve` on
//! loopback) over PostgreSQL (its store and its LISTEN/NOTIFY bus), while
//! signed webhooks of the ingest mix are posted to the number's webhook
//! route at a fixed rate. For each event a webhook made, the figure is the
//! time from the webhook's `200` to the event's arrival at the last agent
//! who may see it (by the event's scope: `permissions::can_see`).
//!
//! ```text
//! cargo run --release -p inbox-benches --bin fanout -- \
//!     [--agents 1000] [--teams 50] [--rate 200] [--seconds 20] \
//!     [--database-url postgres://postgres@127.0.0.1:5432/postgres] [--keep-database]
//! ```
//!
//! Two processes: this one is the server (so its memory is the server's);
//! it runs itself again with `--client` for the agents' streams and the
//! webhooks. The server tags each request with the webhook's number (a
//! header the bench adds, read by a middleware into a task-local) and
//! wraps the bus, so it knows which events each webhook published, with
//! their scopes. The client records, per event id, how many streams
//! received it and when the last one did (wall clock, shared by the two
//! processes), and when each webhook's answer came.
//!
//! Before the measured phase every customer of the mix (5,000) has a
//! conversation, routed to one of the teams by the order number in its
//! first message (so events go to one team, as in a routed inbox), and the
//! outbound messages the status webhooks report on are stored.
//!
//! Store reads are counted by wrapping the store
//! ([`inbox_core::testing::FaultyStore`] counts calls by operation): a
//! subscription's reads are `conversation` (the scope of an event that
//! carries none) and `agent` (loading the agent again); the figure is
//! their number in the measured phase over events × agents. A stream's
//! session check (every 5 s while events flow) is a read per agent per
//! interval, not per event: reported beside.
//!
//! Memory per agent: the server's resident memory (`VmRSS`) after the
//! streams are open minus before, over the agents.
//!
//! The last line is
//! `fanout agents=<N> p99_ms=<X> reads_per_event_per_agent=<R> kib_per_agent=<K>`.

use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use inbox_benches::loopback::{rss_kib, wall_ns, Poster, SseItem, SseStream};
use inbox_benches::{
    customer_text_body, exit_on_error, flags, fresh_database, is_status_body, number, webhook_body,
    PHONE_NUMBER_ID,
};
use inbox_core::event::Event;
use inbox_core::model::{Agent, Channel, Role, Team, Tenant};
use inbox_core::permissions::can_see;
use inbox_core::ports::{EventBus, EventStream};
use inbox_core::routing::Routing;
use inbox_core::testing::{FaultyStore, RecordingTransport};
use inbox_core::{AgentId, ChannelId, Inbox, InboxConfig, TeamId, TenantId};
use inbox_http::{router, Accounts, AppState};
use inbox_store_postgres::{PgEventBus, PgStore};
use inbox_whatsapp::{sign, Secret, Webhook, WebhookConfig};

/// The number's app secret (the client signs with it).
const APP_SECRET: &str = "fanout-bench-secret";
/// The header that carries a webhook's number in the run.
const TAG: &str = "x-bench-webhook";
/// Customers of the mix.
const CUSTOMERS: u64 = 5_000;

struct Args {
    client: bool,
    agents: usize,
    teams: usize,
    rate: u64,
    seconds: u64,
    url: Option<String>,
    keep: bool,
    /// Client: the server's address and the tokens file.
    addr: String,
    tokens: String,
    /// Client: the timestamp the mix's bodies start at.
    start: u64,
}

fn parse() -> Result<Args, String> {
    let mut a = Args {
        client: false,
        agents: 1000,
        teams: 50,
        rate: 200,
        seconds: 20,
        url: std::env::var("DATABASE_URL").ok(),
        keep: false,
        addr: String::new(),
        tokens: String::new(),
        start: 0,
    };
    flags(|k, v| {
        match k {
            "--client" => a.client = true,
            "--agents" => a.agents = number(k, v()?)?,
            "--teams" => a.teams = number(k, v()?)?,
            "--rate" => a.rate = number(k, v()?)?,
            "--seconds" => a.seconds = number(k, v()?)?,
            "--database-url" => a.url = Some(v()?),
            "--keep-database" => a.keep = true,
            "--addr" => a.addr = v()?,
            "--tokens" => a.tokens = v()?,
            "--start" => a.start = number(k, v()?)?,
            other => return Err(format!("unknown argument {other}")),
        }
        Ok(())
    })?;
    if a.agents == 0 || a.teams == 0 || a.rate == 0 || a.seconds == 0 {
        return Err("--agents, --teams, --rate and --seconds must be at least 1".into());
    }
    Ok(a)
}

fn main() {
    let args = match parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("fanout: {e}");
            std::process::exit(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build();
    let result = match runtime {
        Ok(rt) if args.client => rt.block_on(client(args)),
        Ok(rt) => rt.block_on(server(args)),
        Err(e) => Err(e.to_string()),
    };
    exit_on_error("fanout", result);
}

tokio::task_local! {
    /// The webhook (its number in the run) the current request posts.
    static WEBHOOK: u64;
}

/// Runs a request with its webhook's number in [`WEBHOOK`].
async fn tag_request(request: Request, next: Next) -> Response {
    let tag = request
        .headers()
        .get(TAG)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    match tag {
        Some(tag) => WEBHOOK.scope(tag, next.run(request)).await,
        None => next.run(request).await,
    }
}

/// The server's bus, remembering which webhook published each stored
/// event (and the event, with its scope).
struct Tagged {
    inner: PgEventBus,
    published: Mutex<HashMap<u64, (u64, Event)>>,
}

#[async_trait]
impl EventBus for Tagged {
    async fn publish(&self, events: &[Event]) -> inbox_core::Result<()> {
        if let Ok(tag) = WEBHOOK.try_with(|t| *t) {
            let mut published = self.published.lock().unwrap_or_else(|e| e.into_inner());
            for e in events.iter().filter(|e| e.seq > 0) {
                published.insert(e.seq, (tag, e.clone()));
            }
        }
        self.inner.publish(events).await
    }

    fn subscribe_to(&self, tenant: Option<&TenantId>) -> EventStream {
        self.inner.subscribe_to(tenant)
    }
}

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// Team `t`'s name.
fn team(t: usize) -> Result<TeamId, String> {
    TeamId::new(format!("team{t:02}")).map_err(err)
}

/// Routing: a conversation goes to the team its first message's order
/// number names (its last two digits, modulo the teams).
fn routing(teams: usize) -> Result<Routing, String> {
    let mut yaml = String::from("rules:\n");
    for t in 0..teams {
        let ends: Vec<String> = (0..100)
            .filter(|d| d % teams == t)
            .map(|d| format!("{d:02}"))
            .collect();
        if ends.is_empty() {
            continue;
        }
        yaml.push_str(&format!(
            "  - name: team{t:02}\n    when: {{ regex: {{ pattern: '#\\d\\d({})\\b' }} }}\n    then: [ {{ route_to_team: team{t:02} }} ]\n",
            ends.join("|")
        ));
    }
    Routing::from_yaml(&yaml).map_err(err)
}

/// The tenant, its number, the teams and `agents` agents (agent `i` in
/// team `i % teams`).
async fn provision(inbox: &Inbox, agents: usize, teams: usize) -> Result<Vec<Agent>, String> {
    let t = TenantId::new("bench").map_err(err)?;
    inbox
        .provision_tenant(&Tenant::new(t.clone(), "Bench"))
        .await
        .map_err(err)?;
    let number = Channel::new(
        t.clone(),
        ChannelId::new("main").map_err(err)?,
        PHONE_NUMBER_ID,
        "+1 555 0100",
    );
    inbox.provision_channel(&number).await.map_err(err)?;
    for i in 0..teams {
        inbox
            .provision_team(&Team::new(t.clone(), team(i)?, format!("Team {i}")))
            .await
            .map_err(err)?;
    }
    let mut all = Vec::new();
    for i in 0..agents {
        let id = AgentId::new(format!("agent{i:04}")).map_err(err)?;
        let a = Agent::new(t.clone(), id, format!("Agent {i}"), Role::Agent)
            .in_team(team(i % teams)?)
            .with_capacity(0);
        inbox.provision_agent(&a).await.map_err(err)?;
        all.push(a);
    }
    let settings = inbox_core::settings::TenantSettings {
        routing: routing(teams)?.spec().clone(),
        ..Default::default()
    };
    let version = inbox.ports().store.settings(&t).await.map_err(err)?;
    let version = version.map(|s| s.version).unwrap_or(0);
    inbox
        .import_settings(&t, version, settings)
        .await
        .map_err(err)?;
    Ok(all)
}

/// Every customer's conversation, opened by a message naming an order
/// (which routes it), and the outbound messages the run's status webhooks
/// report on (accepted, their provider ids recorded), 32 at a time.
async fn seed(inbox: &Inbox, hook: &Arc<Webhook>, bodies: u64, start: u64) -> Result<(), String> {
    let secret = Secret::new(APP_SECRET);
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..32 {
        let (inbox, hook, next, secret) =
            (inbox.clone(), hook.clone(), next.clone(), secret.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let k = next.fetch_add(1, Ordering::Relaxed) as u64;
                if k >= CUSTOMERS {
                    return Ok::<(), String>(());
                }
                let text = format!("Hello, where is my order #{}?", 1000 + (k * 7) % 9000);
                let body = customer_text_body(k, "seed", &text, start);
                let now = chrono::Utc::now();
                let items = hook
                    .verify_and_decode(Some(&sign(&secret, &body)), &body, now)
                    .map_err(err)?;
                let event = items
                    .iter()
                    .find_map(|d| d.to_inbound())
                    .ok_or("seed webhook decoded to nothing")?;
                let conversation = match inbox.ingest(event).await.map_err(err)? {
                    inbox_core::IngestOutcome::Stored { conversation, .. } => conversation,
                    other => return Err(format!("seed message not stored: {other:?}")),
                };
                outbound(&inbox, k, &conversation, bodies).await?;
            }
        }));
    }
    for t in tasks {
        t.await.map_err(err)??;
    }
    Ok(())
}

/// Stores the outbound messages to customer `k` that the status bodies
/// among the first `bodies` report on.
async fn outbound(
    inbox: &Inbox,
    k: u64,
    conversation: &inbox_core::ConversationId,
    bodies: u64,
) -> Result<(), String> {
    use inbox_core::ports::Changeset;
    let tenant = TenantId::new("bench").map_err(err)?;
    let now = chrono::Utc::now();
    let mut changes = Changeset::new(tenant.clone());
    for i in (k..bodies).step_by(CUSTOMERS as usize) {
        if !is_status_body(i) {
            continue;
        }
        let agent = AgentId::new("agent0000").map_err(err)?;
        changes.messages.push(inbox_benches::accepted_reply(
            &tenant,
            i,
            conversation,
            &agent,
            now,
        )?);
    }
    if changes.messages.is_empty() {
        return Ok(());
    }
    inbox.ports().store.commit(changes).await.map_err(err)?;
    Ok(())
}

/// Sum of the calls of `ops` between two counts.
fn calls_between(
    before: &std::collections::BTreeMap<String, u64>,
    after: &std::collections::BTreeMap<String, u64>,
) -> std::collections::BTreeMap<String, u64> {
    after
        .iter()
        .map(|(k, v)| (k.clone(), v - before.get(k).copied().unwrap_or(0)))
        .filter(|(_, v)| *v > 0)
        .collect()
}

async fn server(a: Args) -> Result<(), String> {
    let url = a
        .url
        .clone()
        .ok_or("--database-url (or DATABASE_URL) is needed")?;
    let db_url = fresh_database(&url, "inbox_bench_fanout").await?;
    let pg = PgStore::connect(&db_url, 16).await.map_err(err)?;
    pg.migrate().await.map_err(err)?;
    let bus = Arc::new(Tagged {
        inner: PgEventBus::connect(pg.clone()).await.map_err(err)?,
        published: Mutex::new(HashMap::new()),
    });
    let counted = Arc::new(FaultyStore::new(Arc::new(pg.clone())));
    let inbox = Inbox::new(
        inbox_runtime::ports(
            counted.clone(),
            bus.clone(),
            Arc::new(RecordingTransport::new()),
        ),
        InboxConfig::default(),
    );
    let bodies = a.rate * a.seconds;
    // The measured bodies' timestamps end about at the run's end.
    let start = chrono::Utc::now().timestamp() as u64 + a.seconds - bodies / 20;
    let started = Instant::now();
    let agents = provision(&inbox, a.agents, a.teams).await?;
    let config = WebhookConfig::for_numbers("verify", APP_SECRET, [PHONE_NUMBER_ID]);
    let hook = Arc::new(Webhook::new(config.clone()));
    seed(&inbox, &hook, bodies, start).await?;
    eprintln!(
        "provisioned {} agents in {} teams, {CUSTOMERS} conversations in {:.1} s",
        a.agents,
        a.teams,
        started.elapsed().as_secs_f64()
    );
    inbox_benches::settle_and_say(&db_url, true).await;

    let tenant = TenantId::new("bench").map_err(err)?;
    let state = AppState::builder(inbox.clone(), Accounts::new(tenant.clone()))
        .webhook(ChannelId::new("main").map_err(err)?, Webhook::new(config))
        .build();
    let tokens_path = std::env::temp_dir().join(format!("fanout-tokens-{}", std::process::id()));
    let mut tokens = String::new();
    for agent in &agents {
        let token = state
            .auth
            .open_session(&tenant, &agent.id, None)
            .await
            .map_err(err)?;
        tokens.push_str(&token);
        tokens.push('\n');
    }
    std::fs::write(&tokens_path, tokens).map_err(err)?;
    let app = router(state).layer(axum::middleware::from_fn(tag_request));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(err)?;
    let addr = listener.local_addr().map_err(err)?.to_string();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(inbox_http::http::serve(
        listener,
        app,
        Duration::from_secs(10),
        Duration::from_secs(1),
        async move {
            let _ = stopped.await;
        },
    ));
    // Let the server settle before the baseline of its memory.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_before = rss_kib().unwrap_or(0);

    let exe = std::env::current_exe().map_err(err)?;
    let mut child = std::process::Command::new(exe)
        .args([
            "--client",
            "--addr",
            &addr,
            "--tokens",
            &tokens_path.to_string_lossy(),
            "--rate",
            &a.rate.to_string(),
            "--seconds",
            &a.seconds.to_string(),
            "--start",
            &start.to_string(),
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .map_err(err)?;
    let mut to_child = child.stdin.take().ok_or("no stdin")?;
    let from_child = child.stdout.take().ok_or("no stdout")?;
    let (lines_tx, mut lines) = tokio::sync::mpsc::unbounded_channel::<String>();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(from_child).lines() {
            match line {
                Ok(l) => {
                    if lines_tx.send(l).is_err() {
                        return;
                    }
                }
                Err(_) => return,
            }
        }
    });
    let next_line = async |lines: &mut tokio::sync::mpsc::UnboundedReceiver<String>| {
        lines.recv().await.ok_or("the client stopped".to_string())
    };
    let connected = next_line(&mut lines).await?;
    if connected != "connected" {
        return Err(format!("client: {connected}"));
    }
    // The streams open, the server quiet again.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_connected = rss_kib().unwrap_or(0);
    let calls_before = counted.calls();
    let measured = Instant::now();
    writeln!(to_child, "go").map_err(err)?;
    to_child.flush().map_err(err)?;

    let mut acks: HashMap<u64, (u64, u16)> = HashMap::new();
    let mut arrivals: HashMap<u64, (u64, u64)> = HashMap::new();
    let mut lagged = 0u64;
    loop {
        let line = next_line(&mut lines).await?;
        let mut f = line.split_whitespace();
        match f.next() {
            Some("ack") => {
                let j: u64 = number("ack", f.next().unwrap_or("").into())?;
                let t: u64 = number("ack", f.next().unwrap_or("").into())?;
                let code: u16 = number("ack", f.next().unwrap_or("").into())?;
                acks.insert(j, (t, code));
            }
            Some("seq") => {
                let s: u64 = number("seq", f.next().unwrap_or("").into())?;
                let n: u64 = number("seq", f.next().unwrap_or("").into())?;
                let t: u64 = number("seq", f.next().unwrap_or("").into())?;
                arrivals.insert(s, (n, t));
            }
            Some("lagged") => lagged = number("lagged", f.next().unwrap_or("").into())?,
            Some("done") => break,
            _ => eprintln!("client: {line}"),
        }
    }
    let elapsed = measured.elapsed();
    let calls = calls_between(&calls_before, &counted.calls());
    let rss_after = rss_kib().unwrap_or(0);
    let _ = child.wait();
    let _ = std::fs::remove_file(&tokens_path);
    let _ = stop.send(());
    let _ = tokio::time::timeout(Duration::from_secs(3), serving).await;

    // Per event a webhook made: the last eligible agent's arrival after
    // the webhook's answer.
    let published = std::mem::take(&mut *bus.published.lock().unwrap_or_else(|e| e.into_inner()));
    let mut latencies = Vec::new();
    let (mut events, mut missing, mut extra, mut deliveries, mut unacked) = (0u64, 0, 0, 0, 0);
    let mut early = 0u64;
    for (seq, (j, event)) in &published {
        let Some((ack, code)) = acks.get(j) else {
            unacked += 1;
            continue;
        };
        if *code != 200 {
            unacked += 1;
            continue;
        }
        events += 1;
        let eligible = agents.iter().filter(|ag| can_see(ag, event)).count() as u64;
        deliveries += eligible;
        let (got, last) = arrivals.get(seq).copied().unwrap_or((0, 0));
        if got < eligible {
            missing += eligible - got;
            continue;
        }
        if got > eligible {
            extra += got - eligible;
        }
        if eligible == 0 {
            continue;
        }
        if last < *ack {
            early += 1;
        }
        latencies.push(Duration::from_nanos(last.saturating_sub(*ack)));
    }
    latencies.sort();
    let pct = |p| inbox_benches::ms(inbox_benches::percentile(&latencies, p));
    let codes = acks.values().filter(|(_, c)| *c != 200).count();
    // A session check reads the session and its agent; the agent reads
    // beyond those are subscriptions loading their agent again.
    let sessions = calls.get("session").copied().unwrap_or(0);
    let visibility_reads = calls.get("conversation").copied().unwrap_or(0)
        + calls
            .get("agent")
            .copied()
            .unwrap_or(0)
            .saturating_sub(sessions);
    let per_event_per_agent = if events == 0 {
        0.0
    } else {
        visibility_reads as f64 / (events as f64 * a.agents as f64)
    };
    let kib_per_agent = rss_connected.saturating_sub(rss_before) as f64 / a.agents as f64;
    println!(
        "webhooks: {} answered ({} not 200) in {:.1} s; events they published: {} ({} to agents, {:.1} agents per event)",
        acks.len(),
        codes,
        elapsed.as_secs_f64(),
        events,
        deliveries,
        deliveries as f64 / events.max(1) as f64
    );
    println!(
        "latency from the 200 to the last agent: p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms ({} events reached every agent before the 200 was read)",
        pct(50.0),
        pct(90.0),
        pct(99.0),
        pct(100.0),
        early
    );
    println!(
        "deliveries missing: {missing}, to agents who may not see them: {extra}, lagged notices: {lagged}, events of unanswered webhooks: {unacked}"
    );
    println!("store calls in the measured phase: {calls:?}");
    println!(
        "visibility reads (conversation, and agent beyond the session checks'): {visibility_reads}; session checks (a session and an agent read each): {sessions} ({:.3} per agent per second)",
        sessions as f64 / a.agents as f64 / elapsed.as_secs_f64()
    );
    println!(
        "server VmRSS: {rss_before} KiB before the streams, {rss_connected} KiB with them open, {rss_after} KiB at the end ({:.1} KiB per agent then)",
        rss_after.saturating_sub(rss_before) as f64 / a.agents as f64
    );
    pg.pool().close().await;
    if !a.keep {
        inbox_benches::drop_database(&url, &db_url).await;
    }
    if missing > 0 || extra > 0 {
        return Err(format!(
            "{missing} deliveries missing, {extra} to agents who may not see them"
        ));
    }
    println!(
        "fanout agents={} p99_ms={:.2} reads_per_event_per_agent={} kib_per_agent={:.1}",
        a.agents,
        pct(99.0),
        per_event_per_agent,
        kib_per_agent
    );
    Ok(())
}

/// The client: the agents' streams and the webhooks.
async fn client(a: Args) -> Result<(), String> {
    let tokens: Vec<String> = std::fs::read_to_string(&a.tokens)
        .map_err(err)?
        .lines()
        .map(str::to_string)
        .collect();
    // Every stream open, 50 at a time.
    let mut streams = Vec::with_capacity(tokens.len());
    for batch in tokens.chunks(50) {
        let mut opening = Vec::new();
        for token in batch {
            let (addr, token) = (a.addr.clone(), token.clone());
            opening.push(tokio::spawn(async move {
                SseStream::open(&addr, "/api/events", &token).await
            }));
        }
        for o in opening {
            streams.push(o.await.map_err(err)??);
        }
    }
    // Each stream's arrivals: (event id, wall ns), until told to stop.
    let lagged = Arc::new(AtomicUsize::new(0));
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut readers = Vec::new();
    for mut s in streams {
        let lagged = lagged.clone();
        let mut stopped = stopped.clone();
        readers.push(tokio::spawn(async move {
            let mut got: Vec<(u64, u64)> = Vec::new();
            loop {
                tokio::select! {
                    item = s.next() => match item {
                        Ok(Some(SseItem::Event(id))) => got.push((id, wall_ns())),
                        Ok(Some(SseItem::Lagged)) => {
                            lagged.fetch_add(1, Ordering::Relaxed);
                        }
                        Ok(None) | Err(_) => return got,
                    },
                    _ = stopped.changed() => return got,
                }
            }
        }));
    }
    println!("connected");
    let mut go = String::new();
    std::io::stdin().read_line(&mut go).map_err(err)?;

    // Open loop: webhook j is due at j / rate; 64 senders take them in
    // order.
    let bodies = a.rate * a.seconds;
    let secret = Secret::new(APP_SECRET);
    let prepared: Arc<Vec<(String, Vec<u8>)>> = Arc::new(
        (0..bodies)
            .map(|i| {
                let body = webhook_body(i, a.start);
                (sign(&secret, &body), body)
            })
            .collect(),
    );
    let next = Arc::new(AtomicUsize::new(0));
    let began = Instant::now();
    let mut senders = Vec::new();
    for _ in 0..64 {
        let (prepared, next, addr) = (prepared.clone(), next.clone(), a.addr.clone());
        let rate = a.rate;
        senders.push(tokio::spawn(async move {
            let mut poster = Poster::new(&addr);
            let mut acks = Vec::new();
            loop {
                let j = next.fetch_add(1, Ordering::Relaxed);
                let Some((sig, body)) = prepared.get(j) else {
                    return acks;
                };
                let due = began + Duration::from_secs_f64(j as f64 / rate as f64);
                tokio::time::sleep_until(due.into()).await;
                let tag = j.to_string();
                let headers = [("X-Hub-Signature-256", sig.as_str()), (TAG, tag.as_str())];
                let code = match poster.post("/webhooks/whatsapp/main", &headers, body).await {
                    Ok(c) => c,
                    Err(e) => {
                        eprintln!("webhook {j}: {e}");
                        0
                    }
                };
                acks.push((j, wall_ns(), code));
            }
        }));
    }
    let mut all_acks = Vec::new();
    for s in senders {
        all_acks.extend(s.await.map_err(err)?);
    }
    // Stragglers, then every stream's arrivals by event: how many streams
    // got it and when the last one did.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let _ = stop.send(true);
    let mut by_seq: HashMap<u64, (u64, u64)> = HashMap::new();
    for r in readers {
        for (seq, t) in r.await.map_err(err)? {
            let e = by_seq.entry(seq).or_insert((0, 0));
            e.0 += 1;
            e.1 = e.1.max(t);
        }
    }
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for (j, t, code) in all_acks {
        writeln!(out, "ack {j} {t} {code}").map_err(err)?;
    }
    for (seq, (n, t)) in by_seq {
        writeln!(out, "seq {seq} {n} {t}").map_err(err)?;
    }
    writeln!(out, "lagged {}", lagged.load(Ordering::Relaxed)).map_err(err)?;
    writeln!(out, "done").map_err(err)?;
    out.flush().map_err(err)?;
    Ok(())
}
