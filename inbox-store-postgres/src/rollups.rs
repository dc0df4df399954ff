//! Reports from rollups (migration 31): sums of the conversations'
//! contributions per filter and UTC hour, day and month
//! ([`inbox_core::metrics::rollup`]), kept up to date from the
//! conversations the writes marked (`inbox_report_dirty`) before each
//! report, so a report reads a few dozen sums and the conversations of at
//! most two partial hours, however long its range.
//!
//! The sums are exact (counts and `(value, count)` histograms), so the
//! report is the one the rows give: the conformance suite compares both.

use sqlx::postgres::PgRow;
use sqlx::{PgConnection, PgPool, Postgres, QueryBuilder, Row};
use std::collections::{BTreeMap, HashMap};

use inbox_core::error::{Error, Result};
use inbox_core::ids::{AgentId, ChannelId, TeamId, TenantId};
use inbox_core::metrics::rollup::{cover, Contribution, Dimension, Level, Shape, Tally, Written};
use inbox_core::metrics::{MetricsQuery, MetricsReport};
use inbox_core::model::Direction;

use crate::error::db;
use crate::sql::micros;

/// How many marked conversations one refresh transaction sums.
const BATCH: i64 = 2_000;

/// With more conversations marked than this (a bulk import, the first
/// report after the upgrade that added rollups), the tenant's rollups are
/// built again from every conversation, a day of them at a time, rather
/// than moved one conversation at a time.
const REBUILD_AT: i64 = 50_000;

/// A rollup row's key: dimension, level and bucket start.
type Key = (Dimension, Level, i64);

/// The report from the rollups, or `None` when the query's filters are a
/// combination no rollup keeps ([`Shape::of`]).
pub(crate) async fn metrics(
    pool: &PgPool,
    tenant: &TenantId,
    query: &MetricsQuery,
) -> Result<Option<MetricsReport>> {
    let Some(shape) = Shape::of(query) else {
        return Ok(None);
    };
    refresh(pool, tenant).await?;
    let split = cover(micros(query.from), micros(query.to), shape.finest());
    let mut conn = pool.acquire().await.map_err(|e| db("report rollups", e))?;
    let mut parts = buckets(&mut conn, tenant, &shape, &split.buckets).await?;
    let mut edges = Tally::default();
    for (from, to) in split.edges {
        let mut edge = query.clone();
        edge.from = instant(from)?;
        edge.to = instant(to)?;
        let found = load(&mut conn, tenant, |qb| push_population(qb, &edge)).await?;
        for k in found.values() {
            edges.add(k, 1);
        }
    }
    parts.push(edges);
    Ok(Some(Tally::report_of(&parts, query)))
}

fn instant(us: i64) -> Result<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::from_timestamp_micros(us)
        .ok_or_else(|| Error::invalid("from", "out of range"))
}

/// The population's filters for `query` (after `WHERE tenant_id = …`):
/// an edge of a rollup's range, at most two hours or days, so the
/// opening-time index drives it and the tag is a filter.
fn push_population(qb: &mut QueryBuilder<'_, Postgres>, query: &MetricsQuery) {
    push_opened(qb, micros(query.from), micros(query.to));
    crate::reports::push_filters(qb, query, crate::reports::TagLookup::Filtered);
}

/// Opened in `[from, to)`, on `(-created_us)`: the expression of the
/// `newest` keyset index, so that index finds the range.
fn push_opened(qb: &mut QueryBuilder<'_, Postgres>, from: i64, to: i64) {
    qb.push(" AND (-created_us) <= ")
        .push_bind(from.saturating_neg())
        .push(" AND (-created_us) > ")
        .push_bind(to.saturating_neg());
}

/// The rollups of `shape` over whole `buckets` (those that hold any).
async fn buckets(
    conn: &mut PgConnection,
    tenant: &TenantId,
    shape: &Shape,
    buckets: &[(Level, i64)],
) -> Result<Vec<Tally>> {
    if buckets.is_empty() {
        return Ok(Vec::new());
    }
    let levels: Vec<&str> = buckets.iter().map(|(l, _)| l.as_str()).collect();
    let starts: Vec<i64> = buckets.iter().map(|(_, s)| *s).collect();
    // Driven by the buckets, an index probe each (`OFFSET 0` keeps the
    // planner from turning it into a scan of every bucket when the
    // table's statistics are not there yet).
    let rows = sqlx::query(
        "SELECT x.tally FROM UNNEST($6::text[], $7::int8[]) AS b(level, bucket_us) \
         CROSS JOIN LATERAL (SELECT r.tally FROM inbox_report_rollups r WHERE r.tenant_id = $1 \
         AND r.team_id = $2 AND r.owner = $3 AND r.tag = $4 AND r.level = b.level \
         AND r.bucket_us = b.bucket_us AND ($5::text IS NULL OR r.channel_id = $5) OFFSET 0) x",
    )
    .bind(tenant.as_str())
    .bind(shape.team.as_ref().map_or("", |t| t.as_str()))
    .bind(shape.owner.as_ref().map_or("", |o| o.as_str()))
    .bind(shape.tag.as_deref().unwrap_or(""))
    .bind(shape.channel.as_ref().map(|c| c.as_str()))
    .bind(levels)
    .bind(starts)
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| db("report rollups", e))?;
    rows.iter().map(|r| decode::<Tally>(r.get(0))).collect()
}

/// Sums what changed: takes away the recorded contribution of every
/// conversation marked since the last refresh and adds its current one,
/// in batches, one transaction each. A tenant's refreshes take turns (an
/// advisory lock), so each marked conversation is summed once.
pub(crate) async fn refresh(pool: &PgPool, tenant: &TenantId) -> Result<()> {
    let marked: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT 1 FROM inbox_report_dirty WHERE tenant_id = $1 LIMIT $2) d",
    )
    .bind(tenant.as_str())
    .bind(REBUILD_AT + 1)
    .fetch_one(pool)
    .await
    .map_err(|e| db("report refresh", e))?;
    if marked > REBUILD_AT {
        return rebuild(pool, tenant).await;
    }
    loop {
        let mut tx = pool.begin().await.map_err(|e| db("report refresh", e))?;
        sqlx::query(
            "SELECT pg_advisory_xact_lock(hashtextextended('inbox_report_rollups:' || $1, 0))",
        )
        .bind(tenant.as_str())
        .execute(&mut *tx)
        .await
        .map_err(|e| db("report refresh", e))?;
        // Waits for a writer still holding a marked row, so what follows
        // reads what that writer committed.
        let ids: Vec<String> = sqlx::query_scalar(
            "DELETE FROM inbox_report_dirty d WHERE d.tenant_id = $1 AND d.conversation_id IN \
             (SELECT conversation_id FROM inbox_report_dirty WHERE tenant_id = $1 LIMIT $2) \
             RETURNING d.conversation_id",
        )
        .bind(tenant.as_str())
        .bind(BATCH)
        .fetch_all(&mut *tx)
        .await
        .map_err(|e| db("report refresh", e))?;
        if ids.is_empty() {
            return tx.commit().await.map_err(|e| db("report refresh", e));
        }
        sum_again(&mut tx, tenant, &ids).await?;
        tx.commit().await.map_err(|e| db("report refresh", e))?;
        if (ids.len() as i64) < BATCH {
            return Ok(());
        }
    }
}

/// Builds the tenant's rollups again from all its conversations, in the
/// order they were opened: a day's contributions are loaded at a time, a
/// month's rollups written at once. One transaction, under the refresh
/// lock; conversations written meanwhile are marked again and moved by
/// the next refresh.
pub(crate) async fn rebuild(pool: &PgPool, tenant: &TenantId) -> Result<()> {
    let mut tx = pool.begin().await.map_err(|e| db("report rebuild", e))?;
    let t = tenant.as_str();
    for sql in [
        "SELECT pg_advisory_xact_lock(hashtextextended('inbox_report_rollups:' || $1, 0))",
        "DELETE FROM inbox_report_dirty WHERE tenant_id = $1",
        "DELETE FROM inbox_report_rollups WHERE tenant_id = $1",
        "DELETE FROM inbox_report_contributions WHERE tenant_id = $1",
    ] {
        sqlx::query(sql)
            .bind(t)
            .execute(&mut *tx)
            .await
            .map_err(|e| db("report rebuild", e))?;
    }
    let (first, last): (Option<i64>, Option<i64>) = sqlx::query_as(
        "SELECT min(created_us), max(created_us) FROM inbox_conversations WHERE tenant_id = $1",
    )
    .bind(t)
    .fetch_one(&mut *tx)
    .await
    .map_err(|e| db("report rebuild", e))?;
    let (Some(first), Some(last)) = (first, last) else {
        return tx.commit().await.map_err(|e| db("report rebuild", e));
    };
    let mut month: BTreeMap<Key, Tally> = BTreeMap::new();
    let mut day = Level::Day.start(first);
    while day <= last {
        let end = Level::Day.end(day);
        let found = load(&mut tx, tenant, |qb| {
            push_opened(qb, day, end);
        })
        .await?;
        let mut keep = Vec::with_capacity(found.len());
        for (id, k) in &found {
            for dim in k.dimensions() {
                for &level in dim.levels() {
                    let key = (dim.clone(), level, level.start(k.created_us));
                    month.entry(key).or_default().add(k, 1);
                }
            }
            keep.push((id.clone(), encode(k)?));
        }
        record(&mut tx, tenant, keep, Vec::new()).await?;
        if Level::Month.start(end) != Level::Month.start(day) || end > last {
            apply(&mut tx, tenant, std::mem::take(&mut month)).await?;
        }
        day = end;
    }
    tx.commit().await.map_err(|e| db("report rebuild", e))
}

/// Moves the contributions of `ids` from what was recorded to what they
/// are now.
async fn sum_again(conn: &mut PgConnection, tenant: &TenantId, ids: &[String]) -> Result<()> {
    let now = load(&mut *conn, tenant, |qb| {
        qb.push(" AND conversation_id = ANY(")
            .push_bind(ids.to_vec())
            .push(")");
    })
    .await?;
    let before = recorded(&mut *conn, tenant, ids).await?;
    let mut deltas: BTreeMap<Key, Tally> = BTreeMap::new();
    let (mut keep, mut drop) = (Vec::new(), Vec::new());
    for id in ids {
        let (old, new) = (before.get(id), now.get(id));
        if old == new {
            continue;
        }
        for (k, sign) in [(old, -1), (new, 1)] {
            let Some(k) = k else { continue };
            for dim in k.dimensions() {
                for &level in dim.levels() {
                    let key = (dim.clone(), level, level.start(k.created_us));
                    deltas.entry(key).or_default().add(k, sign);
                }
            }
        }
        match new {
            Some(k) => keep.push((id.clone(), encode(k)?)),
            None => drop.push(id.clone()),
        }
    }
    apply(&mut *conn, tenant, deltas).await?;
    record(conn, tenant, keep, drop).await
}

/// The contributions recorded for `ids`.
async fn recorded(
    conn: &mut PgConnection,
    tenant: &TenantId,
    ids: &[String],
) -> Result<HashMap<String, Contribution>> {
    let rows = sqlx::query(
        "SELECT conversation_id, contribution FROM inbox_report_contributions \
         WHERE tenant_id = $1 AND conversation_id = ANY($2)",
    )
    .bind(tenant.as_str())
    .bind(ids)
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| db("report contributions", e))?;
    rows.iter()
        .map(|r| Ok((r.get::<String, _>(0), decode(r.get(1))?)))
        .collect()
}

/// Records the contributions now summed (`keep`) and forgets those of
/// conversations no report counts any more (`drop`).
async fn record(
    conn: &mut PgConnection,
    tenant: &TenantId,
    keep: Vec<(String, Vec<u8>)>,
    drop: Vec<String>,
) -> Result<()> {
    let (ids, data): (Vec<String>, Vec<Vec<u8>>) = keep.into_iter().unzip();
    sqlx::query(
        "INSERT INTO inbox_report_contributions (tenant_id, conversation_id, contribution) \
         SELECT $1, * FROM UNNEST($2::text[], $3::bytea[]) \
         ON CONFLICT (tenant_id, conversation_id) DO UPDATE SET contribution = EXCLUDED.contribution",
    )
    .bind(tenant.as_str())
    .bind(ids)
    .bind(data)
    .execute(&mut *conn)
    .await
    .map_err(|e| db("report contributions", e))?;
    sqlx::query(
        "DELETE FROM inbox_report_contributions WHERE tenant_id = $1 AND conversation_id = ANY($2)",
    )
    .bind(tenant.as_str())
    .bind(drop)
    .execute(&mut *conn)
    .await
    .map_err(|e| db("report contributions", e))?;
    Ok(())
}

/// Adds `deltas` to the rollups (a rollup summing to nothing is removed).
async fn apply(
    conn: &mut PgConnection,
    tenant: &TenantId,
    mut deltas: BTreeMap<Key, Tally>,
) -> Result<()> {
    deltas.retain(|_, t| !t.is_empty());
    if deltas.is_empty() {
        return Ok(());
    }
    let keys = KeyColumns::of(deltas.keys());
    let mut qb = QueryBuilder::new("SELECT x.* ");
    keys.push_rows(
        &mut qb,
        tenant,
        "r.team_id, r.owner, r.tag, r.channel_id, r.level, r.bucket_us, r.tally",
    );
    let rows = qb
        .build()
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| db("report rollups", e))?;
    for r in &rows {
        let key = key_of(r)?;
        if let Some(delta) = deltas.get_mut(&key) {
            delta.merge(&decode::<Tally>(r.get(6))?, 1);
        }
    }
    let (mut kept, mut gone) = (BTreeMap::new(), Vec::new());
    for (key, tally) in deltas {
        match tally.is_empty() {
            true => gone.push(key),
            false => {
                kept.insert(key, encode(&tally)?);
            }
        }
    }
    write_rollups(conn, tenant, kept, gone).await
}

/// Writes the rollups of `kept` and removes those of `gone`.
async fn write_rollups(
    conn: &mut PgConnection,
    tenant: &TenantId,
    kept: BTreeMap<Key, Vec<u8>>,
    gone: Vec<Key>,
) -> Result<()> {
    if !kept.is_empty() {
        let keys = KeyColumns::of(kept.keys());
        let data: Vec<Vec<u8>> = kept.into_values().collect();
        let mut qb = QueryBuilder::new(
            "INSERT INTO inbox_report_rollups (tenant_id, team_id, owner, tag, channel_id, level, bucket_us, tally) \
             SELECT ",
        );
        qb.push_bind(tenant.as_str().to_string()).push(", * FROM ");
        keys.push_unnest(&mut qb, Some(data));
        qb.push(
            " ON CONFLICT (tenant_id, team_id, owner, tag, level, bucket_us, channel_id) \
             DO UPDATE SET tally = EXCLUDED.tally",
        );
        qb.build()
            .execute(&mut *conn)
            .await
            .map_err(|e| db("report rollups", e))?;
    }
    if !gone.is_empty() {
        let keys = KeyColumns::of(gone.iter());
        let mut qb = QueryBuilder::new(
            "DELETE FROM inbox_report_rollups WHERE ctid = ANY(ARRAY(SELECT x.ctid ",
        );
        keys.push_rows(&mut qb, tenant, "r.ctid");
        qb.push("))");
        qb.build()
            .execute(&mut *conn)
            .await
            .map_err(|e| db("report rollups", e))?;
    }
    Ok(())
}

/// A rollup row `r` with the key `k` (after its tenant).
const KEY_JOIN: &str = " AND r.team_id = k.team_id AND r.owner = k.owner AND r.tag = k.tag \
     AND r.level = k.level AND r.bucket_us = k.bucket_us AND r.channel_id = k.channel_id";

/// Rollup keys as columns, for `UNNEST`.
#[derive(Default)]
struct KeyColumns {
    team: Vec<String>,
    owner: Vec<String>,
    tag: Vec<String>,
    channel: Vec<String>,
    level: Vec<String>,
    start: Vec<i64>,
}

impl KeyColumns {
    fn of<'a>(keys: impl Iterator<Item = &'a Key>) -> Self {
        let mut c = Self::default();
        for (d, level, start) in keys {
            c.team
                .push(d.team.as_ref().map_or("", |t| t.as_str()).to_string());
            c.owner
                .push(d.owner.as_ref().map_or("", |o| o.as_str()).to_string());
            c.tag.push(d.tag.clone().unwrap_or_default());
            c.channel.push(d.channel.as_str().to_string());
            c.level.push(level.as_str().to_string());
            c.start.push(*start);
        }
        c
    }

    /// `FROM` the keys `CROSS JOIN LATERAL` their rollup rows' `columns`
    /// (as `x`): an index probe per key (`OFFSET 0` keeps the planner
    /// from joining otherwise when the table has no statistics yet).
    fn push_rows(self, qb: &mut QueryBuilder<'_, Postgres>, tenant: &TenantId, columns: &str) {
        qb.push("FROM ");
        self.push_unnest(qb, None);
        qb.push(
            " AS k(team_id, owner, tag, channel_id, level, bucket_us) CROSS JOIN LATERAL (SELECT ",
        )
        .push(columns)
        .push(" FROM inbox_report_rollups r WHERE r.tenant_id = ")
        .push_bind(tenant.as_str().to_string())
        .push(KEY_JOIN)
        .push(" OFFSET 0) x");
    }

    /// `UNNEST(…)` of the columns, and of `tallies` after them.
    fn push_unnest(self, qb: &mut QueryBuilder<'_, Postgres>, tallies: Option<Vec<Vec<u8>>>) {
        qb.push("UNNEST(")
            .push_bind(self.team)
            .push("::text[], ")
            .push_bind(self.owner)
            .push("::text[], ")
            .push_bind(self.tag)
            .push("::text[], ")
            .push_bind(self.channel)
            .push("::text[], ")
            .push_bind(self.level)
            .push("::text[], ")
            .push_bind(self.start)
            .push("::int8[]");
        if let Some(t) = tallies {
            qb.push(", ").push_bind(t).push("::bytea[]");
        }
        qb.push(")");
    }
}

/// The key of a rollup row (its first six columns).
fn key_of(r: &PgRow) -> Result<Key> {
    let some = |s: String| (!s.is_empty()).then_some(s);
    let dim = Dimension {
        team: some(r.get(0)).map(TeamId::new).transpose()?,
        owner: some(r.get(1)).map(AgentId::new).transpose()?,
        tag: some(r.get(2)),
        channel: ChannelId::new(r.get::<String, _>(3))?,
    };
    let level = match r.get::<String, _>(4).as_str() {
        "h" => Level::Hour,
        "d" => Level::Day,
        _ => Level::Month,
    };
    Ok((dim, level, r.get(5)))
}

/// The contributions of the tenant's conversations matching what `filter`
/// pushes (after `WHERE tenant_id = …`), by id; conversations no report
/// counts (imported history, unanswered broadcasts) are left out.
async fn load(
    conn: &mut PgConnection,
    tenant: &TenantId,
    filter: impl FnOnce(&mut QueryBuilder<'_, Postgres>),
) -> Result<HashMap<String, Contribution>> {
    let mut qb = QueryBuilder::new(
        "SELECT conversation_id, created_us, channel_id, team_id, assignee, tags, \
         status <> 'resolved', status = 'resolved', reopen_count > 0, first_response_secs, \
         CASE WHEN status = 'resolved' THEN resolution_secs END, first_response_business_secs, \
         CASE WHEN status = 'resolved' THEN resolution_business_secs END, \
         CASE WHEN status <> 'resolved' THEN waiting_us END, sla_policy, sla_kinds, sla_states \
         FROM inbox_conversations WHERE tenant_id = ",
    );
    qb.push_bind(tenant.as_str().to_string())
        .push(" AND conversation_id NOT LIKE 'imported:%' AND NOT unanswered_broadcast");
    filter(&mut qb);
    let rows = qb
        .build()
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| db("report contributions", e))?;
    let mut out = HashMap::with_capacity(rows.len());
    for r in &rows {
        out.insert(r.get::<String, _>(0), contribution(r)?);
    }
    if out.is_empty() {
        return Ok(out);
    }
    writers(conn, tenant, &mut out).await?;
    Ok(out)
}

/// A conversation's contribution from its columns (`load`'s select),
/// without its writers.
fn contribution(r: &PgRow) -> Result<Contribution> {
    let kinds: Vec<String> = r.get::<Option<Vec<String>>, _>(15).unwrap_or_default();
    let states: Vec<String> = r.get::<Option<Vec<String>>, _>(16).unwrap_or_default();
    let policy: String = r.get::<Option<String>, _>(14).unwrap_or_default();
    let sla = kinds
        .into_iter()
        .zip(states)
        .map(|(kind, state)| {
            let decided = match state.as_str() {
                "met" => Some(true),
                "breached" => Some(false),
                _ => None,
            };
            (policy.clone(), kind, decided)
        })
        .collect();
    Ok(Contribution {
        created_us: r.get(1),
        channel: ChannelId::new(r.get::<String, _>(2))?,
        team: r.get::<Option<String>, _>(3).map(TeamId::new).transpose()?,
        owner: r
            .get::<Option<String>, _>(4)
            .map(AgentId::new)
            .transpose()?,
        tags: r.get(5),
        active: r.get(6),
        resolved: r.get(7),
        reopened: r.get(8),
        first: r.get(9),
        resolution: r.get(10),
        first_business: r.get(11),
        resolution_business: r.get(12),
        waiting_us: r.get(13),
        sla,
        writers: BTreeMap::new(),
    })
}

/// Fills in what agents wrote in the conversations of `out`.
async fn writers(
    conn: &mut PgConnection,
    tenant: &TenantId,
    out: &mut HashMap<String, Contribution>,
) -> Result<()> {
    let ids: Vec<&String> = out.keys().collect();
    let rows = sqlx::query(
        "SELECT conversation_id, author_agent, direction, next_response_secs, next_response_business_secs \
         FROM inbox_messages WHERE tenant_id = $1 AND conversation_id = ANY($2) AND author_agent IS NOT NULL",
    )
    .bind(tenant.as_str())
    .bind(ids)
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| db("report contributions", e))?;
    for r in rows {
        let Some(c) = out.get_mut(&r.get::<String, _>(0)) else {
            continue;
        };
        let kind = match r.get::<Option<String>, _>(2).as_deref() {
            Some("outbound") => Some(Direction::Outbound),
            Some("note") => Some(Direction::Note),
            _ => None,
        };
        let next = match (r.get::<Option<i64>, _>(3), r.get::<Option<i64>, _>(4)) {
            (Some(secs), business) => Some((secs, business.unwrap_or_default())),
            _ => None,
        };
        let agent = AgentId::new(r.get::<String, _>(1))?;
        c.writers
            .entry(agent)
            .or_insert_with(Written::default)
            .note(kind, next);
    }
    for c in out.values_mut() {
        for w in c.writers.values_mut() {
            w.next.sort_unstable();
        }
    }
    Ok(())
}

fn encode<T: serde::Serialize>(value: &T) -> Result<Vec<u8>> {
    postcard::to_allocvec(value).map_err(|e| Error::Backend {
        message: format!("a report rollup does not encode: {e}"),
        source: None,
    })
}

fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    postcard::from_bytes(bytes).map_err(|e| Error::Backend {
        message: format!("a stored report rollup does not read: {e}"),
        source: None,
    })
}
