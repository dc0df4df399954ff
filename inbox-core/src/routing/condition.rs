//! Evaluating rule conditions.

use chrono::{DateTime, TimeDelta, Utc};
use std::cell::{OnceCell, RefCell};
use unicode_normalization::char::{decompose_canonical, is_combining_mark};

use super::spec::{CustomerKind, OpenState};
use crate::calendar::Calendar;
use crate::ids::{ChannelId, TeamId};
use crate::model::{Contact, Content, Conversation, ConversationStatus, Priority};

/// How text is folded before matching.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Fold {
    pub case: bool,
    pub diacritics: bool,
}

impl Fold {
    pub(crate) fn apply(self, s: &str) -> String {
        let mut out = String::with_capacity(s.len());
        let case = self.case;
        let push = |out: &mut String, c: char| {
            if c.is_ascii() {
                out.push(if case { c.to_ascii_lowercase() } else { c });
            } else if case {
                out.extend(c.to_lowercase());
            } else {
                out.push(c);
            }
        };
        for c in s.chars() {
            if c.is_ascii() || !self.diacritics {
                push(&mut out, c);
            } else {
                decompose_canonical(c, |d| {
                    if !is_combining_mark(d) {
                        push(&mut out, d)
                    }
                });
            }
        }
        out
    }

    fn index(self) -> usize {
        usize::from(self.case) | (usize::from(self.diacritics) << 1)
    }
}

/// A checked condition.
#[derive(Debug, Clone)]
pub(crate) enum Cond {
    All(Vec<Cond>),
    Any(Vec<Cond>),
    Not(Box<Cond>),
    Channel(Vec<ChannelId>),
    MessageType(Vec<String>),
    /// A keyword list, by its id in [`TextSets`].
    Text(usize),
    /// A pattern, by its id in [`TextSets`].
    Regex(usize),
    ContactTag(Vec<String>),
    ContactAttribute {
        key: String,
        values: Option<Vec<String>>,
        exists: Option<bool>,
    },
    Customer(CustomerKind),
    BusinessHours {
        state: OpenState,
        calendar: Option<String>,
    },
    Priority(Vec<Priority>),
    PriorityAtLeast(Priority),
    Status(Vec<ConversationStatus>),
    Tag(Vec<String>),
    Team(Vec<TeamId>),
    Assigned(bool),
    SinceCustomer {
        more: Option<TimeDelta>,
        less: Option<TimeDelta>,
    },
    SinceAgent {
        more: Option<TimeDelta>,
        less: Option<TimeDelta>,
    },
}

/// What conditions look at.
pub(crate) struct Facts<'a> {
    pub conversation: &'a Conversation,
    pub contact: Option<&'a Contact>,
    pub message: Option<&'a Content>,
    pub now: DateTime<Utc>,
    /// The calendar of `business_hours` conditions that name none.
    pub calendar: &'a Calendar,
    pub calendars: &'a std::collections::BTreeMap<String, Calendar>,
    /// The message text folded each way, computed on first use.
    pub folded: &'a [OnceCell<Option<String>>; 4],
    /// Whether each calendar (by address) is open now, computed on first
    /// use.
    pub open: &'a RefCell<Vec<(usize, bool)>>,
    /// The rule set's keyword lists and patterns.
    pub sets: &'a TextSets,
    /// Which of them the message matches, computed on first use.
    pub hits: &'a OnceCell<Vec<bool>>,
}

/// Gathers the keyword lists and patterns of a rule set.
#[derive(Debug, Default)]
pub(crate) struct TextSetsBuilder {
    /// Keyword groups by (fold, whole word): needles and their condition ids.
    keywords: Vec<(Fold, bool, Vec<String>, Vec<usize>)>,
    /// Patterns by fold: patterns and their condition ids.
    regexes: Vec<(Fold, Vec<String>, Vec<usize>)>,
    next: usize,
}

impl TextSetsBuilder {
    /// Registers a keyword list; returns its condition id.
    pub(crate) fn keywords(&mut self, fold: Fold, whole_word: bool, needles: Vec<String>) -> usize {
        let id = self.next;
        self.next += 1;
        let i = match self
            .keywords
            .iter()
            .position(|(f, w, ..)| *f == fold && *w == whole_word)
        {
            Some(i) => i,
            None => {
                self.keywords
                    .push((fold, whole_word, Vec::new(), Vec::new()));
                self.keywords.len() - 1
            }
        };
        let group = &mut self.keywords[i];
        for n in needles {
            group.2.push(n);
            group.3.push(id);
        }
        id
    }

    /// Registers a pattern; returns its condition id.
    pub(crate) fn regex(&mut self, fold: Fold, pattern: String) -> usize {
        let id = self.next;
        self.next += 1;
        match self.regexes.iter_mut().find(|(f, ..)| *f == fold) {
            Some(group) => {
                group.1.push(pattern);
                group.2.push(id);
            }
            None => self.regexes.push((fold, vec![pattern], vec![id])),
        }
        id
    }

    pub(crate) fn build(self) -> Result<TextSets, String> {
        let mut keywords = Vec::new();
        for (fold, whole_word, needles, owners) in self.keywords {
            let ac = aho_corasick::AhoCorasick::new(&needles).map_err(|e| e.to_string())?;
            keywords.push((fold, whole_word, ac, owners));
        }
        let mut regexes = Vec::new();
        for (fold, patterns, owners) in self.regexes {
            let set = regex::RegexSetBuilder::new(&patterns)
                .size_limit(patterns.len().max(1) << 20)
                .build()
                .map_err(|e| e.to_string())?;
            regexes.push((fold, set, owners));
        }
        Ok(TextSets {
            keywords,
            regexes,
            conditions: self.next,
        })
    }
}

/// Every keyword list and pattern of a rule set, grouped so that one pass
/// over a message answers all of them.
#[derive(Debug, Clone, Default)]
pub(crate) struct TextSets {
    keywords: Vec<(Fold, bool, aho_corasick::AhoCorasick, Vec<usize>)>,
    regexes: Vec<(Fold, regex::RegexSet, Vec<usize>)>,
    conditions: usize,
}

impl Facts<'_> {
    fn hits(&self) -> &[bool] {
        self.hits.get_or_init(|| {
            let mut hits = vec![false; self.sets.conditions];
            for (fold, whole_word, ac, owners) in &self.sets.keywords {
                let Some(text) = self.text(*fold) else {
                    continue;
                };
                let boundary = |c: Option<char>| c.is_none_or(|c| !c.is_alphanumeric());
                for m in ac.find_overlapping_iter(text) {
                    let id = owners[m.pattern().as_usize()];
                    if hits[id] {
                        continue;
                    }
                    let ok = !*whole_word
                        || (boundary(text[..m.start()].chars().next_back())
                            && boundary(text[m.end()..].chars().next()));
                    if ok {
                        hits[id] = true;
                    }
                }
            }
            for (fold, set, owners) in &self.sets.regexes {
                let Some(text) = self.text(*fold) else {
                    continue;
                };
                for i in set.matches(text).iter() {
                    hits[owners[i]] = true;
                }
            }
            hits
        })
    }

    fn text(&self, fold: Fold) -> Option<&str> {
        self.folded[fold.index()]
            .get_or_init(|| {
                self.message
                    .and_then(Content::text_body)
                    .map(|t| fold.apply(t))
            })
            .as_deref()
    }
}

fn within(elapsed: TimeDelta, more: Option<TimeDelta>, less: Option<TimeDelta>) -> bool {
    more.is_none_or(|m| elapsed > m) && less.is_none_or(|l| elapsed < l)
}

impl Cond {
    /// Whether the verdict can change when actions change the conversation
    /// (priority, status, tags, team, owner, reply times); the others
    /// depend only on the message, contact, channel and time.
    pub(crate) fn depends_on_state(&self) -> bool {
        match self {
            Cond::All(v) | Cond::Any(v) => v.iter().any(Cond::depends_on_state),
            Cond::Not(x) => x.depends_on_state(),
            Cond::Priority(_)
            | Cond::PriorityAtLeast(_)
            | Cond::Status(_)
            | Cond::Tag(_)
            | Cond::Team(_)
            | Cond::Assigned(_)
            | Cond::SinceCustomer { .. }
            | Cond::SinceAgent { .. } => true,
            _ => false,
        }
    }

    pub(crate) fn eval(&self, f: &Facts<'_>) -> bool {
        let c = f.conversation;
        match self {
            Cond::All(v) => v.iter().all(|x| x.eval(f)),
            Cond::Any(v) => v.iter().any(|x| x.eval(f)),
            Cond::Not(x) => !x.eval(f),
            Cond::Channel(ids) => ids.contains(&c.channel),
            Cond::MessageType(kinds) => f.message.is_some_and(|m| {
                let k = match m {
                    Content::Unsupported { .. } => "unsupported",
                    other => other.kind(),
                };
                kinds.iter().any(|x| x == k)
            }),
            Cond::Text(id) | Cond::Regex(id) => f.hits().get(*id).copied().unwrap_or(false),
            Cond::ContactTag(tags) => f
                .contact
                .is_some_and(|k| k.tags.iter().any(|t| tags.contains(t))),
            Cond::ContactAttribute {
                key,
                values,
                exists,
            } => {
                let v = f.contact.and_then(|k| k.attributes.get(key));
                match (values, exists) {
                    (Some(values), _) => v.is_some_and(|v| {
                        let v = v.trim();
                        values
                            .iter()
                            .any(|x| v.chars().flat_map(char::to_lowercase).eq(x.chars()))
                    }),
                    (None, Some(e)) => v.is_some() == *e,
                    (None, None) => false,
                }
            }
            Cond::Customer(kind) => {
                // Returning: the contact existed before this conversation.
                let returning = f.contact.is_some_and(|k| k.created_at < c.created_at);
                match kind {
                    CustomerKind::New => !returning,
                    CustomerKind::Returning => returning,
                }
            }
            Cond::BusinessHours { state, calendar } => {
                let cal = calendar
                    .as_ref()
                    .and_then(|n| f.calendars.get(n))
                    .unwrap_or(f.calendar);
                let key = std::ptr::from_ref(cal) as usize;
                let cached = f
                    .open
                    .borrow()
                    .iter()
                    .find(|(k, _)| *k == key)
                    .map(|(_, o)| *o);
                let open = match cached {
                    Some(o) => o,
                    None => {
                        let o = cal.is_open(f.now);
                        f.open.borrow_mut().push((key, o));
                        o
                    }
                };
                match state {
                    OpenState::Open => open,
                    OpenState::Closed => !open,
                }
            }
            Cond::Priority(v) => v.contains(&c.priority),
            Cond::PriorityAtLeast(p) => c.priority >= *p,
            Cond::Status(v) => v.contains(&c.status),
            Cond::Tag(tags) => c.tags.iter().any(|t| tags.contains(t)),
            Cond::Team(teams) => c.team.as_ref().is_some_and(|t| teams.contains(t)),
            Cond::Assigned(b) => c.assignee.is_some() == *b,
            Cond::SinceCustomer { more, less } => {
                let since = c.last_customer_message_at.unwrap_or(c.created_at);
                within(f.now - since, *more, *less)
            }
            Cond::SinceAgent { more, less } => {
                let since = c.last_agent_reply_at.unwrap_or(c.created_at);
                within(f.now - since, *more, *less)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_and_whole_words() {
        let f = Fold {
            case: true,
            diacritics: true,
        };
        assert_eq!(f.apply("Reembolsó ÁRBOL"), "reembolso arbol");
    }
}
