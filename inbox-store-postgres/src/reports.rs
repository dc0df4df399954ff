//! Reports ([`Reports::metrics`]), read from the columns written beside
//! the documents ([`crate::facts`]), never from the documents.
//!
//! [`Reports::metrics`]: inbox_core::ports::Reports::metrics

use sqlx::postgres::PgRow;
use sqlx::{PgPool, Postgres, QueryBuilder, Row};

use inbox_core::error::Result;
use inbox_core::ids::{AgentId, ChannelId, TeamId, TenantId};
use inbox_core::metrics::rollup::local_quarter;
use inbox_core::metrics::{AgentMetrics, Distribution, MetricsQuery, MetricsReport, SlaCompliance};
use inbox_core::pricing::{CostQuery, MessageTally, CALLING_CODES, COUNTRIES};

use crate::error::db;
use crate::sql::micros;

// Columns written beside the document (`facts.rs`).
const FIRST: &str = "first_response_secs";
const RESOLUTION: &str = "CASE WHEN status = 'resolved' THEN resolution_secs END";
const FIRST_BUSINESS: &str = "first_response_business_secs";
const RESOLUTION_BUSINESS: &str = "CASE WHEN status = 'resolved' THEN resolution_business_secs END";

/// The aggregates a [`Distribution`] reads, of the expression `x`.
fn stats(x: &str) -> String {
    format!(
        "count({x}), avg({x})::float8, percentile_disc(0.5) WITHIN GROUP (ORDER BY {x}), percentile_disc(0.9) WITHIN GROUP (ORDER BY {x})"
    )
}

/// The [`Distribution`] of the columns of [`stats`] at `at` of `r`.
fn dist(r: &PgRow, at: usize) -> Distribution {
    Distribution {
        count: r.get::<i64, _>(at) as u64,
        avg_secs: r.get::<Option<f64>, _>(at + 1),
        median_secs: r.get::<Option<i64>, _>(at + 2),
        p90_secs: r.get::<Option<i64>, _>(at + 3),
    }
}

/// How a report's tag filter is written.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum TagLookup {
    /// `tags @> …`, which the tag index can serve: for the whole range.
    Indexed,
    /// `… = ANY(tags)`, which no index serves: for a short range that the
    /// opening-time index already narrows (a rollup's edges). The planner
    /// otherwise ANDs the tag index's every tagged conversation into it.
    Filtered,
}

/// The query's filters: number, team, owner, tag (` AND …`).
pub(crate) fn push_filters(
    qb: &mut QueryBuilder<'_, Postgres>,
    query: &MetricsQuery,
    tag_lookup: TagLookup,
) {
    if let Some(c) = &query.channel {
        qb.push(" AND channel_id = ")
            .push_bind(c.as_str().to_string());
    }
    if let Some(t) = &query.team {
        qb.push(" AND team_id = ").push_bind(t.as_str().to_string());
    }
    if let Some(a) = &query.agent {
        qb.push(" AND assignee = ")
            .push_bind(a.as_str().to_string());
    }
    match (&query.tag, tag_lookup) {
        (Some(t), TagLookup::Indexed) => {
            qb.push(" AND cardinality(tags) > 0 AND tags @> ARRAY[")
                .push_bind(t.clone())
                .push("]::text[]");
        }
        (Some(t), TagLookup::Filtered) => {
            qb.push(" AND ").push_bind(t.clone()).push(" = ANY(tags)");
        }
        (None, _) => {}
    }
}

/// The conversations a report counts, and the pool it reads them on.
struct Population<'q> {
    pool: &'q PgPool,
    tenant: &'q TenantId,
    query: &'q MetricsQuery,
}

impl Population<'_> {
    /// The population as `FROM … WHERE …` (all on indexed columns). The
    /// time range is on `(-created_us)`, the expression of the `newest`
    /// keyset index, so that index finds it: created_us in [from, to) is
    /// -created_us in (-to, -from].
    fn push(&self, qb: &mut QueryBuilder<'_, Postgres>) {
        let query = self.query;
        qb.push(" FROM inbox_conversations WHERE tenant_id = ")
            .push_bind(self.tenant.as_str().to_string())
            .push(" AND (-created_us) <= ")
            .push_bind(micros(query.from).saturating_neg())
            .push(" AND (-created_us) > ")
            .push_bind(micros(query.to).saturating_neg());
        // Conversations imported from the Business app's history are not
        // the team's work (`MetricsQuery::includes`); the core gives them,
        // and only them, ids starting with `imported:` (`IMPORTED_PREFIX`).
        qb.push(" AND conversation_id NOT LIKE 'imported:%'");
        // Nor those a broadcast started that the customer never answered
        // (`Conversation::unanswered_broadcast`, kept as a stored column).
        qb.push(" AND NOT unanswered_broadcast");
        push_filters(qb, query, TagLookup::Indexed);
    }

    /// The rows of `select`, the population (`FROM … WHERE …`), then
    /// `rest`.
    async fn rows(&self, select: String, rest: &str) -> Result<Vec<PgRow>> {
        let mut qb = QueryBuilder::new(select);
        self.push(&mut qb);
        qb.push(rest);
        qb.build()
            .fetch_all(self.pool)
            .await
            .map_err(|e| db("metrics", e))
    }
}

/// [`Reports::metrics`](inbox_core::ports::Reports::metrics).
pub(crate) async fn metrics(
    pool: &PgPool,
    tenant: &TenantId,
    query: &MetricsQuery,
) -> Result<MetricsReport> {
    query.validate()?;
    if let Some(report) = crate::rollups::metrics(pool, tenant, query).await? {
        return Ok(report);
    }
    exact(pool, tenant, query).await
}

/// The report computed from the rows (for the filters no rollup keeps;
/// and the reference the rollups are checked against).
pub(crate) async fn exact(
    pool: &PgPool,
    tenant: &TenantId,
    query: &MetricsQuery,
) -> Result<MetricsReport> {
    let population = Population {
        pool,
        tenant,
        query,
    };
    let mut report = population.totals().await?;
    if report.opened == 0 {
        return Ok(report);
    }
    population.owners(&mut report).await?;
    population.writers(&mut report).await?;
    population.arrivals(&mut report).await?;
    population.sla(&mut report).await?;
    population.tags(&mut report).await?;
    Ok(report)
}

/// An agent's line of the report, with nothing counted yet.
fn agent_line(agent: AgentId) -> AgentMetrics {
    AgentMetrics {
        agent,
        handled: 0,
        open: 0,
        first_response: Distribution::default(),
        replies: 0,
        notes: 0,
        next_response: Distribution::default(),
    }
}

impl Population<'_> {
    /// The counts and the response and resolution times of the population.
    async fn totals(&self) -> Result<MetricsReport> {
        let select = format!(
            "SELECT count(*), count(*) FILTER (WHERE status = 'resolved'), \
             count(*) FILTER (WHERE reopen_count > 0), \
             count(*) FILTER (WHERE assignee IS NOT NULL), \
             count(*) FILTER (WHERE status <> 'resolved' AND waiting_us <= {}), {}, {}, {}, {} \
             FROM (SELECT status, assignee, reopen_count, waiting_us, {FIRST} AS fr, {RESOLUTION} AS rt, \
             {FIRST_BUSINESS} AS frb, {RESOLUTION_BUSINESS} AS rtb",
            micros(self.query.missed_before()),
            stats("fr"),
            stats("rt"),
            stats("frb"),
            stats("rtb"),
        );
        let rows = self.rows(select, ") s").await?;
        let Some(row) = rows.first() else {
            return Ok(MetricsReport::default());
        };
        Ok(MetricsReport {
            opened: row.get::<i64, _>(0) as u64,
            resolved: row.get::<i64, _>(1) as u64,
            reopened: row.get::<i64, _>(2) as u64,
            with_owner: row.get::<i64, _>(3) as u64,
            missed: row.get::<i64, _>(4) as u64,
            first_response: dist(row, 5),
            resolution: dist(row, 9),
            first_response_business: dist(row, 13),
            resolution_business: dist(row, 17),
            ..MetricsReport::default()
        })
    }

    /// What each owner of conversations of the population handled.
    async fn owners(&self, report: &mut MetricsReport) -> Result<()> {
        let select = format!(
            "SELECT assignee, count(*), count(*) FILTER (WHERE status <> 'resolved'), {} FROM (SELECT assignee, status, {FIRST} AS fr",
            stats("fr")
        );
        let rest = " AND assignee IS NOT NULL) s GROUP BY assignee ORDER BY assignee";
        for r in self.rows(select, rest).await? {
            report.agents.push(AgentMetrics {
                handled: r.get::<i64, _>(1) as u64,
                open: r.get::<i64, _>(2) as u64,
                first_response: dist(&r, 3),
                ..agent_line(AgentId::new(r.get::<String, _>(0))?)
            });
        }
        Ok(())
    }

    /// What agents wrote in the population's conversations (an index-only
    /// scan of `inbox_messages_by_agent`): per agent, and in total for the
    /// next response times.
    async fn writers(&self, report: &mut MetricsReport) -> Result<()> {
        let select = format!(
            "SELECT m.author_agent, count(*) FILTER (WHERE m.direction = 'outbound'), \
             count(*) FILTER (WHERE m.direction = 'note'), {}, {} \
             FROM inbox_messages m JOIN (SELECT conversation_id",
            stats("m.next_response_secs"),
            stats("m.next_response_business_secs"),
        );
        let mut qb = QueryBuilder::new(select);
        self.push(&mut qb);
        qb.push(") p ON m.conversation_id = p.conversation_id WHERE m.tenant_id = ")
            .push_bind(self.tenant.as_str().to_string())
            .push(" AND m.author_agent IS NOT NULL GROUP BY GROUPING SETS ((m.author_agent), ())");
        let rows = qb
            .build()
            .fetch_all(self.pool)
            .await
            .map_err(|e| db("metrics", e))?;
        for r in rows {
            let Some(agent) = r.get::<Option<String>, _>(0) else {
                report.next_response = dist(&r, 3);
                report.next_response_business = dist(&r, 7);
                continue;
            };
            let agent = AgentId::new(agent)?;
            let at = match report.agents.binary_search_by(|a| a.agent.cmp(&agent)) {
                Ok(i) => i,
                Err(i) => {
                    report.agents.insert(i, agent_line(agent));
                    i
                }
            };
            let a = &mut report.agents[at];
            a.replies = r.get::<i64, _>(1) as u64;
            a.notes = r.get::<i64, _>(2) as u64;
            a.next_response = dist(&r, 3);
        }
        Ok(())
    }

    /// Conversations opened by day, hour and number: counted per UTC
    /// quarter-hour (from the integer microseconds: exact), each one day
    /// and hour in the query's zone ([`local_quarter`]).
    async fn arrivals(&self, report: &mut MetricsReport) -> Result<()> {
        let select =
            "SELECT floor(created_us / 900000000.0)::int8 AS quarter, channel_id, count(*)";
        let zone = self.query.zone();
        for r in self.rows(select.into(), " GROUP BY 1, 2").await? {
            let n = r.get::<i64, _>(2) as u64;
            let (day, hour) = local_quarter(zone, r.get::<i64, _>(0));
            *report.by_day.entry(day).or_default() += n;
            *report.by_hour.entry(hour).or_default() += n;
            *report
                .by_channel
                .entry(ChannelId::new(r.get::<String, _>(1))?)
                .or_default() += n;
        }
        Ok(())
    }

    /// SLA targets met and breached, per policy and target.
    async fn sla(&self, report: &mut MetricsReport) -> Result<()> {
        let select =
            "SELECT p, k, count(*) FILTER (WHERE st = 'met'), count(*) FILTER (WHERE st = 'breached') \
             FROM (SELECT sla_policy AS p, t.k, t.st \
             FROM (SELECT sla_policy, sla_kinds, sla_states";
        let rest = ") x CROSS JOIN LATERAL UNNEST(x.sla_kinds, x.sla_states) AS t(k, st)) s \
             GROUP BY p, k ORDER BY p COLLATE \"C\", k COLLATE \"C\"";
        for r in self.rows(select.into(), rest).await? {
            report.sla.push(SlaCompliance {
                policy: r.get::<Option<String>, _>(0).unwrap_or_default(),
                target: r.get::<Option<String>, _>(1).unwrap_or_default(),
                met: r.get::<i64, _>(2) as u64,
                breached: r.get::<i64, _>(3) as u64,
            });
        }
        Ok(())
    }

    /// Conversations per tag.
    async fn tags(&self, report: &mut MetricsReport) -> Result<()> {
        let select = "SELECT t, count(*) FROM (SELECT unnest(tags) AS t";
        for r in self.rows(select.into(), ") s GROUP BY t").await? {
            report
                .by_tag
                .insert(r.get::<String, _>(0), r.get::<i64, _>(1) as u64);
        }
        Ok(())
    }
}

/// [`Reports::surveys`](inbox_core::ports::Reports::surveys): the
/// conversations with a survey resolved in the range (found by a JSON path
/// over their stored document), read by the core's own rule.
pub(crate) async fn surveys(
    pool: &PgPool,
    tenant: &TenantId,
    query: &inbox_core::metrics::CsatQuery,
) -> Result<Vec<inbox_core::metrics::SurveyRow>> {
    let path = "$.surveys[*] ? (@.resolved_at >= $from && @.resolved_at < $to)";
    let window = (query.from, query.to);
    let rows = conversations_where(pool, tenant, "surveys", path, window).await?;
    Ok(rows
        .iter()
        .flat_map(|c| inbox_core::metrics::SurveyRow::of(c, query))
        .collect())
}

/// [`Reports::bot_rows`](inbox_core::ports::Reports::bot_rows): the
/// conversations whose bot seat began in the range (a JSON path over their
/// stored document), read by the core's own rule.
pub(crate) async fn bot_rows(
    pool: &PgPool,
    tenant: &TenantId,
    query: &inbox_core::metrics::BotQuery,
) -> Result<Vec<inbox_core::metrics::BotRow>> {
    let path = "$.bot ? (@.since >= $from && @.since < $to)";
    let window = (query.from, query.to);
    let rows = conversations_where(pool, tenant, "bot", path, window).await?;
    Ok(rows
        .iter()
        .filter_map(|c| inbox_core::metrics::BotRow::of(c, query))
        .collect())
}

/// The tenant's conversations whose stored document has `key` and matches
/// the JSON `path` with `$from` and `$to` bound to the window, a second
/// wider each side (strings of one second with and without fractions do
/// not order as times; callers apply the core's exact rule).
async fn conversations_where(
    pool: &PgPool,
    tenant: &TenantId,
    key: &str,
    path: &str,
    (from, to): (chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>),
) -> Result<Vec<inbox_core::model::Conversation>> {
    let rows = sqlx::query(
        "SELECT c.data FROM inbox_conversations c WHERE c.tenant_id = $1 AND c.data::jsonb ? $2 \
         AND jsonb_path_exists(c.data::jsonb, $3::jsonpath, jsonb_build_object('from', $4::text, 'to', $5::text))",
    )
    .bind(tenant.as_str())
    .bind(key)
    .bind(path)
    .bind(rfc3339(from - chrono::TimeDelta::seconds(1)))
    .bind(rfc3339(to + chrono::TimeDelta::seconds(1)))
    .fetch_all(pool)
    .await
    .map_err(|e| db("conversations by a JSON path", e))?;
    rows.iter()
        .map(|r| {
            let data: serde_json::Value = r.get(0);
            serde_json::from_value(data).map_err(|e| inbox_core::Error::Backend {
                message: format!("a stored conversation does not read: {e}"),
                source: None,
            })
        })
        .collect()
}

/// The form chrono writes timestamps in JSON (what the stored documents
/// hold), so that JSON path comparisons of strings order as times.
fn rfc3339(at: chrono::DateTime<chrono::Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

/// [`Reports::message_tallies`](inbox_core::ports::Reports::message_tallies):
/// the range through `inbox_messages_sent`; the team from the
/// conversation and the market from its contact, by the rule of
/// [`market_of`](inbox_core::pricing::market_of) with its tables bound
/// (the number's calling code, else the BSUID's country).
pub(crate) async fn message_tallies(
    pool: &PgPool,
    tenant: &TenantId,
    query: &CostQuery,
) -> Result<Vec<MessageTally>> {
    query.validate()?;
    let (codes, countries): (Vec<&str>, Vec<&str>) = CALLING_CODES.iter().copied().unzip();
    let iso: Vec<&str> = COUNTRIES.split(' ').collect();
    let rows = sqlx::query(
        "SELECT channel_id, team_id, author_agent, market, pricing::text, count(*) FROM ( \
         SELECT m.channel_id, c.team_id, m.author_agent, m.pricing, COALESCE( \
           (SELECT t.country FROM UNNEST($4::text[], $5::text[]) AS t(code, country) \
             WHERE starts_with(regexp_replace(k.wa_id, '^\\+', ''), t.code) LIMIT 1), \
           CASE WHEN strpos(k.user_id, '.') > 0 AND split_part(k.user_id, '.', 1) = ANY($6::text[]) \
             THEN split_part(k.user_id, '.', 1) END) AS market \
         FROM inbox_messages m \
         LEFT JOIN inbox_conversations c ON c.tenant_id = m.tenant_id AND c.conversation_id = m.conversation_id \
         LEFT JOIN inbox_contacts k ON k.tenant_id = c.tenant_id AND k.contact_id = c.contact_id \
         WHERE m.tenant_id = $1 AND m.sent_us >= $2 AND m.sent_us < $3) s \
         GROUP BY channel_id, team_id, author_agent, market, pricing",
    )
    .bind(tenant.as_str())
    .bind(micros(query.from))
    .bind(micros(query.to))
    .bind(codes)
    .bind(countries)
    .bind(iso)
    .fetch_all(pool)
    .await
    .map_err(|e| db("cost report", e))?;
    rows.iter()
        .map(|r| {
            let pricing = r
                .get::<Option<String>, _>(4)
                .map(|p| serde_json::from_str(&p))
                .transpose()
                .map_err(|e| inbox_core::Error::Backend {
                    message: format!("cost report: a stored pricing does not read: {e}"),
                    source: None,
                })?;
            Ok(MessageTally {
                channel: ChannelId::new(r.get::<String, _>(0))?,
                team: r.get::<Option<String>, _>(1).map(TeamId::new).transpose()?,
                agent: r
                    .get::<Option<String>, _>(2)
                    .map(AgentId::new)
                    .transpose()?,
                market: r.get::<Option<String>, _>(3),
                pricing,
                count: r.get::<i64, _>(5) as u64,
            })
        })
        .collect()
}
