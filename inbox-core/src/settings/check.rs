//! Checking a settings document as a whole: every bad field is reported,
//! each by its path, and only a document without any becomes a
//! [`TenantPolicy`].

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::{CannedOwner, CannedResponse, SlaSection, TenantSettings};
use crate::calendar::Calendar;
use crate::error::{Error, Result};
use crate::inbox::{ReopenPolicy, ReplyPolicy};
use crate::model::TemplateDefinition;
use crate::pricing::RateCard;
use crate::routing::{Action, Condition, Routing, RoutingSpec, RuleSpec};
use crate::sla::{SlaPolicy, SlaSettings};
use crate::timer::TimerPolicy;

pub use crate::error::SettingsProblem;

/// The names in a tenant's directory that settings may refer to: its
/// teams, agents and channels. A reference to anything else is refused,
/// with the closest known name as a suggestion.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Known {
    /// Team ids.
    pub teams: BTreeSet<String>,
    /// Agent ids.
    pub agents: BTreeSet<String>,
    /// Channel ids.
    pub channels: BTreeSet<String>,
    /// The ids of bot agents.
    pub bots: BTreeSet<String>,
}

impl Known {
    /// With these team ids.
    pub fn with_teams<S: Into<String>>(mut self, ids: impl IntoIterator<Item = S>) -> Self {
        self.teams.extend(ids.into_iter().map(Into::into));
        self
    }

    /// With these agent ids.
    pub fn with_agents<S: Into<String>>(mut self, ids: impl IntoIterator<Item = S>) -> Self {
        self.agents.extend(ids.into_iter().map(Into::into));
        self
    }

    /// With these bot agent ids.
    pub fn with_bots<S: Into<String>>(mut self, ids: impl IntoIterator<Item = S>) -> Self {
        self.bots.extend(ids.into_iter().map(Into::into));
        self
    }

    /// With these channel ids.
    pub fn with_channels<S: Into<String>>(mut self, ids: impl IntoIterator<Item = S>) -> Self {
        self.channels.extend(ids.into_iter().map(Into::into));
        self
    }
}

/// A checked settings document with its compiled parts, in the form the
/// inbox runs.
#[derive(Debug, Clone)]
pub struct TenantPolicy {
    /// The document it was compiled from.
    pub document: TenantSettings,
    /// The compiled routing and automation rules.
    pub routing: Arc<Routing>,
    /// SLA policies with their calendars.
    pub sla: SlaSettings,
    /// The checked rate card (`None`: the document has no `pricing`).
    pub rate_card: Option<RateCard>,
}

impl Default for TenantPolicy {
    /// What a tenant without settings runs: the empty document (no rules,
    /// no SLA, the default timers, reply and reopen policies).
    fn default() -> Self {
        TenantPolicy {
            document: TenantSettings::default(),
            routing: Arc::new(Routing::none()),
            sla: SlaSettings::default(),
            rate_card: None,
        }
    }
}

impl TenantPolicy {
    /// Timer settings.
    pub fn timers(&self) -> TimerPolicy {
        self.document.timers.into()
    }

    /// Reply rules.
    pub fn replies(&self) -> ReplyPolicy {
        self.document.replies
    }

    /// Reopen or open anew.
    pub fn reopen(&self) -> ReopenPolicy {
        self.document.reopen
    }

    /// Thread control on numbers shared with other apps.
    pub fn thread(&self) -> crate::inbox::ThreadPolicy {
        self.document.thread_control
    }
}

/// The problems found so far; references to the directory are checked
/// unless `trusted`.
#[derive(Default)]
struct Problems(Vec<SettingsProblem>, bool);

impl Problems {
    fn push(&mut self, path: impl Into<String>, reason: impl Into<String>) {
        self.0.push(SettingsProblem {
            path: path.into(),
            reason: reason.into(),
        });
    }

    /// Refuses `name` unless it is one of `known`, suggesting the closest.
    fn reference(&mut self, path: String, what: &str, name: &str, known: &BTreeSet<String>) {
        if !self.1 && !known.contains(name) {
            self.push(path, unknown(what, name, known));
        }
    }
}

/// `no team "slaes"; did you mean "sales"?` (the suggestion only when one
/// known name is close).
fn unknown(what: &str, name: &str, known: &BTreeSet<String>) -> String {
    let closest = known
        .iter()
        .map(|k| {
            (
                strsim::levenshtein(&k.to_lowercase(), &name.to_lowercase()),
                k,
            )
        })
        .filter(|(d, k)| *d <= 2.max(k.chars().count() / 3))
        .min();
    match closest {
        Some((_, k)) => format!("no {what} {name:?}; did you mean {k:?}?"),
        None => format!("no {what} {name:?}"),
    }
}

impl TenantSettings {
    /// Checks the whole document against the tenant's directory and
    /// compiles it. Refuses it with [`Error::InvalidSettings`] listing
    /// every bad field when there is any.
    pub fn compile(&self, known: &Known) -> Result<TenantPolicy> {
        self.compile_with(known, Problems::default())
    }

    /// Compiles a document that was checked when it was stored, without
    /// checking its references to the directory again: a team or agent
    /// removed since must not stop the tenant's other rules from running
    /// (a rule naming it finds no one). Everything else is checked as by
    /// [`TenantSettings::compile`].
    ///
    /// ```
    /// use inbox_core::settings::TenantSettings;
    /// let doc = TenantSettings::from_yaml("routing: {teams: {gone: {}}}").unwrap();
    /// assert!(doc.compile_stored().is_ok());
    /// ```
    pub fn compile_stored(&self) -> Result<TenantPolicy> {
        self.compile_with(&Known::default(), Problems(Vec::new(), true))
    }

    fn compile_with(&self, known: &Known, mut problems: Problems) -> Result<TenantPolicy> {
        let routing = check_routing(&self.routing, known, &mut problems);
        let sla = check_sla(&self.sla, &self.routing, known, &mut problems);
        check_canned(&self.canned_responses, known, &mut problems);
        check_templates(&self.templates, &mut problems);
        problems.0.extend(self.consent.check());
        check_bots(self, known, &mut problems);
        if !problems.1 {
            check_auto_reply_templates(self, &mut problems);
        }
        let channels = (!problems.1).then_some(&known.channels);
        problems.0.extend(self.csat.check(channels));
        problems.0.extend(self.connectors.check());
        let rate_card = self
            .pricing
            .compile()
            .map_err(|found| problems.0.extend(found))
            .ok()
            .flatten();
        match (routing, sla, problems.0.is_empty()) {
            (Some(routing), Some(sla), true) => Ok(TenantPolicy {
                document: self.clone(),
                routing: Arc::new(routing),
                sla,
                rate_card,
            }),
            _ => Err(Error::InvalidSettings {
                problems: problems.0,
            }),
        }
    }
}

/// The bots section, and every `route_to_bot` naming a bot it lists.
fn check_bots(doc: &TenantSettings, known: &Known, p: &mut Problems) {
    let directory = !p.1;
    let calendars: BTreeSet<String> = doc.routing.calendars.keys().cloned().collect();
    let found = doc.bots.check(
        directory.then_some(&known.bots),
        directory.then_some(&known.teams),
        &calendars,
    );
    p.0.extend(found);
    for (i, rule) in doc.routing.rules.iter().enumerate() {
        for (j, action) in rule.then.iter().enumerate() {
            if let Action::RouteToBot(b) = action {
                if !doc.bots.list.contains_key(b) {
                    let path = format!("routing.rules[{i}].then[{j}].route_to_bot");
                    p.push(path, format!("no bot {b:?} in bots.list"));
                }
            }
        }
    }
}

/// Every routing auto-reply's template against the tenant's templates,
/// when it lists any (as a reply's template is checked): known in that
/// language, approved, given the parameters it takes. Only when a document
/// is saved: a template Meta later pauses or removes must not stop the
/// tenant's other rules (the send is refused then, and shown).
fn check_auto_reply_templates(doc: &TenantSettings, p: &mut Problems) {
    for (i, rule) in doc.routing.rules.iter().enumerate() {
        for (j, action) in rule.then.iter().enumerate() {
            let Action::AutoReply(reply) = action else {
                continue;
            };
            let Some(spec) = &reply.template else {
                continue;
            };
            let at = format!("routing.rules[{i}].then[{j}].auto_reply");
            match doc.check_template(&spec.content()) {
                Ok(()) => {}
                Err(Error::InvalidContent(v)) => {
                    let field = spec_field(&v.field);
                    p.push(format!("{at}.template.{field}"), v.problem.to_string());
                }
                Err(other) => p.push(format!("{at}.template"), other.to_string()),
            }
        }
    }
}

/// The field of a routing [`TemplateSpec`](crate::routing::TemplateSpec)
/// a template message's field comes from.
fn spec_field(message_field: &str) -> &'static str {
    let field = message_field.strip_prefix("template.").unwrap_or("");
    if field.starts_with("language") {
        "language"
    } else if field.starts_with("components") {
        "params"
    } else {
        "name"
    }
}

/// The routing section: its top level, then each rule on its own (so every
/// bad rule is named), then the references to the directory.
fn check_routing(spec: &RoutingSpec, known: &Known, p: &mut Problems) -> Option<Routing> {
    let top = RoutingSpec {
        rules: Vec::new(),
        ..spec.clone()
    };
    if let Err(e) = Routing::compile(top.clone()) {
        push_rules_error(p, "routing", e);
        return None;
    }
    let before = p.0.len();
    let mut names = BTreeSet::new();
    for (i, rule) in spec.rules.iter().enumerate() {
        let path = format!("routing.rules[{i}]");
        if !names.insert(rule.name.as_str()) {
            p.push(format!("{path}.name"), "another rule has the same name");
        }
        let alone = RoutingSpec {
            rules: vec![rule.clone()],
            ..top.clone()
        };
        if let Err(e) = Routing::compile(alone) {
            push_rules_error(p, &path, e);
        }
        check_rule_references(rule, &path, known, p);
    }
    for team in spec.teams.keys() {
        p.reference(format!("routing.teams.{team}"), "team", team, &known.teams);
    }
    if p.0.len() > before {
        return None;
    }
    match Routing::compile(spec.clone()) {
        Ok(r) => Some(r),
        Err(e) => {
            push_rules_error(p, "routing", e);
            None
        }
    }
}

/// Turns a routing compile error into a problem under `prefix`.
fn push_rules_error(p: &mut Problems, prefix: &str, e: Error) {
    match e {
        Error::InvalidRules { field, reason, .. } => p.push(format!("{prefix}.{field}"), reason),
        other => p.push(prefix, other.to_string()),
    }
}

/// The teams, agents and channels a rule names.
fn check_rule_references(rule: &RuleSpec, path: &str, known: &Known, p: &mut Problems) {
    for (j, action) in rule.then.iter().enumerate() {
        let at = format!("{path}.then[{j}]");
        match action {
            Action::RouteToTeam(t) => {
                p.reference(format!("{at}.route_to_team"), "team", t, &known.teams)
            }
            Action::AssignAgent(a) => {
                p.reference(format!("{at}.assign_agent"), "agent", a, &known.agents)
            }
            Action::RouteToBot(b) => {
                p.reference(format!("{at}.route_to_bot"), "bot", b, &known.bots)
            }
            Action::Assign(spec) => {
                if let Some(t) = &spec.team {
                    p.reference(format!("{at}.assign.team"), "team", t, &known.teams);
                }
            }
            _ => {}
        }
    }
    if let Some(c) = &rule.when {
        check_condition_references(c, &format!("{path}.when"), known, p);
    }
}

fn check_condition_references(c: &Condition, path: &str, known: &Known, p: &mut Problems) {
    match c {
        Condition::All(cs) | Condition::Any(cs) => {
            let key = if matches!(c, Condition::All(_)) {
                "all"
            } else {
                "any"
            };
            for (i, c) in cs.iter().enumerate() {
                check_condition_references(c, &format!("{path}.{key}[{i}]"), known, p);
            }
        }
        Condition::Not(c) => check_condition_references(c, &format!("{path}.not"), known, p),
        Condition::Team(ts) => {
            for t in ts.as_slice() {
                p.reference(format!("{path}.team"), "team", t, &known.teams);
            }
        }
        Condition::Channel(cs) => {
            for ch in cs.as_slice() {
                p.reference(format!("{path}.channel"), "channel", ch, &known.channels);
            }
        }
        _ => {}
    }
}

/// The SLA section: calendars by name from `routing.calendars`, policies
/// that make sense, references to known teams and channels.
fn check_sla(
    sla: &SlaSection,
    routing: &RoutingSpec,
    known: &Known,
    p: &mut Problems,
) -> Option<SlaSettings> {
    let before = p.0.len();
    let names: BTreeSet<String> = routing.calendars.keys().cloned().collect();
    let calendar = |p: &mut Problems, path: String, name: &str| -> Option<Calendar> {
        if !names.contains(name) {
            p.push(path, unknown("calendar", name, &names));
            return None;
        }
        let spec = RoutingSpec {
            calendars: routing.calendars.clone(),
            business_hours: Some(name.to_string()),
            ..RoutingSpec::default()
        };
        // A bad calendar is reported once, by the routing section.
        Routing::compile(spec)
            .ok()
            .and_then(|r| r.calendars.get(name).cloned())
    };
    let tenant_calendar = match &sla.calendar {
        Some(name) => calendar(p, "sla.calendar".into(), name),
        None => Some(Calendar::always()),
    };
    let teams = named_calendars(p, "team", &sla.team_calendars, &known.teams, &calendar);
    let channels = named_calendars(
        p,
        "channel",
        &sla.channel_calendars,
        &known.channels,
        &calendar,
    );
    let mut ids = BTreeSet::new();
    for (i, policy) in sla.policies.iter().enumerate() {
        let path = format!("sla.policies[{i}]");
        if !ids.insert(policy.id.as_str()) {
            p.push(format!("{path}.id"), "another policy has the same id");
        }
        check_sla_policy(policy, &path, known, p);
    }
    (p.0.len() == before).then(|| SlaSettings {
        policies: sla.policies.clone(),
        calendar: tenant_calendar.unwrap_or_else(Calendar::always),
        team_calendars: teams,
        channel_calendars: channels,
    })
}

/// The calendars of `sla.team_calendars` or `sla.channel_calendars`, each
/// key a known `what` (team or channel) and each calendar a known name.
fn named_calendars<Id: Ord + for<'a> TryFrom<&'a str>>(
    p: &mut Problems,
    what: &str,
    names: &BTreeMap<String, String>,
    known: &BTreeSet<String>,
    calendar: &dyn Fn(&mut Problems, String, &str) -> Option<Calendar>,
) -> BTreeMap<Id, Calendar> {
    let mut out = BTreeMap::new();
    for (key, name) in names {
        let path = format!("sla.{what}_calendars.{key}");
        p.reference(path.clone(), what, key, known);
        if let (Ok(id), Some(cal)) = (Id::try_from(key.as_str()), calendar(p, path, name)) {
            out.insert(id, cal);
        }
    }
    out
}

fn check_sla_policy(policy: &SlaPolicy, path: &str, known: &Known, p: &mut Problems) {
    if policy.id.trim().is_empty() {
        p.push(format!("{path}.id"), "must not be empty");
    }
    let targets = [
        ("first_response_secs", policy.first_response_secs),
        ("next_response_secs", policy.next_response_secs),
        ("resolution_secs", policy.resolution_secs),
    ];
    let longest = crate::routing::Dur::MAX_DAYS as i64 * 86_400;
    for (name, secs) in targets {
        if secs.is_some_and(|s| s <= 0) {
            p.push(format!("{path}.{name}"), "must be positive");
        }
        if secs.is_some_and(|s| s > longest) {
            let days = crate::routing::Dur::MAX_DAYS;
            p.push(format!("{path}.{name}"), format!("longer than {days} days"));
        }
    }
    if targets.iter().all(|(_, s)| s.is_none()) {
        p.push(path, "a policy needs at least one target");
    }
    if !(1..=100).contains(&policy.warn_at_percent) {
        p.push(
            format!("{path}.warn_at_percent"),
            format!("must be between 1 and 100, not {}", policy.warn_at_percent),
        );
    }
    if let Some(team) = &policy.applies.team {
        p.reference(
            format!("{path}.applies.team"),
            "team",
            team.as_str(),
            &known.teams,
        );
    }
    if let Some(channel) = &policy.applies.channel {
        p.reference(
            format!("{path}.applies.channel"),
            "channel",
            channel.as_str(),
            &known.channels,
        );
    }
}

/// Canned responses: a usable shortcut, unique per owner; a text within the
/// note limit naming only known variables; an owner that exists.
fn check_canned(canned: &[CannedResponse], known: &Known, p: &mut Problems) {
    let mut seen = BTreeSet::new();
    for (i, c) in canned.iter().enumerate() {
        let path = format!("canned_responses[{i}]");
        let s = &c.shortcut;
        let valid = !s.is_empty()
            && s.chars().count() <= 32
            && s.chars()
                .all(|ch| ch.is_alphanumeric() || ch == '-' || ch == '_');
        if !valid {
            p.push(
                format!("{path}.shortcut"),
                "1 to 32 letters, digits, `-` or `_`",
            );
        }
        if !seen.insert((&c.owner, s.to_lowercase())) {
            p.push(
                format!("{path}.shortcut"),
                format!("another canned response of the same owner is /{s}"),
            );
        }
        if let Err(e) = crate::model::limits::check_note("text", &c.text) {
            p.push(format!("{path}.text"), e.to_string());
        }
        for v in c.unknown_variables() {
            let known_vars = super::canned::VARIABLES
                .iter()
                .map(|s| s.to_string())
                .collect();
            p.push(format!("{path}.text"), unknown("variable", &v, &known_vars));
        }
        match &c.owner {
            CannedOwner::Tenant => {}
            CannedOwner::Team(t) => {
                p.reference(format!("{path}.owner.team"), "team", t, &known.teams)
            }
            CannedOwner::Agent(a) => {
                p.reference(format!("{path}.owner.agent"), "agent", a, &known.agents)
            }
        }
    }
}

/// Templates: a name and a language, each pair once.
fn check_templates(templates: &[TemplateDefinition], p: &mut Problems) {
    let mut seen = BTreeSet::new();
    for (i, t) in templates.iter().enumerate() {
        let path = format!("templates[{i}]");
        if t.name.trim().is_empty() {
            p.push(format!("{path}.name"), "must not be empty");
        }
        if t.language.trim().is_empty() {
            p.push(format!("{path}.language"), "must not be empty");
        }
        if !seen.insert((t.name.as_str(), t.language.as_str())) {
            p.push(path, format!("{} ({}) is listed twice", t.name, t.language));
        }
    }
}
