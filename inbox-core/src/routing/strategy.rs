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
    /// The first conversations waiting in team queues, longest waiting
    /// first. `None`: queues are not looked at, and `assign` gives a free
    /// agent to the conversation at hand. `Some`: a conversation is not
    /// assigned ahead of one waiting longer in a team whose queue drains
    /// (a team with an automatic strategy); a team missing from the map
    /// makes the run ask for it ([`RunOutcome::needs_queue`](super::RunOutcome::needs_queue)).
    pub queues: Option<BTreeMap<TeamId, Vec<super::Waiting>>>,
}

/// Whether an agent can take new work now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Availability {
    /// Yes.
    Available,
    /// Deactivated, or a service account (which never takes work).
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
/// `now`. An agent whose shift names an unknown calendar is off shift; a
/// service account ([`Agent::service`]) never can.
pub fn availability(
    agent: &Agent,
    load: u32,
    now: DateTime<Utc>,
    calendars: &BTreeMap<String, Calendar>,
) -> Availability {
    if !agent.active || agent.service {
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
    // Written by hand: explanations are built on every automatic
    // assignment, and `write!` costs several times more.
    s.push_str(agent.id.as_str());
    s.push(' ');
    push_u32(s, load);
    if agent.capacity == 0 {
        s.push_str("/∞");
    } else {
        s.push('/');
        push_u32(s, agent.capacity);
    }
}

fn push_u32(s: &mut String, mut n: u32) {
    let mut digits = [0u8; 10];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for d in &digits[i..] {
        s.push(char::from(*d));
    }
}

pub(crate) fn load_text(agent: &Agent, load: u32) -> String {
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

    /// The team's active agents, and whether they came in id order.
    fn candidates(&self, team: &TeamId) -> (Vec<Candidate<'_>>, bool) {
        // In the roster's order (stores list agents by id); every choice
        // below breaks ties by id explicitly, so the order only affects how
        // explanations list the others. Loads are read by walking the
        // (id-ordered) load map alongside the agents while the agents come
        // in id order too, instead of a lookup per agent.
        let mut loads = self.roster.loads.iter().peekable();
        let mut previous: Option<&AgentId> = None;
        let mut sorted = true;
        let mut out = Vec::with_capacity(self.roster.agents.len());
        for a in &self.roster.agents {
            // The walk only moves forward: an agent listed after a greater
            // id is looked up instead.
            let in_order = previous.is_none_or(|p| p < &a.id);
            let stored = if in_order {
                previous = Some(&a.id);
                let mut found = 0;
                while let Some((id, n)) = loads.peek() {
                    match (*id).cmp(&a.id) {
                        std::cmp::Ordering::Less => {
                            loads.next();
                        }
                        std::cmp::Ordering::Equal => {
                            found = **n;
                            loads.next();
                            break;
                        }
                        std::cmp::Ordering::Greater => break,
                    }
                }
                found
            } else {
                sorted = false;
                self.roster.loads.get(&a.id).copied().unwrap_or(0)
            };
            if !a.active || a.service || !a.is_in_team(team) {
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
        (out, sorted)
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
        let (all, sorted) = self.candidates(team);
        match strategy {
            Strategy::Manual => Pick {
                agent: None,
                explanation: "manual: waiting in the queue".into(),
                cursor: None,
            },
            Strategy::RoundRobin => self.round_robin(team, &all, sorted),
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
                        self.fallback(team, (&all, sorted), fallback, why)
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
                    return self.fallback(
                        team,
                        (&all, sorted),
                        fallback,
                        "skills: none required → ".into(),
                    );
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
                    self.fallback(team, (&all, sorted), fallback, why)
                }
            }
        }
    }

    fn fallback(
        &self,
        team: &TeamId,
        (all, sorted): (&[Candidate<'_>], bool),
        s: Strategy,
        why: String,
    ) -> Pick {
        let mut p = match s {
            Strategy::RoundRobin => self.round_robin(team, all, sorted),
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

    /// Round robin over `all`; `sorted`: they are in id order (as stores
    /// list agents), so the scan can stop at the first match.
    fn round_robin(&self, team: &TeamId, all: &[Candidate<'_>], sorted: bool) -> Pick {
        let cursor = self
            .moved
            .get(team)
            .or_else(|| self.roster.cursors.get(team))
            .cloned()
            .unwrap_or_else(|| RoutingCursor::start(team.clone()));
        // The first available agent (by id) after the last one picked,
        // wrapping round to the first of all.
        let mut available = all.iter().filter(|c| c.state == Availability::Available);
        let (first, after) = if sorted {
            let first = available.clone().next();
            let after = match &cursor.last {
                Some(last) => available.find(|c| &c.agent.id > last),
                None => None,
            };
            (first, after)
        } else {
            let mut first: Option<&Candidate<'_>> = None;
            let mut after: Option<&Candidate<'_>> = None;
            for c in available {
                if first.is_none_or(|f| c.agent.id < f.agent.id) {
                    first = Some(c);
                }
                if let Some(last) = &cursor.last {
                    if &c.agent.id > last && after.is_none_or(|a| c.agent.id < a.agent.id) {
                        after = Some(c);
                    }
                }
            }
            (first, after)
        };
        let next = after.or(first);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::TenantId;
    use crate::model::Role;
    use chrono::TimeZone;

    fn pick(
        roster: &Roster,
        moved: &BTreeMap<TeamId, RoutingCursor>,
        team: &TeamId,
        strategy: Strategy,
    ) -> Pick {
        let picker = Picker {
            roster,
            moved,
            extra: &BTreeMap::new(),
            now: Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap(),
            calendars: &BTreeMap::new(),
        };
        picker.pick(team, strategy, strategy, &[], &[])
    }

    #[test]
    fn loads_are_read_whatever_the_roster_order() {
        let t = TenantId::new("t").unwrap();
        let team = TeamId::new("sales").unwrap();
        let mut roster = Roster::default();
        for (id, load) in [("cy", 3), ("ana", 4), ("ben", 2), ("dan", 5)] {
            let mut a = Agent::new(t.clone(), AgentId::new(id).unwrap(), id, Role::Agent)
                .in_team(team.clone())
                .with_capacity(10);
            a.presence = Presence::Online;
            roster.loads.insert(a.id.clone(), load);
            roster.agents.push(a);
        }
        let pick = pick(&roster, &BTreeMap::new(), &team, Strategy::LeastLoaded);
        assert_eq!(pick.agent.as_ref().map(AgentId::as_str), Some("ben"));
        assert_eq!(
            pick.explanation,
            "least loaded: ben 2/10 (cy 3/10, ana 4/10, dan 5/10)"
        );
    }

    #[test]
    fn round_robin_goes_by_id_whatever_the_roster_order() {
        let t = TenantId::new("t").unwrap();
        let team = TeamId::new("sales").unwrap();
        for order in [["ana", "ben", "cy", "dan"], ["cy", "dan", "ben", "ana"]] {
            let mut roster = Roster::default();
            for id in order {
                let mut a = Agent::new(t.clone(), AgentId::new(id).unwrap(), id, Role::Agent)
                    .in_team(team.clone());
                a.presence = if id == "cy" {
                    Presence::Away
                } else {
                    Presence::Online
                };
                roster.agents.push(a);
            }
            for (last, next) in [(None, "ana"), (Some("ben"), "dan"), (Some("dan"), "ana")] {
                let moved: BTreeMap<TeamId, RoutingCursor> = [(
                    team.clone(),
                    RoutingCursor {
                        team: team.clone(),
                        last: last.map(|l| AgentId::new(l).unwrap()),
                        version: 3,
                    },
                )]
                .into();
                let pick = pick(&roster, &moved, &team, Strategy::RoundRobin);
                assert_eq!(
                    pick.agent.as_ref().map(AgentId::as_str),
                    Some(next),
                    "{order:?} after {last:?}"
                );
                assert_eq!(pick.cursor.map(|c| c.version), Some(4));
            }
        }
    }

    #[test]
    fn numbers_are_written_in_full() {
        for n in [0, 7, 10, 4_294_967_295] {
            let mut s = String::new();
            push_u32(&mut s, n);
            assert_eq!(s, n.to_string());
        }
    }
}
