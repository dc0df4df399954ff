//! A shared WhatsApp inbox in the browser: the web inbox, the agent API,
//! live events and the WhatsApp webhook, on the in-memory store (or
//! PostgreSQL). A thin binary over `inbox_examples::server` (the options
//! are in `server/cli.rs`; `--help` lists them with their environment
//! variables).
//!
//! ```text
//! cargo run --example server -- --simulate         # simulated customers and Meta, in memory
//! cargo run --example server -- --database-url postgres://postgres@127.0.0.1/postgres
//! cargo run --example server -- --graph-url http://127.0.0.1:9090 --access-token t
//! cargo run --example server -- hash-password      # reads a password on stdin
//! cargo run --example server -- --help
//! ```
//!
//! Ctrl-C or `SIGTERM` stops it in about two seconds: live event streams
//! end, requests in flight finish, the outbox is sent one last time. A
//! second Ctrl-C exits at once. Exit codes: 0 stopped, 2 bad options or
//! configuration (or the server could not start), 130 a second Ctrl-C.

use clap::Parser;
use std::io::Write;

use inbox_examples::server::cli::{banner, stop_signal, Cli, Command};

#[tokio::main]
async fn main() {
    // Bad options: clap prints what is wrong and exits with 2.
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    if let Err(e) = run(cli).await {
        eprintln!("server: {e}");
        std::process::exit(2);
    }
}

async fn run(cli: Cli) -> Result<(), String> {
    if let Some(Command::HashPassword) = cli.command {
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .map_err(|e| e.to_string())?;
        let hash = inbox_http::auth::hash_password(line.trim_end())?;
        println!("{hash}");
        return Ok(());
    }
    let launch = cli.launch()?;
    let (channels, delivery) = (launch.config.channels.clone(), launch.delivery.clone());
    let running = launch.start().await?;
    print!("{}", banner(&running, &channels, &delivery));
    let _ = std::io::stdout().flush();
    stop_signal().await;
    tracing::info!(
        "stopping: live streams end, requests in flight finish, then the outbox is sent"
    );
    // A second Ctrl-C (or SIGTERM) does not wait.
    tokio::spawn(async {
        stop_signal().await;
        eprintln!("server: stopped without waiting");
        std::process::exit(130);
    });
    running.shutdown().await;
    Ok(())
}
