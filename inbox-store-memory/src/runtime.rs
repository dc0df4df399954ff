//! Production implementations of the core's non-storage ports that read the
//! outside world: the system clock and random ids.

use chrono::{DateTime, Utc};
use inbox_core::ports::{Clock, IdGenerator};

/// The system clock.
///
/// ```
/// use inbox_core::ports::Clock;
/// let now = inbox_store_memory::SystemClock.now();
/// assert!(now.timestamp() > 1_700_000_000);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// Random (version 4) UUIDs, unique across processes.
///
/// ```
/// use inbox_core::ports::IdGenerator;
/// let id = inbox_store_memory::UuidIds.next_id("message");
/// assert!(id.starts_with("msg_"));
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct UuidIds;

impl IdGenerator for UuidIds {
    fn next_id(&self, kind: &'static str) -> String {
        let prefix = match kind {
            "message" => "msg",
            "conversation" => "conv",
            "contact" => "ct",
            other => other,
        };
        format!("{prefix}_{}", uuid::Uuid::new_v4().simple())
    }
}
