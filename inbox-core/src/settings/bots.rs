//! The `bots` section: the tenant's bots (a FAQ bot answered by the core,
//! or an HTTP bot that calls the embedder's endpoint) and when a bot hands
//! a conversation to people.
//!
//! ```
//! use inbox_core::settings::TenantSettings;
//! let doc = TenantSettings::from_yaml(r#"
//! bots:
//!   list:
//!     faq:
//!       kind: faq
//!       name: Helper
//!       answers:
//!         - id: hours
//!           match: { any: ["opening hours", horario] }
//!           reply: "We are open 9:00-18:00, Monday to Friday."
//!   handoff:
//!     keywords: { en: [agent, human], es: [agente, persona] }
//!     max_exchanges: 4
//! "#).unwrap();
//! let faq = doc.bots.list.get("faq").unwrap();
//! assert_eq!(faq.name(), "Helper");
//! assert!(doc.bots.handoff.asks_for_a_person("I want a HUMAN please"));
//! assert!(!doc.bots.handoff.asks_for_a_person("humanity"));
//! ```

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::SettingsProblem;
use crate::model::{Content, OutboundButton};
use crate::routing::Dur;
use crate::search::search_tokens;

/// The id of the reply button that always hands over to people, unless
/// the tenant names another (`bots.handoff.button`).
pub const HANDOFF_BUTTON: &str = "inbox:handoff";
/// Longest handoff keyword, in characters.
pub const MAX_HANDOFF_KEYWORD_CHARS: usize = 60;
/// Most exchanges a tenant may allow before handing over.
pub const MAX_EXCHANGES_LIMIT: u32 = 100;
/// Most messages an HTTP bot may ask to see.
pub const MAX_BOT_HISTORY: u32 = 50;

/// The tenant's bots and handoff rules (none by default).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct BotsSection {
    /// The bots, by id: each id is a bot agent of the tenant's directory
    /// (an agent with `bot` set).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub list: BTreeMap<String, BotSpec>,
    /// When bots hand over to people.
    pub handoff: HandoffSpec,
}

impl BotsSection {
    /// Whether the section sets nothing (then it is not written out).
    pub fn is_empty(&self) -> bool {
        self.list.is_empty() && self.handoff == HandoffSpec::default()
    }
}

/// One bot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum BotSpec {
    /// Answers from a list of questions and answers, in the core.
    Faq(FaqBot),
    /// Calls the embedder's endpoint (any AI service can sit behind it).
    Http(HttpBotSpec),
}

impl BotSpec {
    /// The name shown in the inbox.
    pub fn name(&self) -> &str {
        match self {
            BotSpec::Faq(b) => &b.name,
            BotSpec::Http(b) => &b.name,
        }
    }

    /// How many recent messages a turn shows the bot.
    pub fn history(&self) -> usize {
        match self {
            BotSpec::Faq(_) => 10,
            BotSpec::Http(b) => b.history as usize,
        }
    }
}

/// A bot answering from questions and answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaqBot {
    /// The name shown in the inbox.
    pub name: String,
    /// Answers, tried in order: the first whose `match` fits the
    /// customer's message is given.
    #[serde(default)]
    pub answers: Vec<FaqAnswer>,
    /// What to do when no answer fits.
    #[serde(default)]
    pub otherwise: FaqOtherwise,
}

/// One answer of a FAQ bot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaqAnswer {
    /// A name for it (unique in the bot), for reports and the timeline.
    pub id: String,
    /// When it fits.
    #[serde(rename = "match")]
    pub matches: FaqMatch,
    /// What to answer.
    pub reply: FaqReply,
    /// Hand over to people after answering.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub then_handoff: bool,
}

/// When a FAQ answer fits a message: any of the phrases appears in it as
/// whole words (case and accents aside), or the pattern matches it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct FaqMatch {
    /// Phrases.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub any: Vec<String>,
    /// A regular expression (Rust `regex` syntax).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub regex: Option<String>,
}

impl FaqMatch {
    /// Whether `text` fits.
    pub fn fits(&self, text: &str) -> bool {
        let words = search_tokens(text);
        self.any
            .iter()
            .any(|p| phrase_in(&search_tokens(p), &words))
            || self
                .regex
                .as_deref()
                .and_then(|r| regex::Regex::new(r).ok())
                .is_some_and(|r| r.is_match(text))
    }
}

/// Whether the words of `phrase` appear one after another in `words`.
fn phrase_in(phrase: &[String], words: &[String]) -> bool {
    !phrase.is_empty() && words.windows(phrase.len()).any(|w| w == phrase)
}

/// A FAQ bot's reply: a text, or a text with reply buttons.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum FaqReply {
    /// A text.
    Text(String),
    /// A text with up to three reply buttons.
    Buttons {
        /// The text.
        body: String,
        /// The buttons (a button with the handoff id hands over when tapped).
        buttons: Vec<OutboundButton>,
    },
}

impl FaqReply {
    /// The message to send.
    pub fn content(&self) -> Content {
        match self {
            FaqReply::Text(t) => Content::text(t.clone()),
            FaqReply::Buttons { body, buttons } => Content::Buttons {
                header: None,
                body: body.clone(),
                footer: None,
                buttons: buttons.clone(),
            },
        }
    }
}

/// What a FAQ bot does when no answer fits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum FaqOtherwise {
    /// Hand over to people at once.
    #[default]
    Handoff,
    /// Say this, and hand over if the next message does not fit either.
    Reply(String),
}

/// A bot behind the embedder's HTTP endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpBotSpec {
    /// The name shown in the inbox.
    pub name: String,
    /// Where turns are posted (`https://`; `http://` only to this machine).
    pub url: String,
    /// The name of the secret that signs the requests (the value is
    /// stored sealed, never in settings).
    pub secret: String,
    /// How long a turn may take (1 s to 30 s; 5 s by default).
    #[serde(default = "default_timeout")]
    pub timeout: Dur,
    /// Recent messages sent with a turn (at most 50; 20 by default).
    #[serde(default = "default_history")]
    pub history: u32,
    /// Whether turns carry the embedder's customer context.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub context: bool,
}

fn default_timeout() -> Dur {
    Dur(std::time::Duration::from_secs(5))
}

fn default_history() -> u32 {
    20
}

/// When a bot hands a conversation over to people.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HandoffSpec {
    /// Words or phrases, by language, with which a customer asks for a
    /// person (whole words, case and accents aside).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub keywords: BTreeMap<String, Vec<String>>,
    /// The id of the reply button that hands over.
    pub button: String,
    /// Hand over after this many exchanges without a resolution (0: no
    /// limit).
    #[serde(skip_serializing_if = "is_zero")]
    pub max_exchanges: u32,
    /// Conversations (or contacts) with one of these tags go to people.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// A calendar of `routing.calendars`: at its next opening, bot-owned
    /// conversations go to people.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at_opening: Option<String>,
    /// Hand over this long before an SLA target is due.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sla_margin: Option<Dur>,
    /// Consecutive failed turns before handing over (1 by default).
    pub max_failures: u32,
    /// Where a handed-over conversation goes when no `handed_off` rule
    /// routed it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fallback: Option<HandoffFallback>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl Default for HandoffSpec {
    fn default() -> Self {
        Self {
            keywords: BTreeMap::new(),
            button: HANDOFF_BUTTON.to_string(),
            max_exchanges: 0,
            tags: Vec::new(),
            at_opening: None,
            sla_margin: None,
            max_failures: 1,
            fallback: None,
        }
    }
}

impl HandoffSpec {
    /// Whether `text` asks for a person: one of the keywords of any
    /// language appears in it as whole words.
    pub fn asks_for_a_person(&self, text: &str) -> bool {
        let words = search_tokens(text);
        self.keywords
            .values()
            .flatten()
            .any(|k| phrase_in(&search_tokens(k), &words))
    }
}

/// The team a handed-over conversation goes to when no rule routed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HandoffFallback {
    /// The team: the conversation waits in its queue (and goes to one of
    /// its agents when the team's queue drains).
    pub team: String,
}

impl BotsSection {
    /// Every problem of the section, each by its path. `bots` are the bot
    /// agents of the directory, `teams` its teams, `calendars` the names of
    /// `routing.calendars` (`None`: references to the directory are not
    /// checked, as for a document checked when stored).
    pub(crate) fn check(
        &self,
        bots: Option<&BTreeSet<String>>,
        teams: Option<&BTreeSet<String>>,
        calendars: &BTreeSet<String>,
    ) -> Vec<SettingsProblem> {
        let mut p = Vec::new();
        let mut push = |path: String, reason: String| p.push(SettingsProblem { path, reason });
        for (id, spec) in &self.list {
            let at = format!("bots.list.{id}");
            if bots.is_some_and(|b| !b.contains(id)) {
                push(at.clone(), format!("no bot agent {id:?}: add an agent with `bot: true` (and `service: true`) first"));
            }
            if spec.name().trim().is_empty() {
                push(format!("{at}.name"), "must not be empty".into());
            }
            match spec {
                BotSpec::Faq(faq) => check_faq(faq, &at, &mut push),
                BotSpec::Http(http) => check_http(http, &at, &mut push),
            }
        }
        self.handoff.check(teams, calendars, &mut push);
        p
    }
}

fn check_faq(faq: &FaqBot, at: &str, push: &mut impl FnMut(String, String)) {
    let mut ids = BTreeSet::new();
    for (i, a) in faq.answers.iter().enumerate() {
        let at = format!("{at}.answers[{i}]");
        if a.id.trim().is_empty() || !ids.insert(a.id.as_str()) {
            push(
                format!("{at}.id"),
                "must be a name not used by another answer".into(),
            );
        }
        if a.matches.any.is_empty() && a.matches.regex.is_none() {
            push(
                format!("{at}.match"),
                "needs `any` phrases or a `regex`".into(),
            );
        }
        for (j, phrase) in a.matches.any.iter().enumerate() {
            if search_tokens(phrase).is_empty() {
                push(format!("{at}.match.any[{j}]"), "has no words".into());
            }
        }
        if let Some(Err(e)) = a.matches.regex.as_deref().map(regex::Regex::new) {
            push(
                format!("{at}.match.regex"),
                format!("is not a pattern: {e}"),
            );
        }
        if let Err(e) = a.reply.content().validate_outbound() {
            push(format!("{at}.reply"), e.to_string());
        }
    }
    if let FaqOtherwise::Reply(text) = &faq.otherwise {
        if let Err(e) = Content::text(text.clone()).validate_outbound() {
            push(format!("{at}.otherwise.reply"), e.to_string());
        }
    }
}

fn check_http(http: &HttpBotSpec, at: &str, push: &mut impl FnMut(String, String)) {
    let url_ok = match http.url.split_once("://") {
        Some(("https", rest)) => !rest.is_empty(),
        // Plain HTTP only to this machine: the host, exactly.
        Some(("http", rest)) => {
            let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
            let host = match authority.strip_prefix("[::1]") {
                Some(port) => port.is_empty() || port.starts_with(':'),
                None => matches!(authority.split(':').next(), Some("127.0.0.1" | "localhost")),
            };
            host
        }
        _ => false,
    };
    if !url_ok {
        push(
            format!("{at}.url"),
            "must be an https:// address (http:// only to this machine)".into(),
        );
    }
    let secs = http.timeout.0.as_secs_f64();
    if !(1.0..=30.0).contains(&secs) {
        push(format!("{at}.timeout"), "must be between 1s and 30s".into());
    }
    if http.history > MAX_BOT_HISTORY {
        push(
            format!("{at}.history"),
            format!("at most {MAX_BOT_HISTORY} messages"),
        );
    }
    let slot_ok = !http.secret.is_empty()
        && http.secret.len() <= 40
        && http
            .secret
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if !slot_ok {
        push(
            format!("{at}.secret"),
            "must be a secret's name: 1-40 of a-z, 0-9, _ and - (never the secret itself)".into(),
        );
    }
}

impl HandoffSpec {
    fn check(
        &self,
        teams: Option<&BTreeSet<String>>,
        calendars: &BTreeSet<String>,
        push: &mut impl FnMut(String, String),
    ) {
        for (lang, words) in &self.keywords {
            for (i, w) in words.iter().enumerate() {
                let n = w.chars().count();
                if search_tokens(w).is_empty() || n > MAX_HANDOFF_KEYWORD_CHARS {
                    let reason = format!(
                        "must have words and at most {MAX_HANDOFF_KEYWORD_CHARS} characters"
                    );
                    push(format!("bots.handoff.keywords.{lang}[{i}]"), reason);
                }
            }
        }
        if self.button.trim().is_empty() || self.button.len() > 256 {
            push(
                "bots.handoff.button".into(),
                "must be a button id of 1-256 characters".into(),
            );
        }
        if self.max_exchanges > MAX_EXCHANGES_LIMIT {
            push(
                "bots.handoff.max_exchanges".into(),
                format!("at most {MAX_EXCHANGES_LIMIT}"),
            );
        }
        if !(1..=10).contains(&self.max_failures) {
            push(
                "bots.handoff.max_failures".into(),
                "must be between 1 and 10".into(),
            );
        }
        if let Some(c) = self.at_opening.as_ref().filter(|c| !calendars.contains(*c)) {
            push(
                "bots.handoff.at_opening".into(),
                format!("no calendar {c:?} in routing.calendars"),
            );
        }
        if let Some(f) = &self.fallback {
            if teams.is_some_and(|t| !t.contains(&f.team)) {
                push(
                    "bots.handoff.fallback.team".into(),
                    format!("no team {:?}", f.team),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::TenantSettings;
    use super::*;

    fn doc(yaml: &str) -> TenantSettings {
        TenantSettings::from_yaml(yaml).unwrap()
    }

    fn paths(problems: Vec<SettingsProblem>) -> Vec<String> {
        problems.into_iter().map(|p| p.path).collect()
    }

    #[test]
    fn a_faq_and_an_http_bot_read_and_write_back() {
        let d = doc(r#"
bots:
  list:
    faq: { kind: faq, name: Helper, answers: [ { id: hours, match: { any: [hours] }, reply: "9-18" },
      { id: track, match: { regex: "(?i)track" }, reply: { body: "Want a person?", buttons: [ { id: "inbox:handoff", title: "Talk to a person" } ] } } ],
      otherwise: { reply: "Sorry?" } }
    ai: { kind: http, name: Assistant, url: "https://ai.example.com/turn", secret: assistant, timeout: 3s, context: true }
  handoff: { keywords: { en: [agent] }, tags: [vip], fallback: { team: support } }
"#);
        let BotSpec::Faq(faq) = &d.bots.list["faq"] else {
            panic!()
        };
        assert_eq!(faq.otherwise, FaqOtherwise::Reply("Sorry?".into()));
        assert!(matches!(
            faq.answers[1].reply.content(),
            Content::Buttons { .. }
        ));
        let BotSpec::Http(ai) = &d.bots.list["ai"] else {
            panic!()
        };
        assert_eq!((ai.timeout.0.as_secs(), ai.history), (3, 20));
        assert_eq!(d.bots.handoff.max_failures, 1);
        assert_eq!(TenantSettings::from_yaml(&d.to_yaml().unwrap()).unwrap(), d);
        assert!(TenantSettings::default().bots.is_empty());
    }

    #[test]
    fn every_mistake_is_named_by_its_path() {
        let d = doc(r#"
bots:
  list:
    faq: { kind: faq, name: " ", answers: [ { id: a, match: {}, reply: "x" }, { id: a, match: { regex: "(" , any: ["  "] }, reply: "" } ] }
    ai: { kind: http, name: AI, url: "http://example.com", secret: "Bad Secret", timeout: 40s, history: 80 }
  handoff: { keywords: { en: [""] }, max_exchanges: 500, max_failures: 0, at_opening: nights, fallback: { team: nobody } }
"#);
        let bots: BTreeSet<String> = ["faq".to_string()].into();
        let teams: BTreeSet<String> = ["support".to_string()].into();
        let found = paths(d.bots.check(Some(&bots), Some(&teams), &BTreeSet::new()));
        for path in [
            "bots.list.ai",
            "bots.list.faq.name",
            "bots.list.faq.answers[0].match",
            "bots.list.faq.answers[1].id",
            "bots.list.faq.answers[1].match.any[0]",
            "bots.list.faq.answers[1].match.regex",
            "bots.list.faq.answers[1].reply",
            "bots.list.ai.url",
            "bots.list.ai.timeout",
            "bots.list.ai.history",
            "bots.list.ai.secret",
            "bots.handoff.keywords.en[0]",
            "bots.handoff.max_exchanges",
            "bots.handoff.max_failures",
            "bots.handoff.at_opening",
            "bots.handoff.fallback.team",
        ] {
            assert!(
                found.contains(&path.to_string()),
                "{path} missing from {found:?}"
            );
        }
        let url = |u: &str| {
            let spec = HttpBotSpec {
                name: "x".into(),
                url: u.into(),
                secret: "s".into(),
                timeout: default_timeout(),
                history: 1,
                context: false,
            };
            let mut found = Vec::new();
            check_http(&spec, "b", &mut |p, _| found.push(p));
            found.is_empty()
        };
        for ok in [
            "https://ai.example.com/t",
            "http://127.0.0.1:9/t",
            "http://localhost/t",
            "http://[::1]:80/t",
        ] {
            assert!(url(ok), "{ok}");
        }
        for bad in [
            "http://localhost.evil.com/t",
            "http://127.0.0.1.nip.io/",
            "ftp://x",
            "https://",
            "http://example.com",
        ] {
            assert!(!url(bad), "{bad}");
        }
        let unknown =
            TenantSettings::from_yaml("bots: { list: { x: { kind: faq, name: X, colour: red } } }");
        assert!(unknown.is_err());
    }

    #[test]
    fn phrases_match_whole_words_in_order() {
        let m = FaqMatch {
            any: vec!["opening hours".into(), "horário".into()],
            regex: None,
        };
        assert!(m.fits("What are your OPENING hours?"));
        assert!(m.fits("horario por favor"));
        assert!(!m.fits("hours of opening"));
        assert!(!m.fits("reopening hoursglass"));
        let r = FaqMatch {
            any: vec![],
            regex: Some("(?i)order #?\\d+".into()),
        };
        assert!(r.fits("where is ORDER 1234"));
    }
}
