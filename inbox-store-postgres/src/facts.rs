//! Columns derived from a stored document, written beside it.
//!
//! A message row keeps the whole message as a `json` document (`data`,
//! migration 16): stored as the application serialised it, validated but
//! not parsed into `jsonb`, and handed back verbatim, so that neither the
//! ingest nor a status report pays for turning it into a tree and back.
//! What queries filter and aggregate on is a column of its own, filled
//! from the message by every writer ([`MessageFacts`]): reports and the
//! status lookup never reach into the document.

use inbox_core::model::{Author, Direction, Message};

/// The columns of a message row that reports and lookups read, as the
/// message says (until migration 16 they were generated from the
/// document by the server, with the same rules).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

/// The facts of several messages as columns, for multi-row statements.
#[derive(Debug, Default)]
pub(crate) struct MessageFactColumns<'a> {
    pub author_agent: Vec<Option<&'a str>>,
    pub direction: Vec<&'static str>,
    pub next_response_secs: Vec<Option<i64>>,
    pub next_response_business_secs: Vec<Option<i64>>,
}

impl<'a> MessageFactColumns<'a> {
    /// The columns of `messages`, in order.
    pub(crate) fn of(messages: impl ExactSizeIterator<Item = &'a Message>) -> Self {
        let n = messages.len();
        let mut c = Self {
            author_agent: Vec::with_capacity(n),
            direction: Vec::with_capacity(n),
            next_response_secs: Vec::with_capacity(n),
            next_response_business_secs: Vec::with_capacity(n),
        };
        for m in messages {
            let f = MessageFacts::of(m);
            c.author_agent.push(f.author_agent);
            c.direction.push(f.direction);
            c.next_response_secs.push(f.next_response_secs);
            c.next_response_business_secs
                .push(f.next_response_business_secs);
        }
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use inbox_core::model::Direction;

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
