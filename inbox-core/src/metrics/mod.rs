//! Reporting: volumes, response and resolution times, ownership, missed
//! conversations and per-agent figures, over the conversations opened in a
//! time range.
//!
//! Stores compute reports where the data lives
//! ([`Reports::metrics`](crate::ports::Reports::metrics): SQL aggregates in a
//! database); every store must give exactly the numbers defined here:
//!
//! - the population is the tenant's conversations **opened** in
//!   `[from, to)`, narrowed by channel, team, owner and tag; never those
//!   imported from the Business app's history, nor those a broadcast
//!   started that the customer has not answered
//!   ([`Conversation::unanswered_broadcast`]);
//! - durations are whole seconds (truncated): first response is
//!   `first_response_at - created_at` (the first agent reply; automatic
//!   replies do not count), resolution is `resolved_at - created_at` of the
//!   conversations resolved now;
//! - `median` and `p90` are nearest-rank percentiles: the smallest value
//!   with at least 50% (90%) of the values at or below it;
//! - business-hours durations are the same spans counted on the
//!   conversation's calendar (recorded when they end:
//!   [`Conversation::first_response_business_secs`],
//!   [`Conversation::resolution_business_secs`]);
//! - next response time: each agent reply after the first that answered a
//!   waiting customer, from their oldest unanswered message
//!   ([`Message::response`]);
//! - per agent: `handled` and `open` count the conversations they own,
//!   `replies` and `notes` what they wrote in the population's
//!   conversations; an agent appears if either is non-zero;
//! - `missed`: still active, and the customer has been waiting since at
//!   least `missed_after` before `now` (waiting means: no agent reply since
//!   the customer's oldest unanswered message);
//! - days and hours are in the query's time zone
//!   ([`MetricsQuery::time_zone`], UTC when it names none; the inbox fills
//!   in the tenant's business calendar's zone).
//!
//! ```
//! use inbox_core::metrics::Distribution;
//! let d = Distribution::of(vec![30, 10, 20, 40]);
//! assert_eq!((d.count, d.median_secs, d.p90_secs), (4, Some(20), Some(40)));
//! assert_eq!(d.avg_secs, Some(25.0));
//! ```

mod bots;
mod csat;
pub mod live;
pub mod rollup;

pub use bots::{BotFigures, BotOutcome, BotQuery, BotReport, BotRow};
pub use csat::{CsatFigures, CsatQuery, CsatReport, SurveyRow};
pub use live::{AgentLoad, LiveQuery, LiveSnapshot, Waiting};

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::ids::{AgentId, ChannelId, TeamId};
use crate::model::{Author, Conversation, ConversationStatus, Direction, Message};

/// What to report on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MetricsQuery {
    /// Conversations opened at or after this.
    pub from: DateTime<Utc>,
    /// ... and before this.
    pub to: DateTime<Utc>,
    /// On this number only.
    #[serde(default)]
    pub channel: Option<ChannelId>,
    /// In this team only.
    #[serde(default)]
    pub team: Option<TeamId>,
    /// Owned by this agent only.
    #[serde(default)]
    pub agent: Option<AgentId>,
    /// Carrying this tag only.
    #[serde(default)]
    pub tag: Option<String>,
    /// "Now", for what is still waiting (the inbox fills it from its clock).
    pub now: DateTime<Utc>,
    /// A customer waiting this long without an answer counts as missed.
    pub missed_after: Duration,
    /// The IANA time zone of `by_day` and `by_hour` (UTC when `None`).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, example = "Europe/Madrid"))]
    pub time_zone: Option<chrono_tz::Tz>,
}

impl MetricsQuery {
    /// A query over `[from, to)` with no filter, asked at `now`, missed
    /// after 30 minutes, days and hours in UTC.
    ///
    /// ```
    /// # use inbox_core::metrics::MetricsQuery;
    /// # use chrono::{TimeZone, Utc};
    /// let t = Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap();
    /// let q = MetricsQuery::over(t, t + chrono::TimeDelta::days(1), t);
    /// assert!(q.validate().is_ok());
    /// ```
    pub fn over(from: DateTime<Utc>, to: DateTime<Utc>, now: DateTime<Utc>) -> Self {
        Self {
            from,
            to,
            channel: None,
            team: None,
            agent: None,
            tag: None,
            now,
            missed_after: Duration::from_secs(1800),
            time_zone: None,
        }
    }

    /// The zone of `by_day` and `by_hour`.
    pub fn zone(&self) -> chrono_tz::Tz {
        self.time_zone.unwrap_or(rollup::DEFAULT_ZONE)
    }

    /// The longest `missed_after` accepted: a year.
    pub const MAX_MISSED_AFTER: Duration = Duration::from_secs(366 * 24 * 3600);

    /// Checks the range, and that `missed_after` is at most
    /// [`MetricsQuery::MAX_MISSED_AFTER`].
    ///
    /// ```
    /// # use inbox_core::metrics::MetricsQuery;
    /// # use chrono::{TimeZone, Utc};
    /// # use std::time::Duration;
    /// let t = Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap();
    /// let q = MetricsQuery {
    ///     from: t,
    ///     to: t + chrono::TimeDelta::days(1),
    ///     channel: None,
    ///     team: None,
    ///     agent: None,
    ///     tag: None,
    ///     now: t,
    ///     missed_after: Duration::from_secs(9_000_000_000_000),
    ///     time_zone: None,
    /// };
    /// assert_eq!(q.validate().unwrap_err().code(), "invalid_input");
    /// ```
    pub fn validate(&self) -> Result<()> {
        if self.to <= self.from {
            return Err(Error::invalid("to", "must be after `from`"));
        }
        if self.missed_after > Self::MAX_MISSED_AFTER {
            return Err(Error::invalid(
                "missed_after",
                "must be at most a year (31,622,400 seconds)",
            ));
        }
        Ok(())
    }

    /// Whether a conversation is in the population (stores that compute in
    /// memory use this). Conversations imported from the WhatsApp Business
    /// app's history never are: the team did not work them.
    pub fn includes(&self, c: &Conversation) -> bool {
        !c.imported
            && !c.unanswered_broadcast()
            && c.created_at >= self.from
            && c.created_at < self.to
            && self.channel.as_ref().is_none_or(|x| &c.channel == x)
            && self
                .team
                .as_ref()
                .is_none_or(|x| c.team.as_ref() == Some(x))
            && self
                .agent
                .as_ref()
                .is_none_or(|x| c.assignee.as_ref() == Some(x))
            && self.tag.as_ref().is_none_or(|x| c.tags.contains(x))
    }

    /// The waiting-since limit for `missed`.
    /// Never panics: a `missed_after` too long for the calendar gives the
    /// earliest instant.
    pub fn missed_before(&self) -> DateTime<Utc> {
        chrono::TimeDelta::from_std(self.missed_after)
            .ok()
            .and_then(|d| self.now.checked_sub_signed(d))
            .unwrap_or(DateTime::<Utc>::MIN_UTC)
    }
}

/// A distribution of durations, in whole seconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Distribution {
    /// How many values.
    pub count: u64,
    /// Their mean.
    pub avg_secs: Option<f64>,
    /// Nearest-rank median.
    pub median_secs: Option<i64>,
    /// Nearest-rank 90th percentile.
    pub p90_secs: Option<i64>,
}

impl Distribution {
    /// The distribution of `values`.
    pub fn of(mut values: Vec<i64>) -> Self {
        if values.is_empty() {
            return Self::default();
        }
        values.sort_unstable();
        let n = values.len();
        let rank = |p: f64| {
            let r = (p * n as f64).ceil() as usize;
            values[r.clamp(1, n) - 1]
        };
        Self {
            count: n as u64,
            avg_secs: Some(values.iter().map(|v| *v as f64).sum::<f64>() / n as f64),
            median_secs: Some(rank(0.5)),
            p90_secs: Some(rank(0.9)),
        }
    }
}

/// Figures for one agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AgentMetrics {
    /// The agent.
    pub agent: AgentId,
    /// Conversations of the population they own.
    pub handled: u64,
    /// Of those, still active.
    pub open: u64,
    /// Their first response times.
    pub first_response: Distribution,
    /// Replies they sent (text and templates; automatic replies do not
    /// count).
    #[serde(default)]
    pub replies: u64,
    /// Internal notes they wrote.
    #[serde(default)]
    pub notes: u64,
    /// Their next response times.
    #[serde(default)]
    pub next_response: Distribution,
}

/// SLA outcomes of one target of one policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SlaCompliance {
    /// The policy id.
    pub policy: String,
    /// `first_response`, `next_response` or `resolution`.
    pub target: String,
    /// Targets met.
    pub met: u64,
    /// Targets breached.
    pub breached: u64,
}

impl SlaCompliance {
    /// Met over decided (met + breached); `None` when nothing is decided.
    pub fn rate(&self) -> Option<f64> {
        let decided = self.met + self.breached;
        (decided > 0).then(|| self.met as f64 / decided as f64)
    }
}

/// A report (see the [module docs](self) for exact definitions).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MetricsReport {
    /// Conversations opened.
    pub opened: u64,
    /// Of those, resolved now.
    pub resolved: u64,
    /// Of those, reopened at least once.
    pub reopened: u64,
    /// Of those, with an owner now.
    pub with_owner: u64,
    /// Of those, active with the customer waiting longer than the
    /// threshold.
    pub missed: u64,
    /// First response times.
    pub first_response: Distribution,
    /// Resolution times.
    pub resolution: Distribution,
    /// Next response times.
    #[serde(default)]
    pub next_response: Distribution,
    /// First response times in business hours.
    #[serde(default)]
    pub first_response_business: Distribution,
    /// Resolution times in business hours.
    #[serde(default)]
    pub resolution_business: Distribution,
    /// Next response times in business hours.
    #[serde(default)]
    pub next_response_business: Distribution,
    /// Opened per day (in the query's time zone).
    pub by_day: BTreeMap<NaiveDate, u64>,
    /// Opened per hour of day (0–23, in the query's time zone).
    pub by_hour: BTreeMap<u32, u64>,
    /// Opened per number.
    pub by_channel: BTreeMap<ChannelId, u64>,
    /// Opened per tag (a conversation counts once per tag it carries).
    pub by_tag: BTreeMap<String, u64>,
    /// Per owner, by id.
    pub agents: Vec<AgentMetrics>,
    /// SLA targets met and breached, per policy and target (every target
    /// of the conversations' SLA history counts, e.g. each next response),
    /// by policy then target.
    pub sla: Vec<SlaCompliance>,
}

impl MetricsReport {
    /// Share of opened conversations reopened (0 when none were opened).
    pub fn reopen_rate(&self) -> f64 {
        ratio(self.reopened, self.opened)
    }

    /// Share of opened conversations with an owner.
    pub fn ownership_rate(&self) -> f64 {
        ratio(self.with_owner, self.opened)
    }

    /// Computes a report over conversations and their messages in memory
    /// (the reference implementation; the memory store uses it).
    /// `messages` may hold messages of any conversation: those outside the
    /// population are ignored.
    pub fn compute<'a>(
        query: &MetricsQuery,
        conversations: impl IntoIterator<Item = &'a Conversation>,
        messages: impl IntoIterator<Item = &'a Message>,
    ) -> Self {
        use chrono::Timelike;
        let mut r = MetricsReport::default();
        let mut first = Vec::new();
        let mut resolution = Vec::new();
        let (mut first_b, mut resolution_b) = (Vec::new(), Vec::new());
        let mut population = std::collections::BTreeSet::new();
        let mut agents: BTreeMap<AgentId, AgentTally> = BTreeMap::new();
        let mut sla: BTreeMap<(String, String), (u64, u64)> = BTreeMap::new();
        let missed_before = query.missed_before();
        for c in conversations.into_iter().filter(|c| query.includes(c)) {
            population.insert(&c.id);
            r.opened += 1;
            let fr = c
                .first_response_at
                .map(|t| (t - c.created_at).num_seconds());
            if let Some(s) = fr {
                first.push(s);
            }
            first_b.extend(c.first_response_business_secs);
            if c.status == ConversationStatus::Resolved {
                r.resolved += 1;
                if let Some(at) = c.resolved_at {
                    resolution.push((at - c.created_at).num_seconds());
                }
                resolution_b.extend(c.resolution_business_secs);
            }
            if c.reopen_count > 0 {
                r.reopened += 1;
            }
            if let Some(a) = &c.assignee {
                r.with_owner += 1;
                let e = agents.entry(a.clone()).or_default();
                e.handled += 1;
                if c.status.is_active() {
                    e.open += 1;
                }
                if let Some(s) = fr {
                    e.first_response.push(s);
                }
            }
            if c.status.is_active() && c.waiting_since.is_some_and(|w| w <= missed_before) {
                r.missed += 1;
            }
            if let Some(state) = &c.sla {
                for t in &state.targets {
                    let e = sla
                        .entry((state.policy.clone(), t.kind.as_str().to_string()))
                        .or_default();
                    match t.state {
                        crate::sla::SlaTargetState::Met { .. } => e.0 += 1,
                        crate::sla::SlaTargetState::Breached { .. } => e.1 += 1,
                        _ => {}
                    }
                }
            }
            let local = c.created_at.with_timezone(&query.zone());
            *r.by_day.entry(local.date_naive()).or_default() += 1;
            *r.by_hour.entry(local.hour()).or_default() += 1;
            *r.by_channel.entry(c.channel.clone()).or_default() += 1;
            for t in &c.tags {
                *r.by_tag.entry(t.clone()).or_default() += 1;
            }
        }
        let (mut next, mut next_b) = (Vec::new(), Vec::new());
        for m in messages {
            let Author::Agent(agent) = &m.author else {
                continue;
            };
            if !population.contains(&m.conversation) {
                continue;
            }
            let e = agents.entry(agent.clone()).or_default();
            match m.direction {
                Direction::Outbound => e.replies += 1,
                Direction::Note => e.notes += 1,
                Direction::Inbound => {}
            }
            if let Some(rt) = m.response.filter(|rt| rt.is_next_response()) {
                next.push(rt.secs);
                next_b.push(rt.business_secs);
                e.next_response.push(rt.secs);
            }
        }
        r.first_response = Distribution::of(first);
        r.resolution = Distribution::of(resolution);
        r.first_response_business = Distribution::of(first_b);
        r.resolution_business = Distribution::of(resolution_b);
        r.next_response = Distribution::of(next);
        r.next_response_business = Distribution::of(next_b);
        r.agents = agents
            .into_iter()
            .map(|(agent, t)| AgentMetrics {
                agent,
                handled: t.handled,
                open: t.open,
                first_response: Distribution::of(t.first_response),
                replies: t.replies,
                notes: t.notes,
                next_response: Distribution::of(t.next_response),
            })
            .collect();
        r.sla = sla
            .into_iter()
            .map(|((policy, target), (met, breached))| SlaCompliance {
                policy,
                target,
                met,
                breached,
            })
            .collect();
        r
    }

    /// The report's tables as CSV documents, by name: `summary`, `by_day`,
    /// `by_hour`, `by_channel`, `by_tag`, `agents`, `sla`.
    pub fn to_csv(&self) -> Result<Vec<(&'static str, String)>> {
        let doc = csv_document;
        let opt = |v: Option<i64>| v.map(|v| v.to_string()).unwrap_or_default();
        let avg = |v: Option<f64>| v.map(|v| format!("{v:.1}")).unwrap_or_default();
        let row = |k: &str, v: String| vec![k.to_string(), v];
        let mut summary = vec![
            row("metric", "value".into()),
            row("opened", self.opened.to_string()),
            row("resolved", self.resolved.to_string()),
            row("reopened", self.reopened.to_string()),
            row("reopen_rate", format!("{:.4}", self.reopen_rate())),
            row("with_owner", self.with_owner.to_string()),
            row("ownership_rate", format!("{:.4}", self.ownership_rate())),
            row("missed", self.missed.to_string()),
        ];
        for (name, d) in [
            ("first_response", &self.first_response),
            ("first_response_business", &self.first_response_business),
            ("next_response", &self.next_response),
            ("next_response_business", &self.next_response_business),
            ("resolution", &self.resolution),
            ("resolution_business", &self.resolution_business),
        ] {
            summary.push(row(&format!("{name}_count"), d.count.to_string()));
            summary.push(row(&format!("{name}_avg_secs"), avg(d.avg_secs)));
            summary.push(row(&format!("{name}_median_secs"), opt(d.median_secs)));
            summary.push(row(&format!("{name}_p90_secs"), opt(d.p90_secs)));
        }
        let counts = |head: &str, items: Vec<(String, u64)>| {
            let mut rows = vec![vec![head.to_string(), "opened".to_string()]];
            rows.extend(items.into_iter().map(|(k, v)| vec![k, v.to_string()]));
            rows
        };
        let header = |names: &[&str]| names.iter().map(|n| n.to_string()).collect::<Vec<_>>();
        let dist = |d: &Distribution| [avg(d.avg_secs), opt(d.median_secs), opt(d.p90_secs)];
        let mut agents = vec![header(&[
            "agent",
            "handled",
            "open",
            "first_response_avg_secs",
            "first_response_median_secs",
            "first_response_p90_secs",
            "replies",
            "notes",
            "next_response_avg_secs",
            "next_response_median_secs",
            "next_response_p90_secs",
        ])];
        for a in &self.agents {
            let mut row = vec![
                a.agent.to_string(),
                a.handled.to_string(),
                a.open.to_string(),
            ];
            row.extend(dist(&a.first_response));
            row.extend([a.replies.to_string(), a.notes.to_string()]);
            row.extend(dist(&a.next_response));
            agents.push(row);
        }
        let mut sla = vec![header(&[
            "policy",
            "target",
            "met",
            "breached",
            "compliance",
        ])];
        for c in &self.sla {
            let rate = c.rate().map(|r| format!("{r:.4}")).unwrap_or_default();
            let (met, breached) = (c.met.to_string(), c.breached.to_string());
            sla.push(vec![
                c.policy.clone(),
                c.target.clone(),
                met,
                breached,
                rate,
            ]);
        }
        Ok(vec![
            ("summary", doc(summary)?),
            (
                "by_day",
                doc(counts(
                    "day",
                    self.by_day
                        .iter()
                        .map(|(d, n)| (d.to_string(), *n))
                        .collect(),
                ))?,
            ),
            (
                "by_hour",
                doc(counts(
                    "hour",
                    self.by_hour
                        .iter()
                        .map(|(h, n)| (h.to_string(), *n))
                        .collect(),
                ))?,
            ),
            (
                "by_channel",
                doc(counts(
                    "channel",
                    self.by_channel
                        .iter()
                        .map(|(c, n)| (c.to_string(), *n))
                        .collect(),
                ))?,
            ),
            (
                "by_tag",
                doc(counts(
                    "tag",
                    self.by_tag.iter().map(|(t, n)| (t.clone(), *n)).collect(),
                ))?,
            ),
            ("agents", doc(agents)?),
            ("sla", doc(sla)?),
        ])
    }
}

/// Rows as a CSV document (reports' exports).
pub(crate) fn csv_document(rows: Vec<Vec<String>>) -> Result<String> {
    let fail = |e: &dyn std::fmt::Display| Error::Backend {
        message: format!("CSV: {e}"),
        source: None,
    };
    let mut w = csv::Writer::from_writer(Vec::new());
    for row in rows {
        w.write_record(&row).map_err(|e| fail(&e))?;
    }
    let bytes = w.into_inner().map_err(|e| fail(&e))?;
    String::from_utf8(bytes).map_err(|e| fail(&e))
}

/// One agent's figures while a report is computed.
#[derive(Default)]
struct AgentTally {
    handled: u64,
    open: u64,
    first_response: Vec<i64>,
    replies: u64,
    notes: u64,
    next_response: Vec<i64>,
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}
