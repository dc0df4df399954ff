//! A shared WhatsApp inbox in the browser: the web inbox, the agent API,
//! live events and the WhatsApp webhook, on the in-memory store (or
//! PostgreSQL).
//!
//! ```text
//! cargo run --example server -- --simulate         # simulated customers and Meta, in memory
//! cargo run --example server -- --database-url postgres://postgres@127.0.0.1/postgres
//! cargo run --example server -- hash-password      # reads a password on stdin
//! ```
//!
//! Options: `--config FILE` (agents, teams, numbers, templates), `--listen
//! ADDR` (default `127.0.0.1:8080`), `--database-url URL` (or
//! `DATABASE_URL`; migrations run at start), `--simulate` with `--rate N`
//! (customer messages a minute, default 6) and `--simulate-timeouts F` (the
//! share of replies the fake Graph API answers too late, 0 to 1, default
//! 0: they are *in doubt* until a status settles them or an agent sends
//! them again), `--access-token TOKEN` (or
//! `WHATSAPP_ACCESS_TOKEN`: send through the real Graph API),
//! `--behind-proxy` (a reverse proxy in front sets `X-Forwarded-For` and
//! `X-Forwarded-Proto`: client addresses for the sign-in limits, `Secure`
//! cookies over https), `--secure-cookies` (always `Secure`: TLS all the
//! way). Without `--simulate` or a token, replies are recorded, not sent.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use inbox_core::Secret;
use inbox_examples::server::config::ServerConfig;
use inbox_examples::server::launch::{Delivery, Launch};
use inbox_examples::server::simulator::LateAnswers;
use inbox_http::Settings;

fn parse() -> Result<Option<Launch>, String> {
    let mut config = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/server/demo.yaml"));
    let mut listen = SocketAddr::from(([127, 0, 0, 1], 8080));
    let mut database_url = std::env::var("DATABASE_URL").ok().filter(|u| !u.is_empty());
    let mut simulate = false;
    let mut settings = Settings::default();
    let mut rate = 6;
    let mut late = LateAnswers::default();
    let mut access_token = std::env::var("WHATSAPP_ACCESS_TOKEN")
        .ok()
        .filter(|t| !t.is_empty());
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let mut value = || it.next().ok_or(format!("{k} needs a value"));
        match k.as_str() {
            "hash-password" => {
                let mut line = String::new();
                std::io::stdin()
                    .read_line(&mut line)
                    .map_err(|e| e.to_string())?;
                let hash = inbox_http::auth::hash_password(line.trim_end())?;
                println!("{hash}");
                return Ok(None);
            }
            "--config" => config = PathBuf::from(value()?),
            "--listen" => listen = value()?.parse().map_err(|e| format!("--listen: {e}"))?,
            "--database-url" => database_url = Some(value()?),
            "--simulate" => simulate = true,
            "--rate" => rate = value()?.parse().map_err(|e| format!("--rate: {e}"))?,
            "--simulate-timeouts" => {
                let share = value()?
                    .parse()
                    .map_err(|e| format!("--simulate-timeouts: {e}"))?;
                late = LateAnswers::new(share).map_err(|e| format!("--simulate-timeouts: {e}"))?;
            }
            "--access-token" => access_token = Some(value()?),
            "--behind-proxy" => settings.behind_proxy = true,
            "--secure-cookies" => settings.secure_cookies = true,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    let delivery = match (simulate, access_token) {
        (true, _) => Delivery::Simulate {
            rate,
            status_delay: Duration::from_millis(700),
            graph_timeout: Duration::from_secs(3),
            late,
        },
        (false, Some(t)) => Delivery::CloudApi {
            access_token: Secret::new(t),
        },
        (false, None) => Delivery::Record,
    };
    Ok(Some(Launch {
        config: ServerConfig::load(&config).map_err(|e| e.to_string())?,
        listen,
        database_url,
        delivery,
        tick: Duration::from_secs(1),
        settings,
    }))
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
    let Some(launch) = parse()? else {
        return Ok(());
    };
    let channels: Vec<(String, String)> = launch
        .config
        .channels
        .iter()
        .map(|c| (c.id.clone(), c.display_number.clone()))
        .collect();
    let delivery = launch.delivery.clone();
    let running = launch.start().await?;
    println!(
        "inbox on {}/ — sign in as ana / ana and, in another browser window, ben / ben",
        running.url
    );
    for (id, number) in channels {
        println!(
            "  WhatsApp webhook for {number}: {}/webhooks/whatsapp/{id}",
            running.url
        );
    }
    if let Delivery::Simulate { rate, late, .. } = delivery {
        println!(
            "  simulated customers write about {rate} times a minute; replies go to a fake Graph API"
        );
        if late.fraction > 0.0 {
            println!(
                "  about {:.0}% of replies are answered too late (half of them lost): \"may not have been delivered\" until a status settles them or an agent sends them again",
                late.fraction * 100.0
            );
        }
    }
    let _ = tokio::signal::ctrl_c().await;
    tracing::info!("shutting down: finishing requests in flight, then sending the outbox");
    running.shutdown().await;
    Ok(())
}
