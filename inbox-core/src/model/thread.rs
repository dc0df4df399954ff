//! Thread control: which app answers a customer on a number several apps
//! share (WhatsApp's Conversation Routing: Meta's AI agent, a bot platform,
//! this inbox).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Who controls a conversation's thread on WhatsApp, as the inbox last
/// learned it (a handover webhook, a passive `standby` copy, or its own
/// `take`, `pass` and `release` calls).
///
/// ```
/// use inbox_core::model::ThreadControl;
/// let t = ThreadControl::elsewhere("ai_agent", chrono::DateTime::UNIX_EPOCH, None);
/// assert_eq!(t.other_app(), Some("ai_agent"));
/// assert!(!t.ours());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ThreadControl {
    /// The app controlling the thread, by role or name (`ai_agent` for
    /// Meta's AI agent); `None` when this inbox controls it.
    pub owner: Option<String>,
    /// The app that controlled it before (the one to pass it back to).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<String>,
    /// Since when.
    pub since: DateTime<Utc>,
    /// What came with the last handover (WhatsApp's `metadata`: the other
    /// app's summary of the conversation so far, say).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<String>,
}

impl ThreadControl {
    /// Another app, `owner`, controls the thread since `since`.
    pub fn elsewhere(owner: &str, since: DateTime<Utc>, metadata: Option<String>) -> Self {
        Self {
            owner: Some(owner.to_string()),
            previous: None,
            since,
            metadata,
        }
    }

    /// This inbox controls the thread since `since`; `previous` had it.
    pub fn ours_since(
        previous: Option<String>,
        since: DateTime<Utc>,
        metadata: Option<String>,
    ) -> Self {
        Self {
            owner: None,
            previous,
            since,
            metadata,
        }
    }

    /// Whether this inbox controls the thread.
    pub fn ours(&self) -> bool {
        self.owner.is_none()
    }

    /// The other app controlling the thread, if one does.
    pub fn other_app(&self) -> Option<&str> {
        self.owner.as_deref()
    }
}
