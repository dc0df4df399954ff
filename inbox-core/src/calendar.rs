//! Business-hours calendars.
//!
//! A [`Calendar`] says when a team is at work, in its own IANA time zone:
//! several intervals per weekday (split shifts, lunch breaks), intervals
//! that cross midnight, and dated exceptions (holidays closed all day, or
//! special hours). Its queries — is it open at an instant, when does it open
//! next, how much business time lies between two instants, which instant is
//! a business duration after another — are exact across daylight-saving
//! changes: local times are resolved to instants day by day.
//!
//! Pure: every query takes its instants as arguments.

use chrono::{
    DateTime, Datelike, Days, LocalResult, NaiveDate, NaiveTime, TimeDelta, TimeZone, Utc, Weekday,
};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::error::Error;

/// How far queries look ahead for opening hours (about ten years).
const HORIZON_DAYS: u64 = 3_700;

/// Local opening hours: `start` to `end`; an `end` at or before `start`
/// means the interval crosses midnight into the next day (a night shift),
/// and `00:00`–`00:00` is the whole day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hours {
    /// Opening time.
    pub start: NaiveTime,
    /// Closing time.
    pub end: NaiveTime,
}

impl Hours {
    /// Parses `"09:00-13:30"`.
    ///
    /// ```
    /// use inbox_core::calendar::Hours;
    /// let h = Hours::parse("22:00-06:00").unwrap();
    /// assert!(h.crosses_midnight());
    /// assert!(Hours::parse("9am-5pm").is_err());
    /// ```
    pub fn parse(s: &str) -> Result<Self, Error> {
        let bad = || Error::invalid("hours", format!("{s:?} is not HH:MM-HH:MM"));
        let (a, b) = s.split_once('-').ok_or_else(bad)?;
        let t = |x: &str| NaiveTime::parse_from_str(x.trim(), "%H:%M").map_err(|_| bad());
        Ok(Self {
            start: t(a)?,
            end: t(b)?,
        })
    }

    /// Whether the interval ends on the next day.
    pub fn crosses_midnight(&self) -> bool {
        self.end <= self.start
    }
}

/// What a dated exception does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "hours", rename_all = "snake_case")]
pub enum DayRule {
    /// Closed all day (a holiday).
    Closed,
    /// These hours instead of the weekday's.
    Open(Vec<Hours>),
}

/// A business-hours calendar in one time zone.
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use inbox_core::calendar::Calendar;
/// let cal = Calendar::weekdays("Europe/Madrid", &["09:00-14:00", "16:00-19:00"]).unwrap();
/// // Monday 2 March 2026, 10:00 in Madrid is 09:00 UTC.
/// assert!(cal.is_open(Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap()));
/// // Lunch break.
/// assert!(!cal.is_open(Utc.with_ymd_and_hms(2026, 3, 2, 14, 0, 0).unwrap()));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Calendar {
    /// IANA time zone.
    pub zone: Tz,
    /// Opening hours per weekday, Monday first.
    pub week: [Vec<Hours>; 7],
    /// Dated exceptions (holidays, special hours), by local date.
    pub exceptions: BTreeMap<NaiveDate, DayRule>,
}

fn weekday_index(w: Weekday) -> usize {
    w.num_days_from_monday() as usize
}

impl Calendar {
    /// A calendar that is never open, in `zone`.
    pub fn closed(zone: &str) -> Result<Self, Error> {
        let zone: Tz = zone
            .parse()
            .map_err(|_| Error::invalid("zone", format!("{zone:?} is not an IANA time zone")))?;
        Ok(Self {
            zone,
            week: Default::default(),
            exceptions: BTreeMap::new(),
        })
    }

    /// Open Monday to Friday with the same hours each day.
    pub fn weekdays(zone: &str, hours: &[&str]) -> Result<Self, Error> {
        let mut c = Self::closed(zone)?;
        let hours: Vec<Hours> = hours
            .iter()
            .map(|h| Hours::parse(h))
            .collect::<Result<_, _>>()?;
        for d in [
            Weekday::Mon,
            Weekday::Tue,
            Weekday::Wed,
            Weekday::Thu,
            Weekday::Fri,
        ] {
            c.week[weekday_index(d)] = hours.clone();
        }
        Ok(c)
    }

    /// Always open (for wall-clock SLAs), in UTC.
    pub fn always() -> Self {
        let all = vec![Hours {
            start: NaiveTime::MIN,
            end: NaiveTime::MIN,
        }];
        Self {
            zone: Tz::UTC,
            week: std::array::from_fn(|_| all.clone()),
            exceptions: BTreeMap::new(),
        }
    }

    /// Sets a weekday's hours (builder style).
    pub fn with_day(mut self, day: Weekday, hours: &[&str]) -> Result<Self, Error> {
        self.week[weekday_index(day)] = hours
            .iter()
            .map(|h| Hours::parse(h))
            .collect::<Result<_, _>>()?;
        Ok(self)
    }

    /// Closes a date (builder style).
    pub fn with_holiday(mut self, date: NaiveDate) -> Self {
        self.exceptions.insert(date, DayRule::Closed);
        self
    }

    /// Special hours on a date (builder style).
    pub fn with_special_hours(mut self, date: NaiveDate, hours: &[&str]) -> Result<Self, Error> {
        let hours = hours
            .iter()
            .map(|h| Hours::parse(h))
            .collect::<Result<_, _>>()?;
        self.exceptions.insert(date, DayRule::Open(hours));
        Ok(self)
    }

    /// The local date of an instant.
    fn local_date(&self, t: DateTime<Utc>) -> NaiveDate {
        t.with_timezone(&self.zone).date_naive()
    }

    /// Resolves a local date and time to an instant: in a spring-forward gap
    /// to the first instant after it, in a fall-back overlap to the earlier
    /// (`earliest`) or later occurrence.
    fn instant(&self, date: NaiveDate, time: NaiveTime, earliest: bool) -> DateTime<Utc> {
        let naive = date.and_time(time);
        match self.zone.from_local_datetime(&naive) {
            LocalResult::Single(t) => t.with_timezone(&Utc),
            LocalResult::Ambiguous(a, b) => {
                if earliest {
                    a.with_timezone(&Utc)
                } else {
                    b.with_timezone(&Utc)
                }
            }
            LocalResult::None => {
                // Walk forward minute by minute out of the gap (at most a few
                // hours in any real zone).
                let mut probe = naive;
                for _ in 0..(24 * 60) {
                    probe += TimeDelta::minutes(1);
                    if let Some(t) = self.zone.from_local_datetime(&probe).earliest() {
                        return t.with_timezone(&Utc);
                    }
                }
                Utc.from_utc_datetime(&naive)
            }
        }
    }

    /// The open intervals (as instants) that start on a local date.
    fn day_intervals(&self, date: NaiveDate) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
        let hours: &[Hours] = match self.exceptions.get(&date) {
            Some(DayRule::Closed) => &[],
            Some(DayRule::Open(h)) => h,
            None => &self.week[weekday_index(date.weekday())],
        };
        let mut out = Vec::with_capacity(hours.len());
        for h in hours {
            let start = self.instant(date, h.start, true);
            let end_date = if h.crosses_midnight() {
                date.checked_add_days(Days::new(1)).unwrap_or(date)
            } else {
                date
            };
            let end = self.instant(end_date, h.end, false);
            if end > start {
                out.push((start, end));
            }
        }
        out
    }

    /// Open intervals overlapping `[from, ...)`, merged, in order, starting
    /// the day before `from` (for intervals crossing midnight).
    fn intervals_from(
        &self,
        from: DateTime<Utc>,
    ) -> impl Iterator<Item = (DateTime<Utc>, DateTime<Utc>)> + '_ {
        let first = self
            .local_date(from)
            .checked_sub_days(Days::new(1))
            .unwrap_or(NaiveDate::MIN);
        let days = (0..HORIZON_DAYS).filter_map(move |i| first.checked_add_days(Days::new(i)));
        let mut pending: Option<(DateTime<Utc>, DateTime<Utc>)> = None;
        let mut merged = days
            .flat_map(move |d| {
                let mut v = self.day_intervals(d);
                v.sort();
                v
            })
            .filter(move |(_, end)| *end > from)
            .peekable();
        std::iter::from_fn(move || loop {
            match merged.next() {
                Some((s, e)) => match pending {
                    None => pending = Some((s, e)),
                    Some((ps, pe)) if s <= pe => pending = Some((ps, pe.max(e))),
                    Some(p) => {
                        pending = Some((s, e));
                        return Some(p);
                    }
                },
                None => return pending.take(),
            }
        })
    }

    /// Whether the calendar is open at `t`.
    pub fn is_open(&self, t: DateTime<Utc>) -> bool {
        self.intervals_from(t)
            .next()
            .is_some_and(|(s, e)| s <= t && t < e)
    }

    /// `t` if open, else the next opening (`None` if it never opens within
    /// about ten years).
    pub fn next_open(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.intervals_from(t).next().map(|(s, _)| s.max(t))
    }

    /// Business time between two instants (zero if `b` is not after `a`).
    pub fn business_time_between(&self, a: DateTime<Utc>, b: DateTime<Utc>) -> TimeDelta {
        if b <= a {
            return TimeDelta::zero();
        }
        let mut total = TimeDelta::zero();
        for (s, e) in self.intervals_from(a) {
            if s >= b {
                break;
            }
            total += e.min(b) - s.max(a);
        }
        total
    }

    /// The instant when `d` of business time has passed after `t` (`t`
    /// itself for a zero duration; `None` if the calendar does not open
    /// enough within about ten years).
    pub fn add_business(&self, t: DateTime<Utc>, d: TimeDelta) -> Option<DateTime<Utc>> {
        if d <= TimeDelta::zero() {
            return Some(t);
        }
        let mut left = d;
        for (s, e) in self.intervals_from(t) {
            let start = s.max(t);
            let span = e - start;
            if span >= left {
                return Some(start + left);
            }
            left -= span;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn utc(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, min, 0).unwrap()
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    /// A calendar of `zone` open on `day` only, at `hours`.
    fn only_on(zone: &str, day: Weekday, hours: &[&str]) -> Calendar {
        Calendar::closed(zone)
            .unwrap()
            .with_day(day, hours)
            .unwrap()
    }

    #[test]
    fn split_shifts_and_lunch_breaks() {
        let cal = Calendar::weekdays("Europe/Madrid", &["09:00-14:00", "16:00-19:00"]).unwrap();
        // Winter: Madrid is UTC+1.
        assert!(!cal.is_open(utc(2026, 3, 2, 7, 59)));
        assert!(cal.is_open(utc(2026, 3, 2, 8, 0)));
        assert!(!cal.is_open(utc(2026, 3, 2, 13, 0)));
        assert_eq!(
            cal.next_open(utc(2026, 3, 2, 13, 30)),
            Some(utc(2026, 3, 2, 15, 0))
        );
        // Friday evening to Monday morning: the weekend is skipped.
        assert_eq!(
            cal.next_open(utc(2026, 3, 6, 18, 30)),
            Some(utc(2026, 3, 9, 8, 0))
        );
        assert_eq!(
            cal.business_time_between(utc(2026, 3, 2, 0, 0), utc(2026, 3, 3, 0, 0)),
            TimeDelta::hours(8)
        );
        assert_eq!(
            cal.add_business(utc(2026, 3, 2, 12, 0), TimeDelta::hours(2)),
            Some(utc(2026, 3, 2, 16, 0))
        );
    }

    #[test]
    fn night_shifts_cross_midnight() {
        let cal = only_on("UTC", Weekday::Fri, &["22:00-06:00"]);
        assert!(cal.is_open(utc(2026, 3, 6, 23, 0)));
        assert!(
            cal.is_open(utc(2026, 3, 7, 5, 59)),
            "Saturday morning belongs to Friday's shift"
        );
        assert!(!cal.is_open(utc(2026, 3, 7, 6, 0)));
        assert_eq!(
            cal.business_time_between(utc(2026, 3, 6, 0, 0), utc(2026, 3, 8, 0, 0)),
            TimeDelta::hours(8)
        );
    }

    #[test]
    fn holidays_and_special_hours() {
        let cal = Calendar::weekdays("Europe/Madrid", &["09:00-17:00"])
            .unwrap()
            .with_holiday(date(2026, 12, 25))
            .with_special_hours(date(2026, 12, 24), &["09:00-13:00"])
            .unwrap();
        assert!(!cal.is_open(utc(2026, 12, 25, 10, 0)));
        assert!(
            !cal.is_open(utc(2026, 12, 24, 13, 0)),
            "closes early on Christmas Eve"
        );
        // Thursday 24 Dec 12:00 local + 3 business hours: 1 h on the 24th,
        // closed 25th (holiday), weekend, Monday 28th 09:00 + 2 h.
        assert_eq!(
            cal.add_business(utc(2026, 12, 24, 11, 0), TimeDelta::hours(3)),
            Some(utc(2026, 12, 28, 10, 0))
        );
    }

    #[test]
    fn daylight_saving_changes_in_two_zones() {
        // Madrid springs forward on 29 March 2026 (02:00 -> 03:00), falls
        // back on 25 October 2026 (03:00 -> 02:00).
        let madrid = only_on("Europe/Madrid", Weekday::Sun, &["00:00-00:00"]);
        assert_eq!(
            madrid.business_time_between(utc(2026, 3, 28, 0, 0), utc(2026, 3, 31, 0, 0)),
            TimeDelta::hours(23)
        );
        assert_eq!(
            madrid.business_time_between(utc(2026, 10, 24, 0, 0), utc(2026, 10, 27, 0, 0)),
            TimeDelta::hours(25)
        );
        // New York springs forward on 8 March 2026; 09:00-17:00 stays 8 h and
        // moves from 14:00 UTC to 13:00 UTC.
        let ny = Calendar::weekdays("America/New_York", &["09:00-17:00"]).unwrap();
        assert_eq!(
            ny.next_open(utc(2026, 3, 6, 22, 0)),
            Some(utc(2026, 3, 9, 13, 0))
        );
        assert!(
            ny.is_open(utc(2026, 3, 6, 14, 0)),
            "Friday before the change opens at 14:00 UTC"
        );
        assert_eq!(
            ny.business_time_between(utc(2026, 3, 6, 0, 0), utc(2026, 3, 10, 0, 0)),
            TimeDelta::hours(16)
        );
        // An opening inside the spring-forward gap starts when the clock resumes.
        let gap = only_on("Europe/Madrid", Weekday::Sun, &["02:30-04:00"]);
        assert_eq!(
            gap.next_open(utc(2026, 3, 29, 0, 0)),
            Some(utc(2026, 3, 29, 1, 0))
        );
    }

    #[test]
    fn never_open_calendars_answer_none() {
        let cal = Calendar::closed("UTC").unwrap();
        assert_eq!(cal.next_open(utc(2026, 1, 1, 0, 0)), None);
        assert_eq!(
            cal.add_business(utc(2026, 1, 1, 0, 0), TimeDelta::minutes(1)),
            None
        );
        assert!(Calendar::closed("Mars/Olympus").is_err());
    }

    fn zone() -> impl Strategy<Value = &'static str> {
        prop::sample::select(vec![
            "Europe/Madrid",
            "America/New_York",
            "Asia/Kolkata",
            "Australia/Sydney",
            "UTC",
        ])
    }

    proptest! {
        /// "add business duration" and "business time between" are inverse.
        #[test]
        fn add_and_between_are_inverse(
            z in zone(),
            start_min in 0i64..(400 * 24 * 60),
            dur_min in 0i64..(30 * 24 * 60),
            night in any::<bool>(),
        ) {
            let mut cal = Calendar::weekdays(z, &["08:30-12:00", "13:00-18:15"]).unwrap();
            if night {
                cal = cal.with_day(Weekday::Sat, &["22:00-02:00"]).unwrap();
            }
            cal = cal.with_holiday(date(2026, 5, 1));
            let t = utc(2026, 1, 1, 0, 0) + TimeDelta::minutes(start_min);
            let d = TimeDelta::minutes(dur_min);
            let end = cal.add_business(t, d).unwrap();
            prop_assert_eq!(cal.business_time_between(t, end), d);
            // And the other way round: the end is the earliest such instant.
            let later = t + TimeDelta::minutes(dur_min);
            let b = cal.business_time_between(t, later);
            let back = cal.add_business(t, b).unwrap();
            prop_assert!(back <= later);
            prop_assert_eq!(cal.business_time_between(t, back), b);
        }
    }
}
