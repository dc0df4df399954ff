//! Columns derived from a stored document, written beside it.
//!
//! Message and conversation rows keep the whole entity as a `json`
//! document (`data`, migrations 16 and 17): stored as the application
//! serialised it, validated but not parsed into `jsonb`, and handed back
//! verbatim, so that neither the ingest nor a status report pays for
//! turning it into a tree and back. What queries filter and aggregate on
//! is a column of its own, filled from the entity by every writer
//! ([`MessageFacts`], [`ConversationFacts`]): reports, the live snapshot
//! and the status lookup never reach into the document.

use inbox_core::model::{Author, Conversation, Direction, Message};
use inbox_core::sla::SlaTargetState;

use crate::sql::micros;

/// The columns of a message row that reports and lookups read, as the
/// message says (until migration 16 they were generated from the
/// document by the server, with the same rules).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MessageFacts<'a> {
    /// `author_agent`: the agent who wrote it (replies and notes).
    pub author_agent: Option<&'a str>,
    /// `direction`: `inbound`, `outbound` or `note`.
    pub direction: &'static str,
    /// `next_response_secs`: how long the customer had waited, for an
    /// agent's reply that was not the conversation's first.
    pub next_response_secs: Option<i64>,
    /// `next_response_business_secs`: the same in business hours.
    pub next_response_business_secs: Option<i64>,
    /// `sent_us`: when an outbound message was sent (none for others).
    pub sent_us: Option<i64>,
    /// `pricing`: what WhatsApp said an outbound message costs, as JSON.
    pub pricing: Option<String>,
}

impl<'a> MessageFacts<'a> {
    /// The facts of `m`.
    pub(crate) fn of(m: &'a Message) -> Self {
        let next = m.response.filter(|r| r.is_next_response());
        Self {
            author_agent: match &m.author {
                Author::Agent(a) => Some(a.as_str()),
                _ => None,
            },
            direction: direction(m.direction),
            next_response_secs: next.map(|r| r.secs),
            next_response_business_secs: next.map(|r| r.business_secs),
            sent_us: m.is_api_send().then(|| micros(m.sent_at)),
            pricing: m
                .delivery
                .as_ref()
                .and_then(|d| d.pricing.as_ref())
                .and_then(|p| serde_json::to_string(p).ok()),
        }
    }
}

/// A direction as the message document spells it.
pub(crate) fn direction(d: Direction) -> &'static str {
    match d {
        Direction::Inbound => "inbound",
        Direction::Outbound => "outbound",
        Direction::Note => "note",
    }
}

/// The columns of a conversation row that reports and the live snapshot
/// read, as the conversation says (until migration 17 the queries took
/// them from the document). Durations are whole seconds, truncated, from
/// the instants in microseconds (as every time column of the store).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ConversationFacts<'a> {
    /// `first_response_secs`: from opening to the first agent reply.
    pub first_response_secs: Option<i64>,
    /// `resolution_secs`: from opening to the (latest) resolution.
    pub resolution_secs: Option<i64>,
    /// `first_response_business_secs`.
    pub first_response_business_secs: Option<i64>,
    /// `resolution_business_secs`.
    pub resolution_business_secs: Option<i64>,
    /// `reopen_count`.
    pub reopen_count: i64,
    /// `sla_policy`: the SLA policy's id (none without an SLA).
    pub sla_policy: Option<&'a str>,
    /// `sla_kinds`, `sla_states`, `sla_warn_us`, `sla_due_us`: each SLA
    /// target's kind, state, warning and due instants, in the targets'
    /// order, as array literals (none without an SLA).
    pub sla_kinds: Option<String>,
    /// See `sla_kinds`.
    pub sla_states: Option<String>,
    /// See `sla_kinds`.
    pub sla_warn_us: Option<String>,
    /// See `sla_kinds`.
    pub sla_due_us: Option<String>,
}

impl<'a> ConversationFacts<'a> {
    /// The facts of `c`.
    pub(crate) fn of(c: &'a Conversation) -> Self {
        let since_opened = |t: chrono::DateTime<chrono::Utc>| {
            micros(t).saturating_sub(micros(c.created_at)) / 1_000_000
        };
        let sla = c.sla.as_ref();
        let targets = |f: &dyn Fn(&inbox_core::sla::SlaTarget) -> String| {
            sla.map(|s| array_literal(s.targets.iter().map(f)))
        };
        Self {
            first_response_secs: c.first_response_at.map(since_opened),
            resolution_secs: c.resolved_at.map(since_opened),
            first_response_business_secs: c.first_response_business_secs,
            resolution_business_secs: c.resolution_business_secs,
            reopen_count: i64::from(c.reopen_count),
            sla_policy: sla.map(|s| s.policy.as_str()),
            sla_kinds: targets(&|t| quoted(t.kind.as_str())),
            sla_states: targets(&|t| quoted(sla_state(&t.state))),
            sla_warn_us: targets(&|t| micros(t.warn_at).to_string()),
            sla_due_us: targets(&|t| micros(t.due_at).to_string()),
        }
    }
}

/// A target state as the document spells it (its `state` tag).
pub(crate) fn sla_state(s: &SlaTargetState) -> &'static str {
    match s {
        SlaTargetState::Active => "active",
        SlaTargetState::Paused { .. } => "paused",
        SlaTargetState::Met { .. } => "met",
        SlaTargetState::Breached { .. } => "breached",
    }
}

/// An array literal (`{a,b}`) of elements already written as literals.
fn array_literal(items: impl Iterator<Item = String>) -> String {
    let mut out = String::from("{");
    for (i, item) in items.enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&item);
    }
    out.push('}');
    out
}

/// A text array element, quoted and escaped.
fn quoted(item: &str) -> String {
    let mut out = String::with_capacity(item.len() + 2);
    out.push('"');
    for ch in item.chars() {
        if ch == '"' || ch == '\\' {
            out.push('\\');
        }
        out.push(ch);
    }
    out.push('"');
    out
}

/// A `tsvector` literal of search words (`'joao' 'silva'`), each quoted
/// and escaped: PostgreSQL keeps them as they are, without parsing or
/// folding (the core did: [`inbox_core::search`]).
pub(crate) fn tsvector_literal(words: &[String]) -> String {
    let mut out = String::new();
    for (i, w) in words.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        push_lexeme(&mut out, w);
    }
    out
}

/// A `tsquery` literal requiring every one of `tokens` (folded search
/// words), the last as a prefix when `prefix_last` (`'joao' & 'sil':*`);
/// each quoted and escaped, so nothing in them is an operator.
pub(crate) fn tsquery_literal(tokens: &[String], prefix_last: bool) -> String {
    let mut out = String::new();
    for (i, t) in tokens.iter().enumerate() {
        if i > 0 {
            out.push_str(" & ");
        }
        push_lexeme(&mut out, t);
        if prefix_last && i + 1 == tokens.len() {
            out.push_str(":*");
        }
    }
    out
}

/// A lexeme in single quotes, quotes and backslashes doubled.
fn push_lexeme(out: &mut String, word: &str) {
    out.push('\'');
    for ch in word.chars() {
        if ch == '\'' || ch == '\\' {
            out.push(ch);
        }
        out.push(ch);
    }
    out.push('\'');
}

/// A text array literal of `items` (`{"a","b"}`), every element quoted
/// and escaped, so that any text -- commas, braces, quotes, backslashes,
/// `NULL` -- reads back as written.
pub(crate) fn text_array_literal(items: &[String]) -> String {
    array_literal(items.iter().map(|i| quoted(i)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use inbox_core::model::Direction;

    #[test]
    fn array_literals_quote_and_escape_every_element() {
        assert_eq!(text_array_literal(&[]), "{}");
        let tags = ["vip", r#"say "hi""#, r"back\slash", "a,b", "{x}", "NULL"].map(String::from);
        assert_eq!(
            text_array_literal(&tags),
            r#"{"vip","say \"hi\"","back\\slash","a,b","{x}","NULL"}"#
        );
    }

    #[test]
    fn text_search_literals_quote_every_word() {
        let w = ["joao", "it's", r"a\b", "a & b", ":*"].map(String::from);
        assert_eq!(tsvector_literal(&w), r"'joao' 'it''s' 'a\\b' 'a & b' ':*'");
        assert_eq!(tsvector_literal(&[]), "");
        assert_eq!(tsquery_literal(&w[..2], true), "'joao' & 'it''s':*");
        assert_eq!(tsquery_literal(&w[..1], false), "'joao'");
    }

    #[test]
    fn sla_states_are_spelled_as_the_document_spells_them() {
        let at = chrono::DateTime::<chrono::Utc>::MIN_UTC;
        for s in [
            SlaTargetState::Active,
            SlaTargetState::Paused {
                remaining_secs: 5,
                warn_remaining_secs: Some(4),
            },
            SlaTargetState::Met { at },
            SlaTargetState::Breached { at },
        ] {
            let doc = serde_json::to_value(s).unwrap_or_default();
            assert_eq!(doc["state"], serde_json::Value::from(sla_state(&s)));
        }
    }

    #[test]
    fn directions_are_spelled_as_the_document_spells_them() {
        for d in [Direction::Inbound, Direction::Outbound, Direction::Note] {
            assert_eq!(
                serde_json::to_value(d).ok(),
                Some(serde_json::Value::from(direction(d)))
            );
        }
    }
}
