//! Team queues: the conversations waiting unassigned in a team, in the
//! order they are served, and how an assignment from a queue explains
//! itself (`queue: waited 14 min, ana freed capacity 4/5 → team sales →
//! least loaded: ana 4/5 (ben 5/5 full)`).

use chrono::{DateTime, TimeDelta, Utc};
use std::fmt::Write as _;

use super::strategy::load_text;
use crate::ids::{AgentId, ConversationId, TeamId};
use crate::model::{Agent, Conversation};

/// A conversation waiting unassigned in a team's queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiting {
    /// The conversation.
    pub conversation: ConversationId,
    /// Since when its customer waits for an answer (`None`: nobody waits
    /// on it, and it is served after those who do).
    pub waiting_since: Option<DateTime<Utc>>,
}

/// The position in a queue: longest waiting first, those nobody waits on
/// last, ties by id (the order of
/// [`SortOrder::WaitingLongest`](crate::query::SortOrder::WaitingLongest)).
fn position(since: Option<DateTime<Utc>>, id: &ConversationId) -> (i64, &str) {
    (
        since.map_or(i64::MAX, |t| t.timestamp_micros()),
        id.as_str(),
    )
}

impl Waiting {
    /// The queue entry of a conversation.
    pub fn of(c: &Conversation) -> Self {
        Self {
            conversation: c.id.clone(),
            waiting_since: c.waiting_since,
        }
    }

    /// Whether this entry is served before `c` (it waited longer).
    pub fn is_ahead_of(&self, c: &Conversation) -> bool {
        self.conversation != c.id
            && position(self.waiting_since, &self.conversation) < position(c.waiting_since, &c.id)
    }
}

/// What set a queue drain off: why capacity is there to hand out. Shown in
/// the reason of every assignment the drain makes.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DrainCause {
    /// An agent's conversation was resolved, released, transferred or
    /// reassigned away: `ana freed capacity 4/5`.
    Freed(AgentId),
    /// An agent's capacity was raised: `ana's capacity raised 4/6`.
    CapacityRaised(AgentId),
    /// An agent's settings changed otherwise (teams, shift, activation):
    /// `ana updated 4/5`.
    AgentUpdated(AgentId),
    /// An agent came online: `ana came online 0/5`.
    CameOnline(AgentId),
    /// A conversation joined the queue while someone had room:
    /// `first in line`.
    FirstInLine,
    /// The periodic tick: `periodic check`.
    Tick,
    /// The application asked for it ([`Inbox::assign_queued`](crate::Inbox::assign_queued)):
    /// `queue check`.
    Requested,
}

impl DrainCause {
    /// The agent whose change made room, if one did.
    pub fn agent(&self) -> Option<&AgentId> {
        match self {
            DrainCause::Freed(a)
            | DrainCause::CapacityRaised(a)
            | DrainCause::AgentUpdated(a)
            | DrainCause::CameOnline(a) => Some(a),
            DrainCause::FirstInLine | DrainCause::Tick | DrainCause::Requested => None,
        }
    }

    /// In words; `agent` is the agent of [`DrainCause::agent`] with their
    /// current load, when known.
    pub fn describe(&self, agent: Option<(&Agent, u32)>) -> String {
        let what = match self {
            DrainCause::Freed(_) => "freed capacity",
            DrainCause::CapacityRaised(_) => "'s capacity raised",
            DrainCause::AgentUpdated(_) => "updated",
            DrainCause::CameOnline(_) => "came online",
            DrainCause::FirstInLine => return "first in line".into(),
            DrainCause::Tick => return "periodic check".into(),
            DrainCause::Requested => return "queue check".into(),
        };
        let Some(id) = self.agent() else {
            return what.into();
        };
        let mut s = id.to_string();
        if !what.starts_with('\'') {
            s.push(' ');
        }
        s.push_str(what);
        if let Some((a, load)) = agent.filter(|(a, _)| &a.id == id) {
            // `load_text` starts with the id: keep the numbers only.
            let full = load_text(a, load);
            s.push_str(&full[a.id.as_str().len()..]);
        }
        s
    }
}

/// How long someone waited, for people: `40 s`, `14 min`, `1 h`,
/// `2 h 5 min`, `3 d 4 h`.
pub fn waited_text(d: TimeDelta) -> String {
    let secs = d.num_seconds().max(0);
    let (days, hours, mins) = (secs / 86_400, secs / 3_600 % 24, secs / 60 % 60);
    let mut s = String::new();
    if secs < 60 {
        let _ = write!(s, "{secs} s");
    } else if secs < 3_600 {
        let _ = write!(s, "{mins} min");
    } else if secs < 86_400 {
        let _ = write!(s, "{hours} h");
        if mins > 0 {
            let _ = write!(s, " {mins} min");
        }
    } else {
        let _ = write!(s, "{days} d");
        if hours > 0 {
            let _ = write!(s, " {hours} h");
        }
    }
    s
}

/// The reason of an assignment from a team queue:
/// `queue: waited 14 min, ana freed capacity 4/5 → team sales → <pick>`.
pub fn queue_reason(
    waited: Option<TimeDelta>,
    cause: &str,
    team: &TeamId,
    explanation: &str,
) -> String {
    let waited = match waited {
        Some(d) => format!("waited {}", waited_text(d)),
        None => "no customer message waiting".into(),
    };
    format!("queue: {waited}, {cause} → team {team} → {explanation}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::TenantId;
    use crate::model::Role;

    #[test]
    fn waits_read_like_people_say_them() {
        let cases = [
            (40, "40 s"),
            (14 * 60 + 59, "14 min"),
            (3_600, "1 h"),
            (2 * 3_600 + 5 * 60, "2 h 5 min"),
            (86_400, "1 d"),
            (3 * 86_400 + 4 * 3_600 + 59, "3 d 4 h"),
            (-5, "0 s"),
        ];
        for (secs, text) in cases {
            assert_eq!(waited_text(TimeDelta::seconds(secs)), text);
        }
    }

    #[test]
    fn causes_name_the_agent_and_their_load() {
        let t = TenantId::new("t").unwrap();
        let ana = Agent::new(t, AgentId::new("ana").unwrap(), "Ana", Role::Agent).with_capacity(5);
        let id = ana.id.clone();
        let with = Some((&ana, 4));
        assert_eq!(
            DrainCause::Freed(id.clone()).describe(with),
            "ana freed capacity 4/5"
        );
        assert_eq!(
            DrainCause::CapacityRaised(id.clone()).describe(with),
            "ana's capacity raised 4/5"
        );
        assert_eq!(
            DrainCause::CameOnline(id.clone()).describe(None),
            "ana came online"
        );
        assert_eq!(DrainCause::Tick.describe(with), "periodic check");
        assert_eq!(
            queue_reason(
                Some(TimeDelta::minutes(14)),
                "ana freed capacity 4/5",
                &TeamId::new("sales").unwrap(),
                "least loaded: ana 4/5"
            ),
            "queue: waited 14 min, ana freed capacity 4/5 → team sales → least loaded: ana 4/5"
        );
    }
}
