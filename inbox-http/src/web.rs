//! The web inbox: static files compiled into the binary, served at
//! `/` (no JavaScript build step). No inline script or style: the pages
//! live under the server's Content-Security-Policy ([`super::http::CSP`]),
//! set with the other security headers on every answer.

use axum::http::header;
use axum::routing::get;
use axum::Router;

const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

/// Every file of the pages: (path, content type, content).
pub const FILES: &[(&str, &str, &str)] = &[
    ("/", HTML, include_str!("../web/index.html")),
    ("/style.css", CSS, include_str!("../web/style.css")),
    ("/dom.js", JS, include_str!("../web/dom.js")),
    ("/i18n.js", JS, include_str!("../web/i18n.js")),
    ("/api.js", JS, include_str!("../web/api.js")),
    ("/list.js", JS, include_str!("../web/list.js")),
    ("/threads.js", JS, include_str!("../web/threads.js")),
    ("/messages.js", JS, include_str!("../web/messages.js")),
    (
        "/conversation.js",
        JS,
        include_str!("../web/conversation.js"),
    ),
    ("/bots.js", JS, include_str!("../web/bots.js")),
    ("/csat.js", JS, include_str!("../web/csat.js")),
    ("/attach.js", JS, include_str!("../web/attach.js")),
    ("/lease.js", JS, include_str!("../web/lease.js")),
    ("/composer.js", JS, include_str!("../web/composer.js")),
    ("/contact.js", JS, include_str!("../web/contact.js")),
    ("/crm.js", JS, include_str!("../web/crm.js")),
    ("/dashboard.js", JS, include_str!("../web/dashboard.js")),
    ("/admin.js", JS, include_str!("../web/admin.js")),
    ("/live.js", JS, include_str!("../web/live.js")),
    ("/notices.js", JS, include_str!("../web/notices.js")),
    ("/keys.js", JS, include_str!("../web/keys.js")),
    ("/app.js", JS, include_str!("../web/app.js")),
    ("/platform", HTML, include_str!("../web/platform.html")),
    ("/platform.js", JS, include_str!("../web/platform.js")),
];

/// Every file of [`FILES`] at its path: the inbox at `/` (its scripts,
/// `/dom.js` then `/i18n.js` first, shared with the operator's page,
/// `/app.js` last) and the operator's `/platform` with `/platform.js`.
/// Every word the pages show is in `/i18n.js`'s catalogue, in English and
/// Spanish (checked by a test below).
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    let mut router = Router::new();
    for &(path, content_type, body) in FILES {
        let answer = move || async move {
            (
                [
                    (header::CONTENT_TYPE, content_type),
                    (header::CACHE_CONTROL, "no-cache"),
                ],
                body,
            )
        };
        router = router.route(path, get(answer));
    }
    router
}

#[cfg(test)]
mod tests {
    use super::FILES;
    use std::collections::{BTreeMap, BTreeSet};

    /// Every script and style sheet a page names is served, and every file
    /// served is named by a page (none forgotten, none left over).
    #[test]
    fn the_pages_name_exactly_the_files_served() {
        let pages: String = FILES
            .iter()
            .filter(|(_, kind, _)| kind.starts_with("text/html"))
            .map(|(_, _, body)| *body)
            .collect();
        for (path, kind, _) in FILES {
            if kind.starts_with("text/html") {
                continue;
            }
            assert!(
                pages.contains(&format!("\"{path}\"")),
                "{path} is served but no page names it"
            );
        }
        for link in pages
            .split("src=\"")
            .skip(1)
            .chain(pages.split("href=\"").skip(1))
        {
            let path = &link[..link.find('"').unwrap_or(0)];
            if path.starts_with('/') {
                assert!(
                    FILES.iter().any(|(p, _, _)| p == &path),
                    "{path} is named but not served"
                );
            }
        }
    }

    /// The catalogue of `/i18n.js`: the text between `const CATALOGUE = {`
    /// and its closing `};`, and the rest of the file.
    fn catalogue_text() -> (&'static str, String) {
        let i18n = FILES
            .iter()
            .find(|(path, _, _)| *path == "/i18n.js")
            .expect("/i18n.js is served")
            .2;
        let start = i18n.find("const CATALOGUE = {").expect("a catalogue");
        let end = start + i18n[start..].find("\n};\n").expect("the catalogue's end");
        (
            &i18n[start..end],
            format!("{}{}", &i18n[..start], &i18n[end..]),
        )
    }

    /// One table of the catalogue (`en`, `es`): each key, with the
    /// `{names}` its text fills in and whether it has plural forms.
    fn table(lang: &str) -> BTreeMap<String, (BTreeSet<String>, bool)> {
        let (catalogue, _) = catalogue_text();
        let head = format!("\n  {lang}: {{\n");
        let start = catalogue
            .find(&head)
            .unwrap_or_else(|| panic!("no table {lang}"))
            + head.len();
        let end = start + catalogue[start..].find("\n  },").expect("the table's end");
        let mut keys = BTreeMap::new();
        for line in catalogue[start..end]
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
        {
            let rest = line
                .strip_prefix('"')
                .unwrap_or_else(|| panic!("{lang}: not a `\"key\": text` line: {line}"));
            let (key, text) = rest.split_once('"').expect("a quoted key");
            assert!(text.starts_with(": "), "{lang}: {key}: not `\"key\": text`");
            assert!(
                text.ends_with(','),
                "{lang}: {key}: one entry per line, ending with a comma"
            );
            let names = text
                .split('{')
                .skip(1)
                .filter_map(|part| part.split_once('}'))
                .map(|(name, _)| name)
                .filter(|name| {
                    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                })
                .map(String::from)
                .collect();
            let plural = text.contains("{ one: ");
            assert!(
                keys.insert(key.to_string(), (names, plural)).is_none(),
                "{lang}: {key} twice"
            );
        }
        keys
    }

    /// The catalogue keys the pages name: `t("key")`, any `"key"` string
    /// whose first part is one of the catalogue's sections (a key chosen
    /// in code, as `t(done ? "a.b" : "a.c")`), and the HTML's `data-i18n`,
    /// `data-i18n-placeholder`, `-aria-label` and `-title` attributes.
    fn used_keys(sections: &BTreeSet<String>) -> BTreeSet<String> {
        let (_, rest_of_i18n) = catalogue_text();
        let mut used = BTreeSet::new();
        let texts = FILES
            .iter()
            .filter(|(path, _, _)| *path != "/i18n.js")
            .map(|(_, _, body)| body.to_string())
            .chain([rest_of_i18n]);
        for text in texts {
            for attr in [
                "data-i18n=\"",
                "data-i18n-placeholder=\"",
                "data-i18n-aria-label=\"",
                "data-i18n-title=\"",
            ] {
                for part in text.split(attr).skip(1) {
                    used.insert(part[..part.find('"').unwrap_or(0)].to_string());
                }
            }
            for part in text.split('"').skip(1).step_by(2) {
                let Some((section, name)) = part.split_once('.') else {
                    continue;
                };
                let keyish = !name.is_empty()
                    && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                    && sections.contains(section);
                if keyish {
                    used.insert(part.to_string());
                }
            }
            // `t("…")` whatever the key looks like (a typo is still a key).
            for (at, _) in text.match_indices("t(\"") {
                let before = text[..at].chars().next_back().unwrap_or(' ');
                if before.is_ascii_alphanumeric() || before == '_' || before == '.' || before == '$'
                {
                    continue;
                }
                let key = &text[at + 3..];
                used.insert(key[..key.find('"').unwrap_or(0)].to_string());
            }
        }
        used
    }

    /// Both languages say everything: the same keys in English and
    /// Spanish, each filling in the same `{names}` (and both with plural
    /// forms or neither); every key the pages use is in the catalogue,
    /// and every key in the catalogue is used.
    #[test]
    fn the_catalogue_has_every_word_in_both_languages() {
        let en = table("en");
        let es = table("es");
        assert!(
            en.len() > 300,
            "only {} keys: is the catalogue read?",
            en.len()
        );
        for (key, (names, plural)) in &en {
            let Some((es_names, es_plural)) = es.get(key) else {
                panic!("{key} is in English but not in Spanish");
            };
            assert_eq!(
                names, es_names,
                "{key}: English and Spanish fill in different names"
            );
            assert_eq!(
                plural, es_plural,
                "{key}: plural forms in one language only"
            );
        }
        for key in es.keys() {
            assert!(
                en.contains_key(key),
                "{key} is in Spanish but not in English"
            );
        }
        let sections = en
            .keys()
            .filter_map(|k| k.split_once('.'))
            .map(|(s, _)| s.to_string())
            .collect();
        let used = used_keys(&sections);
        let missing: Vec<_> = used.iter().filter(|k| !en.contains_key(*k)).collect();
        assert!(
            missing.is_empty(),
            "used but not in the catalogue: {missing:?}"
        );
        let unused: Vec<_> = en.keys().filter(|k| !used.contains(*k)).collect();
        assert!(
            unused.is_empty(),
            "in the catalogue but never used: {unused:?}"
        );
    }
}
