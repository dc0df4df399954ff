//! The reference semantics of search: the documents of a conversation (its
//! messages, its contact, its tags), whether each matches, and the hit
//! with what to highlight.

use super::words::{document_words, matched_words, words_match};
use super::{SearchField, SearchHit, SearchMatch, ValidSearch};
use crate::model::{Contact, Conversation, Message};

/// The words of a message or note that search compares: those of the text
/// a person reads ([`Content::text_body`](crate::model::Content::text_body));
/// none for a message without text.
pub fn message_words(m: &Message) -> Vec<String> {
    document_words(m.content.text_body())
}

/// The words of a contact that search compares, taken together: its
/// profile name, display name, tags and attribute values (not the
/// attributes' names).
pub fn contact_words(k: &Contact) -> Vec<String> {
    document_words(contact_texts(k))
}

/// The words of a conversation's tags, taken together.
pub fn tag_words(c: &Conversation) -> Vec<String> {
    document_words(c.tags.iter().map(String::as_str))
}

fn contact_texts(k: &Contact) -> impl Iterator<Item = &str> {
    let names = [
        k.profile_name.as_deref(),
        k.display_name.as_deref(),
        k.username.as_deref(),
    ];
    names
        .into_iter()
        .flatten()
        .chain(k.tags.iter().map(String::as_str))
        .chain(k.attributes.values().map(String::as_str))
}

impl ValidSearch {
    /// Whether a message or note matches: its text holds every word.
    pub fn message_matches(&self, m: &Message) -> bool {
        words_match(&self.tokens, &message_words(m))
    }

    /// Whether a contact matches: its words ([`contact_words`]) hold every
    /// word, its WhatsApp number the digits, or its user id is the text.
    pub fn contact_matches(&self, k: &Contact) -> bool {
        self.in_number(k).is_some()
            || self.is_user_id(k)
            || words_match(&self.tokens, &contact_words(k))
    }

    /// Whether a conversation's tags, taken together, hold every word.
    pub fn tags_match(&self, c: &Conversation) -> bool {
        !c.tags.is_empty() && words_match(&self.tokens, &tag_words(c))
    }

    /// The hit for one conversation, if it matches: the reference
    /// semantics stores must follow. `messages` in commit order; the hit
    /// carries the most recent that matches.
    pub fn hit(
        &self,
        conversation: &Conversation,
        contact: Option<&Contact>,
        messages: &[&Message],
    ) -> Option<SearchHit> {
        let message = messages
            .iter()
            .rev()
            .find(|m| self.message_matches(m))
            .copied();
        let contact_matched = contact.is_some_and(|k| self.contact_matches(k));
        (message.is_some() || contact_matched || self.tags_match(conversation))
            .then(|| self.explain(conversation, contact, message))
    }

    /// The hit of a conversation a store found matching, with `message`
    /// the most recent of its messages that matches (if any): says whether
    /// the contact matched and what to highlight in each field that did
    /// ([`SearchHit::matches`]).
    pub fn explain(
        &self,
        conversation: &Conversation,
        contact: Option<&Contact>,
        message: Option<&Message>,
    ) -> SearchHit {
        let mut matches = Vec::new();
        if let Some(text) = message.and_then(|m| m.content.text_body()) {
            self.push(&mut matches, SearchField::Message, None, [text]);
        }
        let contact_matched = contact.is_some_and(|k| self.contact_matches(k));
        if let Some(k) = contact.filter(|_| contact_matched) {
            self.contact_fields(&mut matches, k);
        }
        if self.tags_match(conversation) {
            self.push_tags(&mut matches, &conversation.tags);
        }
        SearchHit {
            conversation: conversation.clone(),
            message: message.cloned(),
            contact_matched,
            matches,
        }
    }

    /// The contact's fields that hold a search word, the digits or the
    /// user id.
    fn contact_fields(&self, out: &mut Vec<SearchMatch>, k: &Contact) {
        let names = [k.profile_name.as_deref(), k.display_name.as_deref()];
        self.push(
            out,
            SearchField::ContactName,
            None,
            names.into_iter().flatten(),
        );
        if let Some(d) = self.in_number(k) {
            out.push(SearchMatch {
                field: SearchField::Number,
                key: None,
                words: vec![d.to_string()],
            });
        }
        let username = k.username.as_deref();
        self.push(out, SearchField::Username, None, username);
        if let Some(id) = self.user_id.as_ref().filter(|_| self.is_user_id(k)) {
            out.push(SearchMatch {
                field: SearchField::UserId,
                key: None,
                words: vec![id.clone()],
            });
        }
        self.push_tags(out, &k.tags);
        for (key, value) in &k.attributes {
            self.push(out, SearchField::Attribute, Some(key), [value.as_str()]);
        }
    }

    /// A match of `field` with the words of `texts` that answer a search
    /// word, if there is one.
    fn push<'a>(
        &self,
        out: &mut Vec<SearchMatch>,
        field: SearchField,
        key: Option<&String>,
        texts: impl IntoIterator<Item = &'a str>,
    ) {
        let mut words: Vec<String> = Vec::new();
        for w in texts
            .into_iter()
            .flat_map(|t| matched_words(&self.tokens, t))
        {
            if !words.contains(&w) {
                words.push(w);
            }
        }
        if !words.is_empty() {
            out.push(SearchMatch {
                field,
                key: key.cloned(),
                words,
            });
        }
    }

    /// A tag match with the whole tags that hold a search word.
    fn push_tags(&self, out: &mut Vec<SearchMatch>, tags: &[String]) {
        let words: Vec<String> = tags
            .iter()
            .filter(|t| !matched_words(&self.tokens, t).is_empty())
            .cloned()
            .collect();
        if !words.is_empty() {
            out.push(SearchMatch {
                field: SearchField::Tag,
                key: None,
                words,
            });
        }
    }

    /// The digits, if the contact's WhatsApp number holds them.
    fn in_number(&self, k: &Contact) -> Option<&str> {
        let d = self.digits.as_deref()?;
        k.identity
            .wa_id
            .as_deref()
            .is_some_and(|w| w.contains(d))
            .then_some(d)
    }

    /// Whether the text is the contact's user id.
    fn is_user_id(&self, k: &Contact) -> bool {
        let id = &k.identity;
        self.user_id.is_some() && (id.user_id == self.user_id || id.parent_user_id == self.user_id)
    }
}
