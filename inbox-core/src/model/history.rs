//! How far the import of a number's past chats from the WhatsApp Business
//! app has come ([`HistoryImport`]), kept on the number for admins to see.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// A number's chat-history import (coexistence onboarding): Meta sends the
/// last 180 days in phases (0: the first day, 1: up to 90 days, 2: up to
/// 180 days), each in chunks that may arrive out of order and more than
/// once, with an overall progress from 0 to 100.
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use inbox_core::model::HistoryImport;
/// let at = Utc.with_ymd_and_hms(2026, 5, 1, 9, 0, 0).unwrap();
/// let mut import = HistoryImport::default();
/// assert!(import.took(1, 3, 40, 12, at));
/// assert!(!import.took(1, 3, 40, 0, at)); // the same chunk again
/// assert!(import.took(0, 1, 20, 5, at)); // an earlier one, late
/// assert_eq!((import.progress, import.chunks.len(), import.messages), (40, 2, 17));
/// assert!(!import.is_complete());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HistoryImport {
    /// The furthest progress Meta reported, 0 to 100 (100: complete).
    pub progress: u8,
    /// The chunks taken, as `(phase, chunk_order)`.
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<Vec<u32>>))]
    pub chunks: BTreeSet<(u8, u32)>,
    /// The messages stored from them (each once).
    pub messages: u64,
    /// The business declined to share its history (nothing will come).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub declined: bool,
    /// When the last chunk (or the refusal) was taken.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<DateTime<Utc>>,
    /// When the progress reached 100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<DateTime<Utc>>,
}

impl HistoryImport {
    /// Records chunk `(phase, chunk_order)` at `progress` with `stored`
    /// new messages, taken at `at`. Whether anything changed (a chunk
    /// taken before, with nothing new, changes nothing).
    pub fn took(
        &mut self,
        phase: u8,
        chunk: u32,
        progress: u8,
        stored: u64,
        at: DateTime<Utc>,
    ) -> bool {
        let new_chunk = self.chunks.insert((phase, chunk));
        if !new_chunk && stored == 0 {
            return false;
        }
        self.messages += stored;
        self.progress = self.progress.max(progress.min(100));
        self.updated_at = Some(at);
        if self.progress == 100 && self.completed_at.is_none() {
            self.completed_at = Some(at);
        }
        true
    }

    /// Whether Meta has sent everything (progress 100) or the business
    /// declined.
    pub fn is_complete(&self) -> bool {
        self.progress == 100 || self.declined
    }
}
