//! The `consent` section: the words a customer sends, alone, to stop or
//! resume marketing messages ("STOP", "BAJA", "START"), beside WhatsApp's
//! own stop button (`user_preferences`).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use super::SettingsProblem;
use crate::model::Content;
use crate::search::fold;

/// The longest keyword, in characters.
pub const MAX_KEYWORD_CHARS: usize = 40;

/// Keywords that stop or resume marketing messages. A customer's text
/// message that is exactly one of them (case, accents and surrounding
/// spaces aside) records their choice on their contact; words inside a
/// longer message ("stop the delivery") never do. Empty by default: no
/// keyword is read.
///
/// ```
/// use inbox_core::model::Content;
/// use inbox_core::settings::TenantSettings;
/// let doc = TenantSettings::from_yaml("consent: {stop_keywords: [STOP, BAJA], start_keywords: [START]}").unwrap();
/// assert_eq!(doc.consent.choice_in(&Content::text(" Bája ")), Some(true));
/// assert_eq!(doc.consent.choice_in(&Content::text("start")), Some(false));
/// assert_eq!(doc.consent.choice_in(&Content::text("stop the delivery")), None);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct ConsentSection {
    /// Words that stop marketing messages.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub stop_keywords: Vec<String>,
    /// Words that resume them (an explicit opt-in).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub start_keywords: Vec<String>,
}

impl ConsentSection {
    /// Whether no keyword is set (the section is then not written out).
    pub fn is_empty(&self) -> bool {
        self.stop_keywords.is_empty() && self.start_keywords.is_empty()
    }

    /// The choice a customer's message makes: `Some(true)` stops
    /// marketing messages, `Some(false)` resumes them, `None` for any other
    /// message (only a text that is exactly a keyword counts).
    pub fn choice_in(&self, content: &Content) -> Option<bool> {
        let Content::Text { body, .. } = content else {
            return None;
        };
        let said = fold(body.trim());
        let is = |words: &[String]| words.iter().any(|w| fold(w.trim()) == said);
        if is(&self.stop_keywords) {
            Some(true)
        } else if is(&self.start_keywords) {
            Some(false)
        } else {
            None
        }
    }

    /// Every problem of the section, each by its path: an empty or too
    /// long keyword, one listed twice, or one that both stops and resumes.
    pub(crate) fn check(&self) -> Vec<SettingsProblem> {
        let mut problems = Vec::new();
        let mut seen: BTreeMap<String, &str> = BTreeMap::new();
        let lists = [
            ("stop_keywords", &self.stop_keywords),
            ("start_keywords", &self.start_keywords),
        ];
        for (list, words) in lists {
            for (i, w) in words.iter().enumerate() {
                let path = format!("consent.{list}[{i}]");
                let reason = match seen.insert(fold(w.trim()), list) {
                    _ if w.trim().is_empty() => Some("must not be empty".to_string()),
                    _ if w.chars().count() > MAX_KEYWORD_CHARS => {
                        Some(format!("at most {MAX_KEYWORD_CHARS} characters"))
                    }
                    Some(other) if other == list => Some(format!("{w:?} is listed twice")),
                    Some(_) => Some(format!("{w:?} cannot both stop and resume")),
                    None => None,
                };
                if let Some(reason) = reason {
                    problems.push(SettingsProblem { path, reason });
                }
            }
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn section(stop: &[&str], start: &[&str]) -> ConsentSection {
        let words = |w: &[&str]| w.iter().map(|s| s.to_string()).collect();
        ConsentSection {
            stop_keywords: words(stop),
            start_keywords: words(start),
        }
    }

    #[test]
    fn each_bad_keyword_is_named_by_its_path() {
        let long = "x".repeat(41);
        let bad = section(&["STOP", "", "stop"], &["Stóp", &long, "START"]);
        let problems: Vec<String> = bad.check().iter().map(ToString::to_string).collect();
        assert_eq!(problems.len(), 4, "{problems:?}");
        assert!(problems[0].starts_with("consent.stop_keywords[1]: must not be empty"));
        assert!(problems[1].contains("consent.stop_keywords[2]") && problems[1].contains("twice"));
        assert!(problems[2].contains("consent.start_keywords[0]") && problems[2].contains("both"));
        assert!(problems[3].contains("consent.start_keywords[1]: at most 40"));
        assert!(section(&["STOP", "BAJA"], &["START"]).check().is_empty());
    }

    #[test]
    fn only_a_whole_text_message_is_a_keyword() {
        let s = section(&["STOP", "BAJA"], &["START", "ALTA"]);
        assert_eq!(s.choice_in(&Content::text("stop")), Some(true));
        assert_eq!(s.choice_in(&Content::text("  ALTA\n")), Some(false));
        assert_eq!(s.choice_in(&Content::text("please stop")), None);
        let reaction = Content::Reaction {
            target: "wamid.1".into(),
            emoji: Some("STOP".into()),
        };
        assert_eq!(s.choice_in(&reaction), None);
        assert_eq!(
            ConsentSection::default().choice_in(&Content::text("STOP")),
            None
        );
    }
}
