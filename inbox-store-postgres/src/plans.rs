//! How the group-commit statements are planned.
//!
//! A batch's statements are key lookups and multi-row writes over
//! `UNNEST`ed arrays. Planning each for its parameters (a custom plan) cost
//! about 13% of PostgreSQL's time under ingest load; a generic plan is made
//! once per connection and kept. But a generic plan is made without the
//! parameters' values, from the tables' statistics, and on a table that has
//! none (a new database) every index looks alike: one on the tenant alone
//! can win the dedupe lookup, which then scans the tenant's messages (0.5 s
//! a lookup once the table had grown; 3,500 against 12,000 webhooks a
//! second in the ingest bench).
//!
//! So the committers and readers have two pools ([`BatchPools`]): one that
//! plans every statement for its parameters, used until the tables the
//! batches look up by key have statistics (autovacuum's `ANALYZE`, or the
//! operator's); then one that keeps generic plans. Its connections also
//! turn sequential scans, bitmap scans, hash and merge joins off, so a
//! generic plan is always nested loops over index scans -- the right shape
//! for a batch of keys whatever the table sizes. Later `ANALYZE`s
//! invalidate the plans, which are then made again from the new
//! statistics.

use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgConnection, PgPool, Postgres};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch, Mutex as AsyncMutex};

use crate::changes::Writer;

/// How often, at most, the committers ask whether the tables have
/// statistics yet (one small catalog query).
const CHECK_EVERY: Duration = Duration::from_secs(2);

/// How long a connection of the per-execution pool may sit unused before
/// it is closed. Once the batches move to generic plans that pool is never
/// used again, and with sqlx's default (10 minutes) its connections would
/// stay open, counted against the server's `max_connections`, for that
/// long: on a server short of connections, every other pool's attempts to
/// open one then fail until their acquire timeout.
const CUSTOM_IDLE: Duration = Duration::from_secs(30);

/// The tables the batches look up by key and whose several indexes share
/// the tenant prefix: without statistics a generic plan may pick the
/// wrong one.
const KEYED_TABLES: [&str; 3] = ["inbox_messages", "inbox_conversations", "inbox_contacts"];

/// The connections of the committers and readers: planning per execution
/// until the tables have statistics, generic plans after (see the module
/// documentation).
#[derive(Debug, Clone)]
pub(crate) struct BatchPools {
    custom: Writer,
    generic: Writer,
    state: Arc<State>,
    /// Set when the pools close: the tasks then let their connections go
    /// (see [`Held::next_batch`]), which closing waits for.
    closing: Arc<watch::Sender<bool>>,
}

#[derive(Debug, Default)]
struct State {
    /// Generic plans may be used ([`crate::GroupCommit::generic_plans`]).
    allowed: bool,
    /// The tables have statistics: generic plans from now on.
    generic: AtomicBool,
    /// When the catalog was last asked.
    checked: Mutex<Option<Instant>>,
}

impl BatchPools {
    /// Two lazily connected pools on `options` (the store's own), each of
    /// one connection per task (`tasks`: committers and readers, each of
    /// which keeps one, see [`Held`]) and one more: for the statistics
    /// check and the batches redone one changeset at a time.
    pub(crate) fn new(options: &PgConnectOptions, tasks: u32, generic_plans: bool) -> Self {
        let session = |settings: &[(&str, &str)]| options.clone().options(settings.iter().copied());
        let pool = || {
            PgPoolOptions::new()
                .max_connections(tasks.saturating_add(1))
                .acquire_timeout(Duration::from_secs(5))
        };
        let custom = pool()
            .idle_timeout(CUSTOM_IDLE)
            .connect_lazy_with(session(&[("plan_cache_mode", "force_custom_plan")]));
        let generic = pool().connect_lazy_with(session(&[
            ("plan_cache_mode", "force_generic_plan"),
            ("enable_seqscan", "off"),
            ("enable_bitmapscan", "off"),
            ("enable_hashjoin", "off"),
            ("enable_mergejoin", "off"),
        ]));
        Self {
            custom: Writer::new(custom),
            generic: Writer::new(generic),
            state: Arc::new(State {
                allowed: generic_plans,
                ..State::default()
            }),
            closing: Arc::new(watch::Sender::new(false)),
        }
    }

    /// Told when the pools close.
    pub(crate) fn closing(&self) -> watch::Receiver<bool> {
        self.closing.subscribe()
    }

    /// The writer a batch runs on now (its pool's connections plan per
    /// execution, or keep generic plans).
    pub(crate) async fn writer(&self) -> &Writer {
        if self.uses_generic_plans() {
            return &self.generic;
        }
        if self.state.allowed && self.due() && tables_have_statistics(self.custom.pool()).await {
            self.switch();
            return &self.generic;
        }
        &self.custom
    }

    /// Asks the catalog now whether the tables have statistics (switching
    /// to generic plans if they do); returns whether batches use generic
    /// plans.
    pub(crate) async fn check_now(&self) -> bool {
        if self.state.allowed
            && !self.uses_generic_plans()
            && tables_have_statistics(self.custom.pool()).await
        {
            self.switch();
        }
        self.uses_generic_plans()
    }

    fn switch(&self) {
        if !self.state.generic.swap(true, Ordering::AcqRel) {
            tracing::info!("group commit: the tables have statistics; generic plans from now on");
        }
    }

    /// Whether batches use generic plans (the tables have statistics).
    pub(crate) fn uses_generic_plans(&self) -> bool {
        self.state.generic.load(Ordering::Acquire)
    }

    /// Closes both pools.
    pub(crate) async fn close(&self) {
        // First the tasks let go of the connections they keep, which the
        // pools' closing waits for.
        self.closing.send_replace(true);
        self.custom.pool().close().await;
        self.generic.pool().close().await;
    }

    /// Whether it is time to ask the catalog again (and notes that it is
    /// being asked).
    fn due(&self) -> bool {
        let Ok(mut checked) = self.state.checked.lock() else {
            return false;
        };
        let now = Instant::now();
        match *checked {
            Some(at) if now.duration_since(at) < CHECK_EVERY => false,
            _ => {
                *checked = Some(now);
                true
            }
        }
    }
}

/// Whether every one of [`KEYED_TABLES`] (as the search path finds it) has
/// column statistics. `ANALYZE` of an empty table leaves none, so this
/// also means each had rows when it was analysed. A failed query counts as
/// no (asked again later).
async fn tables_have_statistics(pool: &PgPool) -> bool {
    let found: Result<i64, _> = sqlx::query_scalar(
        "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE c.oid IN (SELECT to_regclass(t) FROM unnest($1::text[]) AS t) \
         AND EXISTS (SELECT 1 FROM pg_stats s WHERE s.schemaname = n.nspname AND s.tablename = c.relname)",
    )
    .bind(&KEYED_TABLES[..])
    .fetch_one(pool)
    .await;
    matches!(found, Ok(n) if n == KEYED_TABLES.len() as i64)
}

/// The connection a committer or reader keeps from one batch to the next.
///
/// Taking a connection from a pool and giving it back costs a round trip
/// each (sqlx checks a connection with a ping as it is acquired and again
/// as it is released), and these tasks run a batch every few
/// milliseconds, so each keeps its own. It is let go after a failed batch
/// (the pool then checks it, and drops it if it is broken) and when the
/// batches move to generic plans (the other pool). One kept idle for
/// more than `IDLE_CHECK` (100 ms) is checked with a ping before its next
/// batch, as the pool would check it: the server may have restarted
/// meanwhile, and a batch sent on a dead connection fails (under load a
/// batch follows the last within milliseconds and pays nothing for this).
#[derive(Default)]
pub(crate) struct Held {
    /// The connection, whether it is from the generic-plan pool, and when
    /// its last batch was handed out.
    conn: Option<(bool, PoolConnection<Postgres>, Instant)>,
}

/// How long a kept connection may sit idle before it is pinged.
const IDLE_CHECK: Duration = Duration::from_millis(100);

/// How long that ping may take before the connection is given up (a server
/// that vanished without closing it never answers).
const PING_TIMEOUT: Duration = Duration::from_secs(2);

impl Held {
    /// The connection to run the next batch on: the one kept, if it is from
    /// the pool batches use now (and, after an idle spell, still answers),
    /// else one taken from that pool.
    pub(crate) async fn get(
        &mut self,
        pools: &BatchPools,
    ) -> Result<&mut PgConnection, sqlx::Error> {
        let writer = pools.writer().await;
        let generic = pools.uses_generic_plans();
        let kept = match self.conn.take() {
            Some((g, conn, used)) if g == generic => Some((conn, used)),
            _ => None,
        };
        let conn = match kept {
            Some((conn, used)) if used.elapsed() < IDLE_CHECK => conn,
            Some((mut conn, _)) => match tokio::time::timeout(PING_TIMEOUT, conn.ping()).await {
                Ok(Ok(())) => conn,
                _ => writer.pool().acquire().await?,
            },
            None => writer.pool().acquire().await?,
        };
        let (_, conn, _) = self.conn.insert((generic, conn, Instant::now()));
        Ok(&mut **conn)
    }

    /// Gives the connection back to its pool (after a failure).
    pub(crate) fn release(&mut self) {
        self.conn = None;
    }

    /// The next batch of the task's queue ([`next_batch`]);
    /// while it waits, the connection is let go if the pools close.
    pub(crate) async fn next_batch<T>(
        &mut self,
        closing: &mut watch::Receiver<bool>,
        rx: &AsyncMutex<mpsc::UnboundedReceiver<T>>,
        max: usize,
    ) -> Option<Vec<T>> {
        loop {
            if *closing.borrow_and_update() {
                self.release();
            }
            if self.conn.is_none() {
                return next_batch(rx, max).await;
            }
            // Both are cancel-safe: a queued item is never lost.
            tokio::select! {
                batch = next_batch(rx, max) => return batch,
                changed = closing.changed() => {
                    if changed.is_err() {
                        self.release();
                    }
                }
            }
        }
    }
}

/// Takes the next batch off a shared queue: waits for one item, then takes
/// what else is already queued, up to `max`. `None` once every sender is
/// gone.
async fn next_batch<T>(rx: &AsyncMutex<mpsc::UnboundedReceiver<T>>, max: usize) -> Option<Vec<T>> {
    let mut rx = rx.lock().await;
    let first = rx.recv().await?;
    let mut items = vec![first];
    while items.len() < max.max(1) {
        match rx.try_recv() {
            Ok(item) => items.push(item),
            Err(_) => break,
        }
    }
    Some(items)
}
