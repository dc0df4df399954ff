//! The outbox under faults, against a private PostgreSQL cluster, the real
//! Graph client and a local stand-in for Meta.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::watch;

use inbox_core::Inbox;
use inbox_faults::scenario::{self, Queued, Settings, Tally};
use inbox_faults::{cluster_or_skip, GraphStandIn, PrivateCluster, Received};
use inbox_store_postgres::PgStore;

async fn store(pg: &PrivateCluster) -> PgStore {
    let store = PgStore::connect(&pg.url(), 8).await.unwrap();
    store.migrate().await.unwrap();
    store
}

/// A stand-in for Meta answering after 30 ms, settings that point at it,
/// and an inbox on `pg` with 200 replies queued (4 to each of 50 customers).
async fn queued_replies(pg: &PrivateCluster) -> (GraphStandIn, Settings, Inbox, Vec<Queued>) {
    let meta = GraphStandIn::start(Duration::from_millis(30))
        .await
        .unwrap();
    let settings = Settings::new(meta.url());
    let inbox = scenario::inbox(store(pg).await, &settings).unwrap();
    let queued = scenario::queue_replies(&inbox, 50, 4).await.unwrap();
    (meta, settings, inbox, queued)
}

/// Requests that reached the stand-in, by our message id.
fn by_message(received: &[Received]) -> BTreeMap<String, Vec<Received>> {
    let mut out: BTreeMap<String, Vec<Received>> = BTreeMap::new();
    for r in received {
        out.entry(r.our_id.clone()).or_default().push(r.clone());
    }
    out
}

/// What every fault test requires in the end: no message reached Meta
/// twice; every message not in doubt reached it exactly once and has the
/// id Meta gave it; each customer got their replies in the order they
/// were written. A message in doubt had its attempt recorded: it reached
/// Meta, unless the process died between recording the attempt and
/// writing the request (`killed`).
fn check_exactly_once(queued: &[Queued], tally: &Tally, received: &[Received], killed: bool) {
    let reached = by_message(received);
    for (id, requests) in &reached {
        assert_eq!(
            requests.len(),
            1,
            "{id} reached Meta {} times",
            requests.len()
        );
    }
    assert!(tally.waiting.is_empty(), "stranded: {:?}", tally.waiting);
    assert!(tally.failed.is_empty(), "failed: {:?}", tally.failed);
    for (id, external) in &tally.sent {
        let got = reached.get(id.as_str()).map(|r| &r[0].wamid);
        assert_eq!(got, Some(external), "{id}: recorded id is Meta's");
    }
    for id in &tally.in_doubt {
        assert!(
            killed || reached.contains_key(id.as_str()),
            "{id} in doubt, never sent"
        );
    }
    assert_eq!(tally.sent.len() + tally.in_doubt.len(), queued.len());
    let mut last: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, r) in received.iter().enumerate() {
        let k = queued
            .iter()
            .position(|q| q.id.as_str() == r.our_id)
            .unwrap();
        let previous = last.insert(&r.to, k);
        assert!(previous.is_none_or(|p| p < k), "request {i} out of order");
        assert_eq!(queued[k].text, r.text);
    }
}

/// Status webhooks for the messages in doubt that Meta had: each is
/// reconciled. One it never had gets no webhook: it stays in doubt until
/// a person sends it again, which sends it once.
async fn reconcile(inbox: &Inbox, tally: &Tally, received: &[Received], meta: &GraphStandIn) {
    let reached = by_message(received);
    for id in &tally.in_doubt {
        let Some(requests) = reached.get(id.as_str()) else {
            send_again(inbox, id, meta).await;
            continue;
        };
        let wamid = &requests[0].wamid;
        inbox.ingest(scenario::delivered(id, wamid)).await.unwrap();
        let m = inbox
            .ports()
            .store
            .message(&scenario::tenant(), id)
            .await
            .unwrap();
        assert!(!m.is_in_doubt(), "{id} reconciled");
        assert_eq!(m.external_id.as_ref(), Some(wamid));
    }
}

/// 200 replies queued; the database stops (immediate shutdown: a crash)
/// once 50 have reached Meta, for five seconds, then starts again. After
/// recovery every reply has been sent exactly once, except those in
/// flight at that moment, which may be in doubt and are reconciled by
/// their status webhooks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_outage_mid_dispatch_strands_nothing_and_doubles_nothing() {
    let Some(pg) = cluster_or_skip() else { return };
    let (meta, settings, inbox, queued) = queued_replies(&pg).await;
    assert_eq!(queued.len(), 200);
    let (stop, stopped) = watch::channel(false);
    let dispatcher = tokio::spawn(scenario::run_dispatcher(inbox.clone(), stopped));
    meta.wait_for(50).await;
    pg.stop_immediate().unwrap();
    let at_outage = meta.received().len();
    tokio::time::sleep(Duration::from_secs(5)).await;
    let during = meta.received().len();
    pg.start().unwrap();
    let store = inbox.ports().store.clone();
    let tally = scenario::wait_settled(&*store, &queued, Duration::from_secs(90)).await;
    stop.send(true).unwrap();
    dispatcher.await.unwrap();
    let received = meta.received();
    eprintln!(
        "reached Meta: {at_outage} at the outage, {during} after it, {} in all; in doubt: {}",
        received.len(),
        tally.in_doubt.len()
    );
    assert!(at_outage < 200, "the outage came mid-dispatch");
    check_exactly_once(&queued, &tally, &received, false);
    assert!(
        tally.in_doubt.len() <= settings.concurrency as usize,
        "at most the sends in flight are in doubt: {}",
        tally.in_doubt.len()
    );
    reconcile(&inbox, &tally, &received, &meta).await;
}

/// The dispatching process is killed (SIGKILL) once 60 replies have
/// reached Meta, and started again: it sends every reply the dead one had
/// not attempted, never resends one it had, and those in doubt are
/// reconciled by their status webhooks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_dispatcher_restarted_sends_the_rest_exactly_once() {
    let Some(pg) = cluster_or_skip() else { return };
    let (meta, settings, inbox, queued) = queued_replies(&pg).await;
    let mut first = spawn_dispatcher(&pg, &meta).await;
    meta.wait_for(60).await;
    first.start_kill().unwrap();
    first.wait().await.unwrap();
    let at_kill = meta.received().len();
    assert!(at_kill < 200, "killed mid-dispatch");
    let mut second = spawn_dispatcher(&pg, &meta).await;
    let store = inbox.ports().store.clone();
    let tally = scenario::wait_settled(&*store, &queued, Duration::from_secs(90)).await;
    second.start_kill().unwrap();
    second.wait().await.unwrap();
    let received = meta.received();
    eprintln!(
        "reached Meta: {at_kill} at the kill, {} in all; in doubt: {}",
        received.len(),
        tally.in_doubt.len()
    );
    check_exactly_once(&queued, &tally, &received, true);
    assert!(tally.in_doubt.len() <= settings.concurrency as usize);
    reconcile(&inbox, &tally, &received, &meta).await;
}

/// Meta answers after the client's timeout: exactly one request reaches it,
/// the reply is in doubt, and later dispatcher passes never send it again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn meta_answering_after_the_timeout_gets_exactly_one_request() {
    let Some(pg) = cluster_or_skip() else { return };
    let meta = GraphStandIn::start(Duration::from_secs(3)).await.unwrap();
    let mut settings = Settings::new(meta.url());
    settings.timeout = Duration::from_millis(500);
    settings.lease = Duration::from_millis(800);
    settings.attempt_lease = Duration::from_millis(800);
    let inbox = scenario::inbox(store(&pg).await, &settings).unwrap();
    let queued = scenario::queue_replies(&inbox, 1, 1).await.unwrap();
    let report = inbox.dispatch(10).await.unwrap();
    assert_eq!((report.in_doubt, report.retried), (1, 0), "{report:?}");
    // Leases lapse and passes go on: nothing is sent again.
    for _ in 0..5 {
        tokio::time::sleep(Duration::from_millis(400)).await;
        inbox.dispatch(10).await.unwrap();
    }
    let received = meta.received();
    assert_eq!(received.len(), 1, "exactly one request reached Meta");
    let store = inbox.ports().store.clone();
    let tally = scenario::tally(&*store, &queued).await.unwrap();
    assert_eq!(tally.in_doubt, vec![queued[0].id.clone()]);
    reconcile(&inbox, &tally, &received, &meta).await;
}

async fn send_again(inbox: &Inbox, id: &inbox_core::MessageId, meta: &GraphStandIn) {
    let store = inbox.ports().store.clone();
    let m = store.message(&scenario::tenant(), id).await.unwrap();
    assert!(m.is_in_doubt());
    let ana = inbox_core::Actor::new(scenario::tenant(), inbox_core::AgentId::new("ana").unwrap());
    let seen = inbox.conversation(&ana, &m.conversation).await.unwrap();
    let version = seen.conversation.version;
    let key = format!("again-{id}");
    let again = inbox
        .resend(&ana, &m.conversation, version, id, &key)
        .await
        .unwrap();
    let copy = again.message.unwrap().id;
    let before = meta.received().len();
    inbox.dispatch(10).await.unwrap();
    let after = meta.received();
    assert_eq!(after.len(), before + 1);
    assert_eq!(after[before].our_id, copy.as_str());
}

async fn spawn_dispatcher(pg: &PrivateCluster, meta: &GraphStandIn) -> tokio::process::Child {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_fault-dispatcher"))
        .env("FAULT_DATABASE_URL", pg.url())
        .env("FAULT_GRAPH_URL", meta.url())
        .env("FAULT_LEASE_MS", "2000")
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let ready = lines.next_line().await.unwrap();
    assert_eq!(ready.as_deref(), Some("ready"));
    child
}
