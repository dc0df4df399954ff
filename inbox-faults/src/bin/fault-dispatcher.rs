//! A dispatcher process for the kill test: connects to the database named
//! by `FAULT_DATABASE_URL`, sends through the Graph stand-in at
//! `FAULT_GRAPH_URL` (leases of `FAULT_LEASE_MS`, default 2000), and runs
//! dispatcher passes until it is killed. Prints `ready` once connected.
#![forbid(unsafe_code)]

use std::time::Duration;

use inbox_faults::scenario::{self, Settings};
use inbox_store_postgres::PgStore;

#[tokio::main]
async fn main() -> Result<(), String> {
    let var = |k: &str| std::env::var(k).map_err(|_| format!("{k} is not set"));
    let url = var("FAULT_DATABASE_URL")?;
    let mut settings = Settings::new(&var("FAULT_GRAPH_URL")?);
    if let Ok(ms) = var("FAULT_LEASE_MS") {
        let ms: u64 = ms.parse().map_err(|e| format!("FAULT_LEASE_MS: {e}"))?;
        settings.lease = Duration::from_millis(ms);
    }
    let store = PgStore::connect(&url, 8)
        .await
        .map_err(|e| format!("connecting: {e}"))?;
    let inbox = scenario::inbox(store, &settings)?;
    println!("ready");
    let (_stop, stopped) = tokio::sync::watch::channel(false);
    scenario::run_dispatcher(inbox, stopped).await;
    Ok(())
}
