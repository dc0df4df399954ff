//! The words of search: how a text is cut into words and each word folded,
//! so that neither case nor accents matter ("Joao" finds "João",
//! "MUNCHEN" finds "München", and the other way round).
//!
//! A store that keeps an index keeps exactly these words (it does not cut
//! or fold text itself), so every store finds the same conversations.

use std::collections::HashSet;

use unicode_normalization::char::decompose_canonical;
use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

/// Longest word, in characters (after folding): longer words, in a query
/// as in a text searched, are compared by their first 64 characters.
pub const MAX_WORD_CHARS: usize = 64;

/// Most words of a query; the rest are ignored.
pub const MAX_QUERY_WORDS: usize = 16;

/// Most distinct words of one document (a message, a contact's profile, a
/// conversation's tags) that search looks at: the first 2048 in the order
/// they appear. Bounds what an index row holds.
pub const MAX_DOCUMENT_WORDS: usize = 2048;

/// The version of these rules. A store that keeps the words of its rows in
/// an index re-indexes rows written under an older version (bump it with
/// any change to how text is cut or folded).
pub const WORDS_VERSION: i16 = 1;

/// Whether `c` is a nonspacing mark (Unicode category Mn): the accents
/// folding drops.
fn nonspacing(c: char) -> bool {
    !c.is_ascii() && c.general_category() == GeneralCategory::NonspacingMark
}

/// Folds a word for comparison: lower case (character by character, so a
/// final sigma `ς` is `σ` as anywhere else), canonical decomposition (NFD),
/// then every nonspacing mark (Unicode category Mn: accents, cedillas,
/// tildes, Hebrew and Arabic vowel points ...) dropped. Letters without a
/// decomposition keep their form (`ø`, `ł`, `ß`). Folding a folded word
/// changes nothing.
///
/// ```
/// use inbox_core::search::fold;
/// assert_eq!(fold("João"), "joao");
/// assert_eq!(fold("MÜNCHEN"), fold("München"));
/// assert_eq!(fold("Teléfono"), "telefono");
/// assert_eq!(fold(&fold("Ünïcödé")), fold("Ünïcödé"));
/// ```
pub fn fold(word: &str) -> String {
    let mut out = String::with_capacity(word.len());
    for c in word.chars().flat_map(char::to_lowercase) {
        if c.is_ascii() {
            out.push(c);
            continue;
        }
        decompose_canonical(c, |d| {
            if !nonspacing(d) {
                out.push(if d == 'ς' { 'σ' } else { d });
            }
        });
    }
    out
}

/// The words of `text` as written: runs of letters, digits and the marks
/// on them; everything else (spaces, punctuation, symbols, quotes, `%`,
/// `_`, `*` ...) separates words.
pub(crate) fn raw_words(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !(c.is_alphanumeric() || nonspacing(c)))
        .filter(|w| !w.is_empty())
}

/// A word as search compares it: folded, its letters and digits only, at
/// most [`MAX_WORD_CHARS`] characters; empty for a word of marks only.
pub(crate) fn search_word(raw: &str) -> String {
    fold(raw)
        .chars()
        .filter(|c| c.is_alphanumeric())
        .take(MAX_WORD_CHARS)
        .collect()
}

/// The words of a search text, folded ([`fold`]): runs of letters and
/// digits; everything else separates words (so punctuation, quotes, `%`,
/// `_`, `*` and other SQL or pattern characters are never interpreted). At
/// most [`MAX_QUERY_WORDS`] words of at most [`MAX_WORD_CHARS`] characters.
///
/// ```
/// use inbox_core::search::search_tokens;
/// assert_eq!(search_tokens("Order #1042, *urgent*!"), ["order", "1042", "urgent"]);
/// assert_eq!(search_tokens("São Paulo"), ["sao", "paulo"]);
/// assert!(search_tokens("%' OR 1=1; --").iter().all(|t| t.chars().all(char::is_alphanumeric)));
/// ```
pub fn search_tokens(text: &str) -> Vec<String> {
    raw_words(text)
        .map(search_word)
        .filter(|w| !w.is_empty())
        .take(MAX_QUERY_WORDS)
        .collect()
}

/// The distinct words of a document made of `texts`, folded, in the order
/// they first appear, at most [`MAX_DOCUMENT_WORDS`]: what search compares
/// a query with, and what a store's index holds.
///
/// ```
/// use inbox_core::search::document_words;
/// assert_eq!(document_words(["Olá, João!", "JOAO"]), ["ola", "joao"]);
/// ```
pub fn document_words<'a>(texts: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for text in texts {
        for w in raw_words(text).map(search_word) {
            if out.len() == MAX_DOCUMENT_WORDS {
                return out;
            }
            if !w.is_empty() && seen.insert(w.clone()) {
                out.push(w);
            }
        }
    }
    out
}

/// Whether `word` (folded) answers token `i` of `tokens`: the same word,
/// or, for the last token, a word it starts (search as you type).
fn answers(tokens: &[String], i: usize, word: &str) -> bool {
    if i + 1 == tokens.len() {
        word.starts_with(tokens[i].as_str())
    } else {
        word == tokens[i]
    }
}

/// Whether a document's `words` ([`document_words`]) contain every token
/// (the last one as a word prefix).
pub fn words_match(tokens: &[String], words: &[String]) -> bool {
    !tokens.is_empty() && (0..tokens.len()).all(|i| words.iter().any(|w| answers(tokens, i, w)))
}

/// Whether `text` contains every token as a word (the last one as a word
/// prefix), case and accents aside. The reference semantics of
/// [`SearchQuery`](super::SearchQuery).
///
/// ```
/// use inbox_core::search::{search_tokens, text_matches};
/// assert!(text_matches(&search_tokens("joao tel"), "João: mi teléfono"));
/// assert!(!text_matches(&search_tokens("joa tel"), "João: mi teléfono"));
/// ```
pub fn text_matches(tokens: &[String], text: &str) -> bool {
    words_match(tokens, &document_words([text]))
}

/// The words of `text`, as written there, that answer a token (equal to
/// one, or starting with the last): what a screen highlights. Each once, in
/// the order they appear.
///
/// ```
/// use inbox_core::search::{matched_words, search_tokens};
/// assert_eq!(matched_words(&search_tokens("joao tel"), "João: mi teléfono, joão"), ["João", "teléfono", "joão"]);
/// ```
pub fn matched_words(tokens: &[String], text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for raw in raw_words(text) {
        let w = search_word(raw);
        let hit = (0..tokens.len()).any(|i| answers(tokens, i, &w));
        if hit && !out.iter().any(|o| o == raw) {
            out.push(raw.to_string());
        }
    }
    out
}

/// The digits of a search text, if it is a phone number (at least four
/// digits and no letters): matched anywhere in a contact's WhatsApp number.
///
/// ```
/// use inbox_core::search::search_digits;
/// assert_eq!(search_digits("+34 611-000").as_deref(), Some("34611000"));
/// assert_eq!(search_digits("order 1042"), None);
/// ```
pub fn search_digits(text: &str) -> Option<String> {
    let digits: String = text.chars().filter(char::is_ascii_digit).collect();
    let others = text
        .chars()
        .filter(|c| c.is_alphanumeric() && !c.is_ascii_digit())
        .count();
    (digits.len() >= 4 && others == 0).then_some(digits)
}

/// The search text as a business-scoped user id (BSUID, `CC.` and
/// alphanumerics), if it can be one: trimmed, with a dot, letters, digits
/// and dots only, at most 200 characters. Matched exactly.
///
/// ```
/// use inbox_core::search::search_user_id;
/// assert_eq!(search_user_id(" US.13491208655302741918 ").as_deref(), Some("US.13491208655302741918"));
/// assert_eq!(search_user_id("hello"), None);
/// ```
pub fn search_user_id(text: &str) -> Option<String> {
    let t = text.trim();
    let shaped = t.contains('.')
        && t.len() <= 200
        && t.chars().all(|c| c.is_ascii_alphanumeric() || c == '.')
        && t.chars().any(|c| c.is_ascii_alphanumeric());
    shaped.then(|| t.to_string())
}
