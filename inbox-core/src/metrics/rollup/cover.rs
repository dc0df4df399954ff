//! Time buckets (UTC hours, days, months) and how a range splits into
//! them.

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::{DAY_US, HOUR_US};

/// A bucket's length: an hour, a day or a calendar month (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Level {
    /// A UTC hour.
    Hour,
    /// A UTC day.
    Day,
    /// A UTC calendar month.
    Month,
}

impl Level {
    /// Every level, shortest first.
    pub const ALL: [Level; 3] = [Level::Hour, Level::Day, Level::Month];

    /// A one-letter name (`h`, `d`, `m`), for storage.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Hour => "h",
            Level::Day => "d",
            Level::Month => "m",
        }
    }

    /// The start of the bucket of this level holding instant `us`.
    pub fn start(self, us: i64) -> i64 {
        match self {
            Level::Hour => us.div_euclid(HOUR_US) * HOUR_US,
            Level::Day => us.div_euclid(DAY_US) * DAY_US,
            Level::Month => {
                let day = instant(us.div_euclid(DAY_US) * DAY_US).date_naive();
                month_start(day.year(), day.month()).unwrap_or(i64::MIN)
            }
        }
    }

    /// The end of the bucket of this level starting at `start`.
    pub fn end(self, start: i64) -> i64 {
        match self {
            Level::Hour => start.saturating_add(HOUR_US),
            Level::Day => start.saturating_add(DAY_US),
            Level::Month => {
                let day = instant(start).date_naive();
                let (y, m) = match day.month() {
                    12 => (day.year() + 1, 1),
                    m => (day.year(), m + 1),
                };
                month_start(y, m).unwrap_or(i64::MAX)
            }
        }
    }
}

pub(crate) fn instant(us: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(us).unwrap_or_default()
}

fn month_start(year: i32, month: u32) -> Option<i64> {
    let day = NaiveDate::from_ymd_opt(year, month, 1)?;
    Some(day.and_hms_opt(0, 0, 0)?.and_utc().timestamp_micros())
}

/// How `[from_us, to_us)` splits: whole buckets (level, start), longest
/// first where they fit, and at most two edges shorter than the finest
/// bucket (at either end) that no bucket covers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cover {
    /// Whole buckets.
    pub buckets: Vec<(Level, i64)>,
    /// Ranges `[from, to)` to compute from the rows.
    pub edges: Vec<(i64, i64)>,
}

/// Splits `[from_us, to_us)` into whole buckets no finer than `finest`,
/// and edges.
///
/// ```
/// use inbox_core::metrics::rollup::{cover, Level, DAY_US, HOUR_US};
/// let c = cover(30 * 60_000_000, DAY_US + HOUR_US, Level::Hour);
/// assert_eq!(c.edges, vec![(30 * 60_000_000, HOUR_US)]);
/// assert_eq!(c.buckets.len(), 24);
/// assert!(c.buckets.iter().all(|(l, _)| *l == Level::Hour));
/// let c = cover(30 * 60_000_000, 3 * DAY_US + HOUR_US, Level::Day);
/// assert_eq!(c.edges, vec![(30 * 60_000_000, DAY_US), (3 * DAY_US, 3 * DAY_US + HOUR_US)]);
/// assert_eq!(c.buckets, vec![(Level::Day, DAY_US), (Level::Day, 2 * DAY_US)]);
/// ```
pub fn cover(from_us: i64, to_us: i64, finest: Level) -> Cover {
    let mut out = Cover::default();
    if to_us <= from_us {
        return out;
    }
    let first = match finest.start(from_us) {
        s if s == from_us => s,
        s => finest.end(s),
    };
    let last = finest.start(to_us);
    if first >= last {
        out.edges.push((from_us, to_us));
        return out;
    }
    if from_us < first {
        out.edges.push((from_us, first));
    }
    let mut at = first;
    while at < last {
        let level = Level::ALL
            .into_iter()
            .rev()
            .filter(|l| *l >= finest)
            .find(|l| l.start(at) == at && l.end(at) <= last)
            .unwrap_or(finest);
        out.buckets.push((level, at));
        at = level.end(at);
    }
    if last < to_us {
        out.edges.push((last, to_us));
    }
    out
}
