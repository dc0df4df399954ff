use chrono::{DateTime, TimeDelta, Utc};
use std::sync::Mutex;

/// The source of "now". The core never reads the system clock: it asks this
/// port, so tests and simulations drive time.
///
/// # Contract
///
/// - `now` is cheap and never fails.
/// - Successive calls on one clock never go backwards.
pub trait Clock: Send + Sync {
    /// The current instant.
    fn now(&self) -> DateTime<Utc>;
}

/// A clock that only moves when told to: for tests and simulations.
///
/// ```
/// use chrono::{TimeDelta, TimeZone, Utc};
/// use inbox_core::ports::{Clock, ManualClock};
/// let clock = ManualClock::new(Utc.timestamp_opt(1_700_000_000, 0).unwrap());
/// clock.advance(TimeDelta::minutes(5));
/// assert_eq!(clock.now().timestamp(), 1_700_000_300);
/// ```
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<DateTime<Utc>>,
}

impl ManualClock {
    /// A clock stopped at `start`.
    pub fn new(start: DateTime<Utc>) -> Self {
        Self {
            now: Mutex::new(start),
        }
    }

    /// Moves the clock forward by `by` (negative deltas are ignored).
    pub fn advance(&self, by: TimeDelta) {
        if by > TimeDelta::zero() {
            let mut now = self.now.lock().unwrap_or_else(|e| e.into_inner());
            *now += by;
        }
    }

    /// Sets the clock to `to` if that is not in its past.
    pub fn set(&self, to: DateTime<Utc>) {
        let mut now = self.now.lock().unwrap_or_else(|e| e.into_inner());
        if to > *now {
            *now = to;
        }
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.lock().unwrap_or_else(|e| e.into_inner())
    }
}
