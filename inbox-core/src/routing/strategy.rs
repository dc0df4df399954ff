//! Assignment strategies: who gets the next conversation, and why.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::spec::Strategy;
use crate::calendar::Calendar;
use crate::ids::{AgentId, TeamId};
use crate::model::{Agent, Presence};

/// Where round robin stands in a team: the agent picked last. Kept in the
/// store (versioned, so two instances routing at once cannot both move it
/// from the same position), so a restart does not reset it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoutingCursor {
    /// The team.
    pub team: TeamId,
    /// The agent picked last.
    pub last: Option<AgentId>,
    /// Optimistic-concurrency version (`0`: never stored).
    pub version: u64,
}

impl RoutingCursor {
    /// The cursor of a team that never routed.
    pub fn start(team: TeamId) -> Self {
        Self {
            team,
            last: None,
            version: 0,
        }
    }
}

/// Everything assignment needs to know about the agents: who they are, how
/// many open conversations each has, who last served the contact, and where
/// round robin stands.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Roster {
    /// The tenant's agents.
    pub agents: Vec<Agent>,
    /// Open conversations per agent (absent: none).
    pub loads: BTreeMap<AgentId, u32>,
    /// The agent who last owned a conversation of this contact (sticky).
    pub last_agent: Option<AgentId>,
    /// Round-robin cursors by team (absent: at the start).
    pub cursors: BTreeMap<TeamId, RoutingCursor>,
}

/// Whether an agent can take new work now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Availability {
    /// Yes.
    Available,
    /// Deactivated.
    Inactive,
    /// Away or offline.
    NotOnline(Presence),
    /// Outside their shift.
    OffShift,
    /// At or over capacity.
    Full {
        /// Open conversations.
        load: u32,
        /// Capacity.
        capacity: u32,
    },
}

/// Whether `agent`, with `load` open conversations, can take one more at
/// `now`. An agent whose shift names an unknown calendar is off shift.
pub fn availability(
    agent: &Agent,
    load: u32,
    now: DateTime<Utc>,
    calendars: &BTreeMap<String, Calendar>,
) -> Availability {
    if !agent.active {
        return Availability::Inactive;
    }
    if agent.presence != Presence::Online {
        return Availability::NotOnline(agent.presence);
    }
    if let Some(shift) = &agent.shift {
        if !calendars.get(shift).is_some_and(|c| c.is_open(now)) {
            return Availability::OffShift;
        }
    }
    if agent.capacity != 0 && load >= agent.capacity {
        return Availability::Full {
            load,
            capacity: agent.capacity,
        };
    }
    Availability::Available
}

/// The outcome of a strategy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pick {
    /// The agent chosen, if any was available.
    pub agent: Option<AgentId>,
    /// Why, in words: `least loaded: ana 2/5 (ben 3/5, cy offline)`.
    pub explanation: String,
    /// The round-robin cursor to store with the assignment.
    pub cursor: Option<RoutingCursor>,
}

struct Candidate<'a> {
    agent: &'a Agent,
    load: u32,
    state: Availability,
}

fn load_text(agent: &Agent, load: u32) -> String {
    if agent.capacity == 0 {
        format!("{} {load}/∞", agent.id)
    } else {
        format!("{} {load}/{}", agent.id, agent.capacity)
    }
}

fn describe(c: &Candidate<'_>) -> String {
    match c.state {
        Availability::Available => load_text(c.agent, c.load),
        Availability::Inactive => format!("{} inactive", c.agent.id),
        Availability::NotOnline(p) => format!("{} {p}", c.agent.id),
        Availability::OffShift => format!("{} off shift", c.agent.id),
        Availability::Full { .. } => format!("{} full", load_text(c.agent, c.load)),
    }
}

/// The others, in a short list.
fn others(all: &[Candidate<'_>], chosen: Option<&AgentId>) -> String {
    const SHOWN: usize = 6;
    let rest: Vec<&Candidate<'_>> = all.iter().filter(|c| Some(&c.agent.id) != chosen).collect();
    let mut s = String::new();
    for (i, c) in rest.iter().take(SHOWN).enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        s.push_str(&describe(c));
    }
    if rest.len() > SHOWN {
        let _ = write!(s, ", +{} more", rest.len() - SHOWN);
    }
    s
}

/// Picks an agent of a team with a strategy.
pub(crate) struct Picker<'a> {
    pub roster: &'a Roster,
    /// Loads including assignments made earlier in the same run.
    pub extra: &'a BTreeMap<AgentId, u32>,
    pub now: DateTime<Utc>,
    pub calendars: &'a BTreeMap<String, Calendar>,
}

impl Picker<'_> {
    pub(crate) fn load(&self, agent: &AgentId) -> u32 {
        self.roster.loads.get(agent).copied().unwrap_or(0)
            + self.extra.get(agent).copied().unwrap_or(0)
    }

    pub(crate) fn availability_of(&self, agent: &Agent) -> Availability {
        availability(agent, self.load(&agent.id), self.now, self.calendars)
    }

    fn candidates(&self, team: &TeamId) -> Vec<Candidate<'_>> {
        let mut v: Vec<Candidate<'_>> = self
            .roster
            .agents
            .iter()
            .filter(|a| a.is_in_team(team) && a.active)
            .map(|a| Candidate {
                agent: a,
                load: self.load(&a.id),
                state: self.availability_of(a),
            })
            .collect();
        v.sort_by(|a, b| a.agent.id.cmp(&b.agent.id));
        v
    }

    /// Runs `strategy` (with `fallback` for sticky and skills) over the
    /// team's agents.
    pub(crate) fn pick(
        &self,
        team: &TeamId,
        strategy: Strategy,
        fallback: Strategy,
        skills: &[String],
        conversation_tags: &[String],
    ) -> Pick {
        let all = self.candidates(team);
        match strategy {
            Strategy::Manual => Pick {
                agent: None,
                explanation: "manual: waiting in the queue".into(),
                cursor: None,
            },
            Strategy::RoundRobin => self.round_robin(team, &all),
            Strategy::LeastLoaded => least_loaded(&all, "least loaded", |_| true),
            Strategy::Sticky => {
                let last = self.roster.last_agent.as_ref();
                let found = last.and_then(|l| all.iter().find(|c| &c.agent.id == l));
                match found {
                    Some(c) if c.state == Availability::Available => Pick {
                        agent: Some(c.agent.id.clone()),
                        explanation: format!(
                            "sticky: {} served this contact before ({})",
                            c.agent.id,
                            load_text(c.agent, c.load)
                        ),
                        cursor: None,
                    },
                    other => {
                        let why = match (other, last) {
                            (Some(c), _) => format!("sticky: {} → ", describe(c)),
                            (None, Some(l)) => format!("sticky: {l} is not in team {team} → "),
                            (None, None) => "sticky: no previous agent → ".to_string(),
                        };
                        self.fallback(team, &all, fallback, why)
                    }
                }
            }
            Strategy::Skills => {
                let required: Vec<String> = if skills.is_empty() {
                    conversation_tags
                        .iter()
                        .filter(|t| {
                            all.iter()
                                .any(|c| c.agent.skills.iter().any(|s| s.eq_ignore_ascii_case(t)))
                        })
                        .cloned()
                        .collect()
                } else {
                    skills.to_vec()
                };
                if required.is_empty() {
                    return self.fallback(team, &all, fallback, "skills: none required → ".into());
                }
                let has = |a: &Agent| {
                    required
                        .iter()
                        .all(|r| a.skills.iter().any(|s| s.eq_ignore_ascii_case(r)))
                };
                let label = format!("skills [{}]", required.join(", "));
                let p = least_loaded(&all, &label, |c| has(c.agent));
                if p.agent.is_some() {
                    p
                } else {
                    let why = format!("{label}: nobody available with them → ");
                    self.fallback(team, &all, fallback, why)
                }
            }
        }
    }

    fn fallback(&self, team: &TeamId, all: &[Candidate<'_>], s: Strategy, why: String) -> Pick {
        let mut p = match s {
            Strategy::RoundRobin => self.round_robin(team, all),
            Strategy::Manual => Pick {
                agent: None,
                explanation: "manual: waiting in the queue".into(),
                cursor: None,
            },
            _ => least_loaded(all, "least loaded", |_| true),
        };
        p.explanation.insert_str(0, &why);
        p
    }

    fn round_robin(&self, team: &TeamId, all: &[Candidate<'_>]) -> Pick {
        let cursor = self
            .roster
            .cursors
            .get(team)
            .cloned()
            .unwrap_or_else(|| RoutingCursor::start(team.clone()));
        let available: Vec<&Candidate<'_>> = all
            .iter()
            .filter(|c| c.state == Availability::Available)
            .collect();
        let next = match &cursor.last {
            Some(last) => available
                .iter()
                .find(|c| &c.agent.id > last)
                .or_else(|| available.first()),
            None => available.first(),
        };
        match next {
            None => Pick {
                agent: None,
                explanation: format!("round robin: nobody available ({})", others(all, None)),
                cursor: None,
            },
            Some(c) => {
                let id = c.agent.id.clone();
                let after = cursor
                    .last
                    .as_ref()
                    .map(|l| format!("after {l}"))
                    .unwrap_or_else(|| "first".into());
                let rest = others(all, Some(&id));
                Pick {
                    explanation: if rest.is_empty() {
                        format!("round robin: {} ({after})", load_text(c.agent, c.load))
                    } else {
                        format!(
                            "round robin: {} ({after}; {rest})",
                            load_text(c.agent, c.load)
                        )
                    },
                    cursor: Some(RoutingCursor {
                        team: team.clone(),
                        last: Some(id.clone()),
                        version: cursor.version + 1,
                    }),
                    agent: Some(id),
                }
            }
        }
    }
}

/// The available candidate with the fewest open conversations (ties: the
/// lower share of capacity, then the id).
fn least_loaded(
    all: &[Candidate<'_>],
    label: &str,
    eligible: impl Fn(&Candidate<'_>) -> bool,
) -> Pick {
    let ratio = |c: &Candidate<'_>| {
        if c.agent.capacity == 0 {
            0.0
        } else {
            f64::from(c.load) / f64::from(c.agent.capacity)
        }
    };
    let best = all
        .iter()
        .filter(|c| c.state == Availability::Available && eligible(c))
        .min_by(|a, b| {
            a.load
                .cmp(&b.load)
                .then(ratio(a).total_cmp(&ratio(b)))
                .then(a.agent.id.cmp(&b.agent.id))
        });
    match best {
        None => Pick {
            agent: None,
            explanation: format!("{label}: nobody available ({})", others(all, None)),
            cursor: None,
        },
        Some(c) => {
            let rest = others(all, Some(&c.agent.id));
            Pick {
                agent: Some(c.agent.id.clone()),
                explanation: if rest.is_empty() {
                    format!("{label}: {}", load_text(c.agent, c.load))
                } else {
                    format!("{label}: {} ({rest})", load_text(c.agent, c.load))
                },
                cursor: None,
            }
        }
    }
}
