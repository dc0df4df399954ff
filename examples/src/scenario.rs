//! The scenario runner: a YAML file describes a tenant (channels, teams,
//! agents, routing rules, SLA policies) and a timeline (customers writing,
//! agents acting, presence changes, time passing, expectations), and the
//! runner plays it through the real [`Inbox`] on the in-memory store with a
//! simulated clock. The format is documented in `docs/scenarios.md`.
//!
//! ```
//! let text = r#"
//! name: tiny
//! config:
//!   channels: [ { id: sales, phone_number_id: "1001" } ]
//!   teams: [ sales ]
//!   agents: [ { id: ana, teams: [sales], presence: online } ]
//!   routing:
//!     teams: { sales: { strategy: round_robin } }
//!     rules: [ { name: all, then: [ { route_to_team: sales }, { assign: {} } ] } ]
//! steps:
//!   - customer: { from: "34600000001", to: sales, text: "hola" }
//!   - expect: { conversation: "34600000001", assignee: ana }
//! "#;
//! let scenario = inbox_examples::scenario::Scenario::parse(text).unwrap();
//! let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
//! let report = rt.block_on(scenario.run(&mut Vec::new())).unwrap();
//! assert_eq!(report.expectations, 1);
//! ```

mod apps;
mod bots;

pub use apps::{BusinessStep, HandoverStep};

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Arc;

use inbox_core::event::{Event, EventActor, EventKind};
use inbox_core::model::{
    Agent, Channel, ContactIdentity, Content, ConversationStatus, Presence, Priority, ReplyContext,
    Role, Team, Tenant,
};
use inbox_core::ports::{
    Clock, Contacts, Conversations, Directory, HistoryQuery, LoadScope, ManualClock, Messages,
    Reports, SequentialIds, Settings,
};
use inbox_core::routing::{Dur, Routing};
use inbox_core::settings::TenantSettings;
use inbox_core::sla::SlaPolicy;
use inbox_core::testing::RecordingTransport;
use inbox_core::{
    Actor, AgentId, Assignee, ChannelId, ConversationId, Error, InboundEvent, InboundMessage,
    Inbox, InboxConfig, Ports, Reply, TeamId, TenantId,
};
use inbox_store_memory::{MemoryEventBus, MemoryStore};

/// A scenario file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// What it shows.
    #[serde(default)]
    pub name: String,
    /// When the clock starts (default Monday 2 March 2026, 09:00 UTC).
    #[serde(default)]
    pub start: Option<DateTime<Utc>>,
    /// The tenant.
    pub config: Config,
    /// The timeline.
    pub steps: Vec<Step>,
}

/// The tenant a scenario runs.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// WhatsApp numbers.
    pub channels: Vec<ChannelSpec>,
    /// Team ids.
    #[serde(default)]
    pub teams: Vec<String>,
    /// Agents.
    pub agents: Vec<AgentSpec>,
    /// The tenant's settings document (`inbox_core::settings`: routing,
    /// SLA, calendars, timers, reply and reopen policies, canned responses,
    /// templates), as the server exports it. Instead of it, a scenario may
    /// give the shorthands below.
    #[serde(default)]
    pub settings: Option<serde_json::Value>,
    /// Routing rules and team policies (see `inbox_core::routing`).
    #[serde(default)]
    pub routing: Option<serde_json::Value>,
    /// SLA policies.
    #[serde(default)]
    pub sla_policies: Vec<SlaPolicy>,
    /// The routing calendar SLA business hours use (default: always open).
    #[serde(default)]
    pub sla_calendar: Option<String>,
    /// Warn this long before the 24-hour window closes.
    #[serde(default)]
    pub window_warning: Option<Dur>,
}

/// A number.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelSpec {
    /// Channel id.
    pub id: String,
    /// Meta's phone number id (what webhooks name).
    pub phone_number_id: String,
    /// Display number.
    #[serde(default)]
    pub number: Option<String>,
}

/// An agent.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentSpec {
    /// Id.
    pub id: String,
    /// Name (default: the id).
    #[serde(default)]
    pub name: Option<String>,
    /// Role (default agent).
    #[serde(default)]
    pub role: Option<Role>,
    /// Teams.
    #[serde(default)]
    pub teams: Vec<String>,
    /// Capacity (0: unlimited).
    #[serde(default)]
    pub capacity: u32,
    /// Skills.
    #[serde(default)]
    pub skills: Vec<String>,
    /// Shift (a routing calendar name).
    #[serde(default)]
    pub shift: Option<String>,
    /// Presence at the start (default offline).
    #[serde(default)]
    pub presence: Option<Presence>,
    /// A bot (answers per the settings' `bots` section; always online,
    /// never routed to by assignment).
    #[serde(default)]
    pub bot: bool,
}

/// One step of the timeline: exactly one of the fields.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// Advance the clock by this much (timers fire on the way).
    #[serde(default)]
    pub after: Option<Dur>,
    /// A customer writes.
    #[serde(default)]
    pub customer: Option<CustomerStep>,
    /// The business writes from another app on the number (its phone's
    /// WhatsApp Business app, or the app controlling the thread).
    #[serde(default)]
    pub business: Option<BusinessStep>,
    /// Control of a customer's thread changes hands.
    #[serde(default)]
    pub handover: Option<HandoverStep>,
    /// An agent acts.
    #[serde(default)]
    pub agent: Option<AgentStep>,
    /// Check the state.
    #[serde(default)]
    pub expect: Option<Expect>,
    /// Change the tenant's settings: the sections given replace the
    /// current document's (a new rule, a holiday, a tighter SLA).
    #[serde(default)]
    pub settings: Option<serde_json::Value>,
}

/// A customer message.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomerStep {
    /// The customer's number (wa_id).
    pub from: String,
    /// The channel id written to.
    pub to: String,
    /// Text.
    #[serde(default)]
    pub text: Option<String>,
    /// Any content, in the core's JSON shape (instead of `text`).
    #[serde(default)]
    pub content: Option<Content>,
    /// A reply button tapped, by its id (`csat:0:3`, `inbox:handoff`),
    /// instead of `text`.
    #[serde(default)]
    pub button: Option<String>,
    /// Profile name.
    #[serde(default)]
    pub name: Option<String>,
    /// Another app holds the thread: the message reaches the inbox as a
    /// passive copy (WhatsApp's `standby`).
    #[serde(default)]
    pub standby: bool,
}

/// An agent action.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentStep {
    /// The agent.
    pub who: String,
    /// `claim`, `release`, `reply`, `template`, `note`, `resolve`,
    /// `reopen`, `pending`, `snooze`, `tag`, `untag`, `tag_contact`,
    /// `priority`, `assign`, `transfer`, `online`, `away`, `offline`,
    /// `capacity`, `take_thread`, `pass_thread` (`to`: a role),
    /// `release_thread`.
    #[serde(rename = "do")]
    pub action: String,
    /// The conversation: the customer's number, optionally `@channel`.
    #[serde(default)]
    pub conversation: Option<String>,
    /// Text of a reply, note or transfer note; template name for
    /// `template`.
    #[serde(default)]
    pub text: Option<String>,
    /// Target of `assign`/`transfer`: an agent id or `team:<id>`.
    #[serde(default)]
    pub to: Option<String>,
    /// Tags for `tag`/`untag`.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Duration for `snooze`.
    #[serde(default, rename = "for")]
    pub for_: Option<Dur>,
    /// Priority for `priority`.
    #[serde(default)]
    pub priority: Option<Priority>,
    /// The agent's new capacity for `capacity` (0: unlimited).
    #[serde(default)]
    pub capacity: Option<u32>,
    /// The error code the action must fail with (`already_owned`,
    /// `window_closed` ...).
    #[serde(default)]
    pub expect_error: Option<String>,
}

/// Expectations (each given field is checked).
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// The conversation the fields below are about.
    #[serde(default)]
    pub conversation: Option<String>,
    /// Owner (`none` for unassigned).
    #[serde(default)]
    pub assignee: Option<String>,
    /// Team queue (`none` for none).
    #[serde(default)]
    pub team: Option<String>,
    /// Status.
    #[serde(default)]
    pub status: Option<ConversationStatus>,
    /// Priority.
    #[serde(default)]
    pub priority: Option<Priority>,
    /// Tags (exactly these).
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    /// Open conversations per agent (agents not listed: not checked).
    #[serde(default)]
    pub loads: Option<BTreeMap<String, u32>>,
    /// Messages sent to customers so far.
    #[serde(default)]
    pub sent: Option<usize>,
    /// A message or note of `conversation` contains this text.
    #[serde(default)]
    pub message: Option<String>,
    /// Some event so far contains this text (in its JSON).
    #[serde(default)]
    pub event: Option<String>,
    /// No event so far contains this text.
    #[serde(default)]
    pub no_event: Option<String>,
    /// Who controls the conversation's WhatsApp thread: `inbox`, or the
    /// other app's role (`ai_agent`).
    #[serde(default)]
    pub thread: Option<String>,
    /// The thread control calls made so far, in order (`take`,
    /// `pass:<role>`, `release`).
    #[serde(default)]
    pub thread_calls: Option<Vec<String>>,
    /// Whether the customer of `conversation` waits for an answer.
    #[serde(default)]
    pub waiting: Option<bool>,
    /// The bot of `conversation`: its id while it answers, `none`, or
    /// `handed_off:<reason>` (`customer_asked`, `opening` ...).
    #[serde(default)]
    pub bot: Option<String>,
    /// The survey of `conversation`'s last resolution: `none`,
    /// `scheduled`, `sent`, `skipped:<reason>` or `answered:<score>`.
    #[serde(default)]
    pub csat: Option<String>,
    /// Messages the inbox cancelled before sending, so far.
    #[serde(default)]
    pub cancelled: Option<usize>,
}

/// What a run did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Report {
    /// Steps run.
    pub steps: usize,
    /// Expectations checked (all held).
    pub expectations: usize,
    /// Events recorded.
    pub events: usize,
    /// Messages sent to customers.
    pub sent: usize,
}

/// Why a scenario could not be loaded or did not hold.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file is not a valid scenario.
    #[error("invalid scenario: {0}")]
    Invalid(String),
    /// A step failed or an expectation did not hold.
    #[error("step {step} ({what}): {reason}")]
    Step {
        /// 1-based step number.
        step: usize,
        /// The step, briefly.
        what: String,
        /// What went wrong.
        reason: String,
    },
    /// Writing the output failed.
    #[error("output: {0}")]
    Io(#[from] std::io::Error),
}

fn tenant() -> TenantId {
    TenantId::new("demo").unwrap_or_else(|_| unreachable!("a valid literal id"))
}

impl Scenario {
    /// Parses a scenario. Errors give the line and column, or the field.
    pub fn parse(text: &str) -> Result<Self, ScenarioError> {
        let de = serde_norway::Deserializer::from_str(text);
        let scenario: Scenario = serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            ScenarioError::Invalid(format!("{path}: {}", e.into_inner()))
        })?;
        for (i, s) in scenario.steps.iter().enumerate() {
            let n = [
                s.after.is_some(),
                s.customer.is_some(),
                s.business.is_some(),
                s.handover.is_some(),
                s.agent.is_some(),
                s.expect.is_some(),
                s.settings.is_some(),
            ]
            .iter()
            .filter(|x| **x)
            .count();
            if n != 1 {
                return Err(ScenarioError::Invalid(format!(
                    "steps[{i}]: a step has exactly one of `after`, `customer`, `business`, `handover`, `agent`, `expect`, `settings` (found {n})"
                )));
            }
            if let Some(v) = &s.settings {
                document(v, &format!("steps[{i}].settings"))?;
            }
        }
        scenario.settings()?;
        Ok(scenario)
    }

    /// The tenant's settings document: `config.settings`, or the one the
    /// shorthands make.
    fn settings(&self) -> Result<TenantSettings, ScenarioError> {
        let c = &self.config;
        let shorthands = c.routing.is_some()
            || !c.sla_policies.is_empty()
            || c.sla_calendar.is_some()
            || c.window_warning.is_some();
        let doc = match &c.settings {
            Some(_) if shorthands => {
                return Err(ScenarioError::Invalid(
                    "config: `settings` holds routing, SLA and timers; give them there, not also in `routing`, `sla_policies`, `sla_calendar` or `window_warning`".into(),
                ))
            }
            Some(v) => document(v, "config.settings")?,
            None => {
                let mut doc = TenantSettings::default();
                if let Some(v) = &c.routing {
                    let routing = Routing::from_value(v)
                        .map_err(|e| ScenarioError::Invalid(format!("config.routing: {e}")))?;
                    doc.routing = routing.spec().clone();
                }
                doc.sla.policies = c.sla_policies.clone();
                doc.sla.calendar = c.sla_calendar.clone();
                if c.window_warning.is_some() {
                    doc.timers.window_warning_before = c.window_warning;
                }
                doc
            }
        };
        doc.compile_stored()
            .map_err(|e| ScenarioError::Invalid(format!("config: {e}")))?;
        Ok(doc)
    }

    /// Runs the scenario, writing every stored event as a JSON line to
    /// `out`, then a summary. Fails at the first step that fails or
    /// expectation that does not hold.
    pub async fn run(&self, out: &mut dyn Write) -> Result<Report, ScenarioError> {
        let start = self.start.unwrap_or_else(|| {
            Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0)
                .single()
                .unwrap_or_default()
        });
        let settings = self.settings()?;
        let clock = Arc::new(ManualClock::new(start));
        let store = Arc::new(MemoryStore::new());
        let transport = Arc::new(RecordingTransport::new());
        let inbox = Inbox::new(
            Ports {
                store: store.clone(),
                transport: transport.clone(),
                bus: Arc::new(MemoryEventBus::new(1024)),
                clock: clock.clone(),
                ids: Arc::new(SequentialIds::default()),
            },
            InboxConfig::default(),
        );
        let mut runner = Runner {
            inbox,
            store,
            clock,
            transport,
            seq: 0,
            events: Vec::new(),
            out,
            report: Report::default(),
        };
        runner
            .setup(&self.config)
            .await
            .map_err(|e| ScenarioError::Step {
                step: 0,
                what: "config".into(),
                reason: e.to_string(),
            })?;
        if settings != TenantSettings::default() {
            runner
                .change_settings(|_| Ok(settings))
                .await
                .map_err(|e| step_err(0, "config", e))?;
        }
        runner.flush().await.map_err(|e| step_err(0, "config", e))?;
        for (i, step) in self.steps.iter().enumerate() {
            let what = describe(step);
            runner
                .step(step)
                .await
                .map_err(|reason| ScenarioError::Step {
                    step: i + 1,
                    what: what.clone(),
                    reason,
                })?;
            runner.report.steps += 1;
        }
        runner
            .summary()
            .await
            .map_err(|e| step_err(0, "summary", e))?;
        Ok(runner.report)
    }
}

/// `doc` with the sections given replaced.
fn with_sections(
    doc: TenantSettings,
    sections: &serde_json::Value,
) -> Result<TenantSettings, Error> {
    let mut value = serde_json::to_value(&doc)
        .map_err(|e| Error::invalid_settings("(document)", e.to_string()))?;
    if let (Some(into), Some(from)) = (value.as_object_mut(), sections.as_object()) {
        for (section, v) in from {
            into.insert(section.clone(), v.clone());
        }
    }
    TenantSettings::from_value(&value)
}

/// A settings document (or the sections of one) found at `path`.
fn document(value: &serde_json::Value, path: &str) -> Result<TenantSettings, ScenarioError> {
    TenantSettings::from_value(value).map_err(|e| ScenarioError::Invalid(format!("{path}: {e}")))
}

fn step_err(step: usize, what: &str, e: impl std::fmt::Display) -> ScenarioError {
    ScenarioError::Step {
        step,
        what: what.into(),
        reason: e.to_string(),
    }
}

fn describe(s: &Step) -> String {
    if let Some(d) = &s.after {
        return format!("after {}", humantime_like(d));
    }
    if let Some(c) = &s.customer {
        return format!("customer {} writes to {}", c.from, c.to);
    }
    if let Some(b) = &s.business {
        return format!("the business writes to {} on {}", b.to, b.on);
    }
    if let Some(h) = &s.handover {
        return format!("{}'s thread goes to {}", h.customer, h.to);
    }
    if let Some(a) = &s.agent {
        return format!(
            "{} {}{}",
            a.who,
            a.action,
            a.conversation
                .as_ref()
                .map(|c| format!(" {c}"))
                .unwrap_or_default()
        );
    }
    if let Some(serde_json::Value::Object(sections)) = &s.settings {
        let names: Vec<&str> = sections.keys().map(String::as_str).collect();
        return format!("settings: {}", names.join(", "));
    }
    "expect".into()
}

fn humantime_like(d: &Dur) -> String {
    serde_json::to_value(d)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

struct Runner<'o> {
    inbox: Inbox,
    store: Arc<MemoryStore>,
    clock: Arc<ManualClock>,
    transport: Arc<RecordingTransport>,
    seq: u64,
    events: Vec<String>,
    out: &'o mut dyn Write,
    report: Report,
}

fn id<T: TryFrom<String, Error = Error>>(s: &str) -> Result<T, Error> {
    T::try_from(s.to_string())
}

impl Runner<'_> {
    async fn setup(&mut self, c: &Config) -> Result<(), Error> {
        let t = tenant();
        self.inbox
            .provision_tenant(&Tenant::new(t.clone(), "Demo"))
            .await?;
        for ch in &c.channels {
            let number = ch
                .number
                .clone()
                .unwrap_or_else(|| ch.phone_number_id.clone());
            self.inbox
                .provision_channel(&Channel::new(
                    t.clone(),
                    id(&ch.id)?,
                    ch.phone_number_id.clone(),
                    number,
                ))
                .await?;
        }
        for team in &c.teams {
            self.inbox
                .provision_team(&Team::new(t.clone(), id(team)?, team.clone()))
                .await?;
        }
        for a in &c.agents {
            let mut agent = Agent::new(
                t.clone(),
                id(&a.id)?,
                a.name.clone().unwrap_or_else(|| a.id.clone()),
                a.role.unwrap_or(Role::Agent),
            )
            .with_capacity(a.capacity)
            .with_skills(a.skills.iter().cloned());
            for team in &a.teams {
                agent = agent.in_team(id(team)?);
            }
            agent.shift = a.shift.clone();
            agent.presence = a.presence.unwrap_or_default();
            if a.bot {
                agent.bot = true;
                agent.service = true;
                agent.presence = Presence::Online;
            }
            self.inbox.provision_agent(&agent).await?;
        }
        Ok(())
    }

    /// Writes the events stored since the last flush.
    async fn flush(&mut self) -> Result<(), Error> {
        // Bots answer what waits for them, then a conversation's queued
        // replies go out one per pass.
        while self.inbox.run_bots(100).await? > 0 {}
        while self.inbox.dispatch(100).await?.total() > 0 {}
        loop {
            let batch = self.store.events_since(&tenant(), self.seq, 500).await?;
            if batch.is_empty() {
                break;
            }
            for e in batch {
                self.seq = e.seq;
                self.write_event(&e)?;
            }
        }
        Ok(())
    }

    /// Writes an event as one JSON line, and keeps it for `expect: event`.
    fn write_event(&mut self, e: &Event) -> Result<(), Error> {
        let line = serde_json::to_string(e).map_err(|e| Error::Backend {
            message: format!("event to JSON: {e}"),
            source: None,
        })?;
        let _ = writeln!(self.out, "{line}");
        self.events.push(line);
        self.report.events += 1;
        Ok(())
    }

    async fn conversation(&self, reference: &str) -> Result<ConversationId, String> {
        let (number, channel) = match reference.split_once('@') {
            Some((n, c)) => (n, Some(c)),
            None => (reference, None),
        };
        let t = tenant();
        let contact = self
            .store
            .find_contact(&t, &ContactIdentity::wa(number))
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("no customer {number} has written yet"))?;
        let channels: Vec<ChannelId> = match channel {
            Some(c) => vec![id(c).map_err(|e| e.to_string())?],
            None => self
                .store
                .channels(&t)
                .await
                .map_err(|e| e.to_string())?
                .into_iter()
                .map(|c| c.id)
                .collect(),
        };
        let mut best = None;
        for ch in channels {
            if let Some(c) = self
                .store
                .latest_conversation(&t, &ch, &contact.id)
                .await
                .map_err(|e| e.to_string())?
            {
                if best
                    .as_ref()
                    .is_none_or(|b: &inbox_core::model::Conversation| {
                        c.last_activity_at > b.last_activity_at
                    })
                {
                    best = Some(c);
                }
            }
        }
        best.map(|c| c.id)
            .ok_or_else(|| format!("customer {number} has no conversation"))
    }

    async fn step(&mut self, step: &Step) -> Result<(), String> {
        if let Some(d) = &step.after {
            let target = self.clock.now() + TimeDelta::from_std(d.0).map_err(|e| e.to_string())?;
            // Fire timers minute by minute on the way, as a real ticker would.
            loop {
                let next = (self.clock.now() + TimeDelta::minutes(1)).min(target);
                self.clock.set(next);
                self.inbox
                    .tick(next, 1000)
                    .await
                    .map_err(|e| e.to_string())?;
                if next >= target {
                    break;
                }
            }
        } else if let Some(c) = &step.customer {
            self.customer(c).await?;
        } else if let Some(b) = &step.business {
            self.business(b).await?;
        } else if let Some(h) = &step.handover {
            self.handover(h).await?;
        } else if let Some(a) = &step.agent {
            let result = self.agent(a).await;
            match (&a.expect_error, result) {
                (None, r) => r.map_err(|e| e.to_string())?,
                (Some(code), Ok(())) => {
                    return Err(format!(
                        "expected the action to fail with {code}, it succeeded"
                    ))
                }
                (Some(code), Err(e)) if e.code() == code => {
                    let _ = writeln!(self.out, "# refused as expected: {e}");
                }
                (Some(code), Err(e)) => {
                    return Err(format!("expected error {code}, got {}: {e}", e.code()))
                }
            }
        } else if let Some(x) = &step.expect {
            self.flush().await.map_err(|e| e.to_string())?;
            self.expect(x).await?;
        } else if let Some(sections) = &step.settings {
            self.change_settings(|doc| with_sections(doc, sections))
                .await
                .map_err(|e| e.to_string())?;
        }
        self.flush().await.map_err(|e| e.to_string())
    }

    /// Stores the tenant's settings that `change` makes of the current
    /// ones (checked and versioned by the inbox), and writes the change as
    /// the live event every instance hears.
    async fn change_settings(
        &mut self,
        change: impl FnOnce(TenantSettings) -> Result<TenantSettings, Error>,
    ) -> Result<(), Error> {
        let t = tenant();
        let (version, current) = match self.store.settings(&t).await? {
            Some(s) => (s.version, s.document),
            None => (0, TenantSettings::default()),
        };
        let stored = self
            .inbox
            .import_settings(&t, version, change(current)?)
            .await?;
        if stored.version == version {
            return Ok(());
        }
        let last = HistoryQuery {
            before: None,
            limit: 1,
        };
        let history = self.store.settings_history(&t, last).await?;
        let sections = history
            .into_iter()
            .flat_map(|c| c.sections)
            .map(|s| s.section)
            .collect();
        let kind = EventKind::SettingsChanged {
            version: stored.version,
            sections,
        };
        let event = Event::new(t, self.clock.now(), EventActor::System, kind);
        self.write_event(&event)
    }

    async fn customer(&mut self, c: &CustomerStep) -> Result<(), String> {
        let channel = self
            .store
            .channel(&tenant(), &id(&c.to).map_err(|e| e.to_string())?)
            .await
            .map_err(|e| e.to_string())?;
        let content = match (&c.text, &c.content, &c.button) {
            (Some(t), None, None) => Content::text(t.clone()),
            (None, Some(content), None) => content.clone(),
            (None, None, Some(id)) => bots::tapped(id),
            _ => return Err("a customer step needs one of `text`, `content` or `button`".into()),
        };
        if c.standby {
            return self
                .standby_customer(&c.from, &c.to, content, c.name.clone())
                .await;
        }
        let n = self.events.len();
        let msg = InboundMessage {
            phone_number_id: channel.phone_number_id.clone(),
            external_id: format!("wamid.scenario.{}.{n}", self.clock.now().timestamp_millis()),
            from: ContactIdentity::wa(c.from.clone()),
            profile_name: c.name.clone(),
            username: None,
            timestamp: self.clock.now(),
            content,
            context: ReplyContext::default(),
        };
        self.inbox
            .ingest(InboundEvent::Message(msg))
            .await
            .map_err(|e| e.to_string())?;
        Ok(())
    }

    async fn agent(&mut self, a: &AgentStep) -> Result<(), Error> {
        let actor = Actor::new(tenant(), id(&a.who)?);
        let presence = match a.action.as_str() {
            "online" => Some(Presence::Online),
            "away" => Some(Presence::Away),
            "offline" => Some(Presence::Offline),
            _ => None,
        };
        if let Some(p) = presence {
            self.inbox.set_presence(&actor, p).await?;
            return Ok(());
        }
        if a.action == "capacity" {
            // Set by an administrator (system level), like an admin screen.
            let mut agent = self.store.agent(&tenant(), &actor.agent).await?;
            agent.capacity = a
                .capacity
                .ok_or_else(|| Error::invalid("capacity", "`capacity` needs `capacity`"))?;
            return self.inbox.provision_agent(&agent).await;
        }
        let reference = a
            .conversation
            .as_deref()
            .ok_or_else(|| Error::invalid("conversation", "this action needs a conversation"))?;
        let conv = self
            .conversation(reference)
            .await
            .map_err(|e| Error::invalid("conversation", e))?;
        let v = self.store.conversation(&tenant(), &conv).await?.version;
        let key = format!(
            "scenario-{}-{}",
            self.clock.now().timestamp_millis(),
            self.events.len()
        );
        let text = || {
            a.text
                .clone()
                .ok_or_else(|| Error::invalid("text", format!("`{}` needs a text", a.action)))
        };
        let target = || -> Result<Assignee, Error> {
            let to =
                a.to.as_deref()
                    .ok_or_else(|| Error::invalid("to", format!("`{}` needs `to`", a.action)))?;
            Ok(match to.strip_prefix("team:") {
                Some(t) => Assignee::Team(TeamId::new(t)?),
                None => Assignee::Agent(AgentId::new(to)?),
            })
        };
        let thread = self.thread_action(&actor, &conv, v, &a.action, a.to.as_deref());
        if let Some(done) = thread.await {
            return done;
        }
        let i = &self.inbox;
        match a.action.as_str() {
            "claim" | "take_over" => i.claim(&actor, &conv, v).await.map(drop),
            "hand_to_bot" => {
                let bot = AgentId::new(a.to.as_deref().unwrap_or_default())?;
                i.hand_to_bot(&actor, &conv, v, &bot).await.map(drop)
            }
            "release" => i.release(&actor, &conv, v, "scenario").await.map(drop),
            "reply" => i.reply(&actor, &conv, v, Reply::text(text()?, key)).await.map(drop),
            "template" => {
                let content = Content::Template {
                    name: text()?,
                    language: "en".into(),
                    components: serde_json::Value::Array(Vec::new()),
                };
                i.reply(
                    &actor,
                    &conv,
                    v,
                    Reply {
                        content,
                        idempotency_key: key,
                        reply_to: None,
                    },
                )
                .await
                .map(drop)
            }
            "note" => i.note(&actor, &conv, v, &text()?, &key).await.map(drop),
            "resolve" => i
                .set_status(&actor, &conv, v, ConversationStatus::Resolved)
                .await
                .map(drop),
            "reopen" => i
                .set_status(&actor, &conv, v, ConversationStatus::Open)
                .await
                .map(drop),
            "pending" => i
                .set_status(&actor, &conv, v, ConversationStatus::Pending)
                .await
                .map(drop),
            "snooze" => {
                let d = a
                    .for_
                    .ok_or_else(|| Error::invalid("for", "`snooze` needs `for`"))?;
                let until = self.clock.now()
                    + TimeDelta::from_std(d.0).map_err(|e| Error::invalid("for", e.to_string()))?;
                i.snooze(&actor, &conv, v, until).await.map(drop)
            }
            "tag" | "untag" => {
                let tags: Vec<&str> = a.tags.iter().map(String::as_str).collect();
                let (add, remove) = if a.action == "tag" {
                    (tags.as_slice(), &[][..])
                } else {
                    (&[][..], tags.as_slice())
                };
                i.tag(&actor, &conv, v, add, remove).await.map(drop)
            }
            "priority" => {
                let p = a
                    .priority
                    .ok_or_else(|| Error::invalid("priority", "`priority` needs `priority`"))?;
                i.set_priority(&actor, &conv, v, p).await.map(drop)
            }
            "tag_contact" => {
                let contact = self.store.conversation(&tenant(), &conv).await?.contact;
                let k = self.store.contact(&tenant(), &contact).await?;
                let update = inbox_core::ContactUpdate {
                    add_tags: a.tags.clone(),
                    ..Default::default()
                };
                i.update_contact(&actor, &contact, k.version, update).await.map(drop)
            }
            "assign" => i.assign(&actor, &conv, v, target()?, "scenario").await.map(drop),
            "transfer" => i.transfer(&actor, &conv, v, target()?, &text()?).await.map(drop),
            other => Err(Error::invalid(
                "do",
                format!("unknown action {other:?} (claim, take_over, hand_to_bot, release, reply, template, note, resolve, reopen, pending, snooze, tag, untag, tag_contact, priority, assign, transfer, online, away, offline, capacity, take_thread, pass_thread, release_thread)"),
            )),
        }
    }

    async fn expect(&mut self, x: &Expect) -> Result<(), String> {
        let t = tenant();
        let mut checked = 0;
        let wants_conversation = x.message.is_some()
            || x.assignee.is_some()
            || x.team.is_some()
            || x.status.is_some()
            || x.priority.is_some()
            || x.tags.is_some()
            || x.thread.is_some()
            || x.waiting.is_some()
            || x.bot.is_some()
            || x.csat.is_some();
        if wants_conversation {
            let reference = x
                .conversation
                .as_deref()
                .ok_or("these expectations need `conversation`")?;
            let id = self.conversation(reference).await?;
            let c = self
                .store
                .conversation(&t, &id)
                .await
                .map_err(|e| e.to_string())?;
            let show = |o: &Option<String>| o.clone().unwrap_or_else(|| "none".into());
            if let Some(want) = &x.assignee {
                let got = show(&c.assignee.as_ref().map(|a| a.to_string()));
                if &got != want {
                    return Err(format!("{reference}: assignee is {got}, expected {want}"));
                }
                checked += 1;
            }
            if let Some(want) = &x.thread {
                let got = Self::controller(&c);
                if &got != want {
                    return Err(format!(
                        "{reference}: {got} controls the thread, expected {want}"
                    ));
                }
                checked += 1;
            }
            if let Some(want) = x.waiting {
                if c.waiting_since.is_some() != want {
                    return Err(format!(
                        "{reference}: waiting is {}, expected {want}",
                        !want
                    ));
                }
                checked += 1;
            }
            checked += bots::check(&c, reference, x.bot.as_deref(), x.csat.as_deref())?;
            if let Some(want) = &x.team {
                let got = show(&c.team.as_ref().map(|a| a.to_string()));
                if &got != want {
                    return Err(format!("{reference}: team is {got}, expected {want}"));
                }
                checked += 1;
            }
            if let Some(want) = x.status {
                if c.status != want {
                    return Err(format!(
                        "{reference}: status is {}, expected {want}",
                        c.status
                    ));
                }
                checked += 1;
            }
            if let Some(want) = x.priority {
                if c.priority != want {
                    return Err(format!(
                        "{reference}: priority is {}, expected {want}",
                        c.priority
                    ));
                }
                checked += 1;
            }
            if let Some(text) = &x.message {
                let messages = self
                    .store
                    .messages(&t, &id)
                    .await
                    .map_err(|e| e.to_string())?;
                let found = messages.iter().any(|m| {
                    serde_json::to_string(&m.content).is_ok_and(|j| j.contains(text.as_str()))
                });
                if !found {
                    return Err(format!("{reference}: no message or note contains {text:?}"));
                }
                checked += 1;
            }
            if let Some(want) = &x.tags {
                let mut want = want.clone();
                want.sort();
                if c.tags != want {
                    return Err(format!(
                        "{reference}: tags are {:?}, expected {want:?}",
                        c.tags
                    ));
                }
                checked += 1;
            }
        }
        if let Some(loads) = &x.loads {
            let got = self
                .store
                .agent_loads(&t, &LoadScope::Tenant)
                .await
                .map_err(|e| e.to_string())?;
            for (a, want) in loads {
                let n = got
                    .get(&AgentId::new(a.clone()).map_err(|e| e.to_string())?)
                    .copied()
                    .unwrap_or(0);
                if n != *want {
                    return Err(format!("{a} has {n} open conversations, expected {want}"));
                }
            }
            checked += 1;
        }
        if let Some(want) = &x.thread_calls {
            let got = self.thread_calls();
            if &got != want {
                return Err(format!(
                    "thread control calls were {got:?}, expected {want:?}"
                ));
            }
            checked += 1;
        }
        if let Some(want) = x.cancelled {
            let got = bots::cancelled(&self.events);
            if got != want {
                return Err(format!("{got} messages were cancelled, expected {want}"));
            }
            checked += 1;
        }
        if let Some(want) = x.sent {
            let got = self.transport.sent().len();
            if got != want {
                return Err(format!("{got} messages were sent, expected {want}"));
            }
            checked += 1;
        }
        if let Some(text) = &x.event {
            if !self.events.iter().any(|e| e.contains(text.as_str())) {
                return Err(format!("no event contains {text:?}"));
            }
            checked += 1;
        }
        if let Some(text) = &x.no_event {
            if let Some(e) = self.events.iter().find(|e| e.contains(text.as_str())) {
                return Err(format!("an event contains {text:?}: {e}"));
            }
            checked += 1;
        }
        if checked == 0 {
            return Err("an expectation that checks nothing".into());
        }
        self.report.expectations += checked;
        Ok(())
    }

    async fn summary(&mut self) -> Result<(), Error> {
        let t = tenant();
        let _ = writeln!(self.out, "# --- final state ---");
        let mut query = inbox_core::query::ConversationQuery {
            filter: Default::default(),
            sort: inbox_core::SortOrder::Newest,
            after: None,
            limit: 500,
        };
        loop {
            let page = self.store.list_conversations(&t, &query).await?;
            for c in &page.items {
                let contact = self.store.contact(&t, &c.contact).await?;
                let _ = writeln!(
                    self.out,
                    "# {} {} via {}: {} owner={} team={} priority={} tags=[{}] messages={}",
                    c.id,
                    contact.identity.wa_id.as_deref().unwrap_or("?"),
                    c.channel,
                    c.status,
                    c.assignee.as_ref().map_or("-".into(), |a| a.to_string()),
                    c.team.as_ref().map_or("-".into(), |a| a.to_string()),
                    c.priority,
                    c.tags.join(","),
                    c.message_count,
                );
            }
            match page.next {
                Some(n) => query.after = Some(n),
                None => break,
            }
        }
        let loads = self.store.agent_loads(&t, &LoadScope::Tenant).await?;
        for a in self.store.agents(&t).await? {
            let _ = writeln!(
                self.out,
                "# agent {} ({}): {} open{}",
                a.id,
                a.presence,
                loads.get(&a.id).copied().unwrap_or(0),
                if a.capacity == 0 {
                    String::new()
                } else {
                    format!(" of {}", a.capacity)
                }
            );
        }
        self.report.sent = self.transport.sent().len();
        let _ = writeln!(
            self.out,
            "# {} events, {} messages sent to customers, {} expectations held",
            self.report.events, self.report.sent, self.report.expectations
        );
        Ok(())
    }
}
