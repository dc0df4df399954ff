//! `inbox_events` and the tenants' event sequence: the writer (numbering
//! and storing events) and the reads.

use sqlx::postgres::PgRow;
use sqlx::{PgConnection, PgPool, Row};
use std::collections::BTreeMap;

use inbox_core::error::{Error, Result};
use inbox_core::event::Event;
use inbox_core::ids::{ConversationId, TenantId};

use crate::error::db;
use crate::sql::{cast, document, json_texts, Arrays, Statement};

/// How the events of a statement are numbered: how many each tenant has
/// in it (the k-th of a tenant gets its new last number `- n + k`).
pub(crate) struct Numbering<'a> {
    per_tenant: BTreeMap<&'a str, i64>,
}

/// Records `events`, in order: one sequence bump per tenant (CTE `sq`),
/// then the rows (CTE `ev`, counted). A statement's writes should all
/// come before its events: the bump locks the tenants' sequence rows, held
/// then only until the statement's commit.
///
/// The number goes in the `seq` column only: the document is stored as the
/// application serialised it (its `seq` is not known yet), and every read
/// takes the number from the column ([`event_row`]).
pub(crate) fn insert<'a>(st: &mut Statement<'a>, events: &[&'a Event]) -> Result<Numbering<'a>> {
    let mut per_tenant: BTreeMap<&str, i64> = BTreeMap::new();
    let ks: Vec<i64> = events
        .iter()
        .map(|e| {
            let k = per_tenant.entry(e.tenant.as_str()).or_default();
            *k += 1;
            *k
        })
        .collect();
    if events.is_empty() {
        return Ok(Numbering { per_tenant });
    }
    // As text, cast to `json` (the column's type) by the statement: the
    // server validates it but does not parse it into `jsonb`.
    let data = json_texts("event", events.iter().copied())?;
    let (seq_t, seq_n): (Vec<&str>, Vec<i64>) = per_tenant.iter().map(|(t, n)| (*t, *n)).unzip();
    st.cte("sq", |q| {
        q.push("UPDATE inbox_tenants t SET event_seq = t.event_seq + u.n FROM UNNEST(");
        Arrays::on(q)
            .bind(cast::TEXT, seq_t)
            .bind(cast::BIGINT, seq_n);
        q.push(") AS u(t, n) WHERE t.tenant_id = u.t RETURNING t.tenant_id, t.event_seq, u.n");
    });
    st.counted("ev", events.len(), |q| {
        q.push(
            "INSERT INTO inbox_events (tenant_id, seq, conversation_id, conversation_version, data) \
             SELECT e.t, s.event_seq - s.n + e.k, e.c, e.v, e.d::json FROM UNNEST(",
        );
        Arrays::on(q)
            .col(cast::TEXT, events, |e| e.tenant.as_str())
            .bind(cast::BIGINT, ks)
            .col(cast::TEXT, events, |e| e.conversation.as_ref().map(|c| c.as_str()))
            .col(cast::BIGINT, events, |e| e.conversation_version.map(|v| v as i64))
            .bind(cast::TEXT, data);
        q.push(") AS e(t, k, c, v, d) JOIN sq s ON s.tenant_id = e.t");
    });
    Ok(Numbering { per_tenant })
}

impl Numbering<'_> {
    /// The columns of the final `SELECT` that read each tenant's new last
    /// number: the tenants, then their numbers (two arrays).
    pub(crate) fn tail(&self) -> &'static str {
        if self.per_tenant.is_empty() {
            "'{}'::text[], '{}'::bigint[]"
        } else {
            "(SELECT array_agg(tenant_id) FROM sq), (SELECT array_agg(event_seq) FROM sq)"
        }
    }

    /// Each tenant's first number in the statement, from the columns of
    /// [`Numbering::tail`] (at `at` and `at + 1` of `row`).
    pub(crate) fn first_numbers(
        &self,
        row: &PgRow,
        at: usize,
    ) -> std::result::Result<Next, String> {
        let why = |e: sqlx::Error| e.to_string();
        let tenants: Vec<String> = row
            .try_get::<Option<Vec<String>>, _>(at)
            .map_err(why)?
            .unwrap_or_default();
        let last: Vec<i64> = row
            .try_get::<Option<Vec<i64>>, _>(at + 1)
            .map_err(why)?
            .unwrap_or_default();
        let mut next = BTreeMap::new();
        for (t, last) in tenants.into_iter().zip(last) {
            let n = self
                .per_tenant
                .get(t.as_str())
                .copied()
                .ok_or("sequence of an unknown tenant")?;
            next.insert(t, last - n + 1);
        }
        Ok(Next(next))
    }
}

/// The next sequence number of each tenant in a statement.
pub(crate) struct Next(BTreeMap<String, i64>);

impl Next {
    /// Gives `e` the next number of its tenant, in the order of the events
    /// given to [`insert`].
    pub(crate) fn number(&mut self, e: &mut Event) -> std::result::Result<(), String> {
        let n = self
            .0
            .get_mut(e.tenant.as_str())
            .ok_or("no sequence for a tenant")?;
        e.seq = u64::try_from(*n).map_err(|e| e.to_string())?;
        *n += 1;
        Ok(())
    }
}

/// Records `events` on `tx` (a connection in a transaction, at its end:
/// the tenant's sequence row stays locked only until commit) and returns
/// them numbered.
pub(crate) async fn record(tx: &mut PgConnection, mut events: Vec<Event>) -> Result<Vec<Event>> {
    if events.is_empty() {
        return Ok(events);
    }
    let mut st = Statement::new();
    let refs: Vec<&Event> = events.iter().collect();
    let numbering = insert(&mut st, &refs)?;
    let (written, row) = st
        .run(tx, numbering.tail())
        .await
        .map_err(|e| db("commit: events", e))?;
    let sequence = |why: String| Error::Backend {
        message: format!("PostgreSQL: commit: event sequence: {why}"),
        source: None,
    };
    if !written {
        return Err(sequence("the tenant is gone".into()));
    }
    let mut next = numbering.first_numbers(&row, 1).map_err(sequence)?;
    for e in &mut events {
        next.number(e).map_err(sequence)?;
    }
    Ok(events)
}

/// An event from a row of `data, seq` (the number from the column).
pub(crate) fn event_row(r: &PgRow) -> Result<Event> {
    let mut e: Event = document("event", r, 0)?;
    e.seq = r.get::<i64, _>(1) as u64;
    Ok(e)
}

/// The tenant's events after `after_seq`, in order, at most `limit`.
pub(crate) async fn since(
    pool: &PgPool,
    tenant: &TenantId,
    after_seq: u64,
    limit: u32,
) -> Result<Vec<Event>> {
    let rows = sqlx::query(
        "SELECT data, seq FROM inbox_events WHERE tenant_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
    )
    .bind(tenant.as_str())
    .bind(i64::try_from(after_seq).unwrap_or(i64::MAX))
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await
    .map_err(|e| db("events since", e))?;
    rows.iter().map(event_row).collect()
}

/// A conversation's events after its version `after_version` (and those
/// without a version), in order.
pub(crate) async fn of_conversation(
    pool: &PgPool,
    tenant: &TenantId,
    conversation: &ConversationId,
    after_version: u64,
) -> Result<Vec<Event>> {
    let rows = sqlx::query(
        "SELECT data, seq FROM inbox_events WHERE tenant_id = $1 AND conversation_id = $2 \
         AND (conversation_version IS NULL OR conversation_version > $3) ORDER BY seq",
    )
    .bind(tenant.as_str())
    .bind(conversation.as_str())
    .bind(i64::try_from(after_version).unwrap_or(i64::MAX))
    .fetch_all(pool)
    .await
    .map_err(|e| db("conversation events", e))?;
    rows.iter().map(event_row).collect()
}
