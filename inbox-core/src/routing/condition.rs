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
    Text {
        needles: aho_corasick::AhoCorasick,
        fold: Fold,
        whole_word: bool,
    },
    Regex {
        re: regex::Regex,
        fold: Fold,
    },
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
}

impl Facts<'_> {
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

fn contains_word(hay: &str, needles: &aho_corasick::AhoCorasick, whole_word: bool) -> bool {
    if !whole_word {
        return needles.is_match(hay);
    }
    let boundary = |c: Option<char>| c.is_none_or(|c| !c.is_alphanumeric());
    needles.find_overlapping_iter(hay).any(|m| {
        boundary(hay[..m.start()].chars().next_back()) && boundary(hay[m.end()..].chars().next())
    })
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
            Cond::Text {
                needles,
                fold,
                whole_word,
            } => f
                .text(*fold)
                .is_some_and(|t| contains_word(t, needles, *whole_word)),
            Cond::Regex { re, fold } => f.text(*fold).is_some_and(|t| re.is_match(t)),
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
        let ac = |w: &[&str]| aho_corasick::AhoCorasick::new(w).unwrap();
        assert!(contains_word(
            "quiero un reembolso ya",
            &ac(&["reembolso"]),
            true
        ));
        assert!(!contains_word("refunded", &ac(&["refund"]), true));
        assert!(contains_word("refunded", &ac(&["refund"]), false));
        assert!(contains_word("refund!", &ac(&["refund"]), true));
        assert!(contains_word("need a refund", &ac(&["a refund"]), true));
        // A word inside a longer needle's match still counts on its own.
        assert!(contains_word(
            "refunds and refund",
            &ac(&["refund", "refunds x"]),
            true
        ));
    }
}
