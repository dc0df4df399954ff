//! The web inbox in headless Chromium over a store of 10,000 conversations:
//! time from navigation to the first list on screen, from a click to the
//! conversation on screen, and the page's weight (its files, before any
//! media). The page marks the moments itself (`performance.mark`), so the
//! figures are the browser's own.
//!
//! ```text
//! cargo run --release -p inbox-benches --bin web -- \
//!     [--conversations 10000] [--rounds 20] [--chromedriver /usr/bin/chromedriver]
//! ```

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use inbox_benches::{exit_on_error, flags, number, percentile};
use inbox_core::testing::Fixture;
use inbox_http::{auth::hash_password, router, Accounts, AppState};
use inbox_store_memory::MemoryStore;

struct Args {
    conversations: usize,
    rounds: usize,
    chromedriver: String,
}

fn parse() -> Result<Args, String> {
    let mut a = Args {
        conversations: 10_000,
        rounds: 20,
        chromedriver: "/usr/bin/chromedriver".into(),
    };
    flags(|k, v| {
        match k {
            "--conversations" => a.conversations = number(k, v()?)?,
            "--rounds" => a.rounds = number(k, v()?)?,
            "--chromedriver" => a.chromedriver = v()?,
            other => return Err(format!("unknown argument {other}")),
        }
        Ok(())
    })?;
    Ok(a)
}

/// The fixture's inbox with `n` customers' conversations, served on a free
/// port; ana's password is "ana".
async fn serve(n: usize) -> Result<(String, Fixture), String> {
    let f = Fixture::new(Arc::new(MemoryStore::new()))
        .await
        .map_err(|e| e.to_string())?;
    let started = Instant::now();
    for i in 0..n {
        let text = format!(
            "Hola, soy el cliente {i}: ¿tenéis la talla {}?",
            36 + i % 10
        );
        f.customer_says(
            "1001",
            &format!("wamid.bench.{i}"),
            &format!("346{i:08}"),
            &text,
        )
        .await
        .map_err(|e| e.to_string())?;
    }
    println!(
        "seeded {n} conversations in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let ana = inbox_core::AgentId::new("ana").map_err(|e| e.to_string())?;
    let accounts = Accounts::new(f.acme())
        .with_agent(ana, hash_password("ana")?)
        .map_err(|e| e.to_string())?;
    let app = router(AppState::builder(f.inbox.clone(), accounts).build());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let url = format!(
        "http://{}",
        listener.local_addr().map_err(|e| e.to_string())?
    );
    tokio::spawn(async move {
        let _ = axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await;
    });
    Ok((url, f))
}

async fn browser(chromedriver: &str) -> Result<(Child, Client), String> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| e.to_string())?
        .port();
    let child = Command::new(chromedriver)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("{chromedriver}: {e}"))?;
    let started = Instant::now();
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        if started.elapsed() > Duration::from_secs(20) {
            return Err("chromedriver did not listen".into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": "/usr/bin/chromium",
            "args": ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1280,860"],
        }),
    );
    let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .map_err(|e| e.to_string())?;
    Ok((child, client))
}

/// Runs `script` until it returns a number (polling), then that number.
async fn wait_number(c: &Client, script: &str) -> Result<f64, String> {
    let started = Instant::now();
    loop {
        let v = c.execute(script, vec![]).await.map_err(|e| e.to_string())?;
        if let Some(n) = v.as_f64() {
            return Ok(n);
        }
        if started.elapsed() > Duration::from_secs(30) {
            return Err(format!("timed out waiting for: {script}"));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

const LIST_SHOWN: &str = "const m = performance.getEntriesByName('inbox:list-rendered')[0]; return m ? m.startTime : null;";
const OPENED: &str = "const m = performance.getEntriesByName('inbox:conversation-shown').pop(); return m ? m.duration : null;";
const WEIGHT: &str = "const nav = performance.getEntriesByType('navigation')[0];
  const files = performance.getEntriesByType('resource').filter((r) => !r.name.includes('/api/'));
  return [nav, ...files].reduce((n, r) => n + r.encodedBodySize, 0);";

async fn measure(a: &Args) -> Result<(), String> {
    let (url, _f) = serve(a.conversations).await?;
    let (mut driver, c) = browser(&a.chromedriver).await?;
    c.goto(&url).await.map_err(|e| e.to_string())?;
    for (field, value) in [("signin-agent", "ana"), ("signin-password", "ana")] {
        let input = c
            .wait()
            .for_element(Locator::Css(&format!("[data-testid={field}]")))
            .await
            .map_err(|e| e.to_string())?;
        input.send_keys(value).await.map_err(|e| e.to_string())?;
    }
    c.find(Locator::Css("[data-testid=signin-submit]"))
        .await
        .map_err(|e| e.to_string())?
        .click()
        .await
        .map_err(|e| e.to_string())?;
    wait_number(&c, LIST_SHOWN).await?;
    let (mut first_list, mut open) = (Vec::new(), Vec::new());
    let mut weight = 0.0;
    for round in 0..a.rounds {
        c.refresh().await.map_err(|e| e.to_string())?;
        first_list.push(Duration::from_secs_f64(
            wait_number(&c, LIST_SHOWN).await? / 1000.0,
        ));
        weight = wait_number(&c, WEIGHT).await?;
        // A different conversation each round, down the list.
        let rows = c
            .find_all(Locator::Css("[data-testid=conversation]"))
            .await
            .map_err(|e| e.to_string())?;
        let row = rows
            .get(round % rows.len().max(1))
            .ok_or("no conversation listed")?;
        row.click().await.map_err(|e| e.to_string())?;
        open.push(Duration::from_secs_f64(
            wait_number(&c, OPENED).await? / 1000.0,
        ));
    }
    let report = |name: &str, mut v: Vec<Duration>| {
        v.sort();
        println!(
            "{name}: median {:.0} ms, p95 {:.0} ms ({} rounds)",
            percentile(&v, 50.0).as_secs_f64() * 1000.0,
            percentile(&v, 95.0).as_secs_f64() * 1000.0,
            v.len()
        );
    };
    report("navigation to first list", first_list);
    report("click to conversation", open);
    println!(
        "page weight (files, before media): {:.0} KB",
        weight / 1024.0
    );
    let _ = c.close().await;
    let _ = driver.kill();
    Ok(())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let result = async {
        let a = parse()?;
        measure(&a).await
    }
    .await;
    exit_on_error("web", result);
}
