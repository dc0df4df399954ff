use proptest::prelude::*;
use unicode_normalization::UnicodeNormalization;

use super::*;

fn tokens(text: &str) -> Vec<String> {
    search_tokens(text)
}

#[test]
fn accents_and_case_never_matter_either_way() {
    for (query, text) in [
        ("Joao", "Falei com o João ontem"),
        ("João", "JOAO SILVA"),
        ("telefono", "¿Cuál es tu teléfono?"),
        ("TELÉFONO", "mi telefono"),
        ("MUNCHEN", "Ich wohne in München"),
        ("münchen", "MUNCHEN"),
        ("francois", "François"),
        ("sao paulo", "São Paulo, Brasil"),
        ("οδος", "ΟΔΟΣ"),
        ("ΟΔΟΣ", "οδός"),
    ] {
        assert!(text_matches(&tokens(query), text), "{query:?} in {text:?}");
    }
    // Decomposed text (NFD, as some keyboards send it) folds the same.
    let nfd: String = "João".nfd().collect();
    assert!(text_matches(&tokens("joao"), &nfd));
    assert!(text_matches(&tokens(&nfd), "JOÃO"));
    assert_eq!(search_tokens(&nfd), ["joao"]);
}

#[test]
fn letters_without_decomposition_keep_their_form() {
    assert_eq!(fold("Łódź"), "łodz");
    assert_eq!(fold("Ørsted"), "ørsted");
    assert!(!text_matches(&tokens("lodz"), "Łódź"));
    assert!(text_matches(&tokens("łodz"), "ŁÓDŹ"));
}

#[test]
fn highlights_are_the_words_as_written() {
    let t = tokens("joao tele");
    assert_eq!(
        matched_words(&t, "João: ¿tu teléfono? JOÃO, telefone"),
        ["João", "teléfono", "JOÃO", "telefone"]
    );
    assert!(matched_words(&t, "nothing here").is_empty());
}

#[test]
fn documents_are_distinct_folded_bounded_words() {
    assert_eq!(document_words(["Olá olá OLA", "ola!"]), ["ola"]);
    let many: String = (0..MAX_DOCUMENT_WORDS + 10)
        .map(|i| format!("w{i} "))
        .collect();
    let words = document_words([many.as_str()]);
    assert_eq!(words.len(), MAX_DOCUMENT_WORDS);
    let long = "x".repeat(MAX_WORD_CHARS + 5);
    assert_eq!(
        document_words([long.as_str()])[0].chars().count(),
        MAX_WORD_CHARS
    );
    // A word longer than the bound is found by its beginning, as a query
    // longer than the bound is cut the same way.
    assert!(text_matches(&tokens(&long), &long));
}

#[test]
fn user_ids_and_numbers_are_recognised() {
    assert_eq!(
        search_user_id("US.ENT.abc123").as_deref(),
        Some("US.ENT.abc123")
    );
    for not in ["", "...", "US 123", "order.#1", "a b.c"] {
        assert_eq!(search_user_id(not), None, "{not:?}");
    }
    assert_eq!(search_digits("34 611").as_deref(), Some("34611"));
    assert_eq!(search_digits("611"), None);
}

/// A word of letters, and the same word with accents on some letters
/// (each letter followed by up to two combining marks of the Combining
/// Diacritical Marks block).
fn word_and_accented() -> impl Strategy<Value = (String, String)> {
    prop::collection::vec(
        (
            prop::char::range('a', 'z'),
            any::<bool>(),
            prop::collection::vec(0x300u32..0x370, 0..3),
        ),
        1..12,
    )
    .prop_map(|letters| {
        let mut plain = String::new();
        let mut accented = String::new();
        for (c, upper, marks) in letters {
            plain.push(c);
            accented.push(if upper { c.to_ascii_uppercase() } else { c });
            accented.extend(marks.into_iter().filter_map(char::from_u32));
        }
        (plain, accented)
    })
}

proptest! {
    #[test]
    fn folding_is_idempotent(s in "\\PC{0,24}") {
        let once = fold(&s);
        prop_assert_eq!(fold(&once), once.clone());
        let words = search_tokens(&s);
        prop_assert_eq!(search_tokens(&words.join(" ")), words);
    }

    #[test]
    fn a_word_finds_itself_with_or_without_accents((plain, accented) in word_and_accented()) {
        let composed: String = accented.nfc().collect();
        for text in [&accented, &composed] {
            prop_assert!(text_matches(&tokens(&plain), text), "{:?} in {:?}", plain, text);
            prop_assert!(text_matches(&tokens(text), &plain), "{:?} in {:?}", text, plain);
            let said = format!("say {}!", plain);
            prop_assert!(text_matches(&tokens(text), &said));
            prop_assert_eq!(matched_words(&tokens(&plain), text), vec![text.clone()]);
        }
    }

    #[test]
    fn tokens_are_letters_and_digits_only(s in "\\PC{0,64}") {
        for t in search_tokens(&s) {
            prop_assert!(!t.is_empty());
            prop_assert!(t.chars().all(char::is_alphanumeric), "{:?}", t);
        }
    }
}
