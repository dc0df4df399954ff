//! A shared WhatsApp inbox over HTTP: the WhatsApp webhook, the agent API
//! and live events, on the in-memory store (or PostgreSQL).
//!
//! ```text
//! cargo run --example server                      # examples/server/demo.yaml, in memory
//! cargo run --example server -- --database-url postgres://postgres@127.0.0.1/postgres
//! cargo run --example server -- hash-password     # reads a password on stdin
//! ```
//!
//! Options: `--config FILE` (agents, teams, numbers), `--listen ADDR`
//! (default `127.0.0.1:8080`), `--database-url URL` (or `DATABASE_URL`;
//! migrations run at start).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use inbox_core::ports::Store;
use inbox_core::testing::RecordingTransport;
use inbox_core::{Inbox, InboxConfig, Ports};
use inbox_examples::server::{config::ServerConfig, router, AppState};
use inbox_store_memory::{MemoryEventBus, MemoryStore, SystemClock, UuidIds};

struct Args {
    config: PathBuf,
    listen: SocketAddr,
    database_url: Option<String>,
}

fn parse() -> Result<Option<Args>, String> {
    let mut args = Args {
        config: PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/server/demo.yaml")),
        listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
        database_url: std::env::var("DATABASE_URL").ok().filter(|u| !u.is_empty()),
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
    // No Meta account here: replies are recorded, not sent.
    let transport = Arc::new(RecordingTransport::new());
    tracing::info!("transport: recording (replies are not sent to WhatsApp)");
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
    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let worker = {
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
