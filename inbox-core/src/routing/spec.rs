//! Routing rules as data: what embedders write in JSON or YAML.
//!
//! These types only describe; [`Routing::compile`](super::Routing::compile)
//! checks them (names, regular expressions, references to teams and
//! calendars) and turns them into the form the engine runs.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

use crate::model::{ConversationStatus, Priority};

/// A whole routing configuration: rules, team assignment policies and named
/// calendars.
///
/// ```
/// use inbox_core::routing::RoutingSpec;
/// let spec: RoutingSpec = serde_json::from_str(r#"{
///   "teams": {"sales": {"strategy": "round_robin"}},
///   "rules": [{"name": "to sales", "then": [{"route_to_team": "sales"}, {"assign": {}}]}]
/// }"#).unwrap();
/// assert_eq!(spec.rules[0].name, "to sales");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoutingSpec {
    /// Rules, evaluated in order.
    #[serde(default)]
    pub rules: Vec<RuleSpec>,
    /// Assignment policy per team id.
    #[serde(default)]
    pub teams: BTreeMap<String, TeamPolicy>,
    /// Named calendars: business hours for `business_hours` conditions and
    /// agent shifts ([`crate::model::Agent::shift`] names one).
    #[serde(default)]
    pub calendars: BTreeMap<String, CalendarSpec>,
    /// The calendar `business_hours` conditions use when they name none.
    /// Without it they use the tenant's SLA calendar.
    #[serde(default)]
    pub business_hours: Option<String>,
    /// How many rounds of rules one change may cause (see
    /// [`Routing`](super::Routing) on loop protection). Default 4.
    #[serde(default = "default_max_cascade")]
    pub max_cascade: u32,
}

fn default_max_cascade() -> u32 {
    4
}

impl Default for RoutingSpec {
    /// No rules, no team policies, no calendars; the default cascade limit
    /// (as an empty document reads).
    fn default() -> Self {
        RoutingSpec {
            rules: Vec::new(),
            teams: BTreeMap::new(),
            calendars: BTreeMap::new(),
            business_hours: None,
            max_cascade: default_max_cascade(),
        }
    }
}

/// One rule: when it runs, what must hold, what it does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    /// Unique name, used in explanations and errors.
    pub name: String,
    /// The triggers the rule listens to. Default: a conversation opened or
    /// reopened.
    #[serde(default = "default_triggers")]
    pub on: Vec<Trigger>,
    /// What must hold; no condition means always.
    #[serde(default)]
    pub when: Option<Condition>,
    /// What to do, in order.
    pub then: Vec<Action>,
    /// Go on to the next rules after this one matched (default: stop).
    #[serde(default, rename = "continue")]
    pub continue_after: bool,
    /// Fire at most once per conversation per this period.
    #[serde(default)]
    pub cooldown: Option<Dur>,
    /// Disabled rules are kept but never run.
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn yes() -> bool {
    true
}

fn default_triggers() -> Vec<Trigger> {
    vec![Trigger::ConversationOpened, Trigger::ConversationReopened]
}

/// Declares [`Trigger`] and its parameter-free form [`TriggerKind`] from one
/// list, with [`TriggerKind::of`] and the kinds' names: every unit trigger
/// is a kind of its own, named as rules spell it, and the timed triggers
/// (those with an `after`) are all the one timer kind. The kinds keep the
/// list's order.
macro_rules! triggers {
    (
        {$($(#[$before_doc:meta])* $before:ident = $before_name:literal,)*}
        $(#[$timer_doc:meta])* $timer:ident = $timer_name:literal
        {$($(#[$timed_doc:meta])* $timed:ident,)*}
        {$($(#[$after_doc:meta])* $after:ident = $after_name:literal,)*}
    ) => {
        /// What makes rules run.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case", deny_unknown_fields)]
        pub enum Trigger {
            $($(#[$before_doc])* #[serde(rename = $before_name)] $before,)*
            $($(#[$timed_doc])* $timed {
                /// How long.
                after: Dur,
            },)*
            $($(#[$after_doc])* #[serde(rename = $after_name)] $after,)*
        }

        /// What happened, for rules to react to (the parameter-free form of
        /// [`Trigger`]).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum TriggerKind {
            $($(#[$before_doc])* $before,)*
            $(#[$timer_doc])* $timer,
            $($(#[$after_doc])* $after,)*
        }

        impl TriggerKind {
            /// The kind of a rule trigger.
            pub fn of(t: &Trigger) -> Self {
                match t {
                    $(Trigger::$before => TriggerKind::$before,)*
                    $(Trigger::$timed { .. })|* => TriggerKind::$timer,
                    $(Trigger::$after => TriggerKind::$after,)*
                }
            }

            /// The kind's name, as rules spell it (`message_received` ...).
            pub(crate) fn name(self) -> &'static str {
                match self {
                    $(TriggerKind::$before => $before_name,)*
                    TriggerKind::$timer => $timer_name,
                    $(TriggerKind::$after => $after_name,)*
                }
            }
        }
    };
}

triggers! {
    {
        /// A customer message was stored.
        MessageReceived = "message_received",
        /// A new conversation was opened.
        ConversationOpened = "conversation_opened",
        /// A resolved (or snoozed) conversation was reopened by the customer.
        ConversationReopened = "conversation_reopened",
        /// The status changed.
        StatusChanged = "status_changed",
        /// A tag was added to the conversation.
        TagAdded = "tag_added",
        /// The owner or team changed.
        AssignmentChanged = "assignment_changed",
        /// A bot handed the conversation to people.
        HandedOff = "handed_off",
    }
    /// The automation timer fired: time-triggered rules that are due run.
    Timer = "timer"
    {
        /// The customer has waited this long without an agent reply.
        NoAgentReply,
        /// The customer has not answered the last reply for this long.
        NoCustomerReply,
    }
    {
        /// An SLA target reached its warning threshold.
        SlaWarning = "sla_warning",
        /// An SLA target was breached.
        SlaBreached = "sla_breached",
    }
}

/// A duration written as `"90s"`, `"15m"`, `"2h 30m"`, `"3d"` or a number of
/// seconds; at most [`Dur::MAX_DAYS`] days (so that no time computed from
/// one can overflow).
///
/// ```
/// use inbox_core::routing::Dur;
/// let d: Dur = serde_json::from_str("\"1h 30m\"").unwrap();
/// assert_eq!(d.0.as_secs(), 5400);
/// let d: Dur = serde_json::from_str("45").unwrap();
/// assert_eq!(d.0.as_secs(), 45);
/// assert!(serde_json::from_str::<Dur>("\"300000y\"").is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Dur(pub Duration);

impl Dur {
    /// The longest duration a settings document may give: ten years.
    pub const MAX_DAYS: u64 = 3660;

    /// `d`, unless it is longer than [`Dur::MAX_DAYS`].
    fn bounded<E: serde::de::Error>(d: Duration) -> Result<Dur, E> {
        if d.as_secs() > Self::MAX_DAYS * 86_400 {
            return Err(E::custom(format!("longer than {} days", Self::MAX_DAYS)));
        }
        Ok(Dur(d))
    }
}

impl Serialize for Dur {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_duration(self.0).to_string())
    }
}

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Dur;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a duration such as \"15m\", \"2h\", \"1d\" or a number of seconds")
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Dur, E> {
                Dur::bounded(Duration::from_secs(v))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Dur, E> {
                let v = u64::try_from(v).map_err(|_| E::custom("a duration cannot be negative"))?;
                Dur::bounded(Duration::from_secs(v))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Dur, E> {
                let d = humantime::parse_duration(v.trim())
                    .map_err(|e| E::custom(format!("{v:?} is not a duration ({e})")))?;
                Dur::bounded(d)
            }
        }
        d.deserialize_any(V)
    }
}

/// One value or a list of them (`tag: vip` or `tag: [vip, gold]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany<T> {
    /// One value.
    One(T),
    /// Several values.
    Many(Vec<T>),
}

impl<T> OneOrMany<T> {
    /// The values as a slice.
    pub fn as_slice(&self) -> &[T] {
        match self {
            OneOrMany::One(v) => std::slice::from_ref(v),
            OneOrMany::Many(v) => v,
        }
    }
}

/// A condition over the conversation, its contact and the message that
/// triggered the rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Condition {
    /// Every condition holds.
    All(Vec<Condition>),
    /// At least one holds.
    Any(Vec<Condition>),
    /// The condition does not hold.
    Not(Box<Condition>),
    /// The conversation is on one of these channels (channel ids).
    Channel(OneOrMany<String>),
    /// The triggering message is of one of these kinds (`text`, `image`,
    /// `audio`, `location`, `order` ...).
    MessageType(OneOrMany<String>),
    /// The triggering message's text contains one of these words or phrases.
    Text(TextMatch),
    /// The triggering message's text matches a regular expression.
    Regex(RegexMatch),
    /// The contact has one of these tags.
    ContactTag(OneOrMany<String>),
    /// A contact attribute matches.
    ContactAttribute(AttributeMatch),
    /// The customer is new (first conversation on this channel) or
    /// returning.
    Customer(CustomerKind),
    /// Business hours are open or closed now.
    BusinessHours(HoursMatch),
    /// The priority is one of these.
    Priority(OneOrMany<Priority>),
    /// The priority is at least this.
    PriorityAtLeast(Priority),
    /// The status is one of these.
    Status(OneOrMany<ConversationStatus>),
    /// The conversation has one of these tags.
    Tag(OneOrMany<String>),
    /// The conversation is in one of these team queues.
    Team(OneOrMany<String>),
    /// The conversation has an owner (`true`) or not (`false`).
    Assigned(bool),
    /// Time since the customer's last message (since the conversation opened
    /// if none).
    SinceCustomerMessage(Compare),
    /// Time since the last agent reply (since the conversation opened if
    /// none).
    SinceAgentReply(Compare),
}

/// Words or phrases to look for in a message's text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TextMatch {
    /// Matches if the text contains any of these.
    pub contains: OneOrMany<String>,
    /// Match case exactly (default: ignore case).
    #[serde(default)]
    pub case_sensitive: bool,
    /// Match accents exactly (default: `é` matches `e`).
    #[serde(default)]
    pub diacritic_sensitive: bool,
    /// Only whole words (default: `true`; `refund` does not match
    /// `refunded`).
    #[serde(default = "yes")]
    pub whole_word: bool,
}

/// A regular expression over a message's text (Rust `regex` syntax; no
/// backtracking, so evaluation time is linear in the text).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegexMatch {
    /// The pattern.
    pub pattern: String,
    /// Ignore case (default `true`).
    #[serde(default = "yes")]
    pub case_insensitive: bool,
    /// Remove accents from the text before matching (default `false`).
    #[serde(default)]
    pub fold_diacritics: bool,
}

/// A test on one contact attribute.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttributeMatch {
    /// The attribute's key.
    pub key: String,
    /// Equal to this value (case-insensitive).
    #[serde(default)]
    pub equals: Option<String>,
    /// Equal to one of these values (case-insensitive).
    #[serde(default)]
    pub one_of: Option<Vec<String>>,
    /// Present (`true`) or absent (`false`).
    #[serde(default)]
    pub exists: Option<bool>,
}

/// New or returning customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CustomerKind {
    /// First conversation with this number.
    New,
    /// Has talked to this number before.
    Returning,
}

/// Open or closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpenState {
    /// Within business hours.
    Open,
    /// Outside business hours.
    Closed,
}

/// `business_hours: closed`, or with a named calendar
/// `business_hours: {state: closed, calendar: support}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum HoursMatch {
    /// With the default calendar.
    State(OpenState),
    /// With a named calendar.
    Calendar {
        /// Open or closed.
        state: OpenState,
        /// The calendar's name (in [`RoutingSpec::calendars`]).
        calendar: String,
    },
}

/// A comparison of an elapsed time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Compare {
    /// Longer than this.
    #[serde(default)]
    pub more_than: Option<Dur>,
    /// Shorter than this.
    #[serde(default)]
    pub less_than: Option<Dur>,
}

/// What a rule does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Action {
    /// Put the conversation in a team's queue (and remove its owner if the
    /// owner is not in that team).
    RouteToTeam(String),
    /// Give it to this agent, if they are available and under capacity.
    AssignAgent(String),
    /// Pick an agent with a strategy (default: the team's).
    Assign(AssignSpec),
    /// Give it to a bot of the tenant's `bots` settings, which answers
    /// until it hands over to people. Nothing happens when a person owns
    /// it, or when the bot already handed it over in this opening.
    RouteToBot(String),
    /// Add tags.
    AddTags(OneOrMany<String>),
    /// Remove tags.
    RemoveTags(OneOrMany<String>),
    /// Set the priority.
    SetPriority(Priority),
    /// Send a message to the customer: the text while the 24-hour window is
    /// open, else the template (nothing if there is none).
    AutoReply(AutoReply),
    /// Add an internal note.
    Note(String),
    /// Set the status (`open`, `pending`, `resolved`).
    SetStatus(ConversationStatus),
    /// Snooze for this long.
    Snooze(Dur),
    /// Emit an integration event (delivered to CRMs and helpdesks by
    /// subscriptions).
    Emit(EmitSpec),
}

/// How to pick an agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct AssignSpec {
    /// The team to pick from (default: the conversation's team).
    #[serde(default)]
    pub team: Option<String>,
    /// The strategy (default: the team's policy).
    #[serde(default)]
    pub strategy: Option<Strategy>,
    /// Skills the agent must have (for the `skills` strategy; default: the
    /// conversation's tags that some agent has as a skill).
    #[serde(default)]
    pub skills: Vec<String>,
}

/// An automatic reply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AutoReply {
    /// Free-form text, sent while the window is open.
    #[serde(default)]
    pub text: Option<String>,
    /// A template, sent when the window is closed (or when there is no
    /// text).
    #[serde(default)]
    pub template: Option<TemplateSpec>,
}

/// A template to send.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateSpec {
    /// Template name.
    pub name: String,
    /// Language code.
    pub language: String,
    /// Body parameters, in order.
    #[serde(default)]
    pub params: Vec<String>,
}

impl TemplateSpec {
    /// The template message this spec sends: its body parameters as text
    /// parameters of the `body` component (no component when it has none).
    ///
    /// ```
    /// use inbox_core::routing::TemplateSpec;
    /// let spec = TemplateSpec { name: "hello".into(), language: "en".into(), params: vec!["Ana".into()] };
    /// assert_eq!(spec.content().kind(), "template");
    /// ```
    pub fn content(&self) -> crate::model::Content {
        let components = if self.params.is_empty() {
            serde_json::Value::Array(Vec::new())
        } else {
            let parameters: Vec<_> = self
                .params
                .iter()
                .map(|p| serde_json::json!({"type": "text", "text": p}))
                .collect();
            serde_json::json!([{ "type": "body", "parameters": parameters }])
        };
        crate::model::Content::Template {
            name: self.name.clone(),
            language: self.language.clone(),
            components,
        }
    }
}

/// An integration event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmitSpec {
    /// Event name, e.g. `crm.lead`.
    pub name: String,
    /// Fields.
    #[serde(default)]
    pub data: BTreeMap<String, String>,
}

/// Assignment strategies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// Nobody is picked; agents claim from the queue.
    #[default]
    Manual,
    /// The next available agent after the last one picked, in id order; the
    /// position is kept in the store.
    RoundRobin,
    /// The available agent with the fewest open conversations (relative to
    /// capacity; ties by id).
    LeastLoaded,
    /// The agent who last served this contact, if available; else the
    /// team's fallback.
    Sticky,
    /// The least loaded available agent with the required skills.
    Skills,
}

impl Strategy {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::Manual => "manual",
            Strategy::RoundRobin => "round robin",
            Strategy::LeastLoaded => "least loaded",
            Strategy::Sticky => "sticky",
            Strategy::Skills => "skills",
        }
    }
}

/// What happens to an agent's open conversations when they go offline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum OfflinePolicy {
    /// They keep them.
    #[default]
    Stay,
    /// They go back to the team queue.
    ReturnToQueue,
    /// They are assigned again with the team's strategy (to the queue if
    /// nobody is available).
    Reassign,
}

/// A team's assignment policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct TeamPolicy {
    /// How `assign` picks an agent in this team.
    #[serde(default)]
    pub strategy: Strategy,
    /// For `sticky` (and `skills`): what to use when the preferred agent is
    /// not available. Default `least_loaded`.
    #[serde(default)]
    pub fallback: Option<Strategy>,
    /// What happens to an agent's conversations when they go offline.
    #[serde(default)]
    pub when_offline: OfflinePolicy,
}

/// A calendar written compactly:
/// `{zone: Europe/Madrid, weekdays: ["09:00-14:00", "15:00-18:00"], friday: ["09:00-15:00"], saturday: ["10:00-14:00"], holidays: [2026-12-25], special: {2026-12-24: ["09:00-13:00"]}}`.
///
/// Each day may have several windows (a lunch break, a split shift); a
/// window whose end is before its start runs past midnight.
///
/// ```
/// use inbox_core::routing::Routing;
/// let routing = Routing::from_yaml(r#"
/// calendars:
///   office:
///     zone: Europe/Madrid
///     weekdays: ["09:00-14:00", "15:00-18:00"]
///     friday: ["09:00-15:00"]
///     holidays: [2026-12-25]
///     special: {2026-12-24: ["09:00-13:00"]}
/// "#).unwrap();
/// assert!(routing.calendar("office").is_some());
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct CalendarSpec {
    /// IANA time zone.
    pub zone: String,
    /// Hours Monday to Friday.
    #[serde(default)]
    pub weekdays: Vec<String>,
    /// Hours on Mondays instead of `weekdays`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monday: Option<Vec<String>>,
    /// Hours on Tuesdays instead of `weekdays`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tuesday: Option<Vec<String>>,
    /// Hours on Wednesdays instead of `weekdays`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wednesday: Option<Vec<String>>,
    /// Hours on Thursdays instead of `weekdays`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thursday: Option<Vec<String>>,
    /// Hours on Fridays instead of `weekdays`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub friday: Option<Vec<String>>,
    /// Hours on Saturdays.
    #[serde(default)]
    pub saturday: Vec<String>,
    /// Hours on Sundays.
    #[serde(default)]
    pub sunday: Vec<String>,
    /// Closed dates (`YYYY-MM-DD`, local).
    #[serde(default)]
    pub holidays: Vec<chrono::NaiveDate>,
    /// Special hours on a date, instead of its weekday's (no hours:
    /// closed, as a holiday).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub special: BTreeMap<chrono::NaiveDate, Vec<String>>,
    /// Open all day, every day (ignores the rest but the zone).
    #[serde(default)]
    pub always: bool,
}
