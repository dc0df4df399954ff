//! Inbox listing: filters, sort orders and cursor pagination shared by every
//! store.
//!
//! The core defines the exact semantics ([`ConversationFilter::matches`] and
//! [`SortOrder::key`]) so that every store returns the same pages; the memory
//! store evaluates them directly, a SQL store mirrors them in its query (the
//! conformance suite checks both agree).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::ids::{AgentId, ChannelId, ContactId, TeamId};
use crate::model::{Conversation, ConversationStatus, Priority};

// Search lives in [`crate::search`]; its types stay reachable here.
pub use crate::search::{
    search_digits, search_tokens, text_matches, SearchHit, SearchQuery, ValidSearch,
};

/// Which owner a listing wants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(tag = "kind", content = "agent", rename_all = "snake_case")]
pub enum AssigneeFilter {
    /// Any owner or none.
    #[default]
    Any,
    /// No owner.
    Unassigned,
    /// Owned by this agent.
    Agent(AgentId),
}

/// Limits a listing to what an agent may see: conversations they own, those
/// of their teams, and those not routed to any team.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VisibleTo {
    /// The agent.
    pub agent: AgentId,
    /// The agent's teams.
    pub teams: Vec<TeamId>,
}

/// Conditions on conversations (all must hold).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ConversationFilter {
    /// Any of these statuses (empty: any status).
    #[serde(default)]
    pub statuses: Vec<ConversationStatus>,
    /// Owner.
    #[serde(default)]
    pub assignee: AssigneeFilter,
    /// In this team.
    pub team: Option<TeamId>,
    /// On this channel.
    pub channel: Option<ChannelId>,
    /// With this contact.
    pub contact: Option<ContactId>,
    /// Carrying this tag.
    pub tag: Option<String>,
    /// At least this priority.
    pub min_priority: Option<Priority>,
    /// Only those this agent may see.
    pub visible_to: Option<VisibleTo>,
}

impl ConversationFilter {
    /// Whether `c` passes the filter. Stores must implement exactly this.
    pub fn matches(&self, c: &Conversation) -> bool {
        if !self.statuses.is_empty() && !self.statuses.contains(&c.status) {
            return false;
        }
        match &self.assignee {
            AssigneeFilter::Any => {}
            AssigneeFilter::Unassigned => {
                if c.assignee.is_some() {
                    return false;
                }
            }
            AssigneeFilter::Agent(a) => {
                if c.assignee.as_ref() != Some(a) {
                    return false;
                }
            }
        }
        if self
            .team
            .as_ref()
            .is_some_and(|t| c.team.as_ref() != Some(t))
        {
            return false;
        }
        if self.channel.as_ref().is_some_and(|ch| &c.channel != ch) {
            return false;
        }
        if self.contact.as_ref().is_some_and(|k| &c.contact != k) {
            return false;
        }
        if self.tag.as_ref().is_some_and(|t| !c.tags.contains(t)) {
            return false;
        }
        if self.min_priority.is_some_and(|p| c.priority < p) {
            return false;
        }
        if let Some(v) = &self.visible_to {
            let visible = c.assignee.as_ref() == Some(&v.agent)
                || match &c.team {
                    None => true,
                    Some(t) => v.teams.contains(t),
                };
            if !visible {
                return false;
            }
        }
        true
    }
}

/// How a listing is ordered. Ties are broken by conversation id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum SortOrder {
    /// Most recent activity first (the usual inbox).
    #[default]
    LatestActivity,
    /// Oldest activity first.
    OldestActivity,
    /// Customers waiting longest first; conversations nobody waits on last.
    WaitingLongest,
    /// Highest priority first, then most recent activity.
    Priority,
    /// Newest conversations first.
    Newest,
}

/// A position in a sort order: two integer keys and the id, compared in that
/// order, ascending.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct SortKey {
    /// First key.
    pub a: i64,
    /// Second key.
    pub b: i64,
    /// The conversation id (tie breaker).
    pub id: String,
}

fn micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

fn priority_rank(p: Priority) -> i64 {
    match p {
        Priority::Low => 0,
        Priority::Normal => 1,
        Priority::High => 2,
        Priority::Urgent => 3,
    }
}

impl SortOrder {
    /// The key of `c` in this order; a listing is sorted by ascending key.
    /// Stores must implement exactly this (a SQL store orders by the same
    /// expressions).
    pub fn key(self, c: &Conversation) -> SortKey {
        let (a, b) = match self {
            SortOrder::LatestActivity => (-micros(c.last_activity_at), 0),
            SortOrder::OldestActivity => (micros(c.last_activity_at), 0),
            SortOrder::WaitingLongest => (c.waiting_since.map(micros).unwrap_or(i64::MAX), 0),
            SortOrder::Priority => (-priority_rank(c.priority), -micros(c.last_activity_at)),
            SortOrder::Newest => (-micros(c.created_at), 0),
        };
        SortKey {
            a,
            b,
            id: c.id.as_str().to_string(),
        }
    }
}

/// An opaque position after which the next page starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Cursor(String);

impl Cursor {
    /// The cursor pointing just after `key` in `order`.
    pub fn after(order: SortOrder, key: &SortKey) -> Self {
        Cursor(format!(
            "{}.{}.{}.{}",
            order_tag(order),
            key.a,
            key.b,
            key.id
        ))
    }

    /// Parses a cursor string received from a client.
    pub fn parse(s: &str) -> Result<Self, Error> {
        let c = Cursor(s.to_string());
        c.decode().map(|_| c)
    }

    /// The cursor as a string for clients.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The sort order and key it encodes.
    pub fn decode(&self) -> Result<(SortOrder, SortKey), Error> {
        let bad = || Error::invalid("cursor", "malformed or from another listing");
        let mut parts = self.0.splitn(4, '.');
        let order = match parts.next() {
            Some("la") => SortOrder::LatestActivity,
            Some("oa") => SortOrder::OldestActivity,
            Some("wl") => SortOrder::WaitingLongest,
            Some("pr") => SortOrder::Priority,
            Some("nw") => SortOrder::Newest,
            _ => return Err(bad()),
        };
        let a = parts.next().and_then(|s| s.parse().ok()).ok_or_else(bad)?;
        let b = parts.next().and_then(|s| s.parse().ok()).ok_or_else(bad)?;
        let id = parts.next().filter(|s| !s.is_empty()).ok_or_else(bad)?;
        Ok((
            order,
            SortKey {
                a,
                b,
                id: id.to_string(),
            },
        ))
    }
}

fn order_tag(order: SortOrder) -> &'static str {
    match order {
        SortOrder::LatestActivity => "la",
        SortOrder::OldestActivity => "oa",
        SortOrder::WaitingLongest => "wl",
        SortOrder::Priority => "pr",
        SortOrder::Newest => "nw",
    }
}

/// A store-level listing request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversationQuery {
    /// Conditions.
    pub filter: ConversationFilter,
    /// Order.
    pub sort: SortOrder,
    /// Start after this position (from a previous page).
    pub after: Option<Cursor>,
    /// Page size, 1 to [`ConversationQuery::MAX_LIMIT`].
    pub limit: u32,
}

impl ConversationQuery {
    /// Largest page size.
    pub const MAX_LIMIT: u32 = 500;

    /// Checks the limit and that the cursor belongs to this sort order,
    /// returning the decoded cursor key.
    pub fn validate(&self) -> Result<Option<SortKey>, Error> {
        if self.limit == 0 || self.limit > Self::MAX_LIMIT {
            return Err(Error::invalid(
                "limit",
                format!("must be between 1 and {}", Self::MAX_LIMIT),
            ));
        }
        match &self.after {
            None => Ok(None),
            Some(c) => {
                let (order, key) = c.decode()?;
                if order != self.sort {
                    return Err(Error::invalid("cursor", "belongs to another sort order"));
                }
                Ok(Some(key))
            }
        }
    }
}

/// One page of a listing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Page<T> {
    /// The items, in order.
    pub items: Vec<T>,
    /// Where the next page starts; `None` on the last page.
    pub next: Option<Cursor>,
}

impl<T> Page<T> {
    /// The page of the first `limit` of `items`, read in listing order
    /// with one more than a page holds when there is a next page, which
    /// then starts after the last item (`cursor` of it).
    pub fn first(mut items: Vec<T>, limit: u32, cursor: impl Fn(&T) -> Cursor) -> Self {
        let more = items.len() > limit as usize;
        items.truncate(limit as usize);
        let next = if more { items.last().map(cursor) } else { None };
        Page { items, next }
    }

    /// The first `limit` of `keyed` (items with their sort keys, any order,
    /// all after the requested cursor), sorted by key, with the cursor of
    /// the next page when more were given (a `limit` of 0 counts as 1).
    /// For stores that page in memory.
    ///
    /// ```
    /// use inbox_core::query::{Page, SortKey, SortOrder};
    /// let key = |a| SortKey { a, b: 0, id: String::new() };
    /// let page = Page::from_keyed(vec![(key(3), "c"), (key(1), "a"), (key(2), "b")], 2, SortOrder::LatestActivity);
    /// assert_eq!(page.items, ["a", "b"]);
    /// assert!(page.next.is_some());
    /// ```
    pub fn from_keyed(mut keyed: Vec<(SortKey, T)>, limit: u32, sort: SortOrder) -> Self {
        keyed.sort_by(|x, y| x.0.cmp(&y.0));
        let page = Page::first(keyed, limit.max(1), |(k, _)| Cursor::after(sort, k));
        Page {
            items: page.items.into_iter().map(|(_, item)| item).collect(),
            next: page.next,
        }
    }
}

/// Pages an already filtered iterator of conversations the way every store
/// must: sort by key, skip up to and including the cursor, take `limit`.
/// Helper for stores that hold conversations in memory.
pub fn page_in_memory<'a>(
    query: &ConversationQuery,
    conversations: impl Iterator<Item = &'a Conversation>,
) -> Result<Page<Conversation>, Error> {
    let after = query.validate()?;
    let keyed: Vec<(SortKey, &Conversation)> = conversations
        .filter(|c| query.filter.matches(c))
        .map(|c| (query.sort.key(c), c))
        .filter(|(k, _)| after.as_ref().is_none_or(|a| k > a))
        .collect();
    let page = Page::from_keyed(keyed, query.limit, query.sort);
    Ok(Page {
        items: page.items.into_iter().cloned().collect(),
        next: page.next,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let key = SortKey {
            a: -5,
            b: 7,
            id: "conv.with.dots".into(),
        };
        let c = Cursor::after(SortOrder::Priority, &key);
        assert_eq!(c.decode().unwrap(), (SortOrder::Priority, key));
        for bad in ["", "zz.1.2.x", "la.x.2.id", "la.1.2.", "la.1"] {
            assert_eq!(Cursor::parse(bad).unwrap_err().code(), "invalid_input");
        }
    }
}
