//! Reports from rollups: what each conversation adds to a report
//! ([`Contribution`]), sums of them that can be kept per time bucket and
//! filter and merged ([`Tally`]), the filters a rollup answers alone
//! ([`Dimension`]) and how a range splits into buckets ([`cover`]).
//!
//! Every figure of a [`MetricsReport`] is a sum over the population's
//! conversations, counts or multisets of whole seconds, so a [`Tally`]
//! keeps them exactly: counts, and [`Histogram`]s of `(value, count)`
//! pairs from which the nearest-rank percentiles and the mean come out
//! exactly as [`Distribution::of`](crate::metrics::Distribution::of) gives them. Subtraction is merging with
//! a sign, so a store moves a conversation's contribution when it changes:
//! takes the old one away and adds the new one.
//!
//! `by_day` and `by_hour` are in the report's time zone: a tally keeps the
//! conversations opened per UTC quarter-hour, and every zone's offset from
//! UTC since 1972 is a whole number of quarter-hours, so each quarter-hour
//! is one local day and hour.
//!
//! ```
//! use chrono::{TimeZone, Utc};
//! use inbox_core::metrics::rollup::{Contribution, Tally};
//! use inbox_core::metrics::{MetricsQuery, MetricsReport};
//! use inbox_core::model::Conversation;
//! use inbox_core::{ChannelId, ContactId, ConversationId, TenantId};
//! let t = Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap();
//! let c = Conversation::new(
//!     TenantId::new("acme").unwrap(),
//!     ConversationId::new("c1").unwrap(),
//!     ChannelId::new("main").unwrap(),
//!     ContactId::new("k1").unwrap(),
//!     t,
//! );
//! let q = MetricsQuery::over(t, t + chrono::TimeDelta::days(1), t);
//! let mut tally = Tally::default();
//! tally.add(&Contribution::of(&c, &[]).unwrap(), 1);
//! assert_eq!(tally.report(&q), MetricsReport::compute(&q, [&c], []));
//! ```

mod cover;
mod histogram;
#[cfg(test)]
mod tests;

use cover::instant;
pub use cover::{cover, Cover, Level};
pub use histogram::Histogram;

use chrono::{TimeZone, Timelike};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use super::{AgentMetrics, MetricsQuery, MetricsReport, SlaCompliance};
use crate::ids::{AgentId, ChannelId, TeamId};
use crate::model::{Author, Conversation, ConversationStatus, Direction, Message};
use crate::sla::SlaTargetState;

/// A UTC quarter-hour, in microseconds.
pub const QUARTER_US: i64 = 900_000_000;
/// An hour, in microseconds.
pub const HOUR_US: i64 = 3_600_000_000;
/// A day, in microseconds.
pub const DAY_US: i64 = 86_400_000_000;

/// What one agent wrote in one conversation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Written {
    /// Replies (outbound messages they authored).
    pub replies: i64,
    /// Internal notes.
    pub notes: i64,
    /// Their next response times, wall clock and business hours, in the
    /// messages' order.
    pub next: Vec<(i64, i64)>,
}

/// What one conversation adds to the reports whose population holds it:
/// its current filters, its figures and what agents wrote in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contribution {
    /// When it was opened, in microseconds since the epoch.
    pub created_us: i64,
    /// Its number.
    pub channel: ChannelId,
    /// Its team now.
    pub team: Option<TeamId>,
    /// Its owner now.
    pub owner: Option<AgentId>,
    /// Its tags now.
    pub tags: Vec<String>,
    /// Open, pending or snoozed.
    pub active: bool,
    /// Resolved.
    pub resolved: bool,
    /// Reopened at least once.
    pub reopened: bool,
    /// First response time, seconds.
    pub first: Option<i64>,
    /// Resolution time (resolved conversations), seconds.
    pub resolution: Option<i64>,
    /// First response time in business hours.
    pub first_business: Option<i64>,
    /// Resolution time in business hours (resolved conversations).
    pub resolution_business: Option<i64>,
    /// Active with a customer waiting since this instant (microseconds).
    pub waiting_us: Option<i64>,
    /// SLA targets: policy, target kind, and met (`Some(true)`),
    /// breached (`Some(false)`) or undecided.
    pub sla: Vec<(String, String, Option<bool>)>,
    /// What each agent wrote in it, by agent.
    pub writers: BTreeMap<AgentId, Written>,
}

impl Contribution {
    /// A conversation's contribution, with its messages (others'
    /// messages are ignored); `None` for a conversation no report counts
    /// (imported history, a broadcast the customer never answered).
    pub fn of(c: &Conversation, messages: &[Message]) -> Option<Self> {
        if c.imported || c.unanswered_broadcast() {
            return None;
        }
        let resolved = c.status == ConversationStatus::Resolved;
        let mut writers: BTreeMap<AgentId, Written> = BTreeMap::new();
        for m in messages.iter().filter(|m| m.conversation == c.id) {
            if let Author::Agent(agent) = &m.author {
                let next = m.response.filter(|r| r.is_next_response());
                let kind = match m.direction {
                    Direction::Outbound => Some(Direction::Outbound),
                    Direction::Note => Some(Direction::Note),
                    Direction::Inbound => None,
                };
                let w = writers.entry(agent.clone()).or_default();
                w.note(kind, next.map(|r| (r.secs, r.business_secs)));
            }
        }
        let sla = c.sla.iter().flat_map(|s| {
            s.targets.iter().map(|t| {
                let met = match t.state {
                    SlaTargetState::Met { .. } => Some(true),
                    SlaTargetState::Breached { .. } => Some(false),
                    _ => None,
                };
                (s.policy.clone(), t.kind.as_str().to_string(), met)
            })
        });
        Some(Self {
            created_us: c.created_at.timestamp_micros(),
            channel: c.channel.clone(),
            team: c.team.clone(),
            owner: c.assignee.clone(),
            tags: c.tags.clone(),
            active: c.status.is_active(),
            resolved,
            reopened: c.reopen_count > 0,
            first: c
                .first_response_at
                .map(|t| (t - c.created_at).num_seconds()),
            resolution: c
                .resolved_at
                .filter(|_| resolved)
                .map(|t| (t - c.created_at).num_seconds()),
            first_business: c.first_response_business_secs,
            resolution_business: c.resolution_business_secs.filter(|_| resolved),
            waiting_us: c
                .waiting_since
                .filter(|_| c.status.is_active())
                .map(|w| w.timestamp_micros()),
            sla: sla.collect(),
            writers,
        })
    }

    /// The rollups it belongs to (one per [`Shape`]; one per tag), each
    /// with the bucket levels it is kept at.
    pub fn dimensions(&self) -> Vec<Dimension> {
        let at = |team: Option<&TeamId>, owner: Option<&AgentId>, tag: Option<&String>| Dimension {
            channel: self.channel.clone(),
            team: team.cloned(),
            owner: owner.cloned(),
            tag: tag.cloned(),
        };
        let mut out = vec![at(None, None, None)];
        if let Some(t) = &self.team {
            out.push(at(Some(t), None, None));
        }
        if let Some(o) = &self.owner {
            out.push(at(None, Some(o), None));
            if let Some(t) = &self.team {
                out.push(at(Some(t), Some(o), None));
            }
        }
        let mut tags: Vec<&String> = self.tags.iter().collect();
        tags.sort();
        tags.dedup();
        out.extend(tags.into_iter().map(|g| at(None, None, Some(g))));
        out
    }
}

impl Dimension {
    /// The bucket levels its rollups are kept at: hours, days and months
    /// for a number alone; days and months for the finer filters (an hour
    /// of one team or agent holds a conversation or two: the rows are
    /// cheaper than the rollup).
    pub fn levels(&self) -> &'static [Level] {
        match self.team.is_none() && self.owner.is_none() && self.tag.is_none() {
            true => &Level::ALL,
            false => &[Level::Day, Level::Month],
        }
    }
}

impl Written {
    /// Counts one message of theirs: a reply or a note (`kind`), with its
    /// next response time when it was one.
    pub fn note(&mut self, kind: Option<Direction>, next: Option<(i64, i64)>) {
        match kind {
            Some(Direction::Outbound) => self.replies += 1,
            Some(Direction::Note) => self.notes += 1,
            _ => {}
        }
        self.next.extend(next);
    }
}

/// A rollup's filters: the number, and at most a team, an owner, both, or
/// a tag.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Dimension {
    /// The number.
    pub channel: ChannelId,
    /// The team, if the rollup is by team.
    pub team: Option<TeamId>,
    /// The owner, if the rollup is by owner.
    pub owner: Option<AgentId>,
    /// The tag, if the rollup is by tag.
    pub tag: Option<String>,
}

/// The rollups that answer a query's filters alone: those of
/// [`Dimension`]s on every number (or the query's), with these filters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shape {
    /// Only this number (`None`: every number's rollups, summed).
    pub channel: Option<ChannelId>,
    /// The team filter.
    pub team: Option<TeamId>,
    /// The owner filter.
    pub owner: Option<AgentId>,
    /// The tag filter.
    pub tag: Option<String>,
}

impl Shape {
    /// The rollups that answer `query`, or `None` when its filters are a
    /// combination no rollup keeps (a tag with a team or an owner): such a
    /// query is computed from the rows.
    pub fn of(query: &MetricsQuery) -> Option<Self> {
        if query.tag.is_some() && (query.team.is_some() || query.agent.is_some()) {
            return None;
        }
        Some(Self {
            channel: query.channel.clone(),
            team: query.team.clone(),
            owner: query.agent.clone(),
            tag: query.tag.clone(),
        })
    }

    /// The finest level its rollups are kept at ([`Dimension::levels`]).
    pub fn finest(&self) -> Level {
        match self.team.is_none() && self.owner.is_none() && self.tag.is_none() {
            true => Level::Hour,
            false => Level::Day,
        }
    }

    /// Whether a rollup of `d` is one of this shape's.
    pub fn holds(&self, d: &Dimension) -> bool {
        self.channel.as_ref().is_none_or(|c| *c == d.channel)
            && self.team == d.team
            && self.owner == d.owner
            && self.tag == d.tag
    }
}

/// One owner's sums.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Owned {
    /// Conversations they own.
    pub handled: i64,
    /// Of those, active.
    pub open: i64,
    /// Their first response times.
    pub first: Histogram,
}

/// One writer's sums.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Wrote {
    /// Replies.
    pub replies: i64,
    /// Notes.
    pub notes: i64,
    /// Next response times.
    pub next: Histogram,
}

impl Owned {
    /// Whether every sum is zero (the owner is dropped from a tally).
    pub fn is_empty(&self) -> bool {
        self.handled == 0 && self.open == 0 && self.first.is_empty()
    }
}

impl Wrote {
    /// Whether every sum is zero (the writer is dropped from a tally).
    pub fn is_empty(&self) -> bool {
        self.replies == 0 && self.notes == 0 && self.next.is_empty()
    }
}

/// The sum of contributions: what a rollup keeps per bucket and
/// [`Dimension`], mergeable, and turned into a report by
/// [`Tally::report`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    /// Conversations.
    pub opened: i64,
    /// Resolved.
    pub resolved: i64,
    /// Reopened at least once.
    pub reopened: i64,
    /// With an owner.
    pub with_owner: i64,
    /// First response times.
    pub first: Histogram,
    /// Resolution times.
    pub resolution: Histogram,
    /// First response times in business hours.
    pub first_business: Histogram,
    /// Resolution times in business hours.
    pub resolution_business: Histogram,
    /// Next response times.
    pub next: Histogram,
    /// Next response times in business hours.
    pub next_business: Histogram,
    /// Waiting-since instants of active conversations (for `missed`).
    pub waiting: Histogram,
    /// Opened per UTC quarter-hour (its index since the epoch).
    pub arrivals: BTreeMap<i64, i64>,
    /// Opened per number.
    pub channels: BTreeMap<ChannelId, i64>,
    /// Opened per tag.
    pub tags: BTreeMap<String, i64>,
    /// Per owner.
    pub owners: BTreeMap<AgentId, Owned>,
    /// Per writer.
    pub writers: BTreeMap<AgentId, Wrote>,
    /// SLA targets met, breached and in all, per (policy, target).
    pub sla: BTreeMap<(String, String), [i64; 3]>,
}

/// Each owner's sums over `tallies` (none whose sums are all zero).
fn sum_owners(tallies: &[Tally]) -> BTreeMap<AgentId, Owned> {
    let mut by: BTreeMap<&AgentId, Vec<&Owned>> = BTreeMap::new();
    for (agent, x) in tallies.iter().flat_map(|t| &t.owners) {
        by.entry(agent).or_default().push(x);
    }
    let sums = by.into_iter().map(|(agent, xs)| {
        let owned = Owned {
            handled: xs.iter().map(|x| x.handled).sum(),
            open: xs.iter().map(|x| x.open).sum(),
            first: Histogram::sum(xs.iter().map(|x| &x.first)),
        };
        (agent.clone(), owned)
    });
    sums.filter(|(_, o)| !o.is_empty()).collect()
}

/// Each writer's sums over `tallies` (none whose sums are all zero).
fn sum_writers(tallies: &[Tally]) -> BTreeMap<AgentId, Wrote> {
    let mut by: BTreeMap<&AgentId, Vec<&Wrote>> = BTreeMap::new();
    for (agent, x) in tallies.iter().flat_map(|t| &t.writers) {
        by.entry(agent).or_default().push(x);
    }
    let sums = by.into_iter().map(|(agent, xs)| {
        let wrote = Wrote {
            replies: xs.iter().map(|x| x.replies).sum(),
            notes: xs.iter().map(|x| x.notes).sum(),
            next: Histogram::sum(xs.iter().map(|x| &x.next)),
        };
        (agent.clone(), wrote)
    });
    sums.filter(|(_, w)| !w.is_empty()).collect()
}

/// Adds `n` to a count in a map, dropping it at zero.
fn bump<K: Ord + Clone>(map: &mut BTreeMap<K, i64>, key: &K, n: i64) {
    let v = map.entry(key.clone()).or_default();
    *v += n;
    if *v == 0 {
        map.remove(key);
    }
}

impl Tally {
    /// Adds a contribution `sign` times (`-1`: takes it away).
    pub fn add(&mut self, c: &Contribution, sign: i64) {
        self.opened += sign;
        self.resolved += sign * c.resolved as i64;
        self.reopened += sign * c.reopened as i64;
        self.with_owner += sign * c.owner.is_some() as i64;
        let one = |h: &mut Histogram, v: Option<i64>| {
            if let Some(v) = v {
                h.add(v, sign);
            }
        };
        one(&mut self.first, c.first);
        one(&mut self.resolution, c.resolution);
        one(&mut self.first_business, c.first_business);
        one(&mut self.resolution_business, c.resolution_business);
        one(&mut self.waiting, c.waiting_us);
        bump(
            &mut self.arrivals,
            &c.created_us.div_euclid(QUARTER_US),
            sign,
        );
        bump(&mut self.channels, &c.channel, sign);
        for t in &c.tags {
            bump(&mut self.tags, t, sign);
        }
        if let Some(o) = &c.owner {
            let e = self.owners.entry(o.clone()).or_default();
            e.handled += sign;
            e.open += sign * c.active as i64;
            one(&mut e.first, c.first);
            if e.is_empty() {
                self.owners.remove(o);
            }
        }
        for (agent, w) in &c.writers {
            let e = self.writers.entry(agent.clone()).or_default();
            e.replies += sign * w.replies;
            e.notes += sign * w.notes;
            for (secs, business) in &w.next {
                e.next.add(*secs, sign);
                self.next.add(*secs, sign);
                self.next_business.add(*business, sign);
            }
            if e.is_empty() {
                self.writers.remove(agent);
            }
        }
        for (policy, kind, met) in &c.sla {
            let key = (policy.clone(), kind.clone());
            let e = self.sla.entry(key.clone()).or_default();
            match met {
                Some(true) => e[0] += sign,
                Some(false) => e[1] += sign,
                None => {}
            }
            e[2] += sign;
            if *e == [0; 3] {
                self.sla.remove(&key);
            }
        }
    }

    /// Adds another tally `sign` times (`-1`: takes it away).
    pub fn merge(&mut self, o: &Tally, sign: i64) {
        self.merge_counts(o, sign);
        self.first.merge(&o.first, sign);
        self.resolution.merge(&o.resolution, sign);
        self.first_business.merge(&o.first_business, sign);
        self.resolution_business.merge(&o.resolution_business, sign);
        self.next.merge(&o.next, sign);
        self.next_business.merge(&o.next_business, sign);
        self.waiting.merge(&o.waiting, sign);
        for (agent, x) in &o.owners {
            let e = self.owners.entry(agent.clone()).or_default();
            e.handled += sign * x.handled;
            e.open += sign * x.open;
            e.first.merge(&x.first, sign);
            if e.is_empty() {
                self.owners.remove(agent);
            }
        }
        for (agent, x) in &o.writers {
            let e = self.writers.entry(agent.clone()).or_default();
            e.replies += sign * x.replies;
            e.notes += sign * x.notes;
            e.next.merge(&x.next, sign);
            if e.is_empty() {
                self.writers.remove(agent);
            }
        }
    }

    /// Adds `o`'s counts and counted maps `sign` times: all but its
    /// histograms, owners and writers.
    fn merge_counts(&mut self, o: &Tally, sign: i64) {
        self.opened += sign * o.opened;
        self.resolved += sign * o.resolved;
        self.reopened += sign * o.reopened;
        self.with_owner += sign * o.with_owner;
        for (k, n) in &o.arrivals {
            bump(&mut self.arrivals, k, sign * n);
        }
        for (k, n) in &o.channels {
            bump(&mut self.channels, k, sign * n);
        }
        for (k, n) in &o.tags {
            bump(&mut self.tags, k, sign * n);
        }
        for (k, x) in &o.sla {
            let e = self.sla.entry(k.clone()).or_default();
            for (e, x) in e.iter_mut().zip(x) {
                *e += sign * x;
            }
            if *e == [0; 3] {
                self.sla.remove(k);
            }
        }
    }

    /// The sum of many tallies at once, equal to merging them one by one
    /// into an empty tally: what a report over many buckets reads. Each
    /// histogram is summed in one pass ([`Histogram::sum`]) rather than
    /// rebuilt by every merge.
    ///
    /// ```
    /// use inbox_core::metrics::rollup::Tally;
    /// let (mut a, mut b) = (Tally::default(), Tally::default());
    /// a.opened = 2;
    /// a.first.add(30, 2);
    /// b.opened = 1;
    /// b.first.add(10, 1);
    /// let sum = Tally::sum(&[a, b]);
    /// assert_eq!(sum.opened, 3);
    /// assert_eq!(sum.first.pairs(), &[(10, 1), (30, 2)]);
    /// ```
    pub fn sum(tallies: &[Tally]) -> Tally {
        let mut out = Self::sum_but_waiting(tallies);
        out.waiting = Histogram::sum(tallies.iter().map(|t| &t.waiting));
        out
    }

    /// The report of the sum of `tallies` for `query`: the same as
    /// `Tally::sum(tallies).report(query)`, but the parts' waiting
    /// instants (one per active conversation, all distinct) are not
    /// merged: only how many of them are missed counts, and that is the
    /// sum of each part's count.
    ///
    /// ```
    /// use inbox_core::metrics::rollup::Tally;
    /// use inbox_core::metrics::MetricsQuery;
    /// use chrono::{TimeDelta, TimeZone, Utc};
    /// let now = Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap();
    /// let query = MetricsQuery::over(now - TimeDelta::days(1), now, now);
    /// let (mut a, mut b) = (Tally::default(), Tally::default());
    /// a.opened = 2;
    /// // Waiting since an hour ago: missed (after 30 minutes).
    /// a.waiting.add((now - TimeDelta::hours(1)).timestamp_micros(), 1);
    /// b.opened = 1;
    /// b.waiting.add((now - TimeDelta::minutes(5)).timestamp_micros(), 1);
    /// let parts = [a, b];
    /// assert_eq!(Tally::report_of(&parts, &query).missed, 1);
    /// assert_eq!(Tally::report_of(&parts, &query), Tally::sum(&parts).report(&query));
    /// ```
    pub fn report_of(tallies: &[Tally], query: &MetricsQuery) -> MetricsReport {
        let missed_before = query.missed_before().timestamp_micros();
        let missed: i64 = tallies
            .iter()
            .map(|t| t.waiting.count_at_most(missed_before))
            .sum();
        let mut report = Self::sum_but_waiting(tallies).report(query);
        report.missed = missed.max(0) as u64;
        report
    }

    /// [`Tally::sum`] with the waiting instants left empty.
    fn sum_but_waiting(tallies: &[Tally]) -> Tally {
        let all = |f: fn(&Tally) -> &Histogram| Histogram::sum(tallies.iter().map(f));
        let mut out = Tally {
            first: all(|t| &t.first),
            resolution: all(|t| &t.resolution),
            first_business: all(|t| &t.first_business),
            resolution_business: all(|t| &t.resolution_business),
            next: all(|t| &t.next),
            next_business: all(|t| &t.next_business),
            owners: sum_owners(tallies),
            writers: sum_writers(tallies),
            ..Tally::default()
        };
        for t in tallies {
            out.merge_counts(t, 1);
        }
        out
    }

    /// Whether it adds nothing.
    pub fn is_empty(&self) -> bool {
        *self == Tally::default()
    }

    /// The report of the conversations summed here, for `query` (its time
    /// zone for days and hours, its `now` and `missed_after` for
    /// `missed`): the same report as [`MetricsReport::compute`] over them.
    pub fn report(&self, query: &MetricsQuery) -> MetricsReport {
        let count = |n: i64| n.max(0) as u64;
        let missed_before = query.missed_before().timestamp_micros();
        let mut r = MetricsReport {
            opened: count(self.opened),
            resolved: count(self.resolved),
            reopened: count(self.reopened),
            with_owner: count(self.with_owner),
            missed: count(self.waiting.count_at_most(missed_before)),
            first_response: self.first.distribution(),
            resolution: self.resolution.distribution(),
            next_response: self.next.distribution(),
            first_response_business: self.first_business.distribution(),
            resolution_business: self.resolution_business.distribution(),
            next_response_business: self.next_business.distribution(),
            by_channel: self
                .channels
                .iter()
                .map(|(k, n)| (k.clone(), count(*n)))
                .collect(),
            by_tag: self
                .tags
                .iter()
                .map(|(k, n)| (k.clone(), count(*n)))
                .collect(),
            ..MetricsReport::default()
        };
        let zone = query.zone();
        for (quarter, n) in &self.arrivals {
            let (day, hour) = local_quarter(zone, *quarter);
            *r.by_day.entry(day).or_default() += count(*n);
            *r.by_hour.entry(hour).or_default() += count(*n);
        }
        r.agents = self.agent_lines();
        r.sla = self
            .sla
            .iter()
            .map(|((policy, target), [met, breached, _])| SlaCompliance {
                policy: policy.clone(),
                target: target.clone(),
                met: count(*met),
                breached: count(*breached),
            })
            .collect();
        r
    }

    /// The report's agent lines: owners and writers, by id.
    fn agent_lines(&self) -> Vec<AgentMetrics> {
        let mut ids: Vec<&AgentId> = self.owners.keys().chain(self.writers.keys()).collect();
        ids.sort();
        ids.dedup();
        ids.into_iter()
            .map(|id| {
                // Borrowed: an agent's histograms over a long range are large.
                let (none_owned, none_wrote) = (Owned::default(), Wrote::default());
                let owned = self.owners.get(id).unwrap_or(&none_owned);
                let wrote = self.writers.get(id).unwrap_or(&none_wrote);
                AgentMetrics {
                    agent: id.clone(),
                    handled: owned.handled.max(0) as u64,
                    open: owned.open.max(0) as u64,
                    first_response: owned.first.distribution(),
                    replies: wrote.replies.max(0) as u64,
                    notes: wrote.notes.max(0) as u64,
                    next_response: wrote.next.distribution(),
                }
            })
            .collect()
    }
}

/// The local day and hour in `zone` of the UTC quarter-hour `quarter`
/// (its index since the epoch: microseconds divided by [`QUARTER_US`],
/// rounded down).
///
/// ```
/// use inbox_core::metrics::rollup::local_quarter;
/// let zone: chrono_tz::Tz = "Asia/Kolkata".parse().unwrap();
/// // 1970-01-01 18:30 UTC is midnight in India.
/// let (day, hour) = local_quarter(zone, 18 * 4 + 2);
/// assert_eq!((day.to_string(), hour), ("1970-01-02".to_string(), 0));
/// ```
pub fn local_quarter(zone: Tz, quarter: i64) -> (chrono::NaiveDate, u32) {
    let at = instant(quarter.saturating_mul(QUARTER_US));
    let local = zone.from_utc_datetime(&at.naive_utc());
    (local.date_naive(), local.hour())
}

/// The zone `by_day` and `by_hour` are in when a query names none.
pub const DEFAULT_ZONE: Tz = Tz::UTC;
