use std::sync::atomic::{AtomicU64, Ordering};

/// Makes ids for the entities the core creates (contacts, conversations,
/// messages).
///
/// # Contract
///
/// - Every id returned is unique among all ids the deployment ever stores,
///   across every application instance sharing the store (use random or
///   time-ordered UUIDs in production).
/// - Ids are valid per [`crate::ids`]: 1 to 200 bytes, no whitespace at the
///   ends, no control characters.
/// - No id starts with [`IMPORTED_PREFIX`](crate::inbox::IMPORTED_PREFIX)
///   (`imported:`): the core names conversations imported from the
///   WhatsApp Business app's history so, and stores tell them apart by it.
pub trait IdGenerator: Send + Sync {
    /// A new id for an entity of `kind` (`"conversation"`, `"message"`,
    /// `"contact"`).
    fn next_id(&self, kind: &'static str) -> String;
}

/// Deterministic ids (`conversation-1`, `message-2` ...) for tests,
/// simulations and single-process trials. Not unique across processes.
///
/// ```
/// use inbox_core::ports::{IdGenerator, SequentialIds};
/// let ids = SequentialIds::default();
/// assert_eq!(ids.next_id("message"), "message-1");
/// assert_eq!(ids.next_id("contact"), "contact-2");
/// ```
#[derive(Debug, Default)]
pub struct SequentialIds {
    next: AtomicU64,
}

impl SequentialIds {
    /// Starts after `start` (so the first id ends in `start + 1`).
    pub fn starting_at(start: u64) -> Self {
        Self {
            next: AtomicU64::new(start),
        }
    }
}

impl IdGenerator for SequentialIds {
    fn next_id(&self, kind: &'static str) -> String {
        let n = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        format!("{kind}-{n}")
    }
}
