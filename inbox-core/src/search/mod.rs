//! Search over a tenant's conversations: the query, its exact semantics
//! (every store follows them), the words it compares ([`fold`],
//! [`search_tokens`], [`document_words`]) and what a hit says matched, for
//! a screen to highlight.
//!
//! ```
//! use inbox_core::search::{search_tokens, text_matches};
//! // Case and accents never matter, either way round.
//! assert!(text_matches(&search_tokens("Joao"), "Olá, sou o João"));
//! assert!(text_matches(&search_tokens("João"), "JOAO SILVA"));
//! assert!(text_matches(&search_tokens("MUNCHEN"), "Ich wohne in München"));
//! ```

mod hit;
mod words;

#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::model::{Conversation, Message};
use crate::query::{ConversationFilter, ConversationQuery, Cursor, SortKey, SortOrder};

pub use hit::{contact_words, message_words, tag_words};
pub use words::{
    document_words, fold, matched_words, search_digits, search_tokens, search_user_id,
    text_matches, words_match, MAX_DOCUMENT_WORDS, MAX_QUERY_WORDS, MAX_WORD_CHARS, WORDS_VERSION,
};

/// A full-text search over a tenant's conversations.
///
/// A conversation matches when one of these does:
///
/// - one of its **messages or notes** (the text a person reads: body,
///   caption, button title ...; [`message_words`]) contains every word of
///   `text`;
/// - its **contact**: the profile name, the team's display name, the
///   contact's tags and attribute values, taken together
///   ([`contact_words`]), contain every word; or the digits of `text` (a
///   phone number: at least four digits, no letters; [`search_digits`])
///   appear in the contact's WhatsApp number; or `text` is the contact's
///   business-scoped user id exactly ([`search_user_id`]);
/// - its **tags**, taken together ([`tag_words`]), contain every word.
///
/// Words are runs of letters and digits, compared as whole words, except
/// the last one of `text`, which may be the start of a word (search as you
/// type); case and accents never matter (both sides are [`fold`]ed).
/// Resolved conversations are searched like any other when the filter's
/// statuses include them (an empty list means every status). Results come
/// in [`SortOrder::LatestActivity`] order with a cursor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchQuery {
    /// What to look for.
    pub text: String,
    /// Conditions on the conversations (status, owner, team, channel, tag,
    /// visibility).
    pub filter: ConversationFilter,
    /// Continue after this cursor.
    pub after: Option<Cursor>,
    /// Page size (1 to [`ConversationQuery::MAX_LIMIT`]).
    pub limit: u32,
}

/// Where a search matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum SearchField {
    /// The text of the hit's message or note ([`SearchHit::message`]).
    Message,
    /// The contact's profile name or the name the team gave it.
    ContactName,
    /// The contact's WhatsApp number.
    Number,
    /// The contact's business-scoped user id (BSUID) or parent BSUID.
    UserId,
    /// The contact's WhatsApp username.
    Username,
    /// A tag of the conversation or of its contact.
    Tag,
    /// The value of one of the contact's attributes
    /// ([`SearchMatch::key`]).
    Attribute,
}

/// One field of a hit that matched, and what to highlight in it.
///
/// `words` are as written in the field (original case and accents), each
/// once, in the order they appear: the words that answered a search word
/// (for [`SearchField::Tag`], the whole tags that did; for
/// [`SearchField::Number`], the digits found in the number; for
/// [`SearchField::UserId`], the id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SearchMatch {
    /// The field.
    pub field: SearchField,
    /// For [`SearchField::Attribute`], the attribute's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// What matched, as written in the field.
    pub words: Vec<String>,
}

/// One search result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchHit {
    /// The conversation.
    pub conversation: Conversation,
    /// Its most recent message or note that matched, if the match was in a
    /// message.
    pub message: Option<Message>,
    /// The match was in the contact (name, number, user id, tags or
    /// attributes).
    pub contact_matched: bool,
    /// The fields that matched and their words, for highlighting: the
    /// message's first, then the contact's (name, number, user id, tags,
    /// attributes by name), then the conversation's tags.
    #[serde(default)]
    pub matches: Vec<SearchMatch>,
}

/// A checked [`SearchQuery`]: its words, digits, possible user id and
/// decoded cursor. Decides matches by the reference semantics
/// ([`ValidSearch::hit`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidSearch {
    /// The words ([`search_tokens`]), folded.
    pub tokens: Vec<String>,
    /// The digits, if the text is a number ([`search_digits`]).
    pub digits: Option<String>,
    /// The text as a business-scoped user id, if it can be one
    /// ([`search_user_id`]).
    pub user_id: Option<String>,
    /// Where the page starts.
    pub after: Option<SortKey>,
}

impl SearchQuery {
    /// Checks the query: a text with at least one word, a limit in range, a
    /// cursor of the latest-activity order.
    pub fn validate(&self) -> Result<ValidSearch, Error> {
        let tokens = search_tokens(&self.text);
        if tokens.is_empty() {
            return Err(Error::invalid("text", "needs at least one letter or digit"));
        }
        let q = ConversationQuery {
            filter: self.filter.clone(),
            sort: SortOrder::LatestActivity,
            after: self.after.clone(),
            limit: self.limit,
        };
        let after = q.validate()?;
        Ok(ValidSearch {
            tokens,
            digits: search_digits(&self.text),
            user_id: search_user_id(&self.text),
            after,
        })
    }
}
