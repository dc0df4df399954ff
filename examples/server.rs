//! A shared WhatsApp inbox over HTTP: the WhatsApp webhook, the agent API
//! and live events, on the in-memory store (or PostgreSQL).
//!
//! ```text
//! cargo run --example server -- --simulate         # simulated customers and Meta, in memory
//! cargo run --example server -- --database-url postgres://postgres@127.0.0.1/postgres
//! cargo run --example server -- hash-password      # reads a password on stdin
//! ```
//!
//! Options: `--config FILE` (agents, teams, numbers), `--listen ADDR`
//! (default `127.0.0.1:8080`), `--database-url URL` (or `DATABASE_URL`;
//! migrations run at start), `--simulate` with `--rate N` (customer
//! messages a minute, default 6), `--access-token TOKEN` (or
//! `WHATSAPP_ACCESS_TOKEN`: send through the real Graph API). Without
//! `--simulate` or a token, replies are recorded, not sent.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use inbox_core::ports::{Store, Transport};
use inbox_core::testing::RecordingTransport;
use inbox_core::Secret;
use inbox_core::{Inbox, InboxConfig, Ports};
use inbox_examples::server::simulator::{run_customers, FakeMeta, SimConfig};
use inbox_examples::server::{config::ServerConfig, router, AppState};
use inbox_store_memory::{MemoryEventBus, MemoryStore, SystemClock, UuidIds};
use inbox_whatsapp::{GraphClient, GraphConfig};

struct Args {
    config: PathBuf,
    listen: SocketAddr,
    database_url: Option<String>,
    simulate: bool,
    rate: u32,
    access_token: Option<String>,
}

fn parse() -> Result<Option<Args>, String> {
    let mut args = Args {
        config: PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/server/demo.yaml")),
        listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
        database_url: std::env::var("DATABASE_URL").ok().filter(|u| !u.is_empty()),
        simulate: false,
        rate: 6,
        access_token: std::env::var("WHATSAPP_ACCESS_TOKEN")
            .ok()
            .filter(|t| !t.is_empty()),
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let mut value = || it.next().ok_or(format!("{k} needs a value"));
        match k.as_str() {
            "hash-password" => {
                let mut line = String::new();
                std::io::stdin()
                    .read_line(&mut line)
                    .map_err(|e| e.to_string())?;
                let hash = inbox_examples::server::auth::hash_password(line.trim_end())?;
                println!("{hash}");
                return Ok(None);
            }
            "--config" => args.config = PathBuf::from(value()?),
            "--listen" => args.listen = value()?.parse().map_err(|e| format!("--listen: {e}"))?,
            "--database-url" => args.database_url = Some(value()?),
            "--simulate" => args.simulate = true,
            "--rate" => args.rate = value()?.parse().map_err(|e| format!("--rate: {e}"))?,
            "--access-token" => args.access_token = Some(value()?),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(Some(args))
}

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    if let Err(e) = run().await {
        eprintln!("server: {e}");
        std::process::exit(2);
    }
}

async fn run() -> Result<(), String> {
    let Some(args) = parse()? else {
        return Ok(());
    };
    let config = ServerConfig::load(&args.config).map_err(|e| e.to_string())?;
    let store: Arc<dyn Store> = match &args.database_url {
        Some(url) => {
            let pg = inbox_store_postgres::PgStore::connect(url, 8)
                .await
                .map_err(|e| format!("PostgreSQL: {e}"))?;
            pg.migrate().await.map_err(|e| format!("migrations: {e}"))?;
            tracing::info!("store: PostgreSQL (migrations applied)");
            Arc::new(pg)
        }
        None => {
            tracing::info!("store: in memory (nothing survives a restart)");
            Arc::new(MemoryStore::new())
        }
    };
    // Where replies go: the simulator's fake Graph API, the real one, or
    // nowhere (recorded).
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut simulator = None;
    let transport: Arc<dyn Transport> = if args.simulate {
        let channel = config.channels.first().ok_or("--simulate needs a number")?;
        let meta = FakeMeta::new(SimConfig {
            inbox_url: format!("http://{}", args.listen),
            webhook_path: format!("/webhooks/whatsapp/{}", channel.id),
            phone_number_id: channel.phone_number_id.clone(),
            display_number: channel
                .display_number
                .chars()
                .filter(char::is_ascii_digit)
                .collect(),
            app_secret: Secret::new(channel.app_secret.clone()),
            window: chrono::TimeDelta::hours(24),
            status_delay: Duration::from_millis(700),
        })?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| format!("fake Graph API: {e}"))?;
        let url = format!(
            "http://{}",
            listener.local_addr().map_err(|e| e.to_string())?
        );
        let router = meta.router();
        tokio::spawn(async move { axum::serve(listener, router).await });
        tracing::info!(%url, "transport: the simulator's fake Graph API");
        simulator = Some(meta);
        Arc::new(
            GraphClient::new(GraphConfig::new("simulated-token").base_url(url))
                .map_err(|e| e.to_string())?,
        )
    } else if let Some(token) = &args.access_token {
        tracing::info!("transport: the WhatsApp Cloud API");
        Arc::new(GraphClient::new(GraphConfig::new(token.clone())).map_err(|e| e.to_string())?)
    } else {
        tracing::info!("transport: recording (replies are not sent to WhatsApp)");
        Arc::new(RecordingTransport::new())
    };
    let inbox = Inbox::new(
        Ports {
            store,
            transport,
            bus: Arc::new(MemoryEventBus::new(1024)),
            clock: Arc::new(SystemClock),
            ids: Arc::new(UuidIds),
        },
        InboxConfig::default(),
    );
    config
        .provision(&inbox)
        .await
        .map_err(|e| format!("provisioning: {e}"))?;
    let state = AppState::new(inbox.clone(), &config).map_err(|e| e.to_string())?;
    let app = router(state, &config);

    // Timers (SLA, snoozes, automation) and the outbox, every second.
    let worker = {
        let mut stop_rx = stop_rx.clone();
        let inbox = inbox.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_secs(1));
            loop {
                tokio::select! {
                    _ = every.tick() => {}
                    _ = stop_rx.changed() => break,
                }
                let now = inbox.ports().clock.now();
                if let Err(e) = inbox.tick(now, 500).await {
                    tracing::warn!(error = %e, "timers");
                }
                if let Err(e) = inbox.dispatch(100).await {
                    tracing::warn!(error = %e, "outbox");
                }
            }
        })
    };

    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| format!("{}: {e}", args.listen))?;
    println!("inbox server on http://{}", args.listen);
    for c in &config.channels {
        println!(
            "  WhatsApp webhook for {} ({}): http://{}/webhooks/whatsapp/{}",
            c.display_number, c.id, args.listen, c.id
        );
    }
    if let Some(meta) = simulator {
        println!(
            "  simulated customers write about {} times a minute; replies reach the fake Graph API",
            args.rate
        );
        tokio::spawn(run_customers(meta, args.rate, 7, stop_rx.clone()));
    }
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
            tracing::info!("shutting down: finishing requests in flight");
        })
        .await
        .map_err(|e| e.to_string())?;
    // Requests are done; the worker finishes its round, then one last
    // dispatch sends what they queued.
    let _ = stop_tx.send(true);
    let _ = worker.await;
    if let Err(e) = inbox.dispatch(1000).await {
        tracing::warn!(error = %e, "final dispatch");
    }
    Ok(())
}
