//! A tenant's settings as one document: routing and automation rules, team
//! policies, business-hours calendars, SLA policies, timers, reply and
//! reopen policies, canned responses, the message templates the tenant
//! knows and its rate card.
//!
//! The document is data: it is written in YAML (or JSON), stored and
//! versioned like conversations are, and checked as a whole before it is
//! used. [`TenantSettings::compile`] checks every section against the
//! tenant's directory ([`Known`]: its teams, agents and channels) and
//! returns either the [`TenantPolicy`] the inbox runs or
//! [`Error::InvalidSettings`] naming *every* bad field by its path
//! (`routing.rules[2].then[0].route_to_team: no team "slaes"; did you mean
//! "sales"?`), never only the first.
//!
//! The document grows by sections: CSAT surveys, bots and CRM connectors
//! are each one more field of [`TenantSettings`] with a default (so every
//! stored document still reads) and a check in the compile step. Secrets
//! (access tokens, app secrets, connectors' credentials) are never part of
//! it: they are stored sealed beside the number or the tenant
//! ([`ChannelSecrets`](crate::ports::ChannelSecrets)), so an exported
//! document can be shared.
//!
//! ```
//! use inbox_core::settings::{Known, TenantSettings};
//! let yaml = r#"
//! routing:
//!   teams: {sales: {strategy: round_robin}}
//!   rules:
//!     - name: to sales
//!       then: [{route_to_team: slaes}]
//! timers: {window_warning_before: 30m, follow_up_after: 1d}
//! "#;
//! let settings = TenantSettings::from_yaml(yaml).unwrap();
//! let known = Known::default().with_teams(["sales"]);
//! let err = settings.compile(&known).unwrap_err();
//! assert!(err.to_string().contains(r#"routing.rules[0].then[0].route_to_team: no team "slaes"; did you mean "sales"?"#));
//! ```

mod bots;
mod canned;
mod check;
mod connectors;
mod consent;
mod csat;

pub use bots::{
    BotSpec, BotsSection, FaqAnswer, FaqBot, FaqMatch, FaqOtherwise, FaqReply, HandoffFallback,
    HandoffSpec, HttpBotSpec, HANDOFF_BUTTON,
};
pub use canned::{CannedOwner, CannedResponse, CannedValues, VARIABLES};
pub use check::{Known, SettingsProblem, TenantPolicy};
pub use connectors::{
    ConnectorsSection, CrmLog, HubSpotSettings, ShopifySettings, SubscriptionsSection,
    ZohoDataCenter, ZohoModule, ZohoSettings,
};
pub use consent::{ConsentSection, MAX_KEYWORD_CHARS};
pub use csat::{CsatComment, CsatSection, CSAT_REPLY_PREFIX};

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::error::{Error, Result};
use crate::inbox::{ReopenPolicy, ReplyPolicy, ThreadPolicy};
use crate::model::TemplateDefinition;
use crate::pricing::PricingSection;
use crate::routing::{Dur, RoutingSpec};
use crate::sla::SlaPolicy;
use crate::timer::TimerPolicy;

/// Everything a tenant configures, as one document (see the [module
/// docs](self)). Every section has a default, so an empty document is a
/// valid one: no rules, no SLA, the default timers and policies.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct TenantSettings {
    /// Routing and automation rules, team assignment policies and the named
    /// business-hours calendars (today's routing file format, unchanged).
    pub routing: RoutingSpec,
    /// SLA policies and which calendar measures them.
    pub sla: SlaSection,
    /// Follow-up reminders, inactivity auto-resolve, the window-closing
    /// warning, the snooze limit.
    pub timers: TimersSection,
    /// Who may reply and how stale replies are treated.
    pub replies: ReplyPolicy,
    /// Reopen a resolved conversation or open a new one.
    pub reopen: ReopenPolicy,
    /// Canned responses agents insert by shortcut.
    pub canned_responses: Vec<CannedResponse>,
    /// The message templates the tenant may send.
    pub templates: Vec<TemplateDefinition>,
    /// Thread control on numbers shared with other apps (Meta's AI agent):
    /// what claiming and resolving do.
    pub thread_control: ThreadPolicy,
    /// The rate card: what a billed message costs, by category and
    /// market (empty: no costs are computed).
    #[serde(skip_serializing_if = "PricingSection::is_empty")]
    pub pricing: PricingSection,
    /// The words a customer sends to stop or resume marketing messages
    /// (none by default).
    #[serde(skip_serializing_if = "ConsentSection::is_empty")]
    pub consent: ConsentSection,
    /// The tenant's bots and when they hand over to people (none by
    /// default).
    #[serde(skip_serializing_if = "BotsSection::is_empty")]
    pub bots: BotsSection,
    /// Customer-satisfaction surveys after a resolution (off by default).
    #[serde(skip_serializing_if = "CsatSection::is_default")]
    pub csat: CsatSection,
    /// CRM and shop connectors (none by default; their credentials are
    /// stored sealed beside the tenant, never here).
    #[serde(skip_serializing_if = "ConnectorsSection::is_empty")]
    pub connectors: ConnectorsSection,
    /// What outbound event deliveries carry besides the event (nothing by
    /// default).
    #[serde(skip_serializing_if = "SubscriptionsSection::is_default")]
    pub subscriptions: SubscriptionsSection,
}

/// The SLA section: policies in order (the first that applies wins) and
/// the calendars business-hours targets are measured on, by name from
/// `routing.calendars`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct SlaSection {
    /// Policies in order.
    pub policies: Vec<SlaPolicy>,
    /// The tenant's calendar (default: always open).
    pub calendar: Option<String>,
    /// A calendar per team id (before the channel's).
    pub team_calendars: BTreeMap<String, String>,
    /// A calendar per channel id.
    pub channel_calendars: BTreeMap<String, String>,
}

/// The timers section, durations written as `"30m"`, `"2h"` or seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TimersSection {
    /// Warn this long before the customer window closes while the customer
    /// waits for an answer (`null`: no warning). Default one hour.
    pub window_warning_before: Option<Dur>,
    /// Remind the owner when a conversation waiting on the customer has
    /// had no answer this long after the last reply.
    pub follow_up_after: Option<Dur>,
    /// Resolve a conversation waiting on the customer after this long
    /// without activity.
    pub auto_resolve_after: Option<Dur>,
    /// The longest an agent may snooze a conversation (`null`: no limit).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_snooze: Option<Dur>,
}

fn one_hour() -> Option<Dur> {
    Some(Dur(std::time::Duration::from_secs(3600)))
}

impl Default for TimersSection {
    fn default() -> Self {
        TimersSection {
            window_warning_before: one_hour(),
            follow_up_after: None,
            auto_resolve_after: None,
            max_snooze: None,
        }
    }
}

impl From<TimersSection> for TimerPolicy {
    fn from(t: TimersSection) -> Self {
        TimerPolicy {
            window_warning_before: t.window_warning_before.map(|d| d.0),
            follow_up_after: t.follow_up_after.map(|d| d.0),
            auto_resolve_after: t.auto_resolve_after.map(|d| d.0),
        }
    }
}

impl TenantSettings {
    /// Checks a message about to be sent against the templates the tenant
    /// knows, when it lists any (a tenant that lists none leaves the check
    /// to Meta): a template message must be one of them (name and
    /// language), not held back by Meta's review (a status other than
    /// approved; a definition written by hand without a status counts as
    /// approved), and give each component the parameters it takes. Other
    /// content passes.
    ///
    /// ```
    /// use inbox_core::model::{Content, TemplateDefinition, TemplateStatus};
    /// use inbox_core::settings::TenantSettings;
    /// let mut settings = TenantSettings::default();
    /// let mut promo = TemplateDefinition::new("promo", "en_US");
    /// promo.status = Some(TemplateStatus::Paused);
    /// settings.templates.push(promo);
    /// let send = |name: &str| Content::Template { name: name.into(), language: "en_US".into(), components: serde_json::json!([]) };
    /// let err = settings.check_template(&send("promo")).unwrap_err();
    /// assert!(err.to_string().contains("PAUSED"), "{err}");
    /// let err = settings.check_template(&send("welcome")).unwrap_err();
    /// assert!(err.to_string().contains("no template \"welcome\""), "{err}");
    /// assert!(settings.check_template(&Content::text("hi")).is_ok());
    /// ```
    pub fn check_template(&self, content: &crate::model::Content) -> Result<()> {
        let crate::model::Content::Template { name, language, .. } = content else {
            return Ok(());
        };
        if self.templates.is_empty() {
            return Ok(());
        }
        self.sendable_template(name, language)?.check(content)
    }

    /// The template `name` in `language` if it may be sent: one of this
    /// tenant's, approved by Meta (or declared by hand, without a status).
    /// Refused as [`TenantSettings::check_template`] refuses it: an
    /// unknown template on `template.name` (saying which languages it
    /// exists in), another status on `template.status`.
    ///
    /// ```
    /// use inbox_core::model::TemplateDefinition;
    /// use inbox_core::settings::TenantSettings;
    /// let mut settings = TenantSettings::default();
    /// settings.templates.push(TemplateDefinition::new("welcome", "es"));
    /// assert!(settings.sendable_template("welcome", "es").is_ok());
    /// let err = settings.sendable_template("welcome", "en").unwrap_err();
    /// assert!(err.to_string().contains("it exists in es"), "{err}");
    /// ```
    pub fn sendable_template(&self, name: &str, language: &str) -> Result<&TemplateDefinition> {
        use crate::error::ContentProblem;
        use crate::model::TemplateStatus;
        let invalid =
            |field: &str, reason: String| Error::content(field, ContentProblem::Invalid { reason });
        let Some(def) = self
            .templates
            .iter()
            .find(|t| t.name == name && t.language == language)
        else {
            let languages: Vec<&str> = self
                .templates
                .iter()
                .filter(|t| t.name == name)
                .map(|t| t.language.as_str())
                .collect();
            let known = match languages.as_slice() {
                [] => String::new(),
                l => format!(" (it exists in {})", l.join(", ")),
            };
            return Err(invalid(
                "template.name",
                format!("no template {name:?} in {language:?} is known to this tenant{known}"),
            ));
        };
        match &def.status {
            None | Some(TemplateStatus::Approved) => Ok(def),
            Some(status) => Err(invalid(
                "template.status",
                format!("{name:?} ({language}) is {status} at Meta; only an approved template can be sent"),
            )),
        }
    }

    /// Whether `content` may be a marketing message, for the consent
    /// guard: a template this tenant lists as `MARKETING`, or one whose
    /// category is not known (not listed, or listed without a category:
    /// the guard fails closed). Utility and authentication templates, and
    /// anything that is not a template, are not.
    ///
    /// ```
    /// use inbox_core::model::{Content, TemplateCategory, TemplateDefinition};
    /// use inbox_core::settings::TenantSettings;
    /// let mut settings = TenantSettings::default();
    /// let mut update = TemplateDefinition::new("order_update", "en");
    /// update.category = Some(TemplateCategory::Utility);
    /// settings.templates.push(update);
    /// let send = |name: &str| Content::Template { name: name.into(), language: "en".into(), components: serde_json::Value::Null };
    /// assert!(!settings.may_be_marketing(&send("order_update")));
    /// assert!(settings.may_be_marketing(&send("promo"))); // unknown: fails closed
    /// assert!(!settings.may_be_marketing(&Content::text("hi")));
    /// ```
    pub fn may_be_marketing(&self, content: &crate::model::Content) -> bool {
        use crate::model::TemplateCategory as C;
        let crate::model::Content::Template { name, language, .. } = content else {
            return false;
        };
        let category = self
            .templates
            .iter()
            .find(|t| &t.name == name && &t.language == language)
            .and_then(|t| t.category.as_ref());
        !matches!(category, Some(C::Utility | C::Authentication))
    }

    /// Whether `content` is one of this tenant's templates declared as an
    /// authentication template (one-tap, zero-tap and copy-code
    /// authentication templates still need the customer's phone number:
    /// WhatsApp refuses them to a business-scoped user id).
    pub fn is_authentication_template(&self, content: &crate::model::Content) -> bool {
        let crate::model::Content::Template { name, language, .. } = content else {
            return false;
        };
        self.templates.iter().any(|t| {
            &t.name == name
                && &t.language == language
                && t.category == Some(crate::model::TemplateCategory::Authentication)
        })
    }

    /// Reads a document written in YAML. Only its shape is checked here
    /// (an unknown field, a wrong type: the error names its path);
    /// [`TenantSettings::compile`] checks its meaning.
    pub fn from_yaml(text: &str) -> Result<Self> {
        // Through a JSON value: YAML's own enum encoding wants `!tags`, the
        // JSON one takes the `{variant: value}` maps people write.
        let value: serde_json::Value = serde_norway::from_str(text)
            .map_err(|e| Error::invalid_settings("(document)", e.to_string()))?;
        Self::from_value(&value)
    }

    /// Reads a document already parsed into a JSON value. A document of
    /// the wrong shape is refused naming the first mistake of every
    /// section, by path (`timers.follow_up_after: "soon" is not a
    /// duration`).
    pub fn from_value(value: &serde_json::Value) -> Result<Self> {
        let first = match serde_path_to_error::deserialize(value) {
            Ok(settings) => return Ok(settings),
            Err(e) => shape_problem(e),
        };
        // Each section on its own, so that every section's mistake is named.
        let mut problems: Vec<SettingsProblem> = value
            .as_object()
            .into_iter()
            .flatten()
            .filter_map(|(section, v)| {
                let alone = serde_json::json!({ section.as_str(): v });
                serde_path_to_error::deserialize::<_, TenantSettings>(&alone)
                    .err()
                    .map(shape_problem)
            })
            .collect();
        if problems.is_empty() {
            problems.push(first);
        }
        Err(Error::InvalidSettings { problems })
    }

    /// The document in YAML, as [`TenantSettings::from_yaml`] reads it
    /// back: `from_yaml(&s.to_yaml()?) == s`.
    ///
    /// ```
    /// use inbox_core::settings::TenantSettings;
    /// let s = TenantSettings::default();
    /// assert_eq!(TenantSettings::from_yaml(&s.to_yaml().unwrap()).unwrap(), s);
    /// ```
    pub fn to_yaml(&self) -> Result<String> {
        let value = serde_json::to_value(self)
            .map_err(|e| Error::invalid_settings("(document)", e.to_string()))?;
        serde_norway::to_string(&value)
            .map_err(|e| Error::invalid_settings("(document)", e.to_string()))
    }
}

/// A shape error as a problem at its path.
fn shape_problem(e: serde_path_to_error::Error<serde_json::Error>) -> SettingsProblem {
    let path = match e.path().to_string() {
        p if p == "." => "(document)".to_string(),
        p => p,
    };
    SettingsProblem {
        path,
        reason: e.inner().to_string(),
    }
}

#[cfg(test)]
mod tests;
