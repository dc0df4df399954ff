//! Loading and checking a routing configuration.

use chrono::{TimeDelta, Weekday};
use std::collections::{BTreeMap, BTreeSet};

use super::condition::{Cond, Fold, TextSets, TextSetsBuilder};
use super::spec::{
    Action, AttributeMatch, CalendarSpec, Compare, Condition, HoursMatch, OneOrMany, RegexMatch,
    RoutingSpec, RuleSpec, Strategy, TeamPolicy, TextMatch, Trigger,
};
use crate::calendar::Calendar;
use crate::error::{Error, Result};
use crate::ids::{AgentId, ChannelId, TeamId};
use crate::inbox::normalize_tag;
use crate::model::{Content, ConversationStatus, Priority};

/// Content kinds a `message_type` condition may name.
const MESSAGE_TYPES: &[&str] = &[
    "text",
    "image",
    "video",
    "audio",
    "voice",
    "document",
    "sticker",
    "location",
    "contacts",
    "interactive",
    "button",
    "reaction",
    "order",
    "edit",
    "revoke",
    "system",
    "request_welcome",
    "call",
    "unsupported",
];

/// Largest compiled regular expression, in bytes (a rule cannot make the
/// engine slow or big).
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// What compiling conditions needs: the calendars, and where keyword lists
/// and patterns are gathered.
struct Ctx<'a> {
    calendars: &'a BTreeMap<String, Calendar>,
    text: std::cell::RefCell<TextSetsBuilder>,
}

/// How a check reports a bad field: the field's path and what was wrong,
/// as the error of the rule being compiled.
type Fail<'a> = &'a dyn Fn(&str, String) -> Error;

/// A checked, ready-to-run routing configuration (see the [module
/// docs](super)).
#[derive(Debug, Clone)]
pub struct Routing {
    pub(crate) rules: Vec<Rule>,
    pub(crate) teams: BTreeMap<TeamId, TeamPolicy>,
    pub(crate) calendars: BTreeMap<String, Calendar>,
    pub(crate) business_hours: Option<String>,
    pub(crate) max_cascade: u32,
    /// Some rule has a time trigger.
    pub(crate) timed: bool,
    /// Every keyword list and pattern of the rule set, matched in one pass.
    pub(crate) text: TextSets,
    /// The rules whose condition depends on state (re-evaluated after a
    /// rule fires), by index.
    pub(crate) stateful: Vec<usize>,
    spec: RoutingSpec,
}

/// A checked rule.
#[derive(Debug, Clone)]
pub struct Rule {
    /// Its name.
    pub name: String,
    pub(crate) on: Vec<Trigger>,
    pub(crate) cond: Option<Cond>,
    pub(crate) actions: Vec<Act>,
    pub(crate) continue_after: bool,
    pub(crate) cooldown: Option<TimeDelta>,
    pub(crate) enabled: bool,
    /// The trigger kinds of `on`, as bits of [`TriggerKind::bit`].
    pub(crate) mask: u16,
    /// The condition depends on state the rule's actions can change.
    pub(crate) stateful: bool,
}

impl Rule {
    /// Whether the rule has a time trigger.
    pub(crate) fn timed(&self) -> bool {
        self.on.iter().any(|t| {
            matches!(
                t,
                Trigger::NoAgentReply { .. } | Trigger::NoCustomerReply { .. }
            )
        })
    }
}

/// A checked action.
#[derive(Debug, Clone)]
pub(crate) enum Act {
    RouteToTeam(TeamId),
    AssignAgent(AgentId),
    RouteToBot(AgentId),
    Assign {
        team: Option<TeamId>,
        strategy: Option<Strategy>,
        skills: Vec<String>,
    },
    AddTags(Vec<String>),
    RemoveTags(Vec<String>),
    SetPriority(Priority),
    AutoReply {
        text: Option<String>,
        template: Option<Content>,
    },
    Note(String),
    SetStatus(ConversationStatus),
    Snooze(TimeDelta),
    Emit {
        name: String,
        data: BTreeMap<String, String>,
    },
}

impl Act {
    pub(crate) fn needs_roster(&self) -> bool {
        matches!(
            self,
            Act::AssignAgent(_) | Act::Assign { .. } | Act::RouteToTeam(_)
        )
    }
}

impl Default for Routing {
    fn default() -> Self {
        Self::none()
    }
}

impl PartialEq for Routing {
    fn eq(&self, other: &Self) -> bool {
        self.spec == other.spec
    }
}

impl Routing {
    /// No rules, every team manual: conversations wait in their queue.
    pub fn none() -> Self {
        Self {
            rules: Vec::new(),
            teams: BTreeMap::new(),
            calendars: BTreeMap::new(),
            business_hours: None,
            max_cascade: 4,
            timed: false,
            text: TextSets::default(),
            stateful: Vec::new(),
            spec: RoutingSpec::default(),
        }
    }

    /// Checks a specification and compiles it.
    pub fn compile(spec: RoutingSpec) -> Result<Self> {
        let top = |field: &str, reason: String| Error::InvalidRules {
            rule: None,
            field: field.to_string(),
            reason,
        };
        if spec.max_cascade == 0 || spec.max_cascade > 16 {
            return Err(top(
                "max_cascade",
                format!("must be between 1 and 16, not {}", spec.max_cascade),
            ));
        }
        let mut calendars = BTreeMap::new();
        for (name, c) in &spec.calendars {
            let cal = compile_calendar(c).map_err(|r| top(&format!("calendars.{name}"), r))?;
            calendars.insert(name.clone(), cal);
        }
        if let Some(name) = &spec.business_hours {
            if !calendars.contains_key(name) {
                return Err(top(
                    "business_hours",
                    format!("no calendar named {name:?} in `calendars`"),
                ));
            }
        }
        let mut teams = BTreeMap::new();
        for (id, policy) in &spec.teams {
            let team = TeamId::new(id.clone())
                .map_err(|e| top(&format!("teams.{id}"), format!("not a valid team id: {e}")))?;
            if matches!(policy.fallback, Some(Strategy::Sticky | Strategy::Skills)) {
                return Err(top(
                    &format!("teams.{id}.fallback"),
                    "a fallback must be manual, round_robin or least_loaded".into(),
                ));
            }
            teams.insert(team, policy.clone());
        }
        let ctx = Ctx {
            calendars: &calendars,
            text: Default::default(),
        };
        let mut names = BTreeSet::new();
        let mut rules = Vec::with_capacity(spec.rules.len());
        for (i, r) in spec.rules.iter().enumerate() {
            let label = if r.name.trim().is_empty() {
                format!("#{}", i + 1)
            } else {
                r.name.clone()
            };
            let err = |field: &str, reason: String| Error::InvalidRules {
                rule: Some(label.clone()),
                field: field.to_string(),
                reason,
            };
            if r.name.trim().is_empty() {
                return Err(err("name", "must not be empty".into()));
            }
            if r.name.chars().count() > 100 {
                return Err(err("name", "must be at most 100 characters".into()));
            }
            if !names.insert(r.name.clone()) {
                return Err(err("name", "another rule has the same name".into()));
            }
            rules.push(compile_rule(r, &ctx, &err)?);
        }
        let text = ctx
            .text
            .into_inner()
            .build()
            .map_err(|reason| Error::InvalidRules {
                rule: None,
                field: "rules".into(),
                reason,
            })?;
        Ok(Self {
            text,
            timed: rules.iter().any(|r| r.enabled && r.timed()),
            stateful: (0..rules.len()).filter(|i| rules[*i].stateful).collect(),
            rules,
            teams,
            calendars,
            business_hours: spec.business_hours.clone(),
            max_cascade: spec.max_cascade,
            spec,
        })
    }

    /// Parses and checks a JSON configuration. Errors name the rule, the
    /// field and the line.
    pub fn from_json(text: &str) -> Result<Self> {
        let de = &mut serde_json::Deserializer::from_str(text);
        let spec: RoutingSpec = serde_path_to_error::deserialize(de).map_err(|e| {
            let names = serde_json::from_str::<serde_json::Value>(text).ok();
            parse_error(&e.path().to_string(), &e.inner().to_string(), |i| {
                names.as_ref().and_then(|v| rule_name_json(v, i))
            })
        })?;
        Self::compile(spec)
    }

    /// Parses and checks a YAML configuration. Syntax errors give the line
    /// and column; other errors name the rule and the field.
    pub fn from_yaml(text: &str) -> Result<Self> {
        // Through a JSON value: YAML's own enum encoding wants `!tags`, the
        // JSON one takes the `{variant: value}` maps people write.
        let value: serde_json::Value =
            serde_norway::from_str(text).map_err(|e| Error::InvalidRules {
                rule: None,
                field: "(document)".into(),
                reason: e.to_string(),
            })?;
        Self::from_value(&value)
    }

    /// Checks a configuration already parsed into a JSON value (embedded in
    /// a larger file, say). Errors name the rule and the field.
    pub fn from_value(value: &serde_json::Value) -> Result<Self> {
        let spec: RoutingSpec = serde_path_to_error::deserialize(value).map_err(|e| {
            parse_error(&e.path().to_string(), &e.inner().to_string(), |i| {
                rule_name_json(value, i)
            })
        })?;
        Self::compile(spec)
    }

    /// The specification it was compiled from.
    pub fn spec(&self) -> &RoutingSpec {
        &self.spec
    }

    /// The rules' names, in order.
    pub fn rule_names(&self) -> impl Iterator<Item = &str> {
        self.rules.iter().map(|r| r.name.as_str())
    }

    /// A team's policy (manual if it has none).
    pub fn team_policy(&self, team: &TeamId) -> TeamPolicy {
        self.teams.get(team).cloned().unwrap_or_default()
    }

    /// Whether some rule has an action that reads the agents (routing to a
    /// team or assigning).
    pub fn uses_roster(&self) -> bool {
        self.rules
            .iter()
            .any(|r| r.enabled && r.actions.iter().any(Act::needs_roster))
    }

    /// Whether some team moves an offline agent's conversations.
    pub fn has_offline_policy(&self) -> bool {
        self.teams
            .values()
            .any(|p| p.when_offline != super::OfflinePolicy::Stay)
    }

    /// A named calendar.
    pub fn calendar(&self, name: &str) -> Option<&Calendar> {
        self.calendars.get(name)
    }

    /// Whether any rule listens to `trigger` (cheap; lets callers skip work).
    pub fn listens(&self, trigger: super::TriggerKind) -> bool {
        self.rules
            .iter()
            .any(|r| r.enabled && r.mask & trigger.bit() != 0)
    }
}

fn rule_name_json(v: &serde_json::Value, i: usize) -> Option<String> {
    v.get("rules")?
        .get(i)?
        .get("name")?
        .as_str()
        .map(str::to_string)
}

/// Turns a parse error's path (`rules[2].then[0].assign.strategy`) into the
/// rule's name and the field within it.
fn parse_error(path: &str, reason: &str, name_of: impl Fn(usize) -> Option<String>) -> Error {
    if let Some(rest) = path.strip_prefix("rules[") {
        if let Some((index, field)) = rest.split_once(']') {
            if let Ok(i) = index.parse::<usize>() {
                let rule = name_of(i).unwrap_or_else(|| format!("#{}", i + 1));
                let field = field.trim_start_matches('.');
                return Error::InvalidRules {
                    rule: Some(rule),
                    field: if field.is_empty() {
                        "(the rule)".into()
                    } else {
                        field.to_string()
                    },
                    reason: reason.to_string(),
                };
            }
        }
    }
    Error::InvalidRules {
        rule: None,
        field: if path == "." || path.is_empty() {
            "(document)".into()
        } else {
            path.to_string()
        },
        reason: reason.to_string(),
    }
}

fn compile_calendar(c: &CalendarSpec) -> std::result::Result<Calendar, String> {
    if c.always {
        let mut cal = Calendar::always();
        cal.zone = c
            .zone
            .parse()
            .map_err(|_| format!("unknown time zone {:?}", c.zone))?;
        return Ok(cal);
    }
    fn hours(v: &[String]) -> Vec<&str> {
        v.iter().map(String::as_str).collect()
    }
    let mut cal = Calendar::weekdays(&c.zone, &hours(&c.weekdays)).map_err(|e| e.to_string())?;
    cal = cal
        .with_day(Weekday::Sat, &hours(&c.saturday))
        .map_err(|e| e.to_string())?;
    let days = [
        (Weekday::Mon, &c.monday),
        (Weekday::Tue, &c.tuesday),
        (Weekday::Wed, &c.wednesday),
        (Weekday::Thu, &c.thursday),
        (Weekday::Fri, &c.friday),
        (Weekday::Sat, &Some(c.saturday.clone())),
        (Weekday::Sun, &Some(c.sunday.clone())),
    ];
    for (day, own) in days {
        if let Some(own) = own {
            cal = cal.with_day(day, &hours(own)).map_err(|e| e.to_string())?;
        }
    }
    for d in &c.holidays {
        cal = cal.with_holiday(*d);
    }
    for (date, open) in &c.special {
        cal = match open.is_empty() {
            true => cal.with_holiday(*date),
            false => cal
                .with_special_hours(*date, &hours(open))
                .map_err(|e| format!("special.{date}: {e}"))?,
        };
    }
    Ok(cal)
}

fn compile_rule(r: &RuleSpec, ctx: &Ctx<'_>, err: Fail<'_>) -> Result<Rule> {
    if r.on.is_empty() {
        return Err(err("on", "a rule needs at least one trigger".into()));
    }
    for (i, t) in r.on.iter().enumerate() {
        if let Trigger::NoAgentReply { after } | Trigger::NoCustomerReply { after } = t {
            if after.0.is_zero() {
                return Err(err(&format!("on[{i}].after"), "must be positive".into()));
            }
        }
    }
    let cond = match &r.when {
        None => None,
        Some(c) => Some(compile_cond(c, "when", ctx, err)?),
    };
    let mut actions = Vec::with_capacity(r.then.len());
    for (i, a) in r.then.iter().enumerate() {
        actions.push(compile_action(a, &format!("then[{i}]"), err)?);
    }
    let cooldown = match r.cooldown {
        None => None,
        Some(d) if d.0.is_zero() => return Err(err("cooldown", "must be positive".into())),
        Some(d) => Some(delta(d.0)),
    };
    let mask =
        r.on.iter()
            .fold(0, |m, t| m | super::TriggerKind::of(t).bit());
    let stateful = cond.as_ref().is_some_and(Cond::depends_on_state);
    Ok(Rule {
        name: r.name.clone(),
        on: r.on.clone(),
        mask,
        stateful,
        cond,
        actions,
        continue_after: r.continue_after,
        cooldown,
        enabled: r.enabled,
    })
}

pub(crate) fn delta(d: std::time::Duration) -> TimeDelta {
    TimeDelta::from_std(d).unwrap_or(TimeDelta::MAX)
}

fn team_id(s: &str, field: &str, err: Fail<'_>) -> Result<TeamId> {
    TeamId::new(s.to_string()).map_err(|e| err(field, format!("not a valid team id: {e}")))
}

fn tags(v: &OneOrMany<String>, field: &str, err: Fail<'_>) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for t in v.as_slice() {
        let t = normalize_tag(t).map_err(|e| err(field, e.to_string()))?;
        if !out.contains(&t) {
            out.push(t);
        }
    }
    if out.is_empty() {
        return Err(err(field, "needs at least one tag".into()));
    }
    Ok(out)
}

fn non_empty<T: Clone>(v: &OneOrMany<T>, field: &str, err: Fail<'_>) -> Result<Vec<T>> {
    let out = v.as_slice().to_vec();
    if out.is_empty() {
        return Err(err(field, "needs at least one value".into()));
    }
    Ok(out)
}

fn compile_cond(c: &Condition, path: &str, ctx: &Ctx<'_>, err: Fail<'_>) -> Result<Cond> {
    Ok(match c {
        Condition::All(v) | Condition::Any(v) => {
            let name = if matches!(c, Condition::All(_)) {
                "all"
            } else {
                "any"
            };
            if v.is_empty() {
                return Err(err(
                    &format!("{path}.{name}"),
                    "needs at least one condition".into(),
                ));
            }
            let inner = v
                .iter()
                .enumerate()
                .map(|(i, c)| compile_cond(c, &format!("{path}.{name}[{i}]"), ctx, err))
                .collect::<Result<Vec<_>>>()?;
            if matches!(c, Condition::All(_)) {
                Cond::All(inner)
            } else {
                Cond::Any(inner)
            }
        }
        Condition::Not(inner) => Cond::Not(Box::new(compile_cond(
            inner,
            &format!("{path}.not"),
            ctx,
            err,
        )?)),
        Condition::Channel(v) => {
            let field = format!("{path}.channel");
            let ids = non_empty(v, &field, err)?
                .into_iter()
                .map(|s| {
                    ChannelId::new(s)
                        .map_err(|e| err(&field, format!("not a valid channel id: {e}")))
                })
                .collect::<Result<Vec<_>>>()?;
            Cond::Channel(ids)
        }
        Condition::MessageType(v) => message_types(v, path, err)?,
        Condition::Text(t) => text(t, path, ctx, err)?,
        Condition::Regex(r) => regex_cond(r, path, ctx, err)?,
        Condition::ContactTag(v) => Cond::ContactTag(tags(v, &format!("{path}.contact_tag"), err)?),
        Condition::ContactAttribute(a) => contact_attribute(a, path, err)?,
        Condition::Customer(k) => Cond::Customer(*k),
        Condition::BusinessHours(h) => business_hours(h, path, ctx, err)?,
        Condition::Priority(v) => Cond::Priority(non_empty(v, &format!("{path}.priority"), err)?),
        Condition::PriorityAtLeast(p) => Cond::PriorityAtLeast(*p),
        Condition::Status(v) => Cond::Status(non_empty(v, &format!("{path}.status"), err)?),
        Condition::Tag(v) => Cond::Tag(tags(v, &format!("{path}.tag"), err)?),
        Condition::Team(v) => {
            let field = format!("{path}.team");
            Cond::Team(
                non_empty(v, &field, err)?
                    .iter()
                    .map(|s| team_id(s, &field, err))
                    .collect::<Result<Vec<_>>>()?,
            )
        }
        Condition::Assigned(b) => Cond::Assigned(*b),
        Condition::SinceCustomerMessage(cmp) | Condition::SinceAgentReply(cmp) => {
            since(c, cmp, path, err)?
        }
    })
}

/// The message_type condition: known message types only.
fn message_types(v: &OneOrMany<String>, path: &str, err: Fail<'_>) -> Result<Cond> {
    let field = format!("{path}.message_type");
    let kinds = non_empty(v, &field, err)?;
    for k in &kinds {
        if !MESSAGE_TYPES.contains(&k.as_str()) {
            return Err(err(
                &field,
                format!(
                    "unknown message type {k:?} (one of: {})",
                    MESSAGE_TYPES.join(", ")
                ),
            ));
        }
    }
    Ok(Cond::MessageType(kinds))
}

/// The text condition: words to look for, folded as asked.
fn text(t: &TextMatch, path: &str, ctx: &Ctx<'_>, err: Fail<'_>) -> Result<Cond> {
    let field = format!("{path}.text.contains");
    let fold = Fold {
        case: !t.case_sensitive,
        diacritics: !t.diacritic_sensitive,
    };
    let mut needles = Vec::new();
    for n in t.contains.as_slice() {
        let folded = fold.apply(n.trim());
        if folded.is_empty() {
            return Err(err(&field, "words must not be empty".into()));
        }
        needles.push(folded);
    }
    if needles.is_empty() {
        return Err(err(&field, "needs at least one word".into()));
    }
    Ok(Cond::Text(ctx.text.borrow_mut().keywords(
        fold,
        t.whole_word,
        needles,
    )))
}

/// The regex condition.
fn regex_cond(r: &RegexMatch, path: &str, ctx: &Ctx<'_>, err: Fail<'_>) -> Result<Cond> {
    // Checked alone, for an error that names this rule; matched
    // together with every other pattern of the rule set.
    regex::RegexBuilder::new(&r.pattern)
        .case_insensitive(r.case_insensitive)
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_err(|e| err(&format!("{path}.regex.pattern"), e.to_string()))?;
    let pattern = if r.case_insensitive {
        format!("(?i:{})", r.pattern)
    } else {
        format!("(?:{})", r.pattern)
    };
    let fold = Fold {
        case: false,
        diacritics: r.fold_diacritics,
    };
    Ok(Cond::Regex(ctx.text.borrow_mut().regex(fold, pattern)))
}

/// The contact_attribute condition: exactly one of equals, one_of, exists.
fn contact_attribute(a: &AttributeMatch, path: &str, err: Fail<'_>) -> Result<Cond> {
    let field = format!("{path}.contact_attribute");
    let set = [a.equals.is_some(), a.one_of.is_some(), a.exists.is_some()]
        .iter()
        .filter(|x| **x)
        .count();
    if set != 1 {
        return Err(err(
            &field,
            "give exactly one of `equals`, `one_of` or `exists`".into(),
        ));
    }
    if a.key.trim().is_empty() {
        return Err(err(&format!("{field}.key"), "must not be empty".into()));
    }
    let values = match (&a.equals, &a.one_of) {
        (Some(v), _) => Some(vec![v.to_lowercase()]),
        (_, Some(v)) => Some(v.iter().map(|s| s.to_lowercase()).collect()),
        _ => None,
    };
    Ok(Cond::ContactAttribute {
        key: a.key.clone(),
        values,
        exists: a.exists,
    })
}

/// The business_hours condition: a named calendar must exist.
fn business_hours(h: &HoursMatch, path: &str, ctx: &Ctx<'_>, err: Fail<'_>) -> Result<Cond> {
    let (state, calendar) = match h {
        HoursMatch::State(s) => (*s, None),
        HoursMatch::Calendar { state, calendar } => {
            if !ctx.calendars.contains_key(calendar) {
                return Err(err(
                    &format!("{path}.business_hours.calendar"),
                    format!("no calendar named {calendar:?} in `calendars`"),
                ));
            }
            (*state, Some(calendar.clone()))
        }
    };
    Ok(Cond::BusinessHours { state, calendar })
}

/// The since_customer_message / since_agent_reply conditions.
fn since(c: &Condition, cmp: &Compare, path: &str, err: Fail<'_>) -> Result<Cond> {
    let customer = matches!(c, Condition::SinceCustomerMessage(_));
    let field = if customer {
        format!("{path}.since_customer_message")
    } else {
        format!("{path}.since_agent_reply")
    };
    if cmp.more_than.is_none() && cmp.less_than.is_none() {
        return Err(err(&field, "give `more_than`, `less_than` or both".into()));
    }
    let more = cmp.more_than.map(|d| delta(d.0));
    let less = cmp.less_than.map(|d| delta(d.0));
    Ok(if customer {
        Cond::SinceCustomer { more, less }
    } else {
        Cond::SinceAgent { more, less }
    })
}

/// A rule's automatic reply is checked as an agent's is, when the rules
/// load.
fn sendable(content: &Content, field: &str, err: Fail<'_>) -> Result<()> {
    content
        .validate_outbound()
        .map_err(|e| content_err(e, field, err))
}

/// A refused content as a rules error on `field`.
fn content_err(e: Error, field: &str, err: Fail<'_>) -> Error {
    match e {
        Error::InvalidContent(v) => err(field, v.to_string()),
        other => other,
    }
}

fn compile_action(a: &Action, path: &str, err: Fail<'_>) -> Result<Act> {
    Ok(match a {
        Action::RouteToTeam(t) => {
            Act::RouteToTeam(team_id(t, &format!("{path}.route_to_team"), err)?)
        }
        Action::AssignAgent(a) => Act::AssignAgent(AgentId::new(a.clone()).map_err(|e| {
            err(
                &format!("{path}.assign_agent"),
                format!("not a valid agent id: {e}"),
            )
        })?),
        Action::RouteToBot(b) => Act::RouteToBot(AgentId::new(b.clone()).map_err(|e| {
            err(
                &format!("{path}.route_to_bot"),
                format!("not a valid bot id: {e}"),
            )
        })?),
        Action::Assign(s) => {
            let field = format!("{path}.assign");
            let team = match &s.team {
                Some(t) => Some(team_id(t, &format!("{field}.team"), err)?),
                None => None,
            };
            let mut skills = Vec::new();
            for k in &s.skills {
                let k = k.trim().to_lowercase();
                if k.is_empty() {
                    return Err(err(
                        &format!("{field}.skills"),
                        "skills must not be empty".into(),
                    ));
                }
                skills.push(k);
            }
            Act::Assign {
                team,
                strategy: s.strategy,
                skills,
            }
        }
        Action::AddTags(v) => Act::AddTags(tags(v, &format!("{path}.add_tags"), err)?),
        Action::RemoveTags(v) => Act::RemoveTags(tags(v, &format!("{path}.remove_tags"), err)?),
        Action::SetPriority(p) => Act::SetPriority(*p),
        Action::AutoReply(r) => {
            let field = format!("{path}.auto_reply");
            let text = match &r.text {
                Some(t) if t.trim().is_empty() => {
                    return Err(err(&format!("{field}.text"), "must not be empty".into()))
                }
                Some(t) if t.chars().count() > 4096 => {
                    return Err(err(
                        &format!("{field}.text"),
                        "WhatsApp text messages are at most 4096 characters".into(),
                    ))
                }
                other => other.clone(),
            };
            let template = match &r.template {
                None => None,
                Some(t) => {
                    if t.name.trim().is_empty() || t.language.trim().is_empty() {
                        return Err(err(
                            &format!("{field}.template"),
                            "needs a name and a language".into(),
                        ));
                    }
                    Some(t.content())
                }
            };
            if text.is_none() && template.is_none() {
                return Err(err(&field, "needs a `text`, a `template` or both".into()));
            }
            if let Some(t) = &text {
                sendable(&Content::text(t.clone()), &format!("{field}.text"), err)?;
            }
            if let Some(t) = &template {
                sendable(t, &format!("{field}.template"), err)?;
            }
            Act::AutoReply { text, template }
        }
        Action::Note(t) => {
            if t.trim().is_empty() {
                return Err(err(&format!("{path}.note"), "must not be empty".into()));
            }
            let note = t.trim().to_string();
            let field = format!("{path}.note");
            let checked = crate::model::limits::check_note("note", &note);
            checked.map_err(|e| content_err(e, &field, err))?;
            Act::Note(note)
        }
        Action::SetStatus(s) => {
            if *s == ConversationStatus::Snoozed {
                return Err(err(
                    &format!("{path}.set_status"),
                    "use `snooze: <duration>` to snooze".into(),
                ));
            }
            Act::SetStatus(*s)
        }
        Action::Snooze(d) => {
            if d.0.is_zero() {
                return Err(err(&format!("{path}.snooze"), "must be positive".into()));
            }
            Act::Snooze(delta(d.0))
        }
        Action::Emit(e) => {
            if e.name.trim().is_empty() {
                return Err(err(
                    &format!("{path}.emit.name"),
                    "must not be empty".into(),
                ));
            }
            Act::Emit {
                name: e.name.trim().to_string(),
                data: e.data.clone(),
            }
        }
    })
}
