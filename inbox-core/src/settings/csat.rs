//! The `csat` section: whether, when and how customers are asked how they
//! were served, after a conversation is resolved.
//!
//! ```
//! use inbox_core::settings::TenantSettings;
//! let doc = TenantSettings::from_yaml(r#"
//! csat:
//!   enabled: true
//!   after: 2m
//!   question: { en: "How did we do?", es: "¿Qué tal te atendimos?" }
//!   labels: { en: ["Bad", "OK", "Great"], es: ["Mal", "Normal", "Genial"] }
//! "#).unwrap();
//! assert!(doc.csat.enabled);
//! assert_eq!(doc.csat.question_in(Some("es")).0, "¿Qué tal te atendimos?");
//! assert_eq!(doc.csat.question_in(Some("fr")).0, "How did we do?");
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::SettingsProblem;
use crate::model::CsatScale;
use crate::routing::Dur;

/// The prefix of a survey button's id: `csat:{resolution}:{score}`.
pub const CSAT_REPLY_PREFIX: &str = "csat:";

/// Customer-satisfaction surveys (off by default).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CsatSection {
    /// Whether surveys are sent.
    pub enabled: bool,
    /// How long after the resolution (the customer may write first: then
    /// the conversation is reopened, not surveyed). At most 23 hours.
    pub after: Dur,
    /// Only when a person replied since the conversation was (re)opened.
    pub only_if_agent_replied: bool,
    /// The numbers whose conversations are surveyed (empty: all).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub channels: Vec<String>,
    /// Three faces or a 1–5 scale.
    pub scale: CsatScale,
    /// The question, by language (the contact's `language` attribute picks
    /// one; else the first).
    pub question: BTreeMap<String, String>,
    /// The answers' labels, by language: 3 for faces, 5 for the scale.
    pub labels: BTreeMap<String, Vec<String>>,
    /// Asking for a comment after the answer.
    pub comment: CsatComment,
    /// Not sent when less than this remains of the customer service window.
    pub min_window_left: Dur,
}

/// Asking for a comment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CsatComment {
    /// Whether to ask.
    pub ask: bool,
    /// What to say, by language.
    pub prompt: BTreeMap<String, String>,
    /// How long a text from the customer counts as the comment (at most 1 h).
    pub wait: Dur,
}

impl Default for CsatComment {
    fn default() -> Self {
        Self {
            ask: false,
            prompt: BTreeMap::from([("en".into(), "Anything you would like to add?".into())]),
            wait: Dur(Duration::from_secs(15 * 60)),
        }
    }
}

impl Default for CsatSection {
    fn default() -> Self {
        Self {
            enabled: false,
            after: Dur(Duration::from_secs(120)),
            only_if_agent_replied: true,
            channels: Vec::new(),
            scale: CsatScale::Faces,
            question: BTreeMap::from([("en".into(), "How did we do?".into())]),
            labels: BTreeMap::from([(
                "en".into(),
                vec!["😞 Bad".into(), "😐 OK".into(), "😀 Great".into()],
            )]),
            comment: CsatComment::default(),
            min_window_left: Dur(Duration::from_secs(5 * 60)),
        }
    }
}

impl CsatSection {
    /// Whether the section is as by default (then it is not written out).
    pub fn is_default(&self) -> bool {
        self == &Self::default()
    }

    /// The question and labels in `language` (or the first language).
    pub fn question_in(&self, language: Option<&str>) -> (&str, &[String]) {
        let lang = language
            .filter(|l| self.question.contains_key(*l))
            .or_else(|| self.question.keys().next().map(String::as_str))
            .unwrap_or("en");
        let question = self.question.get(lang).map_or("", String::as_str);
        let labels = self
            .labels
            .get(lang)
            .or_else(|| self.labels.values().next())
            .map_or(&[][..], Vec::as_slice);
        (question, labels)
    }

    /// The comment prompt in `language` (or the first language).
    pub fn prompt_in(&self, language: Option<&str>) -> &str {
        language
            .and_then(|l| self.comment.prompt.get(l))
            .or_else(|| self.comment.prompt.values().next())
            .map_or("", String::as_str)
    }

    /// Whether conversations of `channel` are surveyed.
    pub fn covers(&self, channel: &str) -> bool {
        self.enabled && (self.channels.is_empty() || self.channels.iter().any(|c| c == channel))
    }

    /// Every problem of the section, by path.
    pub(crate) fn check(&self, channels: Option<&BTreeSet<String>>) -> Vec<SettingsProblem> {
        let mut p = Vec::new();
        let mut push = |path: &str, reason: String| {
            p.push(SettingsProblem {
                path: format!("csat.{path}"),
                reason,
            })
        };
        if self.after.0 > Duration::from_secs(23 * 3600) {
            push(
                "after",
                "at most 23h (the window closes 24 hours after the customer's last message)".into(),
            );
        }
        if self.comment.wait.0 > Duration::from_secs(3600) {
            push("comment.wait", "at most 1h".into());
        }
        if self.question.is_empty() {
            push(
                "question",
                "needs the question in at least one language".into(),
            );
        }
        for (lang, q) in &self.question {
            if q.trim().is_empty() || q.chars().count() > 1024 {
                push(
                    &format!("question.{lang}"),
                    "must be 1 to 1024 characters".into(),
                );
            }
        }
        let (count, longest) = match self.scale {
            CsatScale::Faces => (3, crate::model::limits::BUTTON_TITLE),
            CsatScale::Five => (5, crate::model::limits::ROW_TITLE),
        };
        for (lang, labels) in &self.labels {
            if labels.len() != count {
                push(
                    &format!("labels.{lang}"),
                    format!("needs {count} labels for the {:?} scale", self.scale).to_lowercase(),
                );
            }
            for (i, l) in labels.iter().enumerate() {
                if l.trim().is_empty() || l.chars().count() > longest {
                    push(
                        &format!("labels.{lang}[{i}]"),
                        format!("must be 1 to {longest} characters"),
                    );
                }
            }
            if !self.question.contains_key(lang) {
                push(
                    &format!("labels.{lang}"),
                    format!("no question in {lang:?}"),
                );
            }
        }
        for (i, c) in self.channels.iter().enumerate() {
            if channels.is_some_and(|known| !known.contains(c)) {
                push(&format!("channels[{i}]"), format!("no number {c:?}"));
            }
        }
        p
    }
}
