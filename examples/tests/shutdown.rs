//! Stopping the server with browsers open: live event streams end, a
//! request in flight finishes, the outbox is sent one last time (the reply
//! the request in flight committed included), and the server stops. Once
//! through the `Launch` API, once through the binary with `SIGINT`.
//!
//! Timings are printed, never asserted: the bound below only keeps a
//! broken shutdown from hanging the test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use inbox_examples::server::launch::Delivery;
use inbox_examples::server::simulator::SimContent;

/// Far longer than a working shutdown takes: only a failure guard.
const GUARD: Duration = Duration::from_secs(10);

/// Reads a live stream until it ends; what it carried.
async fn until_ended(mut res: reqwest::Response) -> String {
    let mut seen = String::new();
    let ended = tokio::time::timeout(GUARD, async {
        while let Ok(Some(chunk)) = res.chunk().await {
            seen.push_str(&String::from_utf8_lossy(&chunk));
        }
    })
    .await;
    assert!(ended.is_ok(), "the live stream is still open: {seen}");
    seen
}

/// Opens a live event stream as `token`.
async fn events(http: &reqwest::Client, url: &str, token: &str) -> reqwest::Response {
    let res = http
        .get(format!("{url}/api/events"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res
}

async fn post(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    path: &str,
    key: &str,
    body: Value,
) -> Value {
    let res = http
        .post(format!("{url}{path}"))
        .bearer_auth(token)
        .header("idempotency-key", key)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_ends_live_streams_finishes_requests_and_sends_the_outbox() {
    let delivery = Delivery::Simulate {
        rate: 0,
        status_delay: Duration::from_millis(30),
        graph_timeout: Duration::from_secs(3),
        late: Default::default(),
    };
    // The worker never sends the outbox by itself: only the shutdown does.
    let running = common::launch(delivery, Duration::from_secs(3600), Default::default()).await;
    let url = running.url.clone();
    let meta = running.meta.clone().unwrap();
    let http = reqwest::Client::new();
    meta.customer_writes("34600100001", "Marta", SimContent::Text("¿Hola?".into()))
        .await
        .unwrap();
    let ana = common::sign_in_over_http(&http, &url, "ana", "ana").await;
    let ana = ana["token"].as_str().unwrap().to_string();
    let sam = common::sign_in_over_http(&http, &url, "sam", "sam").await;
    let sam = sam["token"].as_str().unwrap().to_string();
    let page = common::json_answer(
        http.get(format!("{url}/api/conversations?view=unassigned"))
            .bearer_auth(&ana),
    )
    .await;
    let id = page["items"][0]["id"].as_str().unwrap().to_string();
    let claimed = post(
        &http,
        &url,
        &ana,
        &common::conversation_path(&id, "claim"),
        "c1",
        json!({"version": page["items"][0]["version"]}),
    )
    .await;
    // A reply waiting in the outbox.
    let queued = post(
        &http,
        &url,
        &ana,
        &common::conversation_path(&id, "reply"),
        "r1",
        json!({"version": common::version(&claimed), "text": "Queued before the stop"}),
    )
    .await;

    // Two browsers with live streams open.
    let streams = [
        events(&http, &url, &ana).await,
        events(&http, &url, &sam).await,
    ];
    // A request in flight: its headers and half its body sent.
    let body =
        json!({"version": common::version(&queued), "text": "Sent while stopping"}).to_string();
    let (first, rest) = body.as_bytes().split_at(body.len() / 2);
    let mut conn = TcpStream::connect(url.trim_start_matches("http://"))
        .await
        .unwrap();
    let head = format!(
        "POST {} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {ana}\r\nIdempotency-Key: r2\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        common::conversation_path(&id, "reply"),
        body.len()
    );
    conn.write_all(head.as_bytes()).await.unwrap();
    conn.write_all(first).await.unwrap();
    // A browser reconnecting its live stream as the server stops: the
    // request's head is not complete yet.
    let mut late_stream = TcpStream::connect(url.trim_start_matches("http://"))
        .await
        .unwrap();
    let late_head =
        format!("GET /api/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {sam}\r\n");
    late_stream.write_all(late_head.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;

    let started = Instant::now();
    let stopping = tokio::spawn(async move {
        running.shutdown().await;
        started.elapsed()
    });
    // The rest of the body arrives after the stop: the request finishes.
    tokio::time::sleep(Duration::from_millis(100)).await;
    conn.write_all(rest).await.unwrap();
    // The live stream is asked for after the stop: it ends at once (or its
    // connection is closed unanswered).
    let _ = late_stream.write_all(b"\r\n").await;
    let mut late = Vec::new();
    tokio::time::timeout(GUARD, late_stream.read_to_end(&mut late))
        .await
        .expect("a live stream asked for while stopping ends")
        .ok();
    println!(
        "asked for while stopping: {}",
        String::from_utf8_lossy(&late)
    );
    let mut answer = Vec::new();
    tokio::time::timeout(GUARD, conn.read_to_end(&mut answer))
        .await
        .expect("the request in flight is answered and its connection closed")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");

    for stream in streams {
        until_ended(stream).await;
    }
    let took = tokio::time::timeout(GUARD, stopping)
        .await
        .expect("the server stops")
        .unwrap();
    println!("shutdown took {took:?} (live streams open, a request in flight)");

    // The last outbox pass sent both replies, the one committed while
    // stopping too.
    let sent: Vec<_> = meta.received().into_iter().filter_map(|r| r.text).collect();
    assert_eq!(sent, ["Queued before the stop", "Sent while stopping"]);
    // Nothing listens any more.
    assert!(TcpStream::connect(url.trim_start_matches("http://"))
        .await
        .is_err());
}

/// The server binary next to this test's, when `cargo test` built it
/// (it builds the package's examples unless tests are picked by name).
fn server_binary() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let dir = exe.parent()?.parent()?;
    let path = dir
        .join("examples")
        .join(format!("server{}", std::env::consts::EXE_SUFFIX));
    path.exists().then_some(path)
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_stops_at_sigint_with_a_live_stream_open() {
    let Some(binary) = server_binary() else {
        eprintln!("SKIPPED: the server example is not built (cargo build --example server)");
        return;
    };
    let mut child = Command::new(&binary)
        .args(["--simulate", "--rate", "0", "--listen", "127.0.0.1:0"])
        .env_remove("DATABASE_URL")
        .env_remove("WHATSAPP_ACCESS_TOKEN")
        .env_remove("INBOX_GRAPH_URL")
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // The first address it prints is the inbox's.
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut printed = Vec::new();
    let url = loop {
        let line = lines
            .next()
            .expect("the server prints its address")
            .unwrap();
        printed.push(line.clone());
        if let Some(at) = line.find("http://") {
            assert!(line.starts_with("inbox on "), "{printed:#?}");
            let url = line[at..].split_whitespace().next().unwrap();
            break url.trim_end_matches('/').to_string();
        }
    };
    // Keep reading what it prints (the pipe must not fill up).
    let printer = std::thread::spawn(move || lines.map_while(Result::ok).collect::<Vec<_>>());

    let http = reqwest::Client::new();
    let ana = common::sign_in_over_http(&http, &url, "ana", "ana").await;
    let stream = events(&http, &url, ana["token"].as_str().unwrap()).await;

    let started = Instant::now();
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    until_ended(stream).await;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > GUARD {
            let _ = child.kill();
            panic!("the server still runs {GUARD:?} after SIGINT");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    println!("the binary stopped {:?} after SIGINT", started.elapsed());
    assert!(status.success(), "{status:?}");
    let rest = printer.join().unwrap();
    assert!(rest.iter().any(|l| l.contains("stopped")), "{rest:#?}");
}
