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

fn write_load(s: &mut String, agent: &Agent, load: u32) {
    if agent.capacity == 0 {
        let _ = write!(s, "{} {load}/∞", agent.id);
    } else {
        let _ = write!(s, "{} {load}/{}", agent.id, agent.capacity);
    }
}

fn load_text(agent: &Agent, load: u32) -> String {
    let mut s = String::new();
    write_load(&mut s, agent, load);
    s
}

fn write_candidate(s: &mut String, c: &Candidate<'_>) {
    match c.state {
        Availability::Available => write_load(s, c.agent, c.load),
        Availability::Inactive => {
            let _ = write!(s, "{} inactive", c.agent.id);
        }
        Availability::NotOnline(p) => {
            let _ = write!(s, "{} {p}", c.agent.id);
        }
        Availability::OffShift => {
            let _ = write!(s, "{} off shift", c.agent.id);
        }
        Availability::Full { .. } => {
            write_load(s, c.agent, c.load);
            s.push_str(" full");
        }
    }
}

fn describe(c: &Candidate<'_>) -> String {
    let mut s = String::new();
    write_candidate(&mut s, c);
    s
}

/// The others, in a short list, appended to `s`.
fn write_others(s: &mut String, all: &[Candidate<'_>], chosen: Option<&AgentId>) {
    const SHOWN: usize = 6;
    let mut n = 0;
    for c in all.iter().filter(|c| Some(&c.agent.id) != chosen) {
        if n < SHOWN {
            if n > 0 {
                s.push_str(", ");
            }
            write_candidate(s, c);
        }
        n += 1;
    }
    if n > SHOWN {
        let _ = write!(s, ", +{} more", n - SHOWN);
    }
}

/// `label: chosen (others)`.
fn explain(label: &str, all: &[Candidate<'_>], chosen: Option<&Candidate<'_>>) -> String {
    let mut s = String::with_capacity(128);
    s.push_str(label);
    s.push_str(": ");
    match chosen {
        Some(c) => {
            write_load(&mut s, c.agent, c.load);
            if all.len() > 1 {
                s.push_str(" (");
                write_others(&mut s, all, Some(&c.agent.id));
                s.push(')');
            }
        }
        None => {
            s.push_str("nobody available (");
            write_others(&mut s, all, None);
            s.push(')');
        }
    }
    s
}

/// Picks an agent of a team with a strategy.
pub(crate) struct Picker<'a> {
    pub roster: &'a Roster,
    /// Round-robin cursors moved by picks earlier in the same run (they
    /// win over the roster's).
    pub moved: &'a BTreeMap<TeamId, RoutingCursor>,
    /// Loads including assignments made earlier in the same run.
    pub extra: &'a BTreeMap<AgentId, u32>,
    pub now: DateTime<Utc>,
    pub calendars: &'a BTreeMap<String, Calendar>,
}

impl Picker<'_> {
    pub(crate) fn load(&self, agent: &AgentId) -> u32 {
        let extra = if self.extra.is_empty() {
            0
        } else {
            self.extra.get(agent).copied().unwrap_or(0)
        };
        self.roster.loads.get(agent).copied().unwrap_or(0) + extra
    }

    pub(crate) fn availability_of(&self, agent: &Agent) -> Availability {
        availability(agent, self.load(&agent.id), self.now, self.calendars)
    }

    fn candidates(&self, team: &TeamId) -> Vec<Candidate<'_>> {
        // In the roster's order (stores list agents by id); every choice
        // below breaks ties by id explicitly, so the order only affects how
        // explanations list the others. Loads are read by walking the
        // (id-ordered) load map alongside the agents while the agents come
        // in id order too, instead of a lookup per agent.
        let mut loads = self.roster.loads.iter().peekable();
        let mut previous: Option<&AgentId> = None;
        let mut out = Vec::with_capacity(self.roster.agents.len());
        for a in &self.roster.agents {
            let in_order = previous.is_none_or(|p| p < &a.id);
            previous = Some(&a.id);
            let stored = if in_order {
                while loads.next_if(|(id, _)| *id < &a.id).is_some() {}
                loads.next_if(|(id, _)| *id == &a.id).map_or(0, |(_, n)| *n)
            } else {
                self.roster.loads.get(&a.id).copied().unwrap_or(0)
            };
            if !a.active || !a.is_in_team(team) {
                continue;
            }
            let extra = if self.extra.is_empty() {
                0
            } else {
                self.extra.get(&a.id).copied().unwrap_or(0)
            };
            let load = stored + extra;
            out.push(Candidate {
                agent: a,
                load,
                state: availability(a, load, self.now, self.calendars),
            });
        }
        out
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
            .moved
            .get(team)
            .or_else(|| self.roster.cursors.get(team))
            .cloned()
            .unwrap_or_else(|| RoutingCursor::start(team.clone()));
        let available: Vec<&Candidate<'_>> = all
            .iter()
            .filter(|c| c.state == Availability::Available)
            .collect();
        // The first agent (by id) after the last one picked, wrapping round.
        let first = available.iter().min_by(|a, b| a.agent.id.cmp(&b.agent.id));
        let next = match &cursor.last {
            Some(last) => available
                .iter()
                .filter(|c| &c.agent.id > last)
                .min_by(|a, b| a.agent.id.cmp(&b.agent.id))
                .or(first),
            None => first,
        };
        match next {
            None => Pick {
                agent: None,
                explanation: explain("round robin", all, None),
                cursor: None,
            },
            Some(c) => {
                let id = c.agent.id.clone();
                let mut explanation = String::with_capacity(128);
                explanation.push_str("round robin: ");
                write_load(&mut explanation, c.agent, c.load);
                match &cursor.last {
                    Some(l) => {
                        let _ = write!(explanation, " (after {l}");
                    }
                    None => explanation.push_str(" (first"),
                }
                if all.len() > 1 {
                    explanation.push_str("; ");
                    write_others(&mut explanation, all, Some(&id));
                }
                explanation.push(')');
                Pick {
                    explanation,
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
    // load / capacity, compared without division: a/b < c/d ⇔ a·d < c·b
    // (unlimited capacity counts as a share of zero).
    let share = |c: &Candidate<'_>| {
        if c.agent.capacity == 0 {
            (0u64, 1u64)
        } else {
            (u64::from(c.load), u64::from(c.agent.capacity))
        }
    };
    let better = |a: &Candidate<'_>, b: &Candidate<'_>| {
        let ((an, ad), (bn, bd)) = (share(a), share(b));
        a.load
            .cmp(&b.load)
            .then((an * bd).cmp(&(bn * ad)))
            .then_with(|| a.agent.id.cmp(&b.agent.id))
    };
    let best = all
        .iter()
        .filter(|c| c.state == Availability::Available && eligible(c))
        .min_by(|a, b| better(a, b));
    Pick {
        agent: best.map(|c| c.agent.id.clone()),
        explanation: explain(label, all, best),
        cursor: None,
    }
}
