//! Shared data and steps for the inbox benchmarks: realistic webhook
//! bodies, fresh and settled databases, percentiles, and the plumbing the
//! load binaries share (flags, the inbox they run, how they exit).
//!
//! Run the benchmarks with `cargo bench -p inbox-benches`; figures and the
//! commands that produced them are in `BENCHMARKS.md` at the repository
//! root.

pub mod loopback;
pub mod seed;

use serde_json::{json, Value};
use std::fmt::Display;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use inbox_core::ports::Store;
use inbox_core::testing::RecordingTransport;
use inbox_core::{Inbox, InboxConfig};
use inbox_store_memory::MemoryEventBus;

/// The phone number id the generated webhooks are addressed to.
pub const PHONE_NUMBER_ID: &str = "106540352242922";

fn envelope(value: Value) -> Value {
    json!({
        "object": "whatsapp_business_account",
        "entry": [{ "id": "102290129340398", "changes": [{ "field": "messages", "value": value }] }]
    })
}

fn message_value(from: &str, name: &str, message: Value) -> Value {
    json!({
        "messaging_product": "whatsapp",
        "metadata": { "display_phone_number": "15550783881", "phone_number_id": PHONE_NUMBER_ID },
        "contacts": [{ "profile": { "name": name }, "wa_id": from }],
        "messages": [message]
    })
}

/// A fixed time for bodies whose timestamps do not matter (decoding
/// benchmarks): 2025-10-09.
pub const FIXED_TIME: u64 = 1_760_000_000;

/// Webhook body number `i` of a realistic mix, as Meta sends them (one item
/// per webhook): 50% text, 10% image, 5% voice, 5% interactive replies,
/// 5% reactions, 25% status batches (sent, delivered, read). Message ids are
/// unique per `i`.
///
/// Timestamps (unix seconds) start at `start` and advance a second every
/// 20 bodies, so each customer's messages (every 5,000th body) are 250 s
/// apart and each moves its conversation's activity time, as real traffic
/// does. (With timestamps fixed in the past -- the mix before 2026-11-25 --
/// no message after the first moved it, and conversation updates were
/// cheaper than in production.) The inbox takes a timestamp in its future
/// as "now".
pub fn webhook_body(i: u64, start: u64) -> Vec<u8> {
    let from = customer_wa_id(i);
    let name = format!("Customer {}", i % 5_000);
    let id = format!("wamid.HBgLMzQ2MTEwMDAwMDEVAgASGBQz{i:016X}");
    let ts = (start + i / 20).to_string();
    let value = match i % 20 {
        0..=9 => message_value(
            &from,
            &name,
            json!({
                "from": from, "id": id, "timestamp": ts, "type": "text",
                "text": { "body": format!("Hi! I ordered #{} last week and it still hasn't arrived, can you check?", 1000 + i % 9000) }
            }),
        ),
        10 | 11 => message_value(
            &from,
            &name,
            json!({
                "from": from, "id": id, "timestamp": ts, "type": "image",
                "image": { "caption": "this is what arrived", "mime_type": "image/jpeg",
                           "sha256": "SfInY0gGKTsJlUWbwxC1k+FAD0FZHvzwfpvO0zX0GUI=", "id": format!("{}", 1003383421387256u64 + i) }
            }),
        ),
        12 => message_value(
            &from,
            &name,
            json!({
                "from": from, "id": id, "timestamp": ts, "type": "audio",
                "audio": { "mime_type": "audio/ogg; codecs=opus", "sha256": "abc", "id": "2212345", "voice": true }
            }),
        ),
        13 => message_value(
            &from,
            &name,
            json!({
                "context": { "from": "15550783881", "id": "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI3MEM2RUJFNkI0RENGQTVDRjUA" },
                "from": from, "id": id, "timestamp": ts, "type": "interactive",
                "interactive": { "type": "button_reply", "button_reply": { "id": "track-order", "title": "Track my order" } }
            }),
        ),
        14 => message_value(
            &from,
            &name,
            json!({
                "from": from, "id": id, "timestamp": ts, "type": "reaction",
                "reaction": { "message_id": "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI0RTJEOTc2ODVERUY5RDlGNkYA", "emoji": "👍" }
            }),
        ),
        _ => {
            let statuses: Vec<Value> = ["sent", "delivered", "read"].iter().enumerate().map(|(k, s)| json!({
                "id": format!("wamid.out.{i:016X}"), "status": s, "timestamp": (start + i / 20 + k as u64).to_string(),
                "recipient_id": from, "biz_opaque_callback_data": format!("msg_{i:032x}"),
                "conversation": { "id": "c9e2e2b5f1a3c4d5e6f7a8b9c0d1e2f3", "origin": { "type": "service" } },
                "pricing": { "billable": false, "pricing_model": "PMP", "category": "service", "type": "free_customer_service" }
            })).collect();
            json!({
                "messaging_product": "whatsapp",
                "metadata": { "display_phone_number": "15550783881", "phone_number_id": PHONE_NUMBER_ID },
                "statuses": statuses
            })
        }
    };
    serde_json::to_vec(&envelope(value)).unwrap_or_default()
}

/// Whether body `i` of the mix is a status batch (its statuses report on
/// the outbound message `msg_{i:032x}`, provider id `wamid.out.{i:016X}`,
/// sent to customer `i % 5000`).
pub fn is_status_body(i: u64) -> bool {
    i % 20 >= 15
}

/// The outbound message status body `i` reports on, as the store holds it
/// once Meta accepted it: `msg_{i:032x}`, provider id `wamid.out.{i:016X}`,
/// written by `agent` in `conversation` of tenant `tenant` at `now`.
pub fn accepted_reply(
    tenant: &inbox_core::TenantId,
    i: u64,
    conversation: &inbox_core::ConversationId,
    agent: &inbox_core::AgentId,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<inbox_core::model::Message, String> {
    use inbox_core::model::{Author, Content, DeliveryState, DeliveryStatus, Direction, Message};
    let err = |e: inbox_core::Error| e.to_string();
    Ok(Message {
        tenant: tenant.clone(),
        id: inbox_core::MessageId::new(format!("msg_{i:032x}")).map_err(err)?,
        conversation: conversation.clone(),
        channel: inbox_core::ChannelId::new("main").map_err(err)?,
        direction: Direction::Outbound,
        author: Author::Agent(agent.clone()),
        content: Content::text("Your order #4521 left our warehouse today."),
        external_id: Some(format!("wamid.out.{i:016X}")),
        idempotency_key: None,
        context: Default::default(),
        mentions: Vec::new(),
        sent_at: now,
        created_at: now,
        delivery: Some(DeliveryState {
            pricing: None,
            status: DeliveryStatus::Accepted,
            updated_at: now,
            error: None,
            in_doubt_since: None,
            resent_as: None,
        }),
        response: None,
        origin: Default::default(),
    })
}

/// The wa_id of customer `k` of the mix.
pub fn customer_wa_id(k: u64) -> String {
    format!("3461{:07}", k % 5_000)
}

/// A webhook body with one text message from customer `k` (its id made
/// from `tag`, so that it is unique), sent at `at` (unix seconds).
pub fn customer_text_body(k: u64, tag: &str, text: &str, at: u64) -> Vec<u8> {
    let from = customer_wa_id(k);
    let body = envelope(message_value(
        &from,
        &format!("Customer {}", k % 5_000),
        json!({
            "from": from, "id": format!("wamid.{tag}.{k}"), "timestamp": at.to_string(), "type": "text",
            "text": { "body": text }
        }),
    ));
    serde_json::to_vec(&body).unwrap_or_default()
}

/// `n` bodies of the mix (timestamps from [`FIXED_TIME`]).
pub fn webhook_mix(n: u64) -> Vec<Vec<u8>> {
    (0..n).map(|i| webhook_body(i, FIXED_TIME)).collect()
}

/// The real-world webhook bodies of the WhatsApp adapter's decoding tests
/// (`inbox-whatsapp/tests/fixtures/*.json`), each with its file name, in
/// file-name order; none when the folder cannot be read.
pub fn webhook_fixtures() -> Vec<(String, Vec<u8>)> {
    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../inbox-whatsapp/tests/fixtures"
    );
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .filter_map(|p| {
            let name = p.file_name()?.to_string_lossy().into_owned();
            Some((name, std::fs::read(&p).ok()?))
        })
        .collect();
    out.sort();
    out
}

/// A fresh database on the server of `url` (named `<prefix>_<time>`), with
/// the store's migrations applied; returns its URL. Databases of earlier
/// runs with the same prefix are dropped.
pub async fn fresh_database(url: &str, prefix: &str) -> Result<String, String> {
    use sqlx::{ConnectOptions, Connection};
    use std::str::FromStr;
    let opts = sqlx::postgres::PgConnectOptions::from_str(url)
        .map_err(|e| format!("bad database URL: {e}"))?;
    let mut conn = sqlx::postgres::PgConnection::connect_with(&opts)
        .await
        .map_err(|e| format!("cannot connect: {e}"))?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let name = format!("{prefix}_{now}_{}", std::process::id());
    // Earlier runs' databases go (the latest run's stays for inspection
    // until the next run), but not one a run going on at the same time is
    // connected to (`benches/ab.sh` runs two at once).
    let old: Vec<String> = sqlx::query_scalar(
        "SELECT datname FROM pg_database d WHERE starts_with(datname, $1) \
         AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.datname = d.datname)",
    )
    .bind(format!("{prefix}_"))
    .fetch_all(&mut conn)
    .await
    .map_err(|e| e.to_string())?;
    for db in old {
        // One connected to since the query above stays.
        let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS \"{db}\""))
            .execute(&mut conn)
            .await;
    }
    sqlx::query(&format!("CREATE DATABASE \"{name}\""))
        .execute(&mut conn)
        .await
        .map_err(|e| format!("CREATE DATABASE: {e}"))?;
    let _ = conn.close().await;
    let db_url = opts.database(&name).to_url_lossy().to_string();
    let store = inbox_store_postgres::PgStore::connect(&db_url, 2)
        .await
        .map_err(|e| e.to_string())?;
    store.migrate().await.map_err(|e| e.to_string())?;
    store.pool().close().await;
    Ok(db_url)
}

/// Drops the database `db_url` names, through the server at `url` (a run's
/// own database, at its end). Errors are ignored: the next run drops what
/// is left.
pub async fn drop_database(url: &str, db_url: &str) {
    use sqlx::Connection;
    let Some(name) = db_url.rsplit('/').next().and_then(|n| n.split('?').next()) else {
        return;
    };
    if let Ok(mut conn) = sqlx::postgres::PgConnection::connect(url).await {
        let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
            .execute(&mut conn)
            .await;
        let _ = conn.close().await;
    }
}

/// Opens customer `k`'s conversation the way the mix's status bodies
/// expect: a signed text webhook ingested by `inbox`. Its id.
pub async fn open_conversation(
    inbox: &Inbox,
    hook: &inbox_whatsapp::Webhook,
    secret: &inbox_whatsapp::Secret,
    k: u64,
    start: u64,
) -> Result<inbox_core::ConversationId, String> {
    let body = customer_text_body(k, "seed", "Hi, where is my order?", start);
    let signature = inbox_whatsapp::sign(secret, &body);
    let items = hook
        .verify_and_decode(Some(&signature), &body, chrono::Utc::now())
        .map_err(|e| e.to_string())?;
    let event = items
        .iter()
        .find_map(|d| d.to_inbound())
        .ok_or("seed webhook decoded to nothing")?;
    match inbox.ingest(event).await.map_err(|e| e.to_string())? {
        inbox_core::IngestOutcome::Stored { conversation, .. } => Ok(conversation),
        other => Err(format!("seed message not stored: {other:?}")),
    }
}

/// The database `name` on the server of `url`, created when missing (a
/// data set seeded once and kept between runs); returns its URL.
pub async fn kept_database(url: &str, name: &str) -> Result<String, String> {
    use sqlx::ConnectOptions;
    use std::str::FromStr;
    let opts = sqlx::postgres::PgConnectOptions::from_str(url).map_err(|e| e.to_string())?;
    let admin = inbox_store_postgres::PgStore::connect(url, 1)
        .await
        .map_err(|e| e.to_string())?;
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(name)
            .fetch_one(admin.pool())
            .await
            .map_err(|e| e.to_string())?;
    if !exists {
        sqlx::query(&format!("CREATE DATABASE \"{name}\""))
            .execute(admin.pool())
            .await
            .map_err(|e| e.to_string())?;
    }
    admin.pool().close().await;
    Ok(opts.database(name).to_url_lossy().to_string())
}

/// Percentile (0..=100) of sorted samples.
pub fn percentile(sorted: &[std::time::Duration], p: f64) -> std::time::Duration {
    if sorted.is_empty() {
        return std::time::Duration::ZERO;
    }
    let idx = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

/// Brings the server of `url` to the same quiet state before a measured
/// phase, so that no phase pays for the one before it: an `ANALYZE` (the
/// statistics a running database has; autovacuum would gather them within
/// a minute or so), with `vacuum` a `VACUUM ANALYZE` of the database (the
/// dead rows the previous phase left are cleaned now, not by autovacuum
/// during the next phase); then a `CHECKPOINT` (no phase starts with a checkpoint's writes owed by the one
/// before it); then waits, up to a minute, until no autovacuum worker is
/// running. Returns what it could not do, for the bench to print
/// (`CHECKPOINT` needs superuser or `pg_checkpoint`).
pub async fn settle(url: &str, vacuum: bool) -> Vec<String> {
    use sqlx::Connection;
    let mut notes = Vec::new();
    let mut conn = match sqlx::postgres::PgConnection::connect(url).await {
        Ok(c) => c,
        Err(e) => return vec![format!("cannot connect to settle the server: {e}")],
    };
    let clean = if vacuum { "VACUUM ANALYZE" } else { "ANALYZE" };
    if let Err(e) = sqlx::query(clean).execute(&mut conn).await {
        notes.push(format!("{clean} failed ({e}); measured without it"));
    }
    if let Err(e) = sqlx::query("CHECKPOINT").execute(&mut conn).await {
        notes.push(format!("CHECKPOINT failed ({e}); measured without it"));
    }
    let start = std::time::Instant::now();
    loop {
        let busy: Result<i64, _> = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'autovacuum worker'",
        )
        .fetch_one(&mut conn)
        .await;
        match busy {
            Ok(0) => break,
            Ok(n) if start.elapsed() > std::time::Duration::from_secs(60) => {
                notes.push(format!("{n} autovacuum workers still running after 60 s"));
                break;
            }
            Ok(_) => tokio::time::sleep(std::time::Duration::from_millis(200)).await,
            Err(e) => {
                notes.push(format!("cannot see autovacuum workers: {e}"));
                break;
            }
        }
    }
    let _ = conn.close().await;
    notes
}

/// Runs each of the command line's flags through `handle`, with a way to
/// take the value that follows the flag (an error when there is none).
pub fn flags(
    mut handle: impl FnMut(&str, &mut dyn FnMut() -> Result<String, String>) -> Result<(), String>,
) -> Result<(), String> {
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        handle(&flag, &mut value)?;
    }
    Ok(())
}

/// `value` of `flag` parsed as a number (or anything `FromStr`); the error
/// names the flag.
pub fn number<T: FromStr>(flag: &str, value: String) -> Result<T, String>
where
    T::Err: Display,
{
    value.parse().map_err(|e| format!("{flag}: {e}"))
}

/// Ends a load binary: prints the error of `result`, if any, after the
/// binary's name, and exits with status 2.
pub fn exit_on_error(bin: &str, result: Result<(), String>) {
    if let Err(e) = result {
        eprintln!("{bin}: {e}");
        std::process::exit(2);
    }
}

/// An inbox on `store` as the load binaries run it: the system clock,
/// time-ordered ids, an in-process bus, a transport that only records, and
/// the default configuration.
pub fn inbox_on(store: Arc<dyn Store>) -> Inbox {
    let bus = Arc::new(MemoryEventBus::default());
    let transport = Arc::new(RecordingTransport::new());
    Inbox::new(
        inbox_runtime::ports(store, bus, transport),
        InboxConfig::default(),
    )
}

/// [`settle`]s the server of `url` and prints what it could not do.
pub async fn settle_and_say(url: &str, vacuum: bool) {
    for note in settle(url, vacuum).await {
        eprintln!("settle: {note}");
    }
}

/// A duration in milliseconds, for printing.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}
